"""Privacy rules: nothing that identifies a person or a host may be published.

The rules are data (``RULES``): a name, the finding code, an RE2 pattern whose first group is
the offending value, an optional check of that value, and one text each rule flags and one it
does not (``tests/publisher/test_privacy.py`` runs both; ``docs/contributors.md`` lists them).

Every pattern runs under RE2, which has no backtracking: time is linear in the input, whatever
the input (a Python ``re`` pattern with nested quantifiers took ~52 s on one crafted log line).
``scan`` runs one combined pass over all the texts of a run and the per-rule patterns only over
the texts that pass flagged; the checks only see matched values. ``WORK`` counts the characters
each stage examined, so a test can bound the work instead of timing it.

What is scanned (``publisher.frontend.compile``): every line of every file of the run as text
(which covers each JSON value as written, including one shadowed by a duplicated key), every
JSON string literal of a line that holds a backslash, decoded (``\\u0040`` is ``@``), and every
string value of the tables the publisher derives from the run. RE2's ``(?i)`` folds case with
Unicode's simple case folding (``ſecret`` is ``secret``).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import re2


def _public_ip(value: str) -> bool:
    try:
        addr = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified)


def _real_mac(value: str) -> bool:
    digits = value.replace(":", "").replace("-", "").lower()
    return digits not in ("000000000000", "ffffffffffff")


def _not_digest(value: str) -> bool:
    # "image@sha256:…" names a container image by digest; it is not a user at a host.
    return value.rsplit("@", 1)[1].lower() not in ("sha1", "sha256", "sha384", "sha512")


@dataclass(frozen=True)
class Rule:
    """One privacy rule; group 1 of ``pattern`` (or the whole match) is the value."""

    name: str
    code: str
    pattern: str
    trigger: str  # a cheaper pattern that matches wherever ``pattern`` does (a superset)
    example: str
    counterexample: str
    description: str
    check: Callable[[str], bool] | None = None


_HEX4 = "[0-9A-Fa-f]{1,4}"
_SECRET = "privacy.secret"
_NOT_ALNUM = "(?:^|[^A-Za-z0-9])"

RULES: tuple[Rule, ...] = (
    Rule(
        "ipv4",
        "privacy.ip_address",
        r"(?:^|[^0-9A-Za-z.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})"
        r"(?:$|[^0-9A-Za-z.-]|\.(?:$|[^0-9])|-(?:$|[^A-Za-z]))",
        r"\.[0-9]{1,3}\.",
        "could not connect to 192.168.1.20.",
        "kernel 5.15.153.1-microsoft-standard-WSL2 on 127.0.0.1:8080",
        "An IPv4 address other than loopback (127.0.0.0/8) and 0.0.0.0; a dotted number "
        "followed by a hyphen and a letter is a version, not an address.",
        _public_ip,
    ),
    Rule(
        "ipv6",
        "privacy.ip_address",
        rf"(?:^|[^0-9A-Za-z_:.])((?:{_HEX4}:){{7}}{_HEX4}"
        rf"|(?:{_HEX4}(?::{_HEX4}){{0,6}})?::(?:{_HEX4}(?::{_HEX4}){{0,6}})?)(?:$|[^0-9A-Za-z_:])",
        r"::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:",
        "listening on fe80::1c2b:3aff:fe4d:5e6f.",
        "std::vector at 19:02:45 on [::1]:8080",
        "An IPv6 address other than ::1 and ::.",
        _public_ip,
    ),
    Rule(
        "mac",
        "privacy.mac_address",
        r"(?:^|[^0-9A-Fa-f:-])([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"
        r"|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})(?:$|[^0-9A-Fa-f:-])",
        r":[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}:|-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-",
        "eth0 ether 3c:22:fb:8a:01:9e",
        "00:00:00:00:00:00 at 12:34:56",
        "A network card's hardware (MAC) address.",
        _real_mac,
    ),
    Rule(
        "user_at_host",
        "privacy.user_at_host",
        r"(?:^|[^A-Za-z0-9._%+-])([A-Za-z0-9._%+-]*[A-Za-z][A-Za-z0-9._%+-]*"
        r"@[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*)",
        "@",
        "ssh alice+bench@devbox.example.org failed",
        "vllm/vllm-openai@sha256:0f3e and numpy@1.26",
        "user@host or an e-mail address.",
        _not_digest,
    ),
    Rule(
        "home_linux",
        "privacy.home_path",
        r"(/home/[A-Za-z0-9._-]+)",
        "/home/",
        "model at /home/alice/models/x.gguf",
        "model at /opt/models/x.gguf",
        "A home directory on Linux.",
    ),
    Rule(
        "home_mac",
        "privacy.home_path",
        r"(/Users/[A-Za-z0-9._ -]+)",
        "/Users/",
        "cache in /Users/bob/Library",
        "cache in /Library/Caches",
        "A home directory on macOS.",
    ),
    Rule(
        "home_root",
        "privacy.home_path",
        r"(?:^|[^A-Za-z0-9._/-])(/root)(?:$|[^A-Za-z0-9._-])",
        "/root",
        "read /root/.cache/x",
        "read /rootfs/x and /srv/root",
        "root's home directory.",
    ),
    Rule(
        "home_windows",
        "privacy.home_path",
        r"((?i:[a-z]:(?:\\\\|\\|/)users(?:\\\\|\\|/))[A-Za-z0-9._ -]+)",
        "(?i:users)",
        r"C:\Users\carol\models",
        r"C:\Program Files\Ollama",
        "A home directory on Windows.",
    ),
    Rule(
        "openai_key",
        _SECRET,
        _NOT_ALNUM + r"(sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,})",
        "sk-",
        "OPENAI_KEY sk-proj-abcdefghijklmnopqrstuv",
        "task-abcdefghijklmnopqrstuvwxyz",
        "An OpenAI or Anthropic API key.",
    ),
    Rule(
        "stripe_key",
        _SECRET,
        _NOT_ALNUM + r"((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,})",
        "[sr]k_(?:live|test)_",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_live_short",
        "A Stripe secret key.",
    ),
    Rule(
        "huggingface_token",
        _SECRET,
        _NOT_ALNUM + r"(hf_[A-Za-z0-9]{30,})",
        "hf_",
        "HF token hf_abcdefghijklmnopqrstuvwxyzABCDEF",
        "hf_transfer enabled",
        "A Hugging Face access token.",
    ),
    Rule(
        "github_token",
        _SECRET,
        _NOT_ALNUM + r"(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
        "gh[pousr]_|github_pat_",
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghp_short",
        "A GitHub token.",
    ),
    Rule(
        "aws_key",
        _SECRET,
        _NOT_ALNUM + r"((?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16})"
        r"(?:$|[^A-Za-z0-9])",
        "AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA",
        "aws ASIAY34FZKBOKMUTVV7A",
        "ASIA-PACIFIC region",
        "An AWS access key id (long-term AKIA… or temporary ASIA…).",
    ),
    Rule(
        "slack_token",
        _SECRET,
        r"(xox[abprs]-[A-Za-z0-9-]{10,})",
        "xox",
        "xoxb-1234567890-abcdefghij",
        "xox-short",
        "A Slack token.",
    ),
    Rule(
        "google_key",
        _SECRET,
        r"(AIza[0-9A-Za-z_-]{35})",
        "AIza",
        "key=AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "AIzaShort",
        "A Google API key.",
    ),
    Rule(
        "bearer",
        _SECRET,
        r"((?i:bearer)\s+[A-Za-z0-9._~+/=-]{12,})",
        "(?i:bearer)",
        "Authorization: Bearer abcdef0123456789xyz",
        "bearer of news",
        "An HTTP bearer credential.",
    ),
    Rule(
        "jwt",
        _SECRET,
        r"(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
        "eyJ",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "eyJ alone",
        "A JSON Web Token.",
    ),
    Rule(
        "assignment",
        _SECRET,
        r"((?i:api[_-]?key|access[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token"
        r"|refresh[_-]?token|client[_-]?secret|secret|password|passwd)"
        r"[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9._~+/-]{8,})",
        r"(?i:key|token|secret|passw(?:or)?d)[\"']?\s*[=:]",
        "DB_PASSWORD=hunter2hunter2 OPENAI_API_KEY=abcdefgh12345",
        "password: ******** and secret=None",
        "A credential assigned to a name such as api_key, access_token, secret or password.",
    ),
    Rule(
        "private_key",
        "privacy.private_key",
        r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)",
        "PRIVATE KEY",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----",
        "-----BEGIN PUBLIC KEY-----",
        "A private key block (PEM, OpenSSH, PGP).",
    ),
)


@dataclass
class Work:
    """Characters examined by each stage of ``scan`` (a bound on work, for the tests)."""

    combined: int = 0  # the one pass of the combined pattern over every text
    rules: int = 0  # per-rule passes over the texts the combined pass flagged
    checks: int = 0  # matched values handed to a rule's check

    def reset(self) -> None:
        """Start counting afresh."""
        self.combined = self.rules = self.checks = 0


WORK = Work()
_NEWLINE = re.compile(b"\n")


@dataclass(frozen=True)
class Hit:
    """One privacy problem in ``texts[index]``: finding code, rule, value and a safe excerpt."""

    index: int
    code: str
    rule: str
    value: str

    @property
    def excerpt(self) -> str:
        """The value, shortened so a secret is never echoed in full (CI logs are public)."""
        v = self.value
        return v if len(v) <= 8 else v[:4] + "…" + v[-2:]


MAX_HITS_PER_RULE = 100  # per scanned blob: findings are capped anyway; this bounds the work


@cache
def _compiled() -> tuple[re2._Regexp, Any, tuple[re2._Regexp, ...]]:
    options = re2.Options()
    options.max_mem = 64 << 20
    # re2 refuses anything it cannot run in linear time (backreferences, lookaround).
    union = re2.compile("|".join(f"(?:{r.trigger})" for r in RULES).encode(), options)
    # (?m): ^ and $ match at line ends, so a rule sees each line as its own text.
    patterns = tuple(re2.compile(("(?m)" + r.pattern).encode(), options) for r in RULES)
    matcher = re2.Set.SearchSet(options)
    for p in patterns:
        matcher.Add(p.pattern)
    matcher.Compile()
    return union, matcher, patterns


def scan_blob(data: bytes, starts: Sequence[int] | None = None) -> list[Hit]:
    """Every privacy hit in ``data`` (UTF-8 text); ``Hit.index`` is the 0-based line, or the
    index of the text that begins at ``starts[i]`` when given.

    One search for any rule's trigger (clean text ends here); then one pass of every rule at
    once (an RE2 set) says which rules match, and only those find their matches. Each stage
    reads the input once.
    """
    union, matcher, patterns = _compiled()
    WORK.combined += len(data)
    if union.search(data) is None:
        return []
    WORK.rules += len(data)
    matched = matcher.Match(data) or []
    if not matched:
        return []
    bounds = (
        list(starts) if starts is not None else [0] + [m.end() for m in _NEWLINE.finditer(data)]
    )
    hits: set[Hit] = set()
    for i in sorted(matched):
        rule, pattern = RULES[i], patterns[i]
        WORK.rules += len(data)
        found = 0
        for m in pattern.finditer(data):
            span = m.span(1) if pattern.groups else m.span(0)
            if span[0] < 0 or span[0] == span[1]:
                continue
            value = data[span[0] : span[1]].decode("utf-8", "replace")
            if rule.check is not None:
                WORK.checks += span[1] - span[0]
                if not rule.check(value):
                    continue
            hits.add(Hit(bisect.bisect_right(bounds, span[0]) - 1, rule.code, rule.name, value))
            found += 1
            if found >= MAX_HITS_PER_RULE:
                break
    return sorted(hits, key=lambda h: (h.index, h.code, h.rule, h.value))


def scan(texts: Sequence[str]) -> list[Hit]:
    """Every privacy hit in ``texts``; ``Hit.index`` is the index of the text."""
    if not texts:
        return []
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    starts: list[int] = []
    offset = 0
    for item in encoded:
        starts.append(offset)
        offset += len(item) + 1
    return scan_blob(b"\n".join(encoded), starts)
