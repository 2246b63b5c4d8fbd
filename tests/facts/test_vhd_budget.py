"""Bounded disk inspection (issue 8, bullet 4): crafted images that would make a naive
reader hang or fill /tmp end with an error naming the budget, each in under 10 s.

Each image is made with the real tools (mkfs.xfs -p, mkfs.ext4 -d, debugfs -w) and then
patched byte by byte where no tool writes such corruption.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts import _debugfs
from pytest_vmimage.facts._xfs import XfsReader, xfs_checksum
from pytest_vmimage.facts.disk import Budget, BudgetExceeded, Meter, inspect_disk
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError

from .conftest import CLEAN_ROOT, debugfs_write, fs_image, gpt_disk, need, patch, xfs_inode_offset

GUIDE = load_profile("guide-2016")
LIMIT_SECONDS = 10


def judged_in_time(disk: Path) -> tuple[str, float]:
    """VHD-009 on ``disk``: it must be an error; returns its message and the seconds taken."""
    started = time.monotonic()
    with pytest.raises(FactError) as caught:
        checks.check_vhd_deprovisioned(inspect_disk(disk), GUIDE)
    elapsed = time.monotonic() - started
    print(f"crafted image judged in {elapsed:.2f} s: {caught.value}")
    assert elapsed < LIMIT_SECONDS
    return str(caught.value), elapsed


def xfs_reader(image: Path) -> tuple[XfsReader, object]:
    fh = open(image, "rb")
    return XfsReader(lambda off, n: os.pread(fh.fileno(), n, off)), fh


@need("sfdisk", "mkfs.xfs")
def test_xfs_btree_with_a_crafted_huge_fan_out_ends_with_the_budget(tmp_path: Path, tree) -> None:
    image = fs_image(tree(CLEAN_ROOT), tmp_path / "root.img", "xfs")
    reader, fh = xfs_reader(image)
    with fh:
        ino_at = xfs_inode_offset(image, "/root")
        raw = os.pread(fh.fileno(), reader.inodesize, ino_at)
        assert raw[4] == 3, "a v5 (inode version 3) file system"
        bs = reader.blocksize
        # eight free blocks at the end of AG 0: levels 7..1 are nodes whose every pointer
        # leads to the next level; level 0 is an empty leaf. 20 * 251**6 paths, 8 blocks.
        base = reader.agblocks - 16
        maxrecs = (bs - 72) // 16
        for level in range(8):
            block = bytearray(bs)
            numrecs = maxrecs if level else 0
            block[0:8] = b"BMA3" + struct.pack(">HH", level, numrecs)
            ptr_at = 72 + maxrecs * 8
            for i in range(numrecs):
                block[72 + 8 * i : 80 + 8 * i] = struct.pack(">Q", i)
                block[ptr_at + 8 * i : ptr_at + 8 * i + 8] = struct.pack(">Q", base + level - 1)
            block[64:68] = struct.pack("<I", xfs_checksum(bytes(block), 64))
            patch(image, (base + level) * bs, bytes(block))
    # /root: data fork in B+tree format (3), root of level 8 pointing at level 7
    fork = bytearray(reader.inodesize - 176)
    inode_maxrecs = (len(fork) - 4) // 16
    fork[0:4] = struct.pack(">HH", 8, inode_maxrecs)
    for i in range(inode_maxrecs):
        fork[4 + 8 * i : 12 + 8 * i] = struct.pack(">Q", i)
        at = 4 + inode_maxrecs * 8 + 8 * i
        fork[at : at + 8] = struct.pack(">Q", base + 7)
    inode = bytearray(raw)
    inode[5] = 3
    inode[176 : 176 + len(fork)] = fork
    inode[100:104] = struct.pack("<I", xfs_checksum(bytes(inode), 100))  # a valid CRC: only the tree lies
    patch(image, ino_at, bytes(inode))
    message, _ = judged_in_time(gpt_disk(image, tmp_path / "d.raw"))
    assert "budget exhausted" in message and "Budget." in message


@need("sfdisk", "mkfs.xfs")
def test_self_referencing_xfs_directory_with_a_long_symlink_chain_ends_with_the_budget(
    tmp_path: Path, tree
) -> None:
    chain = "d/" * 480
    files = {**CLEAN_ROOT, "d/d/": "", "root/.bash_history": ("symlink", "/d/s1")}
    files.update({f"d/{'n' * 200}{i:04d}": "" for i in range(1000)})  # a 220 KB directory
    files.update({f"d/s{i}": ("symlink", f"{chain}s{i + 1}") for i in range(1, 12)})
    image = fs_image(tree(files), tmp_path / "root.img", "xfs")
    reader, fh = xfs_reader(image)
    with fh:
        d = reader._lookup("/d").ino
        child = reader._lookup("/d/d").ino
    # the entry "d" of /d points back at /d itself: /d/d/d/... is /d, forever
    data = image.read_bytes()
    needle = struct.pack(">Q", child) + b"\x01d"
    assert data.count(needle) == 1
    at = data.index(needle)
    patch(image, at, struct.pack(">Q", d))
    start = at // reader.blocksize * reader.blocksize  # the directory block, its CRC made valid again
    block = bytearray(image.read_bytes()[start : start + reader.blocksize])
    assert block[:4] in (b"XDB3", b"XDD3")
    block[4:8] = struct.pack("<I", xfs_checksum(bytes(block), 4))
    patch(image, start, bytes(block))
    message, _ = judged_in_time(gpt_disk(image, tmp_path / "d.raw"))
    assert "budget exhausted" in message


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_ext4_symlink_with_an_inflated_size_is_not_dumped(tmp_path: Path, tree, monkeypatch) -> None:
    target = "/var/" + "x" * 80  # longer than 60 bytes: a slow symlink, its target in a block
    image = fs_image(
        tree({**CLEAN_ROOT, "root/.bash_history": ("symlink", target)}), tmp_path / "r.img", "ext4"
    )
    debugfs_write(image, "set_inode_field /root/.bash_history size 0x40000000")
    dumps: list[list[str]] = []
    real = _debugfs.DebugfsReader._dump
    monkeypatch.setattr(
        _debugfs.DebugfsReader, "_dump", lambda self, s, n: dumps.append(s) or real(self, s, n)
    )
    message, _ = judged_in_time(gpt_disk(image, tmp_path / "d.raw"))
    assert "/root/.bash_history" in message and "1073741824 bytes" in message
    assert not any(spec.startswith("<") for specs in dumps for spec in specs)


@need("mkfs.ext4", "debugfs")
def test_debugfs_writing_more_than_the_temp_budget_is_stopped(tmp_path: Path, tree) -> None:
    image = fs_image(tree({**CLEAN_ROOT, "etc/big": "x" * (1 << 20)}), tmp_path / "r.img", "ext4")
    with open(image, "rb") as fh:
        reader = _debugfs.DebugfsReader(fh.fileno(), 0, Meter(Budget(temp_bytes=64 * 1024)))
        started = time.monotonic()
        with pytest.raises(BudgetExceeded, match="temp budget exhausted.*Budget.temp_bytes"):
            reader.read_many(["/etc/big"], 1 << 20)
        assert time.monotonic() - started < LIMIT_SECONDS


@need("sfdisk", "mkfs.ext4", "debugfs")
def test_the_time_budget_stops_a_slow_read(tmp_path: Path, tree) -> None:
    image = fs_image(tree(CLEAN_ROOT), tmp_path / "r.img", "ext4")
    facts = inspect_disk(gpt_disk(image, tmp_path / "d.raw"), budget=Budget(seconds=0.001))
    reasons = " ".join([facts.root_fs.reason, *facts.root_fs.unreadable.values()])
    assert "time budget exhausted" in reasons and "Budget.seconds" in reasons
    with pytest.raises(FactError):
        checks.check_vhd_deprovisioned(facts, GUIDE)
