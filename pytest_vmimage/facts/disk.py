"""Facts about a disk image file, read offline (VHD-001..009).

:func:`inspect_disk` opens the file read-only and reads a bounded number of small
ranges: the head and the 512-byte tail (container format, VHD footer), the partition
tables, the first few KiB of each partition (file-system signatures) and, through a
file-system reader, a handful of files of the root file system. Its cost does not grow
with the disk size: a 1 TiB sparse fixed VHD is judged by reading well under 1 MiB.

Disk content is reachable for raw files, fixed VHDs (the data region is the file minus
the footer) and dynamic VHDs (through the block allocation table). Differencing VHDs,
VHDX, qcow2 and VMDK are recognised and measured, but their content is not read.

Reading the root file system without mounting and without root:

* ext2/3/4: e2fsprogs' ``debugfs`` opens the image at a byte offset
  (``/dev/fd/N?offset=BYTES``: the ``?offset=`` io option of ext2fs' unix I/O manager;
  passing our own read-only descriptor avoids trouble with ``?`` in file names).
  debugfs opens read-only unless ``-w`` is given; ``-c`` (catastrophic mode) is added
  so it does not read the inode and block bitmaps. Its reads are not counted in
  ``bytes_read`` (they are of the same order: superblock, group descriptors, the
  inodes and directory blocks on the looked-up paths).
* XFS: ``xfs_db -r`` has no offset option and opens the path itself, so it cannot
  read a partition inside an image without a loop device or a copy. A small built-in
  reader (:mod:`pytest_vmimage.facts._xfs`) walks the superblock, inodes, directories
  (short form, block, leaf/node data blocks) and extent lists instead; its reads are
  counted in ``bytes_read``.
* libguestfs (``guestfish --ro -a disk.vhd``) would read every file system, LVM
  included, but boots a kernel appliance (a supermin VM, about 2-5 s under KVM and
  much longer under TCG on this machine), needs a readable host kernel and ~300 MB of
  packages: too heavy for a check that must answer in well under a second.

Logical volumes are not read: a root file system on LVM is reported as not readable,
with the reason.

Error model of the root file-system reader: every looked-up path is a value, "absent"
(``None``: the file system says it is not there) or :class:`Unreadable` (could not look:
a broken inode, a checksum or I/O error, debugfs failing). Only debugfs' "File not found
by ext2_lookup" and a name missing from a directory that was read whole are "absent".
:attr:`RootFsFacts.unreadable` names each fact that could not be read, with the reason;
checks that need it give an error. Reading is bounded by a :class:`Budget` (bytes read,
blocks and inodes visited, wall time, bytes debugfs may write to a temporary file); when
it runs out the reader stops with :class:`BudgetExceeded`, naming the budget, and every
fact of the root file system is unreadable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import json
import os
import re
import stat
import struct
import time
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pytest_vmimage.facts import image_files
from pytest_vmimage.facts._serial import from_jsonable, to_jsonable
from pytest_vmimage.verdict import FactError

if TYPE_CHECKING:
    from pytest_vmimage.facts._fat import FatVolume

SECTOR = 512
MIB = 1024 * 1024
GIB = 1024 * MIB

# Bounds on every loop and read (the file is untrusted).
MAX_LOGICAL_PARTITIONS = 64
MAX_GPT_ENTRIES = 1024
MAX_GPT_ENTRY_BYTES = 1 * MIB
MAX_SEEK_EXTENTS = 65536
MAX_ROOT_CANDIDATES = 16
MAX_DIR_ENTRIES = 4096
MAX_HOMES = 256
SMALL_FILE_LIMIT = 64 * 1024
VHD_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


class DiskError(FactError):
    """The disk image cannot be inspected at all (missing, a directory, unreadable).

    A truncated or garbage file is not an error: it gives facts that checks fail on.
    """


class FsReadError(Exception):
    """A file-system reader could not answer a whole batch (debugfs failed, timed out)."""


class BudgetExceeded(FsReadError):
    """The reader ran out of its :class:`Budget`; the message names which one."""


@dataclass(frozen=True)
class Unreadable:
    """A path that could not be looked at (not "absent"): the reason."""

    reason: str


@dataclass(frozen=True)
class Budget:
    """Bounds on reading one root file system (the image is untrusted)."""

    bytes_read: int = 64 * MIB  # from the image file, plus debugfs' output
    blocks: int = 100_000  # blocks and inodes visited by the built-in reader
    seconds: float = 20.0  # wall time of the whole root file-system read
    temp_bytes: int = 4 * MIB  # largest file debugfs may write (RLIMIT_FSIZE of its process)


class Meter:
    """What a root file-system read has used of its :class:`Budget`."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.bytes = self.blocks = 0
        self.deadline = time.monotonic() + budget.seconds

    def read(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.budget.bytes_read:
            raise BudgetExceeded(
                f"read budget exhausted: more than {self.budget.bytes_read} bytes read (Budget.bytes_read)"
            )
        self.check_time()

    def block(self, count: int = 1) -> None:
        self.blocks += count
        if self.blocks > self.budget.blocks:
            raise BudgetExceeded(
                f"block budget exhausted: more than {self.budget.blocks} blocks/inodes visited (Budget.blocks)"
            )

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check_time(self) -> None:
        if self.remaining() <= 0:
            raise BudgetExceeded(
                f"time budget exhausted: reading took more than {self.budget.seconds:g} s (Budget.seconds)"
            )


# ---------------------------------------------------------------------------- facts


@dataclass
class VhdFooter:
    """The 512-byte VHD footer (big-endian fields, VHD specification v1.0)."""

    location: str  # "end" (footer), "end-511" (pre-2004 511-byte footer), "start-copy"
    offset: int  # file offset where it was read
    cookie: str  # the 8 cookie bytes, latin-1 decoded; "conectix" when valid
    cookie_ok: bool
    features: int
    file_format_version: str  # "1.0"
    data_offset: int  # 0xFFFFFFFFFFFFFFFF for fixed disks
    timestamp: int  # seconds since 2000-01-01T00:00:00Z
    timestamp_iso: str
    creator_application: str
    creator_version: str  # "major.minor"
    creator_host_os: str  # "Wi2k", "Mac " or hex
    original_size: int
    current_size: int
    cylinders: int
    heads: int
    sectors_per_track: int
    disk_type: int  # 2 fixed, 3 dynamic, 4 differencing
    disk_type_name: str
    checksum_stored: int
    checksum_computed: int
    checksum_ok: bool
    unique_id: str
    saved_state: int

    @property
    def geometry_size(self) -> int:
        return self.cylinders * self.heads * self.sectors_per_track * SECTOR


@dataclass
class VhdDynamicHeader:
    """The 1024-byte dynamic disk header of a dynamic or differencing VHD."""

    offset: int
    cookie_ok: bool  # "cxsparse"
    table_offset: int
    max_table_entries: int
    block_size: int
    checksum_ok: bool
    parent_name: str = ""  # differencing disks: the parent's Unicode name
    parent_unique_id: str = ""


@dataclass
class FsProbe:
    """What a partition (or the whole disk) holds, from on-disk signatures."""

    type: str  # ext2/ext3/ext4/xfs/swap/lvm2_pv/ntfs/vfat/exfat/btrfs/bitlocker/""
    uuid: str = ""
    label: str = ""
    version: str = ""  # e.g. "SWAPSPACE2", "xfs v5", "LVM2 001"
    block_size: int = 0
    size_bytes: int = 0  # as the file system records it, when known


@dataclass
class Partition:
    """One partition of an MBR or GPT table; sectors are 512 bytes."""

    index: int  # Linux numbering: MBR primaries 1-4, logicals from 5; GPT entry + 1
    scheme: str  # "mbr" or "gpt"
    kind: str  # "primary", "extended", "logical", "gpt"
    start_sector: int
    size_sectors: int
    type_code: str  # MBR "0x83"; GPT type GUID in upper case
    type_name: str  # "Linux", "Linux swap", "Linux LVM", "EFI System", ...
    role: str  # "linux", "swap", "lvm", "efi", "bios_boot", "extended", "windows", "other"
    bootable: bool = False
    name: str = ""  # GPT partition name
    partuuid: str = ""  # GPT unique GUID (lower case) or MBR "{disk id:08x}-{index:02x}"
    attributes: int = 0  # GPT attribute bits (bit 2: legacy BIOS bootable)
    beyond_disk_end: bool = False
    content: FsProbe | None = None

    @property
    def start_bytes(self) -> int:
        return self.start_sector * SECTOR

    @property
    def size_bytes(self) -> int:
        return self.size_sectors * SECTOR


@dataclass
class PartitionTable:
    """The disk's partition table: "mbr", "gpt" or "none"."""

    scheme: str
    disk_id: str = ""  # MBR disk signature (8 hex digits) or GPT disk GUID
    protective_mbr: bool = False
    gpt_header_crc_ok: bool | None = None
    gpt_entries_crc_ok: bool | None = None
    partitions: list[Partition] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # any: the table cannot be trusted

    def first_partition(self) -> Partition | None:
        """The partition that starts lowest on the disk (extended containers excluded)."""
        real = [p for p in self.partitions if p.kind != "extended" and p.size_sectors > 0]
        return min(real, key=lambda p: p.start_sector, default=None)


@dataclass
class FileEntry:
    """A file inside the image's root file system (never its content)."""

    path: str
    kind: str  # "file", "dir", "symlink", "other", "unreadable" (its inode could not be read)
    size: int = 0
    mode: int = 0
    target: str = ""  # symlink target, as stored
    error: str = ""  # why, for kind "unreadable"


@dataclass
class HistoryFile:
    """A command history file of a user (root or /home/*)."""

    path: str
    user: str
    size: int | None  # bytes stored; for a symlink the resolved target's; None: not known
    shell: bool  # True for shell histories; False for other tools (.python_history, .lesshst)
    kind: str = "file"  # "file", "symlink", "other", "unreadable"
    target: str = ""  # symlink: the target as an absolute path inside the image
    error: str = ""  # why the size is not known


@dataclass
class FstabEntry:
    """One line of /etc/fstab (octal escapes such as \\040 decoded)."""

    spec: str
    mountpoint: str
    fstype: str
    options: str = "defaults"


@dataclass
class RootFsFacts:
    """What VHD-006 and VHD-009 need from the image's root file system.

    ``readable`` False means none of the other fields were read; ``reason`` says why
    (no root found, file system type not supported, debugfs missing, LVM, ...).
    With ``readable`` True, ``unreadable`` maps each field that could not be read
    (a name of :data:`ROOT_FACTS`) to the reason: such a field is empty, not "absent".
    """

    readable: bool = False
    reason: str = ""
    partition_index: int | None = None  # None with readable=True: file system on the whole disk
    fs_type: str = ""
    reader: str = ""  # "debugfs" or "builtin-xfs"
    os_release: dict[str, str] = field(default_factory=dict)
    fstab_present: bool = False
    fstab: list[FstabEntry] = field(default_factory=list)
    hostname: str | None = None  # /etc/hostname stripped; None when absent
    resolv_conf: FileEntry | None = None
    resolv_conf_text: str | None = None  # when a regular file (or a link resolving inside)
    dhcp_leases: list[FileEntry] = field(default_factory=list)
    shell_histories: list[HistoryFile] = field(default_factory=list)
    home_users: list[str] = field(default_factory=list)
    ssh_host_keys: list[FileEntry] = field(default_factory=list)  # private and .pub
    waagent_conf: dict[str, str] | None = None  # key=value settings; None when absent
    errors: list[str] = field(default_factory=list)  # partial failures, all of them
    unreadable: dict[str, str] = field(default_factory=dict)  # fact name -> why not read
    # partitions that may hold the root but are not read (LVM physical volume, btrfs, an
    # unknown or unreadable Linux partition): only the kernel's root= can rule them out
    unruled: list[str] = field(default_factory=list)
    # whether this is the root the image boots (the default boot entry's root=, see
    # facts/linux_image.root_not_booted): "" it is; a text says why it may not be;
    # None: not determined (not read, or facts made by hand), never taken as "it is"
    not_booted: str | None = None

    def not_read(self, *names: str) -> dict[str, str]:
        """The facts among ``names`` that could not be read, with the reason."""
        return {n: self.unreadable[n] for n in names if n in self.unreadable}

    def mark_unreadable(self, name: str, reason: str) -> None:
        if name not in self.unreadable:
            self.unreadable[name] = reason
        if reason not in self.errors:
            self.errors.append(reason)


ROOT_FACTS = (
    "os_release",
    "fstab",
    "hostname",
    "waagent_conf",
    "resolv_conf",
    "dhcp_leases",
    "home_users",
    "shell_histories",
    "ssh_host_keys",
)


@dataclass
class BootLoader:
    """A UEFI boot loader file on an EFI System Partition (VHD-010): what its PE header
    and sections say. ``signed`` only means an Authenticode certificate table is present;
    the signature is not verified (no UEFI CA database here)."""

    path: str  # as stored, long names: "EFI/BOOT/BOOTX64.EFI", "EFI/ubuntu/shimx64.efi"
    size: int
    pe: bool = False  # an MZ + PE header was found
    machine: str = ""  # "x64", "arm64", "ia32", "0x...." or "" (not a PE image)
    shim: bool = False  # a .sbat section naming shim or a .vendor_cert section
    signed: bool = False  # a WIN_CERTIFICATE (rev 0x0200, PKCS#7, DER) in the certificate table
    subsystem: int = 0  # PE optional header Subsystem: 10 is an EFI application
    problem: str = ""  # why it is not a usable loader (empty, not a PE image, cut short)


@dataclass
class EspFacts:
    """One EFI System Partition and the loaders read from its FAT file system."""

    partition_index: int
    type_code: str
    fat: str = ""  # "FAT12", "FAT16", "FAT32" once read
    error: str = ""  # the FAT could not be read (loop, out of bounds, budget...): not "no loader"
    loaders: list[BootLoader] = field(default_factory=list)
    efi_dirs: list[str] = field(default_factory=list)  # the folders under /EFI
    ignored: str = ""  # why UEFI firmware (EDK2's partition driver) creates no handle for it


@dataclass
class BootFacts:
    """The boot paths a disk offers (VHD-010). ``read`` False: not looked at yet
    (:func:`read_boot`), ``reason`` says why when it could not be read at all."""

    read: bool = False
    reason: str = ""
    scheme: str = ""  # the partition table: "mbr", "gpt", "none"
    mbr_boot_code: bool = False  # bytes 0..439 of sector 0 are not all zero
    mbr_boot_code_kind: str = ""  # "GRUB", "LILO", "SYSLINUX", "Windows/DOS-style MBR", "unknown"
    hybrid_mbr: bool = False  # GPT whose MBR also lists partitions besides 0xEE
    bios_boot_partitions: list[int] = field(default_factory=list)  # GPT bios_grub
    legacy_bootable_partitions: list[int] = field(default_factory=list)  # GPT attribute bit 2
    esps: list[EspFacts] = field(default_factory=list)
    mbr_signature: bool = False  # bytes 510-511 of sector 0 are 55 AA (a BIOS runs it only then)
    grub_core: str = ""  # GRUB boot.img: "" not GRUB, "ok", else why its core.img is not there
    chain_target: str = ""  # Windows/DOS MBR: "" not one, "ok", else why it has nothing to chain to
    gpt_ignored: str = ""  # why UEFI firmware would not read this GPT (no protective MBR entry)
    gpt_unread: str = ""  # the firmware would use the backup GPT, which is not read here


@dataclass
class DiskFacts:
    """Facts about one disk image file. JSON round trip: :meth:`to_json`/:meth:`from_json`.

    ``format``: "vhd", "vhdx", "qcow2", "vmdk", "raw" (MBR/GPT or a file system found),
    "empty", "too_short" (under 512 bytes) or "unknown" (no signature at all).
    ``virtual_size`` is the disk size the guest sees (VHD current size, qcow2/VHDX/VMDK
    header, raw file length); ``None`` when unknown.
    """

    path: str
    apparent_size: int
    allocated_size: int  # st_blocks * 512
    data_bytes: int | None  # bytes in SEEK_DATA extents; None if unsupported/too fragmented
    format: str
    format_detail: str = ""
    virtual_size: int | None = None
    footer: VhdFooter | None = None
    footer_copy_at_start: bool = False
    dynamic_header: VhdDynamicHeader | None = None
    content_readable: bool = False
    content_reason: str = ""  # why the disk content (partitions) was not read
    content_offset: int | None = None  # file offset of disk byte 0 when stored contiguously
    partition_table: PartitionTable | None = None
    whole_disk_fs: FsProbe | None = None
    root_fs: RootFsFacts = field(default_factory=RootFsFacts)
    boot: BootFacts = field(default_factory=BootFacts)  # VHD-010, read by read_boot()
    bytes_read: int = 0  # bytes this module read from the file (debugfs reads excluded)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(to_jsonable(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DiskFacts:
        return from_jsonable(cls, json.loads(text))

    @property
    def partitions(self) -> list[Partition]:
        return self.partition_table.partitions if self.partition_table else []

    def fstab_references(self, partition: Partition) -> list[FstabEntry]:
        """The /etc/fstab lines that name this partition (UUID, LABEL, PARTUUID,
        PARTLABEL, /dev/disk/by-* or a device name with its number)."""
        return [e for e in self.root_fs.fstab if _fstab_names(e.spec, partition)]


def _fstab_names(spec: str, part: Partition) -> bool:
    probe = part.content or FsProbe("")
    key, _, value = spec.partition("=")
    value = value.strip('"')
    by = re.match(r"/dev/disk/by-(uuid|label|partuuid|partlabel)/(.+)$", spec)
    if by:
        key, value = by.group(1).upper(), by.group(2)
    if key == "UUID" and probe.uuid:
        return value.lower() == probe.uuid.lower()
    if key == "LABEL" and probe.label:
        return value == probe.label
    if key == "PARTUUID" and part.partuuid:
        return value.lower() == part.partuuid.lower()
    if key == "PARTLABEL" and part.name:
        return value == part.name
    dev = re.match(r"/dev/(?:[shvx]v?d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)(\d+)$", spec)
    return bool(dev) and int(dev.group(1)) == part.index


_OS_DISK_DEVICE = re.compile(r"/dev/(?:(?:sd|vd|xvd|hd)([a-z]+)|(nvme\d+n\d+)p?|(mmcblk\d+)p?)(\d*)$")
_FIRST_DISK = ("a", "nvme0n1", "mmcblk0")


def kernel_root_partitions(facts: DiskFacts, spec: str) -> tuple[list[int | None], str]:
    """The file systems of this disk that the kernel's ``root=`` names (None: the whole
    disk), or [] and why none: a device-mapper/LVM path, another disk, no such name here.
    Device names count only for the first disk (sda, vda, xvda, nvme0n1, mmcblk0)."""
    spec = spec.strip('"')
    if spec.startswith(("/dev/mapper/", "/dev/dm-")):
        return [], f"{spec} is a device-mapper device (LVM, dm-crypt, multipath), which is not read offline"
    if spec.startswith("/dev/md"):
        return [], f"{spec} is a software RAID device, which is not read offline"
    device = _OS_DISK_DEVICE.match(spec)
    if device:
        disk_name = next(g for g in device.groups()[:3] if g)
        if disk_name not in _FIRST_DISK:
            return [], f"{spec} is on another disk than the OS disk read"
        if not device.group(4):
            return ([None] if facts.whole_disk_fs is not None else []), f"{spec} is the whole disk, which holds a partition table"
        index = int(device.group(4))
        return ([index] if any(p.index == index for p in facts.partitions) else []), f"the OS disk has no partition {index}"
    if re.fullmatch(r"/dev/(?!disk/)[^/]+/[^/]+", spec):
        return [], f"{spec} is a logical volume path (/dev/VG/LV), which is not read offline"
    if not re.match(r"(UUID|PARTUUID|LABEL|PARTLABEL)=|/dev/disk/by-(uuid|label|partuuid|partlabel)/", spec):
        return [], f"{spec} names no partition in a way that can be resolved offline"
    found: list[int | None] = [p.index for p in facts.partitions if p.kind != "extended" and _fstab_names(spec, p)]
    whole = facts.whole_disk_fs
    if whole is not None and _fstab_names(spec, Partition(0, "", "", 0, 0, "", "", "", content=whole)):
        found.append(None)
    return found, "" if found else f"no partition or file system on the OS disk has {spec}"


_BY_FS_NAME = re.compile(r"(UUID|LABEL)=|/dev/disk/by-(uuid|label)/")


def names_file_system(spec: str, probe: FsProbe | None) -> bool:
    """Whether root=/fstab ``spec`` (UUID=, LABEL=, /dev/disk/by-uuid|label/) names the file
    system ``probe`` found (one not on a partition: inside a logical volume); with None,
    whether ``spec`` names a file system that way at all."""
    if probe is None:
        return bool(_BY_FS_NAME.match(spec.strip('"')))
    return bool(_BY_FS_NAME.match(spec.strip('"'))) and _fstab_names(
        spec.strip('"'), Partition(0, "", "", 0, 0, "", "", "", content=probe)
    )


class _LvContent:
    """The bytes of a linear/striped logical volume, read through its segments from the PVs
    on this disk (``where``: PV id -> the partition's first byte)."""

    def __init__(self, content: _Content, vg, lv: str, where: dict[str, int]) -> None:
        self.content, self.vg, self.lv, self.where = content, vg, lv, where
        self.size = vg.lvs[lv].sectors * SECTOR

    def read(self, offset: int, size: int) -> bytes:
        from pytest_vmimage.facts import _lvm

        out = b""
        size = max(0, min(size, self.size - offset))
        while len(out) < size:
            sector, skip = divmod(offset + len(out), SECTOR)
            pv, at = self.vg.lv_extent_at(self.lv, sector)
            if pv not in self.where:
                raise _lvm.LvmError(f"logical volume {self.vg.name}/{self.lv}: data on a PV not on this disk ({pv})")
            chunk = self.content.read(self.where[pv] + at * SECTOR + skip, min(size - len(out), SECTOR - skip))
            if not chunk:
                raise _lvm.LvmError(f"logical volume {self.vg.name}/{self.lv}: its data lies beyond the disk")
            out += chunk
        return out


def logical_volume_file_systems(content: _Content, facts: DiskFacts) -> tuple[list[tuple[str, FsProbe]], list[str]]:
    """The file system signatures at the start of each logical volume of the volume groups
    recorded on this disk's LVM physical volumes (VG/LV, probe), and what could not be
    probed, each with why: a PV whose VG metadata is not read, an LV that is not linear or
    striped (thin, raid, snapshot, ...), whose start is on a PV not on this disk, or whose
    content is not a known signature (it may hold any file system, or be encrypted)."""
    from pytest_vmimage.facts import _lvm

    pvs = [
        p for p in facts.partitions
        if p.kind != "extended" and p.size_sectors > 0 and (p.role == "lvm" or (p.content and p.content.type == "lvm2_pv"))
    ]
    if facts.whole_disk_fs is not None and facts.whole_disk_fs.type == "lvm2_pv":
        pvs.append(Partition(0, "", "whole", 0, content.size // SECTOR, "", "the whole disk", "lvm"))
    groups: dict[str, tuple] = {}
    unprobed: list[str] = []
    for part in pvs:
        where = "the whole disk" if part.kind == "whole" else f"partition {part.index}"
        try:
            vg = _lvm.read_volume_group(
                lambda off, n, part=part: content.read(part.start_bytes + off, min(n, max(0, part.size_bytes - off))),
                part.size_bytes,
            )
        except Exception as exc:  # noqa: BLE001 - untrusted metadata: a reason, never a crash
            unprobed.append(f"{where} (LVM2 physical volume: its logical volumes are not known: {exc})")
            continue
        known = groups.setdefault(vg.id, (vg, {}))
        known[1][vg.pv_id] = part.start_bytes
    found: list[tuple[str, FsProbe]] = []
    for vg, where in groups.values():
        for name, why in vg.unmapped.items():
            unprobed.append(f"logical volume {vg.name}/{name} ({why}: its content is not read)")
        for name in vg.lvs:
            if name in vg.unmapped:
                continue
            try:
                probe = _probe(_LvContent(content, vg, name, where), 0, vg.lvs[name].sectors * SECTOR)
            except Exception as exc:  # noqa: BLE001 - untrusted metadata: a reason, never a crash
                why = str(exc) if isinstance(exc, _lvm.LvmError) else f"{type(exc).__name__}: {exc}"
                why = why.removeprefix(f"logical volume {vg.name}/{name}: ")
                unprobed.append(f"logical volume {vg.name}/{name} ({why})")
                continue
            if probe is None or probe.type in ("lvm2_pv", "bitlocker") or not (probe.uuid or probe.label or probe.type == "swap"):
                kind = probe.type if probe else "content not known"
                unprobed.append(f"logical volume {vg.name}/{name} ({kind}: what it holds is not read)")
                continue
            found.append((f"{vg.name}/{name}", probe))
    return found, unprobed


# ---------------------------------------------------------------------------- reading


class _File:
    """Positional reads of the image, counted and clamped to the file length."""

    def __init__(self, fd: int, length: int, path: str) -> None:
        self.fd, self.length, self.path = fd, length, path
        self.bytes_read = 0
        self.meter: Meter | None = None  # set while the root file system is read

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0 or offset >= self.length:
            return b""
        size = min(size, self.length - offset)
        try:
            data = os.pread(self.fd, size, offset)
        except OSError as exc:
            raise DiskError(f"{self.path}: read error at byte {offset}: {exc.strerror}") from None
        self.bytes_read += len(data)
        if self.meter is not None:
            self.meter.read(len(data))
        return data


class _Content(Protocol):
    size: int

    def read(self, offset: int, size: int) -> bytes: ...


class _Slice:
    """Disk content stored contiguously in the file: raw files and fixed VHDs."""

    def __init__(self, file: _File, start: int, size: int) -> None:
        self.file, self.start, self.size = file, start, size

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size:
            return b""
        size = min(size, self.size - offset)
        return self.file.pread(self.start + offset, size)


class _DynamicVhd:
    """Dynamic VHD content through its block allocation table (unallocated = zeros)."""

    def __init__(self, file: _File, header: VhdDynamicHeader, size: int) -> None:
        self.file, self.header, self.size = file, header, size
        self.block = header.block_size
        bitmap = (self.block // SECTOR + 7) // 8
        self.bitmap = (bitmap + SECTOR - 1) // SECTOR * SECTOR
        self.bat: dict[int, int] = {}

    def _entry(self, n: int) -> int:
        if n not in self.bat:
            if n >= self.header.max_table_entries:
                self.bat[n] = 0xFFFFFFFF
            else:
                raw = self.file.pread(self.header.table_offset + 4 * n, 4)
                self.bat[n] = struct.unpack(">I", raw)[0] if len(raw) == 4 else 0xFFFFFFFF
        return self.bat[n]

    def read(self, offset: int, size: int) -> bytes:
        out = bytearray()
        size = max(0, min(size, self.size - offset))
        while size > 0:
            n, within = divmod(offset, self.block)
            chunk = min(size, self.block - within)
            sector = self._entry(n)
            if sector == 0xFFFFFFFF:
                data = b""
            else:
                data = self.file.pread(sector * SECTOR + self.bitmap + within, chunk)
            out += data.ljust(chunk, b"\0")
            offset, size = offset + chunk, size - chunk
        return bytes(out)


# ---------------------------------------------------------------------------- entry point


def inspect_disk(
    path: str | os.PathLike[str], *, read_root_fs: bool = True, budget: Budget | None = None
) -> DiskFacts:
    """Read the facts of a disk image file. Never writes; bounded reads only.

    Raises :class:`DiskError` when the path is missing, a directory, not a regular
    file or unreadable. ``read_root_fs=False`` skips the root file-system files (read
    them later with :func:`read_root_fs`); ``budget`` bounds reading them.
    """
    spath = os.fspath(path)
    fd = _open(spath)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DiskError(f"{spath}: is a directory, not a disk image file")
        if not stat.S_ISREG(st.st_mode):
            raise DiskError(f"{spath}: not a regular file")
        file = _File(fd, st.st_size, spath)
        facts = DiskFacts(
            path=spath,
            apparent_size=st.st_size,
            allocated_size=st.st_blocks * 512,
            data_bytes=_data_bytes(fd, st.st_size),
            format="unknown",
        )
        content = _identify(file, facts)
        if content is not None:
            _read_layout(content, facts)
        if read_root_fs:
            facts.root_fs = _root_fs(file, content, facts, budget or Budget())
        else:
            facts.root_fs = RootFsFacts(reason="the root file system was not read (read_root_fs=False)")
        facts.bytes_read = file.bytes_read
        return facts
    finally:
        os.close(fd)


def read_root_fs(path: str | os.PathLike[str], facts: DiskFacts, budget: Budget | None = None) -> RootFsFacts:
    """Read the root file-system facts of a disk inspected with ``read_root_fs=False``
    (the layout in ``facts`` is reused); ``facts`` is not changed."""
    fd = _open(os.fspath(path))
    try:
        file, content, _ = _reopen(fd, os.fspath(path))
        return _root_fs(file, content, facts, budget or Budget())
    finally:
        os.close(fd)


def _reopen(fd: int, path: str) -> tuple[_File, _Content | None, DiskFacts]:
    """The content of an image opened again (its format found anew, into scratch facts)."""
    st = os.fstat(fd)
    file = _File(fd, st.st_size, path)
    scratch = DiskFacts(path=path, apparent_size=st.st_size, allocated_size=0, data_bytes=None, format="")
    return file, _identify(file, scratch), scratch


def _root_fs(file: _File, content: _Content | None, facts: DiskFacts, budget: Budget) -> RootFsFacts:
    if content is None:
        return RootFsFacts(reason=f"disk content not read: {facts.content_reason}")
    file.meter = Meter(budget)
    try:
        root = _find_root(file, content, facts)
    finally:
        file.meter = None
    if root.readable:
        from pytest_vmimage.facts import linux_image  # the boot loader is read through its ImageFs

        root.not_booted = linux_image.root_tie(file.path, dataclasses.replace(facts, root_fs=root), budget)
    return root


def _open(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise DiskError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DiskError(f"{path}: is a directory, not a disk image file") from None
    except PermissionError:
        raise DiskError(f"{path}: permission denied (cannot open it for reading)") from None
    except OSError as exc:
        raise DiskError(f"{path}: cannot open it ({exc.strerror})") from None


def _data_bytes(fd: int, length: int) -> int | None:
    """Bytes in data extents (SEEK_DATA/SEEK_HOLE); None when unsupported or too fragmented."""
    if not hasattr(os, "SEEK_DATA"):
        return None
    total, offset = 0, 0
    for _ in range(MAX_SEEK_EXTENTS):
        if offset >= length:
            return total
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return total
            return None
        total += end - start
        offset = end
    return None


# ---------------------------------------------------------------------------- formats


def _identify(file: _File, facts: DiskFacts) -> _Content | None:
    """Set the container format; return the disk content when it can be read."""
    length = file.length
    if length == 0:
        facts.format, facts.content_reason = "empty", "the file is empty"
        return None
    head = file.pread(0, SECTOR)
    tail = file.pread(length - SECTOR, SECTOR) if length >= SECTOR else b""
    footer = None
    if tail[:8] == b"conectix":
        footer = _parse_footer(tail, "end", length - SECTOR)
    elif length >= 511 and file.pread(length - 511, 8) == b"conectix":
        footer = _parse_footer(file.pread(length - 511, 511) + b"\0", "end-511", length - 511)
    if head[:8] == b"conectix" and length >= 2 * SECTOR:
        facts.footer_copy_at_start = True
        if footer is None:
            footer = _parse_footer(head, "start-copy", 0)
            facts.notes.append("no footer at the end of the file; read the copy at offset 0")
    if footer is not None:
        return _vhd(file, facts, footer)
    if head[:8] == b"vhdxfile":
        facts.format = "vhdx"
        facts.format_detail = "VHDX (" + head[8:520].decode("utf-16-le", "replace").split("\0")[0] + ")"
        facts.virtual_size = _vhdx_size(file)
        facts.content_reason = "VHDX: only fixed VHD is accepted; content not read"
        return None
    if head[:4] == b"QFI\xfb" and len(head) >= 32:
        version, backing, _, cluster_bits, size = struct.unpack(">IQIIQ", head[4:32])
        facts.format, facts.virtual_size = "qcow2", size
        facts.format_detail = f"qcow2 version {version}, {1 << min(cluster_bits, 62)} byte clusters"
        if backing:
            facts.format_detail += ", with a backing file"
        facts.content_reason = "qcow2: only fixed VHD is accepted; content not read"
        return None
    if head[:4] in (b"KDMV", b"COWD") or head.startswith(b"# Disk DescriptorFile"):
        facts.format = "vmdk"
        if head[:4] == b"KDMV" and len(head) >= 20:
            facts.virtual_size = struct.unpack("<Q", head[12:20])[0] * SECTOR
            facts.format_detail = "VMDK sparse extent"
        elif head[:4] == b"COWD":
            facts.format_detail = "VMDK ESX COW sparse extent"
        else:
            text = file.pread(0, 64 * 1024).decode("latin-1")
            sizes = re.findall(r"^\s*(?:RW|RDONLY|NOACCESS)\s+(\d+)", text, re.M)
            facts.virtual_size = sum(int(s) for s in sizes[:1024]) * SECTOR if sizes else None
            facts.format_detail = "VMDK descriptor"
        facts.content_reason = "VMDK: only fixed VHD is accepted; content not read"
        return None
    if length < SECTOR:
        facts.format = "too_short"
        facts.format_detail = f"{length} bytes: shorter than one 512-byte sector"
        facts.content_reason = "the file is shorter than one sector"
        return None
    facts.format = "raw"  # downgraded to "unknown" by _read_layout when nothing is found
    facts.virtual_size = length
    facts.content_offset = 0
    return _Slice(file, 0, length)


def _vhd(file: _File, facts: DiskFacts, footer: VhdFooter) -> _Content | None:
    facts.format, facts.footer = "vhd", footer
    facts.virtual_size = footer.current_size
    facts.format_detail = f"VHD {footer.disk_type_name}"
    length = file.length
    if footer.disk_type == 2:
        data_end = footer.offset if footer.location != "start-copy" else length
        if footer.current_size != data_end:
            facts.notes.append(
                f"footer current size {footer.current_size} differs from the data region "
                f"({data_end} bytes = file length - footer)"
            )
        facts.content_offset = 0
        return _Slice(file, 0, data_end)
    if footer.disk_type in (3, 4):
        header = _parse_dynamic_header(file, footer.data_offset)
        facts.dynamic_header = header
        if header is None or not header.cookie_ok:
            facts.content_reason = f"{footer.disk_type_name} VHD: no valid dynamic disk header"
            return None
        if footer.disk_type == 4:
            parent = header.parent_name or "unknown parent"
            facts.content_reason = f"differencing VHD (parent {parent}): content not read"
            return None
        if not (SECTOR <= header.block_size <= 256 * MIB) or header.block_size % SECTOR:
            facts.content_reason = f"dynamic VHD: unusable block size {header.block_size}"
            return None
        return _DynamicVhd(file, header, footer.current_size)
    facts.content_reason = f"VHD disk type {footer.disk_type} is not fixed, dynamic or differencing"
    return None


_DISK_TYPES = {0: "none", 1: "reserved (deprecated)", 2: "fixed", 3: "dynamic", 4: "differencing"}


def _parse_footer(raw: bytes, location: str, offset: int) -> VhdFooter:
    raw = raw[:SECTOR].ljust(SECTOR, b"\0")
    (cookie, features, version, data_offset, timestamp, app, creator_version, host_os,
     original, current, cylinders, heads, spt, disk_type, checksum, unique,
     saved) = struct.unpack(">8sIIQI4sI4sQQHBBII16sB", raw[:85])  # fmt: skip
    computed = ~sum(raw[:64] + b"\0\0\0\0" + raw[68:]) & 0xFFFFFFFF
    when = VHD_EPOCH + dt.timedelta(seconds=timestamp)
    return VhdFooter(
        location=location,
        offset=offset,
        cookie=cookie.decode("latin-1"),
        cookie_ok=cookie == b"conectix",
        features=features,
        file_format_version=f"{version >> 16}.{version & 0xFFFF}",
        data_offset=data_offset,
        timestamp=timestamp,
        timestamp_iso=when.isoformat().replace("+00:00", "Z"),
        creator_application=app.decode("latin-1").rstrip("\0"),
        creator_version=f"{creator_version >> 16}.{creator_version & 0xFFFF}",
        creator_host_os=host_os.decode("latin-1") if host_os.isalnum() else host_os.hex(),
        original_size=original,
        current_size=current,
        cylinders=cylinders,
        heads=heads,
        sectors_per_track=spt,
        disk_type=disk_type,
        disk_type_name=_DISK_TYPES.get(disk_type, f"unknown ({disk_type})"),
        checksum_stored=checksum,
        checksum_computed=computed,
        checksum_ok=checksum == computed,
        unique_id=str(uuid.UUID(bytes=unique)),
        saved_state=saved,
    )


def _parse_dynamic_header(file: _File, offset: int) -> VhdDynamicHeader | None:
    raw = file.pread(offset, 1024) if 0 <= offset < file.length else b""
    if len(raw) < 1024:
        return None
    _, table, _, entries, block, checksum = struct.unpack(">QQIIII", raw[8:40])
    computed = ~sum(raw[:36] + b"\0\0\0\0" + raw[40:]) & 0xFFFFFFFF
    name = raw[64:576].decode("utf-16-be", "replace").split("\0")[0]
    return VhdDynamicHeader(
        offset=offset,
        cookie_ok=raw[:8] == b"cxsparse",
        table_offset=table,
        max_table_entries=entries,
        block_size=block,
        checksum_ok=checksum == computed,
        parent_name=name,
        parent_unique_id=str(uuid.UUID(bytes=raw[40:56])) if any(raw[40:56]) else "",
    )


_VHDX_METADATA = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
_VHDX_VIRTUAL_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")


def _vhdx_size(file: _File) -> int | None:
    """The virtual disk size from the VHDX region table and metadata region."""
    for table_at in (0x30000, 0x40000):
        raw = file.pread(table_at, 16 + 32 * 64)
        if raw[:4] != b"regi" or len(raw) < 16:
            continue
        count = min(struct.unpack("<I", raw[8:12])[0], 64)
        for i in range(count):
            entry = raw[16 + 32 * i : 48 + 32 * i]
            if len(entry) == 32 and uuid.UUID(bytes_le=entry[:16]) == _VHDX_METADATA:
                return _vhdx_metadata_size(file, struct.unpack("<Q", entry[16:24])[0])
    return None


def _vhdx_metadata_size(file: _File, region: int) -> int | None:
    raw = file.pread(region, 32 + 32 * 64)
    if raw[:8] != b"metadata" or len(raw) < 32:
        return None
    count = min(struct.unpack("<H", raw[10:12])[0], 64)
    for i in range(count):
        entry = raw[32 + 32 * i : 64 + 32 * i]
        if len(entry) == 32 and uuid.UUID(bytes_le=entry[:16]) == _VHDX_VIRTUAL_SIZE:
            value = file.pread(region + struct.unpack("<I", entry[16:20])[0], 8)
            return struct.unpack("<Q", value)[0] if len(value) == 8 else None
    return None


# ---------------------------------------------------------------------------- partitions


_MBR_TYPES = {
    0x01: ("FAT12", "other"),
    0x04: ("FAT16 <32M", "other"),
    0x05: ("Extended", "extended"),
    0x06: ("FAT16", "other"),
    0x07: ("HPFS/NTFS/exFAT", "windows"),
    0x0B: ("W95 FAT32", "other"),
    0x0C: ("W95 FAT32 (LBA)", "other"),
    0x0E: ("W95 FAT16 (LBA)", "other"),
    0x0F: ("W95 Ext'd (LBA)", "extended"),
    0x27: ("Hidden NTFS WinRE", "windows"),
    0x42: ("SFS / Windows dynamic", "windows"),
    0x82: ("Linux swap", "swap"),
    0x83: ("Linux", "linux"),
    0x85: ("Linux extended", "extended"),
    0x8E: ("Linux LVM", "lvm"),
    0xA5: ("FreeBSD", "other"),
    0xEE: ("GPT protective", "other"),
    0xEF: ("EFI System", "efi"),
    0xFD: ("Linux raid autodetect", "other"),
}

_GPT_TYPES = {
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": ("EFI System", "efi"),
    "21686148-6449-6E6F-744E-656564454649": ("BIOS boot", "bios_boot"),
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4": ("Linux filesystem", "linux"),
    "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": ("Linux swap", "swap"),
    "E6D6D379-F507-44C2-A23C-238F2A3DF928": ("Linux LVM", "lvm"),
    "A19D880F-05FC-4D3B-A006-743F0F84911E": ("Linux RAID", "other"),
    "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": ("Linux root (x86-64)", "linux"),
    "44479540-F297-41B2-9AF7-D131D5F0458A": ("Linux root (x86)", "linux"),
    "B921B045-1DF0-41C3-AF44-4C6F280D3FAE": ("Linux root (ARM64)", "linux"),
    "BC13C2FF-59E6-4262-A352-B275FD6F7172": ("Linux extended boot", "linux"),
    "933AC7E1-2EB4-4F13-B844-0E14E2AEF915": ("Linux home", "linux"),
    "3B8F8425-20E0-4F3B-907F-1A25A76F98E8": ("Linux server data", "linux"),
    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": ("Microsoft basic data", "windows"),
    "E3C9E316-0B5C-4DB8-817D-F92DF00215AE": ("Microsoft reserved", "windows"),
    "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": ("Windows recovery environment", "windows"),
    "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3": ("Windows LDM metadata", "windows"),
    "AF9B60A0-1431-4F62-BC68-3311714A69AD": ("Windows LDM data", "windows"),
    "024DEE41-33E7-11D3-9D69-0008C781F39F": ("MBR partition scheme", "other"),
}


def _read_layout(content: _Content, facts: DiskFacts) -> None:
    """Partition table, partition contents, or a file system on the whole disk."""
    facts.content_readable = True
    mbr = content.read(0, SECTOR)
    whole = _probe(content, 0, content.size)
    gpt = _read_gpt(content)
    table: PartitionTable
    if gpt is not None:
        table = gpt
        table.protective_mbr = mbr[510:512] == b"\x55\xaa" and any(
            mbr[446 + 16 * i + 4] == 0xEE for i in range(4)
        )
    elif mbr[510:512] == b"\x55\xaa" and whole is None:
        table = _read_mbr(content, mbr)
        if any(p.type_code == "0xee" for p in table.partitions):
            table.errors.append("protective MBR (type 0xEE) but no GPT header at sector 1")
    else:
        table = PartitionTable("none")
    if whole is not None and table.scheme == "none":
        facts.whole_disk_fs = whole
    for part in table.partitions:
        end = part.start_sector + part.size_sectors
        part.beyond_disk_end = end * SECTOR > content.size
        if part.kind != "extended" and part.size_sectors:
            size = min(part.size_bytes, max(0, content.size - part.start_bytes))
            part.content = _probe(content, part.start_bytes, size)
    facts.partition_table = table
    if facts.format == "raw" and table.scheme == "none" and whole is None:
        facts.format = "unknown"
        facts.format_detail = "no disk image signature, partition table or file system found"


def _read_mbr(content: _Content, mbr: bytes) -> PartitionTable:
    table = PartitionTable("mbr", disk_id=f"{struct.unpack('<I', mbr[440:444])[0]:08x}")
    extended: Partition | None = None
    for i in range(4):
        entry = mbr[446 + 16 * i : 462 + 16 * i]
        status, ptype = entry[0], entry[4]
        start, count = struct.unpack("<II", entry[8:16])
        if ptype == 0:
            continue
        if status not in (0x00, 0x80):
            table.errors.append(f"MBR entry {i + 1}: invalid status byte 0x{status:02x}")
        part = _mbr_partition(i + 1, "primary", ptype, start, count, status == 0x80, table.disk_id)
        if part.role == "extended":
            part.kind = "extended"
            if extended is None:
                extended = part
        table.partitions.append(part)
    if extended is not None:
        _read_logical(content, extended, table)
    return table


def _mbr_partition(
    index: int, kind: str, ptype: int, start: int, count: int, boot: bool, disk_id: str
) -> Partition:
    name, role = _MBR_TYPES.get(ptype, (f"unknown type 0x{ptype:02x}", "other"))
    return Partition(
        index=index,
        scheme="mbr",
        kind=kind,
        start_sector=start,
        size_sectors=count,
        type_code=f"0x{ptype:02x}",
        type_name=name,
        role=role,
        bootable=boot,
        partuuid=f"{disk_id}-{index:02x}",
    )


def _read_logical(content: _Content, extended: Partition, table: PartitionTable) -> None:
    """Follow the EBR chain: each EBR holds one logical partition and the next link."""
    base, ebr_at, seen = extended.start_sector, extended.start_sector, set()
    for n in range(MAX_LOGICAL_PARTITIONS):
        if ebr_at in seen:
            table.errors.append(f"extended partition: EBR chain loops at sector {ebr_at}")
            return
        seen.add(ebr_at)
        ebr = content.read(ebr_at * SECTOR, SECTOR)
        if ebr[510:512] != b"\x55\xaa":
            table.errors.append(f"extended partition: no EBR signature at sector {ebr_at}")
            return
        first, link = ebr[446:462], ebr[462:478]
        ptype = first[4]
        start, count = struct.unpack("<II", first[8:16])
        if ptype:
            table.partitions.append(
                _mbr_partition(
                    5 + n, "logical", ptype, ebr_at + start, count, first[0] == 0x80, table.disk_id
                )
            )
        next_rel = struct.unpack("<I", link[8:12])[0]
        if link[4] == 0 or next_rel == 0:
            return
        ebr_at = base + next_rel
    table.errors.append(f"extended partition: more than {MAX_LOGICAL_PARTITIONS} logical partitions")


def _read_gpt(content: _Content) -> PartitionTable | None:
    header = content.read(SECTOR, SECTOR)
    if header[:8] != b"EFI PART" or len(header) < 92:
        return None
    size = struct.unpack("<I", header[12:16])[0]
    crc_stored = struct.unpack("<I", header[16:20])[0]
    size_ok = 92 <= size <= SECTOR
    crc_ok = size_ok and zlib.crc32(header[:16] + b"\0\0\0\0" + header[20:size]) == crc_stored
    disk_guid = str(uuid.UUID(bytes_le=header[56:72]))
    entries_lba, count, entry_size, entries_crc = struct.unpack("<QIII", header[72:92])
    table = PartitionTable("gpt", disk_id=disk_guid, gpt_header_crc_ok=crc_ok)
    if not size_ok:
        table.errors.append(f"GPT header size {size} is outside 92..512")
    if entry_size < 128 or entry_size % 8 or entry_size * min(count, MAX_GPT_ENTRIES) > MAX_GPT_ENTRY_BYTES:
        table.errors.append(f"GPT entry size {entry_size} is not usable")
        return table
    if count > MAX_GPT_ENTRIES:
        table.errors.append(f"GPT claims {count} entries; read the first {MAX_GPT_ENTRIES}")
    raw = content.read(entries_lba * SECTOR, entry_size * min(count, MAX_GPT_ENTRIES))
    table.gpt_entries_crc_ok = count <= MAX_GPT_ENTRIES and zlib.crc32(raw) == entries_crc
    if not crc_ok:
        table.errors.append("GPT header CRC mismatch (the backup GPT is not read)")
    if count <= MAX_GPT_ENTRIES and not table.gpt_entries_crc_ok:
        table.errors.append("GPT partition entries CRC mismatch (the backup GPT is not read)")
    for i in range(len(raw) // entry_size):
        entry = raw[i * entry_size : (i + 1) * entry_size]
        if not any(entry[:16]):
            continue
        type_guid = str(uuid.UUID(bytes_le=entry[:16])).upper()
        first, last = struct.unpack("<QQ", entry[32:48])
        name, role = _GPT_TYPES.get(type_guid, ("unknown", "other"))
        table.partitions.append(
            Partition(
                index=i + 1,
                scheme="gpt",
                kind="gpt",
                start_sector=first,
                size_sectors=max(0, last - first + 1),
                type_code=type_guid,
                type_name=name,
                role=role,
                name=entry[56:128].decode("utf-16-le", "replace").split("\0")[0],
                partuuid=str(uuid.UUID(bytes_le=entry[16:32])),
                attributes=struct.unpack("<Q", entry[48:56])[0],
            )
        )
    return table


# ---------------------------------------------------------------------------- file systems


def _probe(content: _Content, start: int, size: int) -> FsProbe | None:
    """The file system or volume signature at ``start`` (reads 4 KiB, more only if needed)."""
    if size < SECTOR:
        return None
    head = content.read(start, min(size, 4096))
    if len(head) >= 1084 and head[1080:1082] == b"\x53\xef":
        return _probe_ext(head[1024:])
    if head[:4] == b"XFSB" and len(head) >= 120:
        blocksize, dblocks = struct.unpack(">IQ", head[4:16])
        version = struct.unpack(">H", head[100:102])[0] & 0xF
        return FsProbe(
            "xfs",
            uuid=str(uuid.UUID(bytes=head[32:48])),
            label=_cstr(head[108:120]),
            version=f"xfs v{version}",
            block_size=blocksize,
            size_bytes=blocksize * dblocks,
        )
    for sector in range(4):
        label = head[sector * SECTOR : (sector + 1) * SECTOR]
        if label[:8] == b"LABELONE" and label[24:32] == b"LVM2 001":
            pv_at = struct.unpack("<I", label[20:24])[0]
            raw = label[pv_at : pv_at + 32].decode("ascii", "replace") if pv_at < SECTOR - 32 else ""
            groups = (6, 4, 4, 4, 4, 4, 6)
            parts, pos = [], 0
            for width in groups:
                parts.append(raw[pos : pos + width])
                pos += width
            return FsProbe("lvm2_pv", uuid="-".join(parts) if raw else "", version="LVM2 001")
    if head[3:11] == b"NTFS    ":
        return FsProbe("ntfs", uuid=head[72:80][::-1].hex().upper(), version="NTFS")
    if head[3:11] == b"EXFAT   ":
        return FsProbe("exfat", uuid=head[100:104][::-1].hex().upper())
    if head[3:11] == b"-FVE-FS-":
        return FsProbe("bitlocker")
    if head[510:512] == b"\x55\xaa" and (head[54:59] == b"FAT12" or head[54:59] == b"FAT16"):
        return FsProbe(
            "vfat", uuid=_fat_id(head[39:43]), label=_cstr(head[43:54]).strip(), version=head[54:59].decode()
        )
    if head[510:512] == b"\x55\xaa" and head[82:87] == b"FAT32":
        return FsProbe("vfat", uuid=_fat_id(head[67:71]), label=_cstr(head[71:82]).strip(), version="FAT32")
    for page in (4096, 8192, 16384, 65536):
        if page > size:
            break
        tail = head[page - 10 : page] if page <= len(head) else content.read(start + page - 10, 10)
        if tail in (b"SWAPSPACE2", b"SWAP-SPACE"):
            hdr = head[1024:1068]
            last_page = struct.unpack("<I", hdr[4:8])[0] if tail == b"SWAPSPACE2" else 0
            return FsProbe(
                "swap",
                uuid=str(uuid.UUID(bytes=hdr[12:28])) if tail == b"SWAPSPACE2" and any(hdr[12:28]) else "",
                label=_cstr(hdr[28:44]) if tail == b"SWAPSPACE2" else "",
                version=tail.decode(),
                block_size=page,
                size_bytes=(last_page + 1) * page if last_page else 0,
            )
    if size >= 65536 + 4096:
        sb = content.read(start + 65536, 0x1AB + 256)
        if sb[64:72] == b"_BHRfS_M":
            return FsProbe(
                "btrfs", uuid=str(uuid.UUID(bytes=sb[32:48])), label=_cstr(sb[0x12B : 0x12B + 256])
            )
    return None


def _probe_ext(sb: bytes) -> FsProbe:
    blocks_lo, log_block = struct.unpack("<I", sb[4:8])[0], struct.unpack("<I", sb[24:28])[0]
    compat, incompat, ro_compat = struct.unpack("<III", sb[92:104])
    blocks_hi = struct.unpack("<I", sb[0x150:0x154])[0] if incompat & 0x80 and len(sb) >= 0x154 else 0
    if incompat & ~0x1E or ro_compat & ~0x7:
        kind = "ext4"
    elif compat & 0x4:
        kind = "ext3"
    else:
        kind = "ext2"
    block = 1024 << min(log_block, 16)
    return FsProbe(
        kind,
        uuid=str(uuid.UUID(bytes=sb[104:120])),
        label=_cstr(sb[120:136]),
        version=kind,
        block_size=block,
        size_bytes=(blocks_hi << 32 | blocks_lo) * block,
    )


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0")[0].decode("utf-8", "replace")


def _fat_id(raw: bytes) -> str:
    value = struct.unpack("<I", raw)[0]
    return f"{value >> 16:04X}-{value & 0xFFFF:04X}"


# ---------------------------------------------------------------------------- root file system


class FsReader(Protocol):
    """Batch access to one file system: paths are absolute; symlinks are not followed
    on the last component (intermediate ones are, inside the file system). Each path
    maps to its value, None (absent) or :class:`Unreadable`; a batch that could not run
    at all raises :class:`FsReadError` (:class:`BudgetExceeded` when out of budget)."""

    name: str

    def lstat_many(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]: ...

    def listdir_many(self, paths: list[str]) -> dict[str, list[FileEntry] | None | Unreadable]: ...

    def read_many(self, paths: list[str], limit: int) -> dict[str, bytes | None | Unreadable]: ...


def _reader_for(file: _File, content: _Content, facts: DiskFacts, index: int | None) -> FsReader:
    """A reader for the file system of partition ``index`` (None: whole disk); raises
    _NoReader with the reason."""
    from pytest_vmimage.facts import _debugfs, _xfs  # local: optional tools

    if index is None:
        probe, start, size = facts.whole_disk_fs, 0, content.size
    else:
        part = next(p for p in facts.partitions if p.index == index)
        probe, start, size = part.content, part.start_bytes, part.size_bytes
    kind = probe.type if probe else ""
    where = "the whole disk" if index is None else f"partition {index}"
    if kind in ("ext2", "ext3", "ext4"):
        if facts.content_offset is None:
            raise _NoReader(
                f"{kind} on {where}: debugfs needs the disk stored contiguously (not {facts.format_detail})"
            )
        reader = _debugfs.DebugfsReader(file.fd, facts.content_offset + start, file.meter)
        sb = content.read(start + 1024, 1024)
        if len(sb) >= 100 and struct.unpack("<I", sb[96:100])[0] & 0x4:  # INCOMPAT_RECOVER
            reader.stale = (
                f"{kind} on {where} was not cleanly unmounted: its journal was not replayed, so files "
                "written last (a shell history, a lease) may be missing from what is read"
            )
        return reader
    if kind == "xfs":
        try:
            return _xfs.XfsReader(
                lambda off, n: content.read(start + off, n) if off < size else b"", file.meter
            )
        except _xfs.XfsError as exc:
            raise _NoReader(f"xfs on {where}: {exc}") from None
    raise _NoReader(f"file system {kind or 'unknown'} on {where} cannot be read")


class _NoReader(Exception):
    pass


def _find_root(file: _File, content: _Content, facts: DiskFacts) -> RootFsFacts:
    """The root file system is the one holding /etc/fstab or /etc/os-release.

    A candidate that could not be looked at is never skipped silently: when a root is
    found after it, that root's facts are all unreadable (the broken one may be the real
    root); when none is found, the reason names it.
    """
    readable_types = ("ext2", "ext3", "ext4", "xfs")
    candidates: list[int | None] = []
    if facts.whole_disk_fs is not None and facts.whole_disk_fs.type in readable_types:
        candidates.append(None)
    candidates += [p.index for p in facts.partitions if p.content and p.content.type in readable_types]
    reasons: list[str] = []
    broken: list[str] = []  # candidates that could not be looked at
    no_reader: list[str] = []  # candidates whose file system this reader cannot open
    for index in candidates[:MAX_ROOT_CANDIDATES]:
        where = "the whole disk" if index is None else f"partition {index}"
        try:
            reader = _reader_for(file, content, facts, index)
            # the first files _collect needs, asked at once (readers may cache the answers)
            found = reader.lstat_many([*ROOT_MARKERS, *FIRST_FILES])
            found = {p: found[p] for p in ROOT_MARKERS}
        except _NoReader as exc:
            reasons.append(str(exc))
            no_reader.append(str(exc))
            continue
        except BudgetExceeded as exc:
            reasons.append(f"{where}: {exc}")
            broken.append(f"{where}: {exc}")
            break
        except Exception as exc:  # noqa: BLE001 - a corrupt file system is a fact, not a crash
            reasons.append(f"{where}: {type(exc).__name__}: {exc}")
            broken.append(reasons[-1])
            continue
        if not any(isinstance(v, FileEntry) for v in found.values()):
            bad = [f"{where}: {v.reason}" for v in found.values() if isinstance(v, Unreadable)]
            reasons += bad
            broken += bad
            continue
        probe = facts.whole_disk_fs if index is None else _part(facts, index).content
        root = RootFsFacts(
            readable=True, partition_index=index, fs_type=probe.type if probe else "", reader=reader.name
        )
        for reason in broken:
            for name in ROOT_FACTS:
                root.mark_unreadable(name, f"another candidate root could not be read ({reason})")
        if getattr(reader, "stale", ""):
            for name in ROOT_FACTS:
                root.mark_unreadable(name, reader.stale)
        try:
            _collect(reader, root)
        except Exception as exc:  # noqa: BLE001 - budget, debugfs failure, corrupt structures
            why = (
                f"reading the root file system stopped: {exc if isinstance(exc, FsReadError) else repr(exc)}"
            )
            for name in ROOT_FACTS:
                root.mark_unreadable(name, why)
        later = candidates[candidates.index(index) + 1 : MAX_ROOT_CANDIDATES]
        _other_roots(file, content, facts, later, root)
        root.unruled = [*no_reader, *root.unruled, *_unread_candidates(facts, content)]
        return root
    lvm = [
        f"partition {p.index}"
        for p in facts.partitions
        if p.role == "lvm" or (p.content and p.content.type == "lvm2_pv")
    ]
    if facts.whole_disk_fs is not None and facts.whole_disk_fs.type == "lvm2_pv":
        lvm.append("the whole disk")
    other = [
        f"{p.content.type} on partition {p.index}"
        for p in facts.partitions
        if p.content and p.content.type not in (*readable_types, "swap", "lvm2_pv", "vfat")
    ]
    if reasons:
        reason = "; ".join(reasons)
    elif lvm:
        reason = (
            f"no root file system outside LVM (physical volume on {', '.join(lvm)}); "
            "logical volumes are not read"
        )
    elif other:
        reason = f"no readable root file system ({', '.join(other)} cannot be read)"
    elif not candidates:
        reason = "no ext2/3/4 or XFS file system found on the disk"
    else:
        reason = "no file system holds /etc/fstab or /etc/os-release"
    return RootFsFacts(readable=False, reason=reason)


def _other_roots(
    file: _File, content: _Content, facts: DiskFacts, candidates: list[int | None], root: RootFsFacts
) -> None:
    """A second file system that also looks like a root (or cannot be looked at) makes
    every fact unreadable: which one boots is not known, and only one is judged."""
    for index in candidates:
        where = f"partition {index}"
        try:
            found = _reader_for(file, content, facts, index).lstat_many(list(ROOT_MARKERS))
        except _NoReader as exc:
            root.unruled.append(str(exc))
            continue
        except Exception as exc:  # noqa: BLE001
            found = {"": Unreadable(f"{type(exc).__name__}: {exc}")}
        problems = [v.reason for v in found.values() if isinstance(v, Unreadable)]
        if any(isinstance(v, FileEntry) for v in found.values()):
            problems.append("it also holds /etc/fstab or /etc/os-release; only one root is judged")
        for problem in problems[:1]:
            for name in ROOT_FACTS:
                root.mark_unreadable(name, f"{where} could not be ruled out as the root ({problem})")


# Content known not to be a Linux root whatever the partition's type code says: FAT and
# exFAT store no owner, mode, symlink or device node (a distribution's tree cannot be on
# them); swap is no file system. NTFS and BitLocker are not excluded: ntfs-3g/ntfs3 can
# hold a root (POSIX modes through mount options and reparse points) and cryptsetup opens
# BitLocker; a Linux root on them is odd, not impossible, so they stay to be ruled out.
_NEVER_ROOT = ("vfat", "exfat", "swap")


def _unread_candidates(facts: DiskFacts, content: _Content | None = None, wrappers_only: bool = False) -> list[str]:
    """Partitions that may hold the root but cannot be looked into: an LVM physical
    volume, btrfs, RAID, content that is not known (LUKS, another file system), NTFS or
    BitLocker, whatever the partition's type code (Linux mounts root=UUID=... on any
    type). Not counted: FAT, exFAT, swap (:data:`_NEVER_ROOT`), a BIOS boot partition
    holding GRUB's core image (its first sector is GRUB's diskboot.img) and a partition of
    at most :data:`ZERO_CHECK_LIMIT` bytes that holds only zeros (no file system has an
    all-zero superblock), both read through ``content``; without it they count.
    ``wrappers_only``: only those whose file system, if any, is inside (encrypted, RAID,
    not known), so its UUID and LABEL are not read: not LVM (see
    :func:`logical_volume_file_systems`), btrfs or NTFS (their UUID and LABEL are read)."""
    readable = ("ext2", "ext3", "ext4", "xfs")
    found = []
    for part in facts.partitions:
        kind = part.content.type if part.content else ""
        if part.kind == "extended" or part.size_sectors <= 0 or kind in readable or kind in _NEVER_ROOT:
            continue
        if part.role == "lvm" or kind == "lvm2_pv":
            if not wrappers_only:
                found.append(f"partition {part.index} (LVM2 physical volume)")
        elif kind and wrappers_only and kind != "bitlocker":
            continue
        elif kind:
            found.append(f"partition {part.index} ({kind})")
        elif part.type_name in ("Linux RAID", "Linux raid autodetect"):
            found.append(f"partition {part.index} ({part.type_name})")
        elif content is not None and (
            (part.role == "bios_boot" and _holds_grub_core(content, part)) or _all_zero(content, part)
        ):
            continue
        else:
            found.append(f"partition {part.index} ({part.type_name or part.type_code}, content not known)")
    return found


ZERO_CHECK_LIMIT = 8 * MIB  # a partition of unknown content is read whole up to this size (BIOS boot: 1-4 MiB)


def _all_zero(content: _Content, part: Partition) -> bool:
    """The partition (no larger than :data:`ZERO_CHECK_LIMIT`) holds only zeros (an empty
    BIOS boot partition of a UEFI-only image, a reserved gap)."""
    if part.size_bytes > ZERO_CHECK_LIMIT:
        return False
    try:
        for offset in range(0, part.size_bytes, MIB):
            chunk = content.read(part.start_bytes + offset, min(MIB, part.size_bytes - offset))
            if len(chunk) != min(MIB, part.size_bytes - offset) or chunk.count(0) != len(chunk):
                return False
    except (FsReadError, DiskError, OSError):  # out of budget, unreadable: not known to be empty
        return False
    return True


def _holds_grub_core(content: _Content, part: Partition) -> bool:
    """The partition's first sector is GRUB's diskboot.img (the start of core.img, what
    grub-install writes into a BIOS boot partition): code, no file system."""
    try:
        head = content.read(part.start_bytes, SECTOR)
    except (FsReadError, DiskError, OSError):
        return False
    return len(head) == SECTOR and all(s in head for s in (b"loading", b"Geom", b"Read"))


def _part(facts: DiskFacts, index: int) -> Partition:
    return next(p for p in facts.partitions if p.index == index)


MAX_LINK_HOPS = 8
ROOT_MARKERS = ("/etc/fstab", "/etc/os-release")
FIRST_FILES = (
    "/etc/hostname",
    "/etc/waagent.conf",
    "/usr/lib/os-release",
    "/etc/resolv.conf",
    "/etc/passwd",
)


def _collect(reader: FsReader, root: RootFsFacts) -> None:
    """Fill ``root`` from the file system; a fact whose files could not be looked at is
    marked unreadable (with the path and reason), never left empty as if absent."""
    files = ["/etc/fstab", "/etc/os-release", "/etc/hostname", "/etc/waagent.conf"]
    resolv_path = "/etc/resolv.conf"
    texts, first = _read_following(reader, [*ROOT_MARKERS, *FIRST_FILES])
    if texts["/etc/os-release"] is None:
        texts["/etc/os-release"] = texts["/usr/lib/os-release"]
    for fact, path in (
        ("fstab", "/etc/fstab"),
        ("os_release", "/etc/os-release"),
        ("hostname", "/etc/hostname"),
        ("waagent_conf", "/etc/waagent.conf"),
    ):
        if isinstance(texts[path], Unreadable):
            root.mark_unreadable(fact, texts[path].reason)
    fstab, release, hostname, waagent = (_text(texts[p]) for p in files)
    root.fstab_present = fstab is not None
    root.fstab = _parse_fstab(fstab or "")
    root.os_release = image_files.parse_shell_assignments(release or "")
    root.hostname = hostname.strip() if hostname is not None else None
    root.waagent_conf = image_files.parse_waagent_conf(waagent) if waagent is not None else None

    resolv = first[resolv_path]
    if isinstance(resolv, Unreadable):
        root.mark_unreadable("resolv_conf", resolv.reason)
    else:
        root.resolv_conf = resolv
        root.resolv_conf_text = _text(texts[resolv_path])

    lease_dirs = list(image_files.LEASE_DIRS)
    listed = _listdir_following(reader, ["/etc/ssh", "/home", *lease_dirs])
    ssh = listed["/etc/ssh"]
    if isinstance(ssh, Unreadable):
        root.mark_unreadable("ssh_host_keys", ssh.reason)
    for entry in ssh if isinstance(ssh, list) else []:
        if entry.path.rsplit("/", 1)[-1].startswith("ssh_host_"):
            if entry.kind == "unreadable":
                root.mark_unreadable("ssh_host_keys", f"{entry.path}: {entry.error}")
            root.ssh_host_keys.append(entry)
    for directory in lease_dirs:
        listing = listed[directory]
        if isinstance(listing, Unreadable):
            root.mark_unreadable("dhcp_leases", listing.reason)
            continue
        for entry in listing or []:
            if entry.kind != "dir" and image_files.is_dhcp_lease(entry.path):
                root.dhcp_leases.append(entry)

    homes = {"root": "/root"}
    home = listed["/home"]
    if isinstance(home, Unreadable):
        for name in ("home_users", "shell_histories"):
            root.mark_unreadable(name, home.reason)
    entries = home if isinstance(home, list) else []
    if len(entries) > MAX_HOMES:
        for name in ("home_users", "shell_histories"):
            root.mark_unreadable(name, f"/home: more than {MAX_HOMES} entries; not all read")
    links = {e.path: _join_link(e.path, e.target) for e in entries[:MAX_HOMES] if e.kind == "symlink"}
    resolved, _ = _resolve_many(reader, sorted(set(links.values())))
    for entry in entries[:MAX_HOMES]:
        user = entry.path.rsplit("/", 1)[-1]
        if entry.kind == "dir":
            homes[user] = entry.path
        elif entry.kind == "unreadable":
            for name in ("home_users", "shell_histories"):
                root.mark_unreadable(name, f"{entry.path}: {entry.error}")
        elif entry.kind == "symlink":  # /home/alice -> /data/alice: judged where it leads
            target = resolved[links[entry.path]]
            if isinstance(target, FileEntry) and target.kind == "dir":
                homes[user] = target.path
            elif target is None or isinstance(target, Unreadable):
                why = target.reason if target is not None else "the target does not exist in the image"
                root.mark_unreadable("shell_histories", f"home {entry.path} -> {entry.target}: {why}")
    passwd = texts["/etc/passwd"]
    if isinstance(passwd, Unreadable):
        root.mark_unreadable("shell_histories", passwd.reason)
    root.home_users = sorted(homes)
    for user, path in image_files.passwd_homes(passwd if isinstance(passwd, str) else "").items():
        if path not in homes.values() and len(homes) < 2 * MAX_HOMES:
            homes.setdefault(user, path)  # a build user's home outside /home
    _collect_histories(reader, root, homes)
    _separate_mounts(root, homes)


# Facts of the root file system by the directories they are read from.
_FACT_DIRS = {
    "shell_histories": ("/root", "/home"),
    "home_users": ("/home",),
    "dhcp_leases": tuple(image_files.LEASE_DIRS),
    "ssh_host_keys": ("/etc/ssh",),
    "hostname": ("/etc/hostname",),
    "resolv_conf": ("/etc/resolv.conf",),
    "waagent_conf": ("/etc/waagent.conf",),
    "fstab": ("/etc/fstab",),
}
_NOT_STORED = ("swap", "tmpfs", "proc", "sysfs", "devpts", "devtmpfs", "efivarfs", "none", "ramfs")


def _separate_mounts(root: RootFsFacts, homes: dict[str, str]) -> None:
    """A directory that /etc/fstab mounts from another file system (a separate /home,
    /var) is not on the root file system: the facts read from it are unreadable, never
    "none found" (only the root file system is read)."""
    mounts = [
        e
        for e in root.fstab
        if e.mountpoint.startswith("/") and e.mountpoint != "/" and e.fstype not in _NOT_STORED
    ]
    for fact, dirs in _FACT_DIRS.items():
        paths = (*dirs, *homes.values()) if fact == "shell_histories" else dirs
        for mount in mounts:
            point = mount.mountpoint.rstrip("/")
            if any(p == point or p.startswith(point + "/") for p in paths):
                root.mark_unreadable(
                    fact, f"{point} is a separate file system ({mount.spec} in /etc/fstab); it is not read"
                )


def _collect_histories(reader: FsReader, root: RootFsFacts, homes: dict[str, str]) -> None:
    """Every history file of every home (image_files' names), symlinks resolved inside
    the image: a link to /dev/null stores nothing, another is judged by its target."""
    paths = {
        f"{home}/{name}": (user, name) for user, home in homes.items() for name in image_files.ALL_HISTORIES
    }
    found = reader.lstat_many(sorted(paths))
    links = {
        p: _join_link(p, e.target)
        for p, e in found.items()
        if isinstance(e, FileEntry) and e.kind == "symlink"
    }
    targets, _ = _resolve_many(reader, [t for t in links.values() if t not in image_files.NULL_TARGETS])
    for path, (user, name) in sorted(paths.items()):
        entry = found[path]
        if entry is None:
            continue
        shell = image_files.history_kind(name) == "shell"
        if isinstance(entry, Unreadable):
            root.shell_histories.append(
                HistoryFile(path, user, None, shell, "unreadable", error=entry.reason)
            )
            continue
        if entry.kind == "symlink":
            target = _join_link(path, entry.target)
            history = HistoryFile(path, user, None, shell, "symlink", target=target)
            if target in image_files.NULL_TARGETS:
                history.size = 0
            else:
                final = targets[target]
                if isinstance(final, Unreadable):
                    history.error = f"{path} -> {entry.target}: {final.reason}"
                elif final is None:
                    history.error = f"{path} -> {entry.target}: the target does not exist in the image"
                else:
                    history.size = final.size if final.kind == "file" else 0
            root.shell_histories.append(history)
        elif entry.kind == "unreadable":
            root.shell_histories.append(HistoryFile(path, user, None, shell, "unreadable", error=entry.error))
        else:
            kind = "file" if entry.kind == "file" else "other"
            size = entry.size if kind == "file" else 0
            root.shell_histories.append(HistoryFile(path, user, size, shell, kind))


def _resolve_many(
    reader: FsReader, paths: list[str]
) -> tuple[dict[str, FileEntry | None | Unreadable], dict[str, FileEntry | None | Unreadable]]:
    """What each path leads to, following symlinks inside the image (bounded hops, one
    batch per hop), and what each path itself is (not followed)."""
    final: dict[str, FileEntry | None | Unreadable] = {}
    first: dict[str, FileEntry | None | Unreadable] = {}
    current = {p: p for p in paths}
    for hop in range(MAX_LINK_HOPS + 1):
        if not current:
            break
        entries = reader.lstat_many(sorted(set(current.values())))
        following: dict[str, str] = {}
        for orig, now in current.items():
            entry = entries[now]
            if hop == 0:
                first[orig] = entry
            if isinstance(entry, FileEntry) and entry.kind == "symlink":
                target = _join_link(now, entry.target)
                if target in image_files.NULL_TARGETS:
                    final[orig] = FileEntry(target, "other")
                else:
                    following[orig] = target
            else:
                final[orig] = entry
        current = following
    for orig in current:
        final[orig] = Unreadable(f"{orig}: more than {MAX_LINK_HOPS} symbolic links")
    return final, first


def _listdir_following(reader: FsReader, paths: list[str]) -> dict[str, list[FileEntry] | None | Unreadable]:
    """Directory listings, a symlinked directory listed where it leads (inside the image);
    entries keep the path they have through the link (``/var/lib/dhcp/x.leases``)."""
    final, _ = _resolve_many(reader, paths)
    dirs = {p: e.path for p, e in final.items() if isinstance(e, FileEntry) and e.kind == "dir"}
    listings = reader.listdir_many(sorted(set(dirs.values()))) if dirs else {}
    result: dict[str, list[FileEntry] | None | Unreadable] = {}
    for path in paths:
        entry = final[path]
        if path not in dirs:
            result[path] = entry if isinstance(entry, Unreadable) else None
            continue
        listing = listings[dirs[path]]
        if isinstance(listing, list) and dirs[path] != path:
            base = path.rstrip("/")
            listing = [dataclasses.replace(e, path=f"{base}/{e.path.rsplit('/', 1)[-1]}") for e in listing]
        result[path] = listing
    return result


def _resolve(reader: FsReader, path: str) -> FileEntry | None | Unreadable:
    """What ``path`` leads to, following symlinks inside the image (bounded hops)."""
    return _resolve_many(reader, [path])[0][path]


def _text(value: str | None | Unreadable) -> str | None:
    return value if isinstance(value, str) else None


def _read_following(
    reader: FsReader, paths: list[str]
) -> tuple[dict[str, str | None | Unreadable], dict[str, FileEntry | None | Unreadable]]:
    """Text of small files, following symlinks inside the file system (bounded): None for
    absent ones and for directories or special files; Unreadable for what could not be read
    (including a file larger than SMALL_FILE_LIMIT: not read, so not known). Also what
    each path itself is (symlinks not followed)."""
    result: dict[str, str | None | Unreadable] = {}
    regular: dict[str, str] = {}
    final, first = _resolve_many(reader, paths)
    for orig in paths:
        entry = final[orig]
        if isinstance(entry, Unreadable) or entry is None:
            result[orig] = entry
        elif entry.kind == "unreadable":
            result[orig] = Unreadable(f"{entry.path}: {entry.error}")
        elif entry.kind != "file":
            result[orig] = None
        elif entry.size > SMALL_FILE_LIMIT:
            result[orig] = Unreadable(
                f"{entry.path}: {entry.size} bytes, larger than {SMALL_FILE_LIMIT}; not read"
            )
        else:
            regular[orig] = entry.path
    if regular:
        data = reader.read_many(sorted(set(regular.values())), SMALL_FILE_LIMIT)
        for orig, now in regular.items():
            raw = data.get(now)
            if isinstance(raw, bytes):
                result[orig] = raw.decode("utf-8", "replace")
            else:
                result[orig] = raw if isinstance(raw, Unreadable) else Unreadable(f"{now}: not read")
    return result, first


def _join_link(path: str, target: str) -> str:
    base = target if target.startswith("/") else path.rsplit("/", 1)[0] + "/" + target
    parts: list[str] = []
    for part in base.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def _parse_fstab(text: str) -> list[FstabEntry]:
    entries = []
    for line in text.splitlines()[:1000]:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        unescape = lambda s: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)  # noqa: E731
        entries.append(
            FstabEntry(
                spec=unescape(fields[0]),
                mountpoint=unescape(fields[1]),
                fstype=fields[2] if len(fields) > 2 else "",
                options=fields[3] if len(fields) > 3 else "defaults",
            )
        )
    return entries


# ---------------------------------------------------------------------------- boot path (VHD-010)

LOADER_READ_LIMIT = 8 * MIB  # a loader is read up to this many bytes (shim and GRUB: 1-3 MiB)
MAX_EFI_DIRS = 32  # folders under /EFI that are looked into
FALLBACK_LOADERS = ("BOOTX64.EFI", "BOOTAA64.EFI", "BOOTIA32.EFI")  # EFI/BOOT/, UEFI removable path
DISTRO_LOADERS = ("shimx64.efi", "grubx64.efi", "shimaa64.efi", "grubaa64.efi", "bootmgfw.efi")
_PE_MACHINES = {0x8664: "x64", 0xAA64: "arm64", 0x014C: "ia32"}
EFI_APPLICATION = 10  # PE Subsystem of a UEFI application
# GRUB's boot.img: a jump at byte 0 and its message table at 0x180 (grub-pc's boot.S)
_GRUB_BOOT_JUMP, _GRUB_BOOT_STRINGS = b"\xeb\x63\x90", b"GRUB \0Geom\0Hard Disk\0Read\0 Error"
# Strings of the MBR boot code of common BIOS loaders; other non-zero bytes are "unknown"
# (VHD-010 cannot tell such code from garbage, and says so).
_BOOT_CODE_KINDS = (
    (b"LILO", "LILO"),
    (b"isolinux", "SYSLINUX"),
    (b"SYSLINUX", "SYSLINUX"),
    (b"Missing operating system", "Windows/DOS-style MBR"),
    (b"Invalid partition table", "Windows/DOS-style MBR"),
)


def read_boot(path: str | os.PathLike[str], facts: DiskFacts, budget: Budget | None = None) -> BootFacts:
    """The boot paths of a disk inspected with :func:`inspect_disk` (its layout reused):
    the MBR boot code, GPT BIOS-boot partitions and legacy-bootable flags, and the boot
    loaders on every EFI System Partition (its FAT read by :mod:`._fat`, bounded by
    ``budget``). ``facts`` is not changed. An ESP whose FAT cannot be read has ``error``
    set (never "no loader"); raises DiskError only when the file cannot be opened."""
    boot = BootFacts()
    fd = _open(os.fspath(path))
    try:
        file, content, scratch = _reopen(fd, os.fspath(path))
        table = facts.partition_table
        if content is None or not facts.content_readable or table is None:
            boot.reason = f"disk content not read: {facts.content_reason or scratch.content_reason}"
            return boot
        file.meter = Meter(budget or Budget())
        try:
            _read_boot(content, table, boot, file.meter)
        except (struct.error, IndexError, ValueError) as exc:  # a structure we did not bound-check
            boot.read, boot.reason = False, f"the boot structures could not be parsed: {exc}"
        except (FsReadError, DiskError) as exc:  # sector 0, the GPT header, GRUB's core (budget too)
            boot.read, boot.reason = False, f"the boot sectors could not be read: {exc}"
        return boot
    finally:
        os.close(fd)


def _read_boot(content: _Content, table: PartitionTable, boot: BootFacts, meter: Meter) -> None:
    from pytest_vmimage.facts import _fat  # local: _fat imports this module

    boot.read, boot.scheme = True, table.scheme
    mbr = content.read(0, SECTOR)
    code = mbr[:440]
    boot.mbr_boot_code = any(code)
    boot.mbr_signature = mbr[510:512] == b"\x55\xaa"
    if boot.mbr_boot_code:
        grub = code.startswith(_GRUB_BOOT_JUMP) and _GRUB_BOOT_STRINGS in code
        boot.mbr_boot_code_kind = "GRUB" if grub else next(
            (k for sig, k in _BOOT_CODE_KINDS if sig in code and k != "GRUB"), "unknown"
        )
        if grub:
            boot.grub_core = _grub_core(content, code, table)
        elif boot.mbr_boot_code_kind == "Windows/DOS-style MBR" and table.scheme == "mbr":
            boot.chain_target = _chain_target(content, table)
    usable = _edk2_gpt(content, mbr, boot) if table.scheme == "gpt" else (0, 0)
    if table.scheme == "gpt" and mbr[510:512] == b"\x55\xaa":
        types = [mbr[446 + 16 * i + 4] for i in range(4)]
        boot.hybrid_mbr = 0xEE in types and any(t not in (0, 0xEE) for t in types)
    for part in table.partitions:
        if part.role == "bios_boot":
            boot.bios_boot_partitions.append(part.index)
        if part.scheme == "gpt" and part.attributes & 0x4:
            boot.legacy_bootable_partitions.append(part.index)
        if part.role != "efi" or part.kind == "extended":
            continue
        esp = EspFacts(part.index, part.type_code)
        boot.esps.append(esp)
        start, size = part.start_bytes, min(part.size_bytes, max(0, content.size - part.start_bytes))
        try:
            fat = _fat.FatVolume(lambda off, n, s=start: content.read(s + off, n), size, meter)
            esp.fat = fat.kind
            _find_loaders(fat, esp)
        except (_fat.FatError, BudgetExceeded, DiskError) as exc:
            esp.error = f"EFI System Partition {part.index}: {exc}"
        except (struct.error, IndexError, ValueError) as exc:  # safety net: never a crash
            esp.error = f"EFI System Partition {part.index}: its FAT could not be parsed ({exc})"
        esp.ignored = _edk2_ignores(part, table, content.size, usable)


def _grub_core(content: _Content, code: bytes, table: PartitionTable) -> str:
    """"ok" when the sector GRUB's boot.img loads (u64 at 0x5C) holds GRUB's diskboot.img
    with a non-empty block list (0x1F4: u64 start, u16 count) inside the disk; else why not."""
    sector = struct.unpack("<Q", code[0x5C:0x64])[0]
    if sector == 0 or (sector + 1) * SECTOR > content.size:
        return f"boot.img points at sector {sector}, outside the disk"
    core = content.read(sector * SECTOR, SECTOR)
    if len(core) < SECTOR or not all(s in core for s in (b"loading", b"Geom", b"Read")):
        return f"boot.img loads sector {sector}, which does not hold GRUB's core.img (diskboot.img)"
    start, count = struct.unpack("<QH", core[0x1F4:0x1FE])
    if start == 0 or count == 0 or (start + count) * SECTOR > content.size:
        return f"GRUB's core.img at sector {sector} lists blocks {start}+{count}, none or outside the disk"
    bios = [p for p in table.partitions if p.role == "bios_boot"]
    if table.scheme == "gpt" and bios and not any(
        p.start_sector <= sector < p.start_sector + p.size_sectors for p in bios
    ):
        return f"GRUB's core.img at sector {sector} is not inside the bios_grub partition"
    return "ok"


def _chain_target(content: _Content, table: PartitionTable) -> str:
    """"ok" when a Windows/DOS MBR has what it chain-loads: exactly one active primary
    partition whose first sector ends in 55 AA and holds code; else why not."""
    active = [p for p in table.partitions if p.bootable and p.kind == "primary"]
    if len(active) != 1:
        return f"{len(active)} active primary partitions (it starts exactly one)"
    sector = content.read(active[0].start_bytes, SECTOR)
    if len(sector) < SECTOR or sector[510:512] != b"\x55\xaa" or not any(sector[:446]):
        return f"the active partition {active[0].index} has no boot sector (code ending in 55 AA)"
    return "ok"


def _edk2_gpt(content: _Content, mbr: bytes, boot: BootFacts) -> tuple[int, int]:
    """What EDK2's PartitionDxe (Gpt.c) checks before it reads a GPT: an MBR entry with
    boot indicator 0x00, type 0xEE, start LBA 1; a primary header whose MyLBA is 1."""
    entries = [mbr[446 + 16 * i : 462 + 16 * i] for i in range(4)]
    if mbr[510:512] != b"\x55\xaa" or not any(
        e[0] == 0 and e[4] == 0xEE and struct.unpack("<I", e[8:12])[0] == 1 for e in entries
    ):
        boot.gpt_ignored = (
            "sector 0 has no protective MBR entry (boot indicator 00, type EE, start LBA 1): "
            "UEFI firmware does not read this GPT"
        )
    header = content.read(SECTOR, SECTOR)
    my_lba, _, first, last = struct.unpack("<4Q", header[24:56]) if len(header) >= 56 else (-1, 0, 0, 0)
    if my_lba != 1:
        boot.gpt_unread = (
            f"the primary GPT header says it is at LBA {my_lba}, not 1: UEFI firmware would use the "
            "backup GPT, which is not read here"
        )
    return first, last


def _edk2_ignores(part: Partition, table: PartitionTable, disk_size: int, usable: tuple[int, int]) -> str:
    """Why EDK2's PartitionCheckGptEntry would create no handle for ``part`` ("": it would)."""
    if table.scheme != "gpt":
        return ""
    end = part.start_sector + part.size_sectors
    if part.attributes & 0x2:
        return "attribute bit 1 (no block I/O protocol) is set"
    if part.beyond_disk_end or end * SECTOR > disk_size:
        return "it ends past the end of the disk"
    if part.start_sector < usable[0] or end - 1 > usable[1]:
        return f"it lies outside the GPT's usable sectors {usable[0]}..{usable[1]}"
    others = [p for p in table.partitions if p is not part and p.size_sectors > 0]
    hit = next(
        (p for p in others if p.start_sector < end and part.start_sector < p.start_sector + p.size_sectors),
        None,
    )
    if hit is not None:
        return f"it overlaps partition {hit.index}"
    return ""


def _find_loaders(fat: FatVolume, esp: EspFacts) -> None:
    """The loaders of one ESP: EFI/BOOT/BOOT*.EFI and EFI/<folder>/{shim,grub}*.efi
    (EFI/Microsoft/Boot/bootmgfw.efi), each read and its PE header judged."""
    from pytest_vmimage.facts import _fat

    root = fat.listdir_cluster(0, "/")
    efi = fat.find(root, "EFI")
    if efi is None or not efi.is_dir:
        return
    folders = [e for e in fat.listdir_cluster(efi.first_cluster, "/EFI") if e.is_dir]
    esp.efi_dirs = sorted(e.name for e in folders)
    if len(folders) > MAX_EFI_DIRS:  # a loader in a folder not looked into is not "absent"
        raise _fat.FatError(f"/EFI holds {len(folders)} folders; only {MAX_EFI_DIRS} are read")
    for folder in folders[:MAX_EFI_DIRS]:
        where = f"EFI/{folder.name}"
        entries = fat.listdir_cluster(folder.first_cluster, where)
        if folder.name.casefold() == "microsoft":
            sub = fat.find(entries, "Boot")
            if sub is None or not sub.is_dir:
                continue
            where = f"{where}/{sub.name}"
            entries = fat.listdir_cluster(sub.first_cluster, where)
        wanted = FALLBACK_LOADERS if folder.name.casefold() == "boot" else DISTRO_LOADERS
        for name in wanted:
            entry = fat.find(entries, name)
            if entry is None or entry.is_dir:
                continue
            loader_path = f"{where}/{entry.name}"
            data = fat.read_file(entry, LOADER_READ_LIMIT, loader_path)
            esp.loaders.append(_pe_loader(loader_path, entry.size, data))


def _pe_loader(path: str, size: int, data: bytes) -> BootLoader:
    """What a loader's bytes say: a PE image, for which machine, shim or not, signed or not."""
    loader = BootLoader(path, size)
    if size == 0:
        loader.problem = "an empty file"
        return loader
    if data[:2] != b"MZ" or len(data) < 64:
        loader.problem = "not a PE image (no MZ header)"
        return loader
    pe_at = struct.unpack("<I", data[60:64])[0]
    if pe_at + 24 > len(data):
        loader.problem = "not a PE image (no PE header)"
        return loader
    header = data[pe_at : pe_at + 24]
    if len(header) < 24 or header[:4] != b"PE\0\0":
        loader.problem = "not a PE image (no PE header)"
        return loader
    machine, sections, _, _, _, optional_size = struct.unpack("<HHIIIH", header[4:22])
    loader.pe = True
    loader.machine = _PE_MACHINES.get(machine, f"0x{machine:04x}")
    optional = pe_at + 24
    magic = struct.unpack("<H", data[optional : optional + 2].ljust(2, b"\0"))[0]
    dirs_at = optional + (112 if magic == 0x20B else 96)
    count_at = dirs_at - 4
    count = struct.unpack("<I", data[count_at : count_at + 4].ljust(4, b"\0"))[0]
    if count > 4:
        offset, length = struct.unpack("<II", data[dirs_at + 32 : dirs_at + 40].ljust(8, b"\0"))
        cert = data[offset : offset + 10] if offset >= optional else b""
        if length >= 10 and offset + length <= size and len(cert) == 10:
            cert_len, revision, cert_type = struct.unpack("<IHH", cert[:8])
            loader.signed = (
                10 <= cert_len <= length and revision == 0x0200 and cert_type == 0x0002 and cert[8] == 0x30
            )
    entry_point = struct.unpack("<I", data[optional + 16 : optional + 20].ljust(4, b"\0"))[0]
    loader.subsystem = struct.unpack("<H", data[optional + 68 : optional + 70].ljust(2, b"\0"))[0]
    if magic not in (0x10B, 0x20B):
        loader.problem = f"not an EFI application (PE optional header magic 0x{magic:04x})"
    elif loader.subsystem != EFI_APPLICATION:
        loader.problem = f"not an EFI application (PE Subsystem {loader.subsystem}, not 10)"
    elif sections == 0:
        loader.problem = "not an EFI application (no sections)"
    table = optional + optional_size
    entry_inside = False
    for n in range(min(sections, 96)):
        raw = data[table + 40 * n : table + 40 * n + 40]
        if len(raw) < 40:
            loader.problem = loader.problem or "the PE section table is cut short"
            break
        name = raw[:8].rstrip(b"\0")
        virtual_size, virtual_at, raw_size, raw_at = struct.unpack("<IIII", raw[8:24])
        entry_inside |= virtual_at <= entry_point < virtual_at + max(virtual_size, raw_size)
        if raw_at + raw_size > size:
            loader.problem = loader.problem or f"section {name.decode('latin-1')} lies past the end of the file"
        if name == b".vendor_cert":
            loader.shim = True
        elif name == b".sbat":
            sbat = data[raw_at : raw_at + min(raw_size, 4096)]
            loader.shim = loader.shim or any(line.startswith(b"shim,") for line in sbat.splitlines())
    if not entry_inside and not loader.problem:
        loader.problem = f"its entry point 0x{entry_point:x} lies in no section"
    return loader


# ---------------------------------------------------------------------------- public readers


def _open_root(path: str | os.PathLike[str], facts: DiskFacts) -> tuple[int, FsReader]:
    if not facts.root_fs.readable:
        raise DiskError(f"{os.fspath(path)}: root file system not readable: {facts.root_fs.reason}")
    fd = _open(os.fspath(path))
    st = os.fstat(fd)
    file = _File(fd, st.st_size, os.fspath(path))
    file.meter = Meter(Budget())
    scratch = DiskFacts(
        path=file.path, apparent_size=st.st_size, allocated_size=0, data_bytes=None, format=""
    )
    content = _identify(file, scratch)
    if content is None:
        os.close(fd)
        raise DiskError(f"{file.path}: disk content cannot be read: {scratch.content_reason}")
    try:
        return fd, _reader_for(file, content, facts, facts.root_fs.partition_index)
    except _NoReader as exc:
        os.close(fd)
        raise DiskError(f"{file.path}: {exc}") from None


def read_root_files(
    path: str | os.PathLike[str], facts: DiskFacts, paths: Iterable[str], limit: int = MIB
) -> dict[str, bytes | None]:
    """Content of regular files of the root file system (symlinks followed inside it);
    None for absent ones, directories, special files and files larger than ``limit``.
    Raises DiskError naming a path that could not be read."""
    fd, reader = _open_root(path, facts)
    try:
        wanted = list(paths)
        result: dict[str, bytes | None] = {p: None for p in wanted}
        resolved: dict[str, str] = {}
        for p in wanted:
            entry = _resolve(reader, p)
            if isinstance(entry, Unreadable):
                raise DiskError(f"{facts.path}: {entry.reason}")
            if entry is not None and entry.kind == "file" and entry.size <= limit:
                resolved[p] = entry.path
        data = reader.read_many(sorted(set(resolved.values())), limit) if resolved else {}
        for p, now in resolved.items():
            raw = data.get(now)
            if isinstance(raw, Unreadable):
                raise DiskError(f"{facts.path}: {raw.reason}")
            result[p] = raw
        return result
    except FsReadError as exc:
        raise DiskError(f"{facts.path}: {exc}") from None
    finally:
        os.close(fd)


def list_dir(path: str | os.PathLike[str], facts: DiskFacts, dirpath: str) -> list[FileEntry] | None:
    """Entries of a directory of the root file system (bounded); None when absent.
    Raises DiskError when it could not be read."""
    fd, reader = _open_root(path, facts)
    try:
        listing = reader.listdir_many([dirpath])[dirpath]
    except FsReadError as exc:
        raise DiskError(f"{facts.path}: {exc}") from None
    finally:
        os.close(fd)
    if isinstance(listing, Unreadable):
        raise DiskError(f"{facts.path}: {listing.reason}")
    return listing


__all__ = [
    "Budget",
    "BootFacts",
    "BootLoader",
    "BudgetExceeded",
    "DiskError",
    "DiskFacts",
    "EspFacts",
    "FileEntry",
    "FsProbe",
    "FstabEntry",
    "HistoryFile",
    "Partition",
    "PartitionTable",
    "RootFsFacts",
    "VhdDynamicHeader",
    "VhdFooter",
    "inspect_disk",
    "list_dir",
    "read_boot",
    "read_root_files",
    "read_root_fs",
]
