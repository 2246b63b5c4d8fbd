"""VHD-006/009 and the OS family judge the root file system the image boots, never a decoy
(D9): the root read is tied to the default boot entry's root= (linux_image.root_not_booted,
the tie of the offline Linux suite). Small GPT disks made with sfdisk and ``mkfs.ext4 -d``:
p1 a clean-looking ext4 with /etc/os-release and /etc/fstab, p2 an LVM physical volume or
another partition, p3 (VHD-006) a swap partition."""

from __future__ import annotations

import dataclasses
import shutil
import struct
from pathlib import Path

import pytest

from pytest_vmimage.artifacts_plugin import detect_os
from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts.disk import inspect_disk
from pytest_vmimage.tested import describe_vhd
from pytest_vmimage.verdict import FactError, Verdict
from tests.facts.conftest import MIB, mkswap, partition, place, sparse_file, to_vhd, write_tree
from tests.test_linux_image import BASE, GRUB_CFG, GUIDE, LINKS
from tests.test_linux_image_root import (
    DATA_PARTUUID,
    DATA_UUID,
    LVM_TYPE,
    ROOT_PARTUUID,
    ROOT_UUID,
    _mkext4,
    pv_label,
)
from tests.testbed.disktool import _lvm_crc, lvm_pv

from .conftest import needs_image_tools, run_suite

pytestmark = [
    needs_image_tools,
    pytest.mark.skipif(shutil.which("mkswap") is None, reason="mkswap missing (util-linux)"),
]

SWAP_UUID = "0b0c0c0d-1111-2222-3333-00000000f003"
# generalized: no history, no hostname, no resolv.conf, no leases, no host keys
CLEAN = {k: v for k, v in BASE.items() if k != "/root/.bash_history"}


def _files(root_param: str, dirty: bool = False, swap_in_fstab: bool = False) -> dict:
    files = dict(CLEAN)
    files["/boot/grub/grub.cfg"] = GRUB_CFG.replace("root=LABEL=rootfs", root_param)
    files["/etc/fstab"] = f"UUID={ROOT_UUID} / ext4 defaults 0 1\n" + (
        f"UUID={SWAP_UUID} none swap sw 0 0\n" if swap_in_fstab else ""
    )
    if dirty:
        files["/root/.bash_history"] = "curl http://build.example/secret\n"
        files["/etc/hostname"] = "build-host-17\n"
    tree = {k.lstrip("/"): v for k, v in files.items()}
    tree.update({k.lstrip("/"): ("symlink", v) for k, v in LINKS.items()})
    return tree


def _image(tmp_path: Path, files: dict, second: str = "lvm-data", swap: bool = False) -> Path:
    """p1: the ext4 from ``files`` (ROOT_UUID, label rootfs); p2: ``second`` = "lvm" (an
    LVM2 physical volume label), "data" (an ext4 without /etc) or "btrfs" (a btrfs
    superblock), "lvm-data" (an LVM2 PV with real metadata: VG vg, LV data holding an ext4
    DATA_UUID labelled data); p3 with ``swap``: a swap partition. Returns the raw disk."""
    root = write_tree(tmp_path / "root", files)
    rootimg = _mkext4(root, tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    p2type = LVM_TYPE if second.startswith("lvm") else "L"
    script = (
        f"label: gpt\nstart=2048, size=64M, type=L, uuid={ROOT_PARTUUID}, name=root\n"
        f"size=32M, type={p2type}, uuid={DATA_PARTUUID}, name=data\n" + ("size=16M, type=S\n" if swap else "")
    )
    partition(raw, script)
    place(raw, rootimg, 2048)
    p2 = 2048 + 64 * 2048
    if second == "data":
        data = write_tree(tmp_path / "p2", {"srv/readme": "data\n"})
        place(raw, _mkext4(data, tmp_path / "p2.ext4", 32, DATA_UUID, "data"), p2)
    elif second == "lvm":
        pv_label(raw, p2)
    elif second == "lvm-data":
        place(raw, _pv_with_lv(tmp_path, DATA_UUID, "data", {"srv/readme": "data\n"}, lv="data"), p2)
    elif second == "btrfs":
        with open(raw, "r+b") as fh:  # the btrfs magic at 64 KiB + 0x40
            fh.seek(p2 * 512 + 0x10000 + 0x40)
            fh.write(b"_BHRfS_M")
    if swap:
        place(raw, mkswap(tmp_path / "swap.img", 16 * MIB, uuid_=SWAP_UUID), p2 + 32 * 2048)
    return raw


def _pv_with_lv(
    tmp_path: Path,
    uuid: str,
    label: str,
    files: dict,
    lv: str = "root",
    size_mib: int = 32,
    extra_lv: str = "",
) -> Path:
    """A ``size_mib`` LVM2 PV (VG vg, linear LV ``lv`` from 4 MiB, 16 MiB) whose LV holds an
    ext4 (``uuid``, ``label``, ``files``); ``extra_lv``: LVM2 text of one more LV in the VG."""
    lvfs = _mkext4(
        write_tree(tmp_path / f"lv-{label}", files), tmp_path / f"lv-{label}.ext4", 16, uuid, label
    )
    pv = sparse_file(tmp_path / f"pv-{label}.img", size_mib * MIB)
    lvm_pv(str(pv), "vg", lv, 4, 16)
    if extra_lv:
        _add_lv(pv, extra_lv)
    place(pv, lvfs, 4 * 2048)
    return pv


def _add_lv(pv: Path, text: str) -> None:
    """Insert ``text`` (an LV block) into the VG metadata lvm_pv wrote; checksums redone."""
    _edit_metadata(pv, b"logical_volumes {\n", b"logical_volumes {\n" + text.encode() + b"\n")


def _edit_metadata(pv: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` in the VG metadata lvm_pv wrote; checksums redone."""
    with open(pv, "r+b") as fh:
        fh.seek(4096)
        header = bytearray(fh.read(512))
        offset, size = struct.unpack_from("<QQ", header, 40)
        fh.seek(4096 + offset)
        meta = fh.read(size)
        assert old in meta
        meta = meta.replace(old, new, 1)
        struct.pack_into("<QQII", header, 40, offset, len(meta), _lvm_crc(meta), 0)
        struct.pack_into("<I", header, 0, _lvm_crc(bytes(header[4:])))
        fh.seek(4096)
        fh.write(header)
        fh.seek(4096 + offset)
        fh.write(meta)


def _judge(check, facts, *args) -> tuple[str, str]:
    try:
        verdict: Verdict = check(facts, GUIDE, *args)
        return verdict.result.name, verdict.message or verdict.actual
    except FactError as exc:
        return "ERROR", str(exc)


# -- VHD-009 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root_param", "second", "named"),
    [
        (
            "root=/dev/mapper/vg-root",
            "lvm",
            ["root=/dev/mapper/vg-root", "partition 2 (LVM2 physical volume)"],
        ),
        ("root=/dev/vg/root", "lvm", ["root=/dev/vg/root", "logical volume path"]),
        (f"root=PARTUUID={DATA_PARTUUID}", "data", [f"root=PARTUUID={DATA_PARTUUID} (the partition 2)"]),
        ("root=/dev/sda2", "btrfs", ["root=/dev/sda2 (the partition 2)", "partition 2 (btrfs)"]),
        ("", "lvm", ["no root=", "partition 2 (LVM2 physical volume)"]),
        ("", "btrfs", ["no root=", "partition 2 (btrfs)"]),
    ],
    ids=["mapper", "vg-lv", "other-partition", "btrfs", "no-root-lvm", "no-root-btrfs"],
)
def test_vhd009_on_a_decoy_root_is_an_error_never_a_pass(tmp_path, root_param, second, named):
    """The repro: p1 is clean (it passed before), the kernel boots another file system."""
    facts = inspect_disk(_image(tmp_path, _files(root_param), second))
    assert facts.root_fs.readable and facts.root_fs.partition_index == 1
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == "ERROR", message
    assert (
        "not the ext4 file system read (partition 1)" in message
        or "file system read (partition 1) is not known" in message
    ), message
    for text in named:
        assert text in message, (text, message)


def test_vhd009_failure_on_a_decoy_is_an_error_naming_what_was_found(tmp_path):
    """A residue on a file system that may not be the root is not evidence about the image:
    an error naming the tie and the findings (before: FAILED, blamed on the image)."""
    facts = inspect_disk(_image(tmp_path, _files("root=/dev/mapper/vg-root", dirty=True)))
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == "ERROR", message
    assert "root=/dev/mapper/vg-root" in message and "/root/.bash_history" in message
    assert "build-host-17" in message and "not judged" in message


@pytest.mark.parametrize(
    ("root_param", "dirty", "expected", "second"),
    [
        (f"root=UUID={ROOT_UUID}", False, "PASSED", "lvm-data"),
        (f"root=UUID={ROOT_UUID}", True, "FAILED", "lvm-data"),
        ("root=LABEL=rootfs", False, "PASSED", "lvm-data"),
        ("root=PARTLABEL=root", True, "FAILED", "lvm"),
        ("root=/dev/sda1", False, "PASSED", "lvm"),
    ],
)
def test_vhd009_judges_the_root_the_boot_entry_names(tmp_path, root_param, dirty, expected, second):
    """root= names p1: the LVM PV on p2 is ruled out (for UUID=/LABEL=, its VG's metadata is
    read and its LV holds another file system), p1 is judged as before."""
    facts = inspect_disk(_image(tmp_path, _files(root_param, dirty), second))
    assert facts.root_fs.not_booted == "", facts.root_fs.not_booted
    assert _judge(checks.check_vhd_deprovisioned, facts)[0] == expected


# -- VHD-006 -----------------------------------------------------------------------------


def test_vhd006_swap_use_is_not_read_from_a_decoy_fstab(tmp_path):
    """The decoy's /etc/fstab does not use the swap partition: before, a WARNING ("not in
    /etc/fstab"); the booted root's fstab may use it (a FAILURE), so an error."""
    facts = inspect_disk(_image(tmp_path, _files("root=/dev/mapper/vg-root"), swap=True))
    result, message = _judge(checks.check_vhd_partition_layout, facts)
    assert result == "ERROR", message
    assert "whether swap partition 3 is used" in message and "root=/dev/mapper/vg-root" in message
    assert "found: LVM on partition 2" in message, message


@pytest.mark.parametrize(("in_fstab", "expected"), [(True, "FAILED"), (False, "WARNING")])
def test_vhd006_swap_use_is_read_from_the_booted_root(tmp_path, in_fstab, expected):
    facts = inspect_disk(
        _image(tmp_path, _files(f"root=UUID={ROOT_UUID}", swap_in_fstab=in_fstab), "lvm-data", swap=True)
    )
    result, message = _judge(checks.check_vhd_partition_layout, facts)
    assert result == expected, message


# -- the OS family (VHD-004, SKU-004, the Linux suite's gate) and the report ---------------


def test_os_family_evidence_and_distribution_are_not_taken_from_a_decoy(tmp_path):
    facts = inspect_disk(_image(tmp_path, _files("root=/dev/mapper/vg-root")))
    family, evidence = detect_os(facts)
    assert family == "linux" and "root file system" not in evidence, evidence
    assert "lvm2_pv" in evidence  # the partition types, read whichever root boots
    described = describe_vhd(tmp_path / "os.raw", facts, None, "0")
    assert (
        described["Distribution"].startswith("unknown (")
        and "root=/dev/mapper/vg-root" in described["Distribution"]
    )
    tied = dataclasses.replace(facts, root_fs=dataclasses.replace(facts.root_fs, not_booted=""))
    assert detect_os(tied)[1].startswith("a Linux root file system")


# -- the artifacts suite -------------------------------------------------------------------


def test_artifacts_suite_vhd009_on_a_decoy(pytester, tmp_path):
    vhd = to_vhd(_image(tmp_path, _files("root=/dev/mapper/vg-root")), tmp_path / "decoy.vhd")
    run = run_suite(pytester, "--vm-vhd", f"os:{vhd}", "--vm-offline", "-k", "VHD-009 or VHD-006")
    verdict = run.by("VHD-009")
    assert verdict["Result"] == "Error", verdict
    assert "root=/dev/mapper/vg-root" in verdict["Message"] and "LVM2 physical volume" in verdict["Message"]
    assert run.by("VHD-006")["Result"] == "Warning"  # LVM; no swap partition, so no fstab question


# -- review r1: a boot loader configuration on another partition -----------------------

BOOT_UUID = "0b0c0c0d-1111-2222-3333-00000000f0b0"
REAL_BOOT_CFG = """menuentry 'Debian GNU/Linux' {
\tlinux\t/vmlinuz-6.1.0-9-amd64 root=/dev/mapper/vg-root ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300
\tinitrd\t/initrd.img-6.1.0-9-amd64
}
"""


def _boot_disk(tmp_path: Path, root_files: dict, boot_cfg: str, third: str = "lvm") -> Path:
    """p1: an ext4 "boot" (BOOT_UUID) with grub/grub.cfg ``boot_cfg`` at its top; p2: the ext4
    root from ``root_files`` (ROOT_UUID); p3: ``third`` = "lvm" (a PV label) or "btrfs"."""
    boot = write_tree(tmp_path / "boot", {"grub/grub.cfg": boot_cfg, "vmlinuz-6.1.0-9-amd64": "K"})
    bootimg = _mkext4(boot, tmp_path / "boot.ext4", 16, BOOT_UUID, "boot")
    rootimg = _mkext4(
        write_tree(tmp_path / "root", root_files), tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs"
    )
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    p3type = LVM_TYPE if third == "lvm" else "L"
    partition(
        raw,
        f"label: gpt\nstart=2048, size=16M, type=L, name=boot\nsize=64M, type=L, name=root\n"
        f"size=32M, type={p3type}, name=sys\n",
    )
    place(raw, bootimg, 2048)
    place(raw, rootimg, 2048 + 16 * 2048)
    p3 = 2048 + 80 * 2048
    if third == "lvm":
        pv_label(raw, p3)
    else:
        with open(raw, "r+b") as fh:
            fh.seek(p3 * 512 + 0x10000 + 0x40)
            fh.write(b"_BHRfS_M")
    return raw


@pytest.mark.parametrize("third", ["lvm", "btrfs"])
def test_vhd009_root_whose_own_grub_cfg_names_it_beside_a_boot_partition_is_not_tied(tmp_path, third):
    """Review r1 (1): p2's own /boot/grub/grub.cfg names p2 (the old root left behind), its
    fstab mounts no /boot; p1 holds grub/grub.cfg at its top booting an LV (or p3). Which of
    the two GRUB reads is set by core.img's prefix: an error naming both (before: PASSED)."""
    facts = inspect_disk(_boot_disk(tmp_path, _files(f"root=UUID={ROOT_UUID}"), REAL_BOOT_CFG, third))
    assert facts.root_fs.partition_index == 2
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == "ERROR", message
    assert "partition 1 holds grub/grub.cfg" in message and "/boot of the root read" in message, message
    assert "core image" in message and "not mounted as /boot" in message, message


@pytest.mark.parametrize(
    ("mounted_cfg", "hidden_cfg", "expected"),
    [
        (f"root=UUID={ROOT_UUID}", "root=/dev/mapper/vg-root", "PASSED"),
        ("root=/dev/mapper/vg-root", f"root=UUID={ROOT_UUID}", "ERROR"),
    ],
    ids=["boot-names-root", "boot-names-lv"],
)
def test_vhd009_separate_boot_mounted_by_fstab_gives_the_entry(tmp_path, mounted_cfg, hidden_cfg, expected):
    """The root's fstab mounts p1 as /boot: the entry is read from p1's grub/grub.cfg, never
    from the root's own /boot/grub/grub.cfg hidden under the mount point."""
    files = _files(hidden_cfg)
    files["etc/fstab"] += f"UUID={BOOT_UUID} /boot ext4 defaults 0 2\n"
    cfg = REAL_BOOT_CFG.replace("root=/dev/mapper/vg-root", mounted_cfg)
    facts = inspect_disk(_boot_disk(tmp_path, files, cfg, third="btrfs"))
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == expected, message
    if expected == "ERROR":
        assert "root=/dev/mapper/vg-root" in message and "two boot loader" not in message, message


# -- review r1: the default entry not known, an unread partition of any type ---------------

DECIDED_AT_BOOT = f"""smbios --type 1 --get-string 4 --set vendor
if [ "$vendor" = "Microsoft Corporation" ]; then set default=1; else set default=0; fi
menuentry 'Debian (decoy)' {{
\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=UUID={ROOT_UUID} ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300
}}
menuentry 'Debian' {{
\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=UUID=5e5e5e5e-0000-4000-8000-00000000beef ro console=ttyS0 rootdelay=300
}}
"""
BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
LUKS2 = b"LUKS\xba\xbe\x00\x02" + b"\0" * 504
GRUB_DISKBOOT = b"\xeb\x3c" + b"\0" * 100 + b"loading\0Geom\0Read\0 Error\0"


@pytest.mark.parametrize(
    ("p2type", "content", "expected"),
    [
        (BASIC_DATA, LUKS2, "ERROR"),
        ("5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", LUKS2, "ERROR"),  # Windows LDM metadata
        ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", LUKS2, "ERROR"),
        (BIOS_BOOT, LUKS2, "ERROR"),  # not GRUB's core image: a LUKS header
        (BIOS_BOOT, GRUB_DISKBOOT, "PASSED"),
        (BIOS_BOOT, b"", "PASSED"),  # empty (a UEFI-only image): all zeros, no file system
        (BASIC_DATA, b"", "ERROR"),  # 32 MiB: larger than what is read to see it is all zeros
        (BASIC_DATA, "vfat", "PASSED"),
        (BASIC_DATA, "swap", "PASSED"),
    ],
    ids=[
        "luks-basic-data",
        "luks-ldm",
        "luks-linux",
        "luks-bios-boot",
        "grub-core",
        "empty-bios-boot",
        "empty-32m",
        "fat",
        "swap",
    ],
)
def test_vhd009_entry_not_known_counts_unread_content_whatever_the_type(tmp_path, p2type, content, expected):
    """Review r1 (2): the default entry is decided at boot (smbios), one of its lines boots a
    file system not read; p2 holds a LUKS header on a 'Microsoft basic data' partition (Linux
    mounts root=UUID= whatever the type code): not ruled out, an error (before: PASSED). FAT,
    swap and GRUB's core image in a BIOS boot partition cannot be a root: still PASSED."""
    files = _files(f"root=UUID={ROOT_UUID}")
    files["boot/grub/grub.cfg"] = DECIDED_AT_BOOT
    img = _mkext4(write_tree(tmp_path / "root", files), tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    p2size = "4M" if p2type == BIOS_BOOT else "32M"
    partition(raw, f"label: gpt\nstart=2048, size=64M, type=L\nsize={p2size}, type={p2type}\n")
    place(raw, img, 2048)
    p2 = 2048 + 64 * 2048
    if content == "vfat":
        import subprocess

        if shutil.which("mkfs.vfat") is None:
            pytest.skip("mkfs.vfat missing")
        fat = sparse_file(tmp_path / "fat.img", 32 * MIB)
        subprocess.run(["mkfs.vfat", str(fat)], check=True, capture_output=True)
        place(raw, fat, p2)
    elif content == "swap":
        place(raw, mkswap(tmp_path / "swap.img", 32 * MIB), p2)
    else:
        with open(raw, "r+b") as fh:
            fh.seek(p2 * 512)
            fh.write(content)
    facts = inspect_disk(raw)
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == expected, message
    if expected == "ERROR":
        assert "default boot entry is not known" in message and "partition 2 (" in message, message
        assert "content not known" in message, message


def test_unread_candidates_any_type_code():
    from pytest_vmimage.facts import disk
    from pytest_vmimage.facts.disk import DiskFacts, FsProbe, Partition, PartitionTable

    def part(index, type_name, role, content=None):
        return Partition(index, "gpt", "gpt", 2048 * index, 2048, "X", type_name, role, content=content)

    parts = [
        part(1, "Microsoft basic data", "windows"),
        part(2, "Microsoft basic data", "windows", FsProbe("ntfs", uuid="A")),
        part(3, "EFI System", "efi", FsProbe("vfat", uuid="B")),
        part(4, "Linux swap", "swap", FsProbe("swap")),
        part(5, "BIOS boot", "bios_boot"),
        part(6, "Microsoft basic data", "windows", FsProbe("exfat", uuid="C")),
        part(7, "Microsoft basic data", "windows", FsProbe("bitlocker")),
    ]
    facts = DiskFacts(
        path="x",
        apparent_size=0,
        allocated_size=0,
        data_bytes=None,
        format="raw",
        partition_table=PartitionTable("gpt", partitions=parts),
    )
    assert disk._unread_candidates(facts) == [
        "partition 1 (Microsoft basic data, content not known)",
        "partition 2 (ntfs)",
        "partition 5 (BIOS boot, content not known)",  # no content given: GRUB's core not seen
        "partition 7 (bitlocker)",
    ]


# -- review r1: root=LABEL=/UUID= shared with a file system inside a logical volume --------

THIN_LV = """thin {
id = "tttttt-tttt-tttt-tttt-tttt-tttt-tttttt"
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 {
start_extent = 0
extent_count = 1
type = "thin"
thin_pool = "pool"
transaction_id = 1
device_id = 1
}
}
"""


@pytest.mark.parametrize(
    ("spec", "lv_uuid", "lv_label", "extra", "named"),
    [
        (
            "root=LABEL=rootfs",
            DATA_UUID,
            "rootfs",
            "",
            "2 file systems match (partition 1 and logical volume vg/root)",
        ),
        (
            f"root=UUID={ROOT_UUID}",
            ROOT_UUID,
            "clone",
            "",
            "2 file systems match (partition 1 and logical volume vg/root)",
        ),
        ("root=/dev/disk/by-label/rootfs", DATA_UUID, "rootfs", "", "logical volume vg/root"),
        ("root=LABEL=rootfs", DATA_UUID, "data", THIN_LV, "logical volume vg/thin (a thin segment"),
        (f"root=UUID={ROOT_UUID}", DATA_UUID, "data", THIN_LV, "logical volume vg/thin (a thin segment"),
    ],
    ids=["label", "uuid", "by-label", "thin-label", "thin-uuid"],
)
def test_vhd009_root_name_shared_with_a_logical_volume_is_not_tied(
    tmp_path, spec, lv_uuid, lv_label, extra, named
):
    """Review r1 (3): p1 (clean) and the ext4 inside LV vg/root on p2 (dirty) both carry
    root='s LABEL/UUID: udev points the name at either; an LV not probed (thin) may carry it
    too. An error naming them (before: PASSED)."""
    decoy = _mkext4(write_tree(tmp_path / "p1", _files(spec)), tmp_path / "p1.ext4", 64, ROOT_UUID, "rootfs")
    pv = _pv_with_lv(tmp_path, lv_uuid, lv_label, _files(spec, dirty=True), size_mib=40, extra_lv=extra)
    raw = sparse_file(tmp_path / "os.raw", 110 * MIB)
    partition(raw, f"label: gpt\nstart=2048, size=64M, type=L\nsize=40M, type={LVM_TYPE}\n")
    place(raw, decoy, 2048)
    place(raw, pv, 2048 + 64 * 2048)
    facts = inspect_disk(raw)
    assert facts.root_fs.partition_index == 1
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == "ERROR", message
    assert named in message, message


def test_vhd009_pv_whose_volume_group_is_not_read_leaves_root_uuid_untied(tmp_path):
    """A PV label without metadata (the VG is recorded elsewhere): its LVs are not known, so
    root=UUID= naming p1 is not tied; root=PARTUUID= (a partition name) still is."""
    facts = inspect_disk(_image(tmp_path / "a", _files(f"root=UUID={ROOT_UUID}"), "lvm"))
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == "ERROR" and "its logical volumes are not known" in message, message
    facts = inspect_disk(_image(tmp_path / "b", _files(f"root=PARTUUID={ROOT_PARTUUID}"), "lvm"))
    assert facts.root_fs.not_booted == ""
    assert _judge(checks.check_vhd_deprovisioned, facts)[0] == "PASSED"


@pytest.mark.skipif(shutil.which("mkfs.vfat") is None, reason="mkfs.vfat missing")
@pytest.mark.parametrize("bios", [b"", GRUB_DISKBOOT], ids=["bios-boot-empty", "bios-boot-grub"])
@pytest.mark.parametrize(
    "spec", ["root=LABEL=rootfs", f"root=UUID={ROOT_UUID}", f"root=PARTUUID={ROOT_PARTUUID}"]
)
def test_vhd009_common_uefi_layout_stays_judged(tmp_path, bios, spec):
    """The common layout (ext4 root, a 4 MiB BIOS boot partition, an ESP that fstab mounts
    at /boot/efi; the ESP is not read, so the default entry is not known offline): nothing
    else could be the root, the root is judged."""
    import subprocess

    files = _files(spec)
    files["etc/fstab"] += "UUID=ABCD-1234 /boot/efi vfat umask=0077 0 1\n"
    img = _mkext4(write_tree(tmp_path / "root", files), tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    fat = sparse_file(tmp_path / "fat.img", 32 * MIB)
    subprocess.run(["mkfs.vfat", "-i", "ABCD1234", str(fat)], check=True, capture_output=True)
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    partition(
        raw,
        f"label: gpt\nstart=2048, size=64M, type=L, uuid={ROOT_PARTUUID}\n"
        f"size=4M, type={BIOS_BOOT}\nsize=32M, type=U\n",
    )
    place(raw, img, 2048)
    place(raw, fat, 2048 + 68 * 2048)
    with open(raw, "r+b") as fh:
        fh.seek((2048 + 64 * 2048) * 512)
        fh.write(bios)
    facts = inspect_disk(raw)
    assert facts.root_fs.unruled == [] and facts.root_fs.not_booted == "", facts.root_fs.not_booted
    assert _judge(checks.check_vhd_deprovisioned, facts)[0] == "PASSED"


@pytest.mark.skipif(
    shutil.which("mkfs.vfat") is None or shutil.which("mmd") is None, reason="dosfstools/mtools missing"
)
@pytest.mark.parametrize(
    ("esp_dirs", "expected"),
    [
        (["loader", "loader/entries"], "ERROR"),
        (["grub", "grub/grub.cfg"], "ERROR"),
        (["EFI", "EFI/debian", "EFI/debian/grub.cfg"], "PASSED"),
    ],
    ids=["systemd-boot-entries", "grub-at-top", "efi-stub-only"],
)
def test_vhd009_fat_partition_with_a_boot_loader_configuration_at_its_top(tmp_path, esp_dirs, expected):
    """Review r1 (1), FAT: the root's grub.cfg names it, its fstab mounts no ESP; the ESP
    holds loader/entries (systemd-boot reads them there) or grub/ at its top: which one
    boots is not read, an error (before: PASSED). EFI/<distro>/ only: the root is judged."""
    import subprocess

    files = _files(f"root=UUID={ROOT_UUID}")
    img = _mkext4(write_tree(tmp_path / "root", files), tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    fat = sparse_file(tmp_path / "fat.img", 32 * MIB)
    subprocess.run(["mkfs.vfat", str(fat)], check=True, capture_output=True)
    (tmp_path / "grub.cfg").write_text(REAL_BOOT_CFG)
    for name in esp_dirs:
        tool = (
            ["mcopy", "-i", str(fat), str(tmp_path / "grub.cfg")]
            if name.endswith(".cfg")
            else ["mmd", "-i", str(fat)]
        )
        subprocess.run([*tool, f"::/{name}"], check=True, capture_output=True)
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    partition(raw, "label: gpt\nstart=2048, size=64M, type=L\nsize=32M, type=U\nsize=16M, type=L\n")
    place(raw, img, 2048)
    place(raw, fat, 2048 + 64 * 2048)
    with open(raw, "r+b") as fh:  # p3: btrfs (not read: a root to rule out)
        fh.seek((2048 + 96 * 2048) * 512 + 0x10000 + 0x40)
        fh.write(b"_BHRfS_M")
    facts = inspect_disk(raw)
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == expected, message
    if expected == "ERROR":
        assert f"partition 2 holds {esp_dirs[1]}" in message and "systemd-boot" in message, message


@pytest.mark.parametrize(
    ("spec", "content", "expected"),
    [
        (f"root=UUID={ROOT_UUID}", LUKS2, "ERROR"),
        ("root=LABEL=rootfs", LUKS2, "ERROR"),
        (f"root=PARTUUID={ROOT_PARTUUID}", LUKS2, "PASSED"),
        (f"root=UUID={ROOT_UUID}", "btrfs", "PASSED"),
    ],
    ids=["uuid-luks", "label-luks", "partuuid-luks", "uuid-btrfs"],
)
def test_vhd009_root_name_beside_an_unread_container(tmp_path, spec, content, expected):
    """Review r1 (3), containers: a file system inside a LUKS (or RAID, or not known)
    partition may carry root='s UUID/LABEL (a clone): not tied. A partition name
    (PARTUUID) is not shared that way; a btrfs's own UUID is read and differs: judged."""
    facts_tree = _files(spec)
    img = _mkext4(write_tree(tmp_path / "root", facts_tree), tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    partition(
        raw, f"label: gpt\nstart=2048, size=64M, type=L, uuid={ROOT_PARTUUID}\nsize=32M, type={BASIC_DATA}\n"
    )
    place(raw, img, 2048)
    with open(raw, "r+b") as fh:
        if content == "btrfs":
            fh.seek((2048 + 64 * 2048) * 512 + 0x10000 + 0x40)
            fh.write(b"_BHRfS_M")
        else:
            fh.seek((2048 + 64 * 2048) * 512)
            fh.write(content)
    facts = inspect_disk(raw)
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == expected, message
    if expected == "ERROR":
        assert (
            "partition 2 (Microsoft basic data, content not known)" in message
            and "may have it too" in message
        )


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (b"extent_size = 8192", b"extent_size = 0", "logical volume vg/root (content not known"),
        (b'"pv0", 0\n', b'"pv0", 900000\n', "logical volume vg/root (its data lies beyond the disk)"),
    ],
    ids=["extent-size-0", "extent-beyond-disk"],
)
def test_vhd009_broken_lv_metadata_is_a_reason_never_a_crash(tmp_path, old, new, why):
    """Untrusted VG metadata (extent_size 0, the LV's extents beyond the disk): the LV is not
    probed, root=UUID= is not tied, naming it; inspect_disk does not crash."""
    pv = _pv_with_lv(tmp_path, DATA_UUID, "data", {"srv/readme": "x\n"}, size_mib=40)
    _edit_metadata(pv, old, new)
    tree = write_tree(tmp_path / "p1", _files(f"root=UUID={ROOT_UUID}"))
    decoy = _mkext4(tree, tmp_path / "p1.ext4", 64, ROOT_UUID, "rootfs")
    raw = sparse_file(tmp_path / "os.raw", 110 * MIB)
    partition(raw, f"label: gpt\nstart=2048, size=64M, type=L\nsize=40M, type={LVM_TYPE}\n")
    place(raw, decoy, 2048)
    place(raw, pv, 2048 + 64 * 2048)
    facts = inspect_disk(raw)
    result, message = _judge(checks.check_vhd_deprovisioned, facts)
    assert result == "ERROR" and why in message, message
