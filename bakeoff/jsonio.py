"""Deterministic, atomic JSON writing shared by the collector and the publisher."""

from __future__ import annotations

import json
import os
import tempfile
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

    ``durable=False`` skips the fsync (~1 ms a file): for caches, where a file lost to a crash
    is only a miss, never a torn file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as stable JSON."""
    write_atomic(path, dumps_stable(data))
