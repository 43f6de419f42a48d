"""Progress while a run goes: a live line per cell on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from collector.models import CallRecord


class Progress:
    """Calls done, ETA, last TTFT and tokens/s for the cell being measured."""

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.cell = ""
        self.total = 0
        self.done = 0
        self.t_start = 0.0

    def start_cell(self, cell_id: str, total: int) -> None:
        """A new cell begins with ``total`` planned calls."""
        self.cell, self.total, self.done = cell_id, total, 0
        self.t_start = time.monotonic()
        if self.enabled and not self.live:
            print(f"cell {cell_id}: {total} call(s)", file=self.stream, flush=True)

    def call_done(self, record: CallRecord) -> None:
        """One call finished (successfully or not)."""
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.t_start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        if record.error:
            last = f"error ({record.error_kind})"
        else:
            tps = f"{record.tokens_per_sec:.1f} tok/s" if record.tokens_per_sec else "– tok/s"
            last = f"ttft {record.first_delta_ms or 0:.0f} ms, {tps}"
        what = record.prompt_id or record.item_id or ""
        line = (
            f"{self.cell}  {self.done}/{self.total}  eta {eta:4.0f}s  {what} {record.phase}: {last}"
        )
        if self.live:
            print("\r\033[2K" + line[:150], end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def end_cell(self) -> None:
        """The cell is finished."""
        if self.enabled and self.live:
            print(file=self.stream, flush=True)
