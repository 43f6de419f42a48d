"""Published-table rows for site tests and the site benchmark, with hostile strings.

``make_tables`` builds the tables of ``docs/tables.md`` directly (no run directories), so the
site can be tested and benchmarked without the publisher pipeline. Deterministic per seed.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from publisher.history import build_history
from publisher.samples import sample_row

Row = dict[str, Any]

XSS_MODEL = "<img src=x onerror=alert(1)>"
XSS_HOST = "javascript:alert(2)"
XSS_VERSION = '"><script>alert(3)</script>'
XSS_CPU = "</td><svg onload=alert(4)>"

MODELS = [
    ("llama3.2:1b", "Q4_K_M", 1.0),
    ("qwen2.5:0.5b", "Q8_0", 1.6),
    ("gemma3:270m", "Q4_K_M", 2.4),
    (XSS_MODEL, "F16", 0.7),
]
ENGINES = [("ollama", "0.9.1"), ("llama.cpp", "b5000"), ("vllm", XSS_VERSION)]
WORKLOADS = [
    ("P-EASY", "prompt", 256, 1),
    ("P-LONG", "prompt", 512, 1),
    ("P-EASY", "prompt", 256, 4),
    ("summarization", "task", 128, 1),
]
GPUS = [
    ("NVIDIA", "NVIDIA GeForce RTX 4090", 24.0, 4.0),
    ("NVIDIA", "NVIDIA A100-SXM4-80GB", 80.0, 6.0),
    (None, None, None, 0.4),
]


def _key(obj: dict[str, Any]) -> str:
    canon = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


# The second run of the first system is SLOWDOWN times slower on everything: with history
# built from the cells, its configurations regress there and recover in the third run.
SLOWDOWN = 3.0
LONG_SAMPLES = 1500  # telemetry samples of the first run (more than a run page draws)


def make_samples(run_id: str, n: int, gpus: int, rng: random.Random) -> list[Row]:
    """``samples`` table rows, through ``publisher.samples.sample_row`` like the pipeline."""
    rows = []
    for i in range(n):
        sample = {
            "schema_version": 1,
            "t": i * 0.5,
            "ts": f"2026-01-01T00:{(i // 120) % 60:02d}:{(i % 120) // 2:02d}.{5 * (i % 2)}Z",
            "cpu_percent": round(rng.uniform(5, 90), 1),
            "memory_used_gb": round(rng.uniform(2, 8), 3),
            "engine_pid": 4242,
            "engine_rss_gb": round(1.5 + 0.001 * i, 3),
            "engine_cpu_percent": round(rng.uniform(50, 400), 1),
            "cpu_energy_j": 10.0 * i,
            "gpus": [
                {
                    "index": g,
                    "util_percent": round(rng.uniform(0, 100), 1),
                    "memory_used_gb": 6.0,
                    "power_w": round(rng.uniform(80, 300), 1),
                    "temperature_c": 60.0 + g,
                    "energy_j": 100.0 * i,
                }
                for g in range(gpus)
            ],
        }
        rows.append(sample_row(run_id, i, sample))
    return rows


def make_tables(
    n_runs: int, seed: int = 0, *, calls_per_batch: int = 5
) -> tuple[dict[str, list[Row]], dict[str, Any]]:
    """``n_runs`` runs over ``max(3, n_runs // 20)`` systems; returns (tables, catalogue).

    Includes ``history`` (built from the cells; the first system regresses in its second run
    and recovers in its third) and ``samples`` (GPU systems; the first run has many).
    """
    rng = random.Random(seed)
    n_systems = max(3, n_runs // 20)
    systems = []
    for i in range(n_systems):
        vendor, gpu, mem, speed = GPUS[i % len(GPUS)]
        sid = hashlib.sha256(f"system-{seed}-{i}".encode()).hexdigest()[:16]
        hw_class = f"1x {gpu} {int(mem)}GB" if gpu else f"cpu x86_64 {8 + 8 * (i % 3)}t 16-32GB"
        systems.append((sid, vendor, gpu, mem, speed, hw_class, i))
    tables: dict[str, list[Row]] = {
        k: []
        for k in (
            "runs",
            "cells",
            "calls",
            "system_hardware",
            "system_software",
            "gpu_hardware",
            "system_gpu_link",
            "run_hardware_metrics",
            "samples",
        )
    }
    gpu_ids: dict[str, str] = {}
    cat_runs: list[Row] = []
    for r in range(n_runs):
        sid, vendor, gpu, mem, speed, hw_class, si = systems[r % n_systems]
        day, sec = divmod(r * 3600, 86400)
        started = f"2026-{1 + (day // 28) % 12:02d}-{1 + day % 28:02d}T{sec // 3600:02d}:00:00Z"
        stamp = started.replace("-", "").replace(":", "")
        run_id = f"{stamp}-{hashlib.sha256(f'{seed}-{r}'.encode()).hexdigest()[:8]}"
        engines = rng.sample(ENGINES, k=1 + (r % 2))
        models = rng.sample(MODELS, k=1 + (r % 2))
        if r == 0:
            models = [MODELS[3], MODELS[0]]
        slow = 1.0
        if si == 0:
            # the first system always runs one configuration, so it has a history
            engines = engines if ENGINES[0] in engines else [ENGINES[0], *engines[:1]]
            models = models if MODELS[3] in models else [MODELS[3], *models[:1]]
            slow = SLOWDOWN if r // n_systems == 1 else 1.0
        host = XSS_HOST if si == 0 else f"host-{si}"
        calls_ok = 0
        calls_total = 0
        for engine, version in engines:
            for model, quant, mspeed in models:
                cell_id = f"{host}:{engine}:{model}"
                digest = hashlib.sha256(model.encode()).hexdigest()
                for wid, kind, max_tokens, conc in WORKLOADS:
                    wsha = hashlib.sha256(wid.encode()).hexdigest()
                    wkey = _key(
                        {
                            "workload_id": wid,
                            "workload_sha256": wsha,
                            "max_tokens": max_tokens,
                            "temperature": 0.0,
                            "concurrency": conc,
                        }
                    )
                    sig = _key({"workload_key": wkey, "engine": engine, "model_digest": digest})
                    base_tps = 40.0 * speed * mspeed * (1.3 if engine == "vllm" else 1.0) / slow
                    base_ttft = 80.0 / speed / mspeed * (1.5 if wid == "P-LONG" else 1.0) * slow
                    for phase in ("cold", "warm"):
                        n = 1 if phase == "cold" else calls_per_batch
                        ttfts = [
                            base_ttft * (4.0 if phase == "cold" else 1.0) * rng.uniform(0.8, 1.3)
                            for _ in range(n)
                        ]
                        tps = [base_tps * rng.uniform(0.9, 1.1) for _ in range(n)]
                        errors = 1 if rng.random() < 0.05 and n > 1 else 0
                        calls_total += n
                        calls_ok += n - errors
                        for i, (t, s) in enumerate(zip(ttfts, tps, strict=True)):
                            tables["calls"].append(
                                {
                                    "run_id": run_id,
                                    "system_id": sid,
                                    "cell_id": cell_id,
                                    "workload_id": wid,
                                    "workload_key": wkey,
                                    "signature": sig,
                                    "max_tokens": max_tokens,
                                    "phase": phase,
                                    "run_idx": i,
                                    "concurrency": conc,
                                    "started_at": started,
                                    "first_delta_ms": round(t, 3),
                                    "total_duration_ms": round(t + 1000 * max_tokens / s, 3),
                                    "tokens_per_sec": round(s, 3),
                                    "itl_p50_ms": round(1000 / s, 3),
                                    "completion_tokens": max_tokens,
                                    "error_kind": "timeout" if i < errors else None,
                                }
                            )
                        st = sorted(ttfts)
                        total = [t + 1000 * max_tokens / s for t, s in zip(ttfts, tps, strict=True)]
                        tables["cells"].append(
                            {
                                "run_id": run_id,
                                "system_id": sid,
                                "hardware_class": hw_class,
                                "cell_id": cell_id,
                                "engine": engine,
                                "engine_version": version,
                                "model": model,
                                "model_digest": digest,
                                "quantization": quant,
                                "access_level": "white",
                                "workload_id": wid,
                                "workload_kind": kind,
                                "workload_sha256": wsha,
                                "max_tokens": max_tokens,
                                "temperature": 0.0,
                                "concurrency": conc,
                                "workload_key": wkey,
                                "signature": sig,
                                "phase": phase,
                                "n": n,
                                "errors": errors,
                                "success_rate": (n - errors) / n,
                                "ttft_p50_ms": st[len(st) // 2],
                                "ttft_p95_ms": st[-1],
                                "ttft_mean_ms": sum(st) / n,
                                "total_p50_ms": sorted(total)[n // 2],
                                "total_p95_ms": max(total),
                                "tokens_per_sec_mean": sum(tps) / n,
                                "tokens_per_sec_p50": sorted(tps)[n // 2],
                                "completion_tokens_mean": float(max_tokens),
                                "itl_p50_ms": 1000 / (sum(tps) / n),
                                "aggregate_tokens_per_sec": sum(tps) * 0.8 if conc > 1 else None,
                                "rouge1_mean": 0.4 if kind == "task" else None,
                                "rouge2_mean": 0.2 if kind == "task" else None,
                                "rougeL_mean": rng.uniform(0.3, 0.4) if kind == "task" else None,
                                "joules_per_output_token": 0.5 / speed if gpu else None,
                                "started_at": started,
                            }
                        )
        tables["runs"].append(
            {
                "run_id": run_id,
                "started_at": started,
                "finished_at": started,
                "status": "complete",
                "completeness": "complete",
                "system_id": sid,
                "hardware_class": hw_class,
                "host_label": host,
                "publisher_id": f"pub-{si % 3}",
                "harness_version": "0.1.0",
                "git_sha": hashlib.sha1(run_id.encode()).hexdigest(),
                "synthetic": True,
                "license": "CC-BY-4.0",
                "calls_total": calls_total,
                "calls_ok": calls_ok,
                "cells_planned": len(engines) * len(models),
                "cells_skipped": 0,
            }
        )
        tables["system_software"].append(
            {
                "run_id": run_id,
                "system_id": sid,
                "os": "Debian GNU/Linux 13",
                "kernel_version": "6.12.0" if r < n_runs // 2 else "6.12.9",
                "python_version": "3.11.7",
                "gpu_driver_version": "570.1" if gpu else None,
                "cuda_version": "12.8" if gpu else None,
                "rocm_version": None,
                "runner_version": "0.1.0",
            }
        )
        if gpu:
            gid = hashlib.sha256(gpu.encode()).hexdigest()[:16]
            gpu_ids[gid] = gpu
            tables["system_gpu_link"].append(
                {"run_id": run_id, "system_id": sid, "slot": 0, "gpu_id": gid}
            )
        if gpu:
            n_samples = LONG_SAMPLES if r == 0 else 40
            tables["samples"] += make_samples(run_id, n_samples, 1 + (r % 2), rng)
        tables["run_hardware_metrics"].append(
            {
                "run_id": run_id,
                "system_id": sid,
                "cpu_percent_mean": round(rng.uniform(10, 90), 1),
                "memory_peak_gb": round(rng.uniform(2, 12), 2),
                "gpu_power_mean_w": 250.0 if gpu else None,
                "sample_count": 120,
            }
        )
        cat_runs.append(
            {
                "run_id": run_id,
                "started_at": started,
                "finished_at": started,
                "status": "complete",
                "completeness": "complete",
                "system_id": sid,
                "hardware_class": hw_class,
                "host_label": host,
                "publisher_id": f"pub-{si % 3}",
                "cells": sorted(f"{host}:{e}:{m}" for e, _ in engines for m, _, _ in models),
                "models": sorted(m for m, _, _ in models),
                "engines": sorted(e for e, _ in engines),
                "prompts": ["P-EASY", "P-LONG"],
                "tasks": ["summarization"],
                "calls_total": calls_total,
                "calls_ok": calls_ok,
                "content_sha256": hashlib.sha256(run_id.encode()).hexdigest(),
            }
        )
    for sid, _vendor, gpu, _mem, _speed, hw_class, si in systems:
        runs = [r for r in tables["runs"] if r["system_id"] == sid]
        if not runs:
            continue
        tables["system_hardware"].append(
            {
                "system_id": sid,
                "publisher_id": f"pub-{si % 3}",
                "cpu_model": XSS_CPU if si == 1 else "AMD Ryzen 9 7950X",
                "cpu_cores": 16,
                "cpu_threads": 32,
                "architecture": "x86_64",
                "ram_total_gb": 64.0,
                "board_model": None,
                "in_container": False,
                "container_memory_limit_gb": None,
                "container_cpu_quota": None,
                "usable_cpus": 32,
                "gpu_count": 1 if gpu else 0,
                "gpu_summary": f"1x {gpu}" if gpu else None,
                "hardware_class": hw_class,
                "snapshot_run_id": runs[-1]["run_id"],
                "first_run_at": runs[0]["started_at"],
                "last_run_at": runs[-1]["started_at"],
                "runs_count": len(runs),
                "hardware_changes": 0,
            }
        )
    for gid, name in sorted(gpu_ids.items()):
        mem = next(g[2] for g in GPUS if g[1] == name)
        tables["gpu_hardware"].append(
            {
                "gpu_id": gid,
                "vendor": "NVIDIA",
                "name": name,
                "memory_total_gb": mem,
                "interface_type": "pcie",
                "power_limit_w": 450.0,
            }
        )
    tables["history"] = build_history(tables["cells"])
    catalogue = {
        "schema_version": 1,
        "runs": sorted(cat_runs, key=lambda r: str(r["run_id"])),
        "systems": [
            {
                "system_id": h["system_id"],
                "hardware_class": h["hardware_class"],
                "cpu_model": h["cpu_model"],
                "gpus": [h["gpu_summary"]] if h["gpu_summary"] else [],
                "ram_total_gb": h["ram_total_gb"],
                "runs": [r["run_id"] for r in tables["runs"] if r["system_id"] == h["system_id"]],
            }
            for h in sorted(tables["system_hardware"], key=lambda h: str(h["system_id"]))
        ],
        "models": [],
        "engines": [],
    }
    return tables, catalogue


def test_make_tables_is_deterministic() -> None:
    assert make_tables(5, seed=1) == make_tables(5, seed=1)
    tables, catalogue = make_tables(5)
    assert len(tables["runs"]) == 5 == len(catalogue["runs"])
    assert any(row["model"] == XSS_MODEL for row in tables["cells"])
