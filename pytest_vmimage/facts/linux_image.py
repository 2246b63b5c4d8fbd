"""Linux facts read from a VHD alone: the Linux suite without booting anything.

A second source of :class:`~pytest_vmimage.facts.linux.LinuxFacts`. The OS disk's root
file system (and the file systems /etc/fstab mounts on it, such as a separate /boot) is
read read-only through the VHD-009 readers of :mod:`pytest_vmimage.facts.disk` (debugfs
for ext2/3/4, the built-in XFS reader): no VM, no network, no root, no mount, no loop
device; the VHD is opened ``O_RDONLY`` and never written.

For every section that is a reading of files, the text is the one the live collection
script would print for the same files (``_cat`` sections are recognised from their
snippet, so a section added later as ``_cat(...)`` is read offline too), so the same
parsers and checks run unchanged. A few sections that are command output are rebuilt
from the files the command reads (``dpkg-query`` from ``/var/lib/dpkg/status``,
``systemctl is-enabled`` from unit files and ``*.wants/`` links, ``command -v``).

Every other section, including any section added to ``SECTIONS`` later, is **not
available offline**: reading it raises :class:`NotAvailableOffline`, which the plugin
reports as *not applicable*, naming the live check. Never a pass, never a default.

"The running kernel" offline is the boot loader's default entry: ``kernel_cmdline`` is
the persisted kernel line of that entry, and messages say so (:func:`offline_wording`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass, field

from pytest_vmimage.facts import _lvm, disk
from pytest_vmimage.facts.boot_entries import BootEntry
from pytest_vmimage.facts.disk import (
    MIB,
    Budget,
    BudgetExceeded,
    DiskError,
    DiskFacts,
    FileEntry,
    FsReadError,
    Meter,
    Unreadable,
)
from pytest_vmimage.facts.fact import Fact
from pytest_vmimage.facts.image_files import ALL_HISTORIES
from pytest_vmimage.facts.linux import (
    ABSENT_RC,
    INSTALLED_STATES,
    RELEASE_FILES,
    SECTIONS,
    LinuxFacts,
    Section,
    escape_file_text,
    parse_collection,
)
from pytest_vmimage.facts.linux_accounts import percent_expand
from pytest_vmimage.verdict import FactError, Verdict

OFFLINE = "not available offline: needs a running VM"
NOT_SURE = "not available offline: the image does not tell it for sure"
# What each live-only section is, for the not-applicable message. A section missing here
# is named by its key: new sections are not available offline until a reader exists.
LIVE_ONLY: dict[str, str] = {
    "mounts": "/proc/self/mounts",
    "swaps": "/proc/swaps (active swap)",
    "swap_units": "the swap units systemd generated",
    "agent_candidate": "apt-cache policy against today's repositories",
    "network_services": "systemctl is-active of the network services",
    "resolv_conf": "/etc/resolv.conf as the running resolver keeps it",
    "dhcp_dns": "the DNS servers the DHCP leases handed out",
    "ip_state": "ip addr / ip route of the running VM",
    "firewall": "iptables-save / nft list ruleset of the running VM",
    "security_updates": "pending security updates against today's repositories",
    "residue": "the running host name and this VM's provisioning; VHD-009 judges generalization offline",
}
# Paths that are a fresh tmpfs or a kernel file system at boot: nothing in the image is
# what the VM sees there (the live script reads what the running system put there).
RUNTIME_DIRS = ("/run", "/proc", "/sys", "/dev", "/var/run")
MAX_LINK_HOPS = 8
MAX_GLOB_MATCHES = 512
FILE_LIMIT = 4 * MIB  # a configuration file larger than this is unreadable (not read)
DB_LIMIT = 32 * MIB  # the package database
PATH_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")  # the collection script's PATH
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
# The kernel line offline: how messages name it.
RUNNING_LINE = "running kernel (/proc/cmdline)"
OFFLINE_LINE = "next boot (the boot loader's default entry, read offline from the VHD)"
OFFLINE_PROC_CMDLINE = "the kernel line of the boot loader's default entry (offline)"


class NotAvailableOffline(FactError):
    """A fact only a running VM can give; the plugin makes the check not applicable."""

    not_applicable = True


def offline_wording(text: str) -> str:
    """A verdict text of an offline run: "running kernel" names the default boot entry."""
    return text.replace(RUNNING_LINE, OFFLINE_LINE).replace("/proc/cmdline", OFFLINE_PROC_CMDLINE)


# ---------------------------------------------------------------------------- file systems


class _Problem(Exception):
    """A section could not be read: the reason."""


class _NotOffline(_Problem):
    """A section the image cannot tell for sure offline (the check is not applicable): the reason."""


@dataclass
class _Mount:
    point: str  # "/" or "/boot"
    reader: object | None  # disk.FsReader
    why: str = ""  # when reader is None
    index: int | None = None  # the partition read there, when one is


# GPT partition types systemd-gpt-auto-generator mounts (Discoverable Partitions Specification).
GPT_AUTO_MOUNTS = {
    "933ac7e1-2eb4-4f13-b844-0e14e2aef915": "/home",
    "3b8f8425-20e0-4f3b-907f-1a25a76f98e8": "/srv",
    "4d21b016-b534-45c2-a9fb-5c16e091fd2d": "/var",
    "7ec6f557-3bc5-4aca-b293-16ef5df639d1": "/var/tmp",
}


class ImageFs:
    """The image's file tree as the booted VM would see it: the root file system plus the
    file systems /etc/fstab mounts below it, symlinks followed across them, all read-only
    and within one :class:`~pytest_vmimage.facts.disk.Budget`."""

    def __init__(self, path: str, facts: DiskFacts, budget: Budget, boot_only: int | None = None) -> None:
        """``boot_only``: the root is not read; "/" is unreadable (naming why) and /boot is
        that partition, the one GRUB reads (see :func:`boot_partition`)."""
        self.path = path
        self.facts = facts
        self.boot_only = boot_only is not None
        if not facts.root_fs.readable and boot_only is None:
            raise DiskError(f"{path}: root file system not readable: {facts.root_fs.reason}")
        self.fd = disk._open(path)
        st = os.fstat(self.fd)
        self.file = disk._File(self.fd, st.st_size, path)
        self.meter = Meter(budget)
        self.file.meter = self.meter
        scratch = DiskFacts(path=path, apparent_size=st.st_size, allocated_size=0, data_bytes=None, format="")
        content = disk._identify(self.file, scratch)
        if content is None:
            self.close()
            raise DiskError(f"{path}: disk content cannot be read: {scratch.content_reason}")
        self.content = content
        try:
            self._stats: dict[str, FileEntry | None | Unreadable] = {}
            self._listings: dict[str, list[FileEntry] | None | Unreadable] = {}
            self._contents: dict[tuple[str, int], bytes | None | Unreadable] = {}
            if boot_only is not None:
                boot = disk._reader_for(self.file, content, facts, boot_only)
                why = f"the root file system is not read ({facts.root_fs.reason})"
                self.mounts = [_Mount("/boot", boot), _Mount("/", None, why)]
                return
            root = disk._reader_for(self.file, content, facts, facts.root_fs.partition_index)
            self.mounts = [_Mount("/", root)]
            self._mount_fstab()
            self._mount_unread()
        except disk._NoReader as exc:
            self.close()
            raise DiskError(f"{path}: {exc}") from None
        except FsReadError:
            self.close()
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def bytes_read(self) -> int:
        """Bytes read from the image plus debugfs' output (the Budget's measure)."""
        return self.meter.bytes

    def _mount_fstab(self) -> None:
        """The fstab entries systemd mounts at boot: ``noauto`` ones are not (the mount point
        directory beneath is what the VM sees), unless ``x-systemd.automount`` mounts them
        on first access; ``nofail`` changes nothing here (a file system not on this disk
        is unreadable, it may be on a disk attached at deployment)."""
        for entry in self.facts.root_fs.fstab:
            point = "/" + "/".join(p for p in entry.mountpoint.split("/") if p)
            if point == "/" or not entry.mountpoint.startswith("/") or entry.fstype in disk._NOT_STORED:
                continue
            if point.startswith(RUNTIME_DIRS):
                continue
            options = entry.options.split(",")
            if "noauto" in options and "x-systemd.automount" not in options:
                continue
            parts = [p for p in self.facts.partitions if self.facts.fstab_references(p).count(entry)]
            if "bind" in entry.options.split(","):
                self.mounts.append(
                    _Mount(point, None, f"{point} is a bind mount ({entry.spec}); not followed")
                )
            elif len(parts) != 1:
                why = f"{point} is a separate file system ({entry.spec} in /etc/fstab) not found on this disk"
                self.mounts.append(_Mount(point, None, why))
            else:
                try:
                    reader = disk._reader_for(self.file, self.content, self.facts, parts[0].index)
                    self.mounts.append(_Mount(point, reader, index=parts[0].index))
                except disk._NoReader as exc:
                    self.mounts.append(_Mount(point, None, f"{point} ({entry.spec}): {exc}"))
        self.mounts.sort(key=lambda m: len(m.point), reverse=True)

    def _mount_unread(self) -> None:
        """Mount points this reader does not follow are unreadable, never the empty
        directory beneath: a systemd ``*.mount`` unit in /etc/systemd/system, and a GPT
        auto-discoverable partition (/home, /srv, /var, /var/tmp) no fstab entry claims."""
        known = {m.point for m in self.mounts}
        try:
            units = self.glob(["/etc/systemd/system/*.mount"])["/etc/systemd/system/*.mount"]
        except _Problem as exc:
            raise DiskError(f"{self.path}: systemd mount units cannot be listed: {exc}") from None
        texts = self.read(units) if units else {}
        for unit in units:
            text = texts[unit]
            where = (
                re.search(r"^\s*Where\s*=\s*(\S+)", _text(text), re.M) if isinstance(text, bytes) else None
            )
            point = _parent_resolved(
                where.group(1) if where else "/" + unit.rsplit("/", 1)[-1][:-6].replace("-", "/")
            )
            if point != "/" and point not in known and not point.startswith(RUNTIME_DIRS):
                why = f"{point} is mounted by the systemd unit {unit}; not read offline (read it on a running VM)"
                self.mounts.append(_Mount(point, None, why))
                known.add(point)
        claimed = {
            p.index
            for e in self.facts.root_fs.fstab
            for p in self.facts.partitions
            if self.facts.fstab_references(p).count(e)
        }
        for part in self.facts.partitions:
            point = GPT_AUTO_MOUNTS.get(part.type_code.lower())
            if (
                point
                and point not in known
                and part.index not in claimed
                and part.index != self.facts.root_fs.partition_index
            ):
                why = f"{point} may be mounted from partition {part.index} ({part.type_name}) by systemd-gpt-auto-generator; not read offline"
                self.mounts.append(_Mount(point, None, why))
                known.add(point)
        self.mounts.sort(key=lambda m: len(m.point), reverse=True)

    def _route(self, path: str) -> tuple[_Mount, str]:
        for mount in self.mounts:
            if mount.point == "/" or path == mount.point or path.startswith(mount.point + "/"):
                inner = path[len(mount.point) :] if mount.point != "/" else path
                return mount, inner or "/"
        raise AssertionError("no root mount")  # pragma: no cover - "/" is always there

    # -- batches -------------------------------------------------------------------
    def lstat(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]:
        """What each path is (the last component not followed, symlinks among its
        directories followed through the mount table); cached."""
        through = self._through_links(set(paths))
        real = self._lstat_raw(sorted({t for t in through.values() if isinstance(t, str)}))
        return {p: through[p] if isinstance(through[p], Unreadable) else real[through[p]] for p in paths}

    def _lstat_raw(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]:
        """What each path is, its directories taken as they are (no link followed); cached."""
        todo: dict[int, tuple[_Mount, dict[str, str]]] = {}
        for p in dict.fromkeys(paths):
            if p in self._stats:
                continue
            if _runtime(p):
                self._stats[p] = None
                continue
            mount, inner = self._route(p)
            if mount.reader is None:
                self._stats[p] = Unreadable(mount.why)
                continue
            todo.setdefault(id(mount), (mount, {}))[1][inner] = p
        for mount, inner in todo.values():
            found = mount.reader.lstat_many(sorted(inner))
            for ipath, outer in inner.items():
                entry = found[ipath]
                if isinstance(entry, FileEntry):
                    entry = FileEntry(outer, entry.kind, entry.size, entry.mode, entry.target, entry.error)
                self._stats[outer] = entry
        return {p: self._stats[p] for p in paths}

    def resolve(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]:
        """What each path leads to, symlinks followed inside the image (bounded hops);
        a mount point crossed by a link is followed into its file system."""
        final: dict[str, FileEntry | None | Unreadable] = {}
        current = {p: _parent_resolved(p) for p in paths}
        for _ in range(MAX_LINK_HOPS + 1):
            if not current:
                break
            through = self._through_links(set(current.values()))
            for orig, now in list(current.items()):
                if isinstance(through[now], Unreadable):
                    final[orig] = through[now]
                    del current[orig]
                else:
                    current[orig] = through[now]
            entries = self._lstat_raw(sorted(set(current.values())))
            following = {}
            for orig, now in current.items():
                entry = entries[now]
                if isinstance(entry, FileEntry) and entry.kind == "symlink":
                    target = disk._join_link(now, entry.target)
                    if target == "/dev/null":
                        final[orig] = FileEntry(target, "other")
                    else:
                        following[orig] = target
                elif isinstance(entry, FileEntry) and entry.kind == "unreadable":
                    final[orig] = Unreadable(f"{entry.path}: {entry.error}")
                else:
                    final[orig] = entry
            current = following
        for orig in current:
            final[orig] = Unreadable(f"{orig}: more than {MAX_LINK_HOPS} symbolic links")
        return final

    def _through_links(self, paths: set[str]) -> dict[str, str | Unreadable]:
        """Each path with the symlinks among its directories followed (bounded hops), so the
        mount table applies at every component (``/home -> var/home`` with a separate /var)."""
        out: dict[str, str | Unreadable] = {}
        todo = {p: p for p in paths}
        for _ in range(MAX_LINK_HOPS + 1):
            if not todo:
                break
            split = {now: [c for c in now.split("/") if c] for now in todo.values()}
            prefixes = {"/" + "/".join(c[:i]) for c in split.values() for i in range(1, len(c))}
            stats = self._lstat_raw(sorted(prefixes)) if prefixes else {}
            following = {}
            for orig, now in todo.items():
                comps = split[now]
                out[orig] = now
                for i in range(1, len(comps)):
                    entry = stats["/" + "/".join(comps[:i])]
                    if isinstance(entry, Unreadable):
                        out[orig] = entry
                    elif isinstance(entry, FileEntry) and entry.kind == "unreadable":
                        out[orig] = Unreadable(f"{entry.path}: {entry.error}")
                    elif isinstance(entry, FileEntry) and entry.kind == "symlink":
                        target = disk._join_link("/" + "/".join(comps[:i]), entry.target)
                        following[orig] = _parent_resolved(target + "/" + "/".join(comps[i:]))
                    else:
                        continue
                    break
            todo = following
        for orig in todo:
            out[orig] = Unreadable(f"{orig}: more than {MAX_LINK_HOPS} symbolic links")
        return out

    def listdir(self, paths: list[str]) -> dict[str, list[FileEntry] | None | Unreadable]:
        """Directory listings (a symlinked directory listed where it leads); entries keep
        the path they have through the link. Cached: the image does not change."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._listings]
        if todo:
            self._listings.update(self._listdir(todo))
        return {p: self._listings[p] for p in paths}

    def _listdir(self, paths: list[str]) -> dict[str, list[FileEntry] | None | Unreadable]:
        final = self.resolve(paths)
        result: dict[str, list[FileEntry] | None | Unreadable] = {}
        todo: dict[int, tuple[_Mount, dict[str, list[str]]]] = {}
        for p in paths:
            entry = final[p]
            if isinstance(entry, Unreadable):
                result[p] = entry
            elif entry is None or entry.kind != "dir":
                result[p] = None
            elif _runtime(entry.path):
                result[p] = None
            else:
                mount, inner = self._route(entry.path)
                if mount.reader is None:
                    result[p] = Unreadable(mount.why)
                else:
                    todo.setdefault(id(mount), (mount, {}))[1].setdefault(inner, []).append(p)
        for mount, inner in todo.values():
            listed = mount.reader.listdir_many(sorted(inner))
            for ipath, outers in inner.items():
                listing = listed[ipath]
                for outer in outers:
                    if isinstance(listing, list):
                        base = outer.rstrip("/")
                        result[outer] = [
                            FileEntry(
                                f"{base}/{e.path.rsplit('/', 1)[-1]}",
                                e.kind,
                                e.size,
                                e.mode,
                                e.target,
                                e.error,
                            )
                            for e in listing
                        ]
                    else:
                        result[outer] = listing
        return result

    def read(self, paths: list[str], limit: int = FILE_LIMIT) -> dict[str, bytes | None | Unreadable]:
        """Content of regular files (symlinks followed); None when absent or not a regular
        file; Unreadable when it could not be read or is larger than ``limit``. Cached."""
        todo = [p for p in dict.fromkeys(paths) if (p, limit) not in self._contents]
        if todo:
            self._contents.update({(p, limit): v for p, v in self._read(todo, limit).items()})
        return {p: self._contents[(p, limit)] for p in paths}

    def _read(self, paths: list[str], limit: int) -> dict[str, bytes | None | Unreadable]:
        final = self.resolve(paths)
        result: dict[str, bytes | None | Unreadable] = {}
        todo: dict[int, tuple[_Mount, dict[str, list[str]]]] = {}
        for p in paths:
            entry = final[p]
            if isinstance(entry, Unreadable) or entry is None:
                result[p] = entry
            elif entry.kind != "file":
                result[p] = None
            elif entry.size > limit:
                result[p] = Unreadable(f"{entry.path}: {entry.size} bytes, larger than {limit}; not read")
            else:
                mount, inner = self._route(entry.path)
                if mount.reader is None:
                    result[p] = Unreadable(mount.why)
                else:
                    todo.setdefault(id(mount), (mount, {}))[1].setdefault(inner, []).append(p)
        for mount, inner in todo.values():
            data = mount.reader.read_many(sorted(inner), limit)
            for ipath, outers in inner.items():
                raw = data.get(ipath)
                for outer in outers:
                    if isinstance(raw, bytes) and len(raw) != final[outer].size:
                        raw = Unreadable(f"{ipath}: {len(raw)} bytes read of {final[outer].size}")
                    result[outer] = raw if raw is not None else Unreadable(f"{ipath}: not read")
        return result

    def glob(self, patterns: list[str]) -> dict[str, list[str]]:
        """Paths matching each shell pattern (``*``, ``?``, ``[...]`` in any component), in
        the order ``sh`` lists them (LC_ALL=C); a pattern without a wildcard is itself.
        Raises _Problem when a directory on the way could not be listed."""
        result: dict[str, list[str]] = {}
        partial: dict[str, list[str]] = {p: ["/"] for p in patterns}
        parts = {p: [c for c in p.split("/") if c] for p in patterns}
        depth = 0
        while True:
            wanted: set[str] = set()
            for pattern, prefixes in partial.items():
                comps = parts[pattern]
                if depth < len(comps) and _wild(comps[depth]):
                    wanted.update(prefixes)
            listed = self.listdir(sorted(wanted)) if wanted else {}
            done = True
            for pattern in list(partial):
                comps = parts[pattern]
                if depth >= len(comps):
                    continue
                done = False
                comp, nxt = comps[depth], []
                for prefix in partial[pattern]:
                    if not _wild(comp):
                        nxt.append(prefix.rstrip("/") + "/" + comp)
                        continue
                    listing = listed[prefix]
                    if isinstance(listing, Unreadable):
                        raise _Problem(listing.reason)
                    names = sorted(
                        (e.path.rsplit("/", 1)[-1] for e in listing or []),
                        key=lambda n: n.encode("utf-8", "surrogateescape"),
                    )
                    last = depth == len(comps) - 1
                    for name in names:
                        if fnmatch.fnmatchcase(name, comp) and not name.startswith("."):
                            entry = next(e for e in listing if e.path.endswith("/" + name))
                            if last or entry.kind in ("dir", "symlink"):
                                nxt.append(entry.path)
                if len(nxt) > MAX_GLOB_MATCHES:
                    raise _Problem(f"{pattern}: more than {MAX_GLOB_MATCHES} matches; not all read")
                partial[pattern] = nxt
            depth += 1
            if done:
                break
        for pattern in patterns:
            result[pattern] = partial[pattern]
        return result


def _wild(component: str) -> bool:
    return any(c in component for c in "*?[")


def _runtime(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in RUNTIME_DIRS)


def _parent_resolved(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------- sections

_CAT = re.compile(r'for f in (.+?); do if \[ -f "\$f" \]; then if \[ -r "\$f" \]; then echo "### \$f"')


def cat_patterns(snippet: str) -> list[str] | None:
    """The file patterns of a ``_cat(...)`` snippet; None for any other snippet."""
    match = _CAT.search(snippet)
    return match.group(1).split() if match else None


def _cat(fs: ImageFs, patterns: list[str]) -> tuple[int, str]:
    expanded = fs.glob(patterns)
    paths = [p for pattern in patterns for p in expanded[pattern]]
    data = fs.read(paths)
    out = []
    for path in paths:
        raw = data[path]
        if isinstance(raw, Unreadable):
            raise _Problem(raw.reason)
        if raw is not None:
            out.append(f"### {path}\n{escape_file_text(_text(raw))}\n")
    return 0, "".join(out)


def _one_file(fs: ImageFs, *paths: str) -> str | None:
    """The first of ``paths`` that exists, as text; None when none does."""
    data = fs.read(list(paths))
    for path in paths:
        raw = data[path]
        if isinstance(raw, Unreadable):
            raise _Problem(raw.reason)
        if raw is not None:
            return _text(raw)
    return None


def _need(fs: ImageFs, path: str) -> str:
    text = _one_file(fs, path)
    if text is None:
        raise _Problem(f"{path} does not exist in the image")
    return text


def _os_release(fs: ImageFs, _: str) -> tuple[int, str]:
    text = _one_file(fs, "/etc/os-release", "/usr/lib/os-release")
    if text is not None:
        return 0, text
    for path in RELEASE_FILES:  # EL6: the live section's "### PATH" and the release file
        text = _one_file(fs, path)
        if text is not None:
            return 0, f"### {path}\n{text}"
    raise _Problem(f"neither /etc/os-release nor /usr/lib/os-release nor {', '.join(RELEASE_FILES)} exists in the image")


def _exists_or_absent(path: str):
    def file_or_absent(fs: ImageFs, _: str) -> tuple[int, str]:
        text = _one_file(fs, path)
        return (ABSENT_RC, "") if text is None else (0, text)

    return file_or_absent


def _lines(text: str) -> list[str]:
    """Records as awk/sed/cut read them (a missing final newline still ends a record)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _passwd(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section's awk: a password hash in /etc/passwd itself becomes HASH."""
    out = []
    for line in _lines(_need(fs, "/etc/passwd")):
        fields = line.split(":")
        if len(fields) > 1 and fields[1] not in ("x", "") and not re.fullmatch(r"[!*]*", fields[1]):
            fields[1] = "HASH"
            line = ":".join(fields)
        out.append(line + "\n")
    return 0, "".join(out)


_SHADOW_HASH = re.compile(r"^([^:]*):([!*]*)(\$[^$]*\$)?[^!*].*$")


def _shadow(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section's cut + sed: user:field 2, hashes masked to HASH."""
    out = []
    for line in _lines(_need(fs, "/etc/shadow")):
        kept = ":".join(line.split(":")[:2])
        out.append(
            _SHADOW_HASH.sub(lambda m: f"{m.group(1)}:{m.group(2)}{m.group(3) or ''}HASH", kept) + "\n"
        )
    return 0, "".join(out)


def _home_files(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section's lines for every home directory in /etc/passwd. Offline the
    modification time and the owner are not read: they print as 0 and ``-`` (used only
    to skip the connecting admin's own session history, and offline nobody connected)."""
    homes = sorted(
        {line.split(":")[5] for line in _lines(_need(fs, "/etc/passwd")) if line.count(":") >= 6},
        key=lambda h: h.encode("utf-8", "surrogateescape"),
    )
    dirs = fs.resolve(homes)
    keys = (".ssh/authorized_keys", ".ssh/authorized_keys2")
    names = (*ALL_HISTORIES, *keys)
    existing = [h for h in homes if isinstance(dirs[h], FileEntry) and dirs[h].kind == "dir"]
    for h in homes:
        if isinstance(dirs[h], Unreadable):
            raise _Problem(dirs[h].reason)
    paths = [f"{h.rstrip('/')}/{n}" for h in existing for n in names]
    stats = fs.lstat(paths)
    links = [p for p in paths if isinstance(stats[p], FileEntry) and stats[p].kind == "symlink"]
    targets = fs.resolve(links)
    key_files = [p for p in paths if p.endswith(keys)]
    key_data = fs.read([p for p in key_files if stats[p] is not None])
    out = []
    for home in existing:
        for name in names:
            p = f"{home.rstrip('/')}/{name}"
            entry = stats[p]
            if isinstance(entry, Unreadable):
                raise _Problem(entry.reason)
            if entry is None:
                continue
            if entry.kind == "unreadable":
                raise _Problem(f"{p}: {entry.error}")
            if entry.kind == "symlink":
                target = targets[p]
                size = str(target.size) if isinstance(target, FileEntry) and target.kind == "file" else "-"
                if isinstance(target, FileEntry) and target.kind != "file":
                    size = "0"
                out.append(f"link\t{size}\t{p}\t{entry.target}\n")
                out.append(f"{len(entry.target.encode('utf-8', 'surrogateescape'))} 0 - {p}\n")
            else:
                out.append(f"{entry.size} 0 - {p}\n")
        for name in keys:
            p = f"{home.rstrip('/')}/{name}"
            if p not in key_data:
                continue
            raw = key_data[p]
            if isinstance(raw, Unreadable):
                raise _Problem(raw.reason)
            if raw is None:
                continue
            usable = sum(
                1
                for line in _lines(_text(raw))
                if not re.match(r"^[ \t]*(#|$)", line) and "command=" not in line
            )
            out.append(f"usable {usable} {p}\n")
    out.append(f"homes {len(existing)}\n")
    return 0, "".join(out)


def _command_v(fs: ImageFs, name: str) -> str:
    """``command -v NAME`` on the collection script's PATH: an executable regular file."""
    candidates = [f"{d}/{name}" for d in PATH_DIRS]
    found = fs.resolve(candidates)
    for path in candidates:
        entry = found[path]
        if isinstance(entry, Unreadable):
            raise _Problem(entry.reason)
        if entry is not None and entry.kind == "file" and entry.mode & 0o111:
            return path
    return ""


def unit_enabled(fs: ImageFs, name: str) -> str:
    """``systemctl is-enabled NAME`` from the unit files and the ``*.wants``/``*.requires``
    links under /etc/systemd/system ("" for a unit that does not exist). Presets are not
    applied (systemd applies them only on a first boot with an empty machine-id)."""
    unit = name if "." in name else f"{name}.service"
    files = fs.lstat([f"{d}/{unit}" for d in UNIT_DIRS])
    first = next(((p, e) for p, e in files.items() if e is not None), None)
    if first is None:
        return ""
    path, entry = first
    if isinstance(entry, Unreadable):
        raise _Problem(entry.reason)
    if entry.kind == "symlink":
        target = disk._join_link(path, entry.target)
        if target == "/dev/null":
            return "masked-runtime" if path.startswith("/run/") else "masked"
        if target.rsplit("/", 1)[-1] != unit:
            return "alias"
    text = _one_file(fs, path)
    if text is None:
        return ""
    install = _install_section(text)
    wants = fs.glob(["/etc/systemd/system/*.wants", "/etc/systemd/system/*.requires"])
    dirs = [d for ds in wants.values() for d in ds]
    linked = fs.lstat([f"{d}/{unit}" for d in dirs])
    for link in linked.values():
        if isinstance(link, Unreadable):
            raise _Problem(link.reason)
    if any(isinstance(e, FileEntry) for e in linked.values()):
        return "enabled"
    if not install:
        return "static"
    if set(install) <= {"Also"}:
        return "indirect"
    return "disabled"


def _install_section(text: str) -> dict[str, str]:
    """Keys of the unit file's [Install] section that make it installable."""
    keys: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            if key.strip() in ("WantedBy", "RequiredBy", "Alias", "Also", "UpheldBy") and value.strip():
                keys[key.strip()] = value.strip()
    return keys


def _units(fs: ImageFs, *names: str) -> str:
    """``unit NAME ENABLED ACTIVE``: ACTIVE is ``unknown`` offline (nothing runs)."""
    return "".join(f"unit {n} {unit_enabled(fs, n)} unknown\n" for n in names)


def _agent(fs: ImageFs, _: str) -> tuple[int, str]:
    out = ""
    binary = _command_v(fs, "waagent")
    if binary:
        head = _need(fs, binary).split("\n", 1)[0]
        out += f"{binary}\nshebang {head}\n"
    return 0, out + _units(fs, "walinuxagent", "waagent")


AGENT_PACKAGES = ("waagent", "walinuxagent", "WALinuxAgent", "python-azure-agent", "python3-azure-agent")


def _agent_version(fs: ImageFs, _: str) -> tuple[int, str]:
    """``waagent --version`` offline: the version of the installed agent package (an agent
    installed by hand, or one that updated itself at run time, is not known offline)."""
    if not _command_v(fs, "waagent"):
        return ABSENT_RC, ""
    for name in AGENT_PACKAGES:
        version = _installed(fs, name)
        if version:
            return 0, f"WALinuxAgent-{version} (the {name} package's version, read offline)\n"
    raise _Problem("waagent is installed but no agent package is: its version is not known offline")


_PYTHON_DIRS = (
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/{py}/dist-packages",
    "/usr/lib/{py}/site-packages",
    "/usr/lib64/{py}/site-packages",
    "/usr/local/lib/{py}/site-packages",
    "/usr/lib/{py}/dist-packages",
)


def _agent_python(fs: ImageFs, _: str) -> tuple[int, str]:
    """The agent's interpreter (waagent's shebang), its version from the package that ships
    it (python3.X-minimal / python3.X) and pyasn1's ``__version__`` from its ``__init__.py``
    on the interpreter's module path."""
    binary = _command_v(fs, "waagent")
    if not binary:
        return ABSENT_RC, ""
    words = _need(fs, binary).split("\n", 1)[0].removeprefix("#!").split()
    if not words:
        raise _Problem(f"{binary} has no shebang line")
    interpreter = words[0]
    if interpreter.rsplit("/", 1)[-1] == "env" and len(words) > 1:
        interpreter = _command_v(fs, words[1])
        if not interpreter:
            return 127, "interpreter \n"
    found_version = _python_version(fs, interpreter, "the agent's interpreter")
    if found_version is None:
        return 127, f"interpreter {interpreter}\n"
    version, name = found_version
    inits = [d.format(py=name) + "/pyasn1/__init__.py" for d in _PYTHON_DIRS]
    found = fs.read(inits)
    pyasn1 = "ModuleNotFoundError: No module named 'pyasn1' (looked offline in the interpreter's package directories)"
    for path in inits:
        raw = found[path]
        if isinstance(raw, Unreadable):
            raise _Problem(raw.reason)
        if raw is not None:
            match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)", _text(raw), re.M)
            pyasn1 = match.group(1) if match else "unknown"
            break
    return 0, f"interpreter {interpreter}\nversion {version}\npyasn1 {pyasn1}\n{_path_python(fs)}"


def _python_version(fs: ImageFs, interpreter: str, what: str) -> tuple[str, str] | None:
    """(version, pythonX.Y) of an interpreter from the package that ships it
    (pythonX.Y-minimal / pythonX.Y / EL's python3); None when it does not exist."""
    target = fs.resolve([interpreter])[interpreter]
    if isinstance(target, Unreadable):
        raise _Problem(target.reason)
    if target is None or target.kind != "file":
        return None
    name = target.path.rsplit("/", 1)[-1]
    if not re.fullmatch(r"python\d\.\d+", name):
        raise _Problem(f"{what} {interpreter} -> {target.path}: its version is not known offline")
    version = _installed(fs, f"{name}-minimal") or _installed(fs, name)
    if not version and (python3 := _installed(fs, "python3")) and python3.startswith(name[6:] + "."):
        version = python3  # EL: /usr/bin/python3.9 belongs to the package python3
    if not version:
        raise _Problem(f"{target.path} belongs to no installed {name} package: its version is not known offline")
    return version, name


def _path_python(fs: ImageFs) -> str:
    """The live section's ``python3 PATH VERSION`` / ``CMD absent`` lines (LISA
    verify_python_version runs python3, else python), offline."""
    lines = []
    for command in ("python3", "python"):
        path = _command_v(fs, command)
        found = _python_version(fs, path, f"the {command} on PATH") if path else None
        if found is None:
            lines.append(f"{command} absent")
            continue
        lines.append(f"{command} {path} {found[0]}")
        break
    return "".join(f"{line}\n" for line in lines)


def _sshd(fs: ImageFs, _: str) -> tuple[int, str]:
    binary = _command_v(fs, "sshd")
    return 0, (f"{binary}\n" if binary else "") + _units(fs, "ssh", "sshd", "ssh.socket", "sshd.socket")


DPKG_NAMES = (
    "waagent walinuxagent network-manager ifupdown isc-dhcp-client iptables nftables firewalld ufw "
    "openssh-server openssl libc6 netplan.io"
).split()


def parse_dpkg_status(text: str) -> dict[str, tuple[str, str]]:
    """/var/lib/dpkg/status: package -> (version, status); the stanza of the native
    architecture wins over others of the same name."""
    stanzas: dict[str, list[dict[str, str]]] = {}
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if "Package" in fields:
            stanzas.setdefault(fields["Package"], []).append(fields)
    native = next((f.get("Architecture", "") for f in stanzas.get("dpkg", [])), "")
    found: dict[str, tuple[str, str]] = {}
    for name, options in stanzas.items():
        # the native (or arch-independent) stanza first, an installed one before others
        options = sorted(
            options,
            key=lambda f: (
                f.get("Architecture", "") not in (native, "all", "") if native else False,
                not f.get("Status", "").endswith(" installed"),
            ),
        )
        installed = {f.get("Architecture", "") for f in options if f.get("Status", "").endswith(" installed")}
        if not native and len(installed - {"all", ""}) > 1:
            found[name] = ("", f"{AMBIGUOUS_ARCH} {' '.join(sorted(installed))}")
            continue
        found[name] = (options[0].get("Version", ""), options[0].get("Status", ""))
    return found


AMBIGUOUS_ARCH = "installed for several architectures, the native one unknown:"


def _dpkg(fs: ImageFs) -> dict[str, tuple[str, str]] | None:
    """The dpkg database: package -> (version, status); None without one."""
    if not hasattr(fs, "dpkg"):
        status = fs.read(["/var/lib/dpkg/status"], DB_LIMIT)["/var/lib/dpkg/status"]
        if isinstance(status, Unreadable):
            raise _Problem(status.reason)
        fs.dpkg = None if status is None else parse_dpkg_status(_text(status))
    return fs.dpkg


RPM_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch"}


def parse_rpm_header(blob: bytes) -> dict[str, str]:
    """NAME, VERSION, RELEASE, EPOCH of an RPM header blob (rpmdb.sqlite's Packages.blob:
    index count, data length, 16-byte index entries, data); {} for a blob that does not parse."""
    if len(blob) < 8:
        return {}
    count, size = struct.unpack(">II", blob[:8])
    data = 8 + 16 * count
    if count > 100_000 or data + size > len(blob):
        return {}
    found = {}
    for i in range(count):
        tag, kind, offset, _ = struct.unpack(">IIiI", blob[8 + 16 * i : 24 + 16 * i])
        if tag not in _RPM_TAGS or not 0 <= offset < size:
            continue
        if kind == 6:  # STRING
            end = blob.find(b"\0", data + offset, data + size)
            found[_RPM_TAGS[tag]] = blob[data + offset : end if end >= 0 else data + size].decode(
                "utf-8", "replace"
            )
        elif kind == 4 and offset + 4 <= size:  # INT32
            found[_RPM_TAGS[tag]] = str(struct.unpack(">I", blob[data + offset : data + offset + 4])[0])
    return found


def _rpm(fs: ImageFs) -> dict[str, tuple[str, str]] | None:
    """The RPM database (rpmdb.sqlite, read with sqlite3 on a private copy, its WAL with it):
    name -> (version-release, "installed"); None without one. A BerkeleyDB ``Packages``
    database is an error naming it."""
    if hasattr(fs, "rpm"):
        return fs.rpm
    paths = [f"{d}/{n}" for d in RPM_DIRS for n in ("rpmdb.sqlite", "rpmdb.sqlite-wal", "Packages")]
    found = fs.read(paths, DB_LIMIT)
    for raw in found.values():
        if isinstance(raw, Unreadable):
            raise _Problem(raw.reason)
    sqlite = next((p for p in paths if p.endswith(".sqlite") and found[p] is not None), None)
    if sqlite is None:
        bdb = next((p for p in paths if p.endswith("/Packages") and found[p] is not None), None)
        if bdb:
            raise _Problem(f"{bdb}: a BerkeleyDB RPM database; reading it offline is not implemented")
        fs.rpm = None
        return None
    import sqlite3
    import tempfile

    packages: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="vmimage-rpmdb-") as tmp:
        copy = os.path.join(tmp, "rpmdb.sqlite")
        with open(copy, "wb") as fh:
            fh.write(found[sqlite])
        if found.get(sqlite + "-wal"):
            with open(copy + "-wal", "wb") as fh:
                fh.write(found[sqlite + "-wal"])
        try:
            db = sqlite3.connect(copy)
            try:
                rows = db.execute("SELECT blob FROM Packages").fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise _Problem(f"{sqlite}: not a readable RPM SQLite database ({exc})") from None
    for (blob,) in rows:
        header = parse_rpm_header(bytes(blob))
        if not header.get("name") or not header.get("version"):
            raise _Problem(f"{sqlite}: a package header that does not parse")
        epoch = f"{header['epoch']}:" if header.get("epoch") else ""
        version = f"{epoch}{header['version']}-{header.get('release', '')}"
        packages.setdefault(header["name"], (version, "installed"))
    fs.rpm = packages
    return packages


def _installed(fs: ImageFs, name: str) -> str | None:
    """The installed version of a package (upstream part) in the dpkg or RPM database;
    None when not installed; _Problem without any package database."""
    dpkg, rpm = _dpkg(fs), _rpm(fs)
    if dpkg is None and rpm is None:
        raise _Problem("no package database (/var/lib/dpkg/status, rpmdb.sqlite) in the image")
    version, status = (dpkg or {}).get(name) or (rpm or {}).get(name) or ("", "")
    if status.startswith(AMBIGUOUS_ARCH):
        raise _Problem(f"dpkg: {name} is {status}")
    if status.split() not in INSTALLED_STATES:
        return None
    return re.sub(r"^\d+:", "", version).split("-")[0].split("+")[0].split("~")[0]


def _glibc(fs: ImageFs, _: str) -> tuple[int, str]:
    """``getconf GNU_LIBC_VERSION`` from the libc6 / glibc package's version."""
    version = _installed(fs, "libc6") or _installed(fs, "glibc")
    if version is None:
        raise _Problem("neither libc6 nor glibc is installed according to the package database")
    return 0, f"glibc {version}\n"


def _openssl(fs: ImageFs, _: str) -> tuple[int, str]:
    """``openssl version`` from the openssl package (the binary must be on the PATH)."""
    if not _command_v(fs, "openssl"):
        return ABSENT_RC, ""
    version = _installed(fs, "openssl")
    if version is None:
        raise _Problem("openssl is on the PATH but the package database has no installed openssl package")
    return 0, f"OpenSSL {version} (the openssl package's version, read offline)\n"


_ELF_MACHINES = {
    0x3E: "x86_64",
    0xB7: "aarch64",
    0x03: "i686",
    0x28: "armv7l",
    0xF3: "riscv64",
    0x15: "ppc64le",
}


def _uname(fs: ImageFs, _: str) -> tuple[int, str]:
    """``uname -m -r -n`` offline: the machine of /bin/sh's ELF header, the kernel release
    of the boot loader's default entry, the persisted host name."""
    head = fs.read(["/bin/sh"], 8 * MIB)["/bin/sh"]
    if not isinstance(head, bytes) or head[:4] != b"\x7fELF" or len(head) < 20:
        raise _Problem(
            f"/bin/sh is not an ELF executable that can be read ({getattr(head, 'reason', 'absent')})"
        )
    order = "little" if head[5] == 1 else "big"
    machine = _ELF_MACHINES.get(int.from_bytes(head[18:20], order))
    if machine is None or (machine == "x86_64" and head[4] != 2):
        machine = "i686" if head[4] == 1 else None
    if machine is None:
        raise _Problem(f"/bin/sh: ELF machine {int.from_bytes(head[18:20], order):#x} not known")
    release = default_kernel_release(fs)
    if not release:
        raise _Problem("the boot loader's default entry names no kernel release")
    host = (_one_file(fs, "/etc/hostname") or "").strip() or "-"
    return 0, f"{machine}\n{release}\n{host}\n"


RPM_NAMES = (
    "WALinuxAgent python-azure-agent python3-azure-agent NetworkManager network-scripts initscripts wicked "
    "iptables nftables firewalld openssh-server openssl glibc microsoft-hyper-v kmod-microsoft-hyper-v"
).split()


def _packages(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section's ``dpkg-query -W`` / ``rpm -q`` lines from the databases."""
    dpkg, rpm = _dpkg(fs), _rpm(fs)
    if dpkg is None and rpm is None:
        return ABSENT_RC, ""
    out = ""
    if dpkg is not None:
        names = list(DPKG_NAMES)
        release = default_kernel_release(fs)
        if release:
            names.append(f"linux-image-{release}")
        lines = [f"{n}\t{dpkg[n][0]}\t{dpkg[n][1]}\n" for n in sorted(set(names)) if n in dpkg]
        out += "manager dpkg\n" + "".join(lines)  # the section's status: dpkg-query's 1 is accepted
    if rpm is not None:
        out += "manager rpm\n" + "".join(
            f"{n}\t{rpm[n][0].split(':')[-1]}\tinstalled\n" for n in RPM_NAMES if n in rpm
        )
    return 0, out


HV_MODULES = ("hv_vmbus", "hv_storvsc", "hv_netvsc")


def _module_lists(fs: ImageFs) -> tuple[str, list[str], list[str]]:
    """(release, modules.builtin lines, modules.dep lines) of the default entry's kernel."""
    release = default_kernel_release(fs)
    if not release:
        raise _Problem("the boot loader's default entry names no kernel release")
    paths = [f"/lib/modules/{release}/modules.builtin", f"/lib/modules/{release}/modules.dep"]
    data = fs.read(paths, DB_LIMIT)
    texts = []
    for path in paths:
        raw = data[path]
        if not isinstance(raw, bytes):
            raise _Problem(getattr(raw, "reason", f"cannot read {path}: it does not exist in the image"))
        texts.append(_lines(_text(raw)))
    return release, texts[0], texts[1]


def _kernel_modules(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section's counts, for the kernel of the boot loader's default entry."""
    _, builtin, dep = _module_lists(fs)
    out = []
    for module in HV_MODULES:
        needle = f"/{module}.ko"
        out.append(
            f"{module} builtin={sum(needle in x for x in builtin)} module={sum(needle in x for x in dep)}\n"
        )
    return 0, "".join(out)


PROVISIONING_FS_MODULES = ("udf", "vfat")
# readers that rebuild a live section without the part only a running kernel has
READER_RUNTIME_PARTS = {"fs_modules": ["/proc/filesystems"]}


def _fs_modules(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section's lines for the default entry's kernel: ``grep -c`` counts in
    modules.builtin / modules.dep, ``absent NAME PATH`` when the first modules.dep entry of
    the module names a file that is not in the image (deleted without depmod), ``looked``.
    No ``registered`` line: no kernel runs (/proc/filesystems is the boot-time part)."""
    release, builtin, dep = _module_lists(fs)
    listed = {}
    for module in PROVISIONING_FS_MODULES:
        first = next((m.group(1) for x in dep if (m := re.match(rf"([^:]*/{module}[.]ko[^:]*):", x))), "")
        if first:
            listed[module] = first if first.startswith("/") else f"/lib/modules/{release}/{first}"
    found = fs.resolve(list(listed.values()))
    out = []
    for module in PROVISIONING_FS_MODULES:
        grep = re.compile(rf"/{module}.ko")  # grep's pattern: the dot matches any character
        counts = [sum(bool(grep.search(x)) for x in lines) for lines in (builtin, dep)]
        out.append(f"{module} builtin={counts[0]} module={counts[1]}\n")
        path = listed.get(module)
        if path and isinstance(found[path], Unreadable):
            raise _Problem(found[path].reason)
        if path and found[path] is None:
            out.append(f"absent {module} {path}\n")
    return 0, "".join(out) + "looked\n"


def _kernel_changelog(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section for the default entry's kernel: ``mainline`` from 4.x on, else the
    lines of its Debian changelog that name the storvsc in-transit fix."""
    release = default_kernel_release(fs)
    if not release:
        raise _Problem("the boot loader's default entry names no kernel release")
    if release.split(".")[0].isdigit() and int(release.split(".")[0]) >= 4:
        return 0, f"mainline {release}\n"
    path = f"/usr/share/doc/linux-image-{release}/changelog.Debian.gz"
    raw = fs.read([path], DB_LIMIT)[path]
    if isinstance(raw, Unreadable):
        raise _Problem(raw.reason)
    if raw is None:
        return ABSENT_RC, ""
    try:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = inflate.decompress(raw, DB_LIMIT).decode("utf-8", "replace")
    except zlib.error as exc:
        raise _Problem(f"{path}: not a readable gzip file ({exc})") from None
    if inflate.unconsumed_tail:
        raise _Problem(f"{path}: inflates to more than {DB_LIMIT} bytes; not read")
    hits = [line for line in text.splitlines() if "in-transit packets" in line.lower()][:3]
    return 0, "".join(f"{line}\n" for line in hits)


INITRD_LIMIT = 128 * MIB  # the initramfs file
UNPACKED_LIMIT = 1024 * MIB  # what an initramfs may inflate to
MAX_CPIO_ENTRIES = 200_000


class _Stream:
    """Bytes of the initramfs as one stream: uncompressed cpio archives (early microcode)
    followed by compressed ones (gzip, xz, zstd), inflation bounded."""

    def __init__(self, raw: bytes, check=lambda: None) -> None:
        self.raw, self.pos, self.total, self.check = raw, 0, 0, check
        self.compressed = 0  # compressed archives started
        self.buffer, self.at, self.inflate = b"", 0, None  # unread bytes: buffer[at:]

    def _chunk(self) -> bytes:
        self.check()  # the read's time budget
        if self.inflate is not None:
            try:
                chunk = self.inflate.read(1 << 20)
            except _Problem:
                raise
            except Exception as exc:  # noqa: BLE001 - lzma EOFError/LZMAError, zstandard.ZstdError, zlib.error
                raise _Problem(f"the initramfs does not inflate: {type(exc).__name__}: {exc}") from None
            if chunk:
                self.total += len(chunk)
                if self.total > UNPACKED_LIMIT:
                    raise _Problem(f"the initramfs inflates to more than {UNPACKED_LIMIT} bytes; not read")
                return chunk
            self.inflate = None
        chunk = self.raw[self.pos : self.pos + (1 << 20)]
        self.pos += len(chunk)
        return chunk

    def _fill(self, need: int) -> int:
        """Make ``need`` unread bytes available when the stream has them; how many there are."""
        if len(self.buffer) - self.at < need:
            parts = [self.buffer[self.at :]]
            have = len(parts[0])
            while have < need:
                chunk = self._chunk()
                if not chunk:
                    break
                parts.append(chunk)
                have += len(chunk)
            self.buffer, self.at = b"".join(parts), 0
        return len(self.buffer) - self.at

    def take(self, size: int) -> bytes:
        self._fill(size)
        data = self.buffer[self.at : self.at + size]
        self.at += len(data)
        return data

    def skip(self, size: int) -> None:
        while size > 0:
            have = self._fill(min(size, 1 << 20))
            if not have:
                raise _Problem("the initramfs ends inside a member")
            step = min(size, have)
            self.at, size = self.at + step, size - step

    def skip_zeros(self) -> None:
        """Padding between archives; then a compressed archive starts the inflater."""
        while self._fill(1):
            rest = self.buffer[self.at :]
            stripped = rest.lstrip(b"\0")
            self.at += len(rest) - len(stripped)
            if stripped:
                break
        else:
            return
        if self.inflate is None and not self.buffer.startswith(b"0707", self.at):
            rest = self.buffer[self.at :] + self.raw[self.pos :]
            self.buffer, self.at, self.pos = b"", 0, len(self.raw)
            self.inflate = _decompressor(rest)
            self.compressed += 1


class _Gunzip:
    """gzip members one after the other, inflated in chunks (zlib: faster than GzipFile)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.inflate = data, 0, zlib.decompressobj(31)

    def read(self, size: int) -> bytes:
        while self.pos < len(self.data) or self.inflate.unconsumed_tail:
            if self.inflate.eof:
                rest = self.inflate.unused_data + self.data[self.pos :]
                if not rest.startswith(b"\x1f\x8b"):
                    return b""  # padding after the last member
                self.data, self.pos, self.inflate = rest, 0, zlib.decompressobj(31)
            tail = self.inflate.unconsumed_tail
            if tail:
                out = self.inflate.decompress(tail, size)
            else:
                out = self.inflate.decompress(self.data[self.pos : self.pos + (1 << 18)], size)
                self.pos += 1 << 18
            if out:
                return out
        if not self.inflate.eof:
            raise _Problem("the initramfs's gzip stream is truncated")
        return b""


def _decompressor(data: bytes):
    import io

    if data.startswith(b"\x1f\x8b"):
        return _Gunzip(data)
    if data.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return lzma.LZMAFile(io.BytesIO(data))
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            import zstandard
        except ImportError:
            raise _Problem(
                "the initramfs is zstd-compressed and the zstandard module is not installed"
            ) from None
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    raise _Problem(f"the initramfs holds a compression that is not read offline (magic {data[:6].hex()})")


def initramfs_names(raw: bytes, check=lambda: None) -> list[bytes]:
    """Path names of every cpio (newc) member of an initramfs, all its archives; ``check``
    is called per MiB (it raises when the time budget is spent)."""
    return [name for name, _mode, _size in initramfs_members(raw, check)]


def initramfs_members(raw: bytes, check=lambda: None) -> list[tuple[bytes, int, int]]:
    """(name, mode, size) of every cpio (newc) member of an initramfs, all its archives, in
    order; ``check`` is called per MiB (it raises when the time budget is spent)."""
    stream, members, inside, closed = _Stream(raw, check), [], False, 0  # closed: trailers after compression
    while True:
        stream.skip_zeros()
        header = stream.take(110)
        if not header:
            if inside or closed < stream.compressed:
                raise _Problem("the initramfs ends before its cpio archive's TRAILER!!!: truncated")
            return members
        if len(header) < 110 or header[:6] not in (b"070701", b"070702"):
            raise _Problem("the initramfs is not a cpio (newc) archive where one should start")
        try:
            mode, size, namesize = int(header[14:22], 16), int(header[54:62], 16), int(header[94:102], 16)
        except ValueError:
            raise _Problem("a cpio header of the initramfs does not parse") from None
        name = stream.take(namesize)
        if len(name) < namesize:
            raise _Problem("the initramfs ends inside a member")
        stream.skip((-(110 + namesize)) % 4 + size + (-size % 4))
        name = name.rstrip(b"\0")
        inside = name != b"TRAILER!!!"
        if not inside:
            closed = stream.compressed
            continue
        members.append((name, mode, size))
        if len(members) > MAX_CPIO_ENTRIES:
            raise _Problem(f"the initramfs has more than {MAX_CPIO_ENTRIES} members; not read")


_HV_MODULE_FILE = re.compile(rb"hv_[a-z_]+\.ko(?:\.(?:xz|zst|gz))?")


def normal_member_name(name: bytes) -> bytes:
    """A cpio member's name as the kernel's unpacker resolves it: no leading ./ or /, no
    // or /./ (the live listing's awk filter spells names the same way)."""
    name = re.sub(rb"^(?:\.?/)+", b"", name)
    while b"/./" in name:
        name = name.replace(b"/./", b"/")
    return re.sub(rb"/+", b"/", name)


def loadable_hv_modules(final: dict[bytes, tuple[int, int]], release: str) -> set[str]:
    """The hv_*.ko modules the unpacked initramfs holds for ``release``: regular, non-empty
    files under (usr/)lib/modules/RELEASE/ in the final state (the same rule as the live
    section's listing filter)."""
    prefixes = (f"lib/modules/{release}/".encode(), f"usr/lib/modules/{release}/".encode())
    found = set()
    for path, (mode, size) in final.items():
        base = path.rsplit(b"/", 1)[-1]
        regular = mode & 0o170000 == 0o100000 and size > 0 and b" " not in path
        if regular and path.startswith(prefixes) and _HV_MODULE_FILE.fullmatch(base):
            found.add(base.split(b".ko")[0].decode() + ".ko")
    return found


def _initramfs_hv(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section for the default entry's kernel: ``builtin``, or every initrd file
    the default entry loads (its ``initrd`` line(s): early microcode + main) and the
    Hyper-V modules they hold (cpio archives unpacked in memory: regular, non-empty files of
    the entry's kernel's module tree, later members replacing earlier ones). A file the
    entry names that is not in the image is an error naming it (GRUB would stop there)."""
    boot = default_boot_entry(fs)
    release = default_kernel_release(fs)
    if not release:
        raise _Problem(
            f"the boot loader's default entry ({boot.where}) names no kernel release: {boot.kernel}"
        )
    builtin = fs.read([f"/lib/modules/{release}/modules.builtin"], DB_LIMIT)[
        f"/lib/modules/{release}/modules.builtin"
    ]
    if isinstance(builtin, bytes) and b"/hv_storvsc.ko" in builtin:
        return 0, "builtin\n"
    if not boot.initrds:
        return ABSENT_RC, ""  # the entry loads no initramfs
    out, final = "", {}
    for named in boot.initrds:
        path = boot_file_path(fs, named)
        if not _is_file(fs, path):
            raise _Problem(
                f"the default entry ({boot.where}) loads initrd {named}, which is not a file in the image ({path})"
            )
        raw = fs.read([path], INITRD_LIMIT)[path]
        if not isinstance(raw, bytes):
            raise _Problem(getattr(raw, "reason", f"{path}: not read"))
        # the kernel unpacks the initrds in order, each member replacing one of the same name
        for name, mode, size in initramfs_members(raw, fs.meter.check_time):
            final[normal_member_name(name)] = (mode, size)
        out += f"image {path}\n"
    return 0, out + "".join(f"{m}\n" for m in sorted(loadable_hv_modules(final, release)))


def _is_file(fs: ImageFs, path: str) -> bool:
    """Whether ``path`` (links followed) is a regular file of the image; _Problem when it
    cannot be read."""
    found = fs.resolve([path])[path]
    if isinstance(found, Unreadable):
        raise _Problem(found.reason)
    return found is not None and found.kind == "file"


def boot_file_path(fs: ImageFs, named: str) -> str:
    """Where a file the boot loader names (relative to its root device: ``(hd0,gpt2)/x``,
    ``/vmlinuz-X`` on a separate /boot) is in the image's tree."""
    path = re.sub(r"^\([^)]*\)", "", named)
    if path.startswith("/boot/"):
        return path
    if any(getattr(mount, "point", "") == "/boot" for mount in getattr(fs, "mounts", [])):
        return "/boot" + path
    return path


def _times(fs: ImageFs, _: str) -> tuple[int, str]:
    """The clock of this machine when the image was read; the boot time does not exist."""
    return 0, f"{int(time.time())}\n"


def default_kernel_release(fs: ImageFs) -> str:
    """The kernel release the boot loader's default entry boots ("" when not told)."""
    if not hasattr(fs, "release"):
        fs.release = _default_kernel_release(fs)
    return fs.release


def default_boot_entry(fs: ImageFs) -> BootEntry:
    """The entry the boot loader boots by default (facts/boot_entries.py, the parser the
    live side uses): _NotOffline with the reason when the image does not tell it for sure,
    _Problem when a boot loader file cannot be read."""
    if not hasattr(fs, "boot_entry"):
        try:
            fs.boot_entry = _default_boot_entry(fs)
        except _Problem as exc:
            fs.boot_entry = exc
    if isinstance(fs.boot_entry, _Problem):
        raise fs.boot_entry
    return fs.boot_entry


def _default_boot_entry(fs: ImageFs) -> BootEntry:
    offline = _boot_facts(fs)
    try:
        return offline.default_boot_entry(_systemd_boot_marker(fs))
    except NotAvailableOffline as exc:
        raise _NotOffline(str(exc).removeprefix(f"{NOT_SURE}: ")) from None
    except FactError as exc:
        raise _Problem(str(exc)) from None


def _boot_facts(fs: ImageFs) -> OfflineLinuxFacts:
    """Facts holding the boot loader sections only (to find the default entry)."""
    offline = OfflineLinuxFacts(sections={}, source=fs.path)
    for name in ("default_grub", "grub_cfg", "bls_entries", "extlinux", "grubenv"):
        offline.sections[name] = _produce_section(fs, name)
    return offline


def _proc_cmdline(fs: ImageFs, _: str) -> tuple[int, str]:
    """/proc/cmdline offline: the kernel line of the boot loader's default entry (what the
    next boot gets; GRUB puts BOOT_IMAGE first), never a line of a running kernel."""
    try:
        entry = default_boot_entry(fs)
    except _NotOffline as exc:
        raise _NotOffline(f"{exc}; the live check reads /proc/cmdline of the booted VM") from None
    if entry.fallback:  # review-r2 #17: GRUB boots the fallback entry when a file fails to load
        for named in [entry.kernel, *entry.initrds]:
            path = boot_file_path(fs, named)
            if not _is_file(fs, path):
                raise _NotOffline(
                    f"the default entry ({entry.where}) loads {named}, which is not a file in the image "
                    f"({path}): GRUB then boots the fallback entry (fallback={entry.fallback}); the live "
                    "check reads /proc/cmdline of the booted VM"
                )
    if len(entry.lines) > 1:
        raise _NotOffline(
            f"the default entry ({entry.where}) has {len(entry.lines)} {SEVERAL_LINES} {entry.decided_by}; "
            "the live check reads /proc/cmdline of the booted VM"
        )
    return 0, " ".join([f"BOOT_IMAGE={entry.kernel}", *entry.params]) + "\n"


SEVERAL_LINES = "kernel lines, picked at boot by"  # GRUB decides at boot between the entry's lines


def _root_cmdline(fs: ImageFs) -> Section:
    """The default entry's kernel line as far as its root= goes: /proc/cmdline offline, or,
    when GRUB decides at boot between several lines, their root= words when every line names
    the same ones (else the reason)."""
    line = _produce_section(fs, "proc_cmdline")
    if SEVERAL_LINES not in line.problem:
        return line
    try:
        entry = default_boot_entry(fs)
    except _Problem:
        return line
    if len(entry.lines) < 2:
        return line
    roots = set()
    for params in entry.lines:
        words = params[: params.index("--")] if "--" in params else params
        roots.add(tuple(w for w in words if w.startswith("root=")))
    if len(roots) > 1:
        shown = " or ".join(" ".join(r) or "no root=" for r in sorted(roots))
        return Section(2, "", problem=f"{line.problem}; their root= differ ({shown})")
    return _framed("proc_cmdline", 0, " ".join(roots.pop()) + "\n")


_KERNEL_WORDS = ("linux", "linux16", "linuxefi")
SYSTEMD_BOOT_MARKERS = (
    "/boot/efi/loader/loader.conf",
    "/efi/loader/loader.conf",
    "/boot/loader/loader.conf",
    "/boot/efi/EFI/systemd/systemd-bootx64.efi",
    "/efi/EFI/systemd/systemd-bootx64.efi",
)


def _systemd_boot_marker(fs: ImageFs) -> str:
    """A systemd-boot file on the ESP or /boot ("" when none): beside GRUB, which boots is
    not known offline."""
    # boot-only (the root not read, no EFI System Partition on the disk): /efi is on the root
    names = [m for m in SYSTEMD_BOOT_MARKERS if not getattr(fs, "boot_only", False) or m.startswith("/boot/")]
    markers = fs.resolve(names)
    for name, entry in markers.items():
        if isinstance(entry, Unreadable):
            raise _Problem(entry.reason)
        if entry is not None:
            return name
    return ""


def _default_kernel_release(fs: ImageFs) -> str:
    try:
        path = default_boot_entry(fs).kernel
    except _Problem:
        return ""
    match = re.search(r"vmlinuz-(\S+)", path)
    return match.group(1) if match else ""


# -- sshd: the settings we judge, resolved as sshd -T does (LNX-015/020/022) -------------

# OpenSSH's compiled-in defaults of the settings the checks read (sshd -T's spelling).
SSHD_DEFAULTS = {
    "port": ["22"],
    "addressfamily": ["any"],
    "listenaddress": [],
    "clientaliveinterval": ["0"],
    "clientalivecountmax": ["3"],
    "authorizedkeysfile": [".ssh/authorized_keys .ssh/authorized_keys2"],
    "authorizedkeyscommand": ["none"],
    "trustedusercakeys": ["none"],
    "passwordauthentication": ["yes"],
    "permitrootlogin": ["without-password"],
    "pubkeyauthentication": ["yes"],
}
_SSHD_ALIASES = {"permitrootlogin": {"prohibit-password": "without-password"}}
_SSHD_MULTI = ("port", "listenaddress")
MAX_SSHD_FILES = 100


def _sshd_words(line: str) -> tuple[str, str]:
    """``Keyword value`` or ``Keyword=value`` -> (keyword in lower case, value)."""
    match = re.match(r"\s*([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*?)\s*$", line)
    if not match or line.lstrip().startswith("#"):
        return "", ""
    return match.group(1).lower(), match.group(2)


def _sshd_files(fs: ImageFs) -> tuple[list[tuple[str, list[str], bool]], list[str]]:
    """(file, lines) of sshd_config and every Include'd file, in the order sshd reads them
    (an Include is read where it stands), plus the files in the live script's breadth-first
    order for its ``cfg`` lines. A file Include'd inside a Match block is marked conditional
    (its settings are not global: sshd -T without -C does not apply them).
    _Problem when a file cannot be read."""
    main = "/etc/ssh/sshd_config"
    if _one_file(fs, main) is None:
        main = "/usr/etc/ssh/sshd_config"
        if _one_file(fs, main) is None:
            raise _Problem(
                "sshd is installed but neither /etc/ssh/sshd_config nor /usr/etc/ssh/sshd_config exists"
            )
    ordered: list[tuple[str, list[str]]] = []
    breadth: list[str] = []
    seen: set[str] = set()

    def read(path: str, depth: int) -> list[str]:
        if len(seen) >= MAX_SSHD_FILES or depth > 16:
            raise _Problem(f"sshd_config: more than {MAX_SSHD_FILES} files or Include depth 16")
        seen.add(path)
        return _lines(_need(fs, path))

    contents: dict[str, list[str]] = {}

    def walk(path: str, depth: int, conditional: bool = False) -> None:
        contents[path] = read(path, depth)
        mine: list[str] = []
        ordered.append((path, mine, conditional))
        in_match = conditional
        for line in contents[path]:
            keyword, value = _sshd_words(line)
            if keyword == "match":
                in_match = conditional or value.lower() != "all"
            if keyword != "include":
                mine.append(line)
                continue
            for pattern in value.split():
                pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                for found in fs.glob([pattern])[pattern]:
                    if fs.resolve([found])[found] is not None and found not in seen:
                        # read where the Include stands; inside a Match block it is conditional
                        walk(found, depth + 1, in_match)
            mine = []
            ordered.append((path, mine, conditional))

    walk(main, 0)
    queue = [main]
    while queue:
        path = queue.pop(0)
        if path in breadth:
            continue
        breadth.append(path)
        for line in contents.get(path, []):
            keyword, value = _sshd_words(line)
            if keyword == "include":
                for pattern in value.split():
                    pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                    queue += [f for f in fs.glob([pattern])[pattern] if f in contents]
    fs.sshd_contents = contents
    return ordered, breadth


_SSHD_TIMES = ("clientaliveinterval",)
_SSHD_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def sshd_seconds(keyword: str, value: str) -> str:
    """A time value as sshd -T prints it, in seconds (OpenSSH convtime: ``90``, ``3m``,
    ``1h30m``); _Problem for a value sshd would refuse."""
    word = value.split()[0] if value.split() else ""
    parts = re.findall(r"(\d+)([sSmMhHdDwW]?)", word)
    if not word or "".join(n + u for n, u in parts) != word or any(not u for _, u in parts[:-1]):
        raise _Problem(f"sshd_config: {keyword} {value!r} is not a time value sshd accepts")
    return str(sum(int(n) * _SSHD_TIME_UNITS[u.lower()] for n, u in parts))


def sshd_settings(fs: ImageFs) -> dict[str, list[str]]:
    """The settings of SSHD_DEFAULTS as sshd -T prints them (without -C: Match blocks not
    applied): the first value of a keyword wins, Port and ListenAddress accumulate."""
    if hasattr(fs, "sshd_config"):
        return fs.sshd_config
    files, _ = _sshd_files(fs)
    found: dict[str, list[str]] = {}
    in_match: dict[str, bool] = {}  # per file: a Match block ends with its file
    for path, lines, conditional in files:
        for line in lines:
            keyword, value = _sshd_words(line)
            if keyword == "match":
                in_match[path] = value.lower() != "all"
            if conditional or in_match.get(path) or keyword not in SSHD_DEFAULTS or not value:
                continue
            value = _SSHD_ALIASES.get(keyword, {}).get(value.lower(), value)
            if keyword in _SSHD_TIMES:
                value = sshd_seconds(keyword, value)
            if keyword in _SSHD_MULTI:
                found.setdefault(keyword, []).append(value)
            elif keyword not in found:
                verbatim = keyword in ("authorizedkeysfile", "authorizedkeyscommand", "trustedusercakeys")
                found[keyword] = [value if verbatim else value.lower()]
    settings = {k: found.get(k, v) for k, v in SSHD_DEFAULTS.items()}
    if not settings["listenaddress"]:
        family = settings["addressfamily"][0]
        hosts = {"inet": ["0.0.0.0"], "inet6": ["[::]"]}.get(family, ["[::]", "0.0.0.0"])
        settings["listenaddress"] = [f"{h}:{p}" for h in hosts for p in settings["port"]]
    else:
        listen = []
        for value in settings["listenaddress"]:
            host = value.split()[0]
            if re.search(r"(\]|^[^:\[]+):\d+$", host):
                listen.append(host)
            else:
                host = f"[{host}]" if ":" in host and not host.startswith("[") else host
                listen += [f"{host}:{p}" for p in settings["port"]]
        settings["listenaddress"] = listen
    fs.sshd_config = settings
    return settings


_SSHD_MATCH_LINE = re.compile(
    r"^[ \t]*(match|clientaliveinterval|authorizedkeysfile|authorizedkeyscommand)[ \t]", re.I
)
_SSHD_CFG_LINE = re.compile(
    r"^[ \t]*(match|include|authorizedkeysfile|authorizedkeyscommand|passwordauthentication"
    r"|permitrootlogin|trustedusercakeys)([ \t]|=)",
    re.I,
)


def _sshd_effective(fs: ImageFs, _: str) -> tuple[int, str]:
    """``sshd -T`` for the settings the checks judge, then the live script's ``## match``
    lines of sshd_config and sshd_config.d/*.conf."""
    if not _command_v(fs, "sshd"):
        raise _Problem("sshd is not installed in the image (sshd -T cannot run)")
    settings = sshd_settings(fs)
    out = [f"{k} {v}\n" for k, values in settings.items() for v in values]
    out.append("## match\n")
    files = [
        "/etc/ssh/sshd_config",
        *fs.glob(["/etc/ssh/sshd_config.d/*.conf"])["/etc/ssh/sshd_config.d/*.conf"],
    ]
    texts = fs.read(files)
    for path in files:
        raw = texts[path]
        if isinstance(raw, Unreadable):
            raise _Problem(raw.reason)
        for line in _lines(_text(raw)) if raw is not None else []:
            if _SSHD_MATCH_LINE.match(line):
                out.append(f"{path}: {line}\n")
    return 0, "".join(out)


_KEY_MATERIAL = re.compile(r"((ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)[ \t]+[A-Za-z0-9+/=]+.*$")


def _tilde(fs: ImageFs, pattern: str) -> str:
    """``~/x`` or ``~name/x`` with the home directory /etc/passwd gives (uid 0's for ``~``)."""
    who, _, rest = pattern[1:].partition("/")
    for line in _lines(_need(fs, "/etc/passwd")):
        fields = line.split(":")
        if len(fields) >= 6 and (fields[0] == who if who else fields[2] == "0"):
            return f"{fields[5].rstrip('/')}/{rest}"
    raise _Problem(f"AuthorizedKeysFile {pattern!r}: no account {who or 'with uid 0'} in /etc/passwd to expand ~")


def _authorized_keys(fs: ImageFs, _: str) -> tuple[int, str]:
    """The live section: sshd's AuthorizedKeysFile per account, key material masked."""
    if not _command_v(fs, "sshd"):
        return 0, "akf none (sshd not installed)\n"
    settings = sshd_settings(fs)
    akf = settings["authorizedkeysfile"][0]
    out = [
        f"akf {akf}\n",
        f"akc {settings['authorizedkeyscommand'][0]}\n",
        f"tuck {settings['trustedusercakeys'][0]}\n",
    ]
    _, breadth = _sshd_files(fs)
    lines = fs.sshd_contents
    for path in breadth:
        out += [f"cfg {path}: {line}\n" for line in lines[path] if _SSHD_CFG_LINE.match(line)]
    out.append(f"cfg_files {len(breadth)}\n")
    wanted: list[tuple[str, str]] = []
    for line in _lines(_need(fs, "/etc/passwd")):
        fields = line.split(":")
        if len(fields) < 6:
            continue
        user, uid, home = fields[0], fields[2], fields[5]
        for pattern in akf.split():
            if pattern == "none":
                continue
            if pattern.startswith("~"):
                # sshd expands ~ once, when it reads its configuration, as root (servconf.c
                # tilde_expand_filename(arg, getuid())): ~/x is root's, ~name/x that account's
                pattern = _tilde(fs, pattern)
            path = percent_expand(pattern, {"h": home, "u": user, "U": uid})
            if path is None:
                raise _Problem(f"AuthorizedKeysFile {pattern!r} has a % token sshd does not know")
            wanted.append((user, path if path.startswith("/") else f"{home}/{path}"))
    data = fs.read(sorted({p for _, p in wanted}))
    for user, path in wanted:
        raw = data[path]
        if isinstance(raw, Unreadable):
            raise _Problem(raw.reason)
        if raw is None:
            continue
        out.append(f"keysfile {user} {path}\n")
        for line in _lines(_text(raw)):
            if not re.match(r"^[ \t]*(#|$)", line):
                out.append("key " + _KEY_MATERIAL.sub(lambda m: f"{m.group(1)} KEY", line, count=1) + "\n")
    return 0, "".join(out)


# -- block devices (LNX-001/002/010/011) from the VHDs' partition tables ----------------

_FSTYPE = {"lvm2_pv": "LVM2_member"}


def _disk_rows(
    name: str, facts: DiskFacts, mounts: dict[int, str], holders: dict[int, str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """sys_block, lsblk and blkid lines of one VHD as the VM would list it (``holders``:
    partition -> the device-mapper device on it)."""
    holders = holders or {}
    if facts.virtual_size is None or not facts.content_readable:
        raise _Problem(f"{facts.path}: the disk's size or content is not known ({facts.content_reason})")
    sys_block = [f"disk {name} size={facts.virtual_size // 512} removable=0 ro=0 dm= dmuuid= slaves="]
    whole = facts.whole_disk_fs
    fstype = _FSTYPE.get(whole.type, whole.type) if whole else ""
    lsblk = [
        f'NAME="{name}" KNAME="{name}" PKNAME="" TYPE="disk" SIZE="{facts.virtual_size}" '
        f'FSTYPE="{fstype}" MOUNTPOINT="{mounts.get(0, "")}" UUID="{whole.uuid if whole else ""}"'
    ]
    blkid = [f'/dev/{name}: UUID="{whole.uuid}" TYPE="{fstype}"'] if whole and whole.uuid else []
    for part in facts.partitions:
        if part.kind == "extended" or part.size_sectors <= 0:
            continue
        kname = f"{name}{part.index}"
        probe = part.content
        fstype = _FSTYPE.get(probe.type, probe.type) if probe else ""
        parttype = part.type_code.lower()
        sys_block.append(
            f"part {kname} disk={name} start={part.start_sector} size={part.size_sectors} "
            f"holders={holders[part.index] + ',' if part.index in holders else ''}"
        )
        lsblk.append(
            f'NAME="{kname}" KNAME="{kname}" PKNAME="{name}" TYPE="part" SIZE="{part.size_bytes}" '
            f'FSTYPE="{fstype}" MOUNTPOINT="{mounts.get(part.index, "")}" PARTTYPE="{parttype}" '
            f'UUID="{probe.uuid if probe else ""}" PARTUUID="{part.partuuid}" LABEL="{probe.label if probe else ""}"'
        )
        fields = [
            f'{k}="{v}"'
            for k, v in (("UUID", probe.uuid if probe else ""), ("TYPE", fstype), ("PARTUUID", part.partuuid))
            if v
        ]
        blkid.append(f"/dev/{kname}: {' '.join(fields)}")
    return sys_block, lsblk, blkid


def block_sections(
    os_disk: DiskFacts, data_disks: list[DiskFacts], root_problem: str = "", lvm: LvmRoot | str = ""
) -> dict[str, Section]:
    """sys_block / lsblk / blkid / disk_links of the OS disk (sda) and the data disks (sdc,
    sdd, ... in the order given): partitions from the partition tables, / where the root
    read is (its root= named it), the other mount points from the image's /etc/fstab (what
    the VM mounts at boot). No resource disk exists offline.

    When the root is not read but ``lvm`` says the default entry's root= is a logical
    volume of this disk's physical volumes (:func:`lvm_root`), / is that device-mapper
    device (dm-0, its name and uuid as LVM gives them) over its partitions; the other
    mount points are then not known (the root's /etc/fstab is not read) and none is listed."""
    if isinstance(lvm, LvmRoot) and (root_problem or not os_disk.root_fs.readable):
        try:
            return _lvm_block_sections(os_disk, data_disks, lvm)
        except _Problem as exc:
            return {n: Section(2, "", problem=str(exc)) for n in ("sys_block", "lsblk", "blkid")}
    try:
        if "fstab" in os_disk.root_fs.unreadable or not os_disk.root_fs.readable or root_problem:
            why = root_problem or os_disk.root_fs.unreadable.get("fstab") or os_disk.root_fs.reason
            pvs = [f"partition {p.index}" for p in os_disk.partitions if p.role == "lvm"]
            lvm = f"; the OS disk holds an LVM physical volume ({', '.join(pvs)})" if pvs else ""
            raise _Problem(f"mount points unknown: /etc/fstab not read ({why}){lvm}")
        mounts = {}
        for part in os_disk.partitions:
            points = [
                e.mountpoint if e.fstype != "swap" else "[SWAP]"
                for e in os_disk.fstab_references(part)
                if e.mountpoint != "/"  # / is what the kernel mounts: the root read
            ]
            if points:
                mounts[part.index] = points[0]
        mounts[os_disk.root_fs.partition_index or 0] = "/"  # 0: the root spans the whole disk
        rows = [_disk_rows("sda", os_disk, mounts)]
        rows += [_disk_rows(f"sd{chr(ord('c') + i)}", d, {}) for i, d in enumerate(data_disks[:20])]
    except _Problem as exc:
        return {n: Section(2, "", problem=str(exc)) for n in ("sys_block", "lsblk", "blkid")}
    return _block_texts(rows)


def _lvm_block_sections(os_disk: DiskFacts, data_disks: list[DiskFacts], lvm: LvmRoot) -> dict[str, Section]:
    dm = "dm-0"
    rows = [_disk_rows("sda", os_disk, {}, {i: dm for i in lvm.partitions})]
    rows += [_disk_rows(f"sd{chr(ord('c') + i)}", d, {}) for i, d in enumerate(data_disks[:20])]
    lv = lvm.vg.lvs[lvm.lv]
    name, slaves = lvm.vg.dm_name(lvm.lv), "".join(f"sda{i}," for i in lvm.partitions)
    rows.append(
        (
            [f"disk {dm} size={lv.sectors} removable=0 ro=0 dm={name} dmuuid={lvm.vg.dm_uuid(lvm.lv)} slaves={slaves}"],
            [
                f'NAME="{name}" KNAME="{dm}" PKNAME="sda{lvm.partitions[0]}" TYPE="lvm" SIZE="{lv.sectors * 512}" '
                'FSTYPE="" MOUNTPOINT="/" UUID=""'
            ],
            [],
        )
    )
    return _block_texts(rows)


def _block_texts(rows: list[tuple[list[str], list[str], list[str]]]) -> dict[str, Section]:
    """The sys_block, lsblk and blkid sections of these rows (and an empty disk_links)."""
    texts = ["\n".join(line for r in rows for line in r[i]) + "\n" for i in range(3)]
    return {
        name: _framed(name, 0, text)
        for name, text in zip(("sys_block", "lsblk", "blkid"), texts, strict=True)
    } | {"disk_links": _framed("disk_links", 0, "")}


# name -> producer(fs, snippet) -> (rc, stdout)
READERS = {
    "os_release": _os_release,
    "fstab": _exists_or_absent("/etc/fstab"),
    "waagent_conf": _exists_or_absent("/etc/waagent.conf"),
    "passwd": _passwd,
    "shadow": _shadow,
    "home_files": _home_files,
    "agent": _agent,
    "sshd": _sshd,
    "packages": _packages,
    "times": _times,
    "glibc": _glibc,
    "openssl": _openssl,
    "uname": _uname,
    "sshd_effective": _sshd_effective,
    "authorized_keys": _authorized_keys,
    "agent_version": _agent_version,
    "agent_python": _agent_python,
    "kernel_modules": _kernel_modules,
    "fs_modules": _fs_modules,
    "kernel_changelog": _kernel_changelog,
    "proc_cmdline": _proc_cmdline,
    "initramfs_hv": _initramfs_hv,
}


def offline_sections() -> dict[str, str]:
    """Section name -> how it is read offline ("files" for _cat sections, else the reader).
    A _cat section of runtime paths only (/run, /proc, /sys, ...) is not read offline."""
    found = {}
    for name, (_, snippet) in SECTIONS.items():
        patterns = cat_patterns(snippet)
        if name in READERS:
            found[name] = READERS[name].__name__.strip("_")
        elif patterns is not None and not all(_runtime(p) for p in patterns):
            found[name] = "files"
    return found


def runtime_patterns() -> dict[str, list[str]]:
    """_cat section name -> its patterns under RUNTIME_DIRS (what the running system fills
    at boot, never in the image): all of them make the section live-only, some of them a
    section read offline without its boot-time part."""
    found = {}
    for name, (_, snippet) in SECTIONS.items():
        runtime = [p for p in cat_patterns(snippet) or [] if _runtime(p)]
        if runtime and name not in READERS:
            found[name] = runtime
    return found


def _produce_section(fs: ImageFs, name: str) -> Section:
    snippet = SECTIONS.get(name, (False, ""))[1]
    try:
        if name in READERS:
            rc, out = READERS[name](fs, snippet)
        else:
            patterns = cat_patterns(snippet)
            if patterns is None:
                raise KeyError(name)
            rc, out = _cat(fs, patterns)
            header = re.match(r"echo '([^']*)'; ", snippet)  # a fixed first line (modprobe_config)
            out = f"{header.group(1)}\n{out}" if header else out
    except _NotOffline as exc:
        return Section(2, "", problem=f"{NOT_SURE}: {exc}")
    except _Problem as exc:
        return Section(2, "", problem=str(exc))
    except (FsReadError, BudgetExceeded) as exc:
        return Section(2, "", problem=f"reading the image stopped: {exc}")
    return _framed(name, rc, out)


def _framed(name: str, rc: int, stdout: str) -> Section:
    """The Section the live collection would record for this output (same framing)."""
    nonce = "0" * 16
    body = f"{stdout}\n@@{nonce} rc {rc}"
    size = len(body.encode("utf-8", "surrogateescape"))
    output = f"@@{nonce} begin {name}\n{body}\n@@{nonce} end {name} 0 0 0 {size}\n"
    section = parse_collection(output, nonce)[name]
    return Section(section.rc, section.text, size=section.size)


# ---------------------------------------------------------------------------- facts


class _JudgedSettings(dict):
    """sshd settings read offline: a setting outside SSHD_DEFAULTS is not available offline."""

    def _known(self, key: str) -> None:
        if key not in SSHD_DEFAULTS:
            raise NotAvailableOffline(
                f"{OFFLINE} (sshd -T for {key}: only {', '.join(SSHD_DEFAULTS)} are resolved offline)"
            )

    def __getitem__(self, key: str) -> str:
        self._known(key)
        return super().__getitem__(key)

    def get(self, key: str, default=None):
        self._known(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._known(str(key))
        return super().__contains__(key)


@dataclass
class OfflineLinuxFacts(LinuxFacts):
    """Linux facts of an image read from its VHD. A section that only a running VM can
    give raises :class:`NotAvailableOffline` (the check is not applicable); the kernel
    line "running" is the boot loader's default entry."""

    source: str = ""
    unavailable: dict[str, str] = field(default_factory=dict)
    # section -> its runtime paths (/run/...) not read offline; the sections a check read
    # that lack them are noted until offline_verdict() words the verdict
    runtime_parts: dict[str, list[str]] = field(default_factory=dict)
    unread_parts: list[str] = field(default_factory=list)

    def _offline(self, name: str) -> None:
        if name in self.unavailable:
            raise NotAvailableOffline(self.unavailable[name])
        if name in self.sections and self.sections[name].problem.startswith(NOT_SURE):
            raise NotAvailableOffline(self.sections[name].problem)
        if name not in self.sections:
            what = LIVE_ONLY.get(name) or f"the live section {name!r}"
            raise NotAvailableOffline(f"{OFFLINE} ({what})")
        for pattern in self.runtime_parts.get(name, []):
            if pattern not in self.unread_parts:
                self.unread_parts.append(pattern)

    def fact(self, name: str):
        self._offline(name)
        section = self.sections[name]
        if section.problem:
            return Fact.failed(f"reading {name.replace('_', ' ')} from the VHD: {section.problem}")
        return super().fact(name)

    def raw(self, name: str) -> Section:
        self._offline(name)
        section = self.sections[name]
        if section.problem:
            raise FactError(f"reading {name.replace('_', ' ')} from the VHD: {section.problem}")
        return super().raw(name)

    @property
    def kernel_cmdline(self) -> list[str]:
        """Offline: the kernel line of the boot loader's default entry (what would run)."""
        if "proc_cmdline" in self.sections:
            return super().kernel_cmdline
        entry = self.default_boot_entry()
        if len(entry.lines) > 1:
            raise NotAvailableOffline(
                f"{NOT_SURE}: the default entry ({entry.where}) has {len(entry.lines)} {SEVERAL_LINES} "
                f"{entry.decided_by}; the live check reads /proc/cmdline of the booted VM"
            )
        return entry.params

    def kernel_cmdline_alternatives(self) -> tuple[list[list[str]], str]:
        """Offline: every kernel line the default entry may boot (several when GRUB decides
        at boot between them) and what decides."""
        section = self.sections.get("proc_cmdline")
        if section is not None and SEVERAL_LINES not in section.problem:
            return [self.kernel_cmdline], ""  # one line, or the reason (systemd-boot beside GRUB..)
        entry = self.default_boot_entry()
        return [list(line) for line in entry.lines], entry.decided_by

    def default_boot_entry(self, systemd_boot: str = "") -> BootEntry:
        """The one entry the boot loader boots by default (facts/boot_entries.py).
        NotAvailableOffline when the image does not tell it for sure (a reason from the
        parser, two configurations booting different entries, systemd-boot beside GRUB);
        FactError when there is none."""
        results = self.default_boot_entries()
        if not results:
            raise FactError("no boot loader entry with a kernel line in the image (grub.cfg, BLS, extlinux)")
        if systemd_boot and (self.files("grub_cfg") or self.files("bls_entries")):
            raise NotAvailableOffline(
                f"{NOT_SURE}: systemd-boot ({systemd_boot}) is installed beside GRUB; which one boots is not known offline"
            )
        for result in results.values():
            if isinstance(result, str):
                raise NotAvailableOffline(f"{NOT_SURE}: {result}")
        entries = list(results.values())
        for other in entries[1:]:
            if not other.same_boot(entries[0]):
                raise NotAvailableOffline(
                    f"{NOT_SURE}: {entries[0].where} and {other.where} boot different kernel lines; "
                    "which configuration the firmware's boot loader reads is not known offline"
                )
        return entries[0]

    def sshd_settings(self) -> dict[str, str]:
        """sshd -T offline holds only the settings the checks judge; asking for another is
        not available offline (never a missing value taken as a default)."""
        return _JudgedSettings(super().sshd_settings())

    @property
    def boot_time(self) -> int:
        raise NotAvailableOffline(f"{OFFLINE} (when the VM booted)")

    def default_boot_kernel(self) -> str:
        """The kernel image path of the default boot entry."""
        return self.default_boot_entry().kernel


def read_linux_image(
    path: str, facts: DiskFacts | None = None, budget: Budget | None = None, data_disks: list[DiskFacts] = ()
) -> OfflineLinuxFacts:
    """Linux facts of the OS disk ``path`` read offline (``facts``: its inspection, reused
    when given). A root file system that cannot be read makes every offline section
    unreadable with the reason; DiskError when the file cannot be opened at all."""
    path = os.fspath(path)
    if facts is None:
        facts = disk.inspect_disk(path)
    elif not facts.root_fs.readable and "read_root_fs=False" in facts.root_fs.reason:
        facts.root_fs = disk.read_root_fs(path, facts)
    started = time.monotonic()
    result = OfflineLinuxFacts(sections={}, source=path, privileged=True)
    names = list(offline_sections())
    result.runtime_parts.update(READER_RUNTIME_PARTS)
    for name, runtime in runtime_patterns().items():
        if name in names:
            result.runtime_parts[name] = runtime
        else:
            result.unavailable[name] = (
                f"{OFFLINE} (the live section {name!r} reads {', '.join(runtime)}, which the running system fills)"
            )
    try:
        fs = ImageFs(path, facts, budget or Budget(temp_bytes=INITRD_LIMIT))
    except (DiskError, FsReadError) as exc:
        why = str(exc).removeprefix(f"{path}: ")
        for name in names:
            result.sections[name] = Section(2, "", problem=f"reading the image stopped: {why}")
        # an error naming the cause, unless root= names a logical volume on this disk's PVs
        result.sections.update(block_sections(facts, list(data_disks), lvm=lvm_root(path, facts)))
        result.meta = {"source": "vhd", "vhd": path, "bytes_read": 0, "seconds": 0.0}
        return result
    try:
        _prefetch(fs, names)
        stale = _whole_root_problem(facts) or root_not_booted(fs)
        for name in names:
            section = _produce_section(fs, name)
            if stale and not section.problem:
                section = Section(2, "", problem=stale)
            result.sections[name] = section
        lvm = lvm_root(path, facts, fs) if stale else ""
    finally:
        fs.close()
    result.sections.update(block_sections(facts, list(data_disks), stale, lvm))
    result.meta = {
        "source": "vhd",
        "vhd": path,
        "bytes_read": fs.bytes_read,
        "file_bytes": sum(len(v) for v in fs._contents.values() if isinstance(v, bytes)),
        "seconds": round(time.monotonic() - started, 3),
        "mounts": [m.point for m in fs.mounts],
    }
    return result


# Files the readers ask for, fetched in a few batches up front (each debugfs run costs a
# process start): the sections then find them in ImageFs' caches.
PREFETCH = (
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/fstab",
    "/etc/waagent.conf",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/hostname",
    "/etc/ssh/sshd_config",
    "/bin/sh",
    *(f"{d}/{b}" for d in PATH_DIRS for b in ("waagent", "sshd", "openssl")),
    *(
        f"{d}/{u}"
        for d in UNIT_DIRS
        for u in (
            "walinuxagent.service",
            "waagent.service",
            "ssh.service",
            "sshd.service",
            "ssh.socket",
            "sshd.socket",
        )
    ),
)


def _prefetch(fs: ImageFs, names: list[str]) -> None:
    """Read what the sections need in a few batches (failures are left to the sections)."""
    try:
        patterns = [p for n in names for p in cat_patterns(SECTIONS[n][1]) or []]
        patterns += [
            "/etc/systemd/system/*.wants",
            "/etc/systemd/system/*.requires",
            "/etc/ssh/sshd_config.d/*.conf",
        ]
        found = fs.glob(list(dict.fromkeys(patterns)))
        fs.read([p for ps in found.values() for p in ps])
    except (_Problem, FsReadError):
        pass
    try:
        fs.read([p for p in PREFETCH if p != "/bin/sh"])
        fs.read(["/var/lib/dpkg/status"], DB_LIMIT)
        fs.read(
            [f"{d}/{n}" for d in RPM_DIRS for n in ("rpmdb.sqlite", "rpmdb.sqlite-wal", "Packages")], DB_LIMIT
        )
    except FsReadError:
        pass


# GPT types systemd-gpt-auto-generator takes as the root when the kernel line has no root=
DISCOVERABLE_ROOTS = (
    "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",  # x86-64
    "44479540-F297-41B2-9AF7-D131D5F0458A",  # x86
    "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",  # ARM64
)


def root_not_booted(fs: ImageFs) -> str:
    """Why the file system read may not be the root the default boot entry mounts ("" when
    its ``root=`` names it): root= names another partition, a device-mapper/LVM path or
    nothing on the OS disk, or a UUID/LABEL that a file system inside a logical volume has
    too (or may have: an LV not probed, a LUKS/RAID/unknown container). Without root=
    (systemd-gpt-auto), or when the entry is not known, the read one counts only if no
    partition that was not read could be the root. Another partition holding a boot loader configuration that the root's
    fstab does not mount as /boot leaves the entry read unproven (:func:`_other_boot_configs`)."""
    root = fs.facts.root_fs
    where = "the whole disk" if root.partition_index is None else f"partition {root.partition_index}"
    read = f"the {root.fs_type} file system read ({where})"
    unread = f"; not read: {', '.join(root.unruled)}" if root.unruled else ""
    line = _root_cmdline(fs)
    if line.problem:
        if not root.unruled:
            return ""  # no other partition could hold the root
        return f"the default boot entry is not known ({line.problem}), so its root= cannot confirm that {read} is the root{unread}"
    other = _other_boot_configs(fs)
    if other:
        return f"{other}; so the default entry read does not confirm that {read} is the root{unread}"
    words = line.text.split()
    words = words[: words.index("--")] if "--" in words else words  # after "--": init's, not the kernel's
    specs = [w.split("=", 1)[1] for w in words if w.startswith("root=")]
    if not specs:
        auto = [p.index for p in fs.facts.partitions if p.type_code.upper() in DISCOVERABLE_ROOTS]
        if auto == [root.partition_index] and not root.unruled:
            return ""
        return (
            "the default boot entry has no root= (systemd-gpt-auto-generator or the initramfs picks the root), "
            f"so {read} is not known to be the root{unread}"
        )
    spec = specs[-1].strip('"')  # the kernel takes the last root=
    found, why = disk.kernel_root_partitions(fs.facts, spec)
    if found == [root.partition_index]:
        lvs, unprobed = _lv_matches(fs, spec)
        if disk.names_file_system(spec, None):
            unprobed += disk._unread_candidates(fs.facts, fs.content, wrappers_only=True)
        if not lvs and not unprobed:
            return ""
        if lvs:
            return (
                f"the default boot entry boots root={spec}, which {len(lvs) + 1} file systems match ({where} and "
                f"logical volume {', '.join(lvs)}): which one the initramfs mounts is not known, so {read} is "
                "not known to be the root"
            )
        return (
            f"the default boot entry boots root={spec}, which {read} has, but a file system not read "
            f"(inside a logical volume or a container on the OS disk) may have it too: {'; '.join(unprobed)}"
        )
    if len(found) > 1:
        why = f"{len(found)} file systems on the OS disk match it"
    elif found:
        why = "the " + ("whole disk" if found[0] is None else f"partition {found[0]}")
    return f"the default boot entry boots root={spec} ({why}), not {read}{unread}; the root it mounts is not read"


def _lv_matches(fs: ImageFs, spec: str) -> tuple[list[str], list[str]]:
    """For a root=UUID=/LABEL= (or /dev/disk/by-uuid|label/) spec: the logical volumes on the
    OS disk's physical volumes whose file system has it, and those that could not be
    probed (see disk.logical_volume_file_systems). ([], []) for other specs."""
    if not disk.names_file_system(spec, None):
        return [], []
    probes, unprobed = disk.logical_volume_file_systems(fs.content, fs.facts)
    return [name for name, probe in probes if disk.names_file_system(spec, probe)], unprobed


def _boot_configs(
    file, content, facts: DiskFacts, skip: set, fat: bool = False
) -> tuple[list[tuple[int, str]], list[str]]:
    """The ext/XFS partitions (with ``fat``, FAT ones too) not in ``skip`` holding a boot
    loader configuration at their top (:data:`BOOT_MARKERS`): (partition, first marker
    found), and the partitions that could not be looked into, each with why."""
    from pytest_vmimage.facts import _fat

    found, problems = [], []
    for part in facts.partitions:
        kind = part.content.type if part.content else ""
        if part.index in skip or kind not in ("ext2", "ext3", "ext4", "xfs", *(("vfat",) if fat else ())):
            continue
        try:
            if kind == "vfat":
                volume = _fat.FatVolume(
                    lambda off, n, s=part.start_bytes: content.read(s + off, n), part.size_bytes, file.meter
                )
                markers = [m for m in BOOT_MARKERS if volume.lookup(m) is not None]
            else:
                entries = disk._reader_for(file, content, facts, part.index).lstat_many(list(BOOT_MARKERS))
                problems += [f"partition {part.index}: {e.reason}" for e in entries.values() if isinstance(e, Unreadable)]
                markers = [m for m in BOOT_MARKERS if isinstance(entries.get(m), FileEntry)]
        except Exception as exc:  # noqa: BLE001 - a broken candidate is a reason, not a crash
            problems.append(f"partition {part.index}: {exc}")
            continue
        if markers:
            found.append((part.index, markers[0].lstrip("/")))
    return found, problems


def _other_boot_configs(fs: ImageFs) -> str:
    """Why the boot loader configuration read (the root's /boot, or the partition its fstab
    mounts there) may not be the one the boot loader reads ("" when none): another ext, XFS
    or FAT partition holds one at its top that the fstab does not mount as /boot. Which of
    the two GRUB reads is set by the prefix built into its core image, which is not read;
    systemd-boot reads loader/entries on the FAT partition it is on."""
    boot = [m.index for m in fs.mounts if m.point == "/boot" and m.index is not None]
    skip = {fs.facts.root_fs.partition_index, *boot}
    found, problems = _boot_configs(fs.file, fs.content, fs.facts, skip, fat=True)
    if problems:
        return (
            "a partition that may hold the boot loader's configuration could not be read ("
            + "; ".join(problems[:3]) + ")"
        )
    if not found:
        return ""
    read = f"partition {boot[0]} (mounted as /boot by /etc/fstab)" if boot else "/boot of the root read"
    others = ", ".join(f"partition {i} holds {marker}" for i, marker in found)
    return (
        f"two boot loader configurations: {others} at its top, not mounted as /boot by the root's "
        f"/etc/fstab, and {read}; which one boots is set by the boot loader installed (the prefix "
        "built into GRUB's core image, or systemd-boot on a FAT partition), which is not read"
    )


def root_tie(path: str, facts: DiskFacts, budget: Budget | None = None) -> str:
    """:func:`root_not_booted` for a disk whose root file system was just read (the
    artifacts suite's VHD-006/009 and the OS family use it through
    ``RootFsFacts.not_booted``): "" when the root read is the one the image boots, else why
    it may not be. When the boot loader files cannot be reached at all, as when the entry
    is not known: the root read counts only if nothing else could be the root."""
    try:
        fs = ImageFs(path, facts, budget or Budget())
    except (DiskError, FsReadError) as exc:
        if not facts.root_fs.unruled:
            return ""
        why = str(exc).removeprefix(f"{path}: ")
        return (
            f"the boot loader files could not be read ({why}), so no root= confirms that the "
            f"{facts.root_fs.fs_type} file system read is the root; not read: {', '.join(facts.root_fs.unruled)}"
        )
    try:
        return root_not_booted(fs)
    finally:
        fs.close()


BOOT_MARKERS = ("/grub/grub.cfg", "/grub2/grub.cfg", "/loader/entries", "/extlinux/extlinux.conf", "/syslinux/syslinux.cfg")


def boot_partition(path: str, facts: DiskFacts) -> tuple[int | None, str]:
    """The partition the boot loader reads when the root is not: the one ext/XFS partition
    holding grub/grub.cfg, grub2/grub.cfg, loader/entries or an extlinux configuration at
    its top (a separate /boot). None and why when none, or more than one, does."""
    fd = disk._open(path)
    try:
        st = os.fstat(fd)
        file = disk._File(fd, st.st_size, path)
        file.meter = Meter(Budget())
        scratch = DiskFacts(path=path, apparent_size=st.st_size, allocated_size=0, data_bytes=None, format="")
        content = disk._identify(file, scratch)
        if content is None:
            return None, f"the disk content cannot be read ({scratch.content_reason})"
        found, problems = _boot_configs(file, content, facts, set())
        found = [index for index, _ in found]
    finally:
        os.close(fd)
    if problems:
        return None, "a partition that may hold the boot loader's files could not be read (" + "; ".join(problems[:3]) + ")"
    if len(found) != 1:
        return None, (
            f"{len(found)} partitions hold a boot loader configuration ({', '.join(map(str, found))}): which one boots is not known"
            if found
            else "no partition holds grub/grub.cfg, loader/entries or an extlinux configuration"
        )
    return found[0], ""


@dataclass(frozen=True)
class LvmRoot:
    """The root the default boot entry mounts is a logical volume of a volume group whose
    metadata is on the OS disk's LVM physical volume(s) (read from them)."""

    spec: str  # root= (or rd.lvm.lv=) as the entry gives it
    vg: _lvm.VolumeGroup
    lv: str
    partitions: tuple[int, ...]  # the OS disk's PV partitions the LV's segments use


def lvm_root(path: str, facts: DiskFacts, fs: ImageFs | None = None) -> LvmRoot | str:
    """The logical volume the default boot entry boots as its root, when its root= names
    one (``/dev/mapper/VG-LV``, ``/dev/VG/LV``, or a UUID/LABEL no partition has with one
    ``rd.lvm.lv=VG/LV``) of a volume group recorded on this disk's physical volumes, every
    segment on them; else why not ("" when the disk holds no physical volume). The entry
    is read through ``fs``, or, when the root is not read, from the partition GRUB reads."""
    pvs = [p for p in facts.partitions if p.content and p.content.type == "lvm2_pv"]
    if not pvs:
        return ""
    own = fs is None
    if own and any(p.role == "efi" or (p.content and p.content.type == "vfat") for p in facts.partitions):
        return (
            "the default boot entry is not read: with the root not read, where the EFI System Partition "
            "is mounted (and whether systemd-boot is on it) is not known"
        )
    if own:
        try:
            index, why = boot_partition(path, facts)
        except DiskError as exc:
            index, why = None, str(exc)
        if index is None:
            return f"the default boot entry is not read: {why}"
        try:
            fs = ImageFs(path, facts, Budget(), boot_only=index)
        except (DiskError, FsReadError) as exc:
            return f"the default boot entry is not read: {exc}"
    try:
        line = _root_cmdline(fs)
        vgs, problems = {}, []
        for part in pvs:
            try:
                vg = _lvm.read_volume_group(
                    lambda off, n, part=part: fs.content.read(part.start_bytes + off, min(n, max(0, part.size_bytes - off))),
                    part.size_bytes,
                )
            except (_lvm.LvmError, FsReadError, DiskError) as exc:
                problems.append(f"partition {part.index}: {exc}")
                continue
            known = vgs.setdefault(vg.name, (vg, {}))
            if known[0].id != vg.id:
                problems.append(f"partition {part.index}: a second volume group named {vg.name}")
                continue
            known[1][vg.pv_id] = part.index
    finally:
        if own:
            fs.close()
    if line.problem:
        return f"the default boot entry is not known ({line.problem})"
    words = line.text.split()
    words = words[: words.index("--")] if "--" in words else words
    specs = [w.split("=", 1)[1].strip('"') for w in words if w.startswith("root=")]
    if not specs:
        return "the default boot entry has no root="
    spec = specs[-1]
    named: tuple[str, str] | None = None
    if spec.startswith("/dev/mapper/"):
        named = _lvm.split_dm_name(spec.removeprefix("/dev/mapper/"))
    elif re.fullmatch(r"/dev/(?!disk/|mapper/)[^/]+/[^/]+", spec):
        named = tuple(spec.removeprefix("/dev/").split("/"))  # type: ignore[assignment]
    elif not disk.kernel_root_partitions(facts, spec)[0]:
        lvs = [w.split("=", 1)[1] for w in words if w.startswith("rd.lvm.lv=")]
        if len(lvs) == 1 and lvs[0].count("/") == 1:
            named, spec = tuple(lvs[0].split("/")), f"{spec} with rd.lvm.lv={lvs[0]}"  # type: ignore[assignment]
    if named is None:
        return f"root={spec} names no logical volume"
    vg_name, lv_name = named
    if vg_name not in vgs:
        read = ", ".join(vgs) or "none"
        unread = f"; not read: {'; '.join(problems)}" if problems else ""
        return f"root={spec} names volume group {vg_name}, not on this disk's physical volumes (read: {read}{unread})"
    if problems:
        return f"root={spec}: the physical volumes on this disk are not all read ({'; '.join(problems)})"
    vg, by_id = vgs[vg_name]
    lv = vg.lvs.get(lv_name)
    if lv is None:
        return f"root={spec}: volume group {vg_name} has no (linear/striped) logical volume {lv_name}"
    under = [by_id.get(pv) for pv in lv.pvs]
    if None in under:
        return f"root={spec}: logical volume {vg_name}/{lv_name} uses a physical volume not on this disk"
    return LvmRoot(spec, vg, lv_name, tuple(sorted(set(under))))


def _whole_root_problem(facts: DiskFacts) -> str:
    """A reason the VHD-009 reader gave for every root fact at once (an unreplayed journal,
    another candidate root that could not be ruled out): it holds for every section too."""
    reasons = {facts.root_fs.unreadable.get(name, "") for name in disk.ROOT_FACTS}
    return reasons.pop() if len(reasons) == 1 else ""


def offline_verdict(verdict: Verdict, facts: OfflineLinuxFacts | None = None) -> Verdict:
    """A verdict on offline facts, worded for them (see :func:`offline_wording`); with the
    facts the check read, it says which boot-time parts (/run/...) of them were not read."""
    message = offline_wording(verdict.message)
    unread = getattr(facts, "unread_parts", [])
    if unread:
        note = f"offline: the boot-time part ({', '.join(unread)}) is not read"
        message = f"{message or verdict.actual}; {note}"
        unread.clear()
    return dataclasses.replace(verdict, actual=offline_wording(verdict.actual), message=message)


def image_facts(config, target):
    """The gather function of the plugin's ``linux_facts`` for an OS disk VHD: the VHD is
    inspected once per run through the artifacts plugin's cache (shared with the
    artifacts suite), then its Linux files are read."""
    from pytest_vmimage.artifacts_plugin import ARTIFACTS, detect_os

    def gather(connection, admin_user: str = "") -> OfflineLinuxFacts:
        state = config.stash[ARTIFACTS]
        artifact = next(v for v in state.vhds if v.label == target.options.get("vhd"))
        inspected = state.inspect(artifact, root_fs=True)
        if inspected.error is not None:
            raise inspected.error
        family, evidence = detect_os(inspected.facts)
        declared = state.os_option or artifact.os_family
        if (declared or family) == "windows":
            facts = OfflineLinuxFacts(sections={}, source=os.fspath(artifact.path))
            why = f"--vm-os {declared}" if declared else f"detected: {evidence}"
            facts.unavailable = {
                n: f"the OS disk holds Windows ({why}); the Linux suite does not apply" for n in SECTIONS
            }
            return facts
        data = [state.inspect(v) for v in state.vhds if v.role == "data"]
        data.sort(key=lambda d: (d.artifact.lun is None, d.artifact.lun or 0))
        broken = [d for d in data if d.error is not None]
        if broken:
            raise broken[0].error
        return read_linux_image(os.fspath(artifact.path), inspected.facts, data_disks=[d.facts for d in data])

    return gather


__all__ = [
    "LIVE_ONLY",
    "NotAvailableOffline",
    "OfflineLinuxFacts",
    "cat_patterns",
    "offline_sections",
    "offline_wording",
    "read_linux_image",
]
