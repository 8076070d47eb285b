"""Errors of the HTTP API layer.

Every answer that is not a success is an `simfleet.emulator.errors.AwsError` (code, message,
status): the ones this layer makes itself (SigV4 rejections, unknown routes, bad input,
unimplemented operations) and the ones the ControlPlane raises. This package's own tree is
for its bugs and its configuration, never for a client's mistake:

    HttpApiError                 base of what this package raises
    ├── ResponseShapeError       an operation returned a value that its output shape cannot
    │                            hold (our bug): the request gets 500 InternalFailureException
    └── UnsupportedModelError    a service model using a feature the router does not serve
                                 (raised when the API is built, never per request)
"""

from __future__ import annotations


class HttpApiError(Exception):
    """Base of every error the HTTP API layer raises about itself."""


class ResponseShapeError(HttpApiError):
    """An operation's result does not fit its output shape; the message says where."""


class UnsupportedModelError(HttpApiError):
    """A service model feature (protocol, member location or type) this layer cannot serve."""
