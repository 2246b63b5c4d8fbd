"""The live ``initramfs_hv`` section (LNX-006) run by sh on real cpio archives.

A one-compressed-archive initramfs is listed in one pass (decompressor | cpio -t); the names
count only when both exit 0. Anything else goes to lsinitramfs / lsinitrd (here: a stub that
lists the module ``hv_fromstub.ko`` besides what it is given, so one can tell it ran), so a broken
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

pytestmark = pytest.mark.skipif(shutil.which("cpio") is None, reason="needs GNU cpio (scripts/setup.sh installs it)")

RELEASE = "6.1.0-99-amd64"
MODULES = [
    f"usr/lib/modules/{RELEASE}/kernel/drivers/hv/hv_vmbus.ko",
    f"usr/lib/modules/{RELEASE}/kernel/drivers/scsi/hv_storvsc.ko.xz",
    f"usr/lib/modules/{RELEASE}/kernel/drivers/net/hyperv/hv_netvsc.ko",
]
FILE, DIRECTORY, SYMLINK = 0o100644, 0o040755, 0o120777


def _cpio(names, mode: int = FILE, data: bytes = b"\x7fELF module") -> bytes:
    """A newc cpio archive (padded to 512 bytes, as cpio -o writes it); ``names`` are paths
    (all of ``mode`` with ``data``) or (path, mode, data) triples."""
    out = b""
    entries = [n if isinstance(n, tuple) else (n, mode, data if mode != DIRECTORY else b"") for n in names]
    for i, (name, kind, body) in enumerate([*entries, ("TRAILER!!!", 0, b"")]):
        raw = name.encode() + b"\0"
        fields = (i + 1, kind, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), 0)
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + raw + b"\0" * (-(110 + len(raw)) % 4)
        out += body + b"\0" * (-len(body) % 4)
    return out + b"\0" * (-len(out) % 512)


def _listed(path: str) -> str:
    """One line of ``lsinitramfs -l`` / ``cpio -tv`` for a regular file."""
    return f"-rw-r--r--   1 root     root         4242 Dec  1 10:18 {path}"

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
    bin_dir.mkdir(parents=True)
    for tool in ("sh", "od", "tr", "grep", "sort", "sed", "awk", "wc", "cpio", "gzip", "xz", "zstd", "cat", "printf"):
        real = shutil.which(tool)
        if real and tool not in drop:
            (bin_dir / tool).symlink_to(real)
    stub = bin_dir / "lsinitramfs"
    lines = [_listed(f"usr/lib/modules/{RELEASE}/extra/hv_fromstub.ko")]
    lines += [_listed(f"usr/lib/modules/{RELEASE}/kernel/{name}") for name in lsinitramfs_output.split() if name]
    stub.write_text("#!/bin/sh\n[ \"$1\" = -l ] || exit 64\ncat <<'EOF'\n" + "\n".join(lines) + f"\nEOF\nexit {rc}\n")
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


# What the kernel would not load must not count (review-r1): only regular, non-empty files of
# the running kernel's module tree, in the archive's final state.
@pytest.mark.parametrize(
    "entries",
    [
        [n.replace(RELEASE, "5.10.0-8-amd64") for n in MODULES],  # another kernel's modules
        ["usr/share/doc/hyperv/hv_vmbus.ko", "usr/share/doc/hyperv/hv_storvsc.ko"],
        [(n, DIRECTORY, b"") for n in MODULES],
        [(n, FILE, b"") for n in MODULES],  # zero-length
        [(n, SYMLINK, b"/nonexistent") for n in MODULES],
        [f"usr/lib/modules/{RELEASE}/kernel/nothv_vmbus.kobj"],
        # a later entry of the same name replaces the module (the kernel's unpacker does)
        [*MODULES, *[(n, SYMLINK, b"/dev/null") for n in MODULES]],
    ],
    ids=["other-release", "doc-dir", "directories", "empty", "symlinks", "lookalike", "replaced"],
)
def test_only_loadable_modules_of_the_running_kernel_count(tmp_path, entries):
    rc, out = run_section(tmp_path, gzip.compress(_cpio(entries)), stub_tools(tmp_path, "hv_vmbus.ko"))
    assert rc == 0 and "hv_fromstub.ko" not in out, out
    assert parse_initramfs_modules(out) == set()


def test_a_second_archive_after_the_first_is_an_error(tmp_path):
    """The kernel unpacks every archive in the stream (and a later one can replace or add
    modules); cpio -t stops at the first TRAILER!!!, so a second one is not judged."""
    replaced = _cpio(MODULES) + _cpio([(n, SYMLINK, b"/dev/null") for n in MODULES])
    rc, out = run_section(tmp_path, gzip.compress(replaced), stub_tools(tmp_path, "hv_vmbus.ko"))
    assert rc == 3 and "more archives" in out, out
    # a second gzip member is the same stream once decompressed
    members = gzip.compress(_cpio(["init"])) + gzip.compress(_cpio(MODULES))
    rc, out = run_section(tmp_path, members, stub_tools(tmp_path / "2", "hv_vmbus.ko"))
    assert rc == 3 and "more archives" in out, out


def test_another_cpio_format_or_junk_is_not_listed_by_the_one_pass(tmp_path):
    """The kernel reads newc only ('no cpio magic' otherwise); cpio -H newc fails on odc, and
    junk it skips shows on its stderr: the one pass fails and lsinitramfs decides."""
    odc = tmp_path / "odc.cpio"
    tree = tmp_path / "tree"
    for name in MODULES:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(b"\x7fELF")
    names = "\n".join(MODULES).encode()
    subprocess.run(["cpio", "-o", "-H", "odc", "--quiet"], input=names, stdout=odc.open("wb"), cwd=tree, check=True)
    for initrd in (gzip.compress(odc.read_bytes()), gzip.compress(b"\0" * 3 + b"junk" * 200 + _cpio(MODULES))):
        rc, out = run_section(tmp_path, initrd, stub_tools(tmp_path / str(len(initrd)), "hv_vmbus.ko"))
        assert rc == 0 and "one pass failed" in out and "hv_fromstub.ko" in out, out
        assert parse_initramfs_modules(out) == {"hv_fromstub", "hv_vmbus"}


# The offline reader (facts/linux_image.py) applies the same rule to the same archives.
@pytest.mark.parametrize(
    "entries",
    [
        MODULES,
        [n.replace(RELEASE, "5.10.0-8-amd64") for n in MODULES],
        ["usr/share/doc/hyperv/hv_vmbus.ko"],
        [(n, FILE, b"") for n in MODULES],
        [(n, SYMLINK, b"/nonexistent") for n in MODULES],
        [*MODULES, *[(n, DIRECTORY, b"") for n in MODULES]],
        [f"./lib/modules/{RELEASE}/kernel/drivers/hv/hv_vmbus.ko"],
    ],
    ids=["modules", "other-release", "doc-dir", "empty", "symlinks", "replaced", "dot-slash-lib"],
)
def test_offline_reader_counts_the_same_modules_as_the_live_section(tmp_path, entries):
    from pytest_vmimage.facts.linux_image import initramfs_members, loadable_hv_modules

    initrd = gzip.compress(_cpio(entries))
    final = {}
    for name, mode, size in initramfs_members(initrd):
        final[name.lstrip(b"./") if name.startswith(b"./") else name] = (mode, size)
    offline = {m.removesuffix(".ko") for m in loadable_hv_modules(final, RELEASE)}
    rc, out = run_section(tmp_path, initrd, stub_tools(tmp_path, ""))
    assert rc == 0, out
    assert offline == parse_initramfs_modules(out)
