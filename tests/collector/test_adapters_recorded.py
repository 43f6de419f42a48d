"""The llamacpp and ollama adapters against recorded exchanges.

Neither llama.cpp's ``llama-server`` nor Ollama can run here, so these exchanges are written
from their API documentation (llama.cpp tools/server/README.md: /health, /props, streamed
``timings``; Ollama docs/api.md: /api/version, /api/tags, /api/ps, NDJSON streaming with
nanosecond durations, ``keep_alive: 0`` unload) and served through ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from collector.engines import engine_class
from collector.engines.base import GenerationRequest
from collector.engines.llamacpp import LlamaCppEngine, quantization_from_name
from collector.engines.ollama import OllamaEngine
from collector.errors import ConfigError, EngineUnavailableError
from collector.measure import Measurement, measure

LLAMA_STREAM = [
    {
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None}
        ]
    },
    {"choices": [{"index": 0, "delta": {"content": "The"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": " sky"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": " is blue."}, "finish_reason": None}]},
    {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "timings": {
            "cache_n": 0,
            "prompt_n": 12,
            "prompt_ms": 35.2,
            "prompt_per_token_ms": 2.93,
            "prompt_per_second": 340.9,
            "predicted_n": 3,
            "predicted_ms": 60.0,
            "predicted_per_token_ms": 20.0,
            "predicted_per_second": 50.0,
        },
    },
    {"choices": [], "usage": {"completion_tokens": 3, "prompt_tokens": 12, "total_tokens": 15}},
]


def llama_handler(seen: list[dict[str, Any]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path == "/props":
            return httpx.Response(
                200,
                json={
                    "build_info": "b8681-0104b151",
                    "model_path": "/home/someone/models/Qwen3-0.6B-Q4_K_M.gguf",
                    "total_slots": 1,
                },
            )
        if request.url.path == "/v1/models":
            # llama-server's listing: `meta` is model_meta() (tools/server/server.cpp)
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {
                            "id": "Qwen3-0.6B-Q4_K_M.gguf",
                            "object": "model",
                            "owned_by": "llamacpp",
                            "meta": {
                                "vocab_type": 2,
                                "n_vocab": 151936,
                                "n_ctx_train": 40960,
                                "n_embd": 1024,
                                "n_params": 596049920,
                                "size": 396705472,
                            },
                        }
                    ],
                },
            )
        if request.url.path == "/v1/chat/completions":
            seen.append(json.loads(request.content))
            body = "".join(f"data: {json.dumps(c)}\n\n" for c in LLAMA_STREAM) + "data: [DONE]\n\n"
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(404)

    return handler


def _run(engine: Any, api: str = "chat") -> Measurement:
    async def go() -> Measurement:
        try:
            req = GenerationRequest(text="why blue?", max_tokens=32, api=api)
            return await measure(engine, req, total_timeout_s=5)
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_llamacpp_stream_timings_and_cache_prompt() -> None:
    seen: list[dict[str, Any]] = []
    engine = LlamaCppEngine(
        "http://127.0.0.1:8080", "qwen3", transport=httpx.MockTransport(llama_handler(seen))
    )
    m = _run(engine)
    assert seen[0]["cache_prompt"] is False
    assert seen[0]["stream_options"] == {"include_usage": True}
    assert m.chunks == 3 and m.text == "The sky is blue."
    assert (
        m.timings is not None and m.timings.tokens_per_sec == 50.0 and m.timings.prompt_tokens == 12
    )
    assert m.usage == {"completion_tokens": 3, "prompt_tokens": 12, "total_tokens": 15}


def test_llamacpp_describe_keeps_no_path() -> None:
    engine = LlamaCppEngine(
        "http://127.0.0.1:8080", "q", transport=httpx.MockTransport(llama_handler([]))
    )

    async def go() -> Any:
        try:
            await engine.health()
            return await engine.describe()
        finally:
            await engine.aclose()

    info = asyncio.run(go())
    assert info.build == "b8681-0104b151"
    assert info.quantization == "Q4_K_M"
    assert "home" not in repr(info)
    # the only model served, though its id is not the name the cell asked for
    assert info.model.size_bytes == 396705472 and info.model.parameters == 596049920
    assert info.model.source == "llama_server" and info.model.expert_count is None


@pytest.mark.parametrize(
    "listing",
    [
        {"object": "list", "data": [{"id": "a", "meta": None}]},
        {"object": "list", "data": [{"id": "a", "meta": {"size": -1, "n_params": "many"}}]},
        {"object": "list", "data": [{"id": "a"}, {"id": "b", "meta": {"size": 5}}]},
        ["not", "an", "object"],
    ],
    ids=["meta-null", "meta-nonsense", "two-models-neither-named", "not-an-object"],
)
def test_llamacpp_model_facts_absent_or_ambiguous(listing: object) -> None:
    """Without a usable meta, or with several models none of which is the cell's, no facts."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=listing)
        return httpx.Response(404)

    engine = LlamaCppEngine("http://127.0.0.1:8080", "q", transport=httpx.MockTransport(handler))

    async def go() -> Any:
        try:
            return await engine.describe()
        finally:
            await engine.aclose()

    info = asyncio.run(go())
    assert info.model.source is None and info.model.size_bytes is None


def test_llamacpp_health_503_while_loading() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(503, json={"error": {"message": "Loading model"}})
    )
    engine = LlamaCppEngine("http://127.0.0.1:8080", "q", transport=transport)

    async def go() -> None:
        try:
            await engine.health()
        finally:
            await engine.aclose()

    with pytest.raises(EngineUnavailableError, match="HTTP 503"):
        asyncio.run(go())


OLLAMA_CHAT = [
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": ""},
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "", "thinking": "Hmm"},
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "Rayleigh"},
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": " scattering."},
        "done": False,
    },
    {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 342546000,
        "eval_count": 282,
        "eval_duration": 4535599000,
    },
]


class OllamaFake:
    """Ollama's documented endpoints, with /api/ps reflecting loads and unloads."""

    def __init__(self, *, unload_works: bool = True) -> None:
        self.loaded = {"llama3.2"}
        self.unload_works = unload_works
        self.requests: list[tuple[str, dict[str, Any]]] = []
        # /api/show of llama3.2 (docs/api.md "Show Model Information"), trimmed
        self.show: dict[str, Any] | None = {
            "details": {"parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
            "model_info": {
                "general.architecture": "llama",
                "general.parameter_count": 3212749888,
                "llama.block_count": 28,
            },
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append((request.url.path, body))
        path = request.url.path
        if path == "/api/version":
            return httpx.Response(200, json={"version": "0.12.6"})
        if path == "/api/tags":
            return httpx.Response(
                200,
                json={
                    "models": [
                        {
                            "name": "llama3.2",
                            "model": "llama3.2",
                            "digest": "a80c4f17acd55265feec403c7aef86be"
                            "0c25983ab279d83f3bcd3abbcb5b8b72",
                            "size": 2019393189,
                            "details": {"quantization_level": "Q4_K_M"},
                        }
                    ]
                },
            )
        if path == "/api/show" and self.show is not None:
            return httpx.Response(200, json=self.show)
        if path == "/api/ps":
            return httpx.Response(
                200, json={"models": [{"name": m, "model": m} for m in sorted(self.loaded)]}
            )
        if path == "/api/generate" and body.get("keep_alive") == 0 and "prompt" not in body:
            if self.unload_works:
                self.loaded.discard(body["model"])
            return httpx.Response(
                200,
                json={
                    "model": body["model"],
                    "response": "",
                    "done": True,
                    "done_reason": "unload",
                },
            )
        if path == "/api/chat":
            self.loaded.add(body["model"])
            text = "".join(json.dumps(c) + "\n" for c in OLLAMA_CHAT)
            return httpx.Response(200, text=text, headers={"content-type": "application/x-ndjson"})
        return httpx.Response(404, json={"error": "not found"})


def test_ollama_stream_durations_in_ns() -> None:
    fake = OllamaFake()
    engine = OllamaEngine("http://127.0.0.1:11434", "llama3.2", transport=httpx.MockTransport(fake))
    m = _run(engine)
    assert m.error is None
    # the empty first chunk is not a token; the thinking chunk is (TTFT), content comes after
    assert m.chunks == 3
    assert m.first_content_ms is not None and m.first_delta_ms is not None
    assert m.first_content_ms >= m.first_delta_ms
    assert m.text == "Rayleigh scattering."
    assert m.timings is not None
    assert m.timings.decode_ms == pytest.approx(4535.599)
    assert m.timings.load_ms == pytest.approx(1.334875)
    assert m.timings.tokens_per_sec == pytest.approx(282 / 4.535599)
    assert m.usage == {"completion_tokens": 282, "prompt_tokens": 26}
    path, body = fake.requests[-1]
    assert path == "/api/chat" and body["options"]["num_predict"] == 32


def test_ollama_missing_zero_fields_are_null() -> None:
    """Ollama omits zero-valued durations (omitempty): they become None, never an error."""
    from collector.engines.ollama import parse_final

    timings, usage = parse_final({"done": True, "eval_count": 5, "eval_duration": 100_000_000})
    assert timings.prompt_ms is None and timings.load_ms is None
    assert timings.tokens_per_sec == pytest.approx(50.0)
    assert usage == {"completion_tokens": 5}


def test_ollama_verified_unload_and_describe() -> None:
    fake = OllamaFake()
    engine = OllamaEngine("http://127.0.0.1:11434", "llama3.2", transport=httpx.MockTransport(fake))

    async def go() -> tuple[bool, Any]:
        try:
            return await engine.unload(), await engine.describe()
        finally:
            await engine.aclose()

    unloaded, info = asyncio.run(go())
    assert unloaded is True and "llama3.2" not in fake.loaded
    assert info.version == "0.12.6" and info.quantization == "Q4_K_M"
    assert info.model_digest and info.model_digest.startswith("a80c4f17")
    assert info.model.size_bytes == 2019393189 and info.model.parameters == 3212749888
    assert info.model.expert_count == 0 and info.model.source == "ollama"
    assert ("/api/show", {"model": "llama3.2"}) in fake.requests


def test_ollama_model_facts_moe_and_old_server() -> None:
    """A mixture-of-experts model's expert count; an Ollama without /api/show keeps the size."""
    fake = OllamaFake()
    fake.show = {
        "model_info": {
            "general.architecture": "qwen3moe",
            "general.parameter_count": 30532122624,
            "qwen3moe.expert_count": 128,
        }
    }

    def describe() -> Any:
        engine = OllamaEngine(
            "http://127.0.0.1:11434", "llama3.2", transport=httpx.MockTransport(fake)
        )

        async def go() -> Any:
            try:
                return await engine.describe()
            finally:
                await engine.aclose()

        return asyncio.run(go())

    assert describe().model.expert_count == 128
    fake.show = None  # 404
    facts = describe().model
    assert facts.size_bytes == 2019393189 and facts.parameters is None
    assert facts.expert_count is None and facts.source == "ollama"


def test_ollama_unload_not_verified() -> None:
    """An unload that /api/ps does not confirm is reported as False (cold_kind process_warm)."""
    fake = OllamaFake(unload_works=False)
    engine = OllamaEngine("http://127.0.0.1:11434", "llama3.2", transport=httpx.MockTransport(fake))
    engine.unload_wait_s = 0.3

    async def go() -> bool:
        try:
            return await engine.unload()
        finally:
            await engine.aclose()

    assert asyncio.run(go()) is False


def test_registry_unknown_engine_lists_allowed() -> None:
    with pytest.raises(ConfigError, match="allowed: llamacpp, ollama, openai"):
        engine_class("tgi")


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("gemma-3-270m-q4_k_m.gguf", "Q4_K_M"),
        ("Llama-3-8B-Instruct-Q8_0.gguf", "Q8_0"),
        ("model-f16.gguf", "F16"),
        ("plain.gguf", None),
    ],
)
def test_quantization_from_name(name: str, quant: str | None) -> None:
    assert quantization_from_name(name) == quant
