"""The one decoder: JSON bytes → typed values, generated from the JSON Schemas in ``schemas/``.

Every JSON document of a run directory (``metadata.json``, each line of ``run.jsonl``,
``samples.jsonl`` and ``datasets/*.jsonl``) is decoded here and nowhere else, by msgspec
into Structs generated from the schema files at first use. What msgspec accepts is what the
schema accepts, plus what the exports must be able to hold:

* integers within int64 (``bakeoff.schemagen`` writes those bounds into the schemas too);
* numbers finite (JSON has no NaN/Infinity; ``1e400`` is out of range);
* strings valid UTF-8 without lone surrogates;
* no unknown keys where the schema forbids them; a duplicated key keeps its last value (the
  raw text of every file is scanned for privacy as well, so a shadowed value cannot hide).

Timestamps (``format: date-time``) decode as text; ``timestamps_us`` checks them in bulk
against the contract's pattern and the calendar (a 30 February matches the pattern but names
no instant) and turns them into microseconds. A document is accepted only once both passed.

A document that fails gives one ``Problem``: the first error msgspec met, with a JSON pointer.
A schema keyword this generator does not understand is a bug and raises at generation time.
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from bakeoff.resources import load_schema
from bakeoff.timefmt import PATTERN as TIMESTAMP_PATTERN

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DATE_TIME = "date-time"
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "format"})
_OBJECT_KEYS = frozenset({"type", "properties", "required", "additionalProperties"})


@dataclass(frozen=True)
class Problem:
    """Why a document was refused: a finding code, a message and where (RFC 6901 pointer)."""

    code: str
    message: str
    pointer: str | None = None


class _Generator:
    """Turns one schema document into msgspec annotations (Structs for objects)."""

    def __init__(self, schema: dict[str, Any], prefix: str) -> None:
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.prefix = prefix
        self.structs: dict[str, Any] = {}
        self.timestamps: set[str] = set()  # "Struct.field" of every date-time field

    def ref(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        return dict(self.defs[ref.removeprefix("#/$defs/")])

    def annotation(self, schema: dict[str, Any], hint: str) -> Any:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/$defs/")
            target = self.ref(schema["$ref"])
            if target.get("type") == "object" and "properties" in target:
                return self.struct(name, target)
            return self.annotation(target, name)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.union(schema, key, hint)
        kind = schema.get("type")
        known = _ANNOTATIONS | {"type", "enum", "const"}
        if "const" in schema or "enum" in schema:
            values = [schema["const"]] if "const" in schema else list(schema["enum"])
            if set(schema) - known:
                raise ValueError(f"{hint}: unsupported keywords {sorted(set(schema) - known)}")
            return Literal[tuple(values)]
        if kind == "string":
            return self.string(schema, hint)
        if kind == "integer":
            return self.number(schema, hint, int)
        if kind == "number":
            return self.number(schema, hint, float)
        if kind == "boolean":
            self.only(schema, {"type"}, hint)
            return bool
        if kind == "null":
            self.only(schema, {"type"}, hint)
            return None
        if kind == "array":
            self.only(schema, {"type", "items", "minItems", "maxItems"}, hint)
            item = self.annotation(schema["items"], hint + "[]")
            bounds = {"min_length": schema.get("minItems"), "max_length": schema.get("maxItems")}
            if any(v is not None for v in bounds.values()):
                return Annotated[list[item], msgspec.Meta(**bounds)]  # type: ignore[valid-type]
            return list[item]  # type: ignore[valid-type]
        if kind == "object":
            if "properties" in schema:
                return self.struct(hint, schema)
            self.only(schema, {"type", "additionalProperties"}, hint)
            value = schema.get("additionalProperties", True)
            if not isinstance(value, dict):
                raise ValueError(f"{hint}: a free-form object cannot be decoded typed")
            return dict[str, self.annotation(value, hint + "{}")]  # type: ignore[misc]
        raise ValueError(f"{hint}: unsupported schema {schema!r}")

    @staticmethod
    def only(schema: dict[str, Any], allowed: set[str], hint: str) -> None:
        extra = set(schema) - allowed - _ANNOTATIONS
        if extra:
            raise ValueError(f"{hint}: unsupported keywords {sorted(extra)}")

    def string(self, schema: dict[str, Any], hint: str) -> Any:
        self.only(schema, {"type", "pattern", "minLength", "maxLength"}, hint)
        if schema.get("format") == DATE_TIME:
            if schema.get("pattern") != TIMESTAMP_PATTERN:
                raise ValueError(f"{hint}: a date-time without the contract's pattern")
            return str  # checked in bulk by ``timestamps_us``: pattern and calendar
        meta: dict[str, Any] = {}
        if "pattern" in schema:
            re.compile(schema["pattern"])
            meta["pattern"] = schema["pattern"]
        if "minLength" in schema:
            meta["min_length"] = schema["minLength"]
        if "maxLength" in schema:
            meta["max_length"] = schema["maxLength"]
        return Annotated[str, msgspec.Meta(**meta)] if meta else str

    def number(self, schema: dict[str, Any], hint: str, kind: type) -> Any:
        allowed = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
        self.only(schema, allowed, hint)
        meta: dict[str, Any] = {
            "ge": schema.get("minimum"),
            "le": schema.get("maximum"),
            "gt": schema.get("exclusiveMinimum"),
            "lt": schema.get("exclusiveMaximum"),
        }
        if kind is int:
            # What an int64 column cannot hold is refused here, whatever the schema says.
            meta["ge"] = max(meta["ge"], INT64_MIN) if meta["ge"] is not None else INT64_MIN
            meta["le"] = min(meta["le"], INT64_MAX) if meta["le"] is not None else INT64_MAX
        meta = {k: v for k, v in meta.items() if v is not None}
        return Annotated[kind, msgspec.Meta(**meta)] if meta else kind

    def union(self, schema: dict[str, Any], key: str, hint: str) -> Any:
        self.only(schema, {key, "discriminator"}, hint)
        branches = schema[key]
        if "discriminator" in schema:
            return self.tagged(schema, hint)
        alternatives = [self.annotation(b, hint) for b in branches]
        nullable = None in alternatives
        typed = [a for a in alternatives if a is not None]
        if len(typed) != 1:
            raise ValueError(f"{hint}: only X-or-null unions are supported")
        return typed[0] | None if nullable else typed[0]

    def tagged(self, schema: dict[str, Any], hint: str) -> Any:
        tag_field = schema["discriminator"]["propertyName"]
        members = []
        for tag, ref in sorted(schema["discriminator"]["mapping"].items()):
            name = ref.removeprefix("#/$defs/")
            members.append(self.struct(name, self.ref(ref), tag_field=tag_field, tag=tag))
        return Union[tuple(members)]  # noqa: UP007 - a runtime union of Struct types

    def struct(
        self, name: str, schema: dict[str, Any], tag_field: str | None = None, tag: str = ""
    ) -> Any:
        key = f"{name}:{tag_field}:{tag}"
        if key in self.structs:
            return self.structs[key]
        self.only(schema, set(_OBJECT_KEYS), name)
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        if extra not in (False, True):
            raise ValueError(f"{name}: additionalProperties with properties is unsupported")
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for prop in sorted(schema["properties"], key=lambda p: (p not in required, p)):
            if prop == tag_field:
                continue
            sub = schema["properties"][prop]
            if not prop.isidentifier() or keyword.iskeyword(prop):
                raise ValueError(f"{name}.{prop}: not a Python identifier")
            if _is_timestamp(sub, self.defs):
                self.timestamps.add(f"{self.prefix}{name}.{prop}")
            annotation = self.annotation(sub, f"{name}.{prop}")
            if prop in required:
                fields.append((prop, annotation))
            else:
                fields.append((prop, annotation, _default(sub, f"{name}.{prop}")))
        struct = msgspec.defstruct(
            f"{self.prefix}{name}",
            fields,
            kw_only=True,
            forbid_unknown_fields=extra is False,
            tag_field=tag_field,
            tag=tag if tag_field else None,
        )
        self.structs[key] = struct
        return struct


def _is_timestamp(schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    for alt in schema.get("anyOf", [schema]):
        target = defs.get(alt.get("$ref", "").removeprefix("#/$defs/"), alt)
        if target.get("format") == DATE_TIME:
            return True
    return False


def _default(schema: dict[str, Any], hint: str) -> Any:
    """The field default: the schema's ``default``. An optional field without one is a bug in
    the contract (what would its absence mean?), refused here."""
    if "default" not in schema:
        raise ValueError(f"{hint}: an optional field without a default in the schema")
    value = schema["default"]
    if isinstance(value, list | dict):
        encoded = msgspec.json.encode(value)
        return msgspec.field(default_factory=functools.partial(msgspec.json.decode, encoded))
    return value


@dataclass(frozen=True)
class DocumentType:
    """A decoder for one kind of document, and the timestamp fields of its Structs
    (``"<Struct name>.<field>"``)."""

    decoder: msgspec.json.Decoder[Any]
    root: Any
    timestamps: frozenset[str]

    def timestamp_values(self, value: Any, path: str = "") -> list[tuple[str, str | None]]:
        """(JSON pointer, text) of every timestamp field in a decoded document, wherever it
        is nested, for ``timestamps_us`` to check."""
        out: list[tuple[str, str | None]] = []
        if isinstance(value, msgspec.Struct):
            kind = type(value).__name__
            for name in value.__struct_fields__:
                field = getattr(value, name)
                if f"{kind}.{name}" in self.timestamps:
                    out.append((f"{path}/{name}", field))
                elif isinstance(field, msgspec.Struct | list | dict):
                    out += self.timestamp_values(field, f"{path}/{name}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, msgspec.Struct | list | dict):
                    out += self.timestamp_values(item, f"{path}/{i}")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, msgspec.Struct | list | dict):
                    out += self.timestamp_values(item, f"{path}/{key}")
        return out


def _compile(name: str, prefix: str, root_def: str | None = None) -> DocumentType:
    schema = load_schema(name)
    gen = _Generator(schema, prefix)
    if root_def is not None:
        root = gen.struct(root_def, gen.ref(f"#/$defs/{root_def}"))
    elif "discriminator" in schema:
        root = gen.tagged(schema, name)
    else:
        body = {k: v for k, v in schema.items() if k in _OBJECT_KEYS}
        root = gen.struct(schema.get("title", name), body)
    return DocumentType(msgspec.json.Decoder(root), root, frozenset(gen.timestamps))


@cache
def metadata_type() -> DocumentType:
    """Decoder of ``metadata.json``."""
    return _compile("metadata", "Md")


@cache
def ledger_type() -> DocumentType:
    """Decoder of one ``run.jsonl`` line: a tagged union of meta, call and skipped records."""
    return _compile("ledger-record", "Ledger")


@cache
def sample_type() -> DocumentType:
    """Decoder of one ``samples.jsonl`` line."""
    return _compile("sample", "Sample")


@cache
def dataset_item_type() -> DocumentType:
    """Decoder of one ``datasets/*.jsonl`` line."""
    return _compile("seed-dataset-item", "Dataset")


class _Version(msgspec.Struct):
    schema_version: Any = None
    type: Any = None


_VERSION = msgspec.json.Decoder(_Version)
_NONFINITE = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\s*[,}\]]")
_AT = re.compile(r" - at `\$(.*)`$")
_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(.*?)\]")


def pointer_of(message: str) -> tuple[str, str | None]:
    """Split msgspec's ``… - at `$.a.b[2]``` into the message and an RFC 6901 pointer."""
    match = _AT.search(message)
    if match is None:
        return message, None
    parts: list[str] = []
    for name, index, key in _PART.findall(match.group(1)):
        part = name or index or key.strip("'\"")
        parts.append(part.replace("~", "~0").replace("/", "~1"))
    return message[: match.start()], "".join("/" + p for p in parts)


def decode(data: bytes, doc: DocumentType) -> tuple[Any, Problem | None]:
    """Decode one JSON document; ``(value, None)`` or ``(None, problem)``. Never raises."""
    try:
        return doc.decoder.decode(data), None
    except msgspec.ValidationError as exc:
        message, pointer = pointer_of(str(exc))
        if message.startswith("Number out of range"):  # 1e999: not a finite number at all
            return None, Problem("json.nonfinite", f"{message} (numbers must be finite)", pointer)
        return None, Problem("schema", message, pointer)
    except msgspec.DecodeError as exc:
        return None, _syntax_problem(data, str(exc))
    except RecursionError:
        return None, Problem("json.too_deep", "nesting exceeds the decoder's depth limit")


def _syntax_problem(data: bytes, message: str) -> Problem:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem("json.encoding", f"not UTF-8 ({exc.reason} at byte {exc.start})")
    if "out of range" in message:
        return Problem("json.nonfinite", f"{message} (numbers must be finite)")
    if _NONFINITE.search(data):
        return Problem("json.nonfinite", "NaN and Infinity are not JSON numbers")
    return Problem("json.invalid", message)


def schema_version(data: bytes) -> Any:
    """The ``schema_version`` of a JSON object (None when absent or not an object)."""
    try:
        return _VERSION.decode(data).schema_version
    except (msgspec.DecodeError, RecursionError):
        return None


def record_type(data: bytes) -> Any:
    """The ``type`` of a ledger line (None when absent or unreadable)."""
    try:
        return _VERSION.decode(data).type
    except (msgspec.DecodeError, RecursionError):
        return None


def timestamps_us(values: Sequence[str | None]) -> tuple[pa.Array, list[int]]:
    """Contract timestamps as int64 microseconds since the epoch, and the indexes of the values
    that are not one (wrong form, or a date that does not exist); those become null.

    This is the publisher's only timestamp parser: RE2 for the pattern and Arrow's ISO 8601
    cast for the calendar, both over the whole column at once. Nulls stay null.
    """
    array = pa.array(values, pa.string())
    form = pc.match_substring_regex(array, TIMESTAMP_PATTERN)
    if pc.all(pc.or_kleene(form, pc.is_null(array))).as_py() is not False:
        try:
            return array.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), []
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    out: list[int | None] = []
    bad: list[int] = []
    for i, (value, fits) in enumerate(zip(values, form.to_pylist(), strict=True)):
        if value is None:
            out.append(None)
            continue
        try:
            if not fits:
                raise ValueError(value)
            cast = pa.array([value], pa.string()).cast(pa.timestamp("us", tz="UTC"))
            out.append(cast.cast(pa.int64())[0].as_py())
        except (ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.append(None)
            bad.append(i)
    return pa.array(out, pa.int64()), bad
