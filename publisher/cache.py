"""Per-run cache: validation findings and derived rows, keyed by the run's content hash.

One file per run directory under ``<out>/.cache/``. An entry is used only when the run's
content hash *and* the publisher's cache key (code version, schemas, options) are equal, so a
changed run is rebuilt; entries of runs that disappeared are pruned after a publish.
``marshal`` is used because it is fast and cannot execute code (unlike pickle); the cache is
build output, never committed, and a corrupt entry is simply rebuilt.
"""

from __future__ import annotations

import hashlib
import marshal
from pathlib import Path
from typing import Any

from bakeoff import __version__
from bakeoff.jsonio import write_atomic
from bakeoff.resources import schemas_dir

CACHE_FORMAT = 1
# The modules whose code decides a cached result.
_STAGE_MODULES = (
    "load.py",
    "migrate.py",
    "validate.py",
    "privacy.py",
    "finding.py",
    "postprocess.py",
    "derive.py",
    "stats.py",
    "tables.py",
    "ledger_sql.py",
    "ledger_scan.py",
)


def publisher_key(options: str) -> str:
    """What besides the run's bytes decides its cached result: code, schemas, options."""
    h = hashlib.sha256(f"{CACHE_FORMAT}\0{__version__}\0{options}\0".encode())
    for path in sorted(schemas_dir().glob("*.schema.json")):
        h.update(path.read_bytes())
    for name in _STAGE_MODULES:
        h.update((Path(__file__).parent / name).read_bytes())  # code change: rebuild all
    return h.hexdigest()


def _entry_path(cache_dir: Path, dir_name: str) -> Path:
    return cache_dir / (hashlib.sha256(dir_name.encode("utf-8", "replace")).hexdigest() + ".bin")


class RunCache:
    """Read and write cache entries for run directories."""

    def __init__(self, cache_dir: Path, key: str) -> None:
        self.dir = cache_dir
        self.key = key
        self.hits = 0
        self.misses = 0

    def get(self, dir_name: str, content_sha256: str) -> Any | None:
        """The cached payload, or None when absent, stale or unreadable."""
        path = _entry_path(self.dir, dir_name)
        try:
            entry = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            self.misses += 1
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("key") != self.key
            or entry.get("content") != content_sha256
        ):
            self.misses += 1
            return None
        self.hits += 1
        return entry.get("payload")

    def get_by_stat(self, dir_name: str, signature: Any) -> Any | None:
        """The cached payload when the directory's stat signature is unchanged (no hashing)."""
        if signature is None:
            return None
        try:
            entry = marshal.loads(_entry_path(self.dir, dir_name).read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("key") != self.key
            or entry.get("stat") != signature
        ):
            return None
        self.hits += 1
        return entry.get("payload")

    def put(self, dir_name: str, content_sha256: str, payload: Any, signature: Any = None) -> None:
        """Store ``payload`` (plain data) for a run directory."""
        entry = {"key": self.key, "content": content_sha256, "payload": payload, "stat": signature}
        # Atomic (rename) but not fsync'ed: an entry lost by a crash is only a miss, and
        # fsync'ing one file per run cost ~1 ms each (12 s for 10,000 runs).
        write_atomic(_entry_path(self.dir, dir_name), marshal.dumps(entry), durable=False)

    def prune(self, keep: set[str]) -> int:
        """Delete entries of run directories not in ``keep``; return how many."""
        wanted = {_entry_path(self.dir, name).name for name in keep}
        removed = 0
        if self.dir.is_dir():
            for path in self.dir.glob("*.bin"):
                if path.name not in wanted:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed
