"""VHD-010 after the adversarial review of 2026-12-01 (/work/helpers/review-gen-findings.md):
one test per finding, named after it, each on a real disk built like the reviewer's repro.
Each of them gave a false PASS (or a crash) before the fix."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts import _fat, disk
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result

from .boot_disks import (
    ARM64,
    SHIM_SBAT,
    boot_disk,
    esp_image,
    needs_boot_tools,
    pe_image,
    shim_image,
)
from .conftest import patch

pytestmark = needs_boot_tools
CURRENT = load_profile("current")
GRUB_X64 = pe_image()


def judge(vhd: Path, generation: int, trusted: bool = False, family: str = "linux"):
    facts = disk.inspect_disk(vhd, read_root_fs=False)
    facts.boot = disk.read_boot(vhd, facts)
    return checks.check_vhd_generation(facts, CURRENT, generation, trusted, "test", family)


def gen2(d: Path, name: str, files: dict[str, bytes]) -> Path:
    return boot_disk(d / f"{name}.vhd", esp=esp_image(d / f"{name}.img", files), boot_code=False)


def pe_with(subsystem: int = 10, sections: bool = True) -> bytes:
    img = bytearray(GRUB_X64)
    if not sections:  # MZ + PE + optional header, NumberOfSections 0
        img = img[: 64 + 24 + 240]
        img[64 + 6 : 64 + 8] = b"\0\0"
    img[64 + 24 + 68 : 64 + 24 + 70] = struct.pack("<H", subsystem)
    return bytes(img)


def cert_at_mz_header() -> bytes:  # D3: the certificate directory points at the MZ header
    img = bytearray(GRUB_X64)
    img[64 + 24 + 112 + 32 : 64 + 24 + 112 + 40] = struct.pack("<II", 0, 8)
    return bytes(img)


UNSIGNED_SHIM = pe_image(sbat=SHIM_SBAT, vendor_cert=True, signed=False)
# finding -> (files on the ESP, generation, trusted launch, os family, message words)
FALSE_PASSES = {
    "A2": ({"EFI/BOOT/BOOTAA64.EFI": GRUB_X64}, False, "linux", "no x64 UEFI loader"),
    "A3": ({"EFI/ubuntu/shimx64.efi": pe_image(ARM64)}, False, "linux", "Arm64 images are out of scope"),
    "B1": ({"EFI/BOOT/BOOTX64.EFI": pe_with(3)}, False, "linux", "not an EFI application (PE Subsystem 3"),
    "B2": ({"EFI/BOOT/BOOTX64.EFI": pe_with(10, sections=False)}, False, "linux", "(no sections)"),
    "D1": (
        {"EFI/BOOT/BOOTX64.EFI": UNSIGNED_SHIM, "EFI/ubuntu/shimx64.efi": UNSIGNED_SHIM},
        True,
        "linux",
        "is not a signed shim (shim, no signature)",
    ),
    "D2": (
        {"EFI/BOOT/BOOTX64.EFI": GRUB_X64, "EFI/other/shimx64.efi": shim_image()},
        True,
        "linux",
        "EFI/BOOT/BOOTX64.EFI, the loader the firmware starts, is not a signed shim",
    ),
    "D3": ({"EFI/BOOT/BOOTX64.EFI": cert_at_mz_header()}, True, "windows", "has no Authenticode signature"),
    "E1": ({"EFI/BOOT/BOOTX64.E\ufb01": GRUB_X64}, False, "linux", "no x64 UEFI loader"),
}


@pytest.fixture(scope="module")
def review_disks(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("review")
    built = {name: gen2(d, name.lower(), files) for name, (files, *_rest) in FALSE_PASSES.items()}
    built["gen2"] = gen2(d, "gen2", {"EFI/BOOT/BOOTX64.EFI": GRUB_X64})
    built["gen1"] = boot_disk(d / "gen1.vhd", scheme="mbr")
    built["gpt-bios"] = boot_disk(d / "gpt-bios.vhd", bios_grub=True)
    built["fat12-edge"] = boot_disk(d / "n1.vhd", esp=fat12_edge(d / "n1.img"), boot_code=False)
    return built


@pytest.fixture
def copy_of(review_disks, tmp_path):
    def make(name: str) -> Path:
        out = tmp_path / f"{name}.vhd"
        out.write_bytes(review_disks[name].read_bytes())
        return out

    return make


@pytest.mark.parametrize("finding", sorted(FALSE_PASSES))
def test_review_false_pass_now_fails(review_disks, finding):
    _files, trusted, family, words = FALSE_PASSES[finding]
    verdict = judge(review_disks[finding], 2, trusted, family)
    assert verdict.result is Result.FAILED, verdict.message
    assert words in verdict.message


def test_trusted_launch_message_says_the_signature_is_not_verified_d(tmp_path):
    files = {"EFI/BOOT/BOOTX64.EFI": shim_image(), "EFI/ubuntu/shimx64.efi": shim_image()}
    verdict = judge(gen2(tmp_path, "tl", files), 2, True)
    assert verdict.result is Result.PASSED, verdict.message
    assert "not verified against Microsoft's UEFI CA" in verdict.message


def fat12_edge(path: Path) -> Path:
    """N1: FAT12, 681 clusters, a FAT of 2 sectors (1024 bytes); /EFI starts at cluster 682,
    whose 12-bit entry starts at FAT byte 1023 (its second byte lies past the FAT)."""
    bps, reserved, fat_sectors, total = 512, 1, 2, 1 + 2 + 1 + 681
    boot = bytearray(512)
    boot[0:3], boot[3:11] = b"\xeb\x3c\x90", b"MSDOS5.0"
    boot[11:24] = struct.pack("<HBHBHHBH", bps, 1, reserved, 1, 16, total, 0xF8, fat_sectors)
    boot[510:512] = b"\x55\xaa"
    fat = bytearray(fat_sectors * bps)
    fat[0:3] = b"\xf8\xff\xff"
    root = bytearray(512)
    root[0:32] = struct.pack("<8s3sB", b"EFI     ", b"   ", 0x10).ljust(26, b"\0") + struct.pack("<HI", 682, 0)
    path.write_bytes(boot + fat + root + bytes(681 * 512))
    return path


def test_fat12_entry_past_the_fat_is_an_error_naming_it_n1(review_disks):
    with pytest.raises(FactError, match=r"EFI System Partition 1: the FAT \(1024 bytes\) is too small"):
        judge(review_disks["fat12-edge"], 2)


def test_a_parse_error_in_the_boot_structures_is_an_error_with_a_reason_n1(review_disks, monkeypatch):
    def broken(*_args):
        raise struct.error("unpack requires a buffer of 2 bytes")

    monkeypatch.setattr(_fat.FatVolume, "listdir_cluster", broken)  # the per-ESP safety net
    with pytest.raises(FactError, match="EFI System Partition 1: its FAT could not be parsed"):
        judge(review_disks["gen2"], 2)
    monkeypatch.setattr(disk, "_edk2_gpt", broken)  # the read_boot safety net
    vhd = review_disks["gen2"]
    boot = disk.read_boot(vhd, disk.inspect_disk(vhd, read_root_fs=False))
    assert not boot.read and "could not be parsed: unpack requires" in boot.reason


def test_boot_sectors_not_read_are_an_error_with_a_reason(review_disks, monkeypatch):
    def out_of_budget(*_args):
        raise disk.FsReadError("read budget of 1 block used up")

    monkeypatch.setattr(disk, "_grub_core", out_of_budget)
    vhd = review_disks["gen1"]
    facts = disk.inspect_disk(vhd, read_root_fs=False)
    facts.boot = disk.read_boot(vhd, facts)
    assert not facts.boot.read and "boot sectors could not be read: read budget" in facts.boot.reason
    with pytest.raises(FactError, match="the boot path was not read: the boot sectors could not be read"):
        checks.check_vhd_generation(facts, CURRENT, 1, False, "test", "linux")


def test_a_boot_sector_claiming_more_than_its_partition_is_an_error_k8(copy_of):
    vhd = copy_of("gen2")
    start = next(p for p in disk.inspect_disk(vhd, read_root_fs=False).partitions if p.index == 1).start_bytes
    patch(vhd, start + 11, struct.pack("<H", 4096))
    with pytest.raises(FactError, match="the FAT boot sector claims .* bytes; the partition holds"):
        judge(vhd, 2)


@pytest.mark.parametrize(("name", "core_sector"), [("gen1", 1), ("gpt-bios", 2048)])
def test_grub_boot_img_without_its_core_img_fails_g1_g2(copy_of, name, core_sector):
    vhd = copy_of(name)
    assert judge(vhd, 1).result is Result.PASSED  # diskboot.img where boot.img points
    patch(vhd, core_sector * 512, bytes(512))
    verdict = judge(vhd, 1)
    assert verdict.result is Result.FAILED, verdict.message
    assert "GRUB boot.img present but its core.img is absent" in verdict.message


def test_grub_string_alone_is_not_grub_g3(copy_of):
    vhd = copy_of("gen1")
    patch(vhd, 0, bytes(440))
    patch(vhd, 0x180, b"GRUB")
    assert disk.read_boot(vhd, disk.inspect_disk(vhd, read_root_fs=False)).mbr_boot_code_kind == "unknown"
    assert judge(vhd, 1).result is Result.WARNING


def test_boot_code_without_55aa_fails_g4(copy_of):
    vhd = copy_of("gpt-bios")
    patch(vhd, 510, b"\0\0")
    verdict = judge(vhd, 1)
    assert verdict.result is Result.FAILED and "does not end in 55 AA" in verdict.message


def test_a_dos_mbr_with_nothing_to_chain_to_fails_g6(copy_of):
    vhd = copy_of("gen1")
    code = b"\xfa\x33\xc0" + b"\0" * 0x160 + b"Invalid partition table\0Missing operating system\0"
    patch(vhd, 0, code[:440])
    verdict = judge(vhd, 1)
    assert verdict.result is Result.FAILED, verdict.message
    assert "nothing to start: 0 active primary partitions" in verdict.message
    patch(vhd, 446, b"\x80")  # partition 1 active, its first sector a boot sector
    patch(vhd, 2048 * 512, b"\xeb\x52\x90NTFS    ".ljust(510, b"\x01") + b"\x55\xaa")
    assert judge(vhd, 1).result is Result.PASSED


def _edit_gpt(vhd: Path, header=None, entry=None) -> None:
    """Edit the primary GPT header (sector 1) and/or its first entry, CRCs recomputed."""
    import zlib

    with open(vhd, "r+b") as fh:
        fh.seek(512)
        head = bytearray(fh.read(92))
        entries_at, count, size = struct.unpack("<QII", head[72:88])
        fh.seek(entries_at * 512)
        table = bytearray(fh.read(count * size))
        if entry:
            first = bytearray(table[:size])
            entry(first)
            table[:size] = first
        head[88:92] = struct.pack("<I", zlib.crc32(table))
        if header:
            header(head)
        head[16:20] = b"\0\0\0\0"
        head[16:20] = struct.pack("<I", zlib.crc32(head))
        fh.seek(512)
        fh.write(head)
        fh.seek(entries_at * 512)
        fh.write(table)


@pytest.mark.parametrize(("finding", "words"), [
    ("F1", "no protective MBR entry"),
    ("F2", "no protective MBR entry"),
    ("F3", "ignored by UEFI firmware (attribute bit 1"),
    ("F4", "ignored by UEFI firmware (it overlaps partition 2)"),
    ("F5", "ignored by UEFI firmware (it lies outside the GPT's usable sectors"),
])  # fmt: skip
def test_a_gpt_or_esp_edk2_ignores_fails_f(copy_of, finding, words):
    vhd = copy_of("gen2")
    if finding == "F1":
        patch(vhd, 446, bytes(64))
    elif finding == "F2":
        patch(vhd, 446, b"\x80")
    elif finding == "F3":
        _edit_gpt(vhd, entry=lambda e: e.__setitem__(slice(48, 56), struct.pack("<Q", 2)))
    elif finding == "F4":  # the ESP's last LBA moved into the Linux partition
        _edit_gpt(vhd, entry=lambda e: e.__setitem__(slice(40, 48), struct.pack("<Q", 2048 + 65536 + 10)))
    else:  # LastUsableLBA moved below the ESP's end
        _edit_gpt(vhd, header=lambda h: h.__setitem__(slice(48, 56), struct.pack("<Q", 4096)))
    verdict = judge(vhd, 2)
    assert verdict.result is Result.FAILED, verdict.message
    assert words in verdict.message


def test_a_primary_gpt_header_not_at_lba_1_is_an_error_f6(copy_of):
    vhd = copy_of("gen2")
    _edit_gpt(vhd, header=lambda h: h.__setitem__(slice(24, 32), struct.pack("<Q", 5)))
    with pytest.raises(FactError, match="says it is at LBA 5, not 1"):
        judge(vhd, 2)
