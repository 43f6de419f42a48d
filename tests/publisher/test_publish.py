"""publish end to end: tables, determinism, incremental work, cache integrity, atomicity."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from bakeoff import codeid
from publisher import publish as pipeline
from publisher import store
from publisher.errors import OutputError, RunsInvalidError, StaleCatalogueError
from publisher.frontend import tables
from tests.synthetic import make_run


def config(root: Path, runs: Path, site: bool = False, jobs: int = 1) -> pipeline.PublishConfig:
    return pipeline.PublishConfig(
        runs_dir=runs,
        out_dir=root / "out",
        catalogue_path=root / "catalogue.json",
        site_dir=root / "site" / "generated" if site else None,
        allow_synthetic=True,
        jobs=jobs,
    )


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every Parquet and JSON file under ``folder`` (partitions included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.suffix in (".parquet", ".json") and p.name != "manifest.json"
    }


def outputs(root: Path) -> dict[str, str]:
    """Everything a publish replaces, as file hashes (exports, catalogue)."""
    out = {f"exports/{k}": v for k, v in hashes(root / "out" / "exports").items()}
    out["catalogue.json"] = hashlib.sha256((root / "catalogue.json").read_bytes()).hexdigest()
    return out


def test_publish_writes_every_table(tmp_path: Path, archive: Path) -> None:
    logs: list[str] = []
    report = pipeline.publish(config(tmp_path, archive), logs.append)
    exports = tmp_path / "out" / "exports"
    assert report.runs == 4
    steps = ["compile", "validate", "archive", "export", "site pages", "commit"]
    assert [line.split(":")[0] for line in logs if line.startswith("step")] == [
        f"step {i}/6 {name}" for i, name in enumerate(steps, 1)
    ]
    for name in tables.PUBLISHED:
        if name in tables.LARGE:
            table = ds.dataset(exports / name, format="parquet", partitioning="hive").to_table()
            assert table.column_names[:-1] == tables.schema(name).names, name
        else:
            table = pq.read_table(exports / f"{name}.parquet")
            assert table.schema == tables.schema(name), name
    manifest = json.loads((exports / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert hashlib.sha256((exports / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["identity"] == {"parquet": "bytes", "duckdb": "content"}
    assert manifest["rows"]["runs"] == 4
    catalogue = json.loads((tmp_path / "catalogue.json").read_text())
    assert {r["completeness"] for r in catalogue["runs"]} == {"complete", "meta-only"}
    meta_only = next(r["run_id"] for r in catalogue["runs"] if r["completeness"] == "meta-only")
    calls = ds.dataset(exports / "calls", format="parquet", partitioning="hive").to_table()
    assert meta_only not in set(calls.column("run_id").to_pylist())
    first = pq.read_metadata(next((exports / "calls").rglob("*.parquet")))
    assert first.row_group(0).column(0).compression == "ZSTD"


def test_duckdb_tables_and_views(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    exports = tmp_path / "out" / "exports"
    con = duckdb.connect(str(exports / "bakeoff.duckdb"), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert names == set(tables.PUBLISHED)
        n_calls = con.execute("SELECT count(*) FROM calls").fetchone()
        dataset = ds.dataset(exports / "calls", format="parquet", partitioning="hive")
        assert n_calls == (dataset.count_rows(),)
        rows = con.execute("SELECT runs, tokens_per_sec, system_label FROM leaderboard").fetchall()
        assert rows and all(r[0] >= 1 and r[2] for r in rows)
        assert con.execute("SELECT count(*) FROM run_systems").fetchone() == (4,)
        assert con.execute("SELECT count(*) FROM warm_cells WHERE phase <> 'warm'").fetchone() == (
            0,
        )
    finally:
        con.close()


def test_republish_is_byte_identical_warm_or_cold(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    first = outputs(tmp_path)
    again = pipeline.publish(config(tmp_path, archive))  # nothing changed: nothing compiled
    assert again.compiled == 0
    assert outputs(tmp_path) == first
    shutil.rmtree(tmp_path / "out")  # no cache at all: a full rebuild gives the same bytes
    cold = pipeline.publish(config(tmp_path, archive))
    assert cold.compiled == 4
    assert outputs(tmp_path) == first


def test_worker_processes_give_the_same_bytes(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.publish(config(tmp_path / "one", archive))
    for seed in range(4, 8):
        make_run(archive, seed=seed, n_cells=1, calls_per_cell=3)
    pipeline.publish(config(tmp_path / "one", archive))
    monkeypatch.setattr(store, "PARALLEL_FROM", 2)  # force the process pool on this archive
    report = pipeline.publish(config(tmp_path / "two", archive, jobs=2))
    assert report.compiled == 8
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")


def test_adding_a_run_compiles_it_alone_and_keeps_other_partitions(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed, month in ((1, 1), (2, 2), (3, 3)):
        make_run(runs, seed=seed, started_at=datetime(2026, month, 5, tzinfo=UTC))
    pipeline.publish(config(tmp_path, runs))
    exports = tmp_path / "out" / "exports"
    before = {p: p.stat().st_ino for p in exports.rglob("data.parquet")}
    make_run(runs, seed=4, started_at=datetime(2026, 3, 20, tzinfo=UTC))
    logs: list[str] = []
    report = pipeline.publish(config(tmp_path, runs), logs.append)
    assert (report.compiled, report.runs) == (1, 4)
    assert any("(4 partitions unchanged, DuckDB file patched)" in line for line in logs), logs
    after = {p: p.stat().st_ino for p in exports.rglob("data.parquet")}
    changed = sorted(str(p.relative_to(exports)) for p in after if after[p] != before.get(p))
    assert changed == ["calls/month=2026-03/data.parquet", "samples/month=2026-03/data.parquet"]


def test_removed_and_edited_runs_are_recompiled(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    runs = sorted(archive.iterdir())
    shutil.rmtree(runs[0])
    log = runs[1] / "run.log"
    log.write_text(log.read_text() + "one more line\n")
    report = pipeline.publish(config(tmp_path, archive))
    assert (report.runs, report.compiled) == (3, 1)
    artifacts = list((tmp_path / "out" / ".cache" / "artifacts").glob("*.artifact"))
    assert len(artifacts) == 3
    catalogue = json.loads((tmp_path / "catalogue.json").read_text())
    assert runs[0].name not in {r["run_id"] for r in catalogue["runs"]}


def test_an_edit_keeping_size_and_mtime_is_still_seen(tmp_path: Path, archive: Path) -> None:
    """The old cache keyed runs by (size, mtime): this edit was published unchecked."""
    pipeline.publish(config(tmp_path, archive))
    log = sorted(archive.iterdir())[0] / "run.log"
    text = log.read_text()
    st = log.stat()
    private = "connect 10.20.30.40"
    edited = text[: -len(private) - 1] + private + "\n"
    assert len(edited.encode()) == len(text.encode())
    log.write_text(edited)
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    assert (log.stat().st_size, log.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with pytest.raises(RunsInvalidError) as info:
        pipeline.publish(config(tmp_path, archive))
    assert "privacy.ip_address" in {f.code for f in info.value.findings}


def test_a_corrupt_artifact_is_rebuilt(tmp_path: Path, archive: Path) -> None:
    """The old call store failed every later publish on a truncated file."""
    pipeline.publish(config(tmp_path, archive))
    before = outputs(tmp_path)
    folder = tmp_path / "out" / ".cache" / "artifacts"
    victim = sorted(folder.glob("*.artifact"))[0]
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    shutil.rmtree(tmp_path / "out" / ".cache" / "archive")  # the state must read artifacts
    report = pipeline.publish(config(tmp_path, archive))
    assert report.compiled == 1
    assert outputs(tmp_path) == before


def test_swapped_artifacts_are_never_trusted(tmp_path: Path, archive: Path) -> None:
    """The old call store published the wrong calls when two of its files were swapped."""
    pipeline.publish(config(tmp_path, archive))
    before = outputs(tmp_path)
    folder = tmp_path / "out" / ".cache" / "artifacts"
    a, b = sorted(folder.glob("*.artifact"))[:2]
    tmp = folder / "swap"
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    shutil.rmtree(tmp_path / "out" / "exports")  # every partition is rebuilt from artifacts
    pipeline.publish(config(tmp_path, archive))
    assert outputs(tmp_path) == before
    assert all(
        store.ArtifactStore(folder, config(tmp_path, archive).options).get(p.name)
        for p in archive.iterdir()
    )  # compiled again and stored under the right names


def test_code_key_covers_what_compiles_and_nothing_else() -> None:
    """The old cache key listed modules by hand and missed several (samples, bulk, quality…);
    the key now follows the imports of the front end and the store: every module they reach
    is covered, with the schemas and seeds, while site code is not (editing a page template
    must not recompile the archive)."""
    root = Path(store.__file__).resolve().parent.parent
    covered = {p.resolve() for p in store.code_files()}
    expected = set((root / "publisher" / "frontend").glob("*.py"))
    expected |= {root / "publisher" / "store.py", root / "publisher" / "errors.py"}
    expected |= {root / "bakeoff" / m for m in ("quality.py", "stats.py", "timefmt.py")}
    expected |= set((root / "schemas").glob("*.json")) | set((root / "seeds").iterdir())
    assert {p.resolve() for p in expected} <= covered
    assert not any("site" in p.relative_to(root).parts for p in covered)
    assert root / "publisher" / "export.py" not in covered
    assert root / "publisher" / "export.py" in set(store.code_files("publisher.export"))
    assert store.code_key() != store.code_key("publisher.export")


def test_import_closure_follows_function_level_imports() -> None:
    """An import inside a function reaches the key as surely as one at the top."""
    closure = set(codeid.import_closure("publisher.frontend.rules"))
    root = Path(store.__file__).resolve().parent.parent
    source = (root / "publisher" / "frontend" / "rules.py").read_text()
    assert "    from publisher.frontend.efficiency import" in source  # inside a function
    assert root / "publisher" / "frontend" / "efficiency.py" in closure
    assert root / "publisher" / "frontend" / "__init__.py" in closure  # parents run on import
    assert root / "publisher" / "__init__.py" in closure
    assert root / "publisher" / "frontend" / "compile.py" not in closure  # not reached


def test_invalid_run_is_refused_and_outputs_untouched(tmp_path: Path, archive: Path) -> None:
    pipeline.publish(config(tmp_path, archive))
    before = outputs(tmp_path)
    bad = make_run(archive, seed=40)
    (bad / "run.log").write_text("connected to 192.168.0.12 as alice@workstation\n")
    with pytest.raises(RunsInvalidError) as info:
        pipeline.publish(config(tmp_path, archive))
    assert {f.code for f in info.value.findings if f.severity == "error"} == {
        "privacy.ip_address",
        "privacy.user_at_host",
    }
    assert outputs(tmp_path) == before


def test_failed_catalogue_write_changes_nothing(tmp_path: Path, archive: Path) -> None:
    """The old publish swapped the exports before writing catalogue.json: a failed catalogue
    write left 2 runs in the catalogue and 3 in the exports."""
    cfg = config(tmp_path, archive)
    pipeline.publish(cfg)
    before = outputs(tmp_path)
    make_run(archive, seed=41)
    real = os.replace
    failed: list[str] = []

    def failing(src: Any, dst: Any) -> None:
        if str(dst) == str(cfg.catalogue_path) and not failed:  # the swap, not the undo
            failed.append(str(dst))
            raise PermissionError(13, "Permission denied", str(dst))
        real(src, dst)

    monkey = pytest.MonkeyPatch()
    monkey.setattr("publisher.publish.os.replace", failing)
    try:
        with pytest.raises(OutputError, match=r"catalogue\.json"):
            pipeline.publish(cfg)
    finally:
        monkey.undo()
    assert outputs(tmp_path) == before
    leftovers = [p for p in tmp_path.rglob(".*staging*")]
    assert leftovers == []


STAGING_NAME = pipeline.STAGING


def test_a_publish_killed_during_commit_is_rolled_back(tmp_path: Path, archive: Path) -> None:
    cfg = config(tmp_path, archive)
    pipeline.publish(cfg)
    before = outputs(tmp_path)
    make_run(archive, seed=42)
    real = os.replace

    def killed(src: Any, dst: Any) -> None:
        if str(dst) == str(cfg.catalogue_path) and STAGING_NAME in str(src):
            raise KeyboardInterrupt  # the exports are swapped in; the process dies here
        real(src, dst)

    monkey = pytest.MonkeyPatch()
    monkey.setattr("publisher.publish.os.replace", killed)
    try:
        with pytest.raises(KeyboardInterrupt):
            pipeline.publish(cfg)
    finally:
        monkey.undo()
    assert (tmp_path / "out" / pipeline.JOURNAL).exists()
    assert pipeline.recover(cfg)  # what the next publish does first
    assert outputs(tmp_path) == before
    assert not (tmp_path / "out" / pipeline.JOURNAL).exists()
    logs: list[str] = []
    report = pipeline.publish(cfg, logs.append)
    assert report.runs == 5


def test_staging_leftovers_are_removed_at_the_next_start(tmp_path: Path, archive: Path) -> None:
    cfg = config(tmp_path, archive, site=True)
    leftover = tmp_path / "out" / ".exports.staging-99999"
    (leftover / "calls").mkdir(parents=True)
    (tmp_path / ".catalogue.json.staging-99999").write_text("{}")
    logs: list[str] = []
    pipeline.publish(cfg, logs.append)
    assert not leftover.exists()
    assert not (tmp_path / ".catalogue.json.staging-99999").exists()
    assert any("removed" in line for line in logs)


def test_a_second_publish_of_the_same_out_waits_its_turn(tmp_path: Path, archive: Path) -> None:
    import fcntl

    cfg = config(tmp_path, archive)
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / pipeline.LOCK, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(OutputError, match="another `bakeoff publish`"):
            pipeline.publish(cfg)


def test_hardware_change_is_reported_and_latest_snapshot_wins(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    sid = "11111111-2222-4333-8444-555555555555"
    make_run(
        runs, seed=1, system_id=sid, profile="pi5", started_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    make_run(
        runs, seed=2, system_id=sid, profile="rtx4090", started_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    report = pipeline.publish(config(tmp_path, runs))
    assert len(report.hardware_changes) == 1
    assert "gpu_ids" in report.hardware_changes[0]
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


def _duckdb_content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        con.close()


def test_the_duckdb_file_is_patched_and_holds_what_a_fresh_build_holds(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed, month in ((1, 1), (2, 2), (3, 3)):
        make_run(runs, seed=seed, started_at=datetime(2026, month, 5, tzinfo=UTC))
    pipeline.publish(config(tmp_path / "a", runs))
    make_run(runs, seed=4, started_at=datetime(2026, 2, 20, tzinfo=UTC))
    shutil.rmtree(sorted(runs.iterdir())[0])  # and one January run goes away
    logs: list[str] = []
    pipeline.publish(config(tmp_path / "a", runs), logs.append)
    assert any("DuckDB file patched" in line for line in logs), logs
    pipeline.publish(config(tmp_path / "b", runs))  # a fresh build of the same runs
    patched = _duckdb_content(tmp_path / "a" / "out" / "exports" / "bakeoff.duckdb")
    fresh = _duckdb_content(tmp_path / "b" / "out" / "exports" / "bakeoff.duckdb")
    assert patched == fresh
    assert {r[-1] for r in patched["calls"]} == {"2026-02", "2026-03"}  # the month column


def _run_files(root: Path) -> dict[str, tuple[int, bytes]]:
    folder = root / "site" / "generated" / "data" / "runs"
    return {p.name: (p.stat().st_ino, p.read_bytes()) for p in sorted(folder.glob("*.js"))}


def test_unchanged_run_pages_are_linked_and_equal_a_fresh_build(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A republish links each unchanged run's data file from the last build (same inode)
    instead of rebuilding it; a file altered since, a changed run and changed page code are
    rebuilt, and every byte equals a build from nothing."""
    pipeline.publish(config(tmp_path / "a", archive, site=True))
    first = _run_files(tmp_path / "a")
    assert len(first) == 4  # every run, the meta-only one included
    victim, other = sorted(first)[:2]
    generated = tmp_path / "a" / "site" / "generated"
    tampered = generated / "data" / "runs" / victim
    tampered.unlink()
    tampered.write_bytes(b"tampered")
    added = make_run(archive, seed=77, n_cells=1, calls_per_cell=2)
    pipeline.publish(config(tmp_path / "a", archive, site=True))
    second = _run_files(tmp_path / "a")
    pipeline.publish(config(tmp_path / "fresh", archive, site=True))
    fresh = _run_files(tmp_path / "fresh")
    assert {k: v[1] for k, v in second.items()} == {k: v[1] for k, v in fresh.items()}
    assert second[other][0] == first[other][0]  # linked
    assert second[victim][1] == first[victim][1]  # rebuilt to the right bytes
    assert f"{added.name}.js" in second
    monkeypatch.setattr("publisher.site.pages.runs.source_digest", lambda *m: "new page code")
    pipeline.publish(config(tmp_path / "a", archive, site=True))
    third = _run_files(tmp_path / "a")
    assert all(third[k][0] != second[k][0] for k in third)  # nothing reused
    assert {k: v[1] for k, v in third.items()} == {k: v[1] for k, v in fresh.items()}
