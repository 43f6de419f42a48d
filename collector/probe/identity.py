"""Who and which machine: the random ``system_id`` and the configured ``publisher_id``.

``system_id`` is a uuid4 (never uuid1, which embeds a MAC address) created once in
``$XDG_CONFIG_HOME/bakeoff/system_id`` and never regenerated: every run from this host must carry
the same id, so a corrupt file is an error for the user to resolve, not something to paper
over with a fresh id. ``BAKEOFF_SYSTEM_ID`` overrides it for containers whose home is ephemeral.
"""

from __future__ import annotations

import os
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path

from bakeoff.jsonio import write_atomic
from collector.errors import ConfigError, IdentityError
from collector.probe.tools import display_path

ENV_SYSTEM_ID = "BAKEOFF_SYSTEM_ID"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/bakeoff``, defaulting to ``~/.config/bakeoff``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "bakeoff"


def _parse_uuid4(text: str) -> str | None:
    """The canonical lower-case form of a uuid4 string, or None when it is not one."""
    try:
        value = uuid.UUID(text.strip())
    except ValueError:
        return None
    return str(value) if value.version == 4 else None


def load_system_id(env: Mapping[str, str] | None = None) -> str:
    """Return this host's system_id, creating it on first use.

    Raises IdentityError when ``BAKEOFF_SYSTEM_ID`` is not a uuid4, or the id file exists but
    cannot be read or does not hold a uuid4 (the file is then left untouched).
    """
    env = os.environ if env is None else env
    override = env.get(ENV_SYSTEM_ID)
    if override is not None:
        parsed = _parse_uuid4(override)
        if parsed is None:
            raise IdentityError(
                f"{ENV_SYSTEM_ID}={override!r} is not a uuid4; set it to a value like "
                f"{uuid.uuid4()} (python -c 'import uuid; print(uuid.uuid4())') or unset it "
                "to use the id file."
            )
        return parsed

    path = config_dir(env) / "system_id"
    existing = _read_id_file(path)
    if existing is not None:
        return existing
    return _create_id_file(path)


def _read_id_file(path: Path) -> str | None:
    """The id stored in ``path``; None when the file does not exist yet."""
    shown = display_path(path)
    fix = (
        f"delete {shown} to create a new id (runs from this host will then get a new system_id), "
        f"or set {ENV_SYSTEM_ID} to the id this host should keep"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise IdentityError(f"cannot read the system_id file {shown} ({reason}); {fix}.") from None
    parsed = _parse_uuid4(text)
    if parsed is None:
        raise IdentityError(
            f"the system_id file {shown} does not hold a uuid4 (it may be corrupt); {fix}."
        )
    return parsed


def _create_id_file(path: Path) -> str:
    """Create ``path`` with a fresh uuid4 without ever replacing an id another process wrote."""
    new_id = str(uuid.uuid4())
    staging = path.with_name(f".system_id.{os.getpid()}.new")
    try:
        write_atomic(staging, new_id + "\n", mode=0o600)
        try:
            # link() fails when the target exists, so two first runs racing keep one id.
            os.link(staging, path)
        except FileExistsError:
            pass
        except OSError:
            # Filesystems without hard links: a plain atomic rename, racing only on first run.
            if not path.exists():
                os.replace(staging, path)
    except OSError as exc:
        raise IdentityError(
            f"cannot create the system_id file {display_path(path)} ({exc.strerror or exc}); "
            f"make its folder writable, point XDG_CONFIG_HOME elsewhere, or set {ENV_SYSTEM_ID}."
        ) from None
    finally:
        staging.unlink(missing_ok=True)
    stored = _read_id_file(path)
    assert stored is not None  # just written or written by a concurrent first run
    return stored


def load_publisher_id(flag: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The publisher id from the flag, else ``config.toml`` (``publisher_id = "..."``), else None.

    Raises ConfigError when the config file is not valid TOML or ``publisher_id`` is not a string.
    """
    if flag is not None and flag.strip():
        return flag.strip()
    path = config_dir(env) / "config.toml"
    shown = display_path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f'{shown} is not valid TOML ({exc}); fix the file, e.g. publisher_id = "my-lab".'
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {shown} ({exc.strerror or exc}); fix its permissions or remove it."
        ) from None
    value = data.get("publisher_id")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(
            f'publisher_id in {shown} must be a string, e.g. publisher_id = "my-lab".'
        )
    return value.strip() or None
