"""Guide §3.3 and the test tool: networking and remote access."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import windows


@requirement("WIN-012", "The image should not rely on static IPv6", guide="tool", severity="warn")
def test_no_ipv6_reliance(windows_facts, vm_profile):
    return windows.no_ipv6_reliance(windows_facts, vm_profile)


@requirement(
    "WIN-013",
    "RDP must be enabled and allowed (and WinRM HTTPS listening in current)",
    guide="§3.3, tool, pc",
)
def test_remote_access(windows_facts, vm_profile):
    return windows.remote_access(windows_facts, vm_profile)
