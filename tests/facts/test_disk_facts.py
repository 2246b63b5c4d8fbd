"""Disk facts on real image files made by qemu-img, sfdisk, mkfs and mkswap."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from pytest_vmimage.facts.disk import (
    DiskError,
    DiskFacts,
    inspect_disk,
    list_dir,
    read_root_files,
)
from pytest_vmimage.verdict import FactError

from .conftest import (
    CLEAN_ROOT,
    DIRTY_ROOT,
    MIB,
    SECRET,
    mkext4,
    mkswap,
    mkxfs,
    need,
    partition,
    place,
    run,
    sparse_file,
    to_vhd,
    vhd_footer,
)

GIB = 1024 * MIB
SWAP_UUID = "5f5f5f5f-aaaa-bbbb-cccc-ddddeeeeffff"
ROOT_UUID = "0b0c0c0d-1111-2222-3333-444455556666"


def roundtrip(facts: DiskFacts) -> DiskFacts:
    again = DiskFacts.from_json(facts.to_json())
    assert again == facts
    json.loads(facts.to_json())
    return again


# ---------------------------------------------------------------------------- container formats


@need("qemu-img")
def test_fixed_vhd_from_qemu_img(tmp_path: Path) -> None:
    path = tmp_path / "os.vhd"
    run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", path, "30G")
    facts = roundtrip(inspect_disk(path))
    f = facts.footer
    assert facts.format == "vhd" and f is not None
    assert f.location == "end" and f.offset == 30 * GIB
    assert f.cookie_ok and f.cookie == "conectix"
    assert f.checksum_ok and f.checksum_stored == f.checksum_computed
    assert (f.disk_type, f.disk_type_name) == (2, "fixed")
    assert f.current_size == f.original_size == 30 * GIB == facts.virtual_size
    assert f.data_offset == 0xFFFFFFFFFFFFFFFF
    assert f.file_format_version == "1.0"
    assert f.creator_application == "qem2"
    assert f.heads and f.sectors_per_track and f.cylinders
    assert f.timestamp_iso.endswith("Z")
    assert facts.apparent_size == 30 * GIB + 512
    assert facts.allocated_size < MIB and facts.data_bytes is not None and facts.data_bytes < MIB
    assert facts.content_readable and facts.content_offset == 0
    assert facts.partition_table is not None and facts.partition_table.scheme == "none"
    assert not facts.root_fs.readable
    assert "no ext2/3/4 or XFS" in facts.root_fs.reason


@need("qemu-img")
def test_fixed_vhd_without_force_size_is_chs_rounded(tmp_path: Path) -> None:
    """qemu-img rounds to CHS geometry unless force_size=on: a misaligned virtual size."""
    path = tmp_path / "chs.vhd"
    run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", path, "100M")
    facts = inspect_disk(path)
    assert facts.footer is not None
    size = facts.footer.current_size
    assert size != 100 * MIB and size % MIB != 0
    assert size == facts.footer.geometry_size
    assert facts.apparent_size == size + 512


@need("qemu-img")
def test_converted_misaligned_raw_keeps_its_odd_size(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "odd.raw", 20 * MIB + 3 * 512)
    facts = inspect_disk(to_vhd(raw, tmp_path / "odd.vhd"))
    assert facts.footer is not None and facts.footer.current_size == 20 * MIB + 1536
    assert facts.footer.current_size % MIB == 1536
    assert facts.apparent_size == facts.footer.current_size + 512


@need("qemu-img", "sfdisk")
def test_dynamic_vhd_reads_partitions_through_the_bat(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "d.raw", 64 * MIB)
    partition(raw, "label: dos\nstart=2048, size=32M, type=83\ntype=82\n")
    swap = mkswap(tmp_path / "swap.img", 30 * MIB, uuid_=SWAP_UUID)
    place(raw, swap, 2048 + 32 * 2048)
    facts = roundtrip(inspect_disk(to_vhd(raw, tmp_path / "d.vhd", "dynamic")))
    assert facts.footer is not None and facts.footer.disk_type == 3
    assert facts.footer.disk_type_name == "dynamic" and facts.footer.checksum_ok
    assert facts.footer_copy_at_start
    header = facts.dynamic_header
    assert header is not None and header.cookie_ok and header.checksum_ok
    assert header.block_size == 2 * MIB and header.max_table_entries >= 32
    assert facts.content_readable and facts.content_offset is None
    parts = facts.partitions
    assert [(p.index, p.start_sector, p.type_code) for p in parts] == [
        (1, 2048, "0x83"),
        (2, 2048 + 32 * 2048, "0x82"),
    ]
    assert parts[1].content is not None and parts[1].content.type == "swap"
    assert parts[1].content.uuid == SWAP_UUID


@need("qemu-img", "sfdisk", "mkfs.ext4")
def test_dynamic_vhd_ext4_root_is_not_read_and_says_why(tmp_path: Path, tree) -> None:
    raw = sparse_file(tmp_path / "d.raw", 64 * MIB)
    partition(raw, "label: dos\nstart=2048, type=83\n")
    place(raw, mkext4(tree(CLEAN_ROOT), tmp_path / "root.img", 60 * MIB), 2048)
    facts = inspect_disk(to_vhd(raw, tmp_path / "d.vhd", "dynamic"))
    assert facts.partitions[0].content is not None and facts.partitions[0].content.type == "ext4"
    assert not facts.root_fs.readable
    assert "contiguous" in facts.root_fs.reason and "dynamic" in facts.root_fs.reason


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("vhdx", "vhdx"), ("qcow2", "qcow2"), ("vmdk", "vmdk"), ("raw", "unknown")],
)
@need("qemu-img")
def test_other_formats_are_named(tmp_path: Path, fmt: str, expected: str) -> None:
    path = tmp_path / f"disk.{fmt}"
    run("qemu-img", "create", "-q", "-f", fmt, path, "3G")
    facts = roundtrip(inspect_disk(path))
    assert facts.format == expected
    assert facts.footer is None
    assert facts.virtual_size == 3 * GIB
    if fmt != "raw":
        assert not facts.content_readable and fmt.upper()[:4] in facts.content_reason.upper()
        assert not facts.root_fs.readable and facts.root_fs.reason.startswith("disk content not read")


@need("qemu-img")
def test_qcow2_renamed_vhd_is_qcow2(tmp_path: Path) -> None:
    path = tmp_path / "really-qcow2.vhd"
    run("qemu-img", "create", "-q", "-f", "qcow2", path, "30G")
    facts = inspect_disk(path)
    assert facts.format == "qcow2" and facts.footer is None
    assert facts.virtual_size == 30 * GIB
    assert "qcow2 version 3" in facts.format_detail


def test_corrupted_checksum_is_a_fact(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "bad.vhd", 40 * MIB)
    with open(path, "ab") as fh:
        fh.write(vhd_footer(40 * MIB, break_checksum=True))
    facts = inspect_disk(path)
    assert facts.format == "vhd" and facts.footer is not None
    assert facts.footer.cookie_ok and not facts.footer.checksum_ok
    assert facts.footer.checksum_stored == facts.footer.checksum_computed ^ 1


@need("qemu-img")
def test_hand_written_footer_agrees_with_qemu(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "hand.vhd", 40 * MIB)
    with open(path, "ab") as fh:
        fh.write(vhd_footer(40 * MIB))
    info = json.loads(run("qemu-img", "info", "-f", "vpc", "--output=json", path))
    facts = inspect_disk(path)
    assert facts.footer is not None and facts.footer.checksum_ok
    assert facts.virtual_size == info["virtual-size"] == 40 * MIB


def test_dynamic_footer_copy_only(tmp_path: Path) -> None:
    """A dynamic VHD truncated before its footer: the copy at offset 0 is still read."""
    path = tmp_path / "cut.vhd"
    path.write_bytes(vhd_footer(40 * MIB, disk_type=3) + b"\0" * 4096)
    facts = inspect_disk(path)
    assert facts.format == "vhd" and facts.footer is not None
    assert facts.footer.location == "start-copy" and facts.footer_copy_at_start
    assert not facts.content_readable and "dynamic disk header" in facts.content_reason


def test_empty_and_short_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.vhd"
    empty.write_bytes(b"")
    facts = roundtrip(inspect_disk(empty))
    assert facts.format == "empty" and facts.footer is None and facts.bytes_read == 0
    short = tmp_path / "short.vhd"
    short.write_bytes(b"x" * 100)
    facts = roundtrip(inspect_disk(short))
    assert facts.format == "too_short" and "100 bytes" in facts.format_detail


def test_random_bytes_are_facts(tmp_path: Path) -> None:
    path = tmp_path / "random.vhd"
    path.write_bytes(os.urandom(3 * MIB))
    facts = roundtrip(inspect_disk(path))
    assert facts.format in ("unknown", "raw")
    assert facts.footer is None


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_unusable_paths_raise_disk_error(tmp_path: Path, make: str) -> None:
    path = tmp_path / "x.vhd"
    if make == "directory":
        path.mkdir()
    with pytest.raises(DiskError) as info:
        inspect_disk(path)
    assert isinstance(info.value, FactError)
    assert str(path) in str(info.value)
    assert ("no such file" if make == "missing" else "is a directory") in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_raises_disk_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.vhd"
    path.write_bytes(b"\0" * 1024)
    path.chmod(0)
    with pytest.raises(DiskError, match="permission denied"):
        inspect_disk(path)


def test_fifo_is_not_a_disk(tmp_path: Path) -> None:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # a writer, so opening does not block
    try:
        with pytest.raises(DiskError, match="not a regular file"):
            inspect_disk(path)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- partitions


@need("sfdisk")
@pytest.mark.parametrize("first", [63, 2048])
def test_mbr_first_partition_start(tmp_path: Path, first: int) -> None:
    raw = sparse_file(tmp_path / "mbr.raw", 64 * MIB)
    seen = partition(raw, f"label: dos\nstart={first}, size=40M, type=83, bootable\ntype=82\n")
    facts = roundtrip(inspect_disk(raw))
    table = facts.partition_table
    assert facts.format == "raw" and table is not None and table.scheme == "mbr"
    assert [(p.start_sector, p.size_sectors) for p in facts.partitions] == [
        (p["start"], p["size"]) for p in seen
    ]
    first_part = table.first_partition()
    assert first_part is not None and first_part.start_sector == first
    root, swap = facts.partitions
    assert root.bootable and root.role == "linux" and root.type_name == "Linux"
    assert swap.role == "swap" and swap.type_code == "0x82" and swap.type_name == "Linux swap"
    assert root.partuuid == f"{table.disk_id}-01" and len(table.disk_id) == 8
    assert not root.beyond_disk_end


@need("sfdisk")
def test_mbr_extended_and_logical_partitions(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "ext.raw", 96 * MIB)
    seen = partition(
        raw,
        f"label: dos\n{raw}1 : start=2048, size=20M, type=83\n{raw}2 : size=70M, type=5\n"
        f"{raw}5 : size=20M, type=8e\n{raw}6 : size=20M, type=82\n",
    )
    facts = roundtrip(inspect_disk(raw))
    got = [(p.index, p.kind, p.type_code, p.start_sector, p.size_sectors) for p in facts.partitions]
    assert [(i, k) for i, k, *_ in got] == [(1, "primary"), (2, "extended"), (5, "logical"), (6, "logical")]
    by_index = {p.index: p for p in facts.partitions}
    for part in seen:
        index = int(part["node"].rsplit("raw", 1)[1])
        assert (by_index[index].start_sector, by_index[index].size_sectors) == (part["start"], part["size"])
    assert by_index[5].role == "lvm" and by_index[6].role == "swap"
    assert facts.partition_table is not None and not facts.partition_table.errors
    assert facts.partition_table.first_partition() == by_index[1]


def test_mbr_ebr_loop_is_bounded(tmp_path: Path) -> None:
    """An EBR whose link points back at itself ends the chain with an error."""

    def boot_record(*entries: tuple[int, int, int]) -> bytes:
        raw = bytearray(512)
        for i, (ptype, start, count) in enumerate(entries):
            raw[446 + 16 * i + 4] = ptype
            raw[446 + 16 * i + 8 : 446 + 16 * i + 16] = struct.pack("<II", start, count)
        raw[510:512] = b"\x55\xaa"
        return bytes(raw)

    path = sparse_file(tmp_path / "loop.raw", 64 * MIB)
    with open(path, "r+b") as fh:
        fh.write(boot_record((0x05, 2048, 100000)))
        fh.seek(2048 * 512)
        fh.write(boot_record((0x83, 63, 1000), (0x05, 1, 1000)))  # next EBR at 2048 + 1
        fh.write(boot_record((0x83, 63, 1000), (0x05, 1, 1000)))  # ... which links to itself
    facts = inspect_disk(path)
    table = facts.partition_table
    assert table is not None and any("loops" in e for e in table.errors)
    assert [(p.index, p.kind, p.start_sector) for p in facts.partitions] == [
        (1, "extended", 2048),
        (5, "logical", 2048 + 63),
        (6, "logical", 2049 + 63),
    ]


@need("sfdisk")
def test_gpt_types_names_and_crcs(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "gpt.raw", 128 * MIB)
    seen = partition(
        raw,
        "label: gpt\n"
        "start=2048, size=1M, type=21686148-6449-6E6F-744E-656564454649, name=bios\n"
        "size=20M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\n"
        "size=40M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n"
        "size=20M, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap\n"
        "size=20M, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=lvm\n",
    )
    facts = roundtrip(inspect_disk(raw))
    table = facts.partition_table
    assert table is not None and table.scheme == "gpt" and table.protective_mbr
    assert table.gpt_header_crc_ok and table.gpt_entries_crc_ok
    roles = [(p.index, p.role, p.type_name, p.name) for p in facts.partitions]
    assert roles == [
        (1, "bios_boot", "BIOS boot", "bios"),
        (2, "efi", "EFI System", "esp"),
        (3, "linux", "Linux filesystem", "root"),
        (4, "swap", "Linux swap", "swap"),
        (5, "lvm", "Linux LVM", "lvm"),
    ]
    for part, want in zip(facts.partitions, seen, strict=True):
        assert (part.start_sector, part.size_sectors) == (want["start"], want["size"])
        assert part.partuuid == want["uuid"].lower()
        assert part.type_code == want["type"]


@need("sfdisk")
def test_gpt_corrupt_entries_and_huge_count(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "gpt.raw", 16 * MIB)
    partition(raw, "label: gpt\nstart=2048, type=L\n")
    with open(raw, "r+b") as fh:
        fh.seek(2 * 512 + 60)  # inside entry 1's unique GUID
        fh.write(b"\xff")
    table = inspect_disk(raw).partition_table
    assert table is not None and table.gpt_header_crc_ok and table.gpt_entries_crc_ok is False
    with open(raw, "r+b") as fh:  # claim 4 million entries (header CRC now wrong too)
        fh.seek(512 + 80)
        fh.write(struct.pack("<I", 4_000_000))
    facts = inspect_disk(raw)
    table = facts.partition_table
    assert table is not None and table.scheme == "gpt" and not table.gpt_header_crc_ok
    assert any("4000000" in e for e in table.errors)
    assert facts.bytes_read < 2 * MIB


def test_lvm_physical_volume_label(tmp_path: Path) -> None:
    """A hand-written LVM2 label (pvcreate needs a block device)."""
    pv_uuid = "abcdef0123456789ABCDEF0123456789"
    label = bytearray(512)
    label[0:8] = b"LABELONE"
    label[8:16] = struct.pack("<Q", 1)
    label[20:24] = struct.pack("<I", 32)
    label[24:32] = b"LVM2 001"
    label[32:64] = pv_uuid.encode()
    label[16:20] = struct.pack("<I", zlib.crc32(bytes(label[20:])))
    path = sparse_file(tmp_path / "pv.raw", 8 * MIB)
    with open(path, "r+b") as fh:
        fh.seek(512)
        fh.write(label)
    facts = inspect_disk(path)
    assert facts.whole_disk_fs is not None and facts.whole_disk_fs.type == "lvm2_pv"
    assert facts.whole_disk_fs.uuid == "abcdef-0123-4567-89AB-CDEF-0123-456789"
    assert "LVM" in facts.root_fs.reason or "no ext2/3/4" in facts.root_fs.reason


# ---------------------------------------------------------------------------- root file systems


@need("sfdisk", "mkfs.ext4", "debugfs", "mkswap", "qemu-img")
def test_dirty_ext4_root_in_fixed_vhd(tmp_path: Path, tree) -> None:
    raw = sparse_file(tmp_path / "os.raw", 128 * MIB)
    partition(raw, "label: gpt\nstart=2048, size=80M, type=L\ntype=S\n")
    place(raw, mkext4(tree(DIRTY_ROOT), tmp_path / "root.img", 80 * MIB, ROOT_UUID), 2048)
    place(raw, mkswap(tmp_path / "swap.img", 40 * MIB, uuid_=SWAP_UUID), 2048 + 80 * 2048)
    vhd = to_vhd(raw, tmp_path / "os.vhd")
    before = hashlib.sha256(vhd.read_bytes()).hexdigest()
    mtime = vhd.stat().st_mtime_ns

    facts = roundtrip(inspect_disk(vhd))
    root = facts.root_fs
    assert root.readable, root.reason
    assert (root.partition_index, root.fs_type, root.reader) == (1, "ext4", "debugfs")
    assert root.os_release["ID"] == "ubuntu" and root.os_release["VERSION_ID"] == "16.04"
    assert root.hostname == "build-host-17"
    assert root.resolv_conf is not None and root.resolv_conf.kind == "file"
    assert root.resolv_conf_text is not None and "10.0.0.2" in root.resolv_conf_text
    assert sorted(e.path for e in root.dhcp_leases) == [
        "/var/lib/NetworkManager/internal-1234-eth0.lease",
        "/var/lib/dhcp/dhclient.eth0.leases",
    ]
    histories = {(h.user, h.path.rsplit("/", 1)[1]): (h.size, h.shell) for h in root.shell_histories}
    assert histories == {
        ("root", ".bash_history"): (len(DIRTY_ROOT["root/.bash_history"]), True),
        ("alice", ".bash_history"): (len(DIRTY_ROOT["home/alice/.bash_history"]), True),
        ("alice", ".python_history"): (len("import os\n"), False),
        ("bob", ".zsh_history"): (0, True),
    }
    assert root.home_users == ["alice", "bob", "root"]
    assert sorted(k.path.rsplit("/", 1)[1] for k in root.ssh_host_keys) == [
        "ssh_host_ed25519_key",
        "ssh_host_ed25519_key.pub",
        "ssh_host_rsa_key",
    ]
    assert root.waagent_conf == {
        "Provisioning.RegenerateSshHostKeyPair": "y",
        "AutoUpdate.Enabled": "n",
    }
    assert [e.spec for e in root.fstab] == [
        f"UUID={ROOT_UUID}",
        f"UUID={SWAP_UUID}",
        "/dev/disk/by-label/My Data",
    ]
    root_part, swap = facts.partitions
    assert root_part.content is not None and root_part.content.uuid == ROOT_UUID
    assert swap.content is not None and swap.content.type == "swap"
    assert [e.mountpoint for e in facts.fstab_references(swap)] == ["none"]
    assert [e.mountpoint for e in facts.fstab_references(root_part)] == ["/"]
    # private key material never reaches the facts
    assert "TOPSECRET" not in facts.to_json() and "secret-tool" not in facts.to_json()
    # the file is untouched
    assert hashlib.sha256(vhd.read_bytes()).hexdigest() == before and vhd.stat().st_mtime_ns == mtime

    files = read_root_files(vhd, facts, ["/etc/hostname", "/etc/ssh/ssh_host_rsa_key", "/nope", "/etc"])
    assert files == {
        "/etc/hostname": b"build-host-17\n",
        "/etc/ssh/ssh_host_rsa_key": SECRET.encode(),
        "/nope": None,
        "/etc": None,
    }
    listing = list_dir(vhd, facts, "/var/lib/dhcp")
    assert listing is not None and sorted(e.path for e in listing) == [
        "/var/lib/dhcp/README",
        "/var/lib/dhcp/dhclient.eth0.leases",
    ]
    assert list_dir(vhd, facts, "/does/not/exist") is None


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_clean_ext4_root_mbr_raw(tmp_path: Path, tree) -> None:
    raw = sparse_file(tmp_path / "os.raw", 64 * MIB)
    partition(raw, "label: dos\nstart=2048, type=83\n")
    place(raw, mkext4(tree(CLEAN_ROOT), tmp_path / "root.img", 63 * MIB), 2048)
    facts = roundtrip(inspect_disk(raw))
    root = facts.root_fs
    assert root.readable and root.partition_index == 1
    assert root.hostname == "localhost.localdomain"
    assert root.resolv_conf is not None and root.resolv_conf.kind == "symlink"
    assert root.resolv_conf.target == "../run/systemd/resolve/stub-resolv.conf"
    assert root.resolv_conf_text is None  # /run is not on the disk
    assert root.dhcp_leases == [] and root.shell_histories == [] and root.ssh_host_keys == []
    assert root.os_release["ID"] == "debian"  # through the os-release symlink
    assert root.home_users == ["root"]
    assert root.waagent_conf is not None and root.waagent_conf["Provisioning.DeleteRootPassword"] == "y"
    assert not root.errors


@need("mkfs.ext4", "debugfs")
def test_ext4_on_the_whole_disk(tmp_path: Path, tree) -> None:
    image = mkext4(tree(CLEAN_ROOT), tmp_path / "whole.img", 32 * MIB)
    facts = inspect_disk(image)
    assert facts.format == "raw" and facts.whole_disk_fs is not None
    assert facts.whole_disk_fs.type == "ext4"
    assert facts.partition_table is not None and facts.partition_table.scheme == "none"
    assert facts.root_fs.readable and facts.root_fs.partition_index is None


@need("sfdisk", "mkfs.ext4")
def test_debugfs_missing_is_a_reason(tmp_path: Path, tree, monkeypatch) -> None:
    raw = sparse_file(tmp_path / "os.raw", 64 * MIB)
    partition(raw, "label: dos\nstart=2048, type=83\n")
    place(raw, mkext4(tree(CLEAN_ROOT), tmp_path / "root.img", 63 * MIB), 2048)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    facts = inspect_disk(raw)
    assert not facts.root_fs.readable and "debugfs (e2fsprogs) is not installed" in facts.root_fs.reason
    with pytest.raises(DiskError, match="not readable"):
        read_root_files(raw, facts, ["/etc/fstab"])


@need("sfdisk", "mkfs.xfs", "qemu-img")
@pytest.mark.parametrize("subformat", ["fixed", "dynamic"])
def test_xfs_root(tmp_path: Path, tree, subformat: str) -> None:
    spec = dict(DIRTY_ROOT)
    spec.update({f"var/lib/dhcp/old{i:03d}.leases": f"lease {i}\n" for i in range(300)})  # block/leaf dir
    spec["etc/big.conf"] = "x" * 200_000  # several blocks
    spec["etc/longlink"] = ("symlink", "/usr/" + "a" * 400)  # remote symlink
    raw = sparse_file(tmp_path / "os.raw", 400 * MIB)
    partition(raw, "label: gpt\nstart=2048, size=330M, type=L\ntype=S\n")
    place(raw, mkxfs(tree(spec), tmp_path / "root.xfs", 330 * MIB), 2048)
    vhd = to_vhd(raw, tmp_path / "os.vhd", subformat)
    facts = roundtrip(inspect_disk(vhd))
    part = facts.partitions[0]
    assert part.content is not None and part.content.type == "xfs" and part.content.version == "xfs v5"
    root = facts.root_fs
    assert root.readable, root.reason
    assert (root.fs_type, root.reader) == ("xfs", "builtin-xfs")
    assert root.hostname == "build-host-17" and root.os_release["ID"] == "ubuntu"
    assert len(root.dhcp_leases) == 302  # 300 + dhclient + NetworkManager
    assert {h.path for h in root.shell_histories} == {
        "/root/.bash_history",
        "/home/alice/.bash_history",
        "/home/alice/.python_history",
        "/home/bob/.zsh_history",
    }
    assert len(root.ssh_host_keys) == 3 and root.waagent_conf is not None
    assert facts.bytes_read < 4 * MIB
    got = read_root_files(vhd, facts, ["/etc/big.conf", "/var/lib/dhcp/old299.leases"])
    assert got == {"/etc/big.conf": b"x" * 200_000, "/var/lib/dhcp/old299.leases": b"lease 299\n"}
    etc = {e.path: e for e in list_dir(vhd, facts, "/etc") or []}
    assert etc["/etc/longlink"].target == "/usr/" + "a" * 400


# ---------------------------------------------------------------------------- size and cost


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_one_tib_sparse_fixed_vhd_reads_little(tmp_path: Path, tree) -> None:
    size = 1024 * GIB
    path = sparse_file(tmp_path / "big.vhd", size)
    partition(path, "label: gpt\nstart=2048, size=64M, type=L\ntype=S\n")
    place(path, mkext4(tree(DIRTY_ROOT), tmp_path / "root.img", 64 * MIB), 2048)
    with open(path, "ab") as fh:
        fh.write(vhd_footer(size))
    facts = inspect_disk(path)
    assert facts.format == "vhd" and facts.footer is not None and facts.footer.checksum_ok
    assert facts.virtual_size == size and facts.apparent_size == size + 512
    assert [p.role for p in facts.partitions] == ["linux", "swap"]
    assert facts.partitions[1].size_bytes > 1000 * GIB
    assert facts.root_fs.readable and facts.root_fs.hostname == "build-host-17"
    assert facts.bytes_read < 8 * MIB
    assert facts.allocated_size < 64 * MIB
    assert facts.data_bytes is not None and facts.data_bytes < 64 * MIB


def test_allocation_of_a_fully_written_file(tmp_path: Path) -> None:
    path = tmp_path / "full.raw"
    path.write_bytes(b"\1" * (2 * MIB))
    facts = inspect_disk(path)
    assert facts.data_bytes == 2 * MIB
    assert facts.allocated_size >= 2 * MIB
