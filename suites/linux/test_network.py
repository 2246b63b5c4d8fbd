"""Guide §2.7: networking."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


# severity "fail": under current an installed NetworkManager fails on the RHEL/CentOS 6 family
# (profile table); under guide-2016 LNX-016 only warns
@requirement("LNX-016", "NetworkManager is not used (enabled on the EL7 family)", guide="§2.7")
def test_network_manager(linux_facts, vm_profile):
    return linux.network_manager(linux_facts, vm_profile)


@requirement("LNX-017", "The distribution's ifup/ifdown scripts control the network", guide="§2.7")
def test_ifupdown_control(linux_facts, vm_profile):
    return linux.ifupdown_control(linux_facts, vm_profile)


@requirement("LNX-018", "The primary interface gets its address by DHCP", guide="§2.7")
def test_dhcp(linux_facts, vm_profile):
    return linux.dhcp(linux_facts, vm_profile)


@requirement(
    "LNX-019", "No custom network configuration (static routes, DNS, extra interfaces)", guide="§2.7"
)
def test_no_custom_network(linux_facts, vm_profile):
    return linux.no_custom_network(linux_facts, vm_profile)


@requirement("LNX-020", "The image does not rely on IPv6", guide="§2.7", severity="warn")
def test_no_ipv6_reliance(linux_facts, vm_profile):
    return linux.no_ipv6_reliance(linux_facts, vm_profile)
