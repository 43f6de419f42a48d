"""publish end to end: tables, determinism, incremental cache, atomicity, refusal."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from publisher import pipeline
from publisher.errors import ExportError, RunsInvalidError, StaleCatalogueError
from publisher.tables import TABLE_NAMES, columns
from tests.synthetic import make_run


def config(root: Path, runs: Path, site: bool = False) -> pipeline.PublishConfig:
    return pipeline.PublishConfig(
        runs_dir=runs,
        out_dir=root / "out",
        catalogue_path=root / "catalogue.json",
        site_dir=root / "site" / "generated" if site else None,
        allow_synthetic=True,
    )


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.suffix in (".parquet", ".json")
    }


def test_publish_writes_every_table(tmp_path: Path, archive: Path) -> None:
    logs: list[str] = []
    report = pipeline.publish(config(tmp_path, archive), logs.append)
    exports = tmp_path / "out" / "exports"
    assert report.runs == 4
    assert [line.split(":")[0] for line in logs if line.startswith("step")] == [
        f"step {i}/6 {name}"
        for i, name in enumerate(["load", "validate", "dedup", "catalogue", "export"], 1)
    ]
    for name in TABLE_NAMES:
        table = pq.read_table(exports / f"{name}.parquet")
        assert table.column_names == [c for c, _ in columns(name)], name
        assert table.schema.field(0).name
    assert pq.read_metadata(exports / "calls.parquet").row_group(0).column(0).compression == "ZSTD"
    manifest = json.loads((exports / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert hashlib.sha256((exports / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["rows"]["runs"] == 4
    assert manifest["rows"]["interface_type"] >= 10
    catalogue = json.loads((tmp_path / "catalogue.json").read_text())
    kinds = {r["completeness"] for r in catalogue["runs"]}
    assert kinds == {"complete", "meta-only"}
    meta_only = next(r["run_id"] for r in catalogue["runs"] if r["completeness"] == "meta-only")
    calls = pq.read_table(exports / "calls.parquet").to_pylist()
    assert meta_only not in {c["run_id"] for c in calls}
    assert meta_only in {r["run_id"] for r in pq.read_table(exports / "runs.parquet").to_pylist()}


def test_duckdb_tables_and_views(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    con = duckdb.connect(str(tmp_path / "out" / "exports" / "bakeoff.duckdb"), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == set(TABLE_NAMES)
        n_calls = con.execute("SELECT count(*) FROM calls").fetchone()
        n_parquet = pq.read_metadata(tmp_path / "out" / "exports" / "calls.parquet").num_rows
        assert n_calls == (n_parquet,)
        rows = con.execute("SELECT runs, tokens_per_sec FROM leaderboard").fetchall()
        assert rows and all(r[0] >= 1 for r in rows)
        assert con.execute("SELECT count(*) FROM run_systems").fetchone() == (4,)
        assert con.execute("SELECT count(*) FROM warm_cells WHERE phase <> 'warm'").fetchone() == (
            0,
        )
    finally:
        con.close()


def test_republish_is_byte_identical(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    first = hashes(tmp_path / "out" / "exports")
    catalogue = (tmp_path / "catalogue.json").read_bytes()
    shutil.rmtree(tmp_path / "out")  # no cache: a full rebuild
    pipeline.publish(config(tmp_path, archive))
    second = hashes(tmp_path / "out" / "exports")
    first.pop("manifest.json")  # it also lists the DuckDB file, whose bytes may vary
    second.pop("manifest.json")
    assert first == second
    assert len(first) == len(TABLE_NAMES)
    assert (tmp_path / "catalogue.json").read_bytes() == catalogue
    third = pipeline.publish(config(tmp_path, archive))  # from cache: same bytes again
    assert third.cached == 4
    assert {
        k: v for k, v in hashes(tmp_path / "out" / "exports").items() if k != "manifest.json"
    } == first


def test_incremental_cache_rebuilds_changed_and_drops_removed(
    tmp_path: Path, archive: Path
) -> None:
    pipeline.publish(config(tmp_path, archive))
    runs = sorted(archive.iterdir())
    shutil.rmtree(runs[0])
    log = runs[1] / "run.log"
    log.write_text(log.read_text() + "one more line\n")
    report = pipeline.publish(config(tmp_path, archive))
    assert (report.runs, report.cached) == (3, 2)
    assert len(list((tmp_path / "out" / ".cache").glob("*.bin"))) == 3
    catalogue = json.loads((tmp_path / "catalogue.json").read_text())
    assert runs[0].name not in {r["run_id"] for r in catalogue["runs"]}


def test_invalid_run_is_refused_and_outputs_untouched(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    before = hashes(tmp_path / "out" / "exports")
    catalogue = (tmp_path / "catalogue.json").read_bytes()
    bad = make_run(archive, seed=40)
    (bad / "run.log").write_text("connected to 192.168.0.12 as alice@workstation\n")
    with pytest.raises(RunsInvalidError) as info:
        pipeline.publish(config(tmp_path, archive))
    assert {f.code for f in info.value.findings} == {"privacy.ip_address", "privacy.user_at_host"}
    assert hashes(tmp_path / "out" / "exports") == before
    assert (tmp_path / "catalogue.json").read_bytes() == catalogue


def test_failure_during_export_leaves_previous_outputs(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.publish(config(tmp_path, archive))
    before = hashes(tmp_path / "out" / "exports")
    catalogue = (tmp_path / "catalogue.json").read_bytes()
    make_run(archive, seed=41)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("publisher.export.write_duckdb", broken)
    with pytest.raises(OSError, match="disk full"):
        pipeline.publish(config(tmp_path, archive))
    assert hashes(tmp_path / "out" / "exports") == before
    assert (tmp_path / "catalogue.json").read_bytes() == catalogue
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".staging")]


def test_unreadable_call_store_is_a_clear_error_and_outputs_untouched(
    tmp_path: Path, archive: Path
) -> None:
    pipeline.publish(config(tmp_path, archive))
    before = hashes(tmp_path / "out" / "exports")
    stored = sorted((tmp_path / "out" / ".cache" / "calls").glob("*.arrow"))
    assert len(stored) == 3  # the meta-only run has no calls
    stored[0].write_bytes(b"not an arrow file")  # same name, the run itself unchanged
    with pytest.raises(ExportError, match=r"cannot be read.*publish again"):
        pipeline.publish(config(tmp_path, archive))
    assert hashes(tmp_path / "out" / "exports") == before
    shutil.rmtree(tmp_path / "out" / ".cache")  # what the message says to do
    report = pipeline.publish(config(tmp_path, archive))
    assert (report.runs, report.cached) == (4, 0)
    after = hashes(tmp_path / "out" / "exports")
    after.pop("manifest.json")  # it lists the DuckDB file, whose bytes vary between builds
    before.pop("manifest.json")
    assert after == before


def test_hardware_change_is_reported_and_latest_snapshot_wins(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    sid = "11111111-2222-4333-8444-555555555555"
    from datetime import UTC, datetime

    make_run(
        runs, seed=1, system_id=sid, profile="pi5", started_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    make_run(
        runs, seed=2, system_id=sid, profile="rtx4090", started_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    report = pipeline.publish(config(tmp_path, runs))
    assert len(report.hardware_changes) == 1
    assert "gpus" in report.hardware_changes[0]
    rows = pq.read_table(tmp_path / "out" / "exports" / "system_hardware.parquet").to_pylist()
    assert len(rows) == 1
    assert rows[0]["hardware_class"] == "1x NVIDIA GeForce RTX 4090 24GB"
    assert (rows[0]["runs_count"], rows[0]["hardware_changes"]) == (2, 1)
    software = pq.read_table(tmp_path / "out" / "exports" / "system_software.parquet")
    assert software.num_rows == 2  # one per run, never deduplicated


def test_gpu_specs_are_deduplicated(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, seed=1, profile="a100x2")
    make_run(runs, seed=2, profile="a100x2")
    pipeline.publish(config(tmp_path, runs))
    exports = tmp_path / "out" / "exports"
    assert pq.read_table(exports / "gpu_hardware.parquet").num_rows == 1
    assert pq.read_table(exports / "system_gpu_link.parquet").num_rows == 4


def test_check_detects_stale_catalogue(tmp_path: Path, archive: Path) -> None:
    cfg = config(tmp_path, archive)
    with pytest.raises(StaleCatalogueError, match="stale"):
        pipeline.check_catalogue(cfg)
    pipeline.publish(cfg)
    pipeline.check_catalogue(cfg)
    make_run(archive, seed=77)
    with pytest.raises(StaleCatalogueError):
        pipeline.check_catalogue(cfg)


def test_site_pages_hook_receives_tables(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    class FakePages:
        @staticmethod
        def build_pages(tables: dict[str, Any], catalogue: dict[str, Any], out_dir: Path) -> None:
            seen.update(tables=tables, catalogue=catalogue)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "index.md").write_text("# hi\n")

    real_import = importlib.import_module
    monkeypatch.setattr(
        importlib,
        "import_module",
        lambda name: FakePages if name == "publisher.site.pages" else real_import(name),
    )
    report = pipeline.publish(config(tmp_path, archive, site=True))
    assert report.site == "written"
    assert (tmp_path / "site" / "generated" / "index.md").exists()
    assert set(seen["tables"]) == set(TABLE_NAMES)
    for name, rows in seen["tables"].items():
        for row in rows:
            assert list(row) == [c for c, _ in columns(name)]
    assert seen["catalogue"]["schema_version"] == 1


def test_site_pages_skipped_when_module_missing(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(name: str) -> Any:
        raise ModuleNotFoundError(name=name)

    monkeypatch.setattr(importlib, "import_module", missing)
    logs: list[str] = []
    report = pipeline.publish(config(tmp_path, archive, site=True), logs.append)
    assert report.site == "skipped"
    assert any("site pages: skipped" in line for line in logs)
