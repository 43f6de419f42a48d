"""The DuckDB file is readable by a DuckDB 1.x client (analysts and DuckDB-WASM use 1.x)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from publisher import publish as pipeline
from publisher.export import write_duckdb
from publisher.frontend.tables import PUBLISHED as TABLE_NAMES
from tests.publisher.conftest import run_python

pytestmark = pytest.mark.slow

QUERY = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1] if len(sys.argv) > 1 else {path!r}, read_only=True)
out = {{
    "version": duckdb.__version__,
    "tables": sorted(
        r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    ),
    "views": sorted(r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()),
    "calls": con.execute("SELECT count(*) FROM calls").fetchone()[0],
    "leaderboard": con.execute("SELECT count(*) FROM leaderboard").fetchone()[0],
}}
print(json.dumps(out))
"""


def test_duckdb_file_opens_in_duckdb_1x(
    tmp_path: Path, archive: Path, duckdb1_python: Path
) -> None:
    pipeline.publish(
        pipeline.PublishConfig(archive, tmp_path / "out", tmp_path / "c.json", None, True)
    )
    path = tmp_path / "out" / "exports" / "bakeoff.duckdb"
    proc = run_python(duckdb1_python, QUERY.format(path=str(path)))
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["version"].startswith("1.")
    assert got["tables"] == sorted(TABLE_NAMES)
    assert set(got["views"]) >= {"leaderboard", "warm_cells", "run_systems"}
    assert got["calls"] > 0 and got["leaderboard"] > 0


def test_default_duckdb_2_file_is_not_readable_by_1x(tmp_path: Path, duckdb1_python: Path) -> None:
    """Why STORAGE_VERSION matters: without it a 2.x file is refused by 1.x clients."""
    if not duckdb.__version__.startswith("2."):
        pytest.skip(f"the writer is duckdb {duckdb.__version__}, not 2.x")
    plain = tmp_path / "plain.duckdb"
    con = duckdb.connect(str(plain))
    con.execute("CREATE TABLE calls AS SELECT 1 AS x")
    con.close()
    proc = run_python(duckdb1_python, f"import duckdb; duckdb.connect({str(plain)!r})")
    assert proc.returncode != 0
    ours = tmp_path / "ours.duckdb"
    import pyarrow as pa

    write_duckdb({"calls": pa.table({"x": [1]})}, {}, ours, views={})
    code = (
        f"import duckdb; print(duckdb.connect({str(ours)!r}).execute('SELECT x FROM calls')"
        ".fetchall())"
    )
    proc = run_python(duckdb1_python, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[(1,)]"
