"""Reports that say what was judged (issue 8 item 5, issue 12): overall result per target
and run, requirements left out listed, overrides in every report, the JSON schema."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from pytest_vmimage import merge
from pytest_vmimage.facts.linux import LinuxFacts, Section
from pytest_vmimage.report import judge
from pytest_vmimage.tested import describe_linux, file_sha256

RECORDED = Path(__file__).resolve().parent / "recorded" / "linux"

MODULE = """
from pytest_vmimage import requirement, Verdict

@requirement("LNX-101", "passes", guide="9.1")
def test_pass(vm_target):
    return Verdict.passed("found x", "need x")

@requirement("LNX-102", "warns", guide="9.2", severity="warn")
def test_warn(vm_target):
    return Verdict.warning("found y", "need x", "recommendation not met")

@requirement("LNX-104", "does not apply", guide="9.4")
def test_na(vm_target):
    return Verdict.not_applicable("no data disk is attached to this VM")
"""

HOSTS = ["--vm-host", "D2s_v5=ssh://u@127.0.0.1:1", "--vm-host", "E4s_v5=ssh://u@127.0.0.1:2"]


def run(pytester, *args, subprocess=False):
    pytester.makepyfile(test_x=MODULE)
    reports = ["--junitxml=out/junit.xml", "--html=out/report.html", "--self-contained-html"]
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    result = runner(*args, *reports, "--vm-report=out/cert.json", "-p", "no:cacheprovider")
    cert = json.loads((pytester.path / "out" / "cert.json").read_text())
    merge.validate(cert, "cert.json")  # every report the plugin writes matches the schema
    return result, cert


def test_a_full_run_passes_with_warnings_per_target_and_explains_them(pytester):
    result, cert = run(pytester, *HOSTS)
    assert cert["SchemaVersion"] == "2.0" and cert["Tool"]["Name"] == "pytest-vmimage"
    assert cert["TestResult"] == "Passed with warnings"
    assert {t["Label"]: t["TestResult"] for t in cert["Targets"]} == {
        "D2s_v5": "Passed with warnings",
        "E4s_v5": "Passed with warnings",
    }
    na = [t for t in cert["Tests"] if t["TestID"] == "LNX-104"]
    assert all(t["Accepted"] for t in na)  # the check's own "does not apply" is accepted
    assert cert["Incomplete"] == [] and cert["NotRun"] == []
    assert any("LNX-102 on D2s_v5" in w and "recommendation" in w for w in cert["WarningsExplained"])
    result.stdout.fnmatch_lines(["*overall: Passed with warnings (profile guide-2016)*"])
    html = (pytester.path / "out" / "report.html").read_text()
    assert 'id="vm-overall">Passed with warnings<' in html
    assert "<th>D2s_v5</th><th>E4s_v5</th>" in html  # one column per target


@pytest.mark.parametrize(
    ("args", "reason", "xdist"),
    [
        (["-k", "not test_warn"], "deselected (-k / -m / --deselect)", False),
        (["--vm-severity", "fail"], "deselected by --vm-severity fail (its severity is warn)", False),
        (["--vm-severity", "fail"], "deselected by --vm-severity fail (its severity is warn)", True),
    ],
    ids=["-k", "--vm-severity", "--vm-severity-xdist"],
)
def test_a_run_that_left_requirements_out_is_never_passed(pytester, args, reason, xdist):
    extra = ["-n", "2"] if xdist else []
    result, cert = run(pytester, *HOSTS, *args, *extra, subprocess=xdist)
    assert cert["TestResult"] == "Incomplete"
    assert sorted((n["TestID"], n["Host"], n["Reason"]) for n in cert["NotRun"]) == [
        ("LNX-102", "D2s_v5", reason),
        ("LNX-102", "E4s_v5", reason),
    ]
    assert {t["TestResult"] for t in cert["Targets"]} == {"Incomplete"}
    assert "LNX-102 on D2s_v5 was not run: " + reason in cert["Incomplete"]
    result.stdout.fnmatch_lines(["*overall: Incomplete*", "*incomplete: LNX-102 on D2s_v5 was not run*"])
    html = (pytester.path / "out" / "report.html").read_text()
    assert 'id="vm-incomplete"' in html and "not run" in html


def test_not_checked_and_errors_are_incomplete_but_a_failure_is_failed(pytester):
    pytester.makepyfile(
        test_y="""
        import pytest
        from pytest_vmimage import requirement, Verdict, FactError

        @requirement("LNX-105", "skipped before the check", guide="9.5")
        @pytest.mark.skip(reason="not today")
        def test_skipped(vm_target):
            return Verdict.passed("x", "x")

        @requirement("LNX-106", "offline", guide="9.6")
        def test_offline(vm_target):
            return Verdict.not_applicable("offline (--vm-offline): the download test was not run")

        @requirement("LNX-107", "cannot tell", guide="9.7")
        def test_error(vm_target):
            raise FactError("permission denied reading /etc/shadow")
        """
    )
    result, cert = run(pytester, "--vm-host", "D2s_v5=ssh://u@127.0.0.1:1")
    by_id = {t["TestID"]: t for t in cert["Tests"]}
    assert by_id["LNX-104"]["Accepted"] is True
    assert by_id["LNX-105"]["Accepted"] is False and by_id["LNX-106"]["Accepted"] is False
    assert cert["TestResult"] == "Incomplete"
    text = "\n".join(cert["Incomplete"])
    for needle in (
        "LNX-105 on D2s_v5 was not checked: not today",
        "LNX-106 on D2s_v5 was not checked: offline",
        "LNX-107 on D2s_v5 could not be judged (error): ",
    ):
        assert needle in text
    # a failure beats everything
    failed = dict(cert, Tests=cert["Tests"] + [dict(by_id["LNX-101"], TestID="LNX-108", Result="Failed")])
    assert judge(failed).overall == "Failed" and judge(failed).per_target["D2s_v5"] == "Failed"


def test_nothing_checked_is_incomplete_not_passed():
    document = {"Hosts": [], "Tests": [], "NotRun": []}
    assert judge(document).overall == "Incomplete"
    only_na = {
        "Hosts": [{"Label": "a", "OS": "linux", "URL": "ssh://u@h"}],
        "Tests": [{"TestID": "LNX-104", "Host": "a", "Result": "NotApplicable", "Accepted": True}],
        "NotRun": [],
    }
    assert judge(only_na).overall == "Incomplete"
    assert judge(only_na).per_target == {"a": "Incomplete"}


def test_requirements_of_another_os_are_out_of_scope_not_incomplete():
    document = {
        "Hosts": [{"Label": "a", "OS": "linux", "URL": "ssh://u@h"}],
        "Tests": [
            {"TestID": "LNX-101", "Host": "a", "Result": "Passed"},
            {
                "TestID": "WIN-001",
                "Host": "",
                "Result": "NotApplicable",
                "Accepted": False,
                "Message": "no x",
            },
        ],
        "NotRun": [],
    }
    judgement = judge(document)
    assert judgement.overall == "Passed" and judgement.out_of_scope == ["WIN-001: no x"]


def test_overrides_appear_in_every_report(pytester):
    config = pytester.makefile(".toml", vm="[thresholds]\nclient_alive_interval = 120\n")
    result, cert = run(pytester, *HOSTS, "--vm-config", str(config))
    assert cert["Overrides"] == [
        {
            "Name": "client_alive_interval",
            "Value": 120,
            "Default": 180,
            "Meaning": "sshd ClientAliveInterval that passes",
        }
    ]
    result.stdout.fnmatch_lines(["*override client_alive_interval = 120 (profile default 180)*"])
    html = (pytester.path / "out" / "report.html").read_text()
    assert "<td>client_alive_interval</td><td>120</td><td>180</td>" in html
    suite = ET.parse(pytester.path / "out" / "junit.xml").getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["vmimage_override_client_alive_interval"] == "120 (profile default 180)"


def test_what_was_tested_comes_from_the_facts_or_says_unknown():
    facts = LinuxFacts.load(RECORDED / "debian12-compliant.json")
    tested = describe_linux(facts, "D2s_v5")
    assert tested["Distribution"].startswith("Debian GNU/Linux 12")
    assert tested["Architecture"] == "x86_64"
    assert tested["Kernel"].startswith("6.1.")
    assert tested["AgentVersion"].startswith("2.")
    assert tested["VmSize"].startswith("unknown")
    assert tested["Disks"] == "vda 30 GiB, vdb 1 GiB"  # loop devices and empty drives are not disks
    broken = LinuxFacts.load(RECORDED / "debian12-compliant.json")
    broken.sections["uname"] = Section(1, "")
    broken.sections["agent_version"] = Section(127, "waagent: not found")
    tested = describe_linux(broken, "D2s_v5")
    assert tested["Kernel"].startswith("unknown (uname -r:")
    assert tested["AgentVersion"].startswith("unknown (waagent --version:")


def test_sha256_of_an_unreadable_file_is_unknown(tmp_path):
    assert file_sha256(tmp_path / "missing.vhd").startswith("unknown (cannot read missing.vhd")
    assert file_sha256(tmp_path).startswith("unknown (cannot read")
    (tmp_path / "x.vhd").write_bytes(b"abc")
    assert (
        file_sha256(tmp_path / "x.vhd") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_schema_is_valid_and_rejects_a_passed_with_unknown_words():
    schema = merge.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(merge.MergeError, match="at TestResult"):
        merge.validate(
            {
                "SchemaVersion": "2.0",
                "Tool": {"Name": "pytest-vmimage", "Version": "0"},
                "CreatedDate": "x",
                "TestResult": "Pass",
                "Profile": "p",
                "Overrides": [],
                "Hosts": [],
                "Targets": [],
                "Tests": [],
                "NotRun": [],
                "Incomplete": [],
            },
            "doc",
        )


def test_windows_description_from_the_facts_or_unknown():
    from pytest_vmimage.facts.windows import WindowsFacts
    from pytest_vmimage.tested import describe_windows

    snapshot = Path(__file__).resolve().parent / "recorded" / "windows" / "ws2012r2-compliant.json"
    facts = WindowsFacts.load(snapshot)
    tested = describe_windows(facts, "w")
    assert tested["Distribution"] == "Microsoft Windows Server 2012 R2 Datacenter"
    assert tested["Kernel"] == "6.3.9600" and tested["Architecture"] == "64-bit"
    del facts.parts["os"]
    tested = describe_windows(facts, "w")
    assert all(value.startswith("unknown (") for value in tested.values()), tested
