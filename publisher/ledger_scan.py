"""Decode the call lines of ``run.jsonl`` files into typed Arrow columns, proving each line.

The bulk ledger path (``publisher.bulk``) used to parse every line five times in DuckDB SQL
(``json_valid``, ``json_keys``, ``json_type``, ``json_extract_string`` and a regular expression)
— most of the time of a publish at 5 M calls. Here every line is parsed once, by msgspec,
into a ``Struct`` generated from the ``CallRecord`` JSON Schema (``forbid_unknown_fields``,
``Literal`` enums, ``Meta`` bounds and patterns), and the values go straight into Arrow columns.

Like the SQL it replaces, this scan is *accept-only*: it may say "not proven" about a run that
is fine (the caller then validates that run with the exact per-line Python path), but never
"clean" about a line the exact path would report. Why each check is at least as strict:

* schema: a value msgspec accepts satisfies the JSON Schema (msgspec refuses ``1.0`` for an
  integer, ``true`` for a number, ``null`` where not allowed, unknown keys, NaN/Infinity and
  numbers out of range; integers are bounded to int64; a duplicated key keeps the last value,
  as ``json.loads`` does). Patterns use Python's ``re.search``, as ``jsonschema`` does.
* text: the file must be valid UTF-8; lines are split on ``\\n`` only, as ``validate`` does; an
  empty line other than the last is not proven.
* privacy: ``privacy.scan_text`` is what the exact path runs over the raw file. Its triggers can
  only match inside one JSON string (numbers, literals, ``:`` ``,`` and quotes cannot form one,
  and the keys are the schema's field names, checked below to fire no trigger). Without a
  backslash in the line a raw string equals its decoded value, so the triggers run over the
  *decoded* string columns (RE2 over each column's distinct values, Python's ``re`` for the
  non-ASCII ones, as in ``scan_text``). Lines whose values fire a trigger, lines with a
  backslash and every non-call line are then scanned raw with ``scan_text`` itself; a run
  with a hit is not proven.

This module runs in worker processes: it imports neither DuckDB nor the rest of the publisher
(besides ``privacy``), so a worker starts quickly.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from bakeoff.resources import load_schema
from publisher.privacy import _TRIGGERS, scan_text

INT64 = (-(2**63), 2**63 - 1)
_ANNOTATIONS = {"description", "title", "default"}
# The privacy triggers (``privacy._TRIGGERS``) as two RE2 patterns: case-sensitive ones and the
# secret trigger, which scan_text matches against lower-cased text.
_SECRET = "privacy.secret"
TRIGGER_CASE = "|".join(p.pattern for code, p in _TRIGGERS.items() if code != _SECRET)
TRIGGER_NOCASE = _TRIGGERS[_SECRET].pattern


@dataclass(frozen=True)
class Field:
    """One call-record property: its Python type for msgspec and its Arrow column type."""

    name: str
    annotation: Any
    arrow: pa.DataType
    optional: bool  # may be absent (then its column holds null)
    nullable: bool  # may be null (absent then decodes to None as well)


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(defs[ref.removeprefix("#/$defs/")])
    return schema


def _alternative(alt: dict[str, Any]) -> tuple[Any, pa.DataType] | None:
    """The Python type of one non-null schema branch, or None when it is not understood."""
    known = _ANNOTATIONS | {"type", "minimum", "maximum", "enum", "const", "pattern"}
    kind = alt.get("type")
    if set(alt) - known or not isinstance(kind, str):
        return None
    values = [alt["const"]] if "const" in alt else alt.get("enum")
    if kind == "string":
        if "minimum" in alt or "maximum" in alt:
            return None
        if values is not None:
            if not all(isinstance(v, str) for v in values):
                return None
            return Literal[tuple(values)], pa.string()
        if "pattern" in alt:
            re.compile(alt["pattern"])
            return Annotated[str, msgspec.Meta(pattern=alt["pattern"])], pa.string()
        return str, pa.string()
    if values is not None or "pattern" in alt:
        return None
    if kind == "integer":
        lo, hi = alt.get("minimum", INT64[0]), alt.get("maximum", INT64[1])
        if not (isinstance(lo, int) and isinstance(hi, int)):
            return None
        lo, hi = max(lo, INT64[0]), min(hi, INT64[1])
        return Annotated[int, msgspec.Meta(ge=lo, le=hi)], pa.int64()
    if kind == "number":
        bounds = {k: alt[k] for k in ("minimum", "maximum") if k in alt}
        meta = msgspec.Meta(ge=bounds.get("minimum"), le=bounds.get("maximum"))
        return (Annotated[float, meta] if bounds else float), pa.float64()
    if kind == "boolean" and not ("minimum" in alt or "maximum" in alt):
        return bool, pa.bool_()
    return None


def _field(name: str, prop: dict[str, Any], defs: dict[str, Any], required: bool) -> Field | None:
    branches = [_resolve(b, defs) for b in _resolve(prop, defs).get("anyOf", [prop])]
    nullable = any(b.get("type") == "null" and set(b) - _ANNOTATIONS == {"type"} for b in branches)
    typed = [b for b in branches if b.get("type") != "null"]
    if len(typed) != 1:
        return None
    alt = _alternative(typed[0])
    if alt is None:
        return None
    annotation, arrow = alt
    if nullable:
        annotation = annotation | None
    if not required and not nullable:
        # Absent is allowed but null is not: UNSET tells them apart (its column holds null).
        annotation = annotation | msgspec.UnsetType
    return Field(name, annotation, arrow, optional=not required, nullable=nullable)


@dataclass(frozen=True)
class CallDecoder:
    """The generated ``CallRecord`` struct, its decoder and the Arrow schema of its columns."""

    fields: tuple[Field, ...]
    decoder: msgspec.json.Decoder[Any]
    schema: pa.Schema


@cache
def call_decoder() -> CallDecoder | None:
    """Compile ``CallRecord`` from the schema file; None when it uses anything unknown here."""
    schema = load_schema("ledger-record")
    defs = schema["$defs"]
    record = defs["CallRecord"]
    if record.get("additionalProperties") is not False or record.get("type") != "object":
        return None
    required = set(record.get("required", []))
    fields = []
    for name in sorted(record["properties"]):
        if _fires(name):  # a key that fires a privacy trigger breaks the argument above
            return None
        field = _field(name, record["properties"][name], defs, name in required)
        if field is None:
            return None
        fields.append(field)
    struct = msgspec.defstruct(
        "CallLine",
        [
            (f.name, f.annotation, None if f.nullable else msgspec.UNSET)
            if f.optional
            else (f.name, f.annotation)
            for f in fields
        ],
        kw_only=True,
        forbid_unknown_fields=True,
    )
    arrow = pa.schema(
        [("dir", pa.string()), ("lineno", pa.int64()), ("kind", pa.string())]
        + [(f.name, f.arrow) for f in fields]
    )
    return CallDecoder(tuple(fields), msgspec.json.Decoder(struct), arrow)


def _fires(text: str) -> bool:
    return bool(re.search(TRIGGER_CASE, text) or re.search(TRIGGER_NOCASE, text, re.IGNORECASE))


class _Typed(msgspec.Struct):
    type: Any = None


_TYPED = msgspec.json.Decoder(_Typed)


@dataclass(frozen=True)
class RunScan:
    """One ledger: proven (every call line clean) or not, and its non-call lines."""

    dir_name: str
    proven: bool
    other_lines: tuple[tuple[int, bytes], ...] = ()


def scan_ledgers(
    items: Sequence[tuple[str, str]],
) -> tuple[pa.Table | None, list[RunScan]]:
    """Scan ``(dir_name, path of run.jsonl)`` pairs; the call rows of proven runs, and a verdict
    per run. Columns: ``dir``, ``lineno``, ``kind`` (``'call'``) and every schema property."""
    dec = call_decoder()
    if dec is None:
        return None, [RunScan(d, False) for d, _ in items]
    n_fields = len(dec.fields)
    columns: list[list[Any]] = [[] for _ in range(n_fields)]
    dirs: list[str] = []
    linenos: list[int] = []
    # Per proven run: (dir, first row index, raw call lines by row) for the privacy re-check.
    spans: list[tuple[str, int, list[bytes]]] = []
    verdicts: dict[str, RunScan] = {}
    for dir_name, path in items:
        scan = _scan_one(dec, Path(path))
        if scan is None:
            verdicts[dir_name] = RunScan(dir_name, False)
            continue
        rows, raw_lines, others = scan
        verdicts[dir_name] = RunScan(dir_name, True, tuple(others))
        spans.append((dir_name, len(dirs), raw_lines))
        dirs.extend([dir_name] * len(rows))
        linenos.extend(n for n, _ in rows)
        for i, col in enumerate(zip(*(r for _, r in rows), strict=True) if rows else ()):
            columns[i].extend(col)
    unset = msgspec.UNSET
    arrays = [pa.array(dirs, pa.string()), pa.array(linenos, pa.int64())]
    arrays.append(pa.array(["call"] * len(dirs), pa.string()))
    for field, values in zip(dec.fields, columns, strict=True):
        if field.optional and not field.nullable:
            values = [None if v is unset else v for v in values]
        arrays.append(pa.array(values, field.arrow))
    table = pa.Table.from_arrays(arrays, schema=dec.schema)
    starts = [first for _, first, _ in spans]
    for row in _privacy_rows(table, dec):
        dir_name, first, raw_lines = spans[bisect.bisect_right(starts, row) - 1]
        if scan_text(raw_lines[row - first].decode("utf-8")):
            verdicts[dir_name] = RunScan(dir_name, False)
    proven = [d for d, v in verdicts.items() if v.proven]
    if len(proven) < len(verdicts):
        keep = pc.is_in(table.column("dir"), value_set=pa.array(proven, pa.string()))
        table = table.filter(keep)
    return table, [verdicts[d] for d, _ in items]


def _scan_one(
    dec: CallDecoder, path: Path
) -> tuple[list[tuple[int, tuple[Any, ...]]], list[bytes], list[tuple[int, bytes]]] | None:
    """(line number, values) per call line, the raw call lines, the other lines; None: not
    proven."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    lines = data.split(b"\n")
    last = len(lines)
    decode = dec.decoder.decode
    astuple = msgspec.structs.astuple
    rows: list[tuple[int, tuple[Any, ...]]] = []
    raw_lines: list[bytes] = []
    others: list[tuple[int, bytes]] = []
    escaped = b"\\" in data
    for n, line in enumerate(lines, start=1):
        if not line:
            if n == last:
                continue
            return None
        try:
            record = decode(line)
        except msgspec.DecodeError:
            try:
                kind = _TYPED.decode(line).type
            except msgspec.DecodeError:
                return None  # not a JSON object: the exact path reports it
            if kind == "call":
                return None  # a call line the schema refuses
            if scan_text(line.decode("utf-8")):
                return None
            others.append((n, line))
            continue
        if escaped and b"\\" in line and scan_text(line.decode("utf-8")):
            return None
        rows.append((n, astuple(record)))
        raw_lines.append(line)
    return rows, raw_lines, others


def _privacy_rows(table: pa.Table, dec: CallDecoder) -> list[int]:
    """Rows with a string value that fires a privacy trigger.

    RE2 decides for ASCII values (its ``ignore_case`` is ``scan_text``'s lower-casing there);
    non-ASCII values are tested with Python's ``re``, as ``scan_text`` tests non-ASCII text.
    """
    flagged: set[int] = set()
    for field in dec.fields:
        if field.arrow != pa.string():
            continue
        column = table.column(field.name)
        distinct = pc.drop_null(pc.unique(column))
        if len(distinct) == 0:
            continue
        ascii_ = pc.string_is_ascii(distinct)
        fire = pc.or_(
            pc.match_substring_regex(distinct, TRIGGER_CASE),
            pc.match_substring_regex(distinct, TRIGGER_NOCASE, ignore_case=True),
        )
        suspects = distinct.filter(pc.and_(fire, ascii_)).to_pylist()
        suspects += [v for v in distinct.filter(pc.invert(ascii_)).to_pylist() if _fires(v)]
        if not suspects:
            continue
        hits = pc.is_in(column, value_set=pa.array(suspects, pa.string()))
        flagged.update(pc.indices_nonzero(hits).to_pylist())
    return sorted(flagged)
