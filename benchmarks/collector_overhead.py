"""Collector overhead: what the measuring client itself costs, against a loopback SSE server.

    python benchmarks/collector_overhead.py [--quick] [--reps 7] [--out PATH]

The server (``benchmarks/sse_server.py``) runs in a separate process and streams OpenAI chat
chunks as fast as it can, each content chunk stamped with ``perf_counter_ns()`` at send. Every
ratio below compares numbers measured in the same run (the machine is shared and noisy):

* **CPU per event** — client process CPU time (``time.process_time``) per streamed content
  event over K streams × N events for (a) a bare ``httpx.AsyncClient`` ``aiter_lines()`` loop
  that only iterates (the reference), (c) the same loop plus ``json.loads`` of each data line
  (informative), (b) the collector: ``measure()`` with ``OpenAIEngine``. Variants are
  interleaved, rotating which goes first; the ratio is the median of per-repetition b/a.
  Target: b/a ≤ 1.5.
* **TTFT error** — client stamp of the first content event (``Event.t_ns``, the stamp TTFT
  uses) minus the server's send stamp of that event: the receive latency added by the client
  stack. Measured on the as-fast-as-possible stream (``prefill 0``) and with 2 ms of simulated
  prefill (the client idle on its socket, as against a real engine); the bare loop with
  ``json.loads`` is the reference. Target: p50 ≤ 0.5 ms (prefill 0).
* **Start lag at 64 concurrent streams** — ``bakeoff run`` end to end
  (``orchestrate.execute``, ledger and all) with ``concurrency: [64]``: p99 of the per-call
  ``start_lag_ms`` of the level, and aggregate output tokens/s. Target: p99 ≤ 5 ms.

Clock assumption: on Linux ``perf_counter_ns`` is ``CLOCK_MONOTONIC``, shared by all processes,
so server and client stamps are directly comparable. The script checks it: both sides report
the clock implementation, and for 50 round trips the server's stamp must fall between the
client's stamps before and after (else the TTFT error is reported as not measurable).

Writes ``benchmarks/results/collector_overhead.json`` (sorted keys, no host name).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bakeoff.jsonio import write_json  # noqa: E402
from collector.engines.base import GenerationRequest, now_ns  # noqa: E402
from collector.engines.openai import OpenAIEngine  # noqa: E402
from collector.measure import measure, percentile  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "collector_overhead.json"
TARGET_CPU_RATIO = 1.5
TARGET_TTFT_P50_MS = 0.5
TARGET_LAG_P99_MS = 5.0
CHAT = "/v1/chat/completions"


@contextmanager
def sse_server(lifetime_s: float = 900.0) -> Iterator[str]:
    """Start ``benchmarks/sse_server.py`` in its own process; yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sse_server", "--lifetime", str(lifetime_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"SSE server did not start (said {line!r})")
        yield f"http://127.0.0.1:{line}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def body(n: int, prefill_ms: float = 0.0) -> dict[str, Any]:
    """The JSON body the collector sends (same for the bare loops)."""
    out: dict[str, Any] = {
        "model": "bench",
        "messages": [{"role": "user", "content": "Say something."}],
        "max_tokens": n,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if prefill_ms:
        out["prefill_ms"] = prefill_ms
    return out


# ---------------------------------------------------------------------------- clock check


async def clock_check(url: str, rounds: int = 50) -> dict[str, Any]:
    """Is the server's perf_counter_ns the client's clock? Bracket its stamps by ours."""
    inside = 0
    widths: list[float] = []
    server_impl: str | None = None
    async with httpx.AsyncClient(base_url=url) as client:
        await client.get("/clock")
        for _ in range(rounds):
            before = now_ns()
            data = (await client.get("/clock")).json()
            after = now_ns()
            server_impl = data["implementation"]
            inside += before <= data["perf_counter_ns"] <= after
            widths.append((after - before) / 1e6)
    client_impl = time.get_clock_info("perf_counter").implementation
    return {
        "client_clock": client_impl,
        "server_clock": server_impl,
        "bracketed": f"{inside}/{rounds}",
        "round_trip_ms_p50": round(statistics.median(widths), 4),
        "shared": inside == rounds and server_impl == client_impl,
    }


# ---------------------------------------------------------------------------- CPU per event


async def bare_stream(client: httpx.AsyncClient, payload: dict[str, Any]) -> int:
    """(a) The reference: iterate the lines and do nothing else."""
    lines = 0
    async with client.stream("POST", CHAT, json=payload) as response:
        async for _ in response.aiter_lines():
            lines += 1
    return lines


async def bare_json_stream(client: httpx.AsyncClient, payload: dict[str, Any]) -> int:
    """(c) Informative: the bare loop plus ``json.loads`` of every data line."""
    events = 0
    async with client.stream("POST", CHAT, json=payload) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:") and line != "data: [DONE]":
                json.loads(line[5:])
                events += 1
    return events


async def cpu_per_event(url: str, reps: int, streams: int, n: int) -> dict[str, Any]:
    """Client CPU time per content event for the three variants, interleaved."""
    payload = body(n)
    request = GenerationRequest(text="Say something.", max_tokens=n, api="chat")
    engine = OpenAIEngine(url, "bench")
    client = httpx.AsyncClient(base_url=url, timeout=60)

    async def collector() -> None:
        for _ in range(streams):
            m = await measure(engine, request, total_timeout_s=120)
            if m.error is not None or m.chunks != n:
                raise RuntimeError(f"collector stream failed: {m.error} ({m.chunks} chunks)")

    async def bare() -> None:
        for _ in range(streams):
            await bare_stream(client, payload)

    async def bare_json() -> None:
        for _ in range(streams):
            await bare_json_stream(client, payload)

    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "bare_lines": bare,
        "bare_lines_json": bare_json,
        "collector": collector,
    }
    names = list(variants)
    cpu: dict[str, list[float]] = {k: [] for k in names}
    wall: dict[str, list[float]] = {k: [] for k in names}
    try:
        for name in names:  # warm-up: connections open, code paths hot
            await variants[name]()
        for rep in range(reps):
            order = names[rep % 3 :] + names[: rep % 3]
            for name in order:
                c0, w0 = time.process_time(), time.perf_counter()
                await variants[name]()
                cpu[name].append((time.process_time() - c0) / (streams * n) * 1e6)
                wall[name].append((time.perf_counter() - w0) / (streams * n) * 1e6)
    finally:
        await client.aclose()
        await engine.aclose()
    ratios = [c / b for c, b in zip(cpu["collector"], cpu["bare_lines"], strict=True)]
    return {
        "streams_per_rep": streams,
        "events_per_stream": n,
        "reps": reps,
        "cpu_us_per_event_median": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "wall_us_per_event_median": {k: round(statistics.median(v), 3) for k, v in wall.items()},
        "cpu_us_per_event_runs": {k: [round(x, 3) for x in v] for k, v in cpu.items()},
        "ratio_collector_to_bare": round(statistics.median(ratios), 3),
        "ratio_json_to_bare": round(
            statistics.median(
                c / b for c, b in zip(cpu["bare_lines_json"], cpu["bare_lines"], strict=True)
            ),
            3,
        ),
        "ratio_runs": [round(r, 3) for r in ratios],
    }


# ---------------------------------------------------------------------------- TTFT error


async def ttft_error(url: str, streams: int, n: int, prefill_ms: float) -> dict[str, Any]:
    """Client first-content stamp − server send stamp, collector vs bare loop, interleaved."""
    engine = OpenAIEngine(url, "bench")
    client = httpx.AsyncClient(base_url=url, timeout=60)
    collector_first: dict[str, int] = {}
    bare_first: dict[str, int] = {}
    raw_first: dict[str, int] = {}
    try:
        for i in range(-2, streams):  # two warm-up streams of each, not counted
            sid = f"c{i}"
            request = GenerationRequest(
                text="Say something.",
                max_tokens=n,
                api="chat",
                headers={"X-Bench-Stream-Id": sid},
                options={"prefill_ms": prefill_ms} if prefill_ms else {},
            )
            m = await measure(engine, request, total_timeout_s=60)
            if m.error is not None or m.first_content_ns is None:
                raise RuntimeError(f"collector stream failed: {m.error}")
            collector_first[sid] = m.first_content_ns
            bid = f"b{i}"
            first: int | None = None
            headers = {"X-Bench-Stream-Id": bid}
            async with client.stream(
                "POST", CHAT, json=body(n, prefill_ms), headers=headers
            ) as response:
                async for line in response.aiter_lines():
                    if first is None and line.startswith("data:"):
                        t = now_ns()
                        chunk = json.loads(line[5:])
                        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                            first = t
            assert first is not None
            bare_first[bid] = first
            raw_first[f"r{i}"] = await raw_socket_first(url, body(n, prefill_ms), f"r{i}")
        stamps: dict[str, int] = (await client.get("/stamps")).json()
    finally:
        await client.aclose()
        await engine.aclose()

    def errors(prefix: str, firsts: dict[str, int]) -> list[float]:
        return [
            (t - stamps[k]) / 1e6
            for k, t in firsts.items()
            if k.startswith(prefix) and int(k[1:]) >= 0
        ]

    coll, bare = errors("c", collector_first), errors("b", bare_first)
    raw = errors("r", raw_first)
    return {
        "prefill_ms": prefill_ms,
        "streams": streams,
        "events_per_stream": n,
        "collector_ms": _stats(coll),
        "bare_json_ms": _stats(bare),
        "raw_socket_ms": _stats(raw),
        "min_ms": round(min(coll + bare), 4),
    }


async def raw_socket_first(url: str, payload: dict[str, Any], stream_id: str) -> int:
    """The floor: a bare asyncio socket, no HTTP library; stamp of the first content line."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = json.dumps(payload).encode()
    writer.write(
        b"POST %s HTTP/1.1\r\nHost: %s\r\nX-Bench-Stream-Id: %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (CHAT.encode(), host.encode(), stream_id.encode(), len(data), data)
    )
    first: int | None = None
    try:
        while first is None:
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"data:") and b'"content":"' in line and b'"content":""' not in line:
                first = now_ns()
    finally:
        writer.close()
    assert first is not None
    return first


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 4),
        "p95": round(percentile(values, 95), 4),
        "max": round(max(values), 4),
    }


# ---------------------------------------------------------------------------- concurrency


def concurrency_run(url: str, level: int, runs: int, work: Path) -> dict[str, Any]:
    """``bakeoff run`` end to end at one concurrency level; start lag and aggregate tokens/s."""
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")  # never touch the real system_id
    from collector.models import CellsFile, CellSpec
    from collector.orchestrate import RunOptions, execute
    from collector.report import aggregate_tokens_per_sec

    cells = CellsFile(
        cells=[CellSpec(engine="openai", url=url, model="bench")],  # type: ignore[arg-type]
        runs=runs,
        cold=False,
        concurrency=[level],
        prompts=["P-EASY"],
    )
    options = RunOptions(cells=cells, out_dir=work / "runs", allow_dirty=True, force_load=True)
    c0, w0 = time.process_time(), time.perf_counter()
    result = execute(options)
    cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    records = [json.loads(line) for line in (result.path / "run.jsonl").read_text().splitlines()]
    calls = [r for r in records if r["type"] == "call" and r["concurrency"] == level]
    ok = [c for c in calls if c["error"] is None]
    lags = [c["start_lag_ms"] for c in calls]
    agg = aggregate_tokens_per_sec(ok)
    return {
        "level": level,
        "runs_per_worker": runs,
        "calls": len(calls),
        "calls_ok": len(ok),
        "tokens_per_call": calls[0]["completion_tokens"] if calls else None,
        "start_lag_ms": {
            "p50": round(percentile(lags, 50), 4),
            "p99": round(percentile(lags, 99), 4),
            "max": round(max(lags), 4),
        },
        "aggregate_tokens_per_sec": round(agg, 1) if agg else None,
        "ttft_ms_p50": round(percentile([c["first_delta_ms"] for c in ok], 50), 3),
        "run_cpu_s": round(cpu_s, 3),
        "run_wall_s": round(wall_s, 3),
    }


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the table, write the results file."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--reps", type=int, default=7, help="CPU repetitions per variant")
    parser.add_argument("--lag-repeats", type=int, default=3, help="concurrency runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        sizes = {"reps": 2, "streams": 2, "n": 300, "ttft_streams": 20, "runs": 2, "lag": 1}
    else:
        sizes = {
            "reps": args.reps,
            "streams": 10,
            "n": 2000,
            "ttft_streams": 200,
            "runs": 5,
            "lag": args.lag_repeats,
        }
    with sse_server() as url, tempfile.TemporaryDirectory() as tmp:
        clock = asyncio.run(clock_check(url))
        cpu = asyncio.run(cpu_per_event(url, sizes["reps"], sizes["streams"], sizes["n"]))
        ttft = [
            asyncio.run(ttft_error(url, sizes["ttft_streams"], 64, prefill))
            for prefill in (0.0, 2.0)
        ]
        lag_runs = [
            concurrency_run(url, 64, sizes["runs"], Path(tmp) / f"r{i}")
            for i in range(sizes["lag"])
        ]
    lag_p99 = statistics.median(r["start_lag_ms"]["p99"] for r in lag_runs)
    tps = statistics.median(r["aggregate_tokens_per_sec"] or 0.0 for r in lag_runs)
    cpu_ratio = cpu["ratio_collector_to_bare"]
    ttft_p50 = ttft[0]["collector_ms"]["p50"]
    targets = {
        "cpu_per_event_ratio": {
            "value": cpu_ratio,
            "target": f"<= {TARGET_CPU_RATIO}",
            "met": cpu_ratio <= TARGET_CPU_RATIO,
        },
        "ttft_error_p50_ms": {
            "value": ttft_p50,
            "target": f"<= {TARGET_TTFT_P50_MS}",
            "met": clock["shared"] and ttft_p50 <= TARGET_TTFT_P50_MS,
        },
        "start_lag_p99_ms_at_64": {
            "value": lag_p99,
            "target": f"<= {TARGET_LAG_P99_MS}",
            "met": lag_p99 <= TARGET_LAG_P99_MS,
        },
    }
    result: dict[str, Any] = {
        "benchmark": "collector_overhead",
        "quick": args.quick,
        "clock": clock,
        "cpu_per_event": cpu,
        "ttft_error": ttft,
        "concurrency": {
            "runs": lag_runs,
            "start_lag_p99_ms_median": lag_p99,
            "aggregate_tokens_per_sec_median": tps,
        },
        "targets": targets,
        "all_met": all(t["met"] for t in targets.values()),
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "system": platform.system(),
            "cpu_count": os.cpu_count(),
            "httpx": httpx.__version__,
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        },
    }
    write_json(args.out, result)
    med = cpu["cpu_us_per_event_median"]
    ref_ttft = ttft[0]["bare_json_ms"]["p50"]
    rows = [
        ("CPU µs/event collector", med["collector"], med["bare_lines"], cpu_ratio, "≤ 1.5×", 0),
        ("CPU µs/event bare+json", med["bare_lines_json"], med["bare_lines"],
         cpu["ratio_json_to_bare"], "(info)", None),
        ("TTFT error p50 ms", ttft_p50, ref_ttft, _ratio(ttft_p50, ref_ttft), "≤ 0.5 ms", 1),
        ("TTFT err p50 raw socket", ttft[0]["raw_socket_ms"]["p50"], ref_ttft,
         _ratio(ttft[0]["raw_socket_ms"]["p50"], ref_ttft), "(floor)", None),
        ("TTFT error p95 ms", ttft[0]["collector_ms"]["p95"], ttft[0]["bare_json_ms"]["p95"],
         _ratio(ttft[0]["collector_ms"]["p95"], ttft[0]["bare_json_ms"]["p95"]), "(info)", None),
        ("TTFT err p50, 2ms prefill", ttft[1]["collector_ms"]["p50"],
         ttft[1]["bare_json_ms"]["p50"],
         _ratio(ttft[1]["collector_ms"]["p50"], ttft[1]["bare_json_ms"]["p50"]), "(info)", None),
        ("start lag p99 ms @64", lag_p99, None, None, "≤ 5 ms", 2),
        ("aggregate tok/s @64", tps, None, None, "(info)", None),
    ]  # fmt: skip
    met = [t["met"] for t in targets.values()]
    print(f"{'metric':28} {'value':>10} {'reference':>10} {'ratio':>7} {'target':>9}  met?")
    for name, value, ref, ratio, target, idx in rows:
        ok = "" if idx is None else ("yes" if met[idx] else "NO")
        print(f"{name:28} {value:>10.3f} {_fmt(ref):>10} {_fmt(ratio):>7} {target:>9}  {ok}")
    print(
        f"clock: client {clock['client_clock']}, server {clock['server_clock']}, "
        f"server stamps bracketed {clock['bracketed']}"
    )
    print(f"wrote {args.out}")
    return 0


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
