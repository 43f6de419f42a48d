"""Validation findings: one stable code per kind of problem, with its severity and a hint.

Codes are part of the CLI's ``--json`` output, so CI tooling may key on them: never rename
one; add a new code instead. ``docs/contributors.md`` lists them.

Severity: ``error`` blocks publishing; ``warning`` does not. Codes in ``FOR_PUBLICATION`` are
warnings for ``bakeoff validate`` and errors for ``bakeoff validate --for-publication`` and
``bakeoff publish`` (a run that measured nothing may be a fine local check, but it is not an
archive entry).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

# code -> (severity, hint). The hint says what to do about it.
CODES: dict[str, tuple[Severity, str]] = {
    # structure
    "structure.not_a_directory": ("error", "Pass a run directory (runs/<run_id>/)."),
    "structure.not_a_run": (
        "error",
        "This folder holds run directories: pass one of them, or `bakeoff validate` with no "
        "argument to check every run of the archive.",
    ),
    "structure.missing_file": (
        "error",
        "Copy the file from the run directory the collector wrote; run.md alone can be "
        "regenerated with `bakeoff report RUN_DIR`.",
    ),
    "structure.unexpected_file": (
        "error",
        "A run directory holds only metadata.json, run.jsonl, run.log, run.md, samples.jsonl "
        "and datasets/*.jsonl; remove the file.",
    ),
    "structure.symlink": ("error", "Replace the symlink with the file itself."),
    "structure.special_file": (
        "error",
        "A FIFO, socket or device is not a run file; replace it with a regular file.",
    ),
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
    "json.nonfinite": ("error", "NaN, Infinity and overflowing numbers are not JSON numbers."),
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
    "schema.timestamp": (
        "error",
        "Timestamps must name a real UTC instant, e.g. 2026-11-23T14:55:01.123456Z.",
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
    "consistency.duplicate": (
        "error",
        "Each cell, prompt, task, length workload, concurrency level and request rate is listed "
        "once in metadata.json.",
    ),
    "consistency.unknown_workload": (
        "error",
        "Every call's prompt_id/task_id must be listed in metadata.config.",
    ),
    "consistency.backend": ("error", "A call's backend must equal its cell's engine."),
    "consistency.tokens_per_sec": (
        "error",
        "tokens_per_sec = completion_tokens / ((total_duration_ms − first_delta_ms) / 1000).",
    ),
    "consistency.prefill_rate": (
        "error",
        "prefill_tokens_per_sec = (prompt_tokens − cached_prompt_tokens) / (first_delta_ms / "
        "1000).",
    ),
    "consistency.level": (
        "error",
        "A call has a concurrency (closed loop) or a request_rate (open loop) from "
        "config.rates, or from a sweep when config.sweep is true.",
    ),
    "consistency.length_target": (
        "error",
        "A length workload's calls carry its targets from config.lengths and "
        "length_off_target true exactly when a length is unknown or more than 1 % off.",
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
    "consistency.comparable": (
        "error",
        "Smoke and probe-only runs and runs without a measured call are comparable: false, "
        "with a comparable_reason; regenerate the run with the current collector.",
    ),
    "consistency.duplicate_run": (
        "error",
        "The same run (run_uuid) is in two run directories; keep one of them.",
    ),
    "consistency.imported_workload": (
        "error",
        "An imported run's workloads and statistics are written by `bakeoff import`; import the "
        "source file again instead of editing them.",
    ),
    # privacy
    "privacy.ip_address": (
        "error",
        "Remove the address (loopback is fine); the collector records endpoint_kind instead.",
    ),
    "privacy.mac_address": ("error", "Remove the hardware address."),
    "privacy.user_at_host": ("error", "Remove the user@host string or e-mail address."),
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
    # publication (warnings for validate, errors for --for-publication and publish)
    "publication.no_calls": (
        "warning",
        "Nothing was measured: check run.log for why every cell was skipped, start the engine "
        "and run `bakeoff run` again; runs without a measured call are not published.",
    ),
    # plausibility (never blocking)
    "plausibility.rate": ("warning", "Check the token counts and timings of this call."),
    "plausibility.duration": ("warning", "Check the timings of this call."),
    "plausibility.hardware": ("warning", "Check the probe's output for this host."),
    "plausibility.no_cold_call": ("warning", "A cold call was planned but not recorded."),
    "plausibility.roofline": (
        "warning",
        "The decode rate reads more bytes per second than the run measured its memory can "
        "deliver. Check for a mixture-of-experts model, weights offloaded to a GPU, a machine "
        "busier during --bench than during the run, or an edited ledger.",
    ),
}
FOR_PUBLICATION = frozenset({"publication.no_calls", "plausibility.roofline"})


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
        """A plain dict for ``--json`` output and the artifact store."""
        return asdict(self)

    def render(self) -> str:
        """One readable line plus the hint, e.g. for the terminal."""
        where = self.file + (f":{self.line}" if self.line is not None else "")
        ptr = f" {self.pointer}" if self.pointer else ""
        return (
            f"{self.severity.upper()} [{self.code}] {self.run_id} {where}{ptr}: {self.message}\n"
            f"    hint: {self.hint}"
        )


def _escape_data(text: str) -> str:
    # A workflow command ends at a newline, and '%' starts an escape: both are escaped, so a
    # message or a file name can never start a command of its own; a '::' inside the text is
    # shown as ': :' so that nothing in it even looks like one.
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.replace("::", ": :")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(f: Finding, runs_prefix: str = "runs") -> str:
    """A GitHub Actions workflow command, so the finding shows as an annotation on the PR."""
    level = "error" if f.severity == "error" else "warning"
    run_dir = f"{runs_prefix}/{f.run_id}"
    path = run_dir if f.file == "." else f"{run_dir}/{f.file}"
    props = f"file={_escape_property(path)}"
    if f.line is not None:
        props += f",line={f.line}"
    props += f",title={_escape_property(f.code)}"
    text = f"{f.message}{' at ' + f.pointer if f.pointer else ''}. Hint: {f.hint}"
    return f"::{level} {props}::{_escape_data(text)}"


def finding(
    code: str,
    run_id: str,
    file: str,
    message: str,
    *,
    line: int | None = None,
    pointer: str | None = None,
    for_publication: bool = False,
) -> Finding:
    """Build a finding; severity and hint come from the code's registry entry."""
    severity, hint = CODES[code]
    if for_publication and code in FOR_PUBLICATION:
        severity = "error"
    return Finding(run_id, file, line, pointer, code, severity, message, hint)


def finding_from_dict(data: dict[str, Any]) -> Finding:
    """Rebuild a finding from ``to_dict`` output (the artifact store)."""
    return Finding(**data)


def has_errors(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    """True when any finding blocks publishing."""
    return any(f.severity == "error" for f in findings)


def json_pointer(path: list[str | int] | tuple[str | int, ...]) -> str:
    """RFC 6901 pointer for a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
