"""SAS URIs of the VHD blobs (guide §5.2): SAS-001..006.

A URI that is no SAS token at all fails SAS-005 (well-formed) and the token checks
(SAS-002, -003, -004, -006) are then not applicable, pointing at SAS-005.
"""

from pytest_vmimage import requirement
from pytest_vmimage.artifacts_plugin import judge_sas


@requirement("SAS-001", "The SAS URI names the .vhd blob", guide="§5.2")
def test_sas_points_at_vhd(vm_artifact, vm_profile, vm_artifacts):
    return judge_sas("SAS-001", vm_artifact, vm_profile, vm_artifacts)


@requirement("SAS-002", "The SAS grants list and read only (sp=rl)", guide="§5.2")
def test_sas_permissions(vm_artifact, vm_profile, vm_artifacts):
    return judge_sas("SAS-002", vm_artifact, vm_profile, vm_artifacts)


@requirement("SAS-003", "The SAS start time is in the past", guide="§5.2")
def test_sas_start_time(vm_artifact, vm_profile, vm_artifacts):
    return judge_sas("SAS-003", vm_artifact, vm_profile, vm_artifacts)


@requirement("SAS-004", "The SAS stays valid long enough for certification", guide="§5.2")
def test_sas_validity(vm_artifact, vm_profile, vm_artifacts):
    return judge_sas("SAS-004", vm_artifact, vm_profile, vm_artifacts)


@requirement("SAS-005", "The SAS URI is well-formed (sv, sr, sp, se, sig; https)", guide="§5.2")
def test_sas_well_formed(vm_artifact, vm_profile, vm_artifacts):
    return judge_sas("SAS-005", vm_artifact, vm_profile, vm_artifacts)


@requirement(
    "SAS-006", "The blob downloads through the SAS: a page blob of the VHD's length", guide="§5.2 step 9g, pc"
)
def test_sas_downloads(vm_artifact, vm_profile, vm_artifacts):
    return judge_sas("SAS-006", vm_artifact, vm_profile, vm_artifacts)
