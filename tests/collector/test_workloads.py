"""Workloads the field compares on: exact-length prompts, open-loop request rates, sweeps,
goodput — against the loopback fake engine (tests/collector/fakes.py), whose toy tokenizer
makes exact lengths checkable; the real engine is exercised in test_engine_e2e.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import statistics
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from click.testing import CliRunner

from bakeoff import stats
from bakeoff.cli import main
from bakeoff.resources import load_schema
from collector.engines.base import GenerationRequest
from collector.engines.llamacpp import LlamaCppEngine
from collector.engines.ollama import OllamaEngine, parse_final
from collector.engines.openai import OpenAIEngine
from collector.errors import ConfigError
from collector.loadgen import arrival_offsets, request_rate, sweep_rates
from collector.models import CellsFile, CellSpec, Slo
from collector.orchestrate import RunOptions, execute
from collector.tasks.lengths import (
    STRIDE,
    PromptBuilder,
    load_text,
    off_target,
    parse_lengths,
)
from tests.collector.fakes import CHAT_TEMPLATE_TOKENS, Handler, fake_server, toy_count


def _run(tmp_path: Path, url: str, model: str, **cells_kw: Any) -> tuple[dict, list[dict], Path]:
    api = cells_kw.pop("api", None)
    options_kw = {k: cells_kw.pop(k) for k in ("prompts",) if k in cells_kw}
    cells = CellsFile(
        cells=[CellSpec(engine="openai", url=url, model=model, api=api)],  # type: ignore[arg-type]
        **cells_kw,
    )
    options = RunOptions(
        cells=cells,
        out_dir=tmp_path,
        allow_dirty=True,
        force_load=True,
        sample_interval_s=0,
        prompts=options_kw.get("prompts", []),
    )
    result = execute(options)
    metadata = json.loads((result.path / "metadata.json").read_text())
    jsonschema.Draft202012Validator(load_schema("metadata")).validate(metadata)
    validator = jsonschema.Draft202012Validator(load_schema("ledger-record"))
    records = [json.loads(x) for x in (result.path / "run.jsonl").read_text().splitlines()]
    for record in records:
        validator.validate(record)
    return metadata, [r for r in records if r["type"] == "call"], result.path


# ---- exact lengths -------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["completions", "chat"])
def test_length_workload_sends_exact_distinct_prompts_and_forces_the_output(
    tmp_path: Path, config_home: Path, api: str
) -> None:
    """Every call of a 64/8 workload gets its own prompt of exactly 64 tokens as the engine
    counts them (a chat template's 4 tokens included: measured once by a one-token request),
    asks for the output length with ignore_eos and min_tokens, and records achieved lengths,
    targets and both rates' inputs."""
    with fake_server() as url:
        metadata, calls, run = _run(
            tmp_path, url, "exact", api=api, lengths=["64/8"], runs=3, concurrency=[1, 2]
        )
        bodies = list(Handler.seen_bodies)
    assert len(calls) == 1 + 3 + 2 * 3
    for call in calls:
        assert call["prompt_id"] == "L-64-8" and call["error"] is None
        assert call["prompt_tokens"] == 64 and call["completion_tokens"] == 8
        assert call["target_prompt_tokens"] == 64 and call["target_completion_tokens"] == 8
        assert call["length_off_target"] is False
        expected = call["prompt_tokens"] / (call["first_delta_ms"] / 1000)
        assert call["prefill_tokens_per_sec"] == pytest.approx(expected, rel=1e-3)
    measured = [b for b in bodies if b.get("max_tokens") == 8]
    assert len(measured) == len(calls)
    assert all(b["ignore_eos"] is True and b["min_tokens"] == 8 for b in measured)
    if api == "chat":
        texts = [b["messages"][0]["content"] for b in measured]
        assert all(toy_count(t) + CHAT_TEMPLATE_TOKENS == 64 for t in texts)
    else:
        texts = [b["prompt"] for b in measured]
        assert all(toy_count(t) == 64 for t in texts)
    assert len(set(texts)) == len(texts)  # no call can reuse another's cached prefix
    (ref,) = metadata["config"]["lengths"]
    text = load_text()
    assert ref == {
        "id": "L-64-8",
        "input_tokens": 64,
        "output_tokens": 8,
        "text_id": text.id,
        "text_sha256": text.sha256,
    }
    report = (run / "run.md").read_text()
    assert "## Length workloads" in report and "off their length target" not in report


def test_an_engine_that_stops_early_is_flagged_and_run_md_says_so(
    tmp_path: Path, config_home: Path
) -> None:
    """An engine that ignores ignore_eos/min_tokens ends after 3 of 8 tokens: the achieved
    length is recorded, the call is marked off target, and run.md names the calls."""
    with fake_server() as url:
        _, calls, run = _run(tmp_path, url, "eos", api="completions", lengths=["64/8"], runs=2)
    assert [c["completion_tokens"] for c in calls] == [3, 3, 3]
    assert all(c["length_off_target"] is True and c["prompt_tokens"] == 64 for c in calls)
    report = (run / "run.md").read_text()
    assert "**3 call(s) more than 1 % off their length target**" in report
    assert "L-64-8 cold#0 (64/3)" in report


def test_other_workloads_carry_no_length_fields(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        _, calls, _ = _run(tmp_path, url, "ok", lengths=[], prompts=["P-EASY"], runs=1)
    for call in calls:
        assert call["length_off_target"] is None and call["target_prompt_tokens"] is None
        assert call["prompt_tokens"] == 7  # the fake's usage
        assert call["prefill_tokens_per_sec"] == pytest.approx(
            7 / (call["first_delta_ms"] / 1000), rel=1e-3
        )


def test_parse_lengths_refuses_what_it_cannot_build() -> None:
    assert [s.id for s in parse_lengths(["512/64", " 4096/128 "])] == ["L-512-64", "L-4096-128"]
    for bad in ("512", "0/64", "512/0", "a/b", "512/64/1", "-1/4"):
        with pytest.raises(ConfigError, match=r"input/output tokens; write e\.g\. 512/64"):
            parse_lengths([bad])
    with pytest.raises(ConfigError, match="listed twice"):
        parse_lengths(["512/64", "512/64"])
    with pytest.raises(ValueError):
        CellsFile(cells=[CellSpec(engine="openai", url="http://x", model="m")], lengths=["8k/1k"])  # type: ignore[arg-type]


def test_off_target_is_one_percent() -> None:
    assert not off_target(1000, 1000) and not off_target(1010, 1000) and not off_target(990, 1000)
    assert off_target(1011, 1000) and off_target(989, 1000) and off_target(None, 1000)
    assert off_target(31, 32) and not off_target(32, 32)


class _Toy:
    """A counter with a BOS, for PromptBuilder: counts the calls made."""

    def __init__(self, overhead: int = 1) -> None:
        self.calls = 0
        self.overhead = overhead

    async def __call__(self, text: str) -> int:
        self.calls += 1
        return toy_count(text) - 1 + self.overhead


def test_prompt_builder_hits_every_target_exactly() -> None:
    """Targets from 1 token to more than the whole text (which then repeats), for several
    variants: exact every time, a handful of counts each."""
    toy = _Toy()
    builder = PromptBuilder(toy)

    async def go() -> list[tuple[int, int, int | None, str]]:
        out = []
        for target in (2, 3, 17, 256, 1000, 4096, 20000):
            for variant in (0, 1, 7):
                built = await builder.build(variant, target)
                out.append((target, variant, built.tokens, built.text))
        return out

    results = asyncio.run(go())
    for target, _, tokens, text in results:
        assert tokens == target and toy_count(text) == target, (target, tokens)
    assert toy.calls <= 8 * len(results)
    starts = {variant: text.split()[0] for target, variant, _, text in results if target == 256}
    words = load_text().text.split()
    assert starts == {v: words[v * STRIDE] for v in (0, 1, 7)}


def test_prompt_builder_without_a_usable_count_stops_and_says_so() -> None:
    """A count that never changes (an engine whose usage is made up) gives the closest prompt
    after a few requests, not an endless search; no count at all gives a prompt and None."""
    constant = _Toy()

    async def fixed(text: str) -> int:
        constant.calls += 1
        return 7

    async def none(text: str) -> None:
        return None

    built = asyncio.run(PromptBuilder(fixed).build(0, 512))
    assert built.tokens == 7 and constant.calls <= 4
    unknown = asyncio.run(PromptBuilder(none).build(3, 512))
    assert unknown.tokens is None and unknown.text


def test_prompt_builder_fills_the_last_token_with_part_of_a_word() -> None:
    """Where every word is two tokens the count jumps over an odd target; a prefix of the next
    word (one token when shorter than three letters) closes the gap. Without such a prefix
    the closest count is kept, the shorter prompt on a tie."""

    def tokens(word: str) -> int:
        return 2 if len(word) >= 3 else 1

    async def pairs(text: str) -> int:
        return 1 + sum(tokens(w) for w in text.split())

    text = "alpha beta gamma delta epsilon zeta theta iota kappa"
    assert asyncio.run(PromptBuilder(pairs, text=text).build(0, 7)).tokens == 7  # BOS + 3 words
    filled = asyncio.run(PromptBuilder(pairs, text=text).build(0, 8))
    assert (filled.text, filled.tokens) == ("alpha beta gamma d", 8)

    async def whole_words_only(text: str) -> int:
        return 1 + 2 * len(text.split())

    odd = asyncio.run(PromptBuilder(whole_words_only, text=text).build(0, 8))
    assert (odd.text, odd.tokens) == ("alpha beta gamma", 7)


# ---- open-loop rates -------------------------------------------------------------------------


def test_arrival_offsets_are_poisson_with_the_exact_mean() -> None:
    offsets = arrival_offsets(200, 4.0, seed=1)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert offsets[0] == 0.0 and all(g > 0 for g in gaps)
    assert statistics.fmean(gaps) == pytest.approx(0.25, rel=1e-12)
    # Exponential gaps: the standard deviation is about the mean (coefficient of variation 1).
    assert 0.75 < statistics.stdev(gaps) / statistics.fmean(gaps) < 1.25
    assert arrival_offsets(200, 4.0, seed=1) == offsets  # the seed decides
    assert arrival_offsets(200, 4.0, seed=2) != offsets
    stretched = arrival_offsets(200, 2.0, seed=1)
    assert stretched == pytest.approx([2 * t for t in offsets])  # one pattern per seed
    assert arrival_offsets(1, 3.0, seed=1) == [0.0]
    for bad in ((0, 1.0), (3, 0.0), (3, math.inf), (3, -1.0)):
        with pytest.raises(ValueError):
            arrival_offsets(bad[0], bad[1], seed=1)


def test_sweep_rates_are_spaced_between_the_ends() -> None:
    assert sweep_rates(1.0, 5.0, 3) == [2.0, 3.0, 4.0]
    # An engine that does not batch (saturated ≈ synchronous) is still loaded past one stream.
    assert sweep_rates(2.0, 1.9, 1) == [2.1]
    assert sweep_rates(0.123456, 1.0, 1) == [0.5617]  # four significant digits
    assert request_rate([(0, 2_000_000_000), (1_000_000_000, 4_000_000_000)]) == 0.5
    assert request_rate([]) is None and request_rate([(5, 5)]) is None


def test_rate_level_sends_on_its_poisson_schedule(tmp_path: Path, config_home: Path) -> None:
    """An open-loop level of 12 requests at 10 req/s: each call records its level, in-flight
    count, scheduled and actual send time; the schedule is the seeded one, the mean interval
    between actual sends is within 20 % of 1/rate; run.md shows the level with goodput."""
    with fake_server() as url:
        metadata, calls, run = _run(
            tmp_path,
            url,
            "ok",
            lengths=[],
            prompts=["P-EASY"],
            runs=1,
            cold=False,
            rates=[10.0],
            rate_requests=12,
            arrival_seed=7,
            slo={"ttft_ms": 10_000, "tpot_ms": 10_000},
        )
    level = [c for c in calls if c["request_rate"] is not None]
    assert len(level) == 12 and all(c["request_rate"] == 10.0 for c in level)
    assert all(c["concurrency"] is None and c["in_flight"] >= 1 for c in level)
    assert sorted(c["run_idx"] for c in level) == list(range(12))
    scheduled = sorted(c["scheduled_ms"] for c in level)
    assert scheduled == pytest.approx([t * 1000 for t in arrival_offsets(12, 10.0, 7)], abs=1e-3)
    for c in level:
        assert c["sent_ms"] >= c["scheduled_ms"] - 1e-3
        assert c["start_lag_ms"] == pytest.approx(c["sent_ms"] - c["scheduled_ms"], abs=2e-3)
    sent = sorted(c["sent_ms"] for c in level)
    mean_gap = statistics.fmean(b - a for a, b in itertools.pairwise(sent))
    assert abs(mean_gap - 100.0) <= 0.2 * 100.0, mean_gap
    config = metadata["config"]
    assert config["rates"] == [10.0] and config["rate_requests"] == 12
    assert config["arrival_seed"] == 7 and config["slo"] == {"ttft_ms": 10000.0, "tpot_ms": 10000.0}
    report = (run / "run.md").read_text()
    assert "## Request rates (open loop)" in report
    assert "Goodput counts successful calls with TTFT ≤ 10000 ms and TPOT ≤ 10000 ms" in report
    row = next(
        line for line in report.splitlines() if line.startswith("| ") and "| 10 | 12 |" in line
    )
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] == "100%" and float(cells[4]) == pytest.approx(float(cells[5]))


def test_sweep_finds_its_ends_then_spaces_rates(tmp_path: Path, config_home: Path) -> None:
    """sweep: the sequential warm calls give the synchronous rate, a burst of rate_requests
    requests at once the saturated one, then sweep_levels rates between them."""
    with fake_server() as url:
        metadata, calls, run = _run(
            tmp_path,
            url,
            "ok",
            lengths=[],
            prompts=["P-EASY"],
            runs=2,
            sweep=True,
            sweep_levels=2,
            rate_requests=4,
        )
    burst = [c for c in calls if c["concurrency"] == 4]
    assert len(burst) == 4 and all(c["scheduled_ms"] == 0 for c in burst)
    rates = sorted({c["request_rate"] for c in calls if c["request_rate"] is not None})
    assert len(rates) == 2 and rates[0] < rates[1]
    assert all(sum(1 for c in calls if c["request_rate"] == r) == 4 for r in rates)
    assert metadata["config"]["sweep"] is True and metadata["config"]["sweep_levels"] == 2
    log = (run / "run.log").read_text()
    assert "sweep: synchronous" in log and "saturated" in log


def test_smoke_runs_no_level_and_records_none(tmp_path: Path, config_home: Path) -> None:
    with fake_server() as url:
        cells = CellsFile(
            cells=[CellSpec(engine="openai", url=url, model="ok")],  # type: ignore[arg-type]
            rates=[5.0],
            sweep=True,
        )
        result = execute(
            RunOptions(
                cells=cells,
                out_dir=tmp_path,
                mode="smoke",
                allow_dirty=True,
                force_load=True,
                sample_interval_s=0,
            )
        )
    assert result.calls_total == 1
    config = json.loads((result.path / "metadata.json").read_text())["config"]
    assert config["rates"] == [] and config["sweep"] is False and config["rate_requests"] is None


def test_cli_flags_for_lengths_and_rates(tmp_path: Path, config_home: Path) -> None:
    """--lengths and --rates lay over the cells file; bad values are one clear message."""
    flags = ["--allow-dirty", "--force-load", "--sample-interval", "0", "--out", str(tmp_path)]
    with fake_server() as url:
        base = ["run", "--url", url, "--model", "exact", "--runs", "1", "--prompts", ""]
        good = CliRunner().invoke(main, [*base, "--lengths", "16/2", "--rates", "50", *flags])
        bad_rate = CliRunner().invoke(main, [*base, "--rates", "fast", *flags])
        bad_length = CliRunner().invoke(main, [*base, "--lengths", "16-2", *flags])
    assert good.exit_code == 0, good.output
    assert "measured 22 call(s), 22 ok" in good.output  # 1 cold + 1 warm + 20 at 50 req/s
    assert bad_rate.exit_code == 2 and "--rates 0.5,1,2" in bad_rate.output
    assert bad_length.exit_code == 1
    assert "--lengths/--rates: lengths.0: String should match pattern" in bad_length.output


# ---- goodput ---------------------------------------------------------------------------------


def test_meets_slo_edges() -> None:
    assert stats.meets_slo(100.0, 20.0, 10, 100.0, 20.0)  # at the limit is within it
    assert not stats.meets_slo(100.1, 20.0, 10, 100.0, 20.0)
    assert not stats.meets_slo(100.0, 20.1, 10, 100.0, 20.0)
    assert stats.meets_slo(100.0, 99.0, 10, 100.0, None)  # only the objectives set count
    assert stats.meets_slo(500.0, 10.0, 10, None, 20.0)
    assert stats.meets_slo(50.0, None, 1, 100.0, 20.0)  # one token: no TPOT, as vLLM
    assert not stats.meets_slo(50.0, None, None, 100.0, 20.0)  # unknown TPOT is not met
    assert not stats.meets_slo(None, 10.0, 10, 100.0, None)
    assert stats.span_seconds([(0, 1000.0), (500_000, 1000.0)]) == 1.5
    assert stats.span_seconds([]) is None and stats.per_second(3, None) is None
    with pytest.raises(ValueError, match="an slo needs ttft_ms, tpot_ms or both"):
        Slo()


# ---- adapters --------------------------------------------------------------------------------


def test_payloads_ask_for_exact_output_the_way_each_engine_takes_it() -> None:
    request = GenerationRequest(text="t", max_tokens=32, api="completions", exact_output=True)
    _, openai = OpenAIEngine("http://127.0.0.1:9", "m").payload(request)
    assert openai["ignore_eos"] is True and openai["min_tokens"] == 32
    _, llama = LlamaCppEngine("http://127.0.0.1:9", "m").payload(request)
    assert llama["ignore_eos"] is True and "min_tokens" not in llama
    _, ollama = OllamaEngine("http://127.0.0.1:9", "m").payload(request)
    assert "ignore_eos" not in json.dumps(ollama) and not OllamaEngine.supports_exact_output
    _, plain = OpenAIEngine("http://127.0.0.1:9", "m").payload(
        GenerationRequest(text="t", max_tokens=32, api="completions")
    )
    assert "ignore_eos" not in plain and "min_tokens" not in plain


def test_ollama_counts_a_prompt_with_a_one_token_request_and_reads_its_cache() -> None:
    """Ollama has no tokenize endpoint: a prompt is counted by a request for one token, whose
    prompt_eval_count (cached tokens included) is the answer. A recorded reply, since Ollama
    cannot run here."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        final = {
            "response": "",
            "done": True,
            "done_reason": "length",
            "prompt_eval_count": 40,
            "prompt_eval_cached_count": 30,
            "prompt_eval_duration": 5_000_000,
            "eval_count": 1,
            "eval_duration": 1_000_000,
        }
        lines = [{"response": "x", "done": False}, final]
        text = "".join(json.dumps(x) + "\n" for x in lines)
        return httpx.Response(200, text=text)

    async def go() -> int | None:
        engine = OllamaEngine("http://127.0.0.1:9", "m", transport=httpx.MockTransport(handler))
        try:
            return await engine.prompt_token_count("some text", "completions")
        finally:
            await engine.aclose()

    assert asyncio.run(go()) == 40
    assert seen[0]["options"]["num_predict"] == 1 and seen[0]["prompt"] == "some text"
    timings, usage = parse_final(
        {
            "done": True,
            "prompt_eval_count": 40,
            "prompt_eval_cached_count": 30,
            "prompt_eval_duration": 5_000_000,
        }
    )
    assert timings.prompt_tokens == 10 and timings.cached_tokens == 30  # evaluated, cached
    assert usage["prompt_tokens"] == 40 and usage["prompt_tokens_details"] == {"cached_tokens": 30}
    assert (
        asyncio.run(
            OllamaEngine("http://127.0.0.1:9", "m").prompt_token_count("t", "chat", probe=False)
        )
        is None
    )


# ---- engine timings of the prompt --------------------------------------------------------------

# llama-cpp-python 0.3.36's log after the first request of a process (captured): the prefill
# of 250 tokens took about 9 s, yet "prompt eval" says 0.29 ms and "eval" 154 ms.
HIDDEN_PREFILL = (
    "llama_perf_context_print:        load time =       0.91 ms\n"
    "llama_perf_context_print: prompt eval time =       0.29 ms /   250 tokens "
    "(    0.00 ms per token, 865051.90 tokens per second)\n"
    "llama_perf_context_print:        eval time =     153.95 ms /     3 runs   "
    "(   51.32 ms per token,    19.49 tokens per second)\n"
    "llama_perf_context_print:       total time =    9293.18 ms /   253 tokens\n"
)
# A later request whose parts add up (its shape seen before): 6.3 s of prefill for 220 tokens.
HONEST = (
    "llama_perf_context_print:        load time =       0.91 ms\n"
    "llama_perf_context_print: prompt eval time =    6313.41 ms /   220 tokens "
    "(   28.70 ms per token,    34.85 tokens per second)\n"
    "llama_perf_context_print:        eval time =     480.00 ms /     7 runs   "
    "(   68.57 ms per token,    14.58 tokens per second)\n"
    "llama_perf_context_print:       total time =    6959.41 ms /   227 tokens\n"
)


def test_a_perf_block_that_hides_its_prefill_gives_no_prompt_or_decode_time() -> None:
    """Before: decode_ms = total − prompt = 9,293 ms for 3 tokens (0.3 tokens/s, with the
    prefill in it) and a prefill of 865,000 tokens/s. Now both are left out."""
    from collector.engines.managed import parse_perf_block

    hidden = parse_perf_block(HIDDEN_PREFILL)
    assert hidden is not None
    assert hidden.prompt_ms is None and hidden.prompt_tokens is None
    assert hidden.decode_ms is None and hidden.tokens_per_sec is None
    assert hidden.decode_tokens == 3
    honest = parse_perf_block(HONEST)
    assert honest is not None and honest.prompt_ms == 6313.41 and honest.prompt_tokens == 220
    assert honest.decode_ms == pytest.approx(646.0) and honest.decode_tokens == 7


def test_the_first_perf_block_of_a_process_gives_no_prompt_time(tmp_path: Path) -> None:
    """A short prompt hides less than the tolerance, so the rule above cannot see it; the
    first block after a (re)start is never trusted for the prompt, later ones are."""
    from collector.engines.managed import ManagedProcess

    proc = ManagedProcess(["true"], port=1)
    try:
        short_first = HONEST.replace("6313.41 ms", "   0.05 ms").replace("6959.41 ms", " 646.05 ms")
        proc.log_path.write_text(short_first)
        first = proc.take_log_timings(wait_s=0)
        assert first is not None and first.prompt_ms is None and first.decode_ms is not None
        with proc.log_path.open("a") as fh:
            fh.write(HONEST)
        second = proc.take_log_timings(wait_s=0)
        assert second is not None and second.prompt_ms == 6313.41
    finally:
        proc.cleanup()


def test_prompt_tokens_from_llama_server_timings_include_the_cached_ones() -> None:
    """llama-server's ``prompt_n`` counts only the tokens it evaluated; the prompt is
    ``prompt_n + cache_n`` (before: prompt_n alone, 10 of a 100-token prompt)."""
    from collector.engines.base import ServerTimings
    from collector.measure import Measurement
    from collector.runner import _token_counts

    m = Measurement(wall_ns=0, t0_ns=0)
    m.timings = ServerTimings(prompt_tokens=10, cached_tokens=90, decode_tokens=5)
    plan: Any = None  # not used on this path
    prompt, completion, _, cached, source = asyncio.run(_token_counts(plan, m))
    assert (prompt, completion, cached, source) == (100, 5, 90, "server_timings")


def test_levels_and_lengths_are_listed_once() -> None:
    cell = CellSpec(engine="openai", url="http://127.0.0.1:9", model="m")  # type: ignore[arg-type]
    for field, values in (
        ("rates", [1, 1.0]),
        ("lengths", ["8/2", "8/2"]),
        ("concurrency", [4, 4]),
    ):
        with pytest.raises(ValueError, match="is listed twice"):
            CellsFile(cells=[cell], **{field: values})


def test_a_bug_in_a_rate_level_fails_the_run_instead_of_hanging(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """measure never raises (it records failures); if a bug made it, the level's consumer
    would wait forever for a result. It re-raises instead, and the run is kept as partial."""
    import threading

    from collector import runner

    real = runner.measure

    async def broken(engine: Any, request: Any, **kw: Any) -> Any:
        if request.max_tokens == 64 and Handler.seen_bodies and len(Handler.seen_bodies) >= 2:
            raise RuntimeError("a bug in measure")
        return await real(engine, request, **kw)

    monkeypatch.setattr(runner, "measure", broken)
    outcome: list[BaseException | None] = []

    def go() -> None:
        with fake_server() as url:
            try:
                _run(tmp_path, url, "ok", lengths=[], prompts=["P-EASY"], runs=1, rates=[20.0])
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert outcome and isinstance(outcome[0], RuntimeError), outcome
    (run,) = [p for p in tmp_path.iterdir() if (p / "metadata.json").is_file()]
    metadata = json.loads((run / "metadata.json").read_text())
    assert metadata["status"] == "partial" and "a bug in measure" in metadata["status_reason"]
