"""``bakeoff validate`` and ``bakeoff publish``: parse, call the pipeline, render.

Expected failures (``PublisherError``) become one message and exit 1 here — the one catch
site; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from bakeoff.resources import checkout_path
from publisher import pipeline
from publisher.errors import PublisherError, RunsInvalidError
from publisher.finding import Finding, render_github
from publisher.validate import Options

P = ParamSpec("P")
R = TypeVar("R")


def _echo_findings(findings: Sequence[Finding]) -> None:
    for f in sorted(findings, key=lambda f: (f.severity != "error", f.run_id, f.file, f.line or 0)):
        click.echo(f.render(), err=True)


def _user_errors(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RunsInvalidError as exc:
            _echo_findings(exc.findings)
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except PublisherError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def in_checkout(relative: str) -> Callable[[], Path]:
    """A click default resolved when the command runs: see ``checkout_path``."""
    return lambda: checkout_path(relative)


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.command("validate")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(path_type=Path),
    default=in_checkout("runs"),
    show_default="runs in the checkout",
    help="Archive folder checked when no RUN_DIR is given.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable findings for CI.")
@click.option("--github", is_flag=True, help="Also print GitHub Actions annotations.")
@click.option("--allow-synthetic", is_flag=True, help="Accept synthetic (test) runs.")
@_user_errors
def validate(
    run_dirs: tuple[Path, ...], runs_dir: Path, as_json: bool, github: bool, allow_synthetic: bool
) -> None:
    """Validate run directories (every run under --runs by default); exit 1 on any error."""
    paths = list(run_dirs) or pipeline.run_dirs(runs_dir)
    results = pipeline.validate_paths(paths, Options(allow_synthetic=allow_synthetic))
    findings = [f for r in results for f in r.findings]
    errors = sum(1 for f in findings if f.severity == "error")
    if as_json:
        doc = {
            "runs": len(results),
            "errors": errors,
            "warnings": len(findings) - errors,
            "findings": [f.to_dict() for f in findings],
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for f in findings:
            click.echo(f.render())
        click.echo(
            f"{len(results)} run(s) checked: {errors} error(s), {len(findings) - errors} warning(s)"
        )
    if github:
        for path, result in zip(paths, results, strict=True):
            for f in result.findings:
                click.echo(render_github(f, path.parent.as_posix()), err=True)
    if errors:
        sys.exit(1)


@click.command("publish")
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(path_type=Path),
    default=in_checkout("runs"),
    show_default="runs in the checkout",
    help="The archive folder.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=in_checkout("out"),
    show_default="out in the checkout",
    help="Exports, manifest and cache.",
)
@click.option(
    "--catalogue",
    "catalogue_path",
    type=click.Path(path_type=Path),
    default=in_checkout("catalogue.json"),
    show_default="catalogue.json in the checkout",
)
@click.option(
    "--site-dir",
    type=click.Path(path_type=Path),
    default=in_checkout("site/docs/generated"),
    show_default="site/docs/generated in the checkout",
    help="Where the site's generated pages go.",
)
@click.option("--no-site", is_flag=True, help="Skip the site pages.")
@click.option("--check", is_flag=True, help="Only fail when catalogue.json is stale.")
@click.option("--allow-synthetic", is_flag=True, help="Accept synthetic (test) runs.")
@_user_errors
def publish(
    runs_dir: Path,
    out_dir: Path,
    catalogue_path: Path,
    site_dir: Path,
    no_site: bool,
    check: bool,
    allow_synthetic: bool,
) -> None:
    """Validate all runs, then write catalogue.json, exports and site pages atomically."""
    config = pipeline.PublishConfig(
        runs_dir=runs_dir,
        out_dir=out_dir,
        catalogue_path=catalogue_path,
        site_dir=None if no_site else site_dir,
        allow_synthetic=allow_synthetic,
    )
    if check:
        pipeline.check_catalogue(config, _log)
        click.echo(f"{catalogue_path} is up to date")
        return
    report = pipeline.publish(config, _log)
    _echo_findings(report.warnings)
    click.echo(
        f"published {report.runs} run(s) ({report.cached} from cache) to "
        f"{out_dir / 'exports'}; catalogue: {catalogue_path}"
    )
