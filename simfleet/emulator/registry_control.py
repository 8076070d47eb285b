"""The registry half of the control plane: things, thing groups, certificates, policies and
tags as AWS IoT operations (see control_plane.py for the conventions).

    RegistryControl ─┬─ CertificateControl   CA and device certificates (certificates_control)
                     ├─ PolicyControl        policies, their targets, tags (policies_control)
                     ├─ ThingControl         deletions, principals, group listings (things_control)
                     └─ ControlBase          registry, clock, ARNs (control_base)

This module keeps the things and thing groups of issue #3 (CreateThing, DescribeThing, ...).
`REGISTRATION_OPERATIONS` names the operations issue #7 added for `certs-tool register` and
`cleanup`; the HTTP layer serves any method named after an operation, listed or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from simfleet.emulator.certificates_control import CertificateControl
from simfleet.emulator.control_shapes import (
    check_attributes,
    check_name,
    paginate,
    put,
    refuse_unsupported,
    timestamp,
)
from simfleet.emulator.jobs_service import TargetKind
from simfleet.emulator.policies_control import PolicyControl
from simfleet.emulator.records import Thing
from simfleet.emulator.tags import tag_map
from simfleet.emulator.things_control import ThingControl

# AWS operation name (botocore model) -> method name, for the operations of issue #7.
REGISTRATION_OPERATIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "AttachPolicy": "attach_policy",
        "AttachThingPrincipal": "attach_thing_principal",
        "CreatePolicy": "create_policy",
        "DeleteCACertificate": "delete_ca_certificate",
        "DeleteCertificate": "delete_certificate",
        "DeletePolicy": "delete_policy",
        "DeleteThing": "delete_thing",
        "DeleteThingGroup": "delete_thing_group",
        "DescribeCACertificate": "describe_ca_certificate",
        "DetachPolicy": "detach_policy",
        "DetachThingPrincipal": "detach_thing_principal",
        "GetPolicy": "get_policy",
        "GetRegistrationCode": "get_registration_code",
        "ListAttachedPolicies": "list_attached_policies",
        "ListCACertificates": "list_ca_certificates",
        "ListCertificates": "list_certificates",
        "ListCertificatesByCA": "list_certificates_by_ca",
        "ListPolicies": "list_policies",
        "ListPrincipalThings": "list_principal_things",
        "ListTagsForResource": "list_tags_for_resource",
        "ListTargetsForPolicy": "list_targets_for_policy",
        "ListThingGroups": "list_thing_groups",
        "ListThingGroupsForThing": "list_thing_groups_for_thing",
        "ListThingPrincipals": "list_thing_principals",
        "ListThingsInThingGroup": "list_things_in_thing_group",
        "RegisterCACertificate": "register_ca_certificate",
        "RegisterCertificate": "register_certificate",
        "RegisterCertificateWithoutCA": "register_certificate_without_ca",
        "RemoveThingFromThingGroup": "remove_thing_from_thing_group",
        "TagResource": "tag_resource",
        "UntagResource": "untag_resource",
        "UpdateCACertificate": "update_ca_certificate",
    }
)


class RegistryControl(CertificateControl, PolicyControl, ThingControl):
    # --- things and thing groups ----------------------------------------------------------

    def create_thing(
        self,
        *,
        thingName: str,
        thingTypeName: str | None = None,
        attributePayload: Mapping[str, Any] | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        with self._naming(lambda _: self._arn("thing", thingName)):
            thing = self._registry.create_thing(
                check_name(thingName, "thingName"),
                type_name=thingTypeName,
                attributes=check_attributes((attributePayload or {}).get("attributes")),
            )
        return {
            "thingName": thing.name,
            "thingArn": self._thing_arn(thing),
            "thingId": thing.thing_id,
        }

    def describe_thing(self, *, thingName: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        thing = self._registry.thing(thingName)
        out: dict[str, Any] = {
            "defaultClientId": thing.name,
            "thingName": thing.name,
            "thingId": thing.thing_id,
            "thingArn": self._thing_arn(thing),
            "attributes": dict(thing.attributes),
            "version": thing.version,
        }
        put(out, "thingTypeName", thing.type_name)
        return out

    def list_things(
        self,
        *,
        nextToken: str | None = None,
        maxResults: int | None = None,
        attributeName: str | None = None,
        attributeValue: str | None = None,
        thingTypeName: str | None = None,
        usePrefixAttributeValue: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)

        def matches(thing: Thing) -> bool:
            if thingTypeName is not None and thing.type_name != thingTypeName:
                return False
            if attributeName is None:
                return True
            value = thing.attributes.get(attributeName)
            if value is None or attributeValue is None:
                return value is not None
            if usePrefixAttributeValue:
                return value.startswith(attributeValue)
            return value == attributeValue

        things = (t for t in self._registry.things() if matches(t))
        page, token = paginate(things, max_results=maxResults, next_token=nextToken)
        listed = []
        for thing in page:
            entry: dict[str, Any] = {
                "thingName": thing.name,
                "thingArn": self._thing_arn(thing),
                "attributes": dict(thing.attributes),
                "version": thing.version,
            }
            put(entry, "thingTypeName", thing.type_name)
            listed.append(entry)
        out: dict[str, Any] = {"things": listed}
        put(out, "nextToken", token)
        return out

    def create_thing_group(
        self,
        *,
        thingGroupName: str,
        parentGroupName: str | None = None,
        thingGroupProperties: Mapping[str, Any] | None = None,
        tags: list[Mapping[str, str]] | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        properties = thingGroupProperties or {}
        checked_tags = tag_map(tags)
        with self._naming(lambda _: self._arn("thinggroup", thingGroupName)):
            group = self._registry.create_thing_group(
                check_name(thingGroupName, "thingGroupName"),
                parent=parentGroupName,
                description=properties.get("thingGroupDescription"),
                attributes=check_attributes(
                    properties.get("attributePayload", {}).get("attributes")
                ),
            )
        # [U] Tags given again with an existing group are added to its tags.
        self._registry.tags.put(self._arn("thinggroup", group.name), checked_tags)
        return {
            "thingGroupName": group.name,
            "thingGroupArn": self._arn("thinggroup", group.name),
            "thingGroupId": group.group_id,
        }

    def describe_thing_group(self, *, thingGroupName: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        group = self._registry.thing_group(thingGroupName)
        properties: dict[str, Any] = {"attributePayload": {"attributes": dict(group.attributes)}}
        put(properties, "thingGroupDescription", group.description)
        metadata: dict[str, Any] = {"creationDate": timestamp(group.created_at)}
        if group.parent is not None:
            metadata["parentGroupName"] = group.parent
            metadata["rootToParentThingGroups"] = [
                {"groupName": g.name, "groupArn": self._arn("thinggroup", g.name)}
                for g in self._registry.ancestors(group.name)
            ]
        return {
            "thingGroupName": group.name,
            "thingGroupId": group.group_id,
            "thingGroupArn": self._arn("thinggroup", group.name),
            "version": group.version,
            "thingGroupProperties": properties,
            "thingGroupMetadata": metadata,
        }

    def add_thing_to_thing_group(
        self,
        *,
        thingGroupName: str | None = None,
        thingGroupArn: str | None = None,
        thingName: str | None = None,
        thingArn: str | None = None,
        overrideDynamicGroups: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        # There are no dynamic groups to override.
        del overrideDynamicGroups
        refuse_unsupported(unsupported)
        group = self._name_or_arn(thingGroupName, thingGroupArn, TargetKind.THING_GROUP)
        thing = self._name_or_arn(thingName, thingArn, TargetKind.THING)
        self._registry.add_thing_to_thing_group(group, thing)
        return {}
