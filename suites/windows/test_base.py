"""Guide §3.1 and the test tool: base image, architecture, accounts."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import windows


@requirement(
    "WIN-001",
    "The image must be built on an approved Windows Server Datacenter base (and SQL Server image)",
    guide="§3.1",
)
def test_approved_base(windows_facts, vm_profile):
    return windows.approved_base(windows_facts, vm_profile)


@requirement("WIN-008", "The operating system must be 64-bit", guide="tool 1.1.4")
def test_64_bit(windows_facts, vm_profile):
    return windows.architecture(windows_facts, vm_profile)


@requirement(
    "WIN-009",
    "Nothing must depend on the built-in Administrator account (SID -500)",
    guide="tool 1.1.5",
)
def test_no_builtin_administrator(windows_facts, vm_profile):
    return windows.no_builtin_administrator(windows_facts, vm_profile)
