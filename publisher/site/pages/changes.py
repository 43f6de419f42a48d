"""Recent changes: the newest regressions and improvements of every system (comparable runs
only, so a smoke or empty run never adds or moves a change point)."""

from __future__ import annotations

from publisher.site.pages.common import Col, html_table, page
from publisher.site.pages.systems import change_rows
from publisher.site.pages.view import ArchiveView

RECENT_CHANGES = 100


def changes_page(view: ArchiveView) -> str:
    """ "Recent changes": the newest change points of every system."""
    changed = view.changes(RECENT_CHANGES)
    regressions = sum(1 for r in changed if r.get("change") == "regression")
    cols = [
        Col("Time"),
        Col("Run"),
        Col("System", "hardware class, and the system's label (host label · system id)", wrap=True),
        Col("Workload"),
        Col("Engine · model", wrap=True),
        Col("Change"),
        Col("Detail", wrap=True),
    ]
    body = [
        "Regressions and improvements between consecutive comparable warm results of one "
        "configuration (workload × engine × model) on one system, newest first: each result is "
        "compared with the previous one by the thresholds of `seeds/tolerances.json`; a recovery "
        "after a regression is an improvement of its own. Each system page charts its history.",
    ]
    if changed:
        body.append(
            f'<p class="bo-note">{len(changed)} newest change points: {regressions} '
            f"regressions, {len(changed) - regressions} improvements.</p>"
        )
    body.append(html_table(cols, change_rows(changed, "", with_system=True)))
    return page("Recent changes", body)
