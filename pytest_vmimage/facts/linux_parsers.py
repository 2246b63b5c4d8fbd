"""Pure parsers of Linux collection sections whose meaning the checks need (LNX-004, 012,
014, 016, 021, 023, 026). Each takes section text and returns plain data, or raises
FactError when the text says the thing could not be looked at. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pytest_vmimage.facts.image_files import ALL_HISTORIES, HistoryEntry, history_kind, is_dhcp_lease
from pytest_vmimage.verdict import FactError

# -- systemd units (agent, sshd, network_services) ---------------------------------


def parse_unit_states(text: str, where: str) -> dict[str, tuple[str, str]]:
    """``unit NAME ENABLED ACTIVE`` lines -> {name: (enabled, active)}. ENABLED is empty for
    a unit that does not exist; ACTIVE is always printed by ``systemctl is-active``, so an
    empty one (or a ``no systemctl`` line) means the states could not be read."""
    if re.search(r"^no systemctl$", text, re.M):
        raise FactError(f"{where}: systemctl is not installed, so unit states cannot be read")
    units: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        words = line.rstrip().split(" ")
        if len(words) >= 2 and words[0] == "unit":
            enabled = words[2] if len(words) > 2 else ""
            active = words[3] if len(words) > 3 else ""
            if not active:
                raise FactError(f"{where}: systemctl is-active printed nothing for {words[1]}")
            units[words[1]] = (enabled, active)
    if not units:
        raise FactError(f"{where}: no unit states were printed")
    return units


# -- package index and pending updates (LNX-021) ------------------------------------


@dataclass
class PendingUpdates:
    """What the package manager said, offline, about pending updates."""

    manager: str  # apt | dnf | yum | zypper
    status: int  # the manager's exit status (zypper's 100-103 "found patches" count as 0)
    index_times: list[int] = field(default_factory=list)  # mtimes of the package index files
    lists: list[str] = field(default_factory=list)  # apt: package list files
    security: list[str] = field(default_factory=list)  # packages/patches from the security repo
    errors: list[str] = field(default_factory=list)  # the manager's error lines
    index_files: list[tuple[int, str]] = field(default_factory=list)  # (mtime, path)
    kept_back: list[str] = field(default_factory=list)  # apt: held or pinned packages not upgraded

    def newest_index(self) -> int | None:
        return max(self.index_times) if self.index_times else None

    def security_index(self) -> int | None:
        """When the security repository's own index was fetched (apt), else the newest index."""
        if self.manager != "apt":
            return self.newest_index()
        times = [mtime for mtime, path in self.index_files if "security" in path.rsplit("/", 1)[-1]]
        return max(times) if times else None


def parse_pending_updates(text: str) -> PendingUpdates:
    """The ``security_updates`` section. FactError when no manager or status is in it."""
    lines = text.splitlines()
    manager = next(
        (line.split()[1] for line in lines if line.startswith("manager ") and len(line.split()) == 2), ""
    )
    if not manager:
        raise FactError("no supported package manager (apt, dnf, yum, zypper) found")
    codes = [line.split()[1] for line in lines if re.fullmatch(r"rc -?\d+", line)]
    if not codes:
        raise FactError(f"the {manager} query printed no exit status: its output was cut short or garbled")
    status = int(codes[-1])
    if manager == "zypper" and 100 <= status <= 103:
        status = 0
    found = PendingUpdates(manager, status)
    for line in lines:
        words = line.split()
        if line.startswith("index ") and len(words) >= 3 and words[1].isdigit():
            found.index_times.append(int(words[1]))
            found.index_files.append((int(words[1]), words[2]))
        elif line.startswith("list ") and len(words) >= 2:
            found.lists.append(words[1])
        elif line.startswith(("E: ", "Err:", "Error:", "error:")):
            found.errors.append(line)
    body = [
        line
        for line in lines
        if not line.startswith(("manager ", "index ", "list ", "lists ", "source", "rc "))
    ]
    if manager == "apt":
        block = ""
        for line in body:
            if line.startswith("The following"):
                block = line
            elif line.startswith("  ") and ("kept back" in block or "held" in block):
                found.kept_back += line.split()
            elif not line.startswith("  "):
                block = ""
        found.security = [
            line.split()[1]
            for line in body
            if line.startswith("Inst ") and len(line.split()) > 1 and re.search(r"security", line, re.I)
        ]
    elif manager in ("dnf", "yum"):
        found.security = [
            line.split()[-1] for line in body if line.split() and re.search(r"/Sec\.|security", line, re.I)
        ]
    else:  # zypper: "Repository | Name | Category | Severity | Interactive | Status | Summary"
        found.security = [
            line.split("|")[1].strip()
            for line in body
            if line.count("|") >= 3 and "security" in line and "needed" in line
        ]
    return found


# -- apt-cache policy (LNX-004) -------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    package: str
    installed: str  # "(none)" when not installed
    candidate: str  # "(none)" when the repository offers none


def parse_apt_policy(text: str) -> list[PolicyRow]:
    """``apt-cache policy PKG...`` -> one row per package that apt knows."""
    rows = []
    for match in re.finditer(r"^(\S+):\n\s+Installed:\s*(\S+)\n\s+Candidate:\s*(\S+)", text, re.M):
        rows.append(PolicyRow(*match.groups()))
    return rows


def upstream_version(package_version: str) -> str:
    """``1:2.9.1.1-1ubuntu2`` -> ``2.9.1.1``: no epoch, no distro revision."""
    return re.sub(r"^\d+:", "", package_version).split("-")[0]


# -- swap (LNX-012) ----------------------------------------------------------------------


def parse_active_swaps(text: str) -> list[str]:
    """``/proc/swaps`` -> the active swap devices and files. FactError without its header."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Filename"):
        raise FactError("/proc/swaps was not read in full (its header line is missing)")
    return [line.split()[0] for line in lines[1:] if line.split()]


# -- histories (LNX-023) -----------------------------------------------------------------


@dataclass(frozen=True)
class HomeFile:
    """A history or authorized_keys file found in a home directory."""

    entry: HistoryEntry
    mtime: int
    owner: str


def parse_home_files(text: str) -> list[HomeFile]:
    """The ``home_files`` section -> its history files (authorized_keys are not histories).

    ``SIZE MTIME OWNER PATH`` is the ``stat`` of the file itself; a symlink also has a
    ``link<TAB>TARGET_SIZE<TAB>PATH<TAB>TARGET`` line (``-``: target not resolved)."""
    links: dict[str, tuple[int | None, str]] = {}
    stats: dict[str, tuple[int, int, str]] = {}
    for line in text.splitlines():
        if line.startswith("link\t"):
            parts = line.split("\t")
            if len(parts) != 4:
                raise FactError(f"home files: garbled symlink line {line[:120]!r}")
            size = int(parts[1]) if parts[1].isdigit() else None
            links[parts[2]] = (size, parts[3])
            continue
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
            stats[parts[3]] = (int(parts[0]), int(parts[1]), parts[2])
        elif line.strip() and not line.startswith(("usable ", "homes ")):
            raise FactError(f"home files: unexpected line {line[:120]!r}")
    found = []
    for path, (size, mtime, owner) in stats.items():
        if "/.ssh/authorized_keys" in path:
            continue
        if path in links:
            target_size, target = links[path]
            entry = HistoryEntry(path, target_size, "symlink", target)
        else:
            entry = HistoryEntry(path, size)
        found.append(HomeFile(entry, mtime, owner))
    for path in set(links) - set(stats):
        raise FactError(f"home files: {path} is a symlink but its stat line is missing")
    return found


def history_kind_of(path: str) -> str | None:
    """``shell``/``other``/None for an absolute path in a home directory."""
    for name in ALL_HISTORIES:
        if path.endswith("/" + name):
            return history_kind(name)
    return None


# -- generalization residue (LNX-026) --------------------------------------------------


@dataclass
class Residue:
    hostname_file: str = ""
    hostname_now: str = ""
    markers: list[int] = field(default_factory=list)  # mtimes of provisioning markers
    leases: list[tuple[int, str]] = field(default_factory=list)  # (mtime, path) of DHCP leases
    host_keys: list[tuple[int, str]] = field(default_factory=list)


def parse_residue(text: str) -> Residue:
    found = Residue()
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        words = line.split(" ", 3)
        if key in ("hostname_file", "hostname_now"):
            setattr(found, key, rest.strip().strip("\"'"))  # EL6: HOSTNAME="name" in sysconfig
        elif key == "marker" and len(words) >= 3 and words[1].isdigit():
            found.markers.append(int(words[1]))
        elif key == "lease" and len(words) == 4 and words[1].isdigit():
            if is_dhcp_lease(words[3]):
                found.leases.append((int(words[1]), words[3]))
        elif key == "hostkey" and len(words) >= 3 and words[1].isdigit():
            found.host_keys.append((int(words[1]), words[2]))
    if not text.startswith("hostname_file"):
        raise FactError("the generalization residue section is incomplete (no hostname line)")
    return found


# -- kernel, initramfs, agent interpreter (LNX-006/007/008) -----------------------------

HV_MODULES = ("hv_vmbus", "hv_storvsc", "hv_netvsc")


def parse_kernel_modules(text: str) -> dict[str, str]:
    """``hv_x builtin=N module=N`` lines -> {module: "built in" | "module" | "absent"};
    FactError when a module's line is missing (the output is incomplete)."""
    state: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(hv_\w+) builtin=(\d*) module=(\d*)", line.strip())
        if match:
            builtin, module = match.group(2) not in ("", "0"), match.group(3) not in ("", "0")
            state[match.group(1)] = "built in" if builtin else ("module" if module else "absent")
    missing = [m for m in HV_MODULES if m not in state]
    if missing:
        raise FactError(f"the kernel module listing is incomplete (no line for {', '.join(missing)})")
    return state


def parse_initramfs_modules(text: str) -> set[str]:
    """``image PATH`` then the hv_*.ko names in it -> the module names."""
    if not re.search(r"^image /", text, re.M):
        raise FactError("no initramfs image found for the running kernel in /boot")
    return set(re.findall(r"^(hv_[a-z_]+)\.ko$", text, re.M))


@dataclass(frozen=True)
class PathPython:
    """The Python LISA's verify_python_version runs: ``python3``, else ``python`` on PATH."""

    command: str  # python3 | python | "" when neither ran
    path: str
    version: str
    tried: tuple[str, ...] = ()  # what did not answer before it ("python3 absent", ...)


_PATH_PYTHON = re.compile(r"(python3?) (?:(absent)|(/\S+) failed (\d+)|(/\S+) (\d+\.\d+(?:\.\d+)?\S*))")


def parse_path_python(text: str) -> PathPython:
    """The ``python3 …`` / ``python …`` lines of the ``agent_python`` section
    (``CMD PATH VERSION``, ``CMD PATH failed STATUS``, ``CMD absent``). A missing or
    garbled line is a FactError: python3's version was not read (an older recording,
    output cut short), never "no python3"."""
    lines = {line.split(" ", 1)[0]: line for line in text.splitlines() if line.startswith(("python3 ", "python "))}
    tried: list[str] = []
    for command in ("python3", "python"):
        line = lines.get(command)
        if line is None:
            after = f" after '{tried[-1]}'" if tried else ""
            raise FactError(
                f"the agent_python section has no '{command}' line{after}: the version of the {command} on PATH "
                "was not collected (facts recorded before this part was added, or output cut short)"
            )
        match = _PATH_PYTHON.fullmatch(line.strip())
        if not match:
            raise FactError(f"the agent_python section's {command} line is garbled: {line[:120]!r}")
        if match.group(5):
            return PathPython(command, match.group(5), match.group(6), tuple(tried))
        tried.append(
            f"{command} absent" if match.group(2) else f"{command} at {match.group(3)} failed (exit {match.group(4)})"
        )
    return PathPython("", "", "", tuple(tried))


def parse_agent_python(text: str) -> dict[str, str]:
    """``interpreter PATH`` / ``version X`` / ``pyasn1 X`` lines -> {key: value}."""
    result = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        result[key] = value.strip()
    return result
