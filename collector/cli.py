"""Collector commands: ``bakeoff probe``, ``bakeoff run``, ``bakeoff report``.

Glue only: parse, call one function, render. Expected failures (``CollectorError``) become
one message and exit 1 here; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from collector.errors import CollectorError

if TYPE_CHECKING:
    from collector.orchestrate import RunResult

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn a CollectorError into one message on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CollectorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


BENCH_HELP = (
    "Also run the hardware microbenchmarks (memory bandwidth, matmul; GPUs with torch), "
    "10-30 s; numpy from the 'bench' extra."
)


@click.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print the block that goes into metadata.json."
)
@click.option("--publisher-id", default=None, help="Publisher id (overrides the config file).")
@click.option("--bench", is_flag=True, help=BENCH_HELP)
@handle_errors
def probe(as_json: bool, publisher_id: str | None, bench: bool) -> None:
    """Show this host's hardware and software block (creates system_id once)."""
    from collector.probe import format_table, probe_host

    hardware = probe_host(publisher_id=publisher_id)
    if bench:
        from collector.bench import DEFAULT_CONFIG, run_benchmarks

        click.echo(_bench_notice(DEFAULT_CONFIG.total_budget_s), err=True)
        hardware = run_benchmarks(hardware)
    if as_json:
        click.echo(json.dumps(hardware.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        click.echo(format_table(hardware))


@click.command()
@click.argument("cells_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--smoke", is_flag=True, help="1 cell, 1 prompt, 1 run.")
@click.option("--probe-only", is_flag=True, help="Health checks only; no calls.")
@click.option("--runs", type=click.IntRange(1, 100), help="Warm calls per (cell, prompt).")
@click.option("--prompts", help="Comma-separated prompt ids (default P-EASY,P-MEDIUM,P-HARD).")
@click.option("--tasks", help="Comma-separated task ids, e.g. summarization.")
@click.option(
    "--lengths",
    help="Comma-separated length workloads, input/output tokens (default 512/64; '' for none).",
)
@click.option("--rates", help="Comma-separated open-loop request rates per second, e.g. 0.5,1,2.")
@click.option(
    "--sweep", is_flag=True, help="Sweep request rates between synchronous and saturated (long)."
)
@click.option(
    "--dataset", type=click.Path(dir_okay=False, path_type=Path), help="JSONL dataset for tasks."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Runs folder (default: runs/ of the archive found from the working directory upward).",
)
@click.option("--publisher-id", help="Publisher id (overrides the config file).")
@click.option(
    "--host-label", help="Label for this host in cell ids (never the hostname by default)."
)
@click.option(
    "--engine",
    type=click.Choice(["openai", "llamacpp", "ollama"]),
    help="Single cell: engine kind.",
)
@click.option("--url", help="Single cell: base URL of a running engine.")
@click.option("--model", help="Single cell: model name.")
@click.option("--allow-dirty", is_flag=True, help="Run from a checkout with uncommitted changes.")
@click.option("--force-load", is_flag=True, help="Run even when the load average is above 4.0.")
@click.option("--for-publication", is_flag=True, help="Refuse when any health check fails.")
@click.option(
    "--sample-interval",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Telemetry sampling interval in seconds; 0 turns the sampler off.",
)
@click.option("--bench", is_flag=True, help=BENCH_HELP + " Runs before any engine starts.")
@click.option("--currency", help="Cost inputs: ISO 4217 currency of the prices, e.g. EUR.")
@click.option(
    "--hardware-price",
    type=click.FloatRange(min=0, min_open=True),
    help="Cost inputs: purchase price of this host (needs --amortization-years).",
)
@click.option(
    "--amortization-years",
    type=click.FloatRange(min=0, min_open=True),
    help="Cost inputs: years over which the hardware price is written off.",
)
@click.option(
    "--hourly-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Cost inputs: price per hour of this host when rented (instead of a price).",
)
@click.option(
    "--electricity-price",
    type=click.FloatRange(min=0),
    help="Cost inputs: electricity price per kWh.",
)
@click.option("--price-source", help="Cost inputs: where the prices come from (required).")
@click.option("--price-date", help="Cost inputs: date the prices were valid, YYYY-MM-DD.")
@handle_errors
def run(
    cells_file: Path | None,
    smoke: bool,
    probe_only: bool,
    runs: int | None,
    prompts: str | None,
    tasks: str | None,
    lengths: str | None,
    rates: str | None,
    sweep: bool,
    dataset: Path | None,
    out: Path | None,
    publisher_id: str | None,
    host_label: str | None,
    engine: str | None,
    url: str | None,
    model: str | None,
    allow_dirty: bool,
    force_load: bool,
    for_publication: bool,
    sample_interval: float,
    bench: bool,
    currency: str | None,
    hardware_price: float | None,
    amortization_years: float | None,
    hourly_rate: float | None,
    electricity_price: float | None,
    price_source: str | None,
    price_date: str | None,
) -> None:
    """Benchmark engines and write runs/<run_id>/.

    With no CELLS_FILE and no --url, the embedded local engine (llama-cpp-python's server
    with a small bundled model, from the 'local' extra) is started and measured.
    """
    from bakeoff.resources import archive_root
    from collector.config import load_cells_file
    from collector.orchestrate import RunOptions, execute, single_cell
    from collector.progress import Progress

    if smoke and probe_only:
        raise click.UsageError("--smoke and --probe-only exclude each other")
    if cells_file is not None and (engine or url or model):
        raise click.UsageError("give either a CELLS_FILE or --engine/--url/--model, not both")
    cells = load_cells_file(cells_file) if cells_file else single_cell(engine, url, model)
    if out is None:
        root = archive_root()
        click.echo(f"archive: {root}", err=True)
        out = root / "runs"
    options = RunOptions(
        cells=cells,
        out_dir=out,
        mode="smoke" if smoke else "probe_only" if probe_only else "full",
        prompts=_split(prompts),
        tasks=_split(tasks),
        lengths=_split(lengths),
        rates=_rates(rates),
        sweep=sweep,
        runs=runs,
        publisher_id=publisher_id,
        host_label=host_label,
        allow_dirty=allow_dirty,
        force_load=force_load,
        for_publication=for_publication,
        dataset=dataset,
        sample_interval_s=sample_interval,
        bench=bench,
        cost_flags={
            "currency": currency,
            "hardware_price": hardware_price,
            "amortization_years": amortization_years,
            "hourly_rate": hourly_rate,
            "electricity_price_per_kwh": electricity_price,
            "source": price_source,
            "as_of": price_date,
        },
    )
    if bench:
        from collector.bench import DEFAULT_CONFIG

        click.echo(_bench_notice(DEFAULT_CONFIG.total_budget_s), err=True)
    result = execute(options, Progress())
    sys.exit(report_result(result))


def report_result(result: RunResult) -> int:
    """Say where the run went and what it measured; the exit code of ``bakeoff run``.

    1 when the run was cut short, when it measured no call (a run that was meant to), or when
    a probe-only run found a cell unhealthy; the run directory is written in every case.
    Reasons are shown with addresses as the user typed them (the run's files have them
    redacted).
    """
    status = f"{result.status}: {result.path}"
    if result.status_reason and result.status != "complete" and not result.skipped:
        status += f" ({result.status_reason})"
    click.echo(status)
    cells = "cell" if result.cells_measured == 1 else "cells"
    click.echo(
        f"measured {result.calls_total} call(s), {result.calls_ok} ok, "
        f"in {result.cells_measured} {cells}"
    )
    for cell in result.skipped:
        click.echo(f"skipped: {cell}: {result.skip_reasons.get(cell, 'unavailable')}")
    if not result.comparable and result.calls_total:
        click.echo(f"not comparable: {result.comparable_reason}")
    where = f"the run directory is written: {result.path} (see run.log there)"
    if result.mode == "probe_only":
        if result.skipped:
            click.echo(
                f"error: health check failed for {len(result.skipped)} of "
                f"{result.cells_planned} cell(s): {', '.join(result.skipped)}; {where}",
                err=True,
            )
            return 1
        return 0
    if result.calls_total == 0 and result.status == "empty":
        if result.skipped and len(result.skipped) == result.cells_planned:
            shown = "; ".join(
                f"{c}: {result.skip_reasons.get(c, 'unavailable')}" for c in result.skipped
            )
            why = f"no call was measured: every cell was skipped ({shown})"
        else:
            why = result.status_reason or "no call was measured"
        click.echo(f"error: {why}; {where}", err=True)
        return 1
    return 0 if result.status == "complete" else 1


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@handle_errors
def report(run_dir: Path) -> None:
    """Regenerate run.md from a run directory's run.jsonl."""
    from collector.report import write_report

    click.echo(str(write_report(run_dir)))


@click.command("import")
@click.argument(
    "fmt", metavar="FORMAT", type=click.Choice(["llama-bench", "vllm-bench", "guidellm", "aiperf"])
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Runs folder (default: runs/ of the archive found from the working directory upward).",
)
@click.option(
    "--host-label", help="Label for the host in cell ids (never the hostname by default)."
)
@click.option("--publisher-id", help="Publisher id (overrides the config file).")
@click.option(
    "--probe/--no-probe",
    default=True,
    show_default=True,
    help="Attach this host's hardware block (bakeoff probe; import on the machine that ran the "
    "benchmark), or --no-probe: only the hardware the file records, the rest left null.",
)
@handle_errors
def import_(
    fmt: str,
    files: tuple[Path, ...],
    out: Path | None,
    host_label: str | None,
    publisher_id: str | None,
    probe: bool,
) -> None:
    """Import result files of another benchmark tool as run directories.

    FORMAT is llama-bench (json, jsonl, csv, sql or md output), vllm-bench (`vllm bench serve
    --save-result`, with or without --save-detailed), guidellm (report JSON or YAML) or aiperf
    (profile_export_aiperf.json, plus profile_export.jsonl for per-request records). Each file
    becomes one run directory; metrics are translated to the archive's definitions only where
    they agree (methodology page, "Imported results").
    """
    from bakeoff.resources import archive_root
    from collector.importers import ImportOptions, import_files

    if out is None:
        root = archive_root()
        click.echo(f"archive: {root}", err=True)
        out = root / "runs"
    options = ImportOptions(
        out_dir=out, host_label=host_label, probe=probe, publisher_id=publisher_id
    )
    for path, metadata in import_files(fmt, list(files), options):
        source = metadata.source
        assert source is not None
        mapped = sum(1 for a in metadata.aggregates if a.mapped)
        click.echo(
            f"imported {', '.join(f.name for f in source.files)}: {path} "
            f"({metadata.summary.calls_total} per-request record(s), "
            f"{len(metadata.aggregates)} summary statistic(s), {mapped} in the archive's "
            f"definitions; hardware: {source.hardware_source})"
        )


def _bench_notice(budget_s: float) -> str:
    return f"--bench: measuring memory bandwidth and matmul throughput (at most ~{budget_s:g} s)…"


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _rates(value: str | None) -> list[float] | None:
    parts = _split(value)
    if parts is None:
        return None
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give request rates per second as numbers, e.g. --rates 0.5,1,2",
            param_hint="--rates",
        ) from None


def default_runs_dir() -> Path:
    """runs/ of the archive found from the working directory (``resources.archive_root``)."""
    from bakeoff.resources import archive_path

    return archive_path("runs")
