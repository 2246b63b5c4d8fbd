"""WinRM faults through the plugin: ``suites/windows`` against the WS-Management test
endpoint answering 401, HTTP 500, a WSManFault (HTTP 500) on the collection, or nothing
in time. Every check of the target is one ERROR naming the cause, after one attempt;
the reports are still written and carry no password."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import pytest_vmimage.suites.windows as windows_suite

SUITE = str(Path(windows_suite.__file__).parent)
CHECKS = 26  # WIN-001..014, WIN-010 once per unsupported feature


def run(pytester, endpoint, monkeypatch):
    monkeypatch.setenv("VMIMAGE_PASSWORD", endpoint.password)
    url = f"w=winrm://{endpoint.username}@127.0.0.1:{endpoint.port}?scheme=http&transport=basic"
    result = pytester.runpytest(SUITE, "--vm-host", url, "-p", "no:cacheprovider", "--vm-report", "cert.json")
    result.assert_outcomes(errors=CHECKS)
    report = (pytester.path / "cert.json").read_text()
    assert endpoint.password not in result.stdout.str() + report
    assert "Traceback" not in result.stdout.str()
    return result, json.loads(report)


@pytest.mark.parametrize(
    "status, cause",
    [(401, "authentication failed (401) for user 'vmimage'"), (500, "WinRM endpoint answered HTTP 500")],
)
def test_every_request_refused(pytester, winrm_endpoint, monkeypatch, status, cause):
    winrm_endpoint.force_status = status
    result, report = run(pytester, winrm_endpoint, monkeypatch)
    result.stdout.fnmatch_lines([f"*cannot connect to w: {cause}*"])
    assert {t["Result"] for t in report["Tests"]} == {"Error"} and len(report["Tests"]) == CHECKS
    assert len(winrm_endpoint.requests) <= 3, "one connection attempt, not one per check"


def test_a_wsman_fault_on_the_collection(pytester, winrm_endpoint, monkeypatch):
    winrm_endpoint.fail_actions = {
        "Command": (
            2150858843,
            "w:InvalidSelectors",
            "The request contained invalid selectors for the resource.",
        )
    }
    result, _ = run(pytester, winrm_endpoint, monkeypatch)
    result.stdout.fnmatch_lines(
        ["*w: collecting facts failed: w: WinRM fault: The request contained invalid*"]
    )
    assert len(winrm_endpoint.of("Command")) == 1, "a failed collection is not retried for every check"


def test_an_endpoint_that_stops_answering_is_bounded(pytester, winrm_endpoint, monkeypatch):
    winrm_endpoint.delays = {"Command": 35}  # longer than the client's read timeout (20 + 10 s)
    started = time.monotonic()
    result, _ = run(pytester, winrm_endpoint, monkeypatch)
    assert time.monotonic() - started < 60
    result.stdout.fnmatch_lines(["*w: collecting facts failed: w: timed out (no answer within 30 s)*"])
    assert len(winrm_endpoint.of("Command")) == 1
