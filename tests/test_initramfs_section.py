"""The live ``initramfs_hv`` section (LNX-006) run by sh on real cpio archives.

A one-compressed-archive initramfs is listed in one pass (decompressor | cpio -t); the names
count only when both exit 0. Anything else goes to lsinitramfs / lsinitrd (here: a stub that
lists ``hv_fromstub.ko`` besides what it is given, so one can tell it ran), so a broken
one-pass read never decides the verdict.
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from pytest_vmimage.facts.linux import SECTIONS
from pytest_vmimage.facts.linux_parsers import parse_initramfs_modules
from tests.test_linux_image import _cpio

pytestmark = pytest.mark.skipif(shutil.which("cpio") is None, reason="needs GNU cpio (scripts/setup.sh installs it)")

RELEASE = "6.1.0-99-amd64"
MODULES = [
    f"usr/lib/modules/{RELEASE}/kernel/drivers/hv/hv_vmbus.ko",
    f"usr/lib/modules/{RELEASE}/kernel/drivers/scsi/hv_storvsc.ko.xz",
    f"usr/lib/modules/{RELEASE}/kernel/drivers/net/hyperv/hv_netvsc.ko",
]
PACK = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def run_section(tmp_path: Path, initrd: bytes, path_dirs: list[Path] | None = None) -> tuple[int, str]:
    """The section with /proc, /lib/modules and /boot moved under ``tmp_path``."""
    (tmp_path / "osrelease").write_text(RELEASE + "\n")
    (tmp_path / f"lib/modules/{RELEASE}").mkdir(parents=True, exist_ok=True)
    (tmp_path / f"lib/modules/{RELEASE}/modules.builtin").write_text("kernel/fs/ext4/ext4.ko\n")
    (tmp_path / "boot").mkdir(exist_ok=True)
    (tmp_path / f"boot/initrd.img-{RELEASE}").write_bytes(initrd)
    script = SECTIONS["initramfs_hv"][1]
    script = script.replace("/proc/sys/kernel/osrelease", str(tmp_path / "osrelease"))
    script = script.replace("/lib/modules/", f"{tmp_path}/lib/modules/").replace("/boot/", f"{tmp_path}/boot/")
    env = dict(os.environ)
    if path_dirs is not None:
        env["PATH"] = ":".join(str(p) for p in path_dirs)
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60, env=env)
    return done.returncode, done.stdout


def stub_tools(tmp_path: Path, lsinitramfs_output: str, rc: int = 0, drop: tuple[str, ...] = ()) -> list[Path]:
    """A PATH of symlinks to the real tools (minus ``drop``) and an ``lsinitramfs`` stub."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "od", "tr", "grep", "sort", "sed", "cpio", "gzip", "xz", "zstd", "cat", "printf"):
        real = shutil.which(tool)
        if real and tool not in drop:
            (bin_dir / tool).symlink_to(real)
    stub = bin_dir / "lsinitramfs"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' usr/lib/hv_fromstub.ko {lsinitramfs_output!r}\nexit {rc}\n")
    stub.chmod(0o755)
    return [bin_dir]


@pytest.mark.parametrize("compression", sorted(PACK))
def test_one_compressed_archive_is_listed_in_one_pass(tmp_path, compression):
    rc, out = run_section(tmp_path, PACK[compression](_cpio(MODULES)), stub_tools(tmp_path, "nothing"))
    assert rc == 0, out
    assert "hv_fromstub.ko" not in out  # lsinitramfs was not needed
    assert parse_initramfs_modules(out) == {"hv_vmbus", "hv_storvsc", "hv_netvsc"}


def test_an_archive_without_the_modules_lists_none(tmp_path):
    """The fast path reports what it read: no hv module -> none (LNX-006 then fails)."""
    rc, out = run_section(tmp_path, gzip.compress(_cpio(["init", "usr/bin/busybox"])), stub_tools(tmp_path, ""))
    assert rc == 0 and "hv_fromstub.ko" not in out
    assert parse_initramfs_modules(out) == set()


def test_a_truncated_archive_never_counts_its_names(tmp_path):
    """Cut inside the compressed stream: the one pass saw the module names before the cut,
    but the decompressor failed, so they are not printed; lsinitramfs decides (here: it
    lists only its own name, so the three seen before the cut do not count)."""
    whole = gzip.compress(_cpio(MODULES + [f"filler/{i}" for i in range(3000)]))
    rc, out = run_section(tmp_path, whole[: len(whole) * 2 // 3], stub_tools(tmp_path, "usr/bin/sh"))
    assert "one pass failed: " in out and "d 1" in out
    assert "hv_fromstub.ko" in out
    assert rc == 0 and parse_initramfs_modules(out) == {"hv_fromstub"}


def test_a_failing_fallback_is_an_error_not_an_empty_list(tmp_path):
    whole = gzip.compress(_cpio(MODULES))
    rc, out = run_section(tmp_path, whole[:-40], stub_tools(tmp_path, "", rc=3))
    assert rc == 3, out


def test_an_early_uncompressed_archive_goes_to_lsinitramfs(tmp_path):
    """Microcode first (070701 at byte 0): the one pass does not apply."""
    initrd = _cpio(["kernel/x86/microcode/GenuineIntel.bin"]) + gzip.compress(_cpio(MODULES))
    rc, out = run_section(tmp_path, initrd, stub_tools(tmp_path, "hv_vmbus.ko"))
    assert rc == 0 and "hv_fromstub.ko" in out and "one pass failed" not in out
    assert parse_initramfs_modules(out) == {"hv_fromstub", "hv_vmbus"}


def test_a_missing_decompressor_goes_to_lsinitramfs(tmp_path):
    rc, out = run_section(
        tmp_path, PACK["zstd"](_cpio(MODULES)), stub_tools(tmp_path, "hv_storvsc.ko", drop=("zstd",))
    )
    assert rc == 0 and "hv_fromstub.ko" in out
    assert parse_initramfs_modules(out) == {"hv_fromstub", "hv_storvsc"}


def test_missing_cpio_goes_to_lsinitramfs(tmp_path):
    rc, out = run_section(
        tmp_path, gzip.compress(_cpio(MODULES)), stub_tools(tmp_path, "hv_netvsc.ko", drop=("cpio",))
    )
    assert rc == 0 and "hv_fromstub.ko" in out
    assert parse_initramfs_modules(out) == {"hv_fromstub", "hv_netvsc"}
