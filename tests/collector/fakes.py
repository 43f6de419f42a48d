"""A loopback OpenAI-compatible server that misbehaves on purpose, for fault tests.

It is a real HTTP server on 127.0.0.1 (a thread of ``http.server``), so the collector's whole
network path runs; only the engine behind it is scripted. The behaviour is chosen by the
``model`` field of each request, e.g. ``{"model": "http500"}``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


def _chunk(content: str | None = None, *, role: bool = False, finish: str | None = None) -> bytes:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    body = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _text_chunk(text: str, *, finish: str | None = None) -> bytes:
    """A ``/v1/completions`` chunk."""
    body = {
        "object": "text_completion",
        "choices": [{"index": 0, "text": text, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


USAGE = (
    b'data: {"object":"chat.completion.chunk","choices":[],'
    b'"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}\n\n'
)


class Handler(BaseHTTPRequestHandler):
    """Scripted behaviours; every request's headers are kept for assertions."""

    protocol_version = "HTTP/1.1"
    seen_headers: ClassVar[list[dict[str, str]]] = []
    seen_bodies: ClassVar[list[dict[str, Any]]] = []  # every generation request's body
    seen_ports: ClassVar[list[int]] = []  # the client's port of every POST (its connection)
    gap_s = 0.02
    token_gap_s = 0.001

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "fake"}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/extras/tokenize/count":
            # llama-cpp-python's endpoint, with a toy tokenizer (toy_count).
            self._json(200, {"count": toy_count(str(body.get("input", "")))})
            return
        Handler.seen_headers.append(dict(self.headers.items()))
        Handler.seen_bodies.append(body)
        Handler.seen_ports.append(self.client_address[1])
        behaviour = str(body.get("model", "ok"))
        getattr(self, "b_" + behaviour.replace("-", "_"), self.b_ok)(body)

    # ---- helpers ---------------------------------------------------------------------------

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ---- behaviours ------------------------------------------------------------------------

    def b_ok(self, body: dict[str, Any]) -> None:
        """Role chunk, five one-word chunks ``gap_s`` apart, usage, [DONE]."""
        self._start_stream()
        self._send(_chunk(role=True))
        for word in ["one", " two", " three", " four", " five"]:
            time.sleep(self.gap_s)
            self._send(_chunk(word))
        self._send(_chunk(finish="stop"))
        self._send(USAGE)
        self._send(b"data: [DONE]\n\n")
        self._end()

    def b_role_delay(self, body: dict[str, Any]) -> None:
        """The role chunk comes at once, the first token 300 ms later: TTFT must wait for it."""
        self._start_stream()
        self._send(_chunk(role=True))
        self._send(b": keep-alive comment\n\n")
        time.sleep(0.3)
        self._send(_chunk("late"))
        self._send(_chunk(" word", finish="stop"))
        self._send(b"data: [DONE]\n\n")
        self._end()

    def b_ollama_delay(self, body: dict[str, Any]) -> None:
        """Ollama's NDJSON (``/api/chat``): the first token 300 ms after the request."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        time.sleep(0.3)
        message = {"role": "assistant", "content": "late"}
        self._send(json.dumps({"message": message, "done": False}).encode() + b"\n")
        final = {
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "eval_count": 1,
            "prompt_eval_count": 3,
        }
        self._send(json.dumps(final).encode() + b"\n")
        self._end()

    def b_http500(self, body: dict[str, Any]) -> None:
        self._json(500, {"error": {"message": "internal failure"}})

    def b_http429(self, body: dict[str, Any]) -> None:
        self._json(429, {"error": {"message": "slow down"}})

    def b_malformed(self, body: dict[str, Any]) -> None:
        self._start_stream()
        self._send(_chunk("fine"))
        self._send(b"data: {this is not json\n\n")
        self._end()

    def b_die(self, body: dict[str, Any]) -> None:
        """Two tokens, then the process 'dies': the socket closes mid chunked body."""
        self._start_stream()
        self._send(_chunk("half"))
        self._send(_chunk(" way"))
        self.wfile.write(b"ff\r\npartial")  # a chunk header promising more than arrives
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def b_no_done(self, body: dict[str, Any]) -> None:
        """A well-formed body that ends without [DONE]."""
        self._start_stream()
        self._send(_chunk("cut"))
        self._end()

    def b_stall(self, body: dict[str, Any]) -> None:
        """One token, then silence longer than any read timeout in the tests."""
        self._start_stream()
        self._send(_chunk("wait"))
        time.sleep(2.0)
        self._end()

    def b_slow(self, body: dict[str, Any]) -> None:
        """A token every 100 ms for 2 s: each gap is fine, the whole is too long."""
        self._start_stream()
        for _ in range(20):
            self._send(_chunk("x"))
            time.sleep(0.1)
        self._send(b"data: [DONE]\n\n")
        self._end()

    def b_done_open(self, body: dict[str, Any]) -> None:
        """A complete answer, but the HTTP body only ends 1 s after [DONE]."""
        self._start_stream()
        self._send(_chunk("all"))
        self._send(_chunk(" there", finish="stop"))
        self._send(b"data: [DONE]\n\n")
        time.sleep(1.0)
        self._end()

    def b_empty(self, body: dict[str, Any]) -> None:
        """Only a role chunk and [DONE]: no token at all."""
        self._start_stream()
        self._send(_chunk(role=True))
        self._send(b"data: [DONE]\n\n")
        self._end()

    def b_budget(self, body: dict[str, Any]) -> None:
        """Every token the request allows (``max_tokens``), ``token_gap_s`` apart, then usage:
        a call's length is proportional to its budget, as with a base model that never stops."""
        budget = int(body.get("max_tokens") or 16)
        self._start_stream()
        for _ in range(budget):
            time.sleep(self.token_gap_s)
            self._send(_chunk(" x"))
        self._send(_chunk(finish="length"))
        usage = {"prompt_tokens": 7, "completion_tokens": budget, "total_tokens": 7 + budget}
        self._send(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
        self._send(b"data: [DONE]\n\n")
        self._end()

    def b_exact(self, body: dict[str, Any]) -> None:
        """A base model that ends after 3 tokens unless told to ignore its end-of-sequence
        (``min_tokens`` or ``ignore_eos``), then produces ``max_tokens``; usage counts the
        prompt with the toy tokenizer (plus a 4-token template for chat)."""
        self._exact(body, honours_forcing=True)

    def b_eos(self, body: dict[str, Any]) -> None:
        """Like ``exact``, but the engine ignores ``min_tokens`` and ``ignore_eos``."""
        self._exact(body, honours_forcing=False)

    def _exact(self, body: dict[str, Any], *, honours_forcing: bool) -> None:
        budget = int(body.get("max_tokens") or 16)
        forced = honours_forcing and (body.get("ignore_eos") or body.get("min_tokens"))
        produced = budget if forced else min(3, budget)
        if "messages" in body:
            prompt = toy_count(str(body["messages"][0]["content"])) + CHAT_TEMPLATE_TOKENS
        else:
            prompt = toy_count(str(body.get("prompt", "")))
        chat = "messages" in body
        finish = "length" if produced == budget else "stop"
        self._start_stream()
        for _ in range(produced):
            time.sleep(self.token_gap_s)
            self._send(_chunk(" x") if chat else _text_chunk(" x"))
        self._send(_chunk(finish=finish) if chat else _text_chunk("", finish=finish))
        usage = {"prompt_tokens": prompt, "completion_tokens": produced}
        self._send(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
        self._send(b"data: [DONE]\n\n")
        self._end()

    def b_paced(self, body: dict[str, Any]) -> None:
        """For Ctrl-C tests: a slow but healthy stream (about 0.25 s)."""
        self._start_stream()
        for word in ["a", " b", " c", " d", " e"]:
            time.sleep(0.05)
            self._send(_chunk(word))
        self._send(USAGE)
        self._send(b"data: [DONE]\n\n")
        self._end()


CHAT_TEMPLATE_TOKENS = 4


def toy_count(text: str) -> int:
    """The fake engine's tokenizer: a BOS, then one token per run of word characters and one
    per other visible character."""
    return 1 + len(re.findall(r"\w+|[^\w\s]", text))


@contextmanager
def fake_server() -> Iterator[str]:
    """Run the scripted server on a free loopback port; yields its base URL."""
    Handler.seen_headers = []
    Handler.seen_bodies = []
    Handler.seen_ports = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
