"""Pydantic models of what the publisher writes: ``catalogue.json``.

They generate ``schemas/catalogue.schema.json`` (``python -m bakeoff.schemagen``). The
publisher reads run directories through the JSON Schema files only, never through the
collector's models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CATALOGUE_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CatalogueRun(_Strict):
    """One run in the archive."""

    run_id: str = Field(description="Run id (directory name).")
    started_at: str = Field(description="UTC start.")
    finished_at: str | None = Field(description="UTC end.")
    status: Literal["complete", "partial", "aborted", "empty"] = Field(description="Run status.")
    completeness: Literal["complete", "meta-only", "partial", "empty"] = Field(
        description="complete: ledger and metadata; meta-only: metadata only; partial: cut "
        "short; empty: nothing was measured."
    )
    mode: str = Field(description="Workflow mode: full, smoke or probe_only.")
    comparable: bool = Field(
        description="False for smoke and probe-only runs and runs without a measured call: "
        "browsable, never ranked or compared."
    )
    comparable_reason: str | None = Field(description="Why the run is not comparable.")
    system_id: str = Field(description="Host system id.")
    system_label: str = Field(description="Short label that tells systems apart.")
    hardware_class: str = Field(description="Derived class for grouping (accelerator, CPU, RAM).")
    host_label: str = Field(description="Contributor's host label.")
    publisher_id: str | None = Field(description="Publisher.")
    cells: list[str] = Field(description="Cell ids measured.")
    models: list[str] = Field(description="Models measured.")
    engines: list[str] = Field(description="Engine kinds measured.")
    prompts: list[str] = Field(description="Prompt ids.")
    tasks: list[str] = Field(description="Task ids.")
    calls_total: int = Field(ge=0, description="Call records.")
    calls_ok: int = Field(ge=0, description="Calls without error.")
    content_sha256: str = Field(description="SHA-256 over the run directory's files.")


class CatalogueSystem(_Strict):
    """One deduplicated host."""

    system_id: str = Field(description="Host system id.")
    system_label: str = Field(
        description="Host label of the latest run plus the system id's prefix."
    )
    hardware_class: str = Field(description="Derived class for grouping.")
    cpu_model: str | None = Field(description="CPU model of the latest snapshot.")
    gpus: list[str] = Field(description="GPU names of the latest snapshot.")
    ram_total_gb: float | None = Field(description="RAM of the latest snapshot.")
    runs: list[str] = Field(description="Run ids on this system, oldest first.")


class CatalogueModel(_Strict):
    """One model across the archive."""

    model: str = Field(description="Model name.")
    digests: list[str] = Field(description="Distinct model digests seen.")
    runs: list[str] = Field(description="Run ids that measured it.")


class CatalogueEngine(_Strict):
    """One engine kind across the archive."""

    engine: str = Field(description="Engine kind.")
    versions: list[str] = Field(description="Distinct engine versions seen.")
    runs: list[str] = Field(description="Run ids that used it.")


class Catalogue(_Strict):
    """``catalogue.json``: the archive's index. Deterministic; no build timestamps."""

    schema_version: Literal[1] = Field(default=1, description="Format version.")
    runs: list[CatalogueRun] = Field(description="Runs, sorted by run id.")
    systems: list[CatalogueSystem] = Field(description="Systems, sorted by system id.")
    models: list[CatalogueModel] = Field(description="Models, sorted by name.")
    engines: list[CatalogueEngine] = Field(description="Engines, sorted by name.")
