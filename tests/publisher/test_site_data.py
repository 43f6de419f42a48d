"""A synthetic archive for site tests and the site benchmark, with hostile strings.

``make_site_input`` builds the per-run tables of ``publisher.frontend.tables`` directly as
Arrow tables (``tables.from_rows``, no run directories) and derives the archive from them with
the real archive stage (``publisher.archive.build.build_archive``: system_hardware, history,
catalogue), so the site can be tested and benchmarked at scale without compiling runs.
Deterministic per seed.

Besides many comparable runs it holds one smoke run (newest, much faster: it would top the
leaderboards if it ranked) and one empty run, both ``comparable = false``, and two systems of
the same hardware class.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from publisher.archive.build import SMALL, Archive, build_archive
from publisher.frontend import tables
from publisher.frontend.derive import short_hash, system_label

Row = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]

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
# Systems cycle through these: the first and the fourth share a hardware class.
GPUS = [
    ("NVIDIA", "NVIDIA GeForce RTX 4090", 24.0, 4.0),
    ("NVIDIA", "NVIDIA A100-SXM4-80GB", 80.0, 6.0),
    (None, None, None, 0.4),
]

# The second run of the first system is SLOWDOWN times slower on everything: its
# configurations regress there and recover in the third run.
SLOWDOWN = 3.0
LONG_SAMPLES = 1500  # telemetry samples of the first run (more than a run page draws)
SMOKE_REASON = "a smoke run (1 cell, 1 prompt, 1 call)"
EMPTY_REASON = "no call was measured"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _us(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000


@dataclass
class SiteInput:
    """A built archive plus the large per-run tables, as ``build_pages`` takes them."""

    archive: Archive
    large: dict[str, pa.Table]
    offsets: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    def reader(self, table: str, run_id: str) -> pa.Table:
        """One run's rows of ``calls`` or ``samples`` (what publish's reader returns)."""
        start, length = self.offsets[table].get(run_id, (0, 0))
        return self.large[table].slice(start, length)

    def rows(self, table: str) -> list[Row]:
        """A table's rows (timestamps as datetimes), for assertions."""
        if table in self.large:
            return self.large[table].to_pylist()  # type: ignore[no-any-return]
        return self.archive.tables[table].to_pylist()  # type: ignore[no-any-return]

    @property
    def run_ids(self) -> list[str]:
        """Every run id, sorted."""
        return sorted(self.archive.tables["runs"].column("run_id").to_pylist())

    def run(self, run_id: str) -> Row:
        """One run's row of ``runs``."""
        return next(r for r in self.rows("runs") if r["run_id"] == run_id)

    @property
    def smoke_run_id(self) -> str:
        """The run with mode smoke."""
        return next(r["run_id"] for r in self.rows("runs") if r["mode"] == "smoke")

    @property
    def empty_run_id(self) -> str:
        """The run with status empty."""
        return next(r["run_id"] for r in self.rows("runs") if r["status"] == "empty")


def _samples(run_id: str, n: int, gpus: int, rng: random.Random, start: datetime) -> list[Row]:
    rows = []
    for i in range(n):
        power = [round(rng.uniform(80, 300), 1) for _ in range(gpus)]
        util = [round(rng.uniform(0, 100), 1) for _ in range(gpus)]
        rows.append(
            {
                "run_id": run_id,
                "seq": i,
                "t": i * 0.5,
                "ts": _us(start) + i * 500_000,
                "cpu_percent": round(rng.uniform(5, 90), 1),
                "memory_used_gb": round(rng.uniform(2, 8), 3),
                "engine_pid": 4242,
                "engine_rss_gb": round(1.5 + 0.001 * i, 3),
                "engine_cpu_percent": round(rng.uniform(50, 400), 1),
                "cpu_energy_j": 10.0 * i,
                "gpu_count": gpus,
                "gpu_power_w": sum(power) if gpus else None,
                "gpu_temperature_c": 60.0 if gpus else None,
                "gpu_util_percent": sum(util) / gpus if gpus else None,
                "gpu_memory_used_gb": 6.0 * gpus if gpus else None,
                "gpu_energy_j": 100.0 * i if gpus else None,
            }
        )
    return rows


class _Builder:
    def __init__(self, seed: int, calls_per_batch: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.calls_per_batch = calls_per_batch
        self.rows: dict[str, list[Row]] = {name: [] for name in (*SMALL, *tables.LARGE)}
        self.offsets: dict[str, dict[str, tuple[int, int]]] = {t: {} for t in tables.LARGE}

    def system(self, i: int) -> dict[str, Any]:
        vendor, gpu, mem, speed = GPUS[i % len(GPUS)]
        sid = str(hashlib.sha256(f"system-{self.seed}-{i}".encode()).hexdigest()[:32])
        hw_class = f"1x {gpu} {int(mem)}GB" if gpu else "cpu x86_64 16t 16-32GB"
        host = XSS_HOST if i == 0 else f"host-{i}"
        return {
            "i": i,
            "sid": sid,
            "vendor": vendor,
            "gpu": gpu,
            "mem": mem,
            "speed": speed,
            "hw_class": hw_class,
            "host": host,
        }

    def run(
        self,
        r: int,
        system: dict[str, Any],
        started: datetime,
        engines: list[tuple[str, str]],
        models: list[tuple[str, str, float]],
        *,
        slow: float = 1.0,
        mode: str = "full",
        empty: bool = False,
        workloads: list[tuple[str, str, int, int]] = WORKLOADS,
    ) -> str:
        rng = self.rng
        sid, host, gpu = system["sid"], system["host"], system["gpu"]
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        run_id = f"{stamp}-{hashlib.sha256(f'{self.seed}-{r}'.encode()).hexdigest()[:8]}"
        label = system_label(host, sid)
        comparable = mode == "full" and not empty
        reason = None if comparable else (EMPTY_REASON if empty else SMOKE_REASON)
        calls_ok = calls_total = 0
        call_start = len(self.rows["calls"])
        cells_planned = []
        for engine, version in engines:
            for model, quant, mspeed in models:
                cell_id = f"{host}:{engine}:{model}"
                digest = hashlib.sha256(model.encode()).hexdigest()
                cell_total = cell_ok = 0
                for wid, kind, max_tokens, conc in [] if empty else workloads:
                    wsha = hashlib.sha256(wid.encode()).hexdigest()
                    wkey = short_hash(
                        {
                            "workload_id": wid,
                            "workload_sha256": wsha,
                            "max_tokens": max_tokens,
                            "temperature": 0.0,
                            "concurrency": conc,
                        }
                    )
                    sig = short_hash(
                        {"workload_key": wkey, "engine": engine, "model_digest": digest}
                    )
                    base_tps = (
                        40.0 * system["speed"] * mspeed * (1.3 if engine == "vllm" else 1.0) / slow
                    )
                    base_ttft = (
                        80.0 / system["speed"] / mspeed * (1.5 if wid == "P-LONG" else 1.0) * slow
                    )
                    for phase in ("cold", "warm"):
                        n = 1 if phase == "cold" else self.calls_per_batch
                        ttfts = [
                            base_ttft * (4.0 if phase == "cold" else 1.0) * rng.uniform(0.8, 1.3)
                            for _ in range(n)
                        ]
                        tps = [base_tps * rng.uniform(0.9, 1.1) for _ in range(n)]
                        # the first system's history must show its slowdown, not an error
                        fails = rng.random() < 0.05 and system["i"] != 0
                        errors = 1 if fails and n > 1 else 0
                        calls_total += n
                        calls_ok += n - errors
                        cell_total += n
                        cell_ok += n - errors
                        for i, (t, s) in enumerate(zip(ttfts, tps, strict=True)):
                            self.rows["calls"].append(
                                {
                                    "run_id": run_id,
                                    "system_id": sid,
                                    "cell_id": cell_id,
                                    "workload_id": wid,
                                    "workload_key": wkey,
                                    "signature": sig,
                                    "max_tokens": max_tokens,
                                    "prompt_id": wid if kind == "prompt" else None,
                                    "task_id": wid if kind == "task" else None,
                                    "phase": phase,
                                    "run_idx": i,
                                    "concurrency": conc,
                                    "started_at": _us(started),
                                    "first_delta_ms": round(t, 3),
                                    "total_duration_ms": round(t + 1000 * max_tokens / s, 3),
                                    "tokens_per_sec": round(s, 3),
                                    "itl_p50_ms": round(1000 / s, 3),
                                    "completion_tokens": max_tokens,
                                    "error": "timeout" if i < errors else None,
                                }
                            )
                        st = sorted(ttfts)
                        total = [t + 1000 * max_tokens / s for t, s in zip(ttfts, tps, strict=True)]
                        self.rows["cells"].append(
                            {
                                "run_id": run_id,
                                "system_id": sid,
                                "system_label": label,
                                "hardware_class": system["hw_class"],
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
                                "comparable": comparable,
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
                                "joules_per_output_token": 0.5 / system["speed"] if gpu else None,
                                "started_at": _us(started),
                            }
                        )
                cells_planned.append(
                    {
                        "run_id": run_id,
                        "cell_id": cell_id,
                        "engine": engine,
                        "api": "chat",
                        "engine_version": version,
                        "engine_build": None,
                        "access_level": "white",
                        "endpoint_kind": "loopback",
                        "model": model,
                        "model_digest": digest,
                        "quantization": quant,
                        "available": not empty,
                        "skip_reason": "health check failed" if empty else None,
                        "calls_total": cell_total,
                        "calls_ok": cell_ok,
                    }
                )
        self.rows["run_cells"] += cells_planned
        self.offsets["calls"][run_id] = (call_start, len(self.rows["calls"]) - call_start)
        self.rows["runs"].append(
            {
                "run_id": run_id,
                "run_uuid": str(hashlib.sha256(f"uuid-{run_id}".encode()).hexdigest()[:32]),
                "started_at": _us(started),
                "finished_at": _us(started + timedelta(minutes=5)),
                "status": "empty" if empty else "complete",
                "completeness": "empty" if empty else "complete",
                "mode": mode,
                "comparable": comparable,
                "comparable_reason": reason,
                "system_id": sid,
                "system_label": label,
                "hardware_class": system["hw_class"],
                "host_label": host,
                "publisher_id": f"pub-{system['i'] % 3}",
                "harness_version": "0.2.0",
                "git_sha": hashlib.sha1(run_id.encode()).hexdigest(),
                "synthetic": True,
                "license": "CC-BY-4.0",
                "calls_total": calls_total,
                "calls_ok": calls_ok,
                "cells_planned": len(cells_planned),
                "cells_skipped": len(cells_planned) if empty else 0,
                "load_avg_start": [0.1, 0.2, 0.3],
                "content_sha256": hashlib.sha256(run_id.encode()).hexdigest(),
            }
        )
        self.rows["system_software"].append(
            {
                "run_id": run_id,
                "system_id": sid,
                "os": "Debian GNU/Linux 13",
                "kernel_version": "6.12.0" if r % 2 else "6.12.9",
                "python_version": "3.11.7",
                "gpu_driver_version": "570.1" if gpu else None,
                "cuda_version": "12.8" if gpu else None,
                "rocm_version": None,
                "runner_version": "0.2.0",
            }
        )
        gpu_ids = []
        if gpu:
            spec = {
                "vendor": system["vendor"],
                "name": gpu,
                "memory_total_gb": system["mem"],
                "unified_memory": False,
                "interface_type": "pcie",
                "pcie_gen_max": 4,
                "pcie_width_max": 16,
                "power_limit_w": 450.0,
                "power_limit_default_w": 450.0,
                "compute_capability": "8.9",
                "architecture": "Ada Lovelace",
                "tensor_core_generation": 4,
                "cores": None,
            }
            gid = short_hash(spec)
            gpu_ids.append(gid)
            self.rows["system_gpu_link"].append(
                {"run_id": run_id, "system_id": sid, "slot": 0, "gpu_id": gid}
            )
            self.rows["run_gpus"].append({"run_id": run_id, "slot": 0, "gpu_id": gid, **spec})
        sample_start = len(self.rows["samples"])
        if gpu and not empty:
            n_samples = LONG_SAMPLES if r == 0 else 40
            self.rows["samples"] += _samples(run_id, n_samples, 1 + (r % 2), rng, started)
        self.offsets["samples"][run_id] = (sample_start, len(self.rows["samples"]) - sample_start)
        self.rows["run_hardware_metrics"].append(
            {
                "run_id": run_id,
                "system_id": sid,
                "cpu_percent_mean": round(rng.uniform(10, 90), 1),
                "gpu_power_w_mean": 250.0 if gpu else None,
                "sample_count": 120,
            }
        )
        self.rows["system_snapshots"].append(
            {
                "run_id": run_id,
                "started_at": _us(started),
                "host_label": host,
                "system_id": sid,
                "publisher_id": f"pub-{system['i'] % 3}",
                "cpu_model": XSS_CPU if system["i"] == 1 else "AMD Ryzen 9 7950X",
                "cpu_cores": 16,
                "cpu_threads": 32,
                "architecture": "x86_64",
                "ram_total_gb": 64.0,
                "board_model": None,
                "in_container": False,
                "usable_cpus": 32,
                "gpu_count": 1 if gpu else 0,
                "gpu_summary": gpu,
                "hardware_class": system["hw_class"],
                "gpu_ids": ",".join(gpu_ids),
            }
        )
        for wid, kind, max_tokens, _ in workloads:
            if not any(
                w["run_id"] == run_id and w["workload_id"] == wid
                for w in self.rows["run_workloads"][-len(workloads) :]
            ):
                self.rows["run_workloads"].append(
                    {
                        "run_id": run_id,
                        "workload_id": wid,
                        "kind": kind,
                        "sha256": hashlib.sha256(wid.encode()).hexdigest(),
                        "max_tokens": max_tokens,
                    }
                )
        return run_id


def make_site_input(
    n_runs: int, seed: int = 0, *, calls_per_batch: int = 5, not_comparable: bool = True
) -> SiteInput:
    """``n_runs`` comparable runs over ``max(4, n_runs // 20)`` systems (the first and fourth
    of the same hardware class), plus (``not_comparable``) a smoke run and an empty run on
    the first system, newer than every other run."""
    b = _Builder(seed, calls_per_batch)
    rng = b.rng
    n_systems = max(4, n_runs // 20)
    systems = [b.system(i) for i in range(n_systems)]
    last = EPOCH
    for r in range(n_runs):
        system = systems[r % n_systems]
        started = EPOCH + timedelta(hours=r)
        last = started
        engines = rng.sample(ENGINES, k=1 + (r % 2))
        models = rng.sample(MODELS, k=1 + (r % 2))
        if r == 0:
            models = [MODELS[3], MODELS[0]]
        slow = 1.0
        if system["i"] == 0:
            # the first system always runs one configuration, so it has a history
            engines = engines if ENGINES[0] in engines else [ENGINES[0], *engines[:1]]
            models = models if MODELS[3] in models else [MODELS[3], *models[:1]]
            slow = SLOWDOWN if r // n_systems == 1 else 1.0
        b.run(r, system, started, engines, models, slow=slow)
    if not_comparable:
        # Newest of all, on a configuration the first system ranks with, and 10× faster: if it
        # ranked it would replace that system's entries and add change points.
        b.run(
            n_runs,
            systems[0],
            last + timedelta(hours=1),
            [ENGINES[0]],
            [MODELS[3]],
            slow=0.1,
            mode="smoke",
            workloads=WORKLOADS[:1],
        )
        b.run(
            n_runs + 1, systems[0], last + timedelta(hours=2), [ENGINES[0]], [MODELS[3]], empty=True
        )
    small = {name: tables.from_rows(name, b.rows[name]) for name in SMALL}
    archive, duplicates = build_archive(small)
    assert not duplicates
    large = {name: tables.from_rows(name, b.rows[name]) for name in tables.LARGE}
    return SiteInput(archive, large, b.offsets)


def test_make_site_input_is_deterministic() -> None:
    a, b = make_site_input(5, seed=1), make_site_input(5, seed=1)
    for name, table in a.archive.tables.items():
        assert table.equals(b.archive.tables[name]), name
    assert a.archive.catalogue == b.archive.catalogue
    site = make_site_input(5)
    assert len(site.run_ids) == 7 == len(site.archive.catalogue["runs"])
    assert any(row["model"] == XSS_MODEL for row in site.rows("cells"))
    assert {r["comparable"] for r in site.rows("runs")} == {True, False}
    # the first and fourth systems share a hardware class, not a label
    hw = site.rows("system_hardware")
    classes = [h["hardware_class"] for h in hw]
    assert len(set(classes)) < len(classes)
    assert len({h["system_label"] for h in hw}) == len(hw)
    # each run's calls and samples are its own
    first = site.run_ids[0]
    assert set(site.reader("calls", first).column("run_id").to_pylist()) == {first}
    assert site.reader("samples", first).num_rows == LONG_SAMPLES


def copy_site_project(dest: Path) -> Path:
    """Copy site/ (config, hand-written pages, overrides, vendored libraries) without
    generated or built files."""
    src = REPO / "site"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copy(src / "vendor.json", dest / "vendor.json")
    shutil.copytree(src / "overrides", dest / "overrides")
    shutil.copytree(src / "docs", dest / "docs", ignore=shutil.ignore_patterns("generated"))
    return dest


def read_data(path: Path) -> Any:
    """The payload of a site data file (``__bakeoffData("<key>", <JSON>);``)."""
    text = path.read_text(encoding="utf-8")
    prefix, rest = text.split(",", 1)
    assert prefix.startswith("__bakeoffData(") and rest.endswith(");\n"), path
    return json.loads(rest[: -len(");\n")])
