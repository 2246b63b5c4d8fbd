#!/bin/bash
# Build the pytest-vmimage Linux testbed: one debootstrapped Debian 12 root file
# system, turned into a compliant fixed-VHD OS disk plus deliberately broken
# variants (see variants.json and README.md next to this file).
#
# Run as root on Debian 12. No loop devices and no mounts of the disk images:
# sfdisk partitions a sparse raw file, `mkfs.ext4 -d` fills a file system from
# a directory, disktool.py places it (dd conv=notrunc,sparse semantics), qemu-img
# makes the fixed VHD, GRUB's boot.img and core.img are written into the first
# MiB with dd.
#
# usage: build_image.sh [--force] [--print-dir] [VARIANT...]
#   (no VARIANT = every variant in variants.json)
# env:   VMIMAGE_CACHE (default ~/.cache/pytest-vmimage); images go to
#        $VMIMAGE_CACHE/testbed/<recipe-hash>/, the debootstrap to
#        $VMIMAGE_CACHE/testbed/base-<key>/.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VARIANTS_JSON="$HERE/variants.json"
CACHE_ROOT="${VMIMAGE_CACHE:-$HOME/.cache/pytest-vmimage}/testbed"
SUITE=bookworm
DISK_GIB=30            # OS disk virtual size (LNX-001 / VHD-004 lower bound)
DATA_DISK_MIB=1024     # small data disks
ADMIN=azureuser
KERNEL_ARGS="console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
# net.ifnames=0: the NIC is eth0 whatever PCI slot QEMU gives it (README.md).
EXTRA_KERNEL_ARGS="net.ifnames=0"
# Every package the compliant image needs (one debootstrap serves all variants).
BASE_PACKAGES="linux-image-amd64 systemd systemd-sysv udev dbus kmod initramfs-tools
 grub-pc openssh-server ifupdown isc-dhcp-client iproute2 netbase iptables
 python3 python3-pyasn1 openssl sudo waagent procps less ca-certificates
 hyperv-daemons"
BASE_VERSION=1   # bump to force a new debootstrap

FORCE=0
PRINT_DIR=0
WANT=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --print-dir) PRINT_DIR=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $a" >&2; exit 2 ;;
    *) WANT+=("$a") ;;
  esac
done

log() { printf '[build %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The recipe hash: this script, disktool.py and variants.json (qemu.py computes the same).
recipe_hash() {
  { cat "$HERE/build_image.sh"; printf '\0'; cat "$HERE/disktool.py"; printf '\0'; cat "$VARIANTS_JSON"; } \
    | sha256sum | cut -c1-16
}
HASH=$(recipe_hash)
OUT="$CACHE_ROOT/$HASH"
if [ "$PRINT_DIR" = 1 ]; then echo "$OUT"; exit 0; fi

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"

# ---------------------------------------------------------------- host tools
HOST_PACKAGES="qemu-system-x86 qemu-utils debootstrap fdisk e2fsprogs openssh-client
 util-linux python3 grub-pc-bin grub-common lvm2"
ensure_host_tools() {
  local missing=() p
  for p in $HOST_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing host packages: ${missing[*]}"
    # with the package lists as they are first; after one `apt-get update` if that fails
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             --no-install-recommends "${missing[@]}"; } \
      || die "could not install ${missing[*]}"
  fi
}

# The Debian mirror apt already uses on this machine (never a guess).
find_mirror() { # $1 = debian | debian-security
  local want=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$want" '
      BEGIN{RS=""; FS="\n"}
      { uris=""; suites=""; en=1
        for(i=1;i<=NF;i++){ l=$i
          if (l ~ /^URIs:/){sub(/^URIs:[ \t]*/,"",l); uris=l}
          if (l ~ /^Suites:/){sub(/^Suites:[ \t]*/,"",l); suites=l}
          if (l ~ /^Enabled:[ \t]*no/) en=0 }
        if (!en) next
        n=split(uris,u,/[ \t]+/)
        for(j=1;j<=n;j++){ x=u[j]; sub(/\/$/,"",x)
          if (want=="debian-security" && x ~ /debian-security$/) {print x; exit}
          if (want=="debian" && x ~ /\/debian$/ && suites ~ /bookworm( |$)/) {print x; exit} } }' "$f"
  done | head -n1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v want="$want" '$1=="deb" { x=$2; if ($2 ~ /^\[/) { for(i=2;i<=NF;i++) if ($i ~ /\]$/) {x=$(i+1); break} }
        sub(/\/$/,"",x)
        if (want=="debian-security" && x ~ /debian-security$/) {print x; exit}
        if (want=="debian" && x ~ /\/debian$/) {print x; exit} }' "$f"
  done | head -n1
}

# Run a command inside ROOT with /proc, /sys and /dev/pts mounted in a private
# mount namespace (they vanish with the command; nothing leaks to the host).
in_chroot() {
  local root=$1; shift
  unshare --mount --propagation private -- /bin/sh -ec '
    r=$1; shift
    mount -t proc proc "$r/proc"
    mount -t sysfs sysfs "$r/sys"
    mkdir -p "$r/dev/pts"; mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
    exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

no_daemons_on() { printf '#!/bin/sh\nexit 101\n' > "$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d"; }
no_daemons_off() { rm -f "$1/usr/sbin/policy-rc.d"; }

# ---------------------------------------------------------------- stage 1: debootstrap
BASE_KEY=$( { echo "$SUITE $BASE_VERSION"; echo $BASE_PACKAGES; } | sha256sum | cut -c1-12)
BASE="$CACHE_ROOT/base-$BASE_KEY"

build_base() {
  if [ -f "$BASE/done" ]; then log "debootstrap cached: $BASE"; return; fi
  local mirror sec t0 tmp
  mirror=$(find_mirror debian); sec=$(find_mirror debian-security)
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d)"
  log "debootstrap $SUITE from $mirror (security: ${sec:-none})"
  t0=$(date +%s)
  tmp="$BASE.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  debootstrap --variant=minbase "$SUITE" "$tmp/rootfs" "$mirror" > "$tmp/debootstrap.log" 2>&1 \
    || { tail -n 30 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  local r="$tmp/rootfs"
  rm -f "$r/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$SUITE" "$SUITE"
    if [ -n "$sec" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$sec" "$SUITE"
    fi
  } > "$r/etc/apt/sources.list.d/debian.sources"
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  no_daemons_on "$r"
  printf '%s\n' \
    'grub-pc grub-pc/install_devices multiselect' \
    'grub-pc grub-pc/install_devices_empty boolean true' \
    'grub-pc grub-pc/install_devices_disks_changed multiselect' > "$r/tmp/debconf.sel"
  in_chroot "$r" debconf-set-selections /tmp/debconf.sel
  rm -f "$r/tmp/debconf.sel"
  log "apt-get install (base packages, security updates)"
  {
    in_chroot "$r" apt-get update -q &&
    in_chroot "$r" apt-get -y -q dist-upgrade &&
    # shellcheck disable=SC2086
    in_chroot "$r" apt-get install -y -q --no-install-recommends $BASE_PACKAGES &&
    in_chroot "$r" apt-get clean
  } > "$tmp/apt.log" 2>&1 || { tail -n 40 "$tmp/apt.log" >&2; die "apt-get in the chroot failed"; }
  no_daemons_off "$r"
  echo $(( $(date +%s) - t0 )) > "$tmp/seconds"
  touch "$tmp/done"
  rm -rf "$BASE"; mv "$tmp" "$BASE"
  log "debootstrap + packages took $(cat "$BASE/seconds") s"
}


# ---------------------------------------------------------------- constants of the images
ROOT_UUID=5a1e0b7e-7e57-4bed-9a5e-0000000000a1   # ext4 root of every OS disk
BOOT_UUID=5a1e0b7e-7e57-4bed-9a5e-0000000000b0   # /boot of the LVM variant
DATA_UUID=5a1e0b7e-7e57-4bed-9a5e-0000000000d1   # ext4 on data-empty
SWAP_UUID=5a1e0b7e-7e57-4bed-9a5e-0000000000c5   # swap on data-swap
DISK_LABEL_ID=0x7e57b0d1                          # MBR disk signature of the OS disk

# ---------------------------------------------------------------- disk helpers
# mkfs.ext4 -d DIR into a sparse file of BYTES bytes
make_ext4() { # out bytes label uuid dir
  rm -f "$1"; truncate -s "$2" "$1"
  mkfs.ext4 -q -F -L "$3" -U "$4" -d "$5" "$1"
}

# A sparse raw file with an MBR: one partition per "start size type" argument
# (sectors; size "" = to the end). First partition at sector 2048 (1 MiB).
make_mbr_raw() { # out bytes label-id part-spec...
  local out=$1 bytes=$2 id=$3; shift 3
  rm -f "$out"; truncate -s "$bytes" "$out"
  { echo "label: dos"; echo "label-id: $id"; echo "unit: sectors"; printf '%s\n' "$@"; } \
    | sfdisk -q --no-reread --no-tell-kernel "$out" >/dev/null
}

# dd conv=notrunc,sparse semantics, but skipping SRC's holes (SEEK_DATA): GNU dd
# reads and compares every zero of a 30 GiB file system image (over a minute).
place() { # image-file raw-file start-sector
  python3 "$HERE/disktool.py" place "$1" "$2" $(( $3 * 512 ))
}

# The fixed VHD: qemu-img appends the footer (subformat=fixed; force_size keeps the
# virtual size exactly the raw size instead of rounding to a CHS geometry). It
# skips the raw file's holes, so the VHD stays sparse.
to_fixed_vhd() { # raw vhd
  local size; size=$(stat -c %s "$1")
  qemu-img convert -q -f raw -O vpc -o subformat=fixed,force_size=on "$1" "$2.tmp"
  rm -f "$1"
  local got
  got=$(qemu-img info -f vpc --output=json "$2.tmp" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  [ "$got" = "$size" ] || die "VHD virtual size $got != $size"
  [ "$(stat -c %s "$2.tmp")" = $(( size + 512 )) ] || die "VHD file is not virtual size + 512"
  mv "$2.tmp" "$2"
}

# GRUB for BIOS without grub-install: core.img from the image's own GRUB goes
# into sectors 1.. (the MBR gap before the 1 MiB partition), boot.img's code
# (first 440 bytes) into the MBR; boot.img already points at sector 1 and
# diskboot.img's block list (set by grub-mkimage) at the sectors after it.
install_grub_mbr() { # rootfs raw prefix-partition(e.g. msdos1) fs-uuid grub-dir-on-that-fs
  local r=$1 raw=$2 part=$3 uuid=$4 gdir=$5
  cat > "$r/tmp/early.cfg" <<CFG
search.fs_uuid $uuid root hd0,$part
set prefix=(\$root)$gdir
CFG
  local mods="biosdisk part_msdos ext2 search_fs_uuid"
  [ "$gdir" = /boot/grub ] || mods="$mods lvm"
  # shellcheck disable=SC2086
  in_chroot "$r" grub-mkimage -O i386-pc -o /tmp/core.img -c /tmp/early.cfg \
    -p "(hd0,$part)$gdir" $mods
  local sectors=$(( ($(stat -c %s "$r/tmp/core.img") + 511) / 512 ))
  [ "$sectors" -lt 2000 ] || die "core.img too large ($sectors sectors)"
  dd if="$r/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
  # hard disk: replace the floppy drive-number check jump by two NOPs, as grub-bios-setup does
  printf '\x90\x90' | dd of="$raw" bs=1 seek=$((0x66)) conv=notrunc status=none
  dd if="$r/tmp/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
  rm -f "$r/tmp/core.img" "$r/tmp/early.cfg"
}

# /boot/grub/grub.cfg by Debian's own grub-mkconfig. grub-probe cannot see a
# block device in a chroot, so a stand-in answers for the disk the image will have.
write_grub_cfg() { # rootfs root-device-path boot-uuid boot-part
  local r=$1 rootdev=$2 buuid=$3 bpart=$4
  mkdir -p "$r/boot/grub/i386-pc"
  cp -a "$r/usr/lib/grub/i386-pc/." "$r/boot/grub/i386-pc/"
  mv "$r/usr/sbin/grub-probe" "$r/usr/sbin/grub-probe.real"
  cat > "$r/usr/sbin/grub-probe" <<STUB
#!/bin/sh
t=device
while [ \$# -gt 0 ]; do case "\$1" in
  --target=*) t=\${1#--target=};; -t) shift; t=\$1;; esac; shift; done
case "\$t" in
  device) echo $rootdev;;
  disk) echo /dev/vda;;
  fs) echo ext2;;
  fs_uuid) echo $buuid;;
  fs_label) echo root;;
  partmap) echo msdos;;
  abstraction) ;;
  drive) echo '(hd0,$bpart)';;
  compatibility_hint) echo 'hd0,$bpart';;
  hints_string) echo '--hint-bios=hd0,$bpart --hint-efi=hd0,$bpart --hint-baremetal=ahci0,$bpart';;
  partuuid) echo ${DISK_LABEL_ID#0x}-01;;
  *) exit 1;;
esac
STUB
  chmod 755 "$r/usr/sbin/grub-probe"
  # 10_linux writes root=UUID=... only if /dev/disk/by-uuid/UUID exists
  if [ "$rootdev" = /dev/vda1 ]; then
    mkdir -p "$r/dev/disk/by-uuid"; ln -sf ../../null "$r/dev/disk/by-uuid/$ROOT_UUID"
  fi
  in_chroot "$r" grub-mkconfig -o /boot/grub/grub.cfg > "$r/tmp/grub-mkconfig.log" 2>&1 \
    || { cat "$r/tmp/grub-mkconfig.log" >&2; mv "$r/usr/sbin/grub-probe.real" "$r/usr/sbin/grub-probe"; die "grub-mkconfig failed"; }
  mv "$r/usr/sbin/grub-probe.real" "$r/usr/sbin/grub-probe"
  rm -rf "$r/tmp/grub-mkconfig.log" "$r/dev/disk"
  if [ "$rootdev" != /dev/vda1 ]; then
    # separate /boot partition: GRUB sees the kernel at /vmlinuz-..., not /boot/vmlinuz-...
    sed -i -E 's@^([[:space:]]*(linux|initrd)[[:space:]]+)/boot/@\1/@' "$r/boot/grub/grub.cfg"
  fi
  grep -q "^[[:space:]]*linux[[:space:]]" "$r/boot/grub/grub.cfg" || die "grub.cfg has no linux line"
}

# ---------------------------------------------------------------- stage 2: the compliant configuration
configure_common() { # rootfs
  local r=$1
  no_daemons_on "$r"
  # kernel line, persisted for GRUB (LNX-013)
  sed -i \
    -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=1/' \
    -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
    -e "s/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX=\"$KERNEL_ARGS $EXTRA_KERNEL_ARGS\"/" \
    "$r/etc/default/grub"
  cat >> "$r/etc/default/grub" <<'G'
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1"
GRUB_DISABLE_OS_PROBER=true
G
  grep -q '^GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0 rootdelay=300' "$r/etc/default/grub" \
    || die "could not set GRUB_CMDLINE_LINUX"

  # the initramfs must not sleep $ROOTDELAY seconds (NOTES.md); the hook removes
  # that one line from the initramfs' copy of init, the kernel line keeps rootdelay=300
  cat > "$r/etc/initramfs-tools/hooks/testbed-no-rootdelay-sleep" <<'H'
#!/bin/sh
# pytest-vmimage testbed: rootdelay=300 stays on the kernel line (Azure rule),
# but this test image must not wait 300 s in the initramfs under emulation.
[ "$1" = prereqs ] && exit 0
grep -q 'sleep "\$ROOTDELAY"' "$DESTDIR/init" || { echo "testbed hook: no rootdelay sleep found in init" >&2; exit 1; }
sed -i 's/^\([[:space:]]*\)sleep "\$ROOTDELAY"/\1: # testbed: no rootdelay sleep/' "$DESTDIR/init"
H
  chmod 755 "$r/etc/initramfs-tools/hooks/testbed-no-rootdelay-sleep"

  # identity and file systems
  echo localhost.localdomain > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost localhost.localdomain\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' > "$r/etc/hosts"
  printf '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$ROOT_UUID" > "$r/etc/fstab"

  # network: ifupdown, DHCP on the primary NIC (eth0 thanks to net.ifnames=0)
  cat > "$r/etc/network/interfaces" <<'N'
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug eth0
iface eth0 inet dhcp
N

  # sshd: ClientAliveInterval 180 (LNX-015); host keys are made at first boot
  sed -i 's/^#\?ClientAliveInterval.*/ClientAliveInterval 180/' "$r/etc/ssh/sshd_config"
  grep -q '^ClientAliveInterval 180$' "$r/etc/ssh/sshd_config" || echo 'ClientAliveInterval 180' >> "$r/etc/ssh/sshd_config"
  cat > "$r/etc/systemd/system/testbed-ssh-hostkeys.service" <<'U'
[Unit]
Description=Generate SSH host keys missing from a generalized image (testbed)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
U
  ln -sf /etc/systemd/system/testbed-ssh-hostkeys.service \
    "$r/etc/systemd/system/multi-user.target.wants/testbed-ssh-hostkeys.service"
  # The new host public keys on the serial port (a channel the host trusts), as
  # cloud-init prints them: qemu.py reads them into the VM's known_hosts, so the
  # tests and the demo connect with host-key verification on. Only reads the keys.
  cat > "$r/etc/systemd/system/testbed-ssh-hostkeys-console.service" <<'U'
[Unit]
Description=Print the SSH host public keys to the serial port (testbed)
After=testbed-ssh-hostkeys.service
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c '{ echo "-----BEGIN SSH HOST KEY KEYS-----"; cat /etc/ssh/ssh_host_*_key.pub; echo "-----END SSH HOST KEY KEYS-----"; } > /dev/ttyS0'

[Install]
WantedBy=multi-user.target
U
  ln -sf /etc/systemd/system/testbed-ssh-hostkeys-console.service \
    "$r/etc/systemd/system/multi-user.target.wants/testbed-ssh-hostkeys-console.service"

  # Azure Linux Agent: installed and configured, enabled, but kept off the fabric
  local c="$r/etc/waagent.conf"
  [ -f "$c" ] || die "waagent.conf missing"
  set_conf() { # key value
    if grep -q "^#\?[[:space:]]*$1=" "$c"; then sed -i "s/^#\?[[:space:]]*$1=.*/$1=$2/" "$c"; else echo "$1=$2" >> "$c"; fi
  }
  set_conf Provisioning.Enabled n
  set_conf Provisioning.Agent disabled
  set_conf Provisioning.RegenerateSshHostKeyPair y
  set_conf Provisioning.DeleteRootPassword y
  set_conf ResourceDisk.EnableSwap n
  # Debian ships AutoUpdate.Enabled=n; LNX-005 warns on n. The daemon never runs here.
  set_conf AutoUpdate.Enabled y
  local unit
  unit=$(cd "$r" && ls lib/systemd/system/walinuxagent.service usr/lib/systemd/system/walinuxagent.service 2>/dev/null | head -n1)
  [ -n "$unit" ] || die "walinuxagent.service not found"
  mkdir -p "$r/etc/systemd/system/walinuxagent.service.d"
  cat > "$r/etc/systemd/system/walinuxagent.service.d/50-testbed-offline.conf" <<'D'
# pytest-vmimage testbed: the agent stays installed, configured and enabled,
# but this test VM must never provision or talk to the Azure fabric
# (168.63.129.16). The daemon is replaced by a process that does nothing.
[Service]
ExecStart=
ExecStart=/bin/sleep infinity
Restart=no
D
  in_chroot "$r" systemctl enable walinuxagent.service >/dev/null 2>&1
  [ -L "$r/etc/systemd/system/multi-user.target.wants/walinuxagent.service" ] || die "walinuxagent not enabled"

  # accounts: root locked, one admin with a key and the agent's sudoers entry
  in_chroot "$r" usermod -p '!' root
  in_chroot "$r" useradd -m -s /bin/bash -c "Azure admin (testbed)" "$ADMIN"
  install -d -m 700 "$r/home/$ADMIN/.ssh"
  install -m 600 "$OUT/id_ed25519.pub" "$r/home/$ADMIN/.ssh/authorized_keys"
  in_chroot "$r" chown -R "$ADMIN:$ADMIN" "/home/$ADMIN/.ssh"
  echo "$ADMIN ALL=(ALL) NOPASSWD:ALL" > "$r/etc/sudoers.d/waagent"
  chmod 440 "$r/etc/sudoers.d/waagent"

  # LNX-034: Debian's hyperv-daemons as installed: the KVP daemon's unit is started
  # by its udev rule when /dev/vmbus/hv_kvp appears (never under QEMU)
  [ -x "$r/usr/sbin/hv_kvp_daemon" ] || die "hv_kvp_daemon missing"
  grep -q 'SYSTEMD_WANTS.*hv-kvp-daemon.service' "$r"/lib/udev/rules.d/*hyperv* || die "no udev rule starts hv-kvp-daemon"
  # LNX-035: the image's apt sources name the distro's own updates and security suites
  grep -q "^Suites:.*$SUITE-updates" "$r/etc/apt/sources.list.d/debian.sources" || die "no $SUITE-updates source"
  grep -q "^Suites:.*$SUITE-security" "$r/etc/apt/sources.list.d/debian.sources" \
    || die "no $SUITE-security source (find_mirror found no debian-security mirror on this host)"

  # the initramfs (once, shared by every variant that does not change it)
  in_chroot "$r" update-initramfs -u -k all > "$r/tmp/initramfs.log" 2>&1 \
    || { cat "$r/tmp/initramfs.log" >&2; die "update-initramfs failed"; }
  rm -f "$r/tmp/initramfs.log"
  no_daemons_off "$r"
}

# Deprovision residue (LNX-023/026, VHD-009): done before the variant's changes.
generalize() { # rootfs
  local r=$1
  rm -f "$r/etc/resolv.conf" "$r"/var/lib/dhcp/*.leases "$r"/var/lib/dhcp/dhclient* \
        "$r"/etc/ssh/ssh_host_*key "$r"/etc/ssh/ssh_host_*key.pub \
        "$r/var/lib/dbus/machine-id" "$r/usr/sbin/policy-rc.d"
  : > "$r/etc/machine-id"
  find "$r/root" "$r/home" -maxdepth 2 \( -name .bash_history -o -name .python_history \
        -o -name .lesshst -o -name .viminfo -o -name .wget-hsts \) -delete
  rm -rf "$r"/tmp/* "$r"/var/tmp/* "$r"/var/cache/apt/*.bin
  find "$r/var/log" -type f \( -name '*.log' -o -name '*.gz' -o -name '*.[0-9]' \) -delete
}

# ---------------------------------------------------------------- stage 3: variants
# Each function gets the rootfs of a generalized copy of the compliant image.
variant_compliant() { :; }

variant_no_console() {
  sed -i 's/console=ttyS0 //' "$1/etc/default/grub"
  ! grep -q 'console=ttyS0' "$1/etc/default/grub" || die "console=ttyS0 still there"
}

variant_no_rootdelay() {
  sed -i 's/ rootdelay=300//' "$1/etc/default/grub"
  ! grep -q 'rootdelay' "$1/etc/default/grub" || die "rootdelay still there"
}

variant_misc_config() {
  local r=$1
  # (c) LNX-015: a drop-in, read before the main file's ClientAliveInterval 180 (first value wins)
  mkdir -p "$r/etc/ssh/sshd_config.d"
  echo 'ClientAliveInterval 600' > "$r/etc/ssh/sshd_config.d/50-keepalive.conf"
  # (h) LNX-024: a persisted iptables rule
  cat > "$r/etc/systemd/system/testbed-firewall.service" <<'U'
[Unit]
Description=Testbed violation: a firewall rule left in the image
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/iptables -A INPUT -p tcp --dport 9 -j DROP

[Install]
WantedBy=multi-user.target
U
  ln -sf /etc/systemd/system/testbed-firewall.service \
    "$r/etc/systemd/system/multi-user.target.wants/testbed-firewall.service"
  # (i) LNX-023: root's shell history
  printf 'apt-get update\nvi /etc/ssh/sshd_config\nsystemctl restart ssh\n' > "$r/root/.bash_history"
  chmod 600 "$r/root/.bash_history"
  # (j) LNX-022: a default account with a password hash and a key
  in_chroot "$r" useradd -m -s /bin/bash -c "left-over account (testbed)" olduser
  in_chroot "$r" usermod -p "$(openssl passwd -6 -salt testbedsalt olduser-password)" olduser
  install -d -m 700 "$r/home/olduser/.ssh"
  install -m 600 "$OUT/olduser_ed25519.pub" "$r/home/olduser/.ssh/authorized_keys"
  in_chroot "$r" chown -R olduser:olduser /home/olduser/.ssh
  # (k) LNX-025
  sed -i 's/^Provisioning.DeleteRootPassword=.*/Provisioning.DeleteRootPassword=n/' "$r/etc/waagent.conf"
  grep -q '^Provisioning.DeleteRootPassword=n$' "$r/etc/waagent.conf" || die "DeleteRootPassword not set"
}

variant_static_net_swap() {
  local r=$1
  # (g) LNX-018/019: static address and DNS; QEMU user networking's own values
  python3 - "$r/etc/network/interfaces" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = "allow-hotplug eth0\niface eth0 inet dhcp\n"
assert old in s, s
s = s.replace(old, "auto eth0\niface eth0 inet static\n    address 10.0.2.15/24\n"
              "    gateway 10.0.2.2\n    dns-nameservers 10.0.2.3\n")
open(p, "w").write(s)
PY
  # (d) LNX-012: the swap partition of the data disk data-swap, in fstab
  printf 'UUID=%s\tnone\tswap\tsw\t0\t0\n' "$SWAP_UUID" >> "$r/etc/fstab"
}

variant_nm_noagent() {
  local r=$1
  no_daemons_on "$r"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  {
    in_chroot "$r" apt-get update -q &&
    # (f) LNX-016
    in_chroot "$r" apt-get install -y -q --no-install-recommends network-manager &&
    # (l) LNX-003
    in_chroot "$r" apt-get purge -y -q waagent &&
    in_chroot "$r" apt-get clean
  } > "$r/tmp/apt.log" 2>&1 || { tail -n 30 "$r/tmp/apt.log" >&2; die "apt-get failed"; }
  rm -rf "$r/etc/systemd/system/walinuxagent.service.d" "$r/tmp/apt.log" "$r/etc/resolv.conf"
  in_chroot "$r" systemctl enable NetworkManager.service >/dev/null 2>&1
  [ -L "$r/etc/systemd/system/multi-user.target.wants/NetworkManager.service" ] || die "NetworkManager not enabled"
  [ ! -e "$r/usr/sbin/waagent" ] && [ ! -e "$r/etc/waagent.conf" ] || die "waagent still there"
  no_daemons_off "$r"
}

variant_lvm_root() {
  local r=$1
  no_daemons_on "$r"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  {
    in_chroot "$r" apt-get update -q &&
    in_chroot "$r" apt-get install -y -q --no-install-recommends lvm2 &&
    in_chroot "$r" apt-get clean
  } > "$r/tmp/apt.log" 2>&1 || { tail -n 30 "$r/tmp/apt.log" >&2; die "apt-get failed"; }
  rm -f "$r/tmp/apt.log" "$r/etc/resolv.conf"
  printf '# <file system> <mount point> <type> <options> <dump> <pass>\n/dev/mapper/testbed-root\t/\text4\terrors=remount-ro\t0\t1\nUUID=%s\t/boot\text4\tdefaults\t0\t2\n' "$BOOT_UUID" > "$r/etc/fstab"
  in_chroot "$r" update-initramfs -u -k all > "$r/tmp/initramfs.log" 2>&1 \
    || { cat "$r/tmp/initramfs.log" >&2; die "update-initramfs failed"; }
  rm -f "$r/tmp/initramfs.log"
  no_daemons_off "$r"
}

# LNX-030..039 (rules LISA and today's certification check): one image, six breakages
variant_lisa_rules() {
  local r=$1
  # LNX-030: sudo asks for the target's password; azureuser's NOPASSWD rule still
  # lets the admin (and the tests) run `sudo -n` (checked below)
  echo 'Defaults targetpw' > "$r/etc/sudoers.d/90-testbed-targetpw"
  chmod 440 "$r/etc/sudoers.d/90-testbed-targetpw"
  in_chroot "$r" visudo -c -q >/dev/null || die "sudoers invalid"
  in_chroot "$r" runuser -u "$ADMIN" -- sudo -n true || die "sudo -n no longer works for $ADMIN"
  # LNX-031: a harmful kernel parameter (persisted, so on the running line too)
  sed -i -E 's/^(GRUB_CMDLINE_LINUX=".*)"$/\1 libata.atapi_enabled=0"/' "$r/etc/default/grub"
  grep -q '^GRUB_CMDLINE_LINUX=".* libata.atapi_enabled=0"$' "$r/etc/default/grub" || die "kernel parameter not set"
  # LNX-032: a persistent-net rule left from the build machine (its MAC is not the VM's)
  cat > "$r/etc/udev/rules.d/70-persistent-net.rules" <<'R'
# This file was automatically generated by the /lib/udev/write_net_rules
# program, run by the persistent-net-generator.rules rules file.
# PCI device 0x1af4:0x1000 (virtio-pci)
SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:7e:57:01", ATTR{dev_id}=="0x0", ATTR{type}=="1", KERNEL=="eth*", NAME="eth1"
R
  # LNX-036: OMI 1.6.8-0 (vulnerable to OMIGOD), a stand-in package built here
  local p="$r/tmp/omi-pkg"
  mkdir -p "$p/DEBIAN" "$p/opt/omi/bin"
  printf 'Package: omi\nVersion: 1.6.8-0\nArchitecture: amd64\nMaintainer: pytest-vmimage testbed <testbed@localhost>\nSection: admin\nPriority: optional\nDescription: stand-in for Open Management Infrastructure 1.6.8-0 (testbed)\n Only its version matters: below 1.6.8.1 (CVE-2021-38647).\n' > "$p/DEBIAN/control"
  printf '#!/bin/sh\n# testbed stand-in for OMI 1.6.8-0\necho "/opt/omi/bin/omiserver: OMI-1.6.8-0 - Tue Dec 1 00:00:00 UTC 2026"\n' > "$p/opt/omi/bin/omiserver"
  chmod 755 "$p/opt/omi/bin/omiserver"
  in_chroot "$r" dpkg-deb --root-owner-group -b /tmp/omi-pkg /tmp/omi.deb >/dev/null
  in_chroot "$r" dpkg -i /tmp/omi.deb >/dev/null
  rm -rf "$p" "$r/tmp/omi.deb"
  [ "$(in_chroot "$r" dpkg-query -W -f='${Version}' omi)" = 1.6.8-0 ] || die "omi 1.6.8-0 not installed"
  # LNX-037: Defender for Endpoint onboarded at build time (an onboarding file left in the image)
  mkdir -p "$r/etc/opt/microsoft/mdatp"
  printf '{\n  "onboardingInfo": "{\\"body\\": \\"testbed stand-in\\", \\"sig\\": \\"none\\"}"\n}\n' \
    > "$r/etc/opt/microsoft/mdatp/mdatp_onboard.json"
  # LNX-039: a CIS-style modprobe rule that disables the udf file system
  echo 'install udf /bin/true' > "$r/etc/modprobe.d/testbed-cis.conf"
}

# ---------------------------------------------------------------- disks
make_os_disk() { # rootfs vhd workdir
  local r=$1 vhd=$2 w=$3
  local total=$(( DISK_GIB * 1024 * 1024 * 1024 )) psize
  psize=$(( total / 512 - 2048 ))
  make_mbr_raw "$w/os.raw" "$total" "$DISK_LABEL_ID" "start=2048, size=$psize, type=83, bootable"
  make_ext4 "$w/root.ext4" $(( psize * 512 )) root "$ROOT_UUID" "$r"
  place "$w/root.ext4" "$w/os.raw" 2048
  rm -f "$w/root.ext4"
  install_grub_mbr "$r" "$w/os.raw" msdos1 "$ROOT_UUID" /boot/grub
  to_fixed_vhd "$w/os.raw" "$vhd"
}

# (e) root on LVM without loop devices: p1 = /boot (ext4), p2 = LVM PV whose
# label and metadata disktool.py writes; the LV's ext4 is placed right after them.
make_lvm_disk() { # rootfs vhd workdir
  local r=$1 vhd=$2 w=$3
  local total=$(( DISK_GIB * 1024 * 1024 * 1024 ))
  local bsize=$(( 512 * 2048 ))                # /boot: 512 MiB, in sectors
  local p2start=$(( 2048 + bsize ))
  local p2size=$(( total / 512 - p2start ))
  local lvmib=$(( ( (p2size / 2048) - 1 ) / 4 * 4 ))   # PV data starts 1 MiB into p2
  make_mbr_raw "$w/os.raw" "$total" "$DISK_LABEL_ID" \
    "start=2048, size=$bsize, type=83, bootable" "start=$p2start, size=$p2size, type=8e"
  # /boot as its own file system
  mkdir -p "$w/boot"; mv "$r/boot" "$w/boot/fs"; mkdir -m 755 "$r/boot"
  make_ext4 "$w/boot.ext4" $(( bsize * 512 )) boot "$BOOT_UUID" "$w/boot/fs"
  place "$w/boot.ext4" "$w/os.raw" 2048; rm -f "$w/boot.ext4"
  # the PV label + metadata (first MiB of p2)
  rm -f "$w/pv.hdr"; truncate -s $(( p2size * 512 )) "$w/pv.hdr"
  python3 "$HERE/disktool.py" lvm-pv "$w/pv.hdr" testbed root 1 "$lvmib"
  dd if="$w/pv.hdr" of="$w/os.raw" bs=1M count=1 oflag=seek_bytes seek=$(( p2start * 512 )) conv=notrunc status=none
  rm -f "$w/pv.hdr"
  # the LV's file system (root)
  make_ext4 "$w/root.ext4" $(( lvmib * 1024 * 1024 )) root "$ROOT_UUID" "$r"
  place "$w/root.ext4" "$w/os.raw" $(( p2start + 2048 )); rm -f "$w/root.ext4"
  # GRUB reads /boot (partition 1): core.img + modules from the boot fs
  mv "$r/boot" "$r/boot.empty"; mv "$w/boot/fs" "$r/boot"
  install_grub_mbr "$r" "$w/os.raw" msdos1 "$BOOT_UUID" /grub
  to_fixed_vhd "$w/os.raw" "$vhd"
}

make_data_disk() { # name
  local name=$1 vhd="$OUT/$1.vhd" w="$OUT/work"
  [ -f "$vhd" ] && [ "$FORCE" = 0 ] && return
  local total=$(( DATA_DISK_MIB * 1024 * 1024 )) psize
  psize=$(( total / 512 - 2048 ))
  mkdir -p "$w"
  case "$name" in
    data-empty)
      make_mbr_raw "$w/$name.raw" "$total" 0x7e57da7a "start=2048, size=$psize, type=83"
      mkdir -p "$w/empty"
      make_ext4 "$w/$name.part" $(( psize * 512 )) data "$DATA_UUID" "$w/empty"
      rmdir "$w/empty" ;;
    data-swap)
      make_mbr_raw "$w/$name.raw" "$total" 0x7e57da75 "start=2048, size=$psize, type=82"
      rm -f "$w/$name.part"; truncate -s $(( psize * 512 )) "$w/$name.part"
      mkswap -q -U "$SWAP_UUID" -L swap "$w/$name.part" >/dev/null ;;
    *) die "unknown data disk $name" ;;
  esac
  place "$w/$name.part" "$w/$name.raw" 2048
  rm -f "$w/$name.part"
  to_fixed_vhd "$w/$name.raw" "$vhd"
}

record_time() { printf '%s\t%s\n' "$1" "$2" >> "$OUT/timings.tsv"; }

prepare_rootfs() {
  local p="$OUT/work/prepared"
  if [ -f "$p.done" ] && [ -d "$p" ]; then return; fi
  local t0; t0=$(date +%s)
  log "preparing the compliant root file system"
  rm -rf "$p"; mkdir -p "$OUT/work"
  cp -a --reflink=auto "$BASE/rootfs" "$p"
  configure_common "$p"
  touch "$p.done"
  record_time prepare $(( $(date +%s) - t0 ))
}

build_variant() { # name
  local v=$1 t0 fn w
  t0=$(date +%s)
  fn="variant_${v//-/_}"
  declare -F "$fn" >/dev/null || die "no recipe for variant $v"
  w="$OUT/work/$v"; rm -rf "$w"; mkdir -p "$w"
  log "variant $v: copy + modify"
  cp -a --reflink=auto "$OUT/work/prepared" "$w/rootfs"
  generalize "$w/rootfs"
  "$fn" "$w/rootfs"
  if [ "$v" = lvm-root ]; then
    write_grub_cfg "$w/rootfs" /dev/mapper/testbed-root "$BOOT_UUID" msdos1
    log "variant $v: LVM disk"
    make_lvm_disk "$w/rootfs" "$OUT/$v.vhd.part" "$w"
  else
    write_grub_cfg "$w/rootfs" /dev/vda1 "$ROOT_UUID" msdos1
    log "variant $v: disk"
    make_os_disk "$w/rootfs" "$OUT/$v.vhd.part" "$w"
  fi
  mv "$OUT/$v.vhd.part" "$OUT/$v.vhd"
  rm -rf "$w"
  record_time "variant:$v" $(( $(date +%s) - t0 ))
  log "variant $v: done in $(( $(date +%s) - t0 )) s"
}

write_manifest() {
  python3 - "$OUT" "$VARIANTS_JSON" "$HASH" <<'PY'
import json, os, sys
out, vj, h = sys.argv[1:4]
variants = json.load(open(vj))
m = {"recipe_hash": h, "key": os.path.join(out, "id_ed25519"), "user": "azureuser",
     "boot": "grub", "variants": {}}
for name, v in variants.items():
    img = os.path.join(out, name + ".vhd")
    if not os.path.exists(img):
        continue
    m["variants"][name] = dict(v, image=img,
        data_disk_paths=[os.path.join(out, d + ".vhd") for d in v.get("data_disks", [])])
tmp = os.path.join(out, "manifest.json.tmp")
json.dump(m, open(tmp, "w"), indent=2, sort_keys=True)
os.replace(tmp, os.path.join(out, "manifest.json"))
PY
}

# ---------------------------------------------------------------- main
# (a function, so that bash has read the whole file before running: editing or
# checking out the script during a build cannot change the running build)
main() {
ensure_host_tools
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
flock -w 7200 9 || die "another build holds $CACHE_ROOT/.build.lock"
build_base
[ "${TESTBED_BASE_ONLY:-0}" = 1 ] && exit 0

mkdir -p "$OUT"; chmod 700 "$OUT"
[ -f "$OUT/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "testbed-$ADMIN" -f "$OUT/id_ed25519"
[ -f "$OUT/olduser_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C testbed-olduser -f "$OUT/olduser_ed25519"
[ -f "$OUT/timings.tsv" ] || record_time debootstrap "$(cat "$BASE/seconds" 2>/dev/null || echo 0)"

if [ ${#WANT[@]} -eq 0 ]; then
  mapfile -t WANT < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))))' "$VARIANTS_JSON")
fi
for v in "${WANT[@]}"; do
  python3 -c 'import json,sys; sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1])) else 1)' "$VARIANTS_JSON" "$v" \
    || die "unknown variant $v (see variants.json)"
done

for v in "${WANT[@]}"; do
  for d in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))[sys.argv[2]].get("data_disks", [])))' "$VARIANTS_JSON" "$v"); do
    make_data_disk "$d"
  done
  if [ -f "$OUT/$v.vhd" ] && [ "$FORCE" = 0 ]; then log "variant $v: cached"; continue; fi
  prepare_rootfs
  build_variant "$v"
done
write_manifest
[ "${TESTBED_KEEP_WORK:-0}" = 1 ] || rm -rf "$OUT/work"
log "images in $OUT"
}

main "$@"
exit $?
