"""Privacy scan: nothing that identifies a person or a host may be published.

One combined regular expression runs over each file's text (fast when clean, which is the
common case); only lines with a candidate match are examined in detail. The aim is catching
accidents — a hostname in a log line, a home path in a traceback, a pasted key — not a
determined adversary.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
# An IPv6 candidate: hex groups with either "::" or seven colons; checked by ipaddress later.
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])"
_USER_AT_HOST = r"(?<![\w.+-])[A-Za-z0-9._-]*[A-Za-z][A-Za-z0-9._-]*@[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*"
_HOME = (
    r"(?:/home/[A-Za-z0-9._-]+|/Users/[A-Za-z0-9._ -]+|/root(?=/|\b)"
    r"|[A-Za-z]:(?:\\\\|\\|/)Users(?:\\\\|\\|/)[A-Za-z0-9._ -]+)"
)
_SECRET = (
    r"(?:\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
    r"|\bhf_[A-Za-z0-9]{30,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\b[Bb]earer\s+[A-Za-z0-9._~+/=-]{12,}"
    r"|(?i:\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password)\b[\"']?\s*[=:]\s*"
    r"[\"']?[A-Za-z0-9._~+/-]{8,}))"
)
_PRIVATE_KEY = r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"

_KINDS = {
    "privacy.ip_address": f"(?:{_IPV4})|(?:{_IPV6})",
    "privacy.user_at_host": _USER_AT_HOST,
    "privacy.home_path": _HOME,
    "privacy.secret": _SECRET,
    "privacy.private_key": _PRIVATE_KEY,
}
_COMBINED = re.compile("|".join(f"(?P<g{i}>{p})" for i, p in enumerate(_KINDS.values())))
_CODES = list(_KINDS)


@dataclass(frozen=True)
class Hit:
    """One privacy problem: code, 1-based line, a redacted excerpt and the matched text."""

    code: str
    line: int
    excerpt: str
    value: str


def _is_public_ip(text: str) -> bool:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified)


def _redact(text: str) -> str:
    # Never echo a secret back in full (CI logs are public too).
    return text if len(text) <= 8 else text[:4] + "…" + text[-2:]


def _classify(match: re.Match[str]) -> str | None:
    for i, code in enumerate(_CODES):
        value = match.group(f"g{i}")
        if value is None:
            continue
        if code == "privacy.ip_address" and not _is_public_ip(value):
            return None
        return code
    return None


def scan_text(text: str) -> list[Hit]:
    """Every privacy hit in ``text``, in line order; a clean text costs one regex pass."""
    hits: list[Hit] = []
    if _COMBINED.search(text) is None:
        return hits
    for lineno, line in enumerate(text.splitlines(), start=1):
        for match in _COMBINED.finditer(line):
            code = _classify(match)
            if code is not None:
                hits.append(Hit(code, lineno, _redact(match.group(0)), match.group(0)))
    return hits
