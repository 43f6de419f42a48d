"""The publisher's import direction is one way: cli → publish/compare → site → export/archive/
store → frontend → (errors, gates), and collector and publisher never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# package (publisher.<part>) → the publisher parts it may import
ALLOWED: dict[str, set[str]] = {
    "errors": {"frontend"},  # only for type annotations of the findings it carries
    "gates": {"errors"},
    "frontend": {"frontend", "errors"},
    "store": {"frontend", "errors"},
    "archive": {"archive", "frontend", "gates", "errors"},
    "export": {"frontend", "errors"},
    "compare": {"compare", "frontend", "gates", "errors"},
    "site": {"site", "archive", "frontend", "export", "errors", "gates"},
    "publish": {"archive", "export", "frontend", "store", "errors", "site"},
    "cli": {"publish", "compare", "frontend", "errors", "site"},
}


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT / "publisher")
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_publisher_imports_point_one_way() -> None:
    bad = []
    for path in sorted((ROOT / "publisher").rglob("*.py")):
        part = _part(path)
        if part == "__init__":
            continue
        for name in _imports(path):
            pieces = name.split(".")
            if pieces[0] == "collector":
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
            if pieces[0] != "publisher" or len(pieces) < 2:
                continue
            target = pieces[1]
            if target not in ALLOWED or target == part:
                continue
            if target not in ALLOWED[part]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def test_collector_never_imports_the_publisher() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "collector").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] == "publisher"
    ]
    assert bad == []


def test_every_publisher_exception_is_in_the_one_tree() -> None:
    """Exceptions live in publisher/errors.py, whose docstring draws the tree."""
    from publisher import errors

    doc = errors.__doc__ or ""
    for path in sorted((ROOT / "publisher").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                assert path.name == "errors.py", f"{path}: {node.name}"
                assert node.name in doc, node.name
