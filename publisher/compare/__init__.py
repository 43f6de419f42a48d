"""``bakeoff compare``: gate a candidate run against a baseline run, or against budgets.

``sides`` resolves and compiles the runs, ``checks`` matches results and runs the checks,
``report`` builds the report and its text; ``publisher.cli`` is the glue.
"""

from __future__ import annotations

from publisher.compare.report import CompareRequest, render_text, run_compare

__all__ = ["CompareRequest", "render_text", "run_compare"]
