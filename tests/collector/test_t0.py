"""t0 is taken immediately before the request headers are written (the methodology page).

A cold call's connection set-up comes before that write, so it is not in TTFT; what the
server does after it received the request is. The network backend below delays every TCP
connect by ``CONNECT_DELAY_S`` before making a real loopback connection to the scripted
server, which waits 300 ms between the request and the first token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpcore
import httpx
import pytest

from collector.engines.base import Engine, GenerationRequest, now_ns
from collector.engines.llamacpp import LlamaCppEngine
from collector.engines.ollama import OllamaEngine
from collector.engines.openai import OpenAIEngine
from collector.measure import Measurement, measure
from collector.models import Timeouts
from tests.collector.fakes import fake_server

CONNECT_DELAY_S = 1.5
FIRST_TOKEN_DELAY_MS = 300  # the server's sleep in b_role_delay / b_ollama_delay
TIMEOUTS = Timeouts(connect_s=10.0, read_s=5.0, total_s=20.0, health_s=5.0)


class SlowConnect(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, with every TCP connect taking ``delay_s`` longer."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.connects = 0
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects += 1
        await asyncio.sleep(self.delay_s)
        return await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def slow_connect_transport(backend: SlowConnect) -> httpx.AsyncHTTPTransport:
    """httpx's real transport whose connection pool uses ``backend`` (httpx has no public
    option for the network backend, so its pool is replaced)."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool = httpcore.AsyncConnectionPool(network_backend=backend)
    return transport


def _utc_ns(started_at: str) -> int:
    dt = datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(dt.timestamp() * 1e6) * 1000


@pytest.mark.parametrize(
    ("engine_cls", "behaviour"),
    [
        (OpenAIEngine, "role_delay"),
        (LlamaCppEngine, "role_delay"),
        (OllamaEngine, "ollama_delay"),
    ],
)
def test_t0_is_after_the_connect_and_before_the_request(
    engine_cls: type[Engine], behaviour: str
) -> None:
    """A 1.5 s connect is not in TTFT (nor in started_at); the 300 ms the server takes after
    receiving the request are. A second call reuses the connection."""
    backend = SlowConnect(CONNECT_DELAY_S)

    async def go() -> list[tuple[int, int, Measurement]]:
        engine = engine_cls(
            url, behaviour, timeouts=TIMEOUTS, transport=slow_connect_transport(backend)
        )
        req = GenerationRequest(text="hi", max_tokens=8, api="chat")
        out = []
        try:
            for _ in range(2):
                before, wall_before = now_ns(), time.time_ns()
                m = await measure(engine, req, total_timeout_s=20, max_connect_retries=0)
                out.append((before, wall_before, m))
        finally:
            await engine.aclose()
        return out

    with fake_server() as url:
        calls = asyncio.run(go())
    assert backend.connects == 1  # the second call went over the kept connection
    (before, wall_before, cold), (_, _, warm) = calls
    for m in (cold, warm):
        assert m.error is None, m.error
        assert m.t0_source == "headers"
        ttft = m.first_delta_ms
        assert ttft is not None
        # The server's sleep comes after it read the request, so after t0 ...
        assert ttft >= FIRST_TOKEN_DELAY_MS
        # ... and the connect does not: with t0 at the call's start TTFT would be >= 1800 ms.
        assert ttft < CONNECT_DELAY_S * 1000
    # The cold call's t0, and its started_at, come after the delayed connect.
    assert cold.t0_ns - before >= CONNECT_DELAY_S * 1e9
    assert _utc_ns(cold.started_at) - wall_before >= (CONNECT_DELAY_S - 0.01) * 1e9


def test_t0_without_trace_events_is_taken_before_sending() -> None:
    """A mock transport emits no httpcore trace events: t0 falls back to the stamp taken just
    before the request went to httpx, so a slow handler counts in TTFT."""
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async def go() -> tuple[int, Measurement]:
        engine = OpenAIEngine("http://127.0.0.1:9", "m", transport=httpx.MockTransport(handler))
        try:
            req = GenerationRequest(text="hi", max_tokens=4, api="chat")
            before = now_ns()
            return before, await measure(engine, req, total_timeout_s=5)
        finally:
            await engine.aclose()

    before, m = asyncio.run(go())
    assert m.error is None
    assert m.t0_source == "send"
    assert before <= m.t0_ns < before + 150_000_000  # well before the handler's 200 ms
    assert m.first_delta_ms is not None and m.first_delta_ms >= 200
