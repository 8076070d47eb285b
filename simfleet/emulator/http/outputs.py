"""An operation's result, or an error, as the HTTP answer botocore's rest-json parser reads.

The mirror of botocore's `RestJSONParser`: `location: header` members go to headers,
`statusCode` to the status, a `payload` member is the whole body, and the other members form
the JSON body. An operation with no output shape, or whose members all live outside the body,
answers an empty body. Errors: the status, `x-amzn-ErrorType: <code>` (botocore reads the code
there, cutting anything after `:`), and `{"message": ...}` (botocore reads `message`) with the
error shape's other members, if any.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simfleet.emulator.errors import AwsError
from simfleet.emulator.http.errors import ResponseShapeError, UnsupportedModelError
from simfleet.emulator.http.values import to_json, to_text, unsupported_types

JSON_CONTENT_TYPE = "application/json"
BINARY_CONTENT_TYPE = "application/octet-stream"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
ERROR_TYPE_HEADER = "x-amzn-ErrorType"
_LOCATIONS = {"header", "headers", "statusCode", None}


@dataclass(frozen=True, kw_only=True)
class Encoded:
    status: int
    headers: Mapping[str, str]
    body: bytes


def check_model_outputs(operation: Any) -> None:
    """Raise UnsupportedModelError if an operation's output uses a location we cannot write."""
    shape = operation.output_shape
    if shape is None:
        return
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location not in _LOCATIONS:
            raise UnsupportedModelError(
                f"{operation.name}.{name}: output location {location!r} is not supported"
            )
    kinds = unsupported_types(shape)
    if kinds:
        raise UnsupportedModelError(f"{operation.name}: types {sorted(kinds)} are not supported")


def _dumps(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def encode_result(operation: Any, result: object) -> Encoded:
    """The success answer for `result`, or ResponseShapeError if it does not fit the model."""
    status: int = operation.http.get("responseCode", 200)
    shape = operation.output_shape
    if shape is None:
        if result not in (None, {}):
            raise ResponseShapeError(f"{operation.name} has no output, but returned {result!r}")
        return Encoded(status=status, headers={}, body=b"")
    if not isinstance(result, Mapping):
        raise ResponseShapeError(
            f"{operation.name}: expected a mapping, got {type(result).__name__}"
        )
    members = shape.members
    unknown = set(result) - set(members)
    if unknown:
        raise ResponseShapeError(f"{operation.name}: {sorted(unknown)} not in {shape.name}")
    headers: dict[str, str] = {}
    body_values: dict[str, Any] = {}
    for name, value in result.items():
        if value is None:
            continue
        member = members[name]
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header":
            headers[wire] = to_text(member, value, name)
        elif location == "headers":
            for key, item in to_json(member, value, name).items():
                headers[wire + key] = str(item)
        elif location == "statusCode":
            status = to_json(member, value, name)
        else:
            body_values[name] = value
    body, content_type = _body(shape, members, body_values)
    if body:
        headers["Content-Type"] = content_type
    return Encoded(status=status, headers=headers, body=body)


def _body(shape: Any, members: Any, values: dict[str, Any]) -> tuple[bytes, str]:
    """The body and its content type."""
    payload = shape.serialization.get("payload")
    if payload is not None:
        value = values.get(payload)
        kind = members[payload].type_name
        if value is None:
            return b"", JSON_CONTENT_TYPE
        if kind == "blob":
            if not isinstance(value, bytes | bytearray):
                raise ResponseShapeError(f"{payload}: expected bytes, got {type(value).__name__}")
            return bytes(value), BINARY_CONTENT_TYPE
        if kind == "string":
            return str(to_json(members[payload], value, payload)).encode(), TEXT_CONTENT_TYPE
        return _dumps(to_json(members[payload], value, payload)), JSON_CONTENT_TYPE
    if not any("location" not in member.serialization for member in members.values()):
        return b"", JSON_CONTENT_TYPE
    document = {
        members[name].serialization.get("name", name): to_json(members[name], value, name)
        for name, value in values.items()
    }
    return _dumps(document), JSON_CONTENT_TYPE


def encode_error(error: AwsError) -> Encoded:
    """The error's other members (`fields`) go next to `message`, where botocore reads the
    members of a modeled error shape."""
    return Encoded(
        status=error.status,
        headers={ERROR_TYPE_HEADER: error.code, "Content-Type": JSON_CONTENT_TYPE},
        body=_dumps({**error.fields, "message": error.message}),
    )
