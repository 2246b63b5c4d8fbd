"""Guide §2.6: the SSH server."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


@requirement("LNX-014", "An SSH server is installed and enabled", guide="§2.6", severity="warn")
def test_ssh_server(linux_facts, vm_profile):
    return linux.ssh_server(linux_facts, vm_profile)


@requirement(
    "LNX-015", "sshd keeps idle sessions alive every 180 s (ClientAliveInterval)", guide="§2.6, tool 46"
)
def test_client_alive_interval(linux_facts, vm_profile):
    return linux.client_alive_interval(linux_facts, vm_profile)
