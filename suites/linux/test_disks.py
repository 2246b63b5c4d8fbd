"""Guide §2.1 and §2.4: disk sizes and partitioning."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


@requirement("LNX-001", "The OS disk is at least 30 GiB (profile limits)", guide="§2.1")
def test_os_disk_size(linux_facts, vm_profile):
    return linux.os_disk_size(linux_facts, vm_profile)


@requirement("LNX-002", "Every data disk is at most 1023 GiB", guide="§2.1")
def test_data_disk_size(linux_facts, vm_profile):
    return linux.data_disk_size(linux_facts, vm_profile)


@requirement("LNX-010", "The OS disk does not use LVM", guide="§2.4", severity="warn")
def test_no_lvm(linux_facts, vm_profile):
    return linux.no_lvm(linux_facts, vm_profile)


@requirement("LNX-011", "The OS disk has a single root partition", guide="§2.4, tool 42", severity="warn")
def test_single_root_partition(linux_facts, vm_profile):
    return linux.single_root_partition(linux_facts, vm_profile)


@requirement("LNX-012", "No swap partition on the OS or data disks", guide="§2.4, tool 41")
def test_no_swap_partition(linux_facts, vm_profile):
    return linux.no_swap_partition(linux_facts, vm_profile)
