"""The boot loader's default entry (facts/boot_entries.py), one parser for the live VM and
the VHD: each case of review finding F1/F1b (and the grub.cfg-variable and initrd-by-name
observations) on both sides. Before this parser, live took the first ``linux`` line of
grub.cfg and offline made these cases "not available": every live case below PASSED."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_vmimage.checks import linux as checks
from pytest_vmimage.facts import boot_entries as be
from pytest_vmimage.facts.boot_entries import BootEntry
from pytest_vmimage.facts.linux_image import NotAvailableOffline, read_linux_image
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result
from tests.artifacts.conftest import needs_image_tools
from tests.linux_facts_builder import files, make_facts

GUIDE = load_profile("guide-2016")
PARAMS = "console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
GOOD = f"\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro {PARAMS}\n\tinitrd\t/boot/initrd.img-6.1.0-9-amd64\n"
BAD = "\tlinux\t/boot/vmlinuz-6.1.0-8-amd64 root=LABEL=rootfs ro quiet\n\tinitrd\t/boot/initrd.img-6.1.0-8-amd64\n"
# Debian's 00_header (grub-mkconfig): load_env, then next_entry wins, else GRUB_DEFAULT
HEADER = (
    "if [ -s $prefix/grubenv ]; then\n  set have_grubenv=true\n  load_env\nfi\n"
    'if [ "${{next_entry}}" ] ; then\n   set default="${{next_entry}}"\n   set next_entry=\n'
    "   save_env next_entry\n   set boot_once=true\nelse\n   set default={default}\nfi\n"
    'if [ x"${{feature_menuentry_id}}" = xy ]; then\n  menuentry_id_option="--id"\nelse\n'
    '  menuentry_id_option=""\nfi\nexport menuentry_id_option\n'
)


def _entries(new="new", old="old"):
    return (
        f"menuentry 'Debian {new}' $menuentry_id_option 'gnulinux-{new}' {{\n{GOOD}}}\n"
        f"menuentry 'Debian {old}' $menuentry_id_option 'gnulinux-{old}' {{\n{BAD}}}\n"
    )


# name -> (grub.cfg, grubenv, the title of the entry GRUB boots)
GRUB_CASES = {
    "set default=1": ('set default="1"\n' + _entries(), "", "Debian old"),
    "saved_entry by title": (
        HEADER.format(default='"${saved_entry}"') + _entries(),
        "saved_entry=Debian old\n",
        "Debian old",
    ),
    "saved_entry by id": (
        HEADER.format(default='"${saved_entry}"') + _entries(),
        "saved_entry=gnulinux-old\n",
        "Debian old",
    ),
    "next_entry over saved_entry": (
        HEADER.format(default='"${saved_entry}"') + _entries(),
        "saved_entry=gnulinux-new\nnext_entry=gnulinux-old\n",
        "Debian old",
    ),
    "submenu 1>0": (
        f'set default="1>0"\nmenuentry "Debian new" {{\n{GOOD}}}\n'
        f'submenu "Advanced" {{\n  menuentry "Debian old" {{\n{BAD}  }}\n  menuentry "x" {{\n{GOOD}  }}\n}}\n',
        "",
        "Debian old",
    ),
    "submenu title path": (
        f'set default="Advanced>Debian old"\nmenuentry "Debian new" {{\n{GOOD}}}\n'
        f'submenu "Advanced" {{\n  menuentry "x" {{\n{GOOD}  }}\n  menuentry "Debian old" {{\n{BAD}  }}\n}}\n',
        "",
        "Debian old",
    ),
    "default past the end: entry 0": (
        'set default="7"\n' + _entries(old="new2").replace(BAD, GOOD),
        "",
        "Debian new",
    ),
    "unknown title: entry 0": ('set default="gone"\n' + _entries(), "", "Debian new"),
    "linux line in a function is not an entry": (
        f"function unused {{\n{GOOD}}}\nmenuentry 'Debian old' {{\n{BAD}}}\n",
        "",
        "Debian old",
    ),
}


def _live(cfg: str, env: str = "", **extra):
    sections = {"grub_cfg": files(**{"/boot/grub/grub.cfg": cfg})}
    if env:
        sections["grubenv"] = files(**{"/boot/grub/grubenv": f"# GRUB Environment Block\n{env}"})
    sections.update(extra)
    return make_facts(
        "debian12",
        proc_cmdline=f"BOOT_IMAGE=/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro {PARAMS}",
        default_grub=files(**{"/etc/default/grub": f'GRUB_CMDLINE_LINUX="{PARAMS}"\n'}),
        **sections,
    )


@pytest.mark.parametrize("case", list(GRUB_CASES))
def test_live_judges_the_entry_grub_boots(case):
    cfg, env, title = GRUB_CASES[case]
    facts = _live(cfg, env)
    assert f"/boot/grub/grub.cfg (entry '{title}')" in facts.boot_loader_lines()
    expected = Result.PASSED if title.startswith("Debian new") else Result.FAILED
    verdict = checks.kernel_boot_line(facts, GUIDE)
    assert verdict.result is expected, verdict.message
    if expected is Result.FAILED:
        assert f"/boot/grub/grub.cfg (entry '{title}')" in verdict.actual


def test_set_variable_after_load_env_wins_over_grubenv():
    """EL's `set kernelopts=` (grub.cfg variables): the value GRUB has when the entry runs."""
    cfg = "load_env\nset kernelopts=\"root=LABEL=rootfs ro quiet\"\nmenuentry 'x' {\n\tlinux /vmlinuz-6.1 $kernelopts\n}\n"
    facts = _live(cfg, f"kernelopts=root=LABEL=rootfs ro {PARAMS}\n")
    assert facts.boot_loader_lines()["/boot/grub/grub.cfg (entry 'x')"] == [
        "root=LABEL=rootfs",
        "ro",
        "quiet",
    ]
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.FAILED


def test_undecidable_default_is_an_error_unless_every_line_is_alike():
    cfg = "if keystatus --shift; then set default=1; fi\n" + _entries()
    with pytest.raises(FactError, match="cannot be told.*'set default' is inside an 'if'"):
        checks.kernel_boot_line(_live(cfg), GUIDE)
    alike = _live(cfg.replace(BAD, GOOD))
    lines = alike.boot_loader_lines()
    assert any("all 2 kernel lines alike" in key for key in lines)
    assert checks.kernel_boot_line(alike, GUIDE).result is Result.PASSED


@pytest.mark.parametrize(
    "cfg, why",
    [
        ("configfile /boot/grub/other.cfg\n" + _entries(), "a file not read"),
        ("source /etc/elsewhere.cfg\n" + _entries(), "sources /etc/elsewhere.cfg"),
        (_entries() + "linux /vmlinuz-x quiet\n", "outside any menu entry"),
        ("menuentry 'a' {\n if keystatus; then\n" + GOOD + " fi\n}\n", "inside an 'if'"),
    ],
)
def test_what_the_parser_cannot_prove_is_a_reason(cfg, why):
    result = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(result, str) and why in result


def test_grub_platform_is_run_for_bios_and_uefi():
    """Azure boots Gen1 by BIOS (grub_platform=pc), Gen2 by UEFI (efi): both must agree."""
    uefi_firmware = (  # Ubuntu/Debian 30_uefi-firmware: an entry on UEFI only, after the others
        'if [ "$grub_platform" = "efi" ]; then\n\tfwsetup --is-supported\n\tif [ "$?" = 0 ]; then\n'
        "\t\tmenuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {\n\t\t\tfwsetup\n\t\t}\n"
        "\tfi\nfi\n"
    )
    grub = {"/boot/grub/grub.cfg": HEADER.format(default='"0"') + _entries() + uefi_firmware}
    assert be.grub_default_entry("/boot/grub/grub.cfg", grub).title == "Debian new"
    grub["/boot/grub/grub.cfg"] = 'if [ "$grub_platform" = "efi" ]; then set default=1; fi\n' + _entries()
    assert "BIOS (Gen1) boots 'Debian new' and UEFI (Gen2) boots 'Debian old'" in be.grub_default_entry(
        "/boot/grub/grub.cfg", grub
    )
    per_platform = f"menuentry 'a' {{\n if [ x$grub_platform = xefi ]; then\n{BAD} else\n{GOOD} fi\n}}\n"
    with pytest.raises(FactError, match="UEFI"):
        checks.kernel_boot_line(_live(per_platform), GUIDE)


def test_custom_cfg_sourced_by_41_custom_counts():
    """41_custom sources ${config_directory}/custom.cfg when it exists: it may set default."""
    tail = (
        "if [ -f  ${config_directory}/custom.cfg ]; then\n  source ${config_directory}/custom.cfg\n"
        'elif [ -z "${config_directory}" -a -f  $prefix/custom.cfg ]; then\n  source $prefix/custom.cfg\nfi\n'
    )
    cfg = HEADER.format(default='"0"') + _entries() + tail
    grub = {"/boot/grub/grub.cfg": cfg}
    assert be.grub_default_entry("/boot/grub/grub.cfg", grub).title == "Debian new"
    grub["/boot/grub/custom.cfg"] = 'set default="gnulinux-old"\n'
    assert be.grub_default_entry("/boot/grub/grub.cfg", grub).title == "Debian old"


def test_recorded_debian_grub_cfg_boots_its_first_entry():
    """The real Debian 12 grub.cfg of the testbed VM (tests/recorded/linux): entry 0."""
    from tests.test_checks_linux_recorded import compliant

    facts = compliant()
    entry = facts.default_boot_entries()["/boot/grub/grub.cfg"]
    assert isinstance(entry, BootEntry) and entry.title == "Debian GNU/Linux"
    assert entry.initrds == ["/boot/initrd.img-6.1.0-57-amd64"]
    assert entry.params == facts.kernel_cmdline[1:]  # what /proc/cmdline of that VM shows


EL_GRUB = (
    "set pager=1\n"
    "if [ -f ${config_directory}/grubenv ]; then\n  load_env -f ${config_directory}/grubenv\n"
    "elif [ -s $prefix/grubenv ]; then\n  load_env\nfi\n"
    'if [ "${next_entry}" ] ; then\n   set default="${next_entry}"\n   set next_entry=\n'
    '   save_env next_entry\n   set boot_once=true\nelse\n   set default="${saved_entry}"\nfi\n'
    'if [ -z "${kernelopts}" ]; then\n  set kernelopts="root=/dev/sda2 ro quiet"\nfi\n'
    # 01_users and 00_tuned of EL 8
    "if [ -f ${prefix}/user.cfg ]; then\n  source ${prefix}/user.cfg\n"
    '  if [ -n "${GRUB2_PASSWORD}" ]; then\n    set superusers="root"\n    export superusers\n'
    "    password_pbkdf2 root ${GRUB2_PASSWORD}\n  fi\nfi\n"
    'set tuned_params=""\nset tuned_initrd=""\n'
    "insmod blscfg\nblscfg\n"
)


def _bls(name: str, version: str, options: str) -> str:
    return (
        f"title {name}\nversion {version}\nlinux /vmlinuz-{version}\ninitrd /initramfs-{version}.img $tuned_initrd\n"
        f"options {options} $tuned_params\n"
    )


BLS = {
    "/boot/loader/entries/abc-5.14.0-362.el9.x86_64.conf": _bls(
        "new", "5.14.0-362.el9.x86_64", "$kernelopts"
    ),
    "/boot/loader/entries/abc-5.14.0-284.el9.x86_64.conf": _bls(
        "old", "5.14.0-284.el9.x86_64", "root=/dev/sda2 ro"
    ),
    "/boot/loader/entries/abc-0-rescue.conf": _bls("rescue", "0-rescue-abc", "root=/dev/sda2 ro"),
}


@pytest.mark.parametrize(
    "env, title",
    [
        (f"saved_entry=abc-5.14.0-362.el9.x86_64\nkernelopts=root=/dev/sda2 ro {PARAMS}\n", "new"),
        (
            f"saved_entry=abc-5.14.0-362.el9.x86_64\nnext_entry=abc-5.14.0-284.el9.x86_64\nkernelopts={PARAMS}\n",
            "old",
        ),
        (f"kernelopts=root=/dev/sda2 ro {PARAMS}\n", "new"),  # no saved_entry: the newest, blscfg's first
        ("saved_entry=2\n", "rescue"),  # an index into blscfg's order, rescue last
    ],
)
@pytest.mark.parametrize(
    "user_cfg", [{}, {"/boot/grub2/user.cfg": "GRUB2_PASSWORD=grub.pbkdf2.sha512.1.AB\n"}]
)
def test_bls_default_through_blscfg(env, title, user_cfg):
    facts = make_facts(
        "rhel8",
        grub_cfg=files(**{"/boot/grub2/grub.cfg": EL_GRUB}, **user_cfg),
        grubenv=files(**{"/boot/grub2/grubenv": env}),
        bls_entries=files(**BLS),
    )
    entry = facts.default_boot_entries()["/boot/grub2/grub.cfg"]
    assert isinstance(entry, BootEntry) and entry.title == title
    if title == "new":
        assert entry.params[-3:] == PARAMS.split()
    assert entry.initrds == [f"/initramfs-{entry.kernel.removeprefix('/vmlinuz-')}.img"]


def test_bls_order_is_blscfg_order():
    assert be.rpm_vercmp("5.14.0-362.el9", "5.14.0-284.el9") == 1
    assert be.rpm_vercmp("1.0~rc1", "1.0") == -1
    assert be.rpm_vercmp("2.10", "2.9") == 1
    assert [p.rsplit("/", 1)[-1] for p in be.bls_order(BLS)[0]] == [
        "abc-5.14.0-362.el9.x86_64.conf",
        "abc-5.14.0-284.el9.x86_64.conf",
        "abc-0-rescue.conf",
    ]


def test_extlinux_default_label():
    conf = (
        "default old\nappend console=ttyS0\nlabel new\n  kernel /vmlinuz-new\n  append root=/dev/sda1 "
        f"{PARAMS}\nlabel old\n  kernel /vmlinuz-old\n  initrd /initrd-old,/ucode.img\n"
    )
    entry = be.extlinux_default_entry("/boot/extlinux/extlinux.conf", conf)
    assert (entry.title, entry.params, entry.initrds) == (
        "old",
        ["console=ttyS0"],
        ["/initrd-old", "/ucode.img"],
    )
    facts = _live("", extlinux=files(**{"/boot/extlinux/extlinux.conf": conf}))
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.FAILED
    assert "no DEFAULT" in be.extlinux_default_entry("/x", "label a\nlabel b\n")
    assert "names no LABEL" in be.extlinux_default_entry("/x", "default c\nlabel a\n")


def test_grub_number_parsing_and_title_paths_as_menu_c():
    assert be.grub_strtoul("1>0") == 1
    assert be.grub_strtoul("0x10") == 16
    assert be.grub_strtoul("010") == 8
    assert be.grub_strtoul("gnulinux-x") is None
    assert be.menuentry_eq("Advanced", "Advanced>Debian")
    assert be.menuentry_eq("a>b", "a>>b")
    assert not be.menuentry_eq("Advanced options", "Advanced")


# -- offline: the same cases read from an ext4 image (tests/test_linux_image.py helpers)

needs_mkfs = pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="mkfs.ext4 (e2fsprogs) missing")


def _offline(tmp_path, files_: dict[str, str]):
    from tests.test_linux_image import BASE, LINKS, _image

    return read_linux_image(_image(tmp_path, {**BASE, **files_}, LINKS))


@needs_mkfs
@pytest.mark.parametrize(
    "case", ["set default=1", "saved_entry by id", "next_entry over saved_entry", "submenu 1>0"]
)
def test_offline_judges_the_entry_grub_boots(tmp_path, case):
    cfg, env, title = GRUB_CASES[case]
    facts = _offline(tmp_path, {"/boot/grub/grub.cfg": cfg, "/boot/grub/grubenv": env})
    assert facts.kernel_cmdline[0] == "BOOT_IMAGE=/boot/vmlinuz-6.1.0-8-amd64"
    assert checks.kernel_boot_line(facts, GUIDE).result is Result.FAILED


def _cpio_text(names: list[str]) -> str:
    from tests.test_initramfs_section import _cpio

    # an uncompressed newc archive of files holding ASCII is ASCII (non-empty: an empty
    # module file is not a module, LNX-006)
    return _cpio(names, data=b"module").decode("ascii")


@needs_mkfs
def test_offline_initramfs_is_every_initrd_the_entry_loads(tmp_path):
    """initrd named by the entry (not /boot/initrd.img-<release>): early microcode + main."""
    cfg = (
        "menuentry 'Debian' {\n\tlinux /boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro\n"
        "\tinitrd /boot/ucode.img /boot/initrd.img-6.1.0-9-amd64.custom\n}\n"
    )
    files_ = {
        "/boot/grub/grub.cfg": cfg,
        "/boot/ucode.img": _cpio_text(["kernel/x86/microcode/GenuineIntel.bin"]),
        "/boot/initrd.img-6.1.0-9-amd64.custom": _cpio_text(
            [
                "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/hv/hv_vmbus.ko",
                "usr/lib/modules/6.1.0-9-amd64/kernel/drivers/scsi/hv_storvsc.ko.xz",
                "usr/lib/modules/x/hv_netvsc.ko",  # another kernel's module does not count
            ]
        ),
        # the name-convention file holds no Hyper-V module: it must not be the one judged
        "/boot/initrd.img-6.1.0-9-amd64": _cpio_text(["usr/lib/modules/x/other.ko"]),
    }
    facts = _offline(tmp_path, files_)
    section = facts.section("initramfs_hv")
    assert "image /boot/ucode.img\nimage /boot/initrd.img-6.1.0-9-amd64.custom\n" in section
    assert facts.initramfs_modules() == {"hv_vmbus", "hv_storvsc"}


@needs_mkfs
def test_offline_missing_initrd_is_an_error_naming_it(tmp_path):
    cfg = "menuentry 'Debian' {\n\tlinux /boot/vmlinuz-6.1.0-9-amd64 ro\n\tinitrd /boot/initrd.img-gone\n}\n"
    facts = _offline(tmp_path, {"/boot/grub/grub.cfg": cfg})
    with pytest.raises(FactError, match="initrd /boot/initrd.img-gone") as err:
        facts.initramfs_modules()
    assert not isinstance(err.value, NotAvailableOffline)


@needs_mkfs
def test_offline_undecidable_default_is_not_applicable_naming_why(tmp_path):
    cfg = "if keystatus --shift; then set default=1; fi\n" + _entries()
    facts = _offline(tmp_path, {"/boot/grub/grub.cfg": cfg})
    with pytest.raises(NotAvailableOffline, match="'set default' is inside an 'if'"):
        checks.kernel_boot_line(facts, GUIDE)


def test_boot_inside_an_entry_boots_the_line_loaded_so_far():
    """review-s3 f1: GRUB's 'boot' runs at once; a later linux line never does."""
    cfg = (
        "menuentry 'A' {\n linux /vmlinuz root=/dev/sda1 quiet\n initrd /initrd\n boot\n"
        " linux /vmlinuz root=/dev/sda1 console=ttyS0 earlyprintk=ttyS0 rootdelay=300\n}\n"
    )
    entry = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(entry, BootEntry) and "console=ttyS0" not in entry.params


@pytest.mark.parametrize("command", ["unset extra", "load_env extra"])
def test_a_command_changing_variables_inside_an_entry_is_a_reason(command):
    """review-s3 f4: an entry that unsets or reloads a variable before its linux line."""
    cfg = (
        'set extra="console=ttyS0 earlyprintk=ttyS0 rootdelay=300"\n'
        f"menuentry 'A' {{\n {command}\n linux /vmlinuz root=/dev/sda1 $extra\n}}\n"
    )
    result = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(result, str) and command.split()[0] in result


def test_alike_fallback_compares_custom_cfg_and_bls_entries_without_options():
    """review-s3 f7: an undecided default must not pass while custom.cfg or a BLS entry
    without options holds a kernel line lacking the parameters."""
    undecided = 'if [ "${grub_cpu}" = x86_64 ]; then set default=1; fi\n'
    cfg = (
        GOOD
        + undecided
        + "if [ -f ${config_directory}/custom.cfg ]; then\n source ${config_directory}/custom.cfg\nfi\n"
    )
    facts = make_facts(grub_cfg=files(**{"/boot/grub/grub.cfg": cfg, "/boot/grub/custom.cfg": BAD}))
    with pytest.raises(FactError, match="kernel lines differ"):
        facts.boot_loader_lines()
    bls = {
        "/boot/loader/entries/a-5.14.0-2.el9.x86_64.conf": f"title new\nversion 5.14.0-2.el9.x86_64\nlinux /vmlinuz-2\noptions root=/dev/sda1 {PARAMS}\n",
        "/boot/loader/entries/a-5.14.0-1.el9.x86_64.conf": "title old\nversion 5.14.0-1.el9.x86_64\nlinux /vmlinuz-1\n",
    }
    facts = make_facts(
        grub_cfg=files(**{"/boot/grub2/grub.cfg": undecided + "blscfg\n"}), bls_entries=files(**bls)
    )
    with pytest.raises(FactError, match="kernel lines differ"):
        facts.boot_loader_lines()


@pytest.mark.parametrize(
    "extra, why",
    [
        ("ONTIMEOUT bad\n", "ONTIMEOUT"),
        ("MENU INCLUDE /boot/extlinux/other.cfg\n", "not read"),
    ],
)
def test_extlinux_what_is_not_modelled_is_a_reason(extra, why):
    """review-s3 f5: syslinux may boot another label than DEFAULT."""
    text = (
        extra
        + f"DEFAULT good\nLABEL good\n KERNEL /vmlinuz\n APPEND {PARAMS}\nLABEL bad\n KERNEL /vmlinuz\n APPEND quiet\n"
    )
    result = be.extlinux_default_entry("/boot/extlinux/extlinux.conf", text)
    assert isinstance(result, str) and why in result


def test_extlinux_menu_default_needs_a_menu_ui():
    """review-s3 f5: without a UI module syslinux ignores MENU DEFAULT."""
    text = f"DEFAULT bad\nLABEL good\n MENU DEFAULT\n KERNEL /vmlinuz\n APPEND {PARAMS}\nLABEL bad\n KERNEL /vmlinuz\n APPEND quiet\n"
    result = be.extlinux_default_entry("/boot/extlinux/extlinux.conf", text)
    assert isinstance(result, str) and "MENU DEFAULT" in result
    entry = be.extlinux_default_entry("/boot/extlinux/extlinux.conf", "UI menu.c32\n" + text)
    assert isinstance(entry, BootEntry) and "console=ttyS0" in entry.params


@pytest.mark.parametrize("value", ["0X1", "0xg", "018", "4294967297"])
def test_default_numbers_grub_versions_read_differently_are_a_reason(value):
    """review-s3 f3: grub_strtoull differs by version and platform on these; never guess."""
    cfg = f'set default="{value}"\n' + "".join(
        f"menuentry '{t}' {{\n{line}}}\n" for t, line in (("bad", BAD), ("good", GOOD), ("0xg", BAD))
    )
    result = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(result, str) and "read differently" in result


# -- review-s3 f2: functions, return and the other ways GRUB's script flow differs from a
# straight run (grub-core/script/parser.y, execute.c). Entry 0 or 1 is the one without the
# parameters ('bad'); each cfg below PASSED LNX-013 before the fix.

BAD_GOOD = f"menuentry 'bad' {{\n{BAD}}}\nmenuentry 'good' {{\n{GOOD}}}\n"
GOOD_BAD = f"menuentry 'good' {{\n{GOOD}}}\nmenuentry 'bad' {{\n{BAD}}}\n"
CUSTOM = "/boot/grub/custom.cfg"
UNDECIDED_SOURCE = f"if keystatus --shift; then\n source {CUSTOM}\nfi\n"

# name -> (grub.cfg, custom.cfg or None, grubenv, the entry GRUB boots or "reason: <words>")
FLOW_CASES = {
    # parser.y: 'function' is a statement of a script's top level only; inside a block it is
    # a syntax error, and what GRUB's error recovery then runs is not modelled
    "function inside an if": (
        "if keystatus --shift; then\n function pick {\n  set default=1\n }\nfi\npick\n" + BAD_GOOD,
        None,
        "",
        "reason: syntax error",
    ),
    "function inside a menuentry": (
        f"menuentry 'good' {{\n function pick {{\n  set default=1\n }}\n{GOOD}}}\nmenuentry 'bad' {{\n{BAD}}}\n",
        None,
        "",
        "reason: syntax error",
    ),
    # a function defined by a file sourced under an undecided if: calling it is undecided
    "function sourced under an undecided if": (
        UNDECIDED_SOURCE + "pick\n" + BAD_GOOD,
        "function pick {\n set default=1\n}\n",
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    "function adding an entry, sourced under an undecided if": (
        "set default=good\n" + UNDECIDED_SOURCE + f"add\nmenuentry 'bad' {{\n{BAD}}}\n",
        f"function add {{\n menuentry 'good' {{\n{GOOD} }}\n}}\n",
        "",
        "reason: the entry named 'good' is inside an 'if'",
    ),
    "function redefined under an undecided if": (
        "function pick {\n set default=0\n}\n" + UNDECIDED_SOURCE + "pick\n" + BAD_GOOD,
        "function pick {\n set default=1\n}\n",
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    # execute.c grub_script_return: a return in a function ends it
    "return ends the function": (
        "function pick {\n return\n set default=1\n}\npick\n" + BAD_GOOD,
        None,
        "",
        "bad",
    ),
    "return in a decided if": (
        "function pick {\n if [ a = a ]; then return; fi\n set default=1\n}\npick\n" + BAD_GOOD,
        None,
        "",
        "bad",
    ),
    "return in an undecided if": (
        "function pick {\n if keystatus --shift; then return; fi\n set default=1\n}\npick\n" + BAD_GOOD,
        None,
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    "return in a loop": (
        "function pick {\n for x in a; do return; done\n set default=1\n}\npick\n" + BAD_GOOD,
        None,
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    "return outside a function does nothing": ("return\nset default=1\n" + BAD_GOOD, None, "", "good"),
    "return in a submenu body": (
        f"set default=\"1>1\"\nmenuentry 'bad' {{\n{BAD}}}\nsubmenu 'sub' {{\n menuentry 'bad2' {{\n{BAD} }}\n"
        f" return\n menuentry 'good' {{\n{GOOD} }}\n}}\n",
        None,
        "",
        "reason: return",
    ),
    "recursion": ("function pick {\n pick\n}\npick\nset default=1\n" + BAD_GOOD, None, "", "reason: nest"),
    # grub_script_function_call: the body runs whatever its arguments are, $1.. are them
    "arguments not known": (
        "function pick {\n set default=1\n}\npick $grub_cpu\n" + GOOD_BAD,
        None,
        "",
        "bad",
    ),
    "positional parameters": ("function pick {\n set default=$1\n}\npick 1\n" + GOOD_BAD, None, "", "bad"),
    "a function redefined while it runs": (
        "function pick {\n source /boot/grub/custom.cfg\n set default=1\n}\npick\n" + BAD_GOOD,
        "function pick {\n set default=0\n}\n",
        "",
        "reason: redefined while it runs",
    ),
    # menuentry.c setparams_prefix: in an entry's body $1 is its title, $2.. what follows it
    "an entry's $1 is its title": (
        f"menuentry 'bad' '{PARAMS}' {{\n linux /vmlinuz root=/dev/sda1 $1\n}}\n",
        None,
        "",
        "bad",
    ),
    "brace on the next line": ("function pick\n{\n set default=1\n}\n" + BAD_GOOD, None, "", "bad"),
    # grub_script_execute_cmdline: a GRUB command wins over a function of the same name
    "function named like a GRUB command": (
        "function echo {\n set default=1\n}\necho x\n" + BAD_GOOD,
        None,
        "",
        "reason: named like GRUB's command",
    ),
    # exit leaves GRUB: no menu entry is booted by this grub.cfg
    "exit": ("exit\n" + GOOD_BAD, None, "", "reason: exit"),
    "exit in an undecided if": ("if keystatus --shift; then exit; fi\n" + GOOD_BAD, None, "", "reason: exit"),
    # statements whose effect the straight run missed
    "assignment without set is expanded": ("x=1\ndefault=$x\n" + GOOD_BAD, None, "", "bad"),
    "an if's condition command runs": (
        'if load_env; then true; fi\nset default="${saved_entry}"\n' + GOOD_BAD,
        None,
        "saved_entry=1\n",
        "bad",
    ),
    "a '!' condition command runs": (
        'if ! load_env; then true; fi\nset default="${saved_entry}"\n' + GOOD_BAD,
        None,
        "saved_entry=1\n",
        "bad",
    ),
    "a for loop sets its variable": (
        "for x in 0 1; do true; done\nset default=$x\n" + GOOD_BAD,
        None,
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    "a while condition runs": (
        "while set default=1; do break; done\n" + GOOD_BAD,
        None,
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    "$? is not known": (
        'true\nif [ "$?" = 0 ]; then set default=1; fi\n' + GOOD_BAD,
        None,
        "",
        "reason: 'set default' is inside an 'if'",
    ),
    # eval.c: its arguments run as GRUB script
    "eval": ('eval "set default=1"\n' + GOOD_BAD, None, "", "bad"),
    "eval of a value not known": ("eval $grub_cpu\n" + GOOD_BAD, None, "", "reason: $grub_cpu"),
    "a command named by a variable": ('set c="set default=1"\n$c\n' + GOOD_BAD, None, "", "bad"),
    "a function's '}' with no delimiter before it": (
        "function pick {\n set default=1 }\npick\n" + BAD_GOOD,
        None,
        "",
        "reason: syntax error",
    ),
    # yylex.l: '&&' '|' '<' '>' are tokens parser.y has no rule for; a stray 'fi' likewise
    "&& is a syntax error": ("[ a = a ] && set default=1\n" + GOOD_BAD, None, "", "reason: syntax error"),
    "an unquoted > is a syntax error": ("set default=1>0\n" + GOOD_BAD, None, "", "reason: syntax error"),
    "a stray fi is a syntax error": ("fi\n" + GOOD_BAD, None, "", "reason: syntax error"),
    "a while condition that returns": (
        "function pick {\n while return; do true; done\n set default=1\n}\npick\n" + BAD_GOOD,
        None,
        "",
        "bad",
    ),
    "break outside a loop does nothing": ("break\nset default=1\n" + BAD_GOOD, None, "", "good"),
    "unset of a name not known": (
        "set default=1\nunset $grub_cpu\n" + BAD_GOOD,
        None,
        "",
        "reason: $grub_cpu",
    ),
    "boot in a decided if ends the entry": (
        f"menuentry 'bad' {{\n linux /vmlinuz root=/dev/sda1 quiet\n if [ a = a ]; then boot; fi\n{GOOD}}}\n",
        None,
        "",
        "bad",
    ),
    "a menuentry on one line": (
        "menuentry 'bad' { linux /boot/vmlinuz-6.1.0-8-amd64 root=LABEL=rootfs ro quiet; }\n"
        f"menuentry 'good' {{\n{GOOD}}}\n",
        None,
        "",
        "bad",
    ),
}


@pytest.mark.parametrize("case", list(FLOW_CASES))
def test_grub_script_flow_is_modelled_or_a_reason(case):
    cfg, custom, env, expected = FLOW_CASES[case]
    grub = {"/boot/grub/grub.cfg": cfg, **({CUSTOM: custom} if custom is not None else {})}
    envs = {"/boot/grub/grubenv": env} if env else {}
    result = be.grub_default_entry("/boot/grub/grub.cfg", grub, envs)
    if expected.startswith("reason: "):
        assert isinstance(result, str) and expected.removeprefix("reason: ") in result, result
    else:
        assert isinstance(result, BootEntry) and result.title == expected, result
    # the live verdict (LNX-013): an ERROR naming the cause, never a PASS on a guessed entry
    facts = _live(cfg, env, grub_cfg=files(**grub))
    if expected.startswith("reason: "):
        with pytest.raises(FactError, match="cannot be told"):
            checks.kernel_boot_line(facts, GUIDE)
    else:
        expected_result = Result.PASSED if expected == "good" else Result.FAILED
        assert checks.kernel_boot_line(facts, GUIDE).result is expected_result


def test_a_function_called_by_an_entry_gets_its_own_arguments():
    """Ubuntu's 00_header gfxmode: ``gfxmode $linux_gfx_mode`` in each entry; $1 is the
    call's argument (grub_script_function_call), not the entry's."""
    cfg = (
        'function gfxmode {\n\tset gfxpayload="${1}"\n\tif [ "${1}" = "keep" ]; then\n'
        "\t\tset vt_handoff=vt.handoff=7\n\telse\n\t\tset vt_handoff=\n\tfi\n}\n"
        "set linux_gfx_mode=keep\nexport linux_gfx_mode\n"
        "menuentry 'Ubuntu' --class ubuntu {\n\tgfxmode $linux_gfx_mode\n"
        "\tlinux /boot/vmlinuz root=/dev/sda1 ro $vt_handoff\n}\n"
    )
    entry = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(entry, BootEntry) and entry.params == ["root=/dev/sda1", "ro", "vt.handoff=7"]
    assert entry.lines == [entry.params]
    # Ubuntu's 10_linux picks linux_gfx_mode by gfxblacklist.txt and hwmatch (not read): the
    # kernel line then has vt.handoff=7 or not. Before value sets this was a reason (LNX-013
    # ERROR on every such Ubuntu grub.cfg); now both lines, each judged, never the guess "".
    undecided = cfg.replace(
        "set linux_gfx_mode=keep\n",
        "if [ -e ${prefix}/gfxblacklist.txt ]; then\n set linux_gfx_mode=text\nelse\n set linux_gfx_mode=keep\nfi\n",
    )
    result = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": undecided})
    assert isinstance(result, BootEntry), result
    assert result.lines == [["root=/dev/sda1", "ro"], ["root=/dev/sda1", "ro", "vt.handoff=7"]]
    assert "$vt_handoff ('' or 'vt.handoff=7')" in result.decided_by


@pytest.mark.parametrize(
    "hidden",
    [
        "source /etc/elsewhere.cfg\n",
        "if [ -e /boot/x ]; then source /boot/grub/unread.cfg; fi\n",
        "menuentry 'a' {\n set c=linux\n $c /vmlinuz quiet\n}\n",
        "if keystatus --shift; then\n eval 'menuentry x { linux /vmlinuz quiet; }'\n set default=x\nfi\n",
    ],
)
def test_all_lines_alike_needs_every_line_grub_may_run(hidden):
    """review-s3 f2: the 'all kernel lines alike' fallback PASSED while a file not read, a
    command named by a variable or eval could run a kernel line no file read shows."""
    cfg = hidden + GOOD_BAD.replace(BAD, GOOD)
    with pytest.raises(FactError, match="kernel lines differ"):
        checks.kernel_boot_line(_live(cfg), GUIDE)


def test_all_lines_alike_with_41_custom_and_no_custom_cfg():
    """custom.cfg was looked for and is absent: 41_custom sources nothing, the fallback holds
    (and 00_header's savedefault, an assignment from a variable, runs no hidden command)."""
    tail = (
        'function savedefault {\n  if [ -z "${boot_once}" ]; then\n    saved_entry="${chosen}"\n'
        "    save_env saved_entry\n  fi\n}\n"
        "if [ -f ${config_directory}/custom.cfg ]; then\n  source ${config_directory}/custom.cfg\nfi\n"
        "saved_entry=${chosen}\n"
    )
    cfg = "if keystatus --shift; then set default=1; fi\n" + GOOD_BAD.replace(BAD, GOOD) + tail
    assert checks.kernel_boot_line(_live(cfg), GUIDE).result is Result.PASSED


def test_all_lines_alike_is_not_spoiled_by_an_efi_stub():
    """EL's /boot/efi/EFI/redhat/grub.cfg hands over by 'configfile $prefix/grub.cfg' to the
    grub.cfg judged: it hides no kernel line from the fallback of /boot/grub2/grub.cfg."""
    stub = (
        "search --no-floppy --fs-uuid --set=dev 1234\nset prefix=($dev)/grub2\nconfigfile $prefix/grub.cfg\n"
    )
    cfg = "if keystatus --shift; then set default=1; fi\n" + GOOD_BAD.replace(BAD, GOOD)
    grub = {"/boot/grub2/grub.cfg": cfg, "/boot/efi/EFI/redhat/grub.cfg": stub}
    assert be.all_kernel_params("/boot/grub2/grub.cfg", grub, {}) == [GOOD.split()[2:-2]] * 2



# -- value sets: an 'if' GRUB decides at boot leaves each variable the values its paths may
# leave; the default entry's kernel line may then be one of several, each judged (LNX-013
# PASSes only when every line passes). Before, every such variable was "not known": real
# Ubuntu grub.cfg files whose kernel line has $vt_handoff were an ERROR.

FIXTURES = Path(__file__).parent / "grub_cfgs"
# Real files of Ubuntu's 22.04 server cloud image (ubuntu-22.04-server-cloudimg-amd64.img,
# kernel 5.15.0-100-generic) as unpacked in github.com/ClementCastel/ubuntu-2204, commit
# 4842cecd7becace251488b7e8f1177f6f309afd6: boot/grub/grub.cfg (grub-mkconfig of 00_header,
# 01_track_initrdless_boot_fallback, 10_linux with gfxmode/linux_gfx_mode/recordfail, the
# 'Advanced options' submenu with a recovery entry, 41_custom) and the EFI stub
# boot/efi/EFI/ubuntu/grub.cfg (search.fs_uuid, configfile $prefix/grub.cfg).
UBUNTU_2204 = (FIXTURES / "ubuntu-22.04-cloudimg.grub.cfg").read_text()
UBUNTU_2204_STUB = (FIXTURES / "ubuntu-22.04-cloudimg.efi-stub.grub.cfg").read_text()
# that image's boot/grub/grubenv: an empty environment block
UBUNTU_GRUBENV = "# GRUB Environment Block\n# WARNING: Do not edit this file by tools other than grub-editenv!!!\n"
UBUNTU_LINE = "root=LABEL=cloudimg-rootfs ro  console=tty1 console=ttyS0"
# Azure's images add earlyprintk=ttyS0 (and the guide rootdelay=300) to GRUB_CMDLINE_LINUX_DEFAULT
AZURE_LINE = f"root=LABEL=cloudimg-rootfs ro  console=tty1 {PARAMS}"
# Ubuntu's 10_linux appends \$vt_handoff to GRUB_CMDLINE_LINUX_DEFAULT when it holds 'splash'
# (desktop installs, images built from them): the same file with that kernel line.
WITH_SPLASH = UBUNTU_2204.replace(UBUNTU_LINE, f"{UBUNTU_LINE} quiet splash $vt_handoff")


def _ubuntu(cfg: str, line: str = UBUNTU_LINE) -> dict[str, str]:
    return {"/boot/grub/grub.cfg": cfg.replace(UBUNTU_LINE, line), "/boot/efi/EFI/ubuntu/grub.cfg": UBUNTU_2204_STUB}


def test_real_ubuntu_2204_cloud_grub_cfg_boots_its_first_entry():
    grub = _ubuntu(UBUNTU_2204)
    entries = be.default_entries(grub, {"/boot/grub/grubenv": UBUNTU_GRUBENV}, {}, {})
    assert list(entries) == ["/boot/grub/grub.cfg"]  # the EFI stub hands over to it
    entry = entries["/boot/grub/grub.cfg"]
    assert isinstance(entry, BootEntry) and entry.title == "Ubuntu", entry
    assert entry.lines == [UBUNTU_LINE.split()] and entry.kernel == "/boot/vmlinuz-5.15.0-100-generic"
    assert entry.initrds == ["/boot/initrd.img-5.15.0-100-generic"]


def test_real_ubuntu_grub_cfg_with_vt_handoff_has_both_kernel_lines():
    """linux_gfx_mode: keep or text (gfxblacklist.txt and hwmatch are not read; UEFI keeps),
    so gfxmode sets vt_handoff to 'vt.handoff=7' or '': both lines, never one guessed."""
    entry = be.grub_default_entry("/boot/grub/grub.cfg", _ubuntu(WITH_SPLASH), {})
    assert isinstance(entry, BootEntry), entry
    line = [*UBUNTU_LINE.split(), "quiet", "splash"]
    assert entry.lines == [line, [*line, "vt.handoff=7"]]
    assert "$vt_handoff ('' or 'vt.handoff=7')" in entry.decided_by
    # grubenv recordfail=1 (the boot after a failed one): linux_gfx_mode=text on both firmwares
    env = {"/boot/grub/grubenv": UBUNTU_GRUBENV + "recordfail=1\n"}
    entry = be.grub_default_entry("/boot/grub/grub.cfg", _ubuntu(WITH_SPLASH), env)
    assert isinstance(entry, BootEntry) and entry.lines == [line] and not entry.decided_by


@pytest.mark.parametrize("cfg", [UBUNTU_2204, WITH_SPLASH], ids=["cloudimg", "with-vt_handoff"])
@pytest.mark.parametrize("line, expected", [(AZURE_LINE, Result.PASSED), (UBUNTU_LINE, Result.FAILED)])
def test_live_lnx013_judges_real_ubuntu_grub_cfg(cfg, line, expected):
    grub = _ubuntu(cfg, line)
    facts = _live("", UBUNTU_GRUBENV, grub_cfg=files(**grub))
    verdict = checks.kernel_boot_line(facts, GUIDE)
    assert verdict.result is expected, verdict.message
    if expected is Result.FAILED:
        assert "earlyprintk=ttyS0 missing in /boot/grub/grub.cfg (entry 'Ubuntu'" in verdict.actual


@needs_mkfs
@pytest.mark.parametrize("cfg", [UBUNTU_2204, WITH_SPLASH], ids=["cloudimg", "with-vt_handoff"])
@pytest.mark.parametrize("line, expected", [(AZURE_LINE, Result.PASSED), (UBUNTU_LINE, Result.FAILED)])
def test_offline_lnx013_judges_real_ubuntu_grub_cfg(tmp_path, cfg, line, expected):
    # the test image's ext4 is labelled rootfs: root= names it (the offline root tie holds
    # only when every line names the same root=)
    grub = {k: v.replace("LABEL=cloudimg-rootfs", "LABEL=rootfs") for k, v in _ubuntu(cfg, line).items()}
    facts = _offline(tmp_path, {**grub, "/boot/grub/grubenv": UBUNTU_GRUBENV})
    verdict = checks.kernel_boot_line(facts, GUIDE)
    assert verdict.result is expected, verdict.message
    if cfg is WITH_SPLASH:  # the other checks' one /proc/cmdline: not one line, not applicable
        with pytest.raises(NotAvailableOffline, match=r"2 kernel lines, picked at boot by .*\$vt_handoff"):
            facts.kernel_cmdline  # noqa: B018


MAYBE = "if [ -e $prefix/tuning.cfg ]; then\n set extra={}\nfi\n"
GOOD_EXTRA = GOOD.replace(PARAMS, f"{PARAMS} $extra")


@pytest.mark.parametrize(
    "cfg, expected",
    [
        # one line passes, the other (rootdelay=0 last) does not: GRUB decides at boot
        (MAYBE.format("rootdelay=0") + f"menuentry 'a' {{\n{GOOD_EXTRA}}}\n", "error"),
        # every line fails (differently): a failure naming each line
        (
            "if [ -e $prefix/x ]; then set extra=rootdelay=0; else set extra=earlyprintk=tty1; fi\n"
            + f"menuentry 'a' {{\n{GOOD_EXTRA.replace('earlyprintk=ttyS0 ', '')}}}\n",
            "failed",
        ),
        # the value set reaches the line through a function's $1 (as Ubuntu's gfxmode)
        (
            'function tune {\n set extra="$1"\n}\nset t=rootdelay=300\n'
            "if [ -e $prefix/x ]; then set t=rootdelay=30; fi\n"
            f"menuentry 'a' {{\n tune $t\n{GOOD_EXTRA}}}\n",
            "error",
        ),
        # more values than MAX_VALUES: not known, a reason
        (
            "if [ -e $prefix/a0 ]; then set extra=x0\n"
            + "".join(f"elif [ -e $prefix/a{k} ]; then set extra=x{k}\n" for k in range(1, 9))
            + f"else set extra=x9\nfi\nmenuentry 'a' {{\n{GOOD_EXTRA}}}\n",
            "reason: $extra, whose value is not known",
        ),
        # a value set in a loop is not known: a reason
        (
            "while [ -e $prefix/x ]; do\n if [ -e $prefix/y ]; then set extra=$extra.x; fi\ndone\n"
            + f"menuentry 'a' {{\n{GOOD_EXTRA}}}\n",
            "reason: $extra, whose value is not known",
        ),
        # more alternatives than MAX_ALTERNATIVES: a reason
        (
            "".join(MAYBE.replace("extra", f"e{k}").format(f"x{k}") for k in range(5))
            + f"menuentry 'a' {{\n{GOOD.replace(PARAMS, PARAMS + ' $e0 $e1 $e2 $e3 $e4')}}}\n",
            "reason: may expand 32 ways (more than 16",
        ),
        # a test over a several-valued variable that picks another default entry: a reason
        (
            "set mode=keep\nif [ -e $prefix/x ]; then set mode=text; fi\n"
            "if [ $mode = text ]; then set default=1; fi\n" + GOOD_BAD,
            "reason: default may be '' or '1', which boot different entries",
        ),
        ("set d=0\nif [ -e $prefix/x ]; then set d=1; fi\nset default=$d\n" + GOOD_BAD, "reason: '0' or '1'"),
        # every value names the same entry (index 0, its id): decided
        (
            "set default=0\nif [ -e $prefix/x ]; then set default=good-id; fi\n"
            + GOOD_BAD.replace("'good'", "'good' --id good-id"),
            "passed",
        ),
        # a test every value answers alike is decided
        (
            "set m=keep\nif [ -e $prefix/x ]; then set m=kept; fi\n"
            "if [ -n $m ]; then set default=0; else set default=1; fi\n" + GOOD_BAD,
            "passed",
        ),
    ],
    ids=["one-line-fails", "all-lines-fail", "function-arg", "too-many-values", "loop", "explosion",
         "test-picks-default", "default-var", "same-entry", "same-answer"],
)
def test_value_sets_are_judged_line_by_line_never_guessed(cfg, expected):
    result = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    facts = _live(cfg)
    if expected.startswith("reason: "):
        assert isinstance(result, str) and expected.removeprefix("reason: ") in result, result
        with pytest.raises(FactError, match="cannot be told"):
            checks.kernel_boot_line(facts, GUIDE)
        return
    assert isinstance(result, BootEntry), result
    if expected == "error":
        assert len(result.lines) == 2
        with pytest.raises(FactError, match="decided by GRUB at boot") as err:
            checks.kernel_boot_line(facts, GUIDE)
        assert "rootdelay=300" in str(err.value) and "$" in str(err.value)
        return
    verdict = checks.kernel_boot_line(facts, GUIDE)
    assert verdict.result is {"passed": Result.PASSED, "failed": Result.FAILED}[expected], verdict.message
    if expected == "failed":
        assert "kernel line 1 of 2" in verdict.actual and "kernel line 2 of 2" in verdict.actual


@needs_mkfs
def test_offline_value_set_one_line_failing_is_not_a_pass(tmp_path):
    cfg = MAYBE.format("rootdelay=0") + f"menuentry 'a' {{\n{GOOD_EXTRA}}}\n"
    facts = _offline(tmp_path, {"/boot/grub/grub.cfg": cfg})
    with pytest.raises(FactError, match="decided by GRUB at boot"):
        checks.kernel_boot_line(facts, GUIDE)


@needs_image_tools
@pytest.mark.parametrize(
    "extra, tied",
    [("quiet", True), ("root=/dev/mapper/vg-root", False)],
    ids=["same-root", "root-differs"],
)
def test_offline_root_tie_needs_every_kernel_line_to_name_the_same_root(tmp_path, extra, tied):
    """p1 (the ext4 read) beside an LVM physical volume on p2: root=UUID=<p1> ties the root
    read to the image only when every line GRUB may boot names it (before: a reason, the
    root read not tied, whatever the lines)."""
    from pytest_vmimage.facts.disk import inspect_disk
    from tests.artifacts.test_vhd_root_tie import _files, _image
    from tests.test_linux_image_root import ROOT_UUID

    tree = _files(f"root=UUID={ROOT_UUID} $extra")
    tree["boot/grub/grub.cfg"] = MAYBE.format(extra) + tree["boot/grub/grub.cfg"]
    facts = inspect_disk(_image(tmp_path, tree))
    if tied:
        assert facts.root_fs.not_booted == ""
    else:
        assert "their root= differ" in facts.root_fs.not_booted and "vg-root" in facts.root_fs.not_booted


@pytest.mark.parametrize(
    "command",
    ["probe --set=extra -u (hd0,1)", "regexp --set 1:extra '(.*)' abc", "smbios -s extra --type 1", "read extra"],
)
def test_a_variable_a_command_sets_at_boot_is_not_known(command):
    """probe/regexp/smbios --set and read set a variable from what GRUB reads at boot; before,
    $extra kept its earlier value and the line PASSED whatever the command would set."""
    cfg = f"set extra=\n{command}\nmenuentry 'a' {{\n{GOOD_EXTRA}}}\n"
    result = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(result, str) and "$extra, whose value is not known" in result, result
    with pytest.raises(FactError, match="cannot be told"):
        checks.kernel_boot_line(_live(cfg), GUIDE)


def test_hwmatch_sets_match_at_boot():
    """Ubuntu's 10_linux tests $match after hwmatch (hwmatch.c sets it): a grubenv 'match'
    decides nothing."""
    cfg = (
        "load_env\nset extra=\nhwmatch ${prefix}/gfxblacklist.txt 3\n"
        f"if [ ${{match}} = 0 ]; then set extra=rootdelay=0; fi\nmenuentry 'a' {{\n{GOOD_EXTRA}}}\n"
    )
    envs = {"/boot/grub/grubenv": "match=1\n"}
    entry = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg}, envs)
    assert isinstance(entry, BootEntry) and len(entry.lines) == 2, entry
    with pytest.raises(FactError, match="decided by GRUB at boot"):  # PASSED before
        checks.kernel_boot_line(_live(cfg, "match=1\n"), GUIDE)


def test_a_line_failing_for_sure_elsewhere_fails_with_the_undecided_lines_noted():
    cfg = MAYBE.format("rootdelay=0") + f"menuentry 'a' {{\n{GOOD_EXTRA}}}\n"
    facts = make_facts(
        "debian12",
        proc_cmdline=f"BOOT_IMAGE=/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=rootfs ro {PARAMS}",
        default_grub=files(**{"/etc/default/grub": 'GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0"\n'}),
        grub_cfg=files(**{"/boot/grub/grub.cfg": cfg}),
    )
    verdict = checks.kernel_boot_line(facts, GUIDE)
    assert verdict.result is Result.FAILED, verdict.message
    assert "rootdelay=300 missing in /etc/default/grub" in verdict.actual
    assert "boots one of 2 kernel lines, picked at boot by $extra" in verdict.message


# ----------------------------------------------------------------------------- review-r2
# Each case PASSED LNX-013 (live, most offline too) before its fix: GRUB boots a line without
# the parameters (or the parser cannot know which). expected: the title GRUB boots, or
# "reason: <text>" (the default entry cannot be told: LNX-013 ERROR live).
K = "/boot/vmlinuz-6.1.0-9-amd64"
R2_GOOD = f"\tlinux {K} root=LABEL=rootfs ro {PARAMS}\n\tinitrd /boot/initrd.img-6.1.0-9-amd64\n"
R2_BAD = f"\tlinux {K} root=LABEL=rootfs ro quiet\n\tinitrd /boot/initrd.img-6.1.0-9-amd64\n"
R2_X = f"menuentry 'x' {{\n\tlinux {K} root=LABEL=rootfs ro $extra\n\tinitrd /boot/initrd.img-6.1.0-9-amd64\n}}\n"


R2_SUB = f"set default='0>0'\nsubmenu 'Advanced' {{\n  {R2_X}}}\n"


def _r2_entry(title: str, body: str) -> str:
    return f"menuentry '{title}' {{\n{body}}}\n"


R2_CASES = {
    # 1: yylex.l CHAR excludes { and }: 'quiet}' is quiet then '}' (the block ends or a syntax error)
    "#1 glued closing brace": (
        f"menuentry 'Debian' {{\n\tlinux {K} root=LABEL=rootfs ro quiet}}\n{R2_GOOD}}}\n",
        "",
        {},
        "reason: glued to a word",
    ),
    "#1 brace then comment": (
        f"set default=1\nfunction quietline {{\n\tlinux {K} root=LABEL=rootfs ro quiet\n}}\n"
        f"menuentry 'A' {{\n{R2_GOOD}}}#end of A\nmenuentry 'B' {{\n\tquietline\n}}\n}}\n",
        "",
        {},
        "reason: glued to a word",
    ),
    # 2: $10 is parameter 10 (empty), not $1 ('ttyS') and 0
    "#2 dollar 10": (
        f"menuentry 'ttyS' {{\n\tlinux {K} root=LABEL=rootfs ro console=$10 earlyprintk=$10 rootdelay=300\n}}\n",
        "",
        {},
        "ttyS",
    ),
    # 3: a '$' that starts no variable is GRUB_PARSER_TOKEN_BAD
    "#3 dollar dash": (
        _r2_entry("good", R2_GOOD.replace("rootdelay=300", "rootdelay=300 x=$-")) + _r2_entry("bad", R2_BAD),
        "",
        {},
        "reason: starts no variable name",
    ),
    "#3 dollar brace default": (
        _r2_entry("good", R2_GOOD.replace("rootdelay=300", "rootdelay=300 x=${x:-y}")) + _r2_entry("bad", R2_BAD),
        "",
        {},
        "reason: starts no variable name",
    ),
    # 4: commands inside an entry that set the variable its linux line uses
    **{
        f"#4 entry {cmd.split()[0]}": (
            f"menuentry 'x' {{\n\tset extra=\"{PARAMS}\"\n\t{cmd}\n\tlinux {K} root=LABEL=rootfs ro $extra\n}}\n",
            "",
            {},
            "reason: $extra, whose value is not known",
        )
        for cmd in (
            "regexp --set=extra '^(q)' quiet",
            "tr --set=extra --upcase",
            "probe --set=extra --fs-uuid hd0,1",
            "search --no-floppy --set=extra --file /boot/vmlinuz-6.1.0-9-amd64",
        )
    },
    # 5: execute.c runs the command after '!': the later linux line boots
    "#5 ! linux in an entry": (
        f"menuentry 'x' {{\n{R2_GOOD}\t! linux {K} root=LABEL=rootfs ro quiet\n}}\n",
        "",
        {},
        "x",
    ),
    # 6: regexp --set=extra over an argument not known sets extra all the same
    "#6 regexp over an unknown argument": (
        f"set extra=\"{PARAMS}\"\nregexp --set=extra '^(.*)$' \"$cmdpath\"\n" + R2_X,
        "",
        {},
        "reason: $cmdpath, whose value is not known",
    ),
    # 13: tr and rhboot's increment/decrement change variables at top level
    "#13 tr at top level": (f"set extra=\"{PARAMS}\"\ntr -s extra -U\n" + R2_X, "", {}, "reason: $extra"),
    "#13 increment default": (
        "set default=0\nincrement default\n" + _r2_entry("good", R2_GOOD) + _r2_entry("bad", R2_BAD),
        "",
        {},
        "reason: default is not known",
    ),
    # 7: menuentry accepts dashes: an unknown --option is the title; '--' ends the options
    "#7 unknown --option": (
        "set default='Debian new'\n" + _r2_entry("Debian old", R2_BAD) + _r2_entry("--hidden' 'Debian new", R2_GOOD),
        "",
        {},
        "reason: '--hidden'",
    ),
    "#7 -- then the title": (
        "set default='Debian new'\n" + _r2_entry("Debian new", R2_BAD).replace("menuentry", "menuentry --")
        + _r2_entry("Debian new", R2_GOOD),
        "",
        {},
        "reason: '--'",
    ),
    # 8: an entry whose body is --source's string (no block)
    "#8 menuentry --source": (
        f"menuentry 'Debian' --source \"linux {K} root=LABEL=rootfs ro quiet\"\n" + _r2_entry("serial", R2_GOOD),
        "",
        {},
        "reason: without a block",
    ),
    # 11: entries of another file come first
    **{
        f"#11 {cmd.split()[0]}": (f"{cmd}\n" + _r2_entry("serial", R2_GOOD), "", {}, "reason: another boot loader")
        for cmd in (
            "legacy_source /boot/grub/menu.lst",
            "syslinux_source /boot/syslinux/syslinux.cfg",
            "extract_entries_source /boot/grub/other.cfg",
        )
    },
    # 12: a later loader replaces the linux one
    **{
        f"#12 {extra.split()[0]}": (_r2_entry("x", f"{R2_GOOD}\t{extra}\n"), "", {}, f"reason: '{extra.split()[0]}'")
        for extra in (f"legacy_kernel {K} {K} root=LABEL=rootfs ro quiet", "kfreebsd /boot/kernel/kernel")
    },
    # 14: test.c reads numbers with grub_strtosl (base 0), -s is a size > 0, a device prefix
    # names another file system
    **{
        f"#14 test {cond}": (
            f"if [ {cond} ]; then set extra=\"{PARAMS}\"; else set extra=quiet; fi\n" + R2_X,
            "",
            extra,
            "x",  # both lines, one without the parameters (before: the line with them only)
        )
        for cond, extra in (
            ("010 -eq 10", {}),
            ("1_0 -eq 10", {}),
            ("+5 -eq 5", {}),
            ("-f (hd0,gpt99)/boot/grub/grub.cfg", {}),
            ("-s $prefix/custom.cfg", {"/boot/grub/custom.cfg": ""}),
        )
    },
    "#14 source on another device": (
        "set extra=quiet\nsource (hd0,gpt99)/boot/grub/custom.cfg\n" + R2_X,
        "",
        {"/boot/grub/custom.cfg": f'set extra="{PARAMS}"\n'},
        "reason: sources (hd0,gpt99)/boot/grub/custom.cfg, a file not read",
    ),
    # 9: envblk.c reads '\n' in a value as 'n'
    "#9 grubenv backslash-n": (
        f"load_env\nmenuentry 'x' {{\n\tlinux {K} $kernelopts\n}}\n",
        "kernelopts=root=LABEL=rootfs ro\\nconsole=ttyS0 earlyprintk=ttyS0 rootdelay=300\n",
        {},
        "x",
    ),
    # 15: grub_env_context_open copies exported variables; unset drops the export flag
    "#15 export in an undecided if": (
        f"set extra=\"{PARAMS}\"\nif keystatus --shift; then export extra; fi\n" + R2_SUB,
        "",
        {},
        "reason: $extra, whose value is not known",
    ),
    # (upstream boots an empty $extra; rhboot's GRUB copies extra all the same)
    "#15 unset drops the export": (
        f"export extra\nunset extra\nset extra=\"{PARAMS}\"\n" + R2_SUB,
        "",
        {},
        "reason: rhboot's GRUB",
    ),
    # 16: rhboot's GRUB keeps default (and every variable) inside a submenu
    "#16 rhboot keeps default inside a submenu": (
        "set default=1\n" + _r2_entry("Rescue", R2_BAD)
        + "submenu 'Advanced' {\n" + _r2_entry("good", R2_GOOD) + _r2_entry("bad", R2_BAD) + "}\n",
        "",
        {},
        "reason: rhboot's GRUB",
    ),
    "#16 rhboot copies every variable into a submenu": (
        f"set extra=\"{PARAMS}\"\n" + R2_SUB.replace("set default='0>0'\n", "set default=0\n"),
        "",
        {},
        "reason: rhboot's GRUB",
    ),
}


def test_review_r2_submenu_alike_in_both_grubs_is_an_entry():
    """Upstream and rhboot's GRUB boot the same line: the entry is known."""
    cfg = "set default='1>0'\n" + _r2_entry("Rescue", R2_BAD) + "submenu 'Advanced' {\n" + _r2_entry("good", R2_GOOD) + "}\n"
    entry = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(entry, BootEntry) and entry.title == "good", entry


def test_review_r2_bls_options_with_a_second_command_is_a_reason():
    """blscfg pastes 'linux KERNEL OPTIONS' into the entry's script: a ';' in options starts
    another command (here a second linux line, the one that boots). Before: the first only."""
    conf = "title EL\nlinux /vmlinuz-5.14\noptions root=/dev/sda2 ro PARAMS ; linux /vmlinuz-5.14 quiet\n"
    result = be._bls_entry("/boot/loader/entries/a.conf", conf.replace("PARAMS", PARAMS), {})
    assert isinstance(result, str) and "more than one GRUB command" in result, result


def test_review_r2_grubenv_as_envblk_reads_it():
    env = "# GRUB Environment Block\na=x\\ny\nb=back\\\\slash\nc=two\\\nlines\nd\ne=1\n####\n"
    assert be.parse_grubenv(env) == {"a": "xny", "b": "back\\slash", "c": "two\nlines", "d\ne": "1"}


@pytest.mark.parametrize(
    "kernelopts", [f"root=/dev/sda2 ro # {PARAMS}", f"root=/dev/sda2 ro ; true {PARAMS}", "root=/dev/sda2 ro $x"]
)
def test_review_r2_bls_options_are_lexed_again(kernelopts):
    """#10: blscfg pastes $kernelopts into the entry's script as text: '#' starts a comment
    there, ';' another command. Before: PASSED."""
    facts = make_facts(
        "rhel8",
        proc_cmdline=f"BOOT_IMAGE=/vmlinuz-5.14.0-362.el9.x86_64 root=/dev/sda2 ro {PARAMS}",
        grub_cfg=files(**{"/boot/grub2/grub.cfg": EL_GRUB}),
        grubenv=files(
            **{"/boot/grub2/grubenv": f"saved_entry=abc-5.14.0-362.el9.x86_64\nkernelopts={kernelopts}\n"}
        ),
        bls_entries=files(**BLS),
    )
    with pytest.raises(FactError, match="cannot be told.*blscfg pastes"):
        checks.kernel_boot_line(facts, GUIDE)


@pytest.mark.parametrize("case", list(R2_CASES))
def test_review_r2_no_false_pass(case):
    cfg, env, extra, expected = R2_CASES[case]
    grub = {"/boot/grub/grub.cfg": cfg, **extra}
    envs = {"/boot/grub/grubenv": env} if env else {}
    result = be.grub_default_entry("/boot/grub/grub.cfg", grub, envs)
    if expected.startswith("reason: "):
        assert isinstance(result, str) and expected.removeprefix("reason: ") in result, result
    else:
        assert isinstance(result, BootEntry) and result.title == expected, result
        assert not all(p in line for line in result.lines for p in PARAMS.split()), result
    facts = _live(cfg, env, grub_cfg=files(**grub))
    try:
        verdict = checks.kernel_boot_line(facts, GUIDE)
    except FactError as exc:  # the entry or its line cannot be told: an error naming why
        assert "cannot be told" in str(exc) or "decided by GRUB at boot" in str(exc), exc
    else:
        assert verdict.result is Result.FAILED, verdict.message


def test_review_r2_unset_drops_the_export_upstream():
    """env.c grub_env_unset removes the variable with its export flag: upstream GRUB's submenu
    gets no $extra (before: the parser kept it exported)."""
    cfg = R2_CASES["#15 unset drops the export"][0]
    grub = be._Grub("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg}, {}, {})
    grub.run(be._parse(be._commands(cfg))[0], True)
    entry, entered = be._descend("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg}, {}, {}, "pc", grub, "0>0", False)
    assert entered and isinstance(entry, BootEntry) and entry.params == ["root=LABEL=rootfs", "ro"], entry


@needs_mkfs
def test_review_r2_offline_missing_kernel_with_fallback_is_not_applicable(tmp_path):
    """#17: the default entry's kernel is not in the image and grub.cfg sets fallback: GRUB's
    linux fails and menu.c boots the fallback entry (quiet). Before: PASSED offline."""
    cfg = (
        f"set fallback=1\nmenuentry 'x' {{\n\tlinux /boot/vmlinuz-9.9.9-missing root=LABEL=rootfs ro {PARAMS}\n}}\n"
        f"menuentry 'y' {{\n\tlinux {K} root=LABEL=rootfs ro quiet\n}}\n"
    )
    entry = be.grub_default_entry("/boot/grub/grub.cfg", {"/boot/grub/grub.cfg": cfg})
    assert isinstance(entry, BootEntry) and entry.fallback == "1"
    facts = _offline(tmp_path, {"/boot/grub/grub.cfg": cfg})
    with pytest.raises(NotAvailableOffline, match="vmlinuz-9.9.9-missing, which is not a file.*fallback=1"):
        checks.kernel_boot_line(facts, GUIDE)
