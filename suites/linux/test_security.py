"""Guide §2.8 and §2.9: security and generalization."""

from pytest_vmimage import requirement
from pytest_vmimage.checks import linux


@requirement("LNX-021", "No security update is pending", guide="§2.8")
def test_security_updates(linux_facts, vm_profile):
    return linux.security_updates(linux_facts, vm_profile)


@requirement("LNX-022", "No default account can log in; root is locked", guide="§2.8, §2.9")
def test_no_default_accounts(linux_facts, vm_profile):
    return linux.no_default_accounts(linux_facts, vm_profile)


@requirement("LNX-023", "Shell history is cleared", guide="§2.8, tool 48")
def test_shell_history(linux_facts, vm_profile):
    return linux.shell_history(linux_facts, vm_profile)


@requirement("LNX-024", "iptables is installed with no rules", guide="§2.8")
def test_firewall_rules(linux_facts, vm_profile):
    return linux.firewall_rules(linux_facts, vm_profile)


@requirement("LNX-026", "The image is generalized (no build-VM residue)", guide="§2.9")
def test_generalized(linux_facts, vm_profile):
    return linux.generalized(linux_facts, vm_profile)
