"""Read a run directory's files into memory: no symlink followed, no special file opened.

Loading never judges content; it records what it saw (sizes, symlinks, FIFOs and devices,
unreadable files) so that the rules turn every oddity into a finding. A FIFO in place of
``run.log`` would block a plain ``open()`` forever: files are opened with ``O_NONBLOCK`` and
``O_NOFOLLOW`` and read only when ``fstat`` says they are regular files.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
MAX_ENTRIES = 1000  # entries listed per folder; a run directory has about six

Kind = Literal["file", "dir", "symlink", "special"]


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
    kind: Kind = "file"
    too_large: bool = False
    unreadable: bool = False
    data: bytes | None = None

    @property
    def is_dir(self) -> bool:
        """A folder."""
        return self.kind == "dir"

    @property
    def digest(self) -> str:
        """sha256 of the bytes, or a marker of why there are none."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        return f"-{self.kind}-{int(self.too_large)}{int(self.unreadable)}"


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

    def data(self, name: str) -> bytes | None:
        """The bytes of a regular file that was read, else None."""
        f = self.file(name)
        return f.data if f is not None and f.kind == "file" else None

    @property
    def content_sha256(self) -> str:
        """sha256 over the sorted (name, size, kind, sha256 of bytes) of every entry."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda x: x.name):
            h.update(f"{f.name}\0{f.size}\0{f.kind}\0{f.digest}\n".encode("utf-8", "replace"))
        return h.hexdigest()


def _read_regular(path: str, limit: int) -> tuple[bytes | None, int, Kind, bool]:
    """(bytes, size, kind, too_large); bytes None when the file is not a readable regular file."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced by a FIFO or device since the listing
            return None, st.st_size, "special", False
        if st.st_size > limit:
            return None, st.st_size, "file", True
        chunks = []
        size = 0
        while block := os.read(fd, 1 << 20):
            chunks.append(block)
            size += len(block)
            if size > limit:
                return None, size, "file", True
        return b"".join(chunks), size, "file", False
    finally:
        os.close(fd)


def _walk(root: str, rel: str, limits: Mapping[str, int], depth: int) -> Iterator[RunFile]:
    try:
        with os.scandir(root) as it:
            entries = []
            for entry in it:
                entries.append(entry)
                if len(entries) > MAX_ENTRIES:
                    break
    except OSError:
        yield RunFile(rel.rstrip("/") or ".", 0, kind="dir", unreadable=True)
        return
    for entry in sorted(entries, key=lambda e: e.name):
        name = rel + entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            yield RunFile(name, 0, unreadable=True)
            continue
        if stat.S_ISLNK(st.st_mode):
            yield RunFile(name, st.st_size, kind="symlink")
        elif stat.S_ISDIR(st.st_mode):
            # Only datasets/ is expected; deeper trees are reported, not walked far.
            if depth < 2:
                yield from _walk(entry.path, name + "/", limits, depth + 1)
            yield RunFile(name, 0, kind="dir")
        elif not stat.S_ISREG(st.st_mode):
            yield RunFile(name, st.st_size, kind="special")
        else:
            try:
                data, size, kind, too_large = _read_regular(entry.path, size_limit(name, limits))
            except OSError:
                yield RunFile(name, st.st_size, unreadable=True)
                continue
            yield RunFile(name, size, kind=kind, too_large=too_large, data=data)


def load_run(path: Path, limits: Mapping[str, int] = DEFAULT_LIMITS) -> RawRun:
    """Read one run directory (files, sizes, symlinks) without following links."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return RawRun(path.name, (), is_dir=False)
    if not stat.S_ISDIR(st.st_mode):
        return RawRun(path.name, (), is_dir=False)
    return RawRun(path.name, tuple(_walk(str(path), "", limits, 0)))


def iter_run_dirs(runs_dir: Path) -> Iterator[Path]:
    """Every entry of the archive folder in name order, hidden entries skipped."""
    if not runs_dir.is_dir():
        return
    for entry in sorted(runs_dir.iterdir()):
        if not entry.name.startswith("."):
            yield entry
