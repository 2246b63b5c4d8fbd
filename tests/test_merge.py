"""``python -m pytest_vmimage merge``: CI-matrix reports become one submission report.

The inputs are real ``--vm-report`` files written by pytest runs of the plugin
(pytester), one per matrix job.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from pytest_vmimage import merge

LINUX_MODULE = """
import os
from pytest_vmimage import requirement, Verdict

@requirement("LNX-101", "passes", guide="9.1")
def test_pass(vm_target):
    if os.environ.get("VMIMAGE_TEST_FAIL_101") == vm_target.label:
        return Verdict.failed("found z", "need x", "broken on this size; fix it (guide 9.1)")
    return Verdict.passed("found x", "need x")

@requirement("LNX-102", "warns", guide="9.2", severity="warn")
def test_warn(vm_target):
    return Verdict.warning("found y", "need x", "recommendation not met")
"""

ARTIFACTS_MODULE = """
from pytest_vmimage import requirement, Verdict

@requirement("VHD-101", "the VHD is a file", guide="vhd")
def test_vhd_file(vm_artifact):
    return Verdict.passed(vm_artifact.path.name, "a file")
"""


_RUNS: dict[tuple, bytes] = {}  # the same job's report, reused across tests (each run costs seconds)


@pytest.fixture
def job(pytester, monkeypatch):
    """Run one 'CI job' (a pytest run) and return the path of its JSON report."""

    def run(name: str, module: str, *args: str, fail_on: str = "") -> str:
        key = (name, module, args, fail_on)
        report = pytester.path / f"{name}.json"
        if key in _RUNS and "--vm-vhd" not in args:
            report.write_bytes(_RUNS[key])
            return str(report)
        pytester.makepyfile(**{f"test_{name}": module})
        if fail_on:
            monkeypatch.setenv("VMIMAGE_TEST_FAIL_101", fail_on)
        else:
            monkeypatch.delenv("VMIMAGE_TEST_FAIL_101", raising=False)
        pytester.runpytest(f"test_{name}.py", *args, f"--vm-report={report}", "-p", "no:cacheprovider")
        assert report.is_file()
        _RUNS[key] = report.read_bytes()
        return str(report)

    return run


def run_merge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest_vmimage", "merge", *args], capture_output=True, text=True, timeout=120
    )


def test_two_sizes_side_by_side(job, pytester):
    a = job("size_a", LINUX_MODULE, "--vm-host", "D2s_v5=ssh://u@127.0.0.1:1")
    b = job("size_b", LINUX_MODULE, "--vm-host", "E4s_v5=ssh://u@127.0.0.1:2")
    out = pytester.path / "submission"
    done = run_merge(a, b, "-o", f"{out}.json", "--html", f"{out}.html", "--junit", f"{out}.xml")
    assert done.returncode == 0, done.stderr
    merged = json.loads((out.with_suffix(".json")).read_text())
    assert merged["TestResult"] == "Passed with warnings"
    assert {t["Label"]: t["TestResult"] for t in merged["Targets"]} == {
        "D2s_v5": "Passed with warnings",
        "E4s_v5": "Passed with warnings",
    }
    assert sorted((t["TestID"], t["Host"]) for t in merged["Tests"]) == [
        ("LNX-101", "D2s_v5"),
        ("LNX-101", "E4s_v5"),
        ("LNX-102", "D2s_v5"),
        ("LNX-102", "E4s_v5"),
    ]
    assert [s["File"] for s in merged["Sources"]] == ["size_a.json", "size_b.json"]
    assert merged["WarningsExplained"] and "recommendation" in merged["WarningsExplained"][0]
    merge.validate(merged, "merged")
    page = out.with_suffix(".html").read_text()
    assert "<th>D2s_v5</th><th>E4s_v5</th>" in page  # one column per size
    assert 'href="#vm-LNX-102--E4s_v5"' in page and 'id="vm-LNX-102--E4s_v5"' in page
    cases = ET.parse(out.with_suffix(".xml")).getroot().iter("testcase")
    assert sorted((c.get("name"), c.get("classname")) for c in cases) == [
        ("LNX-101", "vmimage.D2s_v5"),
        ("LNX-101", "vmimage.E4s_v5"),
        ("LNX-102", "vmimage.D2s_v5"),
        ("LNX-102", "vmimage.E4s_v5"),
    ]


def test_artifacts_job_and_linux_job(job, pytester):
    disk = pytester.path / "image.vhd"
    disk.write_bytes(b"conectix" + bytes(1024))
    artifacts = job("artifacts", ARTIFACTS_MODULE, "--vm-vhd", f"os:{disk}", "--vm-vhd-sha256")
    linux = job("linux", LINUX_MODULE, "--vm-host", "D2s_v5=ssh://u@127.0.0.1:1")
    out = pytester.path / "submission.json"
    done = run_merge(artifacts, linux, "-o", str(out))
    assert done.returncode == 0, done.stderr
    merged = json.loads(out.read_text())
    assert {(t["TestID"], t["Host"]) for t in merged["Tests"]} == {
        ("VHD-101", "os:image.vhd"),
        ("LNX-101", "D2s_v5"),
        ("LNX-102", "D2s_v5"),
    }
    vhd = next(t for t in merged["Targets"] if t["Label"] == "os:image.vhd")
    import hashlib

    assert vhd["Tested"]["SHA256"] == hashlib.sha256(disk.read_bytes()).hexdigest()
    assert vhd["Tested"]["FileSize"] == "1032 bytes"
    assert vhd["TestResult"] == "Passed"
    assert merged["TestResult"] == "Passed with warnings"


def test_a_conflict_keeps_the_worse_and_shows_both(job, pytester):
    good = job("first", LINUX_MODULE, "--vm-host", "D2s_v5=ssh://u@127.0.0.1:1")
    bad = job("rerun", LINUX_MODULE, "--vm-host", "D2s_v5=ssh://u@127.0.0.1:1", fail_on="D2s_v5")
    out = pytester.path / "submission"
    done = run_merge(good, bad, "-o", f"{out}.json", "--html", f"{out}.html")
    assert done.returncode == 1  # Failed
    assert (
        "conflict LNX-101 on D2s_v5: Failed in rerun.json, Passed in first.json; kept Failed" in done.stdout
    )
    merged = json.loads(out.with_suffix(".json").read_text())
    assert merged["TestResult"] == "Failed"
    row = next(t for t in merged["Tests"] if t["TestID"] == "LNX-101")
    assert row["Result"] == "Failed" and row["Conflict"] is True
    assert merged["Conflicts"] == [
        {
            "TestID": "LNX-101",
            "Host": "D2s_v5",
            "Kept": "Failed",
            "Results": [
                {
                    "Result": "Failed",
                    "Source": "rerun.json",
                    "Message": "broken on this size; fix it (guide 9.1)",
                },
                {"Result": "Passed", "Source": "first.json", "Message": ""},
            ],
        }
    ]
    page = out.with_suffix(".html").read_text()
    assert "FAILED (conflict)" in page and "Passed in first.json" in page


def test_mismatched_profiles_are_refused_unless_allowed(job, pytester):
    a = job("old", LINUX_MODULE, "--vm-host", "a=ssh://u@127.0.0.1:1", "--vm-profile", "guide-2016")
    b = job("new", LINUX_MODULE, "--vm-host", "b=ssh://u@127.0.0.1:2", "--vm-profile", "current")
    out = pytester.path / "submission.json"
    done = run_merge(a, b, "-o", str(out))
    assert done.returncode == 2
    assert "different profiles: guide-2016 (old.json); current (new.json)" in done.stderr
    assert "--allow-mixed" in done.stderr and "nothing was written" in done.stderr
    assert not out.exists()
    done = run_merge(a, b, "-o", str(out), "--allow-mixed")
    assert out.is_file(), done.stderr
    merged = json.loads(out.read_text())
    assert merged["Profile"] == "current+guide-2016"
    assert merged["Mixed"] and merged["Mixed"][0].startswith("different profiles")


def test_different_tool_versions_and_overrides_are_refused(job, pytester):
    a = job("one", LINUX_MODULE, "--vm-host", "a=ssh://u@127.0.0.1:1")
    b_path = pytester.path / "two.json"
    document = json.loads(open(a).read())
    document["Tool"]["Version"] = "0.0.9"
    b_path.write_text(json.dumps(document))
    with pytest.raises(merge.MergeError, match=r"different tool versions: 0\.1\.0 \(one\.json\); 0\.0\.9"):
        merge.run([a, str(b_path)], str(pytester.path / "out.json"))
    document = json.loads(open(a).read())
    document["Overrides"] = [{"Name": "data_disk_max_gib", "Value": 2000, "Default": 1023, "Meaning": "m"}]
    b_path.write_text(json.dumps(document))
    with pytest.raises(merge.MergeError, match="different threshold overrides"):
        merge.run([a, str(b_path)], str(pytester.path / "out.json"))
    assert not (pytester.path / "out.json").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"SchemaVersion": "2.0", "Tests": [', "not valid JSON (Expecting value at line 1 column"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b'{"hello": "world"}', "not a pytest-vmimage report (schema 2.0): at (top level): 'SchemaVersion'"),
        (b'{"SchemaVersion": "9.0"}', "report schema version '9.0'; this pytest-vmimage"),
        (None, "cannot read it (No such file or directory)"),
    ],
    ids=["truncated", "binary", "not-a-report", "future-version", "missing"],
)
def test_a_corrupt_input_is_a_clear_error_and_nothing_is_written(job, pytester, content, expected):
    good = job("good", LINUX_MODULE, "--vm-host", "a=ssh://u@127.0.0.1:1")
    bad = pytester.path / "bad.json"
    if content is not None:
        bad.write_bytes(content)
    out = pytester.path / "submission"
    done = run_merge(good, str(bad), "-o", f"{out}.json", "--html", f"{out}.html", "--junit", f"{out}.xml")
    assert done.returncode == 2
    assert f"{bad}: {expected}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        sorted(p.name for p in pytester.path.iterdir() if p.name.startswith(("submission", ".submission")))
        == []
    )


def test_a_broken_test_row_is_refused(job, pytester):
    good = job("good", LINUX_MODULE, "--vm-host", "a=ssh://u@127.0.0.1:1")
    document = json.loads(open(good).read())
    document["Tests"][0]["Result"] = "Pass"  # not a result word
    bad = pytester.path / "bad.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(
        merge.MergeError, match=r"bad\.json: not a pytest-vmimage report .* at Tests/0/Result"
    ):
        merge.run([good, str(bad)], str(pytester.path / "out.json"))


def test_output_may_not_overwrite_an_input(job):
    good = job("good", LINUX_MODULE, "--vm-host", "a=ssh://u@127.0.0.1:1")
    before = open(good).read()
    with pytest.raises(merge.MergeError, match="also an input"):
        merge.run([good], good)
    assert open(good).read() == before


def test_console_script_and_help():
    done = subprocess.run(
        [sys.executable, "-m", "pytest_vmimage", "merge", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--allow-mixed" in done.stdout
