"""Least-privilege IoT Core policy documents for Jobs devices (spec §4).

Policy variables make one document serve every device of a fleet: the MQTT grants name the thing
through `${iot:Connection.Thing.ThingName}` (which resolves only when client ID == thing name and
the certificate is attached to that thing), the HTTPS grant through
`${iot:Certificate.Subject.CommonName}`, because thing variables do not resolve over HTTPS and our
device certificates carry CN = thing name (certs_tool.credentials).

Templates:
    jobs-mqtt   Connect, Publish, Subscribe and Receive on the device's own reserved Jobs topics
    jobs-https  the four `iotjobsdata:` actions on the device's own thing (port 8443)
    jobs-all    both, in one document; its 15 ARNs fit AWS's 2048 characters only while the
                region and account are short (see render_template)
"""

from __future__ import annotations

import re

from certs_tool.errors import InvalidInputError
from certs_tool.policy.document import Condition, Effect, PolicyDocument, Statement
from certs_tool.policy.lint import (
    ACCOUNT_RE,
    IS_ATTACHED_KEY,
    MAX_POLICY_LENGTH,
    REGION_RE,
    policy_length,
)

TEMPLATE_NAMES = ("jobs-mqtt", "jobs-https", "jobs-all")

# `*` keeps one rendered document valid in any region and account, and that is still least
# privilege: an IoT Core policy only ever applies to principals and resources of the account it is
# created in, so the account wildcard cannot reach another account, and a region wildcard cannot
# reach another region's broker (policies are regional too). What the device may touch is bounded
# by the resource paths below, which name only its own client ID, topics and thing.
ANY = "*"
# AWS policy names: 1-128 characters of [\w+=,.@-] (CreatePolicy), \w being ASCII here.
_POLICY_NAME_RE = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)

THING_NAME_VARIABLE = "${iot:Connection.Thing.ThingName}"
CERTIFICATE_CN_VARIABLE = "${iot:Certificate.Subject.CommonName}"

_JOBS = f"$aws/things/{THING_NAME_VARIABLE}/jobs"
# Spec §4 "Least-privilege MQTT Jobs device": one list per action, in the spec's order.
_MQTT_PUBLISH = ("get", "start-next", "*/get", "*/update")
_MQTT_SUBSCRIBE = ("notify", "notify-next", "*/accepted", "*/rejected", "*/+")
_MQTT_RECEIVE = ("notify", "notify-next", "*/accepted", "*/rejected")
# Spec §4 "HTTPS (8443, X.509) Jobs device". The 2022+ docs spell them `iotjobsdata:`; the older
# `iot:` spellings are for the emulator to accept, not for us to write.
HTTPS_JOBS_ACTIONS = (
    "iotjobsdata:GetPendingJobExecutions",
    "iotjobsdata:StartNextPendingJobExecution",
    "iotjobsdata:DescribeJobExecution",
    "iotjobsdata:UpdateJobExecution",
)


def render_template(template: str, *, region: str = ANY, account: str = ANY) -> PolicyDocument:
    """The policy document of `template`, its ARNs scoped to `region` and `account`.

    Raises InvalidInputError for an unknown template, a region that is not shaped like
    `us-east-1` (or `*`), an account that is not 12 digits (or `*`), or a document that would
    exceed AWS's 2048-character limit (jobs-all with a long region and an account).
    """
    if template not in TEMPLATE_NAMES:
        raise InvalidInputError(
            f"unknown policy template {template!r} (choose from {', '.join(TEMPLATE_NAMES)})"
        )
    if region != ANY and not REGION_RE.fullmatch(region):
        raise InvalidInputError(f"region must look like 'us-east-1' or be '*', not {region!r}")
    if account != ANY and not ACCOUNT_RE.fullmatch(account):
        raise InvalidInputError(f"account must be 12 digits or '*', not {account!r}")
    arn = f"arn:{_partition(region)}:iot:{region}:{account}:"
    statements: list[Statement] = []
    if template in ("jobs-mqtt", "jobs-all"):
        statements.extend(_mqtt_statements(arn))
    if template in ("jobs-https", "jobs-all"):
        statements.append(_https_statement(arn))
    document = PolicyDocument(statements=tuple(statements))
    # CreatePolicy refuses more than 2048 characters. jobs-mqtt and jobs-https fit with any real
    # region and account; jobs-all's 15 ARNs fit only while region + account stay short (both
    # `*`, or a 9-character region such as us-east-1 with an account), so say what does fit.
    length = policy_length(document.dumps())
    if length > MAX_POLICY_LENGTH:
        raise InvalidInputError(
            f"template {template!r} with region {region!r} and account {account!r} is "
            f"{length} characters without whitespace, over AWS's limit of {MAX_POLICY_LENGTH}; "
            "use the jobs-mqtt and jobs-https templates as two policies, or leave the region "
            "or the account as '*'"
        )
    return document


def policy_name(template: str, prefix: str) -> str:
    """The name a template's policy is saved and registered under: `<prefix>-<template>`.

    Raises InvalidInputError for an unknown template or a name AWS would refuse.
    """
    if template not in TEMPLATE_NAMES:
        raise InvalidInputError(
            f"unknown policy template {template!r} (choose from {', '.join(TEMPLATE_NAMES)})"
        )
    return validate_policy_name(f"{prefix}-{template}" if prefix else template)


def validate_policy_name(name: str) -> str:
    """Return `name` if AWS accepts it as a policy name, else raise InvalidInputError."""
    if not _POLICY_NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"policy name must be 1-128 characters of letters, digits and _+=,.@-, not {name!r}"
        )
    return name


def _partition(region: str) -> str:
    # ARNs of the China and GovCloud regions live in their own partitions; `*` as the region
    # assumes the commercial partition (pass --region for the others).
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _mqtt_statements(arn: str) -> tuple[Statement, ...]:
    return (
        Statement(
            effect=Effect.ALLOW,
            actions=("iot:Connect",),
            resources=(f"{arn}client/{THING_NAME_VARIABLE}",),
            # The thing variables resolve only for an attached certificate; requiring it also
            # refuses a certificate that merely claims another device's client ID.
            conditions=(Condition(operator="Bool", key=IS_ATTACHED_KEY, values=("true",)),),
        ),
        Statement(
            effect=Effect.ALLOW,
            actions=("iot:Publish",),
            resources=tuple(f"{arn}topic/{_JOBS}/{leaf}" for leaf in _MQTT_PUBLISH),
        ),
        Statement(
            effect=Effect.ALLOW,
            actions=("iot:Subscribe",),
            # Subscribe is checked against the filter exactly as sent, and `+` in a resource is a
            # literal character: `*/+` is what lets SDK v2's `…/{jobId}/update/+` through.
            resources=tuple(f"{arn}topicfilter/{_JOBS}/{leaf}" for leaf in _MQTT_SUBSCRIBE),
        ),
        Statement(
            effect=Effect.ALLOW,
            actions=("iot:Receive",),
            resources=tuple(f"{arn}topic/{_JOBS}/{leaf}" for leaf in _MQTT_RECEIVE),
        ),
    )


def _https_statement(arn: str) -> Statement:
    return Statement(
        effect=Effect.ALLOW,
        actions=HTTPS_JOBS_ACTIONS,
        resources=(f"{arn}thing/{CERTIFICATE_CN_VARIABLE}",),
    )
