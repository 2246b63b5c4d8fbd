"""VHD-010 on real disks: the boot paths read from the VHD (MBR boot code, bios_grub,
EFI System Partitions through the FAT reader) and the generation check under each
declaration. Every mismatch fails, every unreadable ESP / FAT / table is an error."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts import disk
from pytest_vmimage.facts._fat import FatError
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result

from .boot_disks import (
    ARM64,
    BOOT_IMG,
    DISKBOOT_IMG,
    IA32,
    boot_disk,
    esp_image,
    fat_of,
    grow_directory,
    needs_boot_tools,
    pe_image,
    set_fat_entry,
    shim_image,
)
from .conftest import MIB, patch

pytestmark = needs_boot_tools
CURRENT, GUIDE = load_profile("current"), load_profile("guide-2016")
GRUB_X64 = pe_image()


@pytest.fixture(scope="module")
def disks(tmp_path_factory) -> dict[str, Path]:
    """Every boot disk of this module, built once."""
    d = tmp_path_factory.mktemp("boot")
    loader = {"EFI/BOOT/BOOTX64.EFI": GRUB_X64, "EFI/debian/grubx64.efi": GRUB_X64}
    ubuntu = {
        "EFI/BOOT/BOOTX64.EFI": shim_image(),
        "EFI/BOOT/fbx64.efi": GRUB_X64,
        "EFI/ubuntu/shimx64.efi": shim_image(),
        "EFI/ubuntu/grubx64.efi": GRUB_X64,
        "EFI/ubuntu/grub.cfg": b"search.fs_uuid x root\n",
    }
    return {
        "gen1": boot_disk(d / "gen1.vhd", scheme="mbr"),
        "mbr-no-code": boot_disk(d / "mbr-no-code.vhd", scheme="mbr", boot_code=False),
        "gen2": boot_disk(d / "gen2.vhd", esp=esp_image(d / "esp2.img", loader), boot_code=False),
        "hybrid": boot_disk(d / "hybrid.vhd", esp=esp_image(d / "esp3.img", ubuntu), bios_grub=True),
        "gpt-bios": boot_disk(d / "gpt-bios.vhd", bios_grub=True),
        "no-loader": boot_disk(d / "no-loader.vhd", esp=esp_image(d / "esp4.img", {"EFI/": b""})),
        "empty-loader": boot_disk(
            d / "empty-loader.vhd", esp=esp_image(d / "esp5.img", {"EFI/BOOT/BOOTX64.EFI": b""})
        ),
        "ia32-loader": boot_disk(
            d / "ia32.vhd", esp=esp_image(d / "esp6.img", {"EFI/BOOT/BOOTIA32.EFI": pe_image(IA32)})
        ),
        "mbr-esp": boot_disk(d / "mbr-esp.vhd", scheme="mbr", esp=esp_image(d / "esp7.img", loader)),
        "fat32": boot_disk(
            d / "fat32.vhd",
            esp=esp_image(
                d / "esp8.img",
                {
                    "EFI/BOOT/BOOTAA64.EFI": pe_image(ARM64),
                    "EFI/A Long Distro-Name/grubaa64.efi": pe_image(ARM64),
                },
                40 * MIB,
                fat=32,
            ),
            boot_code=False,
        ),
        "fat12": boot_disk(
            d / "fat12.vhd",
            esp=esp_image(d / "esp9.img", {"EFI/centos/shimx64.efi": shim_image()}, 2 * MIB, fat=12),
            boot_code=False,
        ),
    }


def facts_of(path: Path, budget: disk.Budget | None = None) -> disk.DiskFacts:
    facts = disk.inspect_disk(path, read_root_fs=False)
    facts.boot = disk.read_boot(path, facts, budget)
    return facts


def judge(path: Path, generation: int, trusted: bool = False, profile=CURRENT, family: str = "linux"):
    return checks.check_vhd_generation(facts_of(path), profile, generation, trusted, "test", family)


# -- what is read from the disks ------------------------------------------------------


def test_boot_facts_of_each_layout(disks):
    gen1 = facts_of(disks["gen1"]).boot
    assert (gen1.scheme, gen1.mbr_boot_code, gen1.mbr_boot_code_kind, gen1.esps) == ("mbr", True, "GRUB", [])
    gen2 = facts_of(disks["gen2"]).boot
    assert (gen2.scheme, gen2.mbr_boot_code, gen2.bios_boot_partitions) == ("gpt", False, [])
    (esp,) = gen2.esps
    assert (esp.partition_index, esp.fat, esp.error) == (1, "FAT16", "")
    assert [(x.path, x.machine, x.shim, x.signed) for x in esp.loaders] == [
        ("EFI/BOOT/BOOTX64.EFI", "x64", False, False),
        ("EFI/debian/grubx64.efi", "x64", False, False),
    ]
    hybrid = facts_of(disks["hybrid"]).boot
    assert hybrid.bios_boot_partitions == [1] and hybrid.mbr_boot_code
    loaders = {x.path: x for x in hybrid.esps[0].loaders}
    assert set(loaders) == {"EFI/BOOT/BOOTX64.EFI", "EFI/ubuntu/shimx64.efi", "EFI/ubuntu/grubx64.efi"}
    assert loaders["EFI/BOOT/BOOTX64.EFI"].shim and loaders["EFI/BOOT/BOOTX64.EFI"].signed
    assert not loaders["EFI/ubuntu/grubx64.efi"].shim
    assert hybrid.esps[0].efi_dirs == ["BOOT", "ubuntu"]


@pytest.mark.parametrize(("name", "fat", "loaders"), [
    ("fat32", "FAT32", [("EFI/A Long Distro-Name/grubaa64.efi", "arm64"), ("EFI/BOOT/BOOTAA64.EFI", "arm64")]),
    ("fat12", "FAT12", [("EFI/centos/shimx64.efi", "x64")]),
])  # fmt: skip
def test_fat12_and_fat32_esps_are_read(disks, name, fat, loaders):
    (esp,) = facts_of(disks[name]).boot.esps
    assert esp.fat == fat and sorted((x.path, x.machine) for x in esp.loaders) == loaders


def test_arm64_only_loaders_fail_an_x64_gen2_declaration_a1(disks):
    """Finding A1: an Arm64-only ESP passed X64 Gen2."""
    verdict = judge(disks["fat32"], 2)
    assert verdict.result is Result.FAILED, verdict.message
    assert "Arm64 images are out of scope" in verdict.message


def test_a_distro_loader_without_the_fallback_path_warns_c1(disks):
    """Finding C1: only EFI/centos/shimx64.efi, no EFI/BOOT/BOOTX64.EFI, passed."""
    verdict = judge(disks["fat12"], 2)
    assert verdict.result is Result.WARNING, verdict.message
    assert "no EFI/BOOT/BOOTX64.EFI, only EFI/centos/shimx64.efi" in verdict.message


def test_a_facts_json_round_trip_keeps_the_boot_facts(disks):
    facts = facts_of(disks["hybrid"])
    assert disk.DiskFacts.from_json(facts.to_json()).boot == facts.boot


# -- the check: matches and mismatches -----------------------------------------------


@pytest.mark.parametrize(("name", "generation", "trusted", "result", "words"), [
    ("gen1", 1, False, Result.PASSED, "MBR boot code (GRUB)"),
    ("gen2", 2, False, Result.PASSED, "EFI/BOOT/BOOTX64.EFI (x64, unsigned)"),
    ("hybrid", 1, False, Result.PASSED, "bios_grub partition 1"),
    ("hybrid", 2, False, Result.PASSED, "EFI/ubuntu/shimx64.efi"),
    ("hybrid", 2, True, Result.PASSED, "shim"),
    ("gpt-bios", 1, False, Result.PASSED, "bios_grub partition 1"),
    ("gen1", 2, False, Result.FAILED, "an MBR disk: Gen2 (UEFI) needs a GPT disk"),
    ("gen2", 1, False, Result.FAILED, "GPT disk without a bios_grub partition"),
    ("gen2", 1, False, Result.FAILED, "sector 0 holds no boot code"),
    ("mbr-no-code", 1, False, Result.FAILED, "sector 0 holds no boot code"),
    ("no-loader", 2, False, Result.FAILED, "no x64 UEFI loader on the ESP"),
    ("empty-loader", 2, False, Result.FAILED, "EFI/BOOT/BOOTX64.EFI (an empty file)"),
    ("ia32-loader", 2, False, Result.FAILED, "EFI/BOOT/BOOTIA32.EFI (ia32, unsigned)"),
    ("mbr-esp", 2, False, Result.FAILED, "an MBR disk: Gen2 (UEFI) needs a GPT disk"),
    ("gen2", 2, True, Result.FAILED, "EFI/BOOT/BOOTX64.EFI, the loader the firmware starts, is not a signed shim"),
    ("gpt-bios", 2, False, Result.FAILED, "no EFI System Partition"),
])  # fmt: skip
def test_generation_matches_the_disk(disks, name, generation, trusted, result, words):
    verdict = judge(disks[name], generation, trusted)
    assert verdict.result is result, verdict.message
    assert words in verdict.message
    if result is Result.FAILED:
        for part in ("Found: ", "Required: X64 Gen", "Fix: ", "Source: Partner Center plan"):
            assert part in verdict.message


def test_the_fix_names_the_way_out(disks):
    assert "declare the plan's image type X64 Gen1" in judge(disks["gen1"], 2).message
    assert "X64 Gen2" in judge(disks["gen2"], 1).message and "bios_grub" in judge(disks["gen2"], 1).message
    assert "shim-signed" in judge(disks["gen2"], 2, True).message


def test_windows_trusted_launch_needs_a_signed_loader(disks):
    assert judge(disks["gen2"], 2, True, family="windows").result is Result.FAILED
    assert judge(disks["hybrid"], 2, True, family="windows").result is Result.PASSED


def test_guide_2016_is_not_applicable_with_the_reason(disks):
    verdict = judge(disks["gen1"], 2, profile=GUIDE)
    assert verdict.result is Result.NOT_APPLICABLE
    assert "Generation 2 VMs did not exist in 2016" in verdict.message


def test_boot_not_read_is_an_error_never_a_pass(disks):
    facts = disk.inspect_disk(disks["gen1"], read_root_fs=False)  # read_boot not called
    with pytest.raises(FactError, match="boot path was not read"):
        checks.check_vhd_generation(facts, CURRENT, 1)


# -- broken input: errors within the budget, never a pass -----------------------------


@pytest.fixture
def copy_of(disks, tmp_path):
    def make(name: str) -> Path:
        out = tmp_path / f"{name}.vhd"
        out.write_bytes(disks[name].read_bytes())
        return out

    return make


def test_a_loop_in_a_directory_chain_is_an_error(copy_of):
    vhd = copy_of("gen2")
    fat, _ = fat_of(vhd, 1)
    efi = fat.lookup("EFI").first_cluster
    set_fat_entry(vhd, 1, efi, efi)  # EFI -> EFI -> ...
    started = time.monotonic()
    facts = facts_of(vhd)
    assert time.monotonic() - started < 2
    assert "the cluster chain loops" in facts.boot.esps[0].error
    with pytest.raises(FactError, match="cluster chain loops"):
        checks.check_vhd_generation(facts, CURRENT, 2)


def test_a_loop_in_a_loader_chain_is_an_error(copy_of):
    vhd = copy_of("hybrid")
    fat, _ = fat_of(vhd, 2)
    shim = fat.lookup("EFI/ubuntu/shimx64.efi")
    assert shim.size > fat.cluster_size  # its chain is followed past the first cluster
    set_fat_entry(vhd, 2, shim.first_cluster, shim.first_cluster)
    facts = facts_of(vhd)
    assert "EFI/ubuntu/shimx64.efi: the cluster chain loops" in facts.boot.esps[0].error
    with pytest.raises(FactError, match="could not read"):
        checks.check_vhd_generation(facts, CURRENT, 2, True)
    # Gen1 does not boot through the ESP: its BIOS path was read whole and passes
    assert checks.check_vhd_generation(facts, CURRENT, 1).result is Result.PASSED


def test_a_huge_directory_is_an_error(copy_of):
    vhd = copy_of("gen2")
    grow_directory(vhd, 1, "EFI", 6000)
    started = time.monotonic()
    facts = facts_of(vhd)
    assert time.monotonic() - started < 2
    assert "more than 4096 directory entries" in facts.boot.esps[0].error
    with pytest.raises(FactError, match="more than 4096 directory entries"):
        checks.check_vhd_generation(facts, CURRENT, 2)


def test_a_small_budget_ends_in_an_error_naming_it(disks):
    facts = facts_of(disks["hybrid"], disk.Budget(bytes_read=8 * 1024))
    assert "read budget exhausted" in facts.boot.esps[0].error
    with pytest.raises(FactError, match="Budget.bytes_read"):
        checks.check_vhd_generation(facts, CURRENT, 2)


def test_a_garbage_boot_sector_is_an_error(copy_of):
    vhd = copy_of("gen2")
    patch(vhd, 2048 * 512 + 11, b"\x00\x03")  # 768 bytes per sector
    facts = facts_of(vhd)
    assert "bytes per sector 768" in facts.boot.esps[0].error
    with pytest.raises(FactError, match="EFI System Partition 1"):
        checks.check_vhd_generation(facts, CURRENT, 2)


def test_a_corrupt_gpt_is_an_error_for_both_generations(copy_of):
    vhd = copy_of("hybrid")
    patch(vhd, 512 + 16, b"\0\0\0\0")  # the GPT header CRC
    facts = facts_of(vhd)
    for generation in (1, 2):
        with pytest.raises(FactError, match="partition table is corrupt"):
            checks.check_vhd_generation(facts, CURRENT, generation)


def test_fat_reader_refuses_what_is_not_fat():
    with pytest.raises(FatError, match="no FAT boot sector"):
        from pytest_vmimage.facts._fat import FatVolume

        FatVolume(lambda off, n: b"\0" * n, 1 * MIB)


def test_the_bundled_testbed_vhd_is_gen1(testbed_vhd_path):
    facts = facts_of(testbed_vhd_path)
    assert checks.check_vhd_generation(facts, CURRENT, 1).result is Result.PASSED
    assert checks.check_vhd_generation(facts, CURRENT, 2).result is Result.FAILED


@pytest.fixture
def testbed_vhd_path() -> Path:
    """The testbed's compliant VHD of the current recipe (read only); skipped when not built."""
    from tests.testbed import qemu

    if not qemu.is_built(["compliant"]):
        pytest.skip("the testbed image is not built (bash tests/testbed/build_image.sh)")
    return qemu.image_path("compliant")


def test_a_hybrid_mbr_is_a_bios_path(copy_of):
    vhd = copy_of("gen2")  # GPT + ESP, no bios_grub: Gen1 fails
    assert judge(vhd, 1).result is Result.FAILED
    patch(vhd, 0, BOOT_IMG.read_bytes()[:440])
    assert "GPT disk without a bios_grub partition" in judge(vhd, 1).message
    diskboot = bytearray(DISKBOOT_IMG.read_bytes())  # core.img in the gap after the GPT entries
    diskboot[0x1F4:0x1FE] = struct.pack("<QH", 41, 1)
    patch(vhd, 40 * 512, bytes(diskboot))
    patch(vhd, 0x5C, struct.pack("<Q", 40))
    patch(vhd, 446 + 16, bytes([0x80, 0, 0, 0, 0x83]))  # a second, active MBR entry besides 0xEE
    boot = facts_of(vhd).boot
    assert boot.hybrid_mbr and not boot.bios_boot_partitions
    verdict = judge(vhd, 1)
    assert verdict.result is Result.PASSED and "hybrid MBR" in verdict.message


def test_unknown_boot_code_only_warns(copy_of):
    vhd = copy_of("mbr-no-code")
    patch(vhd, 0, bytes(range(1, 200)))  # code no known BIOS loader has: garbage looks the same
    verdict = judge(vhd, 1)
    assert verdict.result is Result.WARNING, verdict.message
    assert "whether a BIOS can start it is not known" in verdict.message


def test_folders_not_looked_into_are_an_error_not_absent(tmp_path):
    files = {"EFI/BOOT/BOOTX64.EFI": GRUB_X64, **{f"EFI/d{n:02d}/": b"" for n in range(33)}}
    vhd = boot_disk(tmp_path / "many.vhd", esp=esp_image(tmp_path / "esp.img", files), boot_code=False)
    facts = facts_of(vhd)
    assert "/EFI holds 34 folders; only 32 are read" in facts.boot.esps[0].error
    with pytest.raises(FactError, match="only 32 are read"):
        checks.check_vhd_generation(facts, CURRENT, 2)
