"""The Jobs policy templates: exactly the grants of spec §4, linted clean, round-tripped."""

from __future__ import annotations

from pathlib import Path

import pytest

import certs_tool.policy
from certs_tool.errors import InvalidInputError
from certs_tool.policy import (
    MAX_POLICY_LENGTH,
    TEMPLATE_NAMES,
    Condition,
    Effect,
    PolicyDocument,
    lint_policy,
    parse_policy,
    policy_length,
    policy_name,
    render_template,
    validate_policy_name,
)

GOLDEN = Path(__file__).parent / "data" / "policies"
ACCOUNT = "123456789012"

# Spec §4 "Least-privilege MQTT Jobs device" and "HTTPS (8443, X.509) Jobs device", written out
# from the spec rather than from the module under test.
J = "$aws/things/${iot:Connection.Thing.ThingName}/jobs"
SPEC_MQTT = {
    "iot:Connect": {"client/${iot:Connection.Thing.ThingName}"},
    "iot:Publish": {
        f"topic/{J}/get",
        f"topic/{J}/start-next",
        f"topic/{J}/*/get",
        f"topic/{J}/*/update",
    },
    "iot:Subscribe": {
        f"topicfilter/{J}/notify",
        f"topicfilter/{J}/notify-next",
        f"topicfilter/{J}/*/accepted",
        f"topicfilter/{J}/*/rejected",
        f"topicfilter/{J}/*/+",
    },
    "iot:Receive": {
        f"topic/{J}/notify",
        f"topic/{J}/notify-next",
        f"topic/{J}/*/accepted",
        f"topic/{J}/*/rejected",
    },
}
SPEC_HTTPS = {
    f"iotjobsdata:{operation}": {"thing/${iot:Certificate.Subject.CommonName}"}
    for operation in (
        "GetPendingJobExecutions",
        "StartNextPendingJobExecution",
        "DescribeJobExecution",
        "UpdateJobExecution",
    )
}
SPEC = {"jobs-mqtt": SPEC_MQTT, "jobs-https": SPEC_HTTPS, "jobs-all": SPEC_MQTT | SPEC_HTTPS}
IS_ATTACHED = Condition(operator="Bool", key="iot:Connection.Thing.IsAttached", values=("true",))

LONG_REGIONS = ("ap-southeast-2", "us-gov-west-1", "cn-northwest-1")
# Every template with the defaults, and with the longest region names of each partition.
SCOPES = [
    pytest.param(template, region, account, id=f"{template}-{region}-{account}")
    for template, region, account in [
        *((t, "*", "*") for t in TEMPLATE_NAMES),
        *((t, r, ACCOUNT) for t in ("jobs-mqtt", "jobs-https") for r in LONG_REGIONS),
        ("jobs-all", "us-east-1", ACCOUNT),
        ("jobs-all", "*", ACCOUNT),
        ("jobs-all", "us-gov-west-1", "*"),
    ]
]


def grants(document: PolicyDocument, prefix: str) -> dict[str, set[str]]:
    """action -> resources, with the ARN prefix taken off (and checked)."""
    out: dict[str, set[str]] = {}
    for statement in document.statements:
        assert statement.effect is Effect.ALLOW
        for resource in statement.resources:
            assert resource.startswith(prefix), resource
        for action in statement.actions:
            out.setdefault(action, set()).update(r[len(prefix) :] for r in statement.resources)
    return out


def partition(region: str) -> str:
    return {"cn": "aws-cn", "us-gov": "aws-us-gov"}.get(region.rsplit("-", 2)[0], "aws")


def test_the_template_names() -> None:
    assert TEMPLATE_NAMES == ("jobs-mqtt", "jobs-https", "jobs-all")


@pytest.mark.parametrize(("template", "region", "account"), SCOPES)
def test_a_template_grants_exactly_the_spec_resources(
    template: str, region: str, account: str
) -> None:
    document = render_template(template, region=region, account=account)
    prefix = f"arn:{partition(region)}:iot:{region}:{account}:"
    assert grants(document, prefix) == SPEC[template]
    connects = [s for s in document.statements if "iot:Connect" in s.actions]
    assert all(s.conditions == (IS_ATTACHED,) for s in connects)
    assert all(not s.conditions for s in document.statements if s not in connects)


@pytest.mark.parametrize(("template", "region", "account"), SCOPES)
def test_a_template_round_trips_lints_clean_and_fits(
    template: str, region: str, account: str
) -> None:
    document = render_template(template, region=region, account=account)
    text = document.dumps()
    assert parse_policy(text) == document
    assert lint_policy(text) == []
    assert policy_length(text) <= MAX_POLICY_LENGTH


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_the_default_rendering_matches_its_golden_file(template: str) -> None:
    assert render_template(template).dumps() == (GOLDEN / f"{template}.json").read_text()


def test_a_scoped_rendering_matches_its_golden_file() -> None:
    document = render_template("jobs-all", region="us-east-1", account=ACCOUNT)
    assert document.dumps() == (GOLDEN / "jobs-all-us-east-1.json").read_text()


def test_jobs_all_with_a_long_region_and_an_account_is_refused_with_a_way_out() -> None:
    with pytest.raises(InvalidInputError, match="jobs-mqtt and jobs-https templates") as caught:
        render_template("jobs-all", region="ap-southeast-2", account=ACCOUNT)
    assert "2048" in str(caught.value)
    # The two halves it points to do fit, and grant together what jobs-all would.
    halves = [
        render_template(t, region="ap-southeast-2", account=ACCOUNT)
        for t in ("jobs-mqtt", "jobs-https")
    ]
    prefix = f"arn:aws:iot:ap-southeast-2:{ACCOUNT}:"
    assert grants(halves[0], prefix) | grants(halves[1], prefix) == SPEC["jobs-all"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"template": "jobs"}, "unknown policy template", id="unknown-template"),
        pytest.param({"template": "JOBS-MQTT"}, "unknown policy template", id="template-case"),
        pytest.param({"region": "US-EAST-1"}, "region", id="region-upper-case"),
        pytest.param({"region": "us-east"}, "region", id="region-without-number"),
        pytest.param({"region": ""}, "region", id="region-empty"),
        pytest.param({"region": "us-east-1:evil"}, "region", id="region-with-colon"),
        pytest.param({"account": "12345678901"}, "account", id="account-11-digits"),
        pytest.param({"account": "1234567890123"}, "account", id="account-13-digits"),
        pytest.param({"account": "57EXAMPLE833"}, "account", id="account-not-digits"),
        pytest.param({"account": "\uff11" * 12}, "account", id="account-fullwidth-digits"),
    ],
)
def test_bad_template_arguments_are_refused(kwargs: dict[str, str], message: str) -> None:
    arguments = {"template": "jobs-mqtt", **kwargs}
    template = arguments.pop("template")
    with pytest.raises(InvalidInputError, match=message):
        render_template(template, **arguments)


def test_policy_names() -> None:
    assert policy_name("jobs-mqtt", "fleet-7") == "fleet-7-jobs-mqtt"
    assert policy_name("jobs-all", "") == "jobs-all"
    longest = "p" * (128 - len("-jobs-https"))
    assert policy_name("jobs-https", longest) == f"{longest}-jobs-https"


@pytest.mark.parametrize(
    ("template", "prefix"),
    [
        pytest.param("jobs-mqtt", "my fleet", id="space"),
        pytest.param("jobs-mqtt", "fleet/1", id="slash"),
        pytest.param("jobs-mqtt", "flotte-é", id="non-ascii"),
        pytest.param("jobs-https", "p" * (129 - len("-jobs-https")), id="129-characters"),
        pytest.param("jobs", "fleet", id="unknown-template"),
    ],
)
def test_bad_policy_names_are_refused(template: str, prefix: str) -> None:
    with pytest.raises(InvalidInputError):
        policy_name(template, prefix)


def test_validate_policy_name_accepts_the_aws_alphabet() -> None:
    assert validate_policy_name("a_Z0+=,.@-") == "a_Z0+=,.@-"
    with pytest.raises(InvalidInputError):
        validate_policy_name("")


def test_the_package_exports_a_curated_api() -> None:
    assert set(certs_tool.policy.__all__) == {
        "ACTION_RESOURCE_TYPES",
        "MAX_POLICY_LENGTH",
        "POLICY_VERSION",
        "RULES",
        "TEMPLATE_NAMES",
        "Condition",
        "Effect",
        "Finding",
        "PolicyDocument",
        "Severity",
        "Statement",
        "lint_policy",
        "parse_policy",
        "policy_length",
        "policy_name",
        "render_template",
        "validate_policy_name",
    }
    for name in certs_tool.policy.__all__:
        assert getattr(certs_tool.policy, name) is not None
