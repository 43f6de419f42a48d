"""bakeoff.codeid reads imports with a regular expression (ast was a third of an unchanged
publish's start-up); Python's own parser is the reference it must never fall short of."""

from __future__ import annotations

import ast
from pathlib import Path

from bakeoff import codeid


def _package(path: Path) -> str:
    parts = list(path.relative_to(codeid.ROOT).with_suffix("").parts)
    return ".".join(parts[:-1])


def _ast_imports(path: Path, package: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names |= {target, *(f"{target}.{a.name}" for a in node.names)}
    return {n for n in names if n.split(".")[0] in codeid.PACKAGES}


def test_every_project_import_is_found() -> None:
    files = [
        p
        for package in codeid.PACKAGES
        for p in sorted((codeid.ROOT / package).rglob("*.py"))
        if "__pycache__" not in p.parts
    ]
    assert len(files) > 50
    for path in files:
        package = _package(path)
        assert _ast_imports(path, package) <= set(codeid._imports(path, package)), path


def test_import_forms(tmp_path: Path, monkeypatch) -> None:
    """Parenthesised, relative, aliased and indented imports all count."""
    pkg = tmp_path / "publisher" / "demo"
    pkg.mkdir(parents=True)
    (tmp_path / "publisher" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    for name in ("a", "b", "c", "d", "e"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "main.py").write_text(
        "import publisher.demo.a as alias\n"
        "from . import b\n"
        "from publisher.demo import (\n    c,  # comment\n    d as dd,\n)\n"
        "def f():\n    from .e import thing\n"
    )
    monkeypatch.setattr(codeid, "ROOT", tmp_path)
    codeid._imports.cache_clear()
    try:
        closure = {p.name for p in codeid.import_closure("publisher.demo.main")}
    finally:
        codeid._imports.cache_clear()
    assert closure == {"__init__.py", "main.py", "a.py", "b.py", "c.py", "d.py", "e.py"}


def test_digest_changes_with_any_file_of_the_closure() -> None:
    before = codeid.source_digest("bakeoff.codeid")
    assert before == codeid.source_digest("bakeoff.codeid")
    assert before != codeid.source_digest("bakeoff.stats")
