"""validate: a clean synthetic run passes; every kind of problem becomes its finding."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from publisher.errors import VersionError
from publisher.frontend import migrate
from publisher.frontend.compile import Options, RunArtifact, compile_raw
from publisher.frontend.derive import ram_bucket
from publisher.frontend.finding import Finding
from publisher.frontend.load import RawRun, load_run
from tests.synthetic import make_run

ALLOW = Options(allow_synthetic=True)


def check_run(raw: RawRun, options: Options = ALLOW) -> tuple[RunArtifact | None, list[Finding]]:
    """The compiled run when it passed, and its findings."""
    artifact = compile_raw(raw, options)
    return (artifact if artifact.ok else None), list(artifact.findings)


def codes(run_dir: Path, options: Options = ALLOW) -> set[str]:
    _, findings = check_run(load_run(run_dir), options)
    return {f.code for f in findings}


def edit_metadata(run_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = run_dir / "metadata.json"
    md = json.loads(path.read_text())
    change(md)
    path.write_text(json.dumps(md, indent=2))


def edit_ledger(run_dir: Path, change: Callable[[list[dict[str, Any]]], object]) -> None:
    path = run_dir / "run.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    change(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path, seed=5, n_cells=2, calls_per_cell=9, with_samples=True)


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_runs_are_valid(tmp_path: Path, seed: int) -> None:
    path = make_run(tmp_path, seed=seed, with_quality=seed % 2 == 0, meta_only=seed == 5)
    run, findings = check_run(load_run(path), ALLOW)
    assert run is not None
    assert findings == []


def test_synthetic_refused_without_flag(run_dir: Path) -> None:
    assert codes(run_dir, Options()) == {"consistency.synthetic"}


def test_finding_carries_location_and_hint(run_dir: Path) -> None:
    edit_ledger(run_dir, lambda rs: rs[2].update(first_delta_ms="fast"))
    _, findings = check_run(load_run(run_dir), ALLOW)
    f = next(f for f in findings if f.code == "schema.ledger")
    assert (f.run_id, f.file, f.line, f.pointer, f.severity) == (
        run_dir.name,
        "run.jsonl",
        3,
        "/first_delta_ms",
        "error",
    )
    assert "ledger-record.schema.json" in f.hint
    assert "schema.ledger" in f.render()


def _symlink(target: Path, link: Path) -> None:
    link.unlink(missing_ok=True)
    os.symlink(target, link)


def _write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


STRUCTURE: list[tuple[str, Callable[[Path], object], str]] = [
    ("missing run.md", lambda d: (d / "run.md").unlink(), "structure.missing_file"),
    ("missing ledger", lambda d: (d / "run.jsonl").unlink(), "structure.missing_file"),
    ("extra file", lambda d: (d / "notes.txt").write_text("hi"), "structure.unexpected_file"),
    ("extra dir", lambda d: (d / "extra").mkdir(), "structure.unexpected_file"),
    ("symlink", lambda d: _symlink(d / "run.md", d / "samples.jsonl"), "structure.symlink"),
    ("bad dataset name", lambda d: _write(d / "datasets" / "x.txt"), "structure.unexpected_file"),
]


@pytest.mark.parametrize(("label", "mutate", "code"), STRUCTURE, ids=[s[0] for s in STRUCTURE])
def test_structure(run_dir: Path, label: str, mutate: Callable[[Path], object], code: str) -> None:
    mutate(run_dir)
    assert code in codes(run_dir)


def test_directory_name_must_equal_run_id(run_dir: Path) -> None:
    renamed = run_dir.with_name("20260101T000000Z-00000000")
    run_dir.rename(renamed)
    assert "structure.dir_name" in codes(renamed)


def test_oversize_file(run_dir: Path) -> None:
    (run_dir / "run.log").write_text("x" * 2000)
    _, findings = check_run(
        load_run(run_dir, {"run.log": 1000, "metadata.json": 10**6, "run.jsonl": 10**6}), ALLOW
    )
    assert "structure.too_large" in {f.code for f in findings}


def test_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert codes(tmp_path / "file") == {"structure.not_a_directory"}
    assert codes(tmp_path / "missing") == {"structure.not_a_directory"}


JSON_BREAKS: list[tuple[str, bytes, str]] = [
    ("truncated", b'{"type": "call", "cell', "json.invalid"),
    ("nan", b'{"type": "call", "first_delta_ms": NaN}', "json.nonfinite"),
    ("overflow", b'{"type": "call", "first_delta_ms": 1e999}', "json.nonfinite"),
    ("latin-1", b'{"type": "call", "error": "\xe9"}', "json.encoding"),
    # The typed decoder refuses the first bracket where an object is due: no recursion at all.
    ("deep", b"[" * 100_000 + b"]" * 100_000, "schema.ledger"),
    ("deep in a field", b'{"type": "skipped", "cell_id": ' + b"[" * 100_000, "schema.ledger"),
    ("huge int", b'{"type": "call", "chunks": ' + b"9" * 5000 + b"}", "schema.ledger"),
    ("not an object", b"[1, 2]", "schema.ledger"),
    ("unknown type", b'{"type": "banana"}', "schema.ledger"),
]


@pytest.mark.parametrize(("label", "line", "code"), JSON_BREAKS, ids=[b[0] for b in JSON_BREAKS])
def test_broken_ledger_lines(run_dir: Path, label: str, line: bytes, code: str) -> None:
    with (run_dir / "run.jsonl").open("ab") as fh:
        fh.write(line + b"\n")
    assert code in codes(run_dir)


def test_broken_metadata_is_a_finding(run_dir: Path) -> None:
    (run_dir / "metadata.json").write_bytes(b'{"run_id": ')
    run, findings = check_run(load_run(run_dir), ALLOW)
    assert run is None
    assert {f.code for f in findings} == {"json.invalid"}


def test_metadata_schema_errors_have_pointers(run_dir: Path) -> None:
    edit_metadata(run_dir, lambda md: md["hardware"]["system_hardware"].update(cpu_cores=0))
    _, findings = check_run(load_run(run_dir), ALLOW)
    f = next(f for f in findings if f.code == "schema.metadata")
    assert f.pointer == "/hardware/system_hardware/cpu_cores"


def test_newer_schema_version_is_refused_with_upgrade_hint(run_dir: Path) -> None:
    edit_metadata(run_dir, lambda md: md.update(schema_version=99))
    _, findings = check_run(load_run(run_dir), ALLOW)
    f = next(f for f in findings if f.code == "schema.version_newer")
    assert "pip install -U" in f.hint
    assert "99" in f.message


def test_older_versions_migrate_step_by_step() -> None:
    steps = {
        1: lambda d: {"schema_version": d["schema_version"], "b": d["a"]},
        2: lambda d: {**d, "c": d["b"] * 2},
    }
    out = migrate.migrate({"schema_version": 1, "a": 3}, steps, current=3)
    assert out == {"schema_version": 3, "b": 3, "c": 6}
    with pytest.raises(VersionError, match="no migration"):
        migrate.migrate({"schema_version": 1}, {}, current=2)
    with pytest.raises(VersionError):
        migrate.migrate({"schema_version": "1"}, steps, current=3)


def _first_call(rs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rs if r["type"] == "call" and r["error"] is None)


CONSISTENCY: list[tuple[str, Callable[[list[dict[str, Any]]], object], str]] = [
    ("meta not first", lambda rs: rs.append(rs.pop(0)), "consistency.meta_first"),
    ("meta run id", lambda rs: rs[0].update(host_label="other"), "consistency.meta_mismatch"),
    ("meta cells", lambda rs: rs[0].update(cells_planned=["x"]), "consistency.meta_mismatch"),
    (
        "unplanned cell",
        lambda rs: _first_call(rs).update(cell_id="h:ollama:m"),
        "consistency.unplanned_cell",
    ),
    (
        "unknown prompt",
        lambda rs: _first_call(rs).update(prompt_id="P-NOPE"),
        "consistency.unknown_workload",
    ),
    (
        "backend",
        lambda rs: _first_call(rs).update(
            backend="openai" if _first_call(rs)["backend"] != "openai" else "ollama"
        ),
        "consistency.backend",
    ),
    (
        "tokens_per_sec",
        lambda rs: _first_call(rs).update(tokens_per_sec=1.0),
        "consistency.tokens_per_sec",
    ),
    (
        "ttft > total",
        lambda rs: _first_call(rs).update(first_delta_ms=1e6),
        "consistency.ttft_after_total",
    ),
    (
        "call before run",
        lambda rs: _first_call(rs).update(started_at="2001-01-01T00:00:00Z"),
        "consistency.timestamps",
    ),
    (
        "two cold calls",
        lambda rs: rs[2].update(phase="cold", cold_kind="unloaded"),
        "consistency.cold_calls",
    ),
    (
        "no cold call",
        lambda rs: rs[1].update(phase="warm", cold_kind=None),
        "plausibility.no_cold_call",
    ),
    ("summary", lambda rs: rs.pop(), "consistency.summary"),
    (
        "impossible rate",
        lambda rs: _first_call(rs).update(
            completion_tokens=100000,
            tokens_per_sec=100000
            / ((_first_call(rs)["total_duration_ms"] - _first_call(rs)["first_delta_ms"]) / 1000),
        ),
        "plausibility.rate",
    ),
    ("negative itl", lambda rs: _first_call(rs).update(itl_max_ms=-1.0), "plausibility.duration"),
]


@pytest.mark.parametrize(("label", "mutate", "code"), CONSISTENCY, ids=[c[0] for c in CONSISTENCY])
def test_consistency(
    run_dir: Path, label: str, mutate: Callable[[list[dict[str, Any]]], object], code: str
) -> None:
    edit_ledger(run_dir, mutate)
    assert code in codes(run_dir)


def test_plausibility_warnings_do_not_block(run_dir: Path) -> None:
    edit_ledger(run_dir, lambda rs: _first_call(rs).update(itl_max_ms=-1.0))
    _, findings = check_run(load_run(run_dir), ALLOW)
    assert findings
    assert {f.severity for f in findings} == {"warning"}


def test_cold_call_when_config_says_no_cold(run_dir: Path) -> None:
    edit_metadata(run_dir, lambda md: md["config"].update(cold=False))
    assert "consistency.cold_calls" in codes(run_dir)


def test_metadata_consistency(run_dir: Path) -> None:
    def change(md: dict[str, Any]) -> None:
        md["finished_at"] = "2000-01-01T00:00:00Z"
        md["run_hardware_metrics"]["system_id"] = "00000000-0000-4000-8000-000000000000"
        md["hardware"]["system_hardware"]["ram_total_gb"] = 1e9

    edit_metadata(run_dir, change)
    got = codes(run_dir)
    assert {"consistency.timestamps", "consistency.system_id", "plausibility.hardware"} <= got


def test_meta_only_run(tmp_path: Path) -> None:
    path = make_run(tmp_path, seed=2, meta_only=True)
    assert not (path / "run.jsonl").exists()
    assert codes(path) == set()
    (path / "run.jsonl").write_text("")
    assert "structure.ledger_in_meta_only" in codes(path)


def test_ledger_required_unless_meta_only(run_dir: Path) -> None:
    (run_dir / "run.jsonl").unlink()
    assert "structure.missing_file" in codes(run_dir)


def test_samples_and_datasets_are_schema_checked(tmp_path: Path) -> None:
    path = make_run(tmp_path, seed=4, with_samples=True, with_quality=True)
    with (path / "samples.jsonl").open("a") as fh:
        fh.write('{"t": -1}\n')
    with (path / "datasets" / "summarization.jsonl").open("a") as fh:
        fh.write('{"id": 3}\n')
    got = codes(path)
    assert {"schema.samples", "schema.dataset", "consistency.dataset_sha256"} <= got


def test_repeated_findings_are_capped(run_dir: Path) -> None:
    with (run_dir / "run.jsonl").open("a") as fh:
        fh.write("garbage\n" * 100)
    _, findings = check_run(load_run(run_dir), ALLOW)
    invalid = [f for f in findings if f.code == "json.invalid"]
    assert len(invalid) == 21
    assert "80 more" in invalid[-1].message


def test_huge_durations_are_findings_never_exceptions(run_dir: Path) -> None:
    """total_duration_ms = 1e15 raised OverflowError in the statistics (and in compare)."""
    edit_ledger(
        run_dir, lambda rs: _first_call(rs).update(total_duration_ms=1e15, tokens_per_sec=None)
    )
    artifact = compile_raw(load_run(run_dir), ALLOW)
    assert {f.code for f in artifact.findings} == {"plausibility.duration"}
    assert artifact.ok and artifact.tables is not None
    from publisher.compare import CompareRequest, run_compare

    report = run_compare(CompareRequest((str(run_dir), str(run_dir)), allow_synthetic=True))
    assert report["summary"]["matched"] > 0


@pytest.mark.parametrize("ram", [1.7e308, 1e300])
def test_a_huge_ram_size_never_raises(run_dir: Path, ram: float) -> None:
    """A finite RAM size whose 8 % allowance overflows to infinity raised OverflowError in the
    hardware class (found by fuzzing a copy of a measured run)."""

    def cpu_only(md: dict[str, Any]) -> None:
        md["hardware"]["system_hardware"]["ram_total_gb"] = ram
        md["hardware"]["gpus"] = []  # the class of a GPU-less host names its RAM

    edit_metadata(run_dir, cpu_only)
    artifact = compile_raw(load_run(run_dir), ALLOW)
    assert "plausibility.hardware" in {f.code for f in artifact.findings}
    assert ram_bucket(ram) == "RAM?"


def test_optional_metadata_fields_may_be_absent(run_dir: Path) -> None:
    """A metadata.json without config.tasks or run_hardware_metrics.cells was a KeyError."""

    def drop(md: dict[str, Any]) -> None:
        del md["config"]["tasks"]
        del md["run_hardware_metrics"]["cells"]

    edit_metadata(run_dir, drop)
    artifact = compile_raw(load_run(run_dir), ALLOW)
    assert artifact.findings == ()
    assert artifact.ok


@pytest.mark.parametrize(
    ("field", "value"),
    [("http_status", 10**20), ("chunks", 2**64), ("chunks", 1e308), ("concurrency", 0)],
)
def test_numbers_the_exports_cannot_hold_are_findings(
    run_dir: Path, field: str, value: Any
) -> None:
    """Integers beyond int64 and 1e308 as an integer passed validate and crashed publish."""
    edit_ledger(run_dir, lambda rs: _first_call(rs).update({field: value}))
    findings = check_run(load_run(run_dir))[1]
    assert any(f.code == "schema.ledger" and f.pointer == f"/{field}" for f in findings)


@pytest.mark.parametrize("when", ["2026-13-45T10:00:00Z", "2026-02-30T10:00:00Z"])
def test_dates_that_do_not_exist_are_findings(run_dir: Path, when: str) -> None:
    """They matched the pattern; the time checks were then skipped without a finding."""
    edit_ledger(run_dir, lambda rs: _first_call(rs).update(started_at=when))
    findings = check_run(load_run(run_dir))[1]
    assert any(f.code == "schema.timestamp" and f.pointer == "/started_at" for f in findings)
    edit_metadata(run_dir, lambda md: md.update(finished_at=when))
    findings = check_run(load_run(run_dir))[1]
    assert any(f.code == "schema.timestamp" and f.pointer == "/finished_at" for f in findings)


def test_a_duplicated_concurrency_level_is_a_finding(run_dir: Path) -> None:
    """config.concurrency [1, 1] passed validate and crashed publish."""
    edit_metadata(run_dir, lambda md: md["config"].update(concurrency=[1, 1]))
    assert "consistency.duplicate" in codes(run_dir)
