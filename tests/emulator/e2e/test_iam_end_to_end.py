"""IAM principals from a file, enforced by the emulator process on SigV4 callers."""

from __future__ import annotations

import json
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import MakeFleet
from tests.emulator.e2e.process import EmulatorProcess

OPERATOR_KEY = "AKIAOPERATOR00000001"
OPERATOR_SECRET = "operator-secret-for-tests-only"


def test_operator_may_create_but_not_cancel(make_fleet: MakeFleet, tmp_path: Path) -> None:
    principals = tmp_path / "principals.json"
    principals.write_text(json.dumps({"principals": [{
        "name": "operator",
        "accessKeyId": OPERATOR_KEY,
        "secretAccessKey": OPERATOR_SECRET,
        "policies": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:CreateJob", "iot:DescribeJob"], "Resource": "*"},
        ]}],
    }]}))  # fmt: skip
    emulator = EmulatorProcess(make_fleet(count=2), tmp_path / "state").start(
        "--iam-principals", str(principals)
    )
    try:
        operator = boto3.client(
            "iot", endpoint_url=emulator.ready["api_url"], region_name=emulator.ready["region"],
            aws_access_key_id=OPERATOR_KEY, aws_secret_access_key=OPERATOR_SECRET,
            verify=emulator.ready["ca_file"], config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        thing = emulator.fleet.devices[0].thing_name
        operator.create_job(jobId="iam-1", targets=[emulator.thing_arn(thing)], document="{}")
        with pytest.raises(ClientError) as denied:
            operator.cancel_job(jobId="iam-1")
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "iot:CancelJob" in denied.value.response["Error"]["Message"]
        assert operator.describe_job(jobId="iam-1")["job"]["status"] == "IN_PROGRESS"
        operator.close()
        # The ready line's administrator is still allowed everything.
        emulator.iot().cancel_job(jobId="iam-1")
        assert emulator.iot().describe_job(jobId="iam-1")["job"]["status"] == "CANCELED"
    finally:
        assert emulator.stop()[0] == 0


def test_malformed_principals_file_is_one_clear_error(
    make_fleet: MakeFleet, tmp_path: Path
) -> None:
    principals = tmp_path / "principals.json"
    principals.write_text('{"principals": [{"name": "x"}]}')
    emulator = EmulatorProcess(make_fleet(count=1), tmp_path / "state")
    with pytest.raises(AssertionError, match=r"simfleet emulator: error: .*principals\.json"):
        emulator.start("--iam-principals", str(principals))
