"""SKU-001..006: the offer manifest checked through the suite, and the pure checks by profile."""

from __future__ import annotations

import pytest

from pytest_vmimage.checks import offer as checks
from pytest_vmimage.facts.offer import DiskEntry, Sku, SkuVersion, load_offer
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result

from .conftest import needs_image_tools, run_suite, sas_uri

GOOD = """
[offer]
id = "contoso-offer"
os_family = "linux"

[[publisher_offers]]
id = "contoso-db"
skus = ["db-standard"]

[[skus]]
id = "sku1"
recommended_vm_sizes = ["Standard_D2s_v3", "Standard_D4s_v3", "Standard_E2s_v3"]

[[skus.versions]]
version = "1.0.0"
data_disks = 1

[[skus.versions]]
version = "1.0.1"
os_vhd = {{ path = "{good}", sas_uri = "{os_sas}" }}
data_disks = [{{ lun = 0, path = "{data}", sas_uri = "{data_sas}" }}]
"""

BAD = """
[offer]
id = "contoso-offer"
os_family = "windows"

[[publisher_offers]]
id = "contoso-db"
skus = ["Sku1"]

[[skus]]
id = "Sku1"
recommended_vm_sizes = ["Standard_D2s_v3", "Standard_Q99"]

[[skus.versions]]
version = "1.0.0"
data_disks = 2

[[skus.versions]]
version = "1.1.0"
os_vhd = {{ path = "{good}" }}
data_disks = [
  {{ lun = 1, sas_uri = "{data_sas}" }},
  {{ lun = 1, sas_uri = "{data_sas}" }},
  {{ lun = 2, sas_uri = "{data_sas2}" }},
  {{ lun = 3, sas_uri = "{data_sas3}" }},
  {{ lun = 4, sas_uri = "{data_sas4}" }},
]

[vm_sizes]
standard_e2s_v3 = 4
"""


@needs_image_tools
def test_a_whole_submission_from_one_manifest_passes(pytester, images):
    text = GOOD.format(
        good=images / "good.vhd",
        data="data.vhd",
        os_sas=sas_uri(blob="good.vhd"),
        data_sas=sas_uri(blob="data.vhd"),
    )
    (images / "offer.toml").write_text(text)  # data.vhd is relative to the manifest's folder
    run = run_suite(pytester, "--vm-offer", str(images / "offer.toml"), "--vm-offline")
    assert run.result.ret == 0, run.result.stdout.str()[-4000:]
    results = {(t["TestID"], t["Host"]): t["Result"] for t in run.tests}
    for n in range(1, 7):
        assert results[(f"SKU-00{n}", "offer:contoso-offer/sku1")] == "Passed", n
    assert results[("VHD-009", "os:good.vhd")] == "Passed"
    assert results[("VHD-005", "data-lun0:data.vhd")] == "Passed"
    assert results[("SAS-004", "sas:good.vhd")] == "Passed"
    assert results[("SAS-001", "sas:data.vhd")] == "Passed"
    assert (
        "OS family" not in run.by("SKU-004")["Message"] or "not compared" not in run.by("SKU-004")["Message"]
    )
    assert "Standard_D2s_v3: 4" in run.by("SKU-005")["ActualValue"]


@needs_image_tools
def test_a_broken_manifest_names_every_problem(pytester, images):
    text = BAD.format(
        good=images / "good.vhd",
        data_sas=sas_uri(blob="d1.vhd"),
        data_sas2=sas_uri(blob="d2.vhd", days=2),
        data_sas3=sas_uri(blob="d3.vhd"),
        data_sas4=sas_uri(blob="d4.vhd"),
    )
    (pytester.path / "offer.toml").write_text(text)
    run = run_suite(pytester, "--vm-offer", "offer.toml", "--vm-offline")
    host = "offer:contoso-offer/Sku1"
    sku1 = run.by("SKU-001", host)
    assert sku1["Result"] == "Failed" and "already used in offer 'contoso-db'" in sku1["Message"]
    assert "breaks Partner Center's id rule" in sku1["Message"]
    assert "1.0.0 -> 1.1.0 changes X.Y" in run.by("SKU-002", host)["Message"]
    assert run.by("SKU-003", host)["Result"] == "Warning"
    sku4 = run.by("SKU-004", host)["Message"]
    assert "declared windows, but the OS disk looks linux" in sku4 and "LUN(s) 1 used twice" in sku4
    sku5 = run.by("SKU-005", host)
    assert sku5["Result"] == "Failed" and "Standard_D2s_v3 allows 4" in sku5["Message"]
    assert "Standard_Q99 not in the size table" in sku5["Message"]
    sku6 = run.by("SKU-006", host)["Message"]
    assert "OS disk: no sas_uri" in sku6 and "share one blob" in sku6 and "fails SAS-004" in sku6
    # VHD checks use the manifest's declared family (windows): the 30 GiB disk is too small
    assert run.by("VHD-004")["Result"] == "Failed" and "Windows OS disk" in run.by("VHD-004")["Message"]


def test_unknown_sizes_are_an_error_naming_vm_sizes(tmp_path):
    path = tmp_path / "o.toml"
    path.write_text(
        '[offer]\nid = "o"\nos_family = "linux"\n[[skus]]\nid = "s"\nrecommended_vm_sizes = ["Standard_Z1"]\n'
        '[[skus.versions]]\nversion = "1.0.0"\nos_vhd = { sas_uri = "https://a.blob.core.windows.net/c/d.vhd?sig=x" }\n'
    )
    offer = load_offer(path)
    with pytest.raises(FactError, match=r"\[vm_sizes\] Standard_Z1 = N"):
        checks.check_sizes_fit_disks(offer, offer.skus[0], load_profile("guide-2016"))
    path.write_text(path.read_text() + "[vm_sizes]\nStandard_Z1 = 0\n")
    offer = load_offer(path)
    assert (
        checks.check_sizes_fit_disks(offer, offer.skus[0], load_profile("guide-2016")).result is Result.PASSED
    )


def _sku(versions, luns=(0, 1), sizes=("Standard_D2s_v3",) * 1):
    disks = tuple(
        DiskEntry("data", lun, None, f"https://a.blob.core.windows.net/c/{lun}.vhd?sig=x") for lun in luns
    )
    history = [SkuVersion(v, None, None, len(luns)) for v in versions[:-1]]
    last = SkuVersion(versions[-1], DiskEntry("os", None, None, "u"), disks, len(disks))
    return Sku("s", "linux", tuple(sizes), (*history, last))


@pytest.mark.parametrize(
    ("versions", "guide", "current"),
    [
        (["1.0.0", "1.0.1"], Result.PASSED, Result.PASSED),
        (["1.0.9", "1.0.10"], Result.PASSED, Result.PASSED),  # numeric, not text
        (["1.0.0", "1.1.0"], Result.FAILED, Result.PASSED),
        (["1.0.1", "1.0.1"], Result.FAILED, Result.FAILED),
        (["2.0.0", "1.9.9"], Result.FAILED, Result.FAILED),
        (["1.0"], Result.FAILED, Result.FAILED),
        (["1.0.-1"], Result.FAILED, Result.FAILED),
    ],
)
def test_version_rules_by_profile(versions, guide, current):
    assert checks.check_sku_versions(_sku(versions), load_profile("guide-2016")).result is guide
    assert checks.check_sku_versions(_sku(versions), load_profile("current")).result is current


def test_lun_and_count_rules_by_profile(tmp_path):
    from pytest_vmimage.facts.offer import Offer

    offer = Offer(tmp_path, "o", "linux", (), ())
    gappy = _sku(["1.0.0"], luns=(0, 2))
    assert (
        checks.check_disks_and_luns(offer, gappy, load_profile("guide-2016"), "linux", "x").result
        is Result.PASSED
    )
    verdict = checks.check_disks_and_luns(offer, gappy, load_profile("current"), "linux", "x")
    assert verdict.result is Result.FAILED and "not 0..1" in verdict.message
    changed = Sku("s", "linux", (), (SkuVersion("1.0.0", None, None, 3), *_sku(["1.0.1"]).versions))
    assert (
        checks.check_disks_and_luns(offer, changed, load_profile("guide-2016"), None, "n/a").result
        is Result.PASSED
    )
    verdict = checks.check_disks_and_luns(offer, changed, load_profile("current"), None, "n/a")
    assert (
        verdict.result is Result.FAILED and "data-disk count changes: 1.0.0: 3, 1.0.1: 2" in verdict.message
    )
    assert "not compared" in verdict.message


@pytest.mark.parametrize(
    ("sku_id", "guide", "current"),
    [
        ("sku-1", Result.PASSED, Result.PASSED),
        ("Sku_1", Result.WARNING, Result.FAILED),  # upper case: not a plan id in either profile
        ("sku_1", Result.WARNING, Result.PASSED),  # Partner Center plan ids allow '_' today
        ("sku-", Result.WARNING, Result.PASSED),  # the plan id rule has no edge-dash clause
        ("a" * 50, Result.PASSED, Result.PASSED),
        ("a" * 51, Result.WARNING, Result.FAILED),
        ("sku.1", Result.WARNING, Result.FAILED),  # URL-safe, but '.' is not a plan id character
        ("sku 1", Result.FAILED, Result.FAILED),
        ("sku/1", Result.FAILED, Result.FAILED),
    ],
)
def test_identifier_rules_by_profile(tmp_path, sku_id, guide, current):
    from pytest_vmimage.facts.offer import Offer

    sku = Sku(sku_id, "linux", (), ())
    offer = Offer(tmp_path, "offer-1", "linux", (), (sku,))
    assert checks.check_sku_identifiers(offer, sku, load_profile("guide-2016")).result is guide
    assert checks.check_sku_identifiers(offer, sku, load_profile("current")).result is current


def test_recommended_sizes_by_profile():
    three = _sku(["1.0.0"], sizes=("A", "B", "C"))
    one = _sku(["1.0.0"], sizes=("A",))
    assert checks.check_recommended_sizes(three, load_profile("guide-2016")).result is Result.PASSED
    assert checks.check_recommended_sizes(one, load_profile("guide-2016")).result is Result.WARNING
    assert checks.check_recommended_sizes(one, load_profile("current")).result is Result.PASSED


@pytest.mark.parametrize(("count", "current"), [(16, Result.PASSED), (17, Result.FAILED)])
def test_data_disks_per_version_at_most_16_under_current(tmp_path, count, current):
    from pytest_vmimage.facts.offer import Offer

    offer = Offer(tmp_path, "o", "linux", (), ())
    sku = _sku(["1.0.0"], luns=tuple(range(count)))
    assert (
        checks.check_disks_and_luns(offer, sku, load_profile("guide-2016"), "linux", "x").result
        is Result.PASSED
    )
    verdict = checks.check_disks_and_luns(offer, sku, load_profile("current"), "linux", "x")
    assert verdict.result is current, verdict
    if current is Result.FAILED:
        assert f"version 1.0.0 has {count}" in verdict.message and "at most 16" in verdict.message
