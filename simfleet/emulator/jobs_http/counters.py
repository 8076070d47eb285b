"""Live counts of the Jobs HTTPS API, for /metrics (issue #4, item 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simfleet.emulator.http import RequestCounters
from simfleet.emulator.policy import DenialCounter


@dataclass
class JobsHttpCounters:
    """Answers by caller kind, operation (the model's name, e.g. "UpdateJobExecution", or
    "(unrouted)") and outcome ("ok" or the `x-amzn-ErrorType` sent); denials by action.

    `policy_denials` may be the broker's counter, so that IoT Core policy denials of MQTT and
    HTTPS are counted in one place (the Authorizer records `iotjobsdata:<Operation>`).
    """

    device: RequestCounters = field(default_factory=RequestCounters)  # mutual TLS
    sigv4: RequestCounters = field(default_factory=RequestCounters)  # no certificate
    policy_denials: DenialCounter = field(default_factory=DenialCounter)
    iam_denials: DenialCounter = field(default_factory=DenialCounter)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy safe to serialize."""
        return {
            "device": self.device.snapshot(),
            "sigv4": self.sigv4.snapshot(),
            "policy_denials": self.policy_denials.snapshot(),
            "iam_denials": self.iam_denials.snapshot(),
        }
