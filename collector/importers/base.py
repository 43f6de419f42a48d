"""What every importer shares: the parsed form of a result file and the run directory it becomes.

An importer (one module per tool) turns the bytes of a result file into a ``ParsedImport``:
cells, workloads, per-request call records where the file has them, and the tool's summary
statistics as given (``AggregateStat``), each metric mapped to the archive's definition only
where ``definitions.MAPPINGS`` says the two agree. ``write_run`` then adds the hardware block
(``bakeoff probe`` on this host, or only what the file records) and writes a run directory
that validates and publishes like any other.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bakeoff import __version__
from bakeoff.jsonio import dumps_line, write_json
from collector.errors import CollectorError
from collector.measure import percentile
from collector.models import (
    AggregateStat,
    CallRecord,
    CellInfo,
    CellSummary,
    ContainerLimits,
    Environment,
    Gpu,
    Hardware,
    Harness,
    ImportedWorkload,
    ImportSource,
    ImportTool,
    Metadata,
    MetaRecord,
    ProbeIssue,
    RunConfig,
    RunHardwareMetrics,
    SourceFile,
    Summary,
    SystemHardware,
    SystemSoftware,
    UnavailableMetric,
)

_HOME = re.compile(r"(/home/|/Users/)[^/\s\"']+|/root(?=/|\s|$)|[A-Za-z]:\\Users\\[^\\\s\"']+")


class ImportFormatError(CollectorError):
    """A file is not the format it was imported as, or lacks what the format requires."""


class HardwareMismatchError(CollectorError):
    """The file records hardware that differs from this host's: it was measured elsewhere."""


def redact_home(text: str) -> str:
    """Home folders (``/home/alice``, ``/Users/bob``, ``/root``, ``C:\\Users\\carol``) become
    ``~``: a recorded command line or model path keeps its shape without naming a person."""
    return _HOME.sub("~", text)


_URL_HOST = re.compile(r"(?P<scheme>https?://)(?P<host>\[[^\]]*\]|[^/\s'\"]+)")


def redact_command(text: str) -> str:
    """A recorded command line as the run keeps it: home folders become ``~`` and the host of
    every URL that is not loopback becomes ``<host>`` (the run records endpoint_kind)."""
    from collector.engines.base import endpoint_kind

    def host(m: re.Match[str]) -> str:
        url = m.group(0)
        return url if endpoint_kind(url) == "loopback" else f"{m.group('scheme')}<host>"

    return _URL_HOST.sub(host, redact_home(text))


def base_name(path: str) -> str:
    """The last component of a path as a tool recorded it (either slash)."""
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1] or path


def workload(
    wid: str, description: str, shape: dict[str, Any], definitions: str, max_tokens: int | None
) -> ImportedWorkload:
    """An imported workload whose sha256 covers its shape and the definitions of its metrics."""
    text_shape = {k: _text(v) for k, v in sorted(shape.items()) if v is not None}
    canonical = dumps_line({"definitions": definitions, "shape": text_shape}).rstrip("\n")
    return ImportedWorkload(
        id=wid,
        description=description,
        shape=text_shape,
        definitions=definitions,
        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        max_tokens=max_tokens,
    )


def load_workload(
    api: str,
    input_tokens: float | None,
    output_tokens: float | None,
    concurrency: int | None,
    rate: float | None,
    definitions: str,
    extra: str = "",
) -> ImportedWorkload:
    """A load generator's workload in tool-neutral terms: the API, the achieved mean input and
    output lengths (rounded to whole tokens), the cap on requests in flight and the arrival
    rate (null for a closed loop). vLLM, GuideLLM and AIPerf runs of the same shape get the
    same id and shape, so only their ``definitions`` can keep them apart."""
    n_in = round(input_tokens) if input_tokens is not None else None
    n_out = round(output_tokens) if output_tokens is not None else None
    parts = [f"c{concurrency}" if concurrency else "", f"r{_text(rate)}" if rate else ""]
    # No "@" in ids: "8@c2" reads as user@host to the privacy rules.
    wid = f"load:{api}:{n_in}/{n_out}:" + ("-".join(p for p in parts if p) or "open")
    shape = {
        "api": api,
        "input_tokens": n_in,
        "output_tokens": n_out,
        "concurrency": concurrency,
        "request_rate": rate,
    }
    what = (
        f"{api} requests of ~{n_in} input and ~{n_out} output tokens"
        + (f", at most {concurrency} in flight" if concurrency else "")
        + (f", {_text(rate)} requests/s" if rate else "")
        + (f" ({extra})" if extra else "")
    )
    # The files do not all record the output bound asked for (vLLM does not): none is stated.
    return workload(wid, what, shape, definitions, None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class ImportedCell:
    """One (engine, model, settings) combination the file measured."""

    key: str  # the importer's own key; cell ids need the host label (``cell_id``)
    engine: str
    api: str
    model: str
    engine_version: str | None = None
    engine_build: str | None = None
    endpoint_kind: str = "unknown"
    quantization: str | None = None
    model_size_bytes: int | None = None
    model_parameters: int | None = None
    model_size_source: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    label: str | None = None  # told apart from cells of the same model by this suffix


@dataclass
class FileHardware:
    """Hardware facts a result file records (verbatim), for ``--no-probe``."""

    cpu_model: str | None = None
    gpu_names: list[str] = field(default_factory=list)
    recorded: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedImport:
    """Everything one result file says, before the hardware block and the host label."""

    tool: ImportTool
    tool_version: str | None
    started_at: datetime
    finished_at: datetime
    time_basis: str
    cells: list[ImportedCell]
    workloads: list[ImportedWorkload]
    aggregates: list[tuple[str, AggregateStat]]  # (cell key, stat with a placeholder cell id)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (cell key, record)
    tool_build: str | None = None
    format_version: str | None = None
    command: str | None = None
    recorded_at: str | None = None
    hardware: FileHardware = field(default_factory=FileHardware)
    temperature: float | None = None
    seed: int | None = None
    concurrency: list[int] = field(default_factory=lambda: [1])
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InputFile:
    """A file given to ``bakeoff import``: its name (never its folder), bytes and format."""

    name: str
    data: bytes
    format: str
    role: str = "results"

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes as read."""
        return hashlib.sha256(self.data).hexdigest()

    def source(self) -> SourceFile:
        """The file as the run records it."""
        return SourceFile(name=self.name, sha256=self.sha256, role=self.role, format=self.format)

    def text(self) -> str:
        """The bytes as UTF-8 text, or an error naming the file."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"{self.name}: not UTF-8 text ({exc.reason})") from None

    def json(self) -> Any:
        """The file as one JSON document, or an error naming the file."""
        try:
            return json.loads(self.text())
        except ValueError as exc:
            raise ImportFormatError(f"{self.name}: not valid JSON ({exc})") from None

    def json_lines(self) -> list[Any]:
        """One JSON document per non-empty line."""
        out = []
        for n, line in enumerate(self.text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise ImportFormatError(f"{self.name} line {n}: not valid JSON ({exc})") from None
        return out


def format_utc(value: datetime) -> str:
    """The contract's timestamp text of an aware datetime."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str, what: str) -> datetime:
    """An ISO 8601 time that names its zone (``Z`` or an offset), as UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ImportFormatError(f"{what}: {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ImportFormatError(f"{what}: {text!r} has no time zone")
    return value.astimezone(UTC)


# --------------------------------------------------------------------------- the run directory


@dataclass
class ImportOptions:
    """What ``bakeoff import`` was asked to do besides the files."""

    out_dir: Path
    host_label: str | None = None
    probe: bool = True
    publisher_id: str | None = None
    prober: Callable[[str | None], Hardware] | None = None  # injectable for tests
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


def cell_id(host_label: str, cell: ImportedCell) -> str:
    """``<host_label>:<engine>:<model>``, plus the cell's label when the file holds several
    settings of one model."""
    base = f"{host_label}:{cell.engine}:{cell.model}"
    return f"{base}:{cell.label}" if cell.label else base


def write_run(
    parsed: ParsedImport, files: list[InputFile], options: ImportOptions
) -> tuple[Path, Metadata]:
    """Write one run directory for a parsed file; returns its path and metadata."""
    hardware, missing = _hardware(parsed, options)
    host_label = options.host_label or f"host-{hardware.system_hardware.system_id[:8]}"
    run_uuid = uuid.uuid4()
    run_id = f"{parsed.started_at.strftime('%Y%m%dT%H%M%SZ')}-{run_uuid.hex[:8]}"
    ids = {c.key: cell_id(host_label, c) for c in parsed.cells}
    started, finished = format_utc(parsed.started_at), format_utc(parsed.finished_at)
    imported_at = format_utc(options.now())
    calls = [
        CallRecord.model_validate({**_with_prefill(record), "cell_id": ids[key]})
        for key, record in parsed.calls
    ]
    aggregates = [s.model_copy(update={"cell_id": ids[key]}) for key, s in parsed.aggregates]
    infos = [_cell_info(c, ids[c.key], calls) for c in parsed.cells]
    meta_only = not calls
    ok = sum(1 for c in calls if c.error is None)
    source = ImportSource(
        tool=parsed.tool,
        tool_version=parsed.tool_version,
        tool_build=parsed.tool_build,
        format_version=parsed.format_version,
        files=[f.source() for f in files],
        command=redact_command(parsed.command) if parsed.command else None,
        recorded_at=parsed.recorded_at,
        time_basis=parsed.time_basis,
        imported_at=imported_at,
        hardware_source="probe" if options.probe else "file",
        hardware_recorded={k: redact_home(v) for k, v in parsed.hardware.recorded.items()},
        hardware_missing=missing,
        notes=parsed.notes,
    )
    metadata = Metadata(
        created_at=imported_at,
        updated_at=imported_at,
        run_id=run_id,
        run_uuid=str(run_uuid),
        status="complete",
        started_at=started,
        finished_at=finished,
        meta_only=meta_only,
        harness=_harness(),
        publisher_id=hardware.system_hardware.publisher_id,
        host_label=host_label,
        environment=Environment(load_avg_start=None),
        config=RunConfig(
            runs_per_cell=0,
            cold=False,
            prompts=[],
            temperature=parsed.temperature,
            seed=parsed.seed,
            timeouts={},
            concurrency=sorted(set(parsed.concurrency)),
            mode="full",
            imported_workloads=parsed.workloads,
        ),
        cells=infos,
        hardware=hardware,
        run_hardware_metrics=RunHardwareMetrics(
            system_id=hardware.system_hardware.system_id,
            unavailable=[UnavailableMetric(field="*", reason="imported: no telemetry")],
        ),
        summary=Summary(
            calls_total=len(calls),
            calls_ok=ok,
            calls_error=len(calls) - ok,
            cells_planned=len(infos),
            cells_ok=len(infos),
            cells_skipped=0,
            cells=[
                CellSummary(
                    cell_id=i.cell_id,
                    calls_total=sum(1 for c in calls if c.cell_id == i.cell_id),
                    calls_ok=sum(1 for c in calls if c.cell_id == i.cell_id and c.error is None),
                )
                for i in infos
            ],
        ),
        source=source,
        aggregates=aggregates,
    )
    Metadata.model_validate(metadata.model_dump())
    return _write(options.out_dir, metadata, calls, meta_only), metadata


def _with_prefill(record: dict[str, Any]) -> dict[str, Any]:
    """A per-request record with the client-side prefill rate bakeoff run records (prompt
    tokens ÷ TTFT, the methodology page), over the tool's TTFT: under the tool's definitions
    when the record says so (``definitions``), like its other timing fields."""
    if record.get("prefill_tokens_per_sec") is not None:
        return record
    from collector.runner import prefill_rate

    rate = prefill_rate(
        record.get("prompt_tokens"),
        record.get("cached_prompt_tokens"),
        record.get("first_delta_ms"),
    )
    return {**record, "prefill_tokens_per_sec": rate}


def _harness() -> Harness:
    """The importer's version and, from a checkout, its commit: the translation is code."""
    from bakeoff.resources import repo_root
    from collector.guards import git_state

    git = git_state(repo_root())
    return Harness(
        version=__version__,
        git_sha=git.sha,
        git_describe=git.describe,
        git_dirty=git.dirty,
        dirty_files=git.dirty_files,
    )


def _cell_info(cell: ImportedCell, cid: str, calls: list[CallRecord]) -> CellInfo:
    capabilities = ["imported"]
    if any(c.cell_id == cid for c in calls):
        capabilities.append("per_request")
    return CellInfo(
        cell_id=cid,
        engine=cell.engine,
        api=cell.api,
        engine_version=cell.engine_version,
        engine_build=cell.engine_build,
        access_level="imported",
        capabilities=capabilities,
        endpoint_kind=cell.endpoint_kind,
        managed=False,
        model=cell.model,
        model_digest=None,
        quantization=cell.quantization,
        model_size_bytes=cell.model_size_bytes,
        model_parameters=cell.model_parameters,
        model_size_source=cell.model_size_source,
        cold_kind=None,
        prompt_cache="unknown",
        available=True,
        settings=cell.settings,
    )


def _hardware(parsed: ParsedImport, options: ImportOptions) -> tuple[Hardware, list[str]]:
    if options.probe:
        if options.prober is not None:
            hardware = options.prober(options.publisher_id)
        else:
            from collector.probe import probe_host

            hardware = probe_host(publisher_id=options.publisher_id)
        check_same_host(parsed, hardware)
        return hardware, []
    return file_hardware(parsed, options.publisher_id)


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in {"r", "tm", "cpu"}}


def _same_cpu(recorded: str, probed: str) -> bool:
    """One name's words contain the other's (tools shorten or decorate the marketing name)."""
    a, b = _words(recorded), _words(probed)
    return a <= b or b <= a


def check_same_host(parsed: ParsedImport, hardware: Hardware) -> None:
    """Refuse to attach this host's hardware to a file that names another CPU or GPU."""
    recorded = parsed.hardware
    probed_cpu = hardware.system_hardware.cpu_model
    if recorded.cpu_model and probed_cpu and not _same_cpu(recorded.cpu_model, probed_cpu):
        raise HardwareMismatchError(
            f"the file was measured on CPU {recorded.cpu_model!r}, this host has "
            f"{probed_cpu!r}: import it on the machine that ran the benchmark, or with "
            "--no-probe to keep only the hardware the file records"
        )
    probed_gpus = {g.name.lower() for g in hardware.gpus}
    for name in recorded.gpu_names:
        if not any(name.lower() in p or p in name.lower() for p in probed_gpus):
            raise HardwareMismatchError(
                f"the file was measured on GPU {name!r}, this host has "
                f"{sorted(g.name for g in hardware.gpus) or 'no GPU'}: import it on the machine "
                "that ran the benchmark, or with --no-probe"
            )


_SYSTEM_FIELDS = ("cpu_cores", "cpu_threads", "architecture", "ram_total_gb", "board_model")


def file_hardware(parsed: ParsedImport, publisher_id: str | None) -> tuple[Hardware, list[str]]:
    """The hardware block from what the file records; every other field null and listed.

    The system id is a fresh uuid4: a file does not identify its machine, and two machines with
    the same CPU must not be merged into one system.
    """
    import platform
    import sys

    recorded = parsed.hardware
    missing = [f"system_hardware.{name}" for name in _SYSTEM_FIELDS]
    missing.append("system_hardware.container")
    if recorded.cpu_model is None:
        missing.insert(0, "system_hardware.cpu_model")
    gpus = []
    for slot, name in enumerate(recorded.gpu_names):
        lowered = name.lower()
        vendor = next(
            (v for v in ("nvidia", "amd", "apple", "intel") if lowered.startswith(v)), "other"
        )
        gpus.append(
            Gpu(
                slot=slot,
                vendor=vendor,
                name=name,
                interface_type="unknown",
                source=f"{parsed.tool.value} file",
            )
        )
    if gpus:
        missing.append("gpus[].memory_total_gb")
    else:
        missing.append("gpus (the file names no GPU; the host may have had one)")
    missing += ["system_software.os", "system_software.kernel_version"]
    missing += ["system_software.gpu_driver_version", "system_software.cuda_version"]
    issues = [
        ProbeIssue(probe="import.file", reason=f"{name}: not recorded in the {parsed.tool} file")
        for name in missing
    ]
    hardware = Hardware(
        system_hardware=SystemHardware(
            system_id=str(uuid.uuid4()),
            publisher_id=publisher_id,
            cpu_model=recorded.cpu_model,
            cpu_cores=None,
            cpu_threads=None,
            architecture=None,
            ram_total_gb=None,
            container=ContainerLimits(in_container=None),
        ),
        system_software=SystemSoftware(
            os=None,
            kernel_version=None,
            python_version=platform.python_version() or sys.version.split()[0],
            runner_version=__version__,
        ),
        gpus=gpus,
        probe_issues=issues,
    )
    return hardware, missing


def _write(out_dir: Path, metadata: Metadata, calls: list[CallRecord], meta_only: bool) -> Path:
    """The run directory, written under a temporary name and renamed into place."""
    from collector.importers.report import render

    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / metadata.run_id
    tmp = out_dir / f".{metadata.run_id}.tmp"
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    tmp.mkdir()
    try:
        md = metadata.model_dump(mode="json")
        write_json(tmp / "metadata.json", md)
        records: list[dict[str, Any]] = []
        if not meta_only:
            meta = MetaRecord(
                type="meta",
                run_id=metadata.run_id,
                harness_version=metadata.harness.version,
                git_sha=metadata.harness.git_sha,
                git_dirty=metadata.harness.git_dirty,
                started_at=metadata.started_at,
                host_label=metadata.host_label,
                load_avg_start=None,
                cells_planned=[c.cell_id for c in metadata.cells],
            )
            records = [meta.model_dump(mode="json")] + [c.model_dump(mode="json") for c in calls]
            (tmp / "run.jsonl").write_text("".join(dumps_line(r) for r in records), "utf-8")
        (tmp / "run.md").write_text(render(md, records), encoding="utf-8")
        source = metadata.source
        assert source is not None
        log = [
            f"{metadata.created_at} INFO imported {source.tool} "
            f"{source.tool_version or '(version not recorded)'} from "
            + ", ".join(f"{f.name} (sha256 {f.sha256})" for f in source.files),
            f"{metadata.created_at} INFO hardware: {source.hardware_source}"
            + (
                f"; not recorded: {', '.join(source.hardware_missing)}"
                if source.hardware_missing
                else ""
            ),
            f"{metadata.created_at} INFO {len(calls)} per-request record(s), "
            f"{len(metadata.aggregates)} summary statistic(s), {len(metadata.cells)} cell(s)",
        ]
        log += [f"{metadata.created_at} WARNING {note}" for note in source.notes]
        (tmp / "run.log").write_text("\n".join(log) + "\n", encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def finite_number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (booleans, strings, NaN, infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def stream_fields(ttft_ms: float | None, gaps_ms: list[float]) -> dict[str, Any]:
    """A per-request record's stream shape from the tool's inter-token gaps: chunk count and
    the ITL statistics the ledger keeps (``collector.measure.percentile``)."""
    return {
        "chunks": len(gaps_ms) + 1 if ttft_ms is not None else 0,
        "itl_p50_ms": percentile(gaps_ms, 50) if gaps_ms else None,
        "itl_p95_ms": percentile(gaps_ms, 95) if gaps_ms else None,
        "itl_max_ms": max(gaps_ms) if gaps_ms else None,
    }
