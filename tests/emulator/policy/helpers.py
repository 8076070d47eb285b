"""Principals and policy documents shared by the policy-engine tests."""

from __future__ import annotations

from typing import Any

from certs_tool.policy.document import PolicyDocument, parse_policy
from simfleet.emulator.policy import (
    CertificateInfo,
    PrincipalContext,
    Protocol,
    ThingIdentity,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
THING = "dev-001"
OTHER_THING = "dev-002"
THING_VAR = "${iot:Connection.Thing.ThingName}"


def certificate(common_name: str = THING, **subject: tuple[str, ...]) -> CertificateInfo:
    return CertificateInfo(
        certificate_id="ab" * 32,
        serial_number="4242",
        subject={"CommonName": (common_name,), **subject},
        issuer={"CommonName": ("simfleet test CA",)},
    )


def mqtt_context(
    *,
    client_id: str = THING,
    things: tuple[str, ...] = (THING,),
    cert: CertificateInfo | None = None,
    source_ip: str | None = "127.0.0.1",
    region: str = REGION,
) -> PrincipalContext:
    return PrincipalContext(
        protocol=Protocol.MQTT,
        region=region,
        account_id=ACCOUNT,
        certificate=cert or certificate(),
        client_id=client_id,
        attached_things=tuple(ThingIdentity(name=name) for name in things),
        source_ip=source_ip,
    )


def https_context(
    *, cert: CertificateInfo | None = None, things: tuple[str, ...] = (THING,)
) -> PrincipalContext:
    return PrincipalContext(
        protocol=Protocol.HTTPS,
        region=REGION,
        account_id=ACCOUNT,
        certificate=cert or certificate(),
        attached_things=tuple(ThingIdentity(name=name) for name in things),
        source_ip="127.0.0.1",
    )


def arn(fragment: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:iot:{region}:{account}:{fragment}"


def statement(
    effect: str, actions: str | list[str], resources: str | list[str], **extra: Any
) -> dict[str, Any]:
    return {"Effect": effect, "Action": actions, "Resource": resources, **extra}


def policy(*statements: dict[str, Any]) -> PolicyDocument:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)})


def jobs_mqtt_policy(*, region: str = "*", account: str = "*") -> PolicyDocument:
    """Spec §4 "Least-privilege MQTT Jobs device", written out by hand."""
    topic = f"arn:aws:iot:{region}:{account}:topic/$aws/things/{THING_VAR}/jobs"
    topicfilter = f"arn:aws:iot:{region}:{account}:topicfilter/$aws/things/{THING_VAR}/jobs"
    return parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"arn:aws:iot:{region}:{account}:client/{THING_VAR}",
                    "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": [
                        f"{topic}/get",
                        f"{topic}/start-next",
                        f"{topic}/*/get",
                        f"{topic}/*/update",
                    ],
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Subscribe",
                    "Resource": [
                        f"{topicfilter}/notify",
                        f"{topicfilter}/notify-next",
                        f"{topicfilter}/*/accepted",
                        f"{topicfilter}/*/rejected",
                        f"{topicfilter}/*/+",
                    ],
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Receive",
                    "Resource": [
                        f"{topic}/notify",
                        f"{topic}/notify-next",
                        f"{topic}/*/accepted",
                        f"{topic}/*/rejected",
                    ],
                },
            ],
        }
    )


def jobs_https_policy(
    *,
    region: str = "*",
    account: str = "*",
    thing: str = "${iot:Certificate.Subject.CommonName}",
    prefix: str = "iotjobsdata",
) -> PolicyDocument:
    """Spec §4 "HTTPS (8443, X.509) Jobs device"."""
    return parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        f"{prefix}:GetPendingJobExecutions",
                        f"{prefix}:StartNextPendingJobExecution",
                        f"{prefix}:DescribeJobExecution",
                        f"{prefix}:UpdateJobExecution",
                    ],
                    "Resource": f"arn:aws:iot:{region}:{account}:thing/{thing}",
                }
            ],
        }
    )
