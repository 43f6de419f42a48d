"""Engine adapters and their explicit registry (no import-time discovery)."""

from __future__ import annotations

from collector.engines.base import Engine, EngineInfo, Event, GenerationRequest, ServerTimings
from collector.engines.llamacpp import LlamaCppEngine
from collector.engines.ollama import OllamaEngine
from collector.engines.openai import OpenAIEngine
from collector.errors import ConfigError

REGISTRY: dict[str, type[Engine]] = {
    "openai": OpenAIEngine,
    "llamacpp": LlamaCppEngine,
    "ollama": OllamaEngine,
}


def engine_class(name: str) -> type[Engine]:
    """The adapter class for an engine kind; unknown names list the allowed ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        allowed = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"unknown engine {name!r}; allowed: {allowed}") from None


__all__ = [
    "REGISTRY",
    "Engine",
    "EngineInfo",
    "Event",
    "GenerationRequest",
    "ServerTimings",
    "engine_class",
]
