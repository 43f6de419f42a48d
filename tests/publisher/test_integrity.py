"""Archive integrity: only comparable, real results rank, a run is counted once, and every row
says whose it is."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from publisher import publish as pipeline
from publisher.compare import CompareRequest, run_compare
from publisher.errors import CompareError, RunsInvalidError
from publisher.frontend.compile import Options, compile_run
from tests.synthetic import make_run

SYSTEM = "11111111-2222-4333-8444-555555555555"


def config(root: Path, runs: Path) -> pipeline.PublishConfig:
    return pipeline.PublishConfig(runs, root / "out", root / "catalogue.json", None, True)


def ranked(root: Path) -> dict[str, object]:
    """What ranks and compares: the leaderboard view, the history table, the change list."""
    exports = root / "out" / "exports"
    con = duckdb.connect(str(exports / "bakeoff.duckdb"), read_only=True)
    try:
        board = sorted(con.execute("SELECT * FROM leaderboard").fetchall(), key=repr)
    finally:
        con.close()
    history = pq.read_table(exports / "history.parquet").to_pylist()
    changes = [(h["run_id"], h["change"]) for h in history if h["change"] != "none"]
    return {"leaderboard": board, "history": history, "changes": changes}


def real_runs(runs: Path) -> list[Path]:
    """Three runs of one system, a day apart; seeds equal modulo 12 measure the same cells."""
    return [
        make_run(
            runs,
            seed=1 + 12 * i,
            system_id=SYSTEM,
            profile="rtx4090",
            started_at=datetime(2026, 3, day, tzinfo=UTC),
        )
        for i, day in enumerate((1, 2, 3))
    ]


def _as_older_collectors_wrote_it(run: Path) -> None:
    """Their smoke call was recorded as warm (and config.cold false): it ranked."""
    md = json.loads((run / "metadata.json").read_text())
    md["config"]["cold"] = False
    (run / "metadata.json").write_text(json.dumps(md))
    lines = [json.loads(x) for x in (run / "run.jsonl").read_text().splitlines()]
    for rec in lines:
        if rec["type"] == "call":
            rec.update(phase="warm", cold_kind=None)
    (run / "run.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.parametrize("older", [False, True], ids=["cold smoke call", "warm smoke call"])
def test_a_smoke_run_leaves_rankings_history_and_previous_as_they_were(
    tmp_path: Path, older: bool
) -> None:
    runs = tmp_path / "runs"
    real = real_runs(runs)
    pipeline.publish(config(tmp_path, runs))
    before = ranked(tmp_path)
    assert before["leaderboard"] and before["history"]
    smoke = make_run(
        runs,
        seed=37,
        system_id=SYSTEM,
        profile="rtx4090",
        started_at=datetime(2026, 3, 4, tzinfo=UTC),
        mode="smoke",
    )
    if older:
        _as_older_collectors_wrote_it(smoke)
    report = pipeline.publish(config(tmp_path, runs))
    assert report.runs == 4  # kept and browsable …
    assert ranked(tmp_path) == before  # … but it ranks nowhere
    catalogue = json.loads((tmp_path / "catalogue.json").read_text())
    entry = next(r for r in catalogue["runs"] if r["run_id"] == smoke.name)
    assert entry["comparable"] is False and "smoke" in entry["comparable_reason"]
    cells = pq.read_table(tmp_path / "out" / "exports" / "cells.parquet").to_pylist()
    assert {c["comparable"] for c in cells if c["run_id"] == smoke.name} == {False}
    phases = {c["phase"] for c in cells if c["run_id"] == smoke.name}
    assert phases == ({"warm"} if older else {"cold"})
    # `compare previous` passes over it, and refuses to compare it.
    later = make_run(
        tmp_path / "pr",
        seed=49,
        system_id=SYSTEM,
        profile="rtx4090",
        started_at=datetime(2026, 3, 5, tzinfo=UTC),
    )
    report_ = run_compare(
        CompareRequest(("previous", str(later)), runs_dir=runs, allow_synthetic=True)
    )
    assert report_["config"]["baseline"]["run_id"] == real[-1].name
    with pytest.raises(CompareError, match="not comparable"):
        run_compare(CompareRequest((str(real[0]), str(smoke)), allow_synthetic=True))


def test_a_run_that_measured_nothing_is_not_published(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    real_runs(runs)
    pipeline.publish(config(tmp_path, runs))
    before = ranked(tmp_path)
    catalogue = (tmp_path / "catalogue.json").read_bytes()
    empty = make_run(runs, seed=9, mode="empty")
    warning = compile_run(empty, Options(allow_synthetic=True)).findings
    assert [(f.code, f.severity) for f in warning] == [("publication.no_calls", "warning")]
    assert "every planned cell was skipped" in warning[0].message
    with pytest.raises(RunsInvalidError) as info:
        pipeline.publish(config(tmp_path, runs))
    errors = [f for f in info.value.findings if f.severity == "error"]
    assert [(f.code, f.run_id) for f in errors] == [("publication.no_calls", empty.name)]
    assert "run.log" in errors[0].hint  # says where to look
    assert ranked(tmp_path) == before
    assert (tmp_path / "catalogue.json").read_bytes() == catalogue


def _duplicate(run: Path, new_id: str) -> Path:
    copy = run.with_name(new_id)
    shutil.copytree(run, copy)
    md = json.loads((copy / "metadata.json").read_text())
    md["run_id"] = new_id
    (copy / "metadata.json").write_text(json.dumps(md))
    lines = (copy / "run.jsonl").read_text().splitlines()
    meta = json.loads(lines[0])
    meta["run_id"] = new_id
    lines[0] = json.dumps(meta)
    (copy / "run.jsonl").write_text("\n".join(lines) + "\n")
    return copy


def test_the_same_run_under_a_second_run_id_is_refused_naming_both(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    real = real_runs(runs)
    pipeline.publish(config(tmp_path, runs))
    before = ranked(tmp_path)
    copy = _duplicate(real[0], "20260309T000000Z-0badc0de")
    alone = compile_run(copy, Options(allow_synthetic=True))
    assert alone.ok  # on its own the copy is a fine run: the archive is what has it twice
    with pytest.raises(RunsInvalidError) as info:
        pipeline.publish(config(tmp_path, runs))
    dup = [f for f in info.value.findings if f.code == "consistency.duplicate_run"]
    assert {f.run_id for f in dup} == {real[0].name, copy.name}
    assert all(real[0].name in f.message or copy.name in f.message for f in dup)
    artifacts = pipeline.validate_paths([real[0], copy], Options(allow_synthetic=True))
    assert all(not a.ok for a in artifacts)  # `bakeoff validate DIR DIR` says the same
    assert ranked(tmp_path) == before


def test_a_smoke_run_claiming_to_be_comparable_is_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=2, mode="smoke")
    md = json.loads((run / "metadata.json").read_text())
    md["comparable"], md["comparable_reason"] = True, None
    (run / "metadata.json").write_text(json.dumps(md))
    codes = {f.code for f in compile_run(run, Options(allow_synthetic=True)).findings}
    assert "consistency.comparable" in codes


def test_two_machines_of_one_hardware_class_have_distinct_labels(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    a = make_run(runs, seed=4, profile="pi5", system_id="aaaaaaaa-0000-4000-8000-000000000001")
    b = make_run(runs, seed=4 + 12, profile="pi5", system_id="bbbbbbbb-0000-4000-8000-000000000002")
    pipeline.publish(config(tmp_path, runs))
    exports = tmp_path / "out" / "exports"
    systems = pq.read_table(exports / "system_hardware.parquet").to_pylist()
    assert len({s["hardware_class"] for s in systems}) == 1
    assert len({s["system_label"] for s in systems}) == 2
    cells = pq.read_table(exports / "cells.parquet").to_pylist()
    labels = {c["run_id"]: c["system_label"] for c in cells}
    assert labels[a.name] != labels[b.name]
    assert labels[a.name].endswith("aaaaaaaa") and labels[b.name].endswith("bbbbbbbb")
    con = duckdb.connect(str(exports / "bakeoff.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT hardware_class, system_label, engine, model, workload_key FROM leaderboard"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(set(rows))  # no two rows look alike
