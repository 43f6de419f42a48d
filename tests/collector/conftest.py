"""Fixtures for collector tests: a real llama-cpp-python server with the bundled small model."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.engines.managed import (
    EMBEDDED_MODEL_NAME,
    ManagedProcess,
    embedded_model,
    free_port,
    llama_cpp_python_command,
)


@dataclass
class LlamaServer:
    """A running llama-cpp-python server on loopback."""

    url: str
    model: str
    process: ManagedProcess
    digest: str


def require_local_extra() -> None:
    """Skip (fail on CI) when the 'local' extra (llama-cpp-python) is missing."""
    if importlib.util.find_spec("llama_cpp") is None:
        message = "llama-cpp-python is not installed (pip install 'bakeoff[local]')"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must install the local extra")
        pytest.skip(message)


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """One real engine process for the session (started once: loading takes seconds)."""
    require_local_extra()
    bundled = embedded_model()
    port = free_port()
    proc = ManagedProcess(
        llama_cpp_python_command(bundled.path, port, EMBEDDED_MODEL_NAME), port=port
    )
    proc.start()
    try:
        yield LlamaServer(
            url=proc.base_url, model=EMBEDDED_MODEL_NAME, process=proc, digest=bundled.sha256
        )
    finally:
        proc.cleanup()


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty XDG config folder, so tests never touch the real system_id."""
    home = tmp_path / "config"
    home.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("BAKEOFF_SYSTEM_ID", raising=False)
    return home
