"""The artifacts suite run by pytest (pytester) on real files: one clear result per problem,
and the JUnit, HTML and JSON reports written every time."""

from __future__ import annotations

import hashlib
import os

import pytest

from pytest_vmimage.facts import disk as disk_facts

from .conftest import needs_image_tools, run_suite, sas_uri

pytestmark = needs_image_tools

# (case, --vm-vhd value, requirement, result, words the message must contain)
BAD_FILES = [
    ("dynamic", "os:dynamic.vhd", "VHD-002", "Failed", ["dynamic VHD (disk type 3)", "qemu-img convert"]),
    ("vhdx", "os:disk.vhdx", "VHD-001", "Failed", ["vhdx file", "not a VHD"]),
    ("qcow2-renamed", "os:qcow2.vhd", "VHD-001", "Failed", ["qcow2 file", "not a VHD"]),
    ("misaligned", "data:odd.vhd", "VHD-003", "Failed", ["1536 bytes past a whole MiB"]),
    ("truncated", "data:cut.vhd", "VHD-001", "Failed", ["truncated"]),
    ("empty", "data:empty.vhd", "VHD-001", "Failed", ["empty file", "not a VHD"]),
    ("directory", "data:folder.vhd", "VHD-001", "Error", ["is a directory"]),
    ("missing", "data:missing.vhd", "VHD-001", "Error", ["missing.vhd: no such file"]),
]


@pytest.mark.parametrize(("case", "vhd", "req", "result", "words"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_gives_one_clear_result(pytester, images, case, vhd, req, result, words):
    role, name = vhd.split(":")
    run = run_suite(pytester, "--vm-vhd", f"{role}:{images / name}", "--vm-offline")
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    bad = run.bad()
    assert [(t["TestID"], t["Result"]) for t in bad] == [(req, result)], bad
    message = bad[0]["Message"]
    for word in words:
        assert word in message, message
    host = f"{role}:{name}"
    assert bad[0]["Host"] == host
    # every other VHD check is passed or not applicable, never a second failure
    assert {t["Result"] for t in run.tests if t["TestID"].startswith("VHD")} <= {
        "Passed",
        "NotApplicable",
        result,
    }
    case_props = run.junit()[(req, host)]
    assert case_props["result"] == result.lower() and case_props["_failure"]
    assert words[0] in case_props["message"]
    html = run.html()
    assert req in html and host in html
    # an unreadable file is an error: the run is not judged (Incomplete), never Passed
    assert run.cert["TestResult"] == ("Failed" if result == "Failed" else "Incomplete")


def test_a_good_submission_passes(pytester, images):
    run = run_suite(
        pytester,
        "--vm-vhd",
        str(images / "good.vhd"),
        "--vm-vhd",
        str(images / "data.vhd"),
        "--vm-sas-uri",
        sas_uri(blob="good.vhd"),
        "--vm-offline",
    )
    assert run.result.ret == 0, run.result.stdout.str()[-3000:]
    results = {(t["TestID"], t["Host"]): t["Result"] for t in run.tests}
    for n in range(1, 10):
        req = f"VHD-00{n}"
        hosts = {h for r, h in results if r == req}
        expected = {"VHD-004": {"os:good.vhd"}, "VHD-009": {"os:good.vhd"}, "VHD-005": {"data:data.vhd"}}.get(
            req, {"os:good.vhd", "data:data.vhd"}
        )
        assert hosts == expected, (req, hosts)
    assert results[("VHD-009", "os:good.vhd")] == "Passed"
    assert results[("VHD-004", "os:good.vhd")] == "Passed"
    assert results[("VHD-007", "data:data.vhd")] == "NotApplicable"  # a blank data disk has no partition
    for n in range(1, 6):
        assert results[(f"SAS-00{n}", "sas:good.vhd")] == "Passed"
    assert results[("SAS-006", "sas:good.vhd")] == "NotApplicable"
    assert "offline" in run.by("SAS-006")["Message"]
    assert "ZM9vYmFy".lower() not in run.all_output().lower()  # the placeholder signature never shows
    assert {t["Result"] for t in run.tests if t["TestID"].startswith("SKU")} == {"NotApplicable"}
    assert "no offer manifest given (--vm-offer FILE)" in run.by("SKU-001")["Message"]
    # offline and without a manifest, SAS-006 and SKU-* were not checked: never Passed
    assert run.cert["TestResult"] == "Incomplete"
    assert any(r.startswith("SAS-006 on sas:good.vhd was not checked: offline") for r in run.cert["Incomplete"])
    assert any(r.startswith("SKU-001 was not checked: no offer manifest") for r in run.cert["Incomplete"])
    assert {t["TestResult"] for t in run.cert["Targets"] if t["Kind"].endswith("vhd")} == {"Passed"}
    # VHD-004 says which OS it judged by and why
    assert "OS: linux, from detected: a Linux root file system" in run.by("VHD-004")["Message"]


def test_nothing_given_is_not_applicable_with_reasons(pytester):
    run = run_suite(pytester, "--vm-offline")
    assert {t["Result"] for t in run.tests} == {"NotApplicable"}
    assert "no VHD given (--vm-vhd" in run.by("VHD-001")["Message"]
    assert "no OS disk VHD given" in run.by("VHD-004")["Message"]
    assert "no SAS URI given" in run.by("SAS-001")["Message"]
    assert run.by("VHD-001")["NodeID"].endswith("test_vhd_valid[no-vhd]")


def test_a_garbage_token_fails_sas_005_only(pytester, images):
    uri = "https://contoso.blob.core.windows.net/vhds/good.vhd?garbage-token-SECRETISH"
    run = run_suite(pytester, "--vm-sas-uri", uri, "--vm-offline")
    bad = run.bad()
    assert [(t["TestID"], t["Result"]) for t in bad] == [("SAS-005", "Failed")]
    assert "missing sv, sr, sp, se, sig" in bad[0]["Message"]
    assert bad[0]["Host"] == "sas:good.vhd"
    for req in ("SAS-002", "SAS-003", "SAS-004", "SAS-006"):
        assert run.by(req)["Result"] == "NotApplicable" and "see SAS-005" in run.by(req)["Message"]
    assert run.junit()[("SAS-005", "sas:good.vhd")]["_failure"]


def test_a_signature_never_reaches_any_output(pytester, images):
    secret = "Zm9vU2VjcmV0U2lnbmF0dXJlMTIz"
    uri = sas_uri(blob="good.vhd", sp="rwdl").replace("Zm9vYmFyU0VDUkVUU0lH%3D", secret)
    run = run_suite(pytester, "--vm-sas-uri", uri, "--vm-offline", "-vv")
    assert run.by("SAS-002")["Result"] == "Failed"  # sp=rwdl: extra rights
    assert secret not in run.all_output()


def test_each_vhd_inspected_once_and_never_written(pytester, images, monkeypatch):
    calls: list[str] = []
    real = disk_facts.inspect_disk

    def counting(path, **kwargs):
        calls.append(os.fspath(path))
        return real(path, **kwargs)

    monkeypatch.setattr(disk_facts, "inspect_disk", counting)
    odd = images / "odd.vhd"
    before = (hashlib.sha256(odd.read_bytes()).hexdigest(), os.stat(odd).st_mtime_ns)
    good_mtime = os.stat(images / "good.vhd").st_mtime_ns
    run = run_suite(
        pytester, "--vm-vhd", f"os:{images / 'good.vhd'}", "--vm-vhd", f"data:{odd}", "--vm-offline"
    )
    assert len(run.tests) >= 17
    assert sorted(calls) == sorted([str(images / "good.vhd"), str(odd)])
    assert (hashlib.sha256(odd.read_bytes()).hexdigest(), os.stat(odd).st_mtime_ns) == before
    assert os.stat(images / "good.vhd").st_mtime_ns == good_mtime


def test_same_results_under_xdist(pytester, images):
    args = [
        "--vm-vhd",
        str(images / "good.vhd"),
        "--vm-vhd",
        f"data:3:{images / 'odd.vhd'}",
        "--vm-vhd",
        f"data:{images / 'qcow2.vhd'}",
        "--vm-sas-uri",
        sas_uri(blob="good.vhd"),
        "--vm-offline",
    ]
    serial = run_suite(pytester, *args, subprocess=True)
    key = sorted((t["TestID"], t["Host"], t["Result"]) for t in serial.tests)
    parallel = run_suite(pytester, *args, "-n", "2", subprocess=True)
    assert sorted((t["TestID"], t["Host"], t["Result"]) for t in parallel.tests) == key
    assert ("VHD-003", "data-lun3:odd.vhd", "Failed") in key


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--vm-os", "macos"], "*--vm-os 'macos': choose linux or windows*"),
        (["--vm-offer", "missing.toml"], "*--vm-offer *missing.toml: no such file*"),
        (["--vm-offer", "offer.yaml"], "*YAML is not read; write the manifest as TOML*"),
        (["--vm-offer", "broken.toml"], "*not valid TOML*"),
        (["--vm-offer", "nosku.toml"], "*no ??skus??; an offer has at least one SKU*"),
        (["--vm-vhd", "data:"], "*no file path after the role*"),
    ],
)
def test_bad_options_fail_clearly_and_reports_are_written(pytester, args, expected):
    pytester.path.joinpath("offer.yaml").write_text("offer: {}\n")
    pytester.path.joinpath("broken.toml").write_text("[offer\n")
    pytester.path.joinpath("nosku.toml").write_text('skus = []\n[offer]\nid = "x"\nos_family = "linux"\n')
    run = run_suite(pytester, *args)
    assert run.result.ret == pytest.ExitCode.TESTS_FAILED
    run.result.stdout.fnmatch_lines([expected])
    assert [t["Result"] for t in run.tests] == ["Error"]
