"""The Linux facts read offline from a disk image (facts/linux_image.py), on small ext4
images made here with ``mkfs.ext4 -d`` (no root, no mount, no loop device)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux as checks
from pytest_vmimage.facts import linux as live
from pytest_vmimage.facts import linux_image
from pytest_vmimage.facts.disk import Budget
from pytest_vmimage.facts.linux_image import NotAvailableOffline, read_linux_image
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result, Verdict

pytestmark = pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="mkfs.ext4 (e2fsprogs) missing")
GUIDE = load_profile("guide-2016")

GRUB_CFG = """menuentry 'Debian' {
\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300
}
"""
STATUS = """Package: waagent
Status: install ok installed
Version: 2.7.3.0-4.1

Package: ifupdown
Status: deinstall ok config-files
Version: 0.8.41

Package: linux-image-6.1.0-9-amd64
Status: install ok installed
Version: 6.1.27-1
"""
UNIT = "[Unit]\nDescription=agent\n[Service]\nExecStart=/usr/sbin/waagent\n[Install]\nWantedBy=multi-user.target\n"


def _tree(root: Path, files: dict[str, str], links: dict[str, str] = {}) -> None:  # noqa: B006
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for path, dest in links.items():
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest, link)


def _image(tmp_path: Path, files: dict[str, str], links: dict[str, str] = {}) -> Path:  # noqa: B006
    root = tmp_path / "root"
    _tree(root, files, links)
    for binary in [*(root / "usr/sbin").glob("*"), *(root / "usr/bin").glob("*")]:
        binary.chmod(0o755)
    image = tmp_path / "disk.raw"
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "rootfs", "-d", str(root), "-E", "root_owner=0:0", str(image), "16M"],
        check=True,
        capture_output=True,
    )
    return image


BASE = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
    "/etc/fstab": "UUID=x / ext4 defaults 0 1\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nold:$6$salt$hash:1001:1001::/home/old:/bin/sh\n",
    "/etc/shadow": "root:!$6$abc$def:19000::::::\nold:$6$salt$secret:19000::::::\nsvc:*:1::::::\n",
    "/etc/default/grub": 'GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0 rootdelay=300"\n',
    "/boot/grub/grub.cfg": GRUB_CFG,
    "/etc/waagent.conf": "Provisioning.DeleteRootPassword=y\nProvisioning.RegenerateSshHostKeyPair=y\n",
    "/var/lib/dpkg/status": STATUS,
    "/usr/sbin/waagent": "#!/usr/bin/python3\nprint('agent')\n",
    "/lib/systemd/system/walinuxagent.service": UNIT,
    "/root/.bash_history": "ls\n",
    "/usr/sbin/sshd": "ELF",
    "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nClientAliveInterval 180\nMatch User x\n  ClientAliveInterval 5\n",
    "/etc/ssh/sshd_config.d/50-keepalive.conf": "clientaliveinterval=600\nListenAddress 10.0.0.4\n",
    "/home/old/.ssh/authorized_keys": '# comment\nssh-ed25519 AAAA old\ncommand="echo" ssh-ed25519 AAAA x\n',
}
LINKS = {
    "/etc/systemd/system/multi-user.target.wants/walinuxagent.service": "/lib/systemd/system/walinuxagent.service"
}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return _image(tmp_path_factory.mktemp("img"), BASE, LINKS)


@pytest.fixture(scope="module")
def facts(image):
    return read_linux_image(image)


def test_hashes_never_leave_the_image(facts):
    assert facts.section("shadow") == "root:!$6$HASH\nold:$6$HASH\nsvc:*"
    passwd = facts.section("passwd")
    assert "old:HASH:1001" in passwd and "$6$" not in passwd


def test_files_read_as_the_live_script_prints_them(facts):
    assert facts.files("default_grub") == {"/etc/default/grub": BASE["/etc/default/grub"]}
    assert facts.boot_loader_lines()["/boot/grub/grub.cfg (entry 'Debian')"][-3:] == [
        "console=ttyS0",
        "earlyprintk=ttyS0",
        "rootdelay=300",
    ]
    assert facts.waagent_conf()["Provisioning.DeleteRootPassword"] == "y"
    assert facts.fact("bls_entries").get() == ""  # looked: no entries
    assert facts.os_release["ID"] == "debian"


def test_packages_and_units_from_the_databases(facts):
    assert facts.packages() == {"waagent": "2.7.3.0-4.1", "linux-image-6.1.0-9-amd64": "6.1.27-1"}
    assert facts.agent_binary() == "/usr/sbin/waagent"
    assert facts.unit_states("agent")["walinuxagent"][0] == "enabled"
    assert facts.unit_states("agent")["waagent"][0] == ""
    assert checks.agent_installed(facts, GUIDE).result is Result.PASSED


def test_running_line_is_the_default_boot_entry(facts):
    assert facts.section("proc_cmdline") == (
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
    )
    assert facts.kernel_cmdline[1] == "root=LABEL=rootfs"
    verdict = linux_image.offline_verdict(checks.kernel_boot_line(facts, GUIDE))
    assert verdict.result is Result.PASSED
    worded = linux_image.offline_wording(
        "console=ttyS0 missing in running kernel (/proc/cmdline), /boot/grub/grub.cfg"
    )
    assert worded.startswith("console=ttyS0 missing in next boot (the boot loader's default entry")
    assert "/proc/cmdline" not in worded


def test_history_and_keys(facts):
    history = checks.shell_history(facts, GUIDE)
    assert history.result is Result.FAILED and "/root/.bash_history (3 bytes)" in history.actual
    assert "usable 1 /home/old/.ssh/authorized_keys" in facts.section("home_files")


def test_live_only_sections_are_not_applicable_never_a_default(facts):
    for name in ("swaps", "security_updates", "ip_state", "mounts", "firewall", "network_services"):
        with pytest.raises(NotAvailableOffline, match="not available offline: needs a running VM"):
            facts.section(name)
    with pytest.raises(NotAvailableOffline):
        _ = facts.boot_time
    with pytest.raises(NotAvailableOffline):
        checks.security_updates(facts, GUIDE)


def test_a_section_added_later_defaults_to_not_available(monkeypatch, image):
    """A command section added to SECTIONS later can never pass offline by accident; a
    new _cat section is read from the files it names."""
    sections = dict(live.SECTIONS)
    sections["new_command"] = (False, "somecommand --print")
    sections["new_files"] = (False, live._cat("/etc/waagent.conf", "/etc/nothing/*.conf"))
    # review F11: _cat of runtime paths only (a kernel fs, a tmpfs the VM fills) is live-only
    sections["tainted"] = (False, live._cat("/proc/sys/kernel/tainted", "/sys/module/*/taint"))
    sections["failed_marker"] = (False, live._cat("/run/systemd/failed/*"))
    # a mixed one is read without its boot-time part, and the verdict says so
    sections["mixed"] = (False, live._cat("/etc/waagent.conf", "/run/waagent/*.conf"))
    monkeypatch.setattr(linux_image, "SECTIONS", sections)
    facts = read_linux_image(image)
    with pytest.raises(NotAvailableOffline, match="new_command"):
        facts.raw("new_command")
    assert list(facts.files("new_files")) == ["/etc/waagent.conf"]
    for name, path in (("tainted", "/proc/sys/kernel/tainted"), ("failed_marker", "/run/systemd/failed/")):
        with pytest.raises(NotAvailableOffline, match=f"'{name}' reads {path}"):
            facts.files(name)
        assert name not in linux_image.offline_sections()
    assert list(facts.files("mixed")) == ["/etc/waagent.conf"]
    verdict = linux_image.offline_verdict(Verdict.passed("read", "r"), facts)
    assert verdict.message == "read; offline: the boot-time part (/run/waagent/*.conf) is not read"
    assert linux_image.offline_verdict(Verdict.passed("again", "r"), facts).message == ""  # noted once


def test_budget_exhausted_is_an_error_everywhere(image):
    facts = read_linux_image(image, budget=Budget(bytes_read=2048))
    for name in linux_image.offline_sections():
        assert facts.sections[name].problem, name
        with pytest.raises(FactError, match="budget"):
            facts.raw(name)
    with pytest.raises(FactError):
        checks.agent_installed(facts, GUIDE)


def test_unreadable_root_makes_every_section_an_error(tmp_path):
    junk = tmp_path / "junk.raw"
    junk.write_bytes(b"\0" * 1024 * 1024)
    facts = read_linux_image(junk)
    for name in linux_image.offline_sections():
        with pytest.raises(FactError) as err:
            facts.raw(name)
        assert not isinstance(err.value, NotAvailableOffline)


def test_separate_boot_not_found_is_unreadable_not_absent(tmp_path):
    files = dict(BASE, **{"/etc/fstab": "UUID=x / ext4 defaults 0 1\nUUID=nowhere /boot ext4 defaults 0 2\n"})
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    with pytest.raises(FactError, match="/boot is a separate file system"):
        facts.files("grub_cfg")


def test_the_image_is_not_written(tmp_path):
    image = _image(tmp_path, BASE, LINKS)
    before = (hashlib.sha256(image.read_bytes()).hexdigest(), image.stat().st_mtime_ns)
    read_linux_image(image)
    assert (hashlib.sha256(image.read_bytes()).hexdigest(), image.stat().st_mtime_ns) == before


def test_hostile_symlink_loop_and_huge_file(tmp_path):
    files = dict(BASE, **{"/etc/waagent.conf": "x" * (linux_image.FILE_LIMIT + 1)})
    links = dict(LINKS, **{"/etc/default/grub.d/a.cfg": "b.cfg", "/etc/default/grub.d/b.cfg": "a.cfg"})
    facts = read_linux_image(_image(tmp_path, files, links))
    with pytest.raises(FactError, match="larger than"):
        facts.waagent_conf()
    with pytest.raises(FactError, match="symbolic links"):
        facts.files("default_grub")


def test_block_devices_from_the_partition_table(facts):
    """LNX-001/010/011 from the VHD: sizes from the container, / from /etc/fstab."""
    devices = facts.block_devices()
    assert facts.os_disk(devices) == "sda" and devices["sda"].size_bytes == 16 * 2**20
    assert checks.no_lvm(facts, GUIDE).result is Result.PASSED


def test_sshd_settings_resolved_as_sshd_T(facts):
    """An Include is read where it stands (the drop-in's 600 wins over the main file's 180),
    a Match block is not applied, and a setting not resolved offline is never a default."""
    settings = facts.sshd_settings()
    assert settings["clientaliveinterval"] == "600"
    assert facts.sshd_match_settings() == [("/etc/ssh/sshd_config", "ClientAliveInterval 5")]
    with pytest.raises(FactError, match="inside a Match block"):  # as on the VM
        checks.client_alive_interval(facts, GUIDE)
    assert "listenaddress 10.0.0.4:22" in facts.section("sshd_effective")
    with pytest.raises(NotAvailableOffline):
        settings.get("ciphers")
    keys = facts.section("authorized_keys")
    assert "keysfile old /home/old/.ssh/authorized_keys\nkey ssh-ed25519 KEY\n" in keys
    assert "AAAA" not in keys


def test_the_linux_suite_runs_on_a_vhd(pytester, image):
    """pytest suites/linux --vm-vhd os:IMAGE: every LNX ID gets a verdict or a reason; what
    only a running VM knows is not applicable naming the live check; the running kernel
    line is named as the boot loader's default entry."""
    suite = Path(__file__).parent.parent / "suites" / "linux"
    result = pytester.runpytest(str(suite), "--vm-vhd", f"os:{image}", "-rA", "-p", "no:cacheprovider")
    text = result.stdout.str()
    passed = "".join(line for line in text.splitlines() if line.startswith("PASSED"))
    assert "test_kernel_boot_line[os:disk.raw]" in passed
    assert "test_agent_installed[os:disk.raw]" in passed
    assert "FAILED        LNX-023" in text  # /root/.bash_history in the image
    assert "NOT APPLICABLE LNX-021" in text and "needs a running VM (pending security updates" in text
    collected = int(re.search(r"^requirements: (\d+)", text, re.M).group(1))
    outcomes = result.parseoutcomes()
    assert sum(v for k, v in outcomes.items() if k != "warnings") >= collected >= 29


def test_a_windows_os_disk_is_not_judged_by_the_linux_suite(pytester, image):
    suite = Path(__file__).parent.parent / "suites" / "linux" / "test_boot.py"
    result = pytester.runpytest(
        str(suite), "--vm-vhd", f"os:{image}", "--vm-os", "windows", "-p", "no:cacheprovider"
    )
    assert "the OS disk holds Windows (--vm-os windows)" in result.stdout.str()
    assert result.parseoutcomes().get("passed", 0) == 0


def _rpm_header(**tags: str | int) -> bytes:
    """An RPM header blob as rpmdb.sqlite stores it."""
    codes = {"name": 1000, "version": 1001, "release": 1002, "epoch": 1003}
    index, data = b"", b""
    for key, value in tags.items():
        if isinstance(value, int):
            data += b"\0" * (-len(data) % 4)
            index += struct.pack(">IIiI", codes[key], 4, len(data), 1)
            data += struct.pack(">I", value)
        else:
            index += struct.pack(">IIiI", codes[key], 6, len(data), 1)
            data += value.encode() + b"\0"
    return struct.pack(">II", len(tags), len(data)) + index + data


def test_rpm_database_read_from_sqlite(tmp_path):
    """EL images: rpmdb.sqlite read on a private copy; a BerkeleyDB database is an error."""
    db_path = tmp_path / "rpmdb.sqlite"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
    for header in (
        _rpm_header(name="WALinuxAgent", version="2.7.0.6", release="6.el9"),
        _rpm_header(name="glibc", version="2.34", release="60.el9"),
        _rpm_header(name="openssl", version="3.0.7", release="24.el9", epoch=1),
    ):
        db.execute("INSERT INTO Packages (blob) VALUES (?)", (header,))
    db.commit()
    db.close()
    files = {k: v for k, v in BASE.items() if k != "/var/lib/dpkg/status"}
    files["/usr/bin/openssl"] = "ELF"
    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    shutil.copy(db_path, root / "var/lib/rpm/rpmdb.sqlite")
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert facts.packages() == {
        "WALinuxAgent": "2.7.0.6-6.el9",
        "glibc": "2.34-60.el9",
        "openssl": "3.0.7-24.el9",
    }
    assert facts.glibc_version() == "2.34"
    assert facts.openssl_version() == "3.0.7"
    assert facts.section("agent_version").startswith("WALinuxAgent-2.7.0.6 ")
    (root / "var/lib/rpm/rpmdb.sqlite").unlink()
    (root / "var/lib/rpm/Packages").write_bytes(b"\0" * 4096)
    facts = read_linux_image(_image(tmp_path, {}, {}))
    with pytest.raises(FactError, match="BerkeleyDB"):
        facts.packages()


@pytest.mark.skipif(
    shutil.which("mkfs.xfs") is None or shutil.which("sfdisk") is None, reason="xfsprogs/sfdisk"
)
def test_xfs_root_with_a_separate_boot_partition(tmp_path):
    """An EL-style layout: / on XFS (the built-in reader), /boot an ext4 partition that
    /etc/fstab mounts by UUID (debugfs): files under /boot are read from that partition."""
    from tests.facts.conftest import MIB, partition, place, sparse_file, write_tree, xfs_protofile

    boot_uuid = "0b0c0c0d-1111-2222-3333-000000000b00"
    files = {k.lstrip("/"): v for k, v in BASE.items() if not k.startswith("/boot/")}
    files["etc/fstab"] = f"UUID=whatever / xfs defaults 0 0\nUUID={boot_uuid} /boot ext4 defaults 0 2\n"
    files["etc/systemd/system/multi-user.target.wants/walinuxagent.service"] = (
        "symlink",
        "/lib/systemd/system/walinuxagent.service",
    )
    root = write_tree(tmp_path / "root", files)
    proto = tmp_path / "root.proto"
    proto.write_text(xfs_protofile(root).replace("waagent ---644", "waagent ---755"))
    root_img = sparse_file(tmp_path / "root.xfs", 330 * MIB)
    subprocess.run(["mkfs.xfs", "-q", "-f", "-L", "rootfs", "-p", str(proto), str(root_img)], check=True)
    boot = write_tree(tmp_path / "boot", {"grub/grub.cfg": GRUB_CFG})
    boot_img = tmp_path / "boot.ext4"
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-U", boot_uuid, "-d", str(boot), str(boot_img), "32M"], check=True
    )
    raw = sparse_file(tmp_path / "os.raw", 400 * MIB)
    partition(raw, "label: gpt\nstart=2048, size=32M, type=L\nsize=330M, type=L\n")
    place(raw, boot_img, 2048)
    place(raw, root_img, 2048 + 32 * 2048)
    facts = read_linux_image(raw)
    assert facts.meta["mounts"] == ["/boot", "/"]
    assert list(facts.files("grub_cfg")) == ["/boot/grub/grub.cfg"]
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.PASSED
    assert checks.agent_installed(facts, GUIDE).result is Result.PASSED
    assert facts.section("shadow").startswith("root:!$6$HASH")


def test_hostile_glob_and_database_sizes(tmp_path):
    """A directory with more matches than a section may list, and a package database larger
    than its limit, are unreadable (an error naming them), never "nothing there"."""
    files = dict(BASE)
    files.update(
        {
            f"/etc/network/interfaces.d/if{i:04}": "auto eth0\n"
            for i in range(linux_image.MAX_GLOB_MATCHES + 1)
        }
    )
    files["/var/lib/dpkg/status"] = "Package: x\n" * (linux_image.DB_LIMIT // 11 + 1)
    root = tmp_path / "root"
    _tree(root, files, LINKS)
    image = tmp_path / "big.raw"
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "rootfs", "-d", str(root), str(image), "96M"],
        check=True,
        capture_output=True,
    )
    facts = read_linux_image(image)
    with pytest.raises(FactError, match="more than 512 matches"):
        facts.files("network_config")
    with pytest.raises(FactError, match="larger than"):
        facts.packages()


def _cpio(names: list[str]) -> bytes:
    """A newc cpio archive of empty files (and its trailer), padded like the kernel's."""
    out = b""
    for i, name in enumerate([*names, "TRAILER!!!"]):
        raw = name.encode() + b"\0"
        header = b"070701" + b"".join(
            b"%08X" % v for v in (i + 1, 0o100644, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(raw), 0)
        )
        out += header + raw + b"\0" * (-(110 + len(raw)) % 4)
    return out + b"\0" * (-len(out) % 512)


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_initramfs_listing_offline(compression):
    """Early microcode (uncompressed cpio) then the main archive, compressed: every member
    name is read; a truncated archive is an error."""
    import gzip
    import lzma

    import zstandard

    early = _cpio(["kernel", "kernel/x86/microcode/GenuineIntel.bin"])
    main = _cpio(
        [
            "usr/lib/modules/6.1/kernel/drivers/hv/hv_vmbus.ko",
            "usr/lib/modules/6.1/kernel/drivers/scsi/hv_storvsc.ko.xz",
        ]
    )
    pack = {"gzip": gzip.compress, "xz": lzma.compress, "zstd": zstandard.ZstdCompressor().compress}[
        compression
    ]
    names = linux_image.initramfs_names(early + pack(main))
    assert b"kernel/x86/microcode/GenuineIntel.bin" in names
    assert b"usr/lib/modules/6.1/kernel/drivers/scsi/hv_storvsc.ko.xz" in names
    for cut in (main[:150], main[: len(main) // 2]):
        with pytest.raises(
            linux_image._Problem, match="ends inside a member|TRAILER|truncated|inflate|not a cpio"
        ):
            linux_image.initramfs_names(early + pack(cut))
    with pytest.raises(linux_image._Problem, match="truncated|inflate|ends|not a cpio"):
        linux_image.initramfs_names(early + pack(main)[:-20])


GOOD_LINE = (
    "\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300\n"
)
BAD_LINE = "\tlinux\t/boot/vmlinuz-6.1.0-8-amd64 root=LABEL=rootfs ro quiet\n"
NEXT_ENTRY_CFG = (
    'if [ "${next_entry}" ] ; then\n   set default="${next_entry}"\nelse\n   set default="0"\nfi\n'
)
F1_CASES = {
    "set-default-1": (
        f'set default="1"\nmenuentry "new" {{\n{GOOD_LINE}}}\nmenuentry "old" {{\n{BAD_LINE}}}\n',
        "",
    ),
    "saved-entry": (
        f'load_env\nset default="${{saved_entry}}"\nmenuentry "new" --id new {{\n{GOOD_LINE}}}\n'
        f'menuentry "old" --id old {{\n{BAD_LINE}}}\n',
        "saved_entry=old\n",
    ),
    "submenu-1>0": (
        f'set default="1>0"\nmenuentry "new" {{\n{GOOD_LINE}}}\nsubmenu "Advanced" {{\n  menuentry "old" {{\n{BAD_LINE}  }}\n}}\n',
        "",
    ),
    "linux-in-function": (f"function unused {{\n{GOOD_LINE}}}\nmenuentry 'x' {{\n{GOOD_LINE}}}\n", ""),
    "next-entry": (
        f"{NEXT_ENTRY_CFG}menuentry 'new' {{\n{GOOD_LINE}}}\nmenuentry 'old' {{\n{BAD_LINE}}}\n",
        "next_entry=old\n",
    ),
}


F1_BOOTED = {  # the entry GRUB boots (facts/boot_entries.py): the verdict of that entry's line
    "set-default-1": Result.FAILED,
    "saved-entry": Result.FAILED,
    "submenu-1>0": Result.FAILED,
    "linux-in-function": Result.PASSED,  # the function's line is never run; the entry's is good
    "next-entry": Result.PASSED,  # no load_env in this grub.cfg: GRUB never reads next_entry
}


@pytest.mark.parametrize("case", list(F1_CASES))
def test_f1_default_entry_is_the_one_grub_boots(tmp_path, case):
    cfg, env = F1_CASES[case]
    files = dict(
        BASE, **{"/boot/grub/grub.cfg": cfg, "/boot/grub/grubenv": f"# GRUB Environment Block\n{env}"}
    )
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert checks.kernel_boot_line(facts, GUIDE).result is F1_BOOTED[case]


def test_f1_default_entry_provably_first_is_read(tmp_path):
    cfg = (
        f"{NEXT_ENTRY_CFG}function savedefault {{\n  save_env saved_entry\n}}\n"
        f"menuentry 'new' --class debian $menuentry_id_option 'gnulinux-new' {{\n"
        f"\tif [ x$grub_platform = xxen ]; then insmod xzio; fi\n{GOOD_LINE}}}\n"
        f"menuentry 'old' {{\n{BAD_LINE}}}\n"
    )
    files = dict(BASE, **{"/boot/grub/grub.cfg": cfg, "/boot/grub/grubenv": "saved_entry=gnulinux-new\n"})
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert facts.kernel_cmdline[-1] == "rootdelay=300"
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.PASSED


def _bls_files(grubenv: str) -> dict:
    """EL's layout: grub.cfg runs blscfg; entry "new" has the parameters, "old" lacks them."""
    entry = "title {0}\nversion 6.1.0-{1}-amd64\nlinux /vmlinuz-6.1.0-{1}-amd64\noptions root=LABEL=rootfs ro{2}\n"
    files = {k: v for k, v in BASE.items() if k not in ("/etc/default/grub", "/boot/grub/grub.cfg")}
    files["/boot/grub2/grub.cfg"] = (
        f"load_env\n{NEXT_ENTRY_CFG.replace(chr(34) + '0', chr(34) + '${saved_entry}')}blscfg\n"
    )
    files["/boot/grub2/grubenv"] = grubenv
    files["/boot/loader/entries/new.conf"] = entry.format(
        "new", 9, " console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
    )
    files["/boot/loader/entries/old.conf"] = entry.format("old", 8, " quiet")
    return files


def test_f1b_bls_next_entry_wins_over_saved_entry(tmp_path):
    facts = read_linux_image(_image(tmp_path, _bls_files("saved_entry=new\nnext_entry=old\n"), LINKS))
    assert facts.kernel_cmdline[-1] == "quiet"
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.FAILED


def test_f1c_systemd_boot_beside_grub_is_not_available(tmp_path):
    files = dict(BASE)
    files["/boot/efi/loader/loader.conf"] = "default debian.conf\n"
    files["/boot/efi/loader/entries/debian.conf"] = (
        "title Debian\nlinux /vmlinuz\noptions root=LABEL=rootfs ro quiet\n"
    )
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    with pytest.raises(NotAvailableOffline, match="systemd-boot"):
        checks.kernel_boot_line(facts, GUIDE)


@pytest.mark.parametrize(
    "main, extra",
    [
        (
            "PasswordAuthentication no\nMatch User nobody\n    Include /etc/ssh/conditional/*.conf\n",
            "/etc/ssh/conditional/k.conf",
        ),
        ("Match Address 10.0.0.0/8\n    Include extra.conf\n", "/etc/ssh/extra.conf"),
    ],
)
def test_f2_sshd_include_inside_match_is_not_global(tmp_path, main, extra):
    files = {k: v for k, v in BASE.items() if k != "/etc/ssh/sshd_config.d/50-keepalive.conf"}
    files["/etc/ssh/sshd_config"] = main
    files[extra] = "ClientAliveInterval 180\n"
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert facts.sshd_settings()["clientaliveinterval"] == "0"
    assert checks.client_alive_interval(facts, load_profile("current")).result is Result.FAILED


@pytest.mark.parametrize(
    "value, seconds", [("180m", "10800"), ("3m", "180"), ("2m60s", "180"), ("1h30m", "5400"), ("90", "90")]
)
def test_f7_sshd_time_values_in_seconds(tmp_path, value, seconds):
    files = {k: v for k, v in BASE.items() if k != "/etc/ssh/sshd_config.d/50-keepalive.conf"}
    files["/etc/ssh/sshd_config"] = f"ClientAliveInterval {value}\n"
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert facts.sshd_settings()["clientaliveinterval"] == seconds


def test_f7_sshd_unparsable_time_is_an_error(tmp_path):
    files = {k: v for k, v in BASE.items() if k != "/etc/ssh/sshd_config.d/50-keepalive.conf"}
    files["/etc/ssh/sshd_config"] = "ClientAliveInterval 3min\n"
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    with pytest.raises(FactError, match="not a time value"):
        checks.client_alive_interval(facts, GUIDE)


SECOND_UUID = "0b0c0c0d-1111-2222-3333-000000000a00"


def _two_partition_image(tmp_path: Path, files: dict, second: dict, second_type: str = "L") -> Path:
    """GPT: p1 ext4 root from ``files`` (absolute paths), p2 ext4 (UUID SECOND_UUID) holding ``second``."""
    from tests.facts.conftest import MIB, mkext4, partition, place, sparse_file, write_tree

    tree = {k.lstrip("/"): v for k, v in files.items()}
    tree.update({k.lstrip("/"): ("symlink", v) for k, v in LINKS.items()})
    root = write_tree(tmp_path / "root", tree)
    for binary in (root / "usr/sbin").glob("*"):
        binary.chmod(0o755)
    rootimg = mkext4(root, tmp_path / "root.ext4", 64 * MIB)
    subprocess.run(["e2label", str(rootimg), "rootfs"], check=True)  # GRUB_CFG's root=LABEL=rootfs
    other = mkext4(write_tree(tmp_path / "p2", second), tmp_path / "p2.ext4", 32 * MIB, SECOND_UUID)
    raw = sparse_file(tmp_path / "os.raw", 100 * MIB)
    partition(raw, f"label: gpt\nstart=2048, size=64M, type=L\nsize=32M, type={second_type}\n")
    place(raw, rootimg, 2048)
    place(raw, other, 2048 + 64 * 2048)
    return raw


def _no_homes() -> dict:
    files = {k: v for k, v in BASE.items() if not k.startswith(("/home/", "/root/.bash_history"))}
    files["/etc/passwd"] = "root:x:0:0:root:/root:/bin/bash\nold:x:1001:1001::/home/old:/bin/sh\n"
    files["/etc/shadow"] = "root:!*:19000::::::\nold:!*:19000::::::\n"
    return files


def test_f4_symlink_mid_path_follows_the_mount_table(tmp_path):
    """/home -> var/home with a separate /var: the homes are read on the /var partition."""
    files = _no_homes()
    files["/etc/fstab"] = f"UUID=x / ext4 defaults 0 1\nUUID={SECOND_UUID} /var ext4 defaults 0 2\n"
    files["/home"] = ("symlink", "var/home")
    files["/var/"] = "/"
    files.pop("/var/lib/dpkg/status")
    second = {"home/old/.bash_history": "mysql -psecret\n", "lib/dpkg/status": STATUS}
    facts = read_linux_image(_two_partition_image(tmp_path, files, second))
    assert "/home/old/.bash_history" in facts.section("home_files")
    assert checks.shell_history(facts, GUIDE).result is Result.FAILED


@pytest.mark.parametrize("mode", ["mount-unit", "gpt-auto"])
def test_f5_home_mounted_outside_fstab_is_unreadable_not_absent(tmp_path, mode):
    files = _no_homes()
    files["/home/"] = "/"
    if mode == "mount-unit":
        files["/etc/systemd/system/home.mount"] = (
            f"[Mount]\nWhat=/dev/disk/by-uuid/{SECOND_UUID}\nWhere=/home\n"
        )
    home_type = "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" if mode == "gpt-auto" else "L"
    facts = read_linux_image(_two_partition_image(tmp_path, files, {"old/.bash_history": "x\n"}, home_type))
    with pytest.raises(FactError, match="/home"):
        checks.shell_history(facts, GUIDE)


@pytest.mark.parametrize(
    "status", ["install reinstreq half-installed", "install ok unpacked", "deinstall ok config-files"]
)
def test_f6_dpkg_only_install_ok_installed_counts(tmp_path, status):
    files = dict(BASE, **{"/var/lib/dpkg/status": STATUS.replace("install ok installed", status, 1)})
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    assert "waagent" not in facts.packages()
    assert "waagent" not in live.parse_packages(
        f"waagent\t2.7\t{status}\nopenssl\t3.0\tinstall ok installed\n"
    )
    assert live.parse_packages("glibc\t2.34-1\tinstalled\n") == {"glibc": "2.34-1"}  # rpm's line


LIBC = "\nPackage: libc6\nStatus: {0}\nArchitecture: {1}\nVersion: {2}\n"


def test_f10_dpkg_native_architecture_wins(tmp_path):
    native = "\nPackage: dpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.21\n"
    status = (
        STATUS
        + LIBC.format("install ok installed", "i386", "2.36-9")
        + LIBC.format("install ok installed", "amd64", "2.17-7")
    )
    facts = read_linux_image(_image(tmp_path, dict(BASE, **{"/var/lib/dpkg/status": status + native}), LINKS))
    assert facts.section("glibc") == "glibc 2.17"
    ambiguous = read_linux_image(
        _image(tmp_path / "b", dict(BASE, **{"/var/lib/dpkg/status": status}), LINKS)
    )
    with pytest.raises(FactError, match="several architectures"):
        checks.ghost_vulnerability(ambiguous, GUIDE)
    hidden = (
        STATUS
        + LIBC.format("deinstall ok config-files", "amd64", "2.36-9")
        + LIBC.format("install ok installed", "amd64", "2.17-7")
    )
    facts = read_linux_image(_image(tmp_path / "c", dict(BASE, **{"/var/lib/dpkg/status": hidden}), LINKS))
    assert facts.section("glibc") == "glibc 2.17"


def test_f8_lvm_os_disk_without_readable_root_is_an_error_naming_the_pv(tmp_path):
    raw = _two_partition_image(
        tmp_path, {"/data/x": "1\n"}, {"a": "b"}, "E6D6D379-F507-44C2-A23C-238F2A3DF928"
    )
    facts = read_linux_image(raw)
    with pytest.raises(FactError, match="LVM physical volume") as err:
        checks.no_lvm(facts, GUIDE)
    assert not isinstance(err.value, NotAvailableOffline)


def test_f1b_bls_saved_entry_is_read(tmp_path):
    """EL's grub.cfg (blscfg, no menu entries): the BLS saved_entry is the default entry."""
    facts = read_linux_image(_image(tmp_path, _bls_files("saved_entry=old\n"), LINKS))
    assert facts.kernel_cmdline[-1] == "quiet"
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.FAILED
