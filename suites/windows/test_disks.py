"""Guide §3.4 and the test tool: disks."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import windows


@requirement("WIN-002", "The OS disk must have the profile's size (127/128 GiB in guide-2016)", guide="§3.4")
def test_os_disk_size(windows_facts, vm_profile):
    return windows.os_disk_size(windows_facts, vm_profile)


@requirement("WIN-003", "Every data disk must be at most 1023 GiB", guide="§3.4")
def test_data_disk_size(windows_facts, vm_profile):
    return windows.data_disk_size(windows_facts, vm_profile)


@requirement("WIN-011", "BitLocker must be off on the OS volume", guide="tool")
def test_no_bitlocker_on_os_volume(windows_facts, vm_profile):
    return windows.no_bitlocker_os(windows_facts, vm_profile)
