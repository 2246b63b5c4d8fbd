"""SSH host keys are verified as OpenSSH does, against a real SSH server on loopback.

Both backends (paramiko, OpenSSH's ssh) meet the same server (tests/ssh_server.py),
which presents a host key the test chooses: known, unknown, changed, hashed, [host]:port.
"""

from __future__ import annotations

import socket
import threading
import time

import paramiko
import pytest
from paramiko.hostkeys import HostKeys

from pytest_vmimage.connect import ConnectError, RemoteCommandError
from pytest_vmimage.connect.hostkeys import CHANGED, FAILED, fingerprint
from pytest_vmimage.connect.ssh import connect_linux
from pytest_vmimage.targets import parse_target
from tests.ssh_server import LoopbackSshServer, write_key

BACKENDS = ["paramiko", "openssh"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    client = paramiko.ECDSAKey.generate()
    return {
        "host": paramiko.ECDSAKey.generate(),
        "other": paramiko.ECDSAKey.generate(),
        "client": client,
        "client_path": write_key(client, folder / "id_ecdsa"),
    }


@pytest.fixture
def server(keys):
    with LoopbackSshServer(keys["host"], keys["client"]) as srv:
        yield srv


@pytest.fixture(autouse=True)
def empty_home(tmp_path, monkeypatch):
    """No user's ~/.ssh leaks into a test (HOME is an empty folder)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def known_line(port: int, key: paramiko.PKey, hashed: bool = False) -> str:
    name = f"[127.0.0.1]:{port}"
    if hashed:
        name = HostKeys.hash_host(name)
    return f"{name} {key.get_name()} {key.get_base64()}\n"


def connect(server, keys, backend, **kwargs):
    target = parse_target(f"t=ssh://tester@127.0.0.1:{server.port}?backend={backend}&timeout=5")
    return connect_linux(target, str(keys["client_path"]), None, kwargs.pop("ssh_config", None), **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unknown_host_is_refused_by_default(server, keys, backend, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(ConnectError) as caught:
        connect(server, keys, backend, known_hosts=str(known))
    message = str(caught.value)
    assert FAILED in message
    assert f"[127.0.0.1]:{server.port}" in message
    assert known.read_text() == ""  # nothing recorded
    assert server.commands == []  # nothing ran


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_known_host_port_entry_connects(server, keys, backend, hashed, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(
        known_line(server.port, keys["other"]).replace(f"]:{server.port}", "]:1")
        + known_line(server.port, keys["host"], hashed)
    )
    connection = connect(server, keys, backend, known_hosts=str(known))
    try:
        assert connection.run("echo hello").stdout == b"hello\n"
        assert connection.host_key_note == ""
    finally:
        connection.close()


def test_lines_paramiko_cannot_read_are_skipped(server, keys, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(
        "# comment\n\ngarbage\n[h]:22 ssh-ed25519 AAAA!!!\n"
        f"@cert-authority * {keys['other'].get_name()} {keys['other'].get_base64()}\n"
        + known_line(server.port, keys["host"], hashed=True)
    )
    connect(server, keys, "paramiko", known_hosts=str(known)).close()


@pytest.mark.parametrize("policy", ["strict", "tofu"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_changed_key_is_always_refused_with_openssh_wording(server, keys, backend, policy, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(known_line(server.port, keys["other"]))
    with pytest.raises(ConnectError) as caught:
        connect(server, keys, backend, known_hosts=str(known), host_key_policy=policy)
    message = str(caught.value)
    assert CHANGED in message and message.endswith(FAILED)
    assert fingerprint(keys["host"]) in message
    assert known.read_text() == known_line(server.port, keys["other"])  # never overwritten
    assert server.commands == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_tofu_records_the_key_says_so_and_the_next_run_verifies_it(server, keys, backend, tmp_path):
    known = tmp_path / "ci" / "known_hosts"
    if backend == "openssh":
        known.parent.mkdir()  # OpenSSH records into an existing folder only
    connection = connect(server, keys, backend, known_hosts=str(known), host_key_policy="tofu")
    connection.close()
    assert "trusted on first use" in connection.host_key_note
    assert f"[127.0.0.1]:{server.port}" in connection.host_key_note
    entries = HostKeys(str(known))
    assert entries.lookup(f"[127.0.0.1]:{server.port}")[keys["host"].get_name()] == keys["host"]
    again = connect(server, keys, backend, known_hosts=str(known))  # strict now: known
    again.close()
    assert again.host_key_note == ""


def test_tofu_through_the_url_option(server, keys, tmp_path):
    known = tmp_path / "known_hosts"
    target = parse_target(f"t=ssh://tester@127.0.0.1:{server.port}?host_key=tofu&timeout=5")
    connection = connect_linux(target, str(keys["client_path"]), None, None, known_hosts=str(known))
    connection.close()
    assert "trusted on first use" in connection.host_key_note
    assert known.read_text() == known_line(server.port, keys["host"])


def test_user_known_hosts_and_the_default_file(server, keys, empty_home):
    """paramiko reads ~/.ssh/known_hosts (OpenSSH's ssh finds it itself, from the passwd home)."""
    backend = "paramiko"
    ssh_dir = empty_home / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "known_hosts").write_text(known_line(server.port, keys["host"], hashed=True))
    connect(server, keys, backend).close()  # ~/.ssh/known_hosts, hashed [host]:port entry
    (ssh_dir / "known_hosts").write_text("")
    with pytest.raises(ConnectError, match="Host key verification failed"):
        connect(server, keys, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ssh_config_decides_files_and_policy(server, keys, backend, tmp_path):
    known = tmp_path / "from-config"
    config = tmp_path / "ssh_config"
    config.write_text(f"Host 127.0.0.1\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking accept-new\n")
    connection = connect(server, keys, backend, ssh_config=str(config))
    connection.close()
    assert "trusted on first use" in connection.host_key_note
    assert HostKeys(str(known)).lookup(f"[127.0.0.1]:{server.port}") is not None
    config.write_text(
        f"Host 127.0.0.1\n  UserKnownHostsFile {tmp_path / 'empty'}\n  StrictHostKeyChecking yes\n"
    )
    with pytest.raises(ConnectError, match="Host key verification failed"):
        connect(server, keys, backend, ssh_config=str(config))


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_host_key_checking_no_in_ssh_config_does_not_let_a_changed_key_in(
    server, keys, backend, tmp_path
):
    known = tmp_path / "known_hosts"
    known.write_text(known_line(server.port, keys["other"]))
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking no\n")
    with pytest.raises(ConnectError, match="REMOTE HOST IDENTIFICATION HAS CHANGED"):
        connect(server, keys, backend, ssh_config=str(config))


def test_a_connection_lost_during_a_command_is_an_error_not_partial_output(server, keys, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(known_line(server.port, keys["host"]))
    connection = connect(server, keys, "paramiko", known_hosts=str(known))
    threading.Timer(2.0, server.drop).start()
    started = time.monotonic()
    with pytest.raises(RemoteCommandError, match="connection was lost during a command"):
        connection.run("echo partial; sleep 20; echo rest", timeout=60)
    assert time.monotonic() - started < 15
    connection.close()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never sends an SSH banner."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_port_that_never_sends_a_banner_fails_in_bounded_time(silent_port, keys, backend, tmp_path):
    target = parse_target(f"t=ssh://tester@127.0.0.1:{silent_port}?backend={backend}&timeout=2")
    started = time.monotonic()
    with pytest.raises(ConnectError) as caught:
        connect_linux(target, str(keys["client_path"]), None, None, known_hosts=str(tmp_path / "k"))
    elapsed = time.monotonic() - started
    assert elapsed < 20, elapsed
    message = str(caught.value).lower()
    assert "banner" in message or "timed out" in message


def run_plugin(pytester, server, keys, *args):
    return pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--vm-host",
        f"t=ssh://tester@127.0.0.1:{server.port}",
        "--vm-ssh-key",
        str(keys["client_path"]),
        *args,
    )


def test_the_plugin_reports_a_first_use_key(pytester, server, keys, tmp_path):
    """--vm-host-key-policy tofu: the run says so in the terminal and the JSON report."""
    pytester.makepyfile(test_login="def test_login(vm_ssh):\n    assert vm_ssh.run('true').rc == 0\n")
    known = tmp_path / "known_hosts"
    report = tmp_path / "report.json"
    result = run_plugin(
        pytester,
        server,
        keys,
        *("--vm-known-hosts", str(known), "--vm-host-key-policy", "tofu", "--vm-report", str(report)),
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"t: host key trusted on first use: [[]127.0.0.1]:{server.port} ECDSA SHA256:*"]
    )
    assert "trusted on first use" in report.read_text()
    assert known.read_text() == known_line(server.port, keys["host"])


def test_the_plugin_refuses_an_unknown_host_once_per_target(pytester, server, keys, tmp_path):
    pytester.makepyfile(
        test_login="import pytest\n@pytest.mark.parametrize('n', [1, 2])\ndef test_login(vm_ssh, n):\n    pass\n"
    )
    result = run_plugin(pytester, server, keys, "--vm-known-hosts", str(tmp_path / "none"))
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*No ECDSA host key is known for*Host key verification failed.*"])
    assert not (tmp_path / "none").exists()
