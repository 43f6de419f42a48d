"""The publisher's error tree: every expected failure derives from ``PublisherError``.

    PublisherError                 one clear message + exit 1 in ``publisher.cli``
    ├── RunsInvalidError           validation found errors; carries the findings
    ├── StaleCatalogueError        ``publish --check``: committed catalogue.json is out of date
    ├── ExportError                an export file could not be written
    ├── OutputError                an output path cannot be written (names the path)
    ├── GateError                  a tolerances or budgets file is invalid
    ├── SiteError                  the site cannot be generated or built
    ├── CompareError               a run or cell given to ``bakeoff compare`` cannot be used
    │   ├── RunNotFoundError       neither a run directory nor a run id in the archive
    │   └── RunInvalidError        the run failed validation; carries the findings
    └── VersionError               a document's schema_version cannot be read or upgraded;
                                   raised and caught inside the front end (a finding)

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publisher.frontend.finding import Finding


class PublisherError(Exception):
    """Base of every expected publisher failure; ``str(exc)`` is the user-facing message."""


class RunsInvalidError(PublisherError):
    """Validation found at least one error; publishing is refused."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = sum(1 for f in findings if f.severity == "error")
        runs = len({f.run_id for f in findings if f.severity == "error"})
        super().__init__(
            f"{errors} validation error(s) in {runs} run(s); nothing was published "
            "(run `bakeoff validate` for the details)"
        )


class StaleCatalogueError(PublisherError):
    """The committed catalogue.json differs from what the runs produce."""


class ExportError(PublisherError):
    """An export (Parquet, DuckDB, site pages) could not be written."""


class OutputError(PublisherError):
    """An output path (exports, site pages, catalogue.json) cannot be written or replaced."""


class GateError(PublisherError):
    """A tolerances or budgets file cannot be used."""


class SiteError(PublisherError):
    """The site cannot be generated or built."""


class CompareError(PublisherError):
    """A run or cell given to ``bakeoff compare`` cannot be used."""


class RunNotFoundError(CompareError):
    """Neither a run directory nor a run id in the archive."""


class RunInvalidError(CompareError):
    """A run failed validation; carries the findings (errors are printed by the CLI)."""

    def __init__(self, run: str, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        errors = [f for f in findings if f.severity == "error"]
        synthetic = any(f.code == "consistency.synthetic" for f in errors)
        super().__init__(
            f"run {run} failed validation ({len(errors)} error(s)); nothing was compared. "
            + (
                "It is a synthetic test run: pass --allow-synthetic to compare it anyway"
                if synthetic and len(errors) == 1
                else f"See `bakeoff validate {run}` and fix the run first"
            )
        )


class VersionError(PublisherError):
    """A document's schema_version cannot be handled; ``code`` is the finding code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
