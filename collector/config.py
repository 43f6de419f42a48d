"""Cells files (YAML or TOML) and the single-cell flags, validated before anything runs.

A malformed file gets one message that names the file, every bad field (with its line where
the format gives one: YAML does, TOML's standard parser does not) and what is allowed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from collector.errors import ConfigError
from collector.models import CellsFile, CellSpec, CostInputs


def load_cells_file(path: Path) -> CellsFile:
    """Parse and validate a cells file; raise ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read cells file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    data, lines = _parse(path, text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a 'cells' list")
    try:
        cells = CellsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, lines)) from None
    for idx, cell in enumerate(cells.cells):
        _check_cell(path, f"cells[{idx}]", cell, lines)
    return cells


def _parse(path: Path, text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text), {}
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1})"
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _index_lines(node: yaml.Node, prefix: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*prefix, key.value)] = key.start_mark.line + 1
            _index_lines(value, (*prefix, key.value), out)
            out[(*prefix, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for idx, item in enumerate(node.value):
            _index_lines(item, (*prefix, idx), out)


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(path: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> str:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function")))
        line = _line_of(loc, lines)
        where = f" (line {line})" if line else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see schemas/cells.schema.json)"
        problems.append(f"  {_field_name(loc)}{where}: {msg}")
    return f"{path}: invalid cells file:\n" + "\n".join(problems)


def _check_cell(path: Path, name: str, cell: CellSpec, lines: dict[tuple[Any, ...], int]) -> None:
    if (cell.url is None) == (cell.managed is None):
        idx = int(name[6:-1])
        line = _line_of(("cells", idx), lines)
        where = f" (line {line})" if line else ""
        raise ConfigError(
            f"{path}: {name}{where}: give exactly one of 'url' (a running engine) or 'managed' "
            "(an engine the collector starts)"
        )
    if cell.url is not None and not cell.url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{path}: {name}.url: must start with http:// or https://, "
            f"e.g. http://{cell.url.split('://')[-1]}"
        )


COST_FLAGS: dict[str, str] = {
    "currency": "--currency",
    "hardware_price": "--hardware-price",
    "amortization_years": "--amortization-years",
    "hourly_rate": "--hourly-rate",
    "electricity_price_per_kwh": "--electricity-price",
    "source": "--price-source",
    "as_of": "--price-date",
}
"""CostInputs field → the ``bakeoff run`` flag that sets it."""


def merge_cost_inputs(
    from_file: CostInputs | None, flags: Mapping[str, object | None]
) -> CostInputs | None:
    """The cells file's ``cost`` block with the price flags laid over it, field by field.

    ``flags`` maps CostInputs field names to flag values (None = not given). Raise ConfigError
    naming each bad field with its flag when the result is incomplete or contradictory.
    """
    given = {key: value for key, value in flags.items() if value is not None}
    unknown = set(given) - set(COST_FLAGS)
    if unknown:
        raise ValueError(f"not cost fields: {sorted(unknown)}")
    if not given:
        return from_file
    data: dict[str, Any] = from_file.model_dump() if from_file is not None else {}
    data.update(given)
    try:
        return CostInputs.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            where = f"{field} ({COST_FLAGS[field]})" if field in COST_FLAGS else "prices"
            problems.append(f"  {where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError(
            "invalid cost inputs (the cells file's 'cost' block and the price flags):\n"
            + "\n".join(problems)
        ) from None
