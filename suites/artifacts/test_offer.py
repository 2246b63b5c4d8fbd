"""The offer and its SKUs (guide §1, §2.1, §5.2, §5.3): SKU-001..006, from ``--vm-offer FILE``."""

from pytest_vmimage import Verdict, requirement
from pytest_vmimage.artifacts_plugin import detect_os, judge_sas
from pytest_vmimage.checks import offer as checks

SAS_IDS = ("SAS-001", "SAS-002", "SAS-003", "SAS-004", "SAS-005", "SAS-006")


@requirement("SKU-001", "Offer and SKU ids are unique and URL-safe", guide="§1, pc")
def test_sku_identifiers(vm_artifact, vm_profile):
    return checks.check_sku_identifiers(vm_artifact.offer, vm_artifact.sku, vm_profile)


@requirement("SKU-002", "SKU versions are X.Y.Z and each new one follows the rule", guide="§5.3")
def test_sku_versions(vm_artifact, vm_profile):
    return checks.check_sku_versions(vm_artifact.sku, vm_profile)


@requirement("SKU-003", "The SKU recommends the expected number of VM sizes", guide="§5.3", severity="warn")
def test_recommended_sizes(vm_artifact, vm_profile):
    return checks.check_recommended_sizes(vm_artifact.sku, vm_profile)


@requirement("SKU-004", "OS family, data-disk LUNs and data-disk count are consistent", guide="§1, §5.3")
def test_disks_and_luns(vm_artifact, vm_profile, vm_artifacts):
    version = vm_artifact.sku.submitted
    os_disk = version.os_vhd if version else None
    local = vm_artifacts.vhd_for_path(os_disk.path if os_disk else None)
    if local is None:
        detected, evidence = None, "no local OS disk VHD (path) in the manifest"
    else:
        detected, evidence = detect_os(vm_artifacts.inspect(local).facts)
    return checks.check_disks_and_luns(vm_artifact.offer, vm_artifact.sku, vm_profile, detected, evidence)


@requirement("SKU-005", "Every recommended VM size takes the SKU's data disks", guide="§2.1, §5.3")
def test_sizes_fit_disks(vm_artifact, vm_profile):
    return checks.check_sizes_fit_disks(vm_artifact.offer, vm_artifact.sku, vm_profile)


@requirement("SKU-006", "One SAS URI per disk, each a distinct blob passing SAS-001..006", guide="§5.2")
def test_one_sas_per_disk(vm_artifact, vm_profile, vm_artifacts):
    version = vm_artifact.sku.submitted
    if version is None:
        return Verdict.not_applicable("the SKU lists no version")
    wanted = {d.sas_uri for d in [version.os_vhd, *(version.data_disks or ())] if d and d.sas_uri}
    judged = {
        sas.uri: [(req, judge_sas(req, sas, vm_profile, vm_artifacts)) for req in SAS_IDS]
        for sas in vm_artifacts.sas
        if sas.uri in wanted
    }
    return checks.check_one_sas_per_disk(version, judged)
