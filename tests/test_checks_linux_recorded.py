"""Every Linux check on facts recorded from the real test VM (``--vm-facts-dir``),
and on the same facts edited to break one requirement at a time.

The recorded snapshot is ``tests/recorded/linux/debian12-compliant.json``: Debian 12
built by ``tests/testbed``, booted under QEMU, gathered over SSH.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux, linux_system
from pytest_vmimage.facts.linux import ABSENT_RC, LinuxFacts, Section
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result, Verdict
from tests.linux_facts_builder import files

RECORDED = Path(__file__).parent / "recorded" / "linux"
GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")

CHECKS = {
    "LNX-001": linux.os_disk_size,
    "LNX-002": linux.data_disk_size,
    "LNX-003": linux.agent_installed,
    "LNX-004": linux.agent_version,
    "LNX-005": linux.agent_auto_update,
    "LNX-006": linux.hyperv_drivers,
    "LNX-007": linux.python_version,
    "LNX-008": linux.pyasn1,
    "LNX-009": linux.openssl_version,
    "LNX-010": linux.no_lvm,
    "LNX-011": linux.single_root_partition,
    "LNX-012": linux.no_swap_partition,
    "LNX-013": linux.kernel_boot_line,
    "LNX-014": linux.ssh_server,
    "LNX-015": linux.client_alive_interval,
    "LNX-016": linux.network_manager,
    "LNX-017": linux.ifupdown_control,
    "LNX-018": linux.dhcp,
    "LNX-019": linux.no_custom_network,
    "LNX-020": linux.no_ipv6_reliance,
    "LNX-021": linux.security_updates,
    "LNX-022": linux.no_default_accounts,
    "LNX-023": linux.shell_history,
    "LNX-024": linux.firewall_rules,
    "LNX-025": linux.deprovision_settings,
    "LNX-026": linux.generalized,
    "LNX-027": linux.architecture,
    "LNX-028": linux.ghost_vulnerability,
    "LNX-029": linux.storvsc_patch,
}
CHECKS.update(linux_system.CHECKS)  # LNX-030...036

# Requirements that do not apply to the Debian test VM, and a word the reason must name.
EXPECTED_NOT_APPLICABLE = {
    "LNX-033": "neither SUSE nor Azure Linux",
}


def passes_or_not_applicable(req_id: str, verdict) -> bool:
    """The compliant VM's result: passed, or not applicable for the reason it really has."""
    word = EXPECTED_NOT_APPLICABLE.get(req_id)
    if word and verdict.result is Result.NOT_APPLICABLE:
        return word in verdict.message
    return verdict.result is Result.PASSED


def compliant() -> LinuxFacts:
    return LinuxFacts.load(RECORDED / "debian12-compliant.json")


def edited(
    facts: LinuxFacts, name: str, text: str | None = None, *, old: str = "", new: str = "", rc: int = 0
) -> LinuxFacts:
    """A copy of ``facts`` with one section replaced (or one substring in it)."""
    facts = copy.deepcopy(facts)
    current = facts.sections[name].text
    if text is None:
        assert old in current, f"{old!r} not in section {name}"
        text = current.replace(old, new)
    facts.sections[name] = Section(rc, text)
    return facts


RECORDED_LEASE_TIME = next(
    line.split()[1] for line in compliant().sections["residue"].text.splitlines() if line.startswith("lease ")
)
RECORDED_KERNEL = compliant().kernel_release


def test_recording_is_complete():
    assert {f"LNX-{n:03d}" for n in range(1, 37)} <= set(CHECKS)


@pytest.mark.parametrize("req_id", sorted(CHECKS))
@pytest.mark.parametrize("profile", [GUIDE, CURRENT], ids=["guide-2016", "current"])
def test_compliant_vm_passes_every_check(req_id, profile):
    verdict = CHECKS[req_id](compliant(), profile)
    if req_id == "LNX-016" and profile is CURRENT:
        # current judges NetworkManager only on the RHEL/CentOS 6 family (profile table)
        assert verdict.result is Result.NOT_APPLICABLE and "not RHEL/CentOS 6" in verdict.message, verdict
        return
    assert passes_or_not_applicable(req_id, verdict), f"{req_id}: {verdict}"
    assert (verdict.actual or verdict.result is Result.NOT_APPLICABLE) and verdict.required


# Each case: requirement, edit of the compliant facts, expected result (guide-2016), text in the message.
CASES = [
    (
        "LNX-001",
        dict(name="sys_block", old="disk vda size=62914560", new="disk vda size=41943040"),
        Result.FAILED,
        "at least 30 GiB",
    ),
    (
        "LNX-001",
        dict(name="sys_block", old="disk vda size=62914560", new="disk vda size=209715200"),
        Result.WARNING,
        "individually",
    ),
    (
        "LNX-002",
        dict(name="sys_block", old="disk vdb size=2097152", new="disk vdb size=2147483648"),
        Result.FAILED,
        "exceed 1023 GiB",
    ),
    (
        "LNX-003",
        dict(name="agent", text="unit walinuxagent  inactive\nunit waagent  inactive\n"),
        Result.FAILED,
        "missing: waagent",
    ),
    (
        "LNX-003",
        dict(name="packages", old="waagent\t2.7.3.0-4.1\tinstall ok installed", new=""),
        Result.WARNING,
        "installed by hand",
    ),
    (
        "LNX-004",
        dict(name="agent_candidate", old="Candidate: 2.7.3.0-4.1", new="Candidate: 2.9.1.1-1"),
        Result.WARNING,
        "offers 2.9.1.1-1",
    ),
    (
        "LNX-005",
        dict(name="waagent_conf", old="AutoUpdate.Enabled=y", new="AutoUpdate.Enabled=n"),
        Result.WARNING,
        "AutoUpdate.Enabled=y",
    ),
    (
        "LNX-006",
        dict(name="kernel_modules", old="hv_storvsc builtin=0 module=1", new="hv_storvsc builtin=0 module=0"),
        Result.FAILED,
        "hv_storvsc missing",
    ),
    (
        "LNX-006",
        dict(name="initramfs_hv", old="hv_storvsc.ko\n", new=""),
        Result.FAILED,
        "initramfs lacks hv_storvsc",
    ),
    (
        "LNX-007",
        dict(name="agent_python", old="version 3.11.2", new="version 2.4.3"),
        Result.FAILED,
        "2.6 or newer",
    ),
    (
        "LNX-008",
        dict(name="agent_python", old="pyasn1 0.4.8", new="ModuleNotFoundError: No module named 'pyasn1'"),
        Result.FAILED,
        "python3-pyasn1",
    ),
    (
        "LNX-009",
        dict(name="openssl", text="OpenSSL 0.9.8zh 3 Dec 2015"),
        Result.WARNING,
        "1.0 or newer is recommended",
    ),
    (
        "LNX-009",
        dict(name="openssl", text="", rc=ABSENT_RC),
        Result.FAILED,
        "install openssl",
    ),
    (
        "LNX-012",
        dict(
            name="blkid", old='TYPE="ext4" PARTUUID="7e57da7a-01"', new='TYPE="swap" PARTUUID="7e57da7a-01"'
        ),
        Result.WARNING,
        "even though it is not mounted",
    ),
    (
        "LNX-013",
        dict(name="proc_cmdline", old="console=ttyS0 ", new=""),
        Result.FAILED,
        "console=ttyS0 missing in running kernel",
    ),
    (
        "LNX-014",
        dict(name="sshd", text="unit ssh disabled inactive\nunit sshd  inactive\n"),
        Result.WARNING,
        "install and enable",
    ),
    (
        "LNX-015",
        dict(name="sshd_effective", old="clientaliveinterval 180", new="clientaliveinterval 600"),
        Result.FAILED,
        "allowed 30–235",
    ),
    (
        "LNX-015",
        dict(name="sshd_effective", old="clientaliveinterval 180", new="clientaliveinterval 120"),
        Result.WARNING,
        "ClientAliveInterval 180",
    ),
    (
        "LNX-016",
        dict(
            name="network_services",
            old="unit NetworkManager  inactive",
            new="unit NetworkManager enabled active",
        ),
        Result.WARNING,
        "preferable to remove",
    ),
    (
        "LNX-017",
        dict(
            name="network_services",
            old="resolved ifup /usr/sbin/ifup",
            new="resolved ifup /usr/libexec/nm-ifup",
        ),
        Result.FAILED,
        "ifup/ifdown",
    ),
    (
        "LNX-018",
        dict(
            name="network_config",
            old="iface eth0 inet dhcp",
            new="iface eth0 inet static\n address 10.0.2.15/24",
        ),
        Result.FAILED,
        "configured static",
    ),
    (
        "LNX-019",
        dict(
            name="network_config",
            old="iface eth0 inet dhcp",
            new="iface eth0 inet dhcp\n dns-nameservers 8.8.8.8",
        ),
        Result.FAILED,
        "dns-nameservers 8.8.8.8",
    ),
    (
        "LNX-019",
        dict(
            name="network_config",
            old="iface eth0 inet dhcp",
            new="iface eth0 inet dhcp\nauto eth1\niface eth1 inet dhcp",
        ),
        Result.FAILED,
        "interface eth1",
    ),
    (
        "LNX-020",
        dict(
            name="network_config",
            old="iface eth0 inet dhcp",
            new="iface eth0 inet dhcp\niface eth0 inet6 static\n address 2001:db8::5/64",
        ),
        Result.WARNING,
        "inet6 static",
    ),
    (
        "LNX-021",
        dict(
            name="security_updates",
            old="\nrc 0",
            new="\nInst libssl3 [3.0.22-1~deb12u2] (3.0.23-1~deb12u1 Debian-Security:12/stable-security [amd64])\nrc 0",
        ),
        Result.FAILED,
        "libssl3",
    ),
    (
        "LNX-022",
        dict(name="shadow", old="root:!", new="root:$6$HASH"),
        Result.FAILED,
        "root has a usable password",
    ),
    (
        "LNX-022",
        dict(
            name="authorized_keys",
            old="key ssh-ed25519 KEY",
            new="key ssh-ed25519 KEY\nkeysfile root /root/.ssh/authorized_keys\nkey ssh-ed25519 KEY",
        ),
        Result.FAILED,
        "root has /root/.ssh/authorized_keys",
    ),
    (
        "LNX-023",
        dict(
            name="home_files",
            old="\nhomes ",
            new="\n12 1795308178 root /root/.bash_history\nhomes ",
        ),
        Result.FAILED,
        "/root/.bash_history (12 bytes)",
    ),
    (
        "LNX-023",
        dict(
            name="home_files",
            old="\nhomes ",
            new="\n40 1795308178 root /root/.python_history\nhomes ",
        ),
        Result.WARNING,
        ".python_history",
    ),
    (
        "LNX-024",
        dict(
            name="firewall",
            old="## exit iptables-save 0",
            new="*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 9 -j DROP\nCOMMIT\n## exit iptables-save 0",
        ),
        Result.FAILED,
        "--dport 9 -j DROP",
    ),
    (
        "LNX-024",
        dict(name="firewall", old="## iptables /usr/sbin/iptables", new="## iptables "),
        Result.FAILED,
        "install iptables",
    ),
    (
        "LNX-025",
        dict(
            name="waagent_conf",
            old="Provisioning.DeleteRootPassword=y",
            new="Provisioning.DeleteRootPassword=n",
        ),
        Result.WARNING,
        "Provisioning.DeleteRootPassword=y",
    ),
    (
        "LNX-026",
        dict(name="residue", old=f"lease {RECORDED_LEASE_TIME}", new="lease 1700000000"),
        Result.FAILED,
        "predates this boot",
    ),
    (
        "LNX-026",
        dict(name="residue", old="hostname_file localhost.localdomain", new="hostname_file buildvm01"),
        Result.FAILED,
        "build-time hostname",
    ),
    ("LNX-027", dict(name="uname", old="x86_64", new="i686"), Result.FAILED, "64-bit"),
    ("LNX-028", dict(name="glibc", text="glibc 2.12"), Result.WARNING, "GHOST"),
    (
        "LNX-029",
        dict(name="uname", old=RECORDED_KERNEL, new="3.10.0-123.el7.x86_64"),
        Result.WARNING,
        "verify manually",
    ),
    # rules added 2026-11 warn under guide-2016 (checks.rule_added_2026)
    (
        "LNX-030",
        dict(name="sudoers", old="@includedir /etc/sudoers.d", new="Defaults\ttargetpw\n@includedir /etc/sudoers.d"),
        Result.WARNING,
        "LISA verify_default_targetpw fails",
    ),
    (
        "LNX-031",
        dict(name="proc_cmdline", old="rootdelay=300", new="rootdelay=300 reserve=0x1f0,0x8"),
        Result.WARNING,
        "reserve=0x1f0,0x8 in /proc/cmdline",
    ),
    (
        "LNX-032",
        dict(name="udev_net_rules", text="rule 245 /etc/udev/rules.d/70-persistent-net.rules\nlooked\n"),
        Result.WARNING,
        "LISA verify_udev_rules_moved",
    ),
    (
        "LNX-034",
        dict(name="kvp_daemon", old="ENV{SYSTEMD_WANTS}", new="ENV{NOTHING}"),
        Result.WARNING,  # installed, but no unit enabled and no udev rule starts it
        "nothing starts it",
    ),
    (
        "LNX-035",
        dict(name="repositories", old="Suites: bookworm bookworm-updates", new="Suites: bookworm"),
        Result.WARNING,
        "missing: -updates",
    ),
    (
        "LNX-036",
        dict(name="packages", old="libc6\t", new="omi\t1.6.4-0\tinstall ok installed\nlibc6\t"),
        Result.WARNING,
        "Vulnerable OMI version detected",
    ),
]


@pytest.mark.parametrize(
    ("req_id", "edit", "expected", "text"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_broken_requirement_is_caught(req_id, edit, expected, text):
    facts = edited(compliant(), **edit)
    verdict = CHECKS[req_id](facts, GUIDE)
    assert verdict.result is expected, verdict
    assert text in verdict.message, verdict.message
    assert "§" in verdict.message or "tool" in verdict.message or "LISA" in verdict.message


@pytest.mark.parametrize(
    ("req_id", "edit", "expected", "text"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_edit_breaks_only_its_requirement(req_id, edit, expected, text):
    facts = edited(compliant(), **edit)
    others = {other: verdict_or_error(CHECKS[other], facts) for other in CHECKS if other != req_id}
    changed = {k: v.result for k, v in others.items() if not passes_or_not_applicable(k, v)}
    if req_id == "LNX-003" and "agent" == edit["name"]:
        # without the agent, the checks of its interpreter and settings do not apply
        assert set(changed) == {"LNX-004", "LNX-005", "LNX-007", "LNX-008"}
        assert set(changed.values()) == {Result.NOT_APPLICABLE}
    elif edit.get("new") in ALSO_FAILS:
        assert changed == ALSO_FAILS[edit["new"]], changed
    else:
        assert not changed, changed


def verdict_or_error(check, facts):
    """The check's verdict; a FactError as the ERROR verdict the plugin would report."""
    try:
        return check(facts, GUIDE)
    except FactError as exc:
        return Verdict(Result.ERROR, "", "", str(exc))


# edits that break a second requirement by nature: with ifup only NetworkManager's wrapper (no
# ifupdown) and NetworkManager not running, nothing brings eth0 up by DHCP either; a running
# kernel (uname) other than the one the recorded grub.cfg's default entry boots: the drivers
# and initramfs read are not those of the kernel the image boots next (LNX-006 error)
ALSO_FAILS = {
    "resolved ifup /usr/libexec/nm-ifup": {"LNX-018": Result.FAILED},
    "3.10.0-123.el7.x86_64": {"LNX-006": Result.ERROR},
}


def test_agent_checks_are_not_applicable_without_the_agent():
    facts = edited(compliant(), "agent", "unit walinuxagent  inactive\n")
    facts = edited(facts, "waagent_conf", "", rc=ABSENT_RC)
    for req_id in ("LNX-004", "LNX-005", "LNX-007", "LNX-008", "LNX-025"):
        verdict = CHECKS[req_id](facts, GUIDE)
        assert verdict.result is Result.NOT_APPLICABLE, (req_id, verdict)
        assert verdict.message


def test_profiles_differ_where_the_catalogue_says():
    history = edited(
        compliant(),
        "home_files",
        old="\nhomes ",
        new="\n300 1795308178 root /root/.bash_history\nhomes ",
    )
    assert linux.shell_history(history, GUIDE).result is Result.FAILED
    assert linux.shell_history(history, CURRENT).result is Result.FAILED  # LISA: any non-empty file
    old_agent = edited(compliant(), "agent_version", old="WALinuxAgent-2.7.3.0", new="WALinuxAgent-2.2.10")
    assert linux.agent_version(old_agent, GUIDE).result is Result.PASSED
    verdict = linux.agent_version(old_agent, CURRENT)  # auto-update on: warns (LISA)
    assert verdict.result is Result.WARNING and "2.2.53.1" in verdict.message
    no_update = edited(old_agent, "waagent_conf", old="AutoUpdate.Enabled=y", new="AutoUpdate.Enabled=n")
    verdict = linux.agent_version(no_update, CURRENT)
    assert verdict.result is Result.FAILED and "verify_waagent_version" in verdict.message
    no_delay = edited(compliant(), "proc_cmdline", old=" rootdelay=300", new="")
    assert linux.kernel_boot_line(no_delay, GUIDE).result is Result.FAILED
    assert linux.kernel_boot_line(no_delay, CURRENT).result is Result.WARNING
    py27 = edited(compliant(), "agent_python", old="version 3.11.2", new="version 2.7.18")
    assert linux.python_version(py27, GUIDE).result is Result.PASSED
    assert linux.python_version(py27, CURRENT).result is Result.PASSED  # LISA judges the python3 on PATH
    py39 = edited(py27, "agent_python", old="python3 /usr/bin/python3 3.11.2", new="python3 /usr/bin/python3 3.9.2")
    assert linux.python_version(py39, GUIDE).result is Result.PASSED
    assert linux.python_version(py39, CURRENT).result is Result.WARNING


def test_without_sudo_only_privileged_checks_error():
    facts = compliant()
    facts.privileged = False
    facts.sudo_error = "sudo: a password is required"
    errors = set()
    for req_id, check in CHECKS.items():
        try:
            check(facts, GUIDE)
        except FactError as exc:
            assert "sudo failed" in str(exc)
            errors.add(req_id)
    assert {"LNX-013", "LNX-015", "LNX-021", "LNX-022", "LNX-024"} <= errors
    assert {"LNX-001", "LNX-003", "LNX-009", "LNX-016", "LNX-027"}.isdisjoint(errors)


def test_resource_disk_swap_file_by_the_agent_is_allowed():
    facts = edited(
        compliant(),
        "swaps",
        "Filename\tType\tSize\tUsed\tPriority\n/mnt/resource/swapfile                  file\t2097148\t0\t-2\n",
    )
    assert linux.no_swap_partition(facts, GUIDE).result is Result.PASSED
    facts = edited(facts, "swaps", "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 2097148 0 -2\n")
    verdict = linux.no_swap_partition(facts, GUIDE)
    assert verdict.result is Result.FAILED and "/swapfile" in verdict.actual


def test_active_swap_partition_in_fstab_fails():
    facts = edited(
        compliant(),
        "blkid",
        old='TYPE="ext4" PARTUUID="7e57da7a-01"',
        new='TYPE="swap" PARTUUID="7e57da7a-01"',
    )
    facts = (
        edited(facts, "fstab", old="", new="UUID=5a1e0b7e-7e57-4bed-9a5e-0000000000d1 none swap sw 0 0\n")
        if False
        else edited(
            facts,
            "fstab",
            facts.sections["fstab"].text + "\nUUID=5a1e0b7e-7e57-4bed-9a5e-0000000000d1 none swap sw 0 0\n",
        )
    )
    verdict = linux.no_swap_partition(facts, GUIDE)
    assert verdict.result is Result.FAILED and "/dev/vdb1 (in /etc/fstab)" in verdict.actual


def test_lvm_root_warns():
    facts = edited(
        compliant(),
        "sys_block",
        old="part vda1 disk=vda start=2048 size=62912512 holders=",
        new="part vda1 disk=vda start=2048 size=1048576 holders=\npart vda2 disk=vda start=1050624 size=61863936 holders=dm-0,\n"
        "disk dm-0 size=61863936 removable=0 ro=0 dm=testbed-root dmuuid=LVM-abc slaves=vda2,",
    )
    facts = edited(facts, "lsblk", old='MOUNTPOINT="/"', new='MOUNTPOINT="/boot"')
    facts = edited(facts, "mounts", old="/dev/vda1 / ext4", new="/dev/mapper/testbed-root / ext4")
    verdict = linux.no_lvm(facts, GUIDE)
    assert verdict.result is Result.WARNING and "logical volume testbed-root" in verdict.actual
    assert linux.single_root_partition(facts, GUIDE).result is Result.WARNING
    assert linux.os_disk_size(facts, GUIDE).result is Result.PASSED


# -- other distributions' file formats ------------------------------------------------


def with_network(facts: LinuxFacts, distro_release: str, **config_files: str) -> LinuxFacts:
    facts = edited(facts, "os_release", distro_release)
    return edited(facts, "network_config", files(**config_files))


CENTOS7 = 'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
ROCKY9 = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
SLES15 = 'NAME="SLES"\nID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'


def test_centos7_ifcfg_dhcp_and_networkmanager_exception():
    facts = with_network(
        compliant(),
        CENTOS7,
        **{
            "/etc/sysconfig/network-scripts/ifcfg-eth0": 'DEVICE="eth0"\nBOOTPROTO="dhcp"\nONBOOT="yes"\nTYPE="Ethernet"\nUSERCTL="no"\nPEERDNS="yes"\nIPV6INIT="no"\n'
        },
    )
    facts = edited(
        facts,
        "network_services",
        old="command ifup /usr/sbin/ifup",
        new="command ifup /usr/sbin/ifup\nlegacy network-scripts",
    )
    facts = edited(facts, "network_services", old="unit network  inactive", new="unit network enabled active")
    assert linux.dhcp(facts, GUIDE).result is Result.PASSED
    assert linux.ifupdown_control(facts, GUIDE).result is Result.PASSED
    assert linux.no_custom_network(facts, GUIDE).result is Result.PASSED
    verdict = linux.network_manager(facts, GUIDE)
    assert verdict.result is Result.WARNING and "EL7" in verdict.required
    enabled = edited(
        facts,
        "network_services",
        old="unit NetworkManager  inactive",
        new="unit NetworkManager enabled active",
    )
    assert linux.network_manager(enabled, GUIDE).result is Result.PASSED


def test_rhel_static_ifcfg_with_dns_fails():
    facts = with_network(
        compliant(),
        CENTOS7,
        **{
            "/etc/sysconfig/network-scripts/ifcfg-eth0": "DEVICE=eth0\nBOOTPROTO=none\nIPADDR=10.0.2.15\nPREFIX=24\nGATEWAY=10.0.2.2\nDNS1=10.0.2.3\nONBOOT=yes\n",
            "/etc/sysconfig/network-scripts/route-eth0": "10.1.0.0/16 via 10.0.2.2 dev eth0\n",
        },
    )
    assert linux.dhcp(facts, GUIDE).result is Result.FAILED
    verdict = linux.no_custom_network(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "DNS1=10.0.2.3" in verdict.actual and "static route: 10.1.0.0/16" in verdict.actual


def test_rocky9_networkmanager_only_fails_ifupdown():
    facts = with_network(
        compliant(),
        ROCKY9,
        **{"/etc/NetworkManager/NetworkManager.conf": "[main]\nplugins=keyfile\n"},
    )
    facts = edited(facts, "network_services", old="command ifup /usr/sbin/ifup", new="command ifup ")
    verdict = linux.ifupdown_control(facts, GUIDE)
    assert verdict.result is Result.FAILED and "EL8+" in verdict.message


def test_ubuntu_netplan_only_fails_ifupdown_but_dhcp_passes():
    facts = with_network(
        compliant(),
        UBUNTU,
        **{
            "/etc/netplan/50-cloud-init.yaml": "network:\n    version: 2\n    ethernets:\n        eth0:\n            dhcp4: true\n            match:\n                macaddress: 00:0d:3a:00:00:01\n            set-name: eth0\n"
        },
    )
    facts = edited(facts, "network_services", old="command ifup /usr/sbin/ifup", new="command ifup ")
    facts = netplan_running(facts)
    verdict = linux.ifupdown_control(facts, GUIDE)
    assert verdict.result is Result.FAILED and "netplan" in verdict.message
    assert linux.dhcp(facts, GUIDE).result is Result.PASSED


def netplan_running(facts: LinuxFacts) -> LinuxFacts:
    """Ubuntu's stack: netplan installed, systemd-networkd its renderer."""
    facts = edited(facts, "network_services", old="command netplan \n", new="command netplan /usr/sbin/netplan\n")
    return edited(
        facts, "network_services", old="unit systemd-networkd disabled inactive", new="unit systemd-networkd enabled active"
    )


def test_sles_wicked_ifcfg():
    facts = with_network(
        compliant(),
        SLES15,
        **{
            "/etc/sysconfig/network/ifcfg-eth0": "BOOTPROTO='dhcp'\nSTARTMODE='auto'\nDHCLIENT_SET_HOSTNAME='yes'\n"
        },
    )
    facts = edited(facts, "network_services", old="unit wicked  inactive", new="unit wicked enabled active")
    assert linux.ifupdown_control(facts, GUIDE).result is Result.PASSED
    assert linux.dhcp(facts, GUIDE).result is Result.PASSED


def test_dhclient_supersede_dns_fails():
    facts = edited(
        compliant(),
        "network_config",
        old="option rfc3442",
        new="supersede domain-name-servers 1.1.1.1;\noption rfc3442",
    )
    verdict = linux.no_custom_network(facts, GUIDE)
    assert verdict.result is Result.FAILED and "supersede domain-name-servers" in verdict.actual


def test_firewalld_active_and_nftables_rules_fail_but_agent_rules_do_not():
    agent_rule = "*security\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 168.63.129.16/32 -p tcp -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n"
    facts = edited(compliant(), "firewall", old="## exit iptables-save 0", new=agent_rule + "## exit iptables-save 0")
    assert linux.firewall_rules(facts, GUIDE).result is Result.PASSED
    nft = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n"
    facts = edited(compliant(), "firewall", old="## nft\n## exit nft absent", new="## nft\n" + nft + "## exit nft 0")
    verdict = linux.firewall_rules(facts, GUIDE)
    assert verdict.result is Result.FAILED and "policy drop" in verdict.actual
    facts = edited(
        compliant(), "network_services", old="unit firewalld  inactive", new="unit firewalld enabled active"
    )
    assert "firewalld is active" in linux.firewall_rules(facts, GUIDE).actual


def test_rhel_security_updates_from_dnf_updateinfo():
    index = f"index {compliant().now - 3600} /var/cache/dnf/baseos-1/repodata/repomd.xml"
    text = f"manager dnf\n{index}\nRHSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-25.el9_3.x86_64\nRHSA-2024:2000 Moderate/Sec. curl-7.76.1-26.el9_3.2.x86_64\nrc 0\n"
    facts = edited(compliant(), "security_updates", text)
    verdict = linux.security_updates(facts, GUIDE)
    assert verdict.result is Result.FAILED and "openssl-libs" in verdict.actual
    nothing = edited(compliant(), "security_updates", f"manager dnf\n{index}\nrc 0\n")
    assert linux.security_updates(nothing, GUIDE).result is Result.PASSED


def test_empty_apt_index_is_an_error_not_a_pass():
    text = "\n".join(
        line for line in compliant().sections["security_updates"].text.splitlines() if not line.startswith("list")
    )
    facts = edited(compliant(), "security_updates", text)
    with pytest.raises(FactError, match="apt-get update"):
        linux.security_updates(facts, GUIDE)


def test_patched_el7_glibc_is_not_reported_as_ghost():
    facts = edited(compliant(), "glibc", "glibc 2.17")
    facts = edited(facts, "os_release", CENTOS7)
    facts = edited(facts, "packages", "manager rpm\nglibc\t2.17-326.el7_9\tinstalled\n")
    assert linux.ghost_vulnerability(facts, GUIDE).result is Result.PASSED
    facts = edited(facts, "packages", "manager rpm\nglibc\t2.17-55.el7\tinstalled\n")
    assert linux.ghost_vulnerability(facts, GUIDE).result is Result.WARNING


def test_el9_cloud_init_keyfile_by_mac_is_the_dhcp_primary():
    facts = with_network(
        compliant(), ROCKY9, **{"/etc/NetworkManager/NetworkManager.conf": "[main]\nplugins=keyfile\n"}
    )
    keyfile = (
        "[connection]\nid=cloud-init eth0\nuuid=1dd9a779-d327-56e1-8454-c65e2556c12c\ntype=ethernet\n\n"
        "[ethernet]\nmac-address=52:54:00:12:34:56\n\n[ipv4]\nmethod=auto\n"
    )
    facts = edited(
        facts,
        "nm_connections",
        files(**{"/etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection": keyfile}),
    )
    facts = edited(
        facts,
        "network_services",
        old="command ifup /usr/sbin/ifup",
        new="command ifup /usr/sbin/ifup\nresolved ifup /usr/libexec/nm-ifup",
    )
    facts = edited(facts, "network_services", old="unit NetworkManager  inactive", new="unit NetworkManager enabled active")
    verdict = linux.ifupdown_control(facts, GUIDE)
    assert verdict.result is Result.FAILED and "EL8+" in verdict.message
    assert linux.dhcp(facts, GUIDE).result is Result.PASSED
    assert linux.no_custom_network(facts, GUIDE).result is Result.PASSED


def test_ubuntu_azure_hotplug_netplan_is_not_custom_config():
    hotplug = (
        "network:\n    version: 2\n    ethernets:\n        ephemeral:\n            dhcp4: true\n            match:\n"
        "                driver: hv_netvsc\n                name: '!eth0'\n            optional: true\n"
        "        hotplug:\n            dhcp4: true\n            match:\n                driver: hv_netvsc\n"
        "                name: '!eth0'\n            optional: true\n"
    )
    main = "network:\n    ethernets:\n        eth0:\n            dhcp4: true\n            match:\n                macaddress: 00:0d:3a:00:00:01\n            set-name: eth0\n    version: 2\n"
    facts = with_network(
        compliant(),
        UBUNTU,
        **{"/etc/netplan/50-cloud-init.yaml": main, "/etc/netplan/90-hotplug-azure.yaml": hotplug},
    )
    facts = netplan_running(facts)
    assert linux.no_custom_network(facts, GUIDE).result is Result.PASSED
    assert linux.dhcp(facts, GUIDE).result is Result.PASSED


def test_sles_yast_empty_values_are_not_custom_config():
    ifcfg = "BOOTPROTO='dhcp'\nSTARTMODE='auto'\nIPADDR=''\nNETMASK=''\nBROADCAST=''\nETHTOOL_OPTIONS=''\nNAME=''\n"
    facts = with_network(compliant(), SLES15, **{"/etc/sysconfig/network/ifcfg-eth0": ifcfg})
    assert linux.no_custom_network(facts, GUIDE).result is Result.PASSED


def test_debian_cloud_image_runtime_interfaces_count():
    interfaces = "source-directory /run/network/interfaces.d\n"
    generated = "auto eth0\nallow-hotplug eth0\niface eth0 inet dhcp\n"
    facts = with_network(
        compliant(),
        compliant().sections["os_release"].text,
        **{"/etc/network/interfaces": interfaces, "/run/network/interfaces.d/eth0": generated},
    )
    assert linux.dhcp(facts, GUIDE).result is Result.PASSED
    assert linux.ifupdown_control(facts, GUIDE).result is Result.PASSED


def test_cloud_init_root_key_stub_is_not_a_login_but_a_real_root_key_is():
    stub = (
        "keysfile root /root/.ssh/authorized_keys\nkey no-port-forwarding,no-agent-forwarding,no-X11-forwarding,"
        'command="echo \'Please login as the user \\"azureuser\\" rather than the user \\"root\\".\';echo;sleep 10;exit 142" '
        "ssh-ed25519 KEY"
    )
    facts = edited(compliant(), "authorized_keys", compliant().sections["authorized_keys"].text + "\n" + stub)
    assert linux.no_default_accounts(facts, GUIDE).result is Result.PASSED
    real = "keysfile root /root/.ssh/authorized_keys\nkey ssh-ed25519 KEY"
    facts = edited(compliant(), "authorized_keys", compliant().sections["authorized_keys"].text + "\n" + real)
    assert linux.no_default_accounts(facts, GUIDE).result is Result.FAILED


def test_locked_account_with_a_kept_hash_is_locked():
    facts = edited(compliant(), "shadow", old="azureuser:!", new="azureuser:!\nolduser:!HASH\nbuilder:HASH")
    verdict = linux.no_default_accounts(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "builder has a password hash" in verdict.actual and "olduser" not in verdict.actual


def test_unreadable_config_file_is_an_error_not_a_failure():
    facts = edited(
        compliant(),
        "network_config",
        old="### /etc/dhcp/dhclient.conf",
        new="### ! /etc/netplan/50-cloud-init.yaml\n### /etc/dhcp/dhclient.conf",
    )
    with pytest.raises(FactError, match="cannot read /etc/netplan/50-cloud-init.yaml"):
        linux.no_custom_network(facts, GUIDE)


@pytest.mark.parametrize(
    "output",
    [
        "manager dnf\nError: Cache-only enabled but no cache for 'rhui-rhel-9-for-x86_64-baseos-rhui-rpms'\nrc 1\n",
        "manager zypper\nRepository 'SLE-Module-Basesystem15-SP5-Updates' is out-of-date.\nrc 4\n",
    ],
)
def test_unreadable_rpm_index_is_an_error(output):
    with pytest.raises(FactError, match="query of pending updates failed"):
        linux.security_updates(edited(compliant(), "security_updates", output), GUIDE)


def test_centos7_security_updates_cannot_be_decided():
    index = f"index {compliant().now - 3600} /var/cache/yum/x86_64/7/base/repomd.xml"
    facts = edited(edited(compliant(), "os_release", CENTOS7), "security_updates", f"manager yum\n{index}\nrc 0\n")
    with pytest.raises(FactError, match="publish no security errata"):
        linux.security_updates(facts, GUIDE)


def test_default_bls_entry_only_rescue_entry_ignored():
    good = "console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
    facts = edited(compliant(), "os_release", ROCKY9)
    facts = edited(facts, "grub_cfg", "")
    facts = edited(
        facts, "grubenv", files(**{"/boot/grub2/grubenv": "saved_entry=abc-5.14.0-362.el9.x86_64\n"})
    )
    facts = edited(
        facts,
        "bls_entries",
        files(
            **{
                "/boot/loader/entries/abc-5.14.0-362.el9.x86_64.conf": f"title Rocky\nversion 5.14.0-362.el9.x86_64\nlinux /vmlinuz-5.14.0-362.el9.x86_64\noptions root=UUID=1 ro {good}\n",
                "/boot/loader/entries/abc-0-rescue.conf": "title Rocky rescue\nversion 0-rescue\nlinux /vmlinuz-0-rescue-abc\noptions root=UUID=1 ro\n",
            }
        ),
    )
    assert linux.kernel_boot_line(facts, GUIDE).result is Result.PASSED
    facts = edited(facts, "grubenv", files(**{"/boot/grub2/grubenv": "saved_entry=abc-0-rescue\n"}))
    assert linux.kernel_boot_line(facts, GUIDE).result is Result.FAILED


def test_earlyprintk_serial_form_counts():
    line = "console=ttyS0,115200n8 earlyprintk=serial,ttyS0,115200 rootdelay=300"
    facts = edited(compliant(), "proc_cmdline", line)
    facts = edited(
        facts,
        "default_grub",
        old='GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0 rootdelay=300',
        new=f'GRUB_CMDLINE_LINUX="{line}',
    )
    facts = edited(
        facts,
        "grub_cfg",
        facts.sections["grub_cfg"].text.replace("console=ttyS0 earlyprintk=ttyS0 rootdelay=300", line),
    )
    assert linux.kernel_boot_line(facts, GUIDE).result is Result.PASSED


@pytest.mark.parametrize(
    ("build", "expected"),
    [("2.17-317.el7", Result.PASSED), ("2.17-307.el7.1", Result.PASSED), ("2.17-55.el7", Result.WARNING)],
)
def test_ghost_on_el7_builds(build, expected):
    facts = edited(edited(compliant(), "glibc", "glibc 2.17"), "os_release", CENTOS7)
    facts = edited(facts, "packages", f"manager rpm\nglibc\t{build}\tinstalled\n")
    assert linux.ghost_vulnerability(facts, GUIDE).result is expected


def test_ssh_alias_is_not_enabled_but_socket_activation_is():
    facts = edited(
        compliant(),
        "sshd",
        "/usr/sbin/sshd\nunit ssh disabled inactive\nunit sshd alias inactive\nunit ssh.socket  inactive\nunit sshd.socket  inactive\n",
    )
    assert linux.ssh_server(facts, GUIDE).result is Result.WARNING
    facts = edited(facts, "sshd", old="unit ssh.socket  inactive", new="unit ssh.socket enabled active")
    assert linux.ssh_server(facts, GUIDE).result is Result.PASSED


VARIANTS = __import__("json").loads((Path(__file__).parent / "testbed" / "variants.json").read_text())
RECORDED_VARIANTS = sorted(
    p.stem.removeprefix("debian12-")
    for p in RECORDED.glob("debian12-*.json")
    if p.stem != "debian12-compliant"
)


@pytest.mark.parametrize("variant", RECORDED_VARIANTS)
def test_recorded_variant_is_caught_by_exactly_its_requirements(variant):
    """Facts recorded from each booted violating variant (tests/testbed), judged offline."""
    spec = VARIANTS[variant]
    facts = LinuxFacts.load(RECORDED / f"debian12-{variant}.json")
    breaks = {r for r in spec["breaks"] if r.startswith("LNX-")}
    also = {r for r in spec["also_affects"] if r.startswith("LNX-")}
    for req_id, check in CHECKS.items():
        verdict = check(facts, GUIDE)
        result = verdict.result
        if req_id in breaks:
            assert result in (Result.FAILED, Result.WARNING), (req_id, result)
        elif req_id in also:
            assert result in (Result.NOT_APPLICABLE, Result.WARNING, Result.FAILED), (req_id, result)
        elif req_id == "LNX-002" and not spec["data_disks"]:
            assert result is Result.NOT_APPLICABLE
        else:
            assert passes_or_not_applicable(req_id, verdict), (req_id, result)


def test_every_violating_variant_was_recorded():
    assert set(RECORDED_VARIANTS) == set(VARIANTS) - {"compliant"}


# LNX-006 judges the kernel and initramfs a VM made from the image boots: a kernel installed
# but not booted into (apt upgrade, then capture without a reboot) is not what was read.
NEW_KERNEL = "6.1.0-99-amd64"


def test_lnx006_a_default_entry_booting_another_kernel_is_an_error_not_a_pass():
    grub = compliant().sections["grub_cfg"].text
    assert RECORDED_KERNEL in grub
    facts = edited(compliant(), "grub_cfg", old=f"vmlinuz-{RECORDED_KERNEL}", new=f"vmlinuz-{NEW_KERNEL}")
    with pytest.raises(FactError, match=f"boots kernel {NEW_KERNEL}, not the running {RECORDED_KERNEL}"):
        linux.hyperv_drivers(facts, GUIDE)


def test_lnx006_a_signed_efi_kernel_of_the_running_release_is_the_same_kernel():
    facts = edited(
        compliant(), "grub_cfg", old=f"vmlinuz-{RECORDED_KERNEL}", new=f"vmlinuz-{RECORDED_KERNEL}.efi.signed"
    )
    assert linux.hyperv_drivers(facts, GUIDE).result is Result.PASSED


def test_lnx006_a_default_entry_loading_another_initramfs_is_an_error_not_a_pass():
    facts = edited(
        compliant(), "grub_cfg", old=f"initrd.img-{RECORDED_KERNEL}", new=f"initrd.img-{RECORDED_KERNEL}.custom"
    )
    with pytest.raises(FactError, match=r"loads .*initrd.img-.*\.custom, not /boot/initrd.img-"):
        linux.hyperv_drivers(facts, GUIDE)


def test_lnx006_an_undecidable_default_entry_is_an_error_not_a_pass():
    """What the next boot starts cannot be told: the running kernel is not evidence of it (review-r3 #5)."""
    facts = edited(compliant(), "grub_cfg", old='set default="0"', new="probe --set default -u (hd0)")
    with pytest.raises(FactError, match="default entry in /boot/grub/grub.cfg cannot be told"):
        linux.hyperv_drivers(facts, GUIDE)
    facts = edited(compliant(), "grub_cfg", "", rc=2)
    with pytest.raises(FactError, match="configuration could not be read"):
        linux.hyperv_drivers(facts, GUIDE)


def test_lnx006_a_default_entry_without_initrd_fails_when_storvsc_is_a_module():
    """grub-mkconfig leaves the initrd line out when no initramfs existed (review-r3 #1)."""
    grub = compliant().sections["grub_cfg"].text
    facts = edited(compliant(), "grub_cfg", grub.replace(f"\tinitrd\t/boot/initrd.img-{RECORDED_KERNEL}\n", ""))
    verdict = linux.hyperv_drivers(facts, GUIDE)
    assert verdict.result is Result.FAILED and "loads no initramfs" in verdict.message


@pytest.mark.parametrize("name", ["vmlinuz", "vmlinux-{new}", "Image-{new}", "kernel-{new}"])
def test_lnx006_kernel_names_are_read_or_an_error(name):
    """(review-r3 #4) a kernel file named otherwise than NAME-RELEASE shows no release: an error."""
    new = name.format(new=NEW_KERNEL)
    facts = edited(compliant(), "grub_cfg", old=f"vmlinuz-{RECORDED_KERNEL}", new=new)
    with pytest.raises(FactError, match="does not show its kernel release|boots kernel 6.1.0-99"):
        linux.hyperv_drivers(facts, GUIDE)


@pytest.mark.parametrize(
    ("initrds", "passes"),
    [
        ([f"/boot/initrd.img-{RECORDED_KERNEL}"], True),
        ([f"/initrd.img-{RECORDED_KERNEL}"], True),  # a separate /boot: the same file
        ([f"(hd0,msdos1)/boot/initrd.img-{RECORDED_KERNEL}"], True),
        (["/boot/intel-ucode.img", f"/boot/initrd.img-{RECORDED_KERNEL}"], True),  # microcode first
        ([f"/boot/initrd.img-{RECORDED_KERNEL}", "/boot/override.img"], False),  # a later one replaces members
        ([f"/other/initrd.img-{RECORDED_KERNEL}"], False),
    ],
)
def test_lnx006_the_initramfs_read_must_be_the_last_the_entry_loads(initrds, passes):
    grub = compliant().sections["grub_cfg"].text
    line = f"\tinitrd\t/boot/initrd.img-{RECORDED_KERNEL}\n"
    facts = edited(compliant(), "grub_cfg", grub.replace(line, f"\tinitrd\t{' '.join(initrds)}\n"))
    if passes:
        assert linux.hyperv_drivers(facts, GUIDE).result is Result.PASSED
    else:
        with pytest.raises(FactError, match="the initramfs read"):
            linux.hyperv_drivers(facts, GUIDE)
