"""Guide §2.2 and §2.9: the Azure Linux Agent and its deprovisioning settings."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


@requirement("LNX-003", "The Azure Linux Agent is installed from the distribution package", guide="§2.2")
def test_agent_installed(linux_facts, vm_profile):
    return linux.agent_installed(linux_facts, vm_profile)


@requirement("LNX-004", "The Azure Linux Agent is recent", guide="§2.2, tool 39")
def test_agent_version(linux_facts, vm_profile):
    return linux.agent_version(linux_facts, vm_profile)


@requirement("LNX-005", "The agent keeps auto-update enabled", guide="tool 51", severity="warn")
def test_agent_auto_update(linux_facts, vm_profile):
    return linux.agent_auto_update(linux_facts, vm_profile)


@requirement(
    "LNX-025",
    "waagent.conf regenerates SSH host keys and deletes the root password",
    guide="§2.9",
    severity="warn",
)
def test_deprovision_settings(linux_facts, vm_profile):
    return linux.deprovision_settings(linux_facts, vm_profile)
