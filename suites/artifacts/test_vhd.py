"""VHD files (guide §2.1, §2.4, §2.9, §3.4; pc): VHD-001..010.

Only VHD-004/006 (the OS family) and VHD-006/009 read the root file system inside the
VHD (once per run); VHD-001 names what the file is; when it is not a VHD at all (or cannot be read) the other
VHD checks are not applicable and point at VHD-001, so a wrong file gives one clear failure.
"""

import pytest

from pytest_vmimage import Verdict, requirement
from pytest_vmimage.artifacts_plugin import InspectedVhd, generations_of, os_family_of
from pytest_vmimage.checks import artifacts as checks
from pytest_vmimage.facts.disk import DiskFacts
from pytest_vmimage.verdict import FactError


def _vhd_or_reason(vhd: InspectedVhd) -> DiskFacts | Verdict:
    """The facts of a VHD, or a not-applicable verdict pointing at VHD-001."""
    if vhd.error is not None:
        return Verdict.not_applicable(f"{vhd.error}; see VHD-001")
    facts = vhd.facts
    if facts.footer is None:
        return Verdict.not_applicable(f"{vhd.artifact.path.name} is not a VHD ({facts.format}); see VHD-001")
    if facts.footer.location != "end":
        return Verdict.not_applicable(f"{vhd.artifact.path.name} has no VHD footer at its end; see VHD-001")
    return facts


def _content(vhd: InspectedVhd, check, *args) -> Verdict:
    """Run a check that reads the disk content; a dynamic/differencing VHD whose content
    cannot be read is not applicable (see VHD-002) instead of an error."""
    facts = _vhd_or_reason(vhd)
    if isinstance(facts, Verdict):
        return facts
    try:
        return check(facts, *args)
    except FactError as exc:
        if facts.footer.disk_type != 2:
            return Verdict.not_applicable(f"{exc} ({facts.footer.disk_type_name} VHD; see VHD-002)")
        raise


@requirement(
    "VHD-001", "The file is a VHD: footer with cookie conectix and a valid checksum", guide="§2.1, pc"
)
def test_vhd_valid(vhd, vm_profile):
    if vhd.error is not None:
        raise FactError(str(vhd.error))
    return checks.check_vhd_valid(vhd.facts, vm_profile)


@requirement("VHD-002", "The VHD is fixed (not dynamic or differencing)", guide="§2.1, §3.4")
def test_vhd_fixed(vhd, vm_profile):
    facts = _vhd_or_reason(vhd)
    return facts if isinstance(facts, Verdict) else checks.check_vhd_fixed(facts, vm_profile)


@requirement("VHD-003", "The virtual size is a whole number of MiB; file length = size + 512", guide="azure")
def test_vhd_aligned(vhd, vm_profile):
    facts = _vhd_or_reason(vhd)
    if isinstance(facts, Verdict):
        return facts
    if facts.footer.disk_type != 2:
        return Verdict.not_applicable(f"a {facts.footer.disk_type_name} VHD; see VHD-002 (convert it first)")
    return checks.check_vhd_aligned(facts, vm_profile)


@pytest.mark.vm_artifacts("os-vhd")
@requirement("VHD-004", "The OS disk size fits the OS and profile", guide="§2.1, §3.4")
def test_vhd_os_disk_size(vhd, vm_profile, vm_artifacts):
    facts = _vhd_or_reason(vhd)
    if isinstance(facts, Verdict):
        return facts
    family, source = os_family_of(vm_artifacts, vhd.artifact)
    verdict = checks.check_vhd_os_disk_size(facts, vm_profile, family)
    return Verdict(verdict.result, verdict.actual, verdict.required, _with_os(verdict, family, source))


@pytest.mark.vm_artifacts("data-vhd")
@requirement("VHD-005", "A data disk is at most 1023 GiB", guide="§2.1, §3.4")
def test_vhd_data_disk_size(vhd, vm_profile):
    facts = _vhd_or_reason(vhd)
    return facts if isinstance(facts, Verdict) else checks.check_vhd_data_disk_size(facts, vm_profile)


@requirement(
    "VHD-006",
    "No swap or LVM partition; a Linux OS disk has one root partition",
    guide="§2.4",
    severity="fail",
)
def test_vhd_partition_layout(vhd_root_fs, vm_profile, vm_artifacts):
    family, _ = os_family_of(vm_artifacts, vhd_root_fs.artifact)
    return _content(
        vhd_root_fs, checks.check_vhd_partition_layout, vm_profile, family, vhd_root_fs.artifact.role
    )


@requirement(
    "VHD-007", "The first partition starts at or after 1 MiB (sector 2048)", guide="pc", severity="fail"
)
def test_vhd_first_mib_free(vhd, vm_profile):
    return _content(vhd, checks.check_vhd_first_mib_free, vm_profile)


@requirement("VHD-008", "The VHD file is stored sparse", guide="§2.1, §3.4", severity="warn")
def test_vhd_sparse(vhd, vm_profile):
    facts = _vhd_or_reason(vhd)
    if isinstance(facts, Verdict):
        return facts
    if facts.footer.disk_type != 2:
        return Verdict.not_applicable(f"a {facts.footer.disk_type_name} VHD stores no zeros; see VHD-002")
    return checks.check_vhd_sparse(facts, vm_profile)


@pytest.mark.vm_artifacts("os-vhd")
@requirement("VHD-009", "The image inside the VHD is deprovisioned (generalized)", guide="§2.7, §2.9")
def test_vhd_deprovisioned(vhd_root_fs, vm_profile, vm_artifacts):
    family, source = os_family_of(vm_artifacts, vhd_root_fs.artifact)
    if family != "linux":
        return Verdict.not_applicable(f"a {family} OS disk ({source}): Windows generalization is WIN-007")
    return _content(vhd_root_fs, checks.check_vhd_deprovisioned, vm_profile)


@pytest.mark.vm_artifacts("os-vhd")
@requirement(
    "VHD-010",
    "The OS disk boots as the generation the plan declares (Gen1 BIOS / Gen2 UEFI, Trusted Launch)",
    guide="pc",
)
def test_vhd_generation(vm_artifacts, vm_artifact, vm_profile):
    declared = generations_of(vm_artifacts, vm_artifact)
    if vm_profile.get("rules_2026_result", "failed") == "failed":
        vhd = vm_artifacts.inspect(vm_artifact, boot=True)  # the ESPs are read only when judged
    else:
        vhd = vm_artifacts.inspect(vm_artifact)
    trusted = any(tl for _, tl, _ in declared)
    family = os_family_of(vm_artifacts, vm_artifact)[0] if trusted else "linux"
    return _content(vhd, checks.check_vhd_generations, vm_profile, declared, family)


def _with_os(verdict: Verdict, family: str, source: str) -> str:
    text = verdict.message or verdict.actual
    return f"{text} [OS: {family}, from {source}]"
