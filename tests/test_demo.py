"""`make demo` keeps working: a small fleet runs one job to the end on the real emulator."""

from pathlib import Path

import pytest

from simfleet.demo import main


def test_demo_runs_a_job_to_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--devices", "12", "--fleet-dir", str(tmp_path / "fleet"), "--fail-rate", "0.25"])
        == 0
    )
    out = capsys.readouterr().out
    assert "12 devices connected over mutual TLS" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("job demo-1: 12 executions, ")
    assert "0 pending" in summary
