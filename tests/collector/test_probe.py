"""The real host probe on this (CPU-only) machine, the CLI, privacy, identity, base deps."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
from click.testing import CliRunner

from bakeoff.cli import main
from bakeoff.resources import load_schema
from collector.errors import ConfigError, IdentityError
from collector.models import Hardware
from collector.probe import format_table, load_publisher_id, load_system_id, probe_host

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point XDG_CONFIG_HOME at tmp_path so the real ~/.config is never touched."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("BAKEOFF_SYSTEM_ID", raising=False)
    return tmp_path


def validate(data: Any) -> Hardware:
    """Validate against the checked-in JSON Schema and the pydantic model."""
    schema = load_schema("hardware")
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert not errors, [e.message for e in errors]
    return Hardware.model_validate(data)


def private_strings() -> list[str]:
    """What must never appear in probe output on this machine.

    Host and user names shorter than 3 characters (this sandbox's host is "vm") would match
    ordinary words, so they are checked only from 3 characters on.
    """
    found = [str(Path.home())]
    found += [s for s in (socket.gethostname(), getpass.getuser()) if len(s) >= 3]
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == psutil.AF_LINK and address.address.strip("0:-"):
                found.append(address.address.lower())
    return [s for s in found if s and s != "/"]


# --------------------------------------------------------------------------- real probe


def test_real_probe_validates_and_finds_no_gpu() -> None:
    """The real probe on this CPU-only host: valid block, no GPUs, and a 'gpu' issue saying so."""
    hw = probe_host()
    data = hw.model_dump(mode="json")
    validate(data)
    assert hw.gpus == []
    assert any(i.probe == "gpu" and "no GPU found" in i.reason for i in hw.probe_issues)
    assert UUID4.match(hw.system_hardware.system_id)
    assert hw.system_hardware.ram_total_gb is not None and hw.system_hardware.ram_total_gb > 0
    assert hw.system_hardware.cpu_threads is not None and hw.system_hardware.cpu_threads >= 1
    assert hw.system_software.python_version.startswith(f"{sys.version_info[0]}.")
    assert hw.system_software.cuda_version is None
    assert all(issue.reason.strip() for issue in hw.probe_issues)


def test_real_probe_leaks_nothing_private() -> None:
    """Neither host name, user name, home path nor any MAC appears in the JSON or the table."""
    hw = probe_host()
    text = json.dumps(hw.model_dump(mode="json")).lower() + format_table(hw).lower()
    for secret in private_strings():
        assert secret.lower() not in text, f"private value leaked: {secret!r}"


def test_publisher_id_flag_is_recorded() -> None:
    """The flag's publisher id ends up in system_hardware."""
    assert probe_host(publisher_id="lab-7").system_hardware.publisher_id == "lab-7"


# --------------------------------------------------------------------------- CLI


def test_cli_probe_json_validates(isolated_config: Path) -> None:
    """`bakeoff probe --json` prints one JSON block valid against hardware.schema.json."""
    result = CliRunner().invoke(main, ["probe", "--json", "--publisher-id", "me-lab"])
    assert result.exit_code == 0, result.output
    hw = validate(json.loads(result.output))
    assert hw.system_hardware.publisher_id == "me-lab"
    # The id the CLI created is the stored one.
    stored = (isolated_config / "bakeoff" / "system_id").read_text().strip()
    assert hw.system_hardware.system_id == stored


def test_cli_probe_prints_table() -> None:
    """`bakeoff probe` prints the table with every section."""
    result = CliRunner().invoke(main, ["probe"])
    assert result.exit_code == 0, result.output
    for heading in ("System", "Software", "GPUs", "Probe issues"):
        assert re.search(rf"^{heading}$", result.output, re.MULTILINE), heading
    assert "none found" in result.output


def test_cli_probe_reports_corrupt_id_file_and_exits_1(isolated_config: Path) -> None:
    """A corrupt system_id file is one clear error on stderr, exit status 1, no traceback."""
    path = isolated_config / "bakeoff" / "system_id"
    path.parent.mkdir(parents=True)
    path.write_text("garbage\n")
    result = CliRunner().invoke(main, ["probe", "--json"])
    assert result.exit_code == 1
    assert "system_id" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------- system_id


def test_system_id_is_created_once_with_mode_0600(isolated_config: Path) -> None:
    """Two calls give the same uuid4; the file is private (0600) and holds exactly that id."""
    first = load_system_id()
    second = load_system_id()
    assert first == second and UUID4.match(first)
    path = isolated_config / "bakeoff" / "system_id"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first
    assert [p.name for p in path.parent.iterdir()] == ["system_id"]  # no staging files left


def test_system_id_env_override(monkeypatch: pytest.MonkeyPatch, isolated_config: Path) -> None:
    """BAKEOFF_SYSTEM_ID wins (normalised to lower case) and creates no file."""
    value = str(uuid.uuid4())
    monkeypatch.setenv("BAKEOFF_SYSTEM_ID", value.upper())
    assert load_system_id() == value
    assert not (isolated_config / "bakeoff" / "system_id").exists()


@pytest.mark.parametrize("bad", ["not-a-uuid", str(uuid.uuid1()), ""])
def test_system_id_env_override_must_be_uuid4(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """A malformed override (or a uuid1, which embeds a MAC) is refused with a fix hint."""
    monkeypatch.setenv("BAKEOFF_SYSTEM_ID", bad)
    with pytest.raises(IdentityError, match=r"BAKEOFF_SYSTEM_ID.*uuid4"):
        load_system_id()


def test_corrupt_system_id_file_is_an_error_and_left_alone(isolated_config: Path) -> None:
    """A corrupt file raises IdentityError naming the file and the fix; it is not rewritten."""
    path = isolated_config / "bakeoff" / "system_id"
    path.parent.mkdir(parents=True)
    path.write_text("12345-corrupt\n")
    with pytest.raises(IdentityError) as info:
        load_system_id()
    message = str(info.value)
    assert str(path) in message and "delete" in message and "BAKEOFF_SYSTEM_ID" in message
    assert path.read_text() == "12345-corrupt\n"


def test_unreadable_system_id_file_is_an_error(isolated_config: Path) -> None:
    """A system_id path that cannot be read (here a directory, unreadable even for root)."""
    path = isolated_config / "bakeoff" / "system_id"
    path.mkdir(parents=True)
    with pytest.raises(IdentityError, match="cannot read the system_id file"):
        load_system_id()
    assert path.is_dir()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads 0000 files")
def test_system_id_file_without_permission(isolated_config: Path) -> None:
    """A file without read permission raises IdentityError (not run as root)."""
    path = isolated_config / "bakeoff" / "system_id"
    path.parent.mkdir(parents=True)
    path.write_text(str(uuid.uuid4()))
    path.chmod(0)
    with pytest.raises(IdentityError, match="cannot read"):
        load_system_id()


def test_system_id_error_hides_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default ~/.config location, messages show '~', not the home path."""
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".config" / "bakeoff" / "system_id"
    path.parent.mkdir(parents=True)
    path.write_text("bad")
    with pytest.raises(IdentityError) as info:
        load_system_id()
    assert "~/.config/bakeoff/system_id" in str(info.value)
    assert str(tmp_path) not in str(info.value)


# --------------------------------------------------------------------------- publisher_id


def test_publisher_id_sources(isolated_config: Path) -> None:
    """Flag first, then config.toml, else None."""
    assert load_publisher_id() is None
    config = isolated_config / "bakeoff" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('publisher_id = "from-file"\n')
    assert load_publisher_id() == "from-file"
    assert load_publisher_id("from-flag") == "from-flag"
    config.write_text('other = 1\npublisher_id = "  "\n')
    assert load_publisher_id() is None


@pytest.mark.parametrize("text", ["publisher_id = ", "publisher_id = 7\n"])
def test_bad_config_file_is_a_config_error(isolated_config: Path, text: str) -> None:
    """Malformed TOML or a non-string publisher_id raises ConfigError naming the file."""
    config = isolated_config / "bakeoff" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_publisher_id()


# --------------------------------------------------------------------------- base deps only

_BLOCKED = ["duckdb", "pyarrow", "mkdocs", "plotly", "numpy", "scipy", "rouge_score", "llama_cpp"]

_BASE_ONLY_SCRIPT = """
import json, sys
BLOCKED = set(sys.argv[1].split(","))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked for this test: {name}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
for name in BLOCKED:
    sys.modules.pop(name, None)
try:
    import numpy  # the blocker must work, or this test proves nothing
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("blocker failed")

from click.testing import CliRunner
from bakeoff.cli import main

runner = CliRunner()
result = runner.invoke(main, ["probe", "--json"])
assert result.exit_code == 0, (result.output, result.exception)
json.loads(result.output)
# --bench without numpy: one-core copy through the standard library, the rest explained
result = runner.invoke(main, ["probe", "--bench", "--json"])
assert result.exit_code == 0, (result.output, result.exception)
bench = json.loads(result.stdout)["benchmarks"]
measured = [r for r in bench["results"] if r["median"] is not None]
assert [(r["kernel"], r["scope"]) for r in measured] == [("copy", "one_core")], bench
assert "standard library" in measured[0]["method"]
assert all("bakeoff[bench]" in r["reason"] for r in bench["results"] if r["median"] is None)
result = runner.invoke(main, ["--help"])
assert result.exit_code == 0 and "probe" in result.output and "run" in result.output
result = runner.invoke(main, ["run", "--help"])
assert result.exit_code == 0, (result.output, result.exception)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
print("BASE-ONLY-OK")
"""


def test_collector_runs_with_base_dependencies_only(isolated_config: Path) -> None:
    """probe --json, probe --bench, --help and run --help work without the optional deps."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(isolated_config)}
    proc = subprocess.run(
        [sys.executable, "-c", _BASE_ONLY_SCRIPT, ",".join(_BLOCKED)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BASE-ONLY-OK" in proc.stdout
