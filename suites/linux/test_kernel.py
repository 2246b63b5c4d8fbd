"""Guide §2.3 and the test tool: kernel drivers, libraries, architecture, known vulnerabilities."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


@requirement("LNX-006", "The kernel carries the Hyper-V drivers (vmbus, storvsc, netvsc)", guide="§2.3")
def test_hyperv_drivers(linux_facts, vm_profile):
    return linux.hyperv_drivers(linux_facts, vm_profile)


@requirement("LNX-007", "The agent's Python is recent enough", guide="§2.3, tool 45")
def test_python_version(linux_facts, vm_profile):
    return linux.python_version(linux_facts, vm_profile)


@requirement("LNX-008", "pyasn1 is importable by the agent's Python", guide="§2.3")
def test_pyasn1(linux_facts, vm_profile):
    return linux.pyasn1(linux_facts, vm_profile)


@requirement("LNX-009", "OpenSSL is installed and recent enough", guide="§2.3, tool 44")
def test_openssl_version(linux_facts, vm_profile):
    return linux.openssl_version(linux_facts, vm_profile)


@requirement("LNX-027", "The image is 64-bit", guide="tool 49")
def test_architecture(linux_facts, vm_profile):
    return linux.architecture(linux_facts, vm_profile)


@requirement("LNX-028", "glibc is not vulnerable to GHOST (CVE-2015-0235)", guide="tool 50", severity="warn")
def test_ghost_vulnerability(linux_facts, vm_profile):
    return linux.ghost_vulnerability(linux_facts, vm_profile)


@requirement("LNX-029", "The kernel has the storvsc in-transit RESET fix", guide="§2.3", severity="warn")
def test_storvsc_patch(linux_facts, vm_profile):
    return linux.storvsc_patch(linux_facts, vm_profile)
