"""DeviceAuthorizers: the principal of a verified certificate and its compiled policies,
cached by certificate and source address, bounded, and rebuilt when the principal changes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs_tool import Fleet
from certs_tool.policy.document import PolicyDocument, parse_policy
from simfleet.emulator.errors import AwsError
from simfleet.emulator.jobs_http import DeviceAuthorizers
from simfleet.emulator.jobs_http.devices import MAX_GRANTS_PER_AUTHORIZER
from simfleet.emulator.policy import Authorizer, DenialCounter, JobsApi, ThingIdentity
from tests.emulator.jobs_http.helpers import ACCOUNT, REGION

GET_PENDING = JobsApi.GET_PENDING_JOB_EXECUTIONS


@dataclass(frozen=True, kw_only=True)
class FakePrincipal:
    status: str
    things: tuple[ThingIdentity, ...]
    policies: tuple[PolicyDocument, ...]


class FakePrincipals:
    def __init__(self) -> None:
        self.by_id: dict[str, FakePrincipal] = {}
        self.asked = 0

    def principal(self, certificate_id: str) -> FakePrincipal | None:
        self.asked += 1
        return self.by_id.get(certificate_id)


def _policy(*, source: str | None = None) -> PolicyDocument:
    """Every Jobs HTTPS action on the certificate's own thing (by common name), optionally
    only from addresses in `source`."""
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Action": "iotjobsdata:*",
        "Resource": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/${{iot:Certificate.Subject.CommonName}}",
    }
    if source is not None:
        statement["Condition"] = {"IpAddress": {"aws:SourceIp": source}}
    return parse_policy({"Version": "2012-10-17", "Statement": [statement]})


def _der(fleet: Fleet, index: int) -> bytes:
    pem = fleet.cert_path(fleet.devices[index]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


@pytest.fixture
def principals(shared_fleet: Fleet) -> FakePrincipals:
    source = FakePrincipals()
    for device in shared_fleet.devices:
        source.by_id[device.certificate_id] = FakePrincipal(
            status="ACTIVE", things=(), policies=(_policy(),)
        )
    return source


def _authorizers(principals: FakePrincipals, max_entries: int = 10) -> DeviceAuthorizers:
    return DeviceAuthorizers(
        principals,
        region=REGION,
        account_id=ACCOUNT,
        denials=DenialCounter(),
        max_entries=max_entries,
    )


def _authorizer(found: Authorizer | AwsError) -> Authorizer:
    assert isinstance(found, Authorizer), found
    return found


def test_the_certificate_common_name_names_the_thing(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    authorizer = _authorizer(_authorizers(principals).authorizer(_der(shared_fleet, 0), None))
    assert authorizer.can_call_jobs(GET_PENDING, shared_fleet.devices[0].thing_name)
    assert not authorizer.can_call_jobs(GET_PENDING, shared_fleet.devices[1].thing_name)


def test_a_compiled_authorizer_is_reused_per_certificate_and_address(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    cache = _authorizers(principals)
    der = _der(shared_fleet, 0)
    first = cache.authorizer(der, "127.0.0.1")
    assert cache.authorizer(der, "127.0.0.1") is first
    assert cache.authorizer(der, "10.0.0.1") is not first
    assert len(cache) == 2
    assert principals.asked == 3  # the status is read on every call


def test_the_source_address_reaches_policy_conditions(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    device = shared_fleet.devices[0]
    principals.by_id[device.certificate_id] = FakePrincipal(
        status="ACTIVE", things=(), policies=(_policy(source="10.0.0.0/8"),)
    )
    cache = _authorizers(principals)
    inside = _authorizer(cache.authorizer(_der(shared_fleet, 0), "10.1.2.3"))
    outside = _authorizer(cache.authorizer(_der(shared_fleet, 0), "192.0.2.1"))
    assert inside.can_call_jobs(GET_PENDING, device.thing_name)
    assert not outside.can_call_jobs(GET_PENDING, device.thing_name)


def test_a_changed_principal_is_compiled_again(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    cache = _authorizers(principals)
    device = shared_fleet.devices[0]
    der = _der(shared_fleet, 0)
    before = _authorizer(cache.authorizer(der, None))
    assert before.can_call_jobs(GET_PENDING, device.thing_name)
    principals.by_id[device.certificate_id] = FakePrincipal(status="ACTIVE", things=(), policies=())
    after = _authorizer(cache.authorizer(der, None))
    assert after is not before
    assert not after.can_call_jobs(GET_PENDING, device.thing_name)
    assert len(cache) == 1


def test_the_cache_is_bounded_least_recently_used_first(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    cache = _authorizers(principals, max_entries=2)
    ders = [_der(shared_fleet, i) for i in range(3)]
    first = cache.authorizer(ders[0], None)
    second = cache.authorizer(ders[1], None)
    assert cache.authorizer(ders[0], None) is first  # now the most recently used
    cache.authorizer(ders[2], None)
    assert len(cache) == 2
    assert cache.authorizer(ders[0], None) is first
    assert cache.authorizer(ders[1], None) is not second  # it was evicted


@pytest.mark.parametrize(
    ("status", "registered"),
    [
        pytest.param("INACTIVE", True, id="inactive"),
        pytest.param("REVOKED", True, id="revoked"),
        pytest.param("ACTIVE", False, id="unregistered"),
    ],
)
def test_unknown_or_not_active_certificates_are_refused(
    principals: FakePrincipals, shared_fleet: Fleet, status: str, registered: bool
) -> None:
    device = shared_fleet.devices[0]
    if registered:
        principals.by_id[device.certificate_id] = replace(
            principals.by_id[device.certificate_id], status=status
        )
    else:
        del principals.by_id[device.certificate_id]
    cache = _authorizers(principals)
    found = cache.authorizer(_der(shared_fleet, 0), None)
    assert isinstance(found, AwsError)
    assert (found.code, found.status) == ("CertificateValidationException", 400)
    assert device.certificate_id in found.message
    assert len(cache) == 0


def _wide_policy() -> PolicyDocument:
    """Every Jobs HTTPS action on every thing but the `locked-` ones."""
    things = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/"
    return parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iotjobsdata:*", "Resource": f"{things}*"},
                {"Effect": "Deny", "Action": "iotjobsdata:*", "Resource": f"{things}locked-*"},
            ],
        }
    )


def test_jobs_calls_are_answered_as_the_authorizer_answers(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    device = shared_fleet.devices[0]
    principals.by_id[device.certificate_id] = FakePrincipal(
        status="ACTIVE", things=(), policies=(_wide_policy(),)
    )
    cache, reference = _authorizers(principals), _authorizers(principals)
    authorizer = _authorizer(cache.authorizer(_der(shared_fleet, 0), None))
    expected = _authorizer(reference.authorizer(_der(shared_fleet, 0), None))
    # More names than the grants kept per authorizer, each asked twice.
    names = [f"{prefix}{i}" for i in range(MAX_GRANTS_PER_AUTHORIZER + 4) for prefix in "ab"]
    calls = [
        (api, f"{kind}-{name}") for api in JobsApi for name in names for kind in ("t", "locked")
    ]
    for api, thing in calls + calls:
        assert cache.can_call_jobs(authorizer, api, thing) == expected.can_call_jobs(api, thing)


def test_every_denied_jobs_call_is_counted(principals: FakePrincipals, shared_fleet: Fleet) -> None:
    denials = DenialCounter()
    cache = DeviceAuthorizers(
        principals, region=REGION, account_id=ACCOUNT, denials=denials, max_entries=10
    )
    own, other = shared_fleet.devices[0].thing_name, shared_fleet.devices[1].thing_name
    authorizer = _authorizer(cache.authorizer(_der(shared_fleet, 0), None))
    for _ in range(3):
        assert cache.can_call_jobs(authorizer, GET_PENDING, own)
        assert not cache.can_call_jobs(authorizer, GET_PENDING, other)
    assert denials.snapshot() == {"iotjobsdata:GetPendingJobExecutions": 3}


def test_a_changed_principal_keeps_no_grant_of_the_old_one(
    principals: FakePrincipals, shared_fleet: Fleet
) -> None:
    cache = _authorizers(principals)
    device = shared_fleet.devices[0]
    der = _der(shared_fleet, 0)
    before = _authorizer(cache.authorizer(der, None))
    assert cache.can_call_jobs(before, GET_PENDING, device.thing_name)
    principals.by_id[device.certificate_id] = FakePrincipal(status="ACTIVE", things=(), policies=())
    after = _authorizer(cache.authorizer(der, None))
    assert not cache.can_call_jobs(after, GET_PENDING, device.thing_name)
