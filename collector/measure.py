"""Turn one engine stream into the timing fields of a call record (see the methodology page).

``t0`` is taken immediately before the request headers are written to the connection (httpcore's
``trace`` extension, ``collector.engines.base.CallClock``): after any connection set-up, so a
cold call's TCP connect is not in its TTFT. Every later time is the ``perf_counter_ns`` stamp
the adapter put on an event: when the socket read that completed the event returned
(``collector.engines.base.aiter_line_batches``). Only
token-bearing events (content, reasoning or tool call) move TTFT, ITL and the end time: a
role-only chunk, a usage-only chunk or ``[DONE]`` never does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.engines.base import (
    CALL_CLOCK,
    CallClock,
    Engine,
    GenerationRequest,
    ServerTimings,
    now_ns,
)
from collector.errors import EngineConnectError, EngineConnectionClosedError, EngineError

# How many times one call may meet a kept-alive connection the server had closed while idle
# before that counts as a failed connection (each reopen is a new connection, so one is usual).
MAX_REOPENS = 3


def utc_now() -> str:
    """UTC wall-clock timestamp with microseconds and a Z suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_from_ns(wall_ns: int) -> str:
    """``utc_now()``'s format for a ``time.time_ns()`` reading."""
    dt = _EPOCH + timedelta(microseconds=wall_ns // 1000)  # exact: no float seconds
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def percentile(values: Sequence[float], q: float) -> float:
    """Percentile by linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Measurement:
    """Everything observed about one request; raw, before token counting."""

    wall_ns: int  # time.time_ns() at t0; formatted only when asked (started_at)
    t0_ns: int
    t0_source: str = "headers"  # which stamp t0 is (collector.engines.base.CallClock.source)
    t_end_ns: int = 0
    first_token_ns: int | None = None
    first_content_ns: int | None = None
    last_token_ns: int | None = None
    gaps_ms: list[float] = field(default_factory=list)
    chunks: int = 0
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: ServerTimings | None = None
    error: str | None = None
    error_kind: str | None = None
    http_status: int | None = None
    retries: int = 0
    reopens: int = 0  # kept-alive connections found closed by the server and reopened at once

    @property
    def started_at(self) -> str:
        """UTC timestamp of t0."""
        return utc_from_ns(self.wall_ns)

    def ms(self, t_ns: int | None) -> float | None:
        """Milliseconds from t0 to ``t_ns``."""
        return None if t_ns is None else round((t_ns - self.t0_ns) / 1e6, 3)

    @property
    def first_delta_ms(self) -> float | None:
        """TTFT."""
        return self.ms(self.first_token_ns)

    @property
    def first_content_ms(self) -> float | None:
        """t0 → first visible content."""
        return self.ms(self.first_content_ns)

    @property
    def total_duration_ms(self) -> float | None:
        """t0 → last token-bearing event."""
        return self.ms(self.last_token_ns)

    def fail(self, kind: str, message: str) -> None:
        """Mark the call failed after the fact (a reply found unrecordable while the record
        is built); an earlier failure of the call is kept."""
        if self.error is None:
            _fail(self, kind, message, self.http_status)

    def itl(self) -> tuple[float | None, float | None, float | None]:
        """p50, p95 and max of the gaps between token-bearing events."""
        if not self.gaps_ms:
            return None, None, None
        return (
            round(percentile(self.gaps_ms, 50), 3),
            round(percentile(self.gaps_ms, 95), 3),
            round(max(self.gaps_ms), 3),
        )


async def measure(
    engine: Engine,
    request: GenerationRequest,
    *,
    total_timeout_s: float,
    max_connect_retries: int = 2,
    max_reopens: int = MAX_REOPENS,
) -> Measurement:
    """Send one request and time it; failures are recorded in the result, never raised.

    Only connection set-up is retried, and only before any token arrived (a retry after a token
    would measure a different request); each retry waits a back-off (0.2 s × its number) and is
    counted in ``retries``. A request that went out on a kept-alive connection the server had
    closed while it was idle (``EngineConnectionClosedError``: no response byte came back) is
    no failed connect: it is sent again at once on a new connection, without back-off and
    without counting a retry (``reopens`` counts it, up to ``max_reopens``).

    ``t0`` (``t0_ns``, ``wall_ns`` → ``started_at``) is when the attempt's request headers
    started to be written, stamped by the adapter's HTTP layer (``CallClock``): the work before
    it — building and sending the request through httpx, the pool, and a cold call's TCP
    connect or TLS handshake — is not in TTFT, ``first_content_ms`` or ``total_duration_ms``,
    and counts as start lag in the runner (``start_lag_ms`` = t0 − scheduled start). Without a
    header-write event (a mock transport) t0 is the stamp taken just before the request went
    to httpx; if nothing was sent at all, when the attempt began (``t0_source`` says which).
    The total timeout runs from the attempt's start.
    """
    retries = reopens = 0
    while True:
        # Nothing is formatted here: at 64 workers every µs before the first await of a
        # request delays the t0 of the workers after it.
        clock = CallClock()
        token = CALL_CLOCK.set(clock)
        m = Measurement(wall_ns=clock.wall_ns, t0_ns=clock.t0_ns, retries=retries, reopens=reopens)
        try:
            async with asyncio.timeout(total_timeout_s):
                await _consume(engine, request, m)
        except EngineConnectError as exc:
            if (
                isinstance(exc, EngineConnectionClosedError)
                and m.chunks == 0
                and reopens < max_reopens
            ):
                # At once; the new attempt's start lag still includes this one (its t0 is
                # the new header write).
                reopens += 1
                continue
            if m.chunks == 0 and retries < max_connect_retries:
                retries += 1
                await asyncio.sleep(0.2 * retries)
                continue
            _fail(m, exc.kind, str(exc), exc.http_status)
        except EngineError as exc:
            _fail(m, exc.kind, str(exc), exc.http_status)
        except TimeoutError:
            _fail(m, "timeout", f"total timeout of {total_timeout_s:g} s expired", None)
        finally:
            CALL_CLOCK.reset(token)
        m.t_end_ns = now_ns()
        m.t0_ns, m.wall_ns, m.t0_source = clock.t0_ns, clock.wall_ns, clock.source
        if m.error is None and m.chunks == 0:
            _fail(m, "empty", "the engine sent no token", m.http_status)
        return m


async def _consume(engine: Engine, request: GenerationRequest, m: Measurement) -> None:
    """The hot loop: as little work per event as possible."""
    parts: list[str] = []
    gaps = m.gaps_ms
    last = 0
    try:
        async for event in engine.stream(request):
            if event.content or event.reasoning or event.tool_call:
                t = event.t_ns
                if m.first_token_ns is None:
                    m.first_token_ns = t
                else:
                    gaps.append((t - last) / 1e6)
                if event.content:
                    if m.first_content_ns is None:
                        m.first_content_ns = t
                    parts.append(event.content)
                last = t
                m.chunks += 1
            if event.finish_reason is not None:
                m.finish_reason = event.finish_reason
            if event.usage is not None:
                m.usage = event.usage
            if event.timings is not None:
                m.timings = event.timings
            m.http_status = 200
    finally:
        # Keep what arrived before a failure: a broken stream is still a recorded call.
        m.last_token_ns = last or None
        m.text = "".join(parts)


def _fail(m: Measurement, kind: str, message: str, status: int | None) -> None:
    m.error = message
    m.error_kind = kind
    m.http_status = status if status is not None else m.http_status
    if m.finish_reason is None:
        m.finish_reason = "error"
