"""The registry half of the control plane: things, thing groups and certificates as AWS IoT
operations (see control_plane.py for the conventions), and the ARNs of this emulator's region
and account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simfleet.emulator.clock import Clock
from simfleet.emulator.control_shapes import (
    check_attributes,
    check_enum,
    check_name,
    paginate,
    partition,
    put,
    refuse_unsupported,
    timestamp,
)
from simfleet.emulator.errors import invalid_request
from simfleet.emulator.jobs_service import JobTarget, TargetKind
from simfleet.emulator.records import CertificateStatus, Thing
from simfleet.emulator.registry import Registry

# UpdateCertificate: the other statuses are IoT's own (botocore model, newStatus).
_SETTABLE_STATUSES = ("ACTIVE", "INACTIVE", "REVOKED")


class RegistryControl:
    def __init__(self, registry: Registry, *, region: str, account_id: str, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self.region = region
        self.account_id = account_id
        self._arn_prefix = f"arn:{partition(region)}:iot:{region}:{account_id}:"

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
        del tags  # as in create_job
        refuse_unsupported(unsupported)
        properties = thingGroupProperties or {}
        group = self._registry.create_thing_group(
            check_name(thingGroupName, "thingGroupName"),
            parent=parentGroupName,
            description=properties.get("thingGroupDescription"),
            attributes=check_attributes(properties.get("attributePayload", {}).get("attributes")),
        )
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

    # --- certificates ---------------------------------------------------------------------

    def describe_certificate(self, *, certificateId: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        certificate = self._registry.certificate(certificateId)
        description: dict[str, Any] = {
            "certificateArn": self._arn("cert", certificateId),
            "certificateId": certificateId,
            "status": certificate.status.value,
            "certificatePem": certificate.pem.decode(),
            "ownedBy": self.account_id,
            "creationDate": timestamp(certificate.created_at),
        }
        put(description, "caCertificateId", certificate.ca_certificate_id)
        return {"certificateDescription": description}

    def update_certificate(
        self, *, certificateId: str, newStatus: str, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_enum(newStatus, _SETTABLE_STATUSES, "newStatus")
        self._registry.set_certificate_status(certificateId, CertificateStatus(newStatus))
        return {}

    # --- ARNs -----------------------------------------------------------------------------

    def _arn(self, kind: str, name: str) -> str:
        return f"{self._arn_prefix}{kind}/{name}"

    def _job_arn(self, job_id: str) -> str:
        return self._arn("job", job_id)

    def _thing_arn(self, thing: Thing) -> str:
        return self._arn("thing", thing.name)

    def _target(self, arn: str) -> JobTarget:
        """A job target: `arn:aws:iot:{region}:{account}:thing/NAME` or `.../thinggroup/NAME`
        in this emulator's region and account."""
        kind, _, name = arn.removeprefix(self._arn_prefix).partition("/")
        if not arn.startswith(self._arn_prefix) or kind not in {k.value for k in TargetKind}:
            raise invalid_request(f"Invalid target ARN {arn}")
        return JobTarget(arn=arn, kind=TargetKind(kind), name=check_name(name, "target name"))

    def _name_or_arn(self, name: str | None, arn: str | None, kind: TargetKind) -> str:
        if arn is not None:
            target = self._target(arn)
            if target.kind is not kind or name not in (None, target.name):
                raise invalid_request(f"Invalid {kind.value} ARN {arn}")
            return target.name
        if name is None:
            raise invalid_request(f"A {kind.value} name or ARN is required")
        return name
