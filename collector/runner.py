"""The cold/warm protocol for one cell, as an async generator of ledger records.

The runner writes no files: it yields ``CallRecord`` objects and the orchestrator appends them
to the ledger as they come. Per (cell, workload item): one cold call (when configured), then N
warm calls; then, for each concurrency level above 1, a closed loop of that many workers.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from collector.engines.base import Engine, GenerationRequest, Lane, ServerTimings, now_ns
from collector.engines.managed import ManagedProcess
from collector.errors import EngineBadReplyError
from collector.measure import Measurement, measure
from collector.models import CallRecord, Timeouts
from collector.progress import PlannedCall
from collector.tasks.prompts import WorkItem

BENCHMARK_HEADER = "X-Bakeoff-Test"


@dataclass
class CellPlan:
    """What the runner needs to measure one available cell."""

    cell_id: str
    engine: Engine
    api: str
    runs: int
    cold: bool
    temperature: float
    seed: int | None
    timeouts: Timeouts
    concurrency: list[int]
    options: dict[str, object] = field(default_factory=dict)
    managed: ManagedProcess | None = None
    redact: Callable[[str], str] = lambda text: text
    on_engine_pid: Callable[[int | None], None] = lambda pid: None
    # Filled in as the cell runs.
    windows: list[tuple[int, int]] = field(default_factory=list)
    used_calls: int = 0


def headers(run_id: str, cell_id: str, workload_id: str) -> dict[str, str]:
    """Benchmark-traffic headers on every request, so engines and proxies can tell it apart."""
    return {
        BENCHMARK_HEADER: "true",
        "X-Bakeoff-Run-Id": run_id,
        "X-Bakeoff-Cell-Id": cell_id,
        "X-Bakeoff-Prompt-Id": workload_id,
    }


def _request(plan: CellPlan, item: WorkItem, run_id: str) -> GenerationRequest:
    """The one request object every call of (cell, item) sends (adapters reuse its encoding)."""
    return GenerationRequest(
        text=item.text,
        max_tokens=item.max_tokens,
        api=plan.api,
        temperature=plan.temperature,
        seed=plan.seed,
        headers=headers(run_id, plan.cell_id, item.workload_id),
        options=plan.options,
    )


async def _prepare_cold(plan: CellPlan) -> str:
    """Make the engine cold if we can; return the cold_kind that honestly describes it."""
    if plan.managed is not None:
        if plan.used_calls:
            # Restart blocks; run it off the event loop.
            await asyncio.to_thread(plan.managed.restart)
            plan.on_engine_pid(plan.managed.pid)
        return "process_restart"
    if plan.engine.supports_unload and await plan.engine.unload():
        return "unloaded"
    return "process_warm"


def _settle_gc() -> None:
    """Collect garbage now, outside any timed region, and freeze what survives.

    A full collection of the collector's heap takes tens of ms; one that starts in the first
    round of a concurrency level delays every worker still to start (``start_lag_ms``) and one
    during a stream delays its events. After this, later collections of the cell only look at
    objects made since (the cell's own, few); ``run_cell`` unfreezes at its end.
    """
    gc.collect()
    gc.freeze()


def planned_calls(plan: CellPlan, items: list[WorkItem]) -> list[PlannedCall]:
    """The calls ``run_cell`` makes for ``items``, in the order it yields their records."""
    calls: list[PlannedCall] = []
    for item in items:
        workload = _workload(item)
        if plan.cold and item.kind == "prompt":
            calls.append(PlannedCall(workload, "cold", 1, item.max_tokens))
        warm_runs = plan.runs if item.kind == "prompt" else 1
        calls += [PlannedCall(workload, "warm", 1, item.max_tokens)] * warm_runs
    for level in plan.concurrency:
        if level <= 1:
            continue
        for item in [i for i in items if i.kind == "prompt"]:
            calls += [PlannedCall(_workload(item), "warm", level, item.max_tokens)] * (
                level * plan.runs
            )
    return calls


def _workload(item: WorkItem) -> str:
    return f"{item.workload_id}:{item.item_id}" if item.kind == "task" else item.workload_id


async def run_cell(plan: CellPlan, items: list[WorkItem], run_id: str) -> AsyncIterator[CallRecord]:
    """Yield one CallRecord per request of the cell's protocol."""
    _settle_gc()
    try:
        async for record in _run_cell(plan, items, run_id):
            yield record
    finally:
        gc.unfreeze()


async def _run_cell(
    plan: CellPlan, items: list[WorkItem], run_id: str
) -> AsyncIterator[CallRecord]:
    for item in items:
        request = _request(plan, item, run_id)
        phases: list[tuple[str, int]] = []
        if plan.cold and item.kind == "prompt":
            phases.append(("cold", 0))
        warm_runs = plan.runs if item.kind == "prompt" else 1
        phases += [("warm", i) for i in range(warm_runs)]
        for phase, idx in phases:
            cold_kind = await _prepare_cold(plan) if phase == "cold" else None
            m = await measure(plan.engine, request, total_timeout_s=plan.timeouts.total_s)
            plan.used_calls += 1
            plan.windows.append((m.t0_ns, m.t_end_ns))
            yield await _record(plan, item, m, phase=phase, idx=idx, cold_kind=cold_kind)
    for level in plan.concurrency:
        if level <= 1:
            continue
        for item in [i for i in items if i.kind == "prompt"]:
            async for record in _run_level(plan, item, run_id, level):
                yield record


async def _run_level(
    plan: CellPlan, item: WorkItem, run_id: str, level: int
) -> AsyncIterator[CallRecord]:
    """``level`` workers, each sending ``plan.runs`` requests back to back (a closed loop).

    A worker's first request is scheduled at the level's start, each later one at the end of
    its previous request; ``start_lag_ms`` is how late t0 actually was. t0 is the request's
    header write (``collector.measure``), so the lag includes the client's own work before it:
    the other workers' steps in a first round, httpx/httpcore's request set-up and, in a
    level's first round (each lane's connection is new), the TCP connect.
    """
    request = _request(plan, item, run_id)
    queue: asyncio.Queue[tuple[Measurement, float] | None] = asyncio.Queue()
    _settle_gc()
    # Each worker has its own HTTP client (Engine.lanes): per-request work stays O(1).
    async with plan.engine.lanes(level) as lanes:
        start = now_ns()

        async def worker(lane: Lane) -> None:
            lane.use()
            scheduled = start
            for _ in range(plan.runs):
                m = await measure(plan.engine, request, total_timeout_s=plan.timeouts.total_s)
                await queue.put((m, (m.t0_ns - scheduled) / 1e6))
                scheduled = m.t_end_ns
            await queue.put(None)

        tasks = [asyncio.create_task(worker(lane)) for lane in lanes]
        try:
            finished = idx = 0
            while finished < level:
                got = await queue.get()
                if got is None:
                    finished += 1
                    continue
                m, lag = got
                plan.windows.append((m.t0_ns, m.t_end_ns))
                record = await _record(
                    plan, item, m, phase="warm", idx=idx, cold_kind=None, concurrency=level
                )
                record.start_lag_ms = round(max(lag, 0.0), 3)
                idx += 1
                yield record
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _record(
    plan: CellPlan,
    item: WorkItem,
    m: Measurement,
    *,
    phase: str,
    idx: int,
    cold_kind: str | None,
    concurrency: int = 1,
) -> CallRecord:
    """Build the call record; token counting and engine-log reading happen here, untimed.

    A count or timing the collector cannot record (``EngineBadReplyError``, from the engine's
    tokenize reply or its log) fails the call as ``bad_usage`` and is left out of the record.
    """
    timings = m.timings
    try:
        prompt_tokens, completion_tokens, reasoning, cached, source = await _token_counts(plan, m)
        if timings is None and plan.managed is not None and m.error is None and concurrency == 1:
            timings = await asyncio.to_thread(plan.managed.take_log_timings)
    except EngineBadReplyError as exc:
        m.fail(exc.kind, str(exc))
        prompt_tokens = completion_tokens = reasoning = cached = None
        source, timings = "none", None
    ttft, total = m.first_delta_ms, m.total_duration_ms
    tps = tpot = None
    if completion_tokens and ttft is not None and total is not None and total > ttft:
        tps = round(completion_tokens / ((total - ttft) / 1000), 3)
        if completion_tokens > 1:
            tpot = round((total - ttft) / (completion_tokens - 1), 3)
    server_tps = timings.tokens_per_sec if timings else None
    discrepancy = None
    if tps is not None and server_tps:
        ratio = 100 * (tps - server_tps) / server_tps
        # A vanishing server rate would make it infinite, which no file can hold.
        discrepancy = round(ratio, 2) if math.isfinite(ratio) else None
    p50, p95, mx = m.itl()
    text = m.text
    scores: dict[str, float] = {}
    if item.reference is not None and m.error is None:
        from bakeoff.quality import rouge_scores

        scores = rouge_scores(text, item.reference)
    return CallRecord(
        type="call",
        cell_id=plan.cell_id,
        backend=plan.engine.kind,
        prompt_id=item.workload_id if item.kind == "prompt" else None,
        task_id=item.workload_id if item.kind == "task" else None,
        item_id=item.item_id,
        run_idx=idx,
        phase=phase,
        cold_kind=cold_kind,
        concurrency=concurrency,
        started_at=m.started_at,
        first_delta_ms=ttft,
        first_content_ms=m.first_content_ms,
        total_duration_ms=total,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning,
        cached_prompt_tokens=cached,
        token_count_source=source,
        tokens_per_sec=tps,
        tpot_ms=tpot,
        chunks=m.chunks,
        itl_p50_ms=p50,
        itl_p95_ms=p95,
        itl_max_ms=mx,
        server_prompt_ms=_r(timings.prompt_ms) if timings else None,
        server_decode_ms=_r(timings.decode_ms) if timings else None,
        server_load_ms=_r(timings.load_ms) if timings else None,
        server_tokens_per_sec=_r(server_tps),
        timing_discrepancy_pct=discrepancy,
        finish_reason=m.finish_reason,
        http_status=m.http_status,
        error=plan.redact(m.error) if m.error else None,
        error_kind=m.error_kind,
        retries=m.retries,
        output_text=text if item.keep_output else None,
        output_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest() if m.chunks else None,
        rouge1=scores.get("rouge1"),
        rouge2=scores.get("rouge2"),
        rougeL=scores.get("rougeL"),
    )


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def _token_counts(
    plan: CellPlan, m: Measurement
) -> tuple[int | None, int | None, int | None, int | None, str]:
    """Token counts and where they came from: usage, then timings, then the engine's tokenizer."""
    usage = m.usage or {}
    timings: ServerTimings | None = m.timings
    if isinstance(usage.get("completion_tokens"), int):
        details = usage.get("completion_tokens_details") or {}
        prompt_details = usage.get("prompt_tokens_details") or {}
        return (
            usage.get("prompt_tokens"),
            usage["completion_tokens"],
            details.get("reasoning_tokens") if isinstance(details, dict) else None,
            prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None,
            "server_usage",
        )
    if timings is not None and timings.decode_tokens is not None:
        return (
            timings.prompt_tokens,
            timings.decode_tokens,
            None,
            timings.cached_tokens,
            "server_timings",
        )
    if m.chunks and m.text:
        count = await plan.engine.count_tokens(m.text)
        if count is not None:
            return None, count, None, None, "server_tokenize"
    return None, None, None, None, "none"
