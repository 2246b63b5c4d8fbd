"""LNX-030...036 on hand-written facts in each distro's real file formats: a failing and a
passing case under ``current`` for every rule, guide-2016 warning instead of failing, and
the broken inputs (unreadable file, failed section, cut listing) that must error, not pass."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux_system
from pytest_vmimage.facts.linux import SECTIONS, LinuxFacts, Section
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result
from tests.linux_facts_builder import files, make_facts

GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")

OS = {
    "debian12": 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
    "ubuntu2204": 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n',
    "rhel8": 'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n',
    "rhel6": 'ID="rhel"\nVERSION_ID="6.5"\n',
    "centos7": 'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n',
    "rocky9": 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    "alma9": 'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    "ol8": 'ID="ol"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n',
    "fedora40": "ID=fedora\nVERSION_ID=40\n",
    "sles15": 'ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"\n',
    "azurelinux3": 'ID=azurelinux\nVERSION_ID="3.0"\n',
    "mariner2": 'ID=mariner\nVERSION_ID="2.0"\n',
    "gentoo": "ID=gentoo\n",
}


def facts(distro: str = "debian12", **sections: str):
    return make_facts("debian12", os_release=OS[distro], **sections)


def check(name: str, f, profile=CURRENT):
    return getattr(linux_system, name)(f, profile)


# -- LNX-030 sudoers ----------------------------------------------------------------------

DEBIAN_SUDOERS = """#
# This file MUST be edited with the 'visudo' command as root.
Defaults	env_reset
Defaults	mail_badpass
Defaults	secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults	use_pty
root	ALL=(ALL:ALL) ALL
%sudo	ALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
"""
WAAGENT = "azureuser ALL=(ALL) NOPASSWD:ALL\n"
RHEL_SUDOERS = """## Sudoers allows particular users to run various commands as
Defaults   !visiblepw
Defaults    always_set_home
Defaults    env_reset
root	ALL=(ALL) 	ALL
%wheel	ALL=(ALL)	ALL
## Read drop-in files from /etc/sudoers.d (the # here does not mean a comment)
#includedir /etc/sudoers.d
"""
# SLES ships these two lines; Azure's SLES preparation comments them out
SLES_SUDOERS = """Defaults always_set_home
Defaults secure_path="/usr/sbin:/usr/bin:/sbin:/bin"
Defaults env_reset
Defaults targetpw   # ask for the password of the target user i.e. root
ALL   ALL=(ALL) ALL   # WARNING! Only use this together with 'Defaults targetpw'!
root ALL=(ALL) ALL
@includedir /etc/sudoers.d
"""


def sudoers(main: str = DEBIAN_SUDOERS, distro: str = "debian12", **more: str):
    return facts(distro, sudoers=files(**{"/etc/sudoers": main, "/etc/sudoers.d/waagent": WAAGENT, **more}))


@pytest.mark.parametrize(
    "main,distro",
    [
        (DEBIAN_SUDOERS, "debian12"),
        (RHEL_SUDOERS, "rhel8"),
        (
            SLES_SUDOERS.replace("Defaults targetpw", "# Defaults targetpw").replace(
                "ALL   ALL", "# ALL   ALL"
            ),
            "sles15",
        ),
    ],
    ids=["debian", "rhel", "sles-azure"],
)
def test_sudoers_without_targetpw_passes(main, distro):
    verdict = check("default_targetpw", sudoers(main, distro))
    assert verdict.result is Result.PASSED, verdict
    assert "/etc/sudoers.d/waagent" in verdict.message and "LISA verify_default_targetpw" in verdict.message


def test_stock_sles_targetpw_fails_and_warns_under_guide_2016():
    verdict = check("default_targetpw", sudoers(SLES_SUDOERS, "sles15"))
    assert verdict.result is Result.FAILED
    assert "/etc/sudoers:4: Defaults targetpw" in verdict.actual
    assert "LISA verify_default_targetpw fails" in verdict.message
    guide = check("default_targetpw", sudoers(SLES_SUDOERS, "sles15"), GUIDE)
    assert guide.result is Result.WARNING and "guide-2016" in guide.message


@pytest.mark.parametrize(
    "name,text,result",
    [
        ("90-targetpw", "Defaults targetpw\n", Result.FAILED),
        ("90-rootpw", 'Defaults\tenv_keep += "LANG", rootpw\n', Result.FAILED),
        ("90-user", "Defaults:azureuser targetpw\n", Result.FAILED),
        ("90-continued", "Defaults env_reset, \\\n    targetpw\n", Result.FAILED),
        ("90-undone", "Defaults targetpw\nDefaults !targetpw\n", Result.PASSED),
        ("90-commented", "#Defaults targetpw\n# Defaults rootpw\n", Result.PASSED),
        ("targetpw.conf", "Defaults targetpw\n", Result.PASSED),  # sudo skips names with a dot
        ("90-old~", "Defaults targetpw\n", Result.PASSED),  # and backups
    ],
)
def test_targetpw_in_sudoers_d(name, text, result):
    verdict = check("default_targetpw", sudoers(**{f"/etc/sudoers.d/{name}": text}))
    assert verdict.result is result, verdict
    if result is Result.FAILED:
        assert f"/etc/sudoers.d/{name}" in verdict.actual
        assert "reads only /etc/sudoers" in verdict.message


F1_SUDOERS = {
    "comment-ending-in-backslash": "# keep the admin's password prompt \\\nDefaults targetpw\n",
    "blank-after-backslash": "Defaults env_reset,\\ \n    targetpw\n",
    "blank-after-colon": "Defaults: ALL targetpw\n",
    "runas-uid-0": "Defaults>#0 targetpw\n",
    "user-uid-1000": "Defaults:#1000 rootpw\n",
    "hash-inside-quotes": 'Defaults lecture_file="/etc/sudo#lecture", targetpw\n',
    "user-list-binding": "Defaults:alice, azureuser targetpw\n",
    "tab-after-defaults": "Defaults\ttargetpw # trailing comment\n",
    "runaspw": "Defaults runaspw\n",
}


@pytest.mark.parametrize("name", sorted(F1_SUDOERS))
def test_f1_sudoers_lexed_like_sudo_fails(name):
    verdict = check("default_targetpw", sudoers(DEBIAN_SUDOERS + F1_SUDOERS[name]))
    assert verdict.result is Result.FAILED, verdict


def test_f1_comment_that_looks_continued_hides_nothing_and_hides_no_comment():
    text = "# Defaults targetpw \\\n# Defaults rootpw\nDefaults env_reset # ,targetpw\n"
    assert check("default_targetpw", sudoers(DEBIAN_SUDOERS + text)).result is Result.PASSED


def test_sudoers_d_not_included_is_not_read():
    main = DEBIAN_SUDOERS.replace("@includedir /etc/sudoers.d\n", "")
    verdict = check("default_targetpw", sudoers(main, **{"/etc/sudoers.d/90-x": "Defaults targetpw\n"}))
    assert verdict.result is Result.PASSED and "no includedir reads" in verdict.message


@pytest.mark.parametrize(
    "broken",
    [
        dict(
            sudoers=files(**{"/etc/sudoers": DEBIAN_SUDOERS, "! /etc/sudoers.d/90-x": ""})
        ),  # unreadable file
        dict(sudoers="### ! /etc/sudoers.d/\n"),  # unreadable directory
        dict(sudoers=files(**{"/etc/sudoers": DEBIAN_SUDOERS + "@include /etc/sudoers.local\n"})),
        dict(sudoers=files(**{"/etc/sudoers.d/waagent": WAAGENT})),  # sudoers.d without sudoers
    ],
    ids=["unreadable-file", "unreadable-dir", "uncollected-include", "no-main-file"],
)
def test_sudoers_that_cannot_be_read_whole_is_an_error(broken):
    with pytest.raises(FactError):
        check("default_targetpw", facts(**broken))


def test_sudoers_section_failed_or_without_root_is_an_error():
    f = sudoers()
    f.sections["sudoers"] = replace(f.sections["sudoers"], rc=1)
    with pytest.raises(FactError):
        check("default_targetpw", f)
    f = sudoers()
    f.privileged = False
    with pytest.raises(FactError, match="needs root"):
        check("default_targetpw", f)


def test_no_sudo_installed_is_not_applicable_but_an_empty_listing_is_an_error():
    f = facts()
    f.sections["sudoers"] = Section(99, "")  # the section looked: no /etc/sudoers, no sudo command
    verdict = check("default_targetpw", f)
    assert verdict.result is Result.NOT_APPLICABLE and "not installed" in verdict.message
    with pytest.raises(FactError):
        check("default_targetpw", facts(sudoers=""))  # exit 0 but nothing printed


# -- LNX-031 kernel parameters ---------------------------------------------------------------

LINE = "root=UUID=0a1b ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300"


def boot(extra_running="", extra_cfg="", distro="debian12", default_grub=None, **more):
    sections = dict(
        proc_cmdline=f"BOOT_IMAGE=/boot/vmlinuz {LINE} {extra_running}",
        default_grub=default_grub
        if default_grub is not None
        else files(**{"/etc/default/grub": f'GRUB_CMDLINE_LINUX="console=ttyS0 {extra_cfg}"\n'}),
        grub_cfg=files(
            **{
                "/boot/grub/grub.cfg": f"menuentry 'Debian' {{\n\tlinux /boot/vmlinuz {LINE} {extra_cfg}\n}}\n"
            }
        ),
    )
    sections.update(more)
    return facts(distro, **sections)


def test_clean_kernel_line_passes():
    verdict = check("harmful_kernel_params", boot())
    assert verdict.result is Result.PASSED and "LISA verify_grub" in verdict.message


@pytest.mark.parametrize(
    "f",
    [
        boot(extra_running="libata.atapi_enabled=0"),
        boot(extra_cfg="libata.atapi_enabled=0"),
        boot(extra_cfg="reserve=0x1f0,0x8"),
        boot(extra_cfg="reserve=0x1f0,0x8,0x170,0x8"),
        boot(
            distro="rhel8",
            grub_cfg="",
            grubenv=files(**{"/boot/grub2/grubenv": f"kernelopts=libata.atapi_enabled=0 {LINE}\n"}),
        ),
        boot(
            distro="rhel8",
            grub_cfg="",
            bls_entries=files(**{"/boot/loader/entries/x.conf": f"options {LINE} reserve=0x1f0,0x8\n"}),
        ),
    ],
    ids=["running", "grub.cfg", "reserve", "reserve-more-ranges", "rhel8-grubenv", "bls"],
)
def test_harmful_parameter_fails(f):
    verdict = check("harmful_kernel_params", f)
    assert verdict.result is Result.FAILED, verdict
    assert check("harmful_kernel_params", f, GUIDE).result is Result.WARNING


@pytest.mark.parametrize(
    "spelled",
    [
        "libata.atapi-enabled=0",
        "libata.atapi_enabled=00",
        'libata.atapi_enabled="0"',
        '"libata.atapi_enabled=0"',
        "reserve=0x1F0,0x8",
        "reserve=0x1f0,0x08",
        "reserve=496,8",
        "reserve=0x170,0x8,0x1f0,0x8",
    ],
)
def test_f2_kernel_spelling_of_harmful_parameter_fails(spelled):
    for f in (boot(extra_running=spelled), boot(extra_cfg=spelled)):
        verdict = check("harmful_kernel_params", f)
        assert verdict.result is Result.FAILED, verdict
        assert spelled.strip('"') in verdict.actual


@pytest.mark.parametrize(
    "harmless", ["libata.atapi_enabled=1", "libata.atapi-enabled=0x1", "reserve=0x1f0,0x9"]
)
def test_f2_other_values_are_not_the_harmful_ones(harmless):
    assert check("harmful_kernel_params", boot(extra_running=harmless)).result is Result.PASSED


def test_commented_or_longer_parameter_is_not_the_harmful_one():
    f = boot(
        default_grub=files(**{"/etc/default/grub": '#GRUB_CMDLINE_LINUX="libata.atapi_enabled=0"\n'}),
        extra_running="libata.atapi_enabled=01",
    )
    assert check("harmful_kernel_params", f).result is Result.PASSED


def test_old_rhel_needs_numa_off():
    f = boot(distro="rhel6", grub_cfg=files(**{"/boot/grub/grub.conf": f"kernel /vmlinuz {LINE}\n"}))
    assert check("harmful_kernel_params", f).result is Result.FAILED
    f = boot(
        distro="rhel6",
        extra_running="numa=off",
        grub_cfg=files(**{"/boot/grub/grub.conf": f"kernel /vmlinuz {LINE} numa=off\n"}),
    )
    assert check("harmful_kernel_params", f).result is Result.PASSED


def test_kernel_params_without_boot_config_or_unreadable_grub_cfg_is_an_error():
    with pytest.raises(FactError, match="no boot loader configuration"):
        check("harmful_kernel_params", boot(grub_cfg=""))
    with pytest.raises(FactError):
        check("harmful_kernel_params", boot(grub_cfg="### ! /boot/grub/grub.cfg\n"))


# -- LNX-032 udev --------------------------------------------------------------------------


def udev(*lines: str, end: str = "looked"):
    return facts(udev_net_rules="\n".join([*lines, end]) + "\n")


def test_no_persistent_net_rules_passes():
    assert check("persistent_net_rules", udev()).result is Result.PASSED


@pytest.mark.parametrize(
    "line",
    [
        "rule 245 /etc/udev/rules.d/70-persistent-net.rules",
        "rule 0 /etc/udev/rules.d/70-persistent-net.rules",
        "rule 3044 /lib/udev/rules.d/75-persistent-net-generator.rules",
        "rule 3044 /usr/lib64/udev/rules.d/70-persistent-net.rules",
    ],
)
def test_persistent_net_rule_fails(line):
    verdict = check("persistent_net_rules", udev(line))
    assert verdict.result is Result.FAILED and line.split()[2] in verdict.actual
    assert "LISA verify_udev_rules_moved" in verdict.message
    assert check("persistent_net_rules", udev(line), GUIDE).result is Result.WARNING


def test_l5_persistent_net_rule_in_usr_local_or_run_fails(tmp_path):
    dirs = "|".join(re.escape(d) for d in (*UDEV_DIRS, "/lib/udev/rules.d", "/usr/lib64/udev/rules.d"))
    script = re.sub(
        rf"(?<= )({dirs})(?=[ ;])", lambda m: f"{tmp_path}{m.group(1)}", SECTIONS["udev_net_rules"][1]
    )
    for where in ("usr/local/lib/udev/rules.d", "run/udev/rules.d"):
        rule = tmp_path / where / "70-persistent-net.rules"
        rule.parent.mkdir(parents=True)
        rule.write_text('SUBSYSTEM=="net", ATTR{address}=="00:15:5d:01:02:03", NAME="eth0"\n')
        text = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30).stdout
        verdict = check("persistent_net_rules", facts(udev_net_rules=text.replace(str(tmp_path), "")))
        assert verdict.result is Result.FAILED and f"/{where}/70-persistent-net.rules" in verdict.actual, (
            verdict
        )
        rule.unlink()


def test_generator_masked_in_etc_passes():
    verdict = check(
        "persistent_net_rules",
        udev("rule 0 /etc/udev/rules.d/75-persistent-net-generator.rules -> /dev/null"),
    )
    assert verdict.result is Result.PASSED and "masks" in verdict.message


@pytest.mark.parametrize(
    "text",
    ["rule 245 /etc/udev/rules.d/70-persistent-net.rules\n", "unreadable /etc/udev/rules.d\nlooked\n", ""],
)
def test_cut_or_unreadable_udev_listing_is_an_error(text):
    with pytest.raises(FactError):
        check("persistent_net_rules", facts(udev_net_rules=text))


# -- LNX-033 DHCP hostname ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "distro,text,result",
    [
        (
            "sles15",
            files(**{"/etc/sysconfig/network/dhcp": '## Type: yesno\nDHCLIENT_SET_HOSTNAME="no"\n'}),
            Result.PASSED,
        ),
        ("sles15", files(**{"/etc/sysconfig/network/dhcp": 'DHCLIENT_SET_HOSTNAME="yes"\n'}), Result.FAILED),
        ("sles15", files(**{"/etc/sysconfig/network/dhcp": '#DHCLIENT_SET_HOSTNAME="no"\n'}), Result.FAILED),
        ("sles15", "", Result.FAILED),
        (
            "azurelinux3",
            files(**{"/etc/dhcpcd.conf": "option domain_name_servers, domain_name, host_name\n"}),
            Result.PASSED,
        ),
        (
            "azurelinux3",
            files(**{"/etc/dhcpcd.conf": "#option host_name\noption ntp_servers\n"}),
            Result.FAILED,
        ),
        (
            "mariner2",
            files(**{"/etc/dhcp/dhclient.conf": "request subnet-mask, routers,\n  host-name;\n"}),
            Result.PASSED,
        ),
        ("mariner2", files(**{"/etc/dhcp/dhclient.conf": "request subnet-mask;\n"}), Result.FAILED),
        ("debian12", "", Result.NOT_APPLICABLE),
        ("rhel8", "", Result.NOT_APPLICABLE),
    ],
)
def test_dhcp_hostname(distro, text, result):
    verdict = check("dhcp_hostname", facts(distro, dhcp_hostname=text))
    assert verdict.result is result, verdict
    assert "LISA verify_dhcp_file_configuration" in verdict.message
    if result is Result.FAILED:
        assert check("dhcp_hostname", facts(distro, dhcp_hostname=text), GUIDE).result is Result.WARNING


@pytest.mark.parametrize(
    ("distro", "path", "text", "result"),
    [
        (
            "azurelinux3",
            "/etc/dhcpcd.conf",
            "option domain_name, host_name\nnooption host_name\n",
            Result.FAILED,
        ),
        ("azurelinux3", "/etc/dhcpcd.conf", "nooption host_name\noption host_name\n", Result.PASSED),
        (
            "azurelinux3",
            "/etc/dhcpcd.conf",
            "option ntp_servers\ninterface eth1\noption host_name\n",
            Result.FAILED,
        ),
        (
            "mariner2",
            "/etc/dhcp/dhclient.conf",
            "request subnet-mask, routers, host-name;\nrequest subnet-mask, routers, domain-name-servers;\n",
            Result.FAILED,
        ),
        (
            "mariner2",
            "/etc/dhcp/dhclient.conf",
            "request subnet-mask;\nalso request host-name;\n",
            Result.PASSED,
        ),
        ("mariner2", "/etc/dhcp/dhclient.conf", "also request host-name;\nrequest routers;\n", Result.FAILED),
    ],
    ids=[
        "nooption-cancels",
        "option-after-nooption",
        "interface-block-only",
        "later-request-replaces",
        "also-request-adds",
        "request-after-also",
    ],
)
def test_f9_later_statement_cancels_or_keeps_host_name_request(distro, path, text, result):
    verdict = check("dhcp_hostname", facts(distro, dhcp_hostname=files(**{path: text})))
    assert verdict.result is result, verdict


def test_l4_suse_ifcfg_eth0_override_fails():
    dhcp = {"/etc/sysconfig/network/dhcp": 'DHCLIENT_SET_HOSTNAME="no"\n'}
    eth0 = "/etc/sysconfig/network/ifcfg-eth0"
    yes = facts(
        "sles15", dhcp_hostname=files(**dhcp, **{eth0: "BOOTPROTO='dhcp'\nDHCLIENT_SET_HOSTNAME='yes'\n"})
    )
    assert check("dhcp_hostname", yes).result is Result.FAILED
    plain = facts("sles15", dhcp_hostname=files(**dhcp, **{eth0: "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n"}))
    assert check("dhcp_hostname", plain).result is Result.PASSED
    assert "ifcfg-eth0" in SECTIONS["dhcp_hostname"][1]


def test_unreadable_dhcp_file_is_an_error():
    with pytest.raises(FactError):
        check("dhcp_hostname", facts("sles15", dhcp_hostname="### ! /etc/sysconfig/network/dhcp\n"))


# -- LNX-034 KVP daemon -----------------------------------------------------------------------

DEBIAN_KVP = """binary /usr/sbin/hv_kvp_daemon
binary /usr/sbin/hv_kvp_daemon
udev /lib/udev/rules.d/60-hyperv-daemons.rules:KERNEL=="vmbus/hv_kvp", TAG+="systemd", ENV{SYSTEMD_WANTS}+="hv-kvp-daemon.service"
unit hv-kvp-daemon.service disabled inactive
unit hyperv-daemons.hv-kvp-daemon.service  inactive
unit hypervkvpd.service  inactive
unit hv_kvp_daemon.service  inactive
"""
NO_KVP = "".join(f"unit {u}  inactive\n" for u in ("hv-kvp-daemon.service", "hypervkvpd.service"))


def test_debian_hyperv_daemons_started_by_udev_passes():
    f = facts(
        kvp_daemon=DEBIAN_KVP, packages="manager dpkg\nhyperv-daemons\t6.1.192-3\tinstall ok installed\n"
    )
    verdict = check("kvp_daemon", f)
    assert verdict.result is Result.PASSED and "udev" in verdict.message


def test_azure_linux_hypervkvpd_enabled_passes():
    text = "binary /usr/sbin/hypervkvpd\nunit hypervkvpd.service enabled active\nprocess hypervkvpd\n"
    f = facts("azurelinux3", kvp_daemon=text, packages="manager rpm\nhypervkvpd\t6.6-1.azl3\tinstalled\n")
    assert check("kvp_daemon", f).result is Result.PASSED


@pytest.mark.parametrize("profile", [CURRENT, GUIDE], ids=["current", "guide-2016"])
def test_kvp_missing_or_not_started_warns_never_fails(profile):
    assert check("kvp_daemon", facts(kvp_daemon=NO_KVP), profile).result is Result.WARNING
    no_udev = "\n".join(line for line in DEBIAN_KVP.splitlines() if not line.startswith("udev"))
    verdict = check("kvp_daemon", facts(kvp_daemon=no_udev), profile)
    assert verdict.result is Result.WARNING and "not enabled" in verdict.actual
    masked = DEBIAN_KVP.replace("hv-kvp-daemon.service disabled", "hv-kvp-daemon.service masked")
    assert check("kvp_daemon", facts(kvp_daemon=masked), profile).result is Result.WARNING


UDEV_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/usr/lib/udev/rules.d")
KVP_RULE = 'KERNEL=="vmbus/hv_kvp", TAG+="systemd", ENV{SYSTEMD_WANTS}+="hv-kvp-daemon.service"\n'


def kvp_udev_lines(root: Path) -> str:
    """The "rules"/"udev" lines of the kvp_daemon section's own script run under sh on a fake root."""
    dirs = "|".join(re.escape(d) for d in (*UDEV_DIRS, "/lib/udev/rules.d"))
    script = re.sub(rf"(?<= )({dirs})(?=[ ;])", lambda m: f"{root}{m.group(1)}", SECTIONS["kvp_daemon"][1])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60).stdout
    return "".join(line + "\n" for line in out.splitlines() if line.startswith(("rules ", "udev ")))


@pytest.mark.parametrize("how", ["commented", "masked-by-dev-null", "hidden-by-empty-etc-file"])
def test_f3_commented_or_masked_udev_rule_does_not_start_kvp(tmp_path, how):
    for directory in UDEV_DIRS:
        (tmp_path / directory.lstrip("/")).mkdir(parents=True)
    shipped = tmp_path / "usr/lib/udev/rules.d/60-hyperv-daemons.rules"
    etc = tmp_path / "etc/udev/rules.d/60-hyperv-daemons.rules"
    shipped.write_text("# " + KVP_RULE if how == "commented" else KVP_RULE)
    if how == "masked-by-dev-null":
        etc.symlink_to("/dev/null")
    elif how == "hidden-by-empty-etc-file":
        etc.write_text("")
    text = kvp_udev_lines(tmp_path).replace(str(tmp_path), "") + NO_KVP.replace(
        "  inactive", " disabled inactive"
    )
    f = facts(kvp_daemon="binary /usr/sbin/hv_kvp_daemon\n" + text)
    verdict = check("kvp_daemon", f)
    assert verdict.result is Result.WARNING and "not enabled" in verdict.actual, verdict
    etc.unlink(missing_ok=True)
    shipped.write_text(KVP_RULE)
    live = kvp_udev_lines(tmp_path).replace(str(tmp_path), "") + NO_KVP
    assert (
        check("kvp_daemon", facts(kvp_daemon="binary /usr/sbin/hv_kvp_daemon\n" + live)).result
        is Result.PASSED
    )


@pytest.mark.parametrize(
    "text,rc", [("no systemctl\n", 127), (DEBIAN_KVP, 2), ("binary /usr/sbin/hv_kvp_daemon\n", 0)]
)
def test_kvp_listing_failed_is_an_error(text, rc):
    f = facts(kvp_daemon=text)
    f.sections["kvp_daemon"] = Section(rc, text)
    with pytest.raises(FactError):
        check("kvp_daemon", f)


# -- LNX-035 repositories ---------------------------------------------------------------------

DEBIAN_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""
UBUNTU_LIST = """deb http://azure.archive.ubuntu.com/ubuntu/ jammy main restricted
deb http://azure.archive.ubuntu.com/ubuntu/ jammy-updates main restricted
# deb-src http://azure.archive.ubuntu.com/ubuntu/ jammy-backports main
deb [arch=amd64] http://azure.archive.ubuntu.com/ubuntu/ jammy-security main restricted
"""


def rhui(count: int, enabled: int = 1) -> str:
    return "".join(
        f"[rhui-rhel-8-for-x86_64-repo{i}-rhui-rpms]\nname=Red Hat {i}\n"
        f"mirrorlist=https://rhui4-1.microsoft.com/pulp/mirror/content/dist/rhel8/rhui/$releasever/x86_64/{i}\n"
        f"enabled={1 if i < enabled else 0}\n\n"
        for i in range(count)
    )


ZYPP = {
    "/etc/zypp/repos.d/SLE-Module-Basesystem15-SP5-Pool.repo": "[SUSE_Linux_Enterprise_Server_15_SP5_x86_64:SLE-Module-Basesystem15-SP5-Pool]\n"
    "name=SLE-Module-Basesystem15-SP5-Pool\nenabled=1\nautorefresh=0\nbaseurl=plugin:/susecloud?path=/repo/x\n",
    "/etc/zypp/repos.d/SLE-Module-Basesystem15-SP5-Updates.repo": "[SUSE_Linux_Enterprise_Server_15_SP5_x86_64:SLE-Module-Basesystem15-SP5-Updates]\n"
    "name=SLE-Module-Basesystem15-SP5-Updates\nenabled=1\nautorefresh=1\nbaseurl=plugin:/susecloud?path=/repo/y\n",
}


def repos(distro: str, **paths: str):
    return facts(distro, repositories=files(**paths))


PASSING_REPOS = {
    "debian": repos("debian12", **{"/etc/apt/sources.list.d/debian.sources": DEBIAN_SOURCES}),
    "ubuntu": repos("ubuntu2204", **{"/etc/apt/sources.list": UBUNTU_LIST}),
    "rhel8-rhui": repos("rhel8", **{"/etc/yum.repos.d/rh-cloud.repo": rhui(8, enabled=3)}),
    "centos7": repos(
        "centos7",
        **{
            "/etc/yum.repos.d/CentOS-Base.repo": "[base]\nname=CentOS-7 - Base\nbaseurl=http://olcentgbl.trafficmanager.net/centos/7/os/\n"
            "[updates]\nname=CentOS-7 - Updates\nbaseurl=http://x/centos/7/updates/\n"
        },
    ),
    "rocky9": repos(
        "rocky9",
        **{
            "/etc/yum.repos.d/rocky.repo": "[baseos]\nname=Rocky Linux $releasever - BaseOS\nmirrorlist=https://m/?repo=BaseOS\nenabled=1\n"
            "[appstream]\nname=AppStream\nenabled=1\n"
        },
    ),
    "alma9": repos(
        "alma9", **{"/etc/yum.repos.d/almalinux-baseos.repo": "[baseos]\nname=AlmaLinux BaseOS\n"}
    ),
    "ol8": repos(
        "ol8",
        **{"/etc/yum.repos.d/oracle-linux-ol8.repo": "[ol8_baseos_latest]\nname=OL8 BaseOS\nenabled=1\n"},
    ),
    "fedora40": repos(
        "fedora40",
        **{
            "/etc/yum.repos.d/fedora.repo": "[fedora]\nname=Fedora\nenabled=1\n",
            "/etc/yum.repos.d/fedora-updates.repo": "[updates]\nname=Fedora Updates\nenabled=1\n",
        },
    ),
    "sles15": repos("sles15", **ZYPP),
    "azurelinux3": repos(
        "azurelinux3",
        **{
            "/etc/yum.repos.d/azurelinux-official-base.repo": "[azurelinux-official-base]\nname=Azure Linux Official Base\nenabled=1\n"
            "[azurelinux-official-ms-oss]\nenabled=1\n[azurelinux-official-ms-non-oss]\n"
        },
    ),
}


@pytest.mark.parametrize("name", sorted(PASSING_REPOS))
def test_distribution_repositories_pass(name):
    verdict = check("repositories", PASSING_REPOS[name])
    assert verdict.result is Result.PASSED, verdict
    assert "LISA verify_repository_installed" in verdict.message


FAILING_REPOS = {
    "debian-no-updates": repos(
        "debian12",
        **{"/etc/apt/sources.list.d/debian.sources": DEBIAN_SOURCES.replace(" bookworm-updates", "")},
    ),
    "debian-security-disabled": repos(
        "debian12", **{"/etc/apt/sources.list.d/debian.sources": DEBIAN_SOURCES + "Enabled: no\n"}
    ),
    "debian-none": repos("debian12"),
    "ubuntu-no-security": repos(
        "ubuntu2204", **{"/etc/apt/sources.list": UBUNTU_LIST.replace("deb [arch", "# deb [arch")}
    ),
    "ubuntu-deb-src-only-security": repos(
        "ubuntu2204", **{"/etc/apt/sources.list": UBUNTU_LIST.replace("deb [arch=amd64]", "deb-src")}
    ),
    "rhel8-subscription": repos(
        "rhel8", **{"/etc/yum.repos.d/redhat.repo": "[rhel-8-for-x86_64-baseos-rpms]\nenabled=1\n"}
    ),
    "rhel8-few-rhui": repos("rhel8", **{"/etc/yum.repos.d/rh-cloud.repo": rhui(4, enabled=4)}),
    "rhel8-rhui-all-disabled": repos("rhel8", **{"/etc/yum.repos.d/rh-cloud.repo": rhui(8, enabled=0)}),
    "centos7-updates-disabled": repos(
        "centos7",
        **{"/etc/yum.repos.d/CentOS-Base.repo": "[base]\nname=Base\n[updates]\nname=Updates\nenabled=0\n"},
    ),
    "ol8-no-latest": repos("ol8", **{"/etc/yum.repos.d/x.repo": "[ol8_appstream]\nenabled=1\n"}),
    "sles15-no-updates": repos("sles15", **dict(list(ZYPP.items())[:1])),
    "azurelinux3-missing": repos(
        "azurelinux3", **{"/etc/yum.repos.d/a.repo": "[azurelinux-official-base]\n"}
    ),
    "unknown-none": repos("gentoo"),
}


@pytest.mark.parametrize("name", sorted(FAILING_REPOS))
def test_missing_distribution_repositories_fail(name):
    verdict = check("repositories", FAILING_REPOS[name])
    assert verdict.result is Result.FAILED, verdict
    assert check("repositories", FAILING_REPOS[name], GUIDE).result is Result.WARNING


@pytest.mark.parametrize("value", ["off", "OFF", "no", "false", "0"])
def test_f6_dnf_enabled_off_is_disabled(value):
    rocky = "[baseos]\nname=Rocky Linux BaseOS\nmirrorlist=https://m/?repo=BaseOS\nenabled=" + value + "\n"
    f = repos("rocky9", **{"/etc/yum.repos.d/rocky.repo": rocky})
    assert check("repositories", f).result is Result.FAILED
    on = repos("rocky9", **{"/etc/yum.repos.d/rocky.repo": rocky.replace("enabled=" + value, "enabled=on")})
    assert check("repositories", on).result is Result.PASSED


def test_f6_enabled_value_dnf_refuses_is_an_error():
    f = repos("rocky9", **{"/etc/yum.repos.d/rocky.repo": "[baseos]\nname=BaseOS\nenabled=maybe\n"})
    with pytest.raises(FactError, match="enabled='maybe'"):
        check("repositories", f)


ESM = (
    "deb https://esm.ubuntu.com/infra/ubuntu jammy-infra-security main\n"
    "deb https://esm.ubuntu.com/infra/ubuntu jammy-infra-updates main\n"
)


@pytest.mark.parametrize(
    ("distro", "sources"),
    [
        ("ubuntu2204", "deb http://azure.archive.ubuntu.com/ubuntu/ jammy main\n" + ESM),
        ("ubuntu2204", UBUNTU_LIST.replace("jammy-", "focal-")),
        ("debian12", DEBIAN_SOURCES.replace("bookworm-security", "bullseye-security")),
    ],
    ids=["ubuntu-esm-infra-only", "ubuntu-other-codename", "debian-bullseye-security-on-bookworm"],
)
def test_f7_suites_must_be_this_releases_pockets(distro, sources):
    path = "/etc/apt/sources.list.d/debian.sources" if distro == "debian12" else "/etc/apt/sources.list"
    verdict = check("repositories", repos(distro, **{path: sources}))
    assert verdict.result is Result.FAILED, verdict


def test_f7_codename_from_version_or_an_error_without_one():
    f = repos("debian12", **{"/etc/apt/sources.list.d/debian.sources": DEBIAN_SOURCES})
    f.sections["os_release"] = Section(0, 'ID=debian\nVERSION_ID="12"\nVERSION="12 (bookworm)"\n')
    assert check("repositories", f).result is Result.PASSED
    ubuntu = repos("ubuntu2204", **{"/etc/apt/sources.list": UBUNTU_LIST})
    ubuntu.sections["os_release"] = Section(0, 'ID=ubuntu\nVERSION="22.04.3 LTS (Jammy Jellyfish)"\n')
    assert check("repositories", ubuntu).result is Result.PASSED
    f.sections["os_release"] = Section(0, 'ID=debian\nVERSION_ID="12"\n')
    with pytest.raises(FactError, match="codename"):
        check("repositories", f)


def test_unknown_distribution_with_repositories_warns():
    verdict = check(
        "repositories", repos("gentoo", **{"/etc/yum.repos.d/x.repo": "[local]\nbaseurl=http://x/\n"})
    )
    assert verdict.result is Result.WARNING and "local" in verdict.message


def test_unreadable_repository_file_is_an_error():
    with pytest.raises(FactError):
        check("repositories", facts("rhel8", repositories=files(**{"! /etc/yum.repos.d/rh-cloud.repo": ""})))
    f = PASSING_REPOS["debian"]
    f.sections["repositories"] = replace(f.sections["repositories"], rc=1)
    with pytest.raises(FactError):
        check("repositories", f)


# -- LNX-036 OMI --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "packages,server,result",
    [
        ("manager dpkg\nlibc6\t2.36\tinstall ok installed\n", None, Result.PASSED),
        ("manager dpkg\nomi\t1.6.8-0\tinstall ok installed\n", None, Result.FAILED),
        ("manager dpkg\nomi\t1.6.8-1\tinstall ok installed\n", None, Result.PASSED),
        ("manager dpkg\nomi\t1.6.8-0\tdeinstall ok config-files\n", None, Result.PASSED),
        (
            "manager rpm\nomi\t1.6.10-2\tinstalled\n",
            "/opt/omi/bin/omiserver: OMI-1.6.10-2 - Tue Mar 1",
            Result.PASSED,
        ),
        ("manager rpm\nomi\t1.6.4-0\tinstalled\n", None, Result.FAILED),
        ("manager dpkg\nomi\t1:1.6.8-0\tinstall ok installed\n", None, Result.FAILED),  # epoch (review)
        ("manager dpkg\nomi\t1:1.6.8-1\tinstall ok installed\n", None, Result.PASSED),
        (
            "manager rpm\n",
            "/opt/omi/bin/omiserver: OMI-1.6.4-0 - Mon Jan 1",
            Result.FAILED,
        ),  # installed by hand
    ],
)
def test_omi_version(packages, server, result):
    f = facts(packages=packages)
    f.sections["omi"] = Section(0, server) if server else Section(99, "")
    verdict = check("omi_version", f)
    assert verdict.result is result, verdict
    assert "LISA verify_omi_version" in verdict.message
    if result is Result.FAILED:
        assert "Vulnerable OMI version detected" in verdict.message
        assert check("omi_version", f, GUIDE).result is Result.WARNING


@pytest.mark.parametrize(
    "section",
    [Section(0, "omiserver: unknown option"), Section(1, ""), Section(124, "", 10.0, 10.0, "timed out")],
)
def test_omi_present_but_unreadable_is_an_error(section):
    f = facts(packages="manager dpkg\n")
    f.sections["omi"] = section
    with pytest.raises(FactError):
        check("omi_version", f)


@pytest.mark.parametrize(
    "packages",
    [Section(2, "manager rpm\nerror: rpmdb open failed\n"), Section(0, ""), Section(99, "")],
    ids=["failed", "printed-nothing", "no-dpkg-no-rpm"],
)
def test_omi_package_query_failed_is_an_error(packages):
    f = facts()
    f.sections["packages"] = packages
    f.sections["omi"] = Section(99, "")
    with pytest.raises(FactError):
        check("omi_version", f)


def test_empty_running_kernel_line_is_an_error():
    with pytest.raises(FactError, match="empty"):
        check("harmful_kernel_params", boot(proc_cmdline=""))


# -- recorded from the real test VMs (tests/testbed, variant lisa-rules) -------------------------

RECORDED = Path(__file__).parent / "recorded" / "linux"


@pytest.mark.parametrize("variant", ["compliant", "lisa-rules"])
@pytest.mark.parametrize("profile", [CURRENT, GUIDE], ids=["current", "guide-2016"])
def test_recorded_test_vms(variant, profile):
    """The compliant VM passes LNX-030...036 (LNX-033: not applicable on Debian) under both
    profiles; lisa-rules fails exactly its four under current and warns under guide-2016."""
    facts = LinuxFacts.load(RECORDED / f"debian12-{variant}.json")
    broken = {"LNX-030", "LNX-031", "LNX-032", "LNX-036"} if variant == "lisa-rules" else set()
    for req_id, rule in linux_system.CHECKS.items():
        verdict = rule(facts, profile)
        if req_id in broken:
            assert verdict.result is (Result.FAILED if profile is CURRENT else Result.WARNING), (
                req_id,
                verdict,
            )
        elif req_id == "LNX-033":
            assert verdict.result is Result.NOT_APPLICABLE, verdict
        else:
            assert verdict.result is Result.PASSED, (req_id, verdict)
    if variant == "lisa-rules":
        assert "1.6.8-0" in linux_system.omi_version(facts, profile).actual
        assert "/etc/sudoers.d/90-testbed-targetpw" in linux_system.default_targetpw(facts, profile).actual
