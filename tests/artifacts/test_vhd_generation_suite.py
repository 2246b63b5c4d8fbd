"""VHD-010 through the artifacts suite: where the declared generation comes from
(manifest per SKU version, --vm-generation, default Gen1), their conflicts, the
manifest's validation, and the results under each profile on real boot disks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_vmimage.facts.offer import load_offer
from pytest_vmimage.profiles import ConfigError
from tests.facts.boot_disks import boot_disk, esp_image, needs_boot_tools, pe_image, shim_image

from .conftest import run_suite

pytestmark = needs_boot_tools

MANIFEST = """
[offer]
id = "contoso-offer"
os_family = "linux"

[[skus]]
id = "sku1"
recommended_vm_sizes = ["Standard_D2s_v3"]

[[skus.versions]]
version = "1.0.0"
data_disks = 0

[[skus.versions]]
version = "1.0.1"
{boot}
os_vhd = {{ path = "{vhd}" }}
data_disks = []
"""


@pytest.fixture(scope="module")
def boot_vhds(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("suite-boot")
    grub = {"EFI/BOOT/BOOTX64.EFI": pe_image()}
    shim = {"EFI/BOOT/BOOTX64.EFI": shim_image(), "EFI/debian/shimx64.efi": shim_image()}
    return {
        "gen1": boot_disk(d / "gen1.vhd", scheme="mbr"),
        "gen2": boot_disk(d / "gen2.vhd", esp=esp_image(d / "a.img", grub), boot_code=False),
        "gen2-shim": boot_disk(d / "gen2-shim.vhd", esp=esp_image(d / "b.img", shim), boot_code=False),
        "hybrid": boot_disk(d / "hybrid.vhd", esp=esp_image(d / "c.img", shim), bios_grub=True),
    }


def manifest(tmp: Path, vhd: Path, boot: str) -> Path:
    path = tmp / "offer.toml"
    path.write_text(MANIFEST.format(boot=boot, vhd=vhd))
    return path


def vhd010(pytester, *args: str) -> dict:
    run = run_suite(pytester, *args, "--vm-offline", "-k", "VHD-010")
    (test,) = [t for t in run.tests if t["TestID"] == "VHD-010"]
    return test


@pytest.mark.parametrize(("disk", "args", "result", "words"), [
    ("gen1", [], "Passed", "default: X64 Gen1"),
    ("gen1", ["--vm-generation", "2"], "Failed", "an MBR disk: Gen2 (UEFI) needs a GPT disk"),
    ("gen2", ["--vm-generation", "2"], "Passed", "declared by --vm-generation"),
    ("gen2", [], "Failed", "GPT disk without a bios_grub partition"),
])  # fmt: skip
def test_command_line_generation_under_current(pytester, boot_vhds, disk, args, result, words):
    test = vhd010(pytester, "--vm-vhd", f"os:{boot_vhds[disk]}", "--vm-profile", "current", *args)
    assert test["Result"] == result, test
    assert words in test["Message"] + test.get("Required", "") + test.get("Actual", "")


def test_guide_2016_is_not_applicable_and_reads_no_esp(pytester, boot_vhds):
    test = vhd010(pytester, "--vm-vhd", f"os:{boot_vhds['gen1']}", "--vm-generation", "2")
    assert test["Result"] == "NotApplicable"
    assert "Generation 2 VMs did not exist in 2016" in test["Message"]


MANIFEST_CASES = [  # (SKU id, disk, what its submitted version declares)
    ("tl-shim", "gen2-shim", "generation = 2\ntrusted_launch = true"),
    ("tl-grub", "gen2", "generation = 2\ntrusted_launch = true"),
    ("gen2", "gen2", "generation = 2"),  # the same file as tl-grub: judged against both
    ("gen2-on-mbr", "gen1", "generation = 2"),
    ("silent", "gen1", ""),  # Gen1 by default, the same file as gen2-on-mbr
    ("hybrid-1", "hybrid", "generation = 1"),
    ("hybrid-2", "hybrid", "generation = 2\ntrusted_launch = true"),
]


def test_manifest_generation_per_sku_version_under_current(pytester, boot_vhds):
    skus = "".join(
        f'\n[[skus]]\nid = "{sku}"\n[[skus.versions]]\nversion = "1.0.1"\n{boot}\n'
        f'os_vhd = {{ path = "{boot_vhds[disk]}" }}\ndata_disks = []\n'
        for sku, disk, boot in MANIFEST_CASES
    )
    offer = pytester.path / "offer.toml"
    offer.write_text('[offer]\nid = "contoso-offer"\nos_family = "linux"\n' + skus)
    args = ("--vm-offer", str(offer), "--vm-profile", "current", "--vm-offline", "-k", "VHD-010")
    run = run_suite(pytester, *args)
    assert sorted(t["Host"] for t in run.tests if t["TestID"] == "VHD-010") == [
        "gen2-on-mbr/os:gen1.vhd",
        "hybrid-1/os:hybrid.vhd",
        "tl-grub/os:gen2.vhd",
        "tl-shim/os:gen2-shim.vhd",
    ]
    shim = run.by("VHD-010", "tl-shim/os:gen2-shim.vhd")
    assert shim["Result"] == "Passed" and "SKU 'tl-shim' version 1.0.1" in shim["Message"]
    shared = run.by("VHD-010", "tl-grub/os:gen2.vhd")
    assert shared["Result"] == "Failed" and "is not a signed shim" in shared["Message"]
    assert "SKU 'gen2' version 1.0.1" in shared["Message"]  # the other plan's declaration was judged too
    mbr = run.by("VHD-010", "gen2-on-mbr/os:gen1.vhd")
    assert mbr["Result"] == "Failed" and "an MBR disk" in mbr["Message"]
    assert (
        "default: X64 Gen1 (declare generation in the manifest or --vm-generation 2); SKU 'silent'"
        in mbr["Message"]
    )
    hybrid = run.by("VHD-010", "hybrid-1/os:hybrid.vhd")
    assert hybrid["Result"] == "Passed", hybrid  # one hybrid disk in a Gen1 and a Gen2 + TL plan
    assert "SKU 'hybrid-1'" in hybrid["Message"] and "SKU 'hybrid-2'" in hybrid["Message"]


def test_command_line_fills_in_where_the_manifest_is_silent(pytester, boot_vhds):
    offer = manifest(pytester.path, boot_vhds["gen2"], "")
    test = vhd010(pytester, "--vm-offer", str(offer), "--vm-generation", "2", "--vm-profile", "current")
    assert test["Result"] == "Passed", test


@pytest.mark.parametrize(("boot", "args", "expected"), [
    ("generation = 1", ["--vm-generation", "2"], "*--vm-generation 2 conflicts with generation = 1 of SKU 'sku1' version 1.0.1*"),
    ("", ["--vm-generation", "3"], "*--vm-generation '3': write 1 (X64 Gen1) or 2 (X64 Gen2)*"),
    ("generation = 3", [], "*generation = 3: write 1 (X64 Gen1) or 2 (X64 Gen2)*"),
])  # fmt: skip
def test_bad_declarations_fail_the_run_clearly(pytester, boot_vhds, boot, args, expected):
    offer = manifest(pytester.path, boot_vhds["gen1"], boot)
    run = run_suite(pytester, "--vm-offer", str(offer), *args, "--vm-offline")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.result.stdout.fnmatch_lines([expected])
    assert [t["Result"] for t in run.tests] == ["Error"]


@pytest.mark.parametrize(("boot", "expected"), [
    ('generation = "2"', "generation = '2': write 1 (X64 Gen1) or 2 (X64 Gen2)"),
    ("generation = 2.0", "generation = 2.0: write 1"),
    ("generation = true", "generation = True: write 1"),
    ("generation = 0", "version 1.0.1: generation = 0: write 1"),
    ('generation = 2\ntrusted_launch = "yes"', "trusted_launch = 'yes': write true or false"),
    ("trusted_launch = true", "trusted_launch = true needs generation = 2"),
    ("generation = 1\ntrusted_launch = true", "trusted_launch = true needs generation = 2"),
])  # fmt: skip
def test_unknown_values_are_configuration_errors(tmp_path, boot, expected):
    with pytest.raises(ConfigError) as caught:
        load_offer(manifest(tmp_path, tmp_path / "disk.vhd", boot))
    assert expected in str(caught.value)


def test_manifest_keys_are_read_per_version(tmp_path, boot_vhds):
    offer = load_offer(manifest(tmp_path, boot_vhds["gen2"], "generation = 2\ntrusted_launch = true"))
    old, new = offer.skus[0].versions
    assert (old.generation, old.trusted_launch) == (None, False)
    assert (new.generation, new.trusted_launch) == (2, True)
