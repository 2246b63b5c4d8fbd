"""What was tested: a short description of each target, for the report header.

Read only from facts the plugin already gathered (LinuxFacts, WindowsFacts,
DiskFacts) and, for a VHD file, its name, size and SHA-256. A value that was not
gathered or could not be read is "unknown (why)", never a guess.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

UNKNOWN = "unknown"


def _unknown(why: str) -> str:
    return f"{UNKNOWN} ({why})" if why else UNKNOWN


def _try(getter, what: str) -> str:
    try:
        value = getter()
    except Exception as exc:  # a fact that could not be read: say so, never guess
        return _unknown(f"{what}: {str(exc)[:120]}")
    return str(value) if value not in (None, "") else _unknown(f"{what} not reported")


def describe_linux(facts, label: str) -> dict[str, str]:
    """Distribution, kernel, architecture and agent version of a live Linux VM."""

    def distribution() -> str:
        release = facts.os_release
        return release.get("PRETTY_NAME") or " ".join(
            filter(None, [release.get("NAME"), release.get("VERSION_ID")])
        )

    def uname(index: int):
        def read() -> str:
            lines = facts.section("uname").splitlines()
            return lines[index].strip() if len(lines) > index else ""

        return read

    def agent() -> str:
        text = facts.section("agent_version")
        found = re.search(r"WALinuxAgent-([0-9][0-9.]*)", text)
        return found.group(1) if found else ""

    def disks() -> str:
        devices = facts.block_devices()
        whole = [
            d
            for d in devices.values()
            if d.kind == "disk"
            and d.size_bytes > 0
            and not d.name.startswith(("loop", "ram", "zram", "sr", "nbd"))
        ]
        return ", ".join(
            f"{d.name} {d.size_bytes / 2**30:.0f} GiB" for d in sorted(whole, key=lambda d: d.name)
        )

    return {
        "Distribution": _try(distribution, "os-release"),
        "Kernel": _try(uname(1), "uname -r"),
        "Architecture": _try(uname(0), "uname -m"),
        "AgentVersion": _try(agent, "waagent --version"),
        "Disks": _try(disks, "block devices"),
        "VmSize": _unknown(f"not reported by the VM; label {label}"),
    }


def describe_windows(facts, label: str) -> dict[str, str]:
    """Windows edition, version and architecture of a live Windows VM."""
    return {
        "Distribution": _try(lambda: facts.get("os", "caption"), "Win32_OperatingSystem.Caption"),
        "Kernel": _try(lambda: facts.get("os", "version"), "Win32_OperatingSystem.Version"),
        "Architecture": _try(lambda: facts.get("os", "os_architecture"), "OSArchitecture"),
        "AgentVersion": _unknown("not gathered on Windows"),
        "VmSize": _unknown(f"not reported by the VM; label {label}"),
    }


def describe_vhd(path: Path, disk_facts, disk_error, sha256: str) -> dict[str, str]:
    """A VHD file: name, size, checksum and the distribution its root file system shows."""
    try:
        size = f"{path.stat().st_size} bytes"
    except OSError as exc:
        size = _unknown(f"cannot stat: {exc.strerror}")
    if disk_facts is None:
        distribution = _unknown(f"the VHD could not be read: {disk_error}")
    elif disk_facts.root_fs.readable and disk_facts.root_fs.not_booted != "":
        read = disk_facts.root_fs.os_release.get("PRETTY_NAME", "no os-release")
        why = disk_facts.root_fs.not_booted or "not known to be the root the image boots"
        distribution = _unknown(f"{read} on a file system that may not be the root: {why}")
    elif disk_facts.root_fs.readable:
        release = disk_facts.root_fs.os_release
        distribution = release.get("PRETTY_NAME") or _unknown("no os-release in the root file system")
    else:
        distribution = _unknown(f"root file system not read: {disk_facts.root_fs.reason}")
    return {"File": path.name, "FileSize": size, "SHA256": sha256, "Distribution": distribution}


def file_sha256(path: Path, deadline_seconds: float = 3600.0) -> str:
    """SHA-256 of a file, or "unknown (why)": a read error or the deadline is never a checksum."""
    digest = hashlib.sha256()
    started = time.monotonic()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
                if time.monotonic() - started > deadline_seconds:
                    return _unknown(f"hashing stopped after {deadline_seconds:.0f} s")
    except OSError as exc:
        return _unknown(f"cannot read {path.name}: {exc.strerror or exc}")
    return digest.hexdigest()
