"""Generate ``schemas/*.schema.json`` from the pydantic models.

    python -m bakeoff.schemagen          # write the files
    python -m bakeoff.schemagen --check  # exit 1 when a checked-in file is stale

The models are the source; the JSON files are the contract the publisher validates against.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from bakeoff.jsonio import dumps_stable
from bakeoff.resources import schemas_dir
from bakeoff.timefmt import PATTERN as TIMESTAMP_PATTERN
from collector import models as cm
from publisher import gates as pg
from publisher.archive import models as pm

BASE_ID = "https://bakeoff.dev/schemas/"

SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "metadata": (cm.Metadata, "metadata.json of a run directory."),
    "ledger-record": (cm.LedgerRecord, "One line of run.jsonl: a meta, call or skipped record."),
    "cells": (cm.CellsFile, "A cells file (YAML or TOML) for `bakeoff run`."),
    "hardware": (cm.Hardware, "The hardware block that `bakeoff probe --json` prints."),
    "catalogue": (pm.Catalogue, "catalogue.json at the archive root, written by publish."),
    "seed-prompts": (cm.PromptsSeed, "seeds/prompts.json: the frozen prompts."),
    "seed-text": (cm.TextSeed, "seeds/context_text.json: the text of length workloads."),
    "seed-interface-types": (cm.InterfaceTypesSeed, "seeds/interface_types.json."),
    "seed-dataset-item": (cm.DatasetItem, "One line of a summarization dataset (JSONL)."),
    "sample": (cm.Sample, "One line of samples.jsonl: live hardware telemetry."),
    "seed-tolerances": (pg.Tolerances, "seeds/tolerances.json: regression gate of compare."),
    "seed-budgets": (pg.Budgets, "seeds/budgets.json: budget gate of compare."),
}


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class ContractSchema(GenerateJsonSchema):
    """pydantic's generator plus what the exports need stated in the contract: every integer
    fits int64, and every timestamp says ``format: date-time`` (a real instant, not only text
    that matches the pattern)."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        """Integers: int64 bounds unless the model's bounds are tighter."""
        out = super().int_schema(schema)
        if "exclusiveMinimum" not in out:
            out["minimum"] = max(out.get("minimum", INT64_MIN), INT64_MIN)
        if "exclusiveMaximum" not in out:
            out["maximum"] = min(out.get("maximum", INT64_MAX), INT64_MAX)
        return out

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        """Defaults made by a factory (``default_factory=list``) are stated too: a reader of the
        contract must know what an absent field means."""
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return super().get_default_value(schema)

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        """Strings: timestamps carry ``format: date-time`` next to their pattern."""
        out = super().str_schema(schema)
        if out.get("pattern") == TIMESTAMP_PATTERN:
            out["format"] = "date-time"
        return out


def render(name: str) -> dict[str, Any]:
    """The JSON Schema document for one entry of ``SCHEMAS``."""
    model, description = SCHEMAS[name]
    schema = model.model_json_schema(mode="serialization", schema_generator=ContractSchema)
    doc: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_ID}{name}.schema.json",
        "description": description,
    }
    doc.update({k: v for k, v in schema.items() if k != "description"})
    if "description" in schema and name != "ledger-record":
        doc["description"] = f"{description} {schema['description']}"
    return doc


def stale(out: Path) -> list[str]:
    """Names of schema files under ``out`` that differ from what the models generate."""
    bad = []
    for name in SCHEMAS:
        path = out / f"{name}.schema.json"
        if not path.exists() or path.read_text(encoding="utf-8") != dumps_stable(render(name)):
            bad.append(path.name)
    return bad


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bakeoff.schemagen``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--check", action="store_true", help="fail when files are stale")
    parser.add_argument("--out", type=Path, default=schemas_dir())
    args = parser.parse_args(argv)
    if args.check:
        bad = stale(args.out)
        if bad:
            print(
                f"stale schema files: {', '.join(bad)}; run `python -m bakeoff.schemagen`",
                file=sys.stderr,
            )
            return 1
        print("schemas up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        (args.out / f"{name}.schema.json").write_text(dumps_stable(render(name)), encoding="utf-8")
    print(f"wrote {len(SCHEMAS)} schema files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
