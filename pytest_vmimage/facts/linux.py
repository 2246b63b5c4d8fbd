"""Facts about a running Linux VM, gathered by one read-only shell script.

Every section is a small POSIX ``sh`` snippet whose stdout is kept verbatim
(with its exit code). All sections run in **one** SSH command, under
``sudo -n`` when the account may; without sudo the script still runs and the
sections that need root say so, so only the checks that need them error.
Nothing here writes on the VM.

Checks never see the shell: they read the parsed properties of
:class:`LinuxFacts`, which can be recorded to JSON from a real VM and replayed
in tests.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vmimage.verdict import FactError


# name -> (needs root, snippet). Snippets print raw files or command output;
# parsing happens in Python. Keep them read-only and POSIX sh.
def _cat(*paths: str) -> str:
    """Print each existing file under a ``### path`` header (globs allowed); a file
    that exists but cannot be read is marked ``### ! path`` (an error, not an absence)."""
    joined = " ".join(paths)
    return (
        f'for f in {joined}; do [ -f "$f" ] || continue; '
        'if [ -r "$f" ]; then echo "### $f"; cat "$f"; echo; else echo "### ! $f"; fi; done; true'
    )


# name -> (needs root, snippet). Snippets print raw files or command output;
# parsing happens in Python. Keep them read-only, POSIX sh, and cheap: on a
# TCG test VM each process start costs ~0.4 s (NOTES.md).
SECTIONS: dict[str, tuple[bool, str]] = {
    # identity and time
    "os_release": (False, "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"),
    "uname": (False, "uname -m; uname -r; uname -n"),
    "times": (False, "date +%s; awk '/^btime/ {print $2}' /proc/stat"),
    # boot line (LNX-013)
    "proc_cmdline": (False, "cat /proc/cmdline"),
    "default_grub": (False, _cat("/etc/default/grub", "/etc/default/grub.d/*.cfg")),
    "grub_cfg": (True, _cat("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/efi/EFI/*/grub.cfg")),
    "grubenv": (True, _cat("/boot/grub2/grubenv", "/boot/grub/grubenv")),
    "bls_entries": (True, _cat("/boot/loader/entries/*.conf")),
    "extlinux": (False, _cat("/boot/extlinux/extlinux.conf", "/boot/syslinux/syslinux.cfg")),
    # disks (LNX-001/002/010/011/012)
    "sys_block": (
        False,
        "for d in /sys/block/*; do n=${d##*/}; "
        'echo "disk $n size=$(cat $d/size) removable=$(cat $d/removable 2>/dev/null) '
        "ro=$(cat $d/ro 2>/dev/null) dm=$(cat $d/dm/name 2>/dev/null) dmuuid=$(cat $d/dm/uuid 2>/dev/null) "
        'slaves=$(ls $d/slaves 2>/dev/null | tr "\\n" ,)"; '
        'for p in $d/$n*; do [ -f "$p/partition" ] && echo "part ${p##*/} disk=$n start=$(cat $p/start) '
        'size=$(cat $p/size) holders=$(ls $p/holders 2>/dev/null | tr "\\n" ,)"; done; done; true',
    ),
    "lsblk": (
        False,
        "lsblk -b -P -o NAME,KNAME,PKNAME,TYPE,SIZE,FSTYPE,MOUNTPOINT,PARTTYPE,UUID,PARTUUID,LABEL 2>/dev/null"
        " || lsblk -b -P -o NAME,KNAME,TYPE,SIZE,FSTYPE,MOUNTPOINT",
    ),
    "blkid": (True, "blkid -c /dev/null -o full 2>/dev/null || blkid -c /dev/null"),
    "disk_links": (
        False,
        'for l in /dev/disk/azure/* /dev/disk/azure/*/* /dev/disk/by-id/*; do [ -e "$l" ] && '
        'echo "$l $(readlink -f "$l")"; done; true',
    ),
    "mounts": (False, "cat /proc/self/mounts"),
    "fstab": (False, "cat /etc/fstab"),
    "swaps": (False, "cat /proc/swaps"),
    "swap_units": (
        False,
        "systemctl list-units --type=swap --all --no-legend --plain 2>/dev/null; "
        "ls /etc/systemd/system/*.swap /etc/systemd/system/*/*.swap 2>/dev/null; true",
    ),
    # agent (LNX-003/004/005/007/008/025)
    "agent": (
        False,
        "command -v waagent; "
        'w=$(command -v waagent); [ -n "$w" ] && { echo "shebang $(head -n 1 "$w")"; }; '
        'for u in walinuxagent waagent; do echo "unit $u $(systemctl is-enabled $u 2>/dev/null) '
        '$(systemctl is-active $u 2>/dev/null)"; done; '
        "for u in walinuxagent waagent; do systemctl cat $u 2>/dev/null | grep -E '^(ExecStart|\\[Unit\\])' ; done; true",
    ),
    "agent_version": (
        False,
        'w=$(command -v waagent) && PYTHONDONTWRITEBYTECODE=1 timeout 60 "$w" --version 2>&1 | head -n 3',
    ),
    "waagent_conf": (False, "cat /etc/waagent.conf"),
    "agent_python": (
        False,
        'w=$(command -v waagent) || exit 3; py=$(head -n 1 "$w" | sed -e "s/^#! *//" -e "s/ .*//"); '
        '[ "${py##*/}" = env ] && py=$(command -v $(head -n 1 "$w" | awk "{print \\$2}")); '
        'echo "interpreter $py"; "$py" -B -c "import sys; print(\'version \' + sys.version.split()[0])"; '
        "\"$py\" -B -c \"import pyasn1; print('pyasn1 ' + getattr(pyasn1, '__version__', 'unknown'))\" 2>&1 | tail -n 1",
    ),
    "packages": (
        False,
        "if command -v dpkg-query >/dev/null; then echo manager dpkg; dpkg-query -W "
        "-f='${Package}\\t${Version}\\t${Status}\\n' waagent walinuxagent network-manager ifupdown "
        "isc-dhcp-client iptables nftables firewalld ufw openssh-server openssl libc6 netplan.io "
        "linux-image-$(uname -r) 2>/dev/null; fi; "
        "if command -v rpm >/dev/null; then echo manager rpm; rpm -q --qf '%{NAME}\\t%{VERSION}-%{RELEASE}\\tinstalled\\n' "
        "WALinuxAgent python-azure-agent python3-azure-agent NetworkManager network-scripts initscripts wicked "
        "iptables nftables firewalld openssh-server openssl glibc microsoft-hyper-v kmod-microsoft-hyper-v "
        "2>/dev/null | grep -v 'is not installed'; fi; true",
    ),
    "agent_candidate": (
        False,
        "command -v apt-cache >/dev/null && apt-cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= policy waagent walinuxagent",
    ),
    # kernel and libraries (LNX-006/009/027/028/029)
    "kernel_modules": (
        False,
        "r=$(uname -r); for m in hv_vmbus hv_storvsc hv_netvsc; do "
        'b=$(grep -c "/$m.ko" /lib/modules/$r/modules.builtin 2>/dev/null); '
        'f=$(grep -c "/$m.ko" /lib/modules/$r/modules.dep 2>/dev/null); echo "$m builtin=$b module=$f"; done',
    ),
    "initramfs_hv": (
        True,
        'r=$(uname -r); grep -q "/hv_storvsc.ko" /lib/modules/$r/modules.builtin 2>/dev/null && '
        "{ echo builtin; exit 0; }; "
        'for i in /boot/initrd.img-$r /boot/initramfs-$r.img /boot/initrd-$r; do [ -f "$i" ] || continue; '
        'echo "image $i"; if command -v lsinitramfs >/dev/null; then lsinitramfs "$i"; '
        'elif command -v lsinitrd >/dev/null; then lsinitrd "$i"; fi | grep -oE "hv_[a-z_]+\\.ko" | sort -u; '
        "break; done",
    ),
    "openssl": (False, "openssl version"),
    "glibc": (False, "getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>&1 | head -n 1"),
    "kernel_changelog": (
        False,
        'r=$(uname -r); [ "${r%%.*}" -ge 4 ] && { echo "mainline ${r}"; exit 0; }; '
        "{ zcat /usr/share/doc/linux-image-$r/changelog.Debian.gz 2>/dev/null; "
        "rpm -q --changelog kernel-$r 2>/dev/null; } | grep -i 'in-transit packets' | head -n 3; true",
    ),
    # ssh (LNX-014/015)
    "sshd": (
        False,
        "command -v sshd || ls /usr/sbin/sshd; for u in ssh sshd ssh.socket sshd.socket; do "
        'echo "unit $u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done; true',
    ),
    "sshd_effective": (True, "sshd -T 2>&1 || /usr/sbin/sshd -T 2>&1"),
    # network (LNX-016..020)
    "network_services": (
        False,
        "for u in NetworkManager networking network wicked systemd-networkd firewalld ufw; do "
        'echo "unit $u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done; '
        "for c in ifup ifdown dhclient nmcli netplan wicked; do "
        'echo "command $c $(command -v $c)"; done; '
        # RHEL 8+: /usr/sbin/ifup may be NetworkManager's nm-ifup wrapper, not network-scripts
        'echo "resolved ifup $(readlink -f "$(command -v ifup)" 2>/dev/null)"; '
        "[ -e /etc/sysconfig/network-scripts/ifup-eth ] && echo 'legacy network-scripts'; true",
    ),
    "network_config": (
        False,
        _cat(
            "/etc/network/interfaces",
            "/etc/network/interfaces.d/*",
            "/run/network/interfaces.d/*",
            "/etc/sysconfig/network-scripts/ifcfg-*",
            "/etc/sysconfig/network-scripts/route-*",
            "/etc/sysconfig/network-scripts/route6-*",
            "/etc/sysconfig/network/ifcfg-*",
            "/etc/sysconfig/network/routes",
            "/etc/sysconfig/network/ifroute-*",
            "/etc/sysconfig/network/config",
            "/etc/netplan/*.yaml",
            "/etc/systemd/network/*.network",
            "/etc/dhcp/dhclient.conf",
            "/etc/dhcp/dhclient-*.conf",
            "/etc/dhclient.conf",
            "/etc/systemd/resolved.conf",
            "/etc/systemd/resolved.conf.d/*.conf",
            "/etc/sysconfig/network",
            "/etc/NetworkManager/NetworkManager.conf",
            "/etc/NetworkManager/conf.d/*.conf",
        ),
    ),
    "nm_connections": (True, _cat("/etc/NetworkManager/system-connections/*")),
    "resolv_conf": (
        False,
        'echo "link $(readlink /etc/resolv.conf)"; '
        "lsattr -d /etc/resolv.conf 2>/dev/null | awk '{print \"attrs \" $1}'; "
        "echo '### /etc/resolv.conf'; cat /etc/resolv.conf; true",
    ),
    # LNX-019: DNS servers the DHCP leases handed out, to tell resolv.conf written by the client
    "dhcp_dns": (
        False,
        "echo leases; rc=0; for f in /var/lib/dhcp/*.lease* /var/lib/dhclient/*.lease* "
        "/var/lib/NetworkManager/*.lease /run/systemd/netif/leases/*; do [ -f \"$f\" ] || continue; "
        "if [ -r \"$f\" ]; then sed -n -e 's/^[[:space:]]*option domain-name-servers \\(.*\\);.*/lease_dns \\1/p' "
        "-e 's/^DNS=/lease_dns /p' \"$f\" || rc=1; else echo \"lease_unreadable $f\"; fi; done; exit $rc",
    ),
    "ip_state": (
        False,
        "echo '## addr'; ip -o addr show; echo '## route'; ip -o route show; echo '## route6'; "
        "ip -o -6 route show; echo '## link'; ip -o link show",
    ),
    # firewall (LNX-024)
    "firewall": (
        True,
        "echo \"## iptables $(command -v iptables)\"; echo '## iptables-save'; iptables-save 2>&1; "
        "echo '## ip6tables-save'; ip6tables-save 2>&1; echo '## nft'; command -v nft >/dev/null && nft list ruleset 2>&1; "
        "echo '## ufw'; cat /etc/ufw/ufw.conf 2>/dev/null; true",
    ),
    # updates (LNX-021)
    "security_updates": (
        True,
        "if command -v apt-get >/dev/null; then echo manager apt; "
        'echo "lists $(ls /var/lib/apt/lists/ 2>/dev/null | grep -c _Packages)"; '
        "grep -h -E '^[^#]*(deb|URIs|Suites)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list "
        "/etc/apt/sources.list.d/*.sources 2>/dev/null | sed 's/^/source /'; "
        # dist-upgrade: a kernel security fix comes as a new package that plain upgrade keeps back
        "timeout 120 apt-get -s -o Debug::NoLocking=1 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= "
        "dist-upgrade 2>&1 | grep '^Inst '; "
        "elif command -v dnf >/dev/null; then echo manager dnf; timeout 120 dnf -C -q updateinfo list --security 2>&1; "
        'echo "rc $?"; '
        "elif command -v yum >/dev/null; then echo manager yum; timeout 120 yum -C -q updateinfo list security 2>&1; "
        'echo "rc $?"; '
        "elif command -v zypper >/dev/null; then echo manager zypper; "
        'timeout 120 zypper --no-refresh -q list-patches --category security 2>&1; echo "rc $?"; fi; true',
    ),
    # accounts and history (LNX-022/023)
    "passwd": (False, "cat /etc/passwd"),
    # Password hashes never leave the VM: "!$6$salt$hash" -> "!HASH", DES -> "HASH";
    # "!", "!!", "*", "!*" and "" (deleted) stay as they are.
    "shadow": (
        True,
        "cut -d: -f1,2 /etc/shadow | sed -E 's/^([^:]*):([!*]*)(\\$[^$]*\\$)?[^!*].*$/\\1:\\2\\3HASH/'",
    ),
    "home_files": (
        True,
        'cut -d: -f6 /etc/passwd | sort -u | while read h; do [ -d "$h" ] || continue; '
        "for f in .bash_history .zsh_history .history .sh_history .ksh_history .ash_history "
        ".local/share/fish/fish_history .python_history .lesshst .mysql_history .psql_history .sqlite_history "
        ".ssh/authorized_keys .ssh/authorized_keys2; do "
        '[ -e "$h/$f" ] && stat -c "%s %Y %U %n" "$h/$f"; done; '
        # keys that log in: not comments, not forced commands (cloud-init's disable_root stub)
        'for f in .ssh/authorized_keys .ssh/authorized_keys2; do [ -f "$h/$f" ] || continue; '
        'n=$(grep -cvE \'^[[:space:]]*(#|$)|command=\' "$h/$f"); echo "usable $n $h/$f"; done; done; true',
    ),
    # LNX-022: every file sshd's AuthorizedKeysFile names, per account ("akf PATTERNS",
    # "keysfile USER PATH", "key LINE" with the key material replaced by KEY)
    "authorized_keys": (
        True,
        "if command -v sshd >/dev/null; then t=$(sshd -T 2>/dev/null); "
        "akf=$(printf '%s\\n' \"$t\" | sed -n 's/^authorizedkeysfile //p'); "
        "akc=$(printf '%s\\n' \"$t\" | sed -n 's/^authorizedkeyscommand //p'); "
        "[ -n \"$akf\" ] || { echo 'akf ?'; exit 2; }; else echo 'akf none (sshd not installed)'; exit 0; fi; "
        'echo "akf $akf"; echo "akc $akc"; set -f; rc=0; '
        'while IFS=: read -r u _ uid _ _ h _; do for p in $akf; do [ "$p" = none ] && continue; '
        'f=$(printf "%s" "$p" | sed -e "s|%h|$h|g" -e "s|%u|$u|g" -e "s|%U|$uid|g" -e "s|%%|%|g"); '
        'case "$f" in /*) ;; *) f="$h/$f";; esac; [ -f "$f" ] || continue; '
        'if [ -r "$f" ]; then echo "keysfile $u $f"; grep -vE "^[[:space:]]*(#|$)" "$f" | '
        "sed -E -e 's#((ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)[[:space:]]+[A-Za-z0-9+/=]+.*$#\\1 KEY#' -e 's/^/key /'; "
        'else echo "keysfile_unreadable $f"; rc=1; fi; done; done </etc/passwd; exit $rc',
    ),
    # generalization residue (LNX-026)
    "residue": (
        True,
        'echo "hostname_file $(cat /etc/hostname 2>/dev/null)"; echo "hostname_now $(uname -n)"; '
        "for f in /var/lib/waagent/provisioned /var/lib/waagent/ovf-env.xml /var/lib/cloud/instance; do "
        '[ -e "$f" ] && stat -c "marker %Y %n" "$f"; done; '
        "for f in /var/lib/dhcp/*.lease* /var/lib/dhclient/*.lease* /var/lib/NetworkManager/*.lease "
        "/var/lib/wicked/lease-* /run/systemd/netif/leases/*; do "
        '[ -f "$f" ] && stat -c "lease %Y %s %n" "$f"; done; '
        'for f in /etc/ssh/ssh_host_*_key; do [ -f "$f" ] && stat -c "hostkey %Y %n" "$f"; done; true',
    ),
}

_ROOT_NOTE = "needs root: sudo -n failed"


@dataclass(frozen=True)
class Section:
    rc: int
    text: str


@dataclass
class LinuxFacts:
    """Raw section outputs of one VM plus parsers the checks use."""

    sections: dict[str, Section]
    privileged: bool = True
    sudo_error: str = ""
    admin_user: str = ""
    commands_run: int = 0
    meta: dict = field(default_factory=dict)

    # -- recording -------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "privileged": self.privileged,
            "sudo_error": self.sudo_error,
            "admin_user": self.admin_user,
            "meta": self.meta,
            "sections": {name: {"rc": s.rc, "text": s.text} for name, s in sorted(self.sections.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> LinuxFacts:
        return cls(
            sections={name: Section(s["rc"], s["text"]) for name, s in data["sections"].items()},
            privileged=data.get("privileged", True),
            sudo_error=data.get("sudo_error", ""),
            admin_user=data.get("admin_user", ""),
            meta=data.get("meta", {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> LinuxFacts:
        return cls.from_json(json.loads(Path(path).read_text()))

    # -- access ----------------------------------------------------------
    def section(self, name: str) -> str:
        """The text of a section, or FactError when it could not be read."""
        section = self.raw(name)
        if section.rc != 0:
            raise FactError(f"reading {name.replace('_', ' ')} failed on the VM (exit {section.rc})")
        return section.text

    def files(self, name: str) -> dict[str, str]:
        """A section made of ``### path`` headers followed by file contents; a file that
        exists but could not be read is a FactError (never a silent absence)."""
        found = split_files(self.section(name))
        unreadable = [path for path, text in found.items() if text == UNREADABLE]
        if unreadable:
            why = f"sudo -n failed: {self.sudo_error}" if not self.privileged else "permission denied"
            raise FactError(f"cannot read {', '.join(unreadable)} ({why})")
        return found

    @property
    def os_release(self) -> dict[str, str]:
        return parse_os_release(self.section("os_release"))

    @property
    def distro_family(self) -> str:
        """``debian``, ``rhel``, ``suse`` or ``other``, from os-release ID and ID_LIKE."""
        release = self.os_release
        ids = {release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()}
        if ids & {"debian", "ubuntu"}:
            return "debian"
        if ids & {"rhel", "centos", "fedora", "rocky", "almalinux", "ol", "scientific"}:
            return "rhel"
        if ids & {"suse", "sles", "opensuse", "opensuse-leap", "sle_hpc"}:
            return "suse"
        return "other"

    @property
    def kernel_cmdline(self) -> list[str]:
        return self.section("proc_cmdline").split()

    def boot_loader_lines(self) -> dict[str, list[str]]:
        """The persisted kernel lines, by where they live.

        Keys name the file (and entry); values are the kernel parameters the next
        boot would get from that source.
        """
        found: dict[str, list[str]] = {}
        # grub-mkconfig sources /etc/default/grub, then /etc/default/grub.d/*.cfg in
        # order: later files may extend earlier values ("$GRUB_CMDLINE_LINUX_DEFAULT ...").
        defaults = self.files("default_grub")
        if defaults:
            variables: dict[str, str] = {}
            for path in sorted(defaults, key=lambda p: (p != "/etc/default/grub", p)):
                variables = parse_shell_assignments(defaults[path], variables)
            keys = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")
            if any(key in variables for key in keys):
                where = "/etc/default/grub" + (" (with grub.d)" if len(defaults) > 1 else "")
                found[where] = [param for key in keys for param in variables.get(key, "").split()]
        grubenv = {}
        for text in self.files("grubenv").values():
            grubenv.update(parse_shell_assignments(text))
        for path, text in self.files("grub_cfg").items():
            line = default_grub_cfg_kernel_line(text)
            if line is not None:
                found[path] = expand_grub_vars(line, grubenv)
        entries = self.files("bls_entries")
        default = default_bls_entry(entries, grubenv.get("saved_entry", ""))
        if default is not None:
            options = parse_bls_options(entries[default])
            if options is not None:
                found[default] = expand_grub_vars(options, grubenv)
        for path, text in self.files("extlinux").items():
            line = default_extlinux_append(text)
            if line is not None:
                found[path] = line
        return found

    # -- derived facts used by several checks ------------------------------
    def raw(self, name: str) -> Section:
        """A section with its exit code, for checks where "absent" is an answer."""
        if name not in self.sections:
            raise FactError(f"fact {name!r} was not collected")
        needs_root = SECTIONS.get(name, (False, ""))[0]
        if needs_root and not self.privileged:
            raise FactError(f"reading {name.replace('_', ' ')} {_ROOT_NOTE} ({self.sudo_error or 'no sudo'})")
        return self.sections[name]

    def block_devices(self) -> dict[str, BlockDevice]:
        blkid = self.raw("blkid").text if self.privileged else ""
        return parse_block_devices(self.section("sys_block"), self.raw("lsblk").text, blkid)

    def mounts(self) -> list[MountEntry]:
        return parse_mounts(self.section("mounts"))

    def fstab(self) -> list[MountEntry]:
        return parse_mounts(self.raw("fstab").text)

    def disk_of(self, devices: dict[str, BlockDevice], name: str, depth: int = 0) -> set[str]:
        """The physical disk(s) under a partition or device-mapper device."""
        device = devices.get(name)
        if device is None or depth > 8:
            return set()
        if device.kind == "disk":
            return {name}
        if device.kind == "part":
            return {device.parent}
        return (
            set().union(*(self.disk_of(devices, s, depth + 1) for s in device.slaves))
            if device.slaves
            else set()
        )

    def root_device(self, devices: dict[str, BlockDevice]) -> str:
        """Kernel name of the device mounted at ``/``."""
        for device in devices.values():
            if device.mountpoint == "/":
                return device.name
        for entry in self.mounts():
            if entry.mountpoint == "/" and entry.device.startswith("/dev/"):
                name = entry.device.removeprefix("/dev/")
                if name in devices:
                    return name
                if name.startswith("mapper/"):
                    for device in devices.values():
                        if device.dm_name == name[7:]:
                            return device.name
        raise FactError(
            "cannot tell which block device holds / (no lsblk MOUNTPOINT, no /dev entry in mounts)"
        )

    def os_disk(self, devices: dict[str, BlockDevice]) -> str:
        disks = self.disk_of(devices, self.root_device(devices))
        if len(disks) != 1:
            raise FactError(f"/ spans {len(disks)} disks ({', '.join(sorted(disks)) or 'none found'})")
        return disks.pop()

    def resource_disk(self, devices: dict[str, BlockDevice]) -> str | None:
        """The Azure temporary disk: /dev/disk/azure/resource, or the disk mounted at /mnt/resource."""
        for line in self.raw("disk_links").text.splitlines():
            link, _, target = line.partition(" ")
            if link.rstrip("/").endswith("/azure/resource"):
                return target.strip().removeprefix("/dev/")
        for device in devices.values():
            if device.mountpoint in ("/mnt/resource", "/mnt") and device.kind == "part":
                return device.parent
        return None

    def physical_disks(self, devices: dict[str, BlockDevice]) -> list[BlockDevice]:
        return [
            d
            for d in devices.values()
            if d.kind == "disk" and not _VIRTUAL_DISKS.match(d.name) and not d.removable and d.size_bytes > 0
        ]

    def waagent_conf(self) -> dict[str, str] | None:
        section = self.raw("waagent_conf")
        return parse_key_values(section.text) if section.rc == 0 else None

    def packages(self) -> dict[str, str]:
        return parse_packages(self.raw("packages").text)

    def units(self, section: str) -> dict[str, tuple[str, str]]:
        return parse_units(self.raw(section).text)

    @property
    def is_el7(self) -> bool:
        release = self.os_release
        ids = {release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()}
        return bool(ids & {"rhel", "centos", "ol", "scientific"}) and release.get(
            "VERSION_ID", ""
        ).startswith("7")


# -- collection ------------------------------------------------------------


def collection_script(sections: dict[str, tuple[bool, str]], nonce: str) -> str:
    """One sh script printing every section between markers carrying ``nonce``."""
    parts = ["export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    for name, (_, snippet) in sections.items():
        parts.append(f"echo '@@{nonce} begin {name}'")
        parts.append(f"( {snippet} ) 2>/dev/null </dev/null; rc=$?")
        parts.append(f'echo; echo "@@{nonce} end {name} $rc"')
    return "\n".join(parts) + "\n"


def parse_collection(output: str, nonce: str) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    pattern = re.compile(rf"^@@{nonce} begin (\S+)\n(.*?)\n?\n@@{nonce} end \1 (\d+)$", re.M | re.S)
    for match in pattern.finditer(output):
        sections[match.group(1)] = Section(int(match.group(3)), match.group(2))
    return sections


def gather(
    connection,
    admin_user: str = "",
    timeout: float = 600.0,
    sudo_password: str | None = None,
    sudo_password_hint: str = "",
    sections: dict[str, tuple[bool, str]] | None = None,
) -> LinuxFacts:
    """Collect every section from a live VM in one SSH command (two without root).

    Root runs the script as is (no sudo needed); another account uses ``sudo -n``, or
    ``sudo -S`` with ``sudo_password`` on stdin (never on a command line). When sudo
    refuses, the script runs unprivileged and the sections needing root are errors.
    ``sections`` (default :data:`SECTIONS`) lets tests collect a few sections only."""
    nonce = secrets.token_hex(8)
    script = collection_script(SECTIONS if sections is None else sections, nonce)
    # stdin holds the password only for sudo -S; every other path runs with </dev/null
    asking = "exec sudo -S -p '' -- sh -c \"$s\"" if sudo_password else "exec sudo -n -- sh -c \"$s\" </dev/null"
    command = (
        f"s={shlex.quote(script)}; "
        'if [ "$(id -u)" = 0 ]; then exec sh -c "$s" </dev/null; fi; '
        'if sudo -n true </dev/null 2>/dev/null; then exec sudo -n -- sh -c "$s" </dev/null; fi; '
        f"{asking}"
    )
    stdin = (sudo_password + "\n").encode() if sudo_password else None
    result = connection.run(command, timeout=timeout, stdin=stdin)
    privileged = True
    sudo_error = ""
    if f"@@{nonce} begin" not in result.text:
        privileged = False
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["sudo failed"]
        sudo_error = lines[0][:200]
        if sudo_password:
            sudo_error = sudo_error.replace(sudo_password, "***")
        elif "password" in sudo_error.lower() and sudo_password_hint:
            sudo_error += f" ({sudo_password_hint})"
        result = connection.run(f"sh -c {shlex.quote(script)}", timeout=timeout)
    sections = parse_collection(result.text, nonce)
    if not sections:
        raise FactError(
            f"the fact collection script produced no output (exit {result.rc}); is /bin/sh usable?"
        )
    return LinuxFacts(
        sections=sections,
        privileged=privileged,
        sudo_error=sudo_error,
        admin_user=admin_user,
        commands_run=connection.commands_run,
    )


# -- parsers (pure) --------------------------------------------------------


UNREADABLE = "\0unreadable"


def split_files(text: str) -> dict[str, str]:
    """``### /path`` sections -> {path: content}; ``### ! /path`` (exists, unreadable)
    maps to :data:`UNREADABLE`."""
    files: dict[str, str] = {}
    current = None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith("### ! /"):
            if current is not None:
                files[current] = "\n".join(lines)
            files[line[6:]] = UNREADABLE
            current, lines = None, []
        elif line.startswith("### /"):
            if current is not None:
                files[current] = "\n".join(lines)
            current, lines = line[4:], []
        elif current is not None:
            lines.append(line)
    if current is not None:
        files[current] = "\n".join(lines)
    return files


def parse_os_release(text: str) -> dict[str, str]:
    return parse_shell_assignments(text)


_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_shell_assignments(text: str, earlier: dict[str, str] | None = None) -> dict[str, str]:
    """``KEY=value`` lines as a shell would read them (quotes, ``$KEY`` of earlier lines)."""
    values: dict[str, str] = dict(earlier or {})
    for line in text.splitlines():
        match = _ASSIGN.match(line)
        if not match:
            continue
        key, raw = match.groups()
        try:
            words = shlex.split(raw, comments=True, posix=True)
        except ValueError:
            words = [raw.strip().strip("\"'")]
        value = " ".join(words)
        value = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: values.get(m.group(1), ""), value)
        values[key] = value.strip()
    return values


def default_grub_cfg_kernel_line(text: str) -> list[str] | None:
    """Kernel parameters of the default (first) menu entry of a grub.cfg."""
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0] in ("linux", "linux16", "linuxefi"):
            return words[2:]
    return None


def default_bls_entry(entries: dict[str, str], saved_entry: str = "") -> str | None:
    """The BLS entry GRUB boots: grubenv's saved_entry, else the newest non-rescue one."""
    if not entries:
        return None
    for path in entries:
        if saved_entry and path.rsplit("/", 1)[-1].removesuffix(".conf") == saved_entry:
            return path
    candidates = [p for p in entries if "rescue" not in p.rsplit("/", 1)[-1]] or list(entries)

    def version_key(path: str) -> list:
        version = re.search(r"^version\s+(\S+)", entries[path], re.M)
        text = version.group(1) if version else path
        return [int(x) if x.isdigit() else x for x in re.split(r"[.\-_+]", text)]

    try:
        return max(candidates, key=version_key)
    except TypeError:  # mixed int/str components: fall back to the file name
        return max(candidates)


def parse_bls_options(text: str) -> list[str] | None:
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0] == "options":
            return words[1:]
    return None


def default_extlinux_append(text: str) -> list[str] | None:
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0].lower() == "append":
            return words[1:]
    return None


def expand_grub_vars(params: list[str], variables: dict[str, str]) -> list[str]:
    """Expand ``$kernelopts`` and similar grub environment variables."""
    expanded: list[str] = []
    for param in params:
        match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", param)
        if match:
            expanded += variables.get(match.group(1), "").split()
        else:
            expanded.append(param)
    return expanded


# -- block devices ---------------------------------------------------------

_VIRTUAL_DISKS = re.compile(r"^(loop|ram|sr|dm-|zram|md|nbd|fd|zd)")
SWAP_TYPES = {"0x82", "82", "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"}
LVM_TYPES = {"0x8e", "8e", "e6d6d379-f507-44c2-a23c-238f2a3df928"}
BOOT_TYPES = {
    "0xef": "EFI system",
    "ef": "EFI system",
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI system",
    "21686148-6449-6e6f-744e-656564454649": "BIOS boot",
}


@dataclass
class BlockDevice:
    """A disk, partition or device-mapper device, from sysfs, lsblk and blkid."""

    name: str
    kind: str  # disk | part | dm
    size_bytes: int = 0
    parent: str = ""
    start_sector: int = 0
    removable: bool = False
    dm_name: str = ""
    dm_uuid: str = ""
    slaves: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    fstype: str = ""
    parttype: str = ""
    mountpoint: str = ""
    uuid: str = ""
    partuuid: str = ""
    label: str = ""

    @property
    def size_gib(self) -> float:
        return self.size_bytes / 2**30

    @property
    def is_swap(self) -> bool:
        return self.fstype == "swap" or self.parttype.lower() in SWAP_TYPES

    @property
    def is_lvm_pv(self) -> bool:
        return self.fstype == "LVM2_member" or self.parttype.lower() in LVM_TYPES


def _kv_pairs(line: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r'([A-Z_:]+)="([^"]*)"', line)}


def parse_block_devices(sys_block: str, lsblk: str = "", blkid: str = "") -> dict[str, BlockDevice]:
    devices: dict[str, BlockDevice] = {}
    for line in sys_block.splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        attrs = dict(w.split("=", 1) for w in words[2:] if "=" in w)
        name = words[1]
        sectors = int(attrs.get("size") or 0)
        if words[0] == "disk":
            kind = "dm" if name.startswith("dm-") else "disk"
            devices[name] = BlockDevice(
                name,
                kind,
                sectors * 512,
                removable=attrs.get("removable") == "1",
                dm_name=attrs.get("dm", ""),
                dm_uuid=attrs.get("dmuuid", ""),
                slaves=[s for s in attrs.get("slaves", "").split(",") if s],
            )
        elif words[0] == "part":
            devices[name] = BlockDevice(
                name,
                "part",
                sectors * 512,
                parent=attrs.get("disk", ""),
                start_sector=int(attrs.get("start") or 0),
                holders=[h for h in attrs.get("holders", "").split(",") if h],
            )
    for line in lsblk.splitlines():
        row = _kv_pairs(line)
        device = devices.get(row.get("KNAME", ""))
        if device is None:
            continue
        device.fstype = device.fstype or row.get("FSTYPE", "")
        device.parttype = device.parttype or row.get("PARTTYPE", "")
        device.mountpoint = device.mountpoint or row.get("MOUNTPOINT", "")
        device.uuid = device.uuid or row.get("UUID", "")
        device.partuuid = device.partuuid or row.get("PARTUUID", "")
        device.label = device.label or row.get("LABEL", "")
    for line in blkid.splitlines():
        path, _, rest = line.partition(":")
        row = _kv_pairs(rest)
        name = path.strip().removeprefix("/dev/")
        device = devices.get(name)
        if device is None and name.startswith("mapper/"):
            device = next((d for d in devices.values() if d.dm_name == name[7:]), None)
        if device is None:
            continue
        device.fstype = row.get("TYPE", device.fstype)
        device.uuid = row.get("UUID", device.uuid)
        device.partuuid = row.get("PARTUUID", device.partuuid)
        device.label = row.get("LABEL", device.label)
    return devices


@dataclass(frozen=True)
class MountEntry:
    device: str
    mountpoint: str
    fstype: str
    options: str


def parse_mounts(text: str) -> list[MountEntry]:
    entries = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 4 and not line.lstrip().startswith("#"):
            entries.append(MountEntry(words[0], words[1].replace("\\040", " "), words[2], words[3]))
    return entries


def parse_key_values(text: str, separator: str = "=") -> dict[str, str]:
    """``Key=Value`` lines (waagent.conf); comments and blank lines ignored, last wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or separator not in line:
            continue
        key, _, value = line.partition(separator)
        values[key.strip()] = value.split("#", 1)[0].strip()
    return values


def parse_units(text: str) -> dict[str, tuple[str, str]]:
    """``unit NAME ENABLED ACTIVE`` lines -> {name: (enabled, active)}; either may be empty
    (a unit that does not exist prints nothing for is-enabled)."""
    units = {}
    for line in text.splitlines():
        words = line.rstrip().split(" ")
        if len(words) >= 2 and words[0] == "unit":
            enabled = words[2] if len(words) > 2 else ""
            active = words[3] if len(words) > 3 else ""
            units[words[1]] = (enabled, active)
    return units


def parse_packages(text: str) -> dict[str, str]:
    """Installed packages among the ones asked for: {name: version}."""
    packages = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and ("installed" in parts[2] and "not-installed" not in parts[2]):
            if "deinstall" in parts[2] or "config-files" in parts[2]:
                continue
            packages[parts[0]] = parts[1]
    return packages


def version_tuple(text: str) -> tuple[int, ...]:
    """Leading numeric components of a version ("3.0.15" -> (3, 0, 15), "1.0.2k" -> (1, 0, 2))."""
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    return tuple(int(x) for x in match.group(0).split(".")) if match else ()
