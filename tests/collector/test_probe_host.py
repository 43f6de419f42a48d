"""CPU, memory/cgroup, OS and tool-runner parts of the probe, on fake filesystem roots.

Fake ``/proc`` and ``/sys/fs/cgroup`` trees stand in for containers and ARM boards this
machine is not; their layout follows the kernel's cgroup v1/v2 documentation.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bakeoff import __version__
from collector.probe import cpu, memory, system
from collector.probe.tools import (
    CachingRunner,
    ProbeContext,
    ToolFailure,
    parse_bytes,
    parse_number,
    run_tool,
    scrub,
)

GIB = 1024**3


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def runner_for(outputs: dict[tuple[str, ...], str]) -> CachingRunner:
    def run(argv: Sequence[str]) -> str:
        if tuple(argv) in outputs:
            return outputs[tuple(argv)]
        raise ToolFailure(f"{argv[0]} is not on PATH", missing=True)

    return CachingRunner(run)


def ctx(root: Path, system_name: str = "Linux") -> ProbeContext:
    return ProbeContext(root=root, runner=runner_for({}), system=system_name, env={})


# --------------------------------------------------------------------------- cgroups


def test_cgroup_v2_takes_the_smallest_limit_up_the_tree(tmp_path: Path) -> None:
    """cgroup v2: memory.max/cpu.max of our cgroup and its ancestors; smallest wins."""
    write(tmp_path, "/proc/self/cgroup", "0::/kubepods/pod1/ctr\n")
    write(tmp_path, "/sys/fs/cgroup/cgroup.controllers", "cpu memory\n")
    write(tmp_path, "/sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "max\n")
    write(tmp_path, "/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "250000 100000\n")
    write(tmp_path, "/sys/fs/cgroup/kubepods/pod1/memory.max", f"{4 * GIB}\n")
    write(tmp_path, "/sys/fs/cgroup/kubepods/pod1/cpu.max", "max 100000\n")
    write(tmp_path, "/sys/fs/cgroup/kubepods/memory.max", f"{8 * GIB}\n")
    limits = memory.container_limits(ctx(tmp_path), ram_bytes=64 * GIB)
    assert (limits.in_container, limits.memory_limit_gb, limits.cpu_quota) == (True, 4.0, 2.5)


def test_cgroup_v1_limits_and_unlimited_sentinels(tmp_path: Path) -> None:
    """cgroup v1: memory.limit_in_bytes and cfs quota/period; ≈2^63 and -1 mean unlimited."""
    write(
        tmp_path,
        "/proc/self/cgroup",
        "12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n",
    )
    write(tmp_path, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    write(tmp_path, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", f"{2 * GIB}\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    limits = memory.container_limits(ctx(tmp_path), ram_bytes=64 * GIB)
    assert (limits.in_container, limits.memory_limit_gb, limits.cpu_quota) == (True, 2.0, 1.5)


def test_no_container_no_limits(tmp_path: Path) -> None:
    """A bare host: unlimited v1 cgroups, no markers → not in a container, null limits."""
    write(tmp_path, "/proc/self/cgroup", "4:memory:/user.slice\n2:cpu,cpuacct:/user.slice\n")
    write(tmp_path, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    write(tmp_path, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    limits = memory.container_limits(ctx(tmp_path), ram_bytes=16 * GIB)
    assert (limits.in_container, limits.memory_limit_gb, limits.cpu_quota) == (False, None, None)
    assert limits.usable_cpus is None or limits.usable_cpus >= 1


def test_memory_limit_above_ram_is_no_limit_and_markers_count(tmp_path: Path) -> None:
    """A v2 limit above host RAM binds nothing; /.dockerenv still marks the container."""
    write(tmp_path, "/proc/self/cgroup", "0::/\n")
    write(tmp_path, "/sys/fs/cgroup/cgroup.controllers", "memory\n")
    write(tmp_path, "/sys/fs/cgroup/memory.max", f"{128 * GIB}\n")
    write(tmp_path, "/.dockerenv", "")
    limits = memory.container_limits(ctx(tmp_path), ram_bytes=32 * GIB)
    assert (limits.in_container, limits.memory_limit_gb) == (True, None)


def test_kubernetes_env_marks_container(tmp_path: Path) -> None:
    """KUBERNETES_SERVICE_HOST alone marks the process as containerised."""
    c = ctx(tmp_path)
    c.env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert memory.container_limits(c, ram_bytes=GIB).in_container is True


# --------------------------------------------------------------------------- CPU


def test_cpu_model_from_proc_cpuinfo(tmp_path: Path) -> None:
    """x86: the first 'model name' line, deduplicated across CPUs."""
    line = "model name\t: AMD EPYC 9654 96-Core Processor\n"
    write(tmp_path, "/proc/cpuinfo", f"processor\t: 0\n{line}\nprocessor\t: 1\n{line}")
    assert cpu.cpu_model(ctx(tmp_path)) == "AMD EPYC 9654 96-Core Processor"


def test_cpu_model_arm_falls_back_to_lscpu(tmp_path: Path) -> None:
    """ARM cpuinfo has no model name; lscpu decodes it (one block per big.LITTLE type). The
    lscpu text is a sample in its documented format (no ARM board here)."""
    write(tmp_path, "/proc/cpuinfo", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n")
    lscpu = (
        "Architecture:          aarch64\n"
        "Vendor ID:             ARM\n"
        "  Model name:          Cortex-A76\n"
        "    Model:             1\n"
        "  Model name:          Cortex-A55\n"
    )
    c = ProbeContext(root=tmp_path, runner=runner_for({("lscpu",): lscpu}), env={})
    c.system = "Linux"
    assert cpu.cpu_model(c) == "Cortex-A76 + Cortex-A55"


def test_cpu_model_unknown_is_none_with_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cpuinfo, no lscpu, platform.processor() only the architecture → None plus an issue."""
    monkeypatch.setattr(platform, "processor", lambda: "x86_64")
    c = ctx(tmp_path)
    assert cpu.cpu_model(c) is None
    (issue,) = c.issues
    assert issue.probe == "cpu.model" and "lscpu is not on PATH" in issue.reason


def test_cpu_model_macos_sysctl(tmp_path: Path) -> None:
    """macOS: sysctl machdep.cpu.brand_string (sample output; no Mac here)."""
    c = ProbeContext(
        root=tmp_path,
        runner=runner_for({("sysctl", "-n", "machdep.cpu.brand_string"): "Apple M4 Max\n"}),
        system="Darwin",
        env={},
    )
    assert cpu.cpu_model(c) == "Apple M4 Max"


def test_board_model_from_devicetree(tmp_path: Path) -> None:
    """ARM boards name themselves in the devicetree, NUL-terminated."""
    write(tmp_path, "/sys/firmware/devicetree/base/model", "Raspberry Pi 5 Model B Rev 1.0\x00")
    assert cpu.board_model(ctx(tmp_path)) == "Raspberry Pi 5 Model B Rev 1.0"
    assert cpu.board_model(ctx(tmp_path / "empty")) is None


# --------------------------------------------------------------------------- OS / versions


def test_runner_version_from_checkout_and_git_failure(tmp_path: Path) -> None:
    """A checkout adds +<git describe>; when git fails the plain version plus an issue."""
    real = ProbeContext(root=tmp_path, system="Linux", env={})
    version = system.runner_version(real)
    assert version.startswith(__version__ + "+"), version
    broken = ctx(tmp_path)
    assert system.runner_version(broken) == __version__
    assert broken.issues[0].probe == "software.runner_version"


def test_macos_name_from_sw_vers(tmp_path: Path) -> None:
    """sw_vers wins over platform.mac_ver() (which may say 10.16); sample output, no Mac here."""
    outputs = {("sw_vers", "-productVersion"): "15.1\n", ("sw_vers", "-buildVersion"): "24B83\n"}
    c = ProbeContext(root=tmp_path, runner=runner_for(outputs), system="Darwin", env={})
    assert system.os_name(c) == "macOS 15.1 (24B83)"


def test_linux_os_and_kernel_are_real_values(tmp_path: Path) -> None:
    """On this Linux host: the os-release pretty name and platform.release()."""
    c = ctx(tmp_path)
    name = system.os_name(c)
    assert name and name == platform.freedesktop_os_release().get("PRETTY_NAME", name)
    assert system.kernel_version(c) == platform.release()
    assert system.python_version() == platform.python_version()


# --------------------------------------------------------------------------- tools


def test_run_tool_success_missing_failure_and_timeout() -> None:
    """The one runner: stdout on success, reasons for missing/failed/slow tools."""
    assert run_tool([sys.executable, "-c", "print('hi')"]) == "hi\n"
    with pytest.raises(ToolFailure) as missing:
        run_tool(["bakeoff-no-such-tool-xyz"])
    assert missing.value.missing and "not on PATH" in missing.value.reason
    with pytest.raises(ToolFailure, match="exited with status 3: boom"):
        run_tool([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    with pytest.raises(ToolFailure, match=r"did not finish within 0\.2 s") as slow:
        run_tool([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
    assert not slow.value.missing


def test_caching_runner_runs_each_command_once() -> None:
    """Repeated identical command lines (and their failures) hit the tool once."""
    calls: list[tuple[str, ...]] = []

    def run(argv: Sequence[str]) -> str:
        calls.append(tuple(argv))
        if argv[0] == "bad":
            raise ToolFailure("bad failed")
        return "out"

    runner = CachingRunner(run)
    assert runner(["good", "x"]) == runner(["good", "x"]) == "out"
    for _ in range(2):
        with pytest.raises(ToolFailure):
            runner(["bad"])
    assert calls == [("good", "x"), ("bad",)]


def test_scrub_removes_home_path() -> None:
    """Tool error text that mentions the home folder is shown with '~'."""
    assert str(Path.home()) not in scrub(f"cannot open {Path.home()}/x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("81920 MiB", 81920 * 1024**2),
        ("48 GB", 48 * GIB),
        ({"value": 196592, "unit": "MB"}, 196592 * 1024**2),
        (17163091968, 17163091968),
        ("N/A", None),
        ("[N/A]", None),
        ("", None),
        ("lots", None),
    ],
)
def test_parse_bytes(value: object, expected: int | None) -> None:
    """Units and sentinels from nvidia-smi, amd-smi and system_profiler."""
    assert parse_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("300.00 W", 300.0), ("16x", 16.0), ("Gen 5", 5.0), ("Not Supported", None), (None, None)],
)
def test_parse_number(value: object, expected: float | None) -> None:
    """Numbers with units; sentinels become None, never 0 or ''."""
    assert parse_number(value) == expected
