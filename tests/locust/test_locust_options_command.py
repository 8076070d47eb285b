"""`simfleet locust-options` shows the options `locust -f ... --help` cannot (locust#2917)."""

import subprocess
import sys


def test_locust_options_lists_locust_and_simfleet_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simfleet.cli", "locust-options"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for option in ("--headless", "--users", "--fleet-dir", "--device-profile", "--jobs-host",
                   "--job-rate", "--stop-when-done", "--gate-success-ratio", "--job-report",
                   "--soak-hold", "--soak-storm-fraction"):  # fmt: skip
        assert option in result.stdout, option
