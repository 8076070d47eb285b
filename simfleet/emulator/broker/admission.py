"""Who may connect: the CONNECT decision, from verified certificate to compiled policies.

Spec §4-§5: the principal is the certificate whose id is the SHA-256 of the TLS peer's DER;
only an ACTIVE one connects; its policies are compiled once for the connection with the
client ID, attached things and source address, and must allow iot:Connect. An unknown,
inactive or denied principal is closed with no CONNACK, as AWS does for MQTT 3.1.1.

Choices [U]:
- The policy context is read from the certificate TLS verified (the same certificate the
  registry holds under that id), so the registry's PEM is not parsed on the hot path.
- A client ID that is empty or over 128 bytes (spec §5) gets CONNACK 0x02 "identifier
  rejected" (MQTT-3.1.3-9) before any policy is read: it is a malformed request, not an
  authorization failure. AWS documents neither case for MQTT 3.1.1.
- A will is checked at CONNECT like the PUBLISH it will become (iot:Publish, and
  iot:RetainPublish when retained, never on `$aws/` topics); a denied will refuses the
  connection like a denied iot:Connect.
"""

from __future__ import annotations

from cryptography import x509

from certs_tool.authority import der_certificate_id
from simfleet.emulator.broker.config import BrokerConfig
from simfleet.emulator.broker.counters import RefusalReason
from simfleet.emulator.broker.ports import Principal, PrincipalSource
from simfleet.emulator.mqtt import Connect, validate_topic_name
from simfleet.emulator.policy import (
    Authorizer,
    DenialCounter,
    Protocol,
    compile_policies,
    context_from_certificate,
)

RESERVED_PREFIX = "$aws/"  # spec §4: RetainPublish is never allowed on reserved topics


def admit(
    connect: Connect,
    *,
    certificate_der: bytes | None,
    source_ip: str | None,
    principals: PrincipalSource,
    config: BrokerConfig,
    denials: DenialCounter,
) -> Authorizer | RefusalReason:
    """The connection's authorizer, or why it is refused.

    Raises InvalidTopic (an MqttProtocolError) for a will topic over AWS's limits."""
    principal = _principal(certificate_der, principals)
    if isinstance(principal, RefusalReason):
        return principal
    assert certificate_der is not None  # a principal was found by it
    client_id = connect.client_id
    if not client_id or len(client_id.encode("utf-8")) > config.max_client_id_bytes:
        return RefusalReason.IDENTIFIER_REJECTED
    context = context_from_certificate(
        x509.load_der_x509_certificate(certificate_der),
        protocol=Protocol.MQTT,
        region=config.region,
        account_id=config.account_id,
        client_id=client_id,
        attached_things=principal.things,
        source_ip=source_ip,
    )
    authorizer = compile_policies(principal.policies, context, denials=denials)
    if not authorizer.can_connect():
        return RefusalReason.CONNECT_DENIED
    will = connect.will
    if will is not None:
        validate_topic_name(will.topic, config.topic_limits)
        if not authorizer.can_publish(will.topic) or (
            will.retain and not may_retain(authorizer, will.topic, denials)
        ):
            return RefusalReason.CONNECT_DENIED
    return authorizer


def _principal(
    certificate_der: bytes | None, principals: PrincipalSource
) -> Principal | RefusalReason:
    """The registered, ACTIVE principal of the TLS peer's certificate (spec §5)."""
    if certificate_der is None:
        return RefusalReason.NO_CERTIFICATE
    principal = principals.principal(der_certificate_id(certificate_der))
    if principal is None:
        return RefusalReason.UNKNOWN_CERTIFICATE
    if principal.status != "ACTIVE":
        return RefusalReason.INACTIVE_CERTIFICATE
    return principal


def may_retain(authorizer: Authorizer, topic: str, denials: DenialCounter) -> bool:
    """iot:RetainPublish on ``topic``; refused outright on reserved topics (counted too)."""
    if topic.startswith(RESERVED_PREFIX):
        denials.record("iot:RetainPublish")
        return False
    return authorizer.can_retain_publish(topic)
