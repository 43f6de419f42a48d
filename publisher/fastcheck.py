"""A fast accept-only check for flat JSON objects, compiled from a JSON Schema.

Validating millions of ledger lines with a general validator dominates publishing time (a
``anyOf [integer, null]`` costs an exception per branch in fastjsonschema). Ledger records are
flat objects whose properties use only a few keywords, so this module compiles each property
into a small tuple check. It is *accept-only*: ``True`` means the schema is certainly satisfied;
``False`` means "not proven" and the caller runs the full validator, which produces the real
errors. A schema using any keyword this module does not understand compiles to ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[dict[str, Any]], bool]
_ANNOTATIONS = {"description", "title", "default"}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_Alt = tuple[tuple[type, ...], float | None, float | None, frozenset[Any] | None, Any]


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    if not isinstance(ref, str) or not ref.startswith("#/$defs/") or len(schema) > 3:
        return None
    target = defs.get(ref.removeprefix("#/$defs/"))
    return target if isinstance(target, dict) else None


def _alternative(schema: dict[str, Any], defs: dict[str, Any]) -> _Alt | None:
    resolved = _resolve(schema, defs)
    if resolved is None:
        return None
    known = {"type", "minimum", "maximum", "enum", "const", "pattern"} | _ANNOTATIONS
    if set(resolved) - known:
        return None
    kind = resolved.get("type")
    if "const" in resolved or "enum" in resolved:
        values = [resolved["const"]] if "const" in resolved else resolved["enum"]
        if not all(isinstance(v, str) for v in values):
            return None
        return ((str,), None, None, frozenset(values), None)
    if kind not in _TYPES:
        return None
    pattern = re.compile(resolved["pattern"]) if "pattern" in resolved else None
    return (_TYPES[kind], resolved.get("minimum"), resolved.get("maximum"), None, pattern)


def _value_ok(value: Any, alts: list[_Alt]) -> bool:
    for types, low, high, enum, pattern in alts:
        if isinstance(value, bool) and bool not in types:
            continue  # JSON booleans are not numbers
        if not isinstance(value, types):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        if low is not None and value < low:  # type: ignore[operator]
            continue
        if high is not None and value > high:  # type: ignore[operator]
            continue
        if enum is not None and value not in enum:
            continue
        if pattern is not None and pattern.search(value) is None:
            continue
        return True
    return False


def compile_object(schema: dict[str, Any], defs: dict[str, Any]) -> Check | None:
    """An accept-only checker for a flat object schema, or None when it cannot be compiled."""
    schema = _resolve(schema, defs) or {}
    allowed = {"type", "properties", "required", "additionalProperties"} | _ANNOTATIONS
    if schema.get("type") != "object" or set(schema) - allowed:
        return None
    if schema.get("additionalProperties", True) is not False:
        return None
    props: dict[str, list[_Alt]] = {}
    for name, prop in schema.get("properties", {}).items():
        branches = prop.get("anyOf", [prop]) if isinstance(prop, dict) else None
        if branches is None or ("anyOf" in prop and set(prop) - {"anyOf"} - _ANNOTATIONS):
            return None
        alts = []
        for branch in branches:
            alt = _alternative(branch, defs)
            if alt is None:
                return None
            alts.append(alt)
        props[name] = alts
    required = frozenset(schema.get("required", []))

    def check(doc: dict[str, Any]) -> bool:
        if not isinstance(doc, dict) or not required <= doc.keys():
            return False
        for key, value in doc.items():
            alts = props.get(key)
            if alts is None or not _value_ok(value, alts):
                return False
        return True

    return check
