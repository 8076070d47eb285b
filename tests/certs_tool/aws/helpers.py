"""moto's server mode as a child process, and the calls certs_tool.aws tests make against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs_tool.aws import IotCaller, RetryPolicy, Stopper, connect, paced_caller

REGION = "us-east-1"
# Credentials moto accepts; nothing here may reach AWS (every endpoint is 127.0.0.1).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
_CERTS_TOOL_APIS = (
    "AddThingToThingGroup", "AttachPolicy", "AttachThingPrincipal", "CreatePolicy",
    "CreateThing", "CreateThingGroup", "DeleteCACertificate", "DeleteCertificate",
    "DeletePolicy", "DeleteThing", "DeleteThingGroup", "DescribeCertificate",
    "DetachPolicy", "DetachThingPrincipal", "GetRegistrationCode", "ListAttachedPolicies",
    "ListPrincipalThings", "RegisterCACertificate", "RegisterCertificate",
    "RegisterCertificateWithoutCA", "UpdateCACertificate", "UpdateCertificate",
)  # fmt: skip
# Fast enough that a 20-device fleet registers in well under a second.
FAST_RATES: Mapping[str, float] = dict.fromkeys(_CERTS_TOOL_APIS, 2000.0)
FAST_RETRY = RetryPolicy(attempts=6, base=0.005, cap=0.05)
_READY = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(cls, log: Path, *, pem_ids: bool = False) -> MotoServer:
        args = [sys.executable, "-m", "tests.certs_tool.aws.moto_server"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*args, *(["--pem-ids"] if pem_ids else [])],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **AWS_ENV},
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = _READY.search(log.read_text(errors="replace"))
            if found:
                return cls(process=process, url=found.group(1))
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.kill()
        raise AssertionError(f"moto server did not start: {log.read_text(errors='replace')}")

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def caller_for(
    url: str,
    *,
    stopper: Stopper | None = None,
    rates: Mapping[str, float] = FAST_RATES,
    retry: RetryPolicy = FAST_RETRY,
    hook: Callable[..., Any] | None = None,
) -> IotCaller:
    """The caller certs-tool builds, on `url`; `hook` answers botocore's before-call event."""
    client = connect(region=REGION, endpoint_url=url, max_connections=32)
    if hook is not None:
        client.meta.events.register("before-call.iot.*", hook)
    return paced_caller(client, stopper=stopper or Stopper(), rates=rates, retry=retry)


def raw_client(url: str) -> Any:
    """A plain boto3 client for looking at what the server holds."""
    return connect(region=REGION, endpoint_url=url)


def listing(client: Any, ca_id: str) -> dict[str, list[str]]:
    """Everything of IoT that a fleet can leave behind on the server (moto has no
    ListCACertificates: the CA is looked up by its id)."""
    try:
        client.describe_ca_certificate(certificateId=ca_id)
        cas = [ca_id]
    except client.exceptions.ResourceNotFoundException:
        cas = []
    return {
        "things": [t["thingName"] for t in client.list_things()["things"]],
        "certificates": [c["certificateId"] for c in client.list_certificates()["certificates"]],
        "ca": cas,
        "policies": [p["policyName"] for p in client.list_policies()["policies"]],
        "groups": [g["groupName"] for g in client.list_thing_groups()["thingGroups"]],
    }


class AwsFault:
    """A botocore before-call hook that answers `code` instead of sending the request, for the
    first `times` calls of `operation` (any operation when None)."""

    def __init__(
        self, code: str, *, times: int, operation: str | None = None, status: int = 400
    ) -> None:
        self.code = code
        self.left = times
        self.operation = operation
        self.status = status
        self.answered = 0
        self._lock = threading.Lock()  # certs-tool calls from many threads

    def __call__(self, *, model: Any, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        with self._lock:
            if self.left <= 0 or (self.operation is not None and model.name != self.operation):
                return None
            self.left -= 1
            self.answered += 1
        parsed = {
            "Error": {"Code": self.code, "Message": f"injected {self.code}"},
            "ResponseMetadata": {"HTTPStatusCode": self.status, "HTTPHeaders": {}},
        }
        return _Http(self.status), parsed


@dataclass(frozen=True)
class _Http:
    """What botocore reads of an HTTP response that a before-call hook supplies."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""


def journal_lines(root: Path) -> list[str]:
    path = root / "aws-journal.jsonl"
    return path.read_text().splitlines() if path.exists() else []
