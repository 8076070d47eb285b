"""The options of the SLO gates and of the job report, and the typed configs built from them.

Registered on Locust's parser (`init_command_line_parser`), so each is also a `locust.conf` key
(`gate-success-ratio = 0.95`) and a `LOCUST_*` environment variable
(`LOCUST_GATE_SUCCESS_RATIO=0.95`). Values are read as text and checked here, whatever their
source, so that every bad value gets the same one-line message and exit status 1 (argparse's
own type errors would exit 2 with a usage text). Every gate is off unless set. They are
start-up options in argument groups of their own, which the web UI does not show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simfleet.locust.errors import ConfigError
from simfleet.locust.gates import GateConfig
from simfleet.locust.report import DEFAULT_INTERVAL, ReportConfig

_EXAMPLE = "RequestThrottled=0.01,VersionMismatch=0,total=0.05"


def add_options(parser: Any, **_: Any) -> None:
    """Register the options: a listener of Locust's `init_command_line_parser` event."""
    gates = parser.add_argument_group(
        "SLO gates", "checked when the run ends; a breach exits with status 3 (all off unless set)"
    )
    gates.add_argument(
        "--gate-success-ratio", metavar="RATIO", env_var="LOCUST_GATE_SUCCESS_RATIO",
        help="least share of the run's terminal executions that SUCCEEDED (0-1)",
    )  # fmt: skip
    gates.add_argument(
        "--gate-p95-queued-to-terminal", metavar="SECONDS",
        env_var="LOCUST_GATE_P95_QUEUED_TO_TERMINAL",
        help="most seconds the 95th percentile of `queued to terminal` may take",
    )  # fmt: skip
    gates.add_argument(
        "--gate-connect-failure-ratio", metavar="RATIO",
        env_var="LOCUST_GATE_CONNECT_FAILURE_RATIO",
        help="most share of MQTT/HTTPS connect attempts that may fail (0-1)",
    )  # fmt: skip
    gates.add_argument(
        "--gate-rejections", metavar="CODE=RATIO,...", env_var="LOCUST_GATE_REJECTIONS",
        help="most share of Jobs requests rejected with each AWS error code, `total` for any "
        f"code (e.g. {_EXAMPLE})",
    )  # fmt: skip
    gates.add_argument(
        "--gate-non-terminal", metavar="COUNT", env_var="LOCUST_GATE_NON_TERMINAL",
        help="most executions of the run's jobs left QUEUED or IN_PROGRESS at the end",
    )  # fmt: skip
    report = parser.add_argument_group("Job report")
    report.add_argument(
        "--job-report", metavar="PATH", env_var="LOCUST_JOB_REPORT",
        help="write the job report (HTML, self-contained) to PATH (default with --html "
        "NAME.html: NAME-jobs.html next to it)",
    )  # fmt: skip
    report.add_argument(
        "--job-report-json", metavar="PATH", env_var="LOCUST_JOB_REPORT_JSON",
        help="write the gates and job figures as JSON to PATH (default: next to the HTML job "
        "report, with .json)",
    )  # fmt: skip
    report.add_argument(
        "--job-report-interval", metavar="SECONDS", env_var="LOCUST_JOB_REPORT_INTERVAL",
        help="seconds between two samples of the jobs' status (DescribeJob) and of the "
        f"embedded emulator's counters (default: {DEFAULT_INTERVAL:g})",
    )  # fmt: skip


def gate_config(options: Any) -> GateConfig:
    """The gates of Locust's parsed options; ConfigError names the option."""
    return GateConfig(
        success_ratio=_float(options.gate_success_ratio, "--gate-success-ratio"),
        p95_queued_to_terminal=_float(
            options.gate_p95_queued_to_terminal, "--gate-p95-queued-to-terminal"
        ),
        connect_failure_ratio=_float(
            options.gate_connect_failure_ratio, "--gate-connect-failure-ratio"
        ),
        rejections=parse_rejections(options.gate_rejections),
        non_terminal=_int(options.gate_non_terminal, "--gate-non-terminal"),
    )


def report_config(options: Any) -> ReportConfig:
    """Where the job report goes (the default paths depend on Locust's --html, see
    ReportConfig.paths)."""
    interval = _float(options.job_report_interval, "--job-report-interval")
    return ReportConfig(
        html=_path(options.job_report),
        json=_path(options.job_report_json),
        interval=DEFAULT_INTERVAL if interval is None else interval,
    )


def parse_rejections(value: Any) -> dict[str, float]:
    """`CODE=RATIO[,CODE=RATIO...]` -> {code: ratio}; codes are checked by GateConfig."""
    if _absent(value):
        return {}
    limits: dict[str, float] = {}
    for item in str(value).split(","):
        code, equals, ratio = (part.strip() for part in item.partition("="))
        if not equals or not code or not ratio:
            raise ConfigError(
                f"--gate-rejections {value!r}: each item is CODE=RATIO (e.g. {_EXAMPLE})"
            )
        if code in limits:
            raise ConfigError(f"--gate-rejections {value!r}: {code} is given twice")
        number = _float(ratio, f"--gate-rejections {code}")
        assert number is not None  # not absent: checked above
        limits[code] = number
    return limits


def _absent(value: Any) -> bool:
    """None, or the empty string an unset environment variable or conf key may give."""
    return value is None or (isinstance(value, str) and not value.strip())


def _float(value: Any, option: str) -> float | None:
    if _absent(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a number, not {value!r}") from None


def _int(value: Any, option: str) -> int | None:
    if _absent(value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a whole number, not {value!r}") from None


def _path(value: Any) -> Path | None:
    return None if _absent(value) else Path(value)
