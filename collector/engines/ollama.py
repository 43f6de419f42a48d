"""Ollama's native API: NDJSON streaming from ``/api/chat`` or ``/api/generate``.

Durations in the final chunk are nanoseconds and zero-valued fields may be absent
(``omitempty``), so every one is optional. ``keep_alive: 0`` unloads the model; the unload is
verified with ``/api/ps`` before a cold call counts as ``unloaded``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from collector.engines.base import (
    Engine,
    EngineInfo,
    Event,
    GenerationRequest,
    ServerTimings,
    aiter_line_batches,
    finish_body,
    stream_object,
)
from collector.engines.gguf import NO_FACTS, ModelFacts
from collector.engines.reply import INT64_MAX, reply_count
from collector.errors import EngineDiedError, EngineError, EngineProtocolError


def _whole(value: Any, *, zero: bool = False) -> int | None:
    """A JSON number that is a whole number above 0 (or 0 with ``zero``) within int64, else
    None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        # float() of a huge int would raise; a float is checked as a float.
        if not (math.isfinite(value) and value.is_integer()):
            return None
        value = int(value)
    if value < 0 or value > INT64_MAX or (value == 0 and not zero):
        return None
    return int(value)


def parse_final(
    chunk: dict[str, Any], where: str = "done chunk"
) -> tuple[ServerTimings, dict[str, Any]]:
    """Server timings and usage from the ``done: true`` chunk.

    Durations are nanosecond counts and the token counts are counts: each is checked
    (``collector.engines.reply``), and one the collector cannot record raises
    ``EngineBadReplyError``. ``prompt_eval_count`` is the whole prompt, cached tokens
    included (Ollama ≥ 0.2); ``prompt_eval_cached_count``, when present, the cached ones, so
    the evaluated tokens that ``prompt_eval_duration`` timed are the difference.
    """

    def ms(key: str) -> float | None:
        ns = reply_count(chunk.get(key), key, where)
        return None if ns is None else ns / 1e6

    decode_ms = ms("eval_duration")
    eval_count = reply_count(chunk.get("eval_count"), "eval_count", where)
    prompt = reply_count(chunk.get("prompt_eval_count"), "prompt_eval_count", where)
    cached = reply_count(chunk.get("prompt_eval_cached_count"), "prompt_eval_cached_count", where)
    rate = eval_count / (decode_ms / 1000) if eval_count and decode_ms else None
    evaluated = prompt
    if prompt is not None and cached is not None:
        evaluated = prompt - cached if cached <= prompt else None
    timings = ServerTimings(
        prompt_ms=ms("prompt_eval_duration"),
        decode_ms=decode_ms,
        load_ms=ms("load_duration"),
        prompt_tokens=evaluated,
        decode_tokens=eval_count,
        tokens_per_sec=rate,
        cached_tokens=cached if evaluated is not None else None,
    )
    usage: dict[str, Any] = {}
    if eval_count is not None:
        usage["completion_tokens"] = eval_count
    if prompt is not None:
        usage["prompt_tokens"] = prompt
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return timings, usage


class OllamaEngine(Engine):
    """Ollama (gray box: version, digest, server timings, verified unload)."""

    kind: ClassVar[str] = "ollama"
    supports_server_timings: ClassVar[bool] = True
    supports_unload: ClassVar[bool] = True
    unload_wait_s: float = 5.0  # how long /api/ps may take to confirm an unload

    async def health(self) -> None:
        await self._check_health("/api/version")

    async def describe(self) -> EngineInfo:
        version = None
        digest = None
        quant = None
        size = None
        try:
            data = await self._get_json("/api/version", timeout=self.timeouts.health_s)
            if isinstance(data, dict) and isinstance(data.get("version"), str):
                version = data["version"]
            tags = await self._get_json("/api/tags", timeout=self.timeouts.health_s)
            for entry in tags.get("models", []) if isinstance(tags, dict) else []:
                if entry.get("name") == self.model or entry.get("model") == self.model:
                    # Only text is recorded: a reply of another type must not fail the cell.
                    found = entry.get("digest")
                    digest = found if isinstance(found, str) else None
                    found = (entry.get("details") or {}).get("quantization_level")
                    quant = found if isinstance(found, str) else None
                    size = _whole(entry.get("size"))
                    break
        except (EngineError, AttributeError):
            pass
        model = await self._model_facts(size)
        return EngineInfo(version=version, model_digest=digest, quantization=quant, model=model)

    async def _model_facts(self, size: int | None) -> ModelFacts:
        """``/api/show``'s ``model_info`` (the GGUF header's keys) plus the size from /api/tags."""
        info: Any = None
        try:
            shown = await self._post_json("/api/show", {"model": self.model})
            info = shown.get("model_info") if isinstance(shown, dict) else None
        except EngineError:
            pass
        params = experts = None
        if isinstance(info, dict):
            params = _whole(info.get("general.parameter_count"))
            arch = info.get("general.architecture")
            if isinstance(arch, str):
                # The header of a dense model has no expert_count key: 0, as for a GGUF file.
                experts = _whole(info.get(f"{arch}.expert_count"), zero=True) or 0
        if size is None and params is None:
            return NO_FACTS
        return ModelFacts(size_bytes=size, parameters=params, expert_count=experts, source="ollama")

    def payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """Path and JSON body for one request."""
        options: dict[str, Any] = {
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            options["seed"] = request.seed
        body: dict[str, Any] = {"model": self.model, "stream": True, "options": options}
        if request.api == "completions":
            path = "/api/generate"
            body["prompt"] = request.text
        else:
            path = "/api/chat"
            body["messages"] = [{"role": "user", "content": request.text}]
        extra = dict(request.options)
        options.update(extra.pop("options", {}))
        body.update(extra)
        return path, body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Event]:
        path, body = self.payload(request)
        done = False
        async with self._request("POST", path, json=body, headers=request.headers) as response:
            batches = aiter_line_batches(response)
            async for t_ns, lines in batches:
                for line in lines:
                    if not line.strip():
                        continue
                    chunk = stream_object(line, path, "NDJSON line")
                    event = Event(t_ns=t_ns)
                    message = chunk.get("message")
                    if isinstance(message, dict):
                        event.content = message.get("content") or ""
                        event.reasoning = message.get("thinking") or ""
                        event.tool_call = bool(message.get("tool_calls"))
                    else:
                        event.content = chunk.get("response") or ""
                        event.reasoning = chunk.get("thinking") or ""
                    if chunk.get("done"):
                        done = True
                        event.finish_reason = chunk.get("done_reason") or "stop"
                        event.timings, event.usage = parse_final(chunk, path)
                    if (
                        type(event.content) is not str
                        or type(event.reasoning) is not str
                        or not (event.finish_reason is None or type(event.finish_reason) is str)
                    ):
                        raise EngineProtocolError(f"{path}: a text field of the line is not text")
                    yield event
                    if done:
                        break
                if done:
                    break
            if done:
                await finish_body(batches)  # keep the connection for the next call
        if not done:
            raise EngineDiedError(f"{path}: stream ended before done: true")

    async def loaded_models(self) -> list[str]:
        """Names of the models ``/api/ps`` says are resident."""
        data = await self._get_json("/api/ps")
        models = data.get("models", []) if isinstance(data, dict) else []
        return [str(m.get("name") or m.get("model")) for m in models if isinstance(m, dict)]

    async def unload(self) -> bool:
        """``keep_alive: 0`` with an empty prompt, then poll ``/api/ps`` until it is gone."""
        try:
            await self._post_json(
                "/api/generate", {"model": self.model, "keep_alive": 0, "stream": False}
            )
            for _ in range(max(int(self.unload_wait_s / 0.1), 1)):
                if self.model not in await self.loaded_models():
                    return True
                await asyncio.sleep(0.1)
        except EngineError:
            return False
        return False
