"""Reproducibility guards (a clean checkout, a quiet machine) and the facts they record."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collector.errors import GuardError

LOAD_LIMIT = 4.0
# Generated artefacts that a normal `bakeoff run` + `bakeoff publish` cycle changes.
_IGNORED_DIRTY = ("runs/", "catalogue.json")

KNOB_ALLOW_LIST = (
    "CUDA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "LLAMA_ARG_THREADS",
    "OLLAMA_NUM_PARALLEL",
    "OLLAMA_KEEP_ALIVE",
    "OLLAMA_CONTEXT_LENGTH",
    "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_KV_CACHE_TYPE",
    "VLLM_ATTENTION_BACKEND",
    "PYTORCH_CUDA_ALLOC_CONF",
)


@dataclass(frozen=True)
class GitState:
    """The checkout the collector runs from (all None for an installed wheel)."""

    sha: str | None = None
    describe: str | None = None
    dirty: bool | None = None
    dirty_files: list[str] = field(default_factory=list)


GitRunner = Callable[[Sequence[str]], str | None]
"""Run ``git <args>`` in the checkout; its stdout, or None when git failed."""


def _git_in(root: Path) -> GitRunner:
    def run(args: Sequence[str]) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout

    return run


def git_state(root: Path | None, git: GitRunner | None = None) -> GitState:
    """Commit, describe and dirty files (paths inside the repository only).

    The one decision about dirtiness: files changed or untracked outside the generated
    artefacts (``runs/``, ``catalogue.json``). ``describe`` ends in ``-dirty`` exactly when
    ``dirty`` is true (``git describe --dirty`` would disagree: it looks at every tracked file
    and at no untracked one). ``git`` runs a git command; tests and the probe pass their own.
    """
    if root is None:
        return GitState()
    run = git or _git_in(root)
    sha = run(["rev-parse", "HEAD"])
    if sha is None:
        return GitState()
    described = (run(["describe", "--always"]) or "").strip() or None
    status = run(["status", "--porcelain", "--untracked-files=normal"]) or ""
    files = sorted(
        path
        for path in (line[3:].strip().strip('"') for line in status.splitlines() if line.strip())
        if not path.startswith(_IGNORED_DIRTY)
    )
    if described is not None and files:
        described += "-dirty"
    return GitState(sha=sha.strip(), describe=described, dirty=bool(files), dirty_files=files)


def check_dirty(state: GitState, allow_dirty: bool) -> None:
    """Refuse a dirty checkout unless --allow-dirty."""
    if state.dirty and not allow_dirty:
        shown = ", ".join(state.dirty_files[:5]) + (" …" if len(state.dirty_files) > 5 else "")
        raise GuardError(
            f"the checkout has uncommitted changes ({shown}); commit them, or pass --allow-dirty "
            "(the dirty files are then recorded in metadata.json)"
        )


def load_average() -> list[float] | None:
    """1/5/15-minute load average, or None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def check_load(load: list[float] | None, force_load: bool) -> None:
    """Refuse when the 1-minute load average is above 4.0 unless --force-load."""
    if load is not None and load[0] > LOAD_LIMIT and not force_load:
        raise GuardError(
            f"the 1-minute load average is {load[0]:.2f} (> {LOAD_LIMIT}); other work would "
            "distort the measurements. Wait for the machine to settle, or pass --force-load"
        )


def environment_knobs() -> dict[str, str]:
    """Allow-listed environment variables that change results; nothing else is recorded."""
    return {k: os.environ[k] for k in KNOB_ALLOW_LIST if k in os.environ}
