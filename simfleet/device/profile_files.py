"""`load_profile(name_or_path)`: the behaviour profile that `--profile NAME_OR_PATH` names.

NAME is a preset (simfleet.device.presets); a path ending in .toml, .yaml or .yml is a file
holding the keys of BehaviourProfile at its top level, for instance (TOML):

    base = "fast"                      # optional: start from a preset, then change what is here
    name = "slow-install"              # optional: the file's stem otherwise
    workflow = "describe-next"         # notify-next | describe-next | start-next-poll
    failed_probability = 0.05
    poll_interval = 10                 # a number is a constant number of seconds
    crash_offline = { kind = "uniform", low = 5, high = 30 }
    throttle_backoff = { cap = 60 }    # a backoff table is merged over the base's backoff
    step_timeout_minutes = "off"       # no step timer ("off", or null in YAML)
    expected_endings = ["CANCELED"]

    [[steps]]                          # the steps replace the base's steps
    name = "download"
    duration = { kind = "lognormal", median = 20, sigma = 0.5, cap = 120 }

Distributions: {kind = "constant", value}, {kind = "uniform", low, high},
{kind = "exponential", mean [, cap]}, {kind = "lognormal", median, sigma [, cap]}.
Keys not set take the base's values, or BehaviourProfile's defaults without a base.

Anything wrong raises ProfileError "<file>: <key>: <problem>": an unknown key, a wrong type, a
value out of range, a file that cannot be read or parsed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from simfleet.device.backoff import Backoff
from simfleet.device.distribution import PARAMETERS, Distribution, DistributionKind
from simfleet.device.errors import ProfileError
from simfleet.device.presets import PRESETS
from simfleet.device.profile import BehaviourProfile, Step, Workflow
from simfleet.jobs import ExecutionStatus

E = TypeVar("E", bound=Enum)

BASE = "base"
OFF = "off"
# What a profile starts from when its file names no base.
_DEFAULTS = BehaviourProfile(name="defaults")
_KEYS = frozenset(f.name for f in dataclasses.fields(BehaviourProfile))
_STEP_KEYS = frozenset({"name", "duration"})
_BACKOFF_KEYS = frozenset(f.name for f in dataclasses.fields(Backoff))
_DISTRIBUTION_KEYS = frozenset(f.name for f in dataclasses.fields(Distribution))


def load_profile(name_or_path: str | os.PathLike[str]) -> BehaviourProfile:
    """A preset by name, or the profile in a .toml / .yaml / .yml file."""
    text = os.fspath(name_or_path)
    preset = PRESETS.get(text)
    if preset is not None:
        return preset
    path = Path(text)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ProfileError(
            f"{text}: neither a preset ({', '.join(PRESETS)}) nor a .toml, .yaml or .yml file"
        )
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: is not UTF-8 text") from None
    return profile_from_mapping(reader(path, content), default_name=path.stem, source=str(path))


def profile_from_mapping(
    members: Mapping[Any, Any], *, default_name: str, source: str | None = None
) -> BehaviourProfile:
    """The profile the keys of a file describe (see the module docstring); errors name
    `source` (the file) then the key."""
    try:
        return _build(members, default_name)
    except ProfileError as exc:
        if source is None:
            raise
        raise ProfileError(f"{source}: {exc}") from None


def _build(members: Mapping[Any, Any], default_name: str) -> BehaviourProfile:
    for key in members:
        if key != BASE and key not in _KEYS:
            raise ProfileError(f"{key}: unknown key (known: {', '.join(sorted(_KEYS | {BASE}))})")
    start = _base(members.get(BASE, None))
    changes: dict[str, Any] = {"name": default_name}
    for key, value in members.items():
        if key == BASE:
            continue
        parse = _PARSERS.get(key)
        changes[key] = value if parse is None else parse(key, value, start)
    return dataclasses.replace(start, **changes)


def _base(value: object) -> BehaviourProfile:
    if value is None:
        return _DEFAULTS
    if not isinstance(value, str) or value not in PRESETS:
        raise ProfileError(f"{BASE}: {value!r} is not a preset ({', '.join(PRESETS)})")
    return PRESETS[value]


@contextmanager
def _under(prefix: str) -> Iterator[None]:
    """Errors raised inside name their key below `prefix` (`steps[1].duration.high`)."""
    try:
        yield
    except ProfileError as exc:
        raise ProfileError(f"{prefix}.{exc}") from None


def _enum(key: str, value: object, kind: type[E]) -> E:
    for member in kind:
        if member.value == value:
            return member
    allowed = " | ".join(str(member.value) for member in kind)
    raise ProfileError(f"{key}: {value!r} is not one of {allowed}")


def _mapping(key: str, value: object, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{key}: must be a table of {', '.join(sorted(allowed))}")
    for inner in value:
        if inner not in allowed:
            raise ProfileError(f"{key}.{inner}: unknown key (known: {', '.join(sorted(allowed))})")
    return value


def _parse_distribution(key: str, value: object) -> Distribution:
    """A distribution from a number (constant seconds) or a table with `kind`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return Distribution.constant(value)
        except ProfileError as exc:  # "value: <problem>": the file wrote the value at `key`
            raise ProfileError(f"{key}: {str(exc).partition(': ')[2]}") from None
    table = _mapping(key, value, _DISTRIBUTION_KEYS)
    if "kind" not in table:
        kinds = " | ".join(kind.value for kind in PARAMETERS)
        raise ProfileError(f"{key}.kind: missing: a number of seconds or a table with kind {kinds}")
    kind = _enum(f"{key}.kind", table["kind"], DistributionKind)
    with _under(key):
        return Distribution(**{**table, "kind": kind})


def _distribution(key: str, value: object, start: BehaviourProfile) -> Distribution:
    del start
    return _parse_distribution(key, value)


def _steps(key: str, value: object, start: BehaviourProfile) -> tuple[Step, ...]:
    del start
    if not isinstance(value, list):
        raise ProfileError(f"{key}: must be a list of steps, each with name and duration")
    steps = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        table = _mapping(where, item, _STEP_KEYS)
        missing = sorted(_STEP_KEYS - set(table))
        if missing:
            raise ProfileError(f"{where}.{missing[0]}: missing")
        duration = _parse_distribution(f"{where}.duration", table["duration"])
        with _under(where):
            steps.append(Step(name=table["name"], duration=duration))
    return tuple(steps)


def _backoff(key: str, value: object, start: BehaviourProfile) -> Backoff:
    table = _mapping(key, value, _BACKOFF_KEYS)
    current: Backoff = getattr(start, key)
    with _under(key):
        return dataclasses.replace(current, **table)


def _workflow(key: str, value: object, start: BehaviourProfile) -> Workflow:
    del start
    return _enum(key, value, Workflow)


def _step_timeout(key: str, value: object, start: BehaviourProfile) -> object:
    del key, start
    return None if value in (None, OFF) else value


def _endings(key: str, value: object, start: BehaviourProfile) -> frozenset[ExecutionStatus]:
    del start
    if not isinstance(value, list):
        raise ProfileError(f'{key}: must be a list of statuses, e.g. ["CANCELED"]')
    return frozenset(_enum(key, item, ExecutionStatus) for item in value)


_PARSERS: dict[str, Callable[[str, Any, BehaviourProfile], object]] = {
    "workflow": _workflow,
    "steps": _steps,
    "step_timeout_minutes": _step_timeout,
    "crash_offline": _distribution,
    "offline_duration": _distribution,
    "poll_interval": _distribution,
    "throttle_backoff": _backoff,
    "reconnect_backoff": _backoff,
    "expected_endings": _endings,
}


def _read_toml(path: Path, content: str) -> Mapping[Any, Any]:
    try:
        return tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None


def _read_yaml(path: Path, content: str) -> Mapping[Any, Any]:
    try:
        loaded = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if loaded is None:  # an empty file: the defaults (or nothing changed)
        return {}
    if not isinstance(loaded, dict):
        raise ProfileError(f"{path}: must hold a mapping of profile keys, not a list or a value")
    return loaded


_READERS: dict[str, Callable[[Path, str], Mapping[Any, Any]]] = {
    ".toml": _read_toml,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
}
