"""Hand-written Linux facts for distros the testbed cannot boot, in the file
formats those distros really use. Recorded facts of the real test VM live in
``tests/recorded/linux/``."""

from __future__ import annotations

from pytest_vmimage.facts.linux import SECTIONS, LinuxFacts, Section

OS_RELEASE = {
    "debian12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    "ubuntu2204": 'NAME="Ubuntu"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
    "centos7": 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n',
    "rhel8": 'NAME="Red Hat Enterprise Linux"\nVERSION="8.9 (Ootpa)"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n',
    "sles15": 'NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\nID="sles"\nID_LIKE="suse"\n',
}


def files(**paths: str) -> str:
    """A multi-file section: ``### /path`` headers followed by contents."""
    return "\n".join(f"### {path}\n{text}" for path, text in paths.items())


def make_facts(distro: str = "debian12", privileged: bool = True, **sections: str) -> LinuxFacts:
    """Facts with every section present (empty unless given)."""
    data = {name: Section(0, "") for name in SECTIONS}
    data["os_release"] = Section(0, OS_RELEASE[distro])
    for name, text in sections.items():
        data[name] = Section(0, text)
    return LinuxFacts(
        sections=data, privileged=privileged, sudo_error="" if privileged else "sudo: a password is required"
    )
