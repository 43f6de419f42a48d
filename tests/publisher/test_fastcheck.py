"""The fast ledger check never accepts what the JSON Schema rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.resources import load_schema
from publisher.fastcheck import compile_object
from tests.synthetic import make_run

SCHEMA = load_schema("ledger-record")
DEFS = SCHEMA["$defs"]
CALL = {"$ref": "#/$defs/CallRecord", "$defs": DEFS}
FULL = jsonschema.Draft202012Validator(CALL)
QUICK = compile_object(CALL, DEFS)


def sample_call() -> dict[str, Any]:
    import tempfile

    run = make_run(Path(tempfile.mkdtemp()), seed=8, n_cells=1, calls_per_cell=2)
    lines = (run / "run.jsonl").read_text().splitlines()
    call: dict[str, Any] = json.loads(lines[1])
    return call


BASE = sample_call()
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["cold", "warm", "ollama", "timeout", "server_usage", "2026-01-01T00:00:00Z"]),
    st.lists(st.integers(), max_size=2),
)


def test_compiles_and_accepts_a_valid_call() -> None:
    assert QUICK is not None
    assert QUICK(BASE)
    assert not list(FULL.iter_errors(BASE))


@settings(settings.get_profile("publisher"), max_examples=1500)
@given(
    changes=st.dictionaries(st.sampled_from([*sorted(BASE), "extra"]), VALUES, max_size=3),
    drop=st.sets(st.sampled_from(sorted(BASE)), max_size=2),
)
def test_quick_accept_implies_schema_valid(changes: dict[str, Any], drop: set[str]) -> None:
    doc = {k: v for k, v in BASE.items() if k not in drop}
    doc.update(changes)
    assert QUICK is not None
    if QUICK(doc):
        assert not list(FULL.iter_errors(doc)), doc
