"""The shared rules of facts/image_files.py, seen by the live VM and the VHD reader alike."""

from pytest_vmimage.facts.image_files import (
    HistoryEntry,
    history_kind,
    history_stored_bytes,
    is_dhcp_lease,
    is_resolver_stub,
    parse_waagent_conf,
)


def test_waagent_conf_quoted_values_are_read_as_the_agent_reads_them():
    # The agent strips double quotes and spaces: "y" regenerates host keys, "n" turns updates off.
    conf = parse_waagent_conf(
        'Provisioning.RegenerateSshHostKeyPair="y"\nAutoUpdate.Enabled = "n" # off\n#AutoUpdate.Enabled=y\n'
    )
    assert conf["Provisioning.RegenerateSshHostKeyPair"] == "y"
    assert conf["AutoUpdate.Enabled"] == "n"


def test_waagent_conf_last_value_wins():
    assert parse_waagent_conf("ResourceDisk.Format=n\nResourceDisk.Format=y\n")["ResourceDisk.Format"] == "y"


def test_history_symlink_to_dev_null_stores_nothing_but_elsewhere_is_its_target():
    assert history_stored_bytes(HistoryEntry("/root/.bash_history", None, "symlink", "/dev/null")) == 0
    assert history_stored_bytes(HistoryEntry("/root/.bash_history", 40, "symlink", "/tmp/h")) == 40
    # an unresolved target is unknown, never zero
    assert history_stored_bytes(HistoryEntry("/root/.bash_history", None, "symlink", "/tmp/h")) is None


def test_history_kinds_and_lease_names():
    assert history_kind(".bash_history") == "shell"
    assert history_kind(".local/share/fish/fish_history") == "shell"
    assert history_kind(".python_history") == "other"
    assert history_kind(".bashrc") is None
    assert is_dhcp_lease("/var/lib/dhcp/dhclient.eth0.leases")
    assert is_dhcp_lease("/var/lib/NetworkManager/internal-abc-eth0.lease")
    assert not is_dhcp_lease("/var/lib/NetworkManager/NetworkManager.state")


def test_resolver_stub_targets():
    assert is_resolver_stub("../run/systemd/resolve/stub-resolv.conf")
    assert is_resolver_stub("/run/NetworkManager/resolv.conf")
    assert not is_resolver_stub("/etc/resolv.conf.build")
