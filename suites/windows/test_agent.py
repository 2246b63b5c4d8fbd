"""Today's certification (rules added 2026-11): the Azure Windows VM agent."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import windows


@requirement(
    "WIN-014",
    "The Azure Windows VM agent must be installed, set to start and at least 2.7.41491.1010",
    guide="agent support article",
)
def test_windows_vm_agent(windows_facts, vm_profile):
    return windows.windows_agent(windows_facts, vm_profile)
