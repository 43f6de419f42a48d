"""The compare view: two to four systems or runs side by side on the workload signatures they
share (a table and a chart), drawn in the browser from the run index and the run data files.

The selection lives in the query string (``compare.html?systems=<id>,<id>&runs=<id>``), so a
comparison can be shared as a link. A system stands for its newest comparable results per
signature (from its newest comparable runs); runs that are not comparable cannot be picked.
"""

from __future__ import annotations

from publisher.site.pages.common import page

# How many of a system's newest comparable runs the browser reads for that system.
SYSTEM_RUNS = 5
MAX_ITEMS = 4

COMPARE_PAGE = page(
    "Compare",
    [
        "Pick two to four systems or runs: their comparable warm results are shown side by side "
        "for every workload signature (workload, engine and model) that at least two of them "
        f"share. A system stands for the newest result per signature from its {SYSTEM_RUNS} "
        "newest comparable runs. The address of this page keeps the selection: copy it to share "
        "the comparison.",
        f'<div class="bo-compare" data-src="data/runs.js" data-runs="data/runs/" '
        f'data-system-runs="{SYSTEM_RUNS}" data-max="{MAX_ITEMS}" data-search-exclude>'
        '<p class="bo-loading">Loading the run index…</p></div>',
    ],
    search=False,
)
