"""An operation's keyword arguments from a REST request, as the model places each member.

The mirror of botocore's `RestJSONSerializer`: `location: uri` members come from the path
labels, `querystring` members from the query (lists from repeated keys, a map member takes
the parameters no other member names), `header` members from headers, `headers` maps from
prefixed headers, and everything else from the JSON body (or the whole body is the
`payload` member). Values are converted to what a boto3 user passes (`int`, `bool`,
`datetime`, `bytes`); botocore's own `ParamValidator` then checks required members and `min`
constraints, as the client did. Members absent from the request are absent from the
arguments: an optional argument keeps the ControlPlane method's default.

Every problem is `InvalidRequestException` (400), AWS IoT's answer to a malformed request.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.validate import ParamValidator  # type: ignore[import-untyped]

from simfleet.emulator.errors import invalid_request
from simfleet.emulator.http.errors import UnsupportedModelError
from simfleet.emulator.http.messages import ApiRequest, QueryPairs
from simfleet.emulator.http.routing import RouteMatch
from simfleet.emulator.http.values import BadValue, from_json, from_text, unsupported_types

_LOCATIONS = {"uri", "querystring", "header", "headers", None}


def check_model_inputs(operation: Any) -> None:
    """Raise UnsupportedModelError if an operation's input uses a location we do not read."""
    shape = operation.input_shape
    if shape is None:
        return
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location not in _LOCATIONS:
            raise UnsupportedModelError(
                f"{operation.name}.{name}: location {location!r} is not supported"
            )
    kinds = unsupported_types(shape)
    if kinds:
        raise UnsupportedModelError(f"{operation.name}: types {sorted(kinds)} are not supported")


def operation_kwargs(match: RouteMatch, request: ApiRequest, query: QueryPairs) -> dict[str, Any]:
    """The keyword arguments of the matched operation carried by `request`, or AwsError(400)."""
    shape = match.operation.input_shape
    if shape is None:
        return {}
    try:
        kwargs = _collect(shape, match, request, query)
    except BadValue as error:
        raise invalid_request(str(error)) from None
    except RecursionError:
        raise invalid_request("the request body is nested too deeply") from None
    report = ParamValidator().validate(kwargs, shape)
    if report.has_errors():
        raise invalid_request(report.generate_report())
    return kwargs


def _collect(
    shape: Any, match: RouteMatch, request: ApiRequest, query: QueryPairs
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    members = shape.members
    query_names = match.constant_keys | {
        member.serialization.get("name", name)
        for name, member in members.items()
        if member.serialization.get("location") == "querystring" and member.type_name != "map"
    }
    body_members = []
    for name, member in members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            kwargs[name] = from_text(member, _decode_label(match.raw_labels[wire], name), name)
        elif location == "querystring":
            value = _from_query(member, wire, query, query_names, name)
            if value is not None:
                kwargs[name] = value
        elif location == "header":
            text = request.header(wire)
            if text is not None:
                kwargs[name] = _from_header(member, text, name)
        elif location == "headers":
            prefix = wire.lower()
            found = {
                header[len(prefix) :]: ",".join(values)
                for header, values in request.headers.items()
                if header.startswith(prefix)
            }
            if found:
                kwargs[name] = found
        else:
            body_members.append(name)
    kwargs.update(_from_body(shape, body_members, request.body))
    return kwargs


def _decode_label(raw: str, name: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadValue(f"{name}: the path is not valid UTF-8 once decoded") from None


def _from_query(
    member: Any, wire: str, query: QueryPairs, query_names: frozenset[str], name: str
) -> Any:
    if member.type_name == "map":
        # botocore spreads a querystring map into the query: it owns every unnamed parameter.
        found: dict[str, Any] = {}
        for key, text in query:
            if key in query_names:
                continue
            if member.value.type_name == "list":
                found.setdefault(key, []).append(from_text(member.value.member, text, name))
            else:
                found.setdefault(key, from_text(member.value, text, name))
        return found or None
    values = [text for key, text in query if key == wire]
    if not values:
        return None
    if member.type_name == "list":
        return [from_text(member.member, text, name) for text in values]
    return from_text(member, values[0], name)


def _from_header(member: Any, text: str, name: str) -> Any:
    if member.type_name == "list":
        return [from_text(member.member, item.strip(), name) for item in text.split(",")]
    return from_text(member, text, name)


def _from_body(shape: Any, body_members: list[str], body: bytes) -> dict[str, Any]:
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if not body:
            return {}
        if member.type_name == "blob":
            return {payload: body}
        if member.type_name == "string":
            return {payload: _utf8(body)}
        return {payload: from_json(member, _json_object(body), payload)}
    if not body_members or not body.strip():
        return {}
    document = _json_object(body)
    members = shape.members
    result: dict[str, Any] = {}
    for name in body_members:
        member = members[name]
        value = document.get(member.serialization.get("name", name))
        if value is not None:
            result[name] = from_json(member, value, name)
    return result


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadValue("the request body is not valid UTF-8") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(_utf8(body))
    except json.JSONDecodeError as error:
        raise BadValue(f"the request body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadValue("the request body must be a JSON object")
    return document
