"""Deterministic, atomic JSON writing shared by the collector and the publisher."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def dumps_stable(data: Any) -> str:
    """Sorted keys, 2-space indent, UTF-8 kept, trailing newline: diffable and byte-stable."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dumps_line(data: Any) -> str:
    """One compact JSON line (for JSONL ledgers) with sorted keys and a trailing newline."""
    return (
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def write_atomic(
    path: Path, text: str | bytes, mode: int | None = None, *, durable: bool = True
) -> None:
    """Write ``path`` through a temporary file in the same folder and rename it into place.

    The file gets ``mode`` when given, else the mode a plain ``open()`` gives a new file
    (0666 less the umask): ``tempfile.mkstemp`` would leave it 0600 beside 0644 siblings.
    ``durable=False`` skips the fsync (~1 ms a file): for caches, where a file lost to a crash
    is only a miss, never a torn file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Create a new, unique ``.<name>.<random>.tmp`` beside ``path``; return its fd and path.

    ``O_CREAT | O_EXCL`` with mode 0666 lets the kernel apply the umask, exactly as for
    ``open(path, "w")``; O_EXCL also refuses to follow a symlink planted at the name.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name} after 100 tries")


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as stable JSON."""
    write_atomic(path, dumps_stable(data))
