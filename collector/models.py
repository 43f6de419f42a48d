"""The run-directory contract as pydantic models.

These models are the single source of the JSON Schema files in ``schemas/``
(``python -m bakeoff.schemagen`` writes them; a test fails when the checked-in copy is stale).
Every field carries a description, because the schema files are documentation too.
Measured numbers are defined in the methodology page (site/docs/methodology.md).
"""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from bakeoff.timefmt import PATTERN as TIMESTAMP_PATTERN

SCHEMA_VERSION = 1
"""Version of every file this module describes. Bump it and add a migration step on change."""

RUN_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"

LENGTH_PATTERN = r"^[1-9][0-9]{0,6}/[1-9][0-9]{0,6}$"
DEFAULT_LENGTHS = ("512/64",)
"""The length workload of a default run: it fits the embedded model's context quickly."""

RunId = Annotated[
    str,
    Field(
        pattern=RUN_ID_PATTERN,
        description="UTC start time and 8 hex chars of a uuid4, e.g. 20261123T145501Z-3f9c2a1b.",
    ),
]
Timestamp = Annotated[
    str, Field(pattern=TIMESTAMP_PATTERN, description="UTC timestamp, ISO 8601 with a Z suffix.")
]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="Lower-case hex SHA-256.")]
NonNegFloat = Annotated[float, Field(ge=0)]


class Strict(BaseModel):
    """Base for every persisted model: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=True)


# --------------------------------------------------------------------------- enums


class Phase(StrEnum):
    """Whether a call measured a cold (model not resident) or warm engine."""

    COLD = "cold"
    WARM = "warm"


class ColdKind(StrEnum):
    """How the cold state of a cold call was obtained."""

    UNLOADED = "unloaded"
    PROCESS_RESTART = "process_restart"
    PROCESS_WARM = "process_warm"


class TokenCountSource(StrEnum):
    """Where ``completion_tokens`` came from."""

    SERVER_USAGE = "server_usage"
    SERVER_TIMINGS = "server_timings"
    SERVER_TOKENIZE = "server_tokenize"
    CLIENT_ESTIMATE = "client_estimate"
    NONE = "none"
    # Imported runs: the tool counted the tokens and its file does not say how (server usage
    # or its own tokenizer).
    TOOL_REPORTED = "tool_reported"


class ErrorKind(StrEnum):
    """Fixed set of failure classes for a call (bad_usage: an unrecordable usage number)."""

    CONNECT = "connect"
    TIMEOUT = "timeout"
    HTTP = "http"
    PROTOCOL = "protocol"
    ENGINE_DIED = "engine_died"
    CANCELLED = "cancelled"
    EMPTY = "empty"
    BAD_USAGE = "bad_usage"
    OTHER = "other"


class AccessLevel(StrEnum):
    """How much of the engine the collector controls: white (it starts the engine), gray (the
    engine reports its own timings), black (only the HTTP stream) or imported (another tool
    measured it; bakeoff read its result file)."""

    WHITE = "white"
    GRAY = "gray"
    BLACK = "black"
    IMPORTED = "imported"


class EndpointKind(StrEnum):
    """Where the engine endpoint lives; never the raw address."""

    LOOPBACK = "loopback"
    PRIVATE = "private"
    PUBLIC = "public"
    # Imported runs whose file does not record where the engine ran.
    UNKNOWN = "unknown"


class RunStatus(StrEnum):
    """How a run ended: complete, partial (cut short), aborted, empty (no call measured)."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    ABORTED = "aborted"
    EMPTY = "empty"


class InterfaceType(StrEnum):
    """How one GPU attaches to the host and its memory (see seeds/interface_types.json)."""

    PCIE = "pcie"
    PCIE_EXTERNAL = "pcie_external"
    PCIE_NVLINK_BRIDGE = "pcie_nvlink_bridge"
    SXM = "sxm"
    OAM = "oam"
    NVLINK_C2C = "nvlink_c2c"
    SOC_UNIFIED = "soc_unified"
    VIRTUALIZED = "virtualized"
    OTHER = "other"
    UNKNOWN = "unknown"


class EngineKind(StrEnum):
    """Engine adapter names."""

    OPENAI = "openai"
    LLAMACPP = "llamacpp"
    OLLAMA = "ollama"


class EndpointApi(StrEnum):
    """Which request API a cell uses."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    # Imported runs of a tool that called the engine as a library (llama-bench), no HTTP API.
    IN_PROCESS = "in_process"


class GpuVendor(StrEnum):
    """GPU vendor."""

    NVIDIA = "nvidia"
    AMD = "amd"
    APPLE = "apple"
    INTEL = "intel"
    OTHER = "other"


class BenchTarget(StrEnum):
    """What a microbenchmark measured: the host (CPU and RAM) or one GPU."""

    HOST = "host"
    GPU = "gpu"


class BenchKernel(StrEnum):
    """Which microbenchmark kernel produced a result (methodology page, "Hardware")."""

    COPY = "copy"
    TRIAD = "triad"
    MATMUL = "matmul"
    HOST_TO_DEVICE = "host_to_device"
    DEVICE_TO_HOST = "device_to_host"


class BenchScope(StrEnum):
    """How much of the hardware a kernel ran on."""

    ONE_CORE = "one_core"
    ALL_CORES = "all_cores"
    DEVICE = "device"


class BenchPrecision(StrEnum):
    """Element type of a matrix-multiply benchmark."""

    FP64 = "fp64"
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"


class ModelSizeSource(StrEnum):
    """Where a cell's model size and parameter count came from."""

    GGUF_FILE = "gguf_file"
    LLAMA_SERVER = "llama_server"
    OLLAMA = "ollama"
    LLAMA_BENCH = "llama_bench"


# --------------------------------------------------------------------------- hardware


class ProbeIssue(Strict):
    """Something the probe could not find, and why."""

    probe: str = Field(description="Which probe step, e.g. 'gpu.nvml' or 'cpu.model'.")
    reason: str = Field(min_length=1, description="Why the value is missing; never empty.")


class ContainerLimits(Strict):
    """cgroup limits when the collector runs inside a container."""

    in_container: bool | None = Field(
        description=(
            "True when a container marker or cgroup limit is seen; null only in an imported run "
            "whose file does not say (source.hardware_missing lists it)."
        )
    )
    memory_limit_gb: float | None = Field(
        default=None, description="cgroup memory limit in GiB; null when unlimited or unknown."
    )
    cpu_quota: float | None = Field(
        default=None, description="cgroup CPU quota in CPUs (quota / period); null if unlimited."
    )
    usable_cpus: int | None = Field(
        default=None, description="CPUs in this process's affinity mask."
    )


class SystemHardware(Strict):
    """The host's hardware identity; one row per system_id after publishing."""

    system_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        description="Random uuid4 created once per host in $XDG_CONFIG_HOME/bakeoff/system_id.",
    )
    publisher_id: str | None = Field(
        default=None, description="Who publishes this system's runs (config file or flag)."
    )
    cpu_model: str | None = Field(description="CPU marketing name; null with a probe issue.")
    cpu_cores: int | None = Field(ge=1, description="Physical CPU cores.")
    cpu_threads: int | None = Field(ge=1, description="Logical CPUs (hardware threads).")
    architecture: str | None = Field(
        description=(
            "Machine architecture, e.g. x86_64, aarch64, arm64; null only in an imported run "
            "whose file does not say (source.hardware_missing lists it)."
        )
    )
    ram_total_gb: float | None = Field(ge=0, description="Host RAM in GiB (psutil total).")
    board_model: str | None = Field(
        default=None, description="Board or machine model when known (devicetree, hw.model)."
    )
    container: ContainerLimits = Field(description="Container limits, when inside one.")


class SystemSoftware(Strict):
    """The host's software snapshot; one row per run, never deduplicated."""

    os: str | None = Field(description="OS pretty name, e.g. 'Debian GNU/Linux 12 (bookworm)'.")
    kernel_version: str | None = Field(description="Kernel release (host kernel in containers).")
    python_version: str = Field(description="Python version running the collector.")
    gpu_driver_version: str | None = Field(default=None, description="GPU driver version.")
    cuda_version: str | None = Field(
        default=None, description="Driver's maximum CUDA version (major.minor), not the toolkit."
    )
    rocm_version: str | None = Field(default=None, description="ROCm version.")
    runner_version: str = Field(
        description=("bakeoff version, plus '+' and harness.git_describe when run from a checkout.")
    )


class Gpu(Strict):
    """One GPU slot."""

    slot: int = Field(ge=0, description="Index in the order the detecting tool enumerates.")
    vendor: GpuVendor = Field(description="Who made the GPU.")
    name: str = Field(description="GPU product name as the vendor tool reports it.")
    memory_total_gb: float | None = Field(
        default=None, ge=0, description="Dedicated memory in GiB; system RAM when unified."
    )
    unified_memory: bool = Field(default=False, description="True when the GPU shares host RAM.")
    interface_type: InterfaceType = Field(description="How the GPU attaches to the host.")
    pcie_gen_max: int | None = Field(default=None, description="Maximum PCIe link generation.")
    pcie_width_max: int | None = Field(default=None, description="Maximum PCIe link width.")
    power_limit_w: float | None = Field(default=None, description="Enforced power limit, watts.")
    power_limit_default_w: float | None = Field(
        default=None, description="Default power limit, watts."
    )
    compute_capability: str | None = Field(
        default=None, description="NVIDIA compute capability 'major.minor'."
    )
    architecture: str | None = Field(
        default=None, description="GPU architecture name (Ampere, Hopper, gfx942, …)."
    )
    tensor_core_generation: int | None = Field(
        default=None, description="NVIDIA tensor-core generation implied by the architecture."
    )
    cores: int | None = Field(default=None, description="GPU cores, SMs or compute units.")
    source: str = Field(description="Which detector produced this row (nvml, nvidia-smi, …).")


class BenchmarkResult(Strict):
    """One microbenchmark on one piece of hardware: rates over timed repetitions, or why not.

    Rates are per repetition (after one untimed warm-up); a repetition may run the kernel
    several times back to back so that it lasts long enough to time. Definitions of every
    kernel and of how bytes and FLOPs are counted are on the methodology page ("Hardware
    microbenchmarks").
    """

    target: BenchTarget = Field(description="host (CPU and RAM) or gpu.")
    gpu_slot: int | None = Field(
        default=None,
        description=(
            "GPU results: slot of the matching row of hardware.gpus (matched by name when the "
            "name is unique); null for host results or when no unique match exists."
        ),
    )
    device_name: str | None = Field(
        default=None, description="GPU results: device name as torch reports it."
    )
    kernel: BenchKernel = Field(
        description=(
            "copy (a[i] = b[i]) or triad (a[i] = b[i] + s·c[i]) in STREAM's sense; matmul "
            "(C = A·B, square); host_to_device or device_to_host (one pinned-buffer copy)."
        )
    )
    scope: BenchScope = Field(
        description=(
            "one_core: one thread; all_cores: one worker thread per usable CPU (memory kernels) "
            "or the BLAS library's own threads (matmul); device: a whole GPU."
        )
    )
    precision: BenchPrecision | None = Field(
        default=None, description="Element type of matmul results; null for memory kernels."
    )
    unit: Literal["GB/s", "GFLOP/s"] = Field(
        description=(
            "GB/s = 1e9 bytes/s, bytes counted as STREAM does (copy 2 and triad 3 array "
            "accesses per element, no write-allocate traffic; host↔device copies 1); GFLOP/s = "
            "1e9 FLOP/s with 2·n³ FLOP per n×n matrix product."
        )
    )
    median: float | None = Field(
        description="Median rate over the timed repetitions; null when not measured (reason)."
    )
    min: float | None = Field(description="Slowest repetition's rate; null when not measured.")
    max: float | None = Field(
        description="Fastest repetition's rate (STREAM's 'best rate'); null when not measured."
    )
    repetitions: int = Field(ge=0, description="Timed repetitions (warm-up excluded).")
    workers: int | None = Field(
        default=None,
        description=(
            "Threads the collector ran the kernel on (memory kernels); null when a library "
            "chooses (BLAS threads, GPU)."
        ),
    )
    size_bytes: int | None = Field(
        default=None,
        ge=0,
        description="Bytes of each array (memory kernels) or of the copied buffer (GPU copies).",
    )
    matrix_n: int | None = Field(
        default=None, ge=1, description="Matrix order n of matmul results (n×n times n×n)."
    )
    method: str = Field(description="How it was measured: library, call, threads, sizes.")
    reason: str | None = Field(
        default=None, description="Why the result is null; null when it was measured."
    )


class Benchmarks(Strict):
    """Results of ``--bench``: short hardware microbenchmarks taken before any engine starts."""

    started_at: Timestamp = Field(description="When the microbenchmarks started (UTC).")
    wall_time_s: float = Field(ge=0, description="Wall time of all microbenchmarks, seconds.")
    load_avg_start: list[float] | None = Field(
        min_length=3,
        max_length=3,
        description="1/5/15-minute load average when they started (a busy host measures less).",
    )
    memory_bandwidth_gbs: float | None = Field(
        description=(
            "Host memory bandwidth in GB/s (1e9 bytes/s, bytes counted as STREAM does): the "
            "best repetition of any host copy or triad result (the rate the host was seen to "
            "sustain, the ceiling of a memory-bound roofline); null when none was measured."
        )
    )
    memory_bandwidth_one_core_gbs: float | None = Field(
        description="The same over the one-core host results only; null when not measured."
    )
    last_level_cache_bytes: int | None = Field(
        description=(
            "Sum of the host's last-level caches (every distinct instance), which the memory "
            "arrays are sized against (at least 4×); null when unknown."
        )
    )
    libraries: dict[str, str] = Field(
        default_factory=dict,
        description="Versions of the libraries that ran the kernels (numpy, BLAS, torch).",
    )
    results: list[BenchmarkResult] = Field(description="Every microbenchmark, measured or not.")


class Hardware(Strict):
    """The hardware and software block of one host, taken fresh for each run."""

    schema_version: Literal[1] = Field(default=1, description="Version of this block's format.")
    system_hardware: SystemHardware = Field(description="Hardware identity.")
    system_software: SystemSoftware = Field(description="Software snapshot.")
    gpus: list[Gpu] = Field(description="Every GPU found; empty on CPU-only hosts.")
    probe_issues: list[ProbeIssue] = Field(description="What could not be detected, and why.")
    benchmarks: Benchmarks | None = Field(
        default=None,
        description="Microbenchmark results (--bench); null when they were not asked for.",
    )


# --------------------------------------------------------------------------- telemetry


class UnavailableMetric(Strict):
    """A telemetry field that could not be measured, and why."""

    field: str = Field(description="Name of the null field.")
    reason: str = Field(min_length=1, description="Why it is null.")


class CellEnergy(Strict):
    """Energy of the measured devices while one cell's calls ran."""

    cell_id: str = Field(description="Cell id.")
    output_tokens: int = Field(ge=0, description="Completion tokens of the cell's calls.")
    energy_j: float | None = Field(
        description=(
            "Whole-device energy during the cell's calls, joules: the CPU package(s) (RAPL, "
            "without DRAM) plus every GPU (NVML), including idle power and any other work on "
            "those devices — not the engine's share, and not wall-socket energy."
        )
    )
    joules_per_output_token: float | None = Field(
        description="energy_j / output_tokens: whole-device energy per output token, joules."
    )


class RunHardwareMetrics(Strict):
    """Telemetry summaries for the run; null fields where not measurable."""

    system_id: str | None = Field(
        default=None, description="The hardware snapshot active during the run."
    )
    sample_interval_s: float | None = Field(default=None, description="Sampler interval, s.")
    sample_count: int = Field(default=0, ge=0, description="Samples taken.")
    cpu_percent_mean: float | None = Field(default=None, description="System CPU %, mean.")
    cpu_percent_max: float | None = Field(default=None, description="System CPU %, max.")
    memory_used_gb_max: float | None = Field(default=None, description="System memory used peak.")
    engine_rss_gb_max: float | None = Field(
        default=None, description="Managed engine process RSS peak, GiB."
    )
    engine_cpu_percent_mean: float | None = Field(
        default=None, description="Managed engine process CPU %, mean (100 = one core)."
    )
    gpu_util_percent_mean: float | None = Field(default=None, description="GPU util %, mean.")
    gpu_util_percent_max: float | None = Field(default=None, description="GPU util %, max.")
    gpu_memory_used_gb_max: float | None = Field(default=None, description="GPU memory peak.")
    gpu_power_w_mean: float | None = Field(default=None, description="GPU power, mean, watts.")
    gpu_power_w_max: float | None = Field(default=None, description="GPU power, max, watts.")
    gpu_temperature_c_max: float | None = Field(default=None, description="GPU temperature max.")
    cpu_energy_j: float | None = Field(
        default=None, description="Whole CPU package energy (RAPL, all packages, no DRAM), J."
    )
    gpu_energy_j: float | None = Field(
        default=None, description="Whole-GPU energy (NVML), all GPUs, J."
    )
    energy_j: float | None = Field(
        default=None, description="cpu_energy_j + gpu_energy_j: whole-device energy, J."
    )
    cells: list[CellEnergy] = Field(
        default_factory=list, description="Whole-device energy over each cell's calls."
    )
    unavailable: list[UnavailableMetric] = Field(
        default_factory=list, description="Null fields with the reason."
    )


class GpuSample(Strict):
    """One GPU's live readings in a telemetry sample (NVML); null where NVML refused a field."""

    index: int = Field(ge=0, description="NVML device index.")
    util_percent: float | None = Field(description="GPU utilisation, %.")
    memory_used_gb: float | None = Field(description="GPU memory used, GiB.")
    power_w: float | None = Field(description="Power draw, watts.")
    temperature_c: float | None = Field(description="GPU temperature, °C.")
    energy_j: float | None = Field(
        description="NVML total-energy counter minus its value at sampler start, joules."
    )


class Sample(Strict):
    """One line of ``samples.jsonl``: live hardware telemetry at one instant."""

    schema_version: Literal[1] = Field(default=1, description="Format version of this line.")
    t: float = Field(ge=0, description="Seconds since the sampler started (perf_counter).")
    ts: Timestamp = Field(description="UTC wall-clock time of the sample.")
    cpu_percent: float | None = Field(
        description="System CPU busy % since the previous sample (all CPUs; 100 = all busy)."
    )
    memory_used_gb: float | None = Field(description="System memory used (total − available).")
    engine_pid: int | None = Field(description="Engine process sampled; null when none.")
    engine_rss_gb: float | None = Field(description="Engine process resident set size, GiB.")
    engine_cpu_percent: float | None = Field(
        description="Engine process CPU % since the previous sample (100 = one core)."
    )
    cpu_energy_j: float | None = Field(
        description="RAPL package energy since sampler start (wrap-corrected, all packages), J."
    )
    gpus: list[GpuSample] = Field(default_factory=list, description="One entry per GPU.")


# --------------------------------------------------------------------------- metadata


class Harness(Strict):
    """Which collector produced the run."""

    name: Literal["bakeoff"] = Field(default="bakeoff", description="Harness name.")
    version: str = Field(description="bakeoff version.")
    git_sha: str | None = Field(description="Commit of the checkout, null for an installed wheel.")
    git_describe: str | None = Field(
        default=None,
        description=(
            "git describe --always, plus '-dirty' exactly when git_dirty is true; null for an "
            "installed wheel."
        ),
    )
    git_dirty: bool | None = Field(
        description=(
            "True when the checkout had changed or untracked files other than runs/ and "
            "catalogue.json (listed in dirty_files)."
        )
    )
    dirty_files: list[str] = Field(
        default_factory=list, description="Paths inside the repository that were dirty."
    )


class Environment(Strict):
    """The host's state around the run."""

    load_avg_start: list[float] | None = Field(
        min_length=3, max_length=3, description="1/5/15-minute load average at start."
    )
    load_avg_end: list[float] | None = Field(
        default=None, min_length=3, max_length=3, description="Load average at the end."
    )
    knobs: dict[str, str] = Field(
        default_factory=dict,
        description="Allow-listed environment variables that change results (OMP_NUM_THREADS…).",
    )


class PromptRef(Strict):
    """A frozen prompt used in the run."""

    id: str = Field(description="Prompt id, e.g. P-EASY.")
    sha256: Sha256 = Field(description="SHA-256 of the prompt text (UTF-8).")
    max_tokens: int = Field(ge=1, description="Output token bound.")


class TaskRef(Strict):
    """A quality task used in the run."""

    id: str = Field(description="Task id, e.g. summarization.")
    template_id: str = Field(description="Frozen prompt template id.")
    template_sha256: Sha256 = Field(description="SHA-256 of the template text.")
    dataset: str = Field(description="Dataset name (file name, never a local path).")
    dataset_sha256: Sha256 = Field(description="SHA-256 of the dataset file bytes.")
    items: list[str] = Field(description="Dataset item ids used.")
    max_tokens: int = Field(ge=1, description="Output token bound.")


class Timeouts(Strict):
    """Per-request timeouts, seconds."""

    connect_s: float = Field(default=5.0, gt=0, description="Connection set-up timeout.")
    read_s: float = Field(default=120.0, gt=0, description="Max gap between received bytes.")
    total_s: float = Field(default=600.0, gt=0, description="Whole-request deadline.")
    health_s: float = Field(default=1.0, gt=0, description="Health-check timeout.")


class Slo(Strict):
    """Service-level objectives a call must meet to count towards goodput (methodology page)."""

    ttft_ms: float | None = Field(
        default=None, gt=0, description="Largest time to first token a good call may have, ms."
    )
    tpot_ms: float | None = Field(
        default=None, gt=0, description="Largest time per output token a good call may have, ms."
    )

    @model_validator(mode="after")
    def _some_objective(self) -> Slo:
        if self.ttft_ms is None and self.tpot_ms is None:
            raise ValueError("an slo needs ttft_ms, tpot_ms or both")
        return self


class LengthRef(Strict):
    """A length workload of the run: prompts of exactly input_tokens, outputs of output_tokens."""

    id: str = Field(
        pattern=r"^L-[0-9]+-[0-9]+$",
        description="L-<input_tokens>-<output_tokens>, e.g. L-512-64; the calls' prompt_id.",
    )
    input_tokens: int = Field(ge=1, description="Prompt tokens each call's prompt is built to.")
    output_tokens: int = Field(ge=1, description="Completion tokens each call asks for.")
    text_id: str = Field(description="Id of the frozen text the prompts are cut from.")
    text_sha256: Sha256 = Field(description="SHA-256 of that text (UTF-8).")


class RunConfig(Strict):
    """What the run was asked to do."""

    runs_per_cell: int = Field(
        ge=0, le=100, description="Warm calls per (cell, prompt); 0 in a smoke run (one cold call)."
    )
    cold: bool = Field(
        description="Whether a cold call precedes the warm ones (always true in a smoke run)."
    )
    prompts: list[PromptRef] = Field(description="Frozen prompts, with text hashes.")
    tasks: list[TaskRef] = Field(default_factory=list, description="Quality tasks.")
    temperature: float | None = Field(
        ge=0,
        description="Sampling temperature sent to the engine; null only in an imported run whose "
        "file does not record it.",
    )
    seed: int | None = Field(description="Sampling seed sent to the engine.")
    timeouts: Timeouts = Field(description="Request timeouts.")
    concurrency: list[int] = Field(
        description="Concurrency levels; 1 is the sequential cold/warm protocol."
    )
    lengths: list[LengthRef] = Field(
        default_factory=list,
        description="Length workloads: prompts of an exact token count, outputs of an exact one.",
    )
    rates: list[float] = Field(
        default_factory=list,
        description="Open-loop levels from the cells file: requests per second, Poisson arrivals.",
    )
    rate_requests: int | None = Field(
        default=None, ge=1, description="Requests sent at each open-loop level; null without one."
    )
    arrival_seed: int | None = Field(
        default=None, description="Seed of the Poisson arrival schedule; null without levels."
    )
    sweep: bool = Field(
        default=False,
        description=(
            "True when open-loop levels were also found by a sweep: the synchronous and the "
            "saturated rate first, then sweep_levels rates spaced evenly between them."
        ),
    )
    sweep_levels: int | None = Field(
        default=None, ge=1, description="Rates a sweep spaces between its two ends; null without."
    )
    slo: Slo | None = Field(
        default=None, description="Latency objectives goodput counts against; null when none."
    )
    mode: Literal["full", "smoke", "probe_only"] = Field(description="Workflow mode.")
    guard_overrides: list[str] = Field(
        default_factory=list, description="Guards overridden (allow_dirty, force_load)."
    )
    for_publication: bool = Field(default=False, description="--for-publication was given.")
    imported_workloads: list[ImportedWorkload] = Field(
        default_factory=list,
        description="Imported runs: the workloads the other tool measured; empty otherwise.",
    )


class CostInputs(Strict):
    """Prices the contributor states for cost per token; the collector never invents one.

    Either a hardware price with its amortisation period (owned hardware) or an hourly rate
    (rented hardware), optionally an electricity price; always the currency, where the prices
    come from and the date they were valid. The collector checks these pairings; the schema
    states them in the field descriptions only (the publisher's decoder takes no ``if``).
    """

    currency: str = Field(
        pattern=r"^[A-Z]{3}$", description="ISO 4217 code of every price here, e.g. EUR, USD."
    )
    hardware_price: float | None = Field(
        default=None,
        gt=0,
        description="Purchase price of the whole host (with its GPUs); needs amortization_years.",
    )
    amortization_years: float | None = Field(
        default=None,
        gt=0,
        description="Years over which the contributor writes off hardware_price.",
    )
    hourly_rate: float | None = Field(
        default=None,
        gt=0,
        description="Price per hour of renting this host (cloud or rental); not with a price.",
    )
    electricity_price_per_kwh: float | None = Field(
        default=None, ge=0, description="Electricity price per kWh."
    )
    source: str = Field(
        min_length=1,
        max_length=200,
        description="Where the prices come from (invoice, shop page, tariff, price list).",
    )
    as_of: str = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description="Date (YYYY-MM-DD) on which the prices were valid.",
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _upper_currency(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("as_of", mode="before")
    @classmethod
    def _real_date(cls, value: Any) -> Any:
        # YAML and TOML read an unquoted 2025-03-01 as a date, not a string.
        if isinstance(value, datetime.date):
            value = value.isoformat()
        if isinstance(value, str):
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value

    @model_validator(mode="after")
    def _one_way_to_price(self) -> CostInputs:
        if (self.hardware_price is None) != (self.amortization_years is None):
            raise ValueError("hardware_price and amortization_years go together: give both")
        if self.hardware_price is not None and self.hourly_rate is not None:
            raise ValueError("give hardware_price (owned) or hourly_rate (rented), not both")
        if (
            self.hardware_price is None
            and self.hourly_rate is None
            and self.electricity_price_per_kwh is None
        ):
            raise ValueError(
                "no price given: set hardware_price with amortization_years, hourly_rate or "
                "electricity_price_per_kwh"
            )
        return self


# --------------------------------------------------------------------------- imported results


class ImportTool(StrEnum):
    """Another benchmark tool whose result files ``bakeoff import`` reads."""

    LLAMA_BENCH = "llama-bench"
    VLLM_BENCH = "vllm-bench"
    GUIDELLM = "guidellm"
    AIPERF = "aiperf"


class SourceFile(Strict):
    """One file an imported run was read from: its name and checksum, never its path."""

    name: str = Field(min_length=1, description="File name as given, without its folder.")
    sha256: Sha256 = Field(description="SHA-256 of the file's bytes as read.")
    role: str = Field(
        description="What the file holds: 'results' (the tool's summary or result rows) or "
        "'per-request records'."
    )
    format: str = Field(description="Format as bakeoff read it, e.g. json, jsonl, csv, sql, md.")


class ImportSource(Strict):
    """Where an imported run came from (``bakeoff import``); null for runs bakeoff measured.

    Every number of an imported run was measured by ``tool``; which of its metrics follow the
    archive's definitions, and which are kept under the tool's own name, is the import table of
    the methodology page (``site/docs/methodology.md#imported-results``).
    """

    tool: ImportTool = Field(description="The tool that measured the results.")
    tool_version: str | None = Field(
        description="The tool's version as its file records it; null when the file does not say."
    )
    tool_build: str | None = Field(
        default=None, description="Build id the file records (llama-bench: build_commit)."
    )
    format_version: str | None = Field(
        default=None,
        description="Version of the file's own format (AIPerf schema_version, GuideLLM "
        "metadata.version); null when the format has none.",
    )
    files: list[SourceFile] = Field(min_length=1, description="The files read, results first.")
    command: str | None = Field(
        default=None,
        description="Command line the file records (home folders replaced by ~); null when the "
        "file does not record one.",
    )
    recorded_at: str | None = Field(
        default=None,
        description="When the tool says it ran, verbatim from the file (may be local time).",
    )
    time_basis: str = Field(
        description="How started_at and finished_at were derived from the file (which field, "
        "which time zone), or that the file records no time and the import time was used."
    )
    imported_at: Timestamp = Field(description="When bakeoff import read the file (UTC).")
    hardware_source: Literal["probe", "file"] = Field(
        description="probe: the hardware block is bakeoff probe on the importing host (the host "
        "that ran the benchmark); file: only what the file records, every other field null."
    )
    hardware_recorded: dict[str, str] = Field(
        default_factory=dict,
        description="Hardware and build facts the file records, verbatim (llama-bench cpu_info, "
        "gpu_info, backends; AIPerf GPU names).",
    )
    hardware_missing: list[str] = Field(
        default_factory=list,
        description="Hardware fields left null because the file does not record them "
        "(hardware_source file); never guessed.",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What the import could not carry over, and why (fields with no archive "
        "equivalent are in aggregates under the tool's own names).",
    )


class ImportedWorkload(Strict):
    """A workload an imported run measured: what the tool asked of the engine.

    Its ``sha256`` is taken over the canonical JSON (sorted keys, no spaces) of ``shape`` and
    ``definitions`` together, so two results share a workload key, and so a leaderboard, only
    when the same workload was measured and their metrics follow the same definitions.
    """

    id: str = Field(
        min_length=1,
        description="Workload id, '<tool>:<test>', e.g. llama-bench:pp512, "
        "llama-bench:tg128-d512, load:completions:1024/128:c8 (no @: it reads as user@host).",
    )
    description: str = Field(description="What the workload did, in words.")
    shape: dict[str, str] = Field(
        description="What the tool asked of the engine (lengths, depth, dataset, rate, "
        "concurrency cap), each value as text in the file's own notation."
    )
    definitions: str = Field(
        description="'bakeoff' when every metric of the workload that the archive ranks follows "
        "the methodology page; otherwise the tool whose own definitions they follow."
    )
    sha256: Sha256 = Field(description="SHA-256 of the canonical JSON of shape and definitions.")
    max_tokens: int | None = Field(
        default=None, ge=1, description="Output tokens asked for; null when there was no bound."
    )


class AggregateStat(Strict):
    """One metric of one (cell, workload, concurrency) as another tool's summary states it.

    Summary statistics are copied as given (never recomputed, never presented as per-call
    data); ``metric`` is the archive's name where the tool's definition agrees with the
    methodology page (``mapped``), else ``<tool>:<the tool's name>``.
    """

    cell_id: str = Field(description="Cell id.")
    workload_id: str = Field(description="Imported workload id (config.imported_workloads).")
    concurrency: int = Field(
        ge=1, description="Requests the tool kept in flight (1 for llama-bench)."
    )
    metric: str = Field(
        description="Archive metric name when mapped (methodology page), else '<tool>:<name>'."
    )
    source_field: str = Field(description="Where the value is in the file, as the tool names it.")
    mapped: bool = Field(
        description="True when the tool's definition agrees with the archive's (the methodology "
        "page's import table); false: kept under the tool's own name, not comparable."
    )
    unit: str = Field(description="Unit of every value: ms, tokens/s, requests/s, tokens, ….")
    n: int | None = Field(
        default=None,
        ge=0,
        description="Observations behind the statistics (repetitions, "
        "requests), as the file states; null when it does not.",
    )
    mean: float | None = Field(default=None, description="Mean as given.")
    std: float | None = Field(default=None, description="Standard deviation as given.")
    min: float | None = Field(default=None, description="Minimum as given.")
    max: float | None = Field(default=None, description="Maximum as given.")
    p50: float | None = Field(default=None, description="Median as given.")
    p90: float | None = Field(default=None, description="90th percentile as given.")
    p95: float | None = Field(default=None, description="95th percentile as given.")
    p99: float | None = Field(default=None, description="99th percentile as given.")
    samples: list[float] = Field(
        default_factory=list,
        description="Per-repetition values when the file lists them (llama-bench samples_ts).",
    )


class CellInfo(Strict):
    """One (host, engine, model) cell."""

    cell_id: str = Field(description="<host_label>:<engine>:<model>.")
    engine: EngineKind = Field(description="Engine adapter used.")
    api: EndpointApi = Field(description="Request API used for the cell.")
    engine_version: str | None = Field(description="Engine version as the engine reports it.")
    engine_build: str | None = Field(default=None, description="Engine build id (llama.cpp).")
    access_level: AccessLevel = Field(description="white: managed; gray: timings; black: API.")
    capabilities: list[str] = Field(description="Metric groups this cell could collect.")
    endpoint_kind: EndpointKind = Field(description="loopback, private or public; no address.")
    managed: bool = Field(description="True when the collector started the engine itself.")
    model: str = Field(description="Model name as requested.")
    model_digest: str | None = Field(description="Model digest (GGUF sha256 or Ollama digest).")
    quantization: str | None = Field(default=None, description="Quantization, e.g. Q4_K_M.")
    model_size_bytes: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Bytes of the model's weights, for the decode roofline (bytes read per token): the "
            "GGUF file's size (gguf_file), llama-server's model size, the sum of its tensor "
            "bytes (llama_server), or Ollama's model size from /api/tags (ollama); null when the "
            "engine does not say."
        ),
    )
    model_parameters: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Parameter count: the GGUF header's general.parameter_count, else the sum of its "
            "tensors' element counts (gguf_file); llama-server's n_params; Ollama's "
            "general.parameter_count from /api/show. Null when the engine does not say."
        ),
    )
    model_expert_count: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Experts per mixture-of-experts layer from the model header (<arch>.expert_count); "
            "0 when a header was read and names no experts (a dense model, which reads every "
            "weight for each token); null when no header was read."
        ),
    )
    model_size_source: ModelSizeSource | None = Field(
        default=None,
        description=(
            "Where model_size_bytes, model_parameters and model_expert_count came from; null "
            "when all three are null."
        ),
    )
    cold_kind: ColdKind | None = Field(description="How cold calls get a cold engine.")
    prompt_cache: Literal["disabled", "enabled", "unknown"] = Field(
        description="Whether the engine may reuse cached prompt prefixes between calls."
    )
    load_time_ms: float | None = Field(
        default=None, description="Managed engine: process start to healthy, ms."
    )
    available: bool = Field(description="Whether the health check passed.")
    skip_reason: str | None = Field(default=None, description="Why the cell was skipped.")
    settings: dict[str, str] = Field(
        default_factory=dict,
        description="Imported runs: the engine settings the file records for the cell "
        "(llama-bench n_threads, n_batch, flash_attn, n_gpu_layers, type_k, …), verbatim.",
    )


class CellSummary(Strict):
    """Call counts for one cell."""

    cell_id: str = Field(description="Cell id.")
    calls_total: int = Field(ge=0, description="Calls recorded.")
    calls_ok: int = Field(ge=0, description="Calls without an error.")


class Summary(Strict):
    """Run totals."""

    calls_total: int = Field(ge=0, description="Call records in the ledger.")
    calls_ok: int = Field(ge=0, description="Calls without an error.")
    calls_error: int = Field(ge=0, description="Calls with an error.")
    cells_planned: int = Field(ge=0, description="Cells in the plan.")
    cells_ok: int = Field(ge=0, description="Cells that passed the health check.")
    cells_skipped: int = Field(ge=0, description="Cells recorded as skipped.")
    cells: list[CellSummary] = Field(default_factory=list, description="Counts per cell.")


class Metadata(Strict):
    """``metadata.json``: everything about a run except the per-call ledger."""

    schema_version: Literal[1] = Field(default=1, description="Format version of this file.")
    created_at: Timestamp = Field(description="When this file was first written.")
    updated_at: Timestamp = Field(description="When this file was last written.")
    run_id: RunId
    run_uuid: str = Field(description="Full uuid4 of the run.")
    status: RunStatus = Field(
        description=(
            "complete, partial (cut short: interrupted or a collector error), aborted, or empty "
            "(the run ended without measuring any call: probe-only, or every cell skipped)."
        )
    )
    status_reason: str | None = Field(
        default=None, description="Why a run is not complete; text for every other status."
    )
    comparable: bool = Field(
        default=True,
        description="False for smoke and probe-only runs and runs that measured no call: "
        "kept and browsable, never ranked or compared.",
    )
    comparable_reason: str | None = Field(
        default=None, description="Why the run is not comparable (required when it is not)."
    )
    meta_only: bool = Field(
        default=False,
        description="True for a run kept without a ledger (imported or historical results).",
    )
    synthetic: bool = Field(
        default=False, description="True for generated test/benchmark data; never in runs/."
    )
    started_at: Timestamp = Field(description="UTC start.")
    finished_at: Timestamp | None = Field(description="UTC end; null while running.")
    harness: Harness = Field(description="The collector that produced the run.")
    publisher_id: str | None = Field(description="Who publishes the run.")
    host_label: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Label the contributor chose; never the hostname by default.",
    )
    environment: Environment = Field(description="Load and environment knobs.")
    config: RunConfig = Field(description="The run's configuration: workloads, protocol, limits.")
    cells: list[CellInfo] = Field(description="Planned cells and what was learned about them.")
    hardware: Hardware = Field(description="The host's hardware and software block.")
    cost_inputs: CostInputs | None = Field(
        default=None,
        description="Prices the contributor stated (cells file 'cost' or flags); null if none.",
    )
    run_hardware_metrics: RunHardwareMetrics = Field(description="Telemetry summaries.")
    summary: Summary = Field(description="Totals.")
    license: str = Field(default="CC-BY-4.0", description="Data license of the run.")
    source: ImportSource | None = Field(
        default=None,
        description="Imported runs (bakeoff import): the tool, its version and the source "
        "files' checksums; null for runs bakeoff measured.",
    )
    aggregates: list[AggregateStat] = Field(
        default_factory=list,
        description="Imported runs: summary statistics as the tool's file states them, one per "
        "(cell, workload, concurrency, metric); never per-call data.",
    )

    @model_validator(mode="after")
    def _reasons_given(self) -> Metadata:
        """A status other than complete, and a run that is not comparable, say why."""
        if self.status != RunStatus.COMPLETE and not (self.status_reason or "").strip():
            raise ValueError(f"status {self.status} needs a status_reason")
        if not self.comparable and not (self.comparable_reason or "").strip():
            raise ValueError("comparable false needs a comparable_reason")
        if self.comparable and self.comparable_reason is not None:
            raise ValueError("a comparable run has no comparable_reason")
        return self


# --------------------------------------------------------------------------- ledger


class MetaRecord(Strict):
    """Line 1 of ``run.jsonl``."""

    type: Literal["meta"] = Field(description="Record type.")
    schema_version: Literal[1] = Field(default=1, description="Ledger format version.")
    run_id: RunId
    harness_version: str = Field(description="bakeoff version.")
    git_sha: str | None = Field(description="Commit of the checkout.")
    git_dirty: bool | None = Field(description="Uncommitted changes present.")
    started_at: Timestamp = Field(description="UTC start.")
    host_label: str = Field(description="Contributor-chosen host label.")
    load_avg_start: list[float] | None = Field(description="Load average at start.")
    cells_planned: list[str] = Field(description="Cell ids in the plan.")


class CallRecord(Strict):
    """One request to an engine; every field is defined in the methodology page."""

    type: Literal["call"] = Field(description="Record type.")
    cell_id: str = Field(description="Cell id.")
    backend: EngineKind = Field(description="Engine adapter.")
    prompt_id: str | None = Field(
        description=(
            "Frozen prompt id, a length workload's id (L-<input>-<output>), or an imported"
            " run's workload id."
        )
    )
    task_id: str | None = Field(default=None, description="Quality task id.")
    item_id: str | None = Field(default=None, description="Dataset item id for a task call.")
    run_idx: int = Field(ge=0, description="Index within (cell, prompt, phase).")
    phase: Phase = Field(description="cold or warm.")
    cold_kind: ColdKind | None = Field(description="How cold was obtained; null for warm.")
    concurrency: int | None = Field(
        ge=1,
        description=(
            "Closed loop: the level, requests in flight when this one ran (1 for the sequential "
            "protocol). Null on an open-loop level (request_rate), where it varies (in_flight)."
        ),
    )
    request_rate: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Open-loop level of the call, requests per second (Poisson arrivals); null on "
            "closed-loop levels."
        ),
    )
    in_flight: int | None = Field(
        default=None,
        ge=1,
        description="Level calls: requests in flight when this one was sent, itself included.",
    )
    scheduled_ms: float | None = Field(
        default=None,
        ge=0,
        description="Level calls: when the request was due to be sent, ms after the level began.",
    )
    sent_ms: float | None = Field(
        default=None,
        ge=0,
        description="Level calls: when it was sent (t0), ms after the level began.",
    )
    start_lag_ms: float | None = Field(
        default=None, description="Level calls: sent_ms − scheduled_ms, ms (never below 0)."
    )
    started_at: Timestamp = Field(description="UTC wall-clock of t0.")
    first_delta_ms: float | None = Field(
        ge=0, description="TTFT: t0 → first event carrying a generated token of any kind."
    )
    first_content_ms: float | None = Field(
        ge=0, description="t0 → first non-empty visible content."
    )
    total_duration_ms: float | None = Field(
        ge=0, description="t0 → last token-bearing event (usage-only chunks excluded)."
    )
    prompt_tokens: int | None = Field(
        ge=0,
        description=(
            "Prompt tokens the engine evaluates, special and template tokens included: its usage "
            "or timings, else its tokenize endpoint."
        ),
    )
    completion_tokens: int | None = Field(ge=0, description="Completion tokens.")
    reasoning_tokens: int | None = Field(default=None, ge=0, description="Reasoning tokens.")
    cached_prompt_tokens: int | None = Field(
        default=None, ge=0, description="Prompt tokens served from the engine's cache."
    )
    token_count_source: TokenCountSource = Field(description="Where the token counts came from.")
    tokens_per_sec: float | None = Field(
        ge=0,
        description="completion_tokens / ((total_duration_ms − first_delta_ms) / 1000).",
    )
    tpot_ms: float | None = Field(
        description="(total_duration_ms − first_delta_ms) / (completion_tokens − 1), n > 1."
    )
    prefill_tokens_per_sec: float | None = Field(
        default=None,
        ge=0,
        description=(
            "(prompt_tokens − cached_prompt_tokens) / (first_delta_ms / 1000): prompt tokens "
            "processed per second of TTFT, a client-side lower bound on the prefill rate."
        ),
    )
    server_prefill_tokens_per_sec: float | None = Field(
        default=None,
        ge=0,
        description="Engine's own prompt-processing rate: prompt tokens it evaluated / its time.",
    )
    target_prompt_tokens: int | None = Field(
        default=None, ge=1, description="Length workloads: the prompt length asked for."
    )
    target_completion_tokens: int | None = Field(
        default=None, ge=1, description="Length workloads: the output length asked for."
    )
    length_off_target: bool | None = Field(
        default=None,
        description=(
            "Length workloads: true when prompt_tokens or completion_tokens is unknown or more "
            "than 1 % away from its target; null for other workloads."
        ),
    )
    chunks: int = Field(ge=0, description="Token-bearing events received.")
    itl_p50_ms: float | None = Field(description="Median gap between token-bearing events.")
    itl_p95_ms: float | None = Field(description="p95 gap between token-bearing events.")
    itl_max_ms: float | None = Field(description="Largest gap between token-bearing events.")
    server_prompt_ms: float | None = Field(default=None, description="Engine's prefill time.")
    server_decode_ms: float | None = Field(default=None, description="Engine's decode time.")
    server_load_ms: float | None = Field(default=None, description="Engine's model load time.")
    server_tokens_per_sec: float | None = Field(
        default=None, description="Engine's own decode rate."
    )
    timing_discrepancy_pct: float | None = Field(
        default=None,
        description="100 × (tokens_per_sec − server_tokens_per_sec) / server_tokens_per_sec.",
    )
    finish_reason: str | None = Field(description="stop, length, … as the engine says.")
    http_status: int | None = Field(description="HTTP status of the response.")
    error: str | None = Field(description="Error message; null on success.")
    error_kind: ErrorKind | None = Field(
        description=(
            "Error class; null on success. bad_usage: the reply carried a usage, timings or "
            "token-count number that cannot be recorded (negative, fractional count, not a "
            "number, NaN or infinite, beyond int64); that number is not written."
        )
    )
    retries: int = Field(
        default=0,
        ge=0,
        description=(
            "Failed connection attempts retried after a back-off, before a token. A kept-alive "
            "connection the server had closed while idle is reopened at once and not counted."
        ),
    )
    output_text: str | None = Field(default=None, description="Generated text (quality tasks).")
    output_sha256: Sha256 | None = Field(default=None, description="SHA-256 of the output text.")
    rouge1: float | None = Field(default=None, ge=0, le=1, description="ROUGE-1 F-measure.")
    rouge2: float | None = Field(default=None, ge=0, le=1, description="ROUGE-2 F-measure.")
    rougeL: float | None = Field(default=None, ge=0, le=1, description="ROUGE-L F-measure.")
    definitions: str | None = Field(
        default=None,
        description="Null: every timing field follows the methodology page. Imported per-request "
        "records: the tool whose own definitions the timing fields follow (methodology page, "
        "'Imported results').",
    )


class SkippedRecord(Strict):
    """A planned cell that was not measured."""

    type: Literal["skipped"] = Field(description="Record type.")
    cell_id: str = Field(description="Cell id.")
    reason: str = Field(min_length=1, description="Why it was skipped.")
    at: Timestamp = Field(description="When the decision was made.")


class LedgerRecord(
    RootModel[Annotated[MetaRecord | CallRecord | SkippedRecord, Field(discriminator="type")]]
):
    """Any line of ``run.jsonl``, chosen by its ``type``."""


# --------------------------------------------------------------------------- cells file


class ManagedEngine(Strict):
    """An engine the collector starts itself on a free loopback port."""

    command: list[str] | None = Field(
        default=None,
        description=(
            "argv; '{port}' and '{model_path}' are substituted. Null: llama-cpp-python's "
            "server with the bundled small model."
        ),
    )
    model_path: str | None = Field(default=None, description="GGUF path; null: bundled model.")
    startup_timeout_s: float = Field(default=120.0, gt=0, description="Wait for health, s.")


class CellSpec(Strict):
    """One cell of a cells file."""

    engine: EngineKind = Field(description="Engine adapter: openai, llamacpp or ollama.")
    url: str | None = Field(default=None, description="Base URL of a running engine.")
    managed: ManagedEngine | None = Field(
        default=None, description="Start the engine instead of using a URL."
    )
    model: str = Field(min_length=1, description="Model name to request.")
    api: EndpointApi | None = Field(
        default=None, description="chat or completions; default chosen per model."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra request body fields for this cell."
    )
    runs: int | None = Field(default=None, ge=1, le=100, description="Override runs per cell.")

    @field_validator("api")
    @classmethod
    def _http_api(cls, value: Any) -> Any:
        # in_process describes imported llama-bench results; bakeoff run speaks HTTP only.
        if value == EndpointApi.IN_PROCESS:
            raise ValueError("api must be chat or completions")
        return value


class CellsFile(Strict):
    """A cells file (YAML or TOML): what to benchmark."""

    schema_version: Literal[1] = Field(default=1, description="Cells file format version.")
    host_label: str | None = Field(default=None, description="Label for this host.")
    runs: int = Field(default=5, ge=1, le=100, description="Warm calls per (cell, prompt).")
    cold: bool = Field(default=True, description="One cold call before the warm ones.")
    prompts: list[str] | None = Field(
        default=None, description="Prompt ids; default: P-EASY, P-MEDIUM, P-HARD."
    )
    tasks: list[str] = Field(default_factory=list, description="Task ids, e.g. summarization.")
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    seed: int | None = Field(default=42, description="Sampling seed.")
    concurrency: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=lambda: [1], description="Concurrency levels."
    )
    lengths: list[Annotated[str, Field(pattern=LENGTH_PATTERN)]] = Field(
        default_factory=lambda: list(DEFAULT_LENGTHS),
        description=(
            "Length workloads as 'input/output' tokens, e.g. ['512/64', '4096/128']: prompts "
            "built to exactly the input length with the engine's tokenizer, outputs asked for "
            "exactly the output length. Default ['512/64']; [] for none."
        ),
    )
    rates: list[Annotated[float, Field(gt=0, le=10_000)]] = Field(
        default_factory=list,
        description="Open-loop levels: requests per second, Poisson arrivals (seed arrival_seed).",
    )
    rate_requests: int = Field(
        default=20, ge=1, le=10_000, description="Requests sent at each open-loop level."
    )
    arrival_seed: int = Field(default=1, description="Seed of the Poisson arrival schedule.")
    sweep: bool = Field(
        default=False,
        description=(
            "Find the synchronous and saturated request rates, then measure sweep_levels "
            "open-loop rates spaced evenly between them (opt-in: long)."
        ),
    )
    sweep_levels: int = Field(
        default=4, ge=1, le=50, description="Rates a sweep spaces between its two ends."
    )
    slo: Slo | None = Field(
        default=None,
        description="Latency objectives for goodput, e.g. {ttft_ms: 500, tpot_ms: 50}.",
    )
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Request timeouts.")
    cost: CostInputs | None = Field(
        default=None,
        description="Prices for cost per token, recorded as stated; --price flags override.",
    )
    cells: list[CellSpec] = Field(min_length=1, description="The cells.")

    @field_validator("lengths", "rates", "concurrency")
    @classmethod
    def _each_once(cls, values: list[Any]) -> list[Any]:
        # A level or workload listed twice would be measured twice into one batch.
        seen = [v for i, v in enumerate(values) if v in values[:i]]
        if seen:
            raise ValueError(f"{seen[0]!r} is listed twice")
        return values


# --------------------------------------------------------------------------- seeds


class PromptSeed(Strict):
    """A frozen prompt: its bytes never change; new prompts get new ids."""

    id: str = Field(pattern=r"^P-[A-Z0-9-]+$", description="Prompt id.")
    intent: str = Field(description="What the prompt exercises.")
    text: str = Field(description="Exact prompt text sent to the engine.")
    max_tokens: int = Field(ge=1, description="Output token bound.")
    sha256: Sha256 = Field(description="SHA-256 of text encoded as UTF-8.")


class PromptsSeed(Strict):
    """``seeds/prompts.json``."""

    schema_version: Literal[1] = Field(default=1, description="Format version.")
    prompts: list[PromptSeed] = Field(description="Frozen prompts.")


class TextSeed(Strict):
    """``seeds/context_text.json``: the frozen text length workloads cut their prompts from."""

    schema_version: Literal[1] = Field(default=1, description="Format version.")
    id: str = Field(pattern=r"^T-[A-Z0-9-]+$", description="Text id; a new text gets a new id.")
    license: str = Field(description="License of the text (SPDX id).")
    source: str = Field(description="Where the text comes from.")
    sha256: Sha256 = Field(description="SHA-256 of text encoded as UTF-8.")
    text: str = Field(min_length=1, description="The text: paragraphs separated by blank lines.")


class InterfaceTypeSeed(Strict):
    """One reviewed row of the interface_type lookup table."""

    id: InterfaceType = Field(description="Stable value used in GPU rows.")
    label: str = Field(description="Short human label.")
    description: str = Field(min_length=10, description="What the attachment means.")
    detection: str = Field(description="How the collector recognises it.")


class InterfaceTypesSeed(Strict):
    """``seeds/interface_types.json``."""

    schema_version: Literal[1] = Field(default=1, description="Format version.")
    interface_types: list[InterfaceTypeSeed] = Field(description="Reviewed rows.")


class DatasetItem(Strict):
    """One line of a summarization dataset (JSONL): an article and its reference summary."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
        description="Unique id within the file, e.g. sum-short-01.",
    )
    title: str | None = Field(default=None, description="Article title; not sent to the model.")
    text: str = Field(min_length=1, description="The article to summarise.")
    reference: str = Field(min_length=1, description="Reference summary ROUGE compares with.")
    license: str | None = Field(
        default=None, description="License of text and reference (SPDX id, e.g. CC-BY-4.0)."
    )
    source: str | None = Field(
        default=None, description="Where the item comes from (URL or dataset name and split)."
    )
