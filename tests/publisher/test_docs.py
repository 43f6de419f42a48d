"""The contributor and analyst guides stay true: examples run, every finding code is listed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from publisher import publish as pipeline
from publisher.frontend.finding import CODES
from tests.publisher.conftest import make_archive

DOCS = Path(__file__).resolve().parents[2] / "docs"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.parametrize(("doc", "min_blocks"), [("docs/analysts.md", 5), ("README.md", 2)])
def test_analyst_examples_run_against_a_published_archive(
    tmp_path: Path, doc: str, min_blocks: int
) -> None:
    pytest.importorskip("pandas", reason="the pandas examples need pandas (dev extra)")
    runs = make_archive(tmp_path, n=4)
    pipeline.publish(
        pipeline.PublishConfig(runs, tmp_path / "out", tmp_path / "c.json", None, True)
    )
    blocks = python_blocks((DOCS.parent / doc).read_text(encoding="utf-8"))
    assert len(blocks) >= min_blocks
    script = tmp_path / "examples.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    # The examples use paths relative to the repository root, where `out/` lives by default.
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "NVIDIA" in proc.stdout or "cpu" in proc.stdout, proc.stdout


def test_every_finding_code_is_documented_for_contributors() -> None:
    text = (DOCS / "contributors.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `([a-z0-9_.]+)` \| (error|warning) \|", text, flags=re.M))
    assert documented == {code: sev for code, (sev, _) in CODES.items()}


def test_every_column_is_documented_in_its_table_section() -> None:
    """docs/tables.md is the prose of publisher/frontend/tables.py: no column is missing."""
    from publisher.frontend import tables

    text = (DOCS / "tables.md").read_text(encoding="utf-8")
    sections = dict(
        re.findall(r"^## `([a-z_]+)` —(.*?)(?=^## )", text + "\n## ", flags=re.M | re.S)
    )
    for table in tables.PUBLISHED:
        assert table in sections, table
        words = set(re.findall(r"[a-zA-Z0-9_]+", sections[table]))
        missing = [n for n, _ in tables.columns(table) if n not in words]
        assert missing == [], (table, missing)
