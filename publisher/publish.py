"""The orchestrator of ``bakeoff publish`` and ``bakeoff validate``; the only module that knows
paths.

    step 1 compile   every changed run directory → its artifact (``frontend.compile_run``),
                     through the artifact store; unchanged runs are recognised by their content
    step 2 validate  all findings, and the archive-wide ones (one run in two directories)
    step 3 archive   archive-wide tables and the catalogue (``archive.build``, DuckDB SQL)
    step 4 export    Parquet, the partitioned datasets, the DuckDB file, the manifest
    step 5 site      the site's generated pages (while the DuckDB file is written)
    step 6 commit    one atomic swap of every output

Publishing is all or nothing: every output is built in a staging place next to its target,
then a journal lists the swaps and the swaps are made; if one fails, the ones made are undone.
A publish that was killed half-way is rolled back at the start of the next one (the journal
says what to undo), and staging leftovers are removed. A lock file keeps two publishes of the
same ``--out`` from running at once.

Between publishes ``<out>/.cache/`` keeps the artifact store, the content index and the
archive state (the per-run tables of every published run, concatenated), so adding one run
compiles one run and re-derives only columns.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from bakeoff import __version__
from bakeoff.jsonio import write_atomic, write_json
from bakeoff.timefmt import format_utc_us
from publisher.archive.build import SMALL, Archive, build_archive, duplicate_findings
from publisher.archive.catalogue import render_catalogue
from publisher.errors import ExportError, OutputError, RunsInvalidError, StaleCatalogueError
from publisher.export import export_tables, partitions
from publisher.frontend import tables
from publisher.frontend.compile import Context, Options, RunArtifact, compile_raw, default_context
from publisher.frontend.finding import Finding, finding_from_dict
from publisher.frontend.load import iter_run_dirs, load_run
from publisher.store import (
    JOBS,
    ArtifactStore,
    ContentIndex,
    code_key,
    obtain,
    obtain_all,
    stat_signature,
)

Log = Callable[[str], None]
STEPS = 6
JOURNAL = ".publish-journal.json"
LOCK = ".publish.lock"
MERGE_EVERY = 256  # runs whose small tables are merged into one block at a time
STAGING = ".staging-"


def _nolog(_: str) -> None:
    pass


@dataclass(frozen=True)
class PublishConfig:
    """Where publish reads and writes."""

    runs_dir: Path
    out_dir: Path
    catalogue_path: Path
    site_dir: Path | None = None
    allow_synthetic: bool = False
    jobs: int | None = None

    @property
    def options(self) -> Options:
        """Compile options: publishing is always for publication."""
        return Options(allow_synthetic=self.allow_synthetic, for_publication=True)


@dataclass
class PublishReport:
    """The outcome of a publish, for the CLI to render."""

    runs: int = 0
    compiled: int = 0
    cached: int = 0
    warnings: list[Finding] = field(default_factory=list)
    hardware_changes: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    site: str = "skipped"


# --------------------------------------------------------------------------- validate


def run_dirs(runs_dir: Path) -> list[Path]:
    """Every run directory of the archive, in name order."""
    return list(iter_run_dirs(runs_dir))


def validate_paths(
    paths: Sequence[Path], options: Options, ctx: Context | None = None
) -> list[RunArtifact]:
    """Compile run directories afresh (no store) — what ``bakeoff validate`` reports —
    plus the findings only several runs show (one run in two directories)."""
    ctx = ctx or default_context()
    artifacts = [compile_raw(load_run(p), options, ctx) for p in paths]
    groups: dict[str, list[str]] = {}
    for a in artifacts:
        if a.run_uuid is not None:
            groups.setdefault(a.run_uuid, []).append(a.dir_name)
    dups = duplicate_findings({u: d for u, d in groups.items() if len(d) > 1})
    if not dups:
        return artifacts
    by_dir: dict[str, list[Finding]] = {}
    for f in dups:
        by_dir.setdefault(f.run_id, []).append(f)
    return [
        RunArtifact(
            a.dir_name,
            a.content_sha256,
            a.findings + tuple(by_dir.get(a.dir_name, ())),
            None if a.dir_name in by_dir else a.tables,
            a.run_uuid,
        )
        for a in artifacts
    ]


# --------------------------------------------------------------------------- archive state


class _RunEntry(msgspec.Struct):
    content: str
    ok: bool
    run_uuid: str | None
    month: str | None
    findings: list[dict[str, Any]]


class _StateHeader(msgspec.Struct):
    key: str
    runs: dict[str, _RunEntry]


@dataclass
class ArchiveState:
    """The per-run tables of every published run (concatenated, run order) and, per run
    directory, its content hash and findings: what the next publish starts from."""

    key: str
    runs: dict[str, _RunEntry] = field(default_factory=dict)
    small: dict[str, pa.Table] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, key: str) -> ArchiveState:
        """The saved state when it was made by this code with these options, else empty."""
        try:
            header = msgspec.json.decode((folder / "state.json").read_bytes(), type=_StateHeader)
            if header.key != key:
                raise ValueError("stale")
            small = {}
            for name in SMALL:
                with pa.memory_map(str(folder / f"{name}.arrow")) as source:
                    small[name] = pa.ipc.open_file(source).read_all()
                if small[name].schema != tables.schema(name):
                    raise ValueError("schema")
            return cls(key, dict(header.runs), small)
        except (OSError, ValueError, msgspec.DecodeError, pa.ArrowException, RecursionError):
            return cls(key, {}, {name: tables.empty(name) for name in SMALL})

    def save(self, folder: Path) -> None:
        """Write the state (a cache: atomic per file, not fsync'ed)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.small.items():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            write_atomic(folder / f"{name}.arrow", sink.getvalue().to_pybytes(), durable=False)
        header = _StateHeader(self.key, dict(sorted(self.runs.items())))
        write_atomic(folder / "state.json", msgspec.json.encode(header), durable=False)

    def replace(
        self,
        drop: set[str],
        artifacts: Iterable[RunArtifact],
        each: Callable[[RunArtifact], None] | None = None,
    ) -> None:
        """Forget the runs in ``drop`` and add the given artifacts (their tables and entries),
        calling ``each`` with every artifact as it is taken. Tables are merged in blocks of
        ``MERGE_EVERY`` runs: thousands of one-run Arrow tables cost more in per-array
        overhead (~0.5 KB per column per run) than their rows."""
        for name in drop:
            self.runs.pop(name, None)
        gone = pa.array(sorted(drop), pa.string())
        blocks: dict[str, list[pa.Table]] = {name: [] for name in SMALL}
        if len(gone):
            for name in SMALL:
                kept = self.small[name]
                keep = pc.invert(pc.is_in(kept.column("run_id"), value_set=gone))
                blocks[name].append(kept.filter(keep))
        else:
            for name in SMALL:
                blocks[name].append(self.small[name])
        pending: dict[str, list[pa.Table]] = {name: [] for name in SMALL}

        def merge() -> None:
            for name in SMALL:
                if pending[name]:
                    blocks[name].append(pa.concat_tables(pending[name]).combine_chunks())
                    pending[name] = []

        for count, a in enumerate(artifacts, 1):
            month = None
            if a.tables is not None:
                started = a.tables["runs"].column("started_at").cast(pa.int64())[0].as_py()
                month = format_utc_us(started)[:7]
                for name in SMALL:
                    pending[name].append(a.tables[name])
            self.runs[a.dir_name] = _RunEntry(
                a.content_sha256, a.ok, a.run_uuid, month, [f.to_dict() for f in a.findings]
            )
            if each is not None:
                each(a)
            if count % MERGE_EVERY == 0:
                merge()
        merge()
        for name in SMALL:
            merged = pa.concat_tables(blocks[name])
            order = pc.sort_indices(merged, [("run_id", "ascending")])  # stable: rows keep order
            self.small[name] = merged.take(order)

    def findings(self) -> list[Finding]:
        """Every finding of every run directory, in directory order."""
        return [
            finding_from_dict(f) for name in sorted(self.runs) for f in self.runs[name].findings
        ]


# --------------------------------------------------------------------------- step 1


@dataclass
class Collected:
    """The archive after step 1: its state, and what changed."""

    state: ArchiveState
    store: ArtifactStore
    compiled: int = 0
    cached: int = 0
    unchanged: int = 0


def collect(config: PublishConfig, log: Log = _nolog) -> Collected:
    """Step 1: bring the archive state up to date with the run directories."""
    cache = config.out_dir / ".cache"
    options = config.options
    store = ArtifactStore(cache / "artifacts", options)
    key = f"{store.key}:{store.options}"
    state = ArchiveState.load(cache / "archive", key)
    index = ContentIndex(cache / "index.json")
    paths = run_dirs(config.runs_dir)
    signatures = {p.name: stat_signature(p) for p in paths}
    todo = []
    for p in paths:
        known = index.lookup(p.name, signatures[p.name])
        entry = state.runs.get(p.name)
        if known is None or entry is None or entry.content != known:
            todo.append(p)
    present = {p.name for p in paths}
    removed = set(state.runs) - present
    result = Collected(state, store, unchanged=len(paths) - len(todo))
    from_store: list[bool] = []

    def obtained() -> Iterator[RunArtifact]:
        for artifact, cached in obtain_all(todo, store, options, config.jobs or JOBS):
            from_store.append(cached)
            yield artifact

    def record(artifact: RunArtifact) -> None:
        index.record(artifact.dir_name, signatures.get(artifact.dir_name), artifact.content_sha256)

    state.replace(removed | {p.name for p in todo}, obtained(), record)
    result.cached = sum(from_store)
    result.compiled = len(from_store) - result.cached
    index.save(sorted(present))
    log(
        f"step 1/{STEPS} compile: {len(paths)} run directories "
        f"({result.compiled} compiled, {result.cached} from the store, "
        f"{result.unchanged} unchanged)"
    )
    return result


def _check(state: ArchiveState, archive_findings: list[Finding], log: Log) -> list[Finding]:
    findings = state.findings() + archive_findings
    errors = [f for f in findings if f.severity == "error"]
    log(f"step 2/{STEPS} validate: {len(errors)} errors, {len(findings) - len(errors)} warnings")
    if errors:
        raise RunsInvalidError(findings)
    return findings


# --------------------------------------------------------------------------- commit


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fh = open(out_dir / LOCK, "a+")  # noqa: SIM115 - held for the whole publish
    except OSError as exc:
        raise OutputError(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise OutputError(
                f"another `bakeoff publish` is writing to {out_dir}; wait for it to finish"
            ) from exc
        yield
    finally:
        fh.close()


class _Move(msgspec.Struct):
    staged: str
    target: str
    backup: str


def _undo(moves: Sequence[_Move]) -> None:
    """Put every target back as it was before the moves (in reverse order)."""
    for m in reversed(moves):
        target, backup = Path(m.target), Path(m.backup)
        if backup.exists() or backup.is_symlink():
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(backup, target)


def recover(config: PublishConfig) -> list[str]:
    """Roll back a publish that was killed during its commit, and remove the staging leftovers
    of interrupted publishes. Returns what was done, for the log."""
    done: list[str] = []
    journal = config.out_dir / JOURNAL
    if journal.exists():
        try:
            moves = msgspec.json.decode(journal.read_bytes(), type=list[_Move])
        except (OSError, msgspec.DecodeError):
            moves = []
        _undo(moves)
        journal.unlink(missing_ok=True)
        done.append(f"rolled back an interrupted publish ({len(moves)} outputs restored)")
    places = {config.out_dir, config.catalogue_path.parent}
    if config.site_dir is not None:
        places.add(config.site_dir.parent)
    for place in sorted(places):
        if not place.is_dir():
            continue
        for entry in place.iterdir():
            if entry.name.startswith(".") and STAGING in entry.name:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                done.append(f"removed {entry}")
    return done


def _staging(target: Path) -> Path:
    return target.with_name(f".{target.name}{STAGING}{os.getpid()}")


def commit(pairs: Sequence[tuple[Path, Path]], out_dir: Path) -> None:
    """Swap every staged output into place, all or nothing; ``pairs`` are (staged, target).

    The journal is written first, so a kill during the swaps is undone by ``recover``.
    """
    moves = [
        _Move(str(s), str(t), str(t.with_name(f".{t.name}{STAGING}old-{os.getpid()}")))
        for s, t in pairs
    ]
    journal = out_dir / JOURNAL
    write_atomic(journal, msgspec.json.encode(moves))
    made: list[_Move] = []
    try:
        for m in moves:
            target = Path(m.target)
            if target.exists() or target.is_symlink():
                os.replace(target, m.backup)
            made.append(m)
            os.replace(m.staged, target)
    except OSError as exc:
        _undo(made)
        journal.unlink(missing_ok=True)
        raise OutputError(
            f"could not replace {exc.filename or target}: {exc.strerror or exc}"
        ) from exc
    journal.unlink(missing_ok=True)
    for m in moves:
        backup = Path(m.backup)
        if backup.is_dir() and not backup.is_symlink():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            backup.unlink(missing_ok=True)


# --------------------------------------------------------------------------- publish


def _site_pages(
    archive: Archive, reader: Any, out_dir: Path, previous: Path | None, log: Log
) -> str:
    try:
        pages = importlib.import_module("publisher.site.pages")
    except ModuleNotFoundError as exc:
        if exc.name not in ("publisher.site", "publisher.site.pages"):
            raise
        log(f"step 5/{STEPS} site pages: skipped (publisher.site.pages is not available)")
        return "skipped"
    pages.build_pages(archive, reader, out_dir, previous)
    return "written"


def _build_info(n_runs: int) -> dict[str, Any]:
    # Volatile build details live here, never in catalogue.json.
    import duckdb

    return {
        "bakeoff_version": __version__,
        "duckdb_version": duckdb.__version__,
        "pyarrow_version": pa.__version__,
        "python_version": platform.python_version(),
        "runs": n_runs,
    }


class LargeTables:
    """The rows of the large tables (calls, samples) per run, from the artifact store; an
    artifact that is missing, corrupt or not the run's is compiled again, never trusted."""

    def __init__(self, store: ArtifactStore, state: ArchiveState, config: PublishConfig) -> None:
        self.store = store
        self.state = state
        self.config = config
        # Names the version of every run's rows: with a run's content hash, they are fixed.
        self.key = f"{store.key}:{store.options}"

    def __call__(self, table: str, run_id: str) -> pa.Table:
        """One run's rows of ``table`` (``calls`` or ``samples``)."""
        entry = self.state.runs.get(run_id)
        if entry is None:
            raise ExportError(f"{run_id} is not a published run")
        artifact = self.store.get(run_id, entry.content, tables=(table,))
        if artifact is None:
            artifact, _ = obtain(
                self.config.runs_dir / run_id,
                self.store,
                self.config.options,
                default_context(),
                (table,),
            )
            if artifact.content_sha256 != entry.content:
                raise ExportError(
                    f"{self.config.runs_dir / run_id} changed while publishing; publish again"
                )
        if artifact.tables is None:
            raise ExportError(f"{run_id} no longer compiles; run `bakeoff validate {run_id}`")
        return artifact.tables[table]


def _prepare(config: PublishConfig, log: Log) -> tuple[Collected, Archive, list[Finding]]:
    collected = collect(config, log)
    state = collected.state
    archive, dups = build_archive(state.small)
    findings = _check(state, dups, log)
    log(
        f"step 3/{STEPS} archive: {archive.tables['runs'].num_rows} runs, "
        f"{archive.tables['system_hardware'].num_rows} systems, "
        f"{archive.tables['gpu_hardware'].num_rows} GPU specs, "
        f"{len(archive.changes)} hardware changes"
    )
    return collected, archive, findings


def check_catalogue(config: PublishConfig, log: Log = _nolog) -> None:
    """Raise StaleCatalogueError when the committed catalogue differs from the runs."""
    with _locked(config.out_dir):
        recover(config)
        collected, archive, _ = _prepare(config, log)
        collected.state.save(config.out_dir / ".cache" / "archive")
    text = render_catalogue(archive.catalogue)
    try:
        current = config.catalogue_path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != text:
        raise StaleCatalogueError(
            f"{config.catalogue_path} is stale against {config.runs_dir}; "
            "run `bakeoff publish` and commit catalogue.json"
        )


def publish(config: PublishConfig, log: Log = _nolog) -> PublishReport:
    """Compile, validate and publish every run: catalogue.json, exports and site pages, all
    swapped into place at once."""
    with _locked(config.out_dir):
        for line in recover(config):
            log(line)
        return _publish(config, log)


def _publish(config: PublishConfig, log: Log) -> PublishReport:
    collected, archive, findings = _prepare(config, log)
    state = collected.state
    report = PublishReport(
        runs=archive.tables["runs"].num_rows,
        compiled=collected.compiled,
        cached=collected.cached,
        warnings=findings,
        hardware_changes=[c.render() for c in archive.changes],
    )
    for line in report.hardware_changes:
        log(f"  {line}")
    exports = config.out_dir / "exports"
    staged_exports = _staging(exports)
    staged_catalogue = _staging(config.catalogue_path)
    staged_info = _staging(config.out_dir / "build-info.json")
    staged_site = _staging(config.site_dir) if config.site_dir is not None else None
    runs = archive.tables["runs"]
    months = [format_utc_us(t)[:7] for t in runs.column("started_at").cast(pa.int64()).to_pylist()]
    parts = partitions(
        list(
            zip(
                runs.column("run_id").to_pylist(),
                months,
                runs.column("content_sha256").to_pylist(),
                strict=True,
            )
        ),
        f"{collected.store.key}\0{code_key('publisher.export')}",  # artifacts and the encoder
    )
    reader = LargeTables(collected.store, state, config)
    published = {
        name: archive.tables[name] for name in tables.PUBLISHED if name not in tables.LARGE
    }
    try:
        for staged in (staged_exports, staged_catalogue, staged_info, staged_site):
            if staged is not None and staged.exists():
                shutil.rmtree(staged) if staged.is_dir() else staged.unlink()
        site_lines: list[str] = []

        def pages() -> None:  # while the DuckDB file is written
            if staged_site is not None:
                staged_site.parent.mkdir(parents=True, exist_ok=True)
                report.site = _site_pages(
                    archive, reader, staged_site, config.site_dir, site_lines.append
                )

        try:
            report.manifest = export_tables(
                published, parts, reader, staged_exports, previous=exports, meanwhile=pages
            )
            write_atomic(staged_catalogue, render_catalogue(archive.catalogue))
            write_json(staged_info, _build_info(report.runs))
        except OSError as exc:
            raise OutputError(f"could not write {exc.filename}: {exc.strerror or exc}") from exc
        reused = report.manifest.pop("reused_partitions", 0)
        duckdb_mode = report.manifest.pop("duckdb", "built")
        log(
            f"step 4/{STEPS} export: {len(report.manifest['files'])} files "
            f"({reused} partitions unchanged, DuckDB file {duckdb_mode})"
        )
        for line in site_lines:
            log(line)
        log(f"step 5/{STEPS} site pages: {report.site}")
        pairs = [(staged_exports, exports), (staged_catalogue, config.catalogue_path)]
        pairs.append((staged_info, config.out_dir / "build-info.json"))
        if staged_site is not None and config.site_dir is not None and report.site == "written":
            pairs.append((staged_site, config.site_dir))
        commit(pairs, config.out_dir)
        log(f"step 6/{STEPS} commit: {len(pairs)} outputs replaced")
    finally:
        for staged in (staged_exports, staged_catalogue, staged_info, staged_site):
            if staged is not None and (staged.exists() or staged.is_symlink()):
                if staged.is_dir() and not staged.is_symlink():
                    shutil.rmtree(staged, ignore_errors=True)
                else:
                    staged.unlink(missing_ok=True)
    state.save(config.out_dir / ".cache" / "archive")
    collected.store.keep(state.runs)
    return report


def temporary_out(prefix: str = "bakeoff-") -> Path:
    """A temporary folder (for ``publish --check``, which writes nothing that stays)."""
    return Path(tempfile.mkdtemp(prefix=prefix))
