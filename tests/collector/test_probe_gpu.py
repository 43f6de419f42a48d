"""GPU detection against sample outputs and an NVML stand-in.

No GPU (and none of nvidia-smi, amd-smi, rocm-smi, system_profiler or libnvidia-ml) exists on
the machine these tests run on, so every test here feeds the probe sample outputs written in
each tool's documented format (tests/fixtures/probe/, described in its README.md) or a small
fake NVML module with the pynvml functions the probe calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from collector.models import GpuVendor, Hardware, InterfaceType
from collector.probe import format_table, gpu_amd, gpu_apple, gpu_nvidia, gpu_torch, probe_host
from collector.probe.gpu_nvidia import architecture_for_cc
from collector.probe.tools import ProbeContext, ToolFailure

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "probe"

# Private values planted in the samples; none may reach the probe's output.
PLANTED_SECRETS = [
    "1324920077777",
    "GPU-9d3f0c1e-5b7a-4e21-8c44-2b1f0a9e7d55",
    "1650522099991",
    "GPU-51a7c0de-3e11-4b6d-9f20-aa01bb02cc03",
    "GPU-0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b",
    "692251001234",
    "0x9f3c21ab55d0e7f1",
    "692251007777",
    "0xA1B2C3D4E5F60718",
    "0x5D7E8F90A1B2C3D4",
    "PCB054321-0077",
    "3C1D2E4F-5A6B-4C7D-8E9F-0A1B2C3D4E5F",
    "00006021-001A2B3C4D5E6F70",
    "C02XK1ZZJGH7",
    "fd626d62",
    "GPU-fake-nvml-uuid-0000",
    "NVML-SERIAL-4242",
]


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fake_runner(outputs: dict[tuple[str, ...], str]) -> Callable[[Sequence[str]], str]:
    """A runner that answers listed command lines (by their first words) and lacks the rest."""
    calls: list[tuple[str, ...]] = []

    def run(argv: Sequence[str]) -> str:
        calls.append(tuple(argv))
        for prefix, out in outputs.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return out
        raise ToolFailure(f"{argv[0]} is not on PATH", missing=True)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def ctx_with(
    outputs: dict[tuple[str, ...], str], tmp_path: Path, system: str = "Linux"
) -> ProbeContext:
    return ProbeContext(root=tmp_path, runner=fake_runner(outputs), system=system, env={})


def probes(ctx: ProbeContext) -> dict[str, str]:
    return {i.probe: i.reason for i in ctx.issues}


# --------------------------------------------------------------------------- nvidia-smi XML


def test_nvidia_smi_xml_old_driver_power_readings(tmp_path: Path) -> None:
    """Driver 515 XML (power_readings/power_limit). Real GPUs were not available here; the
    sample follows the documented nvidia-smi -q -x format."""
    ctx = ctx_with({("nvidia-smi",): fixture("nvidia-smi-q-x-515-power_readings.xml")}, tmp_path)
    report = gpu_nvidia.probe_nvidia_smi(ctx, ram_gb=31.3)
    assert report is not None
    assert (report.driver_version, report.cuda_version) == ("515.105.01", "11.7")
    (gpu,) = report.gpus
    assert gpu.name == "Tesla T4" and gpu.vendor == GpuVendor.NVIDIA
    assert gpu.memory_total_gb == 15.0
    # Max link, not the idle current link (Gen1 x8).
    assert (gpu.pcie_gen_max, gpu.pcie_width_max) == (3, 16)
    assert (gpu.power_limit_w, gpu.power_limit_default_w) == (70.0, 70.0)
    assert (gpu.architecture, gpu.tensor_core_generation) == ("Turing", 2)
    assert gpu.interface_type == InterfaceType.PCIE  # Pass-Through is not vGPU
    assert gpu.source == "nvidia-smi"
    assert "gpu.0.compute_capability" in probes(ctx)


def test_nvidia_smi_xml_new_driver_gpu_power_readings(tmp_path: Path) -> None:
    """Driver 535 XML (gpu_power_readings/current_power_limit, MIG). Real GPUs were not
    available here; the sample follows the documented nvidia-smi -q -x format."""
    ctx = ctx_with(
        {("nvidia-smi",): fixture("nvidia-smi-q-x-535-gpu_power_readings.xml")}, tmp_path
    )
    report = gpu_nvidia.probe_nvidia_smi(ctx, ram_gb=None)
    assert report is not None
    assert (report.driver_version, report.cuda_version) == ("535.54.03", "12.2")
    sxm, geforce = report.gpus
    # The GPU's own fb_memory_usage (80 GiB), not the nested MIG slice's 19968 MiB.
    assert sxm.memory_total_gb == 80.0
    assert sxm.interface_type == InterfaceType.SXM
    assert (sxm.power_limit_w, sxm.power_limit_default_w) == (500.0, 500.0)
    assert (sxm.architecture, sxm.tensor_core_generation) == ("Ampere", 3)
    assert geforce.interface_type == InterfaceType.PCIE
    assert geforce.memory_total_gb == 24.0
    # A lowered limit is recorded as is; the N/A default is None plus an issue, never "".
    assert (geforce.power_limit_w, geforce.power_limit_default_w) == (200.0, None)
    assert "N/A" in probes(ctx)["gpu.1.power_limit_default_w"]
    assert [g.slot for g in report.gpus] == [0, 1]


def test_nvidia_smi_failures_become_issues(tmp_path: Path) -> None:
    """A failing or garbled nvidia-smi is an issue, a missing one only a note for later."""

    def broken(argv: Sequence[str]) -> str:
        raise ToolFailure("nvidia-smi exited with status 9: NVIDIA-SMI has failed")

    ctx = ProbeContext(root=tmp_path, runner=broken, system="Linux", env={})
    assert gpu_nvidia.probe_nvidia_smi(ctx, None) is None
    assert "NVIDIA-SMI has failed" in probes(ctx)["gpu.nvidia_smi"]

    ctx = ctx_with({("nvidia-smi",): "<nvidia_smi_log><gpu>"}, tmp_path)
    assert gpu_nvidia.probe_nvidia_smi(ctx, None) is None
    assert "invalid XML" in probes(ctx)["gpu.nvidia_smi"]

    ctx = ctx_with({}, tmp_path)
    assert gpu_nvidia.probe_nvidia_smi(ctx, None) is None
    assert ctx.issues == [] and ctx.absent == ["nvidia-smi is not on PATH"]


# --------------------------------------------------------------------------- NVML stand-in


class FakeNVML:
    """A stand-in for the pynvml module (nvidia-ml-py) with the functions the probe calls.

    Devices are dicts; a value that is an exception class is raised instead of returned.
    """

    NVML_BUS_TYPE_PCIE = 2
    NVML_BUS_TYPE_FPCI = 3
    NVML_GPU_VIRTUALIZATION_MODE_VGPU = 2
    NVML_FEATURE_ENABLED = 1
    NVML_NVLINK_MAX_LINKS = 18

    class NVMLError(Exception):
        def __str__(self) -> str:
            return type(self).__name__.removeprefix("NVMLError_").replace("_", " ")

    class NVMLError_NotSupported(NVMLError):  # pynvml naming
        pass

    class NVMLError_LibraryNotFound(NVMLError):
        pass

    class NVMLError_InvalidArgument(NVMLError):
        pass

    __file__ = "/site-packages/pynvml.py"

    def __init__(self, devices: list[dict[str, Any]], init_error: type | None = None) -> None:
        self.devices = devices
        self.init_error = init_error
        self.shutdown_calls = 0
        self.uuid_calls = 0

    def _get(self, handle: int, key: str) -> Any:
        value = self.devices[handle][key]
        if isinstance(value, type) and issubclass(value, Exception):
            raise value()
        return value

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise self.init_error()

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.65.06"

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return 13000

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, h: int) -> Any:
        return self._get(h, "name")

    def nvmlDeviceGetUUID(self, h: int) -> str:  # must never be needed
        self.uuid_calls += 1
        return "GPU-fake-nvml-uuid-0000"

    def nvmlDeviceGetSerial(self, h: int) -> str:  # must never be needed
        self.uuid_calls += 1
        return "NVML-SERIAL-4242"

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(total=self._get(h, "memory"))

    def nvmlDeviceGetBusType(self, h: int) -> int:
        return int(self._get(h, "bus"))

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: int) -> int:
        return int(self._get(h, "gen"))

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: int) -> int:
        return int(self._get(h, "width"))

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:
        return int(self._get(h, "limit_mw"))

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h: int) -> int:
        return int(self._get(h, "default_mw"))

    def nvmlDeviceGetCudaComputeCapability(self, h: int) -> tuple[int, int]:
        return tuple(self._get(h, "cc"))  # type: ignore[return-value]

    def nvmlDeviceGetNumGpuCores(self, h: int) -> int:
        return int(self._get(h, "cores"))

    def nvmlDeviceGetVirtualizationMode(self, h: int) -> int:
        return int(self.devices[h].get("virt", 0))

    def nvmlDeviceGetC2cModeInfoV(self, h: int) -> Any:
        return SimpleNamespace(isC2cEnabled=int(self.devices[h].get("c2c", 0)))

    def nvmlDeviceGetPciInfo(self, h: int) -> Any:
        return SimpleNamespace(busId=self.devices[h].get("bus_id", f"00000000:0{h}:00.0"))

    def nvmlDeviceGetNvLinkState(self, h: int, link: int) -> int:
        if link >= int(self.devices[h].get("nvlinks", 0)):
            raise self.NVMLError_InvalidArgument()
        return 1


def device(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "NVIDIA GeForce RTX 4090",
        "memory": 24 * 1024**3,
        "bus": 2,
        "gen": 4,
        "width": 16,
        "limit_mw": 450000,
        "default_mw": 450000,
        "cc": (8, 9),
        "cores": 16384,
    }
    return {**base, **overrides}


def test_nvml_fields_and_not_supported(tmp_path: Path) -> None:
    """NVML path with per-field NotSupported. Real GPUs were not available here; the stand-in
    follows the documented pynvml API (mW, bytes, (major, minor), NVMLError subclasses)."""
    nvml = FakeNVML(
        [
            device(
                name=b"NVIDIA H100 80GB HBM3",
                cc=(9, 0),
                memory=80 * 1024**3,
                nvlinks=18,
                default_mw=FakeNVML.NVMLError_NotSupported,
                limit_mw=700000,
                gen=5,
            ),
            device(),
        ]
    )
    ctx = ProbeContext(root=tmp_path, runner=fake_runner({}), system="Linux", env={})
    report = gpu_nvidia.probe_nvml(nvml, ctx, ram_gb=251.5)
    assert report is not None
    assert (report.driver_version, report.cuda_version) == ("580.65.06", "13.0")
    h100, rtx = report.gpus
    assert h100.name == "NVIDIA H100 80GB HBM3"  # bytes decoded
    assert h100.interface_type == InterfaceType.SXM  # SXM-only part, name without "SXM"
    assert (h100.power_limit_w, h100.power_limit_default_w) == (700.0, None)
    assert probes(ctx)["gpu.0.power_limit_default_w"].endswith("NotSupported")
    assert (h100.compute_capability, h100.architecture, h100.tensor_core_generation) == (
        "9.0",
        "Hopper",
        4,
    )
    assert (rtx.memory_total_gb, rtx.pcie_gen_max, rtx.pcie_width_max) == (24.0, 4, 16)
    assert (rtx.architecture, rtx.tensor_core_generation, rtx.cores) == ("Ada Lovelace", 4, 16384)
    assert rtx.interface_type == InterfaceType.PCIE and rtx.source == "nvml"
    assert nvml.shutdown_calls == 1 and nvml.uuid_calls == 0


def test_nvml_integrated_bridge_c2c_vgpu_and_missing_function(tmp_path: Path) -> None:
    """Interface rules and a binding without nvmlDeviceGetNumGpuCores. Real GPUs were not
    available here; the stand-in follows the documented pynvml API."""
    nvml = FakeNVML(
        [
            device(name="NVIDIA GB10", memory=FakeNVML.NVMLError_NotSupported, cc=(12, 1)),
            device(name="NVIDIA RTX A6000", nvlinks=4, cc=(8, 6)),
            device(name="NVIDIA GH200 480GB", c2c=1, cc=(9, 0)),
            device(name="GRID A100D-40C", virt=2, cc=(8, 0)),
        ]
    )
    del FakeNVML.nvmlDeviceGetNumGpuCores  # like an old nvidia-ml-py
    try:
        ctx = ProbeContext(root=tmp_path, runner=fake_runner({}), system="Linux", env={})
        report = gpu_nvidia.probe_nvml(nvml, ctx, ram_gb=119.7)
    finally:
        FakeNVML.nvmlDeviceGetNumGpuCores = _cores  # type: ignore[attr-defined]
    assert report is not None
    gb10, a6000, gh200, vgpu = report.gpus
    assert (gb10.interface_type, gb10.unified_memory, gb10.memory_total_gb) == (
        InterfaceType.SOC_UNIFIED,
        True,
        119.7,
    )
    assert (gb10.architecture, gb10.tensor_core_generation) == ("Blackwell", 5)
    assert "gpu.0.memory_total_gb" not in probes(ctx)  # unified memory is known, not missing
    assert a6000.interface_type == InterfaceType.PCIE_NVLINK_BRIDGE
    assert gh200.interface_type == InterfaceType.NVLINK_C2C
    assert vgpu.interface_type == InterfaceType.VIRTUALIZED
    assert all(g.cores is None for g in report.gpus)
    assert "upgrade nvidia-ml-py" in probes(ctx)["gpu.0.cores"]


_cores = FakeNVML.nvmlDeviceGetNumGpuCores


def test_nvml_egpu_behind_removable_port(tmp_path: Path) -> None:
    """A GPU below a port sysfs marks removable is pcie_external. Real GPUs (and a real sysfs
    with an eGPU) were not available here; the fake sysfs follows the kernel's layout."""
    dev = tmp_path / "sys/devices/pci0000:00/0000:00:1c.4/0000:05:00.0/0000:06:00.0"
    dev.mkdir(parents=True)
    (dev.parent / "removable").write_text("removable\n")
    links = tmp_path / "sys/bus/pci/devices"
    links.mkdir(parents=True)
    (links / "0000:06:00.0").symlink_to(dev)
    nvml = FakeNVML([device(bus_id=b"00000000:06:00.0"), device(bus_id="00000000:07:00.0")])
    ctx = ProbeContext(root=tmp_path, runner=fake_runner({}), system="Linux", env={})
    report = gpu_nvidia.probe_nvml(nvml, ctx, ram_gb=None)
    assert report is not None
    assert [g.interface_type for g in report.gpus] == [
        InterfaceType.PCIE_EXTERNAL,
        InterfaceType.PCIE,
    ]


def test_nvml_library_missing_falls_back_to_nvidia_smi(tmp_path: Path) -> None:
    """NVML LibraryNotFound → nvidia-smi XML. Real GPUs were not available here; the sample
    follows the documented nvidia-smi -q -x format."""
    nvml = FakeNVML([], init_error=FakeNVML.NVMLError_LibraryNotFound)
    ctx = ctx_with({("nvidia-smi",): fixture("nvidia-smi-q-x-515-power_readings.xml")}, tmp_path)
    report = gpu_nvidia.detect(ctx, nvml, ram_gb=None)
    assert report is not None and report.source == "nvidia-smi"
    assert [g.name for g in report.gpus] == ["Tesla T4"]
    assert ctx.absent == ["NVML: LibraryNotFound"]


def test_nvml_init_failure_is_an_issue(tmp_path: Path) -> None:
    """Any other nvmlInit error (driver/library mismatch …) is reported, not swallowed."""
    nvml = FakeNVML([], init_error=FakeNVML.NVMLError_InvalidArgument)
    ctx = ctx_with({}, tmp_path)
    assert gpu_nvidia.detect(ctx, nvml, ram_gb=None) is None
    assert "nvmlInit failed" in probes(ctx)["gpu.nvml"]


@pytest.mark.parametrize(
    ("cc", "arch", "gen"),
    [
        ((6, 1), "Pascal", None),
        ((7, 0), "Volta", 1),
        ((7, 2), "Volta", 1),
        ((7, 5), "Turing", 2),
        ((8, 0), "Ampere", 3),
        ((8, 6), "Ampere", 3),
        ((8, 7), "Ampere", 3),
        ((8, 9), "Ada Lovelace", 4),
        ((9, 0), "Hopper", 4),
        ((10, 0), "Blackwell", 5),
        ((11, 0), "Blackwell", 5),
        ((12, 0), "Blackwell", 5),
        ((13, 0), None, None),
    ],
)
def test_compute_capability_table(cc: tuple[int, int], arch: str | None, gen: int | None) -> None:
    """The documented compute capability → architecture / tensor-core generation table."""
    assert architecture_for_cc(*cc) == (arch, gen)


# --------------------------------------------------------------------------- AMD


@pytest.mark.parametrize("name", ["rocm-smi-6.1-title-case.json", "rocm-smi-5.7-lower-case.json"])
def test_rocm_smi_both_key_casings(tmp_path: Path, name: str) -> None:
    """rocm-smi JSON before and after ROCm 6.1's key renaming. Real GPUs were not available
    here; the samples follow the documented rocm-smi --json format."""
    ctx = ctx_with({("rocm-smi",): fixture(name)}, tmp_path)
    report = gpu_amd.probe_rocm_smi(ctx)
    assert report is not None and report.gpus
    first = report.gpus[0]
    assert first.vendor == GpuVendor.AMD and first.source == "rocm-smi"
    if name.startswith("rocm-smi-6.1"):
        assert [g.name for g in report.gpus] == ["AMD Instinct MI210"] * 2
        assert (first.memory_total_gb, first.architecture) == (63.98, "gfx90a")
        assert report.driver_version == "6.7.0"
    else:
        assert first.name == "Radeon RX 7900 XTX" and first.memory_total_gb == 23.98
        assert first.architecture is None
        assert report.driver_version == "6.2.0-39-generic"
    assert first.interface_type == InterfaceType.UNKNOWN
    assert "gpu.0.interface_type" in probes(ctx)


def test_amd_smi_list_format(tmp_path: Path) -> None:
    """Older amd-smi static --json (a list; values as strings). Real GPUs were not available
    here; the sample follows the documented amd-smi format."""
    ctx = ctx_with({("amd-smi",): fixture("amd-smi-static-list.json")}, tmp_path)
    report = gpu_amd.probe_amd_smi(ctx)
    assert report is not None
    (gpu,) = report.gpus
    assert gpu.name == "AMD Instinct MI210"  # board.product_name beats the generic market name
    assert (gpu.memory_total_gb, gpu.interface_type) == (63.98, InterfaceType.PCIE)
    assert (gpu.pcie_gen_max, gpu.pcie_width_max, gpu.power_limit_w) == (4, 16, 300.0)
    assert (gpu.architecture, gpu.cores) == ("gfx90a", 104)
    assert report.driver_version == "6.2.4"


def test_amd_smi_gpu_data_object_format(tmp_path: Path) -> None:
    """Newer amd-smi static --json ({"gpu_data": [...]}, {"value", "unit"} numbers). Real GPUs
    were not available here; the sample follows the documented amd-smi format."""
    ctx = ctx_with({("amd-smi",): fixture("amd-smi-static-gpu_data.json")}, tmp_path)
    report = gpu_amd.probe_amd_smi(ctx)
    assert report is not None
    first, second = report.gpus
    assert first.name == "AMD Instinct MI300X OAM"
    assert (first.memory_total_gb, first.interface_type) == (191.98, InterfaceType.OAM)
    assert (first.pcie_gen_max, first.power_limit_w, first.cores) == (5, 750.0, 304)
    assert first.architecture == "gfx942"
    assert second.power_limit_w is None
    assert "gpu.1.power_limit_w" in probes(ctx)


def test_amd_falls_back_to_rocm_smi_and_reads_rocm_version(tmp_path: Path) -> None:
    """amd-smi missing → rocm-smi; ROCm version from $ROCM_PATH/.info/version. Real GPUs were
    not available here; the sample follows the documented rocm-smi format."""
    info = tmp_path / "opt/rocm-6.1.2/.info"
    info.mkdir(parents=True)
    (info / "version").write_text("6.1.2-119\n")
    ctx = ctx_with({("rocm-smi",): fixture("rocm-smi-6.1-title-case.json")}, tmp_path)
    ctx.env = {"ROCM_PATH": "/opt/rocm-6.1.2"}
    report = gpu_amd.detect(ctx)
    assert report is not None and report.source == "rocm-smi"
    assert report.rocm_version == "6.1.2-119"
    assert "amd-smi is not on PATH" in ctx.absent


def test_amd_smi_garbage_is_an_issue(tmp_path: Path) -> None:
    """amd-smi printing something other than the documented JSON is an issue, not a crash."""
    ctx = ctx_with({("amd-smi",): "No JSON data to report\n"}, tmp_path)
    assert gpu_amd.probe_amd_smi(ctx) is None
    assert "No JSON data" in probes(ctx)["gpu.amd_smi"]
    ctx = ctx_with({("amd-smi",): '{"something": 1}'}, tmp_path)
    assert gpu_amd.probe_amd_smi(ctx) is None
    assert "gpu_data" in probes(ctx)["gpu.amd_smi"]


# --------------------------------------------------------------------------- Apple


def test_system_profiler_apple_silicon(tmp_path: Path) -> None:
    """Apple Silicon: unified memory = RAM, soc_unified, cores. A Mac was not available here;
    the sample follows the documented system_profiler -json format."""
    ctx = ctx_with(
        {("system_profiler",): fixture("system_profiler-apple-silicon.json")},
        tmp_path,
        system="Darwin",
    )
    report = gpu_apple.detect(ctx, ram_gb=64.0)
    assert report is not None
    (gpu,) = report.gpus
    assert (gpu.vendor, gpu.name, gpu.cores) == (GpuVendor.APPLE, "Apple M2 Max", 38)
    assert (gpu.unified_memory, gpu.memory_total_gb) == (True, 64.0)
    assert gpu.interface_type == InterfaceType.SOC_UNIFIED
    assert gpu.architecture == "metal3"


def test_system_profiler_missing_is_an_issue(tmp_path: Path) -> None:
    """Without system_profiler there is no GPU row and one issue."""
    ctx = ctx_with({}, tmp_path, system="Darwin")
    assert gpu_apple.detect(ctx, ram_gb=8.0) is None
    assert "gpu.system_profiler" in probes(ctx)


# --------------------------------------------------------------------------- torch


def test_torch_is_used_only_when_cuda_is_already_initialised(tmp_path: Path) -> None:
    """A torch stand-in: uninitialised CUDA is never touched; initialised gives rows. Neither a
    GPU nor torch was available here; the stand-in follows torch.cuda's documented API."""
    calls: list[str] = []

    class Cuda:
        def __init__(self, ready: bool) -> None:
            self.ready = ready

        def is_initialized(self) -> bool:
            return self.ready

        def device_count(self) -> int:
            calls.append("device_count")
            return 1

        def get_device_properties(self, i: int) -> Any:
            return SimpleNamespace(
                name="NVIDIA L4",
                total_memory=24 * 1024**3,
                major=8,
                minor=9,
                multi_processor_count=58,
                is_integrated=0,
            )

    ctx = ctx_with({}, tmp_path)
    cold = SimpleNamespace(cuda=Cuda(False), version=SimpleNamespace(hip=None))
    assert gpu_torch.detect(ctx, None, torch=cold) is None and calls == []
    warm = SimpleNamespace(cuda=Cuda(True), version=SimpleNamespace(hip=None))
    report = gpu_torch.detect(ctx, None, torch=warm)
    assert report is not None
    (gpu,) = report.gpus
    assert (gpu.name, gpu.compute_capability, gpu.tensor_core_generation, gpu.cores) == (
        "NVIDIA L4",
        "8.9",
        4,
        58,
    )


# --------------------------------------------------------------------------- whole probe


def every_tool_runner() -> Callable[[Sequence[str]], str]:
    return fake_runner(
        {
            ("nvidia-smi",): fixture("nvidia-smi-q-x-535-gpu_power_readings.xml"),
            ("amd-smi",): fixture("amd-smi-static-gpu_data.json"),
            ("rocm-smi",): fixture("rocm-smi-6.1-title-case.json"),
            ("system_profiler",): fixture("system_profiler-apple-silicon.json"),
            ("sysctl", "-n", "machdep.cpu.brand_string"): "Apple M2 Max\n",
            ("sw_vers", "-productVersion"): "14.5\n",
            ("sw_vers", "-buildVersion"): "23F79\n",
        }
    )


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("BAKEOFF_SYSTEM_ID", raising=False)
    return home


def test_whole_probe_with_samples_leaks_no_serials_or_uuids(config_home: Path) -> None:
    """probe_host over every sample (Linux: NVIDIA + AMD; macOS: Apple) keeps none of the
    planted serials/UUIDs. Real GPUs and a Mac were not available here; the samples follow
    each tool's documented format."""
    env = {"XDG_CONFIG_HOME": str(config_home)}
    nvml = FakeNVML([device()])
    linux = probe_host(runner=every_tool_runner(), nvml=None, system_name="Linux", env=env)
    with_nvml = probe_host(runner=every_tool_runner(), nvml=nvml, system_name="Linux", env=env)
    mac = probe_host(runner=every_tool_runner(), nvml=None, system_name="Darwin", env=env)

    assert [(g.slot, g.vendor) for g in linux.gpus] == [
        (0, "nvidia"),
        (1, "nvidia"),
        (2, "amd"),
        (3, "amd"),
    ]
    assert linux.system_software.gpu_driver_version == "535.54.03"
    assert [g.source for g in with_nvml.gpus] == ["nvml", "amd-smi", "amd-smi"]
    assert mac.system_hardware.cpu_model == "Apple M2 Max"
    assert mac.system_hardware.board_model == "Mac14,6"
    assert mac.system_software.os == "macOS 14.5 (23F79)"
    assert [g.name for g in mac.gpus] == ["Apple M2 Max"]

    for hw in (linux, with_nvml, mac):
        Hardware.model_validate(hw.model_dump(mode="json"))
        text = (json.dumps(hw.model_dump(mode="json")) + format_table(hw)).lower()
        for secret in PLANTED_SECRETS:
            assert secret.lower() not in text, secret
        assert not any(g.name == "" for g in hw.gpus)


def test_each_tool_runs_once_per_probe(config_home: Path) -> None:
    """system_profiler is wanted by the CPU, board and GPU detectors but runs once."""
    runner = every_tool_runner()
    probe_host(
        runner=runner, nvml=None, system_name="Darwin", env={"XDG_CONFIG_HOME": str(config_home)}
    )
    calls = runner.calls  # type: ignore[attr-defined]
    assert len(calls) == len(set(calls))
    assert sum(c[0] == "system_profiler" for c in calls) == 1


def test_table_shows_gpus(config_home: Path) -> None:
    """format_table lists each GPU with memory, interface, PCIe and power."""
    hw = probe_host(
        runner=every_tool_runner(),
        nvml=None,
        system_name="Linux",
        env={"XDG_CONFIG_HOME": str(config_home)},
    )
    table = format_table(hw)
    assert "GPU 0" in table and "NVIDIA A100-SXM4-80GB [nvidia]" in table
    assert "Gen4 x16" in table and "500.0 W (default 500.0 W)" in table
    assert "GPU 3" in table and "oam" in table
