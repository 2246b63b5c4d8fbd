"""End to end: the Linux suite against the real Debian test VM.

The compliant image must pass every LNX requirement; each violating variant
must be caught by exactly the requirements it breaks (variants.json), with
nothing else changing outcome. Outcomes are read from the JUnit properties of a
real ``pytest suites/linux`` run over SSH. The compliant run also proves the
suite is read-only: a manifest of /etc, /home, /root and /var/lib is the same
before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_vmimage.docs import declared_requirements
from pytest_vmimage.facts.linux import LinuxFacts

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.testbed

# Paths the OS itself rewrites while the VM idles (not by the suite): dhclient
# renews its lease, systemd keeps timer stamps and the random seed.
VOLATILE = ("/var/lib/dhcp/", "/var/lib/systemd/", "/var/lib/private/", "/var/lib/logrotate/")
MANIFEST = (
    "sudo -n find /etc /home /root /var/lib -xdev -printf '%p %y %s %T@ %m %U %G\\n' 2>/dev/null | sort"
)


def lnx_severity() -> dict[str, str]:
    return {d.id: d.severity for d, _ in declared_requirements() if d.id.startswith("LNX-")}


# Requirements that do not apply to the Debian test VM, and a word the reason must name.
NOT_APPLICABLE_ON_TESTBED = {
    "LNX-016": "not RHEL/CentOS 6",  # current judges NetworkManager only on the EL6 family
    "LNX-033": "neither SUSE nor Azure Linux",  # the DHCP hostname rule is SUSE's / Azure Linux's
    "LNX-041": "cloud-init is not installed",  # the image provisions with the agent only
    "LNX-042": "no resource disk",  # QEMU attaches no Azure temporary disk
    "LNX-043": "isolated",  # restrict=on: declared by ISOLATED_CONFIG
}
# The test VMs run with QEMU's restrict=on: no network but the SSH forward (LNX-043).
ISOLATED_CONFIG = "[image]\nnetwork_isolated = true\n"
# Rules added 2026-11: under guide-2016 a broken one warns (checks.rule_added_2026).
RULES_2026 = {f"LNX-{n:03d}" for n in range(30, 44)}


def expected_result(rid: str, severity: dict[str, str], profile: str) -> str:
    """What a broken requirement gives: a warning for warn-severity rules and, under
    guide-2016, for the rules added 2026-11 and for LNX-016 (declared "fail" because the
    current profile fails NetworkManager on EL6; the guide only says "il est préférable");
    else a failure."""
    warns = severity[rid] == "warn" or (profile == "guide-2016" and (rid in RULES_2026 or rid == "LNX-016"))
    return "warning" if warns else "failed"


def not_applicable_ok(rid: str, props: dict) -> bool:
    word = NOT_APPLICABLE_ON_TESTBED.get(rid)
    return bool(word) and props["result"] == "not_applicable" and word.lower() in props["message"].lower()


def run_suite(vm, workdir: Path, label: str, *extra: str) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    workdir.mkdir(parents=True, exist_ok=True)
    junit = workdir / "TEST-vmimage.xml"
    config = workdir / "testbed.toml"
    config.write_text(ISOLATED_CONFIG)
    cmd = [
        sys.executable, "-m", "pytest", str(REPO / "suites" / "linux"),
        "--vm-host", f"{label}={vm.url}", "--vm-ssh-key", str(vm.key_path),
        "--vm-known-hosts", str(vm.known_hosts),  # the keys the VM printed on its serial port
        f"--junitxml={junit}", f"--html={workdir / 'report.html'}", "--self-contained-html",
        f"--vm-report={workdir / 'certification.json'}", f"--vm-facts-dir={workdir / 'facts'}",
        "--vm-config", str(config),
        "-p", "no:cacheprovider", "-v", *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=workdir)
    record = os.environ.get("VMIMAGE_RECORD_FACTS")  # refresh tests/recorded/linux from real VMs
    if record and (workdir / "facts" / f"{label}.linux.json").exists():
        shutil.copy(workdir / "facts" / f"{label}.linux.json", Path(record) / f"debian12-{label}.json")
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        results[props["requirement"]] = props
    return proc, results


def test_compliant_image_passes_everything_and_is_left_unchanged(testbed_vm, tmp_path):
    vm = testbed_vm("compliant")
    before = vm.ssh(MANIFEST, timeout=300).stdout
    proc, results = run_suite(vm, tmp_path, "compliant")
    after = vm.ssh(MANIFEST, timeout=300).stdout
    assert set(results) == set(lnx_severity()), proc.stdout[-3000:]
    failing = {
        rid: (p["result"], p["message"])
        for rid, p in results.items()
        if p["result"] != "passed" and not not_applicable_ok(rid, p)
    }
    assert not failing, proc.stdout[-3000:]
    assert proc.returncode == 0
    assert all(p["host"] == "compliant" for p in results.values())
    assert "remote commands run per target: compliant: 1" in proc.stdout
    cert = json.loads((tmp_path / "certification.json").read_text())
    assert cert["TestResult"] == "Passed" and len(cert["Tests"]) == len(lnx_severity())

    # every section of the real VM was read: status, time and byte count recorded, none unreadable
    facts = LinuxFacts.load(tmp_path / "facts" / "compliant.linux.json")
    unreadable = {name: section.unreadable(name) for name, section in facts.sections.items() if section.unreadable(name)}
    assert not unreadable, unreadable
    assert all(s.seconds is not None and s.deadline and s.size is not None for s in facts.sections.values())
    slow = {name: (s.seconds, s.deadline) for name, s in facts.sections.items() if s.seconds > 0.8 * s.deadline}
    assert not slow, f"sections near their deadline (raise it in SECTION_TIMEOUTS): {slow}"

    def stable(text: str) -> set[str]:
        return {line for line in text.splitlines() if not line.startswith(VOLATILE)}

    changed = stable(before) ^ stable(after)
    assert before.count("\n") > 1000, "the manifest looks empty"
    assert not changed, sorted(changed)[:20]


VIOLATING = ["no-console", "no-rootdelay", "misc-config", "static-net-swap", "nm-noagent", "lvm-root", "lisa-rules"]
# lisa-rules breaks rules added 2026-11: judged under today's profile, where they fail
# (guide-2016 turns them into warnings: tests/test_checks_linux_system_recorded.py)
PROFILE_OF = {"lisa-rules": "current"}


@pytest.mark.parametrize("variant", VIOLATING)
def test_variant_is_caught_by_exactly_its_requirements(testbed_vm, testbed_variants, tmp_path, variant):
    spec = testbed_variants[variant]
    vm = testbed_vm(variant)
    profile = PROFILE_OF.get(variant, "guide-2016")
    proc, results = run_suite(vm, tmp_path, variant, "--vm-profile", profile)
    severity = lnx_severity()
    assert set(results) == set(severity), proc.stdout[-3000:]
    breaks = {r for r in spec["breaks"] if r.startswith("LNX-")}
    also = {r for r in spec["also_affects"] if r.startswith("LNX-")}
    expected = {rid: expected_result(rid, severity, profile) for rid in breaks}
    for rid, props in sorted(results.items()):
        if rid in breaks:
            assert props["result"] == expected[rid], (rid, props["result"], props["message"])
            assert props["message"] and props["actual"] and props["required"], (rid, props)
        elif rid in also:
            assert props["result"] in ("not_applicable", "warning", "failed"), (rid, props)
        elif rid == "LNX-002" and not spec["data_disks"]:
            assert props["result"] == "not_applicable", (rid, props)  # this variant has no data disk
        elif not not_applicable_ok(rid, props):
            assert props["result"] == "passed", (rid, props["result"], props["message"])
    assert proc.returncode == (1 if "failed" in expected.values() else 0), proc.stdout[-2000:]
