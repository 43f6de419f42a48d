"""``bakeoff import`` for vLLM, GuideLLM and AIPerf files, and every importer's failure paths.

vLLM cannot run here (no GPU), so its files are fixtures written field by field from the
format's defining source; GuideLLM's and AIPerf's include real output of each, run once
against the embedded engine with a tokenizer built offline (``tests/fixtures/imports/README.md``
cites the sources and says how).
llama-bench runs for real in ``test_import_llama_bench.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bakeoff.cli import main
from collector.importers import ImportOptions, import_files
from collector.importers.base import HardwareMismatchError, ImportFormatError, redact_home
from collector.models import Hardware, Metadata

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def _import(fmt: str, tmp_path: Path, *names: str, **options: Any) -> tuple[Path, dict[str, Any]]:
    paths = [p if isinstance(p, Path) else FIXTURES / p for p in names]
    opts = ImportOptions(out_dir=tmp_path / "runs", probe=False, host_label="h1", **options)
    [(run, metadata)] = import_files(fmt, paths, opts)  # type: ignore[arg-type]
    md = json.loads((run / "metadata.json").read_text())
    assert md == json.loads(metadata.model_dump_json())
    return run, md


def _calls(run: Path) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in (run / "run.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "meta"
    return [x for x in lines[1:] if x["type"] == "call"]


def test_vllm_detailed_requests_become_call_records_in_vllms_definitions(
    tmp_path: Path,
) -> None:
    run, md = _import("vllm-bench", tmp_path, "vllm-detailed.json")
    source = json.loads((FIXTURES / "vllm-detailed.json").read_text())
    calls = _calls(run)
    assert len(calls) == source["completed"] == 4
    for call, ttft, lat, out in zip(
        calls, source["ttfts"], source["latencies"], source["output_lens"], strict=True
    ):
        assert call["definitions"] == "vllm-bench"  # vLLM's TTFT is not the archive's
        assert call["first_delta_ms"] == pytest.approx(ttft * 1000)
        assert call["total_duration_ms"] == pytest.approx(lat * 1000)
        assert call["completion_tokens"] == out
        assert call["token_count_source"] == "tool_reported"
        decode_s = (call["total_duration_ms"] - call["first_delta_ms"]) / 1000
        assert call["tokens_per_sec"] == pytest.approx(out / decode_s)
        assert call["concurrency"] == source["max_concurrency"]
        # The client-side prefill rate over vLLM's TTFT (the record says whose definitions).
        prefill = call["prompt_tokens"] / ttft
        assert call["prefill_tokens_per_sec"] == pytest.approx(prefill, rel=1e-3)
    assert md["meta_only"] is False
    assert md["cells"][0]["access_level"] == "imported"
    assert md["source"]["files"] == [
        {
            "name": "vllm-detailed.json",
            "sha256": hashlib.sha256((FIXTURES / "vllm-detailed.json").read_bytes()).hexdigest(),
            "role": "results",
            "format": "json",
        }
    ]
    assert md["source"]["tool"] == "vllm-bench" and md["source"]["tool_version"] is None
    stats = {a["metric"]: a for a in md["aggregates"]}
    assert not any(a["mapped"] for a in md["aggregates"])
    assert stats["vllm-bench:ttft"]["mean"] == pytest.approx(source["mean_ttft_ms"])
    assert stats["vllm-bench:ttft"]["p99"] == pytest.approx(source["p99_ttft_ms"])
    assert stats["vllm-bench:tpot"]["p50"] == pytest.approx(source["median_tpot_ms"])
    [wl] = md["config"]["imported_workloads"]
    assert wl["definitions"] == "vllm-bench"
    assert wl["id"] == "load:completions:32/8:c2"
    assert wl["shape"] == {
        "api": "completions",
        "input_tokens": "32",
        "output_tokens": "8",
        "concurrency": "2",
    }


def test_vllm_summary_only_file_is_aggregate_rows_never_calls(tmp_path: Path) -> None:
    run, md = _import("vllm-bench", tmp_path, "vllm-summary.json")
    assert md["meta_only"] is True and not (run / "run.jsonl").exists()
    assert md["summary"]["calls_total"] == 0
    assert {a["n"] for a in md["aggregates"]} == {4}
    text = (run / "run.md").read_text()
    assert "Summary statistics as the tool states them" in text
    assert "Per-request records" not in text


def test_aiperf_records_skip_warmup_and_map_ttft_latency_itl(tmp_path: Path) -> None:
    run, md = _import("aiperf", tmp_path, "profile_export_aiperf.json", "profile_export.jsonl")
    calls = _calls(run)
    assert len(calls) == 4  # the warm-up record is left out
    assert all(c["definitions"] is None for c in calls)  # the archive's own definitions
    assert {c["token_count_source"] for c in calls} == {"client_estimate"}
    for c in calls:
        prefill = c["prompt_tokens"] / (c["first_delta_ms"] / 1000)
        assert c["prefill_tokens_per_sec"] == pytest.approx(prefill, rel=1e-3)
    mapped = {a["metric"]: a for a in md["aggregates"] if a["mapped"]}
    assert set(mapped) == {"first_delta_ms", "total_duration_ms", "tpot_ms"}
    summary = json.loads((FIXTURES / "profile_export_aiperf.json").read_text())
    assert mapped["first_delta_ms"]["p50"] == summary["time_to_first_token"]["p50"]
    assert mapped["tpot_ms"]["n"] == 4
    # The recorded command keeps its shape without the home folder.
    assert md["source"]["command"].endswith("--tokenizer ~/tokenizers/gemma3")
    assert md["source"]["format_version"] == "1.5"
    assert [f["role"] for f in md["source"]["files"]] == ["results", "per-request records"]


def test_aiperf_older_than_the_code_read_keeps_its_own_names(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "profile_export_aiperf.json").read_text())
    doc["aiperf_version"] = "0.3.0"
    old = tmp_path / "profile_export_aiperf.json"
    old.write_text(json.dumps(doc))
    run, md = _import("aiperf", tmp_path, old, FIXTURES / "profile_export.jsonl")
    assert not any(a["mapped"] for a in md["aggregates"])
    assert md["config"]["imported_workloads"][0]["definitions"] == "aiperf"
    assert {c["definitions"] for c in _calls(run)} == {"aiperf"}
    assert "0.3.0" in md["source"]["notes"][0]


def test_guidellm_report_json_and_yaml_give_the_same_statistics(tmp_path: Path) -> None:
    _, from_json = _import("guidellm", tmp_path / "j", "guidellm-benchmarks.json")
    report = json.loads((FIXTURES / "guidellm-benchmarks.json").read_text())
    as_yaml = tmp_path / "benchmarks.yaml"
    as_yaml.write_text(yaml.safe_dump(report))
    _, from_yaml = _import("guidellm", tmp_path / "y", as_yaml)
    assert from_json["aggregates"] == from_yaml["aggregates"]
    assert from_yaml["source"]["files"][0]["format"] == "yaml"
    stats = {a["metric"]: a for a in from_json["aggregates"]}
    # GuideLLM's TPOT includes the first token: kept under its own name, never tpot_ms.
    tpot = stats["guidellm:time_per_output_token_ms"]
    assert not tpot["mapped"]
    src = report["benchmarks"][0]["metrics"]["time_per_output_token_ms"]["successful"]
    assert tpot["mean"] == src["mean"] and tpot["p95"] == src["percentiles"]["p95"]
    assert from_json["source"]["tool_version"] == "0.8.1"
    assert from_json["cells"][0]["endpoint_kind"] == "loopback"  # classified, never stored
    assert "127.0.0.1" not in json.dumps(from_json)


def test_guidellm_report_of_another_version_is_refused(tmp_path: Path) -> None:
    report = json.loads((FIXTURES / "guidellm-benchmarks.json").read_text())
    report["metadata"]["version"] = 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report))
    with pytest.raises(ImportFormatError, match=r"old.json: GuideLLM report metadata.version 1"):
        _import("guidellm", tmp_path, path)


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("vllm-bench", '{"date": "20261130-120000"}', "not a `vllm bench serve --save-result`"),
        ("vllm-bench", "not json at all", "not valid JSON"),
        ("llama-bench", "hello", "not a llama-bench result"),
        ("llama-bench", "[]", "no llama-bench test rows"),
        ("llama-bench", '[{"n_prompt": 1}]', "needs n_prompt, n_gen and avg_ts"),
        ("guidellm", '{"args": {}}', "not a GuideLLM report"),
        ("aiperf", '{"records": {}}', "not an AIPerf profile_export_aiperf.json"),
    ],
)
def test_a_file_of_the_wrong_format_is_one_message_naming_it(
    tmp_path: Path, fmt: str, text: str, message: str
) -> None:
    path = tmp_path / "input.json"
    path.write_text(text)
    with pytest.raises(ImportFormatError, match=r"input\.json") as err:
        _import(fmt, tmp_path, path)
    assert message in str(err.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_aiperf_records_without_their_summary_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match=r"goes after its profile_export_aiperf\.json"):
        _import("aiperf", tmp_path, "profile_export.jsonl")


def test_no_probe_leaves_every_unrecorded_hardware_field_null_and_listed(
    tmp_path: Path,
) -> None:
    _, md = _import("aiperf", tmp_path, "profile_export_aiperf.json")
    hw = md["hardware"]["system_hardware"]
    assert hw["architecture"] is None and hw["cpu_threads"] is None
    assert hw["ram_total_gb"] is None and hw["container"]["in_container"] is None
    missing = md["source"]["hardware_missing"]
    assert "system_hardware.architecture" in missing and "system_hardware.cpu_model" in missing
    assert md["source"]["hardware_source"] == "file"
    reasons = {i["reason"].split(":")[0] for i in md["hardware"]["probe_issues"]}
    assert set(missing) <= reasons


def test_probe_refuses_a_file_measured_on_another_cpu(tmp_path: Path) -> None:
    from collector.importers import llama_bench
    from collector.importers.base import InputFile, check_same_host

    row = {
        "cpu_info": "AMD Ryzen 9 7950X 16-Core Processor",
        "n_prompt": 8,
        "n_gen": 0,
        "avg_ts": 10.0,
        "model_filename": "m.gguf",
    }
    parsed = llama_bench.parse([InputFile("lb.json", json.dumps([row]).encode(), "json")])
    hardware = Hardware.model_validate(_probe_like(cpu="Intel(R) Xeon(R) Platinum 8375C"))
    with pytest.raises(HardwareMismatchError, match="--no-probe"):
        check_same_host(parsed, hardware)
    same = Hardware.model_validate(_probe_like(cpu="AMD Ryzen 9 7950X 16-Core Processor"))
    check_same_host(parsed, same)  # no error


def _probe_like(cpu: str) -> dict[str, Any]:
    return {
        "system_hardware": {
            "system_id": "3f9c2a1b-0000-4000-8000-000000000000",
            "cpu_model": cpu,
            "cpu_cores": 2,
            "cpu_threads": 2,
            "architecture": "x86_64",
            "ram_total_gb": 16.0,
            "container": {"in_container": False},
        },
        "system_software": {
            "os": "Debian",
            "kernel_version": "6.1",
            "python_version": "3.11",
            "runner_version": "0",
        },
        "gpus": [],
        "probe_issues": [],
    }


def test_redact_home_keeps_the_shape_of_a_command() -> None:
    assert redact_home("-m /home/alice/m.gguf -t 4") == "-m ~/m.gguf -t 4"
    assert redact_home(r"C:\Users\carol\x.gguf") == r"~\x.gguf"
    assert redact_home("/Users/bob/x /root/y /rootfs/z") == "~/x ~/y /rootfs/z"


def test_cli_import_writes_a_run_and_says_what_it_translated(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "import",
            "aiperf",
            str(FIXTURES / "profile_export_aiperf.json"),
            str(FIXTURES / "profile_export.jsonl"),
            "--out",
            str(tmp_path),
            "--no-probe",
            "--host-label",
            "lab-1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 per-request record(s)" in result.output
    assert "3 in the archive's definitions" in result.output
    [run] = [p for p in tmp_path.iterdir() if p.is_dir()]
    Metadata.model_validate_json((run / "metadata.json").read_text())


def test_cli_import_of_a_bad_file_is_one_error_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    result = CliRunner().invoke(
        main, ["import", "vllm-bench", str(bad), "--out", str(tmp_path / "runs"), "--no-probe"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: x.json: not a `vllm bench serve")
    assert "Traceback" not in result.output


def test_the_definitions_are_part_of_the_workload_key() -> None:
    from collector.importers.base import workload
    from publisher.frontend.derive import workload_key

    shape = {"api": "completions", "input_tokens": 32, "output_tokens": 8, "concurrency": 2}
    ours = workload("load:completions:32/8:c2", "x", shape, "bakeoff", 8)
    theirs = workload("load:completions:32/8:c2", "x", shape, "aiperf", 8)
    assert ours.sha256 != theirs.sha256
    keys = {workload_key(w.id, w.sha256, w.max_tokens, None, 2) for w in (ours, theirs)}
    assert len(keys) == 2
    again = workload(
        "load:completions:32/8:c2", "y", dict(reversed(list(shape.items()))), "bakeoff", 8
    )
    assert again.sha256 == ours.sha256  # key order and description do not matter


def test_the_same_files_imported_twice_are_refused(tmp_path: Path) -> None:
    from collector.importers import DuplicateImportError

    first, _ = _import("vllm-bench", tmp_path, "vllm-summary.json")
    with pytest.raises(DuplicateImportError, match=f"already imported as .*{first.name}"):
        _import("vllm-bench", tmp_path, "vllm-summary.json")
    # Another file of the same run is not a duplicate.
    _import("vllm-bench", tmp_path, "vllm-detailed.json")


def test_bakeoff_report_regenerates_an_imported_runs_page(tmp_path: Path) -> None:
    from collector.report import write_report

    run, _ = _import("aiperf", tmp_path, "profile_export_aiperf.json", "profile_export.jsonl")
    before = (run / "run.md").read_text()
    (run / "run.md").write_text("stale\n")
    write_report(run)
    assert (run / "run.md").read_text() == before
    summary_only, _ = _import("vllm-bench", tmp_path / "b", "vllm-summary.json")
    write_report(summary_only)  # no run.jsonl: rendered from the metadata alone
    assert "(imported)" in (summary_only / "run.md").read_text()


def test_pasted_llama_bench_tables_of_two_builds_and_settings_are_separate_cells(
    tmp_path: Path,
) -> None:
    """Community results are pasted markdown tables, builds and flash-attention mixed; the
    table and build line follow llama-bench's markdown_printer."""
    text = (
        "| model | size | params | backend | threads | fa | test | t/s |\n"
        "| ----- | ---: | -----: | ------- | ------: | -: | ---: | --: |\n"
        "| llama 8B Q4_0 | 4.33 GiB | 8.03 B | CPU | 8 | 0 | pp512 | 120.50 ± 1.25 |\n"
        "| llama 8B Q4_0 | 4.33 GiB | 8.03 B | CPU | 8 | 1 | pp512 | 131.00 ± 0.75 |\n"
        "| llama 8B Q4_0 | 4.33 GiB | 8.03 B | CPU | 8 | 1 | tg128 @ d512 | 9.80 ± 0.02 |\n"
        "\nbuild: 1a2b3c4d (5000)\n"
    )
    path = tmp_path / "pasted.md"
    path.write_text(text)
    _, md = _import("llama-bench", tmp_path, path)
    assert sorted(c["cell_id"] for c in md["cells"]) == [
        "h1:llamacpp:llama 8B Q4_0:fa0",
        "h1:llamacpp:llama 8B Q4_0:fa1",
    ]
    assert {c["engine_version"] for c in md["cells"]} == {"b5000"}
    rates = {(a["cell_id"][-3:], a["workload_id"]): a for a in md["aggregates"]}
    assert rates[("fa1", "llama-bench:tg128-d512")]["mean"] == 9.8
    assert rates[("fa1", "llama-bench:tg128-d512")]["std"] == 0.02
    assert rates[("fa0", "llama-bench:pp512")]["metric"] == "engine_prefill_tokens_per_sec"
    assert all(a["n"] is None for a in md["aggregates"])  # the table does not say
    assert md["cells"][0]["quantization"] is None or "Q4_0" in md["cells"][0]["quantization"]
    assert "no per-repetition samples" in md["source"]["notes"][0]


def test_a_host_label_the_contract_refuses_is_one_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "import",
            "vllm-bench",
            str(FIXTURES / "vllm-summary.json"),
            "--out",
            str(tmp_path),
            "--no-probe",
            "--host-label",
            "my box",
        ],
    )
    assert result.exit_code == 1
    assert "error: --host-label 'my box'" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_real_aiperf_013_output_of_the_embedded_engine(tmp_path: Path) -> None:
    """``aiperf profile`` 0.13.0 run against the embedded llama-cpp-python server (completions,
    streaming, concurrency 2, 8 requests after 1 warm-up; tests/fixtures/imports/README.md
    says how): its input_config has AIPerf 0.13's layout (models.items, phases, datasets)."""
    folder = FIXTURES / "aiperf-0.13"
    run, md = _import(
        "aiperf", tmp_path, folder / "profile_export_aiperf.json", folder / "profile_export.jsonl"
    )
    records = [json.loads(x) for x in (folder / "profile_export.jsonl").read_text().splitlines()]
    profiled = [r for r in records if r["metadata"]["benchmark_phase"] == "profiling"]
    calls = _calls(run)
    assert len(calls) == len(profiled) == 8
    for call, rec in zip(calls, profiled, strict=True):
        assert call["first_delta_ms"] == rec["metrics"]["time_to_first_token"]["value"]
        assert call["total_duration_ms"] == rec["metrics"]["request_latency"]["value"]
        assert call["completion_tokens"] == rec["metrics"]["output_sequence_length"]["value"]
    assert md["cells"][0]["model"] == "gemma-3-270m-q4_k_m"
    assert md["cells"][0]["endpoint_kind"] == "loopback"
    assert md["source"]["tool_version"] == "0.13.0" and md["source"]["format_version"] == "1.4"
    summary = json.loads((folder / "profile_export_aiperf.json").read_text())
    mapped = {a["metric"]: a for a in md["aggregates"] if a["mapped"]}
    assert mapped["first_delta_ms"]["p50"] == summary["time_to_first_token"]["p50"]
    assert mapped["total_duration_ms"]["n"] == 8
    [wl] = md["config"]["imported_workloads"]
    assert wl["shape"]["concurrency"] == "2" and wl["shape"]["input_tokens"] == "32"
