"""Model and engine pages: one name compared across systems (comparable results only), and
the index of each kind."""

from __future__ import annotations

from collections.abc import Sequence

from publisher.site.escape import html_text, slug
from publisher.site.pages.common import Col, Output, html_table, link_cell, num_cell, page
from publisher.site.pages.leaderboards import per_workload_tabs
from publisher.site.pages.view import ArchiveView, Entry


def _codes(values: Sequence[str]) -> str:
    return ", ".join(f"<code>{html_text(v)}</code>" for v in values) or "—"


def model_page(view: ArchiveView, model: str, entries: Sequence[Entry], out: Output) -> str:
    """One model compared across systems and engines."""
    digests = sorted({str(e.row["model_digest"]) for e in entries if e.row.get("model_digest")})
    runs = {str(e.row.get("run_id")) for e in entries}
    body = [
        f'<p class="bo-facts">Model <code>{html_text(model)}</code> · latest results from '
        f"{len(runs)} run(s) · digests: {_codes(digests)}</p>",
        *per_workload_tabs(
            view,
            entries,
            [0],
            lambda e: f"{e.system.text} · {e.engine_label} · {e.row.get('quantization') or '—'}",
            "../",
            out,
        ),
    ]
    return page(f"Model {model}", body)


def engine_page(view: ArchiveView, engine: str, entries: Sequence[Entry], out: Output) -> str:
    """One engine kind compared across systems and models."""
    versions = sorted(
        {str(e.row["engine_version"]) for e in entries if e.row.get("engine_version")}
    )
    body = [
        f'<p class="bo-facts">Engine <code>{html_text(engine)}</code> · versions: '
        f"{_codes(versions)}</p>",
        *per_workload_tabs(
            view,
            entries,
            [0],
            lambda e: f"{e.system.text} · {e.model_label} · {e.row.get('engine_version') or '—'}",
            "../",
            out,
        ),
    ]
    return page(f"Engine {engine}", body)


def names_index(title: str, key: str, entries_by: dict[str, list[Entry]]) -> str:
    """Index of models or engines with their result counts and workloads."""
    rows = []
    for name in sorted(entries_by):
        es = entries_by[name]
        rows.append(
            [
                link_cell(name, f"{slug(name)}.html"),
                num_cell(len(es), 0),
                num_cell(len({e.workload.key for e in es}), 0),
                num_cell(len({str(e.row.get("system_id")) for e in es}), 0),
            ]
        )
    cols = [
        Col(key.capitalize(), wrap=True),
        Col("results", "configurations ranked", True),
        Col("workloads", "", True),
        Col("systems", "", True),
    ]
    return page(
        title,
        [
            f"One page per {key}, comparing its comparable results across systems.",
            html_table(cols, rows),
        ],
    )


def write_name_pages(view: ArchiveView, out: Output) -> None:
    """The models and engines indexes and one page per model and engine that ranks."""
    for column, folder, title, render in (
        ("model", "models", "Models", model_page),
        ("engine", "engines", "Engines", engine_page),
    ):
        groups: dict[str, list[Entry]] = {}
        for e in view.all_entries():
            groups.setdefault(str(e.row.get(column)), []).append(e)
        out.write(f"{folder}/index.md", names_index(title, column, groups))
        for name, entries in sorted(groups.items()):
            out.write(f"{folder}/{slug(name)}.md", render(view, name, entries, out))
