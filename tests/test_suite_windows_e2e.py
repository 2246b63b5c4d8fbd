"""End to end: ``suites/windows`` through the plugin against the WS-Management test
endpoint (real pywinrm HTTP traffic, Basic over http). The endpoint answers the one
collection script with Windows-shaped facts (the hand-written snapshot, or an edited
copy), matched on the script's marker; results are read back from JUnit properties."""

from __future__ import annotations

import copy
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import pytest_vmimage.suites.windows as windows_suite

from pytest_vmimage.checks import windows
from pytest_vmimage.facts.windows import SCRIPT_MARKER, recount
from tests import winrm_windows_shapes as shapes

SNAPSHOT = Path(__file__).parent / "recorded" / "windows" / "ws2012r2-compliant.json"
SUITE = str(Path(windows_suite.__file__).parent)
ALL_IDS = {f"WIN-{n:03d}" for n in range(1, 15)}


@pytest.fixture(autouse=True)
def pinned_run_date(monkeypatch):
    """WIN-001 judges support against the run's date: the day of this session."""
    monkeypatch.setattr(windows, "run_date", lambda: dt.date(2026, 12, 1))


def document() -> dict:
    data = json.loads(SNAPSHOT.read_text())
    return {"meta": data["meta"], "parts": data["parts"]}


def violating() -> dict:
    """BitLocker on C:, a 32-bit OS and the DHCP Server role."""
    doc = copy.deepcopy(document())
    parts = doc["parts"]
    parts["bitlocker"] = {
        "drive": "C:",
        "namespace_present": True,
        "volume_found": True,
        "protection_status": 1,
        "conversion_status": 1,
        "encryption_percentage": 100,
    }
    parts["os"].update(proc_arch="x86", os_architecture="32-bit", ptr_size=4)
    parts["features"]["installed"].append("DHCP")
    for part in parts.values():  # as the script reports them: completed, items counted
        part.setdefault("_status", "ok")
        recount(part)
    return doc


def results(path: Path) -> list[dict[str, str]]:
    """One dict of our properties per test case (name added)."""
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        out.append({"name": case.get("name"), **props})
    return out


def url(endpoint, label: str) -> str:
    return f"{label}=winrm://{endpoint.username}@127.0.0.1:{endpoint.port}?scheme=http&transport=basic"


def test_compliant_and_violating_targets(pytester, make_winrm_endpoint, monkeypatch):
    good = make_winrm_endpoint()
    bad = make_winrm_endpoint()
    good.add_json(SCRIPT_MARKER, document())
    bad.add_json(SCRIPT_MARKER, violating())
    assert good.password == bad.password
    monkeypatch.setenv("VMIMAGE_PASSWORD", good.password)
    result = pytester.runpytest(
        SUITE,
        "--vm-host",
        url(good, "good"),
        "--vm-host",
        url(bad, "bad"),
        "--junitxml=junit.xml",
        "--vm-facts-dir=facts",
        "-p",
        "no:cacheprovider",
    )
    cases = results(pytester.path / "junit.xml")
    assert len(cases) == 2 * (13 + 13)
    by_host: dict[str, dict[str, list[str]]] = {"good": {}, "bad": {}}
    for case in cases:
        by_host[case["host"]].setdefault(case["requirement"], []).append(case["result"])
    assert set(by_host["good"]) == set(by_host["bad"]) == ALL_IDS
    for req_id, found in by_host["good"].items():
        assert set(found) == {"passed"}, (req_id, found)
    failed = sorted(
        (c["requirement"], c["name"]) for c in cases if c["host"] == "bad" and c["result"] != "passed"
    )
    assert [req for req, _ in failed] == ["WIN-008", "WIN-010", "WIN-011"], failed
    assert "DHCP-Server" in failed[1][1]
    assert all(c["result"] == "failed" for c in cases if c["host"] == "bad" and c["result"] != "passed")
    messages = {
        c["requirement"]: c["message"] for c in cases if c["host"] == "bad" and c["result"] == "failed"
    }
    assert "32-bit" in messages["WIN-008"]
    assert "Uninstall-WindowsFeature DHCP" in messages["WIN-010"]
    assert "manage-bde -off C:" in messages["WIN-011"]
    result.assert_outcomes(passed=2 * 26 - 3, failed=3)
    for endpoint in (good, bad):
        assert len(endpoint.of("Create")) == 1, "one WinRM shell per target"
        assert len(endpoint.scripts) == 1, "one collection script per target"
        assert SCRIPT_MARKER in endpoint.scripts[0]
    recorded = json.loads((pytester.path / "facts" / "bad.windows.json").read_text())
    assert recorded["parts"]["bitlocker"]["protection_status"] == 1
    assert good.password not in result.stdout.str()


def test_a_part_that_failed_on_the_vm_errors_only_its_checks(pytester, winrm_endpoint, monkeypatch):
    doc = shapes.ws2025_azure_core()  # compliant under current (2012 R2 is out of support)
    doc["parts"]["updates"] = {
        "_status": "error",
        "_error": "Exception from HRESULT: 0x80070005 (E_ACCESSDENIED)",
        "_error_type": "System.UnauthorizedAccessException",
        "_elapsed_ms": 2210,
    }
    winrm_endpoint.add_json(SCRIPT_MARKER, doc)
    monkeypatch.setenv("VMIMAGE_PASSWORD", winrm_endpoint.password)
    result = pytester.runpytest(
        SUITE, "--vm-host", url(winrm_endpoint, "w"), "--junitxml=junit.xml", "--vm-profile=current"
    )
    cases = results(pytester.path / "junit.xml")
    not_passed = {c["requirement"]: c for c in cases if c["result"] not in ("passed", "not_applicable")}
    assert [c["name"] for c in cases if c["result"] == "not_applicable"] == [
        "test_unsupported_feature_absent[w-Hyper-V]"
    ]
    assert list(not_passed) == ["WIN-004"]
    assert not_passed["WIN-004"]["result"] == "error"
    assert (
        "collecting 'updates' failed on the VM: Exception from HRESULT: 0x80070005"
        in (not_passed["WIN-004"]["message"])
    )
    assert len(winrm_endpoint.scripts) == 1
    outcomes = result.parseoutcomes()  # Hyper-V is not applicable in current (shown as such)
    assert (outcomes["passed"], outcomes["errors"], outcomes.get("failed", 0)) == (24, 1, 0), outcomes


def test_a_crashed_collection_script_is_one_error_per_check(pytester, winrm_endpoint, monkeypatch):
    winrm_endpoint.add_json(SCRIPT_MARKER, {"x": 1}, exit_code=1)
    monkeypatch.setenv("VMIMAGE_PASSWORD", winrm_endpoint.password)
    result = pytester.runpytest(SUITE, "--vm-host", url(winrm_endpoint, "w"), "-p", "no:cacheprovider")
    result.assert_outcomes(errors=26)
    result.stdout.fnmatch_lines(["*w: collecting facts failed: w: PowerShell exited with code 1*"])
    assert len(winrm_endpoint.scripts) == 1, "a failed collection is not retried for every check"


def test_recorded_violating_vm_fails_exactly_its_requirements(pytester, winrm_endpoint, monkeypatch):
    """tests/recorded/windows/ws2012r2-violating.json (one violation per requirement) through the
    plugin: every requirement fails, or warns where the profile says so, and none passes."""
    data = json.loads((SNAPSHOT.parent / "ws2012r2-violating.json").read_text())
    winrm_endpoint.add_json(SCRIPT_MARKER, {"meta": data["meta"], "parts": data["parts"]})
    monkeypatch.setenv("VMIMAGE_PASSWORD", winrm_endpoint.password)
    pytester.runpytest(
        SUITE, "--vm-host", url(winrm_endpoint, "bad"), "--junitxml=junit.xml", "--vm-profile=current"
    )
    cases = results(pytester.path / "junit.xml")
    assert len(cases) == 13 + 13
    found = {(c["requirement"], c["result"]) for c in cases if "Hyper-V" not in c["name"]}
    warned = {"WIN-005", "WIN-012"}  # recommendations in both profiles
    assert found == {(r, "warning" if r in warned else "failed") for r in ALL_IDS}, sorted(found)
    hyper_v = [c["result"] for c in cases if "Hyper-V" in c["name"]]
    assert hyper_v == ["not_applicable"]  # not on the current list
    assert len(winrm_endpoint.scripts) == 1


#: Windows shape -> (WIN-001, WIN-014) under current (guide-2016: tests/test_checks_windows.py).
SHAPE_RESULTS = {
    "ws2025-azure-core": ("passed", "passed"),
    "ws2022-old-agent": ("passed", "failed"),
    "agent-disabled": ("passed", "failed"),
    "agent-missing": ("passed", "failed"),
    "ws2012r2": ("failed", "passed"),
}


def test_windows_shapes_through_the_endpoint(pytester, make_winrm_endpoint, monkeypatch):
    """Azure Edition Core 2025 with agent 2.7.41491.1102, 2022 with an old agent, the agent
    disabled or missing, and 2012 R2 (out of support), each a WinRM target answering the
    collection script: WIN-001 and WIN-014 under current, judged from the facts that crossed
    the wire."""
    args = []
    for name, make in shapes.SHAPES.items():
        endpoint = make_winrm_endpoint()
        endpoint.add_json(SCRIPT_MARKER, make())
        monkeypatch.setenv("VMIMAGE_PASSWORD", endpoint.password)
        args += ["--vm-host", url(endpoint, name)]
    pytester.runpytest(
        SUITE,
        *args,
        "-k",
        "approved_base or windows_vm_agent",
        "--junitxml=junit.xml",
        "--vm-profile=current",
    )
    cases = results(pytester.path / "junit.xml")
    assert len(cases) == 2 * len(SHAPE_RESULTS)
    found = {(c["host"], c["requirement"]): (c["result"], c["actual"] + " | " + c["message"]) for c in cases}
    for name, expected in SHAPE_RESULTS.items():
        got = (found[(name, "WIN-001")][0], found[(name, "WIN-014")][0])
        assert got == expected, (name, got, found[(name, "WIN-001")][1], found[(name, "WIN-014")][1])
    assert "ServerTurbineCor" in found[("ws2025-azure-core", "WIN-001")][1]
    assert "WindowsAzureGuestAgent 2.7.41491.1102" in found[("ws2025-azure-core", "WIN-014")][1]
    assert "2.7.41491.949 is older than 2.7.41491.1010" in found[("ws2022-old-agent", "WIN-014")][1]
    assert "set to start Disabled" in found[("agent-disabled", "WIN-014")][1]
    assert "not installed" in found[("agent-missing", "WIN-014")][1]
    assert "extended support ended 2023-10-10" in found[("ws2012r2", "WIN-001")][1]
