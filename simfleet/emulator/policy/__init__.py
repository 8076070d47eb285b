"""The emulator's AWS IoT Core policy engine (spec §4), sans-io.

At CONNECT (or at each Jobs HTTPS call) the driver builds a PrincipalContext, usually with
context_from_certificate() from the verified peer certificate, and compiles the policies
attached to that certificate into an Authorizer, which then answers every Connect, Publish,
Subscribe, Receive, RetainPublish and Jobs HTTPS check of the connection:

    authorizer = compile_policies(documents, context, denials=counter)
    if not authorizer.can_subscribe(topic_filter): ...

Errors (errors.py):

    PolicyEngineError
    └── InvalidContextError   (also a ValueError)
"""

from simfleet.emulator.policy.certificate import (
    certificate_info,
    context_from_certificate,
)
from simfleet.emulator.policy.context import (
    CertificateInfo,
    PrincipalContext,
    Protocol,
    ThingIdentity,
)
from simfleet.emulator.policy.engine import Authorizer, DenialCounter, JobsApi, compile_policies
from simfleet.emulator.policy.errors import InvalidContextError, PolicyEngineError
from simfleet.emulator.policy.matcher import glob_matches

__all__ = [
    "Authorizer",
    "CertificateInfo",
    "DenialCounter",
    "InvalidContextError",
    "JobsApi",
    "PolicyEngineError",
    "PrincipalContext",
    "Protocol",
    "ThingIdentity",
    "certificate_info",
    "compile_policies",
    "context_from_certificate",
    "glob_matches",
]
