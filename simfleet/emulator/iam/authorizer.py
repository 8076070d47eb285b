"""IAM authorization of SigV4 callers (issue #4, item 4): the control plane and the Jobs data
plane ask `IamAuthorizer` before a call reaches its target.

Two entry points:
- `authorize_call(call)`: the `RestJsonApi` hook (`control_plane_api(..., authorize=...)`).
  It derives the action, resources and `iot:JobId` from the call (resources.py), checks each
  resource, counts a denial by action and raises AccessDeniedException.
- `authorize(caller, action, resource, context=None) -> bool`: one decision, no counting, no
  error; it fits the Jobs HTTPS API's `Authorize` seam (`JobsHttpServer(authorize=...)`),
  which counts and answers its denials itself.

The request context every call carries (condition keys, and `${...}` policy variables):
`aws:username`, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType` ("User"),
`aws:SecureTransport` ("true": both APIs are HTTPS only), `aws:RequestedRegion`, plus
`aws:SourceIp` when the driver knows the peer and `iot:JobId` where AWS sets it.

The denial message is AWS's (the AWS IoT control plane in aws/aws-connected-device-framework
#36): "User: arn:aws:iam::ACCOUNT:user/NAME is not authorized to perform: ACTION on resource:
ARN because no identity-based policy allows the ACTION action", or "... with an explicit deny
in an identity-based policy" when a Deny statement matched.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from simfleet.emulator.control_shapes import partition
from simfleet.emulator.http import ApiCall, Caller
from simfleet.emulator.iam.errors import access_denied
from simfleet.emulator.iam.evaluation import Decision, Request, evaluate
from simfleet.emulator.iam.principals import IamPrincipal, Principals
from simfleet.emulator.iam.resources import action_names, requested_call
from simfleet.emulator.policy import DenialCounter

SOURCE_IP_KEY = "aws:sourceip"


class IamAuthorizer:
    """Evaluates the IAM policies of `principals` for calls in one region and account."""

    def __init__(
        self,
        principals: Principals,
        *,
        region: str,
        account_id: str,
        denials: DenialCounter | None = None,
    ) -> None:
        self._principals = principals
        self._partition = partition(region)
        self._account_id = account_id
        self._arn_prefix = f"arn:{self._partition}:iot:{region}:{account_id}:"
        self._denials = denials if denials is not None else DenialCounter()
        self._contexts = {
            p.access_key_id: MappingProxyType(self._principal_context(p, region))
            for p in principals.members
        }

    @property
    def principals(self) -> Principals:
        return self._principals

    @property
    def denials(self) -> DenialCounter:
        """Denials by action (`iot:CancelJob`) of `authorize_call`, for /metrics."""
        return self._denials

    def user_arn(self, principal: IamPrincipal) -> str:
        return f"arn:{self._partition}:iam::{self._account_id}:user/{principal.name}"

    def decide(
        self,
        caller: Caller,
        action: str,
        resource: str,
        context: Mapping[str, str] | None = None,
    ) -> Decision:
        """IAM's decision for `caller` doing `action` on `resource`; `context` adds request
        keys (any case) to the principal's own. An unknown access key is denied."""
        principal = self._principals.by_access_key(caller.access_key_id)
        if principal is None:
            return Decision.IMPLICIT_DENY
        keys: Mapping[str, str] = self._contexts[principal.access_key_id]
        if context:
            keys = {**keys, **{key.lower(): value for key, value in context.items()}}
        request = Request(actions=action_names(action), resource=resource, context=keys)
        return evaluate(principal.policies, request)

    def authorize(
        self,
        caller: Caller,
        action: str,
        resource: str,
        context: Mapping[str, str] | None = None,
    ) -> bool:
        """May `caller` do `action` on `resource`? Fits `simfleet.emulator.jobs_http.Authorize`."""
        return self.decide(caller, action, resource, context) is Decision.ALLOW

    def authorize_call(self, call: ApiCall) -> None:
        """The `RestJsonApi` hook: return if every resource of the call is allowed, else count
        the denial and raise AccessDeniedException (403) naming the first refused resource."""
        requested = requested_call(
            call.service, call.operation, call.arguments, arn_prefix=self._arn_prefix
        )
        context = dict(requested.context)
        if call.source_ip is not None:
            context[SOURCE_IP_KEY] = call.source_ip
        for resource in requested.resources:
            decision = self.decide(call.caller, requested.action, resource, context)
            if decision is not Decision.ALLOW:
                self._denials.record(requested.action)
                raise access_denied(
                    self._message(call.caller, requested.action, resource, decision)
                )

    def _message(self, caller: Caller, action: str, resource: str, decision: Decision) -> str:
        principal = self._principals.by_access_key(caller.access_key_id)
        user = caller.access_key_id if principal is None else self.user_arn(principal)
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision is Decision.EXPLICIT_DENY
            else f"because no identity-based policy allows the {action} action"
        )
        return (
            f"User: {user} is not authorized to perform: {action} on resource: {resource} {reason}"
        )

    def _principal_context(self, principal: IamPrincipal, region: str) -> dict[str, str]:
        return {
            "aws:username": principal.name,
            "aws:principalarn": self.user_arn(principal),
            "aws:principalaccount": self._account_id,
            "aws:principaltype": "User",
            "aws:securetransport": "true",
            "aws:requestedregion": region,
        }
