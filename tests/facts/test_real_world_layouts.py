"""Real-world layouts found in review: a Linux GPT image whose FAT EFI partition carries
the "Microsoft basic data" type (parted's fat32 / gdisk 0700), a history symlinked to
/dev/null, resolver symlinks of other eras, exact Windows sizes, odd SAS values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pytest_vmimage.artifacts_plugin import detect_os
from pytest_vmimage.checks import artifacts
from pytest_vmimage.facts.disk import inspect_disk
from pytest_vmimage.facts.sas import parse_sas_uri
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import Result
from tests.facts.conftest import CLEAN_ROOT, MIB, need, partition, place, run, sparse_file, to_vhd, write_tree

GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")
GIB = 2**30
BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B9B99C7"


def efi_basic_data_image(tmp_path: Path, root: dict) -> Path:
    raw = sparse_file(tmp_path / "disk.raw", 64 * MIB)
    partition(
        raw,
        f"label: gpt\nstart=2048, size=16MiB, type={BASIC_DATA}7\nstart=34816, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
    )
    esp = sparse_file(tmp_path / "esp.img", 16 * MIB)
    run("mkfs.vfat", esp)
    place(raw, esp, 2048)
    tree = write_tree(tmp_path / "root", root)
    ext4 = sparse_file(tmp_path / "root.img", 40 * MIB)
    run("mkfs.ext4", "-q", "-F", "-d", tree, ext4)
    place(raw, ext4, 34816)
    return to_vhd(raw, tmp_path / "disk.vhd")


@need("sfdisk", "mkfs.vfat", "mkfs.ext4", "qemu-img", "debugfs")
def test_linux_image_with_basic_data_esp_is_linux_and_has_one_root(tmp_path):
    root = dict(CLEAN_ROOT, **{"root/.bash_history": ("symlink", "/dev/null")})
    disk = inspect_disk(efi_basic_data_image(tmp_path, root))
    family, evidence = detect_os(disk)
    assert family == "linux", evidence
    assert artifacts.check_vhd_partition_layout(disk, GUIDE, os_family="linux").result is Result.PASSED
    verdict = artifacts.check_vhd_deprovisioned(disk, GUIDE)
    assert verdict.result is Result.PASSED, verdict.message


@need("sfdisk", "mkfs.vfat", "mkfs.ext4", "qemu-img", "debugfs")
def test_resolver_symlinks_of_other_eras_are_stubs(tmp_path):
    for index, target in enumerate(
        (
            "../usr/lib/systemd/resolv.conf",
            "/etc/resolvconf/run/resolv.conf",
            "/run/NetworkManager/resolv.conf",
        )
    ):
        folder = tmp_path / str(index)
        folder.mkdir()
        disk = inspect_disk(
            efi_basic_data_image(folder, dict(CLEAN_ROOT, **{"etc/resolv.conf": ("symlink", target)}))
        )
        verdict = artifacts.check_vhd_deprovisioned(disk, GUIDE)
        assert verdict.result is Result.PASSED, (target, verdict.message)


@need("qemu-img")
def test_windows_os_vhd_must_be_exactly_127_or_128_gib_in_guide_2016(tmp_path):
    for mib, guide_result in ((130048, Result.PASSED), (130560, Result.FAILED), (131072, Result.PASSED)):
        path = tmp_path / f"w{mib}.vhd"
        run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", path, f"{mib}M")
        disk = inspect_disk(path, read_root_fs=False)
        assert artifacts.check_vhd_os_disk_size(disk, GUIDE, os_family="windows").result is guide_result, mib
        assert artifacts.check_vhd_os_disk_size(disk, CURRENT, os_family="windows").result is Result.PASSED


def test_unparseable_se_and_upper_case_permissions_say_so():
    now = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
    sas = parse_sas_uri(
        "https://a.blob.core.windows.net/c/d.vhd?sv=2021-08-06&sr=b&sp=rl&se=2026-12-20T10:00:00+00:00&sig=abc"
    )
    verdict = artifacts.check_sas_validity(sas, GUIDE, now=now)
    assert (
        verdict.result is Result.FAILED
        and "could not be parsed" in verdict.message
        and "%2B" in verdict.message
    )
    upper = parse_sas_uri(
        "https://a.blob.core.windows.net/c/d.vhd?sv=2021-08-06&sr=b&sp=RL&se=2026-12-30&sig=abc"
    )
    verdict = artifacts.check_sas_permissions(upper, GUIDE)
    assert verdict.result is Result.FAILED and "lower-case" in verdict.message
