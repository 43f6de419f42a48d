"""The bulk ledger scan (``publisher.ledger_scan``) is accept-only: whatever it proves, the
exact per-line path (JSON Schema + ``privacy.scan_text``) accepts too; and publishing through
worker processes gives the same bytes as publishing in one process."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.resources import load_schema
from publisher import bulk, pipeline
from publisher.ledger_scan import call_decoder, scan_ledgers
from publisher.privacy import scan_text
from tests.synthetic import make_run


def _call_validator() -> jsonschema.Draft202012Validator:
    schema = load_schema("ledger-record")
    sub = {"$defs": schema["$defs"], **schema["$defs"]["CallRecord"]}
    return jsonschema.Draft202012Validator(sub)


def _first_call(run: Path) -> tuple[list[bytes], int]:
    lines = (run / "run.jsonl").read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if b'"type": "call"' in line)
    return lines, index


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("scan"), seed=3, n_cells=2, calls_per_cell=4)


def test_clean_run_is_proven_with_typed_columns(one_run: Path) -> None:
    table, scans = scan_ledgers([(one_run.name, str(one_run / "run.jsonl"))])
    assert table is not None and scans[0].proven
    lines = (one_run / "run.jsonl").read_text().splitlines()
    calls = [json.loads(x) for x in lines if json.loads(x)["type"] == "call"]
    assert table.num_rows == len(calls) == 8
    rows = table.to_pylist()
    assert [r["lineno"] for r in rows] == [
        i for i, x in enumerate(lines, 1) if json.loads(x)["type"] == "call"
    ]
    for row, call in zip(rows, calls, strict=True):
        for key, value in call.items():
            assert row[key] == value, key
    # The meta line (and nothing else) comes back for the Python path.
    assert [n for n, _ in scans[0].other_lines] == [1]


FIELDS = sorted(_call_validator().schema["properties"])
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["cold", "warm", "call", "llamacpp", "stop", "2026-01-01T00:00:00Z"]),
    st.just([]),
    st.just({}),
)


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(sorted(_call_validator().schema["properties"])), VALUES
    ),
    drop=st.sets(st.sampled_from(sorted(_call_validator().schema["properties"]))),
    extra=st.booleans(),
)
def test_decoder_accepts_only_schema_valid_records(
    changes: dict[str, Any], drop: set[str], extra: bool
) -> None:
    decoder = call_decoder()
    assert decoder is not None
    record: dict[str, Any] = {
        "type": "call", "cell_id": "c", "backend": "llamacpp", "prompt_id": "P-EASY",
        "run_idx": 0, "phase": "warm", "cold_kind": None, "concurrency": 1,
        "started_at": "2026-01-01T00:00:00.5Z", "first_delta_ms": 10.0,
        "first_content_ms": 10.0, "total_duration_ms": 100.0, "prompt_tokens": 5,
        "completion_tokens": 9, "token_count_source": "server_usage", "tokens_per_sec": 100.0,
        "tpot_ms": 11.25, "chunks": 9, "itl_p50_ms": 11.0, "itl_p95_ms": 12.0,
        "itl_max_ms": 13.0, "finish_reason": "stop", "http_status": 200, "error": None,
        "error_kind": None,
    }  # fmt: skip
    record.update(changes)
    for key in drop:
        record.pop(key, None)
    if extra:
        record["unexpected"] = 1
    line = json.dumps(record).encode()
    try:
        decoder.decoder.decode(line)
    except Exception:
        return  # not proven: the exact path decides
    assert _call_validator().is_valid(json.loads(line)), record


def _scan_with(run: Path, tmp: Path, replace: bytes, by: bytes) -> tuple[bool, bool]:
    """(proven by the scan, clean by scan_text over the whole file) after one substitution."""
    target = tmp / run.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(run, target)
    lines, i = _first_call(target)
    assert replace in lines[i]
    lines[i] = lines[i].replace(replace, by, 1)
    data = b"\n".join(lines)
    (target / "run.jsonl").write_bytes(data)
    _, scans = scan_ledgers([(target.name, str(target / "run.jsonl"))])
    return scans[0].proven, not scan_text(data.decode("utf-8", "replace"))


@pytest.mark.parametrize(
    ("replace", "by", "proven"),
    [
        (b'"finish_reason": "stop"', b'"finish_reason": "stop"', True),
        # privacy hits inside a decoded value, in an escaped value, in an unknown key
        (b'"finish_reason": "stop"', b'"finish_reason": "me@example.org"', False),
        (b'"finish_reason": "stop"', b'"finish_reason": "\\bearer abcdefghijklmnop"', False),
        (b'"finish_reason": "stop"', b'"finish_reason": "see /home/alice/x"', False),
        (b'"finish_reason": "stop"', b'"finish_reason": "10.1.2.3"', False),
        (b'"finish_reason": "stop"', b'"finish_reason": "AKIAABCDEFGHIJKLMNOP"', False),
        # triggers that are not findings: proven, and scan_text agrees
        (b'"finish_reason": "stop"', b'"finish_reason": "a@1"', True),
        (b'"finish_reason": "stop"', b'"finish_reason": "127.0.0.1"', True),
        (b'"finish_reason": "stop"', b'"finish_reason": "caf\\u00e9"', True),
        (b'"finish_reason": "stop"', '"finish_reason": "café"'.encode(), True),
        # non-ASCII values go through Python's re, as in scan_text ("ſ" folds to "s")
        (b'"finish_reason": "stop"', '"finish_reason": "ſecret=abcdefghijk"'.encode(), False),
        (b'"finish_reason": "stop"', '"finish_reason": "café me@example.org"'.encode(), False),
        (b'"finish_reason": "stop"', '"finish_reason": "café — fine"'.encode(), True),
        # not proven: schema or text problems the exact path must report
        (b'"finish_reason": "stop"', b'"finish_reason": "stop", "x": 1', False),
        (b'"concurrency": 1', b'"concurrency": 1.0', False),
        (b'"concurrency": 1', b'"concurrency": 0', False),
        (b'"concurrency": 1', b'"concurrency": 1e400', False),
        (b'"concurrency": 1', b'"concurrency": NaN', False),
        (b'"concurrency": 1', b'"concurrency": 9223372036854775808', False),
        (b'"finish_reason": "stop"', b'"finish_reason": "st\top"', False),
        (b'"finish_reason": "stop"', b'"finish_reason": "\xff"', False),
        (b'"type": "call"', b'"type": "call", "type": "call"', True),
    ],
)
def test_scan_never_proves_what_the_exact_path_reports(
    one_run: Path, tmp_path: Path, replace: bytes, by: bytes, proven: bool
) -> None:
    got, clean = _scan_with(one_run, tmp_path, replace, by)
    assert got is proven
    if got:
        assert clean  # proven ⇒ scan_text finds nothing


def test_empty_line_inside_and_missing_file(one_run: Path, tmp_path: Path) -> None:
    target = tmp_path / one_run.name
    shutil.copytree(one_run, target)
    data = (target / "run.jsonl").read_bytes()
    (target / "run.jsonl").write_bytes(data.replace(b"\n", b"\n\n", 1))
    _, scans = scan_ledgers(
        [(target.name, str(target / "run.jsonl")), ("gone", str(tmp_path / "gone.jsonl"))]
    )
    assert [s.proven for s in scans] == [False, False]


def _hashes(folder: Path) -> dict[str, str]:
    # The DuckDB file (and the manifest listing its checksum) differ between any two builds.
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.suffix == ".parquet"
    }


def test_worker_processes_publish_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for seed in range(7):
        make_run(runs, seed=seed, n_cells=2, calls_per_cell=5, with_quality=seed == 1)
    monkeypatch.setattr(bulk, "WORKER_CHUNK", 2)  # 4 worker tasks of 2, 2, 2 and 1 runs
    out: dict[int, dict[str, str]] = {}
    for jobs in (1, 2):
        monkeypatch.setattr(bulk, "JOBS", jobs)
        target = tmp_path / f"jobs{jobs}"
        cfg = pipeline.PublishConfig(
            runs_dir=runs,
            out_dir=target / "out",
            catalogue_path=target / "catalogue.json",
            allow_synthetic=True,
        )
        report = pipeline.publish(cfg)
        assert (report.runs, report.cached) == (7, 0)
        out[jobs] = _hashes(target / "out" / "exports")
        out[jobs]["catalogue.json"] = hashlib.sha256(
            (target / "catalogue.json").read_bytes()
        ).hexdigest()
    assert out[1] == out[2]
    assert len(out[1]) == 12
