"""history: per (system, signature) series with change points marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakeoff.timefmt import parse_utc_us
from publisher.archive.history import build_history, recent_changes
from publisher.frontend.tables import HISTORY as HISTORY_COLUMNS


def cell(
    run: int,
    ttft: float = 100.0,
    total: float = 500.0,
    tps: float = 100.0,
    *,
    system: str = "sys-a",
    signature: str = "sig-1",
    success: float = 1.0,
    n: int = 10,
    phase: str = "warm",
) -> dict[str, Any]:
    """One row of the cells table (only the columns history reads, plus a few)."""
    return {
        "system_id": system,
        "signature": signature,
        "workload_key": "wk",
        "workload_id": "P-EASY",
        "concurrency": 1,
        "engine": "llamacpp",
        "engine_version": "b1",
        "model": "m.gguf",
        "model_digest": "d" * 64,
        "hardware_class": "cpu",
        "run_id": f"2026010{run}T000000Z-0000000{run}",
        "cell_id": f"host:llamacpp:m.gguf#{run}",
        "started_at": parse_utc_us(f"2026-01-0{run}T00:00:00Z"),
        "phase": phase,
        "n": n,
        "ttft_p50_ms": ttft,
        "total_p50_ms": total,
        "tokens_per_sec_mean": tps,
        "success_rate": success,
    }


def test_regression_then_recovery_stays_visible() -> None:
    rows = [
        cell(3, ttft=100.0),  # recovery (given out of order on purpose)
        cell(1, ttft=100.0),
        cell(2, ttft=140.0, total=700.0),
        cell(4, ttft=105.0),
    ]
    hist = build_history(rows)
    assert [h["seq"] for h in hist] == [0, 1, 2, 3]
    assert [h["change"] for h in hist] == ["none", "regression", "improvement", "none"]
    reg, rec = hist[1], hist[2]
    assert reg["ttft_p50_ratio"] == pytest.approx(1.4)
    assert reg["previous_run_id"] == hist[0]["run_id"]
    assert "TTFT p50 +40%" in reg["change_detail"] and "total p50 +40%" in reg["change_detail"]
    # -28.6% is under the 30% threshold, but it undoes the regression: a recovery
    assert rec["ttft_p50_ratio"] == pytest.approx(100 / 140)
    assert rec["change_detail"] == "TTFT p50 -29% (recovered); total p50 -29% (recovered)"
    assert rec["total_p50_ratio"] == pytest.approx(500 / 700)


def test_partial_recovery_is_not_marked() -> None:
    hist = build_history([cell(1), cell(2, ttft=150.0), cell(3, ttft=135.0), cell(4, ttft=120.0)])
    # 135 is still ≥ 30% above the pre-regression 100; 120 is back within tolerance
    assert [h["change"] for h in hist] == ["none", "regression", "none", "improvement"]
    assert hist[3]["change_detail"] == "TTFT p50 -11% (recovered)"
    assert set(hist[0]) == {name for name, _ in HISTORY_COLUMNS}


def test_recovery_beyond_threshold_is_an_improvement_point() -> None:
    hist = build_history([cell(1, ttft=100.0), cell(2, ttft=200.0), cell(3, ttft=100.0)])
    assert [h["change"] for h in hist] == ["none", "regression", "improvement"]
    assert hist[2]["change_detail"] == "TTFT p50 -50% (recovered)"


def test_throughput_drop_and_success_rate_floor() -> None:
    hist = build_history(
        [
            cell(1, tps=100.0),
            cell(2, tps=65.0),
            cell(3, tps=66.0, success=0.9),
            cell(4, tps=66.0, success=1.0),
        ]
    )
    assert [h["change"] for h in hist] == ["none", "regression", "regression", "improvement"]
    assert hist[1]["change_detail"] == "tokens/s mean -35%"
    assert hist[2]["change_detail"] == "success rate 100% → 90%"
    assert hist[3]["change_detail"] == "success rate 90% → 100%"


def test_mixed_change_counts_as_regression_and_lists_both() -> None:
    (_, mixed) = build_history([cell(1), cell(2, ttft=60.0, tps=60.0)])
    assert mixed["change"] == "regression"
    assert mixed["change_detail"] == "tokens/s mean -40%; TTFT p50 -40%"


def test_series_are_per_system_and_signature_and_warm_only() -> None:
    rows = [
        cell(1, system="sys-a"),
        cell(2, ttft=200.0, system="sys-b"),  # another host: its own series, no change
        cell(2, ttft=200.0, signature="sig-2"),  # another workload/model: its own series
        cell(2, ttft=900.0, phase="cold"),  # cold rows are not history
    ]
    hist = build_history(rows)
    assert [(h["system_id"], h["signature"], h["seq"], h["change"]) for h in hist] == [
        ("sys-a", "sig-1", 0, "none"),
        ("sys-a", "sig-2", 0, "none"),
        ("sys-b", "sig-1", 0, "none"),
    ]


def test_low_n_is_marked_and_thresholds_are_inclusive() -> None:
    hist = build_history([cell(1, n=3), cell(2, ttft=130.0, n=3), cell(3, ttft=168.0)])
    assert [h["low_n"] for h in hist] == [False, True, True]
    assert hist[1]["change"] == "regression"  # exactly +30%
    assert hist[2]["change"] == "none"  # +29.2%


def test_recent_changes_newest_first() -> None:
    hist = build_history([cell(1), cell(2, ttft=140.0), cell(3), cell(4)])
    assert [r["run_id"][:9] for r in recent_changes(hist)] == ["20260103T", "20260102T"]
    assert recent_changes(hist, limit=1)[0]["change"] == "improvement"


def test_publish_exports_the_history_table(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from publisher import publish as pipeline
    from tests.publisher.test_compare import lognormal, write_run

    runs = tmp_path / "runs"
    system = "11111111-2222-4333-8444-555555555555"
    write_run(runs, lognormal(1, 100, 0.1, 6), [400.0] * 6, day=0, system_id=system)
    # Another seed (a run of its own: a copy with the same run_uuid is refused) that measures
    # the same cells (seeds equal modulo 12).
    write_run(
        runs,
        [x * 1.4 for x in lognormal(2, 100, 0.1, 6)],
        [560.0] * 6,
        seed=12,
        day=1,
        system_id=system,
    )
    config = pipeline.PublishConfig(runs, tmp_path / "out", tmp_path / "catalogue.json", None, True)
    pipeline.publish(config)
    rows = pq.read_table(tmp_path / "out" / "exports" / "history.parquet").to_pylist()
    assert [(r["seq"], r["change"]) for r in rows] == [(0, "none"), (1, "regression")]
    assert [name for name, _ in HISTORY_COLUMNS] == list(rows[0])
