"""Mutated run directories for the fuzz test (``tests/publisher/test_fuzz.py``) and the long
fuzz benchmark (``benchmarks/fuzz.py``), deterministic per seed.

A case starts from a valid run — every other one a copy of one of the archive's measured
runs (``runs/``) under a new run id and uuid, the others synthetic — and applies 1–4
mutations: hostile values in JSON fields (including the ones that once crashed publish:
integers beyond int64, dates that match the pattern but do not exist, ``1e308`` where an
integer is due, huge durations, duplicated concurrency levels, missing optional fields, deep
nesting, escaped private data), truncation, byte noise, extra lines, files deleted or added,
and special files (a FIFO, a symlink).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.synthetic import make_run

# A line an earlier mutation broke or nested past the decoder's depth limit: skipped.
UNREADABLE = (ValueError, RecursionError)

WEIRD: list[Any] = [
    None,
    True,
    0,
    -5,
    2**63,
    10**20,
    2**64,
    -(2**63) - 1,
    1e308,
    -1e308,
    1e15,
    0.5,
    "",
    "\u202e\u0000",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "10.1.2.3",
    "bob@host",
    "/home/x",
    "2026-13-45T99:99:99Z",
    "2026-02-30T00:00:00Z",
    "2026-02-28T24:00:00Z",
    "0000-01-01T00:00:00Z",
    "cold",
    "call",
    "meta",
    [1, 1],
    [],
    {},
    {"a": [1, {"b": None}]},
]
RAW_LINES = [
    b"NaN\n",
    b"{}\n",
    b"\n\n",
    b'{"type":null}\n',
    b"\xff\xfe\n",
    b'{"a":1e400}\n',
    b"[" * 100_000 + b"]" * 100_000 + b"\n",
    b'{"type":"meta","x":' + b"[" * 100_000 + b"\n",
    b'{"type": "skipped", "cell_id": "a", "reason": "alice\\u0040devbox", '
    b'"at": "2026-01-01T00:00:00Z"}\n',
]
TARGETED: list[tuple[str, Any]] = [
    ("/config/concurrency", [1, 1]),
    ("/config/tasks", None),  # removed below: an optional field that is absent
    ("/run_hardware_metrics/cells", None),
    ("/hardware/system_hardware/ram_total_gb", 1e308),
    ("/summary/calls_total", 2**64),
    ("/started_at", "2026-02-30T10:00:00Z"),
    ("/finished_at", "2026-13-45T10:00:00Z"),
    ("/cells/0/engine_version", "alice\u0040devbox 10.1.2.3 /home/alice"),
]
CALL_TARGETED: list[tuple[str, Any]] = [
    ("http_status", 10**20),
    ("chunks", 2**64),
    ("chunks", 1e308),
    ("total_duration_ms", 1e15),
    ("first_delta_ms", 1e308),
    ("started_at", "2026-02-30T10:00:00Z"),
    ("prompt_tokens", -5),
    ("completion_tokens", 10**40),
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, allow_nan=True).encode()
    except (RecursionError, ValueError):
        return b"[" * 5000


def _pointer(doc: Any, pointer: str, value: Any, remove: bool) -> Any:
    parts = [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/")]
    parent = doc
    try:
        for key in parts[:-1]:
            parent = parent[key]
        if remove and isinstance(parent, dict):
            parent.pop(parts[-1], None)
        else:
            parent[parts[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass
    return doc


Mutation = Callable[[random.Random, Path], str]


def _json_files(run: Path) -> list[Path]:
    return sorted(p for p in run.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))


def _any_files(run: Path) -> list[Path]:
    return sorted(p for p in run.rglob("*") if p.is_file() and not p.is_symlink())


def value(rng: random.Random, run: Path) -> str:
    files = _json_files(run)
    if not files:
        return "value: no JSON file"
    path = rng.choice(files)
    data = path.read_bytes()
    lines = data.split(b"\n") if path.suffix == ".jsonl" else [data]
    idx = rng.randrange(max(1, len(lines)))
    try:
        doc = json.loads(lines[idx])
    except UNREADABLE:
        return "value: line not JSON"
    where = rng.choice(_paths(doc))
    lines[idx] = _dumps(_set(doc, where, rng.choice(WEIRD)))
    path.write_bytes(b"\n".join(lines))
    return f"value {path.name}:{idx + 1} {'/'.join(map(str, where))}"


def targeted(rng: random.Random, run: Path) -> str:
    md_path = run / "metadata.json"
    if rng.random() < 0.5 and md_path.is_file():
        pointer, new = rng.choice(TARGETED)
        try:
            md = json.loads(md_path.read_text())
        except UNREADABLE:
            return "targeted: metadata not JSON"
        md_path.write_text(json.dumps(_pointer(md, pointer, new, new is None)))
        return f"targeted metadata {pointer}"
    ledger = run / "run.jsonl"
    if not ledger.is_file():
        return "targeted: no ledger"
    lines = ledger.read_bytes().split(b"\n")
    calls = [
        i for i, line in enumerate(lines) if b'"type": "call"' in line or b'"type":"call"' in line
    ]
    if not calls:
        return "targeted: no call"
    i = rng.choice(calls)
    field, new = rng.choice(CALL_TARGETED)
    try:
        rec = json.loads(lines[i])
        rec[field] = new
        lines[i] = json.dumps(rec).encode()
    except (*UNREADABLE, TypeError):
        return "targeted: call not JSON"
    ledger.write_bytes(b"\n".join(lines))
    return f"targeted call {field}"


EDGE_FLOATS = [0.0, -0.0, 5e-324, 1e-300, 1e308, 1.7976931348623157e308, 123456789.123, 1e15]
EDGE_INTS = [0, 1, 2**63 - 1, 2**53 + 1, 10**15]
EDGE_STRINGS = [
    "\u202e\u0000\u200b",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " * 50,
    "x" * 5000,
    "<script>alert(1)</script>",
    "'; DROP TABLE runs; --",
    "line\nbreak\r\n::error::injected",
    "%0A::warning::x",
]


def edge(rng: random.Random, run: Path) -> str:
    """A value of the right JSON type but at an edge (huge, tiny, odd text): mostly accepted,
    so the exports and statistics see it."""
    files = _json_files(run)
    if not files:
        return "edge: no JSON file"
    path = rng.choice(files)
    data = path.read_bytes()
    lines = data.split(b"\n") if path.suffix == ".jsonl" else [data]
    idx = rng.randrange(max(1, len(lines)))
    try:
        doc = json.loads(lines[idx])
    except UNREADABLE:
        return "edge: line not JSON"
    leaves = [p for p in _paths(doc) if p and not isinstance(_get(doc, p), dict | list)]
    if not leaves:
        return "edge: no leaf"
    where = rng.choice(leaves)
    old = _get(doc, where)
    if isinstance(old, bool) or old is None:
        new: Any = old
    elif isinstance(old, int):
        new = rng.choice(EDGE_INTS)
    elif isinstance(old, float):
        new = rng.choice(EDGE_FLOATS)
    else:
        new = rng.choice(EDGE_STRINGS)
    lines[idx] = _dumps(_set(doc, where, new))
    path.write_bytes(b"\n".join(lines))
    return f"edge {path.name}:{idx + 1} {'/'.join(map(str, where))}"


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def truncate(rng: random.Random, run: Path) -> str:
    files = _any_files(run)
    if not files:
        return "truncate: nothing"
    path = rng.choice(files)
    data = path.read_bytes()
    path.write_bytes(data[: rng.randint(0, len(data))])
    return f"truncate {path.name}"


def noise(rng: random.Random, run: Path) -> str:
    files = _any_files(run)
    if not files:
        return "noise: nothing"
    path = rng.choice(files)
    data = path.read_bytes()
    pos = rng.randint(0, len(data))
    path.write_bytes(data[:pos] + rng.randbytes(rng.randint(1, 12)) + data[pos:])
    return f"noise {path.name}@{pos}"


def line(rng: random.Random, run: Path) -> str:
    files = [p for p in _any_files(run) if p.suffix == ".jsonl"]
    if not files:
        return "line: no JSONL"
    path = rng.choice(files)
    with path.open("ab") as fh:
        fh.write(rng.choice(RAW_LINES))
    return f"line {path.name}"


def delete(rng: random.Random, run: Path) -> str:
    files = _any_files(run)
    if not files:
        return "delete: nothing"
    path = rng.choice(files)
    path.unlink()
    return f"delete {path.name}"


def add(rng: random.Random, run: Path) -> str:
    name = rng.choice(["x.txt", "datasets/y.jsonl", "datasets/z/q.jsonl", "run.log.bak"])
    path = run / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rng.randbytes(rng.randint(0, 20)))
    return f"add {name}"


def special(rng: random.Random, run: Path) -> str:
    name = rng.choice(["run.log", "run.jsonl", "samples.jsonl", "run.md"])
    path = run / name
    path.unlink(missing_ok=True)
    if rng.random() < 0.5:
        os.mkfifo(path)  # a plain open() of it would block forever
        return f"fifo {name}"
    os.symlink("/etc/hostname", path)
    return f"symlink {name}"


MUTATIONS: tuple[Mutation, ...] = (
    *(edge,) * 8,
    *(value,) * 2,
    *(targeted,) * 3,
    truncate,
    noise,
    line,
    delete,
    add,
    special,
)


GENTLE: tuple[Mutation, ...] = (*(edge,) * 4, targeted)


@dataclass(frozen=True)
class Case:
    """One fuzz case: where its run directory is and what was done to it."""

    seed: int
    path: Path
    mutations: tuple[str, ...]


# The archive's own measured runs: every other case starts from a copy of one of them.
ARCHIVE_RUNS = Path(__file__).resolve().parents[1] / "runs"


def real_runs() -> list[Path]:
    """The measured run directories of this checkout's archive, in name order."""
    if not ARCHIVE_RUNS.is_dir():
        return []
    return sorted(p for p in ARCHIVE_RUNS.iterdir() if (p / "metadata.json").is_file())


def copy_real_run(root: Path, rng: random.Random, source: Path) -> Path:
    """``source`` under a new run id and run uuid (so copies can share an archive and are not
    duplicates of each other), byte for byte otherwise."""
    old_id = source.name
    old_uuid = json.loads((source / "metadata.json").read_text(encoding="utf-8"))["run_uuid"]
    new_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    new_id = f"{old_id.split('-', 1)[0]}-{rng.getrandbits(32):08x}"
    dest = root / new_id
    dest.mkdir(parents=True)
    for f in sorted(source.iterdir()):
        if f.is_file():
            data = f.read_bytes().replace(old_id.encode(), new_id.encode())
            (dest / f.name).write_bytes(data.replace(old_uuid.encode(), new_uuid.encode()))
    return dest


def make_case(root: Path, seed: int) -> Case:
    """A valid run mutated 1–4 times, deterministically from ``seed`` (and the archive's
    contents): odd seeds start from a copy of one of the archive's measured runs when it has
    any, even seeds from a synthetic run."""
    rng = random.Random(seed)
    measured = real_runs()
    if seed % 2 and measured:
        run = copy_real_run(root, rng, rng.choice(measured))
    else:
        run = make_run(
            root,
            seed=seed,
            n_cells=rng.randint(1, 2),
            calls_per_cell=rng.randint(2, 6),
            with_samples=rng.random() < 0.5,
            with_quality=rng.random() < 0.2,
            meta_only=rng.random() < 0.05,
            scorer=lambda o, r: {"rouge1": 0.5, "rouge2": 0.25, "rougeL": 0.5},
        )
    # Two cases in five mutate values only (edge values, the once-fatal ones), so that many
    # cases are accepted and reach the exports; the rest may break anything.
    pool = GENTLE if rng.random() < 0.4 else MUTATIONS
    done = tuple(rng.choice(pool)(rng, run) for _ in range(rng.randint(1, 3)))
    return Case(seed, run, done)


@dataclass(frozen=True)
class Outcome:
    """What became of one case: accepted by validate, and stored by the export encoding."""

    accepted: bool
    stored: bool
    codes: tuple[str, ...]
    problem: str | None = None  # a traceback or a refusal after acceptance


def store_tables(artifact: Any, con: Any) -> None:
    """Carry an accepted run through what publish does with it: the artifact store, the
    archive stage (catalogue included), Parquet and DuckDB encodings of every table."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from publisher.archive.build import SMALL, build_archive
    from publisher.frontend import tables
    from publisher.frontend.compile import Options
    from publisher.store import ArtifactStore

    with tempfile.TemporaryDirectory(prefix="bakeoff-fuzz-store-") as folder:
        store = ArtifactStore(Path(folder), Options(allow_synthetic=True), key="fuzz")
        store.put(artifact)
        back = store.get(artifact.dir_name, artifact.content_sha256)
        assert back is not None and back.tables is not None
        assert all(back.tables[n].equals(artifact.tables[n]) for n in artifact.tables)
    archive, findings = build_archive({name: artifact.tables[name] for name in SMALL})
    assert not findings
    published = {**archive.tables, **{n: artifact.tables[n] for n in tables.LARGE}}
    for name, table in published.items():
        assert table.schema == tables.schema(name), name
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        con.register("_t", table)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _t')
        con.unregister("_t")


def check_case(case: Case, con: Any, allow_synthetic: bool = True) -> Outcome:
    """Validate one case as ``bakeoff validate --for-publication`` does, then, when accepted,
    store it as publish would. A traceback anywhere is the problem reported."""
    import traceback

    from publisher import publish as pipeline
    from publisher.frontend.compile import Options
    from publisher.frontend.finding import CODES

    options = Options(allow_synthetic=allow_synthetic, for_publication=True)
    try:
        (artifact,) = pipeline.validate_paths([case.path], options)
    except Exception:
        return Outcome(False, False, (), "validate raised:\n" + traceback.format_exc())
    codes = tuple(sorted({f.code for f in artifact.findings}))
    unknown = [c for c in codes if c not in CODES]
    if unknown:
        return Outcome(False, False, codes, f"unregistered finding codes {unknown}")
    accepted = not any(f.severity == "error" for f in artifact.findings)
    if accepted != artifact.ok:
        return Outcome(accepted, False, codes, "tables and findings disagree")
    if not accepted:
        return Outcome(False, False, codes)
    try:
        store_tables(artifact, con)
    except Exception:
        return Outcome(True, False, codes, "accepted but not stored:\n" + traceback.format_exc())
    return Outcome(True, True, codes)
