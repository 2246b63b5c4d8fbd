"""Artifact checks (VHD-001..009, SAS-001..005) on facts of real files and of SAS URIs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts.disk import DiskFacts, FileEntry, HistoryFile, inspect_disk
from pytest_vmimage.facts.sas import parse_sas_uri
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result

from .conftest import (
    CLEAN_ROOT,
    DIRTY_ROOT,
    MIB,
    mkext4,
    mkswap,
    need,
    partition,
    place,
    run,
    sparse_file,
    to_vhd,
    vhd_footer,
)

GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")
GIB = 1024 * MIB
NOW = dt.datetime(2016, 5, 2, 12, 0, tzinfo=dt.timezone.utc)  # a Monday


def fixed_vhd(tmp_path: Path, size: int) -> DiskFacts:
    path = sparse_file(tmp_path / "disk.vhd", size)
    with open(path, "ab") as fh:
        fh.write(vhd_footer(size))
    return inspect_disk(path)


@need("qemu-img")
def test_vhd_format_checks(tmp_path: Path) -> None:
    good = fixed_vhd(tmp_path, 30 * GIB)
    assert checks.check_vhd_valid(good, GUIDE).result == Result.PASSED
    assert checks.check_vhd_fixed(good, GUIDE).result == Result.PASSED
    assert checks.check_vhd_aligned(good, GUIDE).result == Result.PASSED
    assert checks.check_vhd_sparse(good, GUIDE).result == Result.PASSED

    qcow = tmp_path / "q.vhd"
    run("qemu-img", "create", "-q", "-f", "qcow2", qcow, "30G")
    facts = inspect_disk(qcow)
    verdict = checks.check_vhd_valid(facts, GUIDE)
    assert (
        verdict.result == Result.FAILED
        and "qcow2" in verdict.actual
        and "qemu-img convert" in verdict.message
    )
    assert checks.check_vhd_fixed(facts, GUIDE).result == Result.NOT_APPLICABLE

    dyn = tmp_path / "d.vhd"
    run("qemu-img", "create", "-q", "-f", "vpc", dyn, "30G")
    verdict = checks.check_vhd_fixed(inspect_disk(dyn), GUIDE)
    assert verdict.result == Result.FAILED and "dynamic" in verdict.actual

    chs = tmp_path / "chs.vhd"
    run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", chs, "100M")
    verdict = checks.check_vhd_aligned(inspect_disk(chs), GUIDE)
    assert verdict.result == Result.FAILED and "past a whole MiB" in verdict.actual


def test_corrupt_footer_fails(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "bad.vhd", 40 * MIB)
    with open(path, "ab") as fh:
        fh.write(vhd_footer(40 * MIB, break_checksum=True))
    verdict = checks.check_vhd_valid(inspect_disk(path), GUIDE)
    assert verdict.result == Result.FAILED and "checksum" in verdict.actual


@pytest.mark.parametrize(
    ("gib", "guide", "current"),
    [
        (29, "failed", "warning"),
        (0.5, "failed", "failed"),  # 512 MiB: below Partner Center's 1 GiB
        (30, "passed", "passed"),
        (64, "warning", "passed"),
        (1024, "warning", "failed"),
    ],
)
def test_linux_os_disk_size(tmp_path: Path, gib: float, guide: str, current: str) -> None:
    facts = fixed_vhd(tmp_path, int(gib * GIB))
    assert checks.check_vhd_os_disk_size(facts, GUIDE).result.value == guide
    assert checks.check_vhd_os_disk_size(facts, CURRENT).result.value == current


def test_windows_and_data_disk_sizes(tmp_path: Path) -> None:
    facts = fixed_vhd(tmp_path, 127 * GIB)
    assert checks.check_vhd_os_disk_size(facts, GUIDE, "windows").result == Result.PASSED
    assert checks.check_vhd_data_disk_size(facts, GUIDE).result == Result.PASSED
    big = dataclasses.replace(facts, virtual_size=1024 * GIB)
    assert checks.check_vhd_os_disk_size(big, CURRENT, "windows").result == Result.FAILED
    assert checks.check_vhd_data_disk_size(big, GUIDE).result == Result.FAILED
    with pytest.raises(FactError):
        checks.check_vhd_data_disk_size(dataclasses.replace(facts, virtual_size=None), GUIDE)


@need("sfdisk", "mkfs.ext4", "debugfs", "mkswap", "qemu-img")
def test_layout_and_deprovisioning_on_real_images(tmp_path: Path, tree) -> None:
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    seen = partition(raw, "label: dos\nstart=63, size=80M, type=83\ntype=82\n")
    place(raw, mkext4(tree(DIRTY_ROOT), tmp_path / "root.img", 80 * MIB), 63)
    swap_start = seen[1]["start"]
    place(
        raw, mkswap(tmp_path / "swap.img", 40 * MIB, uuid_="5f5f5f5f-aaaa-bbbb-cccc-ddddeeeeffff"), swap_start
    )
    dirty = inspect_disk(to_vhd(raw, tmp_path / "dirty.vhd"))

    verdict = checks.check_vhd_partition_layout(dirty, GUIDE)
    assert verdict.result == Result.FAILED and "used by /etc/fstab" in verdict.actual
    first = checks.check_vhd_first_mib_free(dirty, GUIDE)
    assert first.result == Result.WARNING and "sector 63" in first.actual
    assert checks.check_vhd_first_mib_free(dirty, CURRENT).result == Result.FAILED
    verdict = checks.check_vhd_deprovisioned(dirty, GUIDE)
    assert verdict.result == Result.FAILED
    for text in ("resolv.conf", "DHCP lease", "build-host-17", ".bash_history", "SSH host key"):
        assert text in verdict.actual, text
    assert "TOPSECRET" not in verdict.message

    raw2 = sparse_file(tmp_path / "clean.raw", 64 * MIB)
    partition(raw2, "label: gpt\nstart=2048, type=L\n")
    place(raw2, mkext4(tree(CLEAN_ROOT), tmp_path / "clean.img", 60 * MIB), 2048)
    clean = inspect_disk(to_vhd(raw2, tmp_path / "clean.vhd"))
    assert checks.check_vhd_partition_layout(clean, GUIDE).result == Result.PASSED
    assert checks.check_vhd_first_mib_free(clean, GUIDE).result == Result.PASSED
    assert checks.check_vhd_deprovisioned(clean, GUIDE).result == Result.PASSED

    # both profiles fail any non-empty history file (current: LISA verify_bash_history_is_empty)
    small = dataclasses.replace(
        clean.root_fs, shell_histories=[HistoryFile("/root/.bash_history", "root", 10, True)]
    )
    facts = dataclasses.replace(clean, root_fs=small)
    assert checks.check_vhd_deprovisioned(facts, GUIDE).result == Result.FAILED
    assert checks.check_vhd_deprovisioned(facts, CURRENT).result == Result.FAILED
    # an unused swap partition only warns
    unused = dataclasses.replace(dirty.root_fs, fstab=dirty.root_fs.fstab[:1])
    verdict = checks.check_vhd_partition_layout(dataclasses.replace(dirty, root_fs=unused), GUIDE)
    assert verdict.result == Result.WARNING and "not in /etc/fstab" in verdict.actual
    # a swap-typed partition without a signature: fstab's unmatched swap line is named
    blank = dataclasses.replace(dirty.partitions[1], content=None)
    table = dataclasses.replace(dirty.partition_table, partitions=[dirty.partitions[0], blank])
    verdict = checks.check_vhd_partition_layout(dataclasses.replace(dirty, partition_table=table), GUIDE)
    assert verdict.result == Result.WARNING and "UUID=5f5f5f5f" in verdict.actual


def test_unreadable_root_is_an_error(tmp_path: Path) -> None:
    facts = fixed_vhd(tmp_path, 30 * GIB)
    with pytest.raises(FactError, match="root file system cannot be read"):
        checks.check_vhd_deprovisioned(facts, GUIDE)
    resolv = dataclasses.replace(
        facts.root_fs,
        readable=True,
        resolv_conf=FileEntry(
            "/etc/resolv.conf", "symlink", target="../run/systemd/resolve/stub-resolv.conf"
        ),
    )
    with pytest.raises(FactError, match="the root file system the image boots was not determined"):
        checks.check_vhd_deprovisioned(dataclasses.replace(facts, root_fs=resolv), GUIDE)
    resolv = dataclasses.replace(resolv, not_booted="")  # the root the image boots
    assert (
        checks.check_vhd_deprovisioned(dataclasses.replace(facts, root_fs=resolv), GUIDE).result
        == Result.PASSED
    )


def test_not_sparse_warns(tmp_path: Path) -> None:
    path = tmp_path / "dense.raw"
    path.write_bytes(b"\1" * (2 * MIB))
    verdict = checks.check_vhd_sparse(inspect_disk(path), GUIDE)
    assert verdict.result == Result.WARNING and "100%" in verdict.actual


# ---------------------------------------------------------------------------- SAS


def sas(query: str, name: str = "os.vhd", scheme: str = "https") -> object:
    return parse_sas_uri(f"{scheme}://acct.blob.core.windows.net/vhds/{name}?{query}")


def test_sas_points_at_vhd() -> None:
    assert checks.check_sas_points_at_vhd(sas("sp=rl&sig=a"), GUIDE).result == Result.PASSED
    assert checks.check_sas_points_at_vhd(sas("sp=rl&sig=a", "os.vhdx"), GUIDE).result == Result.FAILED
    spaced = sas("sp=rl&sig=a", "my%20os.vhd")
    assert checks.check_sas_points_at_vhd(spaced, GUIDE).result == Result.WARNING
    assert checks.check_sas_points_at_vhd(spaced, CURRENT).result == Result.FAILED


@pytest.mark.parametrize(
    ("sp", "result"),
    [
        ("rl", "passed"),
        ("lr", "passed"),
        ("r", "warning"),
        ("l", "failed"),
        ("rwl", "failed"),
        ("racwdl", "failed"),
    ],
)
def test_sas_permissions(sp: str, result: str) -> None:
    assert checks.check_sas_permissions(sas(f"sp={sp}&sig=a"), GUIDE).result.value == result


@pytest.mark.parametrize(
    ("st", "result"),
    [
        (None, "passed"),
        ("2016-05-01", "passed"),
        ("2016-05-02T11:50:00Z", "warning"),
        ("2016-05-03", "failed"),
    ],
)
def test_sas_start_time(st: str | None, result: str) -> None:
    query = "sp=rl&sig=a" + (f"&st={st}" if st else "")
    assert checks.check_sas_start_time(sas(query), GUIDE, now=NOW).result.value == result


@pytest.mark.parametrize(
    ("se", "guide", "current"),
    [
        ("2016-05-10T12:00:00Z", "failed", "failed"),  # 8 calendar days: 6 business days
        ("2016-05-11T12:00:00Z", "passed", "failed"),  # 7 business days exactly
        ("2016-05-23T12:00:00Z", "passed", "passed"),
    ],
)
def test_sas_validity(se: str, guide: str, current: str) -> None:
    facts = sas(f"sp=rl&se={se}&sig=a")
    assert checks.check_sas_validity(facts, GUIDE, now=NOW).result.value == guide
    assert checks.check_sas_validity(facts, CURRENT, now=NOW).result.value == current
    assert "11 calendar days" in checks.check_sas_validity(facts, GUIDE, now=NOW).required


def test_sas_well_formed() -> None:
    full = "sv=2015-04-05&sr=c&sp=rl&st=2016-05-01&se=2016-05-20&sig=a"
    assert checks.check_sas_well_formed(sas(full), GUIDE).result == Result.PASSED
    verdict = checks.check_sas_well_formed(sas(full), CURRENT)
    assert verdict.result == Result.FAILED and "not a date-time" in verdict.actual
    assert checks.check_sas_well_formed(sas(full, scheme="http"), GUIDE).result == Result.WARNING
    missing = checks.check_sas_well_formed(sas("sp=rl"), GUIDE)
    assert missing.result == Result.FAILED and "sv, sr, se, sig" in missing.actual
    assert "sig=" not in checks.check_sas_well_formed(sas("sp=rl&sig=SECRET&se=x"), GUIDE).message.replace(
        "sig=REDACTED", ""
    )
