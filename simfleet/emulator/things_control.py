"""The control plane's thing and thing-group operations for registration and clean-up (issue
#7): DeleteThing, AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals,
ListPrincipalThings, DeleteThingGroup, RemoveThingFromThingGroup, ListThingsInThingGroup,
ListThingGroups, ListThingGroupsForThing. What each refuses is the registry's (registry.py,
thing_groups.py); this module reads the request and writes the answer.

Principals are certificate ARNs; Cognito identities are not implemented, nor is
`thingPrincipalType=EXCLUSIVE_THING` (501), NON_EXCLUSIVE_THING being AWS's default.
"""

from __future__ import annotations

from typing import Any

from simfleet.emulator.control_base import ControlBase
from simfleet.emulator.control_shapes import (
    check_enum,
    check_name,
    not_implemented,
    paginate,
    put,
    refuse_unsupported,
)
from simfleet.emulator.jobs_service import TargetKind
from simfleet.emulator.thing_groups import ThingGroups

_PRINCIPAL_TYPES = ("EXCLUSIVE_THING", "NON_EXCLUSIVE_THING")


class ThingControl(ControlBase):
    # --- things and their principals ------------------------------------------------------

    def delete_thing(
        self, *, thingName: str, expectedVersion: int | None = None, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._registry.delete_thing(
            check_name(thingName, "thingName"), expected_version=expectedVersion
        )
        return {}

    def attach_thing_principal(
        self,
        *,
        thingName: str,
        principal: str,
        thingPrincipalType: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        if check_enum(thingPrincipalType, _PRINCIPAL_TYPES, "thingPrincipalType") == (
            "EXCLUSIVE_THING"
        ):
            raise not_implemented("thingPrincipalType EXCLUSIVE_THING")
        certificate_id = self._certificate_of(principal, "principal")
        self._registry.attach_thing_principal(thingName, certificate_id)
        return {}

    def detach_thing_principal(
        self, *, thingName: str, principal: str, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        certificate_id = self._certificate_of(principal, "principal")
        self._registry.detach_thing_principal(thingName, certificate_id)
        return {}

    def list_thing_principals(
        self,
        *,
        thingName: str,
        nextToken: str | None = None,
        maxResults: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        principals = self._registry.thing_principals(thingName)
        page, token = paginate(principals, max_results=maxResults, next_token=nextToken)
        out: dict[str, Any] = {"principals": [self._arn("cert", c) for c in page]}
        put(out, "nextToken", token)
        return out

    def list_principal_things(
        self,
        *,
        principal: str,
        nextToken: str | None = None,
        maxResults: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        things = self._registry.principal_things(self._certificate_of(principal, "principal"))
        page, token = paginate(things, max_results=maxResults, next_token=nextToken)
        out: dict[str, Any] = {"things": list(page)}
        put(out, "nextToken", token)
        return out

    # --- thing groups -------------------------------------------------------------------------

    def delete_thing_group(
        self, *, thingGroupName: str, expectedVersion: int | None = None, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        name = check_name(thingGroupName, "thingGroupName")
        if self._registry.groups.delete(name, expected_version=expectedVersion):
            self._registry.tags.forget(self._arn("thinggroup", name))
        return {}

    def remove_thing_from_thing_group(
        self,
        *,
        thingGroupName: str | None = None,
        thingGroupArn: str | None = None,
        thingName: str | None = None,
        thingArn: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        group = self._name_or_arn(thingGroupName, thingGroupArn, TargetKind.THING_GROUP)
        thing = self._name_or_arn(thingName, thingArn, TargetKind.THING)
        self._registry.remove_thing_from_thing_group(group, thing)
        return {}

    def list_things_in_thing_group(
        self,
        *,
        thingGroupName: str,
        recursive: bool | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        groups = self._registry.groups
        things = (
            groups.members(thingGroupName) if recursive else groups.direct_members(thingGroupName)
        )
        page, token = paginate(things, max_results=maxResults, next_token=nextToken)
        out: dict[str, Any] = {"things": list(page)}
        put(out, "nextToken", token)
        return out

    def list_thing_groups(
        self,
        *,
        nextToken: str | None = None,
        maxResults: int | None = None,
        parentGroup: str | None = None,
        namePrefixFilter: str | None = None,
        recursive: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        """[U] With `parentGroup`: its children (every descendant if `recursive`); without:
        every group, or the root groups only when `recursive` is false."""
        refuse_unsupported(unsupported)
        groups = self._registry.groups
        if parentGroup is not None:
            groups.get(parentGroup)
            names = groups.children(parentGroup)
            if recursive:
                names = [g.name for g in groups.all() if _descends(groups, g.name, parentGroup)]
        else:
            names = [g.name for g in groups.all() if recursive is not False or g.parent is None]
        if namePrefixFilter is not None:
            names = [n for n in names if n.startswith(namePrefixFilter)]
        return self._groups(names, maxResults, nextToken)

    def list_thing_groups_for_thing(
        self,
        *,
        thingName: str,
        nextToken: str | None = None,
        maxResults: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._registry.thing(thingName)
        names = [g.name for g in self._registry.groups.groups_of(thingName)]
        return self._groups(names, maxResults, nextToken)

    def _groups(self, names: list[str], size: int | None, token: str | None) -> dict[str, Any]:
        page, next_token = paginate(names, max_results=size, next_token=token)
        out: dict[str, Any] = {
            "thingGroups": [{"groupName": n, "groupArn": self._arn("thinggroup", n)} for n in page]
        }
        put(out, "nextToken", next_token)
        return out


def _descends(groups: ThingGroups, name: str, ancestor: str) -> bool:
    return any(g.name == ancestor for g in groups.ancestors(name))
