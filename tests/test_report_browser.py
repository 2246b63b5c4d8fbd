"""The HTML reports as a browser shows them: headless Debian Chromium renders the
pytest-html report of a two-size run and a merged submission page, and the header and
the per-size table are there (scripts/check_report_browser.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_report_browser.py"
spec = importlib.util.spec_from_file_location("check_report_browser", SCRIPT)
browser = importlib.util.module_from_spec(spec)
sys.modules["check_report_browser"] = browser
spec.loader.exec_module(browser)

if browser.chromium() is None:
    if os.environ.get("CI") == "true":  # scripts/setup.sh installs it: missing is a failure there
        raise RuntimeError("chromium is not installed; scripts/setup.sh should have installed it")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

MODULE = """
from pytest_vmimage import requirement, Verdict

@requirement("LNX-101", "passes", guide="9.1")
def test_pass(vm_target):
    return Verdict.passed("found x", "need x")

@requirement("LNX-102", "warns", guide="9.2", severity="warn")
def test_warn(vm_target):
    return Verdict.warning("found y", "need x", "recommendation not met")

@requirement("LNX-103", "fails on one size", guide="9.3")
def test_fail(vm_target):
    if vm_target.label == "E4s_v5":
        return Verdict.failed("found z", "need x", "broken; fix it (guide 9.3)")
    return Verdict.passed("found x", "need x")
"""


def test_reports_render_with_header_and_per_size_table(pytester):
    from pytest_vmimage import merge

    pytester.makepyfile(test_x=MODULE)
    hosts = ["--vm-host", "D2s_v5=ssh://u@127.0.0.1:1", "--vm-host", "E4s_v5=ssh://u@127.0.0.1:2"]
    pytester.runpytest(
        *hosts,
        "--html=out/report.html",
        "--self-contained-html",
        "--vm-report=out/cert.json",
        "-p",
        "no:cacheprovider",
    )
    report = pytester.path / "out" / "report.html"
    shot = pytester.path / "out" / "report.png"
    dom = browser.render(report, shot)
    assert browser.check(dom, ["D2s_v5", "E4s_v5"]) == []
    assert 'id="vm-overall">Failed<' in dom
    assert dom.count('class="col-vmresult"') >= 6  # pytest-html's own rows, built by its JavaScript
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    merge.run([str(pytester.path / "out" / "cert.json")], None, html=str(pytester.path / "sub.html"))
    dom = browser.render(pytester.path / "sub.html")
    assert browser.check(dom, ["D2s_v5", "E4s_v5"]) == []
    cert = json.loads((pytester.path / "out" / "cert.json").read_text())
    assert {t["Label"]: t["TestResult"] for t in cert["Targets"]} == {
        "D2s_v5": "Passed with warnings",
        "E4s_v5": "Failed",
    }


def test_the_check_fails_on_a_page_without_the_header(tmp_path):
    page = tmp_path / "plain.html"
    page.write_text("<html><body><h1>pytest report</h1><table id='results-table'></table></body></html>")
    problems = browser.check(browser.render(page), ["D2s_v5"])
    assert "no element #vm-overall" in problems and any("no column 'D2s_v5'" in p for p in problems)
