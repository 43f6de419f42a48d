"""catalogue.json: golden file from a fixed synthetic set, and the committed one is fresh."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakeoff.resources import repo_root
from publisher import publish as pipeline
from publisher.archive.models import Catalogue
from publisher.errors import StaleCatalogueError
from tests.publisher.conftest import make_archive

GOLDEN = Path(__file__).parent / "golden" / "catalogue.json"


def test_catalogue_matches_golden_file(tmp_path: Path) -> None:
    """Regenerate with BAKEOFF_UPDATE_GOLDEN=1 after an intended change, then review the diff."""
    runs = make_archive(tmp_path, n=6)
    out = tmp_path / "catalogue.json"
    pipeline.publish(pipeline.PublishConfig(runs, tmp_path / "out", out, None, True))
    text = out.read_text(encoding="utf-8")
    Catalogue.model_validate_json(text)
    if os.environ.get("BAKEOFF_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert "built_at" not in text and str(tmp_path) not in text


def test_committed_catalogue_is_fresh(tmp_path: Path) -> None:
    """CI fails here when runs/ changed without `bakeoff publish` and a commit of catalogue.json."""
    root = repo_root()
    if root is None:
        pytest.skip("not a source checkout")
    config = pipeline.PublishConfig(
        runs_dir=root / "runs", out_dir=tmp_path / "out", catalogue_path=root / "catalogue.json"
    )
    try:
        pipeline.check_catalogue(config)
    except StaleCatalogueError as exc:
        pytest.fail(str(exc))
