"""The ``current`` profile judges what the catalogue's profile table states today (LISA
``azure_image_standard`` cases, the agent support article, the Partner Center FAQ), on the
recorded facts of the compliant test VM edited one rule at a time. Each changed rule has an
input that fails it and one that passes it under ``current``, and ``guide-2016`` keeps its
old verdict on the same input."""

from __future__ import annotations

import copy

import pytest

from pytest_vmimage.checks import linux
from pytest_vmimage.facts.linux import ABSENT_RC, Section
from pytest_vmimage.facts.linux_versions import parse_openssl_versions
from pytest_vmimage.profiles import THRESHOLDS, load_profile
from pytest_vmimage.verdict import FactError, Result
from tests.test_checks_linux_recorded import compliant, edited

GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")
P, W, F, NA, E = Result.PASSED, Result.WARNING, Result.FAILED, Result.NOT_APPLICABLE, "error"

COMPLIANT = compliant()


def judge(check, facts, profile):
    """The verdict's result, or "error" when the check raised FactError."""
    try:
        return check(facts, profile).result
    except FactError:
        return E


def both(check, facts):
    return judge(check, facts, GUIDE), judge(check, facts, CURRENT)


# -- LNX-001 OS disk: current fails < 1 or > 1023 GiB, warns < 30 GiB (Partner Center FAQ) ---------

GIB_SECTORS = 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("gib", "guide", "current"),
    [
        (0.5, F, F),
        (1, F, W),
        (10, F, W),
        (29.9, F, W),
        (30, P, P),
        (60, W, P),
        (1023, W, P),
        (1024, W, F),
    ],
)
def test_lnx001_os_disk_bounds(gib, guide, current):
    sectors = int(gib * GIB_SECTORS)
    facts = edited(COMPLIANT, "sys_block", old="disk vda size=62914560", new=f"disk vda size={sectors}")
    facts = edited(
        facts,
        "sys_block",
        old="part vda1 disk=vda start=2048 size=62912512",
        new=f"part vda1 disk=vda start=2048 size={sectors - 2048}",
    )
    assert both(linux.os_disk_size, facts) == (guide, current)
    if current is W:
        assert "30–50 GiB is recommended" in linux.os_disk_size(facts, CURRENT).message


# -- LNX-004 agent: ≥ 2.2.53.1, or auto-update on (warn) (LISA verify_waagent_version) ---------------


def agent(version: str, auto_update: str | None = "y"):
    facts = edited(COMPLIANT, "agent_version", old="WALinuxAgent-2.7.3.0", new=f"WALinuxAgent-{version}")
    if auto_update is None:
        return edited(facts, "waagent_conf", old="AutoUpdate.Enabled=y", new="# AutoUpdate.Enabled=n")
    return edited(facts, "waagent_conf", old="AutoUpdate.Enabled=y", new=f"AutoUpdate.Enabled={auto_update}")


@pytest.mark.parametrize(
    ("version", "auto_update", "current"),
    [
        ("2.2.53.1", "n", P),
        ("2.2.53.10", "n", P),  # numeric, not text
        ("2.7.3.0", "n", P),
        ("2.2.53", "n", F),
        ("2.2.52.9", "N", F),  # the agent reads n/N alike
        ("2.2.41", "n", F),  # passed before: the 2018 minimum
        ("2.2.53", "y", W),
        ("2.2.53", None, W),  # commented: the agent's default is y
    ],
)
def test_lnx004_agent_minimum_and_auto_update(version, auto_update, current):
    facts = agent(version, auto_update)
    verdict = linux.agent_version(facts, CURRENT)
    assert verdict.result is current, verdict
    if current is not P:
        assert "LISA verify_waagent_version" in verdict.message and "2.2.53.1" in verdict.message
    # guide-2016 compares with the repository's candidate (the same 2.7.3.0 here), never the minimum
    assert judge(linux.agent_version, facts, GUIDE) is P


@pytest.mark.parametrize(
    ("spelling", "lisa_passes"),
    [("n", False), ("N", True), (" = n", True), ('"n"', True), ("n # off", True)],
)
def test_lnx004_message_says_when_lisa_reads_the_spelling_as_on(spelling, lisa_passes):
    facts = agent("2.2.45", "y")
    line = f"AutoUpdate.Enabled{spelling}" if spelling.startswith(" ") else f"AutoUpdate.Enabled={spelling}"
    facts = edited(facts, "waagent_conf", old="AutoUpdate.Enabled=y", new=line)
    verdict = linux.agent_version(facts, CURRENT)
    assert verdict.result is F  # the agent reads every spelling as n
    assert ("LISA would pass this file" in verdict.message) is lisa_passes


def test_lnx004_005_waagent_conf_is_read_to_its_last_line():
    # the agent reads the whole file and the last value wins: a switch past line 5000 counts
    facts = agent("2.2.45", "y")
    text = facts.sections["waagent_conf"].text + "# padding\n" * 6000 + "AutoUpdate.Enabled=n\n"
    facts.sections["waagent_conf"] = Section(0, text)
    assert linux.agent_version(facts, CURRENT).result is F
    assert both(linux.agent_auto_update, facts) == (W, W)


def test_lnx004_old_agent_without_waagent_conf_is_an_error_not_a_pass():
    facts = edited(agent("2.2.50", "y"), "waagent_conf", "", rc=ABSENT_RC)
    with pytest.raises(FactError, match="waagent.conf is missing"):
        linux.agent_version(facts, CURRENT)


def test_lnx004_unreadable_version_is_an_error():
    facts = edited(agent("2.2.50", "n"), "agent_version", "waagent: error", rc=1)
    # waagent --version failed: the package database still names the installed version
    assert judge(linux.agent_version, facts, CURRENT) is P
    facts = edited(facts, "packages", old="waagent\t2.7.3.0-4.1\tinstall ok installed", new="")
    assert judge(linux.agent_version, facts, CURRENT) == E


# -- LNX-007 Python: the agent's interpreter must exist; python3 < 3.10 warns (LISA) ----------------


AGENT_PY3 = "interpreter /usr/bin/python3\nversion 3.11.2\npyasn1 0.4.8\n"


@pytest.mark.parametrize(
    ("text", "guide", "current"),
    [
        (AGENT_PY3 + "python3 /usr/bin/python3 3.11.2", P, P),
        (AGENT_PY3.replace("3.11.2", "3.10.0") + "python3 /usr/bin/python3 3.10.0", P, P),
        (AGENT_PY3.replace("3.11.2", "3.9.2") + "python3 /usr/bin/python3 3.9.2", P, W),
        (AGENT_PY3.replace("3.11.2", "2.4.3") + "python3 /usr/bin/python3 3.11.2", F, P),
        # the agent pinned to python3.11 while the python3 on PATH (what LISA runs) is 3.6: warns
        ("interpreter /usr/bin/python3.11\nversion 3.11.9\npyasn1 0.5.1\npython3 /usr/bin/python3 3.6.15", P, W),
        # the reverse: the agent on python3.6, python3 3.11: LISA passes
        ("interpreter /usr/bin/python3.6\nversion 3.6.15\npyasn1 0.4.8\npython3 /usr/bin/python3 3.11.9", P, P),
        # EL8: the agent on platform-python, python3 absent, LISA's fallback python is 2.7
        (
            "interpreter /usr/libexec/platform-python\nversion 3.6.8\npyasn1 0.4.8\n"
            "python3 absent\npython /usr/bin/python 2.7.18",
            P,
            W,
        ),
        # neither python3 nor python answers: LISA cannot read a version (it fails)
        (AGENT_PY3 + "python3 /usr/bin/python3 failed 1\npython absent", P, W),
        (AGENT_PY3 + "python3 absent\npython absent", P, W),
        # python3's part not collected (a recording older than it) or cut short: an error, never a pass
        (AGENT_PY3, P, E),
        (AGENT_PY3 + "python3 absent", P, E),
        (AGENT_PY3 + "python3 /usr/bin/python3", P, E),
        (AGENT_PY3 + "python3 /usr/bin/python3 three", P, E),
        ("interpreter /usr/bin/python3\npyasn1 0.4.8\npython3 /usr/bin/python3 3.11.2", E, E),  # no version printed
    ],
)
def test_lnx007_python_by_profile(text, guide, current):
    facts = edited(COMPLIANT, "agent_python", text)
    assert both(linux.python_version, facts) == (guide, current)
    if current is W:
        message = linux.python_version(facts, CURRENT).message
        assert "LISA verify_python_version" in message and ("python" in message)


def test_lnx007_current_names_the_python_it_judged():
    text = "interpreter /usr/bin/python3.11\nversion 3.11.9\npyasn1 0.5.1\npython3 /usr/bin/python3 3.6.15"
    verdict = linux.python_version(edited(COMPLIANT, "agent_python", text), CURRENT)
    assert "/usr/bin/python3 3.6.15" in verdict.actual and "3.10" in verdict.message
    unread = edited(COMPLIANT, "agent_python", AGENT_PY3)
    with pytest.raises(FactError, match="no 'python3' line"):
        linux.python_version(unread, CURRENT)


@pytest.mark.parametrize(
    ("text", "shebang"),
    [("interpreter /usr/bin/python3\n", "#!/usr/bin/python3"), ("interpreter \n", "#!/usr/bin/env python3")],
)
def test_lnx007_missing_agent_interpreter_fails(text, shebang):
    facts = edited(COMPLIANT, "agent_python", text, rc=127)
    facts = edited(facts, "agent", old="shebang #!/usr/bin/python3", new=f"shebang {shebang}")
    for profile in (GUIDE, CURRENT):
        verdict = linux.python_version(facts, profile)
        assert verdict.result is F and "cannot run" in verdict.message and shebang in verdict.message


def test_lnx007_unread_shebang_is_an_error_not_a_missing_interpreter():
    facts = edited(COMPLIANT, "agent_python", "interpreter \n", rc=127)
    facts = edited(facts, "agent", old="shebang #!/usr/bin/python3", new="shebang ")
    assert both(linux.python_version, facts) == (E, E)


@pytest.mark.parametrize("rc", [1, 126, 2])
def test_lnx007_interpreter_failing_otherwise_is_an_error(rc):
    facts = edited(COMPLIANT, "agent_python", "interpreter /usr/bin/python3\n", rc=rc)
    assert both(linux.python_version, facts) == (E, E)


def test_lnx007_exit_127_after_a_version_is_not_a_missing_interpreter():
    # pyasn1's import failing later must not read as "interpreter missing"
    facts = edited(COMPLIANT, "agent_python", "interpreter /usr/bin/python3\nversion 3.11.2\n", rc=127)
    assert both(linux.python_version, facts) == (E, E)


# -- LNX-009 OpenSSL: ≥ 3.0.0 or exactly a 1.1.1 / 1.0.2 release (LISA verify_openssl_version) -------


@pytest.mark.parametrize(
    ("text", "guide", "current"),
    [
        ("OpenSSL 3.0.22 25 Aug 2026 (Library: OpenSSL 3.0.22 25 Aug 2026)", P, P),
        ("OpenSSL 3.0.0 7 sep 2021", P, P),
        ("OpenSSL 3.5.0-dev ", P, P),  # a development build of 3.5 is above 3.0.0
        ("OpenSSL 3.1.4+quic 24 Oct 2023", P, P),  # quictls build suffix
        ("OpenSSL 1.1.1w  11 Sep 2023", P, P),
        ("OpenSSL 1.1.1k  FIPS 25 Mar 2021", P, P),
        ("OpenSSL 1.0.2k-fips  26 Jan 2017", P, P),
        ("OpenSSL 1.1.0l  10 Sep 2019", P, F),
        ("OpenSSL 1.0.1e-fips 11 Feb 2013", P, F),
        ("OpenSSL 1.1.10", P, F),  # not the 1.1.1 series
        ("OpenSSL 3.0.0-beta1 17 Jun 2021", P, F),  # a pre-release is below 3.0.0
        ("OpenSSL 1.1.1-pre9 (beta) 21 Aug 2018", P, F),  # not a 1.1.1 release
        ("OpenSSL 3.0.0-beta1-fips 17 Jun 2021", P, F),  # a pre-release with a build tag
        ("OpenSSL 3.0.0-alpha-fips", P, F),
        ("OpenSSL 3.0.0-rc1+quic", P, F),
        ("OpenSSL 1.1.1-pre9-fips", P, F),
        ("OpenSSL 3.0.2 15 Mar 2022 (Library: OpenSSL 1.1.0l  10 Sep 2019)", P, F),  # linked library
        ("OpenSSL 0.9.8zh 3 Dec 2015", W, F),
        ("LibreSSL 3.3.6", E, F),  # not OpenSSL
        ("OpenSSL 3.0", P, E),  # not three numbers
        ("OpenSSL", E, E),
        ("", E, E),
    ],
)
def test_lnx009_openssl_by_profile(text, guide, current):
    facts = edited(COMPLIANT, "openssl", text)
    assert both(linux.openssl_version, facts) == (guide, current)
    if current is F:
        assert "LISA verify_openssl_version" in linux.openssl_version(facts, CURRENT).message


@pytest.mark.parametrize("text", ["OpenSSL 3.0.0-beta1 17 Jun 2021", "OpenSSL 1.1.1-pre9-fips"])
def test_lnx009_prerelease_message_says_lisa_would_pass_it(text):
    verdict = linux.openssl_version(edited(COMPLIANT, "openssl", text), CURRENT)
    assert verdict.result is F and "LISA reads only the numbers and would pass it" in verdict.message


def test_lnx009_libressl_is_named_as_not_openssl():
    verdict = linux.openssl_version(edited(COMPLIANT, "openssl", "LibreSSL 3.3.6"), CURRENT)
    assert "not OpenSSL" in verdict.message and "LibreSSL 3.3.6" in verdict.actual


def test_lnx009_absent_or_unreadable():
    assert both(linux.openssl_version, edited(COMPLIANT, "openssl", "", rc=ABSENT_RC)) == (F, F)
    assert both(linux.openssl_version, edited(COMPLIANT, "openssl", "OpenSSL 3.0.22", rc=1)) == (E, E)


def test_openssl_parser_reads_the_library_too():
    versions = parse_openssl_versions("OpenSSL 3.0.2 15 Mar 2022 (Library: OpenSSL 3.0.13 30 Jan 2024)")
    assert [v.text for v in versions] == ["3.0.2", "3.0.13"]


# -- LNX-013 serial console: ttyAMA0 on aarch64 (LISA verify_serial_console_is_enabled) --------------


def boot_log(*consoles: str, source: str = "dmesg") -> str:
    """A boot_log section (facts/linux_health.py) enabling these consoles."""
    lines = [f"[    0.{n}] printk: console [{c}] enabled" for n, c in enumerate(consoles, 1)]
    return (
        "\n".join(
            [f"## source {source}", "## start [    0.000000] Linux version 6.1.0", *lines, "## matched 0"]
        )
        + "\n"
    )


def arch(machine: str, console: str, log: str | None = None):
    facts = copy.deepcopy(COMPLIANT)
    for name in ("proc_cmdline", "default_grub", "grub_cfg"):
        facts = edited(facts, name, old="console=ttyS0", new=console)
    facts.sections["boot_log"] = Section(0, log if log is not None else boot_log("tty0"))
    return edited(facts, "uname", old="x86_64", new=machine)


@pytest.mark.parametrize(
    ("machine", "console", "guide", "current"),
    [
        ("x86_64", "console=ttyS0", P, P),
        ("aarch64", "console=ttyAMA0", F, P),
        ("aarch64", "console=ttyAMA0,115200", F, P),
        ("aarch64", "console=ttyS0", P, F),  # the wrong device for Arm64
        ("x86_64", "console=ttyAMA0", F, F),
        ("aarch64", "console=tty0", F, F),
    ],
)
def test_lnx013_serial_console_by_architecture(machine, console, guide, current):
    facts = arch(machine, console)
    assert both(linux.kernel_boot_line, facts) == (guide, current)
    if current is F:
        assert "LISA verify_serial_console_is_enabled" in linux.kernel_boot_line(facts, CURRENT).message


@pytest.mark.parametrize(
    ("machine", "console", "log", "current"),
    [
        ("x86_64", "console=tty0", boot_log("tty0", "ttyS0"), P),  # LISA accepts the log line
        ("aarch64", "console=tty0", boot_log("ttyAMA0"), P),  # e.g. enabled from the ACPI SPCR table
        ("x86_64", "console=tty0", boot_log("tty0"), F),
        ("aarch64", "console=tty0", boot_log("ttyS0"), F),  # the wrong device for Arm64
        ("x86_64", "console=tty0", boot_log(), F),
    ],
)
def test_lnx013_kernel_log_enabling_the_console_stands_for_the_parameter(machine, console, log, current):
    facts = arch(machine, console, log)
    verdict = linux.kernel_boot_line(facts, CURRENT)
    assert verdict.result is current, verdict
    if current is P:
        assert "enabled in this boot's kernel log" in verdict.actual and "LISA" in verdict.message
    assert judge(linux.kernel_boot_line, facts, GUIDE) is F  # the guide wants the parameter itself


def test_lnx013_log_does_not_excuse_a_boot_loader_config_without_the_console():
    # the running line has console=ttyS0 (so the log shows it), the persisted config does not:
    # the next boot, the deployed VM's, has no serial console
    facts = edited(COMPLIANT, "default_grub", old="console=ttyS0", new="console=tty0")
    facts = edited(facts, "grub_cfg", old="console=ttyS0", new="console=tty0")
    facts.sections["boot_log"] = Section(0, boot_log("ttyS0"))
    verdict = linux.kernel_boot_line(facts, CURRENT)
    assert verdict.result is F and "this boot's log shows that boot line" in verdict.actual


JOURNAL_HEAD = (
    "## source journalctl -b\n## start [    0.000000] vm kernel: Linux version 6.1.0\n"
    "[    0.100000] vm kernel: printk: console [tty0] enabled\n"
)


@pytest.mark.parametrize(
    ("lines", "current"),
    [
        # sudo's record of a tester grepping for the very line: not the kernel's
        (
            "[  212.4] vm sudo[1432]: azureuser : TTY=pts/0 ; USER=root ; "
            "COMMAND=/usr/bin/grep -F console [ttyS0] enabled /var/log/syslog",
            F,
        ),
        ("[   31.0] vm azureuser[950]: console [ttyS0] enabled", F),  # logger 'console [ttyS0] enabled'
        ("[   30.0] vm myapp[901]: serial console [ttyS0] enabled in settings", F),
        ("[    0.3] vm kernel: printk: console [ttyS0] enabled", P),
        ("[    0.3] vm kernel: printk: legacy console [ttyS0] enabled", P),
        ("[    0.3] vm kernel: console [ttyS0] enabled", P),  # older kernels: no "printk:"
        ("[    0.3] vm kernel: bootconsole [ttyS0] enabled", F),  # the early console only
        # the kernel enabled it, then disabled it: the last state counts
        (
            "[    0.3] vm kernel: printk: console [ttyS0] enabled\n[    2.5] vm kernel: printk: console [ttyS0] disabled",
            F,
        ),
        (
            "[    0.3] vm kernel: printk: console [ttyS0] disabled\n[    2.5] vm kernel: printk: console [ttyS0] enabled",
            P,
        ),
    ],
    ids=[
        "sudo-record",
        "logger",
        "application",
        "kernel",
        "kernel-legacy",
        "kernel-old",
        "bootconsole",
        "enabled-then-disabled",
        "disabled-then-enabled",
    ],
)
def test_lnx013_only_the_kernels_own_console_line_counts(lines, current):
    log = JOURNAL_HEAD + lines + "\n## sudo_commands 0\n## matched 0\n"
    verdict = linux.kernel_boot_line(arch("x86_64", "console=tty0", log), CURRENT)
    assert verdict.result is current, verdict


@pytest.mark.parametrize(
    "log",
    [
        "## source journalctl -b\n[ 9000.0] vm systemd[1]: Started foo.service.\n## matched 0\n",  # rotated
        "## source journalctl -b\n## sudo_commands 0\n## matched 0\n",  # journalctl -b printed nothing
        "## source dmesg\n[ 3000.1] eth0: link up\n## matched 0\n",  # ring buffer wrapped
    ],
    ids=["rotated", "empty", "wrapped"],
)
def test_lnx013_log_not_reaching_back_to_the_kernels_start_is_an_error(log):
    facts = arch("x86_64", "console=tty0", log)
    with pytest.raises(FactError, match="does not reach back to the kernel's first line"):
        linux.kernel_boot_line(facts, CURRENT)
    assert judge(linux.kernel_boot_line, facts, GUIDE) is F  # the guide wants the parameter itself


@pytest.mark.parametrize(
    "section",
    [
        Section(2, "## source dmesg\n"),  # dmesg refused
        Section(0, "## source dmesg\n[ 0.1] printk: console [ttyS0] enabled\n"),  # cut: no closing line
        Section(0, ""),
        None,  # not collected (facts recorded before the section existed)
    ],
    ids=["failed", "cut", "empty", "not-collected"],
)
def test_lnx013_unread_kernel_log_is_an_error_never_a_pass(section):
    facts = arch("x86_64", "console=tty0")
    if section is None:
        del facts.sections["boot_log"]
    else:
        facts.sections["boot_log"] = section
    with pytest.raises(
        FactError, match="verify_serial_console_is_enabled accepts instead, could not be read"
    ):
        linux.kernel_boot_line(facts, CURRENT)
    assert judge(linux.kernel_boot_line, facts, GUIDE) is F


def test_lnx013_kernel_log_without_root_is_an_error():
    facts = arch("x86_64", "console=tty0", boot_log("ttyS0"))
    facts.privileged, facts.sudo_error = False, "sudo: a password is required"
    with pytest.raises(FactError, match="needs root"):  # the boot log (and grubenv) need root
        linux.kernel_boot_line(facts, CURRENT)


def test_lnx013_unreadable_architecture_is_an_error_in_current():
    facts = edited(COMPLIANT, "uname", "", rc=1)
    assert judge(linux.kernel_boot_line, facts, CURRENT) == E


# -- LNX-015 ClientAliveInterval: current 30–235 passes, 1–29 warns (FAQ; LISA passes 1–235) ---------


@pytest.mark.parametrize(
    ("value", "guide", "current"),
    [
        ("0", F, F),
        ("1", F, W),
        ("29", F, W),
        ("30", W, P),
        ("120", W, P),
        ("180", P, P),
        ("235", W, P),
        ("236", F, F),
    ],
)
def test_lnx015_client_alive_interval_by_profile(value, guide, current):
    facts = edited(
        COMPLIANT, "sshd_effective", old="clientaliveinterval 180", new=f"clientaliveinterval {value}"
    )
    assert both(linux.client_alive_interval, facts) == (guide, current)


# -- LNX-016 NetworkManager: current judges only the RHEL/CentOS 6 family ------------------------------

CENTOS6 = 'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="6.10"\n'
ROCKY9 = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
NM_ACTIVE = ("unit NetworkManager  inactive", "unit NetworkManager enabled active")


def test_lnx016_networkmanager_allowed_outside_el6_in_current():
    facts = edited(COMPLIANT, "network_services", old=NM_ACTIVE[0], new=NM_ACTIVE[1])
    assert both(linux.network_manager, facts) == (W, NA)
    rocky = edited(facts, "os_release", ROCKY9)
    assert judge(linux.network_manager, rocky, CURRENT) is NA


@pytest.mark.parametrize(
    ("packages", "current"),
    [
        ("manager rpm\nNetworkManager\t1.0.6-2.el6\tinstalled\n", F),
        ("manager rpm\nopenssl\t1.0.1e-58.el6\tinstalled\n", P),
        ("manager dpkg\n", E),  # no rpm answer: whether NetworkManager is installed is unknown
    ],
)
def test_lnx016_el6_with_networkmanager_installed_fails(packages, current):
    facts = edited(edited(COMPLIANT, "os_release", CENTOS6), "packages", packages)
    verdict_result = judge(linux.network_manager, facts, CURRENT)
    assert verdict_result == current
    if current is F:
        assert "verify_network_manager_not_installed" in linux.network_manager(facts, CURRENT).message


# -- LNX-017 network stack: current passes any standard stack, fails when nothing brings eth0 up -----


def test_lnx017_ifupdown_config_without_ifupdown_fails_in_current():
    facts = edited(COMPLIANT, "network_services", old="command ifup /usr/sbin/ifup", new="command ifup ")
    facts = edited(facts, "network_services", old="resolved ifup /usr/sbin/ifup", new="resolved ifup ")
    verdict = linux.ifupdown_control(facts, CURRENT)
    assert verdict.result is F and "ifupdown is not installed" in verdict.actual
    assert judge(linux.ifupdown_control, facts, GUIDE) is F
    # NetworkManager running brings an unconfigured Ethernet NIC up by DHCP
    nm = edited(facts, "network_services", old=NM_ACTIVE[0], new=NM_ACTIVE[1])
    assert judge(linux.ifupdown_control, nm, CURRENT) is P


def test_lnx017_nm_wrapper_passes_in_current_only():
    facts = edited(
        COMPLIANT,
        "network_services",
        old="resolved ifup /usr/sbin/ifup",
        new="resolved ifup /usr/libexec/nm-ifup",
    )
    assert judge(linux.ifupdown_control, facts, GUIDE) is F
    # ifup is NetworkManager's wrapper and NetworkManager is not running: nothing reads the file
    assert judge(linux.ifupdown_control, facts, CURRENT) is F
    running = edited(facts, "network_services", old=NM_ACTIVE[0], new=NM_ACTIVE[1])
    assert judge(linux.ifupdown_control, running, CURRENT) is P


NETPLAN = "### /etc/netplan/50-cloud-init.yaml\nnetwork:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"


def netplan_only(netplan: str, networkd: str):
    """The compliant VM with ifupdown gone and eth0 configured by netplan only."""
    facts = edited(COMPLIANT, "network_config", NETPLAN)
    services = facts.sections["network_services"].text
    services = services.replace("command ifup /usr/sbin/ifup", "command ifup ")
    services = services.replace("resolved ifup /usr/sbin/ifup", "resolved ifup ")
    services = services.replace("unit networking enabled active", "unit networking  inactive")
    services = services.replace("command netplan ", f"command netplan {netplan}")
    services = services.replace(
        "unit systemd-networkd disabled inactive", f"unit systemd-networkd {networkd}"
    )
    return edited(facts, "network_services", services)


@pytest.mark.parametrize(
    ("netplan", "networkd", "current"),
    [
        ("/usr/sbin/netplan", "enabled active", P),
        ("/usr/sbin/netplan", "disabled active", P),  # started by netplan's generator
        ("/usr/sbin/netplan", "disabled inactive", F),  # nothing renders the file
        ("", "enabled active", F),  # netplan not installed: the YAML is never read
    ],
)
def test_lnx017_netplan_passes_in_current_only_when_it_runs(netplan, networkd, current):
    facts = netplan_only(netplan, networkd)
    assert both(linux.ifupdown_control, facts) == (F, current)


# -- LNX-023 shell history: any non-empty file fails in both (LISA verify_bash_history_is_empty) ------


@pytest.mark.parametrize(("size", "expected"), [(0, P), (1, F), (1024, F)])
def test_lnx023_any_non_empty_history_fails(size, expected):
    facts = edited(
        COMPLIANT, "home_files", old="\nhomes ", new=f"\n{size} 1795308178 root /root/.bash_history\nhomes "
    )
    assert both(linux.shell_history, facts) == (expected, expected)


# -- LNX-024 firewall rules: current warns, naming the appliance exception -----------------------------


def test_lnx024_rules_warn_in_current_with_the_appliance_exception():
    facts = edited(
        COMPLIANT,
        "firewall",
        old="## exit iptables-save 0",
        new="*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 9 -j DROP\nCOMMIT\n## exit iptables-save 0",
    )
    assert both(linux.firewall_rules, facts) == (F, W)
    assert "firewall appliance" in linux.firewall_rules(facts, CURRENT).message
    assert "firewall appliance" not in linux.firewall_rules(facts, GUIDE).message


# -- the table itself ------------------------------------------------------------------------------------


def test_current_column_matches_the_catalogue_table():
    current = {key: values[1] for key, values in THRESHOLDS.items()}
    assert (current["linux_os_disk_min_gib"], current["linux_os_disk_warn_below_gib"]) == (1, 30)
    assert current["linux_os_disk_max_gib"] == 1023 and current["linux_os_disk_warn_above_gib"] is None
    assert current["agent_min_version"] == "2.2.53.1" and current["agent_auto_update_exempts"] is True
    assert current["shell_history_max_bytes"] == 0
    assert (current["python_fail_below"], current["python_warn_below"]) == (None, "3.10")
    assert current["openssl_fail_below"] == "3.0.0" and current["openssl_extended_support"] == [
        "1.1.1",
        "1.0.2",
    ]
    assert current["kernel_params_fail"] == ["console=ttyS0"] and current["serial_console_by_arch"] is True
    assert (current["client_alive_pass_min"], current["client_alive_pass_max"]) == (30, 235)
    assert (current["client_alive_warn_min"], current["client_alive_warn_max"]) == (1, 235)
    assert current["data_disks_max"] == 16 and current["sku_id_underscore_allowed"] is True


def test_guide_2016_column_is_unchanged():
    guide = {key: values[0] for key, values in THRESHOLDS.items()}
    assert (guide["linux_os_disk_min_gib"], guide["linux_os_disk_warn_above_gib"]) == (30, 50)
    assert guide["linux_os_disk_warn_below_gib"] is None and guide["agent_min_version"] is None
    assert guide["agent_auto_update_exempts"] is False and guide["shell_history_max_bytes"] == 0
    assert (guide["python_fail_below"], guide["python_warn_below"]) == ("2.6", None)
    assert (guide["openssl_fail_below"], guide["openssl_warn_below"]) == ("0.9.8", "1.0")
    assert guide["openssl_extended_support"] is None
    assert guide["kernel_params_fail"] == ["console=ttyS0", "earlyprintk=ttyS0", "rootdelay=300"]
    assert (
        guide["client_alive_interval"],
        guide["client_alive_warn_min"],
        guide["client_alive_warn_max"],
    ) == (180, 30, 235)
    assert guide["data_disks_max"] is None and guide["sku_id_underscore_allowed"] is False
    assert guide["serial_console_by_arch"] is False and guide["network_manager_el6_only"] is False


def test_sections_the_edits_use_exist():
    assert isinstance(COMPLIANT.sections["uname"], Section)


def test_lnx009_overrides_of_the_openssl_rule(tmp_path):
    no_exception = tmp_path / "strict.toml"
    no_exception.write_text("[thresholds]\nopenssl_extended_support = []\n")
    strict = load_profile("current", no_exception)
    assert judge(linux.openssl_version, edited(COMPLIANT, "openssl", "OpenSSL 1.1.1w"), strict) is F
    assert judge(linux.openssl_version, COMPLIANT, strict) is P
    opt_in = tmp_path / "guide.toml"
    opt_in.write_text('[thresholds]\nopenssl_extended_support = ["1.1.1"]\nopenssl_fail_below = "3.0.0"\n')
    guide_lisa = load_profile("guide-2016", opt_in)
    assert judge(linux.openssl_version, edited(COMPLIANT, "openssl", "OpenSSL 1.0.2k"), guide_lisa) is F
    no_warn = tmp_path / "nowarn.toml"
    no_warn.write_text('[thresholds]\nopenssl_fail_below = "1.0"\n')
    relaxed = load_profile("current", no_warn)  # openssl_warn_below is None in current
    assert judge(linux.openssl_version, edited(COMPLIANT, "openssl", "OpenSSL 1.0.1e"), relaxed) is P
    assert judge(linux.openssl_version, edited(COMPLIANT, "openssl", "OpenSSL 0.9.8zh"), relaxed) is F


# -- SKU-004 wording: the limit named is the one applied ------------------------------------------


@pytest.mark.parametrize(("most", "named"), [(8, "at most 8 data disks"), (16, "Partner Center: at most 16")])
def test_sku004_message_names_the_limit_applied(tmp_path, most, named):
    from pytest_vmimage.checks.offer import check_disks_and_luns
    from pytest_vmimage.facts.offer import DiskEntry, Offer, Sku, SkuVersion

    config = tmp_path / "c.toml"
    config.write_text(f"[thresholds]\ndata_disks_max = {most}\n")
    profile = load_profile("current", config)
    data = tuple(DiskEntry("data", lun=i, path=tmp_path / "d.vhd", sas_uri="x") for i in range(most + 1))
    os_disk = DiskEntry("os", path=tmp_path / "o.vhd", sas_uri="x")
    sku = Sku("plan", "linux", ("Standard_D2s_v5",), (SkuVersion("1.0.0", os_disk, data, most + 1),))
    offer = Offer(tmp_path / "o.toml", "offer", "linux", (), (sku,))
    verdict = check_disks_and_luns(offer, sku, profile, "linux", "evidence")
    assert verdict.result is F and named in verdict.actual
    if most != 16:
        assert "at most 16" not in verdict.actual


def test_lnx013_rootdelay_warning_does_not_cite_the_serial_console_case():
    facts = copy.deepcopy(COMPLIANT)
    for name in ("proc_cmdline", "default_grub", "grub_cfg"):
        facts = edited(facts, name, old=" rootdelay=300", new="")
    verdict = linux.kernel_boot_line(facts, CURRENT)
    assert verdict.result is W and "rootdelay=300 missing" in verdict.actual
    assert "verify_serial_console_is_enabled" not in verdict.message


def test_lnx013_aarch64_does_not_require_the_x86_earlyprintk():
    facts = arch("aarch64", "console=ttyAMA0")
    for name in ("proc_cmdline", "default_grub", "grub_cfg"):
        facts = edited(facts, name, old="earlyprintk=ttyS0", new="earlycon=pl011,0x9000000")
    verdict = linux.kernel_boot_line(facts, CURRENT)
    assert verdict.result is P, verdict
    assert "earlyprintk=ttyS0 not required on aarch64" in verdict.message
    # x86 unchanged: earlyprintk=ttyS0 is still asked for
    x86 = copy.deepcopy(COMPLIANT)
    for name in ("proc_cmdline", "default_grub", "grub_cfg"):
        x86 = edited(x86, name, old="earlyprintk=ttyS0", new="earlycon=pl011,0x9000000")
    assert "earlyprintk=ttyS0 missing" in linux.kernel_boot_line(x86, CURRENT).actual


# -- LNX-023: histories below a shell user's home (LISA verify_bash_history_is_empty's find) ------


def run_home_files(tmp_path, passwd_lines: list[str]) -> Section:
    """The home_files section's own shell run here against a stand-in /etc/passwd."""
    import subprocess

    from pytest_vmimage.facts.linux import SECTIONS

    passwd = tmp_path / "passwd"
    passwd.write_text("".join(line + "\n" for line in passwd_lines))
    script = SECTIONS["home_files"][1].replace("/etc/passwd", str(passwd))
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False)
    return Section(done.returncode, done.stdout)


def test_lnx023_finds_histories_below_a_shell_users_home(tmp_path):
    root, daemon = tmp_path / "root", tmp_path / "daemon"
    for path, body in [
        (root / "backup-of-old-home" / ".bash_history", "curl -u admin:secret\n"),
        (root / ".mongosh_history", "db.auth('admin','secret')\n"),
        (root / "snap" / "lxd" / "123" / ".bash_history", "ls\n"),  # 4 levels deep
        (daemon / "sub" / ".bash_history", "ls\n"),  # a nologin account's home: LISA does not look
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    section = run_home_files(
        tmp_path, [f"root:x:0:0:root:{root}:/bin/bash", f"daemon:x:1:1:daemon:{daemon}:/usr/sbin/nologin"]
    )
    assert section.rc == 0 and section.text.endswith("homes 2\n"), section
    facts = copy.deepcopy(COMPLIANT)
    facts.sections["home_files"] = section
    verdict = linux.shell_history(facts, CURRENT)
    assert verdict.result is F, verdict
    for name in ("backup-of-old-home/.bash_history", ".mongosh_history", "snap/lxd/123/.bash_history"):
        assert f"{root}/{name}" in verdict.actual
    assert str(daemon) not in verdict.actual
    assert judge(linux.shell_history, facts, GUIDE) is F


def test_lnx023_home_files_lists_each_home_once(tmp_path):
    root = tmp_path / "root"
    (root / ".bash_history").parent.mkdir(parents=True)
    (root / ".bash_history").write_text("ls\n")
    # two accounts share a home (RHEL's operator and root): stat'ed once, counted once
    section = run_home_files(
        tmp_path, [f"root:x:0:0:root:{root}:/bin/bash", f"operator:x:11:0:operator:{root}:/sbin/nologin"]
    )
    assert section.rc == 0 and section.text.count(f"{root}/.bash_history\n") == 2  # fixed list + find
    assert section.text.endswith("homes 1\n")
