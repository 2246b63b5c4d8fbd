"""Directories with more than MAX_DIR_ENTRIES (4096) entries, in every file-system reader.

A lookup of one name must read the directory whole (or be told by the file system's own
index) before it may answer "absent"; a listing cut at the limit is Unreadable naming the
directory. Review F3: an XFS /root with 5000 files hid /root/.bash_history and LNX-023 passed.
Images are made with the real tools (mkfs.xfs -p, mkfs.ext4 -d); the FAT limit is covered by
tests/facts/test_vhd_generation.py (an ESP directory with > 4096 entries is an error).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux as checks
from pytest_vmimage.facts import _xfs, linux_image
from pytest_vmimage.facts._debugfs import DebugfsReader
from pytest_vmimage.facts._xfs import XfsReader
from pytest_vmimage.facts.disk import MAX_DIR_ENTRIES, FileEntry, Unreadable
from pytest_vmimage.facts.linux_image import read_linux_image
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import Result

from .conftest import MIB, mkext4, need, sparse_file, write_tree, xfs_protofile

HISTORY = "curl -u admin:secret https://build.example\n"
MANY = 5000  # > MAX_DIR_ENTRIES; the names sort before ".bash_history", so it is added last


def big_root(count: int = MANY) -> dict:
    files: dict = {f"root/-{i:05d}": "" for i in range(count)}
    files["root/.bash_history"] = HISTORY
    return files


def mkxfs_with(tree: Path, image: Path, *options: str) -> Path:
    proto = image.with_suffix(".proto")
    proto.write_text(xfs_protofile(tree))
    sparse_file(image, 330 * MIB)
    subprocess.run(
        ["mkfs.xfs", "-q", "-f", *options, "-p", str(proto), str(image)], check=True, capture_output=True
    )
    return image


def open_xfs(image: Path) -> tuple[XfsReader, int]:
    fd = os.open(image, os.O_RDONLY)
    return XfsReader(lambda off, n: os.pread(fd, n, off)), fd


def assert_found_whole_and_listing_cut_short(reader) -> None:
    """The file after 5000 others is found and read, the last of them too; a name not there
    is absent (read whole); the listing of /root says it was cut short."""
    stats = reader.lstat_many(["/root/.bash_history", "/root/.zsh_history", "/root/-04999"])
    assert isinstance(stats["/root/.bash_history"], FileEntry)
    assert isinstance(stats["/root/-04999"], FileEntry)
    assert stats["/root/.zsh_history"] is None
    assert reader.read_many(["/root/.bash_history"], 4096)["/root/.bash_history"] == HISTORY.encode()
    listing = reader.listdir_many(["/root"])["/root"]
    assert isinstance(listing, Unreadable)
    assert f"/root: more than {MAX_DIR_ENTRIES} entries; not all read" in listing.reason


@need("mkfs.xfs")
@pytest.mark.parametrize("options", [(), ("-n", "size=8192")], ids=["4k-dir-blocks", "8k-dir-blocks"])
def test_xfs_lookup_reads_a_directory_beyond_4096_entries_whole(tmp_path: Path, options) -> None:
    """The named file after 5000 others is found and read; a name not there is absent (the
    directory was read whole); the listing of that directory says it was cut short."""
    image = mkxfs_with(write_tree(tmp_path / "tree", big_root()), tmp_path / "root.xfs", *options)
    reader, fd = open_xfs(image)
    try:
        assert_found_whole_and_listing_cut_short(reader)
    finally:
        os.close(fd)


@need("mkfs.xfs")
def test_xfs_directory_over_the_byte_limit_is_unreadable_naming_it(tmp_path: Path, monkeypatch) -> None:
    """A directory the reader will not read whole: its listing, and a lookup that has to
    read it whole (no hash index used), are Unreadable naming the directory and the limit,
    never absent."""
    image = mkxfs_with(write_tree(tmp_path / "tree", big_root()), tmp_path / "root.xfs")
    monkeypatch.setattr(_xfs, "MAX_DIR_BYTES", 16384)
    monkeypatch.setattr(XfsReader, "use_hash_index", False)
    reader, fd = open_xfs(image)
    try:
        stats = reader.lstat_many(["/root/.bash_history", "/root/.zsh_history", "/etc"])
        listing = reader.listdir_many(["/root"])["/root"]
    finally:
        os.close(fd)
    for path in ("/root/.bash_history", "/root/.zsh_history"):
        assert isinstance(stats[path], Unreadable), (path, stats[path])
        assert "/root: directory inode" in stats[path].reason and "more than the 16384" in stats[path].reason
    assert stats["/etc"] is None  # the root directory is small: read whole, /etc not there
    assert isinstance(listing, Unreadable) and "more than the 16384" in listing.reason


# Names whose XFS hashes collide ("c000008" and "c100000" share one): equal hashes sit
# side by side in the leaves, and some pairs cross a leaf boundary (a lookup reads the next).
COLLIDING = [f"c{group}{i:05d}" for group in range(3) for i in range(1000)]
SHAPES = {"block": 40, "leaf": 300, "node": len(COLLIDING)}  # entries per directory


@need("mkfs.xfs")
@pytest.mark.parametrize(
    "options",
    [(), ("-n", "size=8192"), ("-m", "crc=0")],
    ids=["4k-dir-blocks", "8k-dir-blocks", "v4-no-crc"],
)
def test_xfs_hash_index_lookup_equals_reading_the_directory_whole(tmp_path: Path, options) -> None:
    """Block, leaf and node directories: every name looked up through the hash index finds
    the inode the whole directory lists, and names not there (some sharing a present name's
    hash) are absent both ways."""
    files = {f"{shape}/{name}": "" for shape, n in SHAPES.items() for name in COLLIDING[:n]}
    image = mkxfs_with(write_tree(tmp_path / "tree", files), tmp_path / "dirs.xfs", *options)
    assert _xfs.da_hashname(b"c000008") == _xfs.da_hashname(b"c100000")
    assert _xfs.da_hashname(b"c300000") == _xfs.da_hashname(b"c200008")  # c300000 is absent
    reader, fd = open_xfs(image)
    assert reader.v5 is ("crc=0" not in options)
    try:
        for shape, count in SHAPES.items():
            directory = reader._lookup(f"/{shape}")
            whole = dict(reader._iter_dir(directory))
            assert len(whole) == count
            extents = reader.extents(directory)
            leaf = _xfs.DIR_DATA_LIMIT >> reader.blocklog
            has_leaf = any(start <= leaf < start + n for start, _, n in extents)
            if shape == "block":
                assert not has_leaf
            elif shape == "node" or "-n" not in options:  # 300 entries fit one leaf of 4k blocks
                magic = _xfs._da_magic(reader._dir_block(directory, extents, leaf))
                assert magic in ((0xFEBE, 0x3EBE) if shape == "node" else (0xD2F1, 0x3DF1)), hex(magic)
            for name, ino in whole.items():
                assert reader._find(directory, name) == ino, (shape, name)
            for absent in ("c300000", "c999999", ".bash_history", "c00000", "c0000080"):
                assert reader._find(directory, absent) is None, (shape, absent)
    finally:
        os.close(fd)


@need("mkfs.xfs")
def test_xfs_shell_history_beyond_4096_entries_fails_lnx023(tmp_path: Path) -> None:
    """Review F3 through the offline suite: LNX-023 FAILED naming the history, not PASSED."""
    from tests.test_linux_image import BASE

    files = {k.lstrip("/"): v for k, v in BASE.items()} | big_root()
    files["etc/fstab"] = "LABEL=rootfs / xfs defaults 0 0\n"
    files["boot/grub/grub.cfg"] = (
        "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro console=ttyS0\n}\n"
    )
    image = mkxfs_with(write_tree(tmp_path / "tree", files), tmp_path / "root.xfs", "-L", "rootfs")
    verdict = linux_image.offline_verdict(
        checks.shell_history(read_linux_image(image), load_profile("guide-2016"))
    )
    assert verdict.result is Result.FAILED, verdict
    assert "/root/.bash_history" in verdict.message


@need("mkfs.ext4", "debugfs")
def test_ext4_lookup_beyond_4096_entries_is_debugfs_own_lookup(tmp_path: Path) -> None:
    """debugfs ``stat``/``dump`` of a path look the name up themselves (ext2fs_lookup reads
    the directory whole): the file after 5000 others is found; the listing is cut short."""
    image = mkext4(write_tree(tmp_path / "tree", big_root()), tmp_path / "root.ext4", 64 * MIB)
    fd = os.open(image, os.O_RDONLY)
    try:
        assert_found_whole_and_listing_cut_short(DebugfsReader(fd, 0))
    finally:
        os.close(fd)
