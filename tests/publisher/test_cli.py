"""The validate and publish commands: output formats, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakeoff.cli import main
from tests.synthetic import make_run


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.stdout, result.stderr


def test_validate_accepts_clean_runs(tmp_path: Path, archive: Path) -> None:
    code, out, _ = invoke("validate", "--runs", str(archive), "--allow-synthetic")
    assert code == 0
    assert "4 run(s) checked: 0 error(s), 0 warning(s)" in out


def test_validate_refuses_synthetic_by_default(archive: Path) -> None:
    code, out, _ = invoke("validate", "--runs", str(archive))
    assert code == 1
    assert "consistency.synthetic" in out


def test_validate_json_lists_findings(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=3)
    (run / "run.md").write_text("see /home/alice/notes and key sk-abcdefghijklmnopqrstuvwxyz\n")
    code, out, _ = invoke("validate", str(run), "--json", "--allow-synthetic")
    assert code == 1
    doc = json.loads(out)
    assert doc["errors"] == 2 and doc["runs"] == 1
    first = doc["findings"][0]
    assert set(first) == {
        "code",
        "severity",
        "run_id",
        "file",
        "line",
        "pointer",
        "message",
        "hint",
    }
    assert {f["code"] for f in doc["findings"]} == {"privacy.home_path", "privacy.secret"}
    assert all(f["line"] == 1 and f["file"] == "run.md" for f in doc["findings"])
    assert "abcdefghijklmnop" not in out  # secrets are never echoed in full


def test_validate_warnings_only_exit_zero(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=3)
    lines = (run / "run.jsonl").read_text().splitlines()
    call = json.loads(lines[1])
    call["itl_max_ms"] = -5.0
    lines[1] = json.dumps(call)
    (run / "run.jsonl").write_text("\n".join(lines) + "\n")
    code, out, _ = invoke("validate", str(run), "--allow-synthetic")
    assert code == 0
    assert "WARNING [plausibility.duration]" in out


def test_validate_garbage_paths_give_findings_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"\x00\xff")
    code, out, _ = invoke("validate", str(tmp_path / "junk"), str(tmp_path / "nope"))
    assert code == 1
    assert out.count("structure.not_a_directory") == 2
    assert "Traceback" not in out


def test_publish_and_check(tmp_path: Path, archive: Path) -> None:
    args = [
        "--runs",
        str(archive),
        "--out",
        str(tmp_path / "out"),
        "--catalogue",
        str(tmp_path / "catalogue.json"),
        "--no-site",
        "--allow-synthetic",
    ]
    code, _, err = invoke("publish", *args, "--check")
    assert code == 1
    assert "error: " in err and "stale" in err
    code, out, err = invoke("publish", *args)
    assert code == 0, err
    assert "published 4 run(s)" in out
    assert "step 4/6 export" in err
    code, out, _ = invoke("publish", *args, "--check")
    assert code == 0
    assert "up to date" in out


def test_publish_refuses_invalid_runs_with_findings(tmp_path: Path, archive: Path) -> None:
    bad = sorted(archive.iterdir())[0]
    (bad / "metadata.json").write_text("{")
    code, _, err = invoke(
        "publish",
        "--runs",
        str(archive),
        "--out",
        str(tmp_path / "out"),
        "--catalogue",
        str(tmp_path / "c.json"),
        "--allow-synthetic",
    )
    assert code == 1
    assert "ERROR [json.invalid]" in err
    assert "nothing was published" in err
    assert "Traceback" not in err
    assert not (tmp_path / "c.json").exists()


def test_validate_github_annotations(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", seed=3)
    (run / "run.log").write_text("ok\nfrom 10.1.2.3 100% done\n")
    code, _, err = invoke("validate", str(run), "--github", "--allow-synthetic")
    assert code == 1
    (line,) = [x for x in err.splitlines() if x.startswith("::")]
    prefix = f"::error file={(tmp_path / 'runs').as_posix()}/{run.name}/run.log,line=2,"
    assert line.startswith(prefix + "title=privacy.ip_address::")


def test_commands_use_the_archive_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They used the checkout the package was installed from: a second clone published the
    first one."""
    clone = tmp_path / "clone"
    make_run(clone / "runs", seed=8)
    (clone / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(clone / "deep" / "er")
    monkeypatch.delenv("BAKEOFF_ARCHIVE", raising=False)
    code, out, err = invoke("validate", "--allow-synthetic")
    assert code == 0, out + err
    assert f"archive: {clone}" in err
    assert "1 run(s) checked" in out
    code, out, err = invoke("publish", "--allow-synthetic", "--no-site")
    assert code == 0, err
    assert (clone / "catalogue.json").is_file()
    assert (clone / "out" / "exports" / "runs.parquet").is_file()


def test_an_archive_folder_given_as_a_run_checks_its_runs(tmp_path: Path) -> None:
    """`bakeoff validate runs` printed one error per run directory, telling the user to remove
    them."""
    runs = tmp_path / "runs"
    for seed in range(3):
        make_run(runs, seed=seed)
    code, out, err = invoke("validate", str(runs), "--allow-synthetic")
    assert code == 0, out + err
    assert "3 run(s) checked: 0 error(s)" in out
    assert "archive folder" in err
    assert "unexpected_file" not in out


@pytest.mark.parametrize("where", ["out", "catalogue", "site"])
def test_an_unwritable_output_path_is_one_line_naming_it(tmp_path: Path, where: str) -> None:
    """Each of these was a raw OSError traceback."""
    runs = tmp_path / "runs"
    make_run(runs, seed=3)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    paths = {
        "out": blocker / "out",
        "catalogue": blocker / "catalogue.json",
        "site": blocker / "generated",
    }
    args = ["publish", "--runs", str(runs), "--allow-synthetic"]
    args += ["--out", str(paths["out"] if where == "out" else tmp_path / "out")]
    args += [
        "--catalogue",
        str(paths["catalogue"] if where == "catalogue" else tmp_path / "c.json"),
    ]
    args += ["--site-dir", str(paths["site"] if where == "site" else tmp_path / "site" / "gen")]
    code, _, err = invoke(*args)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(blocker) in errors[0], err
    assert "Traceback" not in err
