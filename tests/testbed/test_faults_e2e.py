"""Faults on the real test VM: what a publisher's unlucky run meets, end to end.

One extra VM ("compliant#faults", snapshot=on: every change below vanishes with it)
is broken on purpose, then killed; the other target of the kill test is the session's
compliant VM (shared with test_suite_e2e, only read). The faults:

* root logs in and no sudo exists: root is privileged, no spurious errors;
* sudo wants a password: without it the root-only facts are errors naming the cause and
  the others arrive; with it (environment, ``sudo -S`` on stdin) everything is read and
  the password is in no command line, log, report or output;
* ``openssl`` hangs (a wrapper bind-mounted over it): that section alone hits its own
  deadline, the rest is judged; ``/etc/fstab`` holds 12 MiB: that section is cut at 10 MiB;
* QEMU is killed during the collection: every check of that target is an ERROR naming
  the lost connection, the other target passes, the reports are written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_vmimage.connect.ssh import connect_linux
from pytest_vmimage.facts.linux import SECTIONS, gather
from pytest_vmimage.targets import parse_target
from pytest_vmimage.verdict import FactError

pytestmark = pytest.mark.testbed

REPO = Path(__file__).resolve().parents[2]
SCRATCH = "compliant#faults"
CANARY = "Sudo-Canary-7d1e"
# the hung openssl: says so on the serial port (the host reads that file at once), then sleeps
HANG_STARTED = "vmimage-fault-hang-started"
HANG_WRAPPER = f"#!/bin/sh\\necho {HANG_STARTED} > /dev/ttyS0 2>/dev/null\\nexec sleep 31337\\n"
# a few real sections: two that need root, three that do not
SUBSET = {
    name: SECTIONS[name] for name in ("os_release", "proc_cmdline", "grub_cfg", "sshd_effective", "mounts")
}
ROOT_ONLY = ("grub_cfg", "sshd_effective")


@pytest.fixture(scope="module")
def scratch(testbed_vm):
    vm = testbed_vm(SCRATCH)
    yield vm
    testbed_vm.stop(SCRATCH)


def connect(vm, user: str = "azureuser"):
    target = parse_target(f"t=ssh://{user}@127.0.0.1:{vm.port}")
    return connect_linux(target, str(vm.key_path), None, None, known_hosts=str(vm.known_hosts))


class Recording:
    """A connection that remembers every command line it sent."""

    def __init__(self, connection):
        self.connection = connection
        self.lines: list[str] = []

    @property
    def commands_run(self) -> int:
        return self.connection.commands_run

    def run(self, command, timeout=300.0, stdin=None):
        self.lines.append(command)
        return self.connection.run(command, timeout=timeout, stdin=stdin)


def test_root_login_needs_no_sudo(scratch):
    # root may log in with the testbed key (PermitRootLogin prohibit-password is Debian's default);
    # the key goes again afterwards (LNX-022 would rightly fail the later suite run on it)
    scratch.ssh(
        "sudo -n install -d -m 700 /root/.ssh && "
        "sudo -n install -m 600 /home/azureuser/.ssh/authorized_keys /root/.ssh/authorized_keys"
    )
    root = connect(scratch, "root")
    try:
        root.run("mount --bind /bin/false /usr/bin/sudo")  # no usable sudo at all
        facts = gather(root, admin_user="root", sections=SUBSET)
        assert facts.privileged and facts.sudo_error == ""
        for name in SUBSET:
            facts.section(name)  # every section readable, none an error
        assert "PermitRootLogin".lower() in facts.section("sshd_effective").lower()
    finally:
        root.run("umount /usr/bin/sudo; rm -f /root/.ssh/authorized_keys")
        root.close()


def test_sudo_that_wants_a_password(scratch):
    subprocess.run(
        scratch.ssh_command("sudo -n chpasswd"),
        input=f"azureuser:{CANARY}\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    scratch.ssh("echo 'azureuser ALL=(ALL) ALL' | sudo -n tee /etc/sudoers.d/waagent >/dev/null")
    assert scratch.ssh("sudo -n true", check=False).returncode != 0  # sudo asks now
    connection = Recording(connect(scratch))
    try:
        hint = "put the sudo password in the environment variable VMIMAGE_SUDO_PASSWORD"
        without = gather(connection, "azureuser", sections=SUBSET, sudo_password_hint=hint)
        assert not without.privileged
        for name in ROOT_ONLY:
            with pytest.raises(FactError, match="password is required.*VMIMAGE_SUDO_PASSWORD"):
                without.section(name)
        assert without.section("os_release") and without.section("proc_cmdline")

        wrong = gather(connection, "azureuser", sections=SUBSET, sudo_password="not-" + CANARY)
        assert not wrong.privileged and "incorrect password" in wrong.sudo_error
        assert CANARY not in wrong.sudo_error

        right = gather(connection, "azureuser", sections=SUBSET, sudo_password=CANARY)
        assert right.privileged
        assert "clientaliveinterval 180" in right.section("sshd_effective").lower()
    finally:
        connection.connection.close()
    assert not any(CANARY in line for line in connection.lines), "the password went on a command line"
    logs = subprocess.run(
        scratch.ssh_command("sudo -S -p '' journalctl -q --no-pager"),
        input=CANARY + "\n",
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert logs.returncode == 0 and "COMMAND=" in logs.stdout
    assert CANARY not in logs.stdout


# how many LNX requirements suites/linux declares (43 since the rules added 2026-11)
LNX_REQUIREMENTS = len(
    {
        m
        for f in (REPO / "suites" / "linux").glob("test_*.py")
        for m in re.findall(r'"(LNX-\d{3})"', f.read_text())
    }
)


def run_suite(workdir: Path, hosts: list[str], known_hosts: list[Path], key: Path, **popen):
    """suites/linux through the plugin, in a subprocess; returns Popen (text, output captured)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "vm-config.toml"
    config.write_text("[image]\nnetwork_isolated = true\n")  # the test VMs run with restrict=on (LNX-043)
    merged = workdir / "known_hosts"
    merged.write_text("".join(Path(k).read_text() for k in known_hosts))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(REPO / "suites" / "linux"),
        "-p",
        "no:cacheprovider",
        "-v",
        "--vm-ssh-key",
        str(key),
        "--vm-known-hosts",
        str(merged),
        f"--junitxml={workdir / 'TEST-vmimage.xml'}",
        f"--vm-report={workdir / 'certification.json'}",
        "--vm-config",
        str(config),
    ]
    for host in hosts:
        cmd += ["--vm-host", host]
    return subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def junit_results(workdir: Path) -> dict[tuple[str, str], dict]:
    results = {}
    for case in ET.parse(workdir / "TEST-vmimage.xml").getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        results[(props["host"], props["requirement"])] = props
    return results


def test_hung_section_big_section_and_sudo_password_through_the_plugin(scratch, tmp_path):
    """sudo asks for a password (previous test) and gets it from the environment; openssl
    hangs; /etc/fstab is 12 MiB. Only the checks reading those two sections error."""
    scratch.ssh(
        f"printf '{HANG_WRAPPER}' > /tmp/hang && chmod 755 /tmp/hang && "
        "head -c 12582912 /dev/zero | tr '\\0' '#' > /tmp/bigfstab && "
        f"echo {CANARY} | sudo -S -p '' sh -c 'mount --bind /tmp/hang /usr/bin/openssl && "
        "mount --bind /tmp/bigfstab /etc/fstab'"
    )
    env = dict(os.environ, VMIMAGE_SUDO_PASSWORD=CANARY)
    started = time.monotonic()
    proc = run_suite(tmp_path, [f"faulty={scratch.url}"], [scratch.known_hosts], scratch.key_path, env=env)
    out, _ = proc.communicate(timeout=900)
    elapsed = time.monotonic() - started
    results = junit_results(tmp_path)
    assert results[("faulty", "LNX-009")]["result"] == "error", out[-3000:]
    assert "timed out after" in results[("faulty", "LNX-009")]["message"]
    errors = {rid: p["message"] for (_, rid), p in results.items() if p["result"] in ("error", "failed")}
    cut = [rid for rid, message in errors.items() if "cut at 10 MiB" in message]
    assert cut, errors
    assert set(errors) == {"LNX-009", *cut}, errors  # nothing else broke: sudo worked, the rest judged
    assert sum(p["result"] == "passed" for p in results.values()) >= 20
    assert elapsed < 500, f"one hung command must not eat the whole deadline ({elapsed:.0f} s)"
    for text in (
        out,
        (tmp_path / "TEST-vmimage.xml").read_text(),
        (tmp_path / "certification.json").read_text(),
    ):
        assert CANARY not in text
    print(f"faulty target: {elapsed:.0f} s for the suite with one hung and one 12 MiB section")


def test_qemu_killed_during_the_collection(scratch, testbed_vm, tmp_path):
    """The openssl wrapper (previous test) hangs: QEMU is killed while it runs."""
    other = testbed_vm("compliant")
    env = dict(os.environ, VMIMAGE_SUDO_PASSWORD=CANARY)
    proc = run_suite(
        tmp_path,
        [f"lost={scratch.url}", f"other={other.url}"],
        [scratch.known_hosts, other.known_hosts],
        scratch.key_path,
        env=env,
    )
    killed_at = None
    seen = scratch.serial_log.read_bytes().count(HANG_STARTED.encode())  # the previous test's
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            if scratch.serial_log.read_bytes().count(HANG_STARTED.encode()) > seen:
                scratch.process.kill()  # QEMU dies with the collection in flight
                scratch.process.wait(30)
                killed_at = time.monotonic()
                break
            time.sleep(0.2)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert killed_at is not None, "the collection never reached the hung section"
    results = junit_results(tmp_path)
    lost = {rid: p for (host, rid), p in results.items() if host == "lost"}
    kept = {rid: p for (host, rid), p in results.items() if host == "other"}
    assert len(lost) == LNX_REQUIREMENTS and len(kept) == LNX_REQUIREMENTS, out[-3000:]
    for rid, props in lost.items():
        assert props["result"] == "error", (rid, props)
        assert "connection was lost" in props["message"], (rid, props["message"])
    assert {p["result"] for p in kept.values()} <= {"passed", "not_applicable"}, out[-3000:]
    report = json.loads((tmp_path / "certification.json").read_text())
    assert {h["Label"] for h in report["Hosts"]} == {"lost", "other"}
    assert out.count("collecting facts failed") >= 1
