"""Review findings on the ``current`` profile's rules (review-cur A3, A6, B3): the sections'
own shell run on a fake PATH / root, and the checks judged on the recorded compliant facts
edited one input at a time. Each case is an input that the checks used to pass (or error on)
wrongly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux, linux_system
from pytest_vmimage.facts.linux import SECTIONS, parse_os_release
from pytest_vmimage.facts.linux_parsers import parse_path_python
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result
from tests.test_checks_linux_recorded import compliant, edited

GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")
P, W, F, NA, E = Result.PASSED, Result.WARNING, Result.FAILED, Result.NOT_APPLICABLE, "error"
COMPLIANT = compliant()
SYSTEM_PYTHON = os.path.realpath(sys.executable)  # a real binary (no pyenv shim)


def judge(check, facts, profile=CURRENT):
    try:
        return check(facts, profile).result
    except FactError:
        return E


def run_section(
    name: str, path: str, replace: tuple[tuple[str, str], ...] = ()
) -> subprocess.CompletedProcess:
    script = SECTIONS[name][1]
    for old, new in replace:
        script = script.replace(old, new)
    return subprocess.run(
        ["/bin/sh", "-c", script], env={"PATH": path}, capture_output=True, text=True, timeout=30
    )


# -- LNX-007 (A3): the python3 on PATH is read by the agent_python section --------------------------


def fake_path(tmp_path: Path, python3: str | None) -> str:
    """A PATH with waagent (shebang: this machine's python3), tail, and the given python3."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "waagent").write_text(f"#!{SYSTEM_PYTHON}\n")
    (bin_dir / "waagent").chmod(0o755)
    os.symlink(shutil.which("tail"), bin_dir / "tail")
    if python3 is not None:
        (bin_dir / "python3").write_text(python3)
        (bin_dir / "python3").chmod(0o755)
    return str(bin_dir)


@pytest.mark.parametrize(
    ("python3", "command", "version", "tried"),
    [
        (None, "", "", ("python3 absent", "python absent")),  # neither on PATH: nothing answered
        ("#!/bin/sh\nexit 3\n", "", "", ("python3 at {bin}/python3 failed (exit 3)", "python absent")),
        ("#!/bin/sh\necho 3.6.15\n", "python3", "3.6.15", ()),
    ],
)
def test_agent_python_section_reads_the_python3_on_path(tmp_path, python3, command, version, tried):
    path = fake_path(tmp_path, python3)
    proc = run_section("agent_python", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"interpreter {SYSTEM_PYTHON}\nversion ")
    found = parse_path_python(proc.stdout)
    assert (found.command, found.version) == (command, version)
    assert found.tried == tuple(t.format(bin=path) for t in tried)
    if command:
        assert found.path == f"{path}/python3"


def test_agent_python_section_with_this_machines_python3(tmp_path):
    path = fake_path(tmp_path, None) + ":" + os.path.dirname(SYSTEM_PYTHON)
    found = parse_path_python(run_section("agent_python", path).stdout)
    assert found.command == "python3" and found.version.startswith("3.")


# -- LNX-016 (B3): EL6 has no os-release; its release file names the distribution -------------------

EL6_RELEASES = [
    ("/etc/centos-release", "CentOS release 6.10 (Final)", "centos"),
    ("/etc/redhat-release", "Red Hat Enterprise Linux Server release 6.10 (Santiago)", "rhel"),
    ("/etc/oracle-release", "Oracle Linux Server release 6.10", "ol"),
    ("/etc/redhat-release", "Scientific Linux release 6.10 (Carbon)", "scientific"),
]


@pytest.mark.parametrize(("path", "line", "distro"), EL6_RELEASES)
def test_os_release_section_falls_back_to_the_el6_release_file(tmp_path, path, line, distro):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / path.lstrip("/")).write_text(line + "\n")
    # OL6 also has a redhat-release naming RHEL: the more specific file wins
    if distro == "ol":
        (root / "etc/redhat-release").write_text("Red Hat Enterprise Linux Server release 6.10 (Santiago)\n")
    proc = run_section(
        "os_release", "/usr/bin:/bin", (("/etc/", f"{root}/etc/"), ("/usr/lib/", f"{root}/usr/lib/"))
    )
    assert proc.returncode == 0, proc.stderr
    release = parse_os_release(proc.stdout.replace(str(root), ""))
    assert release["ID"] == distro and release["VERSION_ID"] == "6.10"


def test_os_release_section_fails_without_any_release_file(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    proc = run_section(
        "os_release", "/usr/bin:/bin", (("/etc/", f"{root}/etc/"), ("/usr/lib/", f"{root}/usr/lib/"))
    )
    assert proc.returncode != 0 and "###" not in proc.stdout


def test_unknown_release_file_is_an_error():
    with pytest.raises(FactError, match="no known distribution release"):
        parse_os_release("### /etc/system-release\nsomething else\n")


NM_EL6 = "manager rpm\nNetworkManager\t0.8.1-113.el6\tinstalled\n"


@pytest.mark.parametrize(("path", "line", "distro"), EL6_RELEASES)
@pytest.mark.parametrize(
    ("packages", "expected"), [(NM_EL6, F), ("manager rpm\nopenssl\t1.0.1e-58.el6\tinstalled\n", P)]
)
def test_lnx016_el6_without_os_release_is_judged(path, line, distro, packages, expected):
    facts = edited(edited(COMPLIANT, "os_release", f"### {path}\n{line}\n"), "packages", packages)
    verdict = linux.network_manager(facts, CURRENT)
    assert verdict.result is expected, verdict
    if expected is F:
        assert "0.8.1-113.el6" in verdict.actual and "yum remove NetworkManager" in verdict.message
    # an EL7 release file is not EL6: not applicable
    el7 = edited(facts, "os_release", f"### {path}\n{line.replace('6.10', '7.9')}\n")
    assert judge(linux.network_manager, el7) is NA


# -- LNX-021 / LNX-035: one apt sources parser (facts.linux_system.parse_repositories) -------------

DEBIAN_SOURCES = compliant().sections["repositories"].text


def security_verdicts(repositories: str):
    facts = edited(COMPLIANT, "repositories", repositories)
    lnx021 = judge(linux.security_updates, facts, GUIDE)
    lnx035 = judge(linux_system.repositories, facts, CURRENT)
    return lnx021, lnx035


@pytest.mark.parametrize(
    "repositories",
    [
        # another release's security pocket left on bookworm (the old LNX-021 took any "security")
        DEBIAN_SOURCES.replace("Suites: bookworm-security", "Suites: bullseye-security"),
        # apt's other false words in deb822 (the old parsers knew only no/false/0)
        DEBIAN_SOURCES.replace("Suites: bookworm-security\n", "Suites: bookworm-security\nEnabled: off\n"),
        DEBIAN_SOURCES.replace(
            "Suites: bookworm-security\n", "Suites: bookworm-security\nEnabled: disable\n"
        ),
        # only the source-package repository of the security pocket
        DEBIAN_SOURCES.replace(
            "Types: deb\nURIs: http://deb.debian.org/debian-security",
            "Types: deb-src\nURIs: http://deb.debian.org/debian-security",
        ),
        # the security pocket only in a comment
        DEBIAN_SOURCES.replace(
            "Suites: bookworm-security", "Suites: bookworm-updates\n# Suites: bookworm-security"
        ),
    ],
    ids=["other-release", "enabled-off", "enabled-disable", "deb-src-only", "commented"],
)
def test_no_own_security_pocket_fails_both_rules(repositories):
    assert repositories != DEBIAN_SOURCES
    assert security_verdicts(repositories) == (F, F)


def test_own_security_pocket_passes_both_rules():
    assert security_verdicts(DEBIAN_SOURCES) == (P, P)
    one_line = (
        "### /etc/apt/sources.list\n"
        "deb http://deb.debian.org/debian bookworm main\n"
        "deb http://deb.debian.org/debian bookworm-updates main\n"
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://security.debian.org/debian-security bookworm-security main\n"
    )
    assert security_verdicts(one_line) == (P, P)
    # the one-line security entry commented out: both fail
    assert security_verdicts(one_line.replace("deb [signed", "# deb [signed")) == (F, F)


def test_lnx021_apt_sources_unreadable_is_an_error():
    facts = edited(COMPLIANT, "repositories", "### ! /etc/apt/sources.list.d/debian.sources\n")
    assert judge(linux.security_updates, facts, GUIDE) is E


# -- offline (facts/linux_image.py): the same python3 line and EL6 release file --------------------

needs_mkfs = pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="mkfs.ext4 (e2fsprogs) missing")
PY_STATUS = "\nPackage: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u6\n"
PY39_STATUS = "\nPackage: python3.9-minimal\nStatus: install ok installed\nVersion: 3.9.2-1\n"


def offline_facts(tmp_path, files: dict[str, str], links: dict[str, str]):
    from pytest_vmimage.facts.linux_image import read_linux_image
    from tests.test_linux_image import BASE, LINKS, _image

    return read_linux_image(_image(tmp_path, {**BASE, **files}, {**LINKS, **links}))


@needs_mkfs
def test_offline_reads_the_python3_on_path(tmp_path):
    from tests.test_linux_image import STATUS

    files = {
        "/usr/bin/python3.11": "ELF",
        "/usr/bin/python3.9": "ELF",
        "/var/lib/dpkg/status": STATUS + PY_STATUS + PY39_STATUS,
        "/usr/sbin/waagent": "#!/usr/bin/python3.11\n",
    }
    facts = offline_facts(tmp_path / "a", files, {"/usr/bin/python3": "python3.9"})
    found = parse_path_python(facts.fact("agent_python").get())
    assert (found.command, found.path, found.version) == ("python3", "/usr/bin/python3", "3.9.2")
    assert linux.python_version(facts, CURRENT).result is W  # the agent's 3.11 does not stand in for it
    bare = offline_facts(tmp_path / "b", files, {})
    found = parse_path_python(bare.fact("agent_python").get())
    assert found.command == "" and found.tried == ("python3 absent", "python absent")


@needs_mkfs
def test_offline_el6_release_file(tmp_path):
    from pytest_vmimage.facts.linux_image import read_linux_image
    from tests.test_linux_image import BASE, LINKS, _image

    files = {k: v for k, v in BASE.items() if k != "/etc/os-release"}
    files["/etc/centos-release"] = "CentOS release 6.10 (Final)\n"
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert facts.os_release["ID"] == "centos" and facts.os_release["VERSION_ID"] == "6.10"


# -- LNX-017 / LNX-018 (A6): the settings of the stack that reads eth0's configuration -------------

NM_ACTIVE = ("unit NetworkManager  inactive", "unit NetworkManager enabled active")
NET = COMPLIANT.sections["network_config"].text
NO_ETH0 = NET.replace("allow-hotplug eth0\niface eth0 inet dhcp\n", "")


def network(config: str, *swaps: tuple[str, str], profile_text: str = ""):
    """The compliant facts with this network_config and these network_services edits."""
    facts = edited(COMPLIANT, "network_config", config)
    services = COMPLIANT.sections["network_services"].text
    for old, new in swaps:
        assert old in services, old
        services = services.replace(old, new)
    facts = edited(facts, "network_services", services)
    return edited(facts, "nm_connections", profile_text) if profile_text else facts


NO_IFUPDOWN = (
    ("command ifup /usr/sbin/ifup", "command ifup "),
    ("resolved ifup /usr/sbin/ifup", "resolved ifup "),
    ("unit networking enabled active", "unit networking  inactive"),
)
NETPLAN_ON = (("command netplan \n", "command netplan /usr/sbin/netplan\n"),)
NETWORKD_ON = (("unit systemd-networkd disabled inactive", "unit systemd-networkd enabled active"),)
MAC = "52:54:00:12:34:56"  # the recorded VM's eth0
KEYFILE = "[connection]\nid=eth0\ntype=ethernet\ninterface-name=eth0\n{extra}\n[ipv4]\nmethod=auto\n"


def conf(path: str, text: str) -> str:
    return f"\n### {path}\n{text}"


BROKEN = {
    # the review's four cases
    "debian-nm-ifupdown-managed-false": network(
        NET
        + conf(
            "/etc/NetworkManager/NetworkManager.conf",
            "[main]\nplugins=ifupdown,keyfile\n\n[ifupdown]\nmanaged=false\n",
        ),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    "no-auto-default-star": network(
        NO_ETH0 + conf("/etc/NetworkManager/conf.d/00-no-auto.conf", "[main]\nno-auto-default=*\n"),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    "netplan-renderer-nm-only-networkd": network(
        "### /etc/netplan/01-nm.yaml\nnetwork:\n  version: 2\n  renderer: NetworkManager\n  ethernets:\n    eth0:\n      dhcp4: true\n",
        *NO_IFUPDOWN,
        *NETPLAN_ON,
        *NETWORKD_ON,
    ),
    "auto-eth0-networking-masked": network(
        NET.replace("allow-hotplug eth0", "auto eth0"),
        ("unit networking enabled active", "unit networking masked inactive"),
    ),
    # more of the same kind
    "auto-eth0-networking-disabled": network(
        NET.replace("allow-hotplug eth0", "auto eth0"),
        ("unit networking enabled active", "unit networking disabled inactive"),
    ),
    "no-auto-or-hotplug-stanza": network(NET.replace("allow-hotplug eth0\n", "")),
    "allow-other-class-only": network(NET.replace("allow-hotplug eth0", "allow-mine eth0")),
    "no-auto-default-by-mac": network(
        NO_ETH0 + conf("/etc/NetworkManager/conf.d/90-x.conf", f"[main]\nno-auto-default={MAC}\n"),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    "no-auto-default-by-name": network(
        NO_ETH0
        + conf("/etc/NetworkManager/conf.d/90-x.conf", "[main]\nno-auto-default=interface-name:eth*\n"),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    # RHEL's NetworkManager-config-server, read before NetworkManager.conf
    "rhel-00-server-conf": network(
        NO_ETH0
        + conf(
            "/usr/lib/NetworkManager/conf.d/00-server.conf", "[main]\nno-auto-default=*\nignore-carrier=*\n"
        ),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    # Ubuntu server's default: every device but Wi-Fi/modems unmanaged
    "ubuntu-globally-unmanaged": network(
        NO_ETH0
        + conf(
            "/usr/lib/NetworkManager/conf.d/10-globally-managed-devices.conf",
            "[keyfile]\nunmanaged-devices=*,except:type:wifi,except:type:gsm,except:type:cdma\n",
        ),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    "nm-profile-unmanaged-device": network(
        NO_ETH0
        + conf("/etc/NetworkManager/conf.d/99-unmanaged.conf", f"[keyfile]\nunmanaged-devices=mac:{MAC}\n"),
        *NO_IFUPDOWN,
        NM_ACTIVE,
        profile_text="### /etc/NetworkManager/system-connections/eth0.nmconnection\n"
        + KEYFILE.format(extra=""),
    ),
    "nm-profile-autoconnect-false": network(
        NO_ETH0,
        *NO_IFUPDOWN,
        NM_ACTIVE,
        profile_text="### /etc/NetworkManager/system-connections/eth0.nmconnection\n"
        + KEYFILE.format(extra="autoconnect=false"),
    ),
    "netplan-not-installed": network(
        "### /etc/netplan/50-cloud-init.yaml\nnetwork:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n",
        *NO_IFUPDOWN,
        *NETWORKD_ON,
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_nothing_brings_eth0_up_fails_lnx017_and_lnx018(case):
    facts = BROKEN[case]
    lnx017 = linux.ifupdown_control(facts, CURRENT)
    assert lnx017.result is F, lnx017
    assert "eth0" in lnx017.message and "Fix:" in lnx017.message
    assert judge(linux.dhcp, facts, CURRENT) is F
    assert judge(linux.dhcp, facts, GUIDE) is F
    assert judge(linux.ifupdown_control, facts, GUIDE) is F


def test_the_failure_names_what_was_found():
    masked = linux.ifupdown_control(BROKEN["auto-eth0-networking-masked"], CURRENT)
    assert (
        "auto eth0" in masked.actual and "networking.service" in masked.actual and "masked" in masked.actual
    )
    star = linux.dhcp(BROKEN["no-auto-default-star"], CURRENT)
    assert "no-auto-default=*" in star.actual
    server = linux.ifupdown_control(BROKEN["rhel-00-server-conf"], CURRENT)
    assert "no-auto-default=*" in server.actual
    plugin = linux.ifupdown_control(BROKEN["debian-nm-ifupdown-managed-false"], CURRENT)
    assert "[ifupdown] managed=false" in plugin.actual
    renderer = linux.ifupdown_control(BROKEN["netplan-renderer-nm-only-networkd"], CURRENT)
    assert "renderer NetworkManager" in renderer.actual


WORKING = {
    "compliant-allow-hotplug": network(NET),
    "auto-eth0-networking-enabled": network(NET.replace("allow-hotplug eth0", "auto eth0")),
    # hotplug stanzas are raised by udev (ifup@.service), not by networking.service
    "allow-hotplug-networking-masked": network(
        NET, ("unit networking enabled active", "unit networking masked inactive")
    ),
    "nm-default-dhcp": network(NO_ETH0, *NO_IFUPDOWN, NM_ACTIVE),
    # /etc/NetworkManager/conf.d/00-server.conf of the same name shadows /usr/lib's
    "rhel-00-server-shadowed": network(
        NO_ETH0
        + conf("/usr/lib/NetworkManager/conf.d/00-server.conf", "[main]\nno-auto-default=*\n")
        + conf("/etc/NetworkManager/conf.d/00-server.conf", "[main]\n"),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    # a later file takes eth0 back out of no-auto-default
    "no-auto-default-except": network(
        NO_ETH0
        + conf(
            "/etc/NetworkManager/conf.d/90-x.conf", "[main]\nno-auto-default=*,except:interface-name:eth0\n"
        ),
        *NO_IFUPDOWN,
        NM_ACTIVE,
    ),
    "netplan-renderer-nm-running": network(
        "### /etc/netplan/01-nm.yaml\nnetwork:\n  version: 2\n  renderer: NetworkManager\n  ethernets:\n    eth0:\n      dhcp4: true\n",
        *NO_IFUPDOWN,
        *NETPLAN_ON,
        NM_ACTIVE,
    ),
    "netplan-networkd": network(
        "### /etc/netplan/50-cloud-init.yaml\nnetwork:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n",
        *NO_IFUPDOWN,
        *NETPLAN_ON,
        *NETWORKD_ON,
    ),
    "nm-keyfile-profile": network(
        NO_ETH0,
        *NO_IFUPDOWN,
        NM_ACTIVE,
        profile_text="### /etc/NetworkManager/system-connections/eth0.nmconnection\n"
        + KEYFILE.format(extra=""),
    ),
}


@pytest.mark.parametrize("case", sorted(WORKING))
def test_a_stack_that_brings_eth0_up_passes_current(case):
    facts = WORKING[case]
    assert linux.ifupdown_control(facts, CURRENT).result is P, linux.ifupdown_control(facts, CURRENT)
    assert linux.dhcp(facts, CURRENT).result is P, linux.dhcp(facts, CURRENT)
