"""The registration operations pinned to botocore's `iot` model: each is a ControlPlane method
named after it, taking the model's members (its required ones without defaults, the others
through **unsupported), and each API the emulator serves has a control-plane quota."""

from __future__ import annotations

import inspect

import pytest
from botocore import xform_name  # type: ignore[import-untyped]

from simfleet.emulator.api_quotas import AWS_API_RATES
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.http import service_model
from simfleet.emulator.registry_control import REGISTRATION_OPERATIONS

MODEL = service_model("iot")


@pytest.mark.parametrize("operation", sorted(REGISTRATION_OPERATIONS))
def test_each_operation_is_a_method_taking_the_models_members(operation: str) -> None:
    assert operation in MODEL.operation_names
    assert REGISTRATION_OPERATIONS[operation] == xform_name(operation)
    shape = MODEL.operation_model(operation).input_shape
    members = set(shape.members) if shape is not None else set()
    required = set(shape.required_members) if shape is not None else set()
    method = getattr(ControlPlane, REGISTRATION_OPERATIONS[operation])
    parameters = inspect.signature(method).parameters.values()
    named = {p.name: p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(named) <= members
    assert {n for n, p in named.items() if p.default is inspect.Parameter.empty} == required
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def test_every_served_api_has_a_quota_and_every_quota_an_api() -> None:
    served = set(REGISTRATION_OPERATIONS) | set(ControlPlane.OPERATIONS)
    assert set(AWS_API_RATES) == served
