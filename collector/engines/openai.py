"""OpenAI-compatible engines: ``/v1/chat/completions`` and ``/v1/completions`` over SSE.

Covers vLLM, SGLang, TGI, LM Studio, llamafile and llama-cpp-python's server. Usage is asked
for in the stream (``stream_options.include_usage``); servers that send none (llama-cpp-python)
get their output counted by their own tokenize endpoint instead (see ``count_tokens``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx

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
from collector.engines.reply import checked_usage, reply_count, reply_number
from collector.errors import EngineDiedError, EngineError, EngineProtocolError

_TOKENIZE_ENDPOINTS = ("/extras/tokenize/count", "/tokenize")


class OpenAIEngine(Engine):
    """Any OpenAI-compatible server (black box: client timings and whatever usage it sends)."""

    kind: ClassVar[str] = "openai"
    default_api: ClassVar[str] = "chat"
    supports_exact_output: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tokenize: tuple[str, int] | bool | None = False  # False: not probed yet
        self._chat_overhead: int | bool | None = False  # False: not measured yet
        # The last request sent, built: (the GenerationRequest it was built from, path, it).
        self._prepared: tuple[GenerationRequest, str, httpx.Request] | None = None

    async def health(self) -> None:
        await self._check_health("/v1/models")

    async def describe(self) -> EngineInfo:
        # The OpenAI API has no version endpoint; vLLM and SGLang answer /version.
        version: str | None = None
        try:
            data = await self._get_json("/version", timeout=self.timeouts.health_s)
            if isinstance(data, dict) and isinstance(data.get("version"), str):
                version = data["version"]
        except EngineError:
            pass
        return EngineInfo(version=version)

    def payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """Path and JSON body for one request."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.exact_output:
            # vLLM and llama.cpp honour ignore_eos; llama-cpp-python's server and vLLM
            # min_tokens (end-of-sequence masked until then). Unknown fields are ignored.
            body["ignore_eos"] = True
            body["min_tokens"] = request.max_tokens
        if request.api == "completions":
            path = "/v1/completions"
            body["prompt"] = request.text
        else:
            path = "/v1/chat/completions"
            body["messages"] = [{"role": "user", "content": request.text}]
        body.update(request.options)
        return path, body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Event]:
        cached = self._prepared
        if cached is not None and cached[0] is request:
            _, path, http_request = cached
        else:
            # The runner sends one GenerationRequest many times (warm runs, concurrency
            # workers): encode it once. Building an httpx request is most of what a call costs
            # before its first await, so at 64 concurrent streams it set the start lag.
            path, body = self.payload(request)
            http_request = self.prepare("POST", path, json=body, headers=request.headers)
            self._prepared = (request, path, http_request)
        chat = request.api != "completions"
        done = False
        async with self._request("POST", path, prepared=http_request) as response:
            batches = aiter_line_batches(response)
            async for t_ns, lines in batches:
                for line in lines:
                    if not line.startswith("data:"):
                        continue  # blank separators, ":" comments, "event:" lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    chunk = stream_object(data, path, "SSE data")
                    yield self.parse_chunk(chunk, t_ns, chat, where=path)
                if done:
                    break
            if done:
                await finish_body(batches)  # keep the connection for the next call
        if not done:
            raise EngineDiedError(f"{path}: stream ended without [DONE]")

    def parse_chunk(
        self, chunk: dict[str, Any], t_ns: int, chat: bool, where: str = "SSE data"
    ) -> Event:
        """One SSE JSON chunk → Event (content, reasoning, tool calls, finish, usage).

        The reply is checked here, at the edge: text fields that are not text, or a chunk of
        another shape, raise ``EngineProtocolError``; usage and timings numbers the collector
        cannot record raise ``EngineBadReplyError`` (``collector.engines.reply``).
        """
        event = Event(t_ns=t_ns)
        choices = chunk.get("choices") or ()
        if choices:
            choice = choices[0] if type(choices) is list else None
            if type(choice) is not dict:
                raise EngineProtocolError(f"{where}: 'choices' is not a list of objects")
            if chat:
                delta = choice.get("delta") or {}
                if type(delta) is not dict:
                    raise EngineProtocolError(f"{where}: 'delta' is not an object")
                event.content = delta.get("content") or ""
                event.reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
                event.tool_call = bool(delta.get("tool_calls"))
            else:
                event.content = choice.get("text") or ""
            event.finish_reason = choice.get("finish_reason")
            if (
                type(event.content) is not str
                or type(event.reasoning) is not str
                or not (event.finish_reason is None or type(event.finish_reason) is str)
            ):
                raise EngineProtocolError(f"{where}: a text field of the chunk is not text")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            event.usage = checked_usage(usage, where)
        timings = chunk.get("timings")
        if isinstance(timings, dict):
            event.timings = parse_llamacpp_timings(timings, where)
        return event

    async def count_tokens(self, text: str) -> int | None:
        """Count with the server's tokenizer: llama-cpp-python or llama.cpp/vLLM ``/tokenize``.

        The special tokens the endpoint adds (BOS) are measured once on an empty string and
        subtracted, so the count is of the text alone.
        """
        if self._tokenize is False:
            self._tokenize = await self._probe_tokenize()
        if not isinstance(self._tokenize, tuple):
            return None
        path, overhead = self._tokenize
        count = await self._raw_count(path, text)
        return None if count is None else max(count - overhead, 0)

    async def prompt_token_count(self, text: str, api: str, *, probe: bool = True) -> int | None:
        """Prompt tokens the engine evaluates for ``text``: its tokenize endpoint's count with
        special tokens (the BOS a completion prompt gets), plus, for chat, the template's
        tokens (measured once: a one-token chat request's usage minus its text's count).
        Without a tokenize endpoint, one one-token request per text (``probe_prompt_tokens``).
        ``probe=False`` sends no generation request (the chat template then counts only when
        it was measured before).
        """
        if self._tokenize is False:
            self._tokenize = await self._probe_tokenize()
        if not isinstance(self._tokenize, tuple):
            return await self.probe_prompt_tokens(text, api) if probe else None
        path, _ = self._tokenize
        if api != "completions" and self._chat_overhead is False:
            if not probe:
                return None
            self._chat_overhead = await self._measure_chat_overhead(path)
        if api != "completions" and not isinstance(self._chat_overhead, int):
            return None
        count = await self._raw_count(path, text)
        if count is None or api == "completions":
            return count
        assert isinstance(self._chat_overhead, int)
        return count + self._chat_overhead

    async def _measure_chat_overhead(self, path: str) -> int | None:
        """Tokens a chat template adds around one user message, special tokens included."""
        sample = "How many tokens does this message have?"
        usage_count = await self.probe_prompt_tokens(sample, "chat")
        text_count = await self._raw_count(path, sample)
        if usage_count is None or text_count is None or usage_count < text_count:
            return None
        return usage_count - text_count

    async def _probe_tokenize(self) -> tuple[str, int] | None:
        for path in _TOKENIZE_ENDPOINTS:
            overhead = await self._raw_count(path, "")
            if overhead is not None:
                return path, overhead
        return None

    async def _raw_count(self, path: str, text: str) -> int | None:
        body: dict[str, Any] = {"input": text} if path.startswith("/extras") else {"content": text}
        if path == "/tokenize":
            # llama-server's field names and vLLM's; each ignores the other's. Special tokens
            # (BOS) are counted, as the engine adds them to a prompt; llama-cpp-python's
            # endpoint always counts them.
            body["model"] = self.model
            body["prompt"] = text
            body["add_special"] = True
            body["add_special_tokens"] = True
        try:
            data = await self._post_json(path, body)
        except EngineError:
            return None
        if isinstance(data, dict):
            if data.get("count") is not None:
                return reply_count(data["count"], "count", path)  # recorded as a token count
            if isinstance(data.get("tokens"), list):
                return len(data["tokens"])
        return None


def parse_llamacpp_timings(t: dict[str, Any], where: str = "timings") -> ServerTimings:
    """llama.cpp's ``timings`` object (milliseconds; ``prompt_n`` excludes cached tokens).

    Raises ``EngineBadReplyError`` for a number the collector cannot record.
    """

    def num(key: str) -> float | None:
        return reply_number(t.get(key), f"timings.{key}", where)

    def count(key: str) -> int | None:
        return reply_count(t.get(key), f"timings.{key}", where)

    return ServerTimings(
        prompt_ms=num("prompt_ms"),
        decode_ms=num("predicted_ms"),
        prompt_tokens=count("prompt_n"),
        decode_tokens=count("predicted_n"),
        tokens_per_sec=num("predicted_per_second"),
        cached_tokens=count("cache_n"),
    )
