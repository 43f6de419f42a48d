"""The contract in schemas/ stays in step with the models, and ships inside the wheel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bakeoff import schemagen
from bakeoff.resources import load_seed, schemas_dir

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_schemas_match_the_models(tmp_path: Path) -> None:
    assert schemagen.stale(schemas_dir()) == [], "run `python -m bakeoff.schemagen`"
    # and the check really detects drift
    schemagen.main(["--out", str(tmp_path)])
    path = tmp_path / "metadata.schema.json"
    path.write_text(path.read_text().replace('"run_uuid"', '"run_uuid_old"', 1))
    assert schemagen.stale(tmp_path) == ["metadata.schema.json"]


def _properties(node: Any, where: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and not prop.get("description"):
                out.append(f"{where}.{name}")
        for key, value in node.items():
            _properties(value, f"{where}/{key}", out)
    elif isinstance(node, list):
        for idx, value in enumerate(node):
            _properties(value, f"{where}[{idx}]", out)


@pytest.mark.parametrize("name", sorted(schemagen.SCHEMAS))
def test_every_field_is_described_and_the_schema_is_valid(name: str) -> None:
    doc = json.loads((schemas_dir() / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    missing: list[str] = []
    _properties(doc, name, missing)
    assert missing == []


@pytest.mark.parametrize(
    ("seed", "schema"),
    [
        ("prompts.json", "seed-prompts"),
        ("context_text.json", "seed-text"),
        ("interface_types.json", "seed-interface-types"),
        ("tolerances.json", "seed-tolerances"),
        ("budgets.json", "seed-budgets"),
    ],
)
def test_seed_files_validate(seed: str, schema: str) -> None:
    doc = json.loads((schemas_dir() / f"{schema}.schema.json").read_text())
    jsonschema.Draft202012Validator(doc).validate(load_seed(seed))


def test_interface_type_seed_covers_the_enum() -> None:
    from collector.models import InterfaceType

    rows = load_seed("interface_types.json")["interface_types"]
    assert {r["id"] for r in rows} == {t.value for t in InterfaceType}


@pytest.mark.slow
def test_wheel_ships_schemas_and_seeds_and_probe_runs_from_elsewhere(tmp_path: Path) -> None:
    """A non-editable install: build the wheel, unpack it into a folder of its own, and run
    `bakeoff probe --json` from another directory with that folder first on the path."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheel_dir.glob("bakeoff-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bakeoff/_data/schemas/metadata.schema.json" in names
    assert "bakeoff/_data/seeds/prompts.json" in names
    assert "bakeoff/_data/seeds/summarization.jsonl" in names
    target = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    code = (
        "import bakeoff.resources as r, sys; "
        "print(r.data_root()); "
        "from bakeoff.cli import main; sys.argv = ['bakeoff', 'probe', '--json']; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    first, _, rest = proc.stdout.partition("\n")
    assert Path(first).is_relative_to(target)
    block = json.loads(rest)
    schema = json.loads((target / "bakeoff/_data/schemas/hardware.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(block)


def test_default_runs_folder_is_the_archive_of_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside this checkout, from any of its folders, `bakeoff run` uses the checkout's runs/
    (because it holds runs/, not because the code is installed from it: see test_run.py)."""
    from bakeoff.resources import ARCHIVE_ENV, archive_root, repo_root
    from collector.cli import default_runs_dir

    monkeypatch.delenv(ARCHIVE_ENV, raising=False)
    monkeypatch.chdir(ROOT / "docs")
    assert repo_root() == ROOT
    assert archive_root() == ROOT and default_runs_dir() == ROOT / "runs"


def test_collector_cites_only_what_the_project_contains() -> None:
    """The collector's code, tests and schemas cite the project's own documents (the
    methodology page, docs/), never design notes that are not in the repository."""
    # Built from parts so that this file does not match itself.
    cited = re.compile(
        "|".join(["refer" + r"ence 00\d", "research" + " §", "metrics" + r"\.md", r"\.\./shared"])
    )
    collector_schemas = ["metadata", "ledger-record", "cells", "hardware", "sample"]
    files = [
        *(ROOT / "collector").rglob("*.py"),
        *(ROOT / "bakeoff").rglob("*.py"),
        *(ROOT / "tests" / "collector").rglob("*.py"),
        *(ROOT / "tests" / "fixtures" / "probe").glob("*.md"),
        *(ROOT / "schemas" / f"{name}.schema.json" for name in collector_schemas),
    ]
    assert len(files) > 40
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if cited.search(line)
    ]
    assert found == []
