"""Length workloads: prompts of an exact token count, cut from a frozen text.

A cells file's ``lengths: ["512/64"]`` asks for prompts of exactly 512 tokens and outputs of
exactly 64. The prompts are cut from ``seeds/context_text.json`` (repeated as often as a
length needs) and measured with the engine's own tokenizer, so "512" means 512 tokens of
*that* engine's model, special and template tokens included — not 0.9 × 512 as with sampled
lengths. Every call of a cell gets its own prompt (variant ``k`` starts ``k × STRIDE`` words
into the text): an engine that reuses a cached prompt prefix (llama-cpp-python always does,
vLLM by default) would otherwise skip the prefill the workload is there to measure. The
variants are the same on every engine, so two engines are asked the same thing call for call.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

from bakeoff.resources import load_seed
from collector.errors import ConfigError
from collector.models import LENGTH_PATTERN, LengthRef, TextSeed

TEXT_SEED = "context_text.json"
# Words between the starts of consecutive variants: a prime, so that variant starts repeat only
# after as many variants as the text has words.
STRIDE = 389
# Counting steps one prompt may take before the closest count found is kept.
MAX_STEPS = 16
# The largest gap below the target that a prefix of the next word is tried for.
MAX_FILL = 3
OFF_TARGET = 0.01
"""A call whose prompt or completion length is more than 1 % away from its target is marked
(``length_off_target``)."""

Counter = Callable[[str], Awaitable[int | None]]


@dataclass(frozen=True)
class LengthSpec:
    """One length workload: exact prompt and output token counts."""

    input_tokens: int
    output_tokens: int

    @property
    def id(self) -> str:
        """``L-<input>-<output>``, the calls' ``prompt_id``."""
        return f"L-{self.input_tokens}-{self.output_tokens}"


def parse_lengths(values: list[str], where: str = "lengths") -> list[LengthSpec]:
    """``["512/64", …]`` as specs; a malformed or repeated entry is a ConfigError."""
    specs: list[LengthSpec] = []
    for value in values:
        text = value.strip()
        if not re.fullmatch(LENGTH_PATTERN, text):
            raise ConfigError(
                f"{where}: {value!r} is not input/output tokens; write e.g. 512/64 "
                "(whole numbers from 1, input first)"
            )
        first, second = text.split("/")
        spec = LengthSpec(int(first), int(second))
        if spec in specs:
            raise ConfigError(f"{where}: {text} is listed twice")
        specs.append(spec)
    return specs


@cache
def load_text() -> TextSeed:
    """The frozen text, its hash verified (a changed text is a hard error)."""
    seed = TextSeed.model_validate(load_seed(TEXT_SEED))
    actual = hashlib.sha256(seed.text.encode("utf-8")).hexdigest()
    if actual != seed.sha256:
        raise ConfigError(
            f"seeds/{TEXT_SEED}: the text of {seed.id} does not match its sha256; the text "
            "must never change (add a new text with a new id instead)"
        )
    return seed


def length_ref(spec: LengthSpec) -> LengthRef:
    """What metadata.json records about one length workload."""
    text = load_text()
    return LengthRef(
        id=spec.id,
        input_tokens=spec.input_tokens,
        output_tokens=spec.output_tokens,
        text_id=text.id,
        text_sha256=text.sha256,
    )


def off_target(achieved: int | None, target: int) -> bool:
    """Whether an achieved length is unknown or more than 1 % away from its target."""
    return achieved is None or abs(achieved - target) > OFF_TARGET * target


@dataclass(frozen=True)
class BuiltPrompt:
    """One prompt variant and the engine's count of it (None when the engine cannot count)."""

    text: str
    tokens: int | None


class PromptBuilder:
    """Cuts prompt variants of an exact token count from the frozen text for one engine.

    ``count`` is the engine's prompt count of a text (``Engine.prompt_token_count``). A variant
    is a run of whole words from its start word; the word count is adjusted until the engine
    counts exactly the target, and where one word adds two tokens and the count jumps over the
    target, a prefix of the next word fills the last token. When nothing hits the target the
    closest count found is kept (and the call is marked if it is more than 1 % off).
    """

    def __init__(self, count: Counter, text: str | None = None) -> None:
        self._count = count
        self._words = re.findall(r"\S+\s*", text if text is not None else load_text().text)
        if not self._words:
            raise ValueError("the text has no words")
        self._tokens_per_word: float | None = None

    def _cut(self, start: int, n_words: int) -> str:
        """``n_words`` words from word ``start``, wrapping around the end of the text."""
        words = self._words
        total = len(words)
        start %= total
        parts: list[str] = []
        while n_words > 0:
            take = min(n_words, total - start)
            parts.extend(words[start : start + take])
            n_words -= take
            start = 0
        return "".join(parts).rstrip()

    async def _ratio(self) -> float:
        """Tokens per word of the text for this engine (from its first 2,000 words), within
        [1, 8]: a word is at least one token, and a count outside that is no tokenizer's."""
        if self._tokens_per_word is None:
            sample = min(len(self._words), 2000)
            counted = await self._count(self._cut(0, sample))
            ratio = counted / sample if counted else 1.3
            self._tokens_per_word = min(max(ratio, 1.0), 8.0)
        return self._tokens_per_word

    async def build(self, variant: int, target: int) -> BuiltPrompt:
        """Prompt variant ``variant`` of ``target`` tokens (as the engine counts them)."""
        start = variant * STRIDE
        ratio = await self._ratio()
        # A word is at least one token, so more words than target tokens never help.
        n_words = min(max(1, round(target / ratio)), target)
        seen: dict[int, int] = {}
        for _ in range(MAX_STEPS):
            text = self._cut(start, n_words)
            got = await self._count(text)
            if got is None:
                return BuiltPrompt(text, None)
            if got == target:
                return BuiltPrompt(text, got)
            if got in seen.values():
                seen[n_words] = got
                break  # the count does not follow the text: nothing to steer by
            seen[n_words] = got
            step = round((target - got) / ratio) or (1 if got < target else -1)
            following = min(max(1, n_words + step), target)
            if following in seen:
                break  # the count jumps over the target between two word counts
            n_words = following
        below = [n for n, c in seen.items() if c < target]
        if below and target - seen[max(below)] <= MAX_FILL:
            n_low = max(below)
            filled = await self._fill(start, n_low, seen[n_low], target)
            if filled is not None:
                return filled
        # The closest count found (ties: the shorter prompt).
        n_best = min(seen, key=lambda n: (abs(seen[n] - target), seen[n]))
        return BuiltPrompt(self._cut(start, n_best), seen[n_best])

    async def _fill(
        self, start: int, n_words: int, counted: int, target: int
    ) -> BuiltPrompt | None:
        """``n_words`` words (``counted`` tokens) plus a prefix of the next word that makes
        exactly ``target``; None when no prefix does."""
        base = self._cut(start, n_words)
        following = self._words[(start + n_words) % len(self._words)].strip()
        for end in range(1, len(following)):
            text = base + " " + following[:end]
            got = await self._count(text)
            if got == target:
                return BuiltPrompt(text, got)
            if got is None or got > target or got <= counted:
                return None  # past the target, or a count that does not follow the text
        return None
