"""The archive is found from the working directory upward, never from where the code lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.resources import ARCHIVE_ENV, archive_path, archive_root


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARCHIVE_ENV, raising=False)


def _no_archive_above(folder: Path) -> None:
    for parent in folder.parents:
        if (parent / "runs").is_dir() or (parent / "catalogue.json").is_file():
            pytest.skip(f"{parent} holds an archive: discovery from {folder} would find it")


def test_an_empty_folder_is_its_own_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_archive_above(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert archive_root() == tmp_path
    assert archive_path("runs") == tmp_path / "runs"
    assert archive_root().is_absolute()


def test_nearest_ancestor_with_runs_or_catalogue(tmp_path: Path) -> None:
    _no_archive_above(tmp_path)
    clone = tmp_path / "clone"
    deep = clone / "site" / "docs"
    deep.mkdir(parents=True)
    (clone / "runs").mkdir()
    assert archive_root(deep) == clone
    assert archive_root(clone) == clone
    fork = tmp_path / "fork"
    (fork / "docs").mkdir(parents=True)
    (fork / "catalogue.json").write_text("{}\n")
    assert archive_root(fork / "docs") == fork
    assert archive_path("out", fork / "docs") == fork / "out"
    # The nearest wins: an archive nested inside another folder that holds one.
    inner = clone / "site" / "inner"
    (inner / "runs").mkdir(parents=True)
    assert archive_root(inner / "runs") == inner


def test_things_that_are_not_archive_markers(tmp_path: Path) -> None:
    """A file named runs, or a folder named catalogue.json, marks nothing."""
    _no_archive_above(tmp_path)
    (tmp_path / "runs").write_text("not a folder")
    (tmp_path / "catalogue.json").mkdir()
    sub = tmp_path / "sub"
    sub.mkdir()
    assert archive_root(sub) == sub


def test_environment_names_the_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "here" / "runs").mkdir(parents=True)
    monkeypatch.setenv(ARCHIVE_ENV, str(tmp_path / "elsewhere"))
    assert archive_root(tmp_path / "here") == tmp_path / "elsewhere"
