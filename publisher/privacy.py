"""Privacy scan: nothing that identifies a person or a host may be published.

One combined regular expression runs over each file's text (fast when clean, which is the
common case); only lines with a candidate match are examined in detail. The aim is catching
accidents — a hostname in a log line, a home path in a traceback, a pasted key — not a
determined adversary.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
# An IPv6 candidate: hex groups with either "::" or seven colons; checked by ipaddress later.
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])"
_USER_AT_HOST = (
    r"(?<![\w.+-])[A-Za-z0-9._-]*[A-Za-z][A-Za-z0-9._-]*@[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*"
)
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
    "privacy.ip_address": re.compile(f"(?:{_IPV4})|(?:{_IPV6})"),
    "privacy.user_at_host": re.compile(_USER_AT_HOST),
    "privacy.home_path": re.compile(_HOME),
    "privacy.secret": re.compile(_SECRET),
    "privacy.private_key": re.compile(_PRIVATE_KEY),
}
# Cheap triggers that start with a literal (fast to scan for); the full pattern of a kind only
# runs on the lines where its trigger fired. Each trigger matches a superset of its kind.
_TRIGGERS = {
    "privacy.ip_address": re.compile(r"\.[0-9]{1,3}\.|::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:"),
    "privacy.user_at_host": re.compile("@"),
    "privacy.home_path": re.compile(r"/home/|Users|/root"),
    # Matched against lower-cased text: a case-sensitive alternation is ~8x faster.
    "privacy.secret": re.compile(
        r"sk-|hf_|gh[pousr]_|github_pat_|akia|xox|aiza|bearer|api.?key|access.?token"
        r"|auth.?token|secret|password"
    ),
    "privacy.private_key": re.compile("PRIVATE KEY"),
}


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


def scan_text(text: str) -> list[Hit]:
    """Every privacy hit in ``text``, in line order; clean text costs a few literal scans."""
    hits: set[Hit] = set()
    line_starts: list[int] | None = None
    # lower() keeps offsets only for ASCII text; otherwise scan the original text ignoring case.
    lowered = text.lower() if text.isascii() else None
    for code, trigger in _TRIGGERS.items():
        seen_lines: set[int] = set()
        if code == "privacy.secret":
            found = (
                trigger.finditer(lowered)
                if lowered is not None
                else re.finditer(trigger.pattern, text, re.IGNORECASE)
            )
        else:
            found = trigger.finditer(text)
        for tm in found:
            if line_starts is None:
                line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
            lineno = bisect.bisect_right(line_starts, tm.start())
            if lineno in seen_lines:
                continue
            seen_lines.add(lineno)
            begin = line_starts[lineno - 1]
            stop = line_starts[lineno] - 1 if lineno < len(line_starts) else len(text)
            for match in _KINDS[code].finditer(text, begin, stop):
                value = match.group(0)
                if code == "privacy.ip_address" and not _is_public_ip(value):
                    continue
                hits.add(Hit(code, lineno, _redact(value), value))
    return sorted(hits, key=lambda h: (h.line, h.code, h.value))
