"""The publisher's commands — ``validate``, ``publish``, ``site``, ``compare`` — as glue: parse,
call one function, render.

Expected failures (``PublisherError``) become one message and exit 1 here — the one catch
site; usage errors exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from bakeoff.jsonio import dumps_stable, write_json
from bakeoff.resources import archive_path, archive_root, site_project
from publisher import publish as pipeline
from publisher.compare import CompareRequest, render_text, run_compare
from publisher.errors import PublisherError, RunInvalidError, RunsInvalidError
from publisher.frontend.compile import Options
from publisher.frontend.finding import Finding, render_github
from publisher.frontend.load import iter_run_dirs

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
        except (RunsInvalidError, RunInvalidError) as exc:
            _echo_findings([f for f in exc.findings if f.severity == "error"])
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except PublisherError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def in_archive(relative: str) -> Callable[[], Path]:
    """A click default resolved when the command runs: ``relative`` in the archive found from
    the working directory upward (``bakeoff.resources.archive_root``); says which archive."""

    def default() -> Path:
        _log(f"archive: {archive_root()}")
        return archive_path(relative)

    return default


def in_site_project(relative: str) -> Callable[[], Path]:
    """A click default: ``relative`` in the site project (``bakeoff.resources.site_project``)."""
    return lambda: site_project() / relative if relative else site_project()


def _log(message: str) -> None:
    click.echo(message, err=True)


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Run directories to check: an archive folder given as a path stands for its runs."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir() and not (path / "metadata.json").exists():
            runs = [p for p in iter_run_dirs(path) if (p / "metadata.json").exists()]
            if runs:
                _log(f"{path} is an archive folder: checking its {len(runs)} run directories")
                out.extend(runs)
                continue
        out.append(path)
    return out


_runs_option = click.option(
    "--runs",
    "runs_dir",
    type=click.Path(path_type=Path),
    default=in_archive("runs"),
    show_default="runs/ of the archive found from the working directory",
    help="The archive folder.",
)


@click.command("validate")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path))
@_runs_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable findings for CI.")
@click.option("--github", is_flag=True, help="Also print GitHub Actions annotations.")
@click.option(
    "--for-publication",
    is_flag=True,
    help="Apply publish's rules: a run without a measured call is an error.",
)
@click.option("--allow-synthetic", is_flag=True, help="Accept synthetic (test) runs.")
@_user_errors
def validate(
    run_dirs: tuple[Path, ...],
    runs_dir: Path,
    as_json: bool,
    github: bool,
    for_publication: bool,
    allow_synthetic: bool,
) -> None:
    """Validate run directories (every run under --runs by default); exit 1 on any error."""
    paths = _expand(run_dirs) if run_dirs else pipeline.run_dirs(runs_dir)
    options = Options(allow_synthetic=allow_synthetic, for_publication=for_publication)
    artifacts = pipeline.validate_paths(paths, options)
    findings = [f for a in artifacts for f in a.findings]
    errors = sum(1 for f in findings if f.severity == "error")
    if as_json:
        doc = {
            "runs": len(artifacts),
            "errors": errors,
            "warnings": len(findings) - errors,
            "findings": [f.to_dict() for f in findings],
        }
        click.echo(dumps_stable(doc), nl=False)
    else:
        for f in findings:
            click.echo(f.render())
        click.echo(
            f"{len(artifacts)} run(s) checked: {errors} error(s), "
            f"{len(findings) - errors} warning(s)"
        )
    if github:
        for path, artifact in zip(paths, artifacts, strict=True):
            for f in artifact.findings:
                click.echo(render_github(f, path.parent.as_posix()), err=True)
    if errors:
        sys.exit(1)


@click.command("publish")
@_runs_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=lambda: archive_path("out"),
    show_default="out/ of the archive",
    help="Exports, manifest and cache.",
)
@click.option(
    "--catalogue",
    "catalogue_path",
    type=click.Path(path_type=Path),
    default=lambda: archive_path("catalogue.json"),
    show_default="catalogue.json of the archive",
)
@click.option(
    "--site-dir",
    type=click.Path(path_type=Path),
    default=in_site_project("docs/generated"),
    show_default="docs/generated of the site project",
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
        f"published {report.runs} run(s) ({report.compiled} compiled) to "
        f"{out_dir / 'exports'}; catalogue: {catalogue_path}"
    )


# --------------------------------------------------------------------------- site

_site_dir = click.option(
    "--site-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=in_site_project(""),
    show_default="site/ of the archive, else of the code's checkout",
    help="The MkDocs project (mkdocs.yml, docs/).",
)
_exports = click.option(
    "--exports",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Export files (Parquet, DuckDB, manifest) to offer on the Data page.",
)
_site_url = click.option("--site-url", default=None, help="Public URL the site is served from.")


@click.group("site")
def site() -> None:
    """Build or serve the comparison site (pages come from `bakeoff publish`)."""


@site.command("build")
@_site_dir
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory [default: SITE_DIR/build].",
)
@_exports
@_site_url
@_user_errors
def site_build(
    site_dir: Path, out: Path | None, exports: Path | None, site_url: str | None
) -> None:
    """Render the static site with `mkdocs build --strict`."""
    from publisher.site.build import build_site

    result = build_site(site_dir, build_dir=out, exports_dir=exports, site_url=site_url)
    click.echo(f"built {result.pages} pages into {result.build_dir} in {result.seconds:.1f} s")


@site.command("serve")
@_site_dir
@_exports
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@_user_errors
def site_serve(site_dir: Path, exports: Path | None, host: str, port: int) -> None:
    """Build the site, then serve it as a static host would (Ctrl-C stops)."""
    from publisher.site.build import build_site, make_server

    result = build_site(site_dir, exports_dir=exports, site_url=f"http://{host}:{port}/")
    with make_server(result.build_dir, host, port) as server:
        click.echo(f"serving {result.build_dir} at http://{host}:{port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped")


# --------------------------------------------------------------------------- compare

_COMPARE_HELP = """Compare a CANDIDATE run against a BASELINE run (or against budgets).

\b
Each run is a run directory or a run id in the archive (--runs), optionally
followed by one cell: RUN:CELL, where CELL is a full cell id
(host:engine:model) or engine:model without the host label. BASELINE may be
the word `previous`: the newest earlier comparable run of the candidate's
system in the archive (smoke, probe-only and empty runs are passed over).
  bakeoff compare 20261123T145501Z-3f9c2a1b 20261130T101010Z-0a1b2c3d
  bakeoff compare previous 20261130T101010Z-0a1b2c3d --check
  bakeoff compare runs/20261123T145501Z-3f9c2a1b:ollama:llama3.2:1b ./my-run
Results (warm calls per cell, workload and concurrency) are matched by
workload signature, never by cell id; unmatched results are listed, not compared.

\b
--gate-mode regression (default): needs BASELINE and CANDIDATE; thresholds
  from the tolerances file (default: ≥30% slower TTFT/total p50, ≥30% lower
  tokens/s, success rate < 0.95). With n ≥ 5 calls on both sides a change is
  flagged only when a Mann–Whitney U test also gives p < 0.05; ≥30% better
  is reported as an improvement.
--gate-mode budget: give only CANDIDATE; absolute limits from the budgets file.

Exit codes: 0 done (and passed, with --check), 1 gate failed with --check or a
run could not be used, 2 usage error.
"""


@click.command("compare", help=_COMPARE_HELP)
@click.argument("refs", nargs=-1, required=True, metavar="[BASELINE] CANDIDATE")
@click.option(
    "--gate-mode",
    type=click.Choice(["regression", "budget"]),
    default="regression",
    show_default=True,
    help="Baseline plus allowed deltas, or absolute budgets.",
)
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive folder for run ids and `previous` [default: runs/ of the checkout].",
)
@click.option(
    "--tolerances",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Tolerances JSON (regression mode) [default: seeds/tolerances.json].",
)
@click.option(
    "--budgets",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Budgets JSON (budget mode) [default: seeds/budgets.json].",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report to this file.",
)
@click.option("--check", is_flag=True, help="Exit 1 when the gate fails.")
@click.option("--allow-synthetic", is_flag=True, help="Accept synthetic (test) runs.")
@_user_errors
def compare(
    refs: tuple[str, ...],
    gate_mode: str,
    runs_dir: Path | None,
    tolerances: Path | None,
    budgets: Path | None,
    output: Path | None,
    check: bool,
    allow_synthetic: bool,
) -> None:
    expected = 1 if gate_mode == "budget" else 2
    if len(refs) != expected:
        usage = "CANDIDATE" if gate_mode == "budget" else "BASELINE CANDIDATE"
        raise click.UsageError(
            f"--gate-mode {gate_mode} takes {usage} ({expected} run(s)), got {len(refs)}"
        )
    if gate_mode == "regression" and budgets is not None:
        raise click.UsageError("--budgets applies to --gate-mode budget only")
    if gate_mode == "budget" and tolerances is not None:
        raise click.UsageError("--tolerances applies to --gate-mode regression only")
    if runs_dir is None:
        _log(f"archive: {archive_root()}")
    request = CompareRequest(
        refs,
        "budget" if gate_mode == "budget" else "regression",
        runs_dir,
        tolerances,
        budgets,
        allow_synthetic,
    )
    report = run_compare(request)
    if output is not None:
        try:
            write_json(output, report)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(render_text(report), nl=False)
    if output is not None:
        click.echo(f"report written to {output}")
    if check and not report["passed"]:
        sys.exit(1)
