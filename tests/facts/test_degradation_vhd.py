"""VHD degradation harness (issue 8, bullet 3): for small fixture VHDs (ext4 and XFS,
compliant and violating), truncate, zero or corrupt each block the reader touched, and
assert that VHD-006 and VHD-009 never become PASSED where the intact image did not pass.

"Touched" is recorded, not guessed: every read of the image file by this process (the
VHD footer, the partition tables, the file-system probes, the built-in XFS reader) and,
for ext4, the blocks behind every debugfs command (the inode-table block of each inode on
each looked-up path, from ``imap``, and its data blocks, from ``blocks``; plus the
superblock and group descriptors).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts import _debugfs, disk
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError

from .conftest import (
    CLEAN_ROOT,
    MIB,
    fs_image,
    mkswap,
    need,
    partition,
    place,
    sparse_file,
    to_vhd,
    write_tree,
)

GUIDE = load_profile("guide-2016")
SWAP_UUID = "5f5f5f5f-aaaa-bbbb-cccc-ddddeeeeffff"
VIOLATING = {
    **CLEAN_ROOT,
    "etc/fstab": CLEAN_ROOT["etc/fstab"] + f"UUID={SWAP_UUID} none swap sw 0 0\n",
    "root/.bash_history": "scp build@10.0.0.9:/secrets .\n",  # the only VHD-009 finding
}
CHECKS = {"VHD-006": checks.check_vhd_partition_layout, "VHD-009": checks.check_vhd_deprovisioned}
# random corruptions per block: debugfs runs make an ext4 judgement ~10x slower than XFS
# (only a block of a violating image can flip; the compliant ones check for crashes)
RANDOM_CORRUPTIONS = {"ext4-violating": 2, "ext4-compliant": 0, "xfs-violating": 14, "xfs-compliant": 6}
SIZES = (1, 2, 4, 8, 32, 128)  # bytes changed by one random corruption


@dataclass
class Fixture:
    name: str
    path: Path
    baseline: dict[str, str]
    units: list[tuple[int, int]]  # (offset, size) of each touched block


def judge(path: Path) -> dict[str, str]:
    """VHD-006 and VHD-009 on a file: passed/failed/warning/not_applicable, error or crash."""
    try:
        facts = disk.inspect_disk(path)
    except disk.DiskError:
        return dict.fromkeys(CHECKS, "error")
    results = {}
    for req, check in CHECKS.items():
        try:
            results[req] = check(facts, GUIDE).result.value
        except FactError:
            results[req] = "error"
        except Exception as exc:  # noqa: BLE001 - a crash is an error, recorded
            results[req] = f"crash: {type(exc).__name__}: {exc}"
    return results


def build(tmp: Path, fs: str, spec: dict, with_swap: bool) -> Path:
    image = fs_image(write_tree(tmp / "tree", spec), tmp / "root.img", fs)
    size = image.stat().st_size
    raw = sparse_file(tmp / "disk.raw", size + 8 * MIB)
    swap = f"start={2048 + size // 512}, size=4MiB, type=S\n" if with_swap else ""
    partition(raw, f"label: gpt\nstart=2048, size={size // 512}, type=L\n{swap}")
    place(raw, image, 2048)
    if with_swap:
        place(raw, mkswap(tmp / "swap.img", 4 * MIB, uuid_=SWAP_UUID), 2048 + size // 512)
    vhd = to_vhd(raw, tmp / f"{fs}.vhd")
    raw.unlink()
    return vhd


def ext4_blocks(vhd: Path, facts: disk.DiskFacts, commands: list[str]) -> list[tuple[int, int]]:
    """File offsets of the ext4 blocks behind debugfs commands: inode-table block and data
    blocks of every path component asked about, the superblock and group descriptors."""
    part = next(p for p in facts.partitions if p.content and p.content.type.startswith("ext"))
    bs, start = part.content.block_size, part.start_bytes
    paths: set[str] = set()
    inodes: set[str] = set()
    for cmd in commands:
        m = re.match(r'(?:stat|ls -p|dump) "([^"]*)"', cmd)
        if m:
            parts = [p for p in m.group(1).split("/") if p]
            paths.update("/" + "/".join(parts[:i]) for i in range(len(parts) + 1))
        m = re.match(r"dump (<\d+>)", cmd)
        if m:
            inodes.add(m.group(1))
    specs = sorted(f'"{p}"' for p in paths) + sorted(inodes)
    script = "".join(f"imap {s}\nblocks {s}\n" for s in specs)
    with open(vhd, "rb") as fh:
        out = subprocess.run(
            ["debugfs", "-c", "-f", "-", f"/dev/fd/{fh.fileno()}?offset={start}"],
            input=script,
            capture_output=True,
            text=True,
            pass_fds=(fh.fileno(),),
            check=True,
        ).stdout
    blocks = {0, 1, 2} if bs == 1024 else {0, 1}  # boot/superblock and group descriptors
    blocks.update(int(b) for b in re.findall(r"located at block (\d+)", out))
    asked = ""
    for line in out.splitlines():
        if line.startswith("debugfs: "):
            asked = line
        elif asked.startswith("debugfs: blocks") and re.fullmatch(r"(\d+ ?)+", line.strip()):
            blocks.update(int(b) for b in line.split())
    return [(start + b * bs, bs) for b in sorted(blocks) if (b + 1) * bs <= part.size_bytes]


def record(vhd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[int, int]], dict[str, str]]:
    """The blocks one inspection reads, and its verdicts."""
    reads: list[tuple[int, int]] = []
    commands: list[str] = []
    real_pread, real_run = disk._File.pread, _debugfs.DebugfsReader._run

    def pread(self, offset, size):
        data = real_pread(self, offset, size)
        reads.append((offset, len(data)))
        return data

    def run(self, cmds):
        commands.extend(cmds)
        return real_run(self, cmds)

    with monkeypatch.context() as m:
        m.setattr(disk._File, "pread", pread)
        m.setattr(_debugfs.DebugfsReader, "_run", run)
        baseline = judge(vhd)
        facts = disk.inspect_disk(vhd)
    units: set[tuple[int, int]] = set()
    for offset, size in reads:
        for at in range(offset - offset % 512, offset + size, 4096):  # 4 KiB units, sector aligned
            units.add((at, min(4096, offset + size - at)))
    if commands:
        units.update(ext4_blocks(vhd, facts, commands))
    return sorted(u for u in units if u[1] > 0), baseline


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> list[Fixture]:
    made = []
    monkeypatch = pytest.MonkeyPatch()
    try:
        for fs in ("ext4", "xfs"):
            for name, spec, swap in (("violating", VIOLATING, True), ("compliant", CLEAN_ROOT, False)):
                vhd = build(tmp_path_factory.mktemp(f"{fs}-{name}"), fs, spec, swap)
                units, baseline = record(vhd, monkeypatch)
                made.append(Fixture(f"{fs}-{name}", vhd, baseline, units))
    finally:
        monkeypatch.undo()
    return made


def mutations(fixture: Fixture):
    """(label, offset, size, function that changes the open file) for every touched block;
    nothing outside [offset, offset + size) changes (size None: truncation, all after)."""
    for offset, size in fixture.units:
        rng = random.Random(f"{fixture.name}:{offset}")
        yield "zero", offset, size, lambda fd, o=offset, n=size: os.pwrite(fd, bytes(n), o)
        if fixture.name == "ext4-compliant":
            continue
        yield "ones", offset, size, lambda fd, o=offset, n=size: os.pwrite(fd, b"\xff" * n, o)
        yield "truncate", offset, None, lambda fd, o=offset: os.ftruncate(fd, o)
        for k in range(RANDOM_CORRUPTIONS[fixture.name]):
            count = SIZES[k % len(SIZES)]
            edits = [(offset + rng.randrange(size), rng.randrange(256)) for _ in range(count)]
            yield (
                f"corrupt{count}",
                offset,
                size,
                lambda fd, e=edits: [os.pwrite(fd, bytes([v]), at) for at, v in e],
            )


def degrade(fixtures: list[Fixture], below: int | None = None) -> tuple[int, list[str], dict[str, int]]:
    """Every mutation of every fixture (of blocks below byte ``below`` when given): how
    many were tried, the flips to PASSED, and how often each result came out."""
    tried, flips, outcomes = 0, [], {}
    for fixture in fixtures:
        original = fixture.path.read_bytes()
        for kind, offset, size, mutate in mutations(fixture):
            if below is not None and offset >= below:
                continue
            fd = os.open(fixture.path, os.O_RDWR)
            try:
                mutate(fd)
                results = judge(fixture.path)
            finally:  # put back what changed
                end = len(original) if size is None else offset + size
                os.pwrite(fd, original[offset:end], offset)
                os.close(fd)
            tried += 1
            for req, result in results.items():
                outcomes[result.split(":")[0]] = outcomes.get(result.split(":")[0], 0) + 1
                if result == "passed" and fixture.baseline[req] != "passed":
                    flips.append(f"{fixture.name} {kind}@{offset}: {req} {fixture.baseline[req]} -> passed")
        assert fixture.path.read_bytes() == original, f"{fixture.name}: not restored"
    return tried, flips, outcomes


@need("sfdisk", "mkfs.ext4", "debugfs", "mkfs.xfs", "mkswap", "qemu-img")
def test_no_degraded_vhd_passes_where_the_intact_one_did_not(fixtures: list[Fixture], capsys) -> None:
    expected = {
        "ext4-violating": {"VHD-006": "failed", "VHD-009": "failed"},
        "ext4-compliant": {"VHD-006": "passed", "VHD-009": "passed"},
        "xfs-violating": {"VHD-006": "failed", "VHD-009": "failed"},
        "xfs-compliant": {"VHD-006": "passed", "VHD-009": "passed"},
    }
    assert {f.name: f.baseline for f in fixtures} == expected
    started = time.monotonic()
    tried, flips, outcomes = degrade(fixtures)
    elapsed = time.monotonic() - started
    with capsys.disabled():  # the count belongs in the CI log
        print(
            f"\nvhd degradation: {tried} mutations, {len(flips)} flips ({elapsed:.1f} s; results {outcomes})"
        )
    assert tried >= 1000
    assert not flips, "\n".join(flips[:20])


@need("sfdisk", "mkfs.ext4", "debugfs", "mkfs.xfs", "mkswap", "qemu-img")
def test_the_harness_finds_flips_when_a_corrupt_partition_table_is_trusted(fixtures, monkeypatch) -> None:
    """The harness has teeth: with the check trusting a corrupt partition table (as before
    issue 8), mutating the partition-table blocks alone flips VHD-006 to PASSED."""

    def trusting(disk):
        if not disk.content_readable:
            raise FactError("partition layout not read")

    monkeypatch.setattr(checks, "_layout", trusting)
    xfs = [f for f in fixtures if f.name == "xfs-violating"]
    tried, flips, _ = degrade(xfs, below=64 * 1024)
    assert tried > 0 and any("VHD-006 failed -> passed" in flip for flip in flips), flips
