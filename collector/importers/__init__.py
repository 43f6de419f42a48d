"""``bakeoff import``: result files of other benchmark tools as run directories.

One module per tool parses its files into a ``base.ParsedImport``; ``import_files`` adds the
hardware block and writes the run. Standard library and the collector's base dependencies
only (pyyaml reads GuideLLM's YAML reports).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from collector.errors import ConfigError
from collector.importers import aiperf, guidellm, llama_bench, vllm_bench
from collector.importers.base import ImportFormatError, ImportOptions, InputFile, ParsedImport
from collector.importers.base import write_run as _write_run
from collector.models import Metadata

HOST_LABEL = Metadata.model_fields["host_label"].metadata[0].pattern

Parser = Callable[[list[InputFile]], ParsedImport]
# format name -> parser; the name is what `bakeoff import FORMAT` takes.
FORMATS: dict[str, Parser] = {
    "llama-bench": llama_bench.parse,
    "vllm-bench": vllm_bench.parse,
    "guidellm": guidellm.parse,
    "aiperf": aiperf.parse,
}


def read_input(path: Path) -> InputFile:
    """A file given on the command line, by name only (its folder is never recorded)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return InputFile(path.name, data, path.suffix.lstrip(".").lower() or "unknown")


def import_files(
    fmt: str, paths: list[Path], options: ImportOptions
) -> list[tuple[Path, Metadata]]:
    """Import result files of one tool; each becomes one run directory.

    AIPerf's per-request ``profile_export.jsonl`` goes with its ``profile_export_aiperf.json``
    into one run (``aiperf.group``); every other file is a run of its own.
    """
    parser = FORMATS.get(fmt)
    if parser is None:
        raise ImportFormatError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    label = options.host_label
    if label is not None and not re.fullmatch(HOST_LABEL, label):
        raise ConfigError(
            f"--host-label {label!r}: use letters, digits, '.', '_' and '-' (at most 64, "
            "starting with a letter or digit), e.g. --host-label lab-box-1"
        )
    inputs = [read_input(p) for p in paths]
    groups = aiperf.group(inputs) if fmt == "aiperf" else [[f] for f in inputs]
    imported = _already_imported(options.out_dir)
    for group in groups:
        earlier = imported.get(frozenset(f.sha256 for f in group))
        if earlier is not None:
            raise DuplicateImportError(
                f"{', '.join(f.name for f in group)}: already imported as {earlier} (same "
                "sha256); importing it again would count the same results twice"
            )
    out = []
    for group in groups:
        parsed = parser(group)
        out.append(_write_run(parsed, group, options))
    return out


class DuplicateImportError(ImportFormatError):
    """The same source files were imported before into this runs folder."""


def _already_imported(runs: Path) -> dict[frozenset[str], Path]:
    """The source files (by sha256) of every imported run already in ``runs``."""
    import json

    found: dict[frozenset[str], Path] = {}
    if not runs.is_dir():
        return found
    for md_path in sorted(runs.glob("*/metadata.json")):
        try:
            source = json.loads(md_path.read_text(encoding="utf-8")).get("source")
        except (OSError, ValueError):
            continue
        if isinstance(source, dict) and isinstance(source.get("files"), list):
            key = frozenset(str(f.get("sha256")) for f in source["files"] if isinstance(f, dict))
            found[key] = md_path.parent
    return found


__all__ = [
    "FORMATS",
    "DuplicateImportError",
    "ImportFormatError",
    "ImportOptions",
    "import_files",
]
