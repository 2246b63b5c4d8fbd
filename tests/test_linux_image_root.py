"""The offline suite judges the root file system the default boot entry's ``root=`` mounts,
and the image's mount table as systemd builds it at boot (review F12, fstab options):
small GPT/MBR images made with sfdisk and ``mkfs.ext4 -d`` (no root, no mount, no loop)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux as checks
from pytest_vmimage.facts import disk
from pytest_vmimage.facts.disk import DiskFacts, FsProbe, Partition, PartitionTable
from pytest_vmimage.facts.linux_image import offline_verdict, read_linux_image
from pytest_vmimage.verdict import FactError, Result
from tests.facts.conftest import MIB, partition, place, sparse_file, write_tree
from tests.test_linux_image import BASE, GRUB_CFG, GUIDE, LINKS

pytestmark = pytest.mark.skipif(
    shutil.which("mkfs.ext4") is None or shutil.which("sfdisk") is None, reason="e2fsprogs/sfdisk missing"
)

ROOT_UUID = "0b0c0c0d-1111-2222-3333-00000000f001"
ROOT_PARTUUID = "0b0c0c0d-1111-2222-3333-00000000e001"
DATA_UUID = "0b0c0c0d-1111-2222-3333-00000000f002"
DATA_PARTUUID = "0b0c0c0d-1111-2222-3333-00000000e002"
LVM_TYPE = "E6D6D379-F507-44C2-A23C-238F2A3DF928"


def _tree(files: dict) -> dict:
    tree = {k.lstrip("/"): v for k, v in files.items()}
    tree.update({k.lstrip("/"): ("symlink", v) for k, v in LINKS.items()})
    return tree


def _mkext4(tree: Path, image: Path, size_mib: int, uuid: str, label: str) -> Path:
    sparse_file(image, size_mib * MIB)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-U", uuid, "-L", label, "-d", str(tree), str(image)],
        check=True,
        capture_output=True,
    )
    return image


def _disk(
    tmp_path: Path, files: dict, second: str = "data", scheme: str = "gpt", second_files=None, root_type="L"
) -> Path:
    """p1: the ext4 root from ``files`` (UUID ROOT_UUID, label rootfs, GPT name root);
    p2: ``second`` = "data" (an ext4 without /etc), "lvm" (an LVM2 physical volume) or "none"."""
    root = write_tree(tmp_path / "root", _tree(files))
    for binary in (root / "usr/sbin").glob("*"):
        binary.chmod(0o755)
    rootimg = _mkext4(root, tmp_path / "root.ext4", 64, ROOT_UUID, "rootfs")
    raw = sparse_file(tmp_path / "os.raw", 100 * MIB)
    if scheme == "gpt":
        p2type = LVM_TYPE if second == "lvm" else "L"
        script = (
            f"label: gpt\nstart=2048, size=64M, type={root_type}, uuid={ROOT_PARTUUID}, name=root\n"
            + (f"size=32M, type={p2type}, uuid={DATA_PARTUUID}, name=data\n" if second != "none" else "")
        )
    else:
        script = "label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=64M, type=83\n" + (
            f"size=32M, type={'8e' if second == 'lvm' else '83'}\n" if second != "none" else ""
        )
    partition(raw, script)
    place(raw, rootimg, 2048)
    p2 = 2048 + 64 * 2048
    if second == "data":
        data = write_tree(tmp_path / "p2", second_files or {"srv/readme": "data\n"})
        place(raw, _mkext4(data, tmp_path / "p2.ext4", 32, DATA_UUID, "data"), p2)
    elif second == "lvm":
        pv_label(raw, p2)
    return raw


def pv_label(raw: Path, start_sector: int) -> None:
    """An LVM2 PV label (no metadata area) in sector 1 of the partition at ``start_sector``."""
    label = bytearray(512)
    label[0:8] = b"LABELONE"
    label[8:16] = struct.pack("<Q", 1)
    label[20:24] = struct.pack("<I", 32)
    label[24:32] = b"LVM2 001"
    label[32:64] = b"A" * 32
    with open(raw, "r+b") as fh:
        fh.seek((start_sector + 1) * 512)
        fh.write(label)


def _booting(root_param: str) -> dict:
    files = {k: v for k, v in BASE.items()}
    files["/boot/grub/grub.cfg"] = GRUB_CFG.replace("root=LABEL=rootfs", root_param)
    return files


def _verdict(check, facts) -> tuple[str, str]:
    try:
        v = offline_verdict(check(facts, GUIDE))
        return v.result.name, v.message or v.actual
    except FactError as exc:
        return ("NOT_APPLICABLE" if getattr(exc, "not_applicable", False) else "ERROR"), str(exc)


# -- root= names the partition read: the image is judged ---------------------------------


@pytest.mark.parametrize(
    "root_param",
    [
        f"root=UUID={ROOT_UUID}",
        "root=PARTLABEL=root",
        "root=/dev/nvme0n1p1",
        f"root=/dev/disk/by-partuuid/{ROOT_PARTUUID.upper()}",
    ],
)
def test_root_param_naming_the_partition_read_is_judged(tmp_path, root_param):
    facts = read_linux_image(_disk(tmp_path, _booting(root_param)))
    assert facts.section("shadow").startswith("root:")
    assert _verdict(checks.shell_history, facts)[0] == "FAILED"  # BASE's /root/.bash_history


def test_mbr_partuuid_is_the_disk_signature_and_number(tmp_path):
    facts = read_linux_image(_disk(tmp_path, _booting("root=PARTUUID=1234abcd-01"), scheme="mbr"))
    assert _verdict(checks.shell_history, facts)[0] == "FAILED"
    other = read_linux_image(_disk(tmp_path / "b", _booting("root=PARTUUID=1234abcd-02"), scheme="mbr"))
    result, message = _verdict(checks.shell_history, other)
    assert result == "ERROR" and "root=PARTUUID=1234abcd-02 (the partition 2)" in message


# -- root= names something else: every root section is an error, never the decoy judged --


@pytest.mark.parametrize(
    ("root_param", "why"),
    [
        ("root=/dev/vg/root", "logical volume path"),
        (f"root=PARTUUID={DATA_PARTUUID}", "the partition 2"),
        ("root=/dev/sdb1", "another disk"),
        ("root=UUID=0b0c0c0d-0000-0000-0000-000000000000", "no partition or file system"),
    ],
)
def test_root_param_not_naming_the_partition_read_makes_every_root_section_an_error(tmp_path, root_param, why):
    """Review F12: a decoy root (or a leftover one) is never judged as the OS."""
    facts = read_linux_image(_disk(tmp_path, _booting(root_param)))
    for check in (checks.agent_installed, checks.kernel_boot_line, checks.shell_history, checks.no_default_accounts):
        result, message = _verdict(check, facts)
        assert result == "ERROR", (check.__name__, result, message)
        assert root_param in message and why in message, message


def test_decoy_root_beside_an_lvm_physical_volume(tmp_path):
    """The review's repro: p1 a compliant-looking ext4, the kernel boots an LV on p2's PV."""
    facts = read_linux_image(_disk(tmp_path, _booting("root=/dev/mapper/vg-root"), second="lvm"))
    for check in (checks.agent_installed, checks.kernel_boot_line, checks.shell_history):
        result, message = _verdict(check, facts)
        assert result == "ERROR" and "root=/dev/mapper/vg-root" in message, message
        assert "partition 2 (LVM2 physical volume)" in message
    result, message = _verdict(checks.no_lvm, facts)
    assert result == "ERROR" and "LVM physical volume (partition 2)" in message, message


def test_lvm_physical_volume_beside_the_root_fails_lnx010_offline(tmp_path):
    """root= names p1 (by its PARTUUID); p2 is an LVM PV: the partition table shows it (not
    "needs a VM")."""
    facts = read_linux_image(_disk(tmp_path, _booting(f"root=PARTUUID={ROOT_PARTUUID}"), second="lvm"))
    assert _verdict(checks.shell_history, facts)[0] == "FAILED"  # the root is judged
    result, message = _verdict(checks.no_lvm, facts)
    assert result == "WARNING" and "LVM physical volume /dev/sda2" in message, message


def test_root_uuid_beside_a_pv_whose_logical_volumes_are_not_known_is_not_tied(tmp_path):
    """Review r1 (3): root=UUID= names p1, but p2 is a PV whose VG metadata is not on it: a
    logical volume may carry the same UUID, so the root sections are errors (before: judged)."""
    facts = read_linux_image(_disk(tmp_path, _booting(f"root=UUID={ROOT_UUID}"), second="lvm"))
    result, message = _verdict(checks.shell_history, facts)
    assert result == "ERROR" and "its logical volumes are not known" in message, message


def test_no_root_param_with_an_unread_partition_is_an_error(tmp_path):
    facts = read_linux_image(_disk(tmp_path, _booting(""), second="lvm"))
    result, message = _verdict(checks.shell_history, facts)
    assert result == "ERROR" and "no root=" in message and "LVM2 physical volume" in message, message


@pytest.mark.parametrize(
    ("root_type", "expected"),
    [("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "FAILED"), ("L", "ERROR")],
    ids=["discoverable-root-type", "plain-linux-type"],
)
def test_no_root_param_judges_only_the_discoverable_root(tmp_path, root_type, expected):
    """Without root=, systemd-gpt-auto-generator mounts the partition of the root type: the
    one read is judged only when it is that partition and nothing else could be the root."""
    facts = read_linux_image(_disk(tmp_path, _booting(""), second="none", root_type=root_type))
    result, message = _verdict(checks.shell_history, facts)
    assert result == expected, message
    if expected == "ERROR":
        assert "no root=" in message


def _facts_with(parts: list[Partition], whole: FsProbe | None = None) -> DiskFacts:
    facts = DiskFacts(path="x", apparent_size=0, allocated_size=0, data_bytes=None, format="raw")
    facts.partition_table = PartitionTable("gpt", partitions=parts)
    facts.whole_disk_fs = whole
    return facts


def test_kernel_root_partitions_forms():
    p1 = Partition(1, "gpt", "gpt", 2048, 2048, "L", "Linux", "linux", name="root", partuuid="aa-bb",
                   content=FsProbe("ext4", uuid="u-1", label="rootfs"))
    p2 = Partition(2, "gpt", "gpt", 4096, 2048, "L", "Linux", "linux", name="two", partuuid="cc-dd",
                   content=FsProbe("ext4", uuid="U-1", label="other"))
    facts = _facts_with([p1, p2])
    resolve = disk.kernel_root_partitions
    assert resolve(facts, "UUID=u-1")[0] == [1, 2]  # duplicate UUIDs: ambiguous
    assert resolve(facts, '"LABEL=rootfs"')[0] == [1]
    assert resolve(facts, "/dev/disk/by-partlabel/two")[0] == [2]
    assert resolve(facts, "/dev/xvda2")[0] == [2]
    assert resolve(facts, "/dev/sda3") == ([], "the OS disk has no partition 3")
    assert resolve(facts, "/dev/nvme1n1p1")[0] == []
    assert "device-mapper" in resolve(facts, "/dev/dm-0")[1]
    assert "software RAID" in resolve(facts, "/dev/md0")[1]
    assert "resolved offline" in resolve(facts, "ZFS=rpool/root")[1]
    assert resolve(facts, "/dev/vda1")[0] == [1] and resolve(facts, "/dev/sda2")[0] == [2]
    assert resolve(facts, "PARTUUID=AA-BB")[0] == [1] and resolve(facts, "LABEL=other")[0] == [2]
    assert resolve(facts, "/dev/disk/by-uuid/U-1")[0] == [1, 2]
    assert "logical volume path" in resolve(facts, "/dev/vg0/root")[1]
    whole = _facts_with([], FsProbe("ext4", uuid="w", label="w"))
    assert resolve(whole, "/dev/sda")[0] == [None] and resolve(whole, "UUID=w")[0] == [None]


# -- /etc/fstab options: what systemd mounts at boot ----------------------------------------


def _homes_on_p2(options: str, spec: str = f"UUID={DATA_UUID}") -> dict:
    files = {k: v for k, v in BASE.items() if not k.startswith(("/home/", "/root/.bash_history"))}
    files["/boot/grub/grub.cfg"] = GRUB_CFG
    files["/etc/passwd"] = "root:x:0:0:root:/root:/bin/bash\nold:x:1001:1001::/home/old:/bin/sh\n"
    files["/etc/shadow"] = "root:!*:19000::::::\nold:!*:19000::::::\n"
    files["/etc/fstab"] = f"LABEL=rootfs / ext4 defaults 0 1\n{spec} /home ext4 {options} 0 2\n"
    files["/home/old/.profile"] = "# the mount point directory beneath\n"
    return files


@pytest.mark.parametrize(
    ("options", "spec", "expected"),
    [
        ("defaults", f"UUID={DATA_UUID}", "FAILED"),  # mounted at boot: p2's history is read
        ("noauto", f"UUID={DATA_UUID}", "PASSED"),  # not mounted: the directory beneath
        ("noauto,nofail", "UUID=0b0c0c0d-0000-0000-0000-00000000dead", "PASSED"),
        ("noauto,x-systemd.automount", f"UUID={DATA_UUID}", "FAILED"),  # mounted on access
        ("x-systemd.automount", f"UUID={DATA_UUID}", "FAILED"),
        ("nofail", "UUID=0b0c0c0d-0000-0000-0000-00000000dead", "ERROR"),  # may be on another disk
        ("nofail,x-systemd.automount", "UUID=0b0c0c0d-0000-0000-0000-00000000dead", "ERROR"),
    ],
)
def test_fstab_noauto_automount_nofail(tmp_path, options, spec, expected):
    second = {"old/.bash_history": "mysql -psecret\n", "old/.profile": "\n"}
    facts = read_linux_image(_disk(tmp_path, _homes_on_p2(options, spec), second_files=second))
    result, message = _verdict(checks.shell_history, facts)
    assert result == expected, message
    assert ("/home" in facts.meta["mounts"]) is (expected != "PASSED")
    if expected == "ERROR":
        assert "/home" in message and "not found on this disk" in message


def test_existing_sections_with_a_boot_time_part_are_marked():
    """Review F11: network_config, nm_connections and modprobe_config are read offline
    without their /run part (nm-initrd-generator, netplan, dracut write there at boot)."""
    from pytest_vmimage.facts import linux_image

    runtime = linux_image.runtime_patterns()
    assert "/run/NetworkManager/system-connections/*" in runtime["nm_connections"]
    assert "/run/modprobe.d/*.conf" in runtime["modprobe_config"]
    assert "/run/network/interfaces.d/*" in runtime["network_config"]
    assert {"nm_connections", "modprobe_config", "network_config"} <= set(linux_image.offline_sections())


# -- LNX-039 offline: modules.dep and the module files of the default entry's kernel ---------

MODULES = "/lib/modules/6.1.0-9-amd64"


@pytest.mark.parametrize("udf_file", [True, False], ids=["udf-present", "udf-deleted"])
def test_fs_modules_offline_reads_modules_dep_and_the_files(tmp_path, udf_file):
    """The live section's 'absent NAME PATH' (review of 85e6184) from the image: a module
    listed in modules.dep whose file is gone is not loadable; LNX-039 fails offline too."""
    from pytest_vmimage.checks import linux_health
    from pytest_vmimage.facts import linux as live
    from pytest_vmimage.facts import linux_image

    files = dict(BASE)
    files[f"{MODULES}/modules.builtin"] = "kernel/fs/ext4/ext4.ko\n"
    files[f"{MODULES}/modules.dep"] = (
        "kernel/fs/udf/udf.ko.xz: kernel/lib/crc-itu-t.ko.xz\nkernel/fs/fat/vfat.ko.xz: kernel/fs/fat/fat.ko.xz\n"
        "kernel/fs/fat/fat.ko.xz:\n"
    )
    files[f"{MODULES}/kernel/fs/fat/vfat.ko.xz"] = "elf\n"
    if udf_file:
        files[f"{MODULES}/kernel/fs/udf/udf.ko.xz"] = "elf\n"
    facts = read_linux_image(_disk(tmp_path, files, second="none"))
    text = facts.section("fs_modules")
    absent = f"absent udf {MODULES}/kernel/fs/udf/udf.ko.xz"
    assert text.splitlines() == ["udf builtin=0 module=1", *([] if udf_file else [absent]), "vfat builtin=0 module=1", "looked"]
    assert "registered" not in text  # no kernel runs offline
    verdict = linux_image.offline_verdict(linux_health.provisioning_filesystems(facts, GUIDE), facts)
    assert verdict.result is (Result.PASSED if udf_file else Result.WARNING), verdict  # guide-2016 warns
    assert "/proc/filesystems" in verdict.message and "/run/modprobe.d/*.conf" in verdict.message
    if not udf_file:
        assert "udf.ko.xz is gone" in verdict.message
    assert live.SECTIONS["fs_modules"][1].count("absent") == 2  # the live section prints the same line


def test_lnx022_offline_names_deprovisioning(tmp_path):
    """An account left with a password or key fails offline too (a deprovisioned image has
    none); the offline message names the fix: deprovision before capture."""
    from tests.test_linux_image import _image

    facts = read_linux_image(_image(tmp_path, BASE, LINKS))
    verdict = offline_verdict(checks.no_default_accounts(facts, GUIDE))
    assert verdict.result is Result.FAILED and "old" in verdict.actual
    assert "waagent -deprovision+user" in verdict.message and "before capture" in verdict.message
    facts.meta = {}  # the same facts from a running VM: the admin exists there, no deprovisioning hint
    assert "deprovision" not in checks.no_default_accounts(facts, GUIDE).message


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (FsProbe("lvm2_pv"), "LVM2 physical volume"),
        (FsProbe("btrfs", uuid="b"), "btrfs"),
        (None, "Linux filesystem, content not known"),
    ],
)
def test_unread_partitions_are_root_candidates_to_rule_out(content, named):
    """_find_root records what it cannot look into (review F12: never skipped silently)."""
    linux = Partition(2, "gpt", "gpt", 4096, 2048, "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem",
                      "linux", content=content)
    raid = Partition(3, "mbr", "primary", 8192, 2048, "0xfd", "Linux raid autodetect", "other")
    swap = Partition(4, "gpt", "gpt", 9000, 2048, "S", "Linux swap", "swap", content=FsProbe("swap"))
    found = disk._unread_candidates(_facts_with([linux, raid, swap]))
    assert found == [f"partition 2 ({named})", "partition 3 (Linux raid autodetect)"]


# -- LNX-010 offline: the root= of the default entry is a logical volume on the OS disk's PV --


def _lvm_disk(
    tmp_path: Path,
    root_param: str,
    vg: str = "vg",
    lv: str = "root",
    boot: str = "boot",
    corrupt: bool = False,
) -> Path:
    """MBR, like the testbed's lvm-root: p1 a separate /boot (ext4 with grub/grub.cfg at its
    top; ``boot="decoy"``: a whole clean-looking root instead; ``boot="two"``: p3 holds a
    second grub/grub.cfg), p2 an LVM2 PV with real text metadata (VG ``vg``, linear LV ``lv``)
    written by the testbed's disktool."""
    from tests.testbed.disktool import lvm_pv

    cfg = GRUB_CFG.replace("root=LABEL=rootfs", root_param)
    if boot == "decoy":
        files = _tree(_booting(root_param))
    else:
        files = {"grub/grub.cfg": cfg, "vmlinuz-6.1.0-9-amd64": "kernel\n"}
    p1 = _mkext4(write_tree(tmp_path / "p1", files), tmp_path / "p1.ext4", 64, ROOT_UUID, "boot")
    pv = sparse_file(tmp_path / "p2.pv", 32 * MIB)
    lvm_pv(str(pv), vg, lv, 4, 24)
    if corrupt:
        with open(pv, "r+b") as fh:  # one byte of the metadata text: its checksum no longer matches
            fh.seek(4096 + 512 + 3)
            fh.write(b"X")
    raw = sparse_file(tmp_path / "os.raw", 140 * MIB)
    partition(
        raw,
        "label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=64M, type=83\nsize=32M, type=8e\n"
        + ("size=32M, type=83\n" if boot == "two" else ""),
    )
    place(raw, p1, 2048)
    place(raw, pv, 2048 + 64 * 2048)
    if boot == "two":
        other = write_tree(tmp_path / "p3", {"grub/grub.cfg": cfg.replace(root_param, "root=/dev/sda1")})
        place(raw, _mkext4(other, tmp_path / "p3.ext4", 32, DATA_UUID, "boot2"), 2048 + 96 * 2048)
    return raw


@pytest.mark.parametrize(
    ("root_param", "vg", "dm_name"),
    [
        ("root=/dev/mapper/vg-root", "vg", "vg-root"),
        ("root=/dev/vg/root", "vg", "vg-root"),
        ("root=/dev/mapper/my--vg-root", "my-vg", "my--vg-root"),
        ("root=UUID=0b0c0c0d-0000-0000-0000-0000000000a1 rd.lvm.lv=vg/root", "vg", "vg-root"),
    ],
    ids=["mapper", "vg-lv", "dashed-vg", "rd.lvm.lv"],
)
def test_lnx010_offline_judges_a_root_on_a_logical_volume_of_the_os_disk(tmp_path, root_param, vg, dm_name):
    """The testbed's lvm-root (review F8): the root is not read, but the default entry (read
    from the /boot partition) boots an LV of the VG recorded on p2: LNX-010 warns as live does
    (the same dm name and uuid), the root's own sections stay errors."""
    facts = read_linux_image(_lvm_disk(tmp_path, root_param, vg=vg))
    result, message = _verdict(checks.no_lvm, facts)
    assert result == "WARNING", message
    assert f"/ on logical volume {dm_name}" in message and "LVM physical volume /dev/sda2" in message
    assert "dmuuid=LVM-" in facts.section("sys_block") and "holders=dm-0," in facts.section("sys_block")
    assert _verdict(checks.shell_history, facts)[0] == "ERROR"  # the root itself is not read


@pytest.mark.parametrize(
    ("root_param", "kwargs", "why"),
    [
        ("root=/dev/mapper/other-root", {}, "names volume group other, not on this disk"),
        ("root=/dev/mapper/vg-swap", {}, "has no (linear/striped) logical volume swap"),
        ("root=/dev/mapper/vg-root", {"corrupt": True}, "checksum does not match"),
        ("root=/dev/mapper/vg-root", {"boot": "two"}, "2 partitions hold a boot loader configuration"),
        ("root=/dev/dm-0", {}, "names no logical volume"),
        ("root=UUID=0b0c0c0d-0000-0000-0000-0000000000a1", {}, "names no logical volume"),
    ],
    ids=["other-vg", "other-lv", "bad-checksum", "two-boot-partitions", "dm-number", "uuid-without-rd.lvm.lv"],
)
def test_lnx010_offline_without_evidence_of_the_lv_stays_an_error(tmp_path, root_param, kwargs, why):
    from pytest_vmimage.facts import linux_image

    raw = _lvm_disk(tmp_path, root_param, **kwargs)
    assert why in linux_image.lvm_root(str(raw), disk.inspect_disk(raw))
    result, message = _verdict(checks.no_lvm, read_linux_image(raw))
    assert result == "ERROR" and "LVM physical volume (partition 2)" in message, message


def test_lnx010_offline_decoy_root_beside_the_lv(tmp_path):
    """A clean-looking root on p1, root= an LV on p2: every root fact stays an error, LNX-010
    warns from what was read (the PV and its VG's metadata), never from the decoy's fstab."""
    facts = read_linux_image(_lvm_disk(tmp_path, "root=/dev/mapper/vg-root", boot="decoy"))
    result, message = _verdict(checks.shell_history, facts)
    assert result == "ERROR" and "root=/dev/mapper/vg-root" in message, message
    result, message = _verdict(checks.no_lvm, facts)
    assert result == "WARNING" and "/ on logical volume vg-root" in message, message
    assert 'MOUNTPOINT="/"' not in facts.section("lsblk").split("sda1")[1].split("\n")[0]


def test_lvm_metadata_reader_parses_lvm2_text():
    from pytest_vmimage.facts import _lvm

    text = (
        '# comment\nvg0 {\nid = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg"\nextent_size = 8192  # 4 MiB\n'
        'physical_volumes {\npv0 {\nid = "pppppp-pppp-pppp-pppp-pppp-pppp-pppppp"\ndevice = "/dev/sda2"  # Hint only\n'
        'tags = ["a", "b\\"c"]\n}\n}\nlogical_volumes {\nroot {\nid = "llllll-llll-llll-llll-llll-llll-llllll"\n'
        'segment1 {\nstart_extent = 0\nextent_count = 3\ntype = "striped"\nstripes = [\n"pv0", 0\n]\n}\n}\n'
        'thin {\nid = "x"\nsegment1 {\nextent_count = 1\ntype = "thin"\n}\n}\n}\n}\ncontents = "Text Format Volume Group"\n'
    )
    vg = _lvm._volume_group(_lvm._parse(text), "pppppp-pppp-pppp-pppp-pppp-pppp-pppppp")
    assert vg.name == "vg0" and list(vg.lvs) == ["root"]  # a thin LV lists no PV: not claimed
    assert vg.lvs["root"].sectors == 3 * 8192 and vg.dm_name("root") == "vg0-root"
    assert vg.dm_uuid("root") == "LVM-" + "aaaaaabbbbccccddddeeeeffffgggggg" + "l" * 32
    assert _lvm.split_dm_name("a--b-c--d") == ("a-b", "c-d") and _lvm.split_dm_name("a--b") is None


def test_lvm_segments_map_lv_sectors_to_pv_sectors():
    """Review r1 (3): the LV's superblock is read through its segments: linear and striped
    (chunks of stripe_size sectors round-robin over the stripes), pe_start per PV; thin and
    raid LVs are listed as not mapped."""
    from pytest_vmimage.facts import _lvm

    text = (
        'vg0 {\nid = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg"\nextent_size = 8192\n'
        'physical_volumes {\npv0 {\nid = "p0"\npe_start = 2048\n}\npv1 {\nid = "p1"\npe_start = 4096\n}\n}\n'
        "logical_volumes {\n"
        'lin {\nid = "l"\nsegment1 {\nstart_extent = 0\nextent_count = 1\ntype = "striped"\nstripe_count = 1\n'
        'stripes = ["pv1", 3]\n}\nsegment2 {\nstart_extent = 1\nextent_count = 1\ntype = "striped"\n'
        'stripe_count = 1\nstripes = ["pv0", 7]\n}\n}\n'
        'str {\nid = "s"\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = "striped"\nstripe_count = 2\n'
        'stripe_size = 128\nstripes = ["pv0", 10, "pv1", 20]\n}\n}\n'
        'r {\nid = "r"\nsegment1 {\nstart_extent = 0\nextent_count = 1\ntype = "raid1"\nraids = ["a", "b"]\n}\n}\n'
        "}\n}\n"
    )
    vg = _lvm._volume_group(_lvm._parse(text), "p0")
    assert vg.lv_extent_at("lin", 2) == ("p1", 4096 + 3 * 8192 + 2)
    assert vg.lv_extent_at("lin", 8192 + 5) == ("p0", 2048 + 7 * 8192 + 5)
    assert vg.lv_extent_at("str", 2) == ("p0", 2048 + 10 * 8192 + 2)
    assert vg.lv_extent_at("str", 130) == ("p1", 4096 + 20 * 8192 + 2)
    assert vg.lv_extent_at("str", 260) == ("p0", 2048 + 10 * 8192 + 128 + 4)
    assert vg.unmapped == {"r": "a raid1 segment"} and "r" not in vg.lvs
    with pytest.raises(_lvm.LvmError):
        vg.lv_extent_at("lin", 2 * 8192)
