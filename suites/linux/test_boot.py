"""Guide §2.5: the kernel boot line."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


@requirement(
    "LNX-013",
    "The kernel boot line carries console=ttyS0 earlyprintk=ttyS0 rootdelay=300",
    guide="§2.5, tool 40",
)
def test_kernel_boot_line(linux_facts, vm_profile):
    return linux.kernel_boot_line(linux_facts, vm_profile)
