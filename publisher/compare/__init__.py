"""``bakeoff compare``: gate a candidate run against a baseline run, or against budgets.

``sides`` resolves and compiles the runs, ``checks`` matches results and runs the checks,
``report`` builds the report and its text; ``publisher.cli`` is the glue.
"""

from __future__ import annotations

from publisher.compare.checks import Pair, bootstrap_ratio_ci, match, relative_check
from publisher.compare.report import CompareRequest, render_text, run_compare
from publisher.compare.sides import Result, RunSide, parse_ref, previous_run
from publisher.errors import CompareError, RunInvalidError, RunNotFoundError

__all__ = [
    "CompareError",
    "CompareRequest",
    "Pair",
    "Result",
    "RunInvalidError",
    "RunNotFoundError",
    "RunSide",
    "bootstrap_ratio_ci",
    "match",
    "parse_ref",
    "previous_run",
    "relative_check",
    "render_text",
    "run_compare",
]
