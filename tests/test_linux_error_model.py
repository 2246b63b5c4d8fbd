"""Issue 8, live Linux side: the error model of the collection script and the checks that
used to pass on facts they could not see. Each test is named after the bullet it covers
and failed before its fix.

Script-level tests run the real section snippets with ``sh`` on this machine, with fake
commands first on PATH (the snippets only read)."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux
from pytest_vmimage.facts import linux as facts_linux
from pytest_vmimage.facts.linux import SECTIONS, LinuxFacts, Section, collection_script, parse_collection
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result

RECORDED = Path(__file__).parent / "recorded" / "linux"
GUIDE = load_profile("guide-2016")


def compliant() -> LinuxFacts:
    return LinuxFacts.load(RECORDED / "debian12-compliant.json")


def with_section(facts: LinuxFacts, name: str, text: str, rc: int = 0, **extra) -> LinuxFacts:
    facts = copy.deepcopy(facts)
    facts.sections[name] = Section(rc, text, **extra)
    return facts


def result_of(check, facts: LinuxFacts) -> tuple[Result, str]:
    """A check's result as the plugin reports it: a FactError is an error."""
    try:
        verdict = check(facts, GUIDE)
    except FactError as exc:
        return Result.ERROR, str(exc)
    return verdict.result, verdict.message


def fake_bin(tmp_path: Path, **scripts: str) -> str:
    """A PATH with fake commands (sh scripts) before the real ones."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = directory / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return f"{directory}:/usr/sbin:/usr/bin:/sbin:/bin"


def run_sections(sections: dict, path: str, timeouts=None, cap=None, lanes=None) -> dict[str, Section]:
    """Run a collection script with ``path`` instead of the script's own PATH."""
    extra = {"timeouts": timeouts} if timeouts else {}
    extra.update({"cap": cap} if cap else {})
    extra.update({"lanes": lanes} if lanes is not None else {})
    script = collection_script(sections, "t0k3n", **extra)
    script = script.replace(
        "export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"export LC_ALL=C PATH={path}"
    )
    out = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": path}
    )
    return parse_collection(out.stdout, "t0k3n", **({"cap": cap} if cap else {}))


APT_SECTION = {"security_updates": SECTIONS["security_updates"]}
needs_apt = pytest.mark.skipif(
    not Path("/var/lib/apt/lists").is_dir(), reason="needs a Debian-family machine"
)


# -- 1. the error model ---------------------------------------------------------------


def test_no_section_ends_in_true():
    """'20 of 41 sections end in ; true' -> zero: a section's status must be able to say it failed."""
    offenders = [
        name
        for name, (_, snippet) in SECTIONS.items()
        if snippet.rstrip().endswith("true") or "; true;" in snippet
    ]
    assert offenders == []


def test_every_section_records_status_and_time(tmp_path):
    out = run_sections({"ok": (False, "echo hi"), "bad": (False, "echo partial; exit 3")}, fake_bin(tmp_path))
    assert out["ok"].rc == 0 and out["ok"].text == "hi"
    assert out["bad"].rc == 3 and out["bad"].text == "partial"
    assert out["ok"].seconds is not None and out["ok"].seconds >= 0
    assert out["ok"].deadline == facts_linux.DEFAULT_SECTION_TIMEOUT


def test_timed_out_section_is_unreadable(tmp_path):
    out = run_sections({"slow": (False, "echo partial; sleep 20")}, fake_bin(tmp_path), timeouts={"slow": 1})
    assert out["slow"].problem == "timed out after 1 s"
    facts = LinuxFacts(sections=out)
    assert facts.fact("slow").unreadable.endswith("timed out after 1 s")
    with pytest.raises(FactError, match="timed out after 1 s"):
        facts.raw("slow")
    with pytest.raises(FactError, match="timed out"):
        facts.section("slow")


def test_cut_section_is_unreadable(tmp_path):
    out = run_sections(
        {"big": (False, "i=0; while [ $i -lt 300 ]; do echo 0123456789; i=$((i+1)); done")},
        fake_bin(tmp_path),
        cap=1000,
    )
    assert out["big"].problem.startswith("output cut at")
    with pytest.raises(FactError, match="output cut"):
        LinuxFacts(sections=out).files("big")


def test_fact_is_value_absent_or_unreadable():
    facts = LinuxFacts(
        sections={
            "waagent_conf": Section(0, "A=b"),
            "fstab": Section(facts_linux.ABSENT_RC, ""),
            "openssl": Section(2, "boom"),
        },
        privileged=False,
        sudo_error="sudo: a password is required",
    )
    assert facts.fact("waagent_conf").get() == "A=b"
    assert facts.fact("fstab").absent and facts.fact("fstab").get() is None
    assert "exit 2" in facts.fact("openssl").unreadable
    assert "not collected" in facts.fact("swaps").unreadable
    facts.sections["shadow"] = Section(0, "root:!")
    assert "needs root" in facts.fact("shadow").unreadable


def test_old_recordings_without_times_still_load():
    data = json.loads((RECORDED / "debian12-compliant.json").read_text())
    for section in data["sections"].values():
        section.pop("seconds", None), section.pop("deadline", None), section.pop("problem", None)
    facts = LinuxFacts.from_json(data)
    assert facts.section("uname").startswith("x86_64")
    assert facts.sections["uname"].seconds is None


def test_section_timeouts_from_vm_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[section_timeouts]\nsecurity_updates = 300\nsys_block = 2.5\n")
    profile = load_profile("guide-2016", config)
    assert profile.section_timeouts == {"security_updates": 300, "sys_block": 2.5}
    script = collection_script(SECTIONS, "n", profile.section_timeouts)
    assert "run security_updates 300 " in script and "run sys_block 2.5 " in script
    for bad, message in (
        ("nosuch = 3", "not a section"),
        ("sys_block = 0", "positive"),
        ('sys_block = "3"', "number"),
    ):
        config.write_text(f"[section_timeouts]\n{bad}\n")
        with pytest.raises(ValueError, match=message):
            load_profile("guide-2016", config)


# -- 3. LNX-021 ------------------------------------------------------------------------


@needs_apt
def test_lnx021_apt_failure_keeps_its_exit_status(tmp_path):
    """apt-get -s failing (unmet dependencies, a corrupt list) must not read as 'none pending'."""
    path = fake_bin(
        tmp_path, **{"apt-get": 'echo "E: Unmet dependencies. Try apt --fix-broken install"; exit 100'}
    )
    section = run_sections(APT_SECTION, path)["security_updates"]
    assert section.rc == 100
    facts = with_section(compliant(), "security_updates", section.text, section.rc)
    result, message = result_of(linux.security_updates, facts)
    assert result is Result.ERROR and "Unmet dependencies" in message


@needs_apt
def test_lnx021_apt_timeout_is_an_error(tmp_path):
    path = fake_bin(tmp_path, **{"apt-get": "sleep 30"})
    section = run_sections(APT_SECTION, path, timeouts={"security_updates": 1})["security_updates"]
    facts = with_section(
        compliant(),
        "security_updates",
        section.text,
        section.rc,
        problem=section.problem,
        deadline=section.deadline,
    )
    result, message = result_of(linux.security_updates, facts)
    assert result is Result.ERROR and "timed out after 1 s" in message


def apt_text(index_age_days: float, pending: str = "", rc: int = 0, lists: bool = True) -> tuple[str, int]:
    now = int(compliant().section("times").split()[0])
    index = int(now - index_age_days * 86400)
    lines = ["manager apt"]
    if lists:
        lines += [
            "list /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
            "list /var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
            "lists 2",
            f"index {index} /var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease",
        ]
    else:
        lines += ["lists 0"]
    lines += [
        "source URIs: http://deb.debian.org/debian",
        "source Suites: bookworm bookworm-updates",
        "source URIs: http://deb.debian.org/debian-security",
        "source Suites: bookworm-security",
    ]
    lines += [pending] if pending else []
    lines += [f"rc {rc}"]
    return "\n".join(lines), rc


def test_lnx021_fresh_index_and_nothing_pending_passes():
    facts = with_section(compliant(), "security_updates", *apt_text(1))
    assert result_of(linux.security_updates, facts)[0] is Result.PASSED


def test_lnx021_stale_index_is_an_error():
    facts = with_section(compliant(), "security_updates", *apt_text(30))
    result, message = result_of(linux.security_updates, facts)
    assert result is Result.ERROR and "30 days old" in message and "apt-get update" in message


def test_lnx021_missing_security_list_is_an_error():
    text, rc = apt_text(1)
    text = "\n".join(line for line in text.splitlines() if "security_main_binary" not in line)
    result, message = result_of(
        linux.security_updates, with_section(compliant(), "security_updates", text, rc)
    )
    assert result is Result.ERROR and "security" in message


def test_lnx021_missing_lists_is_an_error():
    result, _ = result_of(
        linux.security_updates, with_section(compliant(), "security_updates", *apt_text(1, lists=False))
    )
    assert result is Result.ERROR


def test_lnx021_output_without_status_is_an_error():
    text, _ = apt_text(1)
    text = text.replace("\nrc 0", "")
    result, _ = result_of(linux.security_updates, with_section(compliant(), "security_updates", text, 0))
    assert result is Result.ERROR


@pytest.mark.parametrize("manager", ["dnf", "yum", "zypper"])
def test_lnx021_rpm_manager_failure_is_an_error(manager):
    now = int(compliant().section("times").split()[0])
    text = f"manager {manager}\nindex {now - 3600} /var/cache/x/repomd.xml\nError: cache is corrupt\nrc 1"
    result, _ = result_of(linux.security_updates, with_section(compliant(), "security_updates", text, 1))
    assert result is Result.ERROR


def test_lnx021_pending_security_update_fails():
    pending = "Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])"
    facts = with_section(compliant(), "security_updates", *apt_text(1, pending))
    result, message = result_of(linux.security_updates, facts)
    assert result is Result.FAILED and "libssl3" in message


# -- 3. LNX-012, LNX-016, LNX-004 ------------------------------------------------------


def test_lnx012_active_swap_on_an_unresolved_disk_still_counts():
    facts = compliant()
    swaps = facts.sections["swaps"].text.splitlines()[0] + "\n/dev/sdz9  partition\t2097148\t0\t-2\n"
    result, message = result_of(linux.no_swap_partition, with_section(facts, "swaps", swaps))
    assert result in (Result.FAILED, Result.ERROR) and "/dev/sdz9" in message


def test_lnx012_swaps_without_header_is_an_error():
    result, _ = result_of(linux.no_swap_partition, with_section(compliant(), "swaps", ""))
    assert result is Result.ERROR


def test_lnx016_no_systemctl_is_an_error():
    text = "no systemctl\ncommand ifup /usr/sbin/ifup\nresolved ifup /usr/sbin/ifup"
    result, message = result_of(
        linux.network_manager, with_section(compliant(), "network_services", text, 127)
    )
    assert result is Result.ERROR and "systemctl" in message


def test_lnx016_empty_unit_states_are_an_error():
    """Recorded before the status line existed: is-active printed nothing -> no systemctl."""
    text = "unit NetworkManager  \nunit networking  \ncommand ifup /usr/sbin/ifup"
    result, _ = result_of(linux.network_manager, with_section(compliant(), "network_services", text))
    assert result is Result.ERROR


@pytest.mark.parametrize(("text", "rc"), [("", 0), ("E: cache broken", 100)])
def test_lnx004_could_not_compare_is_an_error(text, rc):
    result, message = result_of(linux.agent_version, with_section(compliant(), "agent_candidate", text, rc))
    assert result is Result.ERROR, message


def test_lnx004_newer_candidate_for_a_hand_installed_agent_warns():
    policy = "waagent:\n  Installed: (none)\n  Candidate: 2.9.1.1-1\n  Version table:\n"
    facts = with_section(compliant(), "agent_candidate", policy)
    result, message = result_of(linux.agent_version, facts)
    assert result is Result.WARNING and "2.9.1.1" in message


# -- 3. LNX-023 agrees with VHD-009 --------------------------------------------------------


def history_facts(*lines: str) -> LinuxFacts:
    keys = "\n".join(
        line for line in compliant().sections["home_files"].text.splitlines() if not line.startswith("homes ")
    )
    return with_section(compliant(), "home_files", "\n".join(lines) + "\n" + keys + "\nhomes 3")


def test_lnx023_history_symlink_to_dev_null_passes_like_vhd009():
    facts = history_facts("9 1700000000 root /root/.bash_history", "link\t0\t/root/.bash_history\t/dev/null")
    assert result_of(linux.shell_history, facts)[0] is Result.PASSED


def test_lnx023_history_symlink_to_a_file_with_content_fails():
    facts = history_facts(
        "20 1700000000 root /root/.bash_history", "link\t512\t/root/.bash_history\t/root/old_history"
    )
    result, message = result_of(linux.shell_history, facts)
    assert result is Result.FAILED and "512 bytes" in message


def test_lnx023_unresolved_history_symlink_is_an_error():
    facts = history_facts(
        "11 1700000000 root /root/.bash_history", "link\t-\t/root/.bash_history\t/mnt/gone/h"
    )
    assert result_of(linux.shell_history, facts)[0] is Result.ERROR


def test_lnx023_live_and_vhd_share_one_rule():
    from pytest_vmimage.facts.image_files import HistoryEntry, history_stored_bytes
    from pytest_vmimage.facts.linux_parsers import parse_home_files

    found = parse_home_files(
        "9 1700000000 root /root/.bash_history\nlink\t0\t/root/.bash_history\t/dev/null\nhomes 1"
    )
    assert found[0].entry == HistoryEntry("/root/.bash_history", 0, "symlink", "/dev/null")
    assert history_stored_bytes(found[0].entry) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="reads every home directory like the VM's root")
def test_lnx023_live_section_reports_symlink_target_and_size():
    """The real home_files snippet on this machine: lines are the shapes the parser reads."""
    out = run_sections({"home_files": SECTIONS["home_files"]}, "/usr/sbin:/usr/bin:/sbin:/bin")
    section = out["home_files"]
    assert section.rc == 0, section
    from pytest_vmimage.facts.linux_parsers import parse_home_files

    parse_home_files(section.text)  # raises on a line it does not understand


# -- 4. secrets never reach --vm-facts-dir ---------------------------------------------------


SECRETS = {
    "nm_connections": "### /etc/NetworkManager/system-connections/wifi.nmconnection\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=hunter2-wifi\n[802-1x]\npassword=hunter2-eap\nprivate-key-password=hunter2-pk\n",
    "grub_cfg": '### /boot/grub/grub.cfg\nset superusers="admin"\npassword_pbkdf2 admin grub.pbkdf2.sha512.10000.ABCDEF0123\nlinux /vmlinuz root=/dev/sda1 console=ttyS0\n',
    "network_config": "### /etc/sysconfig/network/ifcfg-wlan0\nWIRELESS_WPA_PSK='hunter2-suse'\nBOOTPROTO=dhcp\n### /etc/default/app\nDB_PASSWORD=hunter2-db\nexport ADMIN_PASSWORD=\"hunter2-admin\"\nAPI_TOKEN=hunter2-token\n",
    "security_updates": "manager apt\nsource deb https://user:hunter2-apt@repo.example.com/debian bookworm main\nrc 0",
    "waagent_conf": "-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2-key\n-----END OPENSSH PRIVATE KEY-----\nProvisioning.Enabled=n\n",
}


def test_facts_dir_masks_secrets_in_collected_files():
    facts = compliant()
    for name, text in SECRETS.items():
        facts = with_section(facts, name, text)
    dumped = json.dumps(facts.to_json())
    assert "hunter2" not in dumped
    assert "psk=REDACTED" in dumped and "password_pbkdf2 admin REDACTED" in dumped
    assert "DB_PASSWORD=REDACTED" in dumped and "WIRELESS_WPA_PSK=REDACTED" in dumped
    # what the checks read is kept
    assert "BOOTPROTO=dhcp" in dumped and "console=ttyS0" in dumped and "Provisioning.Enabled=n" in dumped
    assert "hunter2" not in json.dumps(facts.redacted().to_json(redact=False))


def test_facts_dir_file_has_no_secret():
    """The plugin writes LinuxFacts.to_json(): redacted by default."""
    import inspect

    from pytest_vmimage import plugin

    assert "cached.to_json()" in inspect.getsource(plugin)
    assert inspect.signature(LinuxFacts.to_json).parameters["redact"].default is True


# -- review F4: what apt-get -s does not print as "Inst" -----------------------------------


def test_lnx021_kept_back_packages_are_not_a_pass():
    """apt-mark hold / pins: dist-upgrade keeps them back, no Inst line: cannot say 'none pending'."""
    kept = "The following packages have been kept back:\n  libssl3 openssl"
    result, message = result_of(
        linux.security_updates, with_section(compliant(), "security_updates", *apt_text(1, kept))
    )
    assert result in (Result.ERROR, Result.FAILED) and "libssl3" in message


def test_lnx021_stale_security_index_beside_a_fresh_main_index_is_an_error():
    text, rc = apt_text(200)
    now = int(compliant().section("times").split()[0])
    text = text.replace(
        "lists 2\n",
        f"lists 2\nindex {now - 3600} /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease\n",
    )
    result, message = result_of(
        linux.security_updates, with_section(compliant(), "security_updates", text, rc)
    )
    assert result is Result.ERROR and "200 days old" in message


def test_lnx021_disabled_security_stanza_is_no_security_repository():
    """The apt sources are read by LNX-035's parser (the repositories section): a deb822
    stanza with Enabled: no (or apt's other false words) is no security repository."""
    facts = with_section(compliant(), "security_updates", *apt_text(1))
    repos = facts.sections["repositories"].text
    for word in ("no", "off", "False", "0"):
        off = repos.replace("Suites: bookworm-security\n", f"Suites: bookworm-security\nEnabled: {word}\n")
        assert off != repos
        result, message = result_of(linux.security_updates, with_section(facts, "repositories", off))
        assert result is Result.FAILED and "add this release's security repository" in message, word
        assert "bookworm-security (disabled)" in message


def test_lnx023_zhistory_and_mksh_history_are_shell_histories():
    """Review F9(c): prezto/zim's ~/.zhistory and mksh's ~/.mksh_history hold shell commands too."""
    for name in (".zhistory", ".mksh_history"):
        facts = history_facts(f"40 1700000000 root /root/{name}")
        result, message = result_of(linux.shell_history, facts)
        assert result is Result.FAILED and name in message
        assert name in SECTIONS["home_files"][1]


def test_lnx026_el6_sysconfig_hostname_is_judged():
    """Review F9(a/b): without /etc/hostname the section reads /etc/HOSTNAME or EL6's HOSTNAME=."""
    assert "/etc/sysconfig/network" in SECTIONS["residue"][1] and "/etc/HOSTNAME" in SECTIONS["residue"][1]
    text = (
        compliant()
        .sections["residue"]
        .text.replace("hostname_file localhost.localdomain", 'hostname_file "build-host-17"')
    )
    result, message = result_of(linux.generalized, with_section(compliant(), "residue", text))
    assert result is Result.FAILED and "'build-host-17'" in message


def test_lnx015_client_alive_interval_inside_a_match_block_is_not_a_pass():
    """Review F3: sshd -T without -C ignores Match blocks; a Match setting ClientAliveInterval
    changes what some logins get, so 180 from sshd -T is not the whole answer."""
    base = compliant().sections["sshd_effective"].text.split("\n## match")[0]
    match = "## match\n/etc/ssh/sshd_config: Match User deploy\n/etc/ssh/sshd_config:   ClientAliveInterval 0"
    result, message = result_of(
        linux.client_alive_interval, with_section(compliant(), "sshd_effective", base + "\n" + match)
    )
    assert result is Result.ERROR and "Match" in message
    plain = "## match\n/etc/ssh/sshd_config: ClientAliveInterval 180"
    result, _ = result_of(
        linux.client_alive_interval, with_section(compliant(), "sshd_effective", base + "\n" + plain)
    )
    assert result is Result.PASSED
    assert "## match" in SECTIONS["sshd_effective"][1]


def test_section_timeouts_reach_the_one_remote_command():
    """--vm-config [section_timeouts] -> gather() -> the script the VM runs (still one command)."""
    from types import SimpleNamespace

    from pytest_vmimage.facts.linux import gather

    class Recorder:
        commands_run = 0

        def __init__(self):
            self.commands = []

        def run(self, command, timeout=None, stdin=None):
            self.commands.append(command)
            self.commands_run += 1
            nonce = command.split("@@", 1)[1].split(" ", 1)[0]
            body = f"x86_64\n6.1.0\nvm\n\n@@{nonce} rc 0"  # what the wrapper prints, and its byte count
            text = f"@@{nonce} begin uname\n{body}\n@@{nonce} end uname 1.0 1.5 3 {len(body)}\n"
            return SimpleNamespace(text=text, stderr=b"", rc=0)

    connection = Recorder()
    facts = gather(connection, admin_user="azureuser", section_timeouts={"uname": 3})
    assert len(connection.commands) == 1
    assert "run uname 3 " in connection.commands[0] and "run security_updates 360 " in connection.commands[0]
    assert facts.machine == "x86_64" and facts.sections["uname"].deadline == 3


# -- issue 10 item 5: the slow sections run concurrently, each still under its own deadline ----


def test_concurrent_lanes_name_real_sections_and_keep_one_command():
    laned = [name for lane in facts_linux.CONCURRENT_LANES for name in lane]
    assert len(laned) == len(set(laned)) and set(laned) <= set(SECTIONS)
    script = collection_script(SECTIONS, "n0nce")
    for name in SECTIONS:  # every section exactly once, with its deadline
        assert script.count(f"run {name} ") == 1
    assert "mktemp" not in script and ">/tmp" not in script  # lanes are pipeline stages: no file on the VM


def test_lanes_run_concurrently_and_every_section_arrives(tmp_path):
    sections = {name: (False, f"sleep 1.5; echo {name}") for name in ("a", "b", "c", "d")}
    sections["quick"] = (False, "echo quick")
    started = time.monotonic()
    out = run_sections(sections, fake_bin(tmp_path, getconf="echo 2"), lanes=(("a",), ("b",), ("c",)))
    took = time.monotonic() - started
    assert {name: s.text for name, s in out.items()} == {n: n for n in sections}
    assert all(s.rc == 0 and not s.unreadable(n) for n, s in out.items())
    assert took < 4.5, f"4 sleeping sections, 3 in lanes, took {took:.1f} s (in turn: 6 s)"


def test_a_hung_background_section_alone_times_out_and_leaves_no_process(tmp_path):
    tag = f"{os.getpid()}.{time.monotonic_ns() % 1000}"  # a sleep only this test starts
    sections = {
        "hangs": (False, f"echo partial; sleep 3{tag}"),
        "slow": (False, "sleep 1; echo slow"),
        "quick": (False, "echo quick"),
    }
    out = run_sections(sections, fake_bin(tmp_path), timeouts={"hangs": 1}, lanes=(("hangs",), ("slow",)))
    assert out["hangs"].problem == "timed out after 1 s" and out["hangs"].rc in (124, 137)
    assert out["slow"].text == "slow" and out["quick"].text == "quick"
    facts = LinuxFacts(sections=out)
    with pytest.raises(FactError, match="timed out after 1 s"):
        facts.section("hangs")
    assert facts.section("slow") == "slow"
    left = subprocess.run(["pgrep", "-f", f"sleep 3{tag}"], capture_output=True, text=True)
    assert left.stdout == "", "the timed-out section left its process running"


def test_a_cut_or_failed_background_section_alone_is_unreadable(tmp_path):
    big = "i=0; while [ $i -lt 300 ]; do echo 0123456789; i=$((i+1)); done"
    sections = {
        "big": (False, big),
        "fails": (False, "echo half; exit 3"),
        "fine": (False, "echo fine"),
        "quick": (False, "echo quick"),
    }
    out = run_sections(sections, fake_bin(tmp_path), cap=1000, lanes=(("big",), ("fails", "fine")))
    facts = LinuxFacts(sections=out)
    assert out["big"].problem.startswith("output cut at")
    with pytest.raises(FactError, match="output cut"):
        facts.section("big")
    assert out["fails"].rc == 3 and "exit 3" in facts.fact("fails").unreadable
    assert facts.section("fine") == "fine" and facts.section("quick") == "quick"


def test_a_lane_that_dies_loses_its_sections_as_not_collected(tmp_path):
    """The lane's own process killed (as the OOM killer would): its sections, and the lanes
    before it whose output it was passing on, are 'not collected' errors, never empty facts;
    the later lanes and the foreground sections arrive."""
    # from the snippet's sh up: timeout, the { } of run's pipeline, run's $( ), the lane's $( ), the lane
    kill_lane = "p=$PPID; for i in 1 2 3 4; do p=$(cut -d' ' -f4 /proc/$p/stat); done; kill -KILL $p"
    sections = {
        "first": (False, "echo first"),
        "dies": (False, kill_lane),
        "later": (False, "echo later"),
        "quick": (False, "echo quick"),
    }
    out = run_sections(sections, fake_bin(tmp_path), lanes=(("first",), ("dies",), ("later",)))
    assert set(out) == {"later", "quick"}
    facts = LinuxFacts(sections=out)
    for lost in ("first", "dies"):
        assert "not collected" in facts.fact(lost).unreadable
        with pytest.raises(FactError):
            facts.section(lost)
    assert facts.section("later") == "later" and facts.section("quick") == "quick"


def test_sudo_password_on_stdin_is_never_read_by_a_lane(tmp_path):
    """sudo -S leaves the rest of stdin to the script: no lane may read it (the first stage
    has no upstream; every section runs with </dev/null)."""
    sections = {"reads": (False, "cat"), "quick": (False, "cat")}
    script = collection_script(sections, "t0k3n", lanes=(("reads",),))
    out = subprocess.run(
        ["sh", "-c", script], input="secret-on-stdin\n", capture_output=True, text=True, timeout=30
    )
    assert "secret-on-stdin" not in out.stdout
    parsed = parse_collection(out.stdout, "t0k3n")
    assert parsed["reads"].text == "" and parsed["quick"].text == ""


def test_one_cpu_runs_the_lanes_in_turn(tmp_path):
    """On a 1-CPU VM lanes gain nothing for CPU-bound work and stretch each other past their
    deadlines (README "Speed"): each stage waits for the one before it; all sections arrive."""
    sections = {name: (False, f"sleep 0.6; echo {name}") for name in ("a", "b", "c")}
    started = time.monotonic()
    out = run_sections(sections, fake_bin(tmp_path, getconf="echo 1"), lanes=(("a",), ("b",)))
    took = time.monotonic() - started
    assert {n: s.text for n, s in out.items()} == {"a": "a", "b": "b", "c": "c"}
    assert took >= 1.8, f"in turn: 3 x 0.6 s, took {took:.1f} s"
    starts = sorted(out, key=lambda n: out[n].seconds)  # each ran alone
    assert all(out[n].seconds < 1.5 for n in starts)


def test_a_file_line_posing_as_a_header_cannot_hide_the_rest_of_the_file(tmp_path):
    """Review F0: a line of /etc/sudoers (or a modprobe.d file) reading ``### /other`` used to
    start a made-up file, so the lines after it (``Defaults targetpw``) were never judged.
    The live snippet (run here by sh) and the offline reader escape such lines; split_files
    restores them, so every line stays in the file it came from."""
    evil = tmp_path / "sudoers"
    text = (
        "Defaults env_reset\n### /usr/share/doc/sudo/examples/sudoers\nDefaults targetpw\n"
        "\\### already escaped once\n### ! /etc/shadow\nlast line"
    )
    evil.write_text(text)
    out = subprocess.run(
        ["sh", "-c", facts_linux._cat(str(evil))], capture_output=True, text=True, check=True
    ).stdout
    files = facts_linux.split_files(out)
    assert list(files) == [str(evil)]
    assert files[str(evil)].rstrip("\n") == text
    assert facts_linux.split_files(f"### {evil}\n{facts_linux.escape_file_text(text)}\n") == files
