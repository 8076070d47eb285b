"""Values between the wire and Python, driven by botocore shapes (rest-json rules).

Inbound (`from_json`, `from_text`) gives what boto3 users pass: `datetime` (UTC) for
timestamps, `bytes` for blobs, plain JSON types otherwise. Outbound (`to_json`, `to_text`)
writes what botocore's rest-json parser reads back: timestamps as epoch seconds in a JSON body
(the protocol default, `unixtimestamp`; no shape of `iot` overrides it), RFC 822 in headers,
ISO 8601 in a query string, blobs as base64. A shape's own `timestampFormat` wins.

Inbound type errors raise `BadValue` (the caller answers 400); outbound ones raise
`ResponseShapeError` (our bug: the caller answers 500).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, cast

from simfleet.emulator.http.errors import ResponseShapeError

JSON_TIMESTAMP_FORMAT = "unixtimestamp"
HEADER_TIMESTAMP_FORMAT = "rfc822"


SUPPORTED_TYPES = frozenset(
    {"structure", "list", "map", "timestamp", "blob", "string"}
    | {"integer", "long", "boolean", "float", "double"}
)


def unsupported_types(shape: Any) -> set[str]:
    """The type names under `shape` (recursively) that these conversions do not handle."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = [shape]
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        if current.type_name not in SUPPORTED_TYPES or getattr(current, "is_document_type", False):
            found.add(current.type_name)
        elif current.type_name == "structure":
            pending.extend(current.members.values())
        elif current.type_name == "list":
            pending.append(current.member)
        elif current.type_name == "map":
            pending.extend((current.key, current.value))
    return found


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "float": (int, float),
    "double": (int, float),
}


class BadValue(Exception):
    """A request value that does not fit its shape; the message names where."""


def _kind(value: object) -> str:
    return type(value).__name__


def parse_timestamp(text: str) -> datetime:
    """Epoch seconds, ISO 8601 or RFC 822, whichever the text is; UTC if it names no zone."""
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise BadValue(f"not a timestamp: {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _timestamp_from_number(value: float, where: str) -> datetime:
    if not math.isfinite(value):
        raise BadValue(f"{where}: not a timestamp: {value!r}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise BadValue(f"{where}: timestamp out of range: {value!r}") from None


def _timestamp_from_json(value: object, where: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _timestamp_from_number(value, where)
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except BadValue as error:
            raise BadValue(f"{where}: {error}") from None
    raise BadValue(f"{where}: expected a timestamp, got {_kind(value)}")


def _blob_from_json(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise BadValue(f"{where}: expected base64 text, got {_kind(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadValue(f"{where}: not valid base64") from None


def from_json(shape: Any, value: object, where: str) -> Any:
    """A JSON value checked against `shape` and converted to its Python form."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise BadValue(f"{where}: expected an object, got {_kind(value)}")
        members = shape.members
        result: dict[str, Any] = {}
        for name, member in members.items():
            item = value.get(member.serialization.get("name", name))
            if item is not None:  # null is absent (botocore never sends null)
                result[name] = from_json(member, item, f"{where}.{name}")
        return result
    if kind == "list":
        if not isinstance(value, list):
            raise BadValue(f"{where}: expected a list, got {_kind(value)}")
        return [from_json(shape.member, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise BadValue(f"{where}: expected an object, got {_kind(value)}")
        return {key: from_json(shape.value, item, f"{where}.{key}") for key, item in value.items()}
    if kind == "timestamp":
        return _timestamp_from_json(value, where)
    if kind == "blob":
        return _blob_from_json(value, where)
    return _scalar_from_json(kind, value, where)


def _scalar(kind: str, value: object) -> tuple[bool, Any]:
    """(True, value as JSON wants it) if `value` is of scalar type `kind`, else (False, None)."""
    accepted = _SCALARS.get(kind, ())
    # bool is an int in Python, never in JSON or in the model.
    if not isinstance(value, accepted) or (isinstance(value, bool) and kind != "boolean"):
        return False, None
    if kind in ("float", "double"):
        return True, float(cast(float, value))
    # str.__str__ drops an Enum's str mixin down to the plain value (json.dumps would not).
    return True, str.__str__(value) if isinstance(value, str) else value


def _scalar_from_json(kind: str, value: object, where: str) -> Any:
    ok, converted = _scalar(kind, value)
    if not ok:
        raise BadValue(f"{where}: expected {kind}, got {_kind(value)}")
    return converted


def from_text(shape: Any, text: str, where: str) -> Any:
    """A URI label, query value or header value converted to its shape's Python type."""
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise BadValue(f"{where}: expected {kind}, got {text!r}") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise BadValue(f"{where}: expected true or false, got {text!r}")
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise BadValue(f"{where}: expected {kind}, got {text!r}") from None
    if kind == "timestamp":
        try:
            return parse_timestamp(text)
        except BadValue as error:
            raise BadValue(f"{where}: {error}") from None
    raise BadValue(f"{where}: expected {kind}, got {text!r}")


def _timestamp_out(shape: Any, value: object, default_format: str, where: str) -> Any:
    if not isinstance(value, datetime):
        raise ResponseShapeError(f"{where}: expected a datetime, got {_kind(value)}")
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    form = shape.serialization.get("timestampFormat", default_format).lower()
    if form == "iso8601":
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if form == "rfc822":
        return formatdate(moment.timestamp(), usegmt=True)
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def to_json(shape: Any, value: object, where: str) -> Any:
    """A Python value checked against `shape` and converted to JSON for botocore's parser."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise ResponseShapeError(f"{where}: expected a mapping, got {_kind(value)}")
        members = shape.members
        result: dict[str, Any] = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                raise ResponseShapeError(f"{where}: {name!r} is not a member of {shape.name}")
            if item is not None:
                result[member.serialization.get("name", name)] = to_json(
                    member, item, f"{where}.{name}"
                )
        return result
    if kind == "list":
        if not isinstance(value, list | tuple):
            raise ResponseShapeError(f"{where}: expected a list, got {_kind(value)}")
        return [to_json(shape.member, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, Mapping):
            raise ResponseShapeError(f"{where}: expected a mapping, got {_kind(value)}")
        return {
            str(key): to_json(shape.value, item, f"{where}.{key}") for key, item in value.items()
        }
    if kind == "timestamp":
        return _timestamp_out(shape, value, JSON_TIMESTAMP_FORMAT, where)
    if kind == "blob":
        if not isinstance(value, bytes | bytearray):
            raise ResponseShapeError(f"{where}: expected bytes, got {_kind(value)}")
        return base64.b64encode(value).decode("ascii")
    return _scalar_to_json(kind, value, where)


def _scalar_to_json(kind: str, value: object, where: str) -> Any:
    ok, converted = _scalar(kind, value)
    if not ok:
        raise ResponseShapeError(f"{where}: expected {kind}, got {_kind(value)}")
    return converted


def to_text(shape: Any, value: object, where: str) -> str:
    """A Python value as a response header value."""
    if shape.type_name == "timestamp":
        return str(_timestamp_out(shape, value, HEADER_TIMESTAMP_FORMAT, where))
    if shape.type_name == "list":
        if not isinstance(value, list | tuple):
            raise ResponseShapeError(f"{where}: expected a list, got {_kind(value)}")
        return ",".join(
            to_text(shape.member, item, f"{where}[{i}]") for i, item in enumerate(value)
        )
    if shape.type_name == "boolean":
        return "true" if _scalar_to_json("boolean", value, where) else "false"
    return str(_scalar_to_json(shape.type_name, value, where))
