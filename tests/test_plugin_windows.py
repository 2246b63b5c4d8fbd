"""Windows targets through the plugin: real pywinrm HTTP traffic against the
WS-Management test endpoint (tests/winrm_endpoint.py), driven by real pytest runs."""

from __future__ import annotations

import json
import socket

import pytest

WINDOWS_MODULE = """
from pytest_vmimage import requirement, Verdict

@requirement("WIN-008", "The OS is 64-bit", guide="tool 1.1.4")
def test_arch(vm_winrm):
    facts = vm_winrm.run_ps("# facts: os\\nGet-WmiObject Win32_OperatingSystem | ConvertTo-Json")
    arch = facts["OSArchitecture"]
    if arch == "64-bit":
        return Verdict.passed(arch, "64-bit")
    return Verdict.failed(arch, "64-bit", f"the OS is {arch}; use a 64-bit image (tool 1.1.4)")

@requirement("WIN-011", "No BitLocker on C:", guide="tool")
def test_again(vm_winrm):
    facts = vm_winrm.run_ps("# facts: os\\n")
    return Verdict.passed(facts["Caption"], "any")
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_windows_target_over_winrm_reuses_one_shell(pytester, winrm_endpoint, monkeypatch):
    winrm_endpoint.add_json(
        "# facts: os", {"OSArchitecture": "64-bit", "Caption": "Microsoft Windows Server 2012 R2 Datacenter"}
    )
    monkeypatch.setenv("WIN_PW", winrm_endpoint.password)
    pytester.makepyfile(test_win=WINDOWS_MODULE)
    url = f"ws2012=winrm://{winrm_endpoint.username}@127.0.0.1:{winrm_endpoint.port}?scheme=http&transport=basic"
    result = pytester.runpytest(
        "--vm-host", url, "--vm-password-env", "WIN_PW", "--vm-report", "cert.json", "-v"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_arch[[]ws2012[]] PASSED*"])
    assert len(winrm_endpoint.of("Create")) == 1, "one shell per target, reused by every check"
    assert len(winrm_endpoint.scripts) == 2
    cert = json.loads((pytester.path / "cert.json").read_text())
    assert cert["Hosts"][0] == {
        "Label": "ws2012",
        "OS": "windows",
        "URL": f"winrm://vmimage@127.0.0.1:{winrm_endpoint.port}",
    }
    assert winrm_endpoint.password not in result.stdout.str()
    assert winrm_endpoint.password not in (pytester.path / "cert.json").read_text()


def test_windows_32_bit_fails_with_its_message(pytester, winrm_endpoint, monkeypatch):
    winrm_endpoint.add_json("# facts: os", {"OSArchitecture": "32-bit", "Caption": "x"})
    monkeypatch.setenv("VMIMAGE_PASSWORD", winrm_endpoint.password)
    pytester.makepyfile(test_win=WINDOWS_MODULE)
    url = f"winrm://{winrm_endpoint.username}@127.0.0.1:{winrm_endpoint.port}?scheme=http&transport=basic"
    result = pytester.runpytest("--vm-host", url, "-k", "WIN-008")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the OS is 32-bit; use a 64-bit image (tool 1.1.4)*"])


def test_wrong_windows_password_is_one_error_per_test(pytester, winrm_endpoint, monkeypatch):
    monkeypatch.setenv("VMIMAGE_PASSWORD", "Wrong-Canary-Secret-1")
    pytester.makepyfile(test_win=WINDOWS_MODULE)
    url = f"w=winrm://{winrm_endpoint.username}@127.0.0.1:{winrm_endpoint.port}?scheme=http&transport=basic"
    result = pytester.runpytest("--vm-host", url, "-vv")
    result.assert_outcomes(errors=2)
    out = result.stdout.str()
    assert out.count("cannot connect to w") >= 2 and "authentication failed" in out
    assert "Wrong-Canary-Secret-1" not in out
    assert "Traceback" not in out
    assert len(winrm_endpoint.of("Create")) <= 1, "a refused target is not retried for every test"


def test_unreachable_windows_target_is_connection_refused(pytester):
    pytester.makepyfile(test_win=WINDOWS_MODULE)
    port = closed_port()
    result = pytester.runpytest("--vm-host", f"w=winrm://admin@127.0.0.1:{port}?scheme=http", "-v")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*cannot connect to w*connection refused*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
