"""The protocol of one cell, as an async generator of ledger records.

The runner writes no files: it yields ``CallRecord`` objects and the orchestrator appends them
to the ledger as they come. Per (cell, workload item): one cold call (when configured), then N
warm calls; then, for each concurrency level above 1, a closed loop of that many workers; then,
for each request rate, an open loop of Poisson arrivals (``collector.loadgen``); then, with
``sweep``, a saturation burst and rates spaced between the synchronous and saturated ones.
Levels send prompts and length workloads, not task items.

A length workload (``collector.tasks.lengths``) sends a freshly built prompt of its exact
length with every call; the prompts a level needs are built before its clock starts, and a
cold call's before the engine is made cold (building may ask the engine to count tokens).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from collector.engines.base import Engine, GenerationRequest, Lane, ServerTimings, now_ns
from collector.engines.managed import ManagedProcess
from collector.errors import EngineBadReplyError
from collector.loadgen import arrival_offsets, request_rate, sweep_rates
from collector.measure import Measurement, measure
from collector.models import CallRecord, Timeouts
from collector.progress import PlannedCall
from collector.tasks.lengths import PromptBuilder, off_target
from collector.tasks.prompts import WorkItem

BENCHMARK_HEADER = "X-Bakeoff-Test"
_T = TypeVar("_T")
log = logging.getLogger("bakeoff.run")


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
    rates: list[float] = field(default_factory=list)
    rate_requests: int = 20
    arrival_seed: int = 1
    sweep: bool = False
    sweep_levels: int = 4
    options: dict[str, object] = field(default_factory=dict)
    managed: ManagedProcess | None = None
    redact: Callable[[str], str] = lambda text: text
    on_engine_pid: Callable[[int | None], None] = lambda pid: None
    # Filled in as the cell runs.
    windows: list[tuple[int, int]] = field(default_factory=list)
    used_calls: int = 0
    prompt_counts: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """One request ready to send, and its prompt's token count when the runner knows it."""

    request: GenerationRequest
    prompt_tokens: int | None = None


@dataclass(frozen=True)
class Slot:
    """Where a call sat: its level (closed-loop concurrency or open-loop rate) and, for level
    calls, when it was due, when it went out (ms after the level began) and what was in flight.
    """

    concurrency: int | None = 1
    request_rate: float | None = None
    scheduled_ms: float | None = None
    sent_ms: float | None = None
    in_flight: int | None = None

    @property
    def sequential(self) -> bool:
        """The sequential cold/warm protocol (one call at a time)."""
        return self.concurrency == 1 and self.request_rate is None


SEQUENTIAL = Slot()


def headers(run_id: str, cell_id: str, workload_id: str) -> dict[str, str]:
    """Benchmark-traffic headers on every request, so engines and proxies can tell it apart."""
    return {
        BENCHMARK_HEADER: "true",
        "X-Bakeoff-Run-Id": run_id,
        "X-Bakeoff-Cell-Id": cell_id,
        "X-Bakeoff-Prompt-Id": workload_id,
    }


def _request(plan: CellPlan, item: WorkItem, run_id: str) -> GenerationRequest:
    """The request every call of (cell, item) sends (adapters reuse its encoding); a length
    workload's calls send it with their own prompt text."""
    return GenerationRequest(
        text=item.text,
        max_tokens=item.max_tokens,
        api=plan.api,
        temperature=plan.temperature,
        seed=plan.seed,
        headers=headers(run_id, plan.cell_id, item.workload_id),
        options=plan.options,
        exact_output=item.kind == "length",
    )


class RequestSource:
    """The requests one (cell, item) sends, in order: the same request for a frozen prompt or
    task item, a new prompt variant of the exact length for every call of a length workload
    (variants numbered across the whole cell, so no two of its calls share a prompt)."""

    def __init__(self, plan: CellPlan, item: WorkItem, run_id: str) -> None:
        self.item = item
        self.base = _request(plan, item, run_id)
        self.builder: PromptBuilder | None = None
        if item.kind == "length":
            engine, api = plan.engine, plan.api

            async def count(text: str) -> int | None:
                return await engine.prompt_token_count(text, api)

            self.builder = PromptBuilder(count)
        self.variant = 0

    async def take(self, n: int) -> list[Prepared]:
        """The next ``n`` requests (built now, outside any timed region)."""
        if self.builder is None:
            return [Prepared(self.base)] * n
        assert self.item.input_tokens is not None
        out: list[Prepared] = []
        for _ in range(n):
            built = await self.builder.build(self.variant, self.item.input_tokens)
            self.variant += 1
            out.append(Prepared(replace(self.base, text=built.text), built.tokens))
        return out


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


def _saturation_level(plan: CellPlan) -> int:
    """The closed-loop level a sweep takes its saturated rate from: ``rate_requests``
    requests at once (measured as its own burst unless that level is planned anyway)."""
    return plan.rate_requests


def _needs_burst(plan: CellPlan) -> bool:
    """Whether a sweep sends its own burst (the saturation level is not a planned level)."""
    level = _saturation_level(plan)
    return level <= 1 or level not in plan.concurrency


async def _next(queue: asyncio.Queue[_T], *watched: asyncio.Task[None]) -> _T:
    """The queue's next item; if a watched task ends with an exception first (a bug: a worker
    never fails, measure records failures), that exception, instead of waiting forever."""
    getter = asyncio.ensure_future(queue.get())
    try:
        while True:
            for task in watched:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            pending = {getter, *(t for t in watched if not t.done())}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
    finally:
        getter.cancel()  # a no-op once it is done


def planned_calls(plan: CellPlan, items: list[WorkItem]) -> list[PlannedCall]:
    """The calls ``run_cell`` makes for ``items``, in the order it yields their records."""
    calls: list[PlannedCall] = []
    for item in items:
        workload = _workload(item)
        if plan.cold and item.under_load:
            calls.append(PlannedCall(workload, "cold", 1, item.max_tokens))
        warm_runs = plan.runs if item.under_load else 1
        calls += [PlannedCall(workload, "warm", 1, item.max_tokens)] * warm_runs
    loaded = [i for i in items if i.under_load]
    for level in plan.concurrency:
        if level <= 1:
            continue
        for item in loaded:
            calls += [PlannedCall(_workload(item), "warm", level, item.max_tokens)] * (
                level * plan.runs
            )
    for item in loaded:
        per_level = [PlannedCall(_workload(item), "warm", 0, item.max_tokens, open_loop=True)]
        calls += per_level * (plan.rate_requests * len(plan.rates))
    if plan.sweep:
        burst = _saturation_level(plan)
        for item in loaded:
            if _needs_burst(plan):
                calls += [PlannedCall(_workload(item), "warm", burst, item.max_tokens)] * burst
            per_level = [PlannedCall(_workload(item), "warm", 0, item.max_tokens, open_loop=True)]
            calls += per_level * (plan.rate_requests * plan.sweep_levels)
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
    sources = [RequestSource(plan, item, run_id) for item in items]
    # Successful sequential warm calls per item: (t0, end), the sweep's synchronous rate.
    sequential: dict[int, list[tuple[int, int]]] = {}
    saturated: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for n, (item, source) in enumerate(zip(items, sources, strict=True)):
        phases: list[tuple[str, int]] = []
        if plan.cold and item.under_load:
            phases.append(("cold", 0))
        warm_runs = plan.runs if item.under_load else 1
        phases += [("warm", i) for i in range(warm_runs)]
        for phase, idx in phases:
            (prepared,) = await source.take(1)
            cold_kind = await _prepare_cold(plan) if phase == "cold" else None
            m = await measure(plan.engine, prepared.request, total_timeout_s=plan.timeouts.total_s)
            plan.used_calls += 1
            plan.windows.append((m.t0_ns, m.t_end_ns))
            record = await _record(plan, item, m, prepared, phase, idx, cold_kind, SEQUENTIAL)
            if phase == "warm" and record.error is None:
                sequential.setdefault(n, []).append((m.t0_ns, m.t_end_ns))
            yield record
    loaded = [(n, item, sources[n]) for n, item in enumerate(items) if item.under_load]
    for level in plan.concurrency:
        if level <= 1:
            continue
        for n, item, source in loaded:
            spans = saturated.setdefault((n, level), [])
            async for record, span in _run_level(plan, item, source, level, plan.runs):
                if span is not None:
                    spans.append(span)
                yield record
    for _, item, source in loaded:
        for rate in plan.rates:
            async for record in _run_rate(plan, item, source, rate):
                yield record
    if plan.sweep:
        level = _saturation_level(plan)
        for n, item, source in loaded:
            measured = saturated.get((n, level))
            async for record in _run_sweep(plan, item, source, sequential.get(n, []), measured):
                yield record


async def _run_sweep(
    plan: CellPlan,
    item: WorkItem,
    source: RequestSource,
    sequential: Sequence[tuple[int, int]],
    measured: list[tuple[int, int]] | None,
) -> AsyncIterator[CallRecord]:
    """The synchronous rate (1 ÷ mean duration of the item's sequential warm calls), the
    saturated rate (requests ÷ span of ``rate_requests`` requests sent at once: the planned
    closed-loop level of that size when there is one (``measured``), else a burst of that many
    requests, one per worker), then open-loop levels spaced evenly between them."""
    if not sequential:
        log.warning("%s %s: no successful warm call, so no sweep", plan.cell_id, item.workload_id)
        return
    mean_s = math.fsum((end - start) / 1e9 for start, end in sequential) / len(sequential)
    synchronous = 1 / mean_s if mean_s > 0 else None
    spans = None if _needs_burst(plan) else measured
    if spans is None:
        spans = []
        async for record, span in _run_level(plan, item, source, _saturation_level(plan), 1):
            if span is not None:
                spans.append(span)
            yield record
    saturated = request_rate(spans)
    if synchronous is None or saturated is None:
        log.warning("%s %s: no rates to sweep between", plan.cell_id, item.workload_id)
        return
    rates = sweep_rates(synchronous, saturated, plan.sweep_levels)
    log.info(
        "%s %s sweep: synchronous %.4g req/s, saturated %.4g req/s, levels %s",
        plan.cell_id, item.workload_id, synchronous, saturated, ", ".join(f"{r:g}" for r in rates),
    )  # fmt: skip
    for rate in rates:
        async for record in _run_rate(plan, item, source, rate):
            yield record


class _InFlight:
    """Requests of a level between their send and their end."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


async def _run_level(
    plan: CellPlan, item: WorkItem, source: RequestSource, level: int, runs: int
) -> AsyncIterator[tuple[CallRecord, tuple[int, int] | None]]:
    """``level`` workers, each sending ``runs`` requests back to back (a closed loop); yields
    each record with its call's (t0, end) when it succeeded.

    A worker's first request is scheduled at the level's start, each later one at the end of
    its previous request; ``start_lag_ms`` is how late t0 actually was. t0 is the request's
    header write (``collector.measure``), so the lag includes the client's own work before it:
    the other workers' steps in a first round and httpx/httpcore's request set-up. Each lane's
    connection is opened before the level's clock starts (``Engine.lanes``), so no TCP connect
    is in it unless the server closed the connection in between.
    """
    prepared = await source.take(level * runs)
    pending = iter(prepared)
    queue: asyncio.Queue[tuple[Measurement, Prepared, Slot] | None] = asyncio.Queue()
    in_flight = _InFlight()
    _settle_gc()
    # Each worker has its own HTTP client (Engine.lanes): per-request work stays O(1).
    async with plan.engine.lanes(level) as lanes:
        start = now_ns()

        async def worker(lane: Lane) -> None:
            lane.use()
            scheduled = start
            for _ in range(runs):
                this = next(pending)
                in_flight.n += 1
                count = in_flight.n
                m = await measure(plan.engine, this.request, total_timeout_s=plan.timeouts.total_s)
                in_flight.n -= 1
                slot = _slot(start, scheduled, m, count, concurrency=level)
                await queue.put((m, this, slot))
                scheduled = m.t_end_ns
            await queue.put(None)

        tasks = [asyncio.create_task(worker(lane)) for lane in lanes]
        try:
            finished = idx = 0
            while finished < level:
                got = await _next(queue, *tasks)
                if got is None:
                    finished += 1
                    continue
                m, this, slot = got
                plan.windows.append((m.t0_ns, m.t_end_ns))
                record = await _record(plan, item, m, this, "warm", idx, None, slot)
                idx += 1
                yield record, (m.t0_ns, m.t_end_ns) if record.error is None else None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _run_rate(
    plan: CellPlan, item: WorkItem, source: RequestSource, rate: float
) -> AsyncIterator[CallRecord]:
    """An open loop: ``rate_requests`` requests sent at their Poisson arrival times
    (``loadgen.arrival_offsets``), whatever is still in flight; each on its own lane.

    ``scheduled_ms`` is the arrival, ``sent_ms`` the request's t0 (both after the level's
    start) and ``start_lag_ms`` their difference: how far the client fell behind its schedule.
    """
    n = plan.rate_requests
    prepared = await source.take(n)
    offsets = arrival_offsets(n, rate, plan.arrival_seed)
    queue: asyncio.Queue[tuple[Measurement, Prepared, Slot]] = asyncio.Queue()
    in_flight = _InFlight()
    _settle_gc()
    async with plan.engine.lanes(n) as lanes:
        start = now_ns()

        async def send(i: int, due: int) -> None:
            lanes[i].use()
            in_flight.n += 1
            count = in_flight.n
            m = await measure(
                plan.engine, prepared[i].request, total_timeout_s=plan.timeouts.total_s
            )
            in_flight.n -= 1
            slot = _slot(start, due, m, count, request_rate=rate)
            await queue.put((m, prepared[i], slot))

        async def schedule() -> None:
            sends = []
            for i, offset in enumerate(offsets):
                due = start + round(offset * 1e9)
                wait = (due - now_ns()) / 1e9
                if wait > 0:
                    await asyncio.sleep(wait)
                sends.append(asyncio.create_task(send(i, due)))
            try:
                await asyncio.gather(*sends)
            finally:
                for task in sends:
                    task.cancel()
                await asyncio.gather(*sends, return_exceptions=True)

        scheduler = asyncio.create_task(schedule())
        try:
            for idx in range(n):
                m, this, slot = await _next(queue, scheduler)
                plan.windows.append((m.t0_ns, m.t_end_ns))
                yield await _record(plan, item, m, this, "warm", idx, None, slot)
        finally:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)


def _slot(
    start: int,
    scheduled: int,
    m: Measurement,
    in_flight: int,
    *,
    concurrency: int | None = None,
    request_rate: float | None = None,
) -> Slot:
    return Slot(
        concurrency=concurrency,
        request_rate=request_rate,
        scheduled_ms=round((scheduled - start) / 1e6, 3),
        sent_ms=round(max(m.t0_ns - start, 0) / 1e6, 3),
        in_flight=in_flight,
    )


async def _record(
    plan: CellPlan,
    item: WorkItem,
    m: Measurement,
    prepared: Prepared,
    phase: str,
    idx: int,
    cold_kind: str | None,
    slot: Slot,
) -> CallRecord:
    """Build the call record; token counting and engine-log reading happen here, untimed.

    A count or timing the collector cannot record (``EngineBadReplyError``, from the engine's
    tokenize reply or its log) fails the call as ``bad_usage`` and is left out of the record.
    """
    timings = m.timings
    try:
        prompt_tokens, completion_tokens, reasoning, cached, source = await _token_counts(plan, m)
        if timings is None and plan.managed is not None and m.error is None and slot.sequential:
            timings = await asyncio.to_thread(plan.managed.take_log_timings)
        if prompt_tokens is None:
            prompt_tokens = prepared.prompt_tokens
        if prompt_tokens is None and item.kind != "length":
            prompt_tokens = await _prompt_count(plan, prepared.request.text)
    except EngineBadReplyError as exc:
        m.fail(exc.kind, str(exc))
        prompt_tokens = completion_tokens = reasoning = cached = None
        source, timings = "none", None
    if cached is None and timings is not None:
        cached = _cached_from_timings(prompt_tokens, timings)
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
    length = item.kind == "length"
    return CallRecord(
        type="call",
        cell_id=plan.cell_id,
        backend=plan.engine.kind,
        prompt_id=item.workload_id if item.kind != "task" else None,
        task_id=item.workload_id if item.kind == "task" else None,
        item_id=item.item_id,
        run_idx=idx,
        phase=phase,
        cold_kind=cold_kind,
        concurrency=slot.concurrency,
        request_rate=slot.request_rate,
        in_flight=slot.in_flight,
        scheduled_ms=slot.scheduled_ms,
        sent_ms=slot.sent_ms,
        start_lag_ms=_lag(slot),
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
        prefill_tokens_per_sec=prefill_rate(prompt_tokens, cached, ttft),
        server_prefill_tokens_per_sec=_server_prefill(timings),
        target_prompt_tokens=item.input_tokens if length else None,
        target_completion_tokens=item.max_tokens if length else None,
        length_off_target=_off_target(item, prompt_tokens, completion_tokens) if length else None,
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


def _lag(slot: Slot) -> float | None:
    if slot.sent_ms is None or slot.scheduled_ms is None:
        return None
    return round(max(slot.sent_ms - slot.scheduled_ms, 0.0), 3)


def _off_target(item: WorkItem, prompt: int | None, completion: int | None) -> bool:
    assert item.input_tokens is not None
    return off_target(prompt, item.input_tokens) or off_target(completion, item.max_tokens)


def prefill_rate(
    prompt_tokens: int | None, cached: int | None, ttft_ms: float | None
) -> float | None:
    """Client-side prefill rate (the methodology page): prompt tokens the engine had to
    process (``prompt_tokens − cached_prompt_tokens``) per second of TTFT."""
    if prompt_tokens is None or ttft_ms is None or ttft_ms <= 0:
        return None
    processed = prompt_tokens - (cached or 0)
    if processed <= 0:
        return None
    return round(processed / (ttft_ms / 1000), 3)


def _server_prefill(timings: ServerTimings | None) -> float | None:
    """The engine's prompt-processing rate: tokens it evaluated ÷ its prompt time."""
    if timings is None or not timings.prompt_tokens or not timings.prompt_ms:
        return None
    rate = timings.prompt_tokens / (timings.prompt_ms / 1000)
    return round(rate, 3) if math.isfinite(rate) else None


def _cached_from_timings(prompt_tokens: int | None, timings: ServerTimings) -> int | None:
    """Cached prompt tokens from the engine's timings: as it says, else the prompt's tokens
    minus those it evaluated (llama-cpp-python's log counts only the evaluated ones)."""
    if timings.cached_tokens is not None:
        return timings.cached_tokens
    if prompt_tokens is None or timings.prompt_tokens is None:
        return None
    cached = prompt_tokens - timings.prompt_tokens
    return cached if 0 <= cached <= prompt_tokens else None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def _prompt_count(plan: CellPlan, text: str) -> int | None:
    """The engine's count of a fixed prompt, asked once per cell (never a probe request: this
    runs between measured calls)."""
    if text not in plan.prompt_counts:
        plan.prompt_counts[text] = await plan.engine.prompt_token_count(text, plan.api, probe=False)
    return plan.prompt_counts[text]


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
        prompt = None
        if timings.prompt_tokens is not None:
            prompt = timings.prompt_tokens + (timings.cached_tokens or 0)
        return (prompt, timings.decode_tokens, None, timings.cached_tokens, "server_timings")
    if m.chunks and m.text:
        count = await plan.engine.count_tokens(m.text)
        if count is not None:
            return None, count, None, None, "server_tokenize"
    return None, None, None, None, "none"
