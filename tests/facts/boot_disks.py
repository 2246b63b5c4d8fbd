"""Builders of real boot disks for VHD-010, without root or loop devices.

``mkfs.vfat`` formats an ESP image file, mtools' ``mmd``/``mcopy -i`` write folders and
files into it, ``sfdisk`` partitions a raw file (MBR or GPT, with a ``bios_grub``
partition), GRUB's own ``boot.img`` (grub-pc-bin) is the MBR boot code, ``dd`` places
each piece and ``qemu-img`` makes a fixed VHD. The loaders are small PE images written
here (machine type, sections, certificate table as a real one has them): what the
reader judges is their headers, not their code.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from pytest_vmimage.facts._fat import FatVolume

from .conftest import MIB, partition, patch, place, run, sparse_file, to_vhd

BOOT_IMG = Path("/usr/lib/grub/i386-pc/boot.img")  # GRUB's 512-byte MBR boot code (grub-pc-bin)
DISKBOOT_IMG = Path("/usr/lib/grub/i386-pc/diskboot.img")  # the first sector of GRUB's core.img
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOS_GRUB_TYPE = "21686148-6449-6E6F-744E-656564454649"
X64, ARM64, IA32 = 0x8664, 0xAA64, 0x014C
SHIM_SBAT = b"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nshim,3,UEFI shim,shim,1,https://github.com/rhboot/shim\n"
GRUB_SBAT = b"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\ngrub,3,Free Software Foundation,grub,2.06,https://www.gnu.org/software/grub/\n"

_MISSING = [t for t in ("mkfs.vfat", "mcopy", "mmd", "sfdisk", "qemu-img") if shutil.which(t) is None]
needs_boot_tools = pytest.mark.skipif(
    bool(_MISSING) or not BOOT_IMG.exists(),
    reason=f"missing {', '.join(_MISSING) or BOOT_IMG} (apt-get install dosfstools mtools fdisk qemu-utils grub-pc-bin)",
)


def pe_image(
    machine: int = X64, *, sbat: bytes = GRUB_SBAT, vendor_cert: bool = False, signed: bool = False
) -> bytes:
    """A PE32+ image with .text, .sbat (and .vendor_cert) sections; ``signed`` appends a
    WIN_CERTIFICATE and points the certificate-table directory at it."""
    sections = [(b".text", b"\xc3" * 512), (b".sbat", sbat.ljust(512, b"\0"))]
    if vendor_cert:
        sections.append((b".vendor_cert", b"\x30\x82" + b"\0" * 510))
    headers = 64 + 24 + 240 + 40 * len(sections)
    data_at = (headers + 511) // 512 * 512
    body, table, at = b"", b"", data_at
    for name, raw in sections:
        table += struct.pack("<8sIIIIIIHHI", name, len(raw), at, len(raw), at, 0, 0, 0, 0, 0x40000040)
        body += raw
        at += len(raw)
    cert = struct.pack("<IHH", 8 + 64, 0x0200, 0x0002) + b"\x30" * 64 if signed else b""
    dirs = bytearray(16 * 8)
    if signed:
        dirs[32:40] = struct.pack("<II", at, len(cert))
    optional = bytearray(240)
    optional[0:2] = struct.pack("<H", 0x20B)
    optional[16:20] = struct.pack("<I", data_at)  # AddressOfEntryPoint: in .text
    optional[68:70] = struct.pack("<H", 10)  # Subsystem: EFI application
    optional[108:112] = struct.pack("<I", 16)
    optional[112:240] = dirs
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    dos[60:64] = struct.pack("<I", 64)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", machine, len(sections), 0, 0, 0, 240, 0x0022)
    head = bytes(dos) + coff + bytes(optional) + table
    return head.ljust(data_at, b"\0") + body + cert


def shim_image(machine: int = X64) -> bytes:
    return pe_image(machine, sbat=SHIM_SBAT, vendor_cert=True, signed=True)


def esp_image(path: Path, files: dict[str, bytes], size: int = 32 * MIB, fat: int = 16) -> Path:
    """A FAT file system image holding ``files`` ("EFI/BOOT/BOOTX64.EFI": bytes; a name
    ending in "/" is an empty folder)."""
    sparse_file(path, size)
    extra = ["-s", "1", "-S", "512"] if fat == 32 else []
    run("mkfs.vfat", "-F", str(fat), *extra, "-n", "ESP", path)
    folders = sorted({"/".join(p.split("/")[: i + 1]) for p in files for i in range(p.count("/"))} - {""})
    for folder in folders:
        run("mmd", "-i", path, f"::/{folder}")
    for rel, data in files.items():
        if rel.endswith("/"):
            continue
        src = path.with_name(path.name + ".src")
        src.write_bytes(data)
        run("mcopy", "-i", path, src, f"::/{rel}")
        src.unlink()
    return path


def boot_disk(
    out: Path,
    *,
    scheme: str = "gpt",
    esp: Path | None = None,
    bios_grub: bool = False,
    boot_code: bool = True,
    size: int = 80 * MIB,
) -> Path:
    """A fixed VHD: [bios_grub 1 MiB] [ESP] Linux, from sector 2048; GRUB's boot.img in
    sector 0 when ``boot_code``. On MBR the ESP has type 0xEF."""
    raw = sparse_file(out.with_suffix(".raw"), size)
    lines, start = [], 2048
    if bios_grub:
        lines.append(f"start={start}, size=2048, type={BIOS_GRUB_TYPE}")
        start += 2048
    esp_at = start
    if esp is not None:
        sectors = esp.stat().st_size // 512
        lines.append(f"start={start}, size={sectors}, type={ESP_TYPE if scheme == 'gpt' else 'ef'}")
        start += sectors
    lines.append(f"start={start}, size=16384, type={'L' if scheme == 'gpt' else '83'}")
    partition(raw, f"label: {'gpt' if scheme == 'gpt' else 'dos'}\n" + "\n".join(lines) + "\n")
    if esp is not None:
        place(raw, esp, esp_at)
    if boot_code:  # boot.img's first 440 bytes: the code, not the disk signature and table
        patch(raw, 0, BOOT_IMG.read_bytes()[:440])
        # GRUB's core.img head (diskboot.img) where boot.img loads it: the MBR gap (sector 1)
        # or the bios_grub partition (sector 2048); its block list names the next sector
        core = 2048 if bios_grub else 1
        patch(raw, 0x5C, struct.pack("<Q", core))
        diskboot = bytearray(DISKBOOT_IMG.read_bytes())
        diskboot[0x1F4:0x1FE] = struct.pack("<QH", core + 1, 1)
        if scheme != "gpt" or bios_grub:
            patch(raw, core * 512, bytes(diskboot))
    to_vhd(raw, out)
    raw.unlink()
    return out


def esp_offset(vhd: Path, index: int) -> int:
    """Byte offset of partition ``index`` in a fixed VHD (the data starts at byte 0)."""
    from pytest_vmimage.facts.disk import inspect_disk

    facts = inspect_disk(vhd, read_root_fs=False)
    return next(p for p in facts.partitions if p.index == index).start_bytes


def fat_of(vhd: Path, index: int) -> tuple[FatVolume, int]:
    """The FAT volume of partition ``index`` of ``vhd`` (to break it on purpose), and its offset."""
    start = esp_offset(vhd, index)
    fh = open(vhd, "rb")  # noqa: SIM115 - kept open by the reader's closure for the test's life
    import os

    size = os.path.getsize(vhd) - 512 - start
    return FatVolume(lambda off, n: os.pread(fh.fileno(), n, start + off), size), start


def set_fat_entry(vhd: Path, index: int, cluster: int, value: int) -> None:
    """Write FAT entry ``cluster`` = ``value`` in every FAT copy of a FAT16/32 ESP."""
    fat, start = fat_of(vhd, index)
    width, fmt = (2, "<H") if fat.kind == "FAT16" else (4, "<I")
    assert fat.kind in ("FAT16", "FAT32"), fat.kind
    copies = (fat.root_start - fat.fat_start) // fat.fat_bytes  # the FATs lie back to back
    for n in range(copies):
        patch(vhd, start + fat.fat_start + n * fat.fat_bytes + cluster * width, struct.pack(fmt, value))


def grow_directory(vhd: Path, index: int, path: str, entries: int) -> None:
    """Make the directory ``path`` of an ESP hold ``entries`` 32-byte entries, through a
    cluster chain taken from the free end of the volume (a crafted "huge directory")."""
    fat, start = fat_of(vhd, index)
    first = fat.lookup(path).first_cluster
    count = entries * 32 // fat.cluster_size + 1
    free = list(range(fat.clusters + 1, fat.clusters + 1 - count, -1))
    entry = struct.pack("<8s3sB", b"FILLER  ", b"TXT", 0x20).ljust(32, b"\0")
    chain = [first, *free]
    for here, there in zip(chain, chain[1:], strict=False):
        set_fat_entry(vhd, index, here, there)
    set_fat_entry(vhd, index, chain[-1], 0xFFFF if fat.kind == "FAT16" else 0x0FFFFFFF)
    for cluster in free:
        patch(
            vhd, start + fat.data_start + (cluster - 2) * fat.cluster_size, entry * (fat.cluster_size // 32)
        )
