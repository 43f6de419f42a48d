"""Fixtures for the publisher tests: synthetic archives and a DuckDB 1.x client."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.synthetic import make_run

settings.register_profile(
    "publisher",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def publish_with_site(root: Path, runs: Path) -> Path:
    """Publish ``runs`` (synthetic allowed) with ``root`` for out/, catalogue.json and the site's
    page sources; the generated pages' folder."""
    from publisher import publish as pipeline

    pipeline.publish(
        pipeline.PublishConfig(
            runs_dir=runs,
            out_dir=root / "out",
            catalogue_path=root / "catalogue.json",
            site_dir=root / "site" / "generated",
            allow_synthetic=True,
        )
    )
    return root / "site" / "generated"


def make_archive(root: Path, n: int = 4) -> Path:
    """A runs/ folder with ``n`` varied synthetic runs (one meta-only, one with quality)."""
    runs = root / "runs"
    runs.mkdir(parents=True)
    for seed in range(n):
        make_run(
            runs,
            seed=seed,
            n_cells=2,
            calls_per_cell=9,
            meta_only=seed == 3,
            with_quality=seed == 1,
            with_samples=seed == 2,
        )
    return runs


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A fresh synthetic archive under tmp_path/runs."""
    return make_archive(tmp_path)


@pytest.fixture(scope="session")
def duckdb1_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python interpreter with DuckDB 1.x installed (a separate venv, built once)."""
    env_dir = tmp_path_factory.mktemp("duckdb1-venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "duckdb<2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_NO_INPUT": "1"},
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot install duckdb<2 from the package index: {proc.stderr[-300:]}")
    return python


def run_python(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``python`` and return the finished process."""
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


__all__ = ["make_archive", "run_python", "sys"]
