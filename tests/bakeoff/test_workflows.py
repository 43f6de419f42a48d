"""The GitHub workflows never run untrusted text as code, and annotations stay one line each.

The first test reads every workflow; the second runs the real shell of the *validate runs*
steps (taken from the YAML) in a scratch git repository whose pull request adds run
directories named like shell code, with a stand-in ``bakeoff`` on PATH that records its
arguments (this is a test of the workflow's shell, not of bakeoff).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from publisher.frontend.finding import Finding, render_github

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
HOSTILE = ["x$(touch PWNED)", "y`touch PWNED2`", "z;touch PWNED3", "new\nline", "sp ace"]


def _steps(path: Path) -> list[dict[str, object]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_no_workflow_interpolates_an_expression_into_a_script() -> None:
    """`${{ steps.runs.outputs.dirs }}` pasted directory names into a shell script."""
    assert WORKFLOWS
    for path in WORKFLOWS:
        for step in _steps(path):
            script = step.get("run")
            if isinstance(script, str):
                assert "${{" not in script, f"{path.name}: {step.get('name')}"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_validate_runs_steps_pass_hostile_directory_names_as_plain_arguments(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / "runs" / "20260101T000000Z-00000000").mkdir(parents=True)
    (repo / "runs" / "20260101T000000Z-00000000" / "run.md").write_text("old\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    for name in HOSTILE:
        (repo / "runs" / name).mkdir()
        (repo / "runs" / name / "metadata.json").write_text("{}\n")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "pr")

    stub = tmp_path / "bin" / "bakeoff"
    stub.parent.mkdir()
    record = tmp_path / "argv.bin"
    stub.write_text(
        "#!/usr/bin/env python3\n"
        "import sys\n"
        f"open({str(record)!r}, 'ab').write(b'\\1'.join(a.encode() for a in sys.argv[1:]) "
        "+ b'\\2')\n"
    )
    stub.chmod(0o755)
    steps = {s.get("name"): s for s in _steps(ROOT / ".github" / "workflows" / "validate-runs.yml")}
    output = tmp_path / "github_output"
    summary = tmp_path / "summary"
    env = {
        **os.environ,
        "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}",
        "BASE_SHA": base,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    find = steps["Find the run directories this PR adds or changes"]["run"]
    subprocess.run(["bash", "-e", "-c", str(find)], cwd=repo, env=env, check=True)
    assert re.search(r"count=5", output.read_text())
    validate = steps["Validate"]["run"]
    subprocess.run(["bash", "-e", "-c", str(validate)], cwd=repo, env=env, check=True)
    assert not list(repo.glob("PWNED*")) and not list(tmp_path.glob("PWNED*"))
    calls = record.read_bytes().split(b"\2")[0].split(b"\1")
    assert calls[:4] == [b"validate", b"--for-publication", b"--github", b"--"]
    assert sorted(calls[4:]) == sorted(f"runs/{n}".encode() for n in HOSTILE)


def test_annotations_are_one_line_whatever_the_file_name() -> None:
    """A file name with a newline injected workflow commands into `validate --github`."""
    f = Finding(
        "20260101T000000Z-00000000",
        "evil\n::error::pwned%0A,name",
        3,
        "/a",
        "structure.unexpected_file",
        "error",
        "bad\nthing :: here",
        "hint",
    )
    text = render_github(f)
    assert "\n" not in text and "\r" not in text
    assert text.startswith("::error file=")
    assert text.count("::") == 2  # the command's own two markers, nothing injected
