"""The methodology page's "Imported results" table is ``definitions.MAPPINGS`` in prose."""

from __future__ import annotations

import re
from pathlib import Path

from collector.importers.definitions import MAPPINGS

PAGE = Path(__file__).resolve().parents[2] / "site" / "docs" / "methodology.md"


def _rows() -> dict[tuple[str, str], str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Imported results", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[1].startswith("`"):
            rows[(cells[0], cells[1].strip("`"))] = cells[2]
    return rows


def test_every_translation_is_on_the_methodology_page_with_its_verdict() -> None:
    rows = _rows()
    assert set(rows) == {(m.tool.value, m.source) for m in MAPPINGS}
    for m in MAPPINGS:
        archive = rows[(m.tool.value, m.source)]
        if m.archive is None:
            assert archive.startswith("—"), (m.tool, m.source, archive)
        else:
            assert re.fullmatch(rf"`{m.archive}`", archive), (m.tool, m.source, archive)


def test_every_mapped_metric_is_defined_on_the_page() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name in {m.archive for m in MAPPINGS if m.archive}:
        assert re.search(rf"^\| `{name}` \|", text, flags=re.M) or f"`{name}` (TTFT)" in text, name
