"""``compile_run``: the only way any command turns a run directory into data.

    load → decode → rules → derive → privacy → RunArtifact(findings, tables)

``bakeoff validate`` renders the findings; ``bakeoff publish`` stores the tables (per run, in
``publisher.store``) and derives the archive from them; ``bakeoff compare`` reads the same
tables. So what validate accepts is exactly what publish stores: a run with an error finding
has no tables, and a run without one has tables every export can hold (the decoder bounds
integers to int64, refuses non-finite numbers and impossible dates; the statistics never
return a non-finite number).

No input raises here: every problem is a finding.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from bakeoff.resources import seeds_dir
from publisher.errors import VersionError
from publisher.frontend import decode, derive, privacy, rules, tables
from publisher.frontend.decode import DocumentType, Problem
from publisher.frontend.derive import CallColumns
from publisher.frontend.finding import Finding, has_errors
from publisher.frontend.load import RawRun, load_run
from publisher.frontend.migrate import CURRENT_VERSION, LEDGER_STEPS, METADATA_STEPS, Step, migrate
from publisher.frontend.quality import Scorer, check_rouge, default_scorer
from publisher.frontend.rules import Findings

JSON_FILES = ("metadata.json",)
JSONL_FILES = ("run.jsonl", "samples.jsonl")
_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')
_METADATA_TIMES = ("created_at", "updated_at", "started_at", "finished_at")


@dataclass(frozen=True)
class Options:
    """Switches of a compilation (part of the artifact store's key)."""

    allow_synthetic: bool = False
    for_publication: bool = False


@dataclass(frozen=True)
class RunArtifact:
    """What one run directory compiles to: its findings and, when it has no error, its tables
    (``tables.PER_RUN``)."""

    dir_name: str
    content_sha256: str
    findings: tuple[Finding, ...]
    tables: Mapping[str, pa.Table] | None = None
    run_uuid: str | None = None

    @property
    def ok(self) -> bool:
        """The run passed: it has tables and no error finding."""
        return self.tables is not None

    @property
    def run_id(self) -> str:
        """The run id (the directory name; they are equal for every run that passed)."""
        return self.dir_name


@dataclass(frozen=True)
class Context:
    """What compiling needs besides the run: bundled datasets and the ROUGE scorer."""

    seed_datasets: Mapping[str, bytes] = field(default_factory=dict)
    scorer: Callable[[], Scorer | None] = default_scorer


@cache
def default_context() -> Context:
    """The bundled task datasets (``seeds/*.jsonl``, by name) and rouge-score when installed."""
    datasets = {p.stem: p.read_bytes() for p in sorted(seeds_dir().glob("*.jsonl"))}
    return Context(seed_datasets=datasets)


def compile_run(
    path: Path, options: Options | None = None, ctx: Context | None = None
) -> RunArtifact:
    """Load and compile one run directory."""
    return compile_raw(load_run(path), options, ctx)


# --------------------------------------------------------------------------- decoding


def _versioned(
    data: bytes, doc: DocumentType, steps: Mapping[int, Step]
) -> tuple[Any, Problem | None]:
    """Decode a document that carries ``schema_version``, upgrading older versions."""
    version = decode.schema_version(data)
    if version is None or version == CURRENT_VERSION:
        return decode.decode(data, doc)
    try:
        migrate({"schema_version": version}, {})  # refuses newer and invalid versions
    except VersionError as exc:
        return None, Problem(exc.code, str(exc), "/schema_version")
    try:
        raw = msgspec.json.decode(data)
        upgraded = migrate(raw, steps) if isinstance(raw, dict) else raw
        return msgspec.convert(upgraded, doc.root), None
    except VersionError as exc:
        return None, Problem(exc.code, str(exc), "/schema_version")
    except msgspec.ValidationError as exc:
        message, pointer = decode.pointer_of(str(exc))
        return None, Problem("schema", message, pointer)
    except msgspec.DecodeError:
        return decode.decode(data, doc)
    except RecursionError:
        return None, Problem("json.too_deep", "nesting exceeds the decoder's depth limit")


def _add_problem(
    out: Findings, problem: Problem, schema_code: str, file: str, line: int | None = None
) -> None:
    code = schema_code if problem.code == "schema" else problem.code
    out.add(code, file, problem.message, line=line, pointer=problem.pointer)


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _decode_jsonl(
    data: bytes, doc: DocumentType, schema_code: str, file: str, out: Findings
) -> list[tuple[int, Any]]:
    """(line, value) of every valid line; a finding for every other line."""
    lines = _lines(data)
    if lines and all(lines):
        try:  # one call for the common, valid file
            return list(enumerate(doc.decoder.decode_lines(data), start=1))
        except (msgspec.DecodeError, RecursionError):
            pass
    values = []
    for n, line in enumerate(lines, start=1):
        if not line:
            out.add("json.invalid", file, "an empty line", line=n)
            continue
        value, problem = decode.decode(line, doc)
        if problem is not None:
            _add_problem(out, problem, schema_code, file, n)
        else:
            values.append((n, value))
    return values


@dataclass
class _Ledger:
    metas: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    skipped: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    call_rows: list[tuple[Any, ...]] = field(default_factory=list)
    call_lines: list[int] = field(default_factory=list)


def _decode_ledger(data: bytes, out: Findings) -> _Ledger:
    doc = decode.ledger_type()
    ledger = _Ledger()
    lines = _lines(data)
    if not data.strip():
        out.add("json.empty_ledger", "run.jsonl", "run.jsonl is empty")
        return ledger
    call_type = _call_struct()
    if all(lines) and decode.schema_version(lines[0]) in (None, CURRENT_VERSION):
        try:  # one call for the common, valid ledger; any problem: line by line below
            values = doc.decoder.decode_lines(data)
        except (msgspec.DecodeError, RecursionError):
            values = None
        if values is not None and len(values) == len(lines):
            astuple = msgspec.structs.astuple
            for n, value in enumerate(values, start=1):
                if type(value) is call_type:
                    ledger.call_rows.append(astuple(value))
                    ledger.call_lines.append(n)
                else:
                    record = msgspec.to_builtins(value)
                    (ledger.metas if record["type"] == "meta" else ledger.skipped).append(
                        (n, record)
                    )
            return ledger
    for n, line in enumerate(lines, start=1):
        if not line:
            out.add("json.invalid", "run.jsonl", "an empty line", line=n)
            continue
        if n == 1:
            value, problem = _versioned(line, doc, LEDGER_STEPS)
        else:
            value, problem = decode.decode(line, doc)
        if problem is not None:
            if problem.code == "schema.version_newer":
                out.add(problem.code, "run.jsonl", problem.message, line=n, pointer=problem.pointer)
                return _Ledger()  # a newer ledger: the rest of it cannot be read
            _add_problem(out, problem, "schema.ledger", "run.jsonl", n)
            continue
        if type(value) is call_type:
            ledger.call_rows.append(msgspec.structs.astuple(value))
            ledger.call_lines.append(n)
        else:
            record = msgspec.to_builtins(value)
            (ledger.metas if record["type"] == "meta" else ledger.skipped).append((n, record))
    return ledger


@cache
def _call_struct() -> Any:
    doc = decode.ledger_type()
    for member in doc.root.__args__:
        if member.__struct_config__.tag == "call":
            return member
    raise RuntimeError("the ledger schema has no call record")


def _call_columns(ledger: _Ledger, out: Findings) -> CallColumns:
    names = _call_struct().__struct_fields__
    # Every optional field has a default (the decoder refuses a schema without one), so no
    # value is UNSET: the columns are the decoded values as they are.
    columns: dict[str, list[Any]] = {name: [] for name in names}
    if ledger.call_rows:
        for name, values in zip(names, zip(*ledger.call_rows, strict=True), strict=True):
            columns[name] = list(values)
    return CallColumns(columns, list(ledger.call_lines), [])


def _sample_columns(raw: RawRun, out: Findings) -> tuple[dict[str, list[Any]], list[int]]:
    """The decoded lines of samples.jsonl as columns (field → values), and their lines."""
    names = decode.sample_type().root.__struct_fields__
    data = raw.data("samples.jsonl")
    decoded = (
        _decode_jsonl(data, decode.sample_type(), "schema.samples", "samples.jsonl", out)
        if data is not None
        else []
    )
    columns: dict[str, list[Any]] = {name: [] for name in names}
    if decoded:
        rows = [msgspec.structs.astuple(v) for _, v in decoded]
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            columns[name] = list(values)
    return columns, [n for n, _ in decoded]


@dataclass
class _Times:
    """Every timestamp of a run, parsed together by the one parser (``decode.timestamps_us``)
    and each bad one made a finding where it was read."""

    values: list[str | None] = field(default_factory=list)
    where: list[tuple[str, int | None, str]] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    parsed: list[int | None] = field(default_factory=list)

    def add(
        self, values: Sequence[str | None], file: str, lines: Sequence[int | None], pointer: str
    ) -> int:
        """Queue ``values`` (read at ``lines`` of ``file``); returns a slot for ``get``."""
        start = len(self.values)
        self.values.extend(values)
        self.where.extend((file, line, pointer) for line in lines)
        self.spans.append((start, len(self.values)))
        return len(self.spans) - 1

    def parse(self, out: Findings) -> list[int | None]:
        """Parse everything queued; a finding for each value that names no real instant."""
        us, bad = decode.timestamps_us(self.values)
        for i in bad:
            file, line, pointer = self.where[i]
            out.add(
                "schema.timestamp",
                file,
                f"{self.values[i]!r} is not a UTC timestamp of a real instant",
                line=line,
                pointer=pointer,
            )
        self.parsed = list(us.to_pylist())
        return self.parsed

    def get(self, slot: int) -> list[int | None]:
        """The parsed values of one slot (after ``parse``)."""
        start, stop = self.spans[slot]
        return self.parsed[start:stop]


# --------------------------------------------------------------------------- privacy


def _pointer_of(obj: Any, needle: str, path: tuple[str | int, ...] = ()) -> str | None:
    """Pointer to the first string (value or key) in a decoded document containing ``needle``."""
    if isinstance(obj, str):
        return "".join(f"/{p}" for p in path) if needle in obj else None
    if isinstance(obj, dict):
        for k, v in obj.items():
            if needle in str(k):
                return "".join(f"/{p}" for p in (*path, k))
            found = _pointer_of(v, needle, (*path, k))
            if found is not None:
                return found
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _pointer_of(v, needle, (*path, i))
            if found is not None:
                return found
    return None


def _escaped_literals(raw: RawRun) -> tuple[list[str], list[tuple[str, int]]]:
    """Every JSON string literal, decoded, of each JSON line that holds an escape."""
    texts: list[str] = []
    where: list[tuple[str, int]] = []
    for f in raw.files:
        if f.data is None or b"\\" not in f.data:
            continue
        if not (f.name in JSON_FILES or f.name.endswith(".jsonl")):
            continue
        for n, line in enumerate(f.data.split(b"\n"), start=1):
            if b"\\" not in line:
                continue
            for literal in _STRING_LITERAL.findall(line):
                try:
                    text = msgspec.json.decode(literal, type=str)
                except msgspec.DecodeError:
                    continue
                texts.append(text)
                where.append((f.name, n))
    return texts, where


def _privacy(
    raw: RawRun,
    md: Mapping[str, Any] | None,
    out_tables: Mapping[str, pa.Table] | None,
    out: Findings,
) -> None:
    """Privacy rules over the text of every file, every escaped JSON literal decoded, and
    every string the run's tables would publish."""
    seen: set[tuple[str, str]] = set()

    def report(hit: privacy.Hit, file: str, line: int | None, pointer: str | None) -> None:
        seen.add((hit.code, hit.value))
        out.add(hit.code, file, f"found {hit.excerpt!r}", line=line, pointer=pointer)

    for f in raw.files:
        if f.data is None:
            continue
        for hit in privacy.scan_blob(f.data):
            pointer = None
            if f.name == "metadata.json" and md is not None:
                pointer = _pointer_of(md, hit.value)
            report(hit, f.name, hit.index + 1, pointer)
    texts, where = _escaped_literals(raw)
    for hit in privacy.scan(texts):
        if (hit.code, hit.value) not in seen:
            file, line = where[hit.index]
            report(hit, file, line, None)
    if out_tables is None:
        return
    composed = [
        value
        for table, column in tables.COMPOSED
        for value in out_tables[table].column(column).to_pylist()
        if value is not None
    ]
    for hit in privacy.scan(composed):
        if (hit.code, hit.value) not in seen:
            report(hit, ".", None, None)


# --------------------------------------------------------------------------- compile


def _structure(raw: RawRun) -> dict[str, tuple[str, bool, bool, int]]:
    return {f.name: (f.kind, f.too_large, f.unreadable, f.size) for f in raw.files}


def compile_raw(
    raw: RawRun, options: Options | None = None, ctx: Context | None = None
) -> RunArtifact:
    """Compile one loaded run directory into its findings and (when valid) its tables."""
    options = options or Options()
    ctx = ctx or default_context()
    out = Findings(raw.dir_name, options.for_publication)
    content = raw.content_sha256
    if not raw.is_dir:
        out.add("structure.not_a_directory", ".", f"{raw.dir_name!r} is not a directory")
        return RunArtifact(raw.dir_name, content, out.finish())

    md: dict[str, Any] | None = None
    md_times: list[tuple[str, str | None]] = []
    md_data = raw.data("metadata.json")
    if md_data is not None:
        value, problem = _versioned(md_data, decode.metadata_type(), METADATA_STEPS)
        if problem is not None:
            _add_problem(out, problem, "schema.metadata", "metadata.json")
        else:
            md = msgspec.to_builtins(value)
            md_times = decode.metadata_type().timestamp_values(value)
    if md is not None and md["run_id"] == raw.dir_name:
        out.run_id = md["run_id"]
    meta_only = bool(md["meta_only"]) if md is not None else None
    rules.check_structure(_structure(raw), meta_only, out)
    for name in ("run.log", "run.md"):
        data = raw.data(name)
        if data is not None:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                out.add("json.encoding", name, f"not UTF-8 ({exc.reason} at byte {exc.start})")

    ledger_data = None if meta_only else raw.data("run.jsonl")
    ledger = _decode_ledger(ledger_data, out) if ledger_data is not None else None
    calls = _call_columns(ledger, out) if ledger is not None else None

    sample_columns, sample_lines = _sample_columns(raw, out)
    times = _Times()
    slot_samples = times.add(sample_columns["ts"], "samples.jsonl", sample_lines, "/ts")
    slot_calls = slot_skipped = slot_md = -1
    if ledger is not None and calls is not None:
        slot_calls = times.add(calls.columns["started_at"], "run.jsonl", calls.lines, "/started_at")
        skipped_at = [r["at"] for _, r in ledger.skipped]
        slot_skipped = times.add(skipped_at, "run.jsonl", [n for n, _ in ledger.skipped], "/at")
    if md is not None:
        for pointer, text in md_times:
            times.add([text], "metadata.json", [None], pointer)
        slot_md = len(times.spans) - len(md_times)
    times.parse(out)
    if calls is not None:
        calls = CallColumns(calls.columns, calls.lines, times.get(slot_calls))

    datasets: dict[str, list[dict[str, Any]]] = {}
    dataset_sha256: dict[str, str] = {}
    for f in raw.files:
        if f.data is None or not (f.name.startswith("datasets/") and f.name.endswith(".jsonl")):
            continue
        name = f.name.split("/", 1)[1].removesuffix(".jsonl")  # config.tasks[].dataset
        items = _decode_jsonl(f.data, decode.dataset_item_type(), "schema.dataset", f.name, out)
        datasets[name] = [msgspec.to_builtins(v) for _, v in items]
        dataset_sha256[name] = hashlib.sha256(f.data).hexdigest()

    artifact_tables: dict[str, pa.Table] | None = None
    if md is not None:
        at = {p: times.get(slot_md + i)[0] for i, (p, _) in enumerate(md_times)}
        top = {key: at.get(f"/{key}") for key in _METADATA_TIMES}
        rules.check_metadata(md, raw.dir_name, top, options.allow_synthetic, out)
        rules.check_imported(md, out)
        span = (top["started_at"], top["finished_at"])
        if meta_only:
            rules.check_summary(md, None, 0, out)
        elif ledger is not None and calls is not None:
            if not ledger.metas or ledger.metas[0][0] != 1:
                out.add(
                    "consistency.meta_first",
                    "run.jsonl",
                    "the first line is not a valid meta record",
                    line=1,
                )
            for n, _ in ledger.metas[1:]:
                out.add("consistency.meta_first", "run.jsonl", "a second meta record", line=n)
            if ledger.metas:
                rules.check_meta_record(ledger.metas[0][0], ledger.metas[0][1], md, out)
            rules.check_skipped(ledger.skipped, md, span, times.get(slot_skipped), out)
            rules.check_calls(md, calls, span, out)
            rules.check_summary(md, calls, len(ledger.skipped), out)
            rules.check_publishable(md, len(calls), out)
        for task in md["config"]["tasks"]:
            got = dataset_sha256.get(task["dataset"])
            if got is not None and got != task["dataset_sha256"]:
                out.add(
                    "consistency.dataset_sha256",
                    f"datasets/{task['dataset']}",
                    "sha256 differs from config.tasks[].dataset_sha256",
                )
        if calls is not None and not out.has_errors():
            out.extend(check_rouge(md, calls, datasets, dataset_sha256, ctx))
        if not out.has_errors() and top["started_at"] is not None:
            empty_calls = CallColumns({n: [] for n in _call_struct().__struct_fields__}, [], [])
            artifact_tables = derive.derive_tables(
                md,
                calls if calls is not None else empty_calls,
                derive.samples_table(md["run_id"], sample_columns, times.get(slot_samples)),
                content,
                top["started_at"],
                top["finished_at"],
                at.get("/hardware/benchmarks/started_at"),
            )
            rules.check_roofline(artifact_tables["cells"], out)
    _privacy(raw, md, artifact_tables, out)
    findings = out.finish()
    if has_errors(findings):
        artifact_tables = None
    return RunArtifact(
        raw.dir_name,
        content,
        findings,
        artifact_tables,
        md["run_uuid"] if md is not None else None,
    )


def table_names() -> Sequence[str]:
    """The per-run tables of an artifact, in order."""
    return tables.PER_RUN
