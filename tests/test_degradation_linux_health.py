"""Degradation harness for LNX-037...043 (the mutations of tests/test_degradation_linux.py):
every passing, failing and warning fact set of tests/test_checks_linux_health.py, and every
recording of the test VMs that carries these sections, has each section it reads blanked,
cut, failed, timed out, capped, removed, marked absent and garbled.

Two rules: no result moves TO passed from failed, warning or error; and a set that passed
does not still pass once one of the new sections was destroyed (the evidence is gone, so
the check must say so), except where the VM itself could say "nothing there".
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import pytest

from pytest_vmimage.checks import linux_health as health
from pytest_vmimage.facts.linux import LinuxFacts, Section
from pytest_vmimage.verdict import Result
from tests import test_checks_linux_health as cases
from tests.test_degradation_linux import (
    NOT_PASSED,
    PROFILES,
    RECORDED,
    ReadLog,
    judge,
    mutations,
    with_mutation,
    with_sizes,
)

CHECKS: dict[str, Callable] = health.CHECKS
NEW_SECTIONS = (
    "mdatp",
    "kernel_config",
    "modprobe_config",
    "fs_modules",
    "boot_log",
    "cloud_init",
    "resource_disk",
    "dns_lookup",
)
# Mutations that destroy a section's evidence (a passing check must stop passing on them)
DESTROYING = (
    "blanked",
    "cut mid-way",
    "failed (exit 1)",
    "failed, partial output (exit 2)",
    "timed out",
    "cut at the cap",
    "removed",
    "garbled bytes",
)
# What the VM may truthfully say: "no modprobe.d file at all" (an empty listing)
TRUTHFUL = {("modprobe_config", "printed nothing (exit 0)")}


def _sets() -> Iterator[tuple[str, LinuxFacts]]:
    for distro in cases.DISTROS:
        yield f"{distro}-compliant", cases.facts_for(distro)
    mdatp = "found /etc/opt/microsoft/mdatp\nfound /etc/opt/microsoft/mdatp/mdatp_onboard.json\nlooked\n"
    yield "mdatp-onboarded", cases.facts_for("debian12", mdatp=mdatp)
    installed = "found /opt/microsoft/mdatp\ncommand /usr/bin/mdatp\nlooked\n"  # what the rpm leaves on disk
    rpm = "manager rpm\nmdatp\t101.1-1\tinstalled\n"
    yield "mdatp-rpm", cases.facts_for("rocky9", packages=rpm, mdatp=installed)
    release = cases.KERNEL["rocky9"]
    no_cifs = cases.kernel_config(release, cifs="# CONFIG_CIFS is not set")
    yield "no-cifs", cases.facts_for("rocky9", kernel_config=no_cifs)
    proc_only = (
        f"release {release}\n### /proc/config.gz\nCONFIG_WATCHDOG=y\nCONFIG_CIFS=y\nconfig_lines 6900\n"
    )
    yield "config-gz-only", cases.facts_for("rocky9", kernel_config=proc_only)
    cis = cases.files(
        **{"/etc/modprobe.d/CIS.conf": "install cramfs /bin/false\ninstall udf /bin/true\nblacklist udf\n"}
    )
    yield "cis-udf", cases.facts_for("ubuntu2204", modprobe_config=cis)
    yield (
        "no-udf",
        cases.facts_for("sles15", fs_modules="udf builtin=0 module=0\nvfat builtin=0 module=1\nlooked\n"),
    )
    yield (
        "blacklist-cmdline",
        cases.facts_for("fedora40", proc_cmdline=cases.CMDLINE + " module_blacklist=udf"),
    )
    failed_unit = "[   12.1] rocky systemd[1]: Failed to start myapp.service - My App."
    yield "boot-error", cases.facts_for("rocky9", boot_log=cases.with_lines(failed_unit))
    yield "boot-cut", cases.facts_for("debian12", boot_log=cases.with_lines(matched=500))
    yield "cloud-init-ok", cases.with_agent("ubuntu2204", cloud_init=cases.cloud_init_section())
    yield (
        "cloud-init-two-agents",
        cases.with_agent("ubuntu2204", "Provisioning.Agent=waagent\n", cloud_init=cases.cloud_init_section()),
    )
    yield "cloud-init-error", cases.with_agent("rocky9", cloud_init=cases.cloud_init_section("error", 1))
    warn_log = "## log\nwarning 2024 handlers.py[WARNING]: x\n## log_counts 0 1\n"
    yield (
        "cloud-init-warnings",
        cases.with_agent("azurelinux3", cloud_init=cases.cloud_init_section(log=warn_log)),
    )
    yield "resource-disk-ok", cases.with_agent("rocky9", "ResourceDisk.Format=y\n", **cases.AZURE_DISKS)
    ntfs = dict(cases.AZURE_DISKS)
    ntfs["blkid"] = '/dev/sda1: UUID="0a1b" TYPE="ext4"\n/dev/sdb1: UUID="1234" TYPE="ntfs"\n'
    ntfs["lsblk"] = 'NAME="sda1" KNAME="sda1" TYPE="part" FSTYPE="ext4" MOUNTPOINT="/"\n'
    ntfs["mounts"] = "/dev/sda1 / ext4 rw 0 0\n"
    yield "resource-disk-ntfs", cases.with_agent("sles15", "ResourceDisk.Format=n\n", **ntfs)
    yield "dns-not-found", cases.facts_for("rocky9", dns_lookup="## rc 2\n")
    yield "dns-timeout", cases.facts_for("debian12", dns_lookup="## rc 124\n")
    for path in sorted(RECORDED.glob("*.json")):  # real VMs, once re-recorded with these sections
        facts = LinuxFacts.load(path)
        if all(name in facts.sections for name in NEW_SECTIONS):
            yield path.stem, facts


def fact_sets() -> list[tuple[str, LinuxFacts]]:
    return [(name, with_sizes(facts)) for name, facts in _sets()]


def run_harness() -> tuple[int, list[str], list[str]]:
    tried, flips, stale = 0, [], []
    for set_name, facts in fact_sets():
        for profile_name, profile in PROFILES.items():
            baseline, reads = {}, {}
            for req_id, check in CHECKS.items():
                log = ReadLog(facts.sections)
                probe = LinuxFacts(sections=log, privileged=facts.privileged, sudo_error=facts.sudo_error)
                baseline[req_id] = judge(check, probe, profile)
                reads[req_id] = log.read
            for section_name in sorted(facts.sections):
                readers = [r for r in CHECKS if section_name in reads[r]]
                if not readers:
                    continue
                seed = zlib.crc32(f"health/{set_name}/{section_name}".encode())
                for label, mutated in mutations(section_name, facts.sections[section_name], seed):
                    tried += 1
                    changed = with_mutation(facts, section_name, mutated)
                    for req_id in readers:
                        result = judge(CHECKS[req_id], changed, profile)
                        if result is not Result.PASSED:
                            continue
                        where = f"{set_name} [{profile_name}] section {section_name} {label}"
                        if baseline[req_id] in NOT_PASSED:
                            flips.append(f"{req_id} {baseline[req_id].value} -> passed: {where}")
                        elif (
                            section_name in NEW_SECTIONS
                            and label in DESTROYING
                            and (section_name, label) not in TRUTHFUL
                            and not _harmless(section_name, facts.sections[section_name], mutated)
                        ):
                            stale.append(f"{req_id} still passed: {where}")
    return tried, flips, stale


def _harmless(name: str, section: Section, mutated: Section | None) -> bool:
    """A mutation that leaves the same evidence (an empty section blanked is still empty)."""
    return (
        mutated is not None
        and mutated.text == section.text
        and mutated.rc == section.rc
        and not mutated.problem
    )


@pytest.fixture(scope="module")
def harness() -> tuple[int, list[str], list[str]]:
    return run_harness()


def test_health_degradation_tries_thousands_of_mutations(harness, capsys):
    tried, flips, stale = harness
    with capsys.disabled():
        print(f"\nlinux health degradation: {tried} mutations, {len(flips)} flips, {len(stale)} stale passes")
    assert tried >= 3000


def test_no_mutation_turns_a_health_finding_into_a_pass(harness):
    _, flips, _ = harness
    assert not flips, "\n".join(flips[:40])


def test_destroyed_evidence_never_still_passes(harness):
    _, _, stale = harness
    assert not stale, "\n".join(stale[:40])
