"""The ``bakeoff`` console script: one group, commands loaded lazily from each package.

Collector commands import only the collector (so a base install works); publisher commands
are imported only when one of them is invoked, and say which extra to install if missing.
"""

from __future__ import annotations

import importlib
import sys

import click

from bakeoff import __version__

# command name -> (module, attribute, extra that provides its dependencies)
_COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "probe": ("collector.cli", "probe", None),
    "run": ("collector.cli", "run", None),
    "report": ("collector.cli", "report", None),
    "import": ("collector.cli", "import_", None),
    "validate": ("publisher.cli", "validate", "publish"),
    "publish": ("publisher.cli", "publish", "publish"),
    "site": ("publisher.cli", "site", "publish"),
    "compare": ("publisher.cli", "compare", "publish"),
}

_HELP = {
    "probe": "Show this host's hardware and software block.",
    "run": "Benchmark engines and write runs/<run_id>/.",
    "report": "Regenerate run.md from a run directory's ledger.",
    "import": "Import llama-bench, vLLM, GuideLLM or AIPerf results as runs.",
    "validate": "Validate run directories against the schemas.",
    "publish": "Build catalogue.json, exports and site pages.",
    "site": "Build or serve the comparison site.",
    "compare": "Compare a candidate run against a baseline.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr, extra = spec
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if extra is None or (exc.name or "").split(".")[0] in ("collector", "publisher"):
                raise
            return _missing_extra(cmd_name, extra, exc)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, _HELP[name]) for name in _COMMANDS])


def _missing_extra(name: str, extra: str, exc: ModuleNotFoundError) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def stub(args: tuple[str, ...]) -> None:
        click.echo(
            f"error: `bakeoff {name}` needs the '{extra}' extra ({exc.name} is not installed).\n"
            f"  install it with: pip install 'bakeoff[{extra}]'",
            err=True,
        )
        sys.exit(1)

    return stub


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bakeoff")
def main() -> None:
    """bakeoff: benchmark LLM inference engines and publish the results."""
