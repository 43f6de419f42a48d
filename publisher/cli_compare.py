"""``bakeoff compare``: parse, call ``publisher.compare.run_compare``, render, exit.

Expected failures (``PublisherError``) become one message and exit 1 here; usage errors exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bakeoff.jsonio import write_json
from publisher.compare import CompareRequest, RunInvalidError, render_text, run_compare
from publisher.errors import PublisherError

_HELP = """Compare a CANDIDATE run against a BASELINE run (or against budgets).

\b
Each run is a run directory or a run id in the archive (--runs), optionally
followed by one cell: RUN:CELL, where CELL is a full cell id
(host:engine:model) or engine:model without the host label, e.g.
  bakeoff compare 20261123T145501Z-3f9c2a1b 20261130T101010Z-0a1b2c3d
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


@click.command("compare", help=_HELP)
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
    help="Archive folder for run ids [default: runs/ of the checkout].",
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
    request = CompareRequest(
        refs,
        "budget" if gate_mode == "budget" else "regression",
        runs_dir,
        tolerances,
        budgets,
        allow_synthetic,
    )
    try:
        report = run_compare(request)
    except RunInvalidError as exc:
        for f in exc.findings:
            if f.severity == "error":
                click.echo(f.render(), err=True)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except PublisherError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if output is not None:
        write_json(output, report)
    click.echo(render_text(report), nl=False)
    if output is not None:
        click.echo(f"report written to {output}")
    if check and not report["passed"]:
        sys.exit(1)
