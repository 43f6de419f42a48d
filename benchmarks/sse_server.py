"""A loopback OpenAI-compatible SSE server that streams tokens as fast as it can.

Used by ``benchmarks/collector_overhead.py``; runs in its own process so its CPU time is never
counted in the client's. One asyncio loop, raw ``asyncio.start_server`` HTTP/1.1 with
keep-alive and chunked transfer encoding, one SSE event per HTTP chunk, chunk bytes
pre-rendered except for the send stamp.

``POST /v1/chat/completions`` (or ``/v1/completions``) answers like vLLM: a role chunk,
``max_tokens`` content chunks, a finish chunk, a usage chunk and ``data: [DONE]``. Every content
chunk carries ``"t_send"``: ``time.perf_counter_ns()`` taken just before its bytes are handed
to the socket. On Linux ``perf_counter_ns`` is ``CLOCK_MONOTONIC``, one clock for every process
of the machine, so the stamps compare directly with the client's ``Event.t_ns``
(``GET /clock`` lets the client verify that).

Request body extras: ``"prefill_ms"`` waits that long before the first content chunk (an
engine's prefill; the client then sits idle on its socket, as against a real engine). A request
header ``X-Bench-Stream-Id`` makes the server remember the send stamp of that stream's first
content chunk; ``GET /stamps`` returns and forgets them (``{"id": t_send_ns}``).

Bounded: the process exits after ``max_lifetime_s`` whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

_WORDS = (" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")
_CHAT_HEAD = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","choices":[{"index":0,"delta":{"content":'
)
_CHAT_MID = b'},"logprobs":null,"finish_reason":null}],"t_send":'
_TEXT_HEAD = (
    b'data: {"id":"cmpl-bench","object":"text_completion","created":1700000000,'
    b'"model":"bench","choices":[{"index":0,"text":'
)
_TEXT_MID = b',"logprobs":null,"finish_reason":null}],"t_send":'
_TAIL = b"}\n\n"
_DONE = b"data: [DONE]\n\n"
_STREAM_HEADERS = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def _frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _role(chat: bool) -> bytes:
    if chat:
        body = (
            b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
            b'"model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
            b'"logprobs":null,"finish_reason":null}]}\n\n'
        )
    else:
        body = (
            b'data: {"id":"cmpl-bench","object":"text_completion","created":1700000000,'
            b'"model":"bench","choices":[{"index":0,"text":"","logprobs":null,'
            b'"finish_reason":null}]}\n\n'
        )
    return _frame(body)


def _finish(chat: bool, reason: str) -> bytes:
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": reason}
    if chat:
        choice["delta"] = {}
    else:
        choice["text"] = ""
    body = {"id": "bench", "object": "chunk", "created": 1700000000, "model": "bench"}
    body["choices"] = [choice]
    return _frame(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n")


def _usage(prompt: int, completion: int) -> bytes:
    body = {
        "id": "bench",
        "object": "chunk",
        "created": 1700000000,
        "model": "bench",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return _frame(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n")


# Pre-rendered per-word prefixes: b'<data …"content":"word"…"t_send":' for chat and text.
_PREFIX = {
    chat: [
        (_CHAT_HEAD if chat else _TEXT_HEAD)
        + json.dumps(w).encode()
        + (_CHAT_MID if chat else _TEXT_MID)
        for w in _WORDS
    ]
    for chat in (True, False)
}


class Server:
    """The HTTP handling; one instance per server process."""

    def __init__(self) -> None:
        self.stamps: dict[str, int] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one keep-alive connection until the client closes it."""
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
                    await self.stream(writer, json.loads(body), path, headers)
                elif method == "GET" and path == "/clock":
                    self.json(writer, {"perf_counter_ns": time.perf_counter_ns(), **_clock()})
                elif method == "GET" and path == "/stamps":
                    stamps, self.stamps = self.stamps, {}
                    self.json(writer, stamps)
                elif method == "GET" and path == "/v1/models":
                    self.json(writer, {"object": "list", "data": [{"id": "bench"}]})
                else:
                    self.json(writer, {"error": "not found"}, status=b"404 Not Found")
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    def json(self, writer: asyncio.StreamWriter, payload: Any, status: bytes = b"200 OK") -> None:
        """A small JSON answer with Content-Length."""
        data = json.dumps(payload).encode()
        writer.write(
            b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(data), data)
        )

    async def stream(
        self,
        writer: asyncio.StreamWriter,
        body: dict[str, Any],
        path: str,
        headers: dict[str, str],
    ) -> None:
        """The SSE answer: role, content × max_tokens (stamped), finish, usage, [DONE]."""
        chat = path.endswith("chat/completions")
        n = int(body.get("max_tokens") or 16)
        prefill_s = float(body.get("prefill_ms") or 0) / 1000
        stream_id = headers.get("x-bench-stream-id")
        prefixes = _PREFIX[chat]
        words = len(prefixes)
        transport = writer.transport
        clock = time.perf_counter_ns
        writer.write(_STREAM_HEADERS + _role(chat))
        await writer.drain()
        if prefill_s:
            await asyncio.sleep(prefill_s)
        for i in range(n):
            if transport.is_closing():
                return  # the client hung up (the raw-socket probe stops at the first token)
            prefix = prefixes[i % words]
            t_send = clock()
            data = b"%s%d%s" % (prefix, t_send, _TAIL)
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            if i == 0 and stream_id is not None:
                self.stamps[stream_id] = t_send
            if transport.get_write_buffer_size() > 65536:
                await writer.drain()  # the client is slower than us: wait for it
            elif i % 64 == 63:
                await asyncio.sleep(0)  # let other streams send too
        writer.write(_finish(chat, "length") + _usage(8, n) + _frame(_DONE) + b"0\r\n\r\n")
        await writer.drain()


def _clock() -> dict[str, Any]:
    info = time.get_clock_info("perf_counter")
    return {"implementation": info.implementation, "monotonic": info.monotonic}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.sse_server [--lifetime S]``: print the port, then serve."""
    import argparse

    parser = argparse.ArgumentParser(description="loopback SSE token server")
    parser.add_argument("--lifetime", type=float, default=900.0, help="exit after this many s")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.lifetime))
    return 0


async def _main(max_lifetime_s: float) -> None:
    server = Server()
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=1024)
    print(srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(srv.serve_forever(), timeout=max_lifetime_s)


if __name__ == "__main__":
    raise SystemExit(main())
