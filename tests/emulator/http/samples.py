"""Sample values for any botocore shape, and requests / responses made by botocore itself, so
that the HTTP layer is checked against the client's own serializer and parser."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import (  # type: ignore[import-untyped]
    AWSRequest,
    HeadersDict,
    create_request_object,
    prepare_request_dict,
)
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]
from botocore.response import StreamingBody  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

from simfleet.emulator.http import ApiRequest
from simfleet.emulator.http.outputs import Encoded

ENDPOINT = "https://127.0.0.1:8443"
SAMPLE_TIME = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
# Characters botocore must percent-encode in a URI label or query value.
AWKWARD_TEXT = "v 1/é:$?&=+%"
_MAX_DEPTH = 4


def sample_value(shape: Any, *, text: str = AWKWARD_TEXT, depth: int = 0) -> Any:
    """A value of `shape` meeting its `min` constraints; structures hold every member, down to
    a depth where only required members are kept (recursive shapes end there)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        names = members if depth < _MAX_DEPTH else shape.required_members
        return {
            name: sample_value(members[name], text=_text_for(members[name], text), depth=depth + 1)
            for name in names
        }
    if kind == "list":
        count = max(1, shape.metadata.get("min", 1))
        return [sample_value(shape.member, text=text, depth=depth + 1) for _ in range(count)]
    if kind == "map":
        return {"key-1": sample_value(shape.value, text=text, depth=depth + 1)}
    if kind == "string":
        minimum = shape.metadata.get("min", 0)
        return text + "x" * max(0, minimum - len(text))
    if kind in ("integer", "long"):
        return max(7, shape.metadata.get("min", 7))
    scalars: dict[str, Any] = {
        "boolean": True,
        "float": 1.5,
        "double": 2.25,
        "timestamp": SAMPLE_TIME,
        "blob": b"\x00\xffblob",
    }
    return scalars[kind]


def _text_for(member: Any, text: str) -> str:
    # Header values must be latin-1 on the wire; keep them plain.
    return "header-value" if member.serialization.get("location") == "header" else text


def sample_input(operation: Any) -> dict[str, Any]:
    shape = operation.input_shape
    return {} if shape is None else dict(sample_value(shape))


def sample_output(operation: Any) -> dict[str, Any]:
    shape = operation.output_shape
    if shape is None:
        return {}
    value = dict(sample_value(shape))
    for name, member in shape.members.items():
        if member.serialization.get("location") == "statusCode":
            value[name] = 200
    return value


def botocore_request(operation: Any, params: dict[str, Any]) -> AWSRequest:
    """The request botocore's client would send for `params` (validated, serialized)."""
    protocol = operation.service_model.protocol
    request_dict = create_serializer(protocol, include_validation=True).serialize_to_request(
        params, operation
    )
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    return create_request_object(request_dict)


def as_api_request(request: AWSRequest) -> ApiRequest:
    """What the aiohttp driver would read off the wire for `request`."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body = prepared.body or b""
    return ApiRequest.from_pairs(
        method=prepared.method,
        target=target,
        headers=[*prepared.headers.items(), ("Host", parts.netloc)],
        body=body.encode() if isinstance(body, str) else body,
    )


def signed(
    request: AWSRequest, *, key_id: str, secret: str, service: str, region: str
) -> ApiRequest:
    SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
    return as_api_request(request)


def parse_with_botocore(operation: Any, encoded: Encoded) -> dict[str, Any]:
    """What a boto3 client returns for this answer (without ResponseMetadata)."""
    headers = HeadersDict()
    for name, value in encoded.headers.items():
        headers[name] = value
    body: Any = encoded.body
    if operation.has_streaming_output:
        # botocore hands a blob payload to the parser as a stream, and the user reads it.
        body = StreamingBody(io.BytesIO(encoded.body), len(encoded.body))
    parsed = create_parser(operation.service_model.protocol).parse(
        {"status_code": encoded.status, "headers": headers, "body": body},
        operation.output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    if operation.has_streaming_output:
        name = operation.output_shape.serialization["payload"]
        parsed[name] = parsed[name].read()
    return dict(parsed)


def synthetic_model(description: dict[str, Any] | None = None) -> ServiceModel:
    return ServiceModel(description or synthetic_description(), service_name="widgets")


def synthetic_description() -> dict[str, Any]:
    """A small rest-json model using what `iot` does not: list and map query members, header
    members of several types, greedy labels, query constants, payload members, and templates
    that overlap (a literal segment where another has a label)."""
    string = {"type": "string"}
    shapes: dict[str, Any] = {
        "String": string,
        "Integer": {"type": "integer"},
        "Long": {"type": "long"},
        "Boolean": {"type": "boolean"},
        "Double": {"type": "double"},
        "Timestamp": {"type": "timestamp"},
        "IsoTimestamp": {"type": "timestamp", "timestampFormat": "iso8601"},
        "Blob": {"type": "blob"},
        "Strings": {"type": "list", "member": {"shape": "String"}},
        "Integers": {"type": "list", "member": {"shape": "Integer"}},
        "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "StringsMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Strings"}},
        "Item": {
            "type": "structure",
            "members": {
                "when": {"shape": "Timestamp"},
                "isoWhen": {"shape": "IsoTimestamp"},
                "data": {"shape": "Blob"},
                "renamed": {"shape": "String", "locationName": "wireName"},
            },
        },
        "Items": {"type": "list", "member": {"shape": "Item"}},
        "Doc": {"type": "structure", "members": {"title": {"shape": "String"}}},
        "GetFileInput": {
            "type": "structure",
            "required": ["name", "path"],
            "members": {
                "name": {"shape": "String", "location": "uri", "locationName": "name"},
                "path": {"shape": "String", "location": "uri", "locationName": "path"},
                "tags": {"shape": "Strings", "location": "querystring", "locationName": "tag"},
                "limit": {"shape": "Integer", "location": "querystring", "locationName": "limit"},
                "deep": {"shape": "Boolean", "location": "querystring", "locationName": "deep"},
                "since": {"shape": "Timestamp", "location": "querystring", "locationName": "since"},
                "ratio": {"shape": "Double", "location": "querystring", "locationName": "ratio"},
                "trace": {"shape": "String", "location": "header", "locationName": "x-sf-trace"},
                "when": {"shape": "Timestamp", "location": "header", "locationName": "x-sf-when"},
                "ids": {"shape": "Integers", "location": "header", "locationName": "x-sf-ids"},
                "meta": {"shape": "StringMap", "location": "headers", "locationName": "x-sf-meta-"},
            },
        },
        "GetFileOutput": {
            "type": "structure",
            "members": {
                "etag": {"shape": "String", "location": "header", "locationName": "x-sf-etag"},
                "modified": {
                    "shape": "Timestamp",
                    "location": "header",
                    "locationName": "x-sf-modified",
                },
                "fresh": {"shape": "Boolean", "location": "header", "locationName": "x-sf-fresh"},
                "size": {"shape": "Long"},
                "items": {"shape": "Items"},
                "labels": {"shape": "StringMap"},
            },
        },
        "GetVersionsInput": {
            "type": "structure",
            "required": ["name", "path"],
            "members": {
                "name": {"shape": "String", "location": "uri", "locationName": "name"},
                "path": {"shape": "String", "location": "uri", "locationName": "path"},
                "extra": {"shape": "StringsMap", "location": "querystring"},
            },
        },
        "BlobPayload": {
            "type": "structure",
            "members": {"content": {"shape": "Blob"}},
            "payload": "content",
        },
        "NameAndBlob": {
            "type": "structure",
            "required": ["name"],
            "members": {
                "name": {"shape": "String", "location": "uri", "locationName": "name"},
                "content": {"shape": "Blob"},
            },
            "payload": "content",
        },
        "NameAndDoc": {
            "type": "structure",
            "required": ["name"],
            "members": {
                "name": {"shape": "String", "location": "uri", "locationName": "name"},
                "doc": {"shape": "Doc"},
            },
            "payload": "doc",
        },
        "PathOnly": {
            "type": "structure",
            "required": ["path"],
            "members": {"path": {"shape": "String", "location": "uri", "locationName": "path"}},
        },
        "PutItemsInput": {
            "type": "structure",
            "required": ["name"],
            "members": {
                "name": {"shape": "String", "location": "uri", "locationName": "name"},
                "items": {"shape": "Items"},
                "count": {"shape": "Integer"},
                "ratio": {"shape": "Double"},
                "enabled": {"shape": "Boolean"},
                "labels": {"shape": "StringMap"},
            },
        },
        "DocPayload": {
            "type": "structure",
            "members": {"doc": {"shape": "Doc"}},
            "payload": "doc",
        },
    }

    def operation(name: str, method: str, uri: str, inp: str, out: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "name": name,
            "http": {"method": method, "requestUri": uri},
            "input": {"shape": inp},
        }
        if out is not None:
            spec["output"] = {"shape": out}
        return spec

    operations = [
        operation(
            "GetFile", "GET", "/widgets/{name}/files/{path+}", "GetFileInput", "GetFileOutput"
        ),
        operation(
            "GetVersions", "GET", "/widgets/{name}/files/{path+}?versions", "GetVersionsInput", None
        ),
        # Same path as GetFile with name="special": the literal template must win.
        operation("GetSpecial", "GET", "/widgets/special/files/{path+}", "PathOnly", None),
        operation("PutBlob", "PUT", "/widgets/{name}/blob", "NameAndBlob", "BlobPayload"),
        operation("PutDoc", "PUT", "/widgets/{name}/doc", "NameAndDoc", "DocPayload"),
        operation("PutItems", "POST", "/widgets/{name}/items", "PutItemsInput", None),
    ]
    return {
        "version": "2.0",
        "metadata": {
            "apiVersion": "2025-01-01",
            "endpointPrefix": "widgets",
            "protocol": "rest-json",
            "serviceId": "Widgets",
            "signatureVersion": "v4",
            "signingName": "widgets",
            "uid": "widgets-2025-01-01",
        },
        "operations": {spec["name"]: spec for spec in operations},
        "shapes": shapes,
    }
