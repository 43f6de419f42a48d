"""Stage 1 — load: read a run directory's files into memory, without following symlinks.

Loading never judges content; it records what it saw (sizes, symlinks, unreadable files) so
that ``validate`` can turn every oddity into a finding.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024

# Per-file size limits in bytes (GitHub refuses files over 100 MiB and warns above 50 MiB).
DEFAULT_LIMITS: Mapping[str, int] = {
    "metadata.json": 4 * MiB,
    "run.jsonl": 50 * MiB,
    "run.log": 20 * MiB,
    "run.md": 10 * MiB,
    "samples.jsonl": 50 * MiB,
    "datasets/": 20 * MiB,
}


def size_limit(name: str, limits: Mapping[str, int]) -> int:
    """The size limit for a file name relative to the run directory."""
    if name in limits:
        return limits[name]
    if name.startswith("datasets/"):
        return limits.get("datasets/", 20 * MiB)
    return max(limits.values())


@dataclass(frozen=True)
class RunFile:
    """One entry of a run directory; ``data`` is None when it was not read (why: the flags)."""

    name: str
    size: int
    is_symlink: bool = False
    is_dir: bool = False
    too_large: bool = False
    unreadable: bool = False
    data: bytes | None = None
    sha256: str | None = None  # set instead of ``data`` for files hashed but not kept


@dataclass(frozen=True)
class RawRun:
    """Everything read from one run directory."""

    dir_name: str
    files: tuple[RunFile, ...]
    is_dir: bool = True

    def file(self, name: str) -> RunFile | None:
        """The entry called ``name`` (relative path with '/'), if present."""
        for f in self.files:
            if f.name == name:
                return f
        return None

    @property
    def content_sha256(self) -> str:
        """sha256 over the sorted (name, size, flags, sha256 of bytes) of every entry."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda x: x.name):
            digest = hashlib.sha256(f.data).hexdigest() if f.data is not None else (f.sha256 or "-")
            flags = f"{int(f.is_symlink)}{int(f.is_dir)}{int(f.too_large)}{int(f.unreadable)}"
            h.update(f"{f.name}\0{f.size}\0{flags}\0{digest}\n".encode())
        return h.hexdigest()


def _hash_file(path: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _walk(
    root: Path,
    rel: str,
    limits: Mapping[str, int],
    depth: int,
    stream: frozenset[str] = frozenset(),
) -> Iterator[RunFile]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        yield RunFile(rel.rstrip("/") or ".", 0, is_dir=True, unreadable=True)
        return
    for entry in entries:
        name = rel + entry.name
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            yield RunFile(name, st.st_size, is_symlink=True)
        elif stat.S_ISDIR(st.st_mode):
            # Only datasets/ is expected; deeper trees are reported, not walked far.
            if depth < 2:
                yield from _walk(Path(entry.path), name + "/", limits, depth + 1, stream)
            yield RunFile(name, 0, is_dir=True)
        elif st.st_size > size_limit(name, limits):
            yield RunFile(name, st.st_size, too_large=True)
        elif name in stream:
            try:
                size, digest = _hash_file(entry.path)
            except OSError:
                yield RunFile(name, st.st_size, unreadable=True)
                continue
            yield RunFile(name, size, sha256=digest)
        else:
            try:
                data = Path(entry.path).read_bytes()
            except OSError:
                yield RunFile(name, st.st_size, unreadable=True)
                continue
            yield RunFile(name, len(data), data=data)


def load_run(
    path: Path, limits: Mapping[str, int] = DEFAULT_LIMITS, stream: frozenset[str] = frozenset()
) -> RawRun:
    """Read one run directory (files, sizes, symlinks) without following links.

    Files named in ``stream`` are only hashed (``RunFile.sha256``), not kept in memory.
    """
    if path.is_symlink() or not path.is_dir():
        return RawRun(path.name, (), is_dir=False)
    return RawRun(path.name, tuple(_walk(path, "", limits, 0, stream)))


def stat_signature(path: Path) -> tuple[tuple[str, int, int, int], ...] | None:
    """(name, mode, size, mtime_ns) of every entry (two levels), or None when unreadable.

    Equal signatures mean the run directory is very likely unchanged: the cache uses it to
    skip reading and hashing unchanged runs.
    """
    out: list[tuple[str, int, int, int]] = []
    try:
        st = os.stat(path, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            return None
        stack = [(str(path), "")]
        while stack:
            folder, rel = stack.pop()
            for entry in os.scandir(folder):
                est = entry.stat(follow_symlinks=False)
                name = rel + entry.name
                out.append((name, est.st_mode, est.st_size, est.st_mtime_ns))
                if stat.S_ISDIR(est.st_mode) and name.count("/") < 2:
                    stack.append((entry.path, name + "/"))
    except OSError:
        return None
    return tuple(sorted(out))


def iter_run_dirs(runs_dir: Path) -> Iterator[Path]:
    """Every entry of the archive folder in name order, hidden entries skipped."""
    if not runs_dir.is_dir():
        return
    for entry in sorted(runs_dir.iterdir()):
        if not entry.name.startswith("."):
            yield entry
