"""What IAM checks for each API call: the action, the resource ARNs, the request's own keys.

One table per service, after AWS's Service Authorization Reference ("Actions, resources, and
condition keys for AWS IoT" and "... for AWS IoT Jobs DataPlane"):

- the action is `<prefix>:<Operation>`: `iot:` for the control plane (`iot:CancelJob`),
  `iotjobsdata:` for the Jobs data plane, which also answers to its older `iot:` names
  (spec §4 [U]: both accepted);
- every resource type the reference lists for the operation that the request names is
  checked, each on its own, and all must be allowed (CancelJobExecution: its job and its thing;
  CreateJob: its job and each of its targets);
- an operation with no resource type (ListJobs, ListThings) is authorized on `*`; so is any
  operation missing from the table (the emulator answers it 501 anyway);
- `iot:JobId` is in the context of iotjobsdata DescribeJobExecution and UpdateJobExecution.

The control-plane table covers every operation of `ControlPlane.OPERATIONS` and of
`REGISTRATION_OPERATIONS` (a test pins it). The registration rows follow the same reference;
where it lists no resource type (the Register* calls, AttachThingPrincipal, the account-wide
listings) the call is authorized on `*`, which is also what `certs-tool iam-policy` grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

IOT = "iot"
JOBS_DATA = "iot-jobs-data"
JOB_ID_KEY = "iot:jobid"  # lower-cased, as context keys are


@dataclass(frozen=True)
class Named:
    """A resource named by a member (`thing/{thingName}`), or given whole by `arn_member`."""

    kind: str
    member: str
    arn_member: str | None = None


@dataclass(frozen=True)
class Arns:
    """A member holding one ARN or a list of ARNs (CreateJob's `targets`), used as they are."""

    member: str


@dataclass(frozen=True, kw_only=True)
class Rule:
    resources: tuple[Named | Arns, ...] = ()  # none: the action is authorized on "*"
    job_id_key: bool = False


JOB = Named("job", "jobId")
THING = Named("thing", "thingName")
THING_GROUP = Named("thinggroup", "thingGroupName")
CERT = Named("cert", "certificateId")
CA_CERT = Named("cacert", "certificateId")
POLICY = Named("policy", "policyName")
RESOURCE_ARN = Arns("resourceArn")
POLICY_TARGET = Arns("target")  # a certificate ARN, for certs-tool's fleets
ANY = Rule()

CONTROL_PLANE: Mapping[str, Rule] = MappingProxyType(
    {
        "AddThingToThingGroup": Rule(
            resources=(
                Named("thing", "thingName", "thingArn"),
                Named("thinggroup", "thingGroupName", "thingGroupArn"),
            )
        ),
        "CancelJob": Rule(resources=(JOB,)),
        "CancelJobExecution": Rule(resources=(JOB, THING)),
        # thing*, thinggroup*: the targets; jobtemplate and packageversion when given.
        "CreateJob": Rule(
            resources=(
                JOB,
                Arns("targets"),
                Arns("jobTemplateArn"),
                Arns("destinationPackageVersions"),
            )
        ),
        "CreateThing": Rule(resources=(THING,)),
        "CreateThingGroup": Rule(resources=(THING_GROUP,)),
        "DeleteJob": Rule(resources=(JOB,)),
        "DeleteJobExecution": Rule(resources=(JOB, THING)),
        "DescribeCertificate": Rule(resources=(CERT,)),
        "DescribeJob": Rule(resources=(JOB,)),
        "DescribeJobExecution": Rule(resources=(JOB, THING)),
        "DescribeThing": Rule(resources=(THING,)),
        "DescribeThingGroup": Rule(resources=(THING_GROUP,)),
        "GetJobDocument": Rule(resources=(JOB,)),
        "ListJobExecutionsForJob": Rule(resources=(JOB,)),
        "ListJobExecutionsForThing": Rule(resources=(THING,)),
        "ListJobs": ANY,
        "ListThings": ANY,
        "UpdateCertificate": Rule(resources=(CERT,)),
        "UpdateJob": Rule(resources=(JOB,)),
        # --- registration and clean-up (issue #7) ---
        "AttachPolicy": Rule(resources=(POLICY_TARGET,)),
        "AttachThingPrincipal": ANY,
        "CreatePolicy": Rule(resources=(POLICY,)),
        "DeleteCACertificate": Rule(resources=(CA_CERT,)),
        "DeleteCertificate": Rule(resources=(CERT,)),
        "DeletePolicy": Rule(resources=(POLICY,)),
        "DeleteThing": Rule(resources=(THING,)),
        "DeleteThingGroup": Rule(resources=(THING_GROUP,)),
        "DescribeCACertificate": Rule(resources=(CA_CERT,)),
        "DetachPolicy": Rule(resources=(POLICY_TARGET,)),
        "DetachThingPrincipal": ANY,
        "GetPolicy": Rule(resources=(POLICY,)),
        "GetRegistrationCode": ANY,
        "ListAttachedPolicies": ANY,
        "ListCACertificates": ANY,
        "ListCertificates": ANY,
        "ListCertificatesByCA": ANY,
        "ListPolicies": ANY,
        "ListPrincipalThings": ANY,
        "ListTagsForResource": Rule(resources=(RESOURCE_ARN,)),
        "ListTargetsForPolicy": Rule(resources=(POLICY,)),
        "ListThingGroups": ANY,
        "ListThingGroupsForThing": Rule(resources=(THING,)),
        "ListThingPrincipals": Rule(resources=(THING,)),
        "ListThingsInThingGroup": Rule(resources=(THING_GROUP,)),
        "RegisterCACertificate": ANY,
        "RegisterCertificate": ANY,
        "RegisterCertificateWithoutCA": ANY,
        "RemoveThingFromThingGroup": Rule(
            resources=(
                Named("thing", "thingName", "thingArn"),
                Named("thinggroup", "thingGroupName", "thingGroupArn"),
            )
        ),
        "TagResource": Rule(resources=(RESOURCE_ARN,)),
        "UntagResource": Rule(resources=(RESOURCE_ARN,)),
        "UpdateCACertificate": Rule(resources=(CA_CERT,)),
    }
)

JOBS_DATA_PLANE: Mapping[str, Rule] = MappingProxyType(
    {
        "DescribeJobExecution": Rule(resources=(THING,), job_id_key=True),
        "GetPendingJobExecutions": Rule(resources=(THING,)),
        "StartNextPendingJobExecution": Rule(resources=(THING,)),
        "UpdateJobExecution": Rule(resources=(THING,), job_id_key=True),
    }
)


@dataclass(frozen=True)
class _Service:
    prefix: str
    rules: Mapping[str, Rule]
    legacy_prefix: str | None = None


_SERVICES: Mapping[str, _Service] = MappingProxyType(
    {
        IOT: _Service("iot", CONTROL_PLANE),
        JOBS_DATA: _Service("iotjobsdata", JOBS_DATA_PLANE, legacy_prefix="iot"),
    }
)
_LEGACY = {
    f"{service.prefix}:{operation}".lower(): f"{service.legacy_prefix}:{operation}".lower()
    for service in _SERVICES.values()
    if service.legacy_prefix is not None
    for operation in service.rules
}


@dataclass(frozen=True, kw_only=True)
class RequestedCall:
    """What IAM checks for one call: `action` on each of `resources`, with `context`."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, str]


def action_names(action: str) -> tuple[str, ...]:
    """The lower-cased names under which `action` may be granted: its own, then its older one."""
    own = action.lower()
    legacy = _LEGACY.get(own)
    return (own,) if legacy is None else (own, legacy)


def requested_call(
    service: str, operation: str, arguments: Mapping[str, object], *, arn_prefix: str
) -> RequestedCall:
    """The action, resources and request keys of `operation` of `service` ("iot" or
    "iot-jobs-data", as botocore names them) called with these model arguments;
    `arn_prefix` is `arn:{partition}:iot:{region}:{account}:`."""
    known = _SERVICES.get(service)
    prefix = known.prefix if known is not None else service
    rule = known.rules.get(operation, ANY) if known is not None else ANY
    resources: list[str] = []
    for reference in rule.resources:
        resources.extend(_arns(reference, arguments, arn_prefix))
    context: dict[str, str] = {}
    job_id = arguments.get("jobId")
    if rule.job_id_key and isinstance(job_id, str):
        context[JOB_ID_KEY] = job_id
    return RequestedCall(
        action=f"{prefix}:{operation}",
        resources=tuple(resources) or ("*",),
        context=MappingProxyType(context),
    )


def _arns(reference: Named | Arns, arguments: Mapping[str, object], arn_prefix: str) -> list[str]:
    """The ARNs a reference names in these arguments; none when the request leaves them out
    (the operation then refuses the request itself)."""
    if isinstance(reference, Arns):
        value = arguments.get(reference.member)
        items = value if isinstance(value, list) else [value]
        return [item for item in items if isinstance(item, str)]
    if reference.arn_member is not None:
        arn = arguments.get(reference.arn_member)
        if isinstance(arn, str):
            return [arn]
    name = arguments.get(reference.member)
    return [f"{arn_prefix}{reference.kind}/{name}"] if isinstance(name, str) else []
