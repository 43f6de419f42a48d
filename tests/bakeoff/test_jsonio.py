"""Atomic writes leave files with the mode a plain open() gives, and no temporary behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff import jsonio
from bakeoff.jsonio import write_atomic, write_json


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test changes it."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077], ids=["022", "002", "077"])
def test_new_file_gets_the_mode_open_gives(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    plain = tmp_path / "plain.json"
    plain.write_text("{}\n")
    write_json(tmp_path / "metadata.json", {"a": 1})
    write_atomic(tmp_path / "run.md", "# run\n", durable=False)
    assert _mode(tmp_path / "metadata.json") == _mode(plain) == 0o666 & ~mask
    assert _mode(tmp_path / "run.md") == 0o666 & ~mask


def test_explicit_mode_and_replacing_a_private_file(tmp_path: Path, umask: None) -> None:
    """``mode`` is kept when asked for; an existing 0600 file is replaced by a 0644 one."""
    write_atomic(tmp_path / "system_id", "x\n", mode=0o600)
    assert _mode(tmp_path / "system_id") == 0o600
    target = tmp_path / "catalogue.json"
    target.write_text("old")
    target.chmod(0o600)
    write_json(target, {"runs": []})
    assert _mode(target) == 0o644 and target.read_text() == '{\n  "runs": []\n}\n'


def test_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "metadata.json"
    target.write_text("old\n")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(jsonio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(target, {"new": True})
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.json"]


def test_temporary_name_collisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A taken temporary name is skipped; a folder where every name is taken is an error."""
    names = iter(["taken", "free"])
    monkeypatch.setattr(jsonio.secrets, "token_hex", lambda n: next(names))
    (tmp_path / ".a.json.taken.tmp").write_text("someone else's")
    write_atomic(tmp_path / "a.json", "{}\n")
    assert (tmp_path / "a.json").read_text() == "{}\n"
    assert (tmp_path / ".a.json.taken.tmp").read_text() == "someone else's"

    monkeypatch.setattr(jsonio.secrets, "token_hex", lambda n: "taken")
    with pytest.raises(FileExistsError, match=r"no free temporary name for a\.json"):
        write_atomic(tmp_path / "a.json", "{}\n")
