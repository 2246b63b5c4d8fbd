#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine (run as root):
# Debian packages for the test VM and the artifact checks, Azurite (npm) for the SAS
# tests, and the project itself with its test extras in ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  qemu-system-x86 qemu-utils debootstrap fdisk e2fsprogs xfsprogs dosfstools
  cpio  # tests of the initramfs_hv section list real cpio archives
  mtools grub-pc-bin  # VHD-010 test disks: mcopy fills an ESP image, grub's boot.img is real MBR boot code
  openssh-client python3-venv ca-certificates
  chromium  # tests/test_report_browser.py renders the HTML reports headless
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
echo "setup: done ($(.venv/bin/python -m pytest --version 2>&1 | head -1))"

# ---- Azurite (Azure Storage emulator) for the SAS-006 tests ---------------------------
# Installed into ./node_modules (git-ignored), not globally; skipped when already there.
if [ ! -x node_modules/.bin/azurite-blob ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing Debian packages: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "setup: installing azurite into ./node_modules (npm)"
  npm install --no-save --no-audit --no-fund --loglevel=error azurite@3 >/dev/null
fi
echo "setup: azurite $(node_modules/.bin/azurite-blob --version 2>/dev/null || echo missing)"
