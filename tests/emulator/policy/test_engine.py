"""Policy evaluation (spec §4): default deny, any Allow grants, explicit Deny wins, globs,
variables, denial counting and the Receive cache."""

from __future__ import annotations

import pytest

from certs_tool.policy.document import PolicyDocument
from simfleet.emulator.policy import (
    CertificateInfo,
    DenialCounter,
    JobsApi,
    PrincipalContext,
    Protocol,
    compile_policies,
)
from tests.emulator.policy.helpers import (
    ACCOUNT,
    REGION,
    THING,
    arn,
    https_context,
    jobs_mqtt_policy,
    mqtt_context,
    policy,
    statement,
)


def test_no_policy_denies_everything_and_counts_each_denial() -> None:
    counter = DenialCounter()
    device = compile_policies([], mqtt_context(), denials=counter)
    assert not device.can_connect()
    assert not device.can_publish("a")
    assert not device.can_subscribe("a")
    assert not device.can_receive("a")
    assert not device.can_receive("a")
    assert not device.can_retain_publish("a")
    assert not device.can_call_jobs(JobsApi.DESCRIBE_JOB_EXECUTION, THING)
    assert counter.snapshot() == {
        "iot:Connect": 1,
        "iot:Publish": 1,
        "iot:Subscribe": 1,
        "iot:Receive": 2,
        "iot:RetainPublish": 1,
        "iotjobsdata:DescribeJobExecution": 1,
    }
    assert counter.total == 7
    assert counter.count("iot:Receive") == 2


def test_allowed_requests_are_not_counted() -> None:
    counter = DenialCounter()
    device = compile_policies(
        [policy(statement("Allow", "iot:*", "*"))], mqtt_context(), denials=counter
    )
    assert device.can_connect()
    assert device.can_receive("a")
    assert device.can_receive("a")
    assert counter.total == 0


@pytest.mark.parametrize(
    "documents",
    [
        pytest.param(
            [
                policy(statement("Allow", "iot:Publish", "*")),
                policy(statement("Deny", "iot:Publish", arn("topic/secret/*"))),
            ],
            id="deny-in-another-document",
        ),
        pytest.param(
            [
                policy(
                    statement("Deny", "iot:Publish", arn("topic/secret/*")),
                    statement("Allow", "iot:Publish", arn("topic/*")),
                )
            ],
            id="deny-first-in-same-document",
        ),
        pytest.param(
            [
                policy(
                    statement("Allow", "iot:*", "*"),
                    statement("Deny", "iot:Pub*", arn("topic/secret/?*")),
                )
            ],
            id="deny-by-action-glob",
        ),
    ],
)
def test_explicit_deny_beats_any_allow(documents: list[PolicyDocument]) -> None:
    device = compile_policies(documents, mqtt_context())
    assert not device.can_publish("secret/x")
    assert device.can_publish("public/x")


def test_policies_attached_together_add_up() -> None:
    documents = [
        policy(statement("Allow", "iot:Publish", arn("topic/a"))),
        policy(statement("Allow", "iot:Publish", arn("topic/b"))),
    ]
    device = compile_policies(documents, mqtt_context())
    assert device.can_publish("a")
    assert device.can_publish("b")
    assert not device.can_publish("c")


@pytest.mark.parametrize(
    ("action_pattern", "granted", "refused"),
    [
        pytest.param("iot:*", ["iot:Publish", "iot:Receive"], ["iotjobsdata:X"], id="iot-star"),
        pytest.param("iot:Pub*", ["iot:Publish"], ["iot:Receive"], id="prefix-star"),
        pytest.param("iot:?eceive", ["iot:Receive"], ["iot:Publish"], id="question"),
        pytest.param("*", ["iot:Connect", "iotjobsdata:X"], [], id="any-action"),
        pytest.param("IOT:publish", ["iot:Publish", "Iot:PUBLISH"], [], id="case-insensitive"),
        pytest.param(
            "iotjobsdata:*", ["iotjobsdata:UpdateJobExecution"], ["iot:Publish"], id="jobs-star"
        ),
        pytest.param("iot:Publish", ["iot:Publish"], ["iot:PublishX", "iot:Publis"], id="exact"),
    ],
)
def test_action_globs(action_pattern: str, granted: list[str], refused: list[str]) -> None:
    device = compile_policies([policy(statement("Allow", action_pattern, "*"))], mqtt_context())
    for action in granted:
        assert device.allows(action, arn("topic/a")), action
    for action in refused:
        assert not device.allows(action, arn("topic/a")), action


def test_resources_are_case_sensitive() -> None:
    device = compile_policies(
        [policy(statement("Allow", "iot:Publish", arn("topic/Foo")))], mqtt_context()
    )
    assert device.can_publish("Foo")
    assert not device.can_publish("foo")


@pytest.mark.parametrize(
    ("resource", "topic_filter", "allowed"),
    [
        pytest.param("topicfilter/a/+", "a/+", True, id="plus-literal-matches-itself"),
        pytest.param("topicfilter/a/+", "a/b", False, id="plus-does-not-match-a-level"),
        pytest.param("topicfilter/a/#", "a/#", True, id="hash-literal-matches-itself"),
        pytest.param("topicfilter/a/#", "a/b/c", False, id="hash-does-not-match-levels"),
        pytest.param("topicfilter/a/*", "a/#", True, id="star-matches-hash"),
        pytest.param("topicfilter/a/?", "a/b", True, id="question-one-char"),
        pytest.param("topicfilter/a/?", "a/bc", False, id="question-not-two-chars"),
        pytest.param("topicfilter/a/$(*)", "a/*", True, id="escaped-star"),
        pytest.param("topicfilter/a/$(*)", "a/b", False, id="escaped-star-is-literal"),
        pytest.param("topicfilter/$($)aws/$(?)", "$aws/?", True, id="escaped-dollar-question"),
        pytest.param("topic/a/+", "a/+", False, id="topic-resource-is-not-a-filter"),
    ],
)
def test_subscribe_resources(resource: str, topic_filter: str, allowed: bool) -> None:
    device = compile_policies(
        [policy(statement("Allow", "iot:Subscribe", arn(resource)))], mqtt_context()
    )
    assert device.can_subscribe(topic_filter) is allowed


def test_client_id_is_substituted_literally() -> None:
    # Spec §4: a client ID of `+` widens a topicfilter built from ${iot:ClientId}, because `+`
    # in the resource then matches the filter `my/+/topic`; a `*` client ID stays a plain `*`.
    document = policy(
        statement("Allow", "iot:Subscribe", arn("topicfilter/my/${iot:ClientId}/topic")),
        statement("Allow", "iot:Publish", arn("topic/my/${iot:ClientId}")),
    )
    plus = compile_policies([document], mqtt_context(client_id="+"))
    assert plus.can_subscribe("my/+/topic")
    star = compile_policies([document], mqtt_context(client_id="*"))
    assert star.can_publish("my/*")
    assert not star.can_publish("my/other")


def test_unresolved_variable_stays_literal_text() -> None:
    document = policy(statement("Allow", "iot:Publish", arn("topic/t/${iot:ClientId}")))
    device = compile_policies([document], https_context())  # no client ID over HTTPS
    assert not device.can_publish("t/anything")
    assert not device.can_publish("t/")
    # What remains is the text itself, as AWS documents: only that literal topic matches.
    assert device.can_publish("t/${iot:ClientId}")


def test_unresolved_thing_variable_in_deny_denies_nothing_else() -> None:
    documents = [
        policy(
            statement("Allow", "iot:Publish", "*"),
            statement("Deny", "iot:Publish", arn("topic/${iot:Connection.Thing.ThingName}/x")),
        )
    ]
    device = compile_policies(documents, mqtt_context(things=()))
    assert device.can_publish(f"{THING}/x")


def test_allows_takes_any_arn() -> None:
    device = compile_policies([jobs_mqtt_policy(region=REGION, account=ACCOUNT)], mqtt_context())
    assert device.allows("iot:Connect", arn(f"client/{THING}"))
    assert not device.allows("iot:Connect", arn(f"client/{THING}", account="999999999999"))


def test_partition_follows_the_region() -> None:
    context = mqtt_context(region="cn-north-1")
    china = policy(statement("Allow", "iot:Publish", f"arn:aws-cn:iot:cn-north-1:{ACCOUNT}:*"))
    assert compile_policies([china], context).can_publish("a")
    commercial = policy(statement("Allow", "iot:Publish", f"arn:aws:iot:*:{ACCOUNT}:*"))
    assert not compile_policies([commercial], context).can_publish("a")


def test_connect_over_https_is_denied_and_counted() -> None:
    counter = DenialCounter()
    device = compile_policies(
        [policy(statement("Allow", "*", "*"))], https_context(), denials=counter
    )
    assert not device.can_connect()
    assert counter.snapshot() == {"iot:Connect": 1}


def test_jobs_deny_under_the_older_name_wins() -> None:
    documents = [
        policy(
            statement("Allow", "iotjobsdata:*", arn("thing/*")),
            statement("Deny", "iot:UpdateJobExecution", arn(f"thing/{THING}")),
        )
    ]
    device = compile_policies(documents, https_context())
    assert not device.can_call_jobs(JobsApi.UPDATE_JOB_EXECUTION, THING)
    assert device.can_call_jobs(JobsApi.DESCRIBE_JOB_EXECUTION, THING)
    assert device.can_call_jobs(JobsApi.UPDATE_JOB_EXECUTION, "dev-002")


def test_receive_cache_is_bounded_and_stays_correct() -> None:
    document = policy(statement("Allow", "iot:Receive", arn("topic/even/*")))
    counter = DenialCounter()
    device = compile_policies([document], mqtt_context(), denials=counter)
    topics = [f"{'even' if i % 2 == 0 else 'odd'}/{i}" for i in range(3000)]
    for _ in range(2):
        assert [device.can_receive(t) for t in topics] == [i % 2 == 0 for i in range(3000)]
    assert counter.count("iot:Receive") == 3000
    assert len(device._receive) <= 1024  # the bound itself: a soak must not grow it


def test_retain_publish_is_its_own_action() -> None:
    document = policy(statement("Allow", "iot:Publish", "*"))
    device = compile_policies([document], mqtt_context())
    assert device.can_publish("a")
    assert not device.can_retain_publish("a")
    retain = policy(statement("Allow", "iot:RetainPublish", arn("topic/a")))
    assert compile_policies([retain], mqtt_context()).can_retain_publish("a")


def test_certificate_serial_number_variable() -> None:
    context = PrincipalContext(
        protocol=Protocol.MQTT,
        region="us-east-1",
        account_id=ACCOUNT,
        certificate=CertificateInfo(certificate_id="cd" * 32, serial_number="99"),
        client_id="c",
    )
    document = policy(
        statement("Allow", "iot:Publish", arn("topic/s/${iot:Certificate.SerialNumber}"))
    )
    device = compile_policies([document], context)
    assert device.can_publish("s/99")
    assert not device.can_publish("s/98")
