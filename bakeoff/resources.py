"""Locate the ``schemas/`` and ``seeds/`` folders, in a checkout or an installed wheel.

In a wheel they are packaged as ``bakeoff/_data/{schemas,seeds}``; in a source checkout (or an
editable install) they are the top-level folders of the repository.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The folder that contains ``schemas/`` and ``seeds/``."""
    packaged = _HERE / "_data"
    if (packaged / "schemas").is_dir():
        return packaged
    return _HERE.parent


def schemas_dir() -> Path:
    """The folder of JSON Schema files (the collector/publisher contract)."""
    return data_root() / "schemas"


def seeds_dir() -> Path:
    """The folder of reviewed lookup data (prompts, interface types, datasets)."""
    return data_root() / "seeds"


def load_json(path: Path) -> Any:
    """Read one JSON file as UTF-8."""
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/<name>.schema.json``."""
    data = load_json(schemas_dir() / f"{name}.schema.json")
    assert isinstance(data, dict)
    return data


def load_seed(name: str) -> Any:
    """Load ``seeds/<name>`` (a JSON file name including its extension)."""
    return load_json(seeds_dir() / name)


def repo_root() -> Path | None:
    """The source checkout this code runs from, or None for an installed wheel."""
    root = _HERE.parent
    return root if (root / ".git").exists() else None


def checkout_path(relative: str) -> Path:
    """``relative`` inside the checkout bakeoff runs from, else relative to the working
    directory: the default place of runs/, out/ and catalogue.json for every command."""
    root = repo_root()
    return (root / relative) if root is not None else Path(relative)
