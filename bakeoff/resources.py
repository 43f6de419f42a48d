"""Locate the ``schemas/`` and ``seeds/`` folders, and the archive a command works on.

In a wheel ``schemas/`` and ``seeds/`` are packaged as ``bakeoff/_data/{schemas,seeds}``; in a
source checkout (or an editable install) they are the top-level folders of the repository.

The archive (``runs/``, ``catalogue.json``, ``out/``) is not where the code is installed but
where the user works: ``archive_root`` finds it from the working directory upward, as git finds
its repository, so a second clone or a fork publishes its own runs.
"""

from __future__ import annotations

import json
import os
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
    """``relative`` inside the checkout bakeoff's code runs from, else relative to the working
    directory: for the code's own files (the site sources). The archive's runs/, out/ and
    catalogue.json are found with ``archive_path`` instead."""
    root = repo_root()
    return (root / relative) if root is not None else Path(relative)


ARCHIVE_ENV = "BAKEOFF_ARCHIVE"
"""Environment variable naming the archive folder outright (no discovery)."""


def archive_root(start: Path | None = None) -> Path:
    """The archive every command works on, as an absolute path.

    ``$BAKEOFF_ARCHIVE`` when set; else the nearest folder from ``start`` (default: the working
    directory) upward, ``start`` included, that holds a ``runs/`` folder or a
    ``catalogue.json`` file; else ``start`` itself, so that ``bakeoff run`` in an empty folder
    starts an archive there (``./runs/``).
    """
    override = os.environ.get(ARCHIVE_ENV)
    if override:
        return Path(override).expanduser().absolute()
    here = (start if start is not None else Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / "runs").is_dir() or (folder / "catalogue.json").is_file():
            return folder
    return here


def archive_path(relative: str, start: Path | None = None) -> Path:
    """``relative`` (e.g. ``"runs"``, ``"catalogue.json"``, ``"out"``) inside ``archive_root``."""
    return archive_root(start) / relative


def site_project(start: Path | None = None) -> Path:
    """The MkDocs project the site is built from: the archive's own ``site/`` when it has one
    (a clone of the archive repository), else the one of the code's checkout."""
    own = archive_path("site", start)
    return own if (own / "mkdocs.yml").is_file() else checkout_path("site")
