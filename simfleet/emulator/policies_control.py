"""The control plane's policy and tag operations (issue #7): CreatePolicy, GetPolicy,
DeletePolicy, ListPolicies, AttachPolicy, DetachPolicy, ListAttachedPolicies,
ListTargetsForPolicy; TagResource, UntagResource, ListTagsForResource. What each refuses is the
registry's (policy_book.py, tags.py); this module reads the request and writes the answer.

Policies attach to certificates (a certificate ARN as `target`); attaching to a thing group, or
to a Cognito identity, is not implemented (501). A policy created here is enforced for the next
CONNECT of every certificate it is attached to (and the next HTTPS Jobs request).

Choices [U]: ListPolicies answers newest first unless `ascendingOrder`, as the certificate
listings do. Tags are kept for thing groups, policies and CA certificates, the taggable
resources the emulator has; a thing is not taggable on AWS either (things have attributes),
so TagResource on a thing is InvalidRequestException; other resource types (jobs, ...) are
not implemented (501).
"""

from __future__ import annotations

from typing import Any

from simfleet.emulator.control_base import ControlBase
from simfleet.emulator.control_shapes import not_implemented, paginate, put, refuse_unsupported
from simfleet.emulator.errors import invalid_request
from simfleet.emulator.policy_book import check_policy_name
from simfleet.emulator.tags import tag_map

_TAGGABLE = ("thinggroup", "policy", "cacert")


class PolicyControl(ControlBase):
    # --- policies ---------------------------------------------------------------------------

    def create_policy(
        self,
        *,
        policyName: str,
        policyDocument: str,
        tags: list[dict[str, str]] | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        checked_tags = tag_map(tags)
        with self._naming(lambda name: self._arn("policy", name)):
            policy = self._registry.policies.create(policyName, policyDocument)
        arn = self._arn("policy", policy.name)
        self._registry.tags.put(arn, checked_tags)
        return {
            "policyName": policy.name,
            "policyArn": arn,
            "policyDocument": policy.document,
            "policyVersionId": policy.default_version,
        }

    def get_policy(self, *, policyName: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        policy = self._registry.policy(policyName)
        return {
            "policyName": policy.name,
            "policyArn": self._arn("policy", policy.name),
            "policyDocument": policy.document,
            "defaultVersionId": policy.default_version,
        }

    def delete_policy(self, *, policyName: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._registry.policies.delete(policyName)
        self._registry.tags.forget(self._arn("policy", policyName))
        return {}

    def list_policies(
        self,
        *,
        marker: str | None = None,
        pageSize: int | None = None,
        ascendingOrder: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        names = [p.name for p in self._registry.policies.all()]
        return self._policies(names if ascendingOrder else names[::-1], pageSize, marker)

    def attach_policy(
        self, *, policyName: str, target: str, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_policy_name(policyName)
        certificate_id = self._certificate_of(target, "target")
        self._registry.policies.attach(policyName, certificate_id)
        return {}

    def detach_policy(
        self, *, policyName: str, target: str, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_policy_name(policyName)
        certificate_id = self._certificate_of(target, "target")
        self._registry.policies.detach(policyName, certificate_id)
        return {}

    def list_attached_policies(
        self,
        *,
        target: str,
        recursive: bool | None = None,
        marker: str | None = None,
        pageSize: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        # A certificate inherits no policy, so `recursive` changes nothing for one.
        del recursive
        refuse_unsupported(unsupported)
        certificate_id = self._certificate_of(target, "target")
        return self._policies(self._registry.attached_policies(certificate_id), pageSize, marker)

    def list_targets_for_policy(
        self,
        *,
        policyName: str,
        marker: str | None = None,
        pageSize: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        targets = self._registry.policy_targets(policyName)
        page, token = paginate(targets, max_results=pageSize, next_token=marker)
        out: dict[str, Any] = {"targets": [self._arn("cert", c) for c in page]}
        put(out, "nextMarker", token)
        return out

    def _policies(
        self, names: list[str] | tuple[str, ...], size: int | None, marker: str | None
    ) -> dict[str, Any]:
        page, token = paginate(names, max_results=size, next_token=marker)
        out: dict[str, Any] = {
            "policies": [{"policyName": n, "policyArn": self._arn("policy", n)} for n in page]
        }
        put(out, "nextMarker", token)
        return out

    # --- tags -------------------------------------------------------------------------------

    def tag_resource(
        self, *, resourceArn: str, tags: list[dict[str, str]], **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        checked = tag_map(tags)
        self._registry.tags.put(self._taggable(resourceArn), checked)
        return {}

    def untag_resource(
        self, *, resourceArn: str, tagKeys: list[str], **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._registry.tags.remove(self._taggable(resourceArn), tagKeys)
        return {}

    def list_tags_for_resource(
        self, *, resourceArn: str, nextToken: str | None = None, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        tags = self._registry.tags.of(self._taggable(resourceArn))
        page, token = paginate(tags.items(), max_results=None, next_token=nextToken)
        out: dict[str, Any] = {"tags": [{"Key": k, "Value": v} for k, v in page]}
        put(out, "nextToken", token)
        return out

    def _taggable(self, arn: str) -> str:
        """`arn` if it names an existing resource the emulator keeps tags for."""
        split = self._split(arn)
        if split is None or split[0] == "thing":
            raise invalid_request(f"Tagging is not supported for {arn}")
        kind, name = split
        if kind not in _TAGGABLE:
            raise not_implemented(f"tags on {kind} resources")
        if kind == "thinggroup":
            self._registry.thing_group(name)
        elif kind == "policy":
            self._registry.policy(name)
        else:
            self._registry.certificates.ca(name)
        return arn
