"""``run.md`` of an imported run: where it came from, then the tables."""

from __future__ import annotations

from typing import Any

from collector.report import render_report


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def render(md: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The Markdown text: source, per-request tables (when any), the summary statistics."""
    source = md["source"]
    files = ", ".join(f"`{f['name']}` (sha256 `{f['sha256'][:16]}…`)" for f in source["files"])
    out = [
        f"# Run {md['run_id']} (imported)",
        "",
        f"Imported from {source['tool']} {source['tool_version'] or '(version not recorded)'}: "
        f"{files}.",
        f"Hardware: {source['hardware_source']}"
        + (
            f" (not recorded: {', '.join(source['hardware_missing'])})"
            if source["hardware_missing"]
            else ""
        )
        + ".",
        "",
    ]
    if source.get("command"):
        out += ["Command:", "", f"    {source['command']}", ""]
    if records:
        body = render_report(records, md).split("\n", 1)[1]
        out += ["## Per-request records", body.strip(), ""]
    stats = md.get("aggregates") or []
    if stats:
        out += [
            "## Summary statistics as the tool states them",
            "",
            "Mapped metrics follow the archive's definitions (methodology page, \"Imported "
            "results\"); the others keep the tool's own name and are not comparable.",
            "",
            "| cell | workload | conc | metric | unit | n | mean | std | p50 | p99 |",
            "|---|---|---:|---|---|---:|---:|---:|---:|---:|",
        ]
        for s in stats:
            out.append(
                f"| {s['cell_id']} | {s['workload_id']} | {s['concurrency']} | {s['metric']} | "
                f"{s['unit']} | {_fmt(s['n'])} | {_fmt(s['mean'])} | {_fmt(s['std'])} | "
                f"{_fmt(s['p50'])} | {_fmt(s['p99'])} |"
            )
        out.append("")
    for note in source.get("notes") or []:
        out.append(f"- {note}")
    return "\n".join(out).rstrip("\n") + "\n"
