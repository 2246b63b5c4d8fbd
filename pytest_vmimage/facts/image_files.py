"""Rules about files inside a Linux image, shared by the live VM and the VHD reader.

The live collection script (``facts/linux.py``) and the offline root file system reader
(``facts/disk.py``) see the same files; these pure functions decide what a file *is*
(a shell history, a DHCP lease, a resolver stub, the agent's settings) so the two
sources can never disagree. No I/O here.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# Histories of interactive shells: any non-empty one is build residue (LNX-023, VHD-009).
SHELL_HISTORIES = (
    ".bash_history",
    ".zsh_history",
    ".history",
    ".sh_history",
    ".ash_history",
    ".ksh_history",
    ".local/share/fish/fish_history",
    ".zhistory",  # prezto / zim default HISTFILE
    ".mksh_history",
)
# Histories of other tools: left-over commands, a recommendation to delete.
OTHER_HISTORIES = (
    ".python_history",
    ".lesshst",
    ".mysql_history",
    ".psql_history",
    ".sqlite_history",
    ".node_repl_history",
    ".viminfo",
)
ALL_HISTORIES = SHELL_HISTORIES + OTHER_HISTORIES

# Symlink targets that store nothing: ``~/.bash_history -> /dev/null`` is a common way
# to keep a history empty, and is compliant.
NULL_TARGETS = ("/dev/null",)


def history_kind(relative_path: str) -> str | None:
    """``"shell"``, ``"other"`` or None for a path relative to a home directory."""
    relative_path = relative_path.lstrip("/")
    if relative_path in SHELL_HISTORIES:
        return "shell"
    if relative_path in OTHER_HISTORIES:
        return "other"
    return None


@dataclass(frozen=True)
class HistoryEntry:
    """One history file as seen (live via ``stat``, offline via the file system reader).

    ``kind`` is ``"file"``, ``"symlink"`` or ``"other"``; for a symlink ``target`` is the
    link text and ``size`` the size of what it points at when that was resolved
    (``None`` when it could not be).
    """

    path: str
    size: int | None
    kind: str = "file"
    target: str = ""


def history_stored_bytes(entry: HistoryEntry) -> int | None:
    """How many bytes of history the entry holds: 0 for a link to /dev/null, the
    resolved size otherwise; ``None`` when it could not be determined (an error, never 0)."""
    if entry.kind == "symlink":
        if entry.target in NULL_TARGETS:
            return 0
        return entry.size
    if entry.kind == "other":  # a device, fifo or socket stores nothing readable
        return 0
    return entry.size


# DHCP client lease files, by directory: name patterns (LNX-026, VHD-009).
LEASE_DIRS = {
    "/var/lib/dhcp": r"\.leases?$|^dhclient",
    "/var/lib/dhcp3": r"\.leases?$|^dhclient",
    "/var/lib/dhclient": r".",
    "/var/lib/NetworkManager": r"\.lease$",
    "/var/lib/wicked": r"^lease",
    "/var/lib/dhcpcd": r"\.lease6?$",
    "/var/lib/dhcpcd5": r"\.lease6?$",
    "/run/systemd/netif/leases": r".",
}


def is_dhcp_lease(path: str) -> bool:
    """Whether ``path`` is a DHCP lease file by where it lives and how it is named."""
    directory, _, name = path.rstrip("/").rpartition("/")
    pattern = LEASE_DIRS.get(directory)
    return bool(pattern and name and re.search(pattern, name))


def parse_waagent_conf(text: str) -> dict[str, str]:
    """``/etc/waagent.conf`` read as the agent reads it (``ConfigurationProvider.load``):
    ``Key=Value`` lines, ``#`` comments (whole-line or trailing) and blank lines ignored,
    double quotes and spaces around a value stripped (``"y"`` is ``y``), the last value of a
    key wins. Every line is read, as the agent does (a cut would drop the later values that
    win); the text is bounded where it is read: the live section by its output cap, the
    offline reader by its small-file limit, each an error when exceeded."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip().strip('" ').strip()
    return values


STUB_RESOLV_PREFIXES = ("/run/", "../run/", "../../run/", "/var/run/", "../var/run/")


def is_resolver_stub(target: str) -> bool:
    """A resolv.conf symlink that the resolver manages at run time: into /run
    (systemd-resolved, resolvconf, NetworkManager), systemd's static stub, or the old
    /etc/resolvconf/run link."""
    return (
        target.startswith(STUB_RESOLV_PREFIXES)
        or "/run/" in target
        or target.endswith("systemd/resolv.conf")
        or "/resolvconf/run/" in target
    )


# Home directories that hold no user files (system accounts' placeholders).
NO_HOME = ("/", "/nonexistent", "/dev/null", "/proc", "/sys", "/run", "/var/run")


def passwd_homes(text: str) -> dict[str, str]:
    """``/etc/passwd``: user name -> home directory, for accounts whose home can hold
    files (histories of build users live wherever their home is, not only /home). Every
    line is read (a cut would skip the later users' histories); the text is bounded where
    it is read."""
    homes: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not fields[0] or not fields[5].startswith("/"):
            continue
        home = "/" + "/".join(p for p in fields[5].split("/") if p)
        if home not in NO_HOME:
            homes.setdefault(fields[0], home)
    return homes


_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_shell_assignments(text: str, earlier: dict[str, str] | None = None) -> dict[str, str]:
    """``KEY=value`` lines as a shell would read them (quotes, ``$KEY`` of earlier lines)."""
    values: dict[str, str] = dict(earlier or {})
    for line in text.splitlines():
        match = _ASSIGN.match(line)
        if not match:
            continue
        key, raw = match.groups()
        try:
            words = shlex.split(raw, comments=True, posix=True)
        except ValueError:
            words = [raw.strip().strip("\"'")]
        value = " ".join(words)
        value = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: values.get(m.group(1), ""), value)
        values[key] = value.strip()
    return values
