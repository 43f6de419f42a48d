"""OS name, kernel, Python and bakeoff versions.

* Linux: ``distro.name(pretty=True)`` (PRETTY_NAME) → ``platform.freedesktop_os_release()`` →
  ``platform.platform(terse=True)``. In a container this is the *image's* OS.
* macOS: ``sw_vers`` (``platform.mac_ver()`` can say 10.16 for old-SDK builds) → ``mac_ver``;
  ``distro`` would say "Darwin".
* Windows: ``platform.release()`` says "10" on Windows 11 before Python 3.12, so the build
  number decides (≥ 22000 ⇒ Windows 11).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence

import distro

from bakeoff import __version__
from bakeoff.resources import repo_root
from collector.guards import git_state
from collector.probe.tools import ProbeContext, ToolFailure, clean


def os_name(ctx: ProbeContext) -> str | None:
    """A human-readable OS name with version, or None with an ``os.name`` probe issue."""
    if ctx.system == "Darwin":
        found = _macos(ctx)
    elif ctx.system == "Windows":
        found = _windows()
    elif ctx.system == "Linux":
        found = _linux()
    else:
        found = None
    if found is None:
        found = clean(platform.platform(terse=True))
    if found is None:
        ctx.issue("os.name", "neither os-release, sw_vers nor platform named the OS")
    return found


def _linux() -> str | None:
    try:
        name = clean(distro.name(pretty=True))
    except (OSError, ValueError):
        name = None
    if name is not None:
        return name
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return None
    return clean(release.get("PRETTY_NAME")) or clean(release.get("NAME"))


def _macos(ctx: ProbeContext) -> str | None:
    try:
        version = clean(ctx.runner(["sw_vers", "-productVersion"]))
    except ToolFailure:
        version = clean(platform.mac_ver()[0])
    if version is None:
        return None
    try:
        build = clean(ctx.runner(["sw_vers", "-buildVersion"]))
    except ToolFailure:
        build = None
    # macOS has no separate GPU driver version; the build number stands in for it.
    return f"macOS {version}" + (f" ({build})" if build else "")


def _windows() -> str | None:
    release, version, _, _ = platform.win32_ver()
    getwinver = getattr(sys, "getwindowsversion", None)
    build = getwinver().build if getwinver is not None else None
    if build is not None and build >= 22000:
        release = "11"
    edition = clean(getattr(platform, "win32_edition", lambda: None)())
    parts = ["Windows", release or "", edition or "", f"(build {build})" if build else version]
    return clean(" ".join(p for p in parts if p))


def kernel_version(ctx: ProbeContext) -> str | None:
    """Kernel release (the host's, even in a container); Windows gives its NT version."""
    value = clean(platform.version() if ctx.system == "Windows" else platform.release())
    if value is None:
        ctx.issue("os.kernel", "platform reported no kernel release")
    return value


def python_version() -> str:
    """Python version plus the implementation when it is not CPython, e.g. '3.11.7'."""
    impl = platform.python_implementation()
    version = platform.python_version()
    return version if impl == "CPython" else f"{version} ({impl})"


def runner_version(ctx: ProbeContext) -> str:
    """bakeoff's version, plus ``+<describe>`` when run from a checkout.

    ``<describe>`` is ``collector.guards.git_state``'s: ``git describe --always`` with
    ``-dirty`` exactly when ``harness.git_dirty`` is true, so the two never disagree.
    """
    root = repo_root()
    if root is None:
        return __version__
    failures: list[str] = []

    def git(args: Sequence[str]) -> str | None:
        try:
            return ctx.runner(["git", "-C", str(root), *args])
        except ToolFailure as exc:
            failures.append(exc.reason)
            return None

    state = git_state(root, git)
    if state.describe is None:
        reason = failures[0] if failures else "no commit to describe"
        ctx.issue("software.runner_version", f"git failed in the checkout: {reason}")
        return __version__
    return f"{__version__}+{state.describe}"
