"""The artifact store: one file per compiled run, under ``<out>/.cache/artifacts/``.

An artifact is what ``compile_run`` made of one run directory — its findings and its tables —
so an unchanged run is never compiled twice. It is keyed by the run's content (sha256 over its
files) and by ``code_key()`` (the source of every module the front end and the store import,
found by reading their imports, the schemas, the seeds and the versions of the libraries
that decode and encode). A file is trusted only
when everything in its header matches what is asked for and its payload's sha256 matches the
header: a truncated, corrupt, stale or swapped file is a miss (it is rebuilt), never an error.

File layout: ``MAGIC``, a 4-byte little-endian header length, the header (JSON), then the
payload: one Arrow IPC stream per table, at the offsets the header lists.

``ContentIndex`` remembers the content hash of each run directory by the ``stat`` of its files
(size, mtime and ctime in nanoseconds, inode, device — any write changes ctime, which no user
tool can set back), as git's index does, so an unchanged archive is not re-read. An entry
whose files changed within ``RACY_NS`` of when it was recorded is not trusted (the file may
have changed again within the clock's resolution): the run is read and hashed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import stat
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from bakeoff import __version__
from bakeoff.codeid import import_closure
from bakeoff.jsonio import write_atomic
from bakeoff.resources import schemas_dir, seeds_dir
from publisher.frontend import tables
from publisher.frontend.compile import Context, Options, RunArtifact, compile_raw, default_context
from publisher.frontend.finding import Finding, finding_from_dict
from publisher.frontend.load import load_run

MAGIC = b"BAKEOFF\x01"
FORMAT = 1
COMPRESS_ROWS = 2000  # tables with more rows are lz4-compressed
RACY_NS = 2_000_000_000
_HEADER = struct.Struct("<I")


# The libraries whose behaviour reaches an artifact or an export file.
_LIBRARIES = ("msgspec", "pyarrow", "duckdb", "numpy", "google-re2")


def code_files(*modules: str) -> list[Path]:
    """Every file whose content can change what a run compiles to: the import closure of
    this module (the front end, the store and the ``bakeoff`` code they use), plus that of
    ``modules``, the schemas and the seeds. The site, the archive SQL and the CLI are outside
    it: editing them does not recompile the archive."""
    files = import_closure(__name__, *modules)
    files += sorted(schemas_dir().glob("*.json")) + sorted(seeds_dir().iterdir())
    return [p for p in files if p.is_file()]


@cache
def code_key(*modules: str) -> str:
    """What besides a run's bytes decides its artifact: ``code_files(*modules)`` and the
    versions of the libraries that decode and encode."""
    h = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    for lib in _LIBRARIES:
        h.update(f"{lib} {metadata.version(lib)}\0".encode())
    root = Path(__file__).resolve().parent.parent
    for path in code_files(*modules):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _options_key(options: Options) -> str:
    return f"synthetic={int(options.allow_synthetic)},publication={int(options.for_publication)}"


def _name(dir_name: str) -> str:
    return hashlib.sha256(dir_name.encode("utf-8", "surrogateescape")).hexdigest()


class _Header(msgspec.Struct):
    format: int
    dir_name: str
    content_sha256: str
    code_key: str
    options: str
    run_uuid: str | None
    findings: list[dict[str, Any]]
    tables: list[tuple[str, int, int]]  # name, offset, length in the payload
    payload_sha256: str


class ArtifactStore:
    """Read and write artifacts for one code key and one set of options."""

    def __init__(self, folder: Path, options: Options, key: str | None = None) -> None:
        self.folder = folder
        self.options = _options_key(options)
        self.key = key or code_key()
        self.hits = 0
        self.misses = 0

    def path(self, dir_name: str) -> Path:
        """The file of one run directory's artifact."""
        return self.folder / f"{_name(dir_name)}.artifact"

    def put(self, artifact: RunArtifact) -> None:
        """Store an artifact (atomically; a cache, so not fsync'ed)."""
        payload = bytearray()
        index: list[tuple[str, int, int]] = []
        for name, table in (artifact.tables or {}).items():
            sink = pa.BufferOutputStream()
            compression = "lz4" if table.num_rows > COMPRESS_ROWS else None
            options = pa.ipc.IpcWriteOptions(compression=compression)
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table)
            data = sink.getvalue().to_pybytes()
            index.append((name, len(payload), len(data)))
            payload += data
        header = _Header(
            format=FORMAT,
            dir_name=artifact.dir_name,
            content_sha256=artifact.content_sha256,
            code_key=self.key,
            options=self.options,
            run_uuid=artifact.run_uuid,
            findings=[f.to_dict() for f in artifact.findings],
            tables=index,
            payload_sha256=hashlib.sha256(payload).hexdigest(),
        )
        head = msgspec.json.encode(header)
        blob = MAGIC + _HEADER.pack(len(head)) + head + bytes(payload)
        write_atomic(self.path(artifact.dir_name), blob, durable=False)

    def get(
        self,
        dir_name: str,
        content_sha256: str | None = None,
        tables: Sequence[str] | None = None,
    ) -> RunArtifact | None:
        """The stored artifact of a run directory when it is intact and current, else None.

        With ``content_sha256`` None, any content is accepted (the caller checks the content
        the artifact reports). With ``tables``, only those tables are decoded (the whole
        payload is still checked against its hash).
        """
        artifact = self._read(dir_name, content_sha256, tables)
        if artifact is None:
            self.misses += 1
        else:
            self.hits += 1
        return artifact

    def _read(
        self, dir_name: str, content_sha256: str | None, wanted: Sequence[str] | None
    ) -> RunArtifact | None:
        try:
            blob = self.path(dir_name).read_bytes()
        except OSError:
            return None
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(blob, len(MAGIC))
        start = len(MAGIC) + _HEADER.size
        try:
            header = msgspec.json.decode(blob[start : start + size], type=_Header)
        except (msgspec.DecodeError, RecursionError):
            return None
        if (
            header.format != FORMAT
            or header.dir_name != dir_name
            or header.code_key != self.key
            or header.options != self.options
            or (content_sha256 is not None and header.content_sha256 != content_sha256)
        ):
            return None
        payload = memoryview(blob)[start + size :]
        if hashlib.sha256(payload).hexdigest() != header.payload_sha256:
            return None
        try:
            tables = {
                name: pa.ipc.open_stream(pa.py_buffer(payload[offset : offset + length])).read_all()
                for name, offset, length in header.tables
                if wanted is None or name in wanted
            }
            findings = tuple(finding_from_dict(f) for f in header.findings)
        except (pa.ArrowException, TypeError, ValueError):
            return None
        return RunArtifact(
            header.dir_name,
            header.content_sha256,
            findings,
            tables if header.tables else None,
            header.run_uuid,
        )

    def keep(self, dirs: Iterable[str]) -> int:
        """Delete the artifacts of run directories not in ``dirs``; return how many."""
        wanted = {self.path(d).name for d in dirs}
        removed = 0
        if self.folder.is_dir():
            for path in self.folder.glob("*.artifact"):
                if path.name not in wanted:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


# --------------------------------------------------------------------------- content index


Signature = tuple[tuple[str, int, int, int, int, int, int], ...]


def stat_signature(path: Path) -> Signature | None:
    """(name, mode, size, mtime_ns, ctime_ns, inode, device) of every entry (two levels deep),
    or None when the folder cannot be listed."""
    out: list[tuple[str, int, int, int, int, int, int]] = []
    try:
        st = os.stat(path, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            return None
        stack = [(str(path), "")]
        while stack:
            folder, rel = stack.pop()
            with os.scandir(folder) as it:
                for entry in it:
                    e = entry.stat(follow_symlinks=False)
                    name = rel + entry.name
                    out.append(
                        (
                            name,
                            e.st_mode,
                            e.st_size,
                            e.st_mtime_ns,
                            e.st_ctime_ns,
                            e.st_ino,
                            e.st_dev,
                        )
                    )
                    if stat.S_ISDIR(e.st_mode) and name.count("/") < 2:
                        stack.append((entry.path, name + "/"))
    except OSError:
        return None
    return tuple(sorted(out))


class _IndexEntry(msgspec.Struct):
    signature: list[tuple[str, int, int, int, int, int, int]]
    content_sha256: str
    recorded_ns: int


class ContentIndex:
    """Content hashes of run directories by the stat signature of their files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, _IndexEntry] = {}
        try:
            self.entries = msgspec.json.decode(path.read_bytes(), type=dict[str, _IndexEntry])
        except (OSError, msgspec.DecodeError, RecursionError):
            self.entries = {}

    def lookup(self, dir_name: str, signature: Signature | None) -> str | None:
        """The content hash recorded for an unchanged directory, else None."""
        entry = self.entries.get(dir_name)
        if entry is None or signature is None or tuple(map(tuple, entry.signature)) != signature:
            return None
        newest = max((max(s[3], s[4]) for s in signature), default=0)
        if entry.recorded_ns - newest < RACY_NS:
            return None  # changed too close to when it was recorded: re-read it
        return entry.content_sha256

    def record(self, dir_name: str, signature: Signature | None, content_sha256: str) -> None:
        """Remember a directory's content hash (None signature: nothing is remembered)."""
        if signature is None:
            self.entries.pop(dir_name, None)
            return
        self.entries[dir_name] = _IndexEntry(list(signature), content_sha256, _now_ns())

    def save(self, keep: Sequence[str]) -> None:
        """Write the index, forgetting directories not in ``keep``."""
        wanted = set(keep)
        entries = {k: v for k, v in sorted(self.entries.items()) if k in wanted}
        write_atomic(self.path, msgspec.json.encode(entries), durable=False)


def _now_ns() -> int:
    import time

    return time.time_ns()


def findings_of(artifacts: Mapping[str, RunArtifact]) -> list[Finding]:
    """Every finding of the given artifacts, in run order."""
    return [f for name in sorted(artifacts) for f in artifacts[name].findings]


# --------------------------------------------------------------------------- compiling

# Worker processes compiling changed runs (BAKEOFF_PUBLISH_JOBS; 1 compiles in-process).
JOBS = int(os.environ.get("BAKEOFF_PUBLISH_JOBS", str(min(2, os.cpu_count() or 1))))
WORKER_CHUNK = 50  # runs per worker task
PARALLEL_FROM = 100  # changed runs from which worker processes pay off


def obtain(
    path: Path,
    store: ArtifactStore,
    options: Options,
    ctx: Context,
    wanted: Sequence[str] = tables.SMALL,
) -> tuple[RunArtifact, bool]:
    """One run directory's artifact with the ``wanted`` tables: from the store when it holds
    this content, else compiled and stored. Returns (artifact, from the store)."""
    raw = load_run(path)
    cached = store.get(raw.dir_name, raw.content_sha256, tables=wanted)
    if cached is not None:
        return cached, True
    artifact = compile_raw(raw, options, ctx)
    store.put(artifact)
    if artifact.tables is not None:
        kept = {name: artifact.tables[name] for name in wanted}
        artifact = dataclasses.replace(artifact, tables=kept)
    return artifact, False


def _worker(
    paths: Sequence[str], folder: str, options: Options, key: str
) -> list[tuple[str, str, bool]]:
    """Compile a chunk of run directories in a worker process; returns (directory, content
    sha256, from the store) for each. The parent reads the small tables from the store:
    sending Arrow tables back through the pipe cost as much as compiling them."""
    store = ArtifactStore(Path(folder), options, key)
    ctx = default_context()
    out = []
    for p in paths:
        artifact, cached = obtain(Path(p), store, options, ctx, ())
        out.append((artifact.dir_name, artifact.content_sha256, cached))
    return out


def obtain_all(
    paths: Sequence[Path], store: ArtifactStore, options: Options, jobs: int = JOBS
) -> Iterator[tuple[RunArtifact, bool]]:
    """``obtain`` for many run directories (small tables), in ``jobs`` worker processes when
    many are to be compiled. Results arrive in ``paths`` order."""
    ctx = default_context()
    if jobs <= 1 or len(paths) < PARALLEL_FROM:
        for p in paths:
            yield obtain(p, store, options, ctx)
        return
    # Spawned, not forked: a worker starts small (this module's imports, not the publisher's)
    # and inherits no DuckDB connection or thread.
    context = multiprocessing.get_context("spawn")
    chunks = [paths[i : i + WORKER_CHUNK] for i in range(0, len(paths), WORKER_CHUNK)]
    by_name = {p.name: p for p in paths}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: deque[Future[list[tuple[str, str, bool]]]] = deque()

        def results() -> Iterator[tuple[RunArtifact, bool]]:
            for name, content, cached in pending.popleft().result():
                artifact = store.get(name, content, tables=tables.SMALL)
                if artifact is None:  # replaced or damaged since: compile it here
                    yield obtain(by_name[name], store, options, ctx)
                else:
                    yield artifact, cached

        for chunk in chunks:
            names = [str(p) for p in chunk]
            pending.append(pool.submit(_worker, names, str(store.folder), options, store.key))
            if len(pending) >= 2 * jobs:  # bounded: results never pile up in the parent
                yield from results()
        while pending:
            yield from results()
