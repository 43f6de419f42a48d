"""A kept-alive connection the server closed while idle is reopened at once, not backed off.

The race: httpcore's pool drops an idle connection it can see is closed (its socket is
readable, ``has_expired``), but a server may close it between that check and the request
write. The request is then written into a connection the server has already given up, and the
client reads either EOF (httpx.RemoteProtocolError, "Server disconnected without sending a
response.") or a reset (httpx.ReadError, ECONNRESET) before any response byte. The server
below is a real asyncio HTTP/1.1 server on loopback that stages exactly that moment: it
answers the first request of a connection and closes the connection when the next request
arrives on it, without answering. A refused connect and a fresh connection closed before
answering are still connection failures: backed off and counted in ``retries``.

The last test does the same against the real engine: llama-cpp-python's server (uvicorn), whose
keep-alive timeout is uvicorn's default of 5 s (llama_cpp.server does not pass one). It is
started here with uvicorn's own ``timeout_keep_alive`` shortened to 0.2 s, so that hundreds of
idle gaps that end right at the server's close fit in a few seconds.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from collector.engines.base import GenerationRequest, Lane, now_ns
from collector.engines.managed import EMBEDDED_MODEL_NAME, ManagedProcess, free_port
from collector.engines.openai import OpenAIEngine
from collector.measure import Measurement, measure, percentile
from collector.models import Timeouts
from tests.collector.conftest import require_local_extra
from tests.collector.fakes import refused_url

FAST = Timeouts(connect_s=1.0, read_s=2.0, total_s=5.0, health_s=1.0)
BODY = (
    b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
REQUEST = GenerationRequest(text="hi", max_tokens=4, api="chat")
BACKOFF_S = 0.2  # measure()'s first back-off step


@dataclass
class Stats:
    """What the server saw: connections accepted and how each request was treated."""

    connections: int = 0
    answered: int = 0
    closed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class IdleCloseServer:
    """Where the server listens and what it saw."""

    url: str
    stats: Stats


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read one request (head and Content-Length body); False at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return False
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return True


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a socket closed with unread data is."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextmanager
def idle_close_server(close: str, *, fresh_failures: int = 0) -> Iterator[IdleCloseServer]:
    """Serve SSE answers on loopback; close a kept-alive connection when it is reused.

    ``close`` is how a reused connection is closed when its next request arrives: ``fin``
    (the request is read, then the socket is closed: the client reads EOF), ``rst`` (the
    request is left unread and the socket reset) or ``never`` (plain keep-alive). The first
    ``fresh_failures`` requests on new connections are closed the same way, without answer.
    """
    stats = Stats()
    fresh_left = [fresh_failures]
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, object] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with stats.lock:
            stats.connections += 1
        served = 0
        try:
            while True:
                if served and close == "rst":
                    # The next request's first bytes have arrived: reset with the rest unread.
                    if not await reader.read(1):
                        return
                    with stats.lock:
                        stats.closed += 1
                    _reset(writer)
                    return
                if not await _read_request(reader):
                    return
                with stats.lock:
                    refuse = (served > 0 and close == "fin") or (served == 0 and fresh_left[0] > 0)
                    if served == 0 and fresh_left[0] > 0:
                        fresh_left[0] -= 1
                    if refuse:
                        stats.closed += 1
                    else:
                        stats.answered += 1
                if refuse:
                    writer.close()
                    return
                writer.write(RESPONSE)
                await writer.drain()
                served += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["port"] = server.sockets[0].getsockname()[1]
        holder["stop"] = stop = asyncio.Event()
        ready.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield IdleCloseServer(url=f"http://127.0.0.1:{holder['port']}", stats=stats)
    finally:
        stop = holder["stop"]
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=5)
        loop.close()


def _sequential(url: str, calls: int) -> list[tuple[int, Measurement]]:
    """``calls`` measurements one after another on one engine: (start stamp, measurement)."""

    async def go() -> list[tuple[int, Measurement]]:
        engine = OpenAIEngine(url, "m", timeouts=FAST)
        out = []
        try:
            for _ in range(calls):
                start = now_ns()
                out.append((start, await measure(engine, REQUEST, total_timeout_s=5)))
        finally:
            await engine.aclose()
        return out

    return asyncio.run(go())


@pytest.mark.parametrize("close", ["fin", "rst"])
def test_reused_connection_closed_at_the_race_is_reopened_at_once(close: str) -> None:
    """Every reuse meets a connection the server has just closed: each call is reopened at
    once on a new connection, succeeds, and counts no retry; t0 is on the new connection."""
    with idle_close_server(close) as server:
        calls = _sequential(server.url, 3)
    for start, m in calls:
        assert m.error is None, m.error
        assert m.text == "ok!" and m.retries == 0
        assert m.t0_source == "headers"
        # No back-off between the failed write and the new attempt.
        assert (m.t0_ns - start) / 1e9 < BACKOFF_S / 2, (m.t0_ns - start) / 1e6
    assert [m.reopens for _, m in calls] == [0, 1, 1]
    assert server.stats.closed == 2 and server.stats.connections == 3
    assert server.stats.answered == 3


def test_lanes_are_connected_before_the_level_starts() -> None:
    """A level's first round must not pay n simultaneous connects in its start lag (33-38 ms
    at concurrency 4 on a loaded 2-core host): ``Engine.lanes`` opens each lane's connection
    before it yields, and the first measured call of every lane reuses it."""

    async def go() -> tuple[int, list[Measurement]]:
        engine = OpenAIEngine(server.url, "m", timeouts=FAST)
        try:
            async with engine.lanes(4) as lanes:
                connected = server.stats.connections

                async def worker(lane: Lane) -> Measurement:
                    lane.use()
                    return await measure(engine, REQUEST, total_timeout_s=5)

                calls = await asyncio.gather(*(worker(lane) for lane in lanes))
        finally:
            await engine.aclose()
        return connected, list(calls)

    with idle_close_server("never") as server:
        connected, calls = asyncio.run(go())
    assert connected == 4
    assert all(m.error is None and m.reopens == 0 and m.retries == 0 for m in calls)
    assert server.stats.connections == 4  # the calls went out on the warmed connections


def test_concurrent_batch_on_closed_connections_has_no_backoff() -> None:
    """Four workers (one connection each, as in a concurrency level) whose connections are
    all closed by the server at their next request: none waits on a back-off, so the start
    lag (t0 minus the scheduled start) stays far below the 200 ms back-off step."""
    runs = 3

    async def go() -> list[tuple[float, Measurement]]:
        engine = OpenAIEngine(server.url, "m", timeouts=FAST)
        out: list[tuple[float, Measurement]] = []
        try:
            async with engine.lanes(4) as lanes:
                start = now_ns()

                async def worker(lane: Lane) -> None:
                    lane.use()
                    scheduled = start
                    for _ in range(runs):
                        m = await measure(engine, REQUEST, total_timeout_s=5)
                        out.append(((m.t0_ns - scheduled) / 1e6, m))
                        scheduled = m.t_end_ns

                await asyncio.gather(*(worker(lane) for lane in lanes))
        finally:
            await engine.aclose()
        return out

    with idle_close_server("fin") as server:
        results = asyncio.run(go())
    assert len(results) == 4 * runs
    assert all(m.error is None and m.retries == 0 for _, m in results)
    # Each lane's warm-up request (Engine.lanes) was its connection's first, so every
    # measured request finds its connection closed and reopens it.
    assert sum(m.reopens for _, m in results) == 4 * runs
    lags = [lag for lag, _ in results]
    assert max(lags) < BACKOFF_S * 1000 / 2, lags
    # Reopening costs a connect: 1-5 ms idle, 25-36 ms at load 6 on 2 cores (seen in a full
    # suite next to two other test runs). A back-off step would put the median at 200 ms.
    assert percentile(lags, 50) < BACKOFF_S * 1000 / 4, lags
    assert server.stats.closed == 4 * runs


def test_fresh_connection_closed_before_answering_is_backed_off() -> None:
    """A new connection that the server closes without answering is a connection failure:
    the retry waits for the back-off and is counted."""
    with idle_close_server("never", fresh_failures=1) as server:
        ((start, m),) = _sequential(server.url, 1)
    assert m.error is None, m.error
    assert m.retries == 1 and m.reopens == 0
    assert (m.t0_ns - start) / 1e9 >= BACKOFF_S
    assert server.stats.connections == 2 and server.stats.closed == 1


def test_fresh_connection_failures_are_not_reopened_forever() -> None:
    """When every new connection is closed before answering, the call fails as ``connect``
    after its retries (each backed off), instead of looping."""
    with idle_close_server("never", fresh_failures=100) as server:
        ((start, m),) = _sequential(server.url, 1)
    assert m.error_kind == "connect" and m.retries == 2 and m.reopens == 0
    assert (time.perf_counter_ns() - start) / 1e9 >= 3 * BACKOFF_S
    assert server.stats.connections == 3


def test_refused_connection_backs_off_and_counts_retries() -> None:
    """Nothing listens: every attempt is refused, backed off (0.2 s, then 0.4 s) and counted."""
    t = time.perf_counter()
    ((_, m),) = _sequential(refused_url(), 1)
    elapsed = time.perf_counter() - t
    assert m.error_kind == "connect" and m.retries == 2 and m.reopens == 0
    assert elapsed >= 3 * BACKOFF_S


KEEP_ALIVE_S = 0.2


@pytest.fixture(scope="module")
def short_keep_alive_server() -> Iterator[str]:
    """llama-cpp-python's server with the bundled model, under uvicorn with a 0.2 s
    keep-alive timeout (uvicorn's setting; llama_cpp.server has no flag for it)."""
    require_local_extra()
    from collector.engines.managed import embedded_model

    model = embedded_model()
    port = free_port()
    code = (
        "import uvicorn\n"
        "from llama_cpp.server.app import create_app\n"
        "from llama_cpp.server.settings import ModelSettings, ServerSettings\n"
        f"app = create_app(server_settings=ServerSettings(host='127.0.0.1', port={port}, "
        "interrupt_requests=False), "
        f"model_settings=[ModelSettings(model={str(model.path)!r}, "
        f"model_alias={EMBEDDED_MODEL_NAME!r}, verbose=False)])\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, timeout_keep_alive={KEEP_ALIVE_S}, "
        "log_level='warning')\n"
    )
    proc = ManagedProcess([sys.executable, "-c", code], port=port)
    proc.start()
    try:
        yield proc.base_url
    finally:
        proc.cleanup()


@pytest.mark.engine
@pytest.mark.slow
def test_real_engine_closing_idle_connections_costs_no_backoff(
    short_keep_alive_server: str,
) -> None:
    """Four workers, one connection each, send 50 requests apiece to the real engine, each
    after an idle gap that ends within ±2 ms of the server's keep-alive close. Most
    connections are seen closed by the pool and replaced; some are closed by the server just
    as the request is written (the race). No call may wait on a back-off: every ``retries``
    is 0 and the start lag (t0 minus the end of the gap) stays far below the 200 ms step
    (p95 under 50 ms, p99 under 100 ms).
    With the reopen disabled (the old behaviour) about one call in twenty waited 200 ms."""
    rounds = 50
    request = GenerationRequest(text="The sky is", max_tokens=1, api="completions")

    async def go() -> list[tuple[float, Measurement]]:
        engine = OpenAIEngine(short_keep_alive_server, EMBEDDED_MODEL_NAME)
        out: list[tuple[float, Measurement]] = []
        try:
            async with engine.lanes(4) as lanes:

                async def worker(k: int, lane: Lane) -> None:
                    lane.use()
                    m = await measure(engine, request, total_timeout_s=60)
                    assert m.error is None, m.error
                    for r in range(rounds):
                        # The server's timer starts when it finished the response, a little
                        # before the client's end: sweep the gap across its close.
                        offset_s = -0.002 + 0.0001 * ((k * 11 + r) % 40)
                        scheduled = m.t_end_ns + int((KEEP_ALIVE_S + offset_s) * 1e9)
                        await asyncio.sleep(max(0.0, (scheduled - now_ns()) / 1e9))
                        scheduled = max(scheduled, now_ns())  # a late wake-up is not lag
                        m = await measure(engine, request, total_timeout_s=60)
                        out.append(((m.t0_ns - scheduled) / 1e6, m))

                await asyncio.gather(*(worker(k, lane) for k, lane in enumerate(lanes)))
        finally:
            await engine.aclose()
        return out

    results = asyncio.run(go())
    assert len(results) == 4 * rounds
    assert [m.error for _, m in results if m.error] == []
    assert all(m.retries == 0 for _, m in results)
    lags = [lag for lag, _ in results]
    reopened = sum(m.reopens for _, m in results)
    p50, p95, p99 = (percentile(lags, q) for q in (50, 95, 99))
    summary = f"reopens={reopened} start lag p50={p50:.2f} p95={p95:.2f} p99={p99:.2f} ms"
    print(summary)
    # A back-off would put about one call in twenty at 200 ms or more (p95 and p99 with it);
    # every ``retries`` is 0 above, which is the direct check. The server shares this
    # machine's two cores with the client, so the tail is not held to a quiet machine's
    # figures: p95 a few ms and p99 12-22 ms under load, p95 25-26 ms next to a fuzz run.
    assert p95 < BACKOFF_S * 1000 / 4, summary
    assert p99 < BACKOFF_S * 1000 / 2, summary
