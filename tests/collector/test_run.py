"""`bakeoff run` against a loopback fake engine: plans, skips, guards, modes, interruption.

The engine behind the loopback server is scripted (tests/collector/fakes.py) so that runs
take a fraction of a second; the real engine is exercised in test_engine_e2e.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from click.testing import CliRunner

from bakeoff.cli import main
from bakeoff.resources import load_schema
from collector import guards
from collector.config import load_cells_file
from collector.engines.base import Engine
from collector.errors import ConfigError, GuardError
from collector.models import CellsFile, CellSpec, ManagedEngine
from collector.orchestrate import RunOptions, execute, single_cell
from tests.collector.fakes import fake_server, refused_url


def _validate_run(run: Path) -> tuple[dict, list[dict]]:
    metadata = json.loads((run / "metadata.json").read_text())
    jsonschema.Draft202012Validator(load_schema("metadata")).validate(metadata)
    validator = jsonschema.Draft202012Validator(load_schema("ledger-record"))
    records = [json.loads(line) for line in (run / "run.jsonl").read_text().splitlines()]
    for record in records:
        validator.validate(record)
    assert records[0]["type"] == "meta"
    assert run.name == metadata["run_id"]
    return metadata, records


def _cells(url: str, *models: str, runs: int = 2, **kw: Any) -> CellsFile:
    """A cells file of loopback cells; no length workload unless asked (``lengths=[...]``)."""
    kw.setdefault("lengths", [])
    cells = [CellSpec(engine="openai", url=url, model=m) for m in models]  # type: ignore[arg-type]
    return CellsFile(cells=cells, runs=runs, **kw)


def _opts(cells: CellsFile, out: Path, **kw: object) -> RunOptions:
    return RunOptions(cells=cells, out_dir=out, allow_dirty=True, force_load=True, **kw)  # type: ignore[arg-type]


def test_run_writes_a_valid_directory(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        result = execute(_opts(_cells(url, "ok"), tmp_path))
    assert result.status == "complete"
    # 3 prompts × (1 cold + 2 warm)
    assert result.calls_total == 9 and result.calls_ok == 9
    metadata, records = _validate_run(result.path)
    calls = [r for r in records if r["type"] == "call"]
    assert {c["prompt_id"] for c in calls} == {"P-EASY", "P-MEDIUM", "P-HARD"}
    assert [c["cold_kind"] for c in calls if c["phase"] == "cold"] == ["process_warm"] * 3
    assert all(
        c["token_count_source"] == "server_usage" and c["completion_tokens"] == 5 for c in calls
    )
    assert metadata["cells"][0]["access_level"] == "black"
    assert metadata["cells"][0]["endpoint_kind"] == "loopback"
    assert metadata["summary"]["calls_total"] == 9
    assert metadata["status"] == "complete" and metadata["finished_at"]
    text = "".join(p.read_text() for p in result.path.iterdir())
    assert "127.0.0.1:" not in text  # no address in the files of a run without errors
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in result.path.iterdir()}
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)  # as open() makes them, none 0600
    assert set(modes) == {"metadata.json", "run.jsonl", "run.log", "run.md", "samples.jsonl"}
    assert not list(tmp_path.glob(".*.tmp"))
    assert "## Warm TTFT p50 (ms)" in (result.path / "run.md").read_text()


def test_unavailable_cell_is_skipped_and_run_goes_on(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        cells = CellsFile(
            cells=[
                CellSpec(engine="openai", url=refused_url(), model="down"),  # type: ignore[arg-type]
                CellSpec(engine="openai", url=url, model="ok"),  # type: ignore[arg-type]
            ],
            runs=1,
            lengths=[],
        )
        result = execute(_opts(cells, tmp_path, prompts=["P-EASY"]))
    metadata, records = _validate_run(result.path)
    skipped = [r for r in records if r["type"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["cell_id"].endswith(":down")
    # A loopback address is what the user typed and identifies no one: it stays, with a hint.
    down = cells.cells[0].url
    assert skipped[0]["reason"].startswith(f"openai engine at {down} failed its health check")
    assert "start the engine, or correct the address (--url" in skipped[0]["reason"]
    assert metadata["summary"]["cells_skipped"] == 1 and metadata["summary"]["cells_ok"] == 1
    assert result.calls_total == 2


def _engines_behind(
    monkeypatch: pytest.MonkeyPatch, handler: Callable[..., httpx.Response]
) -> None:
    """Engines whose HTTP goes to ``handler`` (httpx.MockTransport): addresses other than
    loopback must never see test traffic, so a LAN engine is a mock (error paths only)."""
    from collector import cells as cells_module

    real = cells_module.engine_class

    def mocked(kind: str) -> type[Engine]:
        base = real(kind)

        class Mocked(base):  # type: ignore[valid-type, misc]
            def __init__(self, url: str, model: str, **kw: Any) -> None:
                super().__init__(url, model, transport=httpx.MockTransport(handler), **kw)

        return Mocked

    monkeypatch.setattr(cells_module, "engine_class", mocked)


def test_lan_addresses_stay_out_of_the_run_but_reach_the_terminal(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LAN engine that cannot be reached and one whose calls fail with its address in the
    error: the run directory says <private endpoint>, the terminal shows what was typed."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "10.1.2.3":
            raise httpx.ConnectError("[Errno 113] No route to host 10.1.2.3", request=request)
        if request.method == "GET":
            return httpx.Response(200, json={"object": "list", "data": []})
        return httpx.Response(502, text="upstream 10.9.9.9:8000 is overloaded")

    _engines_behind(monkeypatch, handler)
    bad = tmp_path / "cells.yaml"
    bad.write_text(
        "runs: 1\nprompts: [P-EASY]\ncells:\n"
        "  - {engine: openai, url: 'http://10.1.2.3:8000', model: away}\n"
        "  - {engine: openai, url: 'http://10.9.9.9:8000', model: busy}\n"
    )
    out = tmp_path / "runs"
    argv = ["run", str(bad), "--out", str(out), "--allow-dirty", "--force-load"]
    result = CliRunner().invoke(main, argv)
    assert "skipped: host-" in result.stdout and ":openai:away: openai engine at " in result.stdout
    assert "at http://10.1.2.3:8000 failed its health check" in result.stdout
    assert "upstream 10.9.9.9:8000 is overloaded" not in result.stdout  # calls: see run.log
    (run,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    metadata, records = _validate_run(run)
    text = "".join(p.read_text() for p in run.iterdir())
    assert "10.1.2.3" not in text and "10.9.9.9" not in text
    (skip,) = [r for r in records if r["type"] == "skipped"]
    assert "openai engine at <private endpoint> failed its health check" in skip["reason"]
    errors = [r["error"] for r in records if r["type"] == "call"]
    assert errors and all("upstream <private endpoint> is overloaded" in e for e in errors)
    assert {c["endpoint_kind"] for c in metadata["cells"]} == {"private"}


def test_redactor_keeps_loopback_and_hides_every_form_of_another_address() -> None:
    from collector.cells import redactor

    text = "at http://127.0.0.1:8080: refused by 127.0.0.1"
    assert redactor("http://127.0.0.1:8080/")(text) == text
    assert redactor("http://localhost:11434")("http://localhost:11434/api") == (
        "http://localhost:11434/api"
    )
    hide = redactor("http://GPU-Box:8000/")
    assert hide("http://GPU-Box:8000/v1 gpu-box:8000 GPU-BOX") == (
        "<private endpoint>/v1 <private endpoint> <private endpoint>"
    )
    assert redactor("https://api.example.com")("api.example.com said no") == (
        "<public endpoint> said no"
    )


def test_for_publication_names_the_address_typed(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 113] No route to host", request=request)

    _engines_behind(monkeypatch, handler)
    with pytest.raises(GuardError, match=r"openai engine at http://192\.168\.7\.7:8000 failed"):
        execute(_opts(_cells("http://192.168.7.7:8000", "lan"), tmp_path, for_publication=True))


def test_url_without_scheme_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="--url localhost:8080: must start with http:// or"):
        single_cell("openai", "localhost:8080", "m")
    with pytest.raises(ConfigError, match=r"e\.g\. --url http://127\.0\.0\.1:8080"):
        single_cell("openai", "127.0.0.1:8080", "m")


def test_failed_calls_are_recorded_and_run_goes_on(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        result = execute(_opts(_cells(url, "http500", "ok", runs=1), tmp_path, prompts=["P-EASY"]))
    _, records = _validate_run(result.path)
    calls = [r for r in records if r["type"] == "call"]
    bad = [c for c in calls if c["cell_id"].endswith(":http500")]
    assert len(bad) == 2 and all(c["error_kind"] == "http" and c["http_status"] == 500 for c in bad)
    assert all(c["error"] is None for c in calls if c["cell_id"].endswith(":ok"))
    assert "### Errors" in (result.path / "run.md").read_text()


def test_for_publication_refuses_failed_health(tmp_path: Path, config_home: Path) -> None:
    cells = _cells(refused_url(), "down")
    with pytest.raises(GuardError, match="--for-publication"):
        execute(_opts(cells, tmp_path / "runs", for_publication=True))
    assert not (tmp_path / "runs").exists()


def _tables_well_formed(markdown: str) -> None:
    """Every Markdown table has a header, a separator and at least one row, all with the
    same number of cells (an escaped ``\\|`` is not a cell border)."""
    tables: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    for table in tables:
        assert len(table) >= 3, table
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|(-+:?\|)+", table[1]), table
        assert all(cell.strip() for cell in re.split(r"(?<!\\)\|", table[0])[1:-1]), table


def test_smoke_run_is_one_cold_call_and_not_comparable(tmp_path: Path, config_home: Path) -> None:
    """--smoke: one cell, one prompt, one call — the first call of the run, so a cold one —
    recorded as not comparable."""
    with fake_server() as url:
        smoke = execute(_opts(_cells(url, "ok", "ok2"), tmp_path / "s", mode="smoke"))
    assert smoke.calls_total == 1 and smoke.status == "complete"
    meta, records = _validate_run(smoke.path)
    assert meta["config"]["mode"] == "smoke" and len(meta["cells"]) == 1
    assert meta["config"]["cold"] is True and meta["config"]["runs_per_cell"] == 0
    (call,) = [r for r in records if r["type"] == "call"]
    assert call["phase"] == "cold" and call["cold_kind"] == "process_warm"
    assert meta["comparable"] is False
    assert meta["comparable_reason"].startswith("smoke run: one call")
    assert smoke.comparable is False
    report = (smoke.path / "run.md").read_text()
    assert "Not comparable: smoke run" in report and "No warm call." in report
    _tables_well_formed(report)


def test_full_run_is_comparable(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        result = execute(_opts(_cells(url, "ok", runs=1), tmp_path, prompts=["P-EASY"]))
    meta, _ = _validate_run(result.path)
    assert meta["status"] == "complete" and meta["status_reason"] is None
    assert meta["comparable"] is True and meta["comparable_reason"] is None
    _tables_well_formed((result.path / "run.md").read_text())


def test_probe_only_run_is_empty(tmp_path: Path, config_home: Path) -> None:
    """--probe-only measures nothing: status empty, not comparable, run.md says so."""
    with fake_server() as url:
        probe = execute(_opts(_cells(url, "ok"), tmp_path / "p", mode="probe_only"))
    assert probe.calls_total == 0 and probe.status == "empty"
    meta, records = _validate_run(probe.path)
    assert meta["cells"][0]["available"] is True and [r["type"] for r in records] == ["meta"]
    assert meta["status"] == "empty" and meta["status_reason"].startswith("probe-only run")
    assert meta["comparable"] is False
    assert meta["comparable_reason"] == "probe-only run: health checks only"
    report = (probe.path / "run.md").read_text()
    assert "No call was measured." in report and "Warm TTFT" not in report
    assert "| host-" in report and "| passed |" in report  # the health-check table
    _tables_well_formed(report)
    log = (probe.path / "run.log").read_text()
    assert "health check passed" in log


def test_run_with_every_cell_skipped_is_empty(tmp_path: Path, config_home: Path) -> None:
    """Every cell unavailable: nothing measured, so the run is empty (never complete), not
    comparable, and run.log, run.md and the reasons say which cell failed and why."""
    cells = CellsFile(
        cells=[
            CellSpec(engine="openai", url=refused_url(), model="down-a"),  # type: ignore[arg-type]
            CellSpec(engine="ollama", url=refused_url(), model="down-b"),  # type: ignore[arg-type]
        ],
        runs=1,
    )
    result = execute(_opts(cells, tmp_path, prompts=["P-EASY"]))
    assert result.status == "empty" and result.calls_total == 0
    meta, records = _validate_run(result.path)
    assert meta["status"] == "empty"
    assert meta["status_reason"].startswith("no call was measured: every cell was skipped")
    assert ":down-a" in meta["status_reason"] and ":down-b" in meta["status_reason"]
    assert meta["comparable"] is False and meta["comparable_reason"] == meta["status_reason"]
    assert [r["type"] for r in records] == ["meta", "skipped", "skipped"]
    log_lines = (result.path / "run.log").read_text().splitlines()
    for cell in ("down-a", "down-b"):
        (line,) = [ln for ln in log_lines if f":{cell} skipped" in ln]
        assert " WARNING " in line and "health check" in line
    report = (result.path / "run.md").read_text()
    assert "No call was measured." in report
    assert "## Skipped cells" in report and "Warm TTFT" not in report and "### Cold" not in report
    _tables_well_formed(report)
    # `bakeoff report` regenerates the same file.
    before = report
    assert CliRunner().invoke(main, ["report", str(result.path)]).exit_code == 0
    assert (result.path / "run.md").read_text() == before


def test_multiline_skip_reason_stays_one_log_line_and_one_table_row(
    tmp_path: Path, config_home: Path
) -> None:
    """A managed engine that dies at start gives a reason of several lines (its log tail):
    run.log still gets one WARNING line, run.md one table row."""
    script = "import sys; print('first line'); print('second | line'); sys.exit(3)"
    cells = CellsFile(
        cells=[
            CellSpec(
                engine="openai",
                managed=ManagedEngine(command=[sys.executable, "-c", script]),
                model="dies",
            )  # type: ignore[arg-type]
        ],
    )
    result = execute(_opts(cells, tmp_path, prompts=["P-EASY"]))
    assert result.status == "empty"
    log = (result.path / "run.log").read_text().splitlines()
    (line,) = [ln for ln in log if ":dies skipped: " in ln]
    assert "exited with code 3" in line and "second" in line
    report = (result.path / "run.md").read_text()
    _tables_well_formed(report)
    assert "exited with code 3" in report


def test_cli_states_what_was_measured(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        argv = ["run", "--engine", "openai", "--url", url, "--model", "ok", "--runs", "1"]
        argv += ["--prompts", "P-EASY", "--lengths", "", "--out", str(tmp_path)]
        result = CliRunner().invoke(main, [*argv, "--allow-dirty", "--force-load"])
    assert result.exit_code == 0, result.output
    assert "measured 2 call(s), 2 ok, in 1 cell" in result.output


def test_cli_exits_1_when_nothing_was_measured(tmp_path: Path, config_home: Path) -> None:
    """An engine that cannot be reached: the run directory is written (status empty), then
    one clear message and exit 1, no traceback."""
    out = tmp_path / "runs"
    argv = ["run", "--engine", "ollama", "--url", refused_url(), "--model", "x"]
    result = CliRunner().invoke(main, [*argv, "--out", str(out), "--allow-dirty", "--force-load"])
    assert result.exit_code == 1
    assert "measured 0 call(s)" in result.output
    assert "error: no call was measured: every cell was skipped" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (run,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert str(run) in result.output
    meta, _ = _validate_run(run)
    assert meta["status"] == "empty"


def test_cli_probe_only_exit_code_follows_health_checks(tmp_path: Path, config_home: Path) -> None:
    flags = ["--probe-only", "--allow-dirty", "--force-load"]
    with fake_server() as url:
        healthy = CliRunner().invoke(
            main, ["run", "--url", url, "--model", "ok", "--out", str(tmp_path / "a"), *flags]
        )
    assert healthy.exit_code == 0, healthy.output
    assert "empty:" in healthy.output and "probe-only" in healthy.output
    down = CliRunner().invoke(
        main, ["run", "--url", refused_url(), "--model", "x", "--out", str(tmp_path / "b"), *flags]
    )
    assert down.exit_code == 1
    assert "error: health check failed for 1 of 1 cell(s)" in down.output
    assert "Traceback" not in down.output
    assert len(list((tmp_path / "b").iterdir())) == 1  # the run is still written


def test_concurrency_levels_record_lag(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        cells = CellsFile(
            cells=[CellSpec(engine="openai", url=url, model="ok")],
            runs=2,
            concurrency=[1, 4],
            cold=False,
            lengths=[],
        )  # type: ignore[arg-type]
        result = execute(_opts(cells, tmp_path, prompts=["P-EASY"]))
    _, records = _validate_run(result.path)
    level4 = [r for r in records if r["type"] == "call" and r["concurrency"] == 4]
    assert len(level4) == 8
    assert all(r["start_lag_ms"] is not None and r["start_lag_ms"] >= 0 for r in level4)
    assert sorted(r["run_idx"] for r in level4) == list(range(8))
    for r in level4:
        # A closed loop: due at the level's start or at the end of the worker's previous call.
        assert r["request_rate"] is None and 1 <= r["in_flight"] <= 4
        lag = max(r["sent_ms"] - r["scheduled_ms"], 0)
        assert r["start_lag_ms"] == pytest.approx(lag, abs=2e-3)
    assert sum(1 for r in level4 if r["scheduled_ms"] == 0) == 4  # each worker's first call
    sequential = [r for r in records if r["type"] == "call" and r["concurrency"] == 1]
    assert all(r["in_flight"] is None and r["scheduled_ms"] is None for r in sequential)
    assert "## Concurrency" in (result.path / "run.md").read_text()


def test_guards() -> None:
    dirty = guards.GitState(sha="abc", dirty=True, dirty_files=["collector/x.py"])
    with pytest.raises(GuardError, match="--allow-dirty"):
        guards.check_dirty(dirty, allow_dirty=False)
    guards.check_dirty(dirty, allow_dirty=True)
    with pytest.raises(GuardError, match="--force-load"):
        guards.check_load([4.5, 1.0, 1.0], force_load=False)
    guards.check_load([4.5, 1.0, 1.0], force_load=True)
    guards.check_load([3.9, 9.0, 9.0], force_load=False)


def _git_repo(path: Path) -> Callable[..., object]:
    """A real git repository with one commit holding code.py and catalogue.json."""
    path.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(path), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (path / "code.py").write_text("x = 1\n")
    (path / "catalogue.json").write_text("{}\n")
    run("add", "code.py", "catalogue.json")
    run("-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "-m", "x")
    return run


def test_git_state_of_a_real_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _git_repo(repo)
    clean = guards.git_state(repo)
    assert clean.dirty is False and clean.describe and not clean.describe.endswith("-dirty")
    # What `bakeoff run` + `bakeoff publish` change does not make the checkout dirty, and so
    # does not make describe say -dirty either (git describe --dirty would: catalogue.json is
    # tracked).
    (repo / "catalogue.json").write_text('{"runs": []}\n')
    (repo / "runs").mkdir()
    (repo / "runs" / "new.json").write_text("{}")
    state = guards.git_state(repo)
    assert (state.dirty, state.describe, state.dirty_files) == (False, clean.describe, [])
    # An untracked file does (git describe --dirty would not notice it).
    (repo / "notes.py").write_text("y = 2\n")
    state = guards.git_state(repo)
    assert state.dirty is True and state.dirty_files == ["notes.py"]
    assert state.describe == f"{clean.describe}-dirty"
    (repo / "notes.py").unlink()
    (repo / "code.py").write_text("x = 2\n")
    state = guards.git_state(repo)
    assert state.dirty_files == ["code.py"] and state.describe == f"{clean.describe}-dirty"


def test_git_state_where_git_fails(tmp_path: Path) -> None:
    assert guards.git_state(None) == guards.GitState()
    assert guards.git_state(tmp_path) == guards.GitState()  # not a repository
    assert guards.git_state(tmp_path, lambda args: None) == guards.GitState()


def test_metadata_never_contradicts_itself_about_dirtiness(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """harness.git_describe, harness.git_dirty, the meta line and the probe's runner_version
    come from one decision, in a clean-but-republished checkout and in a dirty one."""
    from bakeoff import __version__
    from collector import orchestrate
    from collector.probe import system

    repo = tmp_path / "repo"
    _git_repo(repo)
    monkeypatch.setattr(orchestrate, "repo_root", lambda: repo)
    monkeypatch.setattr(system, "repo_root", lambda: repo)
    (repo / "catalogue.json").write_text('{"runs": []}\n')  # as `bakeoff publish` leaves it
    with fake_server() as url:
        for dirty in (False, True):
            if dirty:
                (repo / "code.py").write_text("x = 2\n")
            result = execute(
                _opts(_cells(url, "ok", runs=1), tmp_path / "runs", prompts=["P-EASY"])
            )
            metadata, records = _validate_run(result.path)
            harness = metadata["harness"]
            assert harness["git_dirty"] is dirty and records[0]["git_dirty"] is dirty
            assert harness["git_describe"].endswith("-dirty") is dirty
            version = metadata["hardware"]["system_software"]["runner_version"]
            assert version == f"{__version__}+{harness['git_describe']}"


def test_environment_knobs_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    knobs = guards.environment_knobs()
    assert knobs.get("OMP_NUM_THREADS") == "2" and "SECRET_TOKEN" not in knobs


# ---- cells files ---------------------------------------------------------------------------


def test_cells_yaml_error_names_file_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "cells.yaml"
    path.write_text(
        "runs: 5\ncells:\n  - engine: openai\n    url: http://127.0.0.1:1\n    model: a\n"
        "  - engine: tgi\n    url: http://127.0.0.1:2\n    model: b\n    colour: red\n"
    )
    with pytest.raises(ConfigError) as err:
        load_cells_file(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "cells[1].engine (line 6)" in msg and "'openai', 'llamacpp' or 'ollama'" in msg
    assert "cells[1].colour (line 9): unknown field" in msg


def test_cells_runs_out_of_range_and_toml(tmp_path: Path) -> None:
    path = tmp_path / "cells.toml"
    path.write_text(
        'runs = 500\n[[cells]]\nengine = "openai"\nurl = "http://127.0.0.1:1"\nmodel = "a"\n'
    )
    with pytest.raises(ConfigError, match=r"runs: Input should be less than or equal to 100"):
        load_cells_file(path)
    path.write_text(
        'runs = 3\n[[cells]]\nengine = "ollama"\nurl = "http://127.0.0.1:1"\nmodel = "a"\n'
    )
    assert load_cells_file(path).cells[0].engine == "ollama"


def test_cells_url_or_managed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cells:\n  - engine: openai\n    model: a\n")
    with pytest.raises(ConfigError, match="exactly one of 'url'"):
        load_cells_file(path)
    path.write_text("cells: [\n")
    with pytest.raises(ConfigError, match=r"invalid YAML"):
        load_cells_file(path)


def test_single_cell_flags() -> None:
    assert single_cell(None, None, None).cells[0].managed is not None
    assert single_cell("ollama", "http://127.0.0.1:11434", "llama3").cells[0].engine == "ollama"
    with pytest.raises(ConfigError, match="--url needs --model"):
        single_cell("openai", "http://127.0.0.1:1", None)
    with pytest.raises(ConfigError, match="need --url"):
        single_cell("ollama", None, "m")


def test_cli_bad_cells_file_measures_nothing(tmp_path: Path, config_home: Path) -> None:
    bad = tmp_path / "cells.yaml"
    bad.write_text("cells:\n  - engine: nope\n    url: http://127.0.0.1:1\n    model: a\n")
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["run", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert "cells[0].engine (line 2)" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_without_local_extra_measures_nothing_and_says_what_to_install(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bakeoff run` without the 'local' extra: no call is measured, the run is empty, and
    the message says what to install (exit 1)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llama_cpp" else real(n, *a)
    )
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["run", "--out", str(out), "--allow-dirty", "--force-load"])
    assert result.exit_code == 1
    assert "error: no call was measured" in result.output
    assert "pip install 'bakeoff[local]'" in result.output
    (run,) = list(out.iterdir())
    meta, _ = _validate_run(run)
    assert meta["status"] == "empty" and meta["comparable"] is False


def test_cli_without_local_extra_says_what_to_install(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llama_cpp" else real(n, *a)
    )
    result = CliRunner().invoke(
        main, ["run", "--out", str(tmp_path), "--allow-dirty", "--force-load", "--for-publication"]
    )
    assert result.exit_code == 1
    assert "pip install 'bakeoff[local]'" in result.output and "--url" in result.output


def test_ctrl_c_keeps_a_valid_partial_run(tmp_path: Path, config_home: Path) -> None:
    """SIGINT in the middle of a run: the calls already measured survive in a run directory
    that is renamed into place with status partial and validates."""
    out = tmp_path / "runs"
    with fake_server() as url:
        env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
        argv = [sys.executable, "-c", "from bakeoff.cli import main; main()", "run"]
        argv += ["--engine", "openai", "--url", url, "--model", "paced", "--runs", "50"]
        argv += ["--out", str(out), "--allow-dirty", "--force-load"]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ledgers = list(out.glob(".*.tmp/run.jsonl"))
            if ledgers and len(ledgers[0].read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("run did not start measuring")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stderr.decode()
    runs = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1 and not list(out.glob(".*.tmp"))
    metadata, records = _validate_run(runs[0])
    assert metadata["status"] == "partial"
    assert "Ctrl-C" in metadata["status_reason"]
    calls = [r for r in records if r["type"] == "call"]
    assert 3 <= len(calls) < 153
    assert metadata["summary"]["calls_total"] == len(calls)
    assert (runs[0] / "run.md").is_file()
    assert b"Traceback" not in stderr


# ---- where runs go -------------------------------------------------------------------------


def test_run_writes_into_the_archive_of_the_working_directory(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clones and a folder without an archive: each `bakeoff run` (no --out) writes into
    the archive found from its working directory upward, says which on stderr, and never into
    the checkout the code is installed from."""
    from bakeoff.resources import ARCHIVE_ENV, repo_root

    monkeypatch.delenv(ARCHIVE_ENV, raising=False)
    for parent in tmp_path.parents:
        if (parent / "runs").is_dir() or (parent / "catalogue.json").is_file():
            pytest.skip(f"{parent} holds an archive: every folder below it belongs to it")
    first, second, empty = tmp_path / "first", tmp_path / "second", tmp_path / "empty"
    (first / "runs").mkdir(parents=True)
    (second / "docs").mkdir(parents=True)
    (second / "catalogue.json").write_text("{}\n")
    empty.mkdir()
    code_runs = repo_root() / "runs" if repo_root() else None
    before = set(code_runs.iterdir()) if code_runs and code_runs.is_dir() else set()
    with fake_server() as url:
        argv = ["run", "--engine", "openai", "--url", url, "--model", "ok", "--runs", "1"]
        argv += ["--prompts", "P-EASY", "--allow-dirty", "--force-load"]
        for cwd, archive in ((second / "docs", second), (first, first), (empty, empty)):
            monkeypatch.chdir(cwd)
            result = CliRunner().invoke(main, argv)
            assert result.exit_code == 0, result.output
            runs = [p for p in (archive / "runs").glob("*") if not p.name.startswith(".")]
            assert len(runs) == 1 and str(runs[0]) in result.stdout, result.output
            assert f"archive: {archive}\n" in result.stderr
            _validate_run(runs[0])
    assert not (second / "docs" / "runs").exists()
    if code_runs is not None:
        assert (set(code_runs.iterdir()) if code_runs.is_dir() else set()) == before


# ---- --bench and cost inputs ---------------------------------------------------------------


def test_cli_run_bench_and_price_flags(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --bench` records the microbenchmarks in the hardware block; the price flags become
    metadata.cost_inputs, laid over the cells file's `cost` block field by field."""
    from collector import bench
    from collector.bench.timing import MIB, BenchConfig

    monkeypatch.setattr(
        bench,
        "DEFAULT_CONFIG",
        BenchConfig(array_bytes=4 * MIB, matmul_n=64, min_reps=3, max_reps=3, min_rep_s=0.001),
    )
    out = tmp_path / "runs"
    with fake_server() as url:
        cells = tmp_path / "cells.yaml"
        cells.write_text(
            f"runs: 1\nprompts: [P-EASY]\ncells:\n  - engine: openai\n    url: {url}\n"
            "    model: ok\ncost:\n  currency: eur\n  hardware_price: 1299\n"
            "  amortization_years: 3\n  source: invoice\n  as_of: 2025-03-01\n"
        )
        argv = ["run", str(cells), "--out", str(out), "--allow-dirty", "--force-load"]
        argv += ["--bench", "--electricity-price", "0.31", "--price-source", "invoice; tariff"]
        result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    metadata, _ = _validate_run(run)
    benchmarks = metadata["hardware"]["benchmarks"]
    assert benchmarks["memory_bandwidth_gbs"] > 0 and len(benchmarks["results"]) == 6
    assert metadata["cost_inputs"] == {
        "currency": "EUR",
        "hardware_price": 1299.0,
        "amortization_years": 3.0,
        "hourly_rate": None,
        "electricity_price_per_kwh": 0.31,
        "source": "invoice; tariff",
        "as_of": "2025-03-01",
    }


def test_run_without_bench_or_prices_records_nulls(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        result = execute(_opts(_cells(url, "ok", runs=1), tmp_path, prompts=["P-EASY"]))
    metadata, _ = _validate_run(result.path)
    assert metadata["hardware"]["benchmarks"] is None and metadata["cost_inputs"] is None
    cell = metadata["cells"][0]
    assert cell["model_size_bytes"] is None and cell["model_size_source"] is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            {"hardware_price": 1000.0, "currency": "USD", "source": "shop", "as_of": "2025-01-01"},
            "hardware_price and amortization_years go together",
        ),
        (
            {
                "hourly_rate": 1.2,
                "hardware_price": 900.0,
                "amortization_years": 3.0,
                "currency": "USD",
                "source": "aws",
                "as_of": "2025-01-01",
            },
            "not both",
        ),
        ({"hourly_rate": 1.2}, r"currency \(--currency\): Field required"),
        (
            {"hourly_rate": 1.2, "currency": "USD", "source": "aws", "as_of": "2025-02-30"},
            r"as_of \(--price-date\): '2025-02-30' is not a date",
        ),
    ],
    ids=["price-without-years", "owned-and-rented", "no-currency", "bad-date"],
)
def test_bad_cost_inputs_refused_before_measuring(
    tmp_path: Path, config_home: Path, flags: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        execute(_opts(_cells(refused_url(), "a"), tmp_path / "runs", cost_flags=flags))
    assert not (tmp_path / "runs").exists()


def test_cells_file_cost_block_is_validated_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cells.yaml"
    path.write_text(
        "cells:\n  - engine: openai\n    url: http://127.0.0.1:1\n    model: a\n"
        "cost:\n  currency: EUR\n  hourly_rate: -2\n  source: x\n  as_of: 2025-01-01\n"
    )
    with pytest.raises(ConfigError, match=r"cost.hourly_rate \(line 7\): Input should be greater"):
        load_cells_file(path)
    path.write_text(
        "cells:\n  - engine: openai\n    url: http://127.0.0.1:1\n    model: a\n"
        "cost:\n  currency: EUR\n  hourly_rate: 0.9\n  source: x\n  as_of: 2025-01-01\n"
    )
    cost = load_cells_file(path).cost
    assert cost is not None and cost.hourly_rate == 0.9 and cost.as_of == "2025-01-01"
    jsonschema.Draft202012Validator(load_schema("cells")).validate(
        {
            "cells": [{"engine": "openai", "url": "http://x", "model": "a"}],
            "cost": cost.model_dump(),
        }
    )


def test_verdict_of_runs_cut_short() -> None:
    """A run interrupted before its first call stays partial (with why) and is not
    comparable; one interrupted after some calls keeps them comparable."""
    from collector.orchestrate import verdict

    ended = ("partial", "interrupted by the user (Ctrl-C)")
    status, reason, comparable, why_not = verdict("full", [], [], [], ended)
    assert (status, reason, comparable) == ("partial", ended[1], False)
    assert why_not == "no call was measured: interrupted by the user (Ctrl-C)"
    complete = verdict("full", [], [], [], ("complete", None))
    assert complete == ("empty", "no call was measured", False, "no call was measured")
