"""The AWS IoT Jobs protocol with no I/O, shared by simulated devices and the emulator.

The vocabulary (topics, statuses, messages, errors) is exported here, with the entry point of
each side: `JobsClient` for a device, `answer_mqtt` and `pending_notifications` over
`ExecutionRecord`s for the service. The finer service operations live in
`simfleet.jobs.execution` and the HTTPS device API (`iot-jobs-data`) in `simfleet.jobs.https`.
"""

from simfleet.jobs.client import (
    InFlight,
    JobsClient,
    JobsEvent,
    OutgoingRequest,
    ReplyReceived,
    StrayReply,
)
from simfleet.jobs.errors import (
    InvalidName,
    JobsError,
    JobsErrorCode,
    JobsProtocolError,
    MalformedMessage,
)
from simfleet.jobs.execution import ExecutionRecord
from simfleet.jobs.notifications import Notifications, pending_notifications
from simfleet.jobs.requests import (
    DescribeRequest,
    GetPendingRequest,
    JobsRequest,
    StartNextRequest,
    UpdateRequest,
    decode_request,
    encode_request,
)
from simfleet.jobs.responses import (
    DescribeAccepted,
    GetPendingAccepted,
    JobExecution,
    JobExecutionState,
    JobExecutionSummary,
    JobsNotification,
    JobsResponse,
    Notify,
    NotifyNext,
    Rejected,
    StartNextAccepted,
    UpdateAccepted,
    decode_message,
    encode_message,
)
from simfleet.jobs.service import MqttReply, answer_mqtt
from simfleet.jobs.state import ExecutionStatus
from simfleet.jobs.topics import (
    NEXT_JOB_ID,
    JobsTopic,
    Operation,
    Reply,
    UnknownJobsTopic,
    parse_jobs_topic,
)

__all__ = [
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
