"""VHD-010 degradation harness (as tests/facts/test_degradation_vhd.py does for VHD-006/009):
for small boot disks, zero, fill, truncate or corrupt each 4 KiB unit that reading the
boot paths touched (the MBR, the GPT, the ESP's boot sector, FAT, directories and loaders),
and assert that VHD-010 never becomes PASSED for a declaration the intact disk did not pass.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts import disk
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError

from .boot_disks import boot_disk, esp_image, needs_boot_tools, pe_image, shim_image

pytestmark = needs_boot_tools
CURRENT = load_profile("current")
DECLARATIONS = {"gen1": (1, False), "gen2": (2, False), "gen2-tl": (2, True)}
SIZES = (1, 2, 4, 16, 64)  # bytes changed by one random corruption


def judge(path: Path) -> dict[str, str]:
    """VHD-010 under each declaration: a result, "error", or "crash: ..."."""
    try:
        facts = disk.inspect_disk(path, read_root_fs=False)
        facts.boot = disk.read_boot(path, facts)
    except disk.DiskError:
        return dict.fromkeys(DECLARATIONS, "error")
    results = {}
    for name, (generation, trusted) in DECLARATIONS.items():
        try:
            results[name] = checks.check_vhd_generation(facts, CURRENT, generation, trusted).result.value
        except FactError:
            results[name] = "error"
        except Exception as exc:  # noqa: BLE001 - a crash is recorded, and fails the test
            results[name] = f"crash: {type(exc).__name__}: {exc}"
    return results


def touched(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The 4 KiB units (sector aligned) that one judgement reads."""
    reads: list[tuple[int, int]] = []
    real = disk._File.pread

    def pread(self, offset, size):
        data = real(self, offset, size)
        reads.append((offset, len(data)))
        return data

    with monkeypatch.context() as m:
        m.setattr(disk._File, "pread", pread)
        judge(path)
    units = set()
    for offset, size in reads:
        for at in range(offset - offset % 512, offset + size, 4096):
            units.add((at, min(4096, offset + size - at)))
    return sorted(u for u in units if u[1] > 0)


@pytest.fixture(scope="module")
def boot_fixtures(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("degrade-boot")
    ubuntu = {"EFI/BOOT/BOOTX64.EFI": shim_image(), "EFI/ubuntu/grubx64.efi": pe_image()}
    return {
        "gen1-mbr": boot_disk(d / "gen1.vhd", scheme="mbr", size=24 * 1024 * 1024),
        "mbr-no-code": boot_disk(d / "blank.vhd", scheme="mbr", boot_code=False, size=24 * 1024 * 1024),
        "gen2-grub": boot_disk(
            d / "gen2.vhd", esp=esp_image(d / "a.img", {"EFI/BOOT/BOOTX64.EFI": pe_image()}, 2 * 1024 * 1024, 12),
            boot_code=False, size=24 * 1024 * 1024,
        ),
        "esp-no-loader": boot_disk(
            d / "none.vhd", esp=esp_image(d / "b.img", {"EFI/ubuntu/grub.cfg": b"x\n"}, 2 * 1024 * 1024, 12),
            boot_code=False, size=24 * 1024 * 1024,
        ),
        "hybrid": boot_disk(
            d / "hybrid.vhd", esp=esp_image(d / "c.img", ubuntu, 2 * 1024 * 1024, 12), bios_grub=True,
            size=24 * 1024 * 1024,
        ),
    }  # fmt: skip


BASELINES = {
    "gen1-mbr": {"gen1": "passed", "gen2": "failed", "gen2-tl": "failed"},
    "mbr-no-code": {"gen1": "failed", "gen2": "failed", "gen2-tl": "failed"},
    "gen2-grub": {"gen1": "failed", "gen2": "passed", "gen2-tl": "failed"},
    "esp-no-loader": {"gen1": "failed", "gen2": "failed", "gen2-tl": "failed"},
    "hybrid": {"gen1": "passed", "gen2": "passed", "gen2-tl": "passed"},
}


def degrade(fixtures: dict[str, Path], monkeypatch) -> tuple[int, list[str], dict[str, int]]:
    """Every mutation of every touched unit: how many, the flips to PASSED, the results."""
    tried, flips, outcomes = 0, [], {}
    for name, path in fixtures.items():
        original = path.read_bytes()
        for offset, size in touched(path, monkeypatch):
            rng = random.Random(f"{name}:{offset}")
            edits = [
                ("zero", lambda fd, o=offset, n=size: os.pwrite(fd, bytes(n), o)),
                ("ones", lambda fd, o=offset, n=size: os.pwrite(fd, b"\xff" * n, o)),
                ("truncate", lambda fd, o=offset: os.ftruncate(fd, o)),
            ]
            for count in SIZES:
                changes = [(offset + rng.randrange(size), rng.randrange(256)) for _ in range(count)]
                edits.append(
                    (f"corrupt{count}", lambda fd, c=changes: [os.pwrite(fd, bytes([v]), a) for a, v in c])
                )
            for kind, mutate in edits:
                fd = os.open(path, os.O_RDWR)
                try:
                    mutate(fd)
                    results = judge(path)
                finally:  # put back what changed
                    os.ftruncate(fd, len(original))
                    os.pwrite(
                        fd,
                        original[offset:] if kind == "truncate" else original[offset : offset + size],
                        offset,
                    )
                    os.close(fd)
                tried += 1
                for declared, result in results.items():
                    outcomes[result.split(":")[0]] = outcomes.get(result.split(":")[0], 0) + 1
                    assert not result.startswith("crash"), f"{name} {kind}@{offset}: {declared} {result}"
                    if result == "passed" and BASELINES[name][declared] != "passed":
                        flips.append(
                            f"{name} {kind}@{offset}: {declared} {BASELINES[name][declared]} -> passed"
                        )
        assert path.read_bytes() == original, f"{name}: not restored"
    return tried, flips, outcomes


def test_no_degraded_boot_disk_passes_a_declaration_the_intact_one_did_not(
    boot_fixtures, monkeypatch, capsys
):
    assert {name: judge(path) for name, path in boot_fixtures.items()} == BASELINES
    started = time.monotonic()
    tried, flips, outcomes = degrade(boot_fixtures, monkeypatch)
    with capsys.disabled():  # the count belongs in the CI log
        elapsed = time.monotonic() - started
        print(
            f"\nboot degradation: {tried} mutations, {len(flips)} flips ({elapsed:.1f} s; results {outcomes})"
        )
    assert tried >= 200
    assert not flips, "\n".join(flips[:20])


def test_the_harness_finds_flips_when_any_boot_code_is_trusted(boot_fixtures, monkeypatch):
    """The harness has teeth: if any non-zero bytes in sector 0 counted as known boot code
    (no "unknown" warning), corrupting the blank MBR alone makes Gen1 pass."""
    monkeypatch.setattr(disk, "_BOOT_CODE_KINDS", ((b"", "anything"),))
    tried, flips, _ = degrade({"mbr-no-code": boot_fixtures["mbr-no-code"]}, monkeypatch)
    assert tried > 0 and any("gen1 failed -> passed" in flip for flip in flips), flips
