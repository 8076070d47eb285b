"""The run's options: registered like Locust's own, and RunConfig built and checked from them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import configargparse  # type: ignore[import-untyped]
import pytest

from simfleet.device.presets import FAST
from simfleet.locust.errors import ConfigError
from simfleet.locust.operator import DEFAULT_DOCUMENT
from simfleet.locust.options import DEFAULT_FLEET_DIR, Endpoint, RunConfig, add_options

NOW = datetime(2025, 5, 1, 12, 30, 5, tzinfo=UTC)


class LocustLikeParser(configargparse.ArgumentParser):  # type: ignore[misc]
    """What Locust's parser adds to configargparse's: the web UI keywords (dropped here)."""

    def __init__(self) -> None:
        self.in_web_ui: dict[str, bool] = {}
        super().__init__(default_config_files=[])
        self.add_argument("-H", "--host")

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        shown = kwargs.pop("include_in_web_ui", True)
        action = super().add_argument(*args, **kwargs)
        self.in_web_ui[action.dest] = shown
        return action


def _parse(*argv: str, config_file: Path | None = None) -> Any:
    parser = LocustLikeParser()
    add_options(parser)
    args = list(argv) if config_file is None else ["--config", str(config_file), *argv]
    if config_file is not None:
        parser.add_argument("--config", is_config_file=True)
    return parser.parse_args(args)


def _config(*argv: str) -> RunConfig:
    return RunConfig.from_options(_parse(*argv), now=NOW)


def test_defaults_are_the_embedded_emulator_and_one_job() -> None:
    config = _config()
    assert config.embedded
    assert config.fleet_dir == DEFAULT_FLEET_DIR
    assert config.profile.name == "default"
    assert config.start_delay == 5.0
    plan = config.plan
    assert (plan.prefix, plan.count, plan.per_minute) == ("simfleet-20250501-123005", 1, 0.0)
    assert plan.document == DEFAULT_DOCUMENT
    assert plan.rollout_max_per_minute is None
    assert not plan.stop_when_done


def test_every_option_is_read(tmp_path: Path) -> None:
    document = tmp_path / "doc.json"
    document.write_text(json.dumps({"operation": "reboot"}))
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    config = _config(
        "--host", "mqtts://iot.example.com", "--jobs-host", "https://jobs.example.com:9443",
        "--fleet-dir", str(tmp_path), "--api-url", "https://api.example.com",
        "--region", "eu-west-1", "--ca-file", str(ca), "--mqtt-alpn", "--thing-group", "g",
        "--device-profile", "fast", "--start-delay", "0.5", "--job-count", "3",
        "--job-rate", "30", "--job-document", str(document), "--job-prefix", "demo",
        "--rollout-max-per-minute", "100", "--stop-when-done", "--fleet-size", "7",
    )  # fmt: skip
    assert _config("--emulator-quotas", "off").emulator_quotas == "off"
    assert config.mqtt == Endpoint(host="iot.example.com", port=8883)
    assert config.jobs == Endpoint(host="jobs.example.com", port=9443)
    assert (config.fleet_dir, config.ca_file, config.fleet_size) == (tmp_path, ca, 7)
    assert (config.api_url, config.region, config.thing_group) == (
        "https://api.example.com", "eu-west-1", "g"
    )  # fmt: skip
    assert config.mqtt_alpn
    assert config.profile == FAST
    assert config.start_delay == 0.5
    plan = config.plan
    assert (plan.prefix, plan.count, plan.per_minute, plan.rollout_max_per_minute) == (
        "demo", 3, 30.0, 100
    )  # fmt: skip
    assert json.loads(plan.document) == {"operation": "reboot"}
    assert plan.stop_when_done


def test_options_come_from_a_config_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "locust.conf"
    conf.write_text("device-profile = fast\njob-count = 4\nstop-when-done = true\n")
    monkeypatch.setenv("LOCUST_JOB_RATE", "12")
    options = _parse(config_file=conf)
    config = RunConfig.from_options(options, now=NOW)
    assert (config.profile.name, config.plan.count, config.plan.per_minute) == ("fast", 4, 12.0)
    assert config.plan.stop_when_done


def test_start_up_options_stay_out_of_the_web_ui() -> None:
    parser = LocustLikeParser()
    add_options(parser)
    shown = {dest for dest, visible in parser.in_web_ui.items() if visible} - {"help", "host"}
    assert shown == {
        "device_profile", "start_delay", "job_count", "job_rate", "job_document",
        "job_prefix", "rollout_max_per_minute", "stop_when_done",
    }  # fmt: skip


def test_a_new_test_reads_the_web_ui_options_only() -> None:
    config = _config("--host", "mqtts://x", "--fleet-dir", "f", "--job-prefix", "first")
    options = _parse()  # what the web UI leaves: its host field holds the endpoint it showed
    options.host = "whatever the form said"
    options.device_profile = "fast"
    options.job_count = "3"
    later = config.for_test(options, now=NOW)
    assert (later.mqtt, later.fleet_dir) == (config.mqtt, config.fleet_dir)
    assert later.profile == FAST
    assert (later.plan.prefix, later.plan.count) == ("simfleet-20250501-123005", 3)


def test_blank_web_ui_values_mean_absent() -> None:
    options = _parse()
    options.rollout_max_per_minute = ""  # what the web UI sends for a field left empty
    options.job_document = ""
    options.start_delay = "2"  # and a number typed there, as text
    config = RunConfig.from_options(options, now=NOW)
    assert config.plan.rollout_max_per_minute is None
    assert config.plan.document == DEFAULT_DOCUMENT
    assert config.start_delay == 2.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--host", "tcp://x:1883", "--fleet-dir", "f"], "--host must look like mqtts://HOST",
                     id="host-scheme"),
        pytest.param(["--host", "mqtts://x:99999", "--fleet-dir", "f"], "port is not a number",
                     id="host-port"),
        pytest.param(["--host", "mqtts://x/path", "--fleet-dir", "f"], "--host must look like",
                     id="host-path"),
        pytest.param(["--host", "mqtts://x"], "--host needs --fleet-dir", id="host-no-fleet"),
        pytest.param(["--jobs-host", "https://j"], "--jobs-host needs --host", id="jobs-alone"),
        pytest.param(["--host", "mqtts://x", "--fleet-dir", "f", "--emulator-quotas", "off"],
                     "--emulator-quotas is for the embedded emulator", id="quotas-external"),
        pytest.param(["--host", "mqtts://x", "--fleet-dir", "f", "--jobs-host", "http://j"],
                     "--jobs-host must look like https://", id="jobs-scheme"),
        pytest.param(["--ca-file", "/no/such/ca.pem"], "--ca-file /no/such/ca.pem: no such file",
                     id="ca-missing"),
        pytest.param(["--device-profile", "nonsense"],
                     "--device-profile: nonsense: neither a preset", id="profile-unknown"),
        pytest.param(["--start-delay", "-1"], "--start-delay must not be negative", id="delay"),
        pytest.param(["--job-count", "0"], "--job-count must be at least 1", id="job-count"),
        pytest.param(["--job-rate", "-2"], "--job-rate must not be negative", id="job-rate"),
        pytest.param(["--rollout-max-per-minute", "1001"], "must be 1-1000", id="rollout-high"),
        pytest.param(["--rollout-max-per-minute", "0"], "must be 1-1000", id="rollout-zero"),
        pytest.param(["--job-prefix", "bad prefix"], "--job-prefix 'bad prefix'", id="prefix"),
        pytest.param(["--job-prefix", "x" * 55], "a prefix is 1-54", id="prefix-long"),
        pytest.param(["--fleet-size", "0"], "--fleet-size must be at least 1", id="fleet-size"),
        pytest.param(["--job-document", "/no/such.json"], "--job-document /no/such.json: No such",
                     id="document-missing"),
    ],
)  # fmt: skip
def test_bad_options_are_one_clear_error(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=_literal(message)):
        _config(*argv)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "not JSON", id="not-json"),
        pytest.param(b"[1, 2]", "a job document is a JSON object", id="not-object"),
        pytest.param(b'{"a": "' + b"x" * 32768 + b'"}', "more than AWS's 32768", id="too-big"),
        pytest.param(b"\xff\xfe", "not JSON", id="not-utf8"),
    ],
)
def test_bad_job_documents(tmp_path: Path, content: bytes, message: str) -> None:
    document = tmp_path / "doc.json"
    document.write_bytes(content)
    with pytest.raises(ConfigError, match=_literal(message)):
        _config("--job-document", str(document))


def test_a_malformed_profile_file_names_the_key(tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('base = "fast"\nfailed_probability = 2\n')
    with pytest.raises(ConfigError, match=r"--device-profile: .*bad\.toml: failed_probability"):
        _config("--device-profile", str(profile))


EXTERNAL = ("--host", "mqtts://x", "--fleet-dir", "f")


@pytest.mark.parametrize(
    ("argv", "scenario", "result"),
    [
        pytest.param((), {"device_users": 20, "https": True, "operator": True}, 20,
                     id="embedded-sized-by-users"),
        pytest.param(("--fleet-size", "50"), {"device_users": 20, "https": False, "operator": True},
                     50, id="embedded-fleet-size-wins"),
        pytest.param(("--fleet-size", "10"), {"device_users": 20, "https": False, "operator": True},
                     "--fleet-size 10 is smaller than the run's 20 device users",
                     id="fleet-size-too-small"),
        pytest.param((), {"device_users": None, "https": False, "operator": True},
                     "give -u", id="embedded-needs-a-size"),
        pytest.param((), {"device_users": 0, "https": False, "operator": True},
                     "give -u", id="embedded-only-the-operator"),
        pytest.param(EXTERNAL, {"device_users": 5, "https": True, "operator": False},
                     "HTTPS devices need --jobs-host", id="external-https-without-jobs-host"),
        pytest.param(EXTERNAL, {"device_users": 5, "https": False, "operator": True},
                     "needs --thing-group", id="external-operator-without-group"),
        pytest.param((*EXTERNAL, "--thing-group", "g"),
                     {"device_users": 5, "https": False, "operator": True}, 5, id="external-ok"),
        pytest.param(EXTERNAL, {"device_users": None, "https": False, "operator": False}, 1,
                     id="external-web-ui"),
    ],
)  # fmt: skip
def test_check_scenario(argv: tuple[str, ...], scenario: dict[str, Any], result: int | str) -> None:
    config = _config(*argv)
    if isinstance(result, int):
        assert config.check_scenario(**scenario) == result
    else:
        with pytest.raises(ConfigError, match=result):
            config.check_scenario(**scenario)


def _literal(text: str) -> str:
    """A regex matching `text` literally, except that `.*` stays a wildcard."""
    return ".*".join(re.escape(part) for part in text.split(".*"))
