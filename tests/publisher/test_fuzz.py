"""Property: no input makes validation raise — every mutated run ends in findings or acceptance.

Runs are mutated in memory (``RawRun`` objects) so thousands of examples stay fast; the
filesystem-only cases (symlinks, oversize files, unreadable entries) are modelled by the flags
that ``load_run`` sets for them and are also covered on disk in test_validate.py.
"""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.derive import derive_run
from publisher.finding import CODES, has_errors
from publisher.load import RawRun, RunFile, load_run
from publisher.postprocess import check_rouge
from publisher.validate import Options, check_run
from tests.synthetic import make_run

EXAMPLES = int(os.environ.get("BAKEOFF_FUZZ_EXAMPLES", "2000"))


@cache
def base_runs() -> tuple[RawRun, ...]:
    """A complete run with datasets and samples, and a meta-only run."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bakeoff-fuzz-"))
    full = make_run(
        root,
        seed=11,
        n_cells=1,
        calls_per_cell=3,
        with_quality=True,
        with_samples=True,
        scorer=lambda o, r: {"rouge1": 0.5, "rouge2": 0.25, "rougeL": 0.5},
    )
    meta = make_run(root, seed=12, n_cells=1, calls_per_cell=3, meta_only=True)
    return load_run(full), load_run(meta)


def weird_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.sampled_from(
            [
                "",
                "\u202e\u0000",
                "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
                "10.1.2.3",
                "bob@host",
                "/home/x",
                "2026-13-45T99:99:99Z",
                "cold",
                "call",
                "meta",
            ]
        ),
    )
    deep = st.integers(1, 3000).map(lambda n: json.loads("[" * min(n, 900) + "]" * min(n, 900)))
    return (
        st.recursive(
            scalars,
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        )
        | deep
    )


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, allow_nan=True).encode()
    except (RecursionError, ValueError):
        return b"[" * 5000


@st.composite
def mutated_runs(draw: st.DrawFn) -> RawRun:
    raw = draw(st.sampled_from(base_runs()))
    files = {f.name: f for f in raw.files}
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["value", "truncate", "bytes", "delete", "add", "flag", "line", "dup"])
        )
        names = sorted(n for n, f in files.items() if f.data is not None)
        if not names:
            break
        name = draw(st.sampled_from(names))
        data = files[name].data or b""
        if kind == "value" and name.endswith((".json", ".jsonl")):
            lines = data.split(b"\n") if name.endswith(".jsonl") else [data]
            idx = draw(st.integers(0, max(0, len(lines) - 1)))
            try:
                doc = json.loads(lines[idx])
            except ValueError:
                continue
            path = draw(st.sampled_from(_paths(doc)))
            lines[idx] = _dumps(_set(doc, path, draw(weird_values())))
            data = b"\n".join(lines)
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "bytes":
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + draw(st.binary(max_size=12)) + data[pos:]
        elif kind == "line":
            data = data + draw(
                st.sampled_from(
                    [
                        b"NaN\n",
                        b"{}\n",
                        b"\n\n",
                        b'{"type":null}\n',
                        b"\xff\xfe\n",
                        b'{"a":1e400}\n',
                    ]
                )
            )
        elif kind == "dup":
            data = data + data
        elif kind == "delete":
            del files[name]
            continue
        elif kind == "add":
            new = draw(
                st.sampled_from(
                    [
                        "x.txt",
                        "datasets/y.jsonl",
                        "datasets/z/q.jsonl",
                        ".hidden",
                        "run.jsonl",
                        "samples.jsonl",
                    ]
                )
            )
            files[new] = RunFile(new, 3, data=draw(st.binary(max_size=20)))
            continue
        elif kind == "flag":
            flag = draw(st.sampled_from(["is_symlink", "too_large", "unreadable", "is_dir"]))
            files[name] = RunFile(
                name,
                len(data),
                is_symlink=flag == "is_symlink",
                is_dir=flag == "is_dir",
                too_large=flag == "too_large",
                unreadable=flag == "unreadable",
            )
            continue
        files[name] = RunFile(name, len(data), data=data)
    dir_name = draw(st.sampled_from([raw.dir_name, "not-a-run-id", "20260101T000000Z-0000"]))
    return RawRun(dir_name, tuple(files.values()))


@settings(settings.get_profile("publisher"), max_examples=EXAMPLES)
@given(raw=mutated_runs(), allow=st.booleans())
def test_mutated_runs_end_in_findings_or_acceptance(raw: RawRun, allow: bool) -> None:
    run, findings = check_run(raw, Options(allow_synthetic=allow))
    assert all(f.code in CODES for f in findings)
    assert all(f.severity in ("error", "warning") for f in findings)
    if run is not None:
        check_rouge(run, lambda o, r: {"rouge1": 0.5, "rouge2": 0.25, "rougeL": 0.5}, {})
        for value in run.metadata["summary"].values():
            assert not (isinstance(value, float) and math.isnan(value))
        if not has_errors(findings):
            rows = derive_run(run)  # an accepted run must also derive without raising
            assert rows["runs"][0]["run_id"] == run.run_id
