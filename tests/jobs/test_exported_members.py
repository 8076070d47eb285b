"""The public API of simfleet.jobs is what `__all__` says, and nothing else."""

import types

import simfleet.jobs


def test_all_names_exist_and_every_public_name_is_exported() -> None:
    public = {
        name
        for name, value in vars(simfleet.jobs).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(simfleet.jobs.__all__) == public


def test_exported_members_are_pinned() -> None:
    assert sorted(simfleet.jobs.__all__) == sorted(
        [
            "NEXT_JOB_ID",
            "DescribeAccepted",
            "DescribeRequest",
            "ExecutionRecord",
            "ExecutionStatus",
            "GetPendingAccepted",
            "GetPendingRequest",
            "InFlight",
            "InvalidName",
            "JobExecution",
            "JobExecutionState",
            "JobExecutionSummary",
            "JobsClient",
            "JobsError",
            "JobsErrorCode",
            "JobsEvent",
            "JobsNotification",
            "JobsProtocolError",
            "JobsRequest",
            "JobsResponse",
            "JobsTopic",
            "MalformedMessage",
            "MqttReply",
            "Notifications",
            "Notify",
            "NotifyNext",
            "Operation",
            "OutgoingRequest",
            "Rejected",
            "Reply",
            "ReplyReceived",
            "StartNextAccepted",
            "StartNextRequest",
            "StrayReply",
            "UnknownJobsTopic",
            "UpdateAccepted",
            "UpdateRequest",
            "answer_mqtt",
            "decode_message",
            "decode_request",
            "encode_message",
            "encode_request",
            "parse_jobs_topic",
            "pending_notifications",
        ]
    )
