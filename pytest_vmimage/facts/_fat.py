"""A minimal read-only FAT12/16/32 reader: enough to list the directories of an EFI
System Partition and read its boot loaders (VHD-010), from inside a disk image.

Why not a library: pyfatfs (the maintained pure-Python one) opens a path or a whole
device through PyFilesystem2, not a byte range of an image through our budgeted reads,
and follows cluster chains without a bound; a cyclic chain in a crafted image is a
known denial of service of FAT readers. This one is small, and bounded everywhere:

* every cluster chain is followed at most once per cluster (a cluster seen twice is a
  loop: :class:`FatError`), never past the volume's cluster count;
* a directory holds at most :data:`MAX_DIR_ENTRIES` entries, a path at most
  :data:`MAX_DEPTH` components;
* every byte read and every cluster visited is charged to the
  :class:`~pytest_vmimage.facts.disk.Meter` (bytes, blocks, wall time), which raises
  BudgetExceeded when the image asks for more.

Names: long file names (VFAT LFN entries whose checksum matches the short entry) are
used when present, else the 8.3 name; lookups are case-insensitive for ASCII only, as
the UEFI FAT driver's collation.
Error model: a missing name in a directory read whole is absent (``None``); anything
that could not be read (a chain that loops, leaves the volume, or ends early, an entry
pointing at a reserved cluster) raises :class:`FatError` naming it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from pytest_vmimage.facts.disk import Budget, Meter

MAX_DIR_ENTRIES = 4096  # 32-byte slots per directory (LFN slots included)
MAX_DEPTH = 8


class FatError(Exception):
    """The FAT structures could not be read; the message says which and why."""


@dataclass(frozen=True)
class FatEntry:
    """One directory entry (never "." or "..")."""

    name: str  # the long name when there is one, else the 8.3 name
    short_name: str
    is_dir: bool
    size: int
    first_cluster: int


class FatVolume:
    """A FAT file system read through ``read(offset, size)`` (offsets inside the volume)."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, meter: Meter | None = None) -> None:
        self._read, self.size = read, size
        self.meter = meter or Meter(Budget())
        boot = self.read(0, 512)
        if len(boot) < 512 or boot[510:512] != b"\x55\xaa":
            raise FatError("no FAT boot sector (signature 55 AA missing)")
        (bps, spc, reserved, fats, root_entries, total16, _media, fat16) = struct.unpack(
            "<HBHBHHBH", boot[11:24]
        )
        total32, fat32 = struct.unpack("<I", boot[32:36])[0], struct.unpack("<I", boot[36:40])[0]
        if bps not in (512, 1024, 2048, 4096):
            raise FatError(f"bytes per sector {bps} is not 512, 1024, 2048 or 4096")
        if spc == 0 or spc & (spc - 1) or spc > 128:
            raise FatError(f"sectors per cluster {spc} is not a power of two up to 128")
        if reserved == 0 or fats == 0 or fats > 4:
            raise FatError(f"{reserved} reserved sectors and {fats} FATs: not a FAT volume")
        fat_sectors = fat16 or fat32
        total = total16 or total32
        root_sectors = (root_entries * 32 + bps - 1) // bps
        self.data_start = (reserved + fats * fat_sectors + root_sectors) * bps
        if fat_sectors == 0 or total == 0 or self.data_start >= total * bps:
            raise FatError(f"FAT size {fat_sectors} / total {total} sectors: the layout is not usable")
        if total * bps > size:
            raise FatError(f"the FAT boot sector claims {total * bps} bytes; the partition holds {size}")
        self.clusters = (total * bps - self.data_start) // (spc * bps)
        if self.clusters < 4085:
            self.kind = "FAT12"
        elif self.clusters < 65525:
            self.kind = "FAT16"
        else:
            self.kind = "FAT32"
        if self.kind != "FAT32" and root_entries == 0:
            raise FatError(f"{self.kind} volume with no root directory entries")
        if self.kind == "FAT32" and fat16:
            raise FatError("FAT32 cluster count but a 16-bit FAT size")
        self.cluster_size = spc * bps
        self.fat_start = reserved * bps
        self.fat_bytes = fat_sectors * bps
        need = {"FAT12": ((self.clusters + 2) * 3 + 1) // 2, "FAT16": (self.clusters + 2) * 2}
        if self.fat_bytes < need.get(self.kind, (self.clusters + 2) * 4):
            raise FatError(f"the FAT ({self.fat_bytes} bytes) is too small for {self.clusters} clusters")
        self.root_start = (reserved + fats * fat_sectors) * bps
        self.root_entries = root_entries
        self.root_cluster = struct.unpack("<I", boot[44:48])[0] & 0x0FFFFFFF if self.kind == "FAT32" else 0
        self._fat_cache: dict[int, bytes] = {}

    # -- low level -------------------------------------------------------------------

    def read(self, offset: int, size: int) -> bytes:
        self.meter.check_time()
        if offset < 0 or offset + size > self.size:
            raise FatError(f"a read at byte {offset} (+{size}) is outside the {self.size}-byte volume")
        data = self._read(offset, size)
        if len(data) != size:  # the image ends inside the partition
            raise FatError(
                f"a read at byte {offset} returned {len(data)} of {size} bytes (the image is cut short)"
            )
        return data

    def _next(self, cluster: int) -> int:
        """The FAT entry of ``cluster`` (the next cluster, or an end/bad/free mark)."""
        if self.kind == "FAT12":
            at = cluster * 3 // 2
        else:
            at = cluster * (2 if self.kind == "FAT16" else 4)
        page = at // 4096
        if page not in self._fat_cache:
            self.meter.block()
            self._fat_cache[page] = self.read(
                self.fat_start + page * 4096, min(4096 + 4, self.fat_bytes - page * 4096)
            )
        raw = self._fat_cache[page][at % 4096 : at % 4096 + 4]
        if len(raw) < (4 if self.kind == "FAT32" else 2):
            raise FatError(
                f"the FAT entry of cluster {cluster} lies past the {self.fat_bytes}-byte FAT"
            )
        if self.kind == "FAT12":
            value = struct.unpack("<H", raw[:2])[0]
            return value >> 4 if cluster & 1 else value & 0xFFF
        if self.kind == "FAT16":
            return struct.unpack("<H", raw[:2])[0]
        return struct.unpack("<I", raw[:4])[0] & 0x0FFFFFFF

    def chain(self, first: int, what: str, max_clusters: int | None = None) -> list[int]:
        """The clusters of a chain, in order; ``max_clusters`` stops early (a file head)."""
        end = {"FAT12": 0xFF8, "FAT16": 0xFFF8}.get(self.kind, 0x0FFFFFF8)
        bad = end - 1
        clusters: list[int] = []
        seen: set[int] = set()
        cluster = first
        while True:
            if cluster < 2 or cluster >= self.clusters + 2:
                raise FatError(f"{what}: cluster {cluster} is outside the volume (2..{self.clusters + 1})")
            if cluster in seen:
                raise FatError(f"{what}: the cluster chain loops (cluster {cluster} comes twice)")
            seen.add(cluster)
            clusters.append(cluster)
            self.meter.block()
            if max_clusters is not None and len(clusters) >= max_clusters:
                return clusters
            nxt = self._next(cluster)
            if nxt >= end:
                return clusters
            if nxt == bad:
                raise FatError(f"{what}: the chain reaches a cluster marked bad after cluster {cluster}")
            if nxt == 0:
                raise FatError(f"{what}: the chain reaches a free cluster after cluster {cluster}")
            cluster = nxt

    def _cluster(self, cluster: int) -> bytes:
        return self.read(self.data_start + (cluster - 2) * self.cluster_size, self.cluster_size)

    # -- directories -----------------------------------------------------------------

    def _dir_bytes(self, first: int, what: str) -> bytes:
        if first == 0:  # the root directory
            if self.kind != "FAT32":
                return self.read(self.root_start, self.root_entries * 32)
            first = self.root_cluster
        limit = (MAX_DIR_ENTRIES * 32 + self.cluster_size - 1) // self.cluster_size
        clusters = self.chain(first, what, limit + 1)
        if len(clusters) > limit:
            raise FatError(f"{what}: more than {MAX_DIR_ENTRIES} directory entries; not read")
        return b"".join(self._cluster(c) for c in clusters)

    def listdir_cluster(self, first: int, what: str) -> list[FatEntry]:
        """The entries of the directory starting at ``first`` (0: the root)."""
        raw = self._dir_bytes(first, what)
        entries: list[FatEntry] = []
        parts: dict[int, str] = {}
        checksum = -1
        for slot in range(min(len(raw) // 32, MAX_DIR_ENTRIES + 1)):
            if slot >= MAX_DIR_ENTRIES:
                raise FatError(f"{what}: more than {MAX_DIR_ENTRIES} directory entries; not read")
            entry = raw[slot * 32 : slot * 32 + 32]
            if entry[0] == 0:
                break
            if entry[0] == 0xE5:
                parts, checksum = {}, -1
                continue
            attr = entry[11]
            if attr & 0x3F == 0x0F:  # a long-name slot
                order = entry[0] & 0x1F
                if entry[0] & 0x40:
                    parts, checksum = {}, entry[13]
                if entry[13] == checksum and 1 <= order <= 20:
                    text = entry[1:11] + entry[14:26] + entry[28:32]
                    parts[order] = text.decode("utf-16-le", "replace")
                continue
            short = _short_name(entry)
            long_name = ""
            if (
                parts
                and checksum == _lfn_checksum(entry[:11])
                and sorted(parts) == list(range(1, len(parts) + 1))
            ):
                long_name = "".join(parts[k] for k in sorted(parts)).split("\0")[0]
            parts, checksum = {}, -1
            if attr & 0x08 or short in (".", ".."):  # volume label, dot entries
                continue
            high = struct.unpack("<H", entry[20:22])[0] if self.kind == "FAT32" else 0
            first_cluster = high << 16 | struct.unpack("<H", entry[26:28])[0]
            size = struct.unpack("<I", entry[28:32])[0]
            entries.append(FatEntry(long_name or short, short, bool(attr & 0x10), size, first_cluster))
        return entries

    def lookup(self, path: str) -> FatEntry | None:
        """The entry at ``path`` ("EFI/BOOT/BOOTX64.EFI"), case-insensitively; None when
        a component is absent from a directory that was read whole."""
        names = [p for p in path.strip("/").split("/") if p]
        if len(names) > MAX_DEPTH:
            raise FatError(f"{path}: more than {MAX_DEPTH} path components")
        current = FatEntry("/", "/", True, 0, 0)
        walked = ""
        for name in names:
            if not current.is_dir:
                return None
            found = self.find(self.listdir_cluster(current.first_cluster, walked or "/"), name)
            if found is None:
                return None
            current, walked = found, f"{walked}/{found.name}"
        return current

    def listdir(self, path: str) -> list[FatEntry] | None:
        entry = self.lookup(path)
        if entry is None or not entry.is_dir:
            return None
        return self.listdir_cluster(entry.first_cluster, path)

    @staticmethod
    def find(entries: list[FatEntry], name: str) -> FatEntry | None:
        """ASCII-only case folding, as the UEFI FAT driver's English collation: "BOOTX64.E\ufb01"
        is not "BOOTX64.EFI" (str.casefold()/upper() would say it is)."""
        wanted = _ascii_fold(name)
        if wanted is None:
            return None
        return next(
            (e for e in entries if wanted in (_ascii_fold(e.name), _ascii_fold(e.short_name))), None
        )

    # -- files -----------------------------------------------------------------------

    def read_file(self, entry: FatEntry, limit: int, what: str) -> bytes:
        """The first ``min(size, limit)`` bytes of a file; the chain must hold them."""
        want = min(entry.size, limit)
        if want == 0:
            return b""
        count = (want + self.cluster_size - 1) // self.cluster_size
        clusters = self.chain(entry.first_cluster, what, count)
        if len(clusters) < count:
            raise FatError(
                f"{what}: {entry.size} bytes recorded but its cluster chain ends after {len(clusters)} cluster(s)"
            )
        data = bytearray()
        for cluster in clusters:
            data += self._cluster(cluster)
        return bytes(data[:want])


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_fold(name: str) -> str | None:
    """``name`` with A-Z lowered; None for a non-ASCII name (it matches nothing we look up)."""
    return name.translate(_ASCII_LOWER) if name.isascii() else None


def _short_name(entry: bytes) -> str:
    """The 8.3 name, in lower case where Windows NT's case bits (byte 12) say so."""
    base = entry[0:8].decode("latin-1").rstrip(" ")
    if base[:1] == "\x05":
        base = "\xe5" + base[1:]
    ext = entry[8:11].decode("latin-1").rstrip(" ")
    if entry[12] & 0x08:
        base = base.lower()
    if entry[12] & 0x10:
        ext = ext.lower()
    return f"{base}.{ext}" if ext else base


def _lfn_checksum(short: bytes) -> int:
    total = 0
    for byte in short:
        total = (((total & 1) << 7) + (total >> 1) + byte) & 0xFF
    return total
