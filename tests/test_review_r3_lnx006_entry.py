"""Adversarial review r3 (2026-12-01), kept as regression tests: LNX-006 live next_boot_mismatch holes. Run from /work/main:
VMIMAGE_TESTBED=skip .venv/bin/python -m pytest /work/helpers/review-r3/test_r3_lnx006_entry.py -q -p no:cacheprovider --rootdir=/work/main
Each test asserts the verdict REQUIRED (error/fail); a failing test = a false PASS today."""
import pytest

from pytest_vmimage.checks import linux
from pytest_vmimage.verdict import FactError, Result
from tests.test_checks_linux_recorded import GUIDE, RECORDED_KERNEL, compliant, edited

K = RECORDED_KERNEL
NEW = "6.1.0-99-amd64"


def verdict(facts):
    try:
        return linux.hyperv_drivers(facts, GUIDE).result
    except FactError as exc:
        return ("ERROR", str(exc))


@pytest.mark.parametrize(
    "kernel",
    [
        "/boot/vmlinuz",                 # symlink name (points at the new kernel)
        f"/boot/Image-{NEW}",            # arm64 (SUSE)
        f"/boot/vmlinux-{NEW}",          # uncompressed / ppc / some arm64
        f"/boot/kernel-{NEW}",           # Gentoo installkernel
        f"/boot/vmlinuz-{NEW}.old",      # suffix kept -> (this one errors: control)
    ],
)
def test_default_entry_boots_another_kernel_named_differently(kernel):
    facts = edited(compliant(), "grub_cfg", old=f"linux\t/boot/vmlinuz-{K}", new=f"linux\t{kernel}")
    got = verdict(facts)
    assert got is not Result.PASSED, f"{kernel}: PASS on running {K}"


def test_entry_without_initrd_and_modular_storvsc():
    """grub-mkconfig omits 'initrd' when no initrd existed at update-grub time; the kernel then
    boots with no initramfs, so a modular hv_storvsc cannot mount the root."""
    facts = edited(compliant(), "grub_cfg", old=f"\tinitrd\t/boot/initrd.img-{K}\n", new="\n")
    assert facts.default_boot_entries()  # decided entry
    assert list(facts.default_boot_entries().values())[0].initrds == []
    got = verdict(facts)
    assert got is not Result.PASSED


def test_later_initrd_not_read():
    """entry loads the read initrd then an override archive (later members replace earlier)."""
    facts = edited(
        compliant(), "grub_cfg", old=f"initrd\t/boot/initrd.img-{K}", new=f"initrd\t/boot/initrd.img-{K} /boot/override.img"
    )
    got = verdict(facts)
    assert got is not Result.PASSED


@pytest.mark.xfail(strict=True, reason='known gap: /X in an entry is taken as /boot/X (a separate /boot) without reading fstab')
def test_same_basename_other_directory():
    """/boot is not separate here (paths start with /boot/): /initrd.img-K is another file."""
    facts = edited(compliant(), "grub_cfg", old=f"initrd\t/boot/initrd.img-{K}", new=f"initrd\t/initrd.img-{K}")
    got = verdict(facts)
    assert got is not Result.PASSED


def test_unreadable_boot_config_claims_no_mismatch():
    """the grub_cfg section failed (rc 2): nothing about the next boot was read."""
    facts = edited(compliant(), "grub_cfg", text="cat: /boot/grub/grub.cfg: Input/output error\n", rc=2)
    got = verdict(facts)
    assert got is not Result.PASSED


# ---- controls (what held): these PASS today, i.e. an error is raised as required
@pytest.mark.parametrize(
    ("section", "text"),
    [
        ("extlinux", f"### /boot/extlinux/extlinux.conf\nDEFAULT a\nLABEL a\n  KERNEL /vmlinuz-{NEW}\n  APPEND root=/dev/sda1\n"),
        ("extlinux", f"### /boot/extlinux/extlinux.conf\nDEFAULT a\nLABEL a\n  LINUX ../vmlinuz-{NEW}\n  INITRD ../initrd.img-{NEW}\n"),
        ("bls_entries", f"### /boot/loader/entries/x-{NEW}.conf\ntitle x\nlinux /vmlinuz-{NEW}\ninitrd /initramfs-{NEW}.img\noptions root=/dev/sda1\n"),
    ],
)
def test_control_second_config_boots_another_kernel(section, text):
    facts = edited(compliant(), section, text=text)
    got = verdict(facts)
    assert isinstance(got, tuple) and NEW in got[1], got


def test_control_microcode_plus_main():
    facts = edited(compliant(), "grub_cfg", old=f"initrd\t/boot/initrd.img-{K}", new=f"initrd\t/boot/intel-ucode.img /boot/initrd.img-{K}")
    assert verdict(facts) is Result.PASSED
