"""The engine adapter contract: one small base class with capability flags.

An adapter turns one generation request into a stream of ``Event`` objects, each stamped with
``time.perf_counter_ns()`` when it was parsed. It knows its engine's wire protocol and nothing
about measurement; ``collector.measure`` turns events into metrics. httpx errors are translated
into ``collector.errors.EngineError`` subclasses here, at the edge, so the runner never sees
httpx types.
"""

from __future__ import annotations

import ipaddress
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from collector.errors import (
    EngineConnectError,
    EngineDiedError,
    EngineError,
    EngineHTTPError,
    EngineProtocolError,
    EngineTimeoutError,
    EngineUnavailableError,
)
from collector.models import Timeouts


@dataclass(frozen=True)
class GenerationRequest:
    """What to ask the engine for; identical across engines for one workload item."""

    text: str
    max_tokens: int
    api: str  # "chat" or "completions"
    temperature: float = 0.0
    seed: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerTimings:
    """The engine's own account of one request (milliseconds), when it gives one."""

    prompt_ms: float | None = None
    decode_ms: float | None = None
    load_ms: float | None = None
    prompt_tokens: int | None = None
    decode_tokens: int | None = None
    tokens_per_sec: float | None = None
    cached_tokens: int | None = None


@dataclass(slots=True)
class Event:
    """One parsed stream event; ``t_ns`` is perf_counter_ns when it was parsed.

    It carries a token (and so moves TTFT, ITL and the end time) when ``content``,
    ``reasoning`` or ``tool_call`` is set; ``collector.measure`` tests that inline.
    """

    t_ns: int
    content: str = ""
    reasoning: str = ""
    tool_call: bool = False
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: ServerTimings | None = None


@dataclass(frozen=True)
class EngineInfo:
    """What the engine says about itself, gathered outside any timed region."""

    version: str | None = None
    build: str | None = None
    model_digest: str | None = None
    quantization: str | None = None


def endpoint_kind(url: str) -> str:
    """Classify a base URL as loopback, private or public without keeping the address."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return "loopback"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return (
            "private"
            if host.endswith((".local", ".lan", ".internal")) or "." not in host
            else "public"
        )
    if ip.is_loopback:
        return "loopback"
    if ip.is_private or ip.is_link_local:
        return "private"
    return "public"


def make_timeout(t: Timeouts) -> httpx.Timeout:
    """httpx timeouts from the run's configuration (the runner enforces the total deadline)."""
    return httpx.Timeout(connect=t.connect_s, read=t.read_s, write=t.read_s, pool=t.connect_s)


class Engine(ABC):
    """Base class of engine adapters.

    Capability flags say what an adapter can collect; a missing capability is never an error.
    ``transport`` is injectable (``httpx.MockTransport`` in unit tests of error paths).
    """

    kind: ClassVar[str]
    supports_server_timings: ClassVar[bool] = False
    supports_unload: ClassVar[bool] = False
    supports_usage: ClassVar[bool] = True
    default_api: ClassVar[str] = "chat"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeouts = timeouts or Timeouts()
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=make_timeout(self.timeouts),
            transport=transport,
            limits=httpx.Limits(max_connections=1024, max_keepalive_connections=1024),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    # ---- required -------------------------------------------------------------------------

    @abstractmethod
    async def health(self) -> None:
        """Raise EngineUnavailableError unless the engine answers within the health timeout."""

    @abstractmethod
    async def describe(self) -> EngineInfo:
        """Engine version, build and model digest (best effort; None where unknown)."""

    @abstractmethod
    def stream(self, request: GenerationRequest) -> AsyncIterator[Event]:
        """Send one request and yield its events. Raises EngineError subclasses."""

    # ---- optional -------------------------------------------------------------------------

    async def count_tokens(self, text: str) -> int | None:
        """Count tokens of ``text`` with the engine's own tokenizer, if it offers one."""
        return None

    async def unload(self) -> bool:
        """Unload the model and verify it is gone; False when the engine cannot."""
        return False

    # ---- shared helpers -------------------------------------------------------------------

    async def _get_json(self, path: str, timeout: float | None = None) -> Any:
        """GET a JSON document; errors are translated to EngineError."""
        async with self._request("GET", path, timeout=timeout) as response:
            body = await response.aread()
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EngineProtocolError(f"{self.base_url}{path}: response is not JSON") from exc

    async def _post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST JSON and read a JSON answer; errors are translated to EngineError."""
        async with self._request("POST", path, json=payload) as response:
            body = await response.aread()
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EngineProtocolError(f"{self.base_url}{path}: response is not JSON") from exc

    async def _check_health(self, path: str) -> None:
        try:
            await self._get_json(path, timeout=self.timeouts.health_s)
        except EngineError as exc:
            raise EngineUnavailableError(
                f"{self.kind} engine at {self.base_url} failed its health check ({path}): {exc}"
            ) from exc

    def prepare(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Request:
        """Build an HTTP request (URL, headers, encoded body); sendable any number of times."""
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout)
        return self._client.build_request(
            method, path, json=json, headers=dict(headers or {}), **kwargs
        )

    @asynccontextmanager
    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        prepared: httpx.Request | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Open a streamed request; map httpx failures and HTTP errors to EngineError.

        ``prepared`` is a request built earlier by ``prepare`` (the other arguments are then
        ignored): what the runner sends many times is built once.
        """
        try:
            request = prepared or self.prepare(
                method, path, json=json, headers=headers, timeout=timeout
            )
            async with _streamed(self._client, request) as response:
                if response.status_code >= 400:
                    body = (await response.aread())[:300].decode("utf-8", "replace")
                    raise EngineHTTPError(
                        f"{method} {path} returned HTTP {response.status_code}: {body.strip()}",
                        http_status=response.status_code,
                    )
                try:
                    yield response
                except httpx.HTTPError as exc:
                    raise _translate(
                        exc, path, mid_stream=True, status=response.status_code
                    ) from exc
        except EngineError:
            raise
        except httpx.HTTPError as exc:
            raise _translate(exc, path, mid_stream=False, status=None) from exc


@asynccontextmanager
async def _streamed(
    client: httpx.AsyncClient, request: httpx.Request
) -> AsyncIterator[httpx.Response]:
    """``AsyncClient.stream`` for an already built request."""
    response = await client.send(request, stream=True)
    try:
        yield response
    finally:
        await response.aclose()


def _translate(
    exc: httpx.HTTPError, path: str, *, mid_stream: bool, status: int | None
) -> EngineError:
    """The one place httpx exceptions become collector errors."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        which = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "total")
        return EngineTimeoutError(f"{path}: {which} timeout ({detail})", http_status=status)
    if isinstance(exc, httpx.ConnectError):
        return EngineConnectError(f"{path}: cannot connect ({detail})")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        if mid_stream:
            return EngineDiedError(f"{path}: stream broke off ({detail})", http_status=status)
        return EngineConnectError(f"{path}: connection failed ({detail})")
    return EngineError(f"{path}: {detail}", http_status=status)


async def aiter_line_batches(response: httpx.Response) -> AsyncIterator[list[str]]:
    """The lines of a streamed body, one list per network read.

    Lines end at ``\n``, ``\r\n`` or ``\r`` (the SSE and NDJSON rules; unlike
    ``Response.aiter_lines``, which splits text with ``str.splitlines`` and so also breaks a
    JSON line at a raw U+2028 or U+0085). It exists for speed: ``aiter_lines`` costs three
    nested async-generator steps per line, this one step per read, which is most of the
    collector's CPU per streamed event (benchmarks/collector_overhead.py). Bytes are split
    before decoding, which is safe because no UTF-8 sequence contains a newline byte. A
    ``\r\n`` split across two reads may yield one extra empty line, which line-based
    protocols ignore.
    """
    encoding = response.encoding or "utf-8"
    pending = b""
    async for data in response.aiter_bytes():
        if pending:
            data = pending + data
        lines = data.splitlines()
        if not lines:
            continue
        pending = b"" if data.endswith((b"\n", b"\r")) else lines.pop()
        if lines:
            yield [line.decode(encoding, "replace") for line in lines]
    if pending:
        yield [pending.decode(encoding, "replace")]


def now_ns() -> int:
    """The interval clock of every measurement (metrics.md)."""
    return time.perf_counter_ns()
