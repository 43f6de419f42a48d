"""llama.cpp's ``llama-server``: OpenAI-compatible streaming plus its own endpoints.

``/health`` (503 while loading, 200 when ready), ``/props`` (``build_info``, model path), the
``timings`` object in the last chunk, and ``cache_prompt: false`` so repeated prompts measure
prefill honestly.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from collector.engines.base import EngineInfo, GenerationRequest
from collector.engines.openai import OpenAIEngine
from collector.errors import EngineError

_QUANT = re.compile(
    r"(?i)(?:^|[-_.])((?:IQ|Q)[0-9]_[A-Z0-9_]+|Q[0-9]_[0-9]|F16|BF16|F32)(?=[-_.]|$)"
)


def quantization_from_name(name: str) -> str | None:
    """Quantization tag in a GGUF file name (``…-Q4_K_M.gguf`` → ``Q4_K_M``)."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".gguf")
    match = _QUANT.search(stem)
    return match.group(1).upper() if match else None


class LlamaCppEngine(OpenAIEngine):
    """llama.cpp ``llama-server`` (gray box: version, build and server timings)."""

    kind: ClassVar[str] = "llamacpp"
    supports_server_timings: ClassVar[bool] = True

    async def health(self) -> None:
        await self._check_health("/health")

    async def describe(self) -> EngineInfo:
        try:
            props = await self._get_json("/props", timeout=self.timeouts.health_s)
        except EngineError:
            return EngineInfo()
        if not isinstance(props, dict):
            return EngineInfo()
        build = props.get("build_info")
        model_path = props.get("model_path")
        # The model path is a local path: keep only what the file name says, never the path.
        quant = quantization_from_name(model_path) if isinstance(model_path, str) else None
        return EngineInfo(
            version=build if isinstance(build, str) else None,
            build=build if isinstance(build, str) else None,
            quantization=quant,
        )

    def payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        path, body = super().payload(request)
        body.setdefault("cache_prompt", False)
        return path, body
