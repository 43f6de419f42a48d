"""Shared plumbing for the probe: one way to run external tools, one list of issues, scrubbing.

Every external command (``lscpu``, ``nvidia-smi``, ``amd-smi``, ``system_profiler`` …) goes
through a :class:`ProbeContext`'s runner, which runs each distinct command line at most once per
probe (several detectors may want the same ``system_profiler`` output) and always with a
timeout, because ``nvidia-smi -q -x`` and ``system_profiler`` can take seconds or hang on a
wedged driver.

Tests replace the runner with a function that returns sample outputs; the runner contract is
"return stdout as text, or raise :class:`ToolFailure` with a human-readable reason".
"""

from __future__ import annotations

import contextlib
import getpass
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector.models import ProbeIssue

DEFAULT_TIMEOUT_S = 10.0
"""Seconds any one external tool may run before the probe gives up on it."""

GIB = 1024**3

Runner = Callable[[Sequence[str]], str]
"""Run ``argv`` and return its stdout, or raise :class:`ToolFailure`."""


class ToolFailure(Exception):
    """An external tool is missing, timed out or failed; ``reason`` says which.

    ``missing`` is True when the tool is simply not installed: on a host without that vendor's
    GPU that is the normal case, not a problem worth a probe issue of its own.
    """

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def run_tool(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Run ``argv`` without a shell and return stdout; raise :class:`ToolFailure` otherwise."""
    exe = shutil.which(argv[0])
    if exe is None:
        raise ToolFailure(f"{argv[0]} is not on PATH", missing=True)
    try:
        # LC_ALL=C keeps tool output (lscpu field names, decimal points) parseable.
        proc = subprocess.run(
            [exe, *argv[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ToolFailure(f"{argv[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ToolFailure(f"{argv[0]} could not be started: {exc.strerror or exc}") from None
    stdout = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", errors="replace").strip()
        first = (stderr or stdout.strip()).splitlines()[:1]
        detail = f": {first[0][:200]}" if first else ""
        raise ToolFailure(f"{argv[0]} exited with status {proc.returncode}{detail}")
    return stdout


class CachingRunner:
    """Wrap a runner so each distinct command line runs once; failures are cached too."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._cache: dict[tuple[str, ...], str | ToolFailure] = {}

    def __call__(self, argv: Sequence[str]) -> str:
        """Return the (cached) stdout of ``argv`` or re-raise its (cached) failure."""
        key = tuple(argv)
        if key not in self._cache:
            try:
                self._cache[key] = self._runner(argv)
            except ToolFailure as exc:
                self._cache[key] = exc
        result = self._cache[key]
        if isinstance(result, ToolFailure):
            raise result
        return result


@dataclass
class ProbeContext:
    """What every detector needs: where the filesystem is, how to run tools, where issues go.

    ``root`` is normally ``/``; tests point it at a fake tree with ``proc/`` and ``sys/fs/cgroup``.
    ``system`` is ``platform.system()`` unless a test pretends to be another OS.
    """

    root: Path = field(default_factory=lambda: Path("/"))
    runner: Runner = field(default_factory=lambda: CachingRunner(run_tool))
    system: str = field(default_factory=platform.system)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    issues: list[ProbeIssue] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    """GPU tools that are simply not installed; reported only when no GPU was found at all."""

    def path(self, absolute: str) -> Path:
        """Map an absolute path such as ``/proc/cpuinfo`` into ``root``."""
        return self.root / absolute.lstrip("/")

    def issue(self, probe: str, reason: str) -> None:
        """Record that ``probe`` found nothing, with a scrubbed, non-empty reason."""
        text = scrub(reason).strip() or "no reason given"
        self.issues.append(ProbeIssue(probe=probe, reason=text))

    def read_text(self, absolute: str) -> str | None:
        """Read a small text file under ``root``; None when missing or unreadable."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None


def clean(value: object) -> str | None:
    """Normalise a reported string: bytes decoded, whitespace stripped, empty or N/A → None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).replace("\x00", "").strip()
    if not text or text.strip("[]").lower() in _SENTINELS:
        return None
    return text


_SENTINELS = {
    "n/a",
    "na",
    "not supported",
    "unknown",
    "none",
    "redacted",
    "requested functionality has been deprecated",
}

_UNITS = {
    "b": 1,
    "kb": 1024,
    "kib": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
    "tb": 1024**4,
    "tib": 1024**4,
}


def parse_bytes(value: object, default_unit: str = "b") -> int | None:
    """Parse "81920 MiB", "48 GB", 17163091968 or {"value": 196592, "unit": "MB"} into bytes.

    Vendor tools say "MB"/"GB" but mean binary units (nvidia-smi MiB, amd-smi MB = MiB,
    system_profiler "48 GB" = 48 GiB of RAM), so decimal and binary prefixes are treated alike.
    """
    if isinstance(value, Mapping):
        return parse_bytes(value.get("value"), str(value.get("unit") or default_unit))
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        factor = _UNITS.get(default_unit.strip().lower())
        return int(value * factor) if factor and value >= 0 else None
    text = clean(value)
    if text is None:
        return None
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)", text)
    if match is None:
        return None
    factor = _UNITS.get((match.group(2) or default_unit).lower())
    return int(float(match.group(1)) * factor) if factor else None


def parse_number(value: object) -> float | None:
    """Parse "300.00 W", "16x", "Gen 5", 750 or {"value": 750, "unit": "W"} to a number."""
    if isinstance(value, Mapping):
        return parse_number(value.get("value"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = clean(value)
    if text is None:
        return None
    match = re.search(r"[0-9]+(?:\.[0-9]+)?", text)
    return float(match.group(0)) if match else None


def parse_int(value: object) -> int | None:
    """Like :func:`parse_number` but an int (None when absent)."""
    number = parse_number(value)
    return int(number) if number is not None else None


def to_gib(size_bytes: int | None) -> float | None:
    """Bytes → GiB rounded to two decimals (None stays None)."""
    return round(size_bytes / GIB, 2) if size_bytes is not None else None


def display_path(path: Path) -> str:
    """A path for messages, with the home folder shown as ``~`` so it never leaks."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def _private_strings() -> list[str]:
    """Strings that must never appear in probe output: home path, user name, host name."""
    found: list[str] = []
    with contextlib.suppress(RuntimeError):
        found.append(str(Path.home()))
    try:
        user = getpass.getuser()
        # Very short names ("pi", "me") would blank ordinary words; those are left alone.
        # "root" identifies nobody and is an ordinary word in messages.
        if len(user) >= 3 and user != "root":
            found.append(user)
    except (OSError, KeyError, ImportError):
        pass
    host = socket.gethostname()
    if len(host) >= 3:
        found.append(host)
        found.append(host.split(".")[0])
    return sorted({s for s in found if s and s != "/"}, key=len, reverse=True)


def scrub(text: str) -> str:
    """Replace the home path, user name and host name in free text (tool error messages)."""
    for secret in _private_strings():
        replacement = "~" if secret.startswith("/") else "<redacted>"
        text = text.replace(secret, replacement)
    return text
