"""The progress display: an ETA weighed by expected tokens, and honest before it can know."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest

from collector.models import CallRecord, CellsFile, CellSpec
from collector.orchestrate import RunOptions, execute
from collector.progress import EtaEstimator, PlannedCall, Progress, format_duration
from tests.collector.fakes import fake_server

EASY, HARD = ("P-EASY", 64), ("P-HARD", 1024)


def _calls(*spec: tuple[tuple[str, int], str, int]) -> list[PlannedCall]:
    return [PlannedCall(w, phase, 1, budget) for (w, budget), phase, n in spec for _ in range(n)]


def _record(cell: str, *, tokens: int | None, ttft_ms: float, total_ms: float, **kw: Any) -> Any:
    """A call record with only the fields progress reads (not validated: not written)."""
    fields: dict[str, Any] = {
        "cell_id": cell,
        "prompt_id": "P",
        "item_id": None,
        "task_id": None,
        "phase": "warm",
        "concurrency": 1,
        "completion_tokens": tokens,
        "chunks": tokens or 0,
        "first_delta_ms": ttft_ms,
        "total_duration_ms": total_ms,
        "tokens_per_sec": None,
        "error": None,
        "error_kind": None,
    }
    fields.update(kw)
    return CallRecord.model_construct(**fields)


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_measured_says_so_instead_of_a_number() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(stream=out, clock=clock)
    progress.start_run({"c": _calls((EASY, "cold", 1), (HARD, "warm", 2))})
    assert progress.eta_s() is None
    progress.start_cell("c")
    assert out.getvalue() == "cell c: 3 call(s), run eta known after its first call\n"
    clock.now += 0.5
    progress.call_done(
        _record("c", tokens=None, ttft_ms=0, total_ms=0, error="refused", error_kind="connect")
    )
    line = out.getvalue().splitlines()[-1]
    assert "1/3  run eta ? (no tokens measured yet)" in line and "error (connect): refused" in line


def test_remaining_calls_are_weighed_by_their_max_tokens() -> None:
    """After one 64-token call the rest of a P-EASY/P-HARD plan is ~16x per P-HARD call, not
    'time so far / calls done' (which said 1/18 eta 18s for a run of 3 m 41 s)."""
    clock = Clock()
    progress = Progress(enabled=False, clock=clock)
    progress.start_run({"c": _calls((EASY, "cold", 1), (EASY, "warm", 1), (HARD, "warm", 2))})
    progress.start_cell("c")
    clock.now += 1.2  # 0.2 s before the first token, 1.0 s for 64 tokens
    progress.call_done(_record("c", tokens=64, ttft_ms=150, total_ms=1150, phase="cold"))
    # P-EASY warm: 0.2 + 1.0; two P-HARD: 0.2 + 16.0 each. The cold call's start-up stands in
    # for the warm calls' until a warm call is measured.
    assert progress.eta_s() == pytest.approx(1.2 + 2 * 16.2)
    clock.now += 1.1  # a warm start-up of 0.1 s
    progress.call_done(_record("c", tokens=64, ttft_ms=50, total_ms=1050))
    assert progress.eta_s() == pytest.approx(2 * (0.1 + 16.0))


def test_what_a_workload_produced_replaces_its_budget() -> None:
    """A model that stops early (EOS) at 256 of 1024 tokens: the next call expects 256."""
    clock = Clock()
    progress = Progress(enabled=False, clock=clock)
    progress.start_run({"c": _calls((HARD, "warm", 3))})
    progress.start_cell("c")
    clock.now += 4.0
    progress.call_done(_record("c", tokens=256, ttft_ms=0, total_ms=4000))
    assert progress.eta_s() == pytest.approx(2 * 4.0)


def test_later_cells_borrow_the_run_figures_and_failures_cost_time() -> None:
    clock = Clock()
    progress = Progress(enabled=False, clock=clock)
    progress.start_run({"a": _calls((EASY, "warm", 2)), "b": _calls((HARD, "warm", 1))})
    progress.start_cell("a")
    clock.now += 1.0
    progress.call_done(_record("a", tokens=64, ttft_ms=0, total_ms=1000))
    assert progress.eta_s() == pytest.approx(1.0 + 16.0)
    clock.now += 3.0  # a failed call: 3 s of start-up, no tokens
    progress.call_done(_record("a", tokens=None, ttft_ms=None, total_ms=None, error="x"))
    progress.end_cell()
    progress.start_cell("b")
    assert progress.eta_s() == pytest.approx(1.5 + 16.0)  # start-up: mean of 0 s and 3 s


def test_concurrency_levels_use_their_own_wall_time_per_token() -> None:
    estimator = EtaEstimator()
    sequential = PlannedCall("P-EASY", "warm", 1, 64)
    level = PlannedCall("P-EASY", "warm", 4, 64)
    estimator.observe(sequential, _record("c", tokens=64, ttft_ms=0, total_ms=1000), 1.0)
    # Not measured yet: no speed-up assumed, each call as long as a sequential one.
    assert estimator.call_s("c", level) == pytest.approx(1.0)
    # Four calls of 64 tokens ended within 1.6 s of wall time: 0.4 s a call.
    for wall in (1.3, 0.1, 0.1, 0.1):
        estimator.observe(level, _record("c", tokens=64, ttft_ms=0, total_ms=1250), wall)
    assert estimator.call_s("c", level) == pytest.approx(0.4)
    assert estimator.call_s("c", sequential) == pytest.approx(1.0)
    assert estimator.call_s("other", PlannedCall("P-HARD", "cold", 8, 1024)) == pytest.approx(16)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0s"),
        (8.54, "8.5s"),
        (37.4, "37s"),
        (125, "2m05s"),
        (3599.6, "1h00m"),
        (3720, "1h02m"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class _TimedStream(io.StringIO):
    """Keeps when each progress line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.lines.append((time.monotonic(), text))
        return super().write(text)


_ETA = re.compile(r"eta\s+(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?")


def _seconds(line: str) -> float:
    match = _ETA.search(line)
    assert match is not None and match.group(0).strip() != "eta", line
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_eta_tracks_a_real_run(tmp_path: Path, config_home: Path) -> None:
    """A real run against a loopback engine whose calls last as long as their token budget
    (P-EASY 64, P-MEDIUM 512, P-HARD 1024 tokens, 1 ms each): after every call the displayed
    ETA is within a factor of two (plus display rounding) of the time the run then really took.
    (The band is wide because a loaded machine stretches later calls; the old estimate, one
    call's time × calls left, showed "1/6 eta 1s" with 3.9 s left and fails it. The
    estimator's accuracy is tested with a fake clock above.)"""
    stream = _TimedStream()
    with fake_server() as url:
        cells = CellsFile(
            cells=[CellSpec(engine="openai", url=url, model="budget")],  # type: ignore[arg-type]
            runs=1,
            lengths=[],
        )
        options = RunOptions(
            cells=cells, out_dir=tmp_path, allow_dirty=True, force_load=True, sample_interval_s=0
        )
        result = execute(options, Progress(stream=stream))
        end = time.monotonic()
    assert result.calls_ok == 6
    shown = [(t, line) for t, line in stream.lines if "/6" in line]
    assert len(shown) == 6
    for written, line in shown:
        actual = end - written
        eta = _seconds(line)
        assert actual / 2 - 0.6 <= eta <= actual * 2 + 0.6, (line, round(actual, 2))


def test_the_plan_is_the_order_the_runner_makes_its_calls(
    tmp_path: Path, config_home: Path
) -> None:
    """planned_calls mirrors run_cell: cold then warm per prompt and length workload, then each
    concurrency level, then each request rate (open-loop calls plan concurrency 0)."""
    import json

    progress = Progress(enabled=False)
    with fake_server() as url:
        cells = CellsFile(
            cells=[CellSpec(engine="openai", url=url, model="ok")],  # type: ignore[arg-type]
            runs=2,
            concurrency=[1, 2],
            lengths=["16/4"],
            rates=[200.0],
            rate_requests=3,
        )
        options = RunOptions(
            cells=cells,
            out_dir=tmp_path,
            allow_dirty=True,
            force_load=True,
            prompts=["P-EASY", "P-HARD"],
            sample_interval_s=0,
        )
        result = execute(options, progress)
    records = [json.loads(line) for line in (result.path / "run.jsonl").read_text().splitlines()]
    made = [
        (r["prompt_id"], r["phase"], r["concurrency"] or 0, r["request_rate"] is not None)
        for r in records
        if r["type"] == "call"
    ]
    (planned,) = progress.plan.values()
    assert [(c.workload, c.phase, c.concurrency, c.open_loop) for c in planned] == made
    assert len(made) == 3 * (1 + 2) + 3 * 2 * 2 + 3 * 3
    assert {c.max_tokens for c in planned if c.workload == "P-HARD"} == {1024}
    assert progress.done == len(planned) and progress.eta_s() == 0.0
