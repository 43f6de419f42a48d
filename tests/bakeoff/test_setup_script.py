"""scripts/setup.sh says up front that the 'local' extra needs a C/C++ compiler.

The script runs for real (bash) on a copy of itself, with a PATH of stand-ins: a ``python3``
that makes a ``.venv/bin/python`` which only records its arguments (a real install takes
minutes), and compilers that exist or not.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PYTHON = """#!/bin/sh
# python3 -m venv .venv: make a .venv/bin/python that records its arguments.
mkdir -p .venv/bin
cat > .venv/bin/python <<'STUB'
#!/bin/sh
echo "$@" >> .venv/calls
[ "$1" = "-c" ] && [ -f .venv/has-llama ] && exit 0
[ "$1" = "-c" ] && exit 1
exit 0
STUB
chmod +x .venv/bin/python
"""


def _setup(tmp_path: Path, *, compilers: bool) -> tuple[Path, Path]:
    repo, bin_dir = tmp_path / "repo", tmp_path / "bin"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", repo / "scripts" / "setup.sh")
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "mkdir", "cat", "chmod"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").write_text(_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    if compilers:
        for tool in ("cc", "c++"):
            (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
            (bin_dir / tool).chmod(0o755)
    return repo, bin_dir


def _run(repo: Path, bin_dir: Path, extras: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "bash"), str(repo / "scripts" / "setup.sh"), extras],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_local_extra_without_a_compiler_is_refused_before_anything(tmp_path: Path) -> None:
    repo, bin_dir = _setup(tmp_path, compilers=False)
    proc = _run(repo, bin_dir, "dev,local")
    assert proc.returncode == 1
    assert "needs a C and a C++" in proc.stderr and "apt-get install build-essential" in proc.stderr
    assert "C none, C++ none" in proc.stderr
    assert not (repo / ".venv").exists()


@pytest.mark.parametrize(
    ("extras", "compilers", "built"),
    [("dev,local", True, False), ("dev", False, False), ("local", False, True)],
    ids=["compiler-present", "no-local-extra", "llama-cpp-already-installed"],
)
def test_setup_goes_on_when_no_build_is_needed_or_it_can_build(
    tmp_path: Path, extras: str, compilers: bool, built: bool
) -> None:
    repo, bin_dir = _setup(tmp_path, compilers=compilers)
    if built:
        subprocess.run(
            [str(bin_dir / "python3"), "-m", "venv", ".venv"], cwd=repo, check=True, timeout=30
        )
        (repo / ".venv" / "has-llama").write_text("")
    proc = _run(repo, bin_dir, extras)
    assert proc.returncode == 0, proc.stderr
    assert "compiler" not in proc.stderr
    calls = (repo / ".venv" / "calls").read_text()
    assert f"-m pip install -q -e .[{extras}]" in calls
