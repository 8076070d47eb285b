"""The run's command-line options and `RunConfig`, the typed configuration built from them once.

Options are registered on Locust's parser (`init_command_line_parser`), so they show in
`locust --help`, are read from `locust.conf` (`fleet-dir = ...`) and from `LOCUST_*` environment
variables. The ones a test in the web UI may change (profile, start delay, the job plan) are
shown there and read again when a test starts; the start-up ones (fleet, endpoints) are not.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simfleet.device.errors import ProfileError
from simfleet.device.profile import BehaviourProfile
from simfleet.device.profile_files import load_profile
from simfleet.locust.errors import ConfigError
from simfleet.locust.operator import DEFAULT_DOCUMENT, MAX_DOCUMENT_BYTES

DEFAULT_FLEET_DIR = Path(".simfleet/fleet")
RUN_GROUP = "simfleet-run"  # the embedded emulator's thing group of the run's devices
MQTT_PORT = 8883  # AWS IoT Data-ATS, MQTT over TLS
JOBS_PORT = 8443  # AWS IoT Jobs HTTPS endpoint with a device certificate (spec §2)
MAX_ROLLOUT_PER_MINUTE = 1000  # spec §3, "Rollout"
# jobId: 1-64 characters of [a-zA-Z0-9_-] (spec §3); the prefix leaves room for "-<n>".
JOB_PREFIX_RE = re.compile(r"[a-zA-Z0-9_-]{1,54}")


def add_options(parser: Any, **_: Any) -> None:
    """Register the options: a listener of Locust's `init_command_line_parser` event."""
    start_up = {"include_in_web_ui": False}
    # Paths stay text here (RunConfig makes them Paths): a master sends its parsed options to
    # its workers with msgpack, which has no Path.
    parser.add_argument(
        "--fleet-dir", env_var="LOCUST_FLEET_DIR", **start_up,
        help="fleet directory (certs-tool). Without --host it is minted or grown to the run's "
        f"size and cached (default: {DEFAULT_FLEET_DIR}); with --host it must exist. On a "
        "--worker: its copy of the master's fleet (default: the master's directory)",
    )  # fmt: skip
    parser.add_argument(
        "--fleet-size", type=int, env_var="LOCUST_FLEET_SIZE", **start_up,
        help="devices the embedded emulator serves and puts in the run's thing group "
        "(default: -u minus the Operator)",
    )  # fmt: skip
    parser.add_argument(
        "--emulator-quotas", env_var="LOCUST_EMULATOR_QUOTAS", **start_up,
        help="the embedded emulator's --quotas SPEC (default: AWS's quotas; `off` for a run "
        "that measures the client rather than AWS's limits)",
    )  # fmt: skip
    parser.add_argument(
        "--jobs-host", env_var="LOCUST_JOBS_HOST", **start_up,
        help="Jobs HTTPS endpoint of HTTPS devices, https://HOST[:PORT] (default port "
        f"{JOBS_PORT}); needed with --host when the run has HTTPS devices",
    )  # fmt: skip
    parser.add_argument(
        "--api-url", env_var="LOCUST_API_URL", **start_up,
        help="control-plane endpoint URL (default with --host: the AWS IoT endpoint of "
        "--region); its certificate is verified with --ca-file",
    )  # fmt: skip
    parser.add_argument(
        "--region", env_var="LOCUST_REGION", **start_up,
        help="AWS region of the control plane (default with --host: the AWS configuration's)",
    )  # fmt: skip
    parser.add_argument(
        "--ca-file", env_var="LOCUST_CA_FILE", **start_up,
        help="CA the endpoints' certificates must chain to (AmazonRootCA1.pem for AWS IoT "
        "Core; default: the fleet's CA, which signs the emulator's certificate)",
    )  # fmt: skip
    parser.add_argument(
        "--mqtt-alpn", action="store_true", default=False, env_var="LOCUST_MQTT_ALPN", **start_up,
        help="offer ALPN x-amzn-mqtt-ca on MQTT connections (always on for port 443)",
    )  # fmt: skip
    parser.add_argument(
        "--thing-group", env_var="LOCUST_THING_GROUP", **start_up,
        help=f"thing group the operator's jobs target (default without --host: {RUN_GROUP}, "
        "made of the run's devices; with --host it must exist)",
    )  # fmt: skip
    parser.add_argument(
        "--device-profile", default="default", env_var="LOCUST_DEVICE_PROFILE",
        help="device behaviour: a preset (default, fast, flaky, https-poller, describe-next) "
        "or a .toml/.yaml file",
    )  # fmt: skip
    parser.add_argument(
        "--start-delay", type=float, default=5.0, env_var="LOCUST_START_DELAY",
        help="each device waits a random 0..N seconds before it connects, so that connect "
        "times measure the endpoint, not Locust's spawn queue",
    )  # fmt: skip
    parser.add_argument(
        "--job-count", type=int, default=1, env_var="LOCUST_JOB_COUNT",
        help="jobs the Operator creates",
    )  # fmt: skip
    parser.add_argument(
        "--job-rate", type=float, default=0.0, env_var="LOCUST_JOB_RATE",
        help="jobs the Operator creates per minute (0: all --job-count jobs at once)",
    )  # fmt: skip
    parser.add_argument(
        "--job-document", env_var="LOCUST_JOB_DOCUMENT",
        help="JSON file of the job document (default: a firmware update)",
    )  # fmt: skip
    parser.add_argument(
        "--job-prefix", env_var="LOCUST_JOB_PREFIX",
        help="job IDs are PREFIX-1, PREFIX-2, ... (default: simfleet-<UTC start time>)",
    )  # fmt: skip
    parser.add_argument(
        "--rollout-max-per-minute", type=int, env_var="LOCUST_ROLLOUT_MAX_PER_MINUTE",
        help="jobExecutionsRolloutConfig.maximumPerMinute of the jobs (1-1000)",
    )  # fmt: skip
    parser.add_argument(
        "--stop-when-done", action="store_true", default=False, env_var="LOCUST_STOP_WHEN_DONE",
        help="quit once every job the Operator created is over (no execution pending)",
    )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """A TLS endpoint: `host` is also the SNI name, which AWS requires (spec §5)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class JobPlan:
    """What the Operator does: `count` jobs, `per_minute` a minute (0: at once)."""

    prefix: str
    count: int
    per_minute: float
    document: str
    rollout_max_per_minute: int | None
    stop_when_done: bool

    def __post_init__(self) -> None:
        if not JOB_PREFIX_RE.fullmatch(self.prefix):
            raise ConfigError(
                f"--job-prefix {self.prefix!r}: job IDs allow 1-64 characters of "
                "[a-zA-Z0-9_-], so a prefix is 1-54 of them"
            )
        if self.count < 1:
            raise ConfigError(f"--job-count must be at least 1, not {self.count}")
        if self.per_minute < 0:
            raise ConfigError(f"--job-rate must not be negative, not {self.per_minute}")
        rollout = self.rollout_max_per_minute
        if rollout is not None and not 1 <= rollout <= MAX_ROLLOUT_PER_MINUTE:
            raise ConfigError(
                f"--rollout-max-per-minute must be 1-{MAX_ROLLOUT_PER_MINUTE} (AWS's range), "
                f"not {rollout}"
            )


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything the run needs to know from its options, checked once at start-up.

    `mqtt` None means the embedded emulator: it provides the endpoints, the CA, the region and
    the thing group itself.
    """

    fleet_dir: Path
    fleet_size: int | None
    emulator_quotas: str | None
    mqtt: Endpoint | None
    jobs: Endpoint | None
    api_url: str | None
    region: str | None
    ca_file: Path | None
    mqtt_alpn: bool
    thing_group: str | None
    profile: BehaviourProfile
    start_delay: float
    plan: JobPlan

    def __post_init__(self) -> None:
        if self.start_delay < 0:
            raise ConfigError(f"--start-delay must not be negative, not {self.start_delay}")
        if self.fleet_size is not None and self.fleet_size < 1:
            raise ConfigError(f"--fleet-size must be at least 1, not {self.fleet_size}")

    @property
    def embedded(self) -> bool:
        return self.mqtt is None

    @classmethod
    def from_options(cls, options: Any, *, now: datetime) -> RunConfig:
        """Build from Locust's parsed options (values typed by argparse, or strings from the
        web UI); raise ConfigError naming the option."""
        mqtt = _endpoint(options.host, "mqtts", MQTT_PORT, "--host")
        jobs = _endpoint(options.jobs_host, "https", JOBS_PORT, "--jobs-host")
        if mqtt is None and jobs is not None:
            raise ConfigError("--jobs-host needs --host (the embedded emulator has its own)")
        if mqtt is not None and not _absent(options.emulator_quotas):
            raise ConfigError("--emulator-quotas is for the embedded emulator: not with --host")
        fleet_dir = _optional_path(options.fleet_dir)
        if fleet_dir is None:
            if mqtt is not None:
                raise ConfigError("--host needs --fleet-dir: the fleet registered with it")
            fleet_dir = DEFAULT_FLEET_DIR
        ca_file = _optional_path(options.ca_file)
        if ca_file is not None and not ca_file.is_file():
            raise ConfigError(f"--ca-file {ca_file}: no such file")
        return cls(
            fleet_dir=fleet_dir,
            fleet_size=_optional_int(options.fleet_size, "--fleet-size"),
            emulator_quotas=_optional_text(options.emulator_quotas),
            mqtt=mqtt,
            jobs=jobs,
            api_url=_optional_text(options.api_url),
            region=_optional_text(options.region),
            ca_file=ca_file,
            mqtt_alpn=bool(options.mqtt_alpn),
            thing_group=_optional_text(options.thing_group),
            **_test_options(options, now),
        )

    def for_test(self, options: Any, *, now: datetime) -> RunConfig:
        """This configuration with the options the web UI may have changed for a new test
        (profile, start delay, job plan) read again; the start-up ones stay as they were."""
        return dataclasses.replace(self, **_test_options(options, now))

    def check_scenario(self, *, device_users: int | None, https: bool, operator: bool) -> int:
        """Check the options against the locustfile's users; return how many devices the run
        needs (`device_users`: -u minus the Operator, None when the web UI will say)."""
        if self.fleet_size is not None and device_users and self.fleet_size < device_users:
            raise ConfigError(
                f"--fleet-size {self.fleet_size} is smaller than the run's {device_users} device "
                "users: every user needs a device of its own"
            )
        needed = self.fleet_size or device_users
        if needed is None or needed < 1:
            if self.embedded:
                raise ConfigError(
                    "the embedded emulator needs the run's size: give -u (the devices plus one "
                    "for the Operator) or --fleet-size"
                )
            needed = 1
        if self.embedded:
            return needed
        if https and self.jobs is None:
            raise ConfigError(
                "HTTPS devices need --jobs-host (AWS: the iot:Jobs endpoint, port 8443)"
            )
        if operator and self.thing_group is None:
            raise ConfigError("with --host, the Operator needs --thing-group: the group to target")
        return needed


def _test_options(options: Any, now: datetime) -> dict[str, Any]:
    """The members of RunConfig a test in the web UI may change."""
    return {
        "profile": _profile(str(options.device_profile)),
        "start_delay": _number(options.start_delay, float, "--start-delay"),
        "plan": JobPlan(
            prefix=_optional_text(options.job_prefix) or f"simfleet-{now:%Y%m%d-%H%M%S}",
            count=_number(options.job_count, int, "--job-count"),
            per_minute=_number(options.job_rate, float, "--job-rate"),
            document=_document(_optional_path(options.job_document)),
            rollout_max_per_minute=_optional_int(
                options.rollout_max_per_minute, "--rollout-max-per-minute"
            ),
            stop_when_done=bool(options.stop_when_done),
        ),
    }


def _endpoint(url: Any, scheme: str, default_port: int, option: str) -> Endpoint | None:
    if _absent(url):
        return None
    parts = urlsplit(str(url))
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(f"{option} {url}: the port is not a number in 1-65535") from None
    if parts.scheme != scheme or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"{option} must look like {scheme}://HOST[:PORT], not {url!r}")
    return Endpoint(host=parts.hostname, port=port)


def _absent(value: Any) -> bool:
    """None, or the empty string the web UI sends for an option left blank."""
    return value is None or value == ""


def _optional_path(value: Any) -> Path | None:
    return None if _absent(value) else Path(value)


def _optional_text(value: Any) -> str | None:
    return None if _absent(value) else str(value)


def _optional_int(value: Any, option: str) -> int | None:
    return None if _absent(value) else _number(value, int, option)


def _number(value: Any, kind: type[int] | type[float], option: str) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a number, not {value!r}") from None


def _profile(name_or_path: str) -> BehaviourProfile:
    try:
        return load_profile(name_or_path)
    except ProfileError as exc:
        raise ConfigError(f"--device-profile: {exc}") from None


def _document(path: Path | None) -> str:
    if path is None:
        return DEFAULT_DOCUMENT
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--job-document {path}: {exc.strerror}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ConfigError(
            f"--job-document {path}: {len(data)} bytes, more than AWS's {MAX_DOCUMENT_BYTES}"
        )
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--job-document {path}: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"--job-document {path}: a job document is a JSON object")
    return data.decode()
