"""The engine adapter contract: one small base class with capability flags.

An adapter turns one generation request into a stream of ``Event`` objects, each stamped with
``time.perf_counter_ns()`` when it was received (``aiter_line_batches``). It knows its engine's
wire protocol and nothing about measurement; ``collector.measure`` turns events into metrics.
The one timing duty of this module is ``t0``: every request built here carries httpcore's
``trace`` extension, which stamps the ``CallClock`` of the running measurement when the request
headers start to be written (see ``CallClock``). httpx errors are translated into
``collector.errors.EngineError`` subclasses here, at the edge, so the runner never sees httpx
types.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from collector.engines.gguf import NO_FACTS, ModelFacts
from collector.errors import (
    EngineConnectError,
    EngineConnectionClosedError,
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
    # Ask for exactly max_tokens (end-of-sequence ignored) where the engine allows it.
    exact_output: bool = False


@dataclass(frozen=True)
class ServerTimings:
    """The engine's own account of one request (milliseconds), when it gives one.

    ``prompt_tokens`` are the prompt tokens it evaluated for this request (``prompt_ms`` is
    their time); ``cached_tokens`` those it took from its cache instead, when it says.
    """

    prompt_ms: float | None = None
    decode_ms: float | None = None
    load_ms: float | None = None
    prompt_tokens: int | None = None
    decode_tokens: int | None = None
    tokens_per_sec: float | None = None
    cached_tokens: int | None = None


@dataclass(slots=True)
class Event:
    """One parsed stream event; ``t_ns`` is perf_counter_ns when its bytes were received.

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
    model: ModelFacts = NO_FACTS


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


def _health_hint(exc: EngineError, kind: str) -> str:
    """What to do about a failed health check, by what failed."""
    if isinstance(exc, (EngineConnectError, EngineTimeoutError)):
        return (
            "nothing answered there: start the engine, or correct the address "
            "(--url, or 'url' in the cells file)"
        )
    if isinstance(exc, (EngineHTTPError, EngineProtocolError)):
        return (
            f"something answered, but not as a {kind} engine does: check that the address is "
            "the engine's base URL (no /v1 path) and that --engine (or 'engine' in the cells "
            "file) names its kind: openai, llamacpp or ollama"
        )
    return "check that the engine is running and healthy at that address"


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
    # Whether the adapter can ask for exactly max_tokens (GenerationRequest.exact_output).
    supports_exact_output: ClassVar[bool] = False
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
        self._transport = transport
        # One TLS context for every client of this engine (building one takes tens of ms).
        self._verify: ssl.SSLContext | bool = (
            httpx.create_ssl_context(trust_env=True) if transport is None else True
        )
        self._client = self._new_client(1024)

    def _new_client(self, max_connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=make_timeout(self.timeouts),
            transport=self._transport,
            verify=self._verify,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    @asynccontextmanager
    async def lanes(self, n: int) -> AsyncIterator[list[Lane]]:
        """``n`` lanes for ``n`` concurrency workers: each its own client of one connection.

        A worker calls ``Lane.use()`` in its own task; this engine's requests from that task
        then go through the lane's client. With one shared pool every request pays httpcore's
        pool bookkeeping, which is linear in the pool's connections, before its first await,
        so at 64 workers the last of a round started milliseconds late (``start_lag_ms``). The
        clients are built before the caller's clock starts and all closed on exit. An injected
        transport (tests) is shared, so the lanes then use this engine's own client.
        """
        if self._transport is not None:
            yield [Lane(self, self._client) for _ in range(n)]
            return
        clients = [self._new_client(1) for _ in range(n)]
        try:
            yield [Lane(self, client) for client in clients]
        finally:
            # Shielded: a cancelled run still closes every connection it opened.
            await asyncio.shield(
                asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
            )

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

    async def prompt_token_count(self, text: str, api: str, *, probe: bool = True) -> int | None:
        """Prompt tokens the engine evaluates when ``text`` is sent as a prompt of ``api``
        (special tokens and a chat template included); None when it cannot tell.

        The base implementation asks the engine itself: one generation of one token, whose
        reported prompt count is the answer (``probe_prompt_tokens``), unless ``probe`` is
        false (between measured calls, where a generation would disturb them). Adapters with
        a tokenize endpoint override it with something cheaper.
        """
        return await self.probe_prompt_tokens(text, api) if probe else None

    async def probe_prompt_tokens(self, text: str, api: str) -> int | None:
        """Send ``text`` for one output token and return the prompt count the engine reports
        (usage, else its timings: evaluated plus cached tokens); None on any failure."""
        request = GenerationRequest(text=text, max_tokens=1, api=api, temperature=0.0)
        usage: dict[str, Any] | None = None
        timings: ServerTimings | None = None
        try:
            async for event in self.stream(request):
                usage = event.usage or usage
                timings = event.timings or timings
        except EngineError:
            return None
        count = (usage or {}).get("prompt_tokens")
        if isinstance(count, int):
            return count
        if timings is not None and timings.prompt_tokens is not None:
            return timings.prompt_tokens + (timings.cached_tokens or 0)
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
                f"{self.kind} engine at {self.base_url} failed its health check: GET {exc}; "
                + _health_hint(exc, self.kind)
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
            method,
            path,
            json=json,
            headers=dict(headers or {}),
            extensions={"trace": _trace_t0},  # t0 at the header write (CallClock)
            **kwargs,
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
            lane = _LANE.get()
            client = lane.client if lane is not None and lane.engine is self else self._client
            clock = CALL_CLOCK.get()
            if clock is not None and clock.source == T0_START:
                # The fallback t0 when no header-write trace event comes (a mock transport).
                clock.t0_ns = now_ns()
                clock.wall_ns = time.time_ns()
                clock.source = T0_SEND
            response = await client.send(request, stream=True)
            try:
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
            finally:
                await response.aclose()
        except EngineError:
            raise
        except httpx.HTTPError as exc:
            raise _translate(
                exc, path, mid_stream=False, status=None, reused=_sent_on_reused_connection()
            ) from exc


class Lane:
    """One concurrency worker's HTTP client (see ``Engine.lanes``)."""

    __slots__ = ("client", "engine")

    def __init__(self, engine: Engine, client: httpx.AsyncClient) -> None:
        self.engine = engine
        self.client = client

    def use(self) -> None:
        """Send this task's requests to ``engine`` through this lane (a task sets it once)."""
        _LANE.set(self)


# The lane of the task that is running, if it is a concurrency worker.
_LANE: ContextVar[Lane | None] = ContextVar("bakeoff_engine_lane", default=None)


# Where a call's t0 came from (CallClock.source), best last.
T0_START = "start"  # measure() began; nothing was sent (e.g. the request could not be built)
T0_SEND = "send"  # just before the request went to httpx (no trace event: a mock transport)
T0_HEADERS = "headers"  # httpcore began writing the request headers: the t0


class CallClock:
    """The ``t0`` of one call: ``perf_counter_ns`` and the matching ``time.time_ns()``.

    The methodology page: "``t0`` is taken immediately before the request is written to the
    connection."
    ``collector.measure`` makes one per attempt, stamped when it starts, and makes it current
    (``CALL_CLOCK``) while the adapter streams. ``Engine._request`` stamps it again just before
    handing the request to httpx, and httpcore's ``trace`` extension (``_trace_t0``, set on
    every request ``Engine.prepare`` builds) stamps it a last time at the first
    ``http11.send_request_headers.started`` (or ``http2.…``) event: after the connection pool
    gave the request a connection and after any TCP connect / TLS handshake, immediately
    before h11 serialises and writes the headers. So a cold call's connection set-up is not
    in its TTFT (it is set-up, not the engine's latency), while everything after the write
    is. A transport that emits no trace events (``httpx.MockTransport`` in tests) keeps the
    stamp taken before httpx, which includes httpx/httpcore's request set-up (tens of µs).
    ``source`` says which stamp it is (``T0_HEADERS``, ``T0_SEND`` or ``T0_START``).
    ``new_connection`` is set when the attempt opened a connection (httpcore's
    ``connection.connect_*`` trace event): an attempt whose headers were written without one
    went out on a kept-alive connection from the pool.
    """

    __slots__ = ("new_connection", "source", "t0_ns", "wall_ns")

    def __init__(self) -> None:
        self.t0_ns = now_ns()
        self.wall_ns = time.time_ns()
        self.source = T0_START
        self.new_connection = False


# The clock of the measurement running in this task (collector.measure sets it per call).
CALL_CLOCK: ContextVar[CallClock | None] = ContextVar("bakeoff_call_clock", default=None)

# httpcore's trace event names are "<logger suffix>.<step>.started|complete|failed".
_HEADERS_STARTED = frozenset(
    ("http11.send_request_headers.started", "http2.send_request_headers.started")
)
_CONNECT_STARTED = frozenset(
    ("connection.connect_tcp.started", "connection.connect_unix_socket.started")
)


async def _trace_t0(event: str, info: Mapping[str, Any]) -> None:
    """httpcore ``trace`` callback: stamp the current call's t0 at its first header write,
    and note when the call opened a connection of its own.

    httpcore calls it (and awaits it, in the sending task) for every step of a request, about
    ten per call and none per streamed event, so it must stay this cheap.
    """
    if event in _HEADERS_STARTED:
        clock = CALL_CLOCK.get()
        if clock is not None and clock.source != T0_HEADERS:
            clock.t0_ns = now_ns()
            clock.wall_ns = time.time_ns()
            clock.source = T0_HEADERS
    elif event in _CONNECT_STARTED:
        clock = CALL_CLOCK.get()
        if clock is not None:
            clock.new_connection = True


def _sent_on_reused_connection() -> bool:
    """Whether the current call's request went out on a kept-alive connection of the pool:
    its headers were written (the trace said so) and it opened no connection itself."""
    clock = CALL_CLOCK.get()
    return clock is not None and clock.source == T0_HEADERS and not clock.new_connection


# httpcore's message when a connection reached EOF before any byte of the response
# (httpcore/_async/http11.py, ``_receive_event``).
_NO_RESPONSE = "without sending a response"


def _translate(
    exc: httpx.HTTPError,
    path: str,
    *,
    mid_stream: bool,
    status: int | None,
    reused: bool = False,
) -> EngineError:
    """The one place httpx exceptions become collector errors.

    Before any response byte, a kept-alive connection the server closed while idle shows as
    ``httpx.RemoteProtocolError`` ("Server disconnected without sending a response.": the
    server's FIN came before an answer) or ``httpx.ReadError`` (a reset: the server closed
    with our request unread); httpcore swallows the ``WriteError`` of a write into a reset
    socket and reads, which then ends one of these two ways. On a reused connection
    (``reused``) that is ``EngineConnectionClosedError``; on a new one a failed connection.
    """
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
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        if mid_stream:
            return EngineDiedError(f"{path}: stream broke off ({detail})", http_status=status)
        if reused and (not isinstance(exc, httpx.RemoteProtocolError) or _NO_RESPONSE in str(exc)):
            return EngineConnectionClosedError(
                f"{path}: the server had closed the kept-alive connection ({detail})"
            )
        return EngineConnectError(f"{path}: connection failed ({detail})")
    return EngineError(f"{path}: {detail}", http_status=status)


class _ReadClock:
    """``now_ns()`` when the latest socket read of one connection returned (0: none yet)."""

    __slots__ = ("t_ns",)

    def __init__(self) -> None:
        self.t_ns = 0


def _read_clock(response: httpx.Response) -> _ReadClock | None:
    """The read clock of the response's connection, installed on first sight.

    httpcore hands out the connection's network stream as the ``network_stream`` response
    extension; its ``read`` is wrapped (on that one object) to note when each read returned.
    None when there is no such stream (a mock transport) or it cannot be wrapped.
    """
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    clock = getattr(stream, "_bakeoff_read_clock", None)
    if isinstance(clock, _ReadClock):
        return clock
    read = getattr(stream, "read", None)
    if read is None:
        return None
    clock = _ReadClock()

    async def stamped_read(max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = await read(max_bytes, timeout)
        clock.t_ns = now_ns()
        return data

    try:
        setattr(stream, "read", stamped_read)  # noqa: B010 (an instance attribute on purpose)
        setattr(stream, "_bakeoff_read_clock", clock)  # noqa: B010
    except AttributeError:
        return None
    return clock


def stream_object(text: str, path: str, framing: str) -> dict[str, Any]:
    """One JSON object of a stream (an SSE ``data:`` field, an NDJSON line).

    Raises ``EngineProtocolError`` when it is not JSON, not an object, or an engine error.
    """
    try:
        chunk = json.loads(text)
    except ValueError as exc:
        raise EngineProtocolError(f"{path}: malformed {framing}: {text[:80]!r}") from exc
    if not isinstance(chunk, dict):
        raise EngineProtocolError(f"{path}: {framing} is not a JSON object")
    if "error" in chunk:
        raise EngineProtocolError(f"{path}: engine error in stream: {chunk['error']}")
    return chunk


async def aiter_line_batches(response: httpx.Response) -> AsyncIterator[tuple[int, list[str]]]:
    """The lines of a streamed body, a list at a time, each with the time it was received.

    The time is when the socket read that completed those lines returned (``now_ns()``,
    noted by the connection's read clock), before httpx/h11 decoded the HTTP framing and
    before the lines were split or parsed: the client's own processing is not counted as
    the engine's latency. On HTTP/1.1 without pipelining the connection's latest read is the
    one that completed the data httpx hands out (h11 reads only when it has no complete
    chunk left). Where there is no read clock (a mock transport, or data that arrived in the
    very read that brought the response head of a connection's first response), the time is
    taken as soon as httpx hands the bytes out — later, never earlier, than the receipt.

    Lines end at ``\n``, ``\r\n`` or ``\r`` (the SSE and NDJSON rules; unlike
    ``Response.aiter_lines``, which splits text with ``str.splitlines`` and so also breaks a
    JSON line at a raw U+2028 or U+0085). It exists for speed: ``aiter_lines`` costs three
    nested async-generator steps per line, this one step per HTTP chunk, which is most of the
    collector's CPU per streamed event (benchmarks/collector_overhead.py). Bytes are split
    before decoding, which is safe because no UTF-8 sequence contains a newline byte. A
    ``\r\n`` split across two reads may yield one extra empty line, which line-based
    protocols ignore.
    """
    encoding = response.encoding or "utf-8"
    clock = _read_clock(response)
    pending = b""
    async for data in response.aiter_bytes():
        t_ns = (clock.t_ns if clock is not None else 0) or now_ns()
        if pending:
            data = pending + data
        lines = data.splitlines()
        if not lines:
            continue
        pending = b"" if data.endswith((b"\n", b"\r")) else lines.pop()
        if lines:
            yield t_ns, [line.decode(encoding, "replace") for line in lines]
    if pending:
        yield (
            (clock.t_ns if clock is not None else 0) or now_ns(),
            [pending.decode(encoding, "replace")],
        )


# How long an adapter waits for the end of a response body after the protocol's last event.
DRAIN_LIMIT_S = 0.1


async def finish_body(rest: AsyncIterator[object]) -> None:
    """Read what is left of a response after the protocol's last event (``[DONE]``, Ollama's
    ``done: true``) so that its connection goes back to the pool.

    The HTTP body ends just after that event (a chunked body's last, empty chunk), usually in
    the same network read. A response closed before its end closes its connection, and the
    next call then pays a new TCP connection (and a name lookup) after its ``t0``. Nothing read
    here is data: a server that does not end the body within ``DRAIN_LIMIT_S``, or an error
    while reading, only costs the connection.
    """
    try:
        async with asyncio.timeout(DRAIN_LIMIT_S):
            async for _ in rest:
                pass
    except (TimeoutError, httpx.HTTPError):
        pass


def now_ns() -> int:
    """The interval clock of every measurement (``time.perf_counter_ns``)."""
    return time.perf_counter_ns()
