"""Collector commands: ``bakeoff probe``, ``bakeoff run``, ``bakeoff report``.

Glue only: parse, call one function, render. Expected failures (``CollectorError``) become
one message and exit 1 here; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from collector.errors import CollectorError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn a CollectorError into one message on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CollectorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the block that goes into metadata.json.")
@click.option("--publisher-id", default=None, help="Publisher id (overrides the config file).")
@handle_errors
def probe(as_json: bool, publisher_id: str | None) -> None:
    """Show this host's hardware and software block (creates system_id once)."""
    from collector.probe import format_table, probe_host

    hardware = probe_host(publisher_id=publisher_id)
    if as_json:
        click.echo(json.dumps(hardware.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        click.echo(format_table(hardware))
