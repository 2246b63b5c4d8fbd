"""VHD-006/009 and the OS family judge the root file system the image boots, never a decoy
(D9): the root read is tied to the default boot entry's root= (linux_image.root_not_booted,
the tie of the offline Linux suite). Small GPT disks made with sfdisk and ``mkfs.ext4 -d``:
p1 a clean-looking ext4 with /etc/os-release and /etc/fstab, p2 an LVM physical volume or
another partition, p3 (VHD-006) a swap partition."""

from __future__ import annotations

import dataclasses
import shutil
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


def _image(tmp_path: Path, files: dict, second: str = "lvm", swap: bool = False) -> Path:
    """p1: the ext4 from ``files`` (ROOT_UUID, label rootfs); p2: ``second`` = "lvm" (an
    LVM2 physical volume label), "data" (an ext4 without /etc) or "btrfs" (a btrfs
    superblock); p3 with ``swap``: a swap partition. Returns the raw disk."""
    root = write_tree(tmp_path / "root", files)
    rootimg = _mkext4(root, tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    p2type = LVM_TYPE if second == "lvm" else "L"
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
    elif second == "btrfs":
        with open(raw, "r+b") as fh:  # the btrfs magic at 64 KiB + 0x40
            fh.seek(p2 * 512 + 0x10000 + 0x40)
            fh.write(b"_BHRfS_M")
    if swap:
        place(raw, mkswap(tmp_path / "swap.img", 16 * MIB, uuid_=SWAP_UUID), p2 + 32 * 2048)
    return raw


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
    ("root_param", "dirty", "expected"),
    [
        (f"root=UUID={ROOT_UUID}", False, "PASSED"),
        (f"root=UUID={ROOT_UUID}", True, "FAILED"),
        ("root=PARTLABEL=root", True, "FAILED"),
        ("root=/dev/sda1", False, "PASSED"),
    ],
)
def test_vhd009_judges_the_root_the_boot_entry_names(tmp_path, root_param, dirty, expected):
    """root= names p1: the LVM PV on p2 is ruled out, p1 is judged as before."""
    facts = inspect_disk(_image(tmp_path, _files(root_param, dirty)))
    assert facts.root_fs.not_booted == ""
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
        _image(tmp_path, _files(f"root=UUID={ROOT_UUID}", swap_in_fstab=in_fstab), swap=True)
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
