"""What a piece of code is: the source files a module reaches through its imports.

Caches key their entries by the code that made them (the publisher's artifact store, the
site's run pages). Listing modules by hand goes stale as the code grows, so the list is read
from the imports themselves.
"""

from __future__ import annotations

import hashlib
import re
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


# `import a.b, c` and `from .x import (y, z)` at any indentation (function-level imports
# count). A match inside a string only adds a file to the closure, never drops one.
_IMPORT = re.compile(
    rb"^[ \t]*(?:import[ \t]+([\w., \t]+)|from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+"
    rb"(\([^)]*\)|[^\n#]+))",
    re.MULTILINE,
)


@cache
def _imports(path: Path, package: str) -> tuple[str, ...]:
    names: list[str] = []
    for plain, dots, module, what in _IMPORT.findall(path.read_bytes()):
        if plain:
            names += [n.split()[0] for n in plain.decode().split(",") if n.strip()]
            continue
        level, module_name = len(dots), module.decode()
        if level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - level + 1])
            target = f"{base}.{module_name}" if module_name else base
        else:
            target = module_name
        names.append(target)
        items = re.sub(r"#[^\n]*", "", what.decode()).strip("()").split(",")
        names += [f"{target}.{item.split()[0]}" for item in items if item.split()]
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
