"""Rules today's certification checks (LISA ``azure_image_standard``, 2026): sudo, kernel
parameters, udev rules, DHCP hostname, KVP daemon, repositories, OMI (LNX-030...036).
Under guide-2016 they warn instead of failing (added to the catalogue in 2026-11)."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux_system


@requirement(
    "LNX-030",
    "sudo keeps the admin's own password (no Defaults targetpw)",
    guide="LISA verify_default_targetpw",
)
def test_default_targetpw(linux_facts, vm_profile):
    return linux_system.default_targetpw(linux_facts, vm_profile)


@requirement("LNX-031", "No harmful kernel parameters", guide="LISA verify_grub")
def test_harmful_kernel_params(linux_facts, vm_profile):
    return linux_system.harmful_kernel_params(linux_facts, vm_profile)


@requirement("LNX-032", "Persistent network naming rules removed", guide="LISA verify_udev_rules_moved")
def test_persistent_net_rules(linux_facts, vm_profile):
    return linux_system.persistent_net_rules(linux_facts, vm_profile)


@requirement(
    "LNX-033", "The DHCP client leaves the hostname to Azure", guide="LISA verify_dhcp_file_configuration"
)
def test_dhcp_hostname(linux_facts, vm_profile):
    return linux_system.dhcp_hostname(linux_facts, vm_profile)


@requirement(
    "LNX-034",
    "The Hyper-V KVP daemon is installed and enabled",
    guide="LISA verify_hv_kvp_daemon_installed",
    severity="warn",
)
def test_kvp_daemon(linux_facts, vm_profile):
    return linux_system.kvp_daemon(linux_facts, vm_profile)


@requirement(
    "LNX-035",
    "The distribution's update repositories are configured",
    guide="LISA verify_repository_installed",
)
def test_repositories(linux_facts, vm_profile):
    return linux_system.repositories(linux_facts, vm_profile)


@requirement("LNX-036", "OMI is absent or not vulnerable to OMIGOD", guide="LISA verify_omi_version")
def test_omi_version(linux_facts, vm_profile):
    return linux_system.omi_version(linux_facts, vm_profile)
