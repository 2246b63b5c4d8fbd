"""The plugin contract, exercised through real pytest runs (pytester).

No VM is needed here: requirement tests in these runs return verdicts directly,
and unreachable targets are real connection attempts to closed loopback ports.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

import pytest

CANARY = "Canary-P4ssw0rd-7f3a"

VERDICTS_MODULE = """
from pytest_vmimage import requirement, Verdict, FactError

@requirement("LNX-101", "passes", guide="9.1")
def test_pass(vm_target):
    return Verdict.passed("found x", "need x", "all good")

@requirement("LNX-102", "warns", guide="9.2", severity="warn")
def test_warn(vm_target):
    return Verdict.warning("found y", "need x", "recommendation not met")

@requirement("LNX-103", "fails", guide="9.3")
def test_fail(vm_target):
    return Verdict.failed("found z", "need x", "rule broken; fix it (guide 9.3)")

@requirement("LNX-104", "not applicable", guide="9.4")
def test_na(vm_target):
    return Verdict.not_applicable("Hyper-V facts are not visible under QEMU")

@requirement("LNX-105", "cannot tell", guide="9.5")
def test_fact_error(vm_target):
    raise FactError("permission denied reading /etc/shadow")

@requirement("LNX-106", "forgot to return", guide="9.6")
def test_no_verdict(vm_target):
    pass
"""


def free_closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def junit_cases(path) -> dict[str, dict[str, str]]:
    root = ET.parse(path).getroot()
    cases = {}
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        cases[case.get("name")] = props
    return cases


def run_with_reports(pytester, *args, subprocess=False):
    reports = [
        "--junitxml=out/junit.xml",
        "--html=out/report.html",
        "--self-contained-html",
        "--vm-report=out/cert.json",
    ]
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    return runner(*args, *reports, "-p", "no:cacheprovider")


# -- options and configuration ---------------------------------------------------


def test_help_lists_every_option(pytester):
    result = pytester.runpytest("--help")
    for option in (
        "--vm-host",
        "--vm-ssh-key",
        "--vm-ssh-config",
        "--vm-password-env",
        "--vm-profile",
        "--vm-config",
        "--vm-report",
        "--vm-strict",
        "--vm-severity",
    ):
        result.stdout.fnmatch_lines([f"*{option}*"])
    # testinfra's own options still work beside ours (no name clash)
    result.stdout.fnmatch_lines(["*--hosts*"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--vm-host", f"ssh://admin:{CANARY}@10.0.0.4"],
            "*password inside the URL is refused*VMIMAGE_PASSWORD*",
        ),
        (["--vm-host", "ftp://admin@10.0.0.4"], "*must start with ssh:// (Linux) or winrm:// (Windows)*"),
        (["--vm-host", "ssh://10.0.0.4"], "*name the user to log in as*"),
        (["--vm-host", "ssh://u@h?transport=ntlm"], "*unknown option 'transport'*"),
        (["--vm-host", "winrm://u@h?transport=magic"], "*transport='magic' is not one of*"),
        (["--vm-host", "ssh://u@h:99999"], "*Port out of range*"),
        (["--vm-host", "a=ssh://u@h", "--vm-host", "a=ssh://u@g"], "*two targets are labelled 'a'*"),
        (["--vm-profile", "2020"], "*--vm-profile '2020': choose one of guide-2016, current*"),
        (["--vm-ssh-key", "missing-key"], "*--vm-ssh-key missing-key: no such file*"),
        (["--vm-config", "missing.toml"], "*--vm-config missing.toml: no such file*"),
    ],
)
def test_bad_input_fails_clearly_and_reports_are_written(pytester, args, expected):
    pytester.makepyfile(test_x=VERDICTS_MODULE)
    result = run_with_reports(pytester, *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([expected])
    assert "Traceback" not in result.stdout.str()
    assert CANARY not in result.stdout.str()
    for name in ("junit.xml", "report.html", "cert.json"):
        text = (pytester.path / "out" / name).read_text()
        assert CANARY not in text
    cert = json.loads((pytester.path / "out" / "cert.json").read_text())
    assert cert["TestResult"] == "Incomplete"  # nothing was judged: never Passed
    assert cert["Tests"][0]["Result"] == "Error"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[thresholds]\nno_such = 1\n", "*[thresholds] 'no_such' is not a threshold*"),
        (
            "[thresholds]\ndata_disk_max_gib = 'big'\n",
            "*data_disk_max_gib = 'big' has the wrong type; expected*",
        ),
        ("[thresholds]\ndata_disk_max_gib = -1\n", "*must not be negative*"),
        ("[thresholds\n", "*not valid TOML*"),
        ("[extras]\nx = 1\n", "*unknown section(s) extras*"),
        (
            "[image]\nssh_intentionally_blocked = 'yes'\n",
            "*ssh_intentionally_blocked = 'yes' has the wrong type*",
        ),
    ],
)
def test_config_file_is_validated(pytester, toml, expected):
    pytester.makefile(".toml", vm=toml)
    pytester.makepyfile(test_x=VERDICTS_MODULE)
    result = pytester.runpytest("--vm-config", "vm.toml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([expected.replace("[", "[[]")])


def test_config_file_overrides_a_threshold(pytester):
    pytester.makefile(".toml", vm="[thresholds]\ndata_disk_max_gib = 500\n")
    pytester.makepyfile(
        test_x="""
        def test_profile(vm_profile):
            assert vm_profile.name == "current"
            assert vm_profile["data_disk_max_gib"] == 500
            assert vm_profile["kernel_params_fail"] == ["console=ttyS0"]
            assert vm_profile.overridden == ("data_disk_max_gib",)
        """
    )
    result = pytester.runpytest("--vm-config", "vm.toml", "--vm-profile", "current")
    result.assert_outcomes(passed=1)


# -- declarations ------------------------------------------------------------------


def test_duplicate_requirement_is_a_collection_error(pytester):
    decl = """
    from pytest_vmimage import requirement, Verdict
    @requirement("LNX-013", "kernel line", guide="2.5")
    def test_{name}(vm_target):
        return Verdict.passed("", "")
    """
    pytester.makepyfile(test_a=decl.format(name="a"), test_b=decl.format(name="b"))
    result = pytester.runpytest("--strict-markers")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*requirement LNX-013 is declared twice*test_a.py::test_a*test_b.py::test_b*"]
    )


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ('"LNX-13", "t", guide="2"', "*'LNX-13' is not in the catalogue format*"),
        ('"ABC-013", "t", guide="2"', "*'ABC-013' is not in the catalogue format*"),
        ('"LNX-013", "t", guide="2", severity="maybe"', "*severity 'maybe' must be one of fail, warn*"),
    ],
)
def test_malformed_declaration_is_a_collection_error(pytester, declaration, expected):
    pytester.makepyfile(
        test_a=f"""
        from pytest_vmimage import requirement, Verdict
        @requirement({declaration})
        def test_a(vm_target):
            return Verdict.passed("", "")
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting*", expected])


def test_suites_collect_clean_with_strict_markers(pytester):
    import pytest_vmimage.suites as suites

    result = pytester.runpytest("--pyargs", suites.__name__, "--collect-only", "-q", "--strict-markers")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_kernel_boot_line[[]no-linux-target[]]*"])


# -- verdicts in every output --------------------------------------------------------


def test_verdicts_map_to_outcomes_and_every_report(pytester):
    pytester.makepyfile(test_x=VERDICTS_MODULE)
    result = run_with_reports(pytester, "--vm-host", "D2s_v3=ssh://azureuser@127.0.0.1:1", "-v")
    result.stdout.fnmatch_lines(
        [
            "*test_pass[[]D2s_v3[]] PASSED*",
            "*test_warn[[]D2s_v3[]] WARNING*",
            "*test_fail[[]D2s_v3[]] FAILED*",
            "*test_na[[]D2s_v3[]] N/A*",
            "*test_fact_error[[]D2s_v3[]] ERROR*",
            "*test_no_verdict[[]D2s_v3[]] ERROR*",
        ]
    )
    result.stdout.fnmatch_lines(["*1 failed, 1 passed, 2 errors, 1 warned, 1 not applicable*"])
    result.stdout.fnmatch_lines(["*FAILED*LNX-103 [[]D2s_v3[]] fails: rule broken; fix it (guide 9.3)*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    cases = junit_cases(pytester.path / "out" / "junit.xml")
    assert len(cases) == 6
    expected = {
        "test_pass[D2s_v3]": "passed",
        "test_warn[D2s_v3]": "warning",
        "test_fail[D2s_v3]": "failed",
        "test_na[D2s_v3]": "not_applicable",
        "test_fact_error[D2s_v3]": "error",
        "test_no_verdict[D2s_v3]": "error",
    }
    for name, result_value in expected.items():
        props = cases[name]
        assert props["result"] == result_value, name
        assert props["host"] == "D2s_v3"
        assert props["requirement"].startswith("LNX-10")
        assert {"actual", "required"} <= set(props)
    assert cases["test_fail[D2s_v3]"]["actual"] == "found z"
    assert cases["test_fail[D2s_v3]"]["required"] == "need x"
    assert "permission denied reading /etc/shadow" in cases["test_fact_error[D2s_v3]"]["message"]
    assert "returned NoneType, not a Verdict" in cases["test_no_verdict[D2s_v3]"]["message"]

    cert = json.loads((pytester.path / "out" / "cert.json").read_text())
    assert cert["TestResult"] == "Failed"
    assert cert["Profile"] == "guide-2016"
    assert cert["Hosts"] == [{"Label": "D2s_v3", "OS": "linux", "URL": "ssh://azureuser@127.0.0.1:1"}]
    by_id = {t["TestID"]: t for t in cert["Tests"]}
    assert [by_id[f"LNX-10{i}"]["Result"] for i in range(1, 7)] == [
        "Passed",
        "Warning",
        "Failed",
        "NotApplicable",
        "Error",
        "Error",
    ]
    assert (
        by_id["LNX-102"].items()
        >= {
            "TestCaseName": "test_warn",
            "Description": "warns",
            "Host": "D2s_v3",
            "GuideSection": "9.2",
            "ActualValue": "found y",
            "RequiredValue": "need x",
        }.items()
    )

    html = (pytester.path / "out" / "report.html").read_text()
    for needle in ("col-requirement", "LNX-102", "col-vmresult", "warning", "found y", "need x"):
        assert needle in html


@pytest.mark.parametrize(
    ("strict", "code"), [(False, pytest.ExitCode.OK), (True, pytest.ExitCode.TESTS_FAILED)]
)
def test_warnings_alone_exit_zero_unless_strict(pytester, strict, code):
    pytester.makepyfile(
        test_x="""
        from pytest_vmimage import requirement, Verdict
        @requirement("LNX-005", "auto-update", guide="tool 51", severity="warn")
        def test_w(vm_target):
            return Verdict.warning("n", "y", "AutoUpdate.Enabled=n")
        @requirement("LNX-027", "64-bit", guide="tool 49")
        def test_p(vm_target):
            return Verdict.passed("x86_64", "x86_64")
        """
    )
    args = ["--vm-host", "ssh://u@127.0.0.1:1", "--vm-report", "cert.json"] + (
        ["--vm-strict"] if strict else []
    )
    result = pytester.runpytest(*args)
    assert result.ret == code
    assert json.loads((pytester.path / "cert.json").read_text())["TestResult"] == "Passed with warnings"


def test_warn_requirement_that_fails_is_a_check_bug(pytester):
    pytester.makepyfile(
        test_x="""
        from pytest_vmimage import requirement, Verdict
        @requirement("LNX-010", "no LVM", guide="2.4", severity="warn")
        def test_w(vm_target):
            return Verdict.failed("lvm", "no lvm", "root on LVM")
        """
    )
    result = pytester.runpytest("--vm-host", "ssh://u@127.0.0.1:1", "-rA")
    result.stdout.fnmatch_lines(["*check bug: declared 'warn' but failed*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


# -- targets -----------------------------------------------------------------------


def test_check_of_the_other_os_is_not_applicable(pytester):
    pytester.makepyfile(
        test_x="""
        from pytest_vmimage import requirement, Verdict
        @requirement("LNX-027", "64-bit", guide="tool 49")
        def test_linux(vm_target):
            return Verdict.passed("x86_64", "x86_64")
        @requirement("WIN-008", "64-bit", guide="tool 1.1.4")
        def test_windows(vm_target):
            return Verdict.passed("64-bit", "64-bit")
        """
    )
    result = pytester.runpytest("--vm-host", "web=winrm://admin@127.0.0.1:1", "-v", "--junitxml=j.xml")
    result.stdout.fnmatch_lines(["*test_linux[[]no-linux-target[]] N/A*", "*test_windows[[]web[]] PASSED*"])
    assert result.ret == pytest.ExitCode.OK
    cases = junit_cases(pytester.path / "j.xml")
    assert cases["test_linux[no-linux-target]"]["result"] == "not_applicable"
    assert "no Linux target given" in cases["test_linux[no-linux-target]"]["message"]


def test_every_check_runs_once_per_target_of_its_os(pytester):
    pytester.makepyfile(
        test_x="""
        from pytest_vmimage import requirement, Verdict
        @requirement("LNX-027", "64-bit", guide="tool 49")
        def test_arch(vm_target):
            return Verdict.passed(vm_target.label, "x86_64")
        """
    )
    result = pytester.runpytest(
        "--vm-host",
        "small=ssh://u@127.0.0.1:1",
        "--vm-host",
        "ssh://u@127.0.0.2:2222",
        "--vm-host",
        "win=winrm://u@127.0.0.1",
        "--collect-only",
        "-q",
    )
    result.stdout.fnmatch_lines(["*test_arch[[]small[]]", "*test_arch[[]127.0.0.2:2222[]]"])
    assert "win" not in result.stdout.str()


def test_select_by_id_and_by_severity(pytester):
    pytester.makepyfile(test_x=VERDICTS_MODULE)
    host = ["--vm-host", "ssh://u@127.0.0.1:1"]
    by_id = pytester.runpytest(*host, "-k", "LNX-103", "--collect-only", "-q")
    by_id.stdout.fnmatch_lines(["*test_fail*", "*1/6 tests collected (5 deselected)*"])
    by_severity = pytester.runpytest(*host, "--vm-severity", "warn", "--collect-only", "-q")
    by_severity.stdout.fnmatch_lines(["*test_warn*", "*1/6 tests collected (5 deselected)*"])


def test_unreachable_targets_error_fast_and_reports_are_written(pytester, monkeypatch):
    monkeypatch.setenv("VMIMAGE_PASSWORD", CANARY)
    pytester.makepyfile(
        test_x="""
        from pytest_vmimage import requirement
        from pytest_vmimage.checks import linux
        @requirement("LNX-013", "kernel line", guide="2.5")
        def test_one(linux_facts, vm_profile):
            return linux.kernel_boot_line(linux_facts, vm_profile)
        @requirement("LNX-027", "64-bit", guide="tool 49")
        def test_two(linux_facts):
            raise AssertionError("never reached")
        def test_users_own(vm_ssh):
            assert vm_ssh.file("/etc/passwd").exists
        """
    )
    a, b = free_closed_port(), free_closed_port()
    result = run_with_reports(
        pytester, "--vm-host", f"a=ssh://u@127.0.0.1:{a}", "--vm-host", f"b=ssh://u@127.0.0.1:{b}", "-vv"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=6)
    out = result.stdout.str()
    assert out.count(f"cannot connect to a (127.0.0.1:{a}): connection refused") >= 3
    assert out.count(f"cannot connect to b (127.0.0.1:{b}): connection refused") >= 3
    assert "Traceback" not in out and "paramiko" not in out
    assert CANARY not in out
    cases = junit_cases(pytester.path / "out" / "junit.xml")
    assert {props["result"] for name, props in cases.items() if name.startswith("test_one")} == {"error"}
    assert cases["test_users_own[a]"]["result"] == "error" and cases["test_users_own[a]"]["host"] == "a"
    for name in ("junit.xml", "report.html", "cert.json"):
        assert CANARY not in (pytester.path / "out" / name).read_text()
    cert = json.loads((pytester.path / "out" / "cert.json").read_text())
    assert {t["Host"] for t in cert["Tests"]} == {"a", "b"}
    assert all("connection refused" in t["Message"] for t in cert["Tests"])


def test_secret_in_a_message_is_redacted(pytester, monkeypatch):
    monkeypatch.setenv("MY_PW", CANARY)
    pytester.makepyfile(
        test_x=f"""
        from pytest_vmimage import requirement, Verdict
        @requirement("LNX-022", "no default accounts", guide="2.8")
        def test_leak(vm_target):
            return Verdict.failed("{CANARY} and sig=abcdef", "none", "found {CANARY}")
        """
    )
    result = run_with_reports(
        pytester, "--vm-host", "ssh://u@127.0.0.1:1", "--vm-password-env", "MY_PW", "-vv"
    )
    assert CANARY not in result.stdout.str()
    for name in ("junit.xml", "report.html", "cert.json"):
        text = (pytester.path / "out" / name).read_text()
        assert CANARY not in text and "abcdef" not in text
    assert "sig=REDACTED" in (pytester.path / "out" / "cert.json").read_text()


# -- xdist -------------------------------------------------------------------------

XDIST_MODULE = """
import os
from pytest_vmimage import requirement, Verdict

def _record(label):
    with open("workers.log", "a") as fh:
        fh.write(f"{label} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")

@requirement("LNX-001", "one", guide="2.1")
def test_one(vm_target):
    _record(vm_target.label)
    return Verdict.passed(vm_target.label, "x")

@requirement("LNX-002", "two", guide="2.1", severity="warn")
def test_two(vm_target):
    _record(vm_target.label)
    return Verdict.warning(vm_target.label, "x", "warned on " + vm_target.label)

@requirement("LNX-003", "three", guide="2.2")
def test_three(vm_target):
    _record(vm_target.label)
    if vm_target.label == "size-b":
        return Verdict.failed("bad", "good", "failed on size-b")
    return Verdict.passed(vm_target.label, "x")
"""


def test_xdist_keeps_each_target_on_one_worker_and_reports_stay_right(pytester):
    pytester.makepyfile(test_x=XDIST_MODULE)
    hosts = []
    for label, port in (("size-a", 1), ("size-b", 2), ("size-c", 3)):
        hosts += ["--vm-host", f"{label}=ssh://u@127.0.0.1:{port}"]
    result = run_with_reports(pytester, *hosts, "-n", "3", subprocess=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 failed, 5 passed, 3 warned*"])
    workers: dict[str, set[str]] = {}
    for line in (pytester.path / "workers.log").read_text().splitlines():
        label, worker = line.split()
        workers.setdefault(label, set()).add(worker)
    assert set(workers) == {"size-a", "size-b", "size-c"}
    assert all(len(w) == 1 for w in workers.values()), workers
    assert len(set().union(*workers.values())) == 3

    cases = junit_cases(pytester.path / "out" / "junit.xml")
    assert len(cases) == 9
    assert cases["test_three[size-b]"]["result"] == "failed"
    assert cases["test_two[size-c]"]["result"] == "warning"
    assert all(props["host"] == name[name.index("[") + 1 : -1] for name, props in cases.items())
    cert = json.loads((pytester.path / "out" / "cert.json").read_text())
    assert len(cert["Tests"]) == 9
    assert cert["TestResult"] == "Failed"
    html = (pytester.path / "out" / "report.html").read_text()
    assert html.count("col-vmresult") >= 9


def test_xdist_auto_starts_one_worker_per_target(pytester):
    pytester.makepyfile(test_x=XDIST_MODULE)
    result = pytester.runpytest_subprocess(
        "--vm-host", "a=ssh://u@127.0.0.1:1", "--vm-host", "b=ssh://u@127.0.0.1:2", "-n", "auto"
    )
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_a_run_where_nothing_applies_is_not_a_pass(pytester):
    pytester.makepyfile(
        test_x="""
        from pytest_vmimage import requirement, Verdict
        @requirement("LNX-027", "64-bit", guide="tool 49")
        def test_arch(vm_target):
            return Verdict.passed("x86_64", "x86_64")
        """
    )
    result = pytester.runpytest("--vm-report", "cert.json")
    result.stdout.fnmatch_lines(["*1 not applicable in*"])
    cert = json.loads((pytester.path / "cert.json").read_text())
    assert cert["TestResult"] == "Incomplete"
    assert "no requirement was checked" in cert["Note"]
