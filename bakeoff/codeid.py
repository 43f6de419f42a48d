"""What a piece of code is: the source files a module reaches through its imports.

Caches key their entries by the code that made them (the publisher's artifact store, the
site's run pages). Listing modules by hand goes stale as the code grows, so the list is read
from the imports themselves.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("publisher", "bakeoff", "collector")


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@cache
def _imports(path: Path, package: str) -> tuple[str, ...]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.append(target)
            names += [f"{target}.{a.name}" for a in node.names]  # submodules
    return tuple(n for n in names if n.split(".")[0] in PACKAGES)


def import_closure(*modules: str) -> list[Path]:
    """The source files of ``modules`` and of every project module they import, directly or
    not (function-level imports included; parent packages too, as importing a module runs
    its packages' ``__init__``)."""
    seen: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        pending += _imports(path, package)
    return sorted(set(seen.values()))


def source_digest(*modules: str) -> str:
    """sha256 over the paths and bytes of ``import_closure(*modules)``."""
    h = hashlib.sha256()
    for path in import_closure(*modules):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
