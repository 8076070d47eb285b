"""JSON in and out, field by field, for both sides of the wire.

One reader serves the service, which must fail the way AWS does (JobsError), and the device,
which fails with MalformedMessage: the caller passes the exception to raise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

Fail = Callable[[str], Exception]


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as AWS sends it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, although Python's parser takes them.
    raise ValueError(f"{name} is not JSON")


def load_object(payload: bytes, *, bad_json: Fail, not_object: Fail) -> dict[str, Any]:
    """Parse a UTF-8 JSON object; `bad_json` for undecodable bytes, `not_object` for other JSON."""
    try:
        # Decode first: json.loads(bytes) would also accept UTF-16 and UTF-32.
        value = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; nesting deeper than Python's
    # recursion limit (a 128 KB payload of `[` is enough) raises RecursionError.
    except (ValueError, RecursionError) as exc:
        raise bad_json(f"payload is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise not_object("payload is not a JSON object")
    return value


def _type_name(kind: type[Any]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "a boolean",
        dict: "an object",
        list: "a list",
    }
    return names.get(kind, f"a {kind.__name__}")


class Fields:
    """Typed reads of one JSON object's members; a member that is absent or null reads as None."""

    def __init__(self, obj: Mapping[str, Any], fail: Fail, *, path: str = "") -> None:
        self._obj = obj
        self._fail = fail
        self._path = path

    def name(self, member: str) -> str:
        """The member's dotted path, for messages."""
        return f"{self._path}{member}"

    def fail(self, member: str, value: Any, constraint: str) -> Exception:
        """An error in AWS's validation wording (the live `status` message, spec §1.3)."""
        shown = "null" if value is None else json.dumps(value)
        return self._fail(
            f"Value {shown} at '{self.name(member)}' failed to satisfy constraint: {constraint}"
        )

    def members(self) -> list[str]:
        return list(self._obj)

    def get(self, member: str, kind: type[T]) -> T | None:
        value = self._obj.get(member)
        if value is None:
            return None
        # bool is an int in Python but not in JSON.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(member, value, f"Member must be {_type_name(kind)}")
        return value

    def need(self, member: str, kind: type[T]) -> T:
        value = self.get(member, kind)
        if value is None:
            raise self.fail(member, None, "Member must not be null")
        return value

    def seconds(self, member: str) -> int | None:
        """Epoch seconds. AWS sends integers (spec §1.2), but the HTTPS CLI examples show
        fractions (spec §2), so a receiver takes any finite number and keeps whole seconds."""
        value = self._obj.get(member)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(member, value, "Member must be a number of seconds")
        return int(value)

    def need_seconds(self, member: str) -> int:
        value = self.seconds(member)
        if value is None:
            raise self.fail(member, None, "Member must not be null")
        return value

    def nested(self, member: str) -> Fields | None:
        obj = self.get(member, dict)
        return None if obj is None else Fields(obj, self._fail, path=f"{self.name(member)}.")

    def need_nested(self, member: str) -> Fields:
        nested = self.nested(member)
        if nested is None:
            raise self.fail(member, None, "Member must not be null")
        return nested

    def objects(self, member: str) -> list[Fields]:
        """A list of objects; absent reads as empty."""
        items = self.get(member, list) or []
        result = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{member}[{index}]", item, "Member must be an object")
            result.append(Fields(item, self._fail, path=f"{self.name(member)}[{index}]."))
        return result

    def string_map(self, member: str) -> dict[str, str] | None:
        obj = self.get(member, dict)
        if obj is None:
            return None
        for key, value in obj.items():
            if not isinstance(value, str):
                raise self.fail(f"{member}.{key}", value, "Member must be a string")
        return obj
