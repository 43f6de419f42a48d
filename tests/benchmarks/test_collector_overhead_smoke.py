"""Smoke test: the collector overhead benchmark runs end to end on tiny sizes (nothing timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import collector_overhead


def test_quick_run_writes_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    out = tmp_path / "collector_overhead.json"
    assert collector_overhead.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["targets"]) == {
        "cpu_per_event_ratio",
        "ttft_error_p50_ms",
        "start_lag_p99_ms_at_64",
    }
    assert result["clock"]["shared"] is True  # CLOCK_MONOTONIC on both sides (Linux)
    assert result["concurrency"]["runs"][0]["calls_ok"] == result["concurrency"]["runs"][0]["calls"]
    assert result["cpu_per_event"]["cpu_us_per_event_median"]["collector"] > 0
    assert "hostname" not in json.dumps(result["machine"])
    assert "start lag p99" in capsys.readouterr().out
