"""The frozen prompts (seeds/prompts.json): their bytes never change; new prompts get new ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bakeoff.resources import load_seed
from collector.errors import ConfigError
from collector.models import PromptsSeed

DEFAULT_PROMPTS = ("P-EASY", "P-MEDIUM", "P-HARD")


@dataclass(frozen=True)
class WorkItem:
    """One thing to send to every cell: a frozen prompt, a length workload (a prompt of an exact
    token count built per call, ``collector.tasks.lengths``) or one item of a task's dataset."""

    workload_id: str
    kind: str  # "prompt", "length" or "task"
    text: str  # empty for a length workload: its prompts are built per call
    max_tokens: int
    sha256: str | None = None  # of the prompt text, for frozen prompts
    item_id: str | None = None
    keep_output: bool = False
    reference: str | None = None
    input_tokens: int | None = None  # length workloads: the exact prompt length

    @property
    def under_load(self) -> bool:
        """Whether concurrency and rate levels send this item (prompts and length workloads)."""
        return self.kind in ("prompt", "length")


def load_prompts() -> PromptsSeed:
    """Load and verify the frozen prompts (a changed text is a hard error)."""
    seed = PromptsSeed.model_validate(load_seed("prompts.json"))
    for prompt in seed.prompts:
        actual = hashlib.sha256(prompt.text.encode("utf-8")).hexdigest()
        if actual != prompt.sha256:
            raise ConfigError(
                f"seeds/prompts.json: the text of {prompt.id} does not match its sha256; "
                "frozen prompts must never change (add a new id instead)"
            )
    return seed


def prompt_items(ids: list[str] | None) -> list[WorkItem]:
    """Work items for the given prompt ids (default: P-EASY, P-MEDIUM, P-HARD)."""
    seed = load_prompts()
    by_id = {p.id: p for p in seed.prompts}
    wanted = list(ids) if ids is not None else list(DEFAULT_PROMPTS)
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise ConfigError(
            f"unknown prompt id(s) {', '.join(unknown)}; allowed: {', '.join(sorted(by_id))}"
        )
    return [
        WorkItem(
            workload_id=p.id, kind="prompt", text=p.text, max_tokens=p.max_tokens, sha256=p.sha256
        )
        for p in (by_id[i] for i in wanted)
    ]
