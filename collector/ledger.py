"""The run directory on disk: ledger lines appended and flushed as they happen.

A run is written under ``<out>/.<run_id>.tmp/`` and renamed to ``<out>/<run_id>/`` when it
ends — complete, or partial with the reason — so a half-written directory never looks like a
finished run.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import BaseModel

from bakeoff.jsonio import dumps_line, write_json


class RunDirectory:
    """Owns the files of one run while it is being written."""

    def __init__(self, out_dir: Path, run_id: str) -> None:
        self.out_dir = out_dir
        self.run_id = run_id
        self.tmp = out_dir / f".{run_id}.tmp"
        self.final = out_dir / run_id
        if self.final.exists():
            raise FileExistsError(f"{self.final} already exists")
        self.tmp.mkdir(parents=True)
        self._ledger: IO[str] = (self.tmp / "run.jsonl").open("a", encoding="utf-8")

    @property
    def path(self) -> Path:
        """Where files go right now."""
        return self.tmp

    def append(self, record: BaseModel) -> None:
        """Append one record and flush it, so a crash loses at most the call in flight."""
        self._ledger.write(dumps_line(record.model_dump(mode="json")))
        self._ledger.flush()

    def write_metadata(self, metadata: BaseModel) -> None:
        """(Re)write metadata.json atomically."""
        write_json(self.tmp / "metadata.json", metadata.model_dump(mode="json"))

    def close_ledger(self) -> None:
        """Flush to disk and close run.jsonl."""
        if not self._ledger.closed:
            self._ledger.flush()
            os.fsync(self._ledger.fileno())
            self._ledger.close()

    def finalize(self) -> Path:
        """Rename the finished directory into place."""
        self.close_ledger()
        os.replace(self.tmp, self.final)
        return self.final

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_ledger()
