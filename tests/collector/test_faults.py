"""Measurement and failure handling against a loopback server that misbehaves on purpose.

The server (tests/collector/fakes.py) is a real HTTP server on 127.0.0.1 with a scripted
engine behind it; connection retries use ``httpx.MockTransport`` because a refusal that turns
into success cannot be staged reliably with real sockets.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from collector.engines.base import GenerationRequest, Lane, now_ns
from collector.engines.openai import OpenAIEngine
from collector.measure import Measurement, measure
from collector.models import Timeouts
from tests.collector.fakes import Handler, fake_server, refused_url

FAST = Timeouts(connect_s=1.0, read_s=0.5, total_s=5.0, health_s=1.0)


def _measure(url: str, behaviour: str, *, total_s: float = 5.0, api: str = "chat") -> Measurement:
    async def go() -> Measurement:
        engine = OpenAIEngine(url, behaviour, timeouts=FAST)
        try:
            req = GenerationRequest(
                text="hi", max_tokens=8, api=api, headers={"X-Bakeoff-Test": "true"}
            )
            return await measure(engine, req, total_timeout_s=total_s, max_connect_retries=0)
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_ok_stream_timings_and_usage() -> None:
    """Five tokens 20 ms apart: TTFT, ITL, total and chunk count follow the methodology page."""
    with fake_server() as url:
        m = _measure(url, "ok")
    assert m.error is None and m.error_kind is None
    assert m.chunks == 5
    assert m.text == "one two three four five"
    assert m.usage is not None and m.usage["completion_tokens"] == 5
    assert m.finish_reason == "stop"
    ttft, total = m.first_delta_ms, m.total_duration_ms
    assert ttft is not None and total is not None
    # The server sleeps 20 ms before each of the five tokens, so the first cannot arrive
    # before 20 ms and the last not before 100 ms after t0. (No upper bounds beyond a sanity
    # limit: a loaded machine may deliver two events in one read.)
    assert 20 <= ttft < 5000
    assert total >= 100
    assert len(m.gaps_ms) == 4 and all(g >= 0 for g in m.gaps_ms)
    assert total == pytest.approx(ttft + sum(m.gaps_ms), abs=0.01)


def test_role_only_chunk_does_not_start_ttft() -> None:
    """A role chunk and a comment arrive at once; the first token 300 ms later sets TTFT."""
    with fake_server() as url:
        m = _measure(url, "role_delay")
    assert m.error is None
    assert m.first_delta_ms is not None and m.first_delta_ms >= 290
    assert m.chunks == 2


def test_benchmark_headers_sent() -> None:
    with fake_server() as url:
        _measure(url, "ok")
        assert Handler.seen_headers[-1].get("X-Bakeoff-Test") == "true"


@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [
        ("http500", "http", 500),
        ("http429", "http", 429),
        ("malformed", "protocol", 200),
        ("die", "engine_died", 200),
        ("no_done", "engine_died", 200),
        ("stall", "timeout", 200),
        ("empty", "empty", 200),
    ],
)
def test_failures_are_recorded_with_their_kind(behaviour: str, kind: str, status: int) -> None:
    with fake_server() as url:
        m = _measure(url, behaviour)
    assert m.error_kind == kind, m.error
    assert m.error
    assert m.http_status == status
    assert m.finish_reason == "error" or kind == "empty"


def test_tokens_before_a_failure_are_kept() -> None:
    """An engine dying mid-stream still leaves the TTFT and text it produced."""
    with fake_server() as url:
        m = _measure(url, "die")
    assert m.error_kind == "engine_died"
    assert m.chunks == 2 and m.text == "half way"
    assert m.first_delta_ms is not None


def test_total_timeout() -> None:
    with fake_server() as url:
        m = _measure(url, "slow", total_s=0.6)
    assert m.error_kind == "timeout"
    assert "total timeout" in (m.error or "")
    assert 1 <= m.chunks <= 8


def test_connection_refused() -> None:
    m = _measure(refused_url(), "ok")
    assert m.error_kind == "connect"
    assert m.http_status is None
    assert m.chunks == 0


def test_connect_retry_is_recorded() -> None:
    """The first connection attempt fails, the retry succeeds (MockTransport: staged refusal)."""
    attempts = {"n": 0}
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async def go() -> Measurement:
        engine = OpenAIEngine("http://127.0.0.1:9", "m", transport=httpx.MockTransport(handler))
        try:
            req = GenerationRequest(text="hi", max_tokens=4, api="chat")
            return await measure(engine, req, total_timeout_s=5, max_connect_retries=2)
        finally:
            await engine.aclose()

    m = asyncio.run(go())
    assert m.error is None
    assert m.retries == 1
    assert attempts["n"] == 2


def test_no_retry_after_a_token() -> None:
    """A stream that broke after a token is not retried (it would measure another request)."""
    with fake_server() as url:

        async def go() -> Measurement:
            engine = OpenAIEngine(url, "die", timeouts=FAST)
            try:
                req = GenerationRequest(text="hi", max_tokens=8, api="chat")
                return await measure(engine, req, total_timeout_s=5, max_connect_retries=3)
            finally:
                await engine.aclose()

        m = asyncio.run(go())
        assert m.retries == 0
        assert len(Handler.seen_headers) == 1


def test_completions_payload_shape() -> None:
    engine = OpenAIEngine("http://127.0.0.1:1", "m")
    path, body = engine.payload(
        GenerationRequest(text="hi\n", max_tokens=3, api="completions", seed=1)
    )
    assert path == "/v1/completions"
    assert body["prompt"] == "hi\n" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert json.dumps(body)
    asyncio.run(engine.aclose())


class _Chunks(httpx.AsyncByteStream):
    """A body delivered in the given network reads (MockTransport: exact read boundaries)."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for part in self.parts:
            yield part


def test_sse_lines_split_across_reads_and_unicode_separators() -> None:
    """Lines split across reads, CRLF endings and a raw U+2028 inside a JSON string all parse:
    SSE lines end only at CR, LF or CRLF."""
    line1 = 'data: {"choices":[{"index":0,"delta":{"content":"a\u2028b"}}]}'.encode()
    line2 = b'data: {"choices":[{"index":0,"delta":{"content":"c"},"finish_reason":"stop"}]}'
    parts = [
        line1[:10],
        line1[10:] + b"\r",
        b"\n\r\n" + line2[:5],
        line2[5:] + b"\n\n",
        b"data: [DONE]\n\n",
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=_Chunks(parts), headers={"content-type": "text/event-stream"}
        )

    async def go() -> Measurement:
        engine = OpenAIEngine("http://127.0.0.1:9", "m", transport=httpx.MockTransport(handler))
        try:
            req = GenerationRequest(text="hi", max_tokens=4, api="chat")
            return await measure(engine, req, total_timeout_s=5)
        finally:
            await engine.aclose()

    m = asyncio.run(go())
    assert m.error is None, m.error
    assert m.text == "a\u2028bc" and m.chunks == 2 and m.finish_reason == "stop"


def test_connection_is_kept_after_done() -> None:
    """The body's end after [DONE] is read, so the next call reuses the connection."""

    async def go() -> list[Measurement]:
        engine = OpenAIEngine(url, "ok", timeouts=FAST)
        try:
            req = GenerationRequest(text="hi", max_tokens=8, api="chat")
            return [await measure(engine, req, total_timeout_s=5) for _ in range(3)]
        finally:
            await engine.aclose()

    with fake_server() as url:
        ms = asyncio.run(go())
        ports = list(Handler.seen_ports)
    assert all(m.error is None and m.chunks == 5 for m in ms)
    assert len(ports) == 3 and len(set(ports)) == 1


def test_body_that_does_not_end_after_done() -> None:
    """A server that holds the body open after [DONE] costs its connection, not the call."""

    async def go() -> tuple[Measurement, float]:
        engine = OpenAIEngine(url, "done_open", timeouts=FAST)
        try:
            req = GenerationRequest(text="hi", max_tokens=8, api="chat")
            t = time.perf_counter()
            m = await measure(engine, req, total_timeout_s=5)
            return m, time.perf_counter() - t
        finally:
            await engine.aclose()

    with fake_server() as url:
        m, wall_s = asyncio.run(go())
    assert m.error is None and m.text == "all there" and m.finish_reason == "stop"
    assert wall_s < 0.9  # DRAIN_LIMIT_S, not the server's 1 s


def test_lanes_have_their_own_connection_and_are_closed() -> None:
    """Engine.lanes: one client (one kept connection) per worker, all closed on exit."""

    async def go() -> list[Lane]:
        engine = OpenAIEngine(url, "ok", timeouts=FAST)
        req = GenerationRequest(text="hi", max_tokens=8, api="chat")
        try:
            async with engine.lanes(3) as lanes:

                async def worker(lane: Lane) -> None:
                    lane.use()
                    for _ in range(2):
                        m = await measure(engine, req, total_timeout_s=5)
                        assert m.error is None and m.chunks == 5

                await asyncio.gather(*(worker(lane) for lane in lanes))
                assert not any(lane.client.is_closed for lane in lanes)
            return lanes
        finally:
            await engine.aclose()

    with fake_server() as url:
        lanes = asyncio.run(go())
        ports = list(Handler.seen_ports)
    assert all(lane.client.is_closed for lane in lanes)
    # Three workers × two calls on three connections, each used twice.
    assert len(ports) == 6 and sorted(ports.count(p) for p in set(ports)) == [2, 2, 2]


def test_events_are_stamped_when_received() -> None:
    """On a kept connection, events carry the time their socket read returned: never later
    than the adapter hands them out, and one stamp for the events of one read."""

    async def go() -> list[list[tuple[int, int]]]:
        engine = OpenAIEngine(url, "role_delay", timeouts=FAST)
        req = GenerationRequest(text="hi", max_tokens=8, api="chat")
        out = []
        try:
            for _ in range(2):
                out.append([(e.t_ns, now_ns()) async for e in engine.stream(req)])
        finally:
            await engine.aclose()
        return out

    with fake_server() as url:
        calls = asyncio.run(go())
    for events in calls:
        assert all(t <= seen for t, seen in events)
        # role + comment at once, then "late" and " word" 300 ms later
        assert events[-1][0] - events[0][0] >= 250_000_000
