"""Artifact checks (VHD-001..010, SAS-001..006): pure functions of facts and a profile.

``profile`` is a ``Mapping[str, Any]`` of threshold names to values
(:data:`pytest_vmimage.profiles.THRESHOLDS`): ``linux_os_disk_min_gib``,
``linux_os_disk_warn_above_gib``, ``linux_os_disk_max_gib``, ``windows_os_disk_min_gib``,
``windows_os_disk_max_gib``, ``data_disk_max_gib``, ``shell_history_max_bytes``,
``first_partition_min_sector``, ``first_partition_result``, ``sas_expiry_business_days``,
``sas_expiry_calendar_days``, ``sas_datetime_required``, ``sas_blob_name_chars_result``,
``sas_http_result``. A fact that cannot be determined raises :class:`FactError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pytest_vmimage.facts.blob import BlobProbe
from pytest_vmimage.facts.disk import GIB, MIB, DiskFacts, RootFsFacts
from pytest_vmimage.facts.image_files import HistoryEntry, history_stored_bytes, is_resolver_stub
from pytest_vmimage.facts.sas import SasFacts
from pytest_vmimage.verdict import FactError, Result, Verdict

Profile = Mapping[str, Any]

CONVERT = "qemu-img convert -O vpc -o subformat=fixed,force_size=on SOURCE disk.vhd"
NOT_SPARSE_RATIO = 0.95
GENERALIZED_HOSTNAMES = ("", "localhost", "localhost.localdomain")


def _gib(size: int) -> str:
    return f"{size / GIB:.2f} GiB ({size} bytes)"


def _by_result(result: str, actual: str, required: str, message: str) -> Verdict:
    """A verdict whose severity is a profile value ("warning" or "failed")."""
    if result == "failed":
        return Verdict.failed(actual, required, message)
    return Verdict.warning(actual, required, message)


def _combine(
    findings: list[tuple[Result, str]], required: str, passed: str, fix: str, not_read: list[str] = ()
) -> Verdict:
    """One verdict from findings. Facts that could not be read (``not_read``) never allow
    a pass: with a failing finding the verdict fails and names them; otherwise it is an
    error naming them."""
    if not_read and not any(result == Result.FAILED for result, _ in findings):
        found = f" (found: {'; '.join(text for _, text in findings)})" if findings else ""
        raise FactError("could not read " + "; ".join(not_read) + found)
    if not_read:
        findings = [*findings, (Result.FAILED, "not read: " + "; ".join(not_read))]
    if not findings:
        return Verdict.passed(passed, required, passed)
    actual = "; ".join(text for _, text in findings)
    message = f"{actual}. Required: {required}. Fix: {fix}"
    if any(result == Result.FAILED for result, _ in findings):
        return Verdict.failed(actual, required, message)
    return Verdict.warning(actual, required, message)


# ---------------------------------------------------------------------------- VHD


def check_vhd_valid(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-001: a 512-byte footer at the end, cookie ``conectix``, correct checksum."""
    required = "a VHD: 512-byte footer at the end of the file, cookie conectix, valid checksum"
    if disk.format != "vhd" or disk.footer is None:
        actual = f"{disk.format} file" + (f" ({disk.format_detail})" if disk.format_detail else "")
        return Verdict.failed(actual, required, f"{actual}, not a VHD. Fix: {CONVERT} (guide §2.1)")
    footer = disk.footer
    if footer.location != "end":
        actual = "no footer at the end of the file (only the copy at offset 0): the file is truncated"
        return Verdict.failed(actual, required, f"{actual}. Fix: upload or convert again.")
    if not footer.checksum_ok:
        actual = f"footer checksum 0x{footer.checksum_stored:08x}, computed 0x{footer.checksum_computed:08x}"
        return Verdict.failed(actual, required, f"{actual}: the footer is corrupt. Fix: {CONVERT}")
    actual = f"VHD footer ({footer.creator_application} {footer.creator_version}), checksum OK"
    return Verdict.passed(actual, required)


def check_vhd_fixed(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-002: footer disk type 2 (fixed)."""
    required = "fixed VHD (footer disk type 2)"
    if disk.footer is None:
        return Verdict.not_applicable(f"not a VHD ({disk.format}); see VHD-001", required)
    footer = disk.footer
    if footer.disk_type == 2:
        return Verdict.passed("fixed", required)
    actual = f"{footer.disk_type_name} VHD (disk type {footer.disk_type})"
    return Verdict.failed(actual, required, f"{actual}. Fix: {CONVERT} (guide §2.1, §3.4)")


def check_vhd_aligned(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-003: virtual size a whole number of MiB; file length = virtual size + 512."""
    required = "virtual size a multiple of 1 MiB and file length = virtual size + 512"
    if disk.footer is None:
        return Verdict.not_applicable(f"not a VHD ({disk.format}); see VHD-001", required)
    size = disk.footer.current_size
    problems = []
    if size % MIB:
        problems.append(f"virtual size {size} bytes is {size % MIB} bytes past a whole MiB")
    if disk.apparent_size != size + 512:
        problems.append(f"file length {disk.apparent_size} is not virtual size + 512 ({size + 512})")
    if not problems:
        return Verdict.passed(f"{size // MIB} MiB, file length {disk.apparent_size}", required)
    actual = "; ".join(problems)
    rounded = (size + MIB - 1) // MIB * MIB
    fix = f"resize the raw image to {rounded} bytes (qemu-img resize -f raw) then {CONVERT}"
    return Verdict.failed(actual, required, f"{actual}. Fix: {fix}")


def _size(disk: DiskFacts) -> int:
    if disk.virtual_size is None:
        raise FactError(f"{disk.path}: the virtual disk size is unknown ({disk.format})")
    return disk.virtual_size


def check_vhd_os_disk_size(disk: DiskFacts, profile: Profile, os_family: str = "linux") -> Verdict:
    """VHD-004: OS disk size per OS and profile (sizes in GiB)."""
    size = _size(disk)
    gib = size / GIB
    if os_family == "windows":
        exact = profile.get("windows_os_disk_exact_gib")
        if exact:
            required = (
                " or ".join(f"exactly {n} GiB" for n in exact) + " (Windows OS disk; do not resize the base)"
            )
            if any(size == n * GIB for n in exact):
                return Verdict.passed(_gib(size), required)
            return Verdict.failed(
                _gib(size), required, f"Windows OS disk is {_gib(size)}; required {required} (guide §3.4)"
            )
        low, high = profile["windows_os_disk_min_gib"], profile["windows_os_disk_max_gib"]
        required = f"{low}-{high} GiB (Windows OS disk)"
        if low <= gib <= high:
            return Verdict.passed(_gib(size), required)
        return Verdict.failed(_gib(size), required, f"Windows OS disk is {_gib(size)}; required {required}")
    low, high = profile["linux_os_disk_min_gib"], profile["linux_os_disk_max_gib"]
    warn = profile["linux_os_disk_warn_above_gib"]
    required = f"at least {low} GiB" + (f", at most {high} GiB" if high is not None else "")
    if gib < low or (high is not None and gib > high):
        return Verdict.failed(_gib(size), required, f"Linux OS disk is {_gib(size)}; required {required}")
    if warn is not None and gib > warn:
        message = f"Linux OS disk is {_gib(size)}: above {warn} GiB is judged case by case (guide §2.1)"
        return Verdict.warning(_gib(size), f"{required}; {warn} GiB or less recommended", message)
    warn_below = profile.get("linux_os_disk_warn_below_gib")
    if warn_below is not None and gib < warn_below:
        message = (
            f"Linux OS disk is {_gib(size)}: below {warn_below} GiB; Partner Center accepts 1-1023 GiB "
            "and recommends 30-50 GiB (pc FAQ)"
        )
        return Verdict.warning(_gib(size), f"{required}; {warn_below} GiB or more recommended", message)
    return Verdict.passed(_gib(size), required)


def check_vhd_data_disk_size(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-005: a data disk is at most ``data_disk_max_gib``."""
    size, high = _size(disk), profile["data_disk_max_gib"]
    required = f"at most {high} GiB"
    if size / GIB <= high:
        return Verdict.passed(_gib(size), required)
    return Verdict.failed(
        _gib(size), required, f"data disk is {_gib(size)}; required {required} (guide §2.1)"
    )


def _layout(disk: DiskFacts) -> None:
    """The partition layout was read and can be trusted (a corrupt table is an error:
    the partitions it hides could be the ones a check looks for)."""
    if not disk.content_readable:
        raise FactError(f"{disk.path}: partition layout not read: {disk.content_reason}")
    table = disk.partition_table
    if table is not None and table.errors:
        raise FactError(f"{disk.path}: the partition table is corrupt: {'; '.join(table.errors[:3])}")


def check_vhd_partition_layout(
    disk: DiskFacts, profile: Profile, os_family: str = "linux", disk_role: str = "os"
) -> Verdict:
    """VHD-006: no swap partition (fail if /etc/fstab uses it), no LVM (warn), and a Linux
    OS disk with a single root partition (warn; BIOS-boot/EFI partitions allowed).
    Whether /etc/fstab uses a swap partition is read only from the root the image boots
    (see :func:`_not_booted`); the rest comes from the partition table."""
    required = "no swap partition, no LVM" + (", one root partition" if disk_role == "os" else "")
    if os_family != "linux":
        return Verdict.not_applicable("swap/LVM/root-partition rules are for Linux images", required)
    _layout(disk)
    if disk_role == "os" and not disk.partitions and disk.whole_disk_fs is None:
        raise FactError(
            f"{disk.path}: no partition table and no file system on the OS disk: nothing to judge"
        )
    findings: list[tuple[Result, str]] = []
    not_read: list[str] = []
    root = disk.root_fs
    for part in disk.partitions:
        if part.role == "swap" or (part.content and part.content.type == "swap"):
            where = f"swap partition {part.index}"
            if not root.readable and disk_role != "os":
                # a data disk holds no /etc/fstab: whether the OS disk's uses it is not judged here
                findings.append((Result.WARNING, f"{where} on a data disk (/etc/fstab is on the OS disk)"))
            elif not root.readable:
                # whether /etc/fstab uses it decides between fail and warn: unknown is an error
                not_read.append(f"/etc/fstab, to tell whether {where} is used ({root.reason})")
            elif _not_booted(root):
                # the /etc/fstab of a file system that may not be the root says nothing of the image
                not_read.append(f"/etc/fstab, to tell whether {where} is used ({_not_booted(root)})")
            elif "fstab" in root.unreadable:
                not_read.append(f"/etc/fstab, to tell whether {where} is used ({root.unreadable['fstab']})")
            elif disk.fstab_references(part):
                spec = disk.fstab_references(part)[0].spec
                findings.append((Result.FAILED, f"{where} used by /etc/fstab ({spec})"))
            else:
                unmatched = _unmatched_swap_lines(disk)
                hint = (
                    f"; /etc/fstab swap line(s) {', '.join(unmatched)} match no partition"
                    if unmatched
                    else ""
                )
                findings.append((Result.WARNING, f"{where} (not in /etc/fstab{hint})"))
        if part.role == "lvm" or (part.content and part.content.type == "lvm2_pv"):
            findings.append((Result.WARNING, f"LVM on partition {part.index}"))
    if disk.whole_disk_fs is not None and disk.whole_disk_fs.type == "lvm2_pv":
        findings.append((Result.WARNING, "LVM physical volume on the whole disk"))
    if disk_role == "os":
        others = [
            p
            for p in disk.partitions
            if p.kind != "extended"
            and p.role not in ("efi", "bios_boot", "swap", "lvm")
            # a FAT partition is an EFI system partition, whatever type code parted gave it
            and not (p.content and p.content.type == "vfat")
        ]
        if len(others) > 1:
            names = ", ".join(f"{p.index} ({p.content.type if p.content else p.type_name})" for p in others)
            findings.append((Result.WARNING, f"{len(others)} partitions besides boot/EFI: {names}"))
    fix = "remove swap and LVM partitions (use the agent's ResourceDisk.EnableSwap) and keep / on one partition (guide §2.4)"
    return _combine(
        findings, required, f"{len(disk.partitions)} partition(s), no swap, no LVM", fix, not_read
    )


def _not_booted(root: RootFsFacts) -> str:
    """Why the root file system read may not be the root the image boots ("" when it is:
    the default boot entry's root= names it, or nothing else on the disk could be the root;
    see facts/linux_image.root_not_booted, the tie the offline Linux suite uses)."""
    if root.not_booted is None:
        return "whether it is the root file system the image boots was not determined"
    return root.not_booted


def _unmatched_swap_lines(disk: DiskFacts) -> list[str]:
    """fstab swap lines naming a device (not a swap file) that no partition here matches."""
    devices = [
        e
        for e in disk.root_fs.fstab
        if e.fstype == "swap" and (e.spec.startswith("/dev/") or not e.spec.startswith("/"))
    ]
    matched = [e for p in disk.partitions for e in disk.fstab_references(p)]
    return [e.spec for e in devices if e not in matched][:5]


def check_vhd_first_mib_free(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-007: the first partition starts at or after ``first_partition_min_sector``."""
    minimum = profile["first_partition_min_sector"]
    required = f"first partition at or after sector {minimum} ({minimum * 512 // 1024} KiB)"
    _layout(disk)
    table = disk.partition_table
    if disk.whole_disk_fs is not None:
        actual = f"{disk.whole_disk_fs.type} file system from byte 0, no partition table"
        return _by_result(
            profile["first_partition_result"], actual, required, f"{actual}. Required: {required}"
        )
    first = table.first_partition() if table else None
    if first is None:
        return Verdict.not_applicable("no partition on the disk", required)
    actual = f"partition {first.index} starts at sector {first.start_sector}"
    if first.start_sector >= minimum:
        return Verdict.passed(actual, required)
    fix = f"move it: echo '+1M,' | sfdisk --move-data DEVICE -N {first.index}"
    return _by_result(
        profile["first_partition_result"], actual, required, f"{actual}. Required: {required}. Fix: {fix}"
    )


def check_vhd_sparse(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-008: the file is stored sparse (allocated size well below its length)."""
    required = "stored sparse (holes for the zero regions)"
    length = disk.apparent_size
    if length == 0:
        return Verdict.not_applicable("empty file", required)
    allocated = min(disk.allocated_size, disk.data_bytes if disk.data_bytes is not None else length)
    actual = f"{allocated} of {length} bytes allocated ({100 * allocated / length:.0f}%)"
    if allocated < NOT_SPARSE_RATIO * length:
        return Verdict.passed(actual, required)
    fix = "fallocate --dig-holes FILE, or cp --sparse=always; upload with a tool that skips empty pages"
    return Verdict.warning(actual, required, f"{actual}: not sparse. Fix: {fix} (guide §2.1)")


def check_vhd_deprovisioned(disk: DiskFacts, profile: Profile) -> Verdict:
    """VHD-009: no resolv.conf (or a stub symlink), no DHCP leases, a generic hostname, no
    shell history, no SSH host keys when the agent regenerates them.

    Judged only on the root the image boots (:func:`_not_booted`). On a file system that
    may not be that root every finding, clean or dirty, says nothing about the image: an
    error naming why and what was found there (never a pass on a decoy, nor a failure
    blamed on a leftover partition)."""
    required = (
        "no /etc/resolv.conf (or a stub symlink), no DHCP leases, hostname localhost.localdomain, "
        "no shell history, no SSH host keys"
    )
    root = disk.root_fs
    if not root.readable:
        raise FactError(f"{disk.path}: the root file system cannot be read: {root.reason}")
    findings: list[tuple[Result, str]] = []
    not_read = _not_read(root.not_read(*DEPROVISION_FACTS))
    if root.resolv_conf is not None:
        target = root.resolv_conf.target
        if root.resolv_conf.kind != "symlink" or not is_resolver_stub(target):
            findings.append(
                (Result.FAILED, "/etc/resolv.conf from the build" + (f" (-> {target})" if target else ""))
            )
    if root.dhcp_leases:
        names = ", ".join(e.path for e in root.dhcp_leases[:5])
        findings.append((Result.FAILED, f"{len(root.dhcp_leases)} DHCP lease file(s): {names}"))
    if root.hostname is not None and root.hostname not in GENERALIZED_HOSTNAMES:
        findings.append((Result.FAILED, f"/etc/hostname is {root.hostname!r}"))
    findings += _history_findings(root, profile["shell_history_max_bytes"], not_read)
    regenerate = (root.waagent_conf or {}).get("Provisioning.RegenerateSshHostKeyPair", "").lower()
    keys = [k.path for k in root.ssh_host_keys if k.path.endswith("_key")]
    if keys and regenerate == "y":
        findings.append((Result.FAILED, f"{len(keys)} SSH host key(s) with RegenerateSshHostKeyPair=y"))
    untied = _not_booted(root)
    if untied:
        found = "; ".join(text for _, text in findings) or "none of the build residue"
        raise FactError(
            f"{disk.path}: {untied}. Found on the file system read (not judged: it may not be the "
            f"image's root): {found}. Required: {required}, on the root the image boots; judge it on a VM "
            "booted from the VHD (the live Linux suite), or read offline a root on a plain ext4/XFS "
            "partition that root= names (guide §2.4, §2.9)"
        )
    fix = "run 'waagent -force -deprovision+user' and 'export HISTSIZE=0' before the final shutdown (guide §2.9)"
    return _combine(findings, required, "generalized: none of the build residue found", fix, not_read)


def _not_read(reasons: dict[str, str]) -> list[str]:
    """``fact, fact (reason)`` per distinct reason."""
    by_reason: dict[str, list[str]] = {}
    for name, why in reasons.items():
        by_reason.setdefault(why, []).append(name)
    return [f"{', '.join(names)} ({why})" for why, names in by_reason.items()]


DEPROVISION_FACTS = (
    "resolv_conf",
    "dhcp_leases",
    "hostname",
    "shell_histories",
    "waagent_conf",
    "ssh_host_keys",
    "home_users",
)


def _history_findings(root: RootFsFacts, limit: int, not_read: list[str]) -> list[tuple[Result, str]]:
    """Histories larger than ``limit`` (a symlink by what it stores: nothing for /dev/null,
    else its target's size); a size that could not be determined goes to ``not_read``."""
    findings: list[tuple[Result, str]] = []
    for history in root.shell_histories:
        stored = history_stored_bytes(HistoryEntry(history.path, history.size, history.kind, history.target))
        if history.kind == "unreadable" or stored is None:
            not_read.append(f"{history.path} ({history.error or 'size not known'})")
            continue
        if stored > limit:
            result = Result.FAILED if history.shell else Result.WARNING
            via = f" via {history.target}" if history.kind == "symlink" else ""
            findings.append((result, f"{history.path} ({stored} bytes{via})"))
    return findings


GENERATION_SOURCE = (
    "Partner Center plan technical configuration, image types X64 Gen1 / X64 Gen2; "
    "Azure docs 'Support for generation 2 VMs' and 'Trusted Launch for Azure VMs'"
)
# An X64 Gen1/Gen2 plan (the only image types the manifest declares) runs x64 loaders only:
# the name the firmware or a boot entry uses, and PE machine 0x8664. Arm64 images are out of scope.
X64_LOADER_NAMES = ("bootx64.efi", "shimx64.efi", "grubx64.efi", "bootmgfw.efi")
FALLBACK_X64 = "EFI/BOOT/BOOTX64.EFI"
_TO_GEN2 = (
    "give the disk a GPT with an EFI System Partition (FAT32, type EF00) and a UEFI loader "
    "(grub-install --target=x86_64-efi --removable writes EFI/BOOT/BOOTX64.EFI; Windows: MBR2GPT), "
    "or declare the plan's image type X64 Gen1"
)
_TO_GEN1 = (
    "add a BIOS boot path (MBR: grub-install --target=i386-pc; GPT: a 1 MiB bios_grub partition, "
    "type EF02, then grub-install --target=i386-pc), or declare the plan's image type X64 Gen2 "
    "(generation = 2 in the manifest, --vm-generation 2)"
)
_TO_TRUSTED = (
    "boot through the Microsoft-signed shim (install shim-signed / shim-x64 and the signed GRUB, "
    "grub-install --uefi-secure-boot: EFI/<distro>/shimx64.efi, EFI/BOOT/BOOTX64.EFI a copy of shim), "
    "or do not declare Trusted Launch"
)


def check_vhd_generation(
    disk: DiskFacts,
    profile: Profile,
    generation: int,
    trusted_launch: bool = False,
    declared_by: str = "default",
    os_family: str = "linux",
) -> Verdict:
    """VHD-010: the OS disk boots as the declared generation. Gen1: a BIOS boot path
    (MBR boot code; on GPT also a bios_grub or legacy-bootable partition, or a hybrid MBR). Gen2: a GPT
    disk (as EDK2 reads it) with an EFI System Partition holding an x64 EFI application under an
    x64 name (EFI/BOOT/BOOTX64.EFI, else EFI/<distro>/shimx64.efi / grubx64.efi: a warning).
    Trusted Launch: the loader the firmware starts is a signed shim (Linux) or signed (Windows).
    A hybrid disk passes both.
    Under guide-2016 not applicable (rules added 2026-11; Gen2 did not exist in 2016)."""
    tl = " with Trusted Launch" if trusted_launch else ""
    required = f"X64 Gen{generation}{tl} ({declared_by}): " + (
        "a BIOS boot path: MBR boot code (and on GPT a bios_grub partition)"
        if generation == 1
        else "a GPT disk with an EFI System Partition holding a UEFI loader"
        + ("; a shim (Secure Boot) loader" if trusted_launch else "")
    )
    if profile.get("rules_2026_result", "failed") != "failed":
        return Verdict.not_applicable(
            "guide-2016 profile: Generation 2 VMs did not exist in 2016 (every Azure VM booted as "
            "Gen1), so the plan's image type is not judged; VHD-010 is judged under --vm-profile current",
            required,
        )
    _layout(disk)
    boot = disk.boot
    if not boot.read:
        raise FactError(f"{disk.path}: the boot path was not read: {boot.reason}")
    found = _boot_summary(boot)
    if generation == 1:
        missing = _bios_missing(boot)
        fix, problems, not_read = _TO_GEN1, missing, []
    else:
        problems, not_read = _uefi_missing(boot, trusted_launch, os_family)
        fix = _TO_GEN2 if not _uefi_loaders(boot) or boot.scheme != "gpt" else _TO_TRUSTED
    if not_read and not problems:
        raise FactError(f"{disk.path}: could not read {'; '.join(not_read)} (found: {found})")
    fallback = _fallback_missing(boot) if generation == 2 and not problems else ""
    if fallback:
        return Verdict.warning(
            fallback, required, f"Found: {found}; {fallback}. Required: {required}. Fix: grub-install "
            f"--removable (or --force-extra-removable) writes {FALLBACK_X64}. Source: {GENERATION_SOURCE}"
        )
    if not problems and generation == 1 and boot.mbr_boot_code_kind == "unknown":
        actual = "sector 0 holds code that is not GRUB, LILO, SYSLINUX or a Windows/DOS MBR"
        return Verdict.warning(
            actual,
            required,
            f"Found: {found}; {actual}: whether a BIOS can start it is not known (garbage looks the same). "
            f"Required: {required}. Fix: boot it once as Gen1 (BIOS) to be sure. Source: {GENERATION_SOURCE}",
        )
    if not problems:
        note = (
            " (the loader's signature is present but not verified against Microsoft's UEFI CA here)"
            if trusted_launch
            else ""
        )
        return Verdict.passed(
            found, required, f"{found}: boots as X64 Gen{generation}{tl}{note}; {declared_by}"
        )
    actual = "; ".join([*problems, *(f"not read: {n}" for n in not_read)])
    message = f"Found: {found}; {actual}. Required: {required}. Fix: {fix}. Source: {GENERATION_SOURCE}"
    return Verdict.failed(actual, required, message)


def check_vhd_generations(
    disk: DiskFacts, profile: Profile, declared: list[tuple[int, bool, str]], os_family: str = "linux"
) -> Verdict:
    """VHD-010 for every plan that submits this disk (a Gen1 and a Gen2 plan may share a
    hybrid disk): the worst verdict; one that cannot be judged is an error unless
    another already fails."""
    verdicts, errors = [], []
    for generation, trusted_launch, declared_by in declared:
        try:
            verdicts.append(
                check_vhd_generation(disk, profile, generation, trusted_launch, declared_by, os_family)
            )
        except FactError as exc:
            errors.append(str(exc))
    failed = [v for v in verdicts if v.result == Result.FAILED]
    if errors and not failed:
        raise FactError("; ".join(errors))
    if len(verdicts) == 1 and not errors or all(v.result == Result.NOT_APPLICABLE for v in verdicts):
        return verdicts[0]
    worst = (failed or verdicts)[0]
    message = " | ".join([*(v.message for v in verdicts), *(f"not judged: {e}" for e in errors)])
    return Verdict(worst.result, "; ".join(v.actual for v in verdicts), worst.required, message)


def _boot_summary(boot) -> str:
    parts = [f"{boot.scheme.upper() if boot.scheme != 'none' else 'no partition table'} disk"]
    parts.append(f"MBR boot code ({boot.mbr_boot_code_kind})" if boot.mbr_boot_code else "no MBR boot code")
    if boot.hybrid_mbr:
        parts.append("hybrid MBR")
    if boot.bios_boot_partitions:
        parts.append("bios_grub partition " + ", ".join(map(str, boot.bios_boot_partitions)))
    for esp in boot.esps:
        loaders = ", ".join(_loader_text(x) for x in esp.loaders) or "no loader"
        parts.append(f"ESP partition {esp.partition_index} ({esp.error or f'{esp.fat}: {loaders}'})")
    if not boot.esps:
        parts.append("no EFI System Partition")
    return ", ".join(parts)


def _loader_text(loader) -> str:
    if loader.problem:
        return f"{loader.path} ({loader.problem})"
    tags = [loader.machine, "shim" if loader.shim else "", "signed" if loader.signed else "unsigned"]
    return f"{loader.path} ({', '.join(t for t in tags if t)})"


def _bios_missing(boot) -> list[str]:
    """Why a BIOS (Gen1) boot is not possible; empty when it is."""
    problems = []
    if boot.scheme == "none":
        return ["no partition table: nothing for the BIOS to boot"]
    if not boot.mbr_boot_code:
        problems.append("sector 0 holds no boot code (bytes 0-439 are zero): a BIOS cannot start it")
    elif not boot.mbr_signature:
        problems.append("sector 0 does not end in 55 AA: a BIOS does not run it")
    if boot.grub_core not in ("", "ok"):
        problems.append(f"GRUB boot.img present but its core.img is absent: {boot.grub_core}")
    if boot.chain_target not in ("", "ok"):
        problems.append(f"Windows/DOS-style MBR code with nothing to start: {boot.chain_target}")
    if boot.scheme == "gpt" and not (
        boot.bios_boot_partitions or boot.legacy_bootable_partitions or boot.hybrid_mbr
    ):
        problems.append(
            "GPT disk without a bios_grub partition (type 21686148-6449-6E6F-744E-656564454649), "
            "a legacy-BIOS-bootable partition or a hybrid MBR: GRUB has no place for its BIOS core"
        )
    return problems


def _uefi_loaders(boot) -> list:
    """The x64 EFI applications, by name and PE machine, on ESPs the firmware sees."""
    return [
        x
        for esp in boot.esps
        if not esp.error and not esp.ignored
        for x in esp.loaders
        if x.pe and not x.problem and x.machine == "x64" and _name(x) in X64_LOADER_NAMES
    ]


def _name(loader) -> str:
    return loader.path.rsplit("/", 1)[-1].lower()


def _firmware_loader(loaders: list):
    """The loader a new VM's firmware starts: EFI/BOOT/BOOTX64.EFI, else (a boot entry
    made by the installer) the distro shim, else the Windows boot manager."""
    for name in ("bootx64.efi", "shimx64.efi", "bootmgfw.efi", "grubx64.efi"):
        hit = next((x for x in loaders if _name(x) == name), None)
        if hit is not None:
            return hit
    return None


def _fallback_missing(boot) -> str:
    """A warning when no loader is on the removable-media path a new VM's firmware tries."""
    loaders = _uefi_loaders(boot)
    if any(_name(x) == "bootx64.efi" for x in loaders):
        return ""
    names = ", ".join(x.path for x in loaders[:3])
    return (
        f"no {FALLBACK_X64}, only {names}: a VM created from the VHD has no UEFI boot entry for it, "
        "and the firmware falls back to the removable path"
    )


def _uefi_missing(boot, trusted_launch: bool, os_family: str) -> tuple[list[str], list[str]]:
    """Why a UEFI (Gen2) boot is not possible, and what could not be read."""
    problems: list[str] = []
    not_read = [esp.error for esp in boot.esps if esp.error]
    if boot.scheme != "gpt":
        kind = "an MBR disk" if boot.scheme == "mbr" else "no partition table"
        problems.append(f"{kind}: Gen2 (UEFI) needs a GPT disk")
    elif boot.gpt_ignored:
        problems.append(boot.gpt_ignored)
    elif boot.gpt_unread:
        not_read.append(boot.gpt_unread)
    if not boot.esps:
        problems.append("no EFI System Partition (GPT type C12A7328-F81F-11D2-BA4B-00A0C93EC93B)")
    problems += [
        f"ESP partition {esp.partition_index} is ignored by UEFI firmware ({esp.ignored})"
        for esp in boot.esps
        if esp.ignored
    ]
    loaders = _uefi_loaders(boot)
    unusable = [x for esp in boot.esps for x in esp.loaders if x not in loaders]
    if boot.esps and not loaders and not not_read:
        detail = "; ".join(_loader_text(x) for x in unusable[:4])
        arm = " (Arm64 loaders: Arm64 images are out of scope, an X64 plan cannot start them)" if any(
            x.machine == "arm64" for x in unusable
        ) else ""
        problems.append(
            "no x64 UEFI loader on the ESP (EFI/BOOT/BOOTX64.EFI, EFI/<distro>/shimx64.efi or "
            "grubx64.efi, EFI/Microsoft/Boot/bootmgfw.efi, PE machine x64, Subsystem EFI application)"
            + arm
            + (f": {detail}" if detail else "")
        )
    first = _firmware_loader(loaders)
    if trusted_launch and first is not None and not not_read:
        if os_family == "windows":
            if not first.signed:
                problems.append(
                    f"Trusted Launch: {first.path}, the loader the firmware starts, has no Authenticode "
                    "signature: Secure Boot refuses it"
                )
        elif not (first.shim and first.signed):
            problems.append(
                f"Trusted Launch: {first.path}, the loader the firmware starts, is not a signed shim "
                f"({'shim' if first.shim else 'not shim'}, {'signed' if first.signed else 'no signature'}): "
                "Secure Boot cannot start GRUB or the kernel"
            )
    return problems, not_read


# ---------------------------------------------------------------------------- SAS


def check_sas_points_at_vhd(sas: SasFacts, profile: Profile) -> Verdict:
    """SAS-001: the last path segment ends with .vhd; blob-name characters per profile."""
    required = 'a blob whose name ends with .vhd, without space, % or "'
    if not sas.blob_basename.lower().endswith(".vhd"):
        actual = f"blob {sas.blob_name!r}" if sas.blob_name else "no blob name (a container URI?)"
        return Verdict.failed(actual, required, f"{actual}: the URI must name the .vhd blob (guide §5.2)")
    if sas.blob_name_bad_chars:
        actual = f"blob name {sas.blob_name!r} contains {', '.join(sas.blob_name_bad_chars)}"
        fix = "rename the blob with letters, digits, '-', '_' and '.' only"
        return _by_result(profile["sas_blob_name_chars_result"], actual, required, f"{actual}. Fix: {fix}")
    return Verdict.passed(sas.blob_name, required)


def check_sas_permissions(sas: SasFacts, profile: Profile) -> Verdict:
    """SAS-002: sp as a set: only r and l; r required (fail), l missing (warn)."""
    required = "sp=rl (read and list only)"
    perms = set(sas.permissions)
    extra = sorted(perms - {"r", "l"})
    actual = f"sp={sas.sp}" if sas.sp is not None else "no sp parameter"
    fix = "generate the SAS with Read and List only (sp=rl) (guide §5.2)"
    if sas.sp and sas.sp != sas.sp.lower():
        return Verdict.failed(
            actual, required, f"{actual}: permissions must be lower-case letters (sp=rl). Fix: {fix}"
        )
    if extra or "r" not in perms:
        why = f"extra rights {''.join(extra)}" if extra else "read (r) missing"
        return Verdict.failed(actual, required, f"{actual}: {why}. Fix: {fix}")
    if "l" not in perms:
        return Verdict.warning(actual, required, f"{actual}: list (l) missing. Fix: {fix}")
    return Verdict.passed(actual, required)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.timezone.utc)


def check_sas_start_time(sas: SasFacts, profile: Profile, now: dt.datetime | None = None) -> Verdict:
    """SAS-003: st in the future fails; within the last 15 minutes warns (clock skew)."""
    required = "st at least 15 minutes in the past (one day before is safest)"
    if sas.st is None:
        return Verdict.passed("no st (valid from creation)", required)
    start, current = sas.st.when, _now(now)
    actual = f"st={sas.st.raw}"
    if start > current:
        return Verdict.failed(
            actual, required, f"{actual} is in the future. Fix: set st to yesterday (guide §5.2)"
        )
    if start > current - dt.timedelta(minutes=15):
        return Verdict.warning(actual, required, f"{actual} is within 15 minutes of now (clock skew)")
    return Verdict.passed(actual, required)


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """``start`` plus ``days`` Monday-to-Friday days (UTC)."""
    current, left = start, days
    while left > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def check_sas_validity(sas: SasFacts, profile: Profile, now: dt.datetime | None = None) -> Verdict:
    """SAS-004: se far enough from now (business days in guide-2016, calendar days in current)."""
    current = _now(now)
    business, calendar = profile["sas_expiry_business_days"], profile["sas_expiry_calendar_days"]
    if business is not None:
        deadline = add_business_days(current, business)
        required = f"se at least {business} business days from now (at least 11 calendar days from today)"
    else:
        deadline = current + dt.timedelta(days=calendar)
        required = f"se at least {calendar} days from now"
    if sas.se is None:
        if any(e.startswith("se") or " se" in e for e in sas.errors):
            return Verdict.failed(
                "se not readable", required, "se could not be parsed (see SAS-005; a '+' must be written %2B)"
            )
        return Verdict.failed("no se parameter", required, f"no expiry (se). Required: {required}")
    actual = f"se={sas.se.raw} ({(sas.se.when - current).days} days from now)"
    if sas.se.when >= deadline:
        return Verdict.passed(actual, required)
    return Verdict.failed(actual, required, f"{actual}. Required: {required}. Fix: generate a new SAS")


def check_sas_well_formed(sas: SasFacts, profile: Profile) -> Verdict:
    """SAS-005: query with sv, sr, sp, sig, se; dates per profile; scheme per profile."""
    required = "https URI with sv, sr, sp, se and sig" + (
        "; st/se full date-times" if profile["sas_datetime_required"] else ""
    )
    problems = list(sas.errors)
    missing = [name for name in ("sv", "sr", "sp", "se") if getattr(sas, name) is None]
    if not sas.sig_present:
        missing.append("sig")
    if sas.has_query and missing:
        problems.append(f"missing {', '.join(missing)}")
    if profile["sas_datetime_required"]:
        for name in ("st", "se"):
            value = getattr(sas, name)
            if value is not None and value.form == "date":
                problems.append(f"{name}={value.raw} is a date, not a date-time (YYYY-MM-DDThh:mm:ssZ)")
    if problems:
        actual = "; ".join(problems)
        return Verdict.failed(actual, required, f"{actual}. URI: {sas.redacted_uri}")
    if sas.scheme == "http":
        actual = "http:// URI"
        return _by_result(profile["sas_http_result"], actual, required, f"{actual}: use https://")
    return Verdict.passed("well-formed", required)


def check_sas_downloads(probe: BlobProbe, local_length: int | None, local_name: str = "") -> Verdict:
    """SAS-006: HEAD and a ranged GET succeed, the blob is a page blob, and its length equals
    the local VHD's (compared only when a local VHD is matched)."""
    required = "HEAD 200, GET bytes=0-511 206, x-ms-blob-type PageBlob" + (
        f", Content-Length {local_length} (= {local_name})" if local_length is not None else ""
    )
    head, get = probe.head, probe.ranged_get
    problems: list[str] = []
    hints: list[str] = []
    if head.error or head.status != 200:
        problems.append(head.describe())
        if head.status == 403:
            hints.append(
                "the signature does not match or the SAS is expired / not yet valid (see SAS-003, SAS-004): generate a new SAS with sp=rl"
            )
        elif head.status == 404:
            hints.append("no such blob: check the storage account, container and blob name")
        elif head.error:
            hints.append("check the host name, the network path to the storage account and the URI")
    else:
        if get.error or get.status != 206:
            why = " (the range was ignored)" if get.status == 200 else ""
            problems.append(get.describe() + why)
        elif get.body_bytes != 512 and probe.content_length and probe.content_length >= 512:
            problems.append(f"GET bytes=0-511 returned {get.body_bytes} bytes")
        blob_type = probe.blob_type
        if blob_type != "PageBlob":
            problems.append(f"x-ms-blob-type {blob_type or 'missing'}, not PageBlob")
            hints.append(
                "upload the VHD as a page blob (azcopy copy --blob-type PageBlob, or az storage blob upload --type page)"
            )
        length = probe.content_length
        if local_length is not None and length != local_length:
            problems.append(f"Content-Length {length}, local {local_name} is {local_length} bytes")
            hints.append("upload the VHD again (the blob is not this file, or the upload was cut short)")
    found = (
        f"{probe.blob_type or 'blob'}, {probe.content_length} bytes" if not problems else "; ".join(problems)
    )
    if not problems:
        compared = (
            f"equal to {local_name}"
            if local_length is not None
            else "no local VHD matched: length not compared"
        )
        return Verdict.passed(
            f"{found} ({compared})", required, f"{probe.redacted_uri}: downloads, {found}, {compared}"
        )
    fix = "; ".join(hints) or "make the blob readable through this SAS URI"
    message = f"{probe.redacted_uri}: {found}. Required: {required}. Fix: {fix} (guide §5.2 step 9g)"
    return Verdict.failed(found, required, message)
