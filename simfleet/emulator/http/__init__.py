"""The emulator's HTTPS APIs: AWS REST services driven by botocore's service models.

    api = control_plane_api(control_plane, credentials={key_id: secret}, region=..., clock=...,
                            authorize=iam.authorize_call)   # optional: IAM policies
    server = HttpsApiServer(api, certificate=fleet.server_cert_path,
                            private_key=fleet.server_key_path)
    port = await server.start("127.0.0.1", 0)     # an unmodified boto3 "iot" client works
    ...
    await server.close()

`RestJsonApi` (sans-io) routes by the model's `requestUri`, checks SigV4 with botocore's signer
(`SigV4Verifier`), builds keyword arguments as the model places them, lets the `authorize`
hook judge the call (`ApiCall`) and calls the target's snake_case method; `HttpsApiServer` is
the aiohttp driver. Any rest-json model works, so `iot-jobs-data` reuses both with another
target.

Errors (errors.py): answers to clients are `simfleet.emulator.errors.AwsError`; this package's
own tree, for its bugs and configuration:

    HttpApiError
    ├── ResponseShapeError       a result that does not fit its output shape (→ 500)
    └── UnsupportedModelError    a model feature the API cannot serve (at construction)
"""

from simfleet.emulator.http.api import (
    DEFAULT_MAX_BODY_BYTES,
    NOT_IMPLEMENTED,
    AuthorizeCall,
    RestJsonApi,
    control_plane_api,
    service_model,
)
from simfleet.emulator.http.counters import RequestCounters
from simfleet.emulator.http.errors import HttpApiError, ResponseShapeError, UnsupportedModelError
from simfleet.emulator.http.messages import ApiCall, ApiRequest, ApiResponse, Caller
from simfleet.emulator.http.routing import Router
from simfleet.emulator.http.server import HttpsApiServer, server_ssl_context
from simfleet.emulator.http.sigv4 import SigV4Verifier

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "NOT_IMPLEMENTED",
    "ApiCall",
    "ApiRequest",
    "ApiResponse",
    "AuthorizeCall",
    "Caller",
    "HttpApiError",
    "HttpsApiServer",
    "RequestCounters",
    "ResponseShapeError",
    "RestJsonApi",
    "Router",
    "SigV4Verifier",
    "UnsupportedModelError",
    "control_plane_api",
    "server_ssl_context",
    "service_model",
]
