"""llama.cpp's ``llama-server``: OpenAI-compatible streaming plus its own endpoints.

``/health`` (503 while loading, 200 when ready), ``/props`` (``build_info``, model path), the
``timings`` object in the last chunk, and ``cache_prompt: false`` so repeated prompts measure
prefill honestly.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from collector.engines.base import EngineInfo, GenerationRequest
from collector.engines.gguf import NO_FACTS, ModelFacts
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


def _positive_int(value: Any) -> int | None:
    """A JSON number that is a positive whole number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if value > 0 and float(value).is_integer() else None


class LlamaCppEngine(OpenAIEngine):
    """llama.cpp ``llama-server`` (gray box: version, build and server timings)."""

    kind: ClassVar[str] = "llamacpp"
    supports_server_timings: ClassVar[bool] = True

    async def health(self) -> None:
        await self._check_health("/health")

    async def describe(self) -> EngineInfo:
        model = await self._model_facts()
        try:
            props = await self._get_json("/props", timeout=self.timeouts.health_s)
        except EngineError:
            return EngineInfo(model=model)
        if not isinstance(props, dict):
            return EngineInfo(model=model)
        build = props.get("build_info")
        model_path = props.get("model_path")
        # The model path is a local path: keep only what the file name says, never the path.
        quant = quantization_from_name(model_path) if isinstance(model_path, str) else None
        return EngineInfo(
            version=build if isinstance(build, str) else None,
            build=build if isinstance(build, str) else None,
            quantization=quant,
            model=model,
        )

    async def _model_facts(self) -> ModelFacts:
        """``meta`` of the served model in ``/v1/models``: ``size`` (tensor bytes), ``n_params``."""
        try:
            listing = await self._get_json("/v1/models", timeout=self.timeouts.health_s)
        except EngineError:
            return NO_FACTS
        entries = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            return NO_FACTS
        models = [e for e in entries if isinstance(e, dict)]
        named = [e for e in models if e.get("id") == self.model]
        chosen = named[0] if named else models[0] if len(models) == 1 else None
        meta = chosen.get("meta") if chosen is not None else None
        if not isinstance(meta, dict):
            return NO_FACTS
        size, params = _positive_int(meta.get("size")), _positive_int(meta.get("n_params"))
        if size is None and params is None:
            return NO_FACTS
        # /v1/models says nothing about experts: unknown, not "dense".
        return ModelFacts(
            size_bytes=size, parameters=params, expert_count=None, source="llama_server"
        )

    def payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        path, body = super().payload(request)
        body.setdefault("cache_prompt", False)
        if request.exact_output and "min_tokens" not in request.options:
            body.pop("min_tokens", None)  # llama-server's way is ignore_eos alone
        return path, body
