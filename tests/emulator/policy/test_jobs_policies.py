"""The two policies simfleet devices run under (spec §4): exactly their grants, nothing else."""

from __future__ import annotations

import pytest

from simfleet.emulator.policy import Authorizer, JobsApi, compile_policies
from tests.emulator.policy.helpers import (
    ACCOUNT,
    OTHER_THING,
    REGION,
    THING,
    certificate,
    https_context,
    jobs_https_policy,
    jobs_mqtt_policy,
    mqtt_context,
)

J = f"$aws/things/{THING}/jobs"
OTHER = f"$aws/things/{OTHER_THING}/jobs"

# Region and account as `*` (what certs-tool writes by default) and as concrete values.
SCOPES = [
    pytest.param(("*", "*"), id="any-region"),
    pytest.param((REGION, ACCOUNT), id="concrete-region"),
]


@pytest.fixture(params=SCOPES)
def mqtt_device(request: pytest.FixtureRequest) -> Authorizer:
    region, account = request.param
    return compile_policies([jobs_mqtt_policy(region=region, account=account)], mqtt_context())


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        pytest.param(f"{J}/get", True, id="get-pending"),
        pytest.param(f"{J}/start-next", True, id="start-next"),
        pytest.param(f"{J}/job-1/get", True, id="describe"),
        pytest.param(f"{J}/$next/get", True, id="describe-next"),
        pytest.param(f"{J}/job-1/update", True, id="update"),
        pytest.param(f"{J}/a/b/get", True, id="star-spans-slash"),
        pytest.param(f"{OTHER}/get", False, id="other-thing"),
        pytest.param(f"{OTHER}/job-1/update", False, id="other-thing-update"),
        pytest.param(f"$aws/things/{THING}0/jobs/get", False, id="thing-name-prefix"),
        pytest.param(f"{J}/notify", False, id="notify-is-receive-only"),
        pytest.param(f"{J}/job-1/update/accepted", False, id="reply-topic"),
        pytest.param(f"{J}/get/extra", False, id="suffix"),
        pytest.param(f"{J}/GET", False, id="case-sensitive"),
        pytest.param("telemetry/dev-001", False, id="non-jobs-topic"),
        pytest.param("$aws/things/+/jobs/get", False, id="plus-is-literal"),
    ],
)
def test_mqtt_publish(mqtt_device: Authorizer, topic: str, allowed: bool) -> None:
    assert mqtt_device.can_publish(topic) is allowed


@pytest.mark.parametrize(
    ("topic_filter", "allowed"),
    [
        pytest.param(f"{J}/notify", True, id="notify"),
        pytest.param(f"{J}/notify-next", True, id="notify-next"),
        pytest.param(f"{J}/get/accepted", True, id="get-accepted"),
        pytest.param(f"{J}/start-next/rejected", True, id="start-next-rejected"),
        pytest.param(f"{J}/+/get/accepted", True, id="plus-matched-by-star"),
        pytest.param(f"{J}/job-1/update/+", True, id="sdk-v2-wildcard"),
        pytest.param(f"{J}/#", False, id="hash-not-granted"),
        pytest.param(f"{J}/+", False, id="bare-plus-level"),
        pytest.param("$aws/things/+/jobs/notify", False, id="plus-for-thing"),
        pytest.param(f"{OTHER}/notify", False, id="other-thing"),
        pytest.param(f"{J}/notify/+", True, id="star-then-plus"),
        pytest.param(f"{J}/notify/x", False, id="notify-suffix"),
        pytest.param("#", False, id="everything"),
    ],
)
def test_mqtt_subscribe(mqtt_device: Authorizer, topic_filter: str, allowed: bool) -> None:
    assert mqtt_device.can_subscribe(topic_filter) is allowed


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        pytest.param(f"{J}/notify", True, id="notify"),
        pytest.param(f"{J}/notify-next", True, id="notify-next"),
        pytest.param(f"{J}/get/accepted", True, id="get-accepted"),
        pytest.param(f"{J}/job-1/update/rejected", True, id="update-rejected"),
        pytest.param(f"{J}/job-1/get", False, id="own-request-topic"),
        pytest.param(f"{OTHER}/notify", False, id="other-thing"),
        pytest.param(f"{OTHER}/job-1/get/accepted", False, id="other-thing-reply"),
    ],
)
def test_mqtt_receive(mqtt_device: Authorizer, topic: str, allowed: bool) -> None:
    assert mqtt_device.can_receive(topic) is allowed
    assert mqtt_device.can_receive(topic) is allowed  # the cached answer is the same


def test_mqtt_device_connects_with_its_own_thing_name(mqtt_device: Authorizer) -> None:
    assert mqtt_device.can_connect()


def test_mqtt_policy_grants_no_retain_and_no_https(mqtt_device: Authorizer) -> None:
    assert not mqtt_device.can_retain_publish(f"{J}/get")
    assert not any(mqtt_device.can_call_jobs(api, THING) for api in JobsApi)


@pytest.mark.parametrize(
    ("client_id", "things"),
    [
        pytest.param(OTHER_THING, (THING,), id="client-id-not-the-certificates-thing"),
        pytest.param(OTHER_THING, (THING, "x"), id="client-id-of-unattached-thing"),
        pytest.param(THING, (), id="certificate-attached-to-no-thing"),
        pytest.param(THING, (OTHER_THING,), id="certificate-attached-elsewhere"),
    ],
)
def test_mqtt_connect_denied_unless_attached(client_id: str, things: tuple[str, ...]) -> None:
    device = compile_policies(
        [jobs_mqtt_policy()], mqtt_context(client_id=client_id, things=things)
    )
    assert not device.can_connect()
    # Without a connection thing the variables stay literal: no topic is granted either.
    assert not device.can_publish(f"$aws/things/{client_id}/jobs/get")
    assert not device.can_subscribe(f"$aws/things/{client_id}/jobs/notify")


def test_mqtt_connect_with_certificate_attached_to_several_things() -> None:
    device = compile_policies(
        [jobs_mqtt_policy()], mqtt_context(client_id=OTHER_THING, things=(THING, OTHER_THING))
    )
    assert device.can_connect()
    assert device.can_publish(f"{OTHER}/get")
    assert not device.can_publish(f"{J}/get")


def test_concrete_region_policy_denies_another_region() -> None:
    device = compile_policies(
        [jobs_mqtt_policy(region="eu-west-1", account=ACCOUNT)], mqtt_context()
    )
    assert not device.can_connect()
    assert not device.can_publish(f"{J}/get")


@pytest.fixture(params=SCOPES)
def https_device(request: pytest.FixtureRequest) -> Authorizer:
    region, account = request.param
    return compile_policies([jobs_https_policy(region=region, account=account)], https_context())


@pytest.mark.parametrize("api", list(JobsApi), ids=[api.value for api in JobsApi])
def test_https_device_calls_every_jobs_api_on_its_own_thing(
    https_device: Authorizer, api: JobsApi
) -> None:
    assert https_device.can_call_jobs(api, THING)
    assert https_device.can_call_jobs(api.value, THING)


@pytest.mark.parametrize(
    "thing",
    [
        pytest.param(OTHER_THING, id="other-thing"),
        pytest.param(f"{THING}0", id="thing-name-prefix"),
        pytest.param("DEV-001", id="case-sensitive"),
        pytest.param("*", id="star-is-a-name-not-a-glob"),
    ],
)
def test_https_device_denied_on_other_things(https_device: Authorizer, thing: str) -> None:
    assert not any(https_device.can_call_jobs(api, thing) for api in JobsApi)


def test_https_policy_grants_no_mqtt(https_device: Authorizer) -> None:
    assert not https_device.can_connect()
    assert not https_device.can_publish(f"{J}/get")
    assert not https_device.can_subscribe(f"{J}/notify")
    assert not https_device.can_receive(f"{J}/notify")


def test_thing_variables_do_not_resolve_over_https() -> None:
    by_thing_name = jobs_https_policy(thing="${iot:Connection.Thing.ThingName}")
    over_https = compile_policies([by_thing_name], https_context())
    assert not over_https.can_call_jobs(JobsApi.DESCRIBE_JOB_EXECUTION, THING)
    # The same document over MQTT resolves, so the denial is the protocol's doing.
    over_mqtt = compile_policies([by_thing_name], mqtt_context())
    assert over_mqtt.can_call_jobs(JobsApi.DESCRIBE_JOB_EXECUTION, THING)


def test_https_common_name_with_wildcard_is_not_substituted() -> None:
    device = compile_policies([jobs_https_policy()], https_context(cert=certificate("dev-*")))
    assert not device.can_call_jobs(JobsApi.UPDATE_JOB_EXECUTION, "dev-*")
    assert not device.can_call_jobs(JobsApi.UPDATE_JOB_EXECUTION, THING)


def test_older_iot_action_names_are_honoured() -> None:
    device = compile_policies([jobs_https_policy(prefix="iot")], https_context())
    assert device.can_call_jobs(JobsApi.START_NEXT_PENDING_JOB_EXECUTION, THING)
    assert not device.can_call_jobs(JobsApi.START_NEXT_PENDING_JOB_EXECUTION, OTHER_THING)


def test_unknown_jobs_api_is_a_programming_error(https_device: Authorizer) -> None:
    with pytest.raises(ValueError, match="CancelJobExecution"):
        https_device.can_call_jobs("CancelJobExecution", THING)
