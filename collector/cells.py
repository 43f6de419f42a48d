"""Cells: start or health-check each (host, engine, model) cell and describe it.

A cell that cannot be reached or started becomes a ``skipped`` record with its reason (a
non-loopback engine address is redacted from it); an available one becomes a ``CellPlan`` for
the runner and a ``CellInfo`` for metadata.json (engine version, model digest, access level,
cold kind, prompt-cache policy). Managed engines are started here and handed back for the
orchestrator to stop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from collector.engines import engine_class
from collector.engines.base import Engine, endpoint_kind
from collector.engines.gguf import NO_FACTS, ModelFacts, gguf_model_facts
from collector.engines.llamacpp import quantization_from_name
from collector.engines.managed import (
    ManagedProcess,
    embedded_model,
    file_sha256,
    free_port,
    llama_cpp_python_command,
)
from collector.errors import EngineUnavailableError
from collector.measure import utc_now
from collector.models import CallRecord, CellInfo, CellsFile, CellSpec, SkippedRecord
from collector.runner import CellPlan


def redactor(url: str) -> Callable[[str], str]:
    """How the engine address ``url`` may appear in what a run writes.

    A loopback address identifies no one and is what the user typed: kept. Any other address
    (a LAN host, a public server) becomes ``<private endpoint>`` / ``<public endpoint>`` in
    the run directory; the terminal is shown the unredacted text.
    """
    kind = endpoint_kind(url)
    if kind == "loopback":
        return lambda text: text
    base = url.rstrip("/")
    netloc = base.split("//", 1)[-1].split("/", 1)[0]
    # Longest first: the URL, host:port, then the bare host (OS errors name it without port).
    names = [n for n in (base, netloc, urlsplit(url).hostname) if n]
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    label = f"<{kind} endpoint>"

    def redact(text: str) -> str:
        return pattern.sub(label, text)

    return redact


async def prepare_cell(
    spec: CellSpec,
    cell_id: str,
    cells_file: CellsFile,
    runs: int,
    mode: str,
    managed: list[ManagedProcess],
    engines: list[Engine],
    shown_reasons: dict[str, str] | None = None,
) -> tuple[CellInfo, CellPlan | None, SkippedRecord | None]:
    """Start or health-check one cell; an unavailable cell becomes a skipped record.

    Started engines are appended to ``managed`` and ``engines`` (the caller stops them); a skip
    reason as the terminal may show it (the address unredacted) goes into ``shown_reasons``.
    """
    proc: ManagedProcess | None = None
    digest: str | None = None
    quant: str | None = None
    facts = NO_FACTS
    api: str | None = str(spec.api) if spec.api is not None else None
    model_name = spec.model
    load_ms: float | None = None
    try:
        if spec.managed is not None:
            started = await _start_managed(spec)
            proc, digest, quant, url = started.process, started.digest, started.quant, started.url
            facts = started.facts
            managed.append(proc)
            load_ms = proc.load_time_ms
            api = api or started.default_api
        else:
            assert spec.url is not None
            url = spec.url
        engine = engine_class(spec.engine)(url, model_name, timeouts=cells_file.timeouts)
        engines.append(engine)
        api = api or engine.default_api
        reason = None
        try:
            await engine.health()
        except EngineUnavailableError as exc:
            reason = str(exc)
        info_digest, version, build = digest, None, None
        if reason is None:
            described = await engine.describe()
            version, build = described.version, described.build
            info_digest = digest or described.model_digest
            quant = quant or described.quantization
            facts = facts if facts.source is not None else described.model
            if proc is not None and version is None:
                version = _llama_cpp_python_version()
    except EngineUnavailableError as exc:
        reason, engine, url = str(exc), None, spec.url or "http://127.0.0.1"
        info_digest = version = build = None
        api = api or "chat"
    redact = redactor(url)
    if reason is not None:
        if shown_reasons is not None:
            shown_reasons[cell_id] = reason
        reason = redact(reason)
    if spec.managed is not None:
        access = "white"
    elif engine is not None and engine.supports_server_timings:
        access = "gray"
    else:
        access = "black"
    info = CellInfo(
        cell_id=cell_id,
        engine=spec.engine,
        api=api,
        engine_version=version,
        engine_build=build,
        access_level=access,
        capabilities=[],
        endpoint_kind=endpoint_kind(url),
        managed=spec.managed is not None,
        model=model_name,
        model_digest=info_digest,
        quantization=quant,
        model_size_bytes=facts.size_bytes,
        model_parameters=facts.parameters,
        model_expert_count=facts.expert_count,
        model_size_source=facts.source,
        cold_kind=_cold_kind(spec, engine),
        prompt_cache=_prompt_cache(spec),
        load_time_ms=round(load_ms, 3) if load_ms is not None else None,
        available=reason is None,
        skip_reason=reason,
    )
    if reason is not None or engine is None:
        return (
            info,
            None,
            SkippedRecord(
                type="skipped", cell_id=cell_id, reason=reason or "unavailable", at=utc_now()
            ),
        )
    plan = CellPlan(
        cell_id=cell_id,
        engine=engine,
        api=api,
        runs=spec.runs or runs,
        cold=cells_file.cold,
        temperature=cells_file.temperature,
        seed=cells_file.seed,
        timeouts=cells_file.timeouts,
        concurrency=list(cells_file.concurrency) if mode != "smoke" else [1],
        rates=list(cells_file.rates) if mode != "smoke" else [],
        rate_requests=cells_file.rate_requests,
        arrival_seed=cells_file.arrival_seed,
        sweep=cells_file.sweep and mode != "smoke",
        sweep_levels=cells_file.sweep_levels,
        options=dict(spec.options),
        managed=proc,
        redact=redact,
    )
    if mode == "smoke":
        # One call on an engine that has served none yet: the cold call, no warm ones.
        plan.runs, plan.cold = 0, True
    return info, plan, None


@dataclass(frozen=True)
class _Started:
    """A managed engine that is up, and what is known about its model before any call."""

    process: ManagedProcess
    digest: str | None
    quant: str | None
    facts: ModelFacts
    url: str
    default_api: str


async def _start_managed(spec: CellSpec) -> _Started:
    """Start a managed engine; its model file's digest, quantization and header facts.

    The bundled Gemma 3 270M GGUF is a base model without a chat template: through
    ``/v1/chat/completions`` llama-cpp-python falls back to a generic template and the model
    echoes template tokens or ends the turn at once, so its default endpoint is
    ``/v1/completions``.
    """
    assert spec.managed is not None
    port = free_port()
    default_api = "chat"
    digest: str | None
    model_file: Path | None
    if spec.managed.command is None:
        if spec.managed.model_path:
            path = Path(spec.managed.model_path).expanduser()
            if not path.is_file():
                raise EngineUnavailableError(
                    f"managed model file not found: {spec.managed.model_path}"
                )
            digest = await asyncio.to_thread(file_sha256, path)
        else:
            bundled = await asyncio.to_thread(embedded_model)
            path, digest = bundled.path, bundled.sha256
            default_api = "completions"
        command = llama_cpp_python_command(path, port, spec.model)
        quant = quantization_from_name(path.name)
        model_file = path
    else:
        model_path = spec.managed.model_path or ""
        command = [
            part.replace("{port}", str(port)).replace("{model_path}", model_path)
            for part in spec.managed.command
        ]
        is_file = bool(model_path) and Path(model_path).is_file()
        digest = await asyncio.to_thread(file_sha256, Path(model_path)) if is_file else None
        quant = quantization_from_name(Path(model_path).name) if model_path else None
        model_file = Path(model_path) if is_file else None
    # Only a GGUF file has a header to read; another engine's model (a safetensors folder) not.
    facts = (
        await asyncio.to_thread(gguf_model_facts, model_file)
        if model_file is not None and model_file.suffix.lower() == ".gguf"
        else NO_FACTS
    )
    proc = ManagedProcess(command, port=port, startup_timeout_s=spec.managed.startup_timeout_s)
    await asyncio.to_thread(proc.start)
    return _Started(proc, digest, quant, facts, proc.base_url, default_api)


def _llama_cpp_python_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"llama-cpp-python {version('llama_cpp_python')}"
    except PackageNotFoundError:
        return None


def _cold_kind(spec: CellSpec, engine: Engine | None) -> str | None:
    if spec.managed is not None:
        return "process_restart"
    if engine is not None and engine.supports_unload:
        return "unloaded"
    return "process_warm"


def _prompt_cache(spec: CellSpec) -> str:
    if spec.engine == "llamacpp" and "cache_prompt" not in spec.options:
        return "disabled"
    if spec.managed is not None and spec.managed.command is None:
        # llama-cpp-python reuses the longest matching prefix of the previous prompt.
        return "enabled"
    return "unknown"


def capabilities(info: CellInfo, calls: list[CallRecord]) -> list[str]:
    caps = {"client_timings"} if calls else set()
    for call in calls:
        if call.token_count_source != "none":
            caps.add(f"tokens:{call.token_count_source}")
        if call.server_tokens_per_sec is not None:
            caps.add("server_timings")
        if call.cold_kind in ("unloaded", "process_restart"):
            caps.add("true_cold")
    if info.load_time_ms is not None:
        caps.add("load_time")
    if info.managed:
        caps.add("process_memory")
    return sorted(caps)
