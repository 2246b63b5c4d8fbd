"""Facts about a running Linux VM, gathered by one read-only shell script.

Every section is a small POSIX ``sh`` snippet whose stdout is kept verbatim. All
sections run in **one** SSH command, under ``sudo -n`` when the account may; without
sudo the script still runs and the sections that need root say so, so only the checks
that need them error. Nothing here writes on the VM.

Error model: each section runs under its own deadline (``timeout``) with its output
capped, and records its exit status, byte count and time. Exit 0 means "looked";
:data:`ABSENT_RC` means "looked, not there"; anything else, a timeout, a cut or an
altered text means "could not look". :meth:`LinuxFacts.fact` gives a :class:`Fact`
(value / absent / unreadable with the reason); ``section``/``files``/``raw`` raise
FactError for what could not be read, so a check errors instead of passing.

Checks never see the shell: they read the parsed properties of
:class:`LinuxFacts`, which can be recorded to JSON from a real VM and replayed
in tests.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_vmimage.facts.boot_entries import (
    GRUB_CFG_PATHS,
    GRUBENV_PATHS,
    BootEntry,
    all_kernel_params,
    default_entries,
)
from pytest_vmimage.facts.fact import Fact
from pytest_vmimage.facts.image_files import (  # noqa: F401 - parse_shell_assignments: used by linux_network/system
    ALL_HISTORIES,
    LEASE_DIRS,
    parse_shell_assignments,
    parse_waagent_conf,
)
from pytest_vmimage.facts.linux_parsers import (
    HomeFile,
    PendingUpdates,
    PolicyRow,
    Residue,
    parse_active_swaps,
    parse_agent_python,
    parse_apt_policy,
    parse_home_files,
    parse_initramfs_modules,
    parse_kernel_modules,
    parse_pending_updates,
    parse_residue,
    parse_unit_states,
)
from pytest_vmimage.verdict import FactError

# A section's exit status: 0 = looked and printed what is there (possibly nothing);
# ABSENT_RC = looked, the thing is not there; anything else = could not look.
ABSENT_RC = 99
# A section printing more than this is cut and unreadable ("output cut at 10 MiB").
OUTPUT_CAP = 10 * 2**20


def _cat(*paths: str) -> str:
    """Print each existing file under a ``### path`` header (globs allowed). A file or a
    searched directory that exists but cannot be read is marked ``### ! path`` (unreadable,
    never an absence); a read error makes the section fail."""
    joined = " ".join(paths)
    dirs = sorted({p.rsplit("/", 1)[0] for p in paths if "*" not in p.rsplit("/", 1)[0]})
    checks = "".join(
        f'if [ -d {d} ] && ! {{ [ -r {d} ] && [ -x {d} ]; }}; then echo "### ! {d}/"; fi; ' for d in dirs
    )
    return (
        f'rc=0; {checks}for f in {joined}; do if [ -f "$f" ]; then '
        'if [ -r "$f" ]; then echo "### $f"; '
        # a line of the file that looks like a header gets one more backslash (escape_file_text)
        "sed 's/^\\\\*###/\\\\&/' \"$f\" || rc=1; "
        'echo; else echo "### ! $f"; fi; fi; done; exit $rc'
    )


def _units(*names: str) -> str:
    """``unit NAME ENABLED ACTIVE`` lines; without systemctl the section fails (exit 127)."""
    return (
        "command -v systemctl >/dev/null || { echo 'no systemctl'; exit 127; }; "
        f"for u in {' '.join(names)}; do "
        'echo "unit $u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done'
    )


def _home_files() -> str:
    """For every home directory: histories and authorized_keys as ``SIZE MTIME OWNER PATH``
    (in a shell user's home also any ``.*sh_history``/``.history`` file 4 levels deep)
    (lstat), a symlink also as ``link<TAB>TARGET_SIZE<TAB>PATH<TAB>TARGET`` (``stat -L``;
    ``-`` when the target cannot be resolved), ``usable N PATH``: key lines that log in, and
    last ``homes N``: how many home directories were looked at (its absence: output incomplete)."""
    names = " ".join((*ALL_HISTORIES, ".ssh/authorized_keys", ".ssh/authorized_keys2"))
    return (
        # each home once, "1:" when one of its users has a shell ending in sh (LISA's users)
        "[ -r /etc/passwd ] || exit 2; awk -F: '{ s[$6] = s[$6] || $7 ~ /sh$/ } END { for (h in s) print s[h] \":\" h }' "
        "/etc/passwd | sort -u | { rc=0; k=0; while IFS=: read -r l h; do "
        '[ -d "$h" ] || continue; '
        f'for f in {names}; do p="$h/$f"; '
        'if [ -L "$p" ]; then t=$(readlink "$p") || rc=1; z=$(stat -L -c %s "$p" 2>/dev/null) || z=-; '
        'printf \'link\\t%s\\t%s\\t%s\\n\' "$z" "$p" "$t"; fi; '
        'if [ -e "$p" ] || [ -L "$p" ]; then stat -c "%s %Y %U %n" "$p" || rc=1; fi; done; '
        # LISA verify_bash_history_is_empty: any .*sh_history or .history file below a shell user's home
        # (bounded: 4 levels, this file system)
        'if [ "$l" = 1 ]; then case "$h" in /|/proc|/sys|/dev) ;; *) find "$h" -xdev -maxdepth 4 '
        '\\( -name ".*sh_history" -o -name .history \\) -type f -exec stat -c "%s %Y %U %n" {} + || rc=1;; esac; fi; '
        # keys that log in: not comments, not forced commands (cloud-init's disable_root stub)
        'for f in .ssh/authorized_keys .ssh/authorized_keys2; do [ -f "$h/$f" ] || continue; '
        "n=$(grep -cvE '^[[:space:]]*(#|$)|command=' \"$h/$f\"); [ $? -le 1 ] || rc=1; "
        'echo "usable $n $h/$f"; done; k=$((k+1)); done; echo "homes $k"; exit $rc; }'
    )


_LEASE_GLOBS = " ".join(f"{d}/*" for d in LEASE_DIRS)
# distribution release files read where os-release is absent (EL6), most specific first
RELEASE_FILES = ("/etc/centos-release", "/etc/oracle-release", "/etc/redhat-release", "/etc/system-release")

# name -> (needs root, snippet). Snippets print raw files or command output;
# parsing happens in Python. Keep them read-only, POSIX sh, and cheap: on a
# TCG test VM each process start costs ~0.1-0.4 s (NOTES.md); shell builtins
# (read, case, for) cost nothing. Every snippet ends with a meaningful status.
SECTIONS: dict[str, tuple[bool, str]] = {
    # identity and time
    # EL6 has no os-release: its release file, under a "### PATH" header (parse_os_release)
    "os_release": (
        False,
        "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || { "
        f"for f in {' '.join(RELEASE_FILES)}; do "
        'if [ -e "$f" ]; then echo "### $f"; cat "$f"; exit $?; fi; done; exit 1; }',
    ),
    "uname": (False, "uname -m && uname -r && uname -n"),
    "times": (
        False,
        'date +%s || exit $?; while read -r k v; do if [ "$k" = btime ]; then echo "$v"; fi; done </proc/stat',
    ),
    # boot line (LNX-013)
    "proc_cmdline": (False, "cat /proc/cmdline"),
    "default_grub": (False, _cat("/etc/default/grub", "/etc/default/grub.d/*.cfg")),
    # grub.cfg files and the custom.cfg they source (facts/boot_entries.py)
    "grub_cfg": (True, _cat(*GRUB_CFG_PATHS)),
    "grubenv": (True, _cat(*GRUBENV_PATHS)),
    "bls_entries": (True, _cat("/boot/loader/entries/*.conf")),
    "extlinux": (False, _cat("/boot/extlinux/extlinux.conf", "/boot/syslinux/syslinux.cfg")),
    # disks (LNX-001/002/010/011/012); sysfs read with the read builtin
    "sys_block": (
        False,
        'rc=0; for d in /sys/block/*; do [ -e "$d/size" ] || continue; n=${d##*/}; '
        'read -r s <"$d/size" || rc=1; r=; read -r r <"$d/removable" 2>/dev/null; o=; read -r o <"$d/ro" 2>/dev/null; '
        'm=; read -r m <"$d/dm/name" 2>/dev/null; u=; read -r u <"$d/dm/uuid" 2>/dev/null; '
        'sl=; for x in "$d"/slaves/*; do if [ -e "$x" ]; then sl="$sl${x##*/},"; fi; done; '
        'echo "disk $n size=$s removable=$r ro=$o dm=$m dmuuid=$u slaves=$sl"; '
        'for p in "$d/$n"*; do [ -f "$p/partition" ] || continue; read -r a <"$p/start" || rc=1; '
        'read -r z <"$p/size" || rc=1; hl=; for x in "$p"/holders/*; do if [ -e "$x" ]; then hl="$hl${x##*/},"; fi; done; '
        'echo "part ${p##*/} disk=$n start=$a size=$z holders=$hl"; done; done; exit $rc',
    ),
    "lsblk": (
        False,
        "lsblk -b -P -o NAME,KNAME,PKNAME,TYPE,SIZE,FSTYPE,MOUNTPOINT,PARTTYPE,UUID,PARTUUID,LABEL 2>/dev/null"
        " || lsblk -b -P -o NAME,KNAME,TYPE,SIZE,FSTYPE,MOUNTPOINT",
    ),
    "blkid": (True, "blkid -c /dev/null -o full 2>/dev/null || blkid -c /dev/null"),
    "disk_links": (
        False,
        "rc=0; for l in /dev/disk/azure/* /dev/disk/azure/*/* /dev/disk/by-id/*; do "
        'if [ -e "$l" ]; then t=$(readlink -f "$l") || rc=1; echo "$l $t"; fi; done; exit $rc',
    ),
    "mounts": (False, "cat /proc/self/mounts"),
    "fstab": (False, f"[ -e /etc/fstab ] || exit {ABSENT_RC}; cat /etc/fstab"),
    "swaps": (False, "cat /proc/swaps"),
    # hand-written swap units (masked ones, links to /dev/null, cannot start)
    "swap_units": (
        False,
        "for f in /etc/systemd/system/*.swap /etc/systemd/system/*/*.swap; do "
        'if [ -e "$f" ] && [ ! -c "$f" ]; then echo "$f"; fi; done',
    ),
    # agent (LNX-003/004/005/007/008/025)
    "agent": (
        False,
        'if w=$(command -v waagent); then echo "$w"; read -r sb <"$w"; echo "shebang $sb"; fi; '
        + _units("walinuxagent", "waagent"),
    ),
    "agent_version": (
        False,
        f"w=$(command -v waagent) || exit {ABSENT_RC}; "
        'v=$(PYTHONDONTWRITEBYTECODE=1 "$w" --version 2>&1); r=$?; printf "%s\\n" "$v"; exit $r',
    ),
    "waagent_conf": (False, f"[ -e /etc/waagent.conf ] || exit {ABSENT_RC}; cat /etc/waagent.conf"),
    "agent_python": (
        False,
        f'w=$(command -v waagent) || exit {ABSENT_RC}; read -r sb <"$w"; py=${{sb#\\#!}}; py=${{py# }}; '
        'set -- $py; py=$1; [ "${py##*/}" = env ] && py=$(command -v "$2"); '
        'echo "interpreter $py"; "$py" -B -c "import sys; print(\'version \' + sys.version.split()[0])" || exit $?; '
        "p=$(\"$py\" -B -c \"import pyasn1; print('pyasn1 ' + getattr(pyasn1, '__version__', 'unknown'))\" 2>&1); "
        'printf "%s\\n" "$p" | tail -n 1; '
        # LNX-007 current (LISA verify_python_version: python3 --version, else python --version):
        # "CMD PATH VERSION", "CMD PATH failed STATUS" or "CMD absent"
        'for c in python3 python; do if q=$(command -v $c); then '
        'v=$("$q" -B -c "import sys; print(sys.version.split()[0])" 2>/dev/null); r=$?; '
        'if [ $r = 0 ]; then echo "$c $q $v"; break; fi; echo "$c $q failed $r"; else echo "$c absent"; fi; done',
    ),
    "packages": (
        False,
        "found=; if command -v dpkg-query >/dev/null; then found=1; echo manager dpkg; dpkg-query -W "
        "-f='${Package}\\t${Version}\\t${Status}\\n' waagent walinuxagent network-manager ifupdown "
        "isc-dhcp-client iptables nftables firewalld ufw openssh-server openssl libc6 netplan.io "
        "omi omiserver hyperv-daemons mdatp cloud-init "
        '"linux-image-$(uname -r)" 2>/dev/null; r=$?; [ $r -le 1 ] || exit $r; fi; '  # 1: some not installed
        "if command -v rpm >/dev/null; then found=1; echo manager rpm; o=$(rpm -q --qf '%{NAME}\\t%{VERSION}-%{RELEASE}\\tinstalled\\n' "
        "WALinuxAgent python-azure-agent python3-azure-agent NetworkManager network-scripts initscripts wicked "
        "iptables nftables firewalld openssh-server openssl glibc microsoft-hyper-v kmod-microsoft-hyper-v "
        "omi omiserver hyperv-daemons hypervkvpd hyper-v mdatp cloud-init 2>&1); "
        'printf "%s\\n" "$o" | grep -v "is not installed"; case "$o" in *error:*) exit 2;; esac; fi; '
        f'[ -n "$found" ] || exit {ABSENT_RC}',
    ),
    "agent_candidate": (
        False,
        f"command -v apt-cache >/dev/null || exit {ABSENT_RC}; "
        "apt-cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Acquire::Languages=none "
        "policy waagent walinuxagent",
    ),
    # kernel and libraries (LNX-006/009/027/028/029)
    "kernel_modules": (
        False,
        "read -r r </proc/sys/kernel/osrelease || exit 2; "
        'for f in modules.builtin modules.dep; do [ -r /lib/modules/$r/$f ] || { echo "cannot read /lib/modules/$r/$f"; exit 2; }; done; '
        "for m in hv_vmbus hv_storvsc hv_netvsc; do "
        'b=$(grep -c "/$m.ko" /lib/modules/$r/modules.builtin); [ $? -le 1 ] || exit 2; '
        'f=$(grep -c "/$m.ko" /lib/modules/$r/modules.dep); [ $? -le 1 ] || exit 2; echo "$m builtin=$b module=$f"; done',
    ),
    # LNX-006: "builtin", or "image PATH" and the hv_*.ko names in it: the modules of the running
    # kernel (lib/modules/RELEASE/ or usr/lib/modules/RELEASE/) that are regular, non-empty files
    # in the listing's final state (a later entry of the same name replaces an earlier one, as
    # the kernel's unpacker does). An initramfs that is one compressed cpio archive from byte 0
    # is listed in one pass (decompressor | cpio -tv -H newc): the names count only when the
    # decompressor and cpio exit 0, cpio writes nothing to stderr (junk, another format) and
    # nothing but zeros follows the archive (the kernel unpacks a second archive too: an
    # error, "more archives"); anything else (an early uncompressed archive first, a tool
    # missing, either failing) goes to lsinitramfs -l / lsinitrd, which decompress twice.
    "initramfs_hv": (
        True,
        "read -r r </proc/sys/kernel/osrelease || exit 2; "
        'grep -q "/hv_storvsc.ko" /lib/modules/$r/modules.builtin 2>/dev/null && { echo builtin; exit 0; }; '
        # the name is what follows the 8 columns (9 for a device: "MAJOR, MINOR"), a link's
        # without " -> TARGET"; spelled as the kernel resolves it (no ./, // or /./); a name
        # with a blank never counts
        'f=\'{ p = $0; n = ($1 ~ /^[bc]/) ? 9 : 8; for (k = 0; k < n; k++) sub(/^ *[^ ]+ +/, "", p); '
        'if ($1 ~ /^l/) sub(/ -> .*$/, "", p); sub(/^(\\.?\\/)+/, "", p); while (sub(/\\/\\.\\//, "/", p)) {} '
        'gsub(/\\/+/, "/", p); ok[p] = ($1 ~ /^-/ && $5 + 0 > 0 && p !~ / /) } '
        'END { a = "lib/modules/" r "/"; b = "usr/" a; for (p in ok) { n = p; sub(/.*\\//, "", n); '
        'if (ok[p] && (index(p, a) == 1 || index(p, b) == 1) && n ~ /^hv_[a-z_]+\\.ko(\\.(xz|zst|gz))?$/) '
        '{ sub(/\\.ko.*/, ".ko", n); print n } } }\'; '
        'for i in /boot/initrd.img-$r /boot/initramfs-$r.img /boot/initrd-$r; do [ -f "$i" ] || continue; '
        'echo "image $i"; m=$(od -An -tx1 -N6 "$i" | tr -d " \\n"); '
        'case "$m" in 1f8b*) d="gzip -dc";; 28b52ffd*) d="zstd -qdc";; fd377a585a00) d="xz -dc";; '
        '02214c18*) d="lz4 -dc";; 425a68*) d="bzip2 -dc";; 894c5a4f*) d="lzop -dc";; *) d=;; esac; '
        'if [ -n "$d" ] && command -v "${d%% *}" >/dev/null && command -v cpio >/dev/null; then '
        # fd 3: "d STATUS" (decompressor), "c STATUS" (cpio), "e LINE" (cpio's stderr), "z BYTES"
        # (non-zero bytes after the archive); "n NAME" per module. cpio's listing goes to fd 4.
        's=$( { { $d <"$i" 2>/dev/null; echo "d $?" >&3; } | { { cpio -tv --quiet -H newc 2>&1 >&4; '
        'echo "c $?" >&3; } | sed "s/^/e /" >&3; echo "z $(tr -d "\\000" | wc -c)" >&3; } 4>&1 '
        '| awk -v r="$r" "$f" | sort -u | sed "s/^/n /"; } 3>&1 ); '
        'if [ "$(printf "%s\\n" "$s" | grep -cxE "[dcz] 0")" = 3 ] && ! printf "%s\\n" "$s" | grep -q "^e "; then '
        'printf "%s\\n" "$s" | sed -n "s/^n //p"; exit 0; fi; '
        'case "$s" in *"z "[1-9]*) echo "more archives: data follows the first cpio archive of $i (the kernel unpacks it too; not listed)"; exit 3;; esac; '
        'echo "one pass failed: $(printf "%s\\n" "$s" | grep -E "^[dce] " | tr "\\n" " ")"; fi; '
        'if command -v lsinitramfs >/dev/null; then l=$(lsinitramfs -l "$i") || exit $?; '
        'elif command -v lsinitrd >/dev/null; then l=$(lsinitrd "$i") || exit $?; '
        "else echo 'no lsinitramfs or lsinitrd'; exit 127; fi; "
        'printf "%s\\n" "$l" | awk -v r="$r" "$f" | sort -u; exit 0; done; '
        f"exit {ABSENT_RC}",
    ),
    "openssl": (False, f"command -v openssl >/dev/null || exit {ABSENT_RC}; openssl version"),
    "glibc": (False, "getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>&1"),
    "kernel_changelog": (
        False,
        'read -r r </proc/sys/kernel/osrelease || exit 2; [ "${r%%.*}" -ge 4 ] && { echo "mainline ${r}"; exit 0; }; '
        "c=$(zcat /usr/share/doc/linux-image-$r/changelog.Debian.gz 2>/dev/null || rpm -q --changelog kernel-$r 2>/dev/null) "
        f"|| exit {ABSENT_RC}; "
        "printf '%s\\n' \"$c\" | grep -i 'in-transit packets' | head -n 3; exit 0",
    ),
    # ssh (LNX-014/015)
    "sshd": (
        False,
        "if command -v sshd; then :; elif [ -x /usr/sbin/sshd ]; then echo /usr/sbin/sshd; fi; "
        + _units("ssh", "sshd", "ssh.socket", "sshd.socket"),
    ),
    # sshd -T, then "## match" and the Match / ClientAliveInterval / AuthorizedKeys* lines of the
    # config files as "FILE: LINE" (sshd -T without -C does not apply Match blocks)
    "sshd_effective": (
        True,
        'o=$(sshd -T 2>&1) || o=$(/usr/sbin/sshd -T 2>&1) || { printf "%s\\n" "$o"; exit 1; }; '
        'printf "%s\\n" "$o"; echo "## match"; for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf; do '
        '[ -f "$f" ] || continue; m=$(grep -iE "^[[:space:]]*(match|clientaliveinterval|authorizedkeysfile|authorizedkeyscommand)[[:space:]]" "$f"); '
        '[ $? -le 1 ] || exit 2; [ -z "$m" ] || printf "%s\\n" "$m" | sed "s|^|$f: |"; done; exit 0',
    ),
    # network (LNX-016..020)
    "network_services": (
        False,
        "s=0; command -v systemctl >/dev/null || { echo 'no systemctl'; s=127; }; "
        "if [ $s = 0 ]; then for u in NetworkManager networking network wicked systemd-networkd firewalld ufw; do "
        'echo "unit $u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done; fi; '
        "for c in ifup ifdown dhclient nmcli netplan wicked; do "
        'echo "command $c $(command -v $c)"; done; '
        # RHEL 8+: /usr/sbin/ifup may be NetworkManager's nm-ifup wrapper, not network-scripts
        'echo "resolved ifup $(readlink -f "$(command -v ifup)" 2>/dev/null)"; '
        "if [ -e /etc/sysconfig/network-scripts/ifup-eth ]; then echo 'legacy network-scripts'; fi; exit $s",
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
            "/run/netplan/*.yaml",
            "/lib/netplan/*.yaml",
            "/usr/lib/netplan/*.yaml",
            # networkd: /etc masks /run masks /usr/lib (same name); drop-ins of every directory apply
            "/etc/systemd/network/*.network",
            "/run/systemd/network/*.network",
            "/usr/lib/systemd/network/*.network",
            "/lib/systemd/network/*.network",
            "/etc/systemd/network/*.network.d/*.conf",
            "/run/systemd/network/*.network.d/*.conf",
            "/usr/lib/systemd/network/*.network.d/*.conf",
            "/lib/systemd/network/*.network.d/*.conf",
            "/etc/dhcp/dhclient.conf",
            "/etc/dhcp/dhclient-*.conf",
            "/etc/dhclient.conf",
            "/etc/systemd/resolved.conf",
            "/etc/systemd/resolved.conf.d/*.conf",
            "/etc/sysconfig/network",
            "/etc/NetworkManager/NetworkManager.conf",
            "/etc/NetworkManager/conf.d/*.conf",
            # read before NetworkManager.conf (NetworkManager.conf(5)): RHEL's 00-server.conf
            # no-auto-default=*, Ubuntu's 10-globally-managed-devices.conf unmanaged-devices
            "/usr/lib/NetworkManager/conf.d/*.conf",
            "/run/NetworkManager/conf.d/*.conf",
        ),
    ),
    "nm_connections": (
        True,
        _cat(
            "/etc/NetworkManager/system-connections/*",
            "/run/NetworkManager/system-connections/*",
            "/usr/lib/NetworkManager/system-connections/*",
        ),
    ),
    # "attrs FLAGS" from lsattr; "attrs-error" when lsattr could not tell (e.g. tmpfs, a symlink)
    "resolv_conf": (
        False,
        'echo "link $(readlink /etc/resolv.conf)"; if [ -e /etc/resolv.conf ]; then '
        'if a=$(lsattr -d /etc/resolv.conf 2>/dev/null); then echo "attrs ${a%% *}"; else echo "attrs-error"; fi; '
        "echo '### /etc/resolv.conf'; cat /etc/resolv.conf || exit 1; fi; exit 0",
    ),
    # LNX-019: DNS servers the DHCP leases handed out, to tell resolv.conf written by the client
    "dhcp_dns": (
        False,
        "echo leases; rc=0; for f in /var/lib/dhcp/*.lease* /var/lib/dhclient/*.lease* "
        '/var/lib/NetworkManager/*.lease /run/systemd/netif/leases/*; do [ -f "$f" ] || continue; '
        "if [ -r \"$f\" ]; then sed -n -e 's/^[[:space:]]*option domain-name-servers \\(.*\\);.*/lease_dns \\1/p' "
        '-e \'s/^DNS=/lease_dns /p\' "$f" || rc=1; else echo "lease_unreadable $f"; fi; done; exit $rc',
    ),
    "ip_state": (
        False,
        "echo '## addr'; ip -o addr show || exit $?; echo '## route'; ip -o route show || exit $?; "
        "echo '## route6'; ip -o -6 route show || exit $?; echo '## link'; ip -o link show",
    ),
    # firewall (LNX-024): per tool its output and "## exit TOOL STATUS|absent"
    "firewall": (
        True,
        'echo "## iptables $(command -v iptables)"; for t in iptables-save ip6tables-save; do echo "## $t"; '
        'if command -v $t >/dev/null; then $t 2>&1; echo "## exit $t $?"; else echo "## exit $t absent"; fi; done; '
        "echo '## nft'; if command -v nft >/dev/null; then nft list ruleset 2>&1; echo \"## exit nft $?\"; "
        "else echo '## exit nft absent'; fi; "
        "echo '## ufw'; if [ -e /etc/ufw/ufw.conf ]; then cat /etc/ufw/ufw.conf || exit 1; fi; exit 0",
    ),
    # updates (LNX-021): "index MTIME PATH" of the package index, the manager's own output and
    # "rc STATUS"; the section fails with the manager's status (zypper: 100-103 = patches found)
    "security_updates": (
        True,
        "if command -v apt-get >/dev/null; then echo manager apt; n=0; "
        'for f in /var/lib/apt/lists/*_Packages*; do if [ -e "$f" ]; then n=$((n+1)); echo "list $f"; fi; done; '
        # (the apt sources themselves are the "repositories" section: one parser for LNX-021 and LNX-035)
        'echo "lists $n"; stat -c "index %Y %n" /var/lib/apt/lists/*Release 2>/dev/null; '
        # dist-upgrade: a kernel security fix comes as a new package that plain upgrade keeps back;
        # Acquire::Languages=none: the cache is built without the descriptions (Translation-*),
        # same solution, ~12% less work (7.1 -> 6.2 s on the TCG test VM, output identical)
        "o=$(apt-get -s -o Debug::NoLocking=1 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= "
        "-o Acquire::Languages=none dist-upgrade 2>&1); r=$?; "
        # Inst lines, errors, and the package lists after "kept back" / "held" headers
        "printf '%s\\n' \"$o\" | grep -E '^(Inst |E: |Err:|The following|  )'; echo \"rc $r\"; exit $r; "
        "elif command -v dnf >/dev/null; then echo manager dnf; "
        'stat -c "index %Y %n" /var/cache/dnf/*/repodata/repomd.xml /var/cache/libdnf5/*/repodata/repomd.xml 2>/dev/null; '
        "o=$(dnf -C -q updateinfo list --security 2>&1); r=$?; "
        "elif command -v yum >/dev/null; then echo manager yum; "
        'stat -c "index %Y %n" /var/cache/yum/*/*/*/repomd.xml 2>/dev/null; '
        "o=$(yum -C -q updateinfo list security 2>&1); r=$?; "
        "elif command -v zypper >/dev/null; then echo manager zypper; "
        'stat -c "index %Y %n" /var/cache/zypp/raw/*/repodata/repomd.xml 2>/dev/null; '
        "o=$(zypper --no-refresh -q list-patches --category security 2>&1); r=$?; "
        "case $r in 10[0-3]) r=0;; esac; "
        f"else exit {ABSENT_RC}; fi; "
        'printf \'%s\\n\' "$o"; echo "rc $r"; exit $r',
    ),
    # accounts and history (LNX-022/023)
    # a password hash in /etc/passwd itself (field 2 not x) never leaves the VM either
    "passwd": (
        False,
        "awk -F: 'BEGIN { OFS = \":\" } $2 != \"x\" && $2 != \"\" && $2 !~ /^[!*]*$/ { $2 = \"HASH\" } 1' /etc/passwd",
    ),
    # Password hashes never leave the VM: "!$6$salt$hash" -> "!HASH", DES -> "HASH";
    # "!", "!!", "*", "!*" and "" (deleted) stay as they are.
    "shadow": (
        True,
        "s=$(cut -d: -f1,2 /etc/shadow) || exit $?; "
        "printf '%s\\n' \"$s\" | sed -E 's/^([^:]*):([!*]*)(\\$[^$]*\\$)?[^!*].*$/\\1:\\2\\3HASH/'",
    ),
    "home_files": (True, _home_files()),
    # LNX-022: every file sshd's AuthorizedKeysFile names, per account ("akf PATTERNS",
    # "keysfile USER PATH", "key LINE" with the key material replaced by KEY)
    "authorized_keys": (
        True,
        "if command -v sshd >/dev/null; then t=$(sshd -T 2>/dev/null); "
        "akf=$(printf '%s\\n' \"$t\" | sed -n 's/^authorizedkeysfile //p'); "
        "akc=$(printf '%s\\n' \"$t\" | sed -n 's/^authorizedkeyscommand //p'); "
        "[ -n \"$akf\" ] || { echo 'akf ?'; exit 2; }; else echo 'akf none (sshd not installed)'; exit 0; fi; "
        'echo "akf $akf"; echo "akc $akc"; rc=0; '
        # sshd -T without -C applies no Match block: "cfg FILE: LINE" for the login settings of
        # sshd_config and every Include'd file, "tuck" the global TrustedUserCAKeys
        "echo \"tuck $(printf '%s\\n' \"$t\" | sed -n 's/^trustedusercakeys //p')\"; "
        "q=/etc/ssh/sshd_config; [ -e $q ] || q=/usr/etc/ssh/sshd_config; seen=; n=0; "
        'while [ -n "$q" ] && [ $n -lt 100 ]; do set -- $q; f=$1; shift; q="$*"; '
        'case " $seen " in *" $f "*) continue;; esac; seen="$seen $f"; [ -f "$f" ] || continue; n=$((n+1)); '
        'if [ ! -r "$f" ]; then echo "cfg_unreadable $f"; rc=1; continue; fi; '
        "m=$(grep -iE '^[[:space:]]*(match|include|authorizedkeysfile|authorizedkeyscommand|passwordauthentication"
        '|permitrootlogin|trustedusercakeys)([[:space:]]|=)\' "$f"); '
        '[ $? -le 1 ] || { echo "cfg_unreadable $f"; rc=1; continue; }; '
        '[ -z "$m" ] || printf "%s\\n" "$m" | sed "s|^|cfg $f: |"; '
        "for g in $(printf '%s\\n' \"$m\" | sed -nE 's/^[[:space:]]*[Ii][Nn][Cc][Ll][Uu][Dd][Ee]([[:space:]]*=[[:space:]]*|[[:space:]]+)//p'); do "
        'case "$g" in /*) ;; *) g="/etc/ssh/$g";; esac; for x in $g; do [ -e "$x" ] && q="$q $x"; done; done; done; '
        '[ -z "$q" ] || { echo "cfg_truncated"; rc=1; }; echo "cfg_files $n"; set -f; '
        'x=\'BEGIN { p = ENVIRON["P"]; for (i = 1; i <= length(p); i++) { c = substr(p, i, 1); if (c != "%") { o = o c; continue } '
        't = substr(p, ++i, 1); if (t == "%") o = o "%"; else if (t == "h") o = o ENVIRON["H"]; else if (t == "u") o = o ENVIRON["N"]; '
        'else if (t == "U") o = o ENVIRON["I"]; else exit 1 } print o }\'; '
        'while IFS=: read -r u _ uid _ _ h _ || [ -n "$u" ]; do for p in $akf; do [ "$p" = none ] && continue; '
        # a pattern without % is the path itself (no process per account: 0.04 s each under
        # TCG); %h %u %U %% are expanded once, left to right, as sshd's percent_expand does
        # (values from the environment: no sed/awk escapes); an unknown token is an error
        'case "$p" in *%*) f=$(H="$h" N="$u" I="$uid" P="$p" awk "$x") || { echo "keysfile_unreadable $p (unknown % token)"; rc=1; continue; };; '
        '*) f=$p;; esac; '
        'case "$f" in /*) ;; *) f="$h/$f";; esac; [ -f "$f" ] || continue; '
        'if [ -r "$f" ]; then echo "keysfile $u $f"; grep -vE "^[[:space:]]*(#|$)" "$f" | '
        "sed -E -e 's#((ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)[[:space:]]+[A-Za-z0-9+/=]+.*$#\\1 KEY#' -e 's/^/key /'; "
        'else echo "keysfile_unreadable $f"; rc=1; fi; done; done </etc/passwd; exit $rc',
    ),
    # generalization residue (LNX-026): lease files are told apart in Python (image_files)
    "residue": (
        True,
        # the persisted hostname: /etc/hostname, else SLES 12's /etc/HOSTNAME, else EL6's HOSTNAME=
        "rc=0; h=; if [ -e /etc/hostname ]; then h=$(cat /etc/hostname) || rc=1; "
        "elif [ -e /etc/HOSTNAME ]; then h=$(cat /etc/HOSTNAME) || rc=1; "
        "elif [ -e /etc/sysconfig/network ]; then "
        "h=$(sed -n 's/^[[:space:]]*HOSTNAME=//p' /etc/sysconfig/network) || rc=1; fi; "
        'echo "hostname_file $h"; echo "hostname_now $(uname -n)"; '
        "for f in /var/lib/waagent/provisioned /var/lib/waagent/ovf-env.xml /var/lib/cloud/instance; do "
        'if [ -e "$f" ]; then stat -c "marker %Y %n" "$f" || rc=1; fi; done; '
        f"for f in {_LEASE_GLOBS}; do "
        'if [ -f "$f" ]; then stat -c "lease %Y %s %n" "$f" || rc=1; fi; done; '
        'for f in /etc/ssh/ssh_host_*_key; do if [ -f "$f" ]; then stat -c "hostkey %Y %n" "$f" || rc=1; fi; done; '
        "exit $rc",
    ),    # --- LNX-030...036 (rules added 2026-11, sections of helper "lnx-030") ---
    # LNX-030: sudo's policy files (root only: /etc/sudoers is 0440)
    # (absent: no /etc/sudoers and no sudo command; sudo without /etc/sudoers: exit 2)
    "sudoers": (
        True,
        "if [ ! -e /etc/sudoers ]; then command -v sudo >/dev/null && { echo 'sudo without /etc/sudoers'; exit 2; }; "
        f"exit {ABSENT_RC}; fi; " + _cat("/etc/sudoers", "/etc/sudoers.d/*"),
    ),
    # LNX-032: persistent-net udev rules, "rule SIZE TYPE PATH [-> TARGET]" (lstat)
    "udev_net_rules": (
        False,
        "rc=0; for d in /etc/udev/rules.d /run/udev/rules.d /usr/local/lib/udev/rules.d /lib/udev/rules.d "
        "/usr/lib/udev/rules.d /usr/lib64/udev/rules.d; do "
        'if [ -d "$d" ] && ! { [ -r "$d" ] && [ -x "$d" ]; }; then echo "unreadable $d"; rc=2; fi; '
        "for n in 70-persistent-net.rules 75-persistent-net-generator.rules; do f=$d/$n; "
        'if [ -e "$f" ] || [ -L "$f" ]; then l=; [ -L "$f" ] && l=" -> $(readlink "$f")"; '
        's=$(stat -L -c %s "$f" 2>/dev/null) || s=-; echo "rule $s $f$l"; fi; done; done; '
        'echo "looked"; exit $rc',
    ),
    # LNX-033: the DHCP clients' hostname settings (SUSE, Azure Linux 3+, Mariner 1/2)
    # (SUSE's ifcfg-eth0 may override the global DHCLIENT_SET_HOSTNAME for the Azure NIC)
    "dhcp_hostname": (
        False,
        _cat(
            "/etc/sysconfig/network/dhcp",
            "/etc/sysconfig/network/ifcfg-eth0",
            "/etc/dhcpcd.conf",
            "/etc/dhcp/dhclient.conf",
        ),
    ),
    # LNX-034: the Hyper-V KVP daemon: binaries, units, the udev rules that start them, processes
    "kvp_daemon": (
        False,
        "for b in hv_kvp_daemon hypervkvpd; do p=$(command -v $b) && echo \"binary $p\"; done; "
        "for p in /usr/sbin/hv_kvp_daemon /usr/sbin/hypervkvpd /usr/libexec/hypervkvpd/hypervkvpd; do "
        '[ -x "$p" ] && echo "binary $p"; done; '
        "for c in /proc/[0-9]*/comm; do read -r n 2>/dev/null <\"$c\" || continue; "
        'case "$n" in hv_kvp_daemon|hypervkvpd) echo "process $n";; esac; done; '
        # udev's order; a file name seen in an earlier directory hides it in later ones ("rules" lines)
        "for d in /etc/udev/rules.d /run/udev/rules.d /usr/local/lib/udev/rules.d /usr/lib/udev/rules.d "
        "/lib/udev/rules.d; do "
        '[ -d "$d" ] || continue; { [ -r "$d" ] && [ -x "$d" ]; } || { echo "unreadable $d"; exit 2; }; '
        # one grep per directory: a process per file costs seconds on a slow VM
        'set -- "$d"/*.rules; [ -e "$1" ] || continue; '
        'printf "rules %s" "$d"; for f; do printf " %s" "${f##*/}"; done; echo; '
        "m=$(grep -H '^[^#]*SYSTEMD_WANTS.*kvp' \"$@\"); [ $? -le 1 ] || exit 2; "
        "[ -z \"$m\" ] || printf '%s\\n' \"$m\" | sed 's/^/udev /'; done; "
        + _units("hv-kvp-daemon.service", "hyperv-daemons.hv-kvp-daemon.service", "hypervkvpd.service",
                 "hv_kvp_daemon.service"),
    ),
    # LNX-035: every repository definition of apt, dnf/yum/tdnf and zypper
    "repositories": (
        False,
        _cat(
            "/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources",
            "/etc/yum.repos.d/*.repo", "/etc/distro.repos.d/*.repo", "/etc/zypp/repos.d/*.repo",
        ),
    ),
    # LNX-036: OMI's own version report (the package versions are in "packages")
    "omi": (
        False,
        f"[ -e /opt/omi/bin/omiserver ] || exit {ABSENT_RC}; /opt/omi/bin/omiserver --version 2>&1",
    ),
    # --- LNX-037...043 (rules added 2026-11, sections of helper "lnx-037") ---
    # LNX-037: Defender for Endpoint residue, the paths of LISA's check-mdatp.sh ("found PATH",
    # "command PATH", "unreadable DIR" for a directory that cannot be searched), then "looked"
    "mdatp": (
        False,
        "for d in /etc/opt/microsoft /etc/opt/microsoft/mdatp /var/log/microsoft /var/log/microsoft/mdatp "
        "/var/lib/waagent /var/log/azure /var/lib/GuestConfig/extension_logs; do "
        'if [ -d "$d" ] && ! { [ -r "$d" ] && [ -x "$d" ]; }; then echo "unreadable $d"; fi; done; '
        "for p in /etc/opt/microsoft/mdatp /etc/opt/microsoft/mdatp/mdatp_onboard.json /opt/microsoft/mdatp "
        "/var/log/microsoft/mdatp /var/log/microsoft/mdatp/install.log "
        "/var/lib/waagent/Microsoft.Azure.AzureDefenderForServers.MDE.Linux* "
        "/var/log/azure/Microsoft.Azure.AzureDefenderForServers.MDE.Linux* "
        "/var/lib/GuestConfig/extension_logs/Microsoft.Azure.AzureDefenderForServers.MDE.Linux*; do "
        'if [ -e "$p" ] || [ -L "$p" ]; then echo "found $p"; fi; done; '
        'if m=$(command -v mdatp); then echo "command $m"; fi; echo looked',
    ),
    # LNX-038: CONFIG_WATCHDOG/CONFIG_CIFS of the running kernel's config, per source file
    # ("### PATH", the lines, "config_lines N"; "### ! PATH" could not be read)
    "kernel_config": (
        False,
        "read -r r </proc/sys/kernel/osrelease || exit 2; echo \"release $r\"; n=0; ok=0; "
        "a='/^CONFIG_/ { c++ } /^(# )?CONFIG_(WATCHDOG|CIFS)[= ]/ { print } END { print \"config_lines \" c+0 }'; "
        'for f in /boot/config-$r /usr/boot/config-$r /usr/lib/modules/$r/config /lib/modules/$r/config; do '
        '[ -e "$f" ] || continue; n=$((n+1)); '
        'if [ -r "$f" ] && o=$(awk "$a" "$f"); then echo "### $f"; printf "%s\\n" "$o"; ok=1; '
        'else echo "### ! $f"; fi; done; '
        "if [ -e /proc/config.gz ]; then n=$((n+1)); "
        'if c=$(gzip -dc /proc/config.gz) && o=$(printf "%s\\n" "$c" | awk "$a"); then '
        'echo "### /proc/config.gz"; printf "%s\\n" "$o"; ok=1; else echo "### ! /proc/config.gz"; fi; fi; '
        f"[ $n -gt 0 ] || exit {ABSENT_RC}; [ $ok = 1 ] || exit 2; exit 0",
    ),
    # LNX-039: modprobe configuration, in kmod's order of precedence (same name: first wins);
    # the first line says the listing ran (an empty listing is then "no file")
    "modprobe_config": (
        False,
        "echo '## modprobe.d'; "
        + _cat(
            "/etc/modprobe.d/*.conf", "/run/modprobe.d/*.conf", "/usr/local/lib/modprobe.d/*.conf",
            "/usr/lib/modprobe.d/*.conf", "/lib/modprobe.d/*.conf", "/etc/modprobe.conf",
        ),
    ),
    # LNX-039: udf and vfat for the running kernel: built in / loadable, registered now
    "fs_modules": (
        False,
        "read -r r </proc/sys/kernel/osrelease || exit 2; "
        'for f in modules.builtin modules.dep; do [ -r /lib/modules/$r/$f ] || { echo "cannot read /lib/modules/$r/$f"; exit 2; }; done; '
        "for m in udf vfat; do "
        'b=$(grep -c "/$m.ko" /lib/modules/$r/modules.builtin); [ $? -le 1 ] || exit 2; '
        'f=$(grep -c "/$m.ko" /lib/modules/$r/modules.dep); [ $? -le 1 ] || exit 2; echo "$m builtin=$b module=$f"; '
        # a module file deleted without depmod stays listed in modules.dep: "absent NAME PATH"
        'p=$(grep -o "^[^:]*/$m[.]ko[^:]*:" /lib/modules/$r/modules.dep | head -n 1); p=${p%:}; '
        'case "$p" in "") ;; /*) [ -e "$p" ] || echo "absent $m $p";; *) [ -e "/lib/modules/$r/$p" ] || echo "absent $m /lib/modules/$r/$p";; esac; done; '
        'while read -r a b; do case "$a$b" in udf|vfat|nodevudf|nodevvfat) echo "registered $a $b";; esac; done '
        "</proc/filesystems || exit 2; echo looked",
    ),
    # LNX-040 (and LNX-013's "console [ttyS0] enabled"): this boot's log, lines with error, fail,
    # panic, oops, call trace, BUG: or segfault (300 shown, 400 characters each; "## matched N" all), console
    # lines, "## start" when the log reaches back to the kernel's first line; sudo's records of command
    # lines (this script's own among them) are only counted ("## sudo_commands N"); "## dmi" the
    # kernel's DMI line (which hypervisor the VM runs on)
    "boot_log": (
        True,
        "f='{ l = tolower($0) } "
        "!s && /(kernel: |\\] )Linux version / { s = 1; print \"## start \" substr($0, 1, 400); next } "
        "!d && / DMI: / { d = 1; print \"## dmi \" substr($0, 1, 300); next } "
        "l ~ /sudo[[][0-9]+[]]: .*(command=|[(]command continued[)])/ { q++; next } "
        "l ~ /console \\[[^]]*\\] (enabled|disabled)/ { print substr($0, 1, 400); next } "
        "l ~ /error|fail|panic|oops|call trace|bug:|segfault/ { n++; if (n <= 300) print substr($0, 1, 400) } "
        "END { print \"## sudo_commands \" q+0; print \"## matched \" n+0 }'; "
        "if command -v journalctl >/dev/null && { [ -d /run/log/journal ] || [ -d /var/log/journal ]; }; then "
        "echo '## source journalctl -b'; o=$(journalctl -b -q --no-pager -o short-monotonic 2>&1) "
        '|| { printf "%s\\n" "$o" | tail -n 3; exit 2; }; '
        "elif o=$(dmesg 2>&1); then echo '## source dmesg'; "
        'else printf "%s\\n" "$o" | tail -n 3; exit 2; fi; '
        'printf "%s\\n" "$o" | awk "$f"',
    ),
    # LNX-041: cloud-init's own status (read only), its units, disable switches, log findings
    "cloud_init": (
        False,
        f"c=$(command -v cloud-init) || exit {ABSENT_RC}; echo \"binary $c\"; "
        's=$(PYTHONDONTWRITEBYTECODE=1 cloud-init status --long 2>&1); r=$?; echo "## status rc $r"; '
        'printf "%s\\n" "$s" | head -n 40; echo "## config"; '
        "for f in /etc/cloud/cloud-init.disabled /run/cloud-init/disabled; do "
        '[ -e "$f" ] && echo "disabled_file $f"; done; '
        "if command -v systemctl >/dev/null; then for u in cloud-init-local.service cloud-init.service "
        "cloud-init-network.service; do "
        'echo "unit $u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done; fi; '
        "l=/var/log/cloud-init.log; if [ ! -e $l ]; then echo '## log absent'; elif [ ! -r $l ]; then echo '## log unreadable'; "
        "else echo '## log'; awk '/\\[ERROR\\]/ { e++; if (e <= 20) print \"error \" $0 } "
        "/\\[WARNING\\]/ { w++; if (w <= 20) print \"warning \" $0 } "
        "END { print \"## log_counts \" e+0 \" \" w+0 }' $l || exit 2; fi; echo '## end'",
    ),
    # LNX-042: links naming the Azure resource disk, VMBus devices (on Hyper-V), the agent's README
    "resource_disk": (
        False,
        "rc=0; for l in /dev/disk/azure/resource /dev/disk/azure/resource-part* /dev/disk/cloud/azure_resource "
        "/dev/disk/cloud/azure_resource-part*; do "
        'if [ -e "$l" ]; then t=$(readlink -f "$l") || rc=1; echo "link $l $t"; fi; done; '
        "for d in /dev/disk/azure /dev/disk/cloud; do [ -d $d ] && echo \"dir $d\"; done; "
        'n=0; for d in /sys/bus/vmbus/devices/*; do [ -e "$d" ] && n=$((n+1)); done; echo "vmbus $n"; '
        "for m in /mnt /mnt/resource; do [ -e $m/DATALOSS_WARNING_README.txt ] && echo \"readme $m\"; done; "
        "echo looked; exit $rc",
    ),
    # LNX-043: resolve a public name through the VM's resolver (LISA: bing.com), 5 s at most;
    # "hosts" lines: the name in /etc/hosts (an answer that is not DNS); glibc's files backend
    # splits on blanks (TABs too) and compares names case-insensitively, so grep -i over blanks
    "dns_lookup": (
        False,
        "command -v getent >/dev/null || { echo 'no getent'; exit 127; }; "
        "if [ -e /etc/hosts ]; then h=$(grep -iE '^[^#]*[[:blank:]]bing[.]com[.]?([[:blank:]#]|$)' /etc/hosts); "
        "[ $? -gt 1 ] && echo 'unreadable /etc/hosts'; [ -n \"$h\" ] && printf '%s\\n' \"$h\" | sed 's/^/hosts /'; fi; "
        "if command -v timeout >/dev/null; then o=$(timeout 5 getent ahosts bing.com 2>&1); r=$?; "
        "else o=$(getent ahosts bing.com 2>&1); r=$?; fi; "
        'echo "## rc $r"; printf "%s\\n" "$o" | head -n 20; exit 0',
    ),
}

# Sections whose last line says they finished: without it the output is incomplete.
SECTION_END = {"home_files": re.compile(r"homes \d+")}

# Deadline of each section in seconds (coreutils timeout on the VM); a section that runs
# longer is unreadable ("timed out after N s"). --vm-config [section_timeouts] overrides.
DEFAULT_SECTION_TIMEOUT = 10
SECTION_TIMEOUTS: dict[str, int] = {
    **{name: DEFAULT_SECTION_TIMEOUT for name in SECTIONS},
    "sys_block": 20,
    "lsblk": 20,
    "blkid": 30,
    "disk_links": 20,
    "agent": 60,
    "agent_version": 120,  # the 4 sections of CONCURRENT_LANES: measured up to 53/96/174/194 s
    "agent_python": 60,
    "packages": 60,
    "agent_candidate": 180,  # on a TCG VM at load ~20 sharing the vCPUs (README "Speed")
    "kernel_modules": 20,
    "initramfs_hv": 300,
    "kernel_changelog": 60,
    "sshd": 60,
    "sshd_effective": 30,
    "network_services": 90,
    "ip_state": 20,
    "network_config": 60,  # 10-11 s seen on a TCG VM at load 16-20 (LISA side-by-side)
    "firewall": 60,
    "security_updates": 360,
    "home_files": 30,
    "authorized_keys": 90,
    "dhcp_dns": 20,
    "residue": 30,
    "kvp_daemon": 30,
    # LNX-037...043 (measured on the TCG test VM at load 15: 0.4-2.8 s each)
    "mdatp": 20,
    "kernel_config": 30,
    "modprobe_config": 30,
    "fs_modules": 30,
    "boot_log": 60,
    "cloud_init": 90,
    "resource_disk": 20,
    "dns_lookup": 15,
}

_ROOT_NOTE = "needs root: sudo failed"  # sudo -n, or sudo -S with the password given


@dataclass(frozen=True)
class Section:
    """What one section printed, its exit status, and (from the VM) how long it ran and
    under which deadline. ``problem`` says why the output is not to be trusted although
    the section ran: ``timed out after N s``, ``output cut at 10 MiB``."""

    rc: int
    text: str
    seconds: float | None = None
    deadline: float | None = None
    problem: str = ""
    size: int | None = None  # bytes the VM printed; a text of another size was altered since

    @property
    def absent(self) -> bool:
        """Looked, and the thing is not there."""
        return self.rc == ABSENT_RC and not self.problem

    def unreadable(self, name: str) -> str:
        """Why the section could not be read ("" when it could, or the thing is absent)."""
        if self.problem:
            return f"reading {name.replace('_', ' ')} on the VM: {self.problem}"
        if self.size is not None and not _same_size(self.text, self.size):
            return f"{name.replace('_', ' ')}: the recorded text is not the {self.size} bytes the VM printed"
        end = SECTION_END.get(name)
        if end and self.rc == 0 and not end.fullmatch((self.text.rstrip("\n").rsplit("\n", 1) or [""])[-1]):
            return f"{name.replace('_', ' ')}: output incomplete (its closing line is missing)"
        if self.rc not in (0, ABSENT_RC):
            return f"reading {name.replace('_', ' ')} failed on the VM (exit {self.rc})"
        return ""


# Values that must never leave the VM through --vm-facts-dir (shadow hashes are masked on
# the VM itself). Each pattern keeps its first group and replaces the rest of the match.
_SECRET_PATTERNS = [
    # NetworkManager keyfiles, wpa_supplicant: psk=, password=, *-password=, wep-key0=, pin=
    re.compile(
        r"(?im)^(\s*(?:psk|password|[a-z0-9-]+-password|wep-key\d|pin|secret|[a-z0-9-]+-secret)\s*=\s*).+$"
    ),
    # GRUB: password_pbkdf2 USER HASH / password USER PLAIN
    re.compile(r"(?m)^(\s*password(?:_pbkdf2)?\s+\S+\s+)\S.*$"),
    # shell-style KEY=value: any *PASSWORD*, *PASSWD, *_PSK, *SECRET*, *TOKEN*, *_KEY_n
    re.compile(
        r"(?im)^(\s*(?:export\s+)?[a-z0-9_]*(?:password|passwd|_psk|secret|token|_key(?:_\d+)?)\s*=\s*).+$"
    ),
    # credentials inside URLs (apt sources, proxies): scheme://user:password@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?=@)"),
]
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S)
REDACTED = "REDACTED"


def redact_secrets(text: str) -> str:
    """``text`` with passwords, pre-shared keys, tokens and private keys replaced by REDACTED."""
    text = _PRIVATE_KEY.sub(f"-----BEGIN PRIVATE KEY----- {REDACTED} -----END PRIVATE KEY-----", text)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


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
    def to_json(self, redact: bool = True) -> dict:
        """A JSON-able dict; secrets in collected files are masked unless ``redact=False``."""
        sections = {}
        for name, s in sorted(self.sections.items()):
            entry: dict[str, Any] = {"rc": s.rc, "text": redact_secrets(s.text) if redact else s.text}
            if s.seconds is not None:
                entry["seconds"] = s.seconds
            if s.deadline is not None:
                entry["deadline"] = s.deadline
            if s.problem:
                entry["problem"] = s.problem
            if s.size is not None:
                entry["size"] = len(entry["text"].encode("utf-8", "surrogateescape")) if redact else s.size
            sections[name] = entry
        return {
            "privileged": self.privileged,
            "sudo_error": self.sudo_error,
            "admin_user": self.admin_user,
            "meta": self.meta,
            "sections": sections,
        }

    def redacted(self) -> LinuxFacts:
        """A copy whose section texts carry no secret (see :func:`redact_secrets`)."""
        return LinuxFacts.from_json(self.to_json(redact=True))

    @classmethod
    def from_json(cls, data: dict) -> LinuxFacts:
        """Recorded facts; recordings made before sections carried times still load."""
        return cls(
            sections={
                name: Section(
                    s["rc"],
                    s["text"],
                    s.get("seconds"),
                    s.get("deadline"),
                    s.get("problem", ""),
                    s.get("size"),
                )
                for name, s in data["sections"].items()
            },
            privileged=data.get("privileged", True),
            sudo_error=data.get("sudo_error", ""),
            admin_user=data.get("admin_user", ""),
            meta=data.get("meta", {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> LinuxFacts:
        return cls.from_json(json.loads(Path(path).read_text()))

    # -- access ----------------------------------------------------------
    def fact(self, name: str) -> Fact[str]:
        """A section as a fact: its text, absent (the section looked and found nothing to
        read), or unreadable: not collected, needs root, failed, timed out, cut short."""
        if name not in self.sections:
            return Fact.failed(f"fact {name!r} was not collected")
        needs_root = SECTIONS.get(name, (False, ""))[0]
        if needs_root and not self.privileged:
            return Fact.failed(
                f"reading {name.replace('_', ' ')} {_ROOT_NOTE} ({self.sudo_error or 'no sudo'})"
            )
        section = self.sections[name]
        if reason := section.unreadable(name):
            return Fact.failed(reason)
        if section.absent:
            return Fact.missing()
        return Fact.found(section.text)

    def section(self, name: str) -> str:
        """The text of a section, or FactError when it could not be read (or found nothing)."""
        section = self.raw(name)
        if section.rc != 0:
            raise FactError(
                section.unreadable(name)
                or f"{name.replace('_', ' ')}: not found on the VM (exit {section.rc})"
            )
        return section.text

    def files(self, name: str) -> dict[str, str]:
        """A section made of ``### path`` headers followed by file contents; a file that
        exists but could not be read is a FactError (never a silent absence)."""
        found = split_files(self.section(name))
        unreadable = [path for path, text in found.items() if text == UNREADABLE]
        if unreadable:
            why = f"sudo failed: {self.sudo_error}" if not self.privileged else "permission denied"
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

    def kernel_cmdline_alternatives(self) -> tuple[list[list[str]], str]:
        """Every kernel line the running kernel may have, and what decides between them
        ("" when one): live, the one /proc/cmdline shows."""
        return [self.kernel_cmdline], ""

    def default_boot_entries(self) -> dict[str, BootEntry | str]:
        """Per boot loader configuration (grub.cfg, BLS, extlinux): the entry it boots by
        default, or why that cannot be told (facts/boot_entries.py, shared with offline)."""
        return default_entries(
            self.files("grub_cfg"), self.files("grubenv"), self.files("bls_entries"), self.files("extlinux")
        )

    def boot_loader_lines(self) -> dict[str, list[str]]:
        """``boot_loader_alternatives`` where each place has one kernel line; FactError when
        GRUB decides at boot between several (use ``boot_loader_alternatives`` to judge each)."""
        found: dict[str, list[str]] = {}
        for where, (lines, decided_by) in self.boot_loader_alternatives().items():
            if len(lines) > 1:
                raise FactError(
                    f"{where}: its kernel line is one of {len(lines)}, picked at boot by {decided_by}"
                )
            found[where] = lines[0]
        return found

    def boot_loader_alternatives(self) -> dict[str, tuple[list[list[str]], str]]:
        """The persisted kernel lines, by where they live: every parameter list the next
        boot may get from there (several when GRUB decides at boot, e.g. Ubuntu's
        $vt_handoff) and what decides between them ("" when one).

        Keys name the file (and entry); values are the kernel parameters the next
        boot would get from that source: /etc/default/grub, and the default entry of each
        boot loader configuration (what GRUB's menu boots, not its first linux line).
        FactError when a configuration's default entry cannot be told, unless all its
        kernel lines carry the same parameters (any entry then gives the same answer).
        """
        found: dict[str, tuple[list[list[str]], str]] = {}
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
                found[where] = ([[param for key in keys for param in variables.get(key, "").split()]], "")
        for path, entry in self.default_boot_entries().items():
            if isinstance(entry, BootEntry):
                found[entry.where] = ([list(line) for line in entry.lines], entry.decided_by)
                continue
            lines = all_kernel_params(path, self.files("grub_cfg"), self.files("bls_entries"))
            if not lines or any(line != lines[0] for line in lines) or any("$" in p for p in lines[0]):
                raise FactError(
                    f"which boot entry the boot loader starts cannot be told: {entry}; its kernel lines "
                    "differ, so the persisted line of the entry booted is not known"
                )
            found[f"{path} (all {len(lines)} kernel lines alike; the default entry is not told: {entry})"] = (
                [lines[0]],
                "",
            )
        return found

    # -- derived facts used by several checks ------------------------------
    def raw(self, name: str) -> Section:
        """A section with its exit code, for checks where a non-zero exit is an answer.
        FactError when it was not collected, needs root, timed out or was cut short."""
        if name not in self.sections:
            raise FactError(f"fact {name!r} was not collected")
        needs_root = SECTIONS.get(name, (False, ""))[0]
        if needs_root and not self.privileged:
            raise FactError(f"reading {name.replace('_', ' ')} {_ROOT_NOTE} ({self.sudo_error or 'no sudo'})")
        section = self.sections[name]
        if section.problem or section.unreadable(name).endswith(("bytes the VM printed", "line is missing)")):
            raise FactError(section.unreadable(name))
        return section

    def block_devices(self) -> dict[str, BlockDevice]:
        """Disks, partitions and device-mapper devices (sysfs + lsblk, + blkid with root).
        FactError when sysfs lists no disk or blkid names none of them."""
        blkid = self.section("blkid") if self.privileged else ""
        devices = parse_block_devices(self.section("sys_block"), self.section("lsblk"), blkid)
        if not any(d.kind == "disk" for d in devices.values()):
            raise FactError("no disk was listed in /sys/block: the block device listing is incomplete")
        named = {line.partition(":")[0].strip().removeprefix("/dev/") for line in blkid.splitlines()}
        known = set(devices) | {f"mapper/{d.dm_name}" for d in devices.values() if d.dm_name}
        if self.privileged and not named & known:
            raise FactError("blkid named none of the block devices in /sys/block: its output is incomplete")
        return devices

    def mounts(self) -> list[MountEntry]:
        return parse_mounts(self.section("mounts"))

    def fstab(self) -> list[MountEntry]:
        """/etc/fstab entries; [] when there is no fstab, FactError when it is unreadable."""
        return parse_mounts(self.fact("fstab").get() or "")

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
        """/etc/waagent.conf as settings; None when it does not exist, FactError when unreadable."""
        text = self.fact("waagent_conf").get()
        if text is not None and not text.strip():
            raise FactError(
                "/etc/waagent.conf is empty: the agent's settings cannot be told (the package ships a full file)"
            )
        return None if text is None else parse_waagent_conf(text)

    def packages(self) -> dict[str, str]:
        """Installed packages among the ones asked for; {} without dpkg/rpm."""
        return parse_packages(self.fact("packages").get() or "")

    def agent_binary(self) -> str:
        """Path of waagent, "" when it is not installed."""
        lines = self.raw("agent").text.splitlines()
        return lines[0] if lines and lines[0].startswith("/") else ""

    @property
    def now(self) -> int:
        """The VM's clock when the facts were gathered (epoch seconds)."""
        words = self.section("times").split()
        if not words or not words[0].isdigit():
            raise FactError("the VM's clock was not read (times section garbled)")
        return int(words[0])

    @property
    def boot_time(self) -> int:
        """When the VM booted (epoch seconds, /proc/stat btime)."""
        words = self.section("times").split()
        if len(words) < 2 or not words[1].isdigit():
            raise FactError("the VM's boot time was not read (times section incomplete)")
        return int(words[1])

    def unit_states(self, section: str) -> dict[str, tuple[str, str]]:
        """{unit: (is-enabled, is-active)} of a section's ``unit`` lines; FactError when
        systemctl is missing or did not answer."""
        where = section.replace("_", " ")
        if re.search(r"^no systemctl$", self.raw(section).text, re.M):
            raise FactError(f"{where}: systemctl is not installed, so unit states cannot be read")
        return parse_unit_states(self.section(section), where)

    def pending_updates(self) -> PendingUpdates:
        """What the package manager says offline about pending updates (its failure included)."""
        return parse_pending_updates(self.raw("security_updates").text)

    def agent_policy(self) -> list[PolicyRow] | None:
        """``apt-cache policy`` of the agent packages; None where there is no apt-cache."""
        text = self.fact("agent_candidate").get()
        return None if text is None else parse_apt_policy(text)

    @property
    def machine(self) -> str:
        """``uname -m`` (x86_64, aarch64, ...)."""
        return self._uname()[0]

    @property
    def kernel_release(self) -> str:
        """``uname -r`` of the running kernel."""
        return self._uname()[1]

    def _uname(self) -> list[str]:
        lines = [line.strip() for line in self.section("uname").splitlines()]
        if len(lines) < 3 or not all(lines[:3]):
            raise FactError("uname output incomplete (machine, kernel release, node name expected)")
        return lines

    def openssl_version(self) -> str | None:
        """OpenSSL's version; None when openssl is not installed."""
        text = self.fact("openssl").get()
        if text is None:
            return None
        match = re.match(r"OpenSSL\s+(\d\S*)", text.strip())
        if not match:
            raise FactError(f"openssl version printed no version ({text.strip()[:100] or 'nothing'})")
        return match.group(1)

    def glibc_version(self) -> str:
        text = self.section("glibc")
        match = re.search(r"(\d+\.\d+)", text)
        if not match:
            raise FactError(f"glibc version not readable ({text.strip()[:100]})")
        return match.group(1)

    def sshd_settings(self) -> dict[str, str]:
        """sshd's effective configuration (``sshd -T``), keys in lower case."""
        text = self.section("sshd_effective").split("\n## match", 1)[0]
        values = dict(line.split(None, 1) for line in text.splitlines() if " " in line.strip())
        if "port" not in values:
            raise FactError(
                f"sshd -T did not print the effective configuration ({text.strip()[:200] or 'no output'})"
            )
        return values

    def sshd_match_settings(self) -> list[tuple[str, str]]:
        """(file, setting) of ClientAliveInterval / AuthorizedKeys* lines inside a Match block of
        sshd's config files: what sshd -T without -C does not show. [] for facts gathered
        before these lines were collected."""
        text = self.section("sshd_effective")
        if "\n## match" not in text:
            return []
        inside: dict[str, bool] = {}
        found = []
        for line in text.split("\n## match", 1)[1].splitlines():
            path, _, setting = line.partition(": ")
            words = setting.split()
            if not words:
                continue
            if words[0].lower() == "match":
                inside[path] = not (len(words) > 1 and words[1].lower() == "all")
            elif inside.get(path):
                found.append((path, setting.strip()))
        return found

    def kernel_modules(self) -> dict[str, str]:
        """hv_vmbus/hv_storvsc/hv_netvsc -> "built in" | "module" | "absent" in the running kernel."""
        return parse_kernel_modules(self.section("kernel_modules"))

    def initramfs_modules(self) -> set[str]:
        """Hyper-V modules in the running kernel's initramfs."""
        return parse_initramfs_modules(self.section("initramfs_hv"))

    def initramfs_image(self) -> str:
        """The initramfs file the ``initramfs_hv`` section listed ("" when it listed none)."""
        match = re.search(r"^image (/\S+)$", self.section("initramfs_hv"), re.M)
        return match.group(1) if match else ""

    def next_boot_mismatch(self, initrd: str = "") -> str:
        """Why the running kernel (and ``initrd``, the initramfs file read for it) may not be
        what the boot loader's default entry starts next ("" when every default entry boots
        this release and, when ``initrd`` is given, loads it last: an initrd loaded after it
        would replace its members). A configuration that could not be read, or whose default
        entry cannot be told, is a reason too: what boots next was not seen."""
        try:
            entries = self.default_boot_entries()
        except FactError as exc:
            return f"the boot loader's configuration could not be read ({exc})"
        if not entries:
            return "no boot loader configuration (grub.cfg, BLS entries, extlinux.conf) was read"
        running = self.kernel_release
        for where, entry in entries.items():
            if isinstance(entry, str):
                return f"the boot loader's default entry in {where} cannot be told ({entry})"
            name = entry.kernel.rsplit("/", 1)[-1]
            # (Ubuntu's signed EFI kernels: vmlinuz-RELEASE.efi.signed; arm64: Image-RELEASE)
            match = re.fullmatch(r"(?:vmlinuz|vmlinux|bzImage|zImage|Image|kernel)-(.+?)(?:\.efi(?:\.signed)?)?", name)
            if not match:
                return (
                    f"the boot loader's default entry ({where}: {entry.title!r}) boots {entry.kernel}, "
                    "a name that does not show its kernel release"
                )
            if match.group(1) != running:
                return (
                    f"the boot loader's default entry ({where}: {entry.title!r}) boots kernel {match.group(1)}, "
                    f"not the running {running} whose drivers and initramfs were read"
                )
            if initrd and (not entry.initrds or not _same_boot_file(entry.initrds[-1], initrd)):
                loads = ", ".join(entry.initrds) or "no initramfs"
                return (
                    f"the boot loader's default entry ({where}: {entry.title!r}) loads {loads}, "
                    f"not {initrd} (the initramfs read) last"
                )
        return ""

    def entries_without_initrd(self) -> list[str]:
        """The default entries (by where they are defined) that load no initramfs."""
        try:
            entries = self.default_boot_entries()
        except FactError:
            return []
        return [where for where, entry in entries.items() if not isinstance(entry, str) and not entry.initrds]

    def agent_python(self) -> dict[str, str]:
        """The agent's interpreter, its version and pyasn1's ({} without the agent)."""
        return parse_agent_python(self.fact("agent_python").get() or "")

    def active_swaps(self) -> list[str]:
        return parse_active_swaps(self.section("swaps"))

    def history_files(self) -> list[HomeFile]:
        return parse_home_files(self.section("home_files"))

    def residue(self) -> Residue:
        return parse_residue(self.section("residue"))

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


# Sections that run beside the others, each lane in its own process (a stage of one sh
# pipeline: no file is written on the VM). The rest run one after another in the last
# stage. The slowest sections on the TCG test VM (benchmarks/bench_linux_facts.py, README
# "Speed"), all CPU-bound: decompressing the initramfs (~17 s unloaded), apt's solver and
# apt-cache (~10-14 s and ~8 s; one lane, so two package caches are never built at once),
# starting the agent's Python (~5 s). Two lanes beside the foreground (3 streams for 2
# vCPUs), not one per section: on a loaded 1-2 vCPU VM every concurrent stream stretches the
# others' wall time (5 streams stretched apt-get -s 4-6x, to 0.8 of its deadline) for no
# gain in the total.
CONCURRENT_LANES: tuple[tuple[str, ...], ...] = (
    ("initramfs_hv", "agent_version"),
    ("security_updates", "agent_candidate"),
)


def collection_script(
    sections: dict[str, tuple[bool, str]],
    nonce: str,
    timeouts: Mapping[str, float] | None = None,
    cap: int = OUTPUT_CAP,
    lanes: Sequence[Sequence[str]] | None = None,
) -> str:
    """One sh script printing every section between markers carrying ``nonce``.

    Each section runs under its own deadline (coreutils ``timeout``; ``timeouts`` overrides
    :data:`SECTION_TIMEOUTS`), its output is capped at ``cap`` bytes (``head -c``), and the
    end marker carries its exit status, its start and end (``/proc/uptime``) and deadline.

    The sections named in ``lanes`` run concurrently: each lane is a stage of one pipeline
    that runs its sections in turn, holds their output and prints it after what the stage
    before it printed (``cat``); the other sections run in the last stage. Output never
    interleaves, nothing is written to disk, and a lane that dies loses only the sections
    of the lanes up to it (they are then "not collected"). Default :data:`CONCURRENT_LANES`;
    ``lanes=()`` runs every section in turn.
    """
    deadlines = {**SECTION_TIMEOUTS, **(timeouts or {})}
    marker = f"@@{nonce}"
    parts = [
        "export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        # without coreutils timeout the sections run without deadline (recorded as 0)
        'if command -v timeout >/dev/null; then dl() { timeout -k 5 "$@"; }; nodl=; '
        'else dl() { shift; "$@"; }; nodl=1; fi',
        # one CPU: each stage waits for the one before it (cat first), so lanes run in turn
        'one=; [ "$(getconf _NPROCESSORS_ONLN 2>/dev/null)" = 1 ] && one=1',
        "run() {",
        f"  echo '{marker} begin '\"$1\"",
        "  read -r t0 _ </proc/uptime",
        # the output is held in a variable so its byte count (LC_ALL=C) travels with it
        f'  o=$({{ dl "$2" sh -c "$3" 2>/dev/null </dev/null; r=$?; echo; echo "{marker} rc $r"; }} | head -c {cap + 64})',
        "  read -r t1 _ </proc/uptime",
        f'  printf "%s\\n" "$o"; echo "{marker} end $1 $t0 $t1 ${{nodl:+0}}${{nodl:-$2}} ${{#o}}"',
        "}",
    ]

    def call(name: str) -> str:
        deadline = _seconds(deadlines.get(name, DEFAULT_SECTION_TIMEOUT))
        return f"run {name} {deadline} {shlex.quote(sections[name][1])}"

    chosen = CONCURRENT_LANES if lanes is None else lanes
    in_lanes = [[name for name in lane if name in sections] for lane in chosen]
    in_lanes = [lane for lane in in_lanes if lane]
    laned = {name for lane in in_lanes for name in lane}
    stages = []
    for number, lane in enumerate(in_lanes):
        # the first stage reads nothing (its stdin may still hold sudo's password pipe)
        first, upstream = ('[ -n "$one" ] && cat; ', ' [ -n "$one" ] || cat;') if number else ("", "")
        body = "\n".join(call(name) for name in lane)
        stages.append(f"{{ {first}o=$(\n{body}\n);{upstream} printf '%s\\n' \"$o\"; }}")
    rest = "\n".join(call(name) for name in sections if name not in laned)
    if stages:
        stages.append(f'{{ [ -n "$one" ] && cat\n{rest}\n[ -n "$one" ] || cat; }}' if rest else "cat")
        parts.append(" |\n".join(stages))
    else:
        parts.append(rest)
    return "\n".join(parts) + "\n"


def _same_boot_file(named: str, path: str) -> bool:
    """Whether a boot entry's file (relative to the partition GRUB reads: /boot/X on the
    root file system, or /X on a separate /boot) is the file at ``path``."""
    named = "/" + named.split(")", 1)[-1].lstrip("/")  # (hd0,gpt2)/boot/x -> /boot/x
    return path in (named, "/boot" + named)


def section_timings(sections: Mapping[str, Section]) -> list[dict]:
    """Each section's time on the VM, deadline and status, slowest first (``-vv`` and the
    JSON report): ``ok``, ``absent``, ``exit N``, or the problem (``timed out after N s``,
    ``output cut at 10 MiB``). A recording without times gives ``Seconds`` None."""
    rows = []
    for name, section in sections.items():
        if section.problem:
            status = section.problem
        elif section.absent:
            status = "absent"
        else:
            status = "ok" if section.rc == 0 else f"exit {section.rc}"
        rows.append({"Name": name, "Seconds": section.seconds, "Deadline": section.deadline, "Status": status})
    return sorted(rows, key=lambda row: -(row["Seconds"] or 0))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def parse_collection(output: str, nonce: str, cap: int = OUTPUT_CAP) -> dict[str, Section]:
    """Sections of the script's output. A section whose status line is missing or whose
    text exceeds ``cap`` was cut; exit 124/137 of ``timeout`` means it timed out."""
    sections: dict[str, Section] = {}
    pattern = re.compile(
        rf"^@@{nonce} begin (\S+)\n(.*?)\n@@{nonce} end \1 (\S+) (\S+) (\S+) (\d+)$", re.M | re.S
    )
    trailer = re.compile(rf"\A(.*?)\n?\n@@{nonce} rc (\d+)\n?\Z", re.S)
    for match in pattern.finditer(output):
        name, body = match.group(1), match.group(2)
        started, ended, deadline = (_number(match.group(i)) for i in (3, 4, 5))
        seconds = round(ended - started, 2) if started is not None and ended is not None else None
        done = trailer.match(body)
        problem = ""
        if not _same_size(body, int(match.group(6))):
            text, rc = body, 1
            problem = (
                f"output garbled in transit ({len(body.encode())} bytes received, {match.group(6)} sent)"
            )
        elif done is None or len(done.group(1).encode()) > cap:
            text, rc = (done.group(1) if done else body), 1
            problem = f"output cut at {cap // 2**20} MiB" if cap >= 2**20 else f"output cut at {cap} bytes"
        else:
            text, rc = done.group(1), int(done.group(2))
            if rc in (124, 137) and deadline:
                problem = f"timed out after {_seconds(deadline)} s"
        sections[name] = Section(
            rc, text, seconds, deadline, problem, len(text.encode("utf-8", "surrogateescape"))
        )
    return sections


def _same_size(text: str, size: int) -> bool:
    """Whether ``text`` is ``size`` bytes, allowing for bytes the decoder replaced (U+FFFD
    stands for 1 to 3 undecodable bytes)."""
    encoded = len(text.encode("utf-8", "surrogateescape"))
    replaced = text.count("\ufffd")
    if replaced > 16 and replaced * 100 > len(text):
        return False  # mostly undecodable: garbled, whatever its length
    return encoded - 2 * replaced <= size <= encoded


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def gather(
    connection,
    admin_user: str = "",
    timeout: float = 600.0,
    sudo_password: str | None = None,
    sudo_password_hint: str = "",
    sections: dict[str, tuple[bool, str]] | None = None,
    section_timeouts: Mapping[str, float] | None = None,
    lanes: Sequence[Sequence[str]] | None = None,
) -> LinuxFacts:
    """Collect every section from a live VM in one SSH command (two without root).

    Root runs the script as is (no sudo needed); another account uses ``sudo -n``, or
    ``sudo -S`` with ``sudo_password`` on stdin (never on a command line). When sudo
    refuses, the script runs unprivileged and the sections needing root are errors.
    ``sections`` (default :data:`SECTIONS`) lets tests collect a few sections only; ``lanes``
    (default :data:`CONCURRENT_LANES`) which run concurrently."""
    nonce = secrets.token_hex(8)
    chosen = SECTIONS if sections is None else sections
    script = collection_script(chosen, nonce, section_timeouts, lanes=lanes)
    # stdin holds the password only for sudo -S; every other path runs with </dev/null
    asking = (
        "exec sudo -S -p '' -- sh -c \"$s\"" if sudo_password else 'exec sudo -n -- sh -c "$s" </dev/null'
    )
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


_ESCAPED_HEADER = re.compile(r"^\\*###")


def escape_file_text(text: str) -> str:
    """A file's text as ``_cat`` prints it: a line starting with ``###`` (after any number of
    backslashes) gets one more leading backslash, so no line of a file can pose as the
    ``### /path`` header of another file (:func:`split_files` removes it again)."""
    return "\n".join("\\" + line if _ESCAPED_HEADER.match(line) else line for line in text.split("\n"))


def split_files(text: str) -> dict[str, str]:
    """``### /path`` sections -> {path: content}; ``### ! /path`` (exists, unreadable)
    maps to :data:`UNREADABLE`. Content lines escaped by :func:`escape_file_text` are restored."""
    files: dict[str, str] = {}
    current = None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith("\\") and _ESCAPED_HEADER.match(line):
            if current is not None:
                lines.append(line[1:])
            continue
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


# the name before " release N" in them -> os-release ID and ID_LIKE
_RELEASE_IDS = (
    ("centos", "centos", "rhel fedora"),
    ("oracle", "ol", "fedora"),
    ("red hat", "rhel", "fedora"),
    ("enterprise linux", "ol", "fedora"),  # Oracle Linux 5/6: "Enterprise Linux Enterprise Linux Server"
    ("scientific", "scientific", "rhel fedora"),
    ("cloudlinux", "cloudlinux", "rhel fedora centos"),
    ("fedora", "fedora", ""),
    ("amazon linux", "amzn", "centos rhel fedora"),
)


def parse_os_release(text: str) -> dict[str, str]:
    """os-release's ``KEY=value`` lines; where only an EL6 release file was found
    (``### /etc/redhat-release`` and its line), the same keys derived from that line."""
    if not text.startswith("### /"):
        return parse_shell_assignments(text)
    path, _, body = text[4:].partition("\n")
    line = body.strip().splitlines()[0] if body.strip() else ""
    match = re.match(r"(.+?)\s+release\s+(\d+(?:\.\d+)*)\s*(?:\(([^)]*)\))?", line)
    known = next(((i, like) for word, i, like in _RELEASE_IDS if match and word in match.group(1).lower()), None)
    if not match or known is None:
        raise FactError(f"no os-release, and {path} names no known distribution release ({line[:100]!r})")
    name, version, codename = match.group(1), match.group(2), match.group(3) or ""
    release = {"NAME": name, "ID": known[0], "VERSION_ID": version, "PRETTY_NAME": line, "RELEASE_FILE": path}
    if known[1]:
        release["ID_LIKE"] = known[1]
    if codename:
        release["VERSION"] = f"{version} ({codename})"
    return release


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


# dpkg-query's ${Status} of an installed package (want install/hold), and rpm's line
INSTALLED_STATES = (["install", "ok", "installed"], ["hold", "ok", "installed"], ["installed"])


def parse_packages(text: str) -> dict[str, str]:
    """Installed packages among the ones asked for: {name: version}. dpkg's status must
    be exactly ``install ok installed`` (half-installed, unpacked, config-files,
    reinstreq are not installed); rpm's line says ``installed``."""
    packages = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].split() in INSTALLED_STATES:
            packages[parts[0]] = parts[1]
    return packages


def version_tuple(text: str) -> tuple[int, ...]:
    """Leading numeric components of a version ("3.0.15" -> (3, 0, 15), "1.0.2k" -> (1, 0, 2))."""
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    return tuple(int(x) for x in match.group(0).split(".")) if match else ()
