"""Escaping for every string that comes from a run file.

Run-sourced strings (model names, host labels, engine versions, …) are untrusted. They reach
the site in three contexts, each with its own helper:

- HTML text and attribute values: :func:`html_text` (``html.escape`` with quotes).
- Markdown text: :func:`md_text` — HTML-escaped, then Markdown syntax characters
  backslash-escaped, so neither the Markdown parser nor the browser interprets them.
- File names and URLs: :func:`slug` — never the raw string; ``[a-z0-9-]`` plus a short hash.

Plotly renders a small HTML subset in labels and converts entities, so chart labels go
through :func:`chart_text` (HTML-escaped) too.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from typing import Any

import msgspec

_MD_SPECIALS = re.compile(r"([\\`*_\[\]{}()#+!|~])")
_SLUG_BAD = re.compile(r"[^a-z0-9]+")
_TITLE_BAD = re.compile(r"[^\w .,:/()+@%=~·×-]", re.UNICODE)


def html_text(value: object) -> str:
    """Escape ``value`` for HTML text or a quoted attribute value; ``None`` becomes ``""``."""
    return "" if value is None else html.escape(str(value), quote=True)


def md_text(value: object) -> str:
    """Escape ``value`` for Markdown text and table cells: HTML entities plus backslashes."""
    if value is None:
        return ""
    # Backslash-escape Markdown syntax first: html.escape adds ``#`` and ``;`` of its own.
    text = html.escape(_MD_SPECIALS.sub(r"\\\1", str(value)), quote=True)
    # Newlines would end a table row or paragraph; keep the value on one line.
    return " ".join(text.split())


def chart_text(value: object) -> str:
    """Escape ``value`` for a plotly label.

    Plotly parses a small HTML subset in labels and decodes ``&lt;``, ``&gt;`` and ``&amp;``
    (not ``&quot;``), building SVG text nodes; escaping those three keeps tags literal.
    """
    return "" if value is None else html.escape(str(value), quote=False)


def title_text(value: object) -> str:
    """A page title: characters outside a conservative set become ``_``.

    Titles pass through MkDocs, the theme's templates and ``<title>``; keeping them to
    harmless characters is simpler than proving every one of those escapes correctly.
    """
    return _TITLE_BAD.sub("_", "" if value is None else str(value)).strip() or "_"


def slug(value: object) -> str:
    """A file-name-safe, URL-safe identifier for ``value``: readable prefix + 8 hex of sha256."""
    text = "" if value is None else str(value)
    prefix = _SLUG_BAD.sub("-", text.lower()).strip("-")[:48].strip("-")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{prefix}-{digest}" if prefix else digest


def json_attr(value: Any) -> str:
    """Deterministic JSON for a ``data-*`` attribute, HTML-escaped."""
    return html.escape(dumps(value), quote=True)


def dumps(value: Any) -> str:
    """Compact, deterministic JSON (sorted keys, no NaN)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


_ENCODER = msgspec.json.Encoder(order="sorted")


def dumps_utf8(value: Any) -> bytes:
    """Compact, deterministic JSON as UTF-8 bytes (sorted keys, non-ASCII text unescaped) for
    data files: ~6× faster than ``dumps``, which matters for 10,000 run documents. A NaN or
    infinity becomes null here (``dumps`` refuses it); page data maps them to None anyway."""
    return _ENCODER.encode(value)
