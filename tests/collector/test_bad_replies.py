"""A reply the collector cannot record fails that call as ``bad_usage``; the run goes on.

Bad replies are an error path, and llama.cpp's ``llama-server`` and Ollama cannot run here, so
the engines below are recorded exchanges (the shapes of tests/collector/test_adapters_recorded.py)
with one number made bad, served through ``httpx.MockTransport``. Python's JSON parser accepts
``NaN``, ``Infinity``, ``1e400`` and integers of any size, so each of those reaches the adapter
as a Python value and must be stopped there.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from bakeoff.resources import load_schema
from collector import cells as cells_module
from collector.engines import REGISTRY
from collector.engines.base import Engine, GenerationRequest
from collector.engines.llamacpp import LlamaCppEngine
from collector.engines.managed import parse_perf_block
from collector.engines.ollama import OllamaEngine, parse_final
from collector.engines.openai import OpenAIEngine, parse_llamacpp_timings
from collector.engines.reply import INT64_MAX, checked_usage, reply_count, reply_number
from collector.errors import EngineBadReplyError
from collector.measure import Measurement, measure
from collector.models import CellsFile, CellSpec
from collector.orchestrate import RunOptions, execute

BAD_COUNTS: list[object] = [
    -5,
    1.5,
    "5",
    True,
    math.nan,
    math.inf,
    -math.inf,
    10**40,
    INT64_MAX + 1,
    1e40,
    [3],
]
BAD_NUMBERS: list[object] = [-0.5, -5, "1.0", False, math.nan, math.inf, 10**400, INT64_MAX + 1]


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_reply_count_refuses_what_cannot_be_recorded(value: object) -> None:
    with pytest.raises(EngineBadReplyError, match=r"/v1/x: usage.completion_tokens is .*2\^63"):
        reply_count(value, "usage.completion_tokens", "/v1/x")


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_reply_number_refuses_what_cannot_be_recorded(value: object) -> None:
    with pytest.raises(EngineBadReplyError, match="not a finite number of at least 0"):
        reply_number(value, "timings.prompt_ms", "/v1/x")


def test_recordable_values_pass() -> None:
    assert reply_count(None, "n", "w") is None
    assert [reply_count(v, "n", "w") for v in (0, 5, 5.0, INT64_MAX)] == [0, 5, 5, INT64_MAX]
    assert type(reply_count(5.0, "n", "w")) is int
    assert [reply_number(v, "n", "w") for v in (None, 0, 12, 35.2)] == [None, 0.0, 12.0, 35.2]
    usage = {
        "prompt_tokens": 12.0,
        "completion_tokens": 3,
        "total_tokens": "anything: not recorded",
        "completion_tokens_details": {"reasoning_tokens": 0},
        "prompt_tokens_details": None,
    }
    out = checked_usage(usage, "w")
    assert out["prompt_tokens"] == 12 and type(out["prompt_tokens"]) is int
    assert out["completion_tokens_details"] == {"reasoning_tokens": 0}
    with pytest.raises(EngineBadReplyError, match="reasoning_tokens"):
        checked_usage({"completion_tokens_details": {"reasoning_tokens": -1}}, "w")


def test_parsers_refuse_bad_numbers() -> None:
    with pytest.raises(EngineBadReplyError, match=r"timings\.predicted_n"):
        parse_llamacpp_timings({"predicted_n": 2.5, "predicted_ms": 10.0})
    with pytest.raises(EngineBadReplyError, match=r"timings\.prompt_ms"):
        parse_llamacpp_timings({"prompt_ms": math.nan})
    with pytest.raises(EngineBadReplyError, match="eval_duration"):
        parse_final({"done": True, "eval_count": 5, "eval_duration": -1})
    with pytest.raises(EngineBadReplyError, match="prompt_eval_count"):
        parse_final({"done": True, "prompt_eval_count": 10**30})
    log = (
        "llama_perf_context_print: prompt eval time =  12.00 ms /  4 tokens\n"
        "llama_perf_context_print:        eval time =  30.00 ms / 99999999999999999999 runs\n"
    )
    with pytest.raises(EngineBadReplyError, match="eval time"):
        parse_perf_block(log)
    # A count longer than any real one is not read at all (never a 5000-digit int()).
    timings = parse_perf_block(log.replace("99999999999999999999", "9" * 5000))
    assert timings is not None and timings.decode_tokens is None


# ---- measure() on each adapter -------------------------------------------------------------


def _sse(chunks: list[str]) -> str:
    """An SSE body from raw JSON texts (raw, so that NaN and 1e400 stay as they are)."""
    return "".join(f"data: {c}\n\n" for c in chunks) + "data: [DONE]\n\n"


GOOD_USAGE = '{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}'
TOKENS = [
    '{"choices":[{"index":0,"delta":{"content":"The"},"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"content":" sky"},"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"content":" is"},"finish_reason":"stop"}]}',
]
GOOD_TIMINGS = (
    '{"choices":[],"timings":{"prompt_n":12,"prompt_ms":35.2,"predicted_n":3,'
    '"predicted_ms":60.0,"predicted_per_second":50.0,"cache_n":0}}'
)
OLLAMA_TOKENS = [
    '{"message":{"role":"assistant","content":"Ray"},"done":false}',
    '{"message":{"role":"assistant","content":"leigh"},"done":false}',
]
GOOD_OLLAMA_FINAL = (
    '{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",'
    '"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":2,'
    '"eval_duration":45355990,"load_duration":1334875}'
)


class ScriptedEngine:
    """OpenAI-compatible, llama.cpp and Ollama endpoints whose generation replies are the
    recorded ones above, except the ``bad`` ones: the first ``bad_calls`` generation requests
    get ``bad`` as their last chunk (usage, timings or Ollama's final line)."""

    def __init__(self, bad: str, *, bad_calls: int = 1) -> None:
        self.bad = bad
        self.bad_left = bad_calls
        self.generations = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path in ("/v1/models", "/health"):
            return httpx.Response(200, json={"status": "ok", "data": []})
        if path == "/props":
            return httpx.Response(200, json={"build_info": "b1-test"})
        if path == "/api/version":
            return httpx.Response(200, json={"version": "0.0.0-test"})
        if path in ("/api/tags", "/api/ps"):
            return httpx.Response(200, json={"models": []})
        if path == "/api/generate" and body.get("keep_alive") == 0:
            return httpx.Response(200, json={"done": True, "done_reason": "unload"})
        bad = self.bad_left > 0
        if path in ("/v1/chat/completions", "/v1/completions"):
            self.generations += 1
            self.bad_left -= 1
            last = self.bad if bad else GOOD_USAGE
            extra = [GOOD_TIMINGS] if isinstance(self, LlamaScripted) and not bad else []
            return httpx.Response(
                200,
                text=_sse([*TOKENS, *extra, last]),
                headers={"content-type": "text/event-stream"},
            )
        if path == "/api/chat":
            self.generations += 1
            self.bad_left -= 1
            last = self.bad if bad else GOOD_OLLAMA_FINAL
            text = "\n".join([*OLLAMA_TOKENS, last]) + "\n"
            return httpx.Response(200, text=text, headers={"content-type": "application/x-ndjson"})
        return httpx.Response(404, json={"error": "not found"})


class LlamaScripted(ScriptedEngine):
    """The same, with llama.cpp's ``timings`` chunk in good replies."""


OPENAI_BAD = '{"choices":[],"usage":{"prompt_tokens":-5,"completion_tokens":3}}'
OPENAI_HUGE = '{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":1%s}}' % ("0" * 40)
LLAMA_BAD = (
    '{"choices":[],"timings":{"prompt_n":12,"prompt_ms":NaN,"predicted_n":3,'
    '"predicted_ms":60.0,"predicted_per_second":50.0}}'
)
OLLAMA_BAD = (
    '{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",'
    '"prompt_eval_count":26,"eval_count":2,"eval_duration":1e400}'
)


def _measure(engine: Engine) -> Measurement:
    async def go() -> Measurement:
        try:
            req = GenerationRequest(text="why blue?", max_tokens=32, api="chat")
            return await measure(engine, req, total_timeout_s=5)
        finally:
            await engine.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("cls", "script", "bad", "field"),
    [
        (OpenAIEngine, ScriptedEngine, OPENAI_BAD, "usage.prompt_tokens is -5"),
        (OpenAIEngine, ScriptedEngine, OPENAI_HUGE, "usage.completion_tokens is 1000"),
        (LlamaCppEngine, LlamaScripted, LLAMA_BAD, "timings.prompt_ms is nan"),
        (OllamaEngine, ScriptedEngine, OLLAMA_BAD, "eval_duration is inf"),
    ],
)
def test_bad_reply_fails_the_call_as_bad_usage(
    cls: type[Engine], script: type[ScriptedEngine], bad: str, field: str
) -> None:
    """The tokens that came before the bad chunk are kept; the bad number is not."""
    m = _measure(cls("http://127.0.0.1:9", "m", transport=httpx.MockTransport(script(bad))))
    assert m.error_kind == "bad_usage", m.error
    assert m.error is not None and field in m.error and "cannot be recorded" in m.error
    assert m.chunks >= 2 and m.first_delta_ms is not None
    assert m.usage is None or m.usage.get("prompt_tokens") != -5


@pytest.mark.parametrize(
    ("cls", "bad"),
    [
        (OpenAIEngine, '{"choices":[{"index":0,"delta":{"content":5},"finish_reason":null}]}'),
        (OpenAIEngine, '{"choices":{"0":{"delta":{"content":"x"}}}}'),
        (OpenAIEngine, '{"choices":[{"index":0,"delta":"x","finish_reason":null}]}'),
        (OpenAIEngine, '{"choices":[{"index":0,"delta":{},"finish_reason":{"a":1}}]}'),
        (OllamaEngine, '{"message":{"role":"assistant","content":["x"]},"done":false}'),
        (OllamaEngine, '{"message":{"content":""},"done":true,"done_reason":7}'),
    ],
)
def test_reply_of_another_shape_is_a_protocol_error(cls: type[Engine], bad: str) -> None:
    """Text fields that are not text and chunks of another shape fail the call as
    ``protocol``; they never reach the record (where they would stop the run)."""
    m = _measure(cls("http://127.0.0.1:9", "m", transport=httpx.MockTransport(ScriptedEngine(bad))))
    assert m.error_kind == "protocol", m.error


# ---- whole runs ----------------------------------------------------------------------------


def _patch_engines(monkeypatch: pytest.MonkeyPatch, scripts: dict[str, ScriptedEngine]) -> None:
    """``bakeoff run`` builds its engines by kind: give each kind its scripted transport."""

    def engine_class(name: str) -> Any:
        return functools.partial(REGISTRY[name], transport=httpx.MockTransport(scripts[name]))

    monkeypatch.setattr(cells_module, "engine_class", engine_class)


def _ledger(run: Path) -> list[dict[str, Any]]:
    validator = jsonschema.Draft202012Validator(load_schema("ledger-record"))
    text = (run / "run.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        validator.validate(record)
        for key, value in record.items():
            assert not isinstance(value, int) or -(2**63) <= value <= INT64_MAX, key
            assert not isinstance(value, float) or math.isfinite(value), key
    return records


def test_run_goes_on_after_bad_replies_on_every_adapter(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One cell per adapter; the first call of each (the cold one) gets a bad reply. Each
    fails as bad_usage, every other call is measured, and every ledger line validates
    against ledger-record.schema.json with only storable numbers."""
    scripts = {
        "openai": ScriptedEngine(OPENAI_HUGE),
        "llamacpp": LlamaScripted(LLAMA_BAD),
        "ollama": ScriptedEngine(OLLAMA_BAD),
    }
    _patch_engines(monkeypatch, scripts)
    cells = CellsFile(
        cells=[
            CellSpec(engine=kind, url="http://127.0.0.1:9", model=f"m-{kind}")  # type: ignore[arg-type]
            for kind in scripts
        ],
        runs=2,
        lengths=[],
    )
    options = RunOptions(
        cells=cells,
        out_dir=tmp_path / "runs",
        prompts=["P-EASY"],
        allow_dirty=True,
        force_load=True,
        sample_interval_s=0,
    )
    result = execute(options)
    assert result.status == "complete"
    assert result.calls_total == 9 and result.calls_ok == 6
    calls = [r for r in _ledger(result.path) if r["type"] == "call"]
    for kind in scripts:
        mine = [c for c in calls if c["backend"] == kind]
        assert [c["error_kind"] for c in mine] == ["bad_usage", None, None], kind
        assert mine[0]["phase"] == "cold" and mine[0]["completion_tokens"] in (None, 3)
        assert all(c["completion_tokens"] in (2, 3) for c in mine[1:])
    metadata = json.loads((result.path / "metadata.json").read_text())
    jsonschema.Draft202012Validator(load_schema("metadata")).validate(metadata)
    assert "1" + "0" * 40 not in (result.path / "run.jsonl").read_text()
    report = (result.path / "run.md").read_text()
    assert report.count("| bad_usage |") == 3
    log = (result.path / "run.log").read_text()
    assert log.count("failed (bad_usage)") == 3


def test_bad_tokenize_count_fails_the_call(
    tmp_path: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without usage gets its output counted by its tokenize endpoint; a count of
    10^40 from there is not recorded: that call fails as bad_usage, the next ones go on."""
    replies = iter([10**40, 3, 3])  # one count of the output per call

    class NoUsage(ScriptedEngine):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/extras/tokenize/count":
                text = json.loads(request.content)["input"]
                # The probe (empty text: the BOS alone), else an output.
                count = 1 if text == "" else next(replies)
                return httpx.Response(200, json={"count": count})
            if request.url.path == "/v1/chat/completions":
                text = _sse(TOKENS)
                return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})
            return super().__call__(request)

    _patch_engines(monkeypatch, {"openai": NoUsage("")})
    cells = CellsFile(
        cells=[CellSpec(engine="openai", url="http://127.0.0.1:9", model="m")],  # type: ignore[arg-type]
        runs=2,
        lengths=[],
    )
    options = RunOptions(
        cells=cells,
        out_dir=tmp_path / "runs",
        prompts=["P-EASY"],
        allow_dirty=True,
        force_load=True,
        sample_interval_s=0,
    )
    result = execute(options)
    calls = [r for r in _ledger(result.path) if r["type"] == "call"]
    assert [c["error_kind"] for c in calls] == ["bad_usage", None, None]
    assert calls[0]["completion_tokens"] is None and calls[0]["token_count_source"] == "none"
    assert "count is 1000" in calls[0]["error"]
    assert [c["completion_tokens"] for c in calls[1:]] == [2, 2]  # 3 minus the probe's 1
    # A chat prompt's count needs the template's tokens, which only a generation request
    # measures; none is sent between measured calls, so the count stays unknown.
    assert [c["prompt_tokens"] for c in calls[1:]] == [None, None]


def test_ollama_describe_keeps_only_text() -> None:
    """A digest or quantization that is not text, or a size beyond int64, is left out (null),
    not passed on to metadata.json, where it would stop the run before its first call."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"version": "0.0.0-test"})
        models = [
            {"name": "m", "digest": 123, "details": {"quantization_level": ["Q4"]}, "size": 10**400}
        ]
        return httpx.Response(200, json={"models": models})

    async def go() -> Any:
        engine = OllamaEngine("http://127.0.0.1:9", "m", transport=httpx.MockTransport(handler))
        try:
            return await engine.describe()
        finally:
            await engine.aclose()

    info = asyncio.run(go())
    assert info.version == "0.0.0-test"
    assert info.model_digest is None and info.quantization is None
    assert info.model.size_bytes is None  # 10^400 bytes: not a size that can be stored
