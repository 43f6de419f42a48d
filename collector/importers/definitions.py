"""Which metric of which tool means what the archive means: the import translation table.

One row per metric an importer reads. ``archive`` names the archive's metric (methodology page)
only where the tool's definition agrees with it; otherwise it is ``None`` and the value is
kept as ``<tool>:<source>``, and the workload's signature carries the tool's definitions, so
it never shares a leaderboard with results measured another way. The methodology page's table
"Imported results" is this table in prose (``tests/collector/test_import_docs.py`` keeps the
two in step). ``cite`` is the file of the tool's repository that defines the metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.models import ImportTool

LLAMA_BENCH_SRC = "tools/llama-bench/llama-bench.cpp"
VLLM_SRC = "vllm/benchmarks/serve.py, vllm/benchmarks/lib/endpoint_request_func.py"
GUIDELLM_SRC = "src/guidellm/benchmark/schemas/generative/metrics.py, src/guidellm/schemas/"
AIPERF_SRC = "src/aiperf/metrics/types/"


@dataclass(frozen=True)
class Mapping:
    """How one metric of one tool translates."""

    tool: ImportTool
    source: str  # the tool's name (llama-bench: avg_ts:<pp|tg|pg>)
    archive: str | None  # the archive's metric when the definitions agree
    unit: str
    definition: str  # the tool's definition
    why: str  # why it maps, or why not
    cite: str


_LB = ImportTool.LLAMA_BENCH
_VB = ImportTool.VLLM_BENCH
_GL = ImportTool.GUIDELLM
_AP = ImportTool.AIPERF

MAPPINGS: tuple[Mapping, ...] = (
    Mapping(
        _LB,
        "avg_ts:pp",
        "engine_prefill_tokens_per_sec",
        "tokens/s",
        "mean over repetitions of n_prompt / time of one prompt-processing pass (batches of "
        "n_batch, after n_depth tokens of context), timed by the engine itself",
        "the archive's engine-timed prefill rate is defined this way",
        LLAMA_BENCH_SRC,
    ),
    Mapping(
        _LB,
        "avg_ts:tg",
        "engine_decode_tokens_per_sec",
        "tokens/s",
        "mean over repetitions of n_gen / time to decode n_gen tokens one at a time (after "
        "n_depth tokens of context), timed by the engine itself",
        "the archive's engine-timed decode rate is defined this way",
        LLAMA_BENCH_SRC,
    ),
    Mapping(
        _LB,
        "avg_ts:pg",
        None,
        "tokens/s",
        "(n_prompt + n_gen) / time of prefill and generation together",
        "neither a prefill nor a decode rate",
        LLAMA_BENCH_SRC,
    ),
    Mapping(
        _VB,
        "ttft",
        None,
        "ms",
        "from before the HTTP request is sent to the first SSE chunk that has a `choices` "
        "entry, even one with empty text or a role-only delta (vllm#15106)",
        "the archive's TTFT starts at the request write and stops at the first token-bearing event",
        VLLM_SRC,
    ),
    Mapping(
        _VB,
        "e2el",
        None,
        "ms",
        "to the last SSE chunk that has a `choices` entry, including an empty final chunk",
        "the archive's total stops at the last token-bearing event",
        VLLM_SRC,
    ),
    Mapping(
        _VB,
        "tpot",
        None,
        "ms",
        "(e2el − ttft) / (output tokens − 1) per request, over vLLM's own ttft and e2el",
        "same formula as the archive's tpot_ms over inputs defined differently",
        VLLM_SRC,
    ),
    Mapping(
        _VB,
        "itl",
        None,
        "ms",
        "gaps between consecutive `choices` chunks (empty ones too), pooled over requests",
        "the archive's ITL counts token-bearing events only, per call",
        VLLM_SRC,
    ),
    Mapping(
        _VB,
        "output_throughput",
        None,
        "tokens/s",
        "total output tokens / benchmark duration (before the first request is scheduled "
        "to after the last one finished); tokens from stream usage, else re-tokenized",
        "the archive's aggregate rate spans first request start to last token",
        VLLM_SRC,
    ),
    Mapping(
        _VB,
        "request_throughput",
        None,
        "requests/s",
        "completed requests / benchmark duration",
        "no archive metric",
        VLLM_SRC,
    ),
    Mapping(
        _VB,
        "request_goodput",
        None,
        "requests/s",
        "requests within every --goodput SLO / benchmark duration",
        "no archive metric",
        VLLM_SRC,
    ),
    Mapping(
        _GL,
        "time_to_first_token_ms",
        None,
        "ms",
        "request start to the first streamed iteration with generated text; reasoning "
        "deltas are not counted (guidellm#737)",
        "the archive's TTFT counts the first token of any kind, reasoning included",
        GUIDELLM_SRC,
    ),
    Mapping(
        _GL,
        "request_latency",
        None,
        "s",
        "request start to the request's end (the response fully received)",
        "the archive's total stops at the last token-bearing event",
        GUIDELLM_SRC,
    ),
    Mapping(
        _GL,
        "inter_token_latency_ms",
        None,
        "ms",
        "(request latency − TTFT) / (output tokens − 1): vLLM's TPOT over GuideLLM's "
        "own latency and TTFT; its distribution weights each request by its output tokens "
        "− 1 (count = Σ(n − 1))",
        "same formula as tpot_ms over inputs defined differently",
        GUIDELLM_SRC,
    ),
    Mapping(
        _GL,
        "time_per_output_token_ms",
        None,
        "ms",
        "request latency / output tokens: includes the first token (guidellm#1144); "
        "weighted by output tokens (count = Σn)",
        "includes prefill; no archive metric is defined this way",
        GUIDELLM_SRC,
    ),
    Mapping(
        _GL,
        "output_tokens_per_second",
        None,
        "tokens/s",
        "output tokens per second over the benchmark's timeline",
        "no archive metric",
        GUIDELLM_SRC,
    ),
    Mapping(
        _GL,
        "requests_per_second",
        None,
        "requests/s",
        "completed requests per second over the benchmark's timeline",
        "no archive metric",
        GUIDELLM_SRC,
    ),
    Mapping(
        _GL,
        "request_concurrency",
        None,
        "requests",
        "requests in flight over the benchmark's timeline",
        "no archive metric",
        GUIDELLM_SRC,
    ),
    Mapping(
        _AP,
        "time_to_first_token",
        "first_delta_ms",
        "ms",
        "request start to the first response that carries content (TTFTMetric: "
        "content_responses[0])",
        "same start and stop as the archive's TTFT (AIPerf 0.13 and later, as read)",
        AIPERF_SRC + "ttft_metric.py",
    ),
    Mapping(
        _AP,
        "request_latency",
        "total_duration_ms",
        "ms",
        "request start to the last response that carries content; usage-only chunks "
        "excluded (RequestLatencyMetric)",
        "same stop as the archive's total (AIPerf 0.13 and later, as read)",
        AIPERF_SRC + "request_latency_metric.py",
    ),
    Mapping(
        _AP,
        "inter_token_latency",
        "tpot_ms",
        "ms",
        "(request latency − TTFT) / (output tokens − 1); output tokens minus the first "
        "chunk's server-reported count under --per-chunk-usage",
        "the archive's tpot_ms (without --per-chunk-usage)",
        AIPERF_SRC + "inter_token_latency_metric.py",
    ),
    Mapping(
        _AP,
        "inter_chunk_latency",
        None,
        "ms",
        "gaps between consecutive content responses, per request",
        "per-request list; the archive keeps its p50/p95/max per call",
        AIPERF_SRC + "inter_chunk_latency_metric.py",
    ),
    Mapping(
        _AP,
        "output_token_throughput",
        None,
        "tokens/s",
        "total output tokens / benchmark duration",
        "spans the whole benchmark window",
        AIPERF_SRC,
    ),
    Mapping(
        _AP,
        "output_token_throughput_per_user",
        None,
        "tokens/s",
        "1 / inter_token_latency per request",
        "(n − 1)/decode time, where the archive's tokens_per_sec is n/decode time",
        AIPERF_SRC,
    ),
    Mapping(
        _AP,
        "request_throughput",
        None,
        "requests/s",
        "completed requests / benchmark duration",
        "no archive metric",
        AIPERF_SRC,
    ),
)

_BY_KEY = {(m.tool, m.source): m for m in MAPPINGS}


def lookup(tool: ImportTool, source: str) -> Mapping:
    """The translation of one of a tool's metrics; an unknown metric is kept, unmapped."""
    found = _BY_KEY.get((tool, source))
    if found is not None:
        return found
    return Mapping(tool, source, None, "", "not in the import table", "not in the import table", "")


def metric_name(mapping: Mapping) -> str:
    """The name a value is kept under: the archive's when mapped, else ``<tool>:<source>``."""
    return mapping.archive or f"{mapping.tool.value}:{mapping.source.split(':')[0]}"
