"""Linux checks on facts: hand-written snapshots of several distros' real file formats."""

from __future__ import annotations

import pytest

from pytest_vmimage.checks import linux
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result
from tests.linux_facts_builder import files, make_facts

GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")
GOOD = "console=ttyS0 earlyprintk=ttyS0 rootdelay=300"

DEBIAN_GRUB_CFG = """
set default="0"
menuentry 'Debian GNU/Linux' --class debian {
	linux	/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0a1b ro console=ttyS0 earlyprintk=ttyS0 rootdelay=300 quiet
	initrd	/boot/initrd.img-6.1.0-27-amd64
}
menuentry 'Debian GNU/Linux (recovery mode)' {
	linux	/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0a1b ro single
}
"""


def debian(
    cmdline=f"BOOT_IMAGE=/boot/vmlinuz root=UUID=0a1b ro {GOOD} quiet",
    grub_line=GOOD,
    cfg=DEBIAN_GRUB_CFG,
    machine="x86_64",
):
    return make_facts(
        "debian12",
        uname=f"{machine}\n6.1.0-27-{'arm64' if machine == 'aarch64' else 'amd64'}\nvm\n",
        proc_cmdline=cmdline,
        default_grub=files(
            **{
                "/etc/default/grub": f'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="{grub_line}"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
            }
        ),
        grub_cfg=files(**{"/boot/grub/grub.cfg": cfg}),
    )


def test_compliant_debian_passes():
    verdict = linux.kernel_boot_line(debian(), GUIDE)
    assert verdict.result is Result.PASSED
    assert "3 places" in verdict.actual


def test_console_with_device_options_and_several_consoles_pass():
    line = "console=tty0 console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300"
    facts = debian(cmdline=line, grub_line=line, cfg=DEBIAN_GRUB_CFG.replace(GOOD, line))
    assert linux.kernel_boot_line(facts, GUIDE).result is Result.PASSED


def test_larger_rootdelay_passes_with_a_note():
    line = "console=ttyS0 earlyprintk=ttyS0 rootdelay=600"
    facts = debian(cmdline=line, grub_line=line, cfg=DEBIAN_GRUB_CFG.replace(GOOD, line))
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.PASSED
    assert "rootdelay=600 (larger than 300)" in verdict.message


def test_missing_console_fails_in_both_profiles():
    line = "earlyprintk=ttyS0 rootdelay=300"
    facts = debian(cmdline=line, grub_line=line, cfg=DEBIAN_GRUB_CFG.replace(GOOD, line))
    # current also reads this boot's kernel log (LISA accepts "console [ttyS0] enabled"): here only tty0
    facts.sections["boot_log"] = type(facts.sections["boot_log"])(
        0,
        "## source dmesg\n## start [ 0.0] Linux version 6.1.0\n[ 0.1] printk: console [tty0] enabled\n## matched 0\n",
    )
    for profile in (GUIDE, CURRENT):
        verdict = linux.kernel_boot_line(facts, profile)
        assert verdict.result is Result.FAILED
        assert "console=ttyS0 missing" in verdict.actual
        assert "update-grub" in verdict.message and "§2.5" in verdict.message


def test_missing_rootdelay_fails_in_guide_and_warns_in_current():
    line = "console=ttyS0 earlyprintk=ttyS0"
    facts = debian(cmdline=line, grub_line=line, cfg=DEBIAN_GRUB_CFG.replace(GOOD, line))
    assert linux.kernel_boot_line(facts, GUIDE).result is Result.FAILED
    assert linux.kernel_boot_line(facts, CURRENT).result is Result.WARNING


def test_smaller_rootdelay_fails():
    line = "console=ttyS0 earlyprintk=ttyS0 rootdelay=30"
    facts = debian(cmdline=line, grub_line=line, cfg=DEBIAN_GRUB_CFG.replace(GOOD, line))
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "rootdelay=30 is below 300" in verdict.actual


def test_present_when_running_but_not_persisted_fails():
    facts = debian(grub_line="quiet", cfg=DEBIAN_GRUB_CFG.replace(GOOD, ""))
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "/etc/default/grub" in verdict.actual and "/boot/grub/grub.cfg" in verdict.actual
    assert "running kernel" not in verdict.actual


def test_persisted_but_not_running_fails():
    facts = debian(cmdline="root=/dev/sda1 ro quiet")
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "running kernel (/proc/cmdline)" in verdict.actual


def test_ubuntu_cloudimg_drop_in_appends_to_the_default():
    facts = make_facts(
        "ubuntu2204",
        proc_cmdline=f"BOOT_IMAGE=/vmlinuz root=LABEL=cloudimg-rootfs ro {GOOD}",
        default_grub=files(
            **{
                "/etc/default/grub": 'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\nGRUB_CMDLINE_LINUX=""\n',
                "/etc/default/grub.d/50-cloudimg-settings.cfg": (
                    "# Cloud Image specific Grub settings\n"
                    f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {GOOD}"\n'
                ),
            }
        ),
        grub_cfg=files(**{"/boot/grub/grub.cfg": DEBIAN_GRUB_CFG}),
    )
    # /etc/default/grub alone lacks them; the drop-in, read after it, extends the value.
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.PASSED, verdict.message
    facts.sections["default_grub"] = type(facts.sections["default_grub"])(
        0, facts.sections["default_grub"].text.replace(GOOD, "console=tty1")
    )
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "/etc/default/grub (with grub.d)" in verdict.actual


def test_rhel8_bls_entry_with_kernelopts_from_grubenv():
    facts = make_facts(
        "rhel8",
        proc_cmdline=f"BOOT_IMAGE=(hd0,gpt2)/vmlinuz-4.18.0 root=/dev/sda2 ro {GOOD}",
        default_grub=files(
            **{
                "/etc/default/grub": f'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="{GOOD} crashkernel=auto"\nGRUB_ENABLE_BLSCFG=true\n'
            }
        ),
        grubenv=files(
            **{
                "/boot/grub2/grubenv": f"# GRUB Environment Block\nsaved_entry=abc-4.18.0\nkernelopts=root=/dev/sda2 ro {GOOD}\n"
            }
        ),
        bls_entries=files(
            **{
                "/boot/loader/entries/abc-4.18.0.conf": "title RHEL (4.18.0)\nlinux /vmlinuz-4.18.0\noptions $kernelopts $tuned_params\n"
            }
        ),
    )
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.PASSED, verdict.message
    kernelopts_missing = make_facts(
        "rhel8",
        proc_cmdline=f"root=/dev/sda2 ro {GOOD}",
        default_grub=files(**{"/etc/default/grub": f'GRUB_CMDLINE_LINUX="{GOOD}"\n'}),
        grubenv=files(**{"/boot/grub2/grubenv": "kernelopts=root=/dev/sda2 ro\n"}),
        bls_entries=files(**{"/boot/loader/entries/abc.conf": "linux /vmlinuz\noptions $kernelopts\n"}),
    )
    verdict = linux.kernel_boot_line(kernelopts_missing, GUIDE)
    assert verdict.result is Result.FAILED
    assert "/boot/loader/entries/abc.conf" in verdict.actual
    assert "grub2-mkconfig" in verdict.message


def test_centos7_linux16_line():
    cfg = (
        "menuentry 'CentOS Linux (3.10.0)' {\n\tlinux16 /vmlinuz-3.10.0 root=UUID=1 ro crashkernel=auto\n}\n"
    )
    facts = make_facts(
        "centos7",
        proc_cmdline=f"BOOT_IMAGE=/vmlinuz-3.10.0 root=UUID=1 ro {GOOD}",
        default_grub=files(**{"/etc/default/grub": f'GRUB_CMDLINE_LINUX="crashkernel=auto {GOOD}"\n'}),
        grub_cfg=files(**{"/boot/grub2/grub.cfg": cfg}),
    )
    verdict = linux.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.FAILED
    assert "/boot/grub2/grub.cfg" in verdict.actual


def test_no_boot_loader_config_is_an_error():
    facts = make_facts("sles15", proc_cmdline=GOOD)
    with pytest.raises(FactError, match="no boot loader configuration"):
        linux.kernel_boot_line(facts, GUIDE)


def test_unprivileged_grub_cfg_read_is_an_error():
    facts = make_facts("sles15", privileged=False, proc_cmdline=GOOD)
    with pytest.raises(FactError, match="needs root: sudo failed"):
        linux.kernel_boot_line(facts, GUIDE)


def test_passwd_homes_reads_every_line():
    # a silent cut at 5000 lines skipped the later users' homes (and so their histories, VHD-009)
    from pytest_vmimage.facts.image_files import passwd_homes

    text = "".join(f"u{n}:x:{n}:{n}::/nonexistent:/usr/sbin/nologin\n" for n in range(6000))
    assert passwd_homes(text + "builder:x:7000:7000::/home/builder:/bin/bash\n")["builder"] == "/home/builder"


def test_parameters_after_double_dash_go_to_init_not_the_kernel():
    """review-s3 f6: `linux /vmlinuz root=/dev/sda1 -- console=ttyS0 ...` gives the kernel none of them."""
    line = "root=/dev/sda1 -- console=ttyS0 earlyprintk=ttyS0 rootdelay=300".split()
    for wanted in ("console=ttyS0", "earlyprintk=ttyS0", "rootdelay=300"):
        assert linux.kernel_param_present(line, wanted) == (False, "")
        assert linux.kernel_param_present(line[:1] + line[2:], wanted)[0] is True
