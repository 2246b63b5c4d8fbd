"""How gather() gets root: root needs no sudo; ``sudo -n`` when it works; ``sudo -S`` with the
password on stdin when sudo asks for one; otherwise the script runs unprivileged and the
root-only sections are errors naming why. Run here with shims for ``id`` and ``sudo``; a few
real sections of this machine stand in for the VM's (tests/testbed/test_faults_e2e.py does
the same on the real VM)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_vmimage.connect.ssh import CommandOutput
from pytest_vmimage.facts.linux import SECTIONS, gather
from pytest_vmimage.verdict import FactError

PASSWORD = "Gather-Canary-42"
SUBSET = {name: SECTIONS[name] for name in ("os_release", "proc_cmdline", "grub_cfg")}

FAKE_SUDO = """#!/bin/sh
# sudo that wants a password: -n refuses, -S reads one line from stdin
echo "$*" >> "$SUDO_LOG"
case "$1" in
  -n) echo "sudo: a password is required" >&2; exit 1 ;;
  -S) IFS= read -r pw || pw=
      [ "$pw" = "$FAKE_SUDO_PASSWORD" ] || { echo "sudo: 1 incorrect password attempt" >&2; exit 1; }
      shift 4; exec "$@" ;;
esac
exit 1
"""


class LocalConnection:
    """Runs commands here, as an SSH connection would on the VM; records each command line."""

    def __init__(self, shims: Path, uid: int):
        self.env = dict(os.environ, PATH=f"{shims}:{os.environ['PATH']}", FAKE_SUDO_PASSWORD=PASSWORD)
        self.env["SUDO_LOG"] = str(shims / "sudo.log")
        (shims / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (shims / "id").chmod(0o755)
        self.lines: list[str] = []
        self.stdins: list[bytes | None] = []
        self.commands_run = 0

    def run(self, command: str, timeout: float = 300.0, stdin: bytes | None = None) -> CommandOutput:
        self.commands_run += 1
        self.lines.append(command)
        self.stdins.append(stdin)
        proc = subprocess.run(
            ["sh", "-c", command], input=stdin or b"", capture_output=True, env=self.env, timeout=60
        )
        return CommandOutput(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def shims(tmp_path):
    folder = tmp_path / "shims"
    folder.mkdir()
    (folder / "sudo").write_text(FAKE_SUDO)
    (folder / "sudo").chmod(0o755)
    return folder


def test_root_needs_no_sudo(shims):
    (shims / "sudo").write_text("#!/bin/sh\necho sudo must not run >&2\nexit 1\n")
    connection = LocalConnection(shims, uid=0)
    facts = gather(connection, "root", sections=SUBSET)
    assert facts.privileged and facts.sudo_error == ""
    assert connection.commands_run == 1
    facts.section("grub_cfg")  # root-only section: no error


def test_without_a_password_the_root_sections_error_and_the_rest_arrive(shims):
    connection = LocalConnection(shims, uid=1000)
    facts = gather(connection, "azureuser", sections=SUBSET, sudo_password_hint="set VMIMAGE_SUDO_PASSWORD")
    assert not facts.privileged
    assert facts.sudo_error == "sudo: a password is required (set VMIMAGE_SUDO_PASSWORD)"
    with pytest.raises(FactError, match="a password is required.*VMIMAGE_SUDO_PASSWORD"):
        facts.section("grub_cfg")
    assert facts.section("os_release")
    assert connection.stdins == [None, None]


def test_the_password_goes_to_sudo_s_on_stdin_only(shims):
    connection = LocalConnection(shims, uid=1000)
    facts = gather(connection, "azureuser", sections=SUBSET, sudo_password=PASSWORD)
    assert facts.privileged, facts.sudo_error
    facts.section("grub_cfg")
    assert connection.stdins == [f"{PASSWORD}\n".encode()]
    assert not any(PASSWORD in line for line in connection.lines)
    calls = (shims / "sudo.log").read_text()
    assert "-n true" in calls and "-S -p  -- sh -c" in calls and PASSWORD not in calls


def test_a_wrong_password_is_an_error_without_the_password(shims):
    connection = LocalConnection(shims, uid=1000)
    facts = gather(connection, "azureuser", sections=SUBSET, sudo_password="wrong-" + PASSWORD)
    assert not facts.privileged
    assert facts.sudo_error == "sudo: 1 incorrect password attempt"
    with pytest.raises(FactError, match="incorrect password"):
        facts.section("grub_cfg")


def test_passwordless_sudo_never_gets_the_password(shims):
    (shims / "sudo").write_text(
        '#!/bin/sh\necho "$*" >> "$SUDO_LOG"\n[ "$1" = -n ] || exit 1\nshift\n'
        '[ "$1" = -- ] && shift\nexec "$@"\n'
    )
    connection = LocalConnection(shims, uid=1000)
    facts = gather(connection, "azureuser", sections=SUBSET, sudo_password=PASSWORD)
    assert facts.privileged
    assert "-S" not in (shims / "sudo.log").read_text()  # the password stayed unread on stdin
