"""``catalogue.json``: the archive's index (built in ``publisher.archive.build``).

Deterministic by construction: everything is sorted, nothing depends on the build (no
timestamps, no paths), and the result is checked against ``publisher.archive.models.Catalogue``
(which generates ``schemas/catalogue.schema.json``).
"""

from __future__ import annotations

from typing import Any

from bakeoff.jsonio import dumps_stable
from publisher.archive.models import Catalogue


def validate_catalogue(catalogue: dict[str, Any]) -> None:
    """Check the catalogue against its model: a bug here must fail loudly, not publish."""
    Catalogue.model_validate(catalogue)


def render_catalogue(catalogue: dict[str, Any]) -> str:
    """The byte-stable text of ``catalogue.json``."""
    return dumps_stable(catalogue)
