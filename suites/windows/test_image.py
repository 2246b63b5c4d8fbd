"""Guide §3.5–§3.7: updates, leftovers of the build, generalization."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import windows


@requirement("WIN-004", "No Critical or Important security update must be pending", guide="§3.5")
def test_latest_updates(windows_facts, vm_profile):
    return windows.latest_updates(windows_facts, vm_profile)


@requirement(
    "WIN-005",
    "Startup tasks should be cleaned up (none outside \\Microsoft\\)",
    guide="§3.6",
    severity="warn",
)
def test_startup_tasks_cleaned_up(windows_facts, vm_profile):
    return windows.startup_tasks(windows_facts, vm_profile)


@requirement("WIN-006", "Nothing must refer to a drive other than C: and D:", guide="§3.6")
def test_only_c_and_d(windows_facts, vm_profile):
    return windows.only_c_and_d(windows_facts, vm_profile)


@requirement("WIN-007", "The image must be generalized with sysprep (generalize + OOBE)", guide="§3.7")
def test_generalized(windows_facts, vm_profile):
    return windows.generalized(windows_facts, vm_profile)
