"""Rules added 2026-11 from today's certification (LISA cases, Azure Linux docs): Defender
residue, kernel options, provisioning media, boot log, cloud-init, resource disk, DNS."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux_health


@requirement(
    "LNX-037",
    "Defender for Endpoint is not pre-installed or onboarded",
    guide="LISA verify_mdatp_not_preinstalled",
)
def test_mdatp_not_preinstalled(linux_facts, vm_profile):
    return linux_health.mdatp_not_preinstalled(linux_facts, vm_profile)


@requirement(
    "LNX-038", "The kernel has CONFIG_WATCHDOG and CONFIG_CIFS", guide="LISA verify_essential_kernel_modules"
)
def test_essential_kernel_options(linux_facts, vm_profile):
    return linux_health.essential_kernel_options(linux_facts, vm_profile)


@requirement("LNX-039", "udf and vfat can be loaded (provisioning media)", guide="Azure Linux prep docs")
def test_provisioning_filesystems(linux_facts, vm_profile):
    return linux_health.provisioning_filesystems(linux_facts, vm_profile)


@requirement(
    "LNX-040",
    "This boot's log has no errors beyond known noise",
    guide="LISA verify_boot_error_fail_warnings",
    severity="warn",
)
def test_clean_boot_log(linux_facts, vm_profile):
    return linux_health.clean_boot_log(linux_facts, vm_profile)


@requirement(
    "LNX-041",
    "cloud-init ran cleanly and is the only provisioning agent",
    guide="LISA verify_cloud_init_error_status",
)
def test_cloud_init_healthy(linux_facts, vm_profile):
    return linux_health.cloud_init_healthy(linux_facts, vm_profile)


@requirement(
    "LNX-042",
    "The resource disk is formatted by the agent or cloud-init",
    guide="LISA verify_resource_disk_*",
)
def test_resource_disk(linux_facts, vm_profile):
    return linux_health.resource_disk(linux_facts, vm_profile)


@requirement(
    "LNX-043", "The VM resolves public DNS names", guide="certification case verify_dns_name_resolution"
)
def test_dns_resolution(linux_facts, vm_profile):
    return linux_health.dns_resolution(linux_facts, vm_profile)
