"""Smoke tests of the testbed itself: the recipe, the VHD files, and one boot of
the compliant image checked over SSH."""
from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from . import disktool, qemu

GIB = 1024 ** 3


def test_recipe_hash_matches_build_script():
    out = subprocess.run(["bash", str(qemu.BUILD_SCRIPT), "--print-dir"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(qemu.cache_dir())


def test_variants_map_is_complete():
    v = qemu.variants()
    assert v["compliant"]["breaks"] == []
    for name, spec in v.items():
        assert set(spec) >= {"description", "breaks", "also_affects", "data_disks"}, name
        assert all(r.startswith(("LNX-", "VHD-")) for r in spec["breaks"] + spec["also_affects"])
    broken = {r for spec in v.values() for r in spec["breaks"]}
    assert broken >= {"LNX-003", "LNX-010", "LNX-012", "LNX-013", "LNX-015", "LNX-016",
                      "LNX-018", "LNX-019", "LNX-022", "LNX-023", "LNX-024", "LNX-025"}
    # (a) and (b) separate; (l) agent removed separate from (k) DeleteRootPassword=n
    assert v["no-console"]["breaks"] == ["LNX-013"] and v["no-rootdelay"]["breaks"] == ["LNX-013"]
    assert not any("LNX-003" in s["breaks"] and "LNX-025" in s["breaks"] for s in v.values())


def test_place_keeps_holes(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    with open(src, "wb") as f:
        f.truncate(64 * 1024 * 1024)
        f.seek(8 * 1024 * 1024)
        f.write(b"x" * 4096)
    with open(dst, "wb") as f:
        f.truncate(128 * 1024 * 1024)
    disktool.place(str(src), str(dst), 1024 * 1024)
    assert dst.stat().st_size == 128 * 1024 * 1024
    assert dst.stat().st_blocks * 512 < 1024 * 1024
    with open(dst, "rb") as f:
        f.seek(9 * 1024 * 1024)
        assert f.read(4097) == b"x" * 4096 + b"\0"


@pytest.mark.testbed
def test_built_images_are_fixed_sparse_30gib(testbed_available):
    qemu.build(["compliant"])
    img = qemu.image_path("compliant")
    st = img.stat()
    assert st.st_size == 30 * GIB + 512
    assert st.st_blocks * 512 < 4 * GIB
    with open(img, "rb") as f:
        f.seek(-512, 2)
        footer = f.read()
    assert footer[:8] == b"conectix"
    assert struct.unpack(">Q", footer[48:56])[0] == 30 * GIB      # current size
    assert struct.unpack(">I", footer[60:64])[0] == 2             # fixed
    with open(img, "rb") as f:
        mbr = f.read(512)
    assert mbr[510:512] == b"\x55\xaa"
    assert struct.unpack("<I", mbr[446 + 8:446 + 12])[0] == 2048  # first partition at 1 MiB


@pytest.mark.testbed
def test_compliant_vm_over_ssh(testbed_vm):
    vm = testbed_vm("compliant")
    assert vm.url == f"ssh://azureuser@127.0.0.1:{vm.port}"
    cmdline = vm.ssh("cat /proc/cmdline").stdout.split()
    for p in ("console=ttyS0", "earlyprintk=ttyS0", "rootdelay=300"):
        assert p in cmdline
    vm.ssh("sudo -n true")
    assert "inet 10.0.2.15/24" in vm.ssh("ip -4 addr").stdout
    sshd = vm.ssh("sudo -n /usr/sbin/sshd -T").stdout.lower().splitlines()
    assert "clientaliveinterval 180" in sshd
    persisted = vm.ssh("cat /etc/default/grub; sudo -n cat /boot/grub/grub.cfg").stdout
    assert 'GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0 rootdelay=300' in persisted
    assert "console=ttyS0 earlyprintk=ttyS0 rootdelay=300" in persisted.split("### BEGIN /etc/grub.d/10_linux")[1]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))


# One distinctive fact per variant: the breakage documented in variants.json is
# really there on the running VM (and the compliant image has none of them).
VARIANT_FACTS = {
    "compliant": [
        ("grep -o 'console=ttyS0 earlyprintk=ttyS0 rootdelay=300' /proc/cmdline",
         "console=ttyS0 earlyprintk=ttyS0 rootdelay=300"),
        ("systemctl is-enabled walinuxagent; test -x /usr/sbin/waagent && echo agent-ok", "enabled\nagent-ok"),
        ("systemctl is-active walinuxagent || true", "inactive"),
        ("cat /proc/swaps | wc -l", "1"),
        ("sudo -n iptables -S | sort | tr '\\n' ' '", "-P FORWARD ACCEPT -P INPUT ACCEPT -P OUTPUT ACCEPT"),
        ("dpkg-query -W -f='${Status}' network-manager 2>/dev/null | grep -q 'ok installed' || echo no-nm;"
         " systemctl is-active NetworkManager || true", "no-nm\ninactive"),
        ("sudo -n sh -c 'ls -a /root /home/* | grep -c history || true'", "0"),
        ("sudo -n grep -E '^root:' /etc/shadow | cut -d: -f2", "!"),
        ("findmnt -no SOURCE /", "/dev/vda1"),
        ("grep -E '^Provisioning.(RegenerateSshHostKeyPair|DeleteRootPassword)=' /etc/waagent.conf",
         "Provisioning.DeleteRootPassword=y\nProvisioning.RegenerateSshHostKeyPair=y"),
        # LNX-034/035: the KVP daemon installed (udev starts it on Hyper-V only), the distro's update sources
        ("test -x /usr/sbin/hv_kvp_daemon && echo kvp; systemctl is-active hv-kvp-daemon || true", "kvp\ninactive"),
        ("grep -oE 'bookworm-(security|updates)' /etc/apt/sources.list.d/debian.sources | sort", "bookworm-security\nbookworm-updates"),
        ("sudo -n grep -rc targetpw /etc/sudoers /etc/sudoers.d | grep -vc ':0$' || true", "0"),
        ("ls /etc/udev/rules.d | grep -c persistent-net || true", "0"),
        ("dpkg-query -W omi 2>/dev/null || echo no-omi", "no-omi"),
    ],
    "no-console": [
        ("cat /proc/cmdline | grep -c console=ttyS0 || true", "0"),
        ("grep -c 'earlyprintk=ttyS0 rootdelay=300' /proc/cmdline", "1"),
        ("sudo -n grep -c 'console=ttyS0' /boot/grub/grub.cfg /etc/default/grub || true",
         "/boot/grub/grub.cfg:0\n/etc/default/grub:0"),
    ],
    "no-rootdelay": [
        ("grep -c rootdelay /proc/cmdline || true", "0"),
        ("grep -c 'console=ttyS0 earlyprintk=ttyS0' /proc/cmdline", "1"),
        ("sudo -n grep -c rootdelay /boot/grub/grub.cfg /etc/default/grub || true",
         "/boot/grub/grub.cfg:0\n/etc/default/grub:0"),
    ],
    "misc-config": [
        ("sudo -n /usr/sbin/sshd -T | grep -i clientaliveinterval", "clientaliveinterval 600"),
        ("sudo -n iptables -S INPUT | grep -c -- '--dport 9 -j DROP'", "1"),
        ("sudo -n test -s /root/.bash_history && echo history", "history"),
        ("sudo -n getent shadow olduser | cut -d: -f2 | cut -c1-3; sudo -n test -s /home/olduser/.ssh/authorized_keys"
         " && echo key", "$6$\nkey"),
        ("grep '^Provisioning.DeleteRootPassword=' /etc/waagent.conf", "Provisioning.DeleteRootPassword=n"),
    ],
    "static-net-swap": [
        ("awk 'NR>1{print $1, $2}' /proc/swaps", "/dev/vdb1 partition"),
        ("grep -c 'iface eth0 inet static' /etc/network/interfaces", "1"),
        ("grep -c 'dns-nameservers' /etc/network/interfaces", "1"),
        ("ip -4 -o addr show eth0 | grep -c 'inet 10.0.2.15/24'", "1"),
    ],
    "nm-noagent": [
        ("systemctl is-active NetworkManager", "active"),
        ("test -e /usr/sbin/waagent || test -e /etc/waagent.conf || echo no-agent", "no-agent"),
        ("ip -4 -o addr show eth0 | grep -c 'inet 10.0.2.15/24'", "1"),
    ],
    "lvm-root": [
        ("findmnt -no SOURCE /", "/dev/mapper/testbed-root"),
        ("sudo -n /usr/sbin/lvs --noheadings -o vg_name,lv_name | tr -s ' ' | sed 's/^ //'", "testbed root"),
        ("findmnt -no SOURCE /boot", "/dev/vda1"),
    ],
    "lisa-rules": [
        ("sudo -n cat /etc/sudoers.d/90-testbed-targetpw", "Defaults targetpw"),  # and sudo -n still works
        ("grep -o 'libata.atapi_enabled=0' /proc/cmdline", "libata.atapi_enabled=0"),
        ("sudo -n grep -q 'linux.*libata.atapi_enabled=0' /boot/grub/grub.cfg && echo persisted", "persisted"),
        ("grep -c 'NAME=\"eth1\"' /etc/udev/rules.d/70-persistent-net.rules", "1"),
        ("ip -4 -o addr show eth0 | grep -c 'inet 10.0.2.15/24'", "1"),  # the rule's MAC is not this NIC's
        ("dpkg-query -W -f='${Version}\\n' omi; /opt/omi/bin/omiserver --version | grep -o 'OMI-[0-9.-]*[0-9]'",
         "1.6.8-0\nOMI-1.6.8-0"),
        ("python3 -c 'import json; json.load(open(\"/etc/opt/microsoft/mdatp/mdatp_onboard.json\"))' && echo onboarded",
         "onboarded"),
        ("cat /etc/modprobe.d/testbed-cis.conf", "install udf /bin/true"),
    ],
}


def test_every_variant_has_facts():
    assert set(VARIANT_FACTS) == set(qemu.variants())


@pytest.mark.testbed
@pytest.mark.parametrize("variant", list(VARIANT_FACTS))
def test_variant_breakage_is_visible(testbed_vm, variant):
    vm = testbed_vm(variant)
    for command, expected in VARIANT_FACTS[variant]:
        got = vm.ssh(command, check=False).stdout.strip()
        assert got == expected, f"{variant}: {command!r} gave {got!r}, expected {expected!r}"
