"""Policy variables and condition keys read from a principal (spec §4 "Variables")."""

from __future__ import annotations

import pytest

from simfleet.emulator.policy import (
    CertificateInfo,
    InvalidContextError,
    PolicyEngineError,
    PrincipalContext,
    Protocol,
    ThingIdentity,
)
from simfleet.emulator.policy.matcher import parse_template
from simfleet.emulator.policy.variables import ContextValues, Unsupported
from tests.emulator.policy.helpers import ACCOUNT, REGION, THING

CERTIFICATE = CertificateInfo(
    certificate_id="ab" * 32,
    serial_number="12345",
    subject={
        "CommonName": (THING,),
        "Organization": ("Org0", "Org1", "Org2", "Org3", "Org4", "Org5"),
        "Country": ("US",),
        "OrganizationalUnit": ("fleet+a",),
        "Title": ("t" * 1025,),
    },
    issuer={"CommonName": ("simfleet CA",)},
    subject_alt_names={"DNSName": ("dev-001.example", "alt.example"), "IPAddress": ("10.0.0.9",)},
    issuer_alt_names={"RFC822Name": ("ca@example.com",)},
)
THING_IDENTITY = ThingIdentity(name=THING, type_name="sensor", attributes={"color": "red"})


def mqtt_values(
    client_id: str = THING, things: tuple[ThingIdentity, ...] = (THING_IDENTITY,)
) -> ContextValues:
    return ContextValues(
        PrincipalContext(
            protocol=Protocol.MQTT,
            region=REGION,
            account_id=ACCOUNT,
            certificate=CERTIFICATE,
            client_id=client_id,
            attached_things=things,
            source_ip="192.0.2.7",
        )
    )


def https_values() -> ContextValues:
    return ContextValues(
        PrincipalContext(
            protocol=Protocol.HTTPS,
            region=REGION,
            account_id=ACCOUNT,
            certificate=CERTIFICATE,
            attached_things=(THING_IDENTITY,),
        )
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("iot:ClientId", (THING,), id="client-id"),
        pytest.param("aws:SourceIp", ("192.0.2.7",), id="source-ip"),
        pytest.param("iot:Connection.Thing.ThingName", (THING,), id="thing-name"),
        pytest.param("iot:Connection.Thing.ThingTypeName", ("sensor",), id="thing-type"),
        pytest.param("iot:Connection.Thing.Attributes[color]", ("red",), id="attribute"),
        pytest.param("iot:Connection.Thing.Attributes[Color]", None, id="attribute-name-case"),
        pytest.param("iot:Connection.Thing.Attributes[size]", None, id="attribute-absent"),
        pytest.param("iot:Connection.Thing.IsAttached", ("true",), id="is-attached"),
        pytest.param("iot:Certificate.Subject.CommonName", (THING,), id="common-name"),
        pytest.param("IOT:CERTIFICATE.SUBJECT.COMMONNAME", (THING,), id="key-case"),
        pytest.param("iot:Certificate.Subject.Organization", ("Org0",), id="first-of-many"),
        pytest.param("iot:Certificate.Subject.Organization.1", ("Org1",), id="index-1-second"),
        pytest.param("iot:Certificate.Subject.Organization.4", ("Org4",), id="index-4-fifth"),
        pytest.param("iot:Certificate.Subject.Organization.5", None, id="sixth-ignored"),
        pytest.param(
            "iot:Certificate.Subject.Organization.List",
            ("Org0", "Org1", "Org2", "Org3", "Org4"),
            id="list-of-five",
        ),
        pytest.param("iot:Certificate.Subject.Country.1", None, id="index-past-end"),
        pytest.param("iot:Certificate.Subject.State", None, id="attribute-absent-from-cert"),
        pytest.param("iot:Certificate.Issuer.CommonName", ("simfleet CA",), id="issuer"),
        pytest.param(
            "iot:Certificate.Subject.AlternativeName.DNSName", ("dev-001.example",), id="san"
        ),
        pytest.param(
            "iot:Certificate.Subject.AlternativeName.DNSName.1", ("alt.example",), id="san-index"
        ),
        pytest.param(
            "iot:Certificate.Subject.AlternativeName.IPAddress", ("10.0.0.9",), id="san-ip"
        ),
        pytest.param(
            "iot:Certificate.Issuer.AlternativeName.RFC822Name",
            ("ca@example.com",),
            id="issuer-alt-name",
        ),
        pytest.param("iot:Certificate.SerialNumber", ("12345",), id="serial-number"),
        pytest.param("iot:Certificate.Subject.Locality", Unsupported.KEY, id="locality"),
        pytest.param("iot:Certificate.Subject", Unsupported.KEY, id="subject-alone"),
        pytest.param(
            "iot:Certificate.Subject.AlternativeName", Unsupported.KEY, id="alt-name-alone"
        ),
        pytest.param("iot:Certificate.Subject.Country.first", Unsupported.KEY, id="bad-index"),
        pytest.param("iot:Connection.Thing.Shadow", Unsupported.KEY, id="unknown-thing-key"),
        pytest.param("iot:Certificate.AvailableKeys", Unsupported.KEY, id="available-keys"),
        pytest.param("aws:CurrentTime", Unsupported.KEY, id="unknown-aws-key"),
    ],
)
def test_lookup(key: str, expected: object) -> None:
    assert mqtt_values().lookup(key) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("iot:Certificate.Subject.CommonName", THING, id="plain-value"),
        pytest.param("iot:Certificate.Subject.OrganizationalUnit", None, id="cert-plus-refused"),
        pytest.param("iot:Certificate.Subject.Title", None, id="cert-over-1024-refused"),
        pytest.param("iot:Certificate.Subject.Organization.List", None, id="list-not-text"),
        pytest.param("iot:Certificate.Subject.State", None, id="absent"),
        pytest.param("iot:Unknown", None, id="unknown"),
        pytest.param("iot:Connection.Thing.IsAttached", "true", id="is-attached-as-text"),
    ],
)
def test_substitute(name: str, expected: str | None) -> None:
    assert mqtt_values().substitute(name) == expected


def test_client_id_with_wildcards_is_substituted() -> None:
    assert mqtt_values(client_id="a+#*").substitute("iot:ClientId") == "a+#*"


def test_resolved_values_are_literal_text() -> None:
    values = mqtt_values(client_id="x*?")
    pattern = values.resolve(parse_template("t/${iot:ClientId}/*/${iot:Nope}"))
    assert pattern[0] == "t/x*?/"
    assert pattern[-1] == "/${iot:Nope}"


@pytest.mark.parametrize(
    ("client_id", "things"),
    [
        pytest.param("other", (THING_IDENTITY,), id="client-id-is-not-the-thing"),
        pytest.param(THING, (), id="certificate-not-attached"),
    ],
)
def test_thing_keys_need_client_id_equal_to_an_attached_thing(
    client_id: str, things: tuple[ThingIdentity, ...]
) -> None:
    values = mqtt_values(client_id=client_id, things=things)
    assert values.lookup("iot:Connection.Thing.IsAttached") == ("false",)
    assert values.lookup("iot:Connection.Thing.ThingName") is None
    assert values.lookup("iot:Connection.Thing.Attributes[color]") is None


def test_the_client_id_picks_among_attached_things() -> None:
    second = ThingIdentity(name="dev-009", type_name="gateway")
    values = mqtt_values(client_id="dev-009", things=(THING_IDENTITY, second))
    assert values.lookup("iot:Connection.Thing.ThingName") == ("dev-009",)
    assert values.lookup("iot:Connection.Thing.ThingTypeName") == ("gateway",)


@pytest.mark.parametrize(
    "key",
    [
        "iot:ClientId",
        "aws:SourceIp",
        "iot:Connection.Thing.ThingName",
        "iot:Connection.Thing.IsAttached",
        "iot:Connection.Thing.Attributes[color]",
    ],
)
def test_https_has_no_client_id_and_no_thing_keys(key: str) -> None:
    assert https_values().lookup(key) is None


def test_https_still_has_certificate_keys() -> None:
    assert https_values().substitute("iot:Certificate.Subject.CommonName") == THING


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"protocol": Protocol.MQTT}, "needs a client_id", id="mqtt-without-id"),
        pytest.param(
            {"protocol": Protocol.HTTPS, "client_id": "c"}, "no client_id", id="https-with-id"
        ),
        pytest.param(
            {"protocol": Protocol.MQTT, "client_id": "c", "source_ip": "host"},
            "not an IP",
            id="bad-ip",
        ),
        pytest.param(
            {"protocol": Protocol.MQTT, "client_id": "c", "region": ""}, "non-empty", id="region"
        ),
    ],
)
def test_invalid_contexts_are_refused(fields: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "region": REGION,
        "account_id": ACCOUNT,
        "certificate": CERTIFICATE,
        **fields,
    }
    with pytest.raises(InvalidContextError, match=message) as caught:
        PrincipalContext(**arguments)  # type: ignore[arg-type]
    assert isinstance(caught.value, PolicyEngineError)
    assert isinstance(caught.value, ValueError)


def test_unknown_certificate_attribute_is_refused() -> None:
    with pytest.raises(InvalidContextError, match="Locality"):
        CertificateInfo(certificate_id="ab" * 32, subject={"Locality": ("x",)})


def test_context_values_are_frozen() -> None:
    thing = ThingIdentity(name="t", attributes={"a": "1"})
    with pytest.raises(TypeError):
        thing.attributes["a"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        CERTIFICATE.subject["CommonName"] = ("x",)  # type: ignore[index]
