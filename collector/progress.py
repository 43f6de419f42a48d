"""Progress while a run goes: a live line per cell on a terminal, plain log lines otherwise.

The ETA covers the rest of the run, all cells. Calls differ in length by more than ten times
(P-EASY asks for 64 tokens, P-HARD for 1,024), so it is not "time so far ÷ calls done": every
remaining call is weighed by the tokens it is expected to produce, at the decode rate measured
so far in the run. A sequential call is expected to take

    start-up + expected tokens ÷ decode rate

where *start-up* is the measured wall time of the cell's calls of the same phase minus their
decode time (TTFT, a cold call's engine restart, the collector's own work between calls), the
*decode rate* is completion tokens ÷ decode time (total − TTFT) of the cell's successful calls,
and *expected tokens* is what the same workload produced in the cell so far, else its
``max_tokens`` (an upper bound: the ETA errs long, not short). A cell not yet started borrows
the run's figures. A concurrency level's calls are expected to take its measured wall time
per token once some have finished, and a sequential call's time each before (no speed-up
assumed); the calls of request-rate levels share one such pace per cell. Until a call has
succeeded there is nothing to extrapolate from, and the display says so instead of showing a
number.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from collector.models import CallRecord


@dataclass(frozen=True)
class PlannedCall:
    """One call the runner will make, in the order it makes them."""

    workload: str  # prompt id, or task id and item id
    phase: str  # cold or warm
    concurrency: int  # closed-loop level (1: sequential); 0 on an open-loop level
    max_tokens: int
    open_loop: bool = False  # a call of a request-rate level

    @property
    def level(self) -> str | None:
        """The level a call shares its measured pace with; None for sequential calls."""
        if self.open_loop:
            return "open-loop"
        return f"c{self.concurrency}" if self.concurrency > 1 else None


class _Sums:
    """Running totals of one group of calls."""

    __slots__ = ("calls", "decode_s", "start_s", "tokens", "wall_s")

    def __init__(self) -> None:
        self.calls = 0
        self.wall_s = 0.0
        self.start_s = 0.0  # wall time not spent decoding
        self.tokens = 0
        self.decode_s = 0.0  # decode time of calls that produced tokens


class EtaEstimator:
    """Expected seconds for the remaining planned calls, from the calls measured so far."""

    def __init__(self) -> None:
        self._rate: dict[str, _Sums] = {}  # cell ("" = run) -> decode totals, sequential calls
        self._start: dict[tuple[str, str], _Sums] = {}  # (cell, phase), "" = any
        self._level: dict[tuple[str, str], _Sums] = {}  # (cell, PlannedCall.level)
        self._tokens: dict[tuple[str, str], _Sums] = {}  # (cell, workload): tokens produced

    def observe(self, planned: PlannedCall, record: CallRecord, wall_s: float) -> None:
        """Account for one finished call that took ``wall_s`` since the previous one ended."""
        cell = record.cell_id
        tokens = _tokens_of(record)
        decode_s = _decode_s(record) if tokens else 0.0
        if planned.level is not None:
            sums = self._level.setdefault((cell, planned.level), _Sums())
            sums.calls += 1
            sums.wall_s += wall_s
            sums.tokens += tokens
        else:
            for key in ((cell, planned.phase), (cell, ""), ("", planned.phase), ("", "")):
                start = self._start.setdefault(key, _Sums())
                start.calls += 1
                start.start_s += max(wall_s - decode_s, 0.0)
            if tokens and decode_s > 0:
                for name in (cell, ""):
                    rate = self._rate.setdefault(name, _Sums())
                    rate.tokens += tokens
                    rate.decode_s += decode_s
        if tokens and record.error is None:
            produced = self._tokens.setdefault((cell, planned.workload), _Sums())
            produced.calls += 1
            produced.tokens += tokens

    def call_s(self, cell: str, planned: PlannedCall) -> float | None:
        """Expected wall seconds of one planned call; None while nothing can tell."""
        produced = self._tokens.get((cell, planned.workload))
        tokens = produced.tokens / produced.calls if produced else float(planned.max_tokens)
        if planned.level is not None:
            level = self._level.get((cell, planned.level))
            if level is not None and level.calls:
                if level.tokens == 0:
                    return level.wall_s / level.calls
                return tokens * level.wall_s / level.tokens
        rate = self._rate.get(cell) or self._rate.get("")
        if rate is None:
            return None
        start = next(
            s
            for key in ((cell, planned.phase), (cell, ""), ("", planned.phase), ("", ""))
            if (s := self._start.get(key)) is not None
        )
        return start.start_s / start.calls + tokens * rate.decode_s / rate.tokens

    def remaining_s(self, remaining: Sequence[tuple[str, PlannedCall]]) -> float | None:
        """Expected seconds for ``(cell, call)`` pairs still to come; None when unknown."""
        total = 0.0
        for cell, planned in remaining:
            seconds = self.call_s(cell, planned)
            if seconds is None:
                return None
            total += seconds
        return total


def _tokens_of(record: CallRecord) -> int:
    """Completion tokens, else token-bearing events (about one token each), else 0."""
    if record.completion_tokens is not None:
        return record.completion_tokens
    return record.chunks or 0


def _decode_s(record: CallRecord) -> float:
    ttft, total = record.first_delta_ms, record.total_duration_ms
    if ttft is None or total is None or total <= ttft:
        return 0.0
    return (total - ttft) / 1000


def format_duration(seconds: float) -> str:
    """``8.5s``, ``37s``, ``2m05s``, ``1h02m``: short, and precise where it matters."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Progress:
    """Calls done, the run's ETA, last TTFT and tokens/s for the cell being measured."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.clock = clock
        self.estimator = EtaEstimator()
        self.plan: dict[str, list[PlannedCall]] = {}
        self.cell = ""
        self.done = 0
        self.t_last = 0.0

    @property
    def total(self) -> int:
        """Calls planned for the current cell."""
        return len(self.plan.get(self.cell, []))

    def start_run(self, plan: Mapping[str, Sequence[PlannedCall]]) -> None:
        """The calls every measured cell will make, cells in the order they will run."""
        self.plan = {cell: list(calls) for cell, calls in plan.items()}

    def start_cell(self, cell_id: str) -> None:
        """A cell of the plan begins."""
        self.cell, self.done = cell_id, 0
        self.t_last = self.clock()
        if not self.enabled:
            return
        eta = self.eta_s()
        when = "known after its first call" if eta is None else format_duration(eta)
        if self.live:
            line = f"{self.cell}  0/{self.total}  run eta {when}"
            print("\r\033[2K" + line[:150], end="", file=self.stream, flush=True)
        else:
            line = f"cell {cell_id}: {self.total} call(s), run eta {when}"
            print(line, file=self.stream, flush=True)

    def eta_s(self) -> float | None:
        """Expected seconds until the run's last planned call ends; None while unknown."""
        cells = list(self.plan)
        later = cells[cells.index(self.cell) + 1 :] if self.cell in self.plan else cells
        remaining = [(self.cell, c) for c in self.plan.get(self.cell, [])[self.done :]]
        remaining += [(cell, c) for cell in later for c in self.plan[cell]]
        return self.estimator.remaining_s(remaining)

    def call_done(self, record: CallRecord) -> None:
        """One call finished (successfully or not)."""
        now = self.clock()
        calls = self.plan.get(self.cell, [])
        if self.done < len(calls):
            self.estimator.observe(calls[self.done], record, now - self.t_last)
        self.done += 1
        self.t_last = now
        if not self.enabled:
            return
        eta = self.eta_s()
        shown = "? (no tokens measured yet)" if eta is None else format_duration(eta)
        if record.error:
            message = record.error.splitlines()[0] if record.error.strip() else ""
            last = f"error ({record.error_kind}): {message[:120]}"
        else:
            tps = f"{record.tokens_per_sec:.1f} tok/s" if record.tokens_per_sec else "– tok/s"
            last = f"ttft {record.first_delta_ms or 0:.0f} ms, {tps}"
        what = record.prompt_id or record.item_id or ""
        line = f"{self.cell}  {self.done}/{self.total}  run eta {shown}  {what} {record.phase}: "
        line += last
        if self.live:
            print("\r\033[2K" + line[:150], end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def end_cell(self) -> None:
        """The cell is finished."""
        if self.enabled and self.live:
            print(file=self.stream, flush=True)
