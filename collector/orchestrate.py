"""``bakeoff run`` end to end: guards, probe, cells, ledger, metadata, report.

The only module of the collector that knows about paths of a run. Order of events:
guards → probe (outside any timed region) → health checks → run directory (temporary name)
→ cells measured, each record appended as it happens → metadata + run.md → rename into place.
An interruption (Ctrl-C, an unexpected error) still renames the directory, as ``partial`` with
the reason; every managed engine is stopped on every path.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from bakeoff import __version__
from bakeoff.resources import repo_root
from collector import guards
from collector.bench.timing import BenchConfig
from collector.cells import capabilities, prepare_cell
from collector.config import merge_cost_inputs
from collector.engines.base import Engine
from collector.engines.managed import (
    EMBEDDED_MODEL_NAME,
    ManagedProcess,
)
from collector.errors import (
    CollectorError,
    ConfigError,
    EngineError,
    GuardError,
)
from collector.ledger import RunDirectory
from collector.measure import utc_now
from collector.models import (
    CallRecord,
    CellInfo,
    CellsFile,
    CellSpec,
    CellSummary,
    CostInputs,
    Environment,
    Hardware,
    Harness,
    ManagedEngine,
    Metadata,
    MetaRecord,
    PromptRef,
    RunConfig,
    RunHardwareMetrics,
    SkippedRecord,
    Summary,
    UnavailableMetric,
)
from collector.progress import Progress
from collector.report import write_report
from collector.runner import CellPlan, planned_calls, run_cell
from collector.tasks import summarization
from collector.tasks.lengths import length_ref, load_text, parse_lengths
from collector.tasks.prompts import WorkItem, prompt_items
from collector.tasks.summarization import Dataset
from collector.telemetry import Sampler, jsonl_sink

log = logging.getLogger("bakeoff.run")
# run.log gets these lines; the terminal gets the progress display and the command's summary.
# Libraries that configure the root logger (absl, via rouge-score) must not echo them a second
# time, nor logging's last-resort handler before run.log is open.
log.propagate = False
log.addHandler(logging.NullHandler())


@dataclass
class RunOptions:
    """Everything ``bakeoff run`` was asked to do, after flags and the cells file are merged."""

    cells: CellsFile
    out_dir: Path
    mode: str = "full"  # full | smoke | probe_only
    prompts: list[str] | None = None
    tasks: list[str] | None = None
    lengths: list[str] | None = None  # over the cells file's lengths (--lengths)
    rates: list[float] | None = None  # over the cells file's rates (--rates)
    sweep: bool = False  # --sweep (or the cells file's sweep)
    runs: int | None = None
    publisher_id: str | None = None
    host_label: str | None = None
    allow_dirty: bool = False
    force_load: bool = False
    for_publication: bool = False
    dataset: Path | None = None
    sample_interval_s: float = 0.5
    bench: bool = False
    cost_flags: dict[str, object | None] = field(default_factory=dict)
    probe: Callable[[str | None], Hardware] | None = None  # injectable for tests
    bench_config: BenchConfig | None = None  # injectable for tests: tiny sizes


@dataclass
class RunResult:
    """Where the run went and how it ended."""

    path: Path
    status: str
    calls_total: int
    calls_ok: int
    skipped: list[str] = field(default_factory=list)  # cell ids
    skip_reasons: dict[str, str] = field(default_factory=dict)
    """Why each skipped cell was skipped, for the terminal (one line each): addresses as the
    user typed them."""
    mode: str = "full"
    status_reason: str | None = None
    comparable: bool = True
    comparable_reason: str | None = None
    cells_measured: int = 0  # cells with at least one recorded call
    cells_planned: int = 0


def single_cell(engine: str | None, url: str | None, model: str | None) -> CellsFile:
    """A one-cell plan from --engine/--url/--model, or the embedded engine when all are absent."""
    if url is None:
        if engine not in (None, "openai") or model is not None:
            raise ConfigError("--engine and --model need --url (or use a cells file)")
        return CellsFile(
            cells=[CellSpec(engine="openai", managed=ManagedEngine(), model=EMBEDDED_MODEL_NAME)]
        )
    if not model:
        raise ConfigError("--url needs --model (the model name the engine serves)")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--url {url}: must start with http:// or https://, e.g. "
            f"--url http://{url.split('://')[-1]}"
        )
    return CellsFile(cells=[CellSpec(engine=engine or "openai", url=url, model=model)])


def make_run_id(now: datetime | None = None) -> tuple[str, str]:
    """``<UTC start>-<8 hex>`` and the full uuid4 it comes from."""
    run_uuid = uuid.uuid4()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{run_uuid.hex[:8]}", str(run_uuid)


def execute(options: RunOptions, progress: Progress | None = None) -> RunResult:
    """Run the whole benchmark; returns where the run directory ended up."""
    cost = merge_cost_inputs(options.cells.cost, options.cost_flags)
    options = replace(options, cells=_with_load_flags(options))
    git = guards.git_state(repo_root())
    guards.check_dirty(git, options.allow_dirty)
    load_start = guards.load_average()
    guards.check_load(load_start, options.force_load)
    if options.probe is None:
        from collector.probe import probe_host

        hardware = probe_host(publisher_id=options.publisher_id)
    else:
        hardware = options.probe(options.publisher_id)
    if options.bench:
        # Before any engine starts: the microbenchmarks want an otherwise idle host.
        from collector.bench import run_benchmarks

        hardware = run_benchmarks(hardware, options.bench_config)
    cells_file = options.cells
    items, datasets = _work_items(options)
    run_id, run_uuid = make_run_id()
    host_label = (
        options.host_label
        or cells_file.host_label
        or f"host-{hardware.system_hardware.system_id[:8]}"
    )
    progress = progress or Progress(enabled=False)
    return asyncio.run(
        _execute(
            options,
            hardware,
            git,
            load_start,
            items,
            datasets,
            run_id,
            run_uuid,
            host_label,
            progress,
            cost,
        )
    )


def _with_load_flags(options: RunOptions) -> CellsFile:
    """The cells file with --lengths, --rates and --sweep laid over it (validated again)."""
    update: dict[str, object] = {}
    if options.lengths is not None:
        update["lengths"] = options.lengths
    if options.rates is not None:
        update["rates"] = options.rates
    if options.sweep:
        update["sweep"] = True
    if not update:
        return options.cells
    try:
        return CellsFile.model_validate({**options.cells.model_dump(), **update})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"--lengths/--rates: {problems}") from None


def _work_items(options: RunOptions) -> tuple[list[WorkItem], list[Dataset]]:
    """The prompts, length workloads and task items every cell gets, and the datasets the
    tasks read."""
    cells = options.cells
    prompt_ids = options.prompts if options.prompts is not None else cells.prompts
    task_ids = options.tasks if options.tasks is not None else cells.tasks
    items = prompt_items(prompt_ids) if prompt_ids != [] else []
    text_sha256 = load_text().sha256 if cells.lengths else None
    for spec in parse_lengths(cells.lengths):
        items.append(
            WorkItem(
                workload_id=spec.id,
                kind="length",
                text="",
                max_tokens=spec.output_tokens,
                sha256=text_sha256,
                input_tokens=spec.input_tokens,
            )
        )
    datasets: list[Dataset] = []
    for task in task_ids:
        task_items, dataset = _task_items(task, options.dataset)
        items += task_items
        datasets.append(dataset)
    if options.mode == "smoke":
        items = items[:1]
        datasets = datasets if items and items[0].kind == "task" else []
    if not items and options.mode != "probe_only":
        raise ConfigError("nothing to run: no prompts and no tasks selected")
    return items, datasets


def _task_items(task: str, dataset: Path | None) -> tuple[list[WorkItem], Dataset]:
    if task != "summarization":
        raise ConfigError(f"unknown task {task!r}; allowed: summarization")
    summarization.require_scorer()
    data = summarization.load_dataset(dataset)
    return [
        WorkItem(
            workload_id=summarization.TASK_ID,
            kind="task",
            text=summarization.render_prompt(item),
            max_tokens=summarization.MAX_TOKENS,
            item_id=item.id,
            keep_output=True,
            reference=item.reference,
        )
        for item in data.items
    ], data


async def _execute(
    options: RunOptions,
    hardware: Hardware,
    git: guards.GitState,
    load_start: list[float] | None,
    items: list[WorkItem],
    datasets: list[Dataset],
    run_id: str,
    run_uuid: str,
    host_label: str,
    progress: Progress,
    cost: CostInputs | None,
) -> RunResult:
    cells_file = options.cells
    started_at = utc_now()
    specs = cells_file.cells[:1] if options.mode == "smoke" else cells_file.cells
    # A smoke run is one call: the cold one (cells.prepare_cell).
    runs = 0 if options.mode == "smoke" else (options.runs or cells_file.runs)
    infos: list[CellInfo] = []
    plans: list[CellPlan] = []
    skipped: list[SkippedRecord] = []
    managed: list[ManagedProcess] = []
    engines: list[Engine] = []
    run_dir: RunDirectory | None = None
    telemetry: RunTelemetry | None = None
    calls: list[CallRecord] = []
    shown_reasons: dict[str, str] = {}
    ended: tuple[str, str | None]
    status: str = "complete"
    reason: str | None = None
    try:
        for spec in specs:
            cell_id = f"{host_label}:{spec.engine}:{spec.model}"
            info, plan, skip = await prepare_cell(
                spec, cell_id, cells_file, runs, options.mode, managed, engines, shown_reasons
            )
            infos.append(info)
            if plan is not None:
                plans.append(plan)
            if skip is not None:
                skipped.append(skip)
        if options.for_publication and skipped:
            raise GuardError(
                "--for-publication: health checks failed for "
                + "; ".join(
                    f"{s.cell_id} ({shown_reasons.get(s.cell_id, s.reason)})" for s in skipped
                )
            )
        options.out_dir.mkdir(parents=True, exist_ok=True)
        run_dir = RunDirectory(options.out_dir, run_id)
        handler = _attach_log(run_dir.path / "run.log")
        log.info(
            "run %s started (%s): %d cell(s), %d work item(s), %d warm run(s)",
            run_id,
            options.mode,
            len(specs),
            len(items),
            runs,
        )
        for info in infos:
            if info.available:
                log.info("cell %s health check passed", info.cell_id)
        for skip in skipped:
            log.warning("cell %s skipped: %s", skip.cell_id, one_line(skip.reason))
        metadata = Metadata(
            created_at=started_at,
            updated_at=started_at,
            run_id=run_id,
            run_uuid=run_uuid,
            status="partial",
            status_reason="running",
            started_at=started_at,
            finished_at=None,
            harness=Harness(
                version=__version__,
                git_sha=git.sha,
                git_describe=git.describe,
                git_dirty=git.dirty,
                dirty_files=git.dirty_files,
            ),
            publisher_id=hardware.system_hardware.publisher_id,
            host_label=host_label,
            environment=Environment(load_avg_start=load_start, knobs=guards.environment_knobs()),
            config=_run_config(options, cells_file, items, datasets, runs),
            cells=infos,
            hardware=hardware,
            cost_inputs=cost,
            run_hardware_metrics=RunHardwareMetrics(system_id=hardware.system_hardware.system_id),
            summary=_summary(infos, calls, skipped),
        )
        run_dir.write_metadata(metadata)
        run_dir.append(
            MetaRecord(
                type="meta",
                run_id=run_id,
                harness_version=__version__,
                git_sha=git.sha,
                git_dirty=git.dirty,
                started_at=started_at,
                host_label=host_label,
                load_avg_start=load_start,
                cells_planned=[i.cell_id for i in infos],
            )
        )
        for skip in skipped:
            run_dir.append(skip)
        system_id = hardware.system_hardware.system_id
        telemetry = RunTelemetry(options.sample_interval_s, run_dir.path, system_id)
        try:
            if options.mode != "probe_only":
                progress.start_run({plan.cell_id: planned_calls(plan, items) for plan in plans})
                for plan in plans:
                    telemetry.follow(plan)
                    progress.start_cell(plan.cell_id)
                    async for record in run_cell(plan, items, run_id):
                        run_dir.append(record)
                        calls.append(record)
                        progress.call_done(record)
                        _log_call(record)
                    progress.end_cell()
        except (KeyboardInterrupt, asyncio.CancelledError):
            status, reason = "partial", "interrupted by the user (Ctrl-C)"
            log.warning("run interrupted: keeping %d measured call(s) as a partial run", len(calls))
        except Exception as exc:  # a bug: keep the data, then re-raise with its traceback
            ended = ("partial", f"collector error: {type(exc).__name__}: {exc}")
            _finish(
                run_dir, metadata, options.mode, infos, calls, skipped, ended, telemetry, datasets
            )
            raise
        ended = (status, reason)
        path = _finish(
            run_dir, metadata, options.mode, infos, calls, skipped, ended, telemetry, datasets
        )
        log.removeHandler(handler)
        handler.close()
        ok = sum(1 for c in calls if c.error is None)
        return RunResult(
            path=path,
            status=metadata.status,
            calls_total=len(calls),
            calls_ok=ok,
            skipped=[s.cell_id for s in skipped],
            mode=options.mode,
            status_reason=metadata.status_reason,
            comparable=metadata.comparable,
            comparable_reason=metadata.comparable_reason,
            cells_measured=len({c.cell_id for c in calls}),
            cells_planned=len(infos),
            skip_reasons={
                s.cell_id: one_line(shown_reasons.get(s.cell_id, s.reason)) for s in skipped
            },
        )
    finally:
        if telemetry is not None:
            telemetry.close()
        for engine in engines:
            await engine.aclose()
        for proc in managed:
            await asyncio.to_thread(proc.cleanup)


def one_line(text: str) -> str:
    """A reason on one line (run.log lines, table cells, terminal): line breaks become ' | '."""
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def verdict(
    mode: str,
    infos: list[CellInfo],
    calls: list[CallRecord],
    skipped: list[SkippedRecord],
    ended: tuple[str, str | None],
) -> tuple[str, str | None, bool, str | None]:
    """``(status, status_reason, comparable, comparable_reason)`` of a finished run.

    ``ended`` is how the measuring loop ended (complete, or partial with why). A run that
    measured no call is ``empty`` unless it was cut short, and never comparable; a smoke run
    (one call, the first of the run) is not comparable either.
    """
    status, reason = ended
    if not calls:
        if mode == "probe_only":
            healthy = sum(1 for i in infos if i.available)
            empty_reason = (
                f"probe-only run: health checks only ({healthy} of {len(infos)} cell(s) "
                "passed), no call was measured"
            )
            why_not = "probe-only run: health checks only"
        elif skipped and len(skipped) == len(infos):
            cells = "; ".join(f"{s.cell_id}: {one_line(s.reason)}" for s in skipped)
            empty_reason = why_not = f"no call was measured: every cell was skipped ({cells})"
        else:
            empty_reason = why_not = "no call was measured"
        if status == "complete":
            status, reason = "empty", empty_reason
        else:
            why_not = f"no call was measured: {reason}"
        return status, reason, False, why_not
    if mode == "smoke":
        managed = any(i.managed for i in infos if i.available)
        why_not = (
            "smoke run: one call on a freshly started engine"
            if managed
            else "smoke run: one call, the first of the run, and no warm calls"
        )
        return status, reason, False, why_not
    return status, reason, True, None


def _finish(
    run_dir: RunDirectory,
    metadata: Metadata,
    mode: str,
    infos: list[CellInfo],
    calls: list[CallRecord],
    skipped: list[SkippedRecord],
    ended: tuple[str, str | None],
    telemetry: RunTelemetry,
    datasets: list[Dataset],
) -> Path:
    """Final metadata, telemetry summary, dataset copies, run.md, and the rename into place."""
    metadata.run_hardware_metrics = telemetry.finish(calls)
    for dataset in datasets:
        used = sorted({c.item_id for c in calls if c.item_id and c.task_id})
        if used:
            summarization.write_dataset_copy(dataset, used, run_dir.path)
    finished = utc_now()
    for info in infos:
        info.capabilities = capabilities(info, [c for c in calls if c.cell_id == info.cell_id])
    status, reason, comparable, why_not = verdict(mode, infos, calls, skipped, ended)
    metadata.status = status  # type: ignore[assignment]
    metadata.status_reason = reason
    metadata.comparable = comparable
    metadata.comparable_reason = why_not
    metadata.finished_at = finished
    metadata.updated_at = finished
    metadata.environment.load_avg_end = guards.load_average()
    metadata.summary = _summary(infos, calls, skipped)
    metadata.cells = infos
    Metadata.model_validate(metadata.model_dump())  # the reasons rule (fields were assigned)
    run_dir.write_metadata(metadata)
    run_dir.close_ledger()
    write_report(run_dir.path)
    ok = sum(1 for c in calls if c.error is None)
    log.info(
        "run %s %s: measured %d call(s), %d ok, in %d cell(s)%s",
        metadata.run_id,
        status,
        len(calls),
        ok,
        len({c.cell_id for c in calls}),
        f" ({reason})" if reason else "",
    )
    if not comparable:
        log.warning("run %s is not comparable: %s", metadata.run_id, why_not)
    return run_dir.finalize()


class RunTelemetry:
    """The live sampler of one run: samples.jsonl as it goes, the summary at the end.

    ``interval_s <= 0`` disables it; the summary then says why every field is null.
    """

    def __init__(self, interval_s: float, run_path: Path, system_id: str) -> None:
        self.system_id = system_id
        self.interval_s = interval_s
        self.sampler: Sampler | None = None
        self._fh: IO[str] | None = None
        self._offset = 0.0
        if interval_s > 0:
            self._fh = (run_path / "samples.jsonl").open("w", encoding="utf-8")
            self.sampler = Sampler(interval_s, sink=jsonl_sink(self._fh)).start()
            # Call windows are perf_counter_ns stamps; the sampler counts from its start.
            self._offset = time.perf_counter() - self.sampler.now()
        self._plans: list[CellPlan] = []

    def follow(self, plan: CellPlan) -> None:
        """Watch this cell's managed engine process (and its restarts)."""
        self._plans.append(plan)
        if self.sampler is not None:
            sampler = self.sampler
            sampler.set_engine_pid(plan.managed.pid if plan.managed else None)
            plan.on_engine_pid = sampler.set_engine_pid

    def finish(self, calls: list[CallRecord]) -> RunHardwareMetrics:
        """Stop sampling and summarise, with energy per cell over its calls' windows."""
        if self.sampler is None:
            return RunHardwareMetrics(
                system_id=self.system_id,
                unavailable=[UnavailableMetric(field="*", reason="telemetry disabled")],
            )
        self.sampler.stop()
        self.close()
        windows = {
            plan.cell_id: [
                (a / 1e9 - self._offset, b / 1e9 - self._offset) for a, b in plan.windows
            ]
            for plan in self._plans
        }
        tokens: dict[str, int] = {}
        for call in calls:
            tokens[call.cell_id] = tokens.get(call.cell_id, 0) + (call.completion_tokens or 0)
        return self.sampler.summary(windows, tokens, system_id=self.system_id)

    def close(self) -> None:
        """Stop the sampler thread and close samples.jsonl (safe to call twice)."""
        if self.sampler is not None:
            self.sampler.stop()
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


def _attach_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _log_call(record: CallRecord) -> None:
    what = record.prompt_id or f"{record.task_id}:{record.item_id}"
    if record.error:
        log.warning(
            "%s %s %s#%d failed (%s): %s",
            record.cell_id,
            what,
            record.phase,
            record.run_idx,
            record.error_kind,
            record.error,
        )
    else:
        log.info(
            "%s %s %s#%d ttft=%.1fms total=%.1fms tokens=%s tok/s=%s",
            record.cell_id, what, record.phase, record.run_idx,
            record.first_delta_ms or 0.0, record.total_duration_ms or 0.0,
            record.completion_tokens, record.tokens_per_sec,
        )  # fmt: skip


def _summary(
    infos: list[CellInfo], calls: list[CallRecord], skipped: list[SkippedRecord]
) -> Summary:
    ok = sum(1 for c in calls if c.error is None)
    per_cell = [
        CellSummary(
            cell_id=i.cell_id,
            calls_total=sum(1 for c in calls if c.cell_id == i.cell_id),
            calls_ok=sum(1 for c in calls if c.cell_id == i.cell_id and c.error is None),
        )
        for i in infos
    ]
    return Summary(
        calls_total=len(calls),
        calls_ok=ok,
        calls_error=len(calls) - ok,
        cells_planned=len(infos),
        cells_ok=sum(1 for i in infos if i.available),
        cells_skipped=len(skipped),
        cells=per_cell,
    )


def _run_config(
    options: RunOptions,
    cells: CellsFile,
    items: list[WorkItem],
    datasets: list[Dataset],
    runs: int,
) -> RunConfig:
    prompts = [
        PromptRef(id=i.workload_id, sha256=i.sha256, max_tokens=i.max_tokens)
        for i in items
        if i.kind == "prompt" and i.sha256 is not None
    ]
    lengths = [
        length_ref(spec)
        for spec in parse_lengths(cells.lengths)
        if any(i.workload_id == spec.id for i in items)
    ]
    levels = options.mode != "smoke" and (bool(cells.rates) or cells.sweep)
    task_ids = [i.item_id for i in items if i.kind == "task" and i.item_id]
    tasks = [summarization.task_ref(d, [i for i in task_ids if i in d.ids]) for d in datasets]
    overrides = [
        name
        for name, on in (("allow_dirty", options.allow_dirty), ("force_load", options.force_load))
        if on
    ]
    return RunConfig(
        runs_per_cell=runs,
        cold=cells.cold or options.mode == "smoke",
        prompts=prompts,
        tasks=tasks,
        temperature=cells.temperature,
        seed=cells.seed,
        timeouts=cells.timeouts,
        concurrency=list(cells.concurrency) if options.mode != "smoke" else [1],
        lengths=lengths,
        rates=list(cells.rates) if options.mode != "smoke" else [],
        rate_requests=cells.rate_requests if levels else None,
        arrival_seed=cells.arrival_seed if levels else None,
        sweep=cells.sweep and options.mode != "smoke",
        sweep_levels=cells.sweep_levels if cells.sweep and options.mode != "smoke" else None,
        slo=cells.slo,
        mode=options.mode,
        guard_overrides=overrides,
        for_publication=options.for_publication,
    )


__all__ = [
    "CollectorError",
    "EngineError",
    "RunOptions",
    "RunResult",
    "execute",
    "one_line",
    "single_cell",
    "verdict",
]
