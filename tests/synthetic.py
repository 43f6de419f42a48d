"""Synthetic run directories for tests and benchmarks (always marked ``"synthetic": true``).

    from tests.synthetic import make_run
    run_dir = make_run(tmp_path, seed=3, n_cells=2, calls_per_cell=12)

Output is schema-valid and internally consistent (summary counts, tokens_per_sec, timestamps,
one cold call per cell and prompt) with realistic distributions: log-normal TTFT, per-host
decode rates, slow cold calls, a few failed calls. The same arguments give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bakeoff.resources import load_seed

RougeScorer = Callable[[str, str], dict[str, float]]

# Hardware profiles: (cpu_model, cores, threads, arch, ram_gb, gpus, decode tok/s for a 1B model)
PROFILES: dict[str, dict[str, Any]] = {
    "rtx4090": {
        "cpu_model": "AMD Ryzen 9 7950X 16-Core Processor",
        "cores": 16,
        "threads": 32,
        "arch": "x86_64",
        "ram": 62.5,
        "gpus": [("nvidia", "NVIDIA GeForce RTX 4090", 23.99, "pcie", "8.9", "Ada Lovelace")],
        "rate": 180.0,
    },
    "a100x2": {
        "cpu_model": "AMD EPYC 7763 64-Core Processor",
        "cores": 64,
        "threads": 128,
        "arch": "x86_64",
        "ram": 503.7,
        "gpus": [("nvidia", "NVIDIA A100-SXM4-80GB", 80.0, "sxm", "8.0", "Ampere")] * 2,
        "rate": 140.0,
    },
    "m2max": {
        "cpu_model": "Apple M2 Max",
        "cores": 12,
        "threads": 12,
        "arch": "arm64",
        "ram": 32.0,
        "gpus": [("apple", "Apple M2 Max", 32.0, "soc_unified", None, None)],
        "rate": 90.0,
    },
    "pi5": {
        "cpu_model": "Cortex-A76",
        "cores": 4,
        "threads": 4,
        "arch": "aarch64",
        "ram": 7.8,
        "gpus": [],
        "rate": 9.0,
    },
}
MODELS = [
    ("gemma-3-270m-it-Q4_K_M.gguf", "Q4_K_M"),
    ("llama3.2:1b", "Q8_0"),
    ("qwen2.5:0.5b", "Q4_K_M"),
    ("smollm2:360m", "F16"),
]
ENGINES = ["llamacpp", "ollama", "openai"]
WORDS = [
    "the",
    "model",
    "engine",
    "token",
    "latency",
    "archive",
    "river",
    "mountain",
    "history",
    "city",
    "science",
    "music",
    "language",
    "system",
    "network",
    "energy",
    "summary",
    "article",
    "result",
    "measure",
    "quick",
    "brown",
    "fox",
]
TEMPLATE = "Summarize the following article in three sentences.\n\n{text}"


# The fields of a call that timed out before its first token (shared by synthetic generators).
TIMEOUT_FAILURE: dict[str, Any] = {
    "first_delta_ms": None,
    "first_content_ms": None,
    "total_duration_ms": None,
    "completion_tokens": None,
    "tokens_per_sec": None,
    "tpot_ms": None,
    "chunks": 0,
    "itl_p50_ms": None,
    "itl_p95_ms": None,
    "itl_max_ms": None,
    "finish_reason": "error",
    "http_status": None,
    "error": "read timeout (synthetic)",
    "error_kind": "timeout",
}


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}Z"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _default_scorer() -> RougeScorer | None:
    try:
        from bakeoff.quality import rouge_scores
    except ImportError:
        return None
    return rouge_scores


def dataset_items(seed: int = 0, n: int = 2) -> list[dict[str, str]]:
    """A small summarization dataset (id, title, text, reference)."""
    rng = random.Random(f"dataset-{seed}")
    return [
        {
            "id": f"syn-{i:03d}",
            "title": _words(rng, 3).title(),
            "text": _words(rng, 120),
            "reference": _words(rng, 25),
        }
        for i in range(n)
    ]


def make_run(
    tmp_dir: Path,
    *,
    run_id: str | None = None,
    system_id: str | None = None,
    n_cells: int = 2,
    calls_per_cell: int = 6,
    seed: int = 0,
    meta_only: bool = False,
    status: str = "complete",
    profile: str | None = None,
    started_at: datetime | None = None,
    with_quality: bool = False,
    with_samples: bool = False,
    n_samples: int = 5,
    error_rate: float = 0.05,
    scorer: RougeScorer | None = None,
    mode: str = "full",
    bench_gbs: float | None = None,
    cost_inputs: dict[str, Any] | None = None,
    with_load: bool = False,
) -> Path:
    """Write one synthetic, schema-valid run directory under ``tmp_dir`` and return it.

    ``mode`` "smoke" writes what ``bakeoff run --smoke`` records (one cold call per cell on the
    first prompt; not comparable); "empty" a run whose every cell was skipped (status
    ``empty``, no call; not comparable). ``bench_gbs`` adds a ``--bench`` block measuring that
    memory bandwidth, and dense-model sizes to the cells; ``cost_inputs`` the stated prices.
    ``with_load`` adds a 512/64 length workload (cold and two warm calls per cell, exact
    lengths) and two open-loop levels of it (1 and 2 requests/s, four requests each), with an
    slo of 200 ms TTFT and 50 ms TPOT.
    """
    rng = random.Random(seed)
    prof_name = profile or sorted(PROFILES)[seed % len(PROFILES)]
    prof = PROFILES[prof_name]
    start = started_at or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        days=rng.randint(0, 300), seconds=rng.randint(0, 86_399)
    )
    start = start.replace(microsecond=0)
    run_id = run_id or start.strftime("%Y%m%dT%H%M%SZ-") + f"{rng.getrandbits(32):08x}"
    system_id = system_id or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    host_label = f"syn-{prof_name}"
    prompts = load_seed("prompts.json")["prompts"]
    if mode == "smoke":
        calls_per_cell = 1
    used_prompts = prompts[: max(1, min(3, calls_per_cell // 2))]
    items = dataset_items(seed) if with_quality else []
    dataset_bytes = "".join(json.dumps(i, sort_keys=True) + "\n" for i in items).encode()
    task = {
        "id": "summarization",
        "template_id": "T-SUMMARIZE-1",
        "template_sha256": _sha(TEMPLATE),
        "dataset": "summarization",
        "dataset_sha256": hashlib.sha256(dataset_bytes).hexdigest(),
        "items": [i["id"] for i in items],
        "max_tokens": 256,
    }
    cells = []
    for c in range(n_cells):
        engine = ENGINES[(seed + c) % len(ENGINES)]
        model, quant = MODELS[(seed + c) % len(MODELS)]
        cells.append(
            {
                "cell_id": f"{host_label}:{engine}:{model}",
                "engine": engine,
                "api": "chat",
                "engine_version": f"0.{(seed + c) % 9}.{c}",
                "engine_build": None,
                "access_level": "white" if engine == "llamacpp" else "gray",
                "capabilities": ["latency", "server_timings"],
                "endpoint_kind": "loopback",
                "managed": engine == "llamacpp",
                "model": model,
                "model_digest": _sha(model)[:64],
                "quantization": quant,
                "cold_kind": "process_restart" if engine == "llamacpp" else "unloaded",
                "prompt_cache": "disabled",
                "load_time_ms": round(rng.uniform(500, 4000), 3),
                "model_size_bytes": 247_000_000 if bench_gbs else None,
                "model_parameters": 268_098_176 if bench_gbs else None,
                "model_expert_count": 0 if bench_gbs else None,
                "model_size_source": "gguf_file" if bench_gbs else None,
                "available": mode != "empty",
                "skip_reason": "health check failed: connection refused (synthetic)"
                if mode == "empty"
                else None,
            }
        )
    scorer = scorer or (_default_scorer() if with_quality else None)
    calls: list[dict[str, Any]] = []
    clock = start + timedelta(seconds=2)
    for cell in cells if mode != "empty" else []:
        rate = prof["rate"] * rng.uniform(0.7, 1.3)
        batches: list[tuple[str | None, dict[str, Any] | None, int]] = []
        per_prompt = max(1, calls_per_cell // len(used_prompts))
        for i, p in enumerate(used_prompts):
            extra = calls_per_cell - per_prompt * len(used_prompts) if i == 0 else 0
            batches.append((p["id"], None, per_prompt + extra))
        batches += [(None, dataset_item, 1) for dataset_item in items]
        for prompt_id, item, n in batches:
            for k in range(n):
                phase = "cold" if k == 0 and item is None else "warm"
                call = _call(rng, cell, prompt_id, item, k, phase, rate, clock, error_rate)
                if item is not None and call["output_text"] is not None and scorer is not None:
                    call.update(scorer(call["output_text"], item["reference"]))
                calls.append(call)
                clock += timedelta(milliseconds=(call["total_duration_ms"] or 50.0) + 20)
    if with_load:
        for cell in cells if mode != "empty" else []:
            clock = _load_calls(rng, cell, calls, clock, prof["rate"])
    finished = clock + timedelta(seconds=1)
    ok = sum(1 for c in calls if c["error"] is None)
    metadata: dict[str, Any] = {
        "schema_version": 1,
        "created_at": _ts(start),
        "updated_at": _ts(finished),
        "run_id": run_id,
        "run_uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "status": "empty" if mode == "empty" else status,
        "status_reason": None
        if status == "complete" and mode != "empty"
        else ("no call was measured" if mode == "empty" else "interrupted (synthetic)"),
        "comparable": mode == "full",
        "comparable_reason": {
            "full": None,
            "smoke": "smoke run: one call on a freshly started engine",
            "empty": "no call was measured: every cell was skipped",
        }[mode],
        "meta_only": meta_only,
        "synthetic": True,
        "started_at": _ts(start),
        "finished_at": _ts(finished),
        "harness": {
            "name": "bakeoff",
            "version": "0.1.0",
            "git_sha": f"{rng.getrandbits(160):040x}",
            "git_describe": None,
            "git_dirty": False,
            "dirty_files": [],
        },
        "publisher_id": f"synthetic-{seed % 3}",
        "host_label": host_label,
        "environment": {
            "load_avg_start": [round(rng.uniform(0, 1), 2) for _ in range(3)],
            "load_avg_end": [round(rng.uniform(0, 2), 2) for _ in range(3)],
            "knobs": {},
        },
        "config": {
            "runs_per_cell": max(1, calls_per_cell // len(used_prompts) - 1),
            "cold": True,
            "prompts": [
                {"id": p["id"], "sha256": p["sha256"], "max_tokens": p["max_tokens"]}
                for p in used_prompts
            ],
            "tasks": [task] if with_quality else [],
            "temperature": 0.0,
            "seed": 42,
            "timeouts": {"connect_s": 5.0, "read_s": 120.0, "total_s": 600.0, "health_s": 1.0},
            "concurrency": [1],
            **(LOAD_CONFIG if with_load else {}),
            "mode": "smoke" if mode == "smoke" else "full",
            "guard_overrides": [],
            "for_publication": False,
        },
        "cells": cells,
        "hardware": {**_hardware(prof, system_id, seed), "benchmarks": _bench(start, bench_gbs)},
        "run_hardware_metrics": _metrics(rng, system_id, cells, calls, bool(prof["gpus"])),
        "summary": {
            "calls_total": len(calls),
            "calls_ok": ok,
            "calls_error": len(calls) - ok,
            "cells_planned": len(cells),
            "cells_ok": 0 if mode == "empty" else len(cells),
            "cells_skipped": len(cells) if mode == "empty" else 0,
            "cells": [
                {
                    "cell_id": c["cell_id"],
                    "calls_total": sum(1 for x in calls if x["cell_id"] == c["cell_id"]),
                    "calls_ok": sum(
                        1 for x in calls if x["cell_id"] == c["cell_id"] and x["error"] is None
                    ),
                }
                for c in cells
            ],
        },
        "license": "CC-BY-4.0",
        "cost_inputs": cost_inputs,
    }
    run_dir = tmp_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "metadata.json").write_text(
        json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    if not meta_only:
        meta = {
            "type": "meta",
            "schema_version": 1,
            "run_id": run_id,
            "harness_version": "0.1.0",
            "git_sha": metadata["harness"]["git_sha"],
            "git_dirty": False,
            "started_at": metadata["started_at"],
            "host_label": host_label,
            "load_avg_start": metadata["environment"]["load_avg_start"],
            "cells_planned": [c["cell_id"] for c in cells],
        }
        skipped = [
            {
                "type": "skipped",
                "cell_id": c["cell_id"],
                "reason": c["skip_reason"],
                "at": metadata["started_at"],
            }
            for c in cells
            if not c["available"]
        ]
        lines = [meta, *skipped, *calls]
        (run_dir / "run.jsonl").write_text(
            "".join(json.dumps(x, sort_keys=True) + "\n" for x in lines), encoding="utf-8"
        )
    (run_dir / "run.log").write_text(
        f"{metadata['started_at']} INFO synthetic run {run_id} on {host_label}\n"
        f"{metadata['finished_at']} INFO {len(calls)} calls, {ok} ok\n",
        encoding="utf-8",
    )
    (run_dir / "run.md").write_text(f"# Run {run_id}\n\nSynthetic test data.\n", encoding="utf-8")
    if with_quality:
        (run_dir / "datasets").mkdir()
        (run_dir / "datasets" / "summarization.jsonl").write_bytes(dataset_bytes)
    if with_samples:
        (run_dir / "samples.jsonl").write_text(
            "".join(
                json.dumps(
                    {
                        "schema_version": 1,
                        "t": i * 0.5,
                        "ts": _ts(start + timedelta(seconds=i * 0.5)),
                        "cpu_percent": round(rng.uniform(5, 90), 1),
                        "memory_used_gb": round(rng.uniform(2, 8), 3),
                        "engine_pid": None,
                        "engine_rss_gb": None,
                        "engine_cpu_percent": None,
                        "cpu_energy_j": None,
                        "gpus": [],
                    },
                    sort_keys=True,
                )
                + "\n"
                for i in range(n_samples)
            ),
            encoding="utf-8",
        )
    return run_dir


def _call(
    rng: random.Random,
    cell: dict[str, Any],
    prompt_id: str | None,
    item: dict[str, Any] | None,
    k: int,
    phase: str,
    rate: float,
    clock: datetime,
    error_rate: float,
) -> dict[str, Any]:
    failed = phase == "warm" and rng.random() < error_rate
    ttft = rng.lognormvariate(4.0, 0.35) * (rng.uniform(4, 12) if phase == "cold" else 1.0)
    tokens = rng.randint(16, 60) if prompt_id == "P-EASY" else rng.randint(40, 240)
    decode_ms = tokens / (rate * rng.uniform(0.9, 1.1)) * 1000.0
    ttft, total = round(ttft, 3), round(ttft + decode_ms, 3)
    tps = tokens / ((total - ttft) / 1000.0)
    output = _words(rng, tokens // 2) if item is not None else None
    call: dict[str, Any] = {
        "type": "call",
        "cell_id": cell["cell_id"],
        "backend": cell["engine"],
        "prompt_id": prompt_id,
        "task_id": "summarization" if item is not None else None,
        "item_id": item["id"] if item is not None else None,
        "run_idx": k,
        "phase": phase,
        "cold_kind": cell["cold_kind"] if phase == "cold" else None,
        "concurrency": 1,
        "start_lag_ms": None,
        "started_at": _ts(clock),
        "first_delta_ms": ttft,
        "first_content_ms": ttft,
        "total_duration_ms": total,
        "prompt_tokens": rng.randint(20, 400),
        "completion_tokens": tokens,
        "reasoning_tokens": None,
        "cached_prompt_tokens": None,
        "token_count_source": "server_usage",
        "tokens_per_sec": tps,
        "tpot_ms": (total - ttft) / (tokens - 1),
        "chunks": tokens,
        "itl_p50_ms": round(1000.0 / rate, 3),
        "itl_p95_ms": round(1400.0 / rate, 3),
        "itl_max_ms": round(2500.0 / rate, 3),
        "server_prompt_ms": None,
        "server_decode_ms": None,
        "server_load_ms": None,
        "server_tokens_per_sec": None,
        "timing_discrepancy_pct": None,
        "finish_reason": "stop",
        "http_status": 200,
        "error": None,
        "error_kind": None,
        "retries": 0,
        "output_text": output,
        "output_sha256": _sha(output) if output is not None else None,
        "rouge1": None,
        "rouge2": None,
        "rougeL": None,
    }
    if failed:
        call.update(TIMEOUT_FAILURE, output_text=None, output_sha256=None)
    return call


LENGTH = {
    "id": "L-512-64",
    "input_tokens": 512,
    "output_tokens": 64,
    "text_id": "T-ARTICLES",
    "text_sha256": load_seed("context_text.json")["sha256"],
}
LOAD_CONFIG: dict[str, Any] = {
    "lengths": [LENGTH],
    "rates": [1.0, 2.0],
    "rate_requests": 4,
    "arrival_seed": 1,
    "sweep": False,
    "sweep_levels": None,
    "slo": {"ttft_ms": 200.0, "tpot_ms": 50.0},
}


def _load_calls(
    rng: random.Random,
    cell: dict[str, Any],
    calls: list[dict[str, Any]],
    clock: datetime,
    rate: float,
) -> datetime:
    """A length workload's sequential calls and its two open-loop levels, as the collector
    writes them; returns the clock after them."""

    def one(k: int, phase: str, start: datetime, **level: Any) -> dict[str, Any]:
        call = _call(rng, cell, LENGTH["id"], None, k, phase, rate, start, 0.0)
        ttft = round(call["first_delta_ms"] * 3, 3)  # a 512-token prefill
        tokens = 64
        total = round(ttft + tokens / (rate * rng.uniform(0.9, 1.1)) * 1000.0, 3)
        call.update(
            first_delta_ms=ttft,
            first_content_ms=ttft,
            total_duration_ms=total,
            prompt_tokens=512,
            completion_tokens=tokens,
            chunks=tokens,
            tokens_per_sec=tokens / ((total - ttft) / 1000.0),
            tpot_ms=(total - ttft) / (tokens - 1),
            prefill_tokens_per_sec=round(512 / (ttft / 1000.0), 3),
            server_prefill_tokens_per_sec=round(512 / (ttft * 0.9 / 1000.0), 3),
            target_prompt_tokens=512,
            target_completion_tokens=64,
            length_off_target=False,
            finish_reason="length",
            **level,
        )
        return call

    for k, phase in enumerate(("cold", "warm", "warm")):
        call = one(0 if phase == "cold" else k - 1, phase, clock)
        calls.append(call)
        clock += timedelta(milliseconds=call["total_duration_ms"] + 20)
    for level_rate in LOAD_CONFIG["rates"]:
        level_start = clock
        ends = []
        for k in range(LOAD_CONFIG["rate_requests"]):
            due = k * 1000.0 / level_rate
            sent = round(due + rng.uniform(0.1, 2.0), 3)
            call = one(
                k,
                "warm",
                level_start + timedelta(milliseconds=sent),
                concurrency=None,
                request_rate=level_rate,
                in_flight=1 + k % 2,
                scheduled_ms=due,
                sent_ms=sent,
                start_lag_ms=round(sent - due, 3),
            )
            calls.append(call)
            ends.append(sent + call["total_duration_ms"])
        clock = level_start + timedelta(milliseconds=max(ends) + 20)
    return clock


def _bench(start: datetime, gbs: float | None) -> dict[str, Any] | None:
    """A ``--bench`` block that measured ``gbs`` GB/s (best copy) and 40 GFLOP/s fp32."""
    if gbs is None:
        return None

    def row(kernel: str, scope: str, unit: str, best: float, precision: str | None) -> Any:
        return {
            "target": "host",
            "gpu_slot": None,
            "device_name": None,
            "kernel": kernel,
            "scope": scope,
            "precision": precision,
            "unit": unit,
            "median": round(best * 0.9, 3),
            "min": round(best * 0.7, 3),
            "max": best,
            "repetitions": 5,
            "workers": 1 if scope == "one_core" else None,
            "size_bytes": 512 << 20 if unit == "GB/s" else None,
            "matrix_n": 2048 if kernel == "matmul" else None,
            "method": "synthetic",
            "reason": None,
        }

    return {
        "started_at": _ts(start),
        "wall_time_s": 12.5,
        "load_avg_start": [0.1, 0.1, 0.1],
        "memory_bandwidth_gbs": gbs,
        "memory_bandwidth_one_core_gbs": round(gbs * 0.8, 3),
        "last_level_cache_bytes": 32 << 20,
        "libraries": {"numpy": "2.0"},
        "results": [
            row("copy", "one_core", "GB/s", round(gbs * 0.8, 3), None),
            row("copy", "all_cores", "GB/s", gbs, None),
            row("matmul", "all_cores", "GFLOP/s", 40.0, "fp32"),
            row("matmul", "all_cores", "GFLOP/s", 20.0, "fp64"),
        ],
    }


def _hardware(prof: dict[str, Any], system_id: str, seed: int) -> dict[str, Any]:
    gpus = [
        {
            "slot": i,
            "vendor": vendor,
            "name": name,
            "memory_total_gb": mem,
            "unified_memory": iface == "soc_unified",
            "interface_type": iface,
            "pcie_gen_max": 4 if iface == "pcie" else None,
            "pcie_width_max": 16 if iface == "pcie" else None,
            "power_limit_w": 450.0 if vendor == "nvidia" else None,
            "power_limit_default_w": 450.0 if vendor == "nvidia" else None,
            "compute_capability": cc,
            "architecture": arch,
            "tensor_core_generation": 4 if cc == "8.9" else (3 if cc else None),
            "cores": None,
            "source": "nvml" if vendor == "nvidia" else "system_profiler",
        }
        for i, (vendor, name, mem, iface, cc, arch) in enumerate(prof["gpus"])
    ]
    nvidia = any(g["vendor"] == "nvidia" for g in gpus)
    return {
        "schema_version": 1,
        "system_hardware": {
            "system_id": system_id,
            "publisher_id": f"synthetic-{seed % 3}",
            "cpu_model": prof["cpu_model"],
            "cpu_cores": prof["cores"],
            "cpu_threads": prof["threads"],
            "architecture": prof["arch"],
            "ram_total_gb": prof["ram"],
            "board_model": None,
            "container": {
                "in_container": False,
                "memory_limit_gb": None,
                "cpu_quota": None,
                "usable_cpus": prof["threads"],
            },
        },
        "system_software": {
            "os": "macOS 15.1" if prof["arch"] == "arm64" else "Debian GNU/Linux 12 (bookworm)",
            "kernel_version": "24.1.0" if prof["arch"] == "arm64" else "6.1.0-27-amd64",
            "python_version": "3.12.7",
            "gpu_driver_version": "565.57.01" if nvidia else None,
            "cuda_version": "12.7" if nvidia else None,
            "rocm_version": None,
            "runner_version": "0.1.0",
        },
        "gpus": gpus,
        "probe_issues": [] if gpus else [{"probe": "gpu", "reason": "no GPU found"}],
    }


def _metrics(
    rng: random.Random,
    system_id: str,
    cells: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    has_gpu: bool,
) -> dict[str, Any]:
    energy = round(rng.uniform(500, 5000), 3)
    per_cell = []
    for c in cells:
        out_tokens = sum(x["completion_tokens"] or 0 for x in calls if x["cell_id"] == c["cell_id"])
        e = round(energy / len(cells), 3)
        per_cell.append(
            {
                "cell_id": c["cell_id"],
                "output_tokens": out_tokens,
                "energy_j": e,
                "joules_per_output_token": e / out_tokens if out_tokens else None,
            }
        )
    gpu = (lambda v: v) if has_gpu else (lambda v: None)
    return {
        "system_id": system_id,
        "sample_interval_s": 0.5,
        "sample_count": rng.randint(50, 500),
        "cpu_percent_mean": round(rng.uniform(5, 60), 2),
        "cpu_percent_max": round(rng.uniform(60, 100), 2),
        "memory_used_gb_max": round(rng.uniform(2, 30), 3),
        "engine_rss_gb_max": round(rng.uniform(0.3, 8), 3),
        "engine_cpu_percent_mean": round(rng.uniform(50, 400), 2),
        "gpu_util_percent_mean": gpu(round(rng.uniform(20, 90), 2)),
        "gpu_util_percent_max": gpu(100.0),
        "gpu_memory_used_gb_max": gpu(round(rng.uniform(1, 20), 3)),
        "gpu_power_w_mean": gpu(round(rng.uniform(80, 300), 2)),
        "gpu_power_w_max": gpu(round(rng.uniform(300, 450), 2)),
        "gpu_temperature_c_max": gpu(round(rng.uniform(50, 80), 1)),
        "cpu_energy_j": round(energy / 3, 3),
        "gpu_energy_j": gpu(round(energy * 2 / 3, 3)),
        "energy_j": energy,
        "cells": per_cell,
        "unavailable": [],
    }
