"""``bakeoff site build|serve``: thin glue over :mod:`publisher.site.build`."""

from __future__ import annotations

from pathlib import Path

import click

from bakeoff.resources import checkout_path
from publisher.errors import PublisherError
from publisher.site.build import build_site, make_server

_site_dir = click.option(
    "--site-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: checkout_path("site"),
    show_default="site in the checkout",
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
def build(site_dir: Path, out: Path | None, exports: Path | None, site_url: str | None) -> None:
    """Render the static site with `mkdocs build --strict`."""
    try:
        result = build_site(site_dir, build_dir=out, exports_dir=exports, site_url=site_url)
    except PublisherError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"built {result.pages} pages into {result.build_dir} in {result.seconds:.1f} s")


@site.command("serve")
@_site_dir
@_exports
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(site_dir: Path, exports: Path | None, host: str, port: int) -> None:
    """Build the site, then serve it as a static host would (Ctrl-C stops)."""
    try:
        result = build_site(site_dir, exports_dir=exports, site_url=f"http://{host}:{port}/")
    except PublisherError as exc:
        raise click.ClickException(str(exc)) from exc
    with make_server(result.build_dir, host, port) as server:
        click.echo(f"serving {result.build_dir} at http://{host}:{port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped")
