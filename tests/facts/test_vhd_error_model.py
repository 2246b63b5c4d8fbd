"""The VHD reader's error model (issue 8, bullet 1 and the symlink rule of bullet 1):
a fact that could not be read makes the check that needs it an error, never a pass.

Each test is named after the case of the issue it covers; each image is built with the
real tools (mkfs.ext4 -d, mkfs.xfs -p, debugfs -w) and then broken on purpose.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts import _debugfs
from pytest_vmimage.facts.disk import inspect_disk
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result

from .conftest import (
    CLEAN_ROOT,
    HISTORY_ONLY_ROOT,
    MIB,
    debugfs_write,
    fs_image,
    gpt_disk,
    need,
    partition,
    patch,
    place,
    sparse_file,
    xfs_inode_offset,
)

GUIDE = load_profile("guide-2016")


def verdict_of(check, path: Path):
    """The verdict, or the FactError text as ("error", message)."""
    try:
        return check(inspect_disk(path), GUIDE)
    except FactError as exc:
        return ("error", str(exc))


def result(verdict) -> str:
    return verdict[0] if isinstance(verdict, tuple) else verdict.result.value


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_broken_root_inode_hiding_bash_history_ext4_is_an_error(tmp_path: Path, tree) -> None:
    image = fs_image(tree(HISTORY_ONLY_ROOT), tmp_path / "root.img", "ext4")
    intact = gpt_disk(image, tmp_path / "intact.raw")
    assert result(verdict_of(checks.check_vhd_deprovisioned, intact)) == "failed"
    debugfs_write(image, "set_inode_field /root checksum 0")
    broken = gpt_disk(image, tmp_path / "broken.raw")
    verdict = verdict_of(checks.check_vhd_deprovisioned, broken)
    assert result(verdict) == "error", verdict
    assert "/root" in verdict[1] and "checksum" in verdict[1].lower()


@need("sfdisk", "mkfs.ext4", "debugfs")
@pytest.mark.parametrize("command", ["clri /root", "set_inode_field /root flags 0"])
def test_other_debugfs_errors_are_not_not_found(tmp_path: Path, tree, command: str) -> None:
    image = fs_image(tree(HISTORY_ONLY_ROOT), tmp_path / "root.img", "ext4")
    debugfs_write(image, command)
    verdict = verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "d.raw"))
    assert result(verdict) == "error", verdict


@need("sfdisk", "mkfs.xfs")
def test_broken_inode_of_unrelated_directory_xfs_does_not_flip_the_verdict(tmp_path: Path, tree) -> None:
    image = fs_image(tree(HISTORY_ONLY_ROOT), tmp_path / "root.img", "xfs")
    assert result(verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "a.raw"))) == "failed"
    patch(image, xfs_inode_offset(image, "/var/lib/NetworkManager"), b"XX")
    verdict = verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "b.raw"))
    # the history was read and fails; the lease directory could not be read and is named
    assert result(verdict) == "failed", verdict
    assert "/root/.bash_history" in verdict.actual
    assert "/var/lib/NetworkManager" in verdict.actual and "not read" in verdict.actual


@need("sfdisk", "mkfs.xfs")
@pytest.mark.parametrize("path", ["/root", "/var/lib/NetworkManager"])
def test_broken_inode_on_a_looked_up_path_xfs_is_unreadable(tmp_path: Path, tree, path: str) -> None:
    image = fs_image(
        tree({**CLEAN_ROOT, "var/lib/NetworkManager/NetworkManager.state": "[main]\n"}),
        tmp_path / "r.img",
        "xfs",
    )
    assert result(verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "a.raw"))) == "passed"
    patch(image, xfs_inode_offset(image, path), b"XX")
    verdict = verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "b.raw"))
    assert result(verdict) == "error", verdict
    assert path in verdict[1]


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_debugfs_timeout_is_an_error(tmp_path: Path, tree, monkeypatch) -> None:
    image = fs_image(tree(HISTORY_ONLY_ROOT), tmp_path / "root.img", "ext4")
    disk = gpt_disk(image, tmp_path / "d.raw")
    real = next(p for p in ("/usr/sbin/debugfs", "/sbin/debugfs") if os.path.exists(p))
    # the first run (finding the root) answers; every later run hangs
    fake = tmp_path / "bin" / "debugfs"
    fake.parent.mkdir()
    counter = tmp_path / "calls"
    fake.write_text(
        f'#!/bin/sh\nif [ -e "{counter}" ]; then exec sleep 60; fi\ntouch "{counter}"\nexec {real} "$@"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(_debugfs, "TIMEOUT", 2)
    verdict = verdict_of(checks.check_vhd_deprovisioned, disk)
    assert result(verdict) == "error", verdict
    assert "timed out" in verdict[1] or "timeout" in verdict[1]


# ---------------------------------------------------------------------------- symlinked histories


@need("sfdisk", "mkfs.ext4", "debugfs", "mkfs.xfs")
@pytest.mark.parametrize("fs", ["ext4", "xfs"])
@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"root/.bash_history": ("symlink", "/dev/null")}, "passed"),
        ({"root/.bash_history": ("symlink", ".hist"), "root/.hist": "rm -rf /tmp/build\n"}, "failed"),
        ({"root/.bash_history": ("symlink", "/var/" + "x" * 70), "var/" + "x" * 70: "ls\n"}, "failed"),
        (
            {"root/.bash_history": ("symlink", "../root/a"), "root/a": ("symlink", "b"), "root/b": "ls\n"},
            "failed",
        ),
        ({"root/.bash_history": ("symlink", ".hist"), "root/.hist": ""}, "passed"),
        ({"root/.bash_history": ("symlink", "nowhere")}, "error"),
        ({"root/.bash_history": ("symlink", "a"), "root/a": ("symlink", ".bash_history")}, "error"),
    ],
    ids=["dev-null", "relative-file", "slow-symlink", "chain", "empty-target", "dangling", "loop"],
)
def test_symlinked_history_is_judged_by_its_target(
    tmp_path: Path, tree, fs: str, files: dict, expected: str
) -> None:
    image = fs_image(tree({**CLEAN_ROOT, **files}), tmp_path / "root.img", fs)
    verdict = verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "d.raw"))
    assert result(verdict) == expected, verdict
    if expected == "failed":
        assert "/root/.bash_history" in verdict.actual


# ---------------------------------------------------------------------------- layouts publishers bring


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_separate_boot_partition_on_mbr_root_is_still_found(tmp_path: Path, tree) -> None:
    boot = fs_image(
        tree({"grub/grub.cfg": "set timeout=1\n", "vmlinuz": "kernel"}), tmp_path / "boot.img", "ext4"
    )
    root = fs_image(
        tree(
            {
                **HISTORY_ONLY_ROOT,
                "etc/fstab": CLEAN_ROOT["etc/fstab"] + "LABEL=boot /boot ext4 defaults 0 2\n",
            }
        ),
        tmp_path / "root.img",
        "ext4",
    )
    raw = sparse_file(tmp_path / "d.raw", 40 * MIB)
    partition(
        raw, "label: dos\nstart=2048, size=16MiB, type=83, bootable\nstart=34816, size=16MiB, type=83\n"
    )
    place(raw, boot, 2048)
    place(raw, root, 34816)
    facts = inspect_disk(raw)
    assert facts.root_fs.partition_index == 2 and not facts.root_fs.unreadable
    verdict = checks.check_vhd_deprovisioned(facts, GUIDE)
    assert verdict.result == Result.FAILED and "/root/.bash_history" in verdict.actual
    assert checks.check_vhd_partition_layout(facts, GUIDE).result == Result.WARNING  # two partitions


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_separate_home_partition_is_an_error_not_a_pass(tmp_path: Path, tree) -> None:
    fstab = CLEAN_ROOT["etc/fstab"] + "UUID=11111111-2222-3333-4444-555555555555 /home ext4 defaults 0 2\n"
    image = fs_image(tree({**CLEAN_ROOT, "etc/fstab": fstab}), tmp_path / "root.img", "ext4")
    verdict = verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "d.raw"))
    assert result(verdict) == "error", verdict
    assert "/home is a separate file system" in verdict[1]


@need("sfdisk", "mkfs.ext4", "debugfs", "mkfs.xfs")
@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_home_symlinked_elsewhere_in_the_image_is_read(tmp_path: Path, tree, fs: str) -> None:
    spec = {**CLEAN_ROOT, "home/alice": ("symlink", "/srv/alice"), "srv/alice/.bash_history": "ls\n"}
    verdict = verdict_of(
        checks.check_vhd_deprovisioned,
        gpt_disk(fs_image(tree(spec), tmp_path / "r.img", fs), tmp_path / "d.raw"),
    )
    assert result(verdict) == "failed", verdict
    assert "/srv/alice/.bash_history" in verdict.actual


@need("sfdisk")
def test_root_on_lvm_is_a_clear_error(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "d.raw", 40 * MIB)
    partition(raw, "label: gpt\nstart=2048, type=E6D6D379-F507-44C2-A23C-238F2A3DF928\n")
    label = bytearray(512)
    label[0:8], label[8:16], label[20:24] = b"LABELONE", struct.pack("<Q", 1), struct.pack("<I", 32)
    label[24:32], label[32:64] = b"LVM2 001", b"abcdef0123456789ABCDEF0123456789"
    label[16:20] = struct.pack("<I", zlib.crc32(bytes(label[20:])))
    patch(raw, 2048 * 512 + 512, bytes(label))
    facts = inspect_disk(raw)
    with pytest.raises(FactError, match="logical volumes are not read"):
        checks.check_vhd_deprovisioned(facts, GUIDE)
    layout = checks.check_vhd_partition_layout(facts, GUIDE)
    assert layout.result == Result.WARNING and "LVM" in layout.actual


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_a_clean_decoy_root_before_the_real_one_is_an_error(tmp_path: Path, tree) -> None:
    decoy = fs_image(tree(CLEAN_ROOT), tmp_path / "decoy.img", "ext4")
    real = fs_image(tree(HISTORY_ONLY_ROOT), tmp_path / "real.img", "ext4")
    raw = sparse_file(tmp_path / "d.raw", 40 * MIB)
    partition(raw, "label: gpt\nstart=2048, size=16MiB, type=L\nstart=34816, size=16MiB, type=L\n")
    place(raw, decoy, 2048)
    place(raw, real, 34816)
    verdict = verdict_of(checks.check_vhd_deprovisioned, raw)
    assert result(verdict) == "error", verdict
    assert "partition 2 could not be ruled out as the root" in verdict[1]


@need("sfdisk", "mkfs.ext4", "debugfs", "mkfs.xfs")
@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_leases_in_a_symlinked_lease_directory_are_found(tmp_path: Path, tree, fs: str) -> None:
    spec = {
        **CLEAN_ROOT,
        "var/lib/dhcp": ("symlink", "/data/dhcp"),
        "data/dhcp/dhclient.eth0.leases": "lease {}\n",
    }
    spec.pop("var/lib/dhcp/")
    disk = gpt_disk(fs_image(tree(spec), tmp_path / "r.img", fs), tmp_path / "d.raw")
    verdict = verdict_of(checks.check_vhd_deprovisioned, disk)
    assert result(verdict) == "failed", verdict
    assert "/var/lib/dhcp/dhclient.eth0.leases" in verdict.actual


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_ext4_with_an_unreplayed_journal_is_an_error(tmp_path: Path, tree) -> None:
    image = fs_image(tree(CLEAN_ROOT), tmp_path / "root.img", "ext4")
    assert result(verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "a.raw"))) == "passed"
    debugfs_write(image, "feature needs_recovery")  # as a VHD copied from a running VM leaves it
    verdict = verdict_of(checks.check_vhd_deprovisioned, gpt_disk(image, tmp_path / "b.raw"))
    assert result(verdict) == "error", verdict
    assert "journal was not replayed" in verdict[1]


@need("sfdisk", "mkfs.ext4", "debugfs", "mkfs.xfs")
@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_history_of_a_build_user_whose_home_is_outside_home(tmp_path: Path, tree, fs: str) -> None:
    passwd = "root:x:0:0:root:/root:/bin/bash\nbuilder:x:998:998::/var/lib/builder:/bin/bash\n"
    spec = {**CLEAN_ROOT, "etc/passwd": passwd, "var/lib/builder/.bash_history": "make release\n"}
    verdict = verdict_of(
        checks.check_vhd_deprovisioned,
        gpt_disk(fs_image(tree(spec), tmp_path / "r.img", fs), tmp_path / "d.raw"),
    )
    assert result(verdict) == "failed", verdict
    assert "/var/lib/builder/.bash_history" in verdict.actual


@need("sfdisk", "mkswap")
def test_swap_partition_with_unreadable_fstab_is_an_error_on_the_os_disk_a_warning_on_a_data_disk(
    tmp_path: Path,
) -> None:
    from .conftest import mkswap

    raw = sparse_file(tmp_path / "d.raw", 16 * MIB)
    partition(raw, "label: gpt\nstart=2048, type=S\n")
    place(raw, mkswap(tmp_path / "swap.img", 8 * MIB), 2048)
    facts = inspect_disk(raw)
    with pytest.raises(FactError, match="to tell whether swap partition 1 is used"):
        checks.check_vhd_partition_layout(facts, GUIDE, "linux", "os")
    data = checks.check_vhd_partition_layout(facts, GUIDE, "linux", "data")
    assert data.result == Result.WARNING and "data disk" in data.actual
