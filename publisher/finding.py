"""Validation findings: one stable code per kind of problem, with its severity and a hint.

Codes are part of the CLI's ``--json`` output, so CI tooling may key on them: never rename
one; add a new code instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

# code -> (severity, hint). The hint says what to do about it.
CODES: dict[str, tuple[Severity, str]] = {
    # structure
    "structure.not_a_directory": ("error", "Pass a run directory (runs/<run_id>/)."),
    "structure.missing_file": (
        "error",
        "Re-run `bakeoff report RUN_DIR` or copy the file from the collector's output.",
    ),
    "structure.unexpected_file": (
        "error",
        "A run directory holds only metadata.json, run.jsonl, run.log, run.md, samples.jsonl "
        "and datasets/*.jsonl; remove the file.",
    ),
    "structure.symlink": ("error", "Replace the symlink with the file itself."),
    "structure.too_large": ("error", "Keep run files under the size limit; split or trim it."),
    "structure.dir_name": ("error", "Rename the directory to the run_id in metadata.json."),
    "structure.ledger_in_meta_only": (
        "error",
        "A meta_only run has no run.jsonl; remove it or set meta_only to false.",
    ),
    "structure.unreadable": ("error", "Check file permissions."),
    # encoding and JSON
    "json.encoding": ("error", "Files must be UTF-8 encoded."),
    "json.invalid": ("error", "Fix the JSON syntax (a truncated or hand-edited file?)."),
    "json.nonfinite": ("error", "NaN and Infinity are not JSON; write null instead."),
    "json.too_deep": ("error", "Nesting this deep is not a run record; regenerate the file."),
    "json.empty_ledger": ("error", "run.jsonl needs at least its meta line."),
    # schema
    "schema.metadata": ("error", "Fix the field; schemas/metadata.schema.json describes it."),
    "schema.ledger": ("error", "Fix the record; schemas/ledger-record.schema.json describes it."),
    "schema.samples": ("error", "Fix the line; schemas/sample.schema.json describes it."),
    "schema.dataset": (
        "error",
        "Fix the item; schemas/seed-dataset-item.schema.json describes it.",
    ),
    "schema.version_newer": (
        "error",
        "This run was written by a newer bakeoff; upgrade: pip install -U 'bakeoff[publish]'.",
    ),
    "schema.version_unknown": ("error", "schema_version must be a positive integer."),
    # consistency
    "consistency.meta_first": ("error", "Line 1 of run.jsonl must be the meta record."),
    "consistency.meta_mismatch": ("error", "The meta line must agree with metadata.json."),
    "consistency.unplanned_cell": ("error", "Every record's cell_id must be a planned cell."),
    "consistency.unknown_workload": (
        "error",
        "Every call's prompt_id/task_id must be listed in metadata.config.",
    ),
    "consistency.backend": ("error", "A call's backend must equal its cell's engine."),
    "consistency.tokens_per_sec": (
        "error",
        "tokens_per_sec = completion_tokens / ((total_duration_ms − first_delta_ms) / 1000).",
    ),
    "consistency.timestamps": ("error", "Timestamps must be ordered as the run happened."),
    "consistency.ttft_after_total": ("error", "first_delta_ms cannot exceed total_duration_ms."),
    "consistency.cold_calls": (
        "error",
        "One cold call per cell and prompt (none when config.cold is false).",
    ),
    "consistency.summary": ("error", "metadata.summary must count the ledger's records."),
    "consistency.system_id": (
        "error",
        "run_hardware_metrics.system_id must equal hardware.system_hardware.system_id.",
    ),
    "consistency.synthetic": (
        "error",
        "Synthetic runs never enter the archive; pass --allow-synthetic only for tests.",
    ),
    "consistency.dataset_sha256": (
        "error",
        "datasets/<name> must be the exact file the task used (its sha256 is in config.tasks).",
    ),
    # privacy
    "privacy.ip_address": (
        "error",
        "Remove the address (loopback is fine); the collector records endpoint_kind instead.",
    ),
    "privacy.user_at_host": ("error", "Remove the user@host string."),
    "privacy.home_path": ("error", "Remove the home path; keep paths relative to the repo."),
    "privacy.secret": ("error", "Remove the key or token now and revoke it: it may have leaked."),
    "privacy.private_key": ("error", "Remove the private key now and revoke it."),
    # quality (post-process metrics)
    "quality.rouge_mismatch": (
        "error",
        "The recorded ROUGE score differs from the one recomputed from output_text.",
    ),
    "quality.reference_missing": (
        "warning",
        "Ship the dataset as datasets/<name>.jsonl so ROUGE can be recomputed.",
    ),
    "quality.rouge_unavailable": (
        "warning",
        "Install rouge-score: pip install 'bakeoff[quality]'.",
    ),
    # plausibility (never blocking)
    "plausibility.rate": ("warning", "Check the token counts and timings of this call."),
    "plausibility.duration": ("warning", "Check the timings of this call."),
    "plausibility.hardware": ("warning", "Check the probe's output for this host."),
    "plausibility.no_cold_call": ("warning", "A cold call was planned but not recorded."),
}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem found in a run directory; ``line`` is 1-based, ``pointer`` RFC 6901."""

    run_id: str
    file: str
    line: int | None
    pointer: str | None
    code: str
    severity: Severity
    message: str
    hint: str

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for ``--json`` output and the cache."""
        return asdict(self)

    def render(self) -> str:
        """One readable line plus the hint, e.g. for the terminal."""
        where = self.file + (f":{self.line}" if self.line is not None else "")
        ptr = f" {self.pointer}" if self.pointer else ""
        return (
            f"{self.severity.upper()} [{self.code}] {self.run_id} {where}{ptr}: {self.message}\n"
            f"    hint: {self.hint}"
        )


def render_github(f: Finding, runs_prefix: str = "runs") -> str:
    """A GitHub Actions workflow command, so the finding shows as an annotation on the PR."""
    level = "error" if f.severity == "error" else "warning"
    run_dir = f"{runs_prefix}/{f.run_id}"
    path = run_dir if f.file == "." else f"{run_dir}/{f.file}"
    loc = f"file={path}" + (f",line={f.line}" if f.line is not None else "")
    text = f"{f.message}{' at ' + f.pointer if f.pointer else ''}. Hint: {f.hint}"
    # Workflow commands end at a newline and treat % specially: escape both.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level} {loc},title={f.code}::{text}"


def finding(
    code: str,
    run_id: str,
    file: str,
    message: str,
    *,
    line: int | None = None,
    pointer: str | None = None,
) -> Finding:
    """Build a finding; severity and hint come from the code's registry entry."""
    severity, hint = CODES[code]
    return Finding(run_id, file, line, pointer, code, severity, message, hint)


def finding_from_dict(data: dict[str, Any]) -> Finding:
    """Rebuild a finding from ``to_dict`` output (the cache)."""
    return Finding(**data)


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding blocks publishing."""
    return any(f.severity == "error" for f in findings)


def json_pointer(path: list[str | int] | tuple[str | int, ...]) -> str:
    """RFC 6901 pointer for a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
