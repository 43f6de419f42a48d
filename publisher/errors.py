"""The publisher's error tree: every expected failure derives from ``PublisherError``.

    PublisherError                 one clear message + exit 1 in ``publisher.cli``
    ├── RunsInvalidError           validation found errors; carries the findings
    ├── NoRunsError                a path given on the command line is not a run directory
    ├── StaleCatalogueError        ``publish --check``: committed catalogue.json is out of date
    └── ExportError                an export file could not be written

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publisher.finding import Finding


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


class NoRunsError(PublisherError):
    """A path given as a run directory does not exist or is not a directory."""


class StaleCatalogueError(PublisherError):
    """The committed catalogue.json differs from what the runs produce."""


class ExportError(PublisherError):
    """An export (Parquet, DuckDB, site pages) could not be written."""
