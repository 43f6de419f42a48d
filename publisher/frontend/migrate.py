"""Schema-version handling: refuse newer files, upgrade older ones one step at a time.

Each step ``n -> n+1`` is a pure function on the parsed JSON (metadata and ledger lines are
migrated separately). Version 1 is the first published format, so the table is empty today;
when the contract changes, bump ``SCHEMA_VERSION`` in ``collector/models.py``, regenerate the
schemas and add the step here together with an old-format run in the tests' corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from publisher.errors import VersionError

CURRENT_VERSION = 1
"""The newest schema_version this publisher understands (the ``const`` in the schemas)."""

Step = Callable[[dict[str, Any]], dict[str, Any]]

# from-version -> step producing from-version + 1
METADATA_STEPS: Mapping[int, Step] = {}
LEDGER_STEPS: Mapping[int, Step] = {}


def migrate(
    doc: dict[str, Any],
    steps: Mapping[int, Step],
    current: int = CURRENT_VERSION,
) -> dict[str, Any]:
    """Upgrade ``doc`` to ``current`` through ``steps``; raise VersionError when impossible."""
    version = doc.get("schema_version", current)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise VersionError("schema.version_unknown", f"schema_version {version!r} is not valid")
    if version > current:
        raise VersionError(
            "schema.version_newer",
            f"schema_version {version} is newer than this publisher knows ({current})",
        )
    while version < current:
        step = steps.get(version)
        if step is None:
            raise VersionError(
                "schema.version_unknown", f"no migration from schema_version {version}"
            )
        doc = step(dict(doc))
        version += 1
        doc["schema_version"] = version
    return doc
