"""A small SSH server on loopback (paramiko) for connection tests without a VM.

It authenticates one public key, runs exec requests with ``sh -c`` on this machine
(loopback only, for the tests' own commands such as ``true``), and can present any host
key, so host-key verification is tested against real SSH handshakes from both clients
(paramiko and OpenSSH's ``ssh``).
"""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import paramiko


class _Server(paramiko.ServerInterface):
    def __init__(self, user: str, client_key: paramiko.PKey):
        self.user = user
        self.client_key = client_key
        self.command: bytes | None = None
        self.ready = threading.Event()

    def check_auth_publickey(self, username, key):
        if username == self.user and key.asbytes() == self.client_key.asbytes():
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "publickey"

    def check_channel_request(self, kind, chanid):
        return (
            paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        )

    def check_channel_exec_request(self, channel, command):
        self.command = command
        self.ready.set()
        return True


class LoopbackSshServer:
    """``with LoopbackSshServer(host_key, client_key) as server: server.port``."""

    def __init__(self, host_key: paramiko.PKey, client_key: paramiko.PKey, user: str = "tester"):
        self.host_key = host_key
        self.client_key = client_key
        self.user = user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.commands: list[bytes] = []
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> LoopbackSshServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def drop(self) -> None:
        """Cut every connection at once, as a VM that dies does (its end of TCP vanishes)."""
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        server = _Server(self.user, self.client_key)
        try:
            transport.start_server(server=server)
            while not self._stop.is_set() and transport.is_active():
                chan = transport.accept(timeout=1)
                if chan is None:
                    continue
                server.ready.wait(10)
                command = server.command or b"true"
                server.ready.clear()
                self.commands.append(command)
                stdin = b""
                chan.settimeout(0.5)
                try:
                    while True:
                        data = chan.recv(65536)
                        if not data:
                            break
                        stdin += data
                except (TimeoutError, OSError, EOFError):
                    pass
                proc = subprocess.run(
                    ["sh", "-c", command.decode()], input=stdin, capture_output=True, timeout=30
                )
                chan.sendall(proc.stdout)
                chan.sendall_stderr(proc.stderr)
                chan.send_exit_status(proc.returncode)
                chan.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()


def write_key(key: paramiko.PKey, path: Path) -> Path:
    """Write a private key (OpenSSH format) with mode 600 and its .pub beside it."""
    key.write_private_key_file(str(path))
    path.chmod(0o600)
    Path(f"{path}.pub").write_text(f"{key.get_name()} {key.get_base64()} test\n")
    return path


def plugin_options(
    server: LoopbackSshServer, host_key: paramiko.PKey, key_path: Path, label: str = "t"
) -> list:
    """The plugin options that point a pytester run at ``server`` (its host key known)."""
    known = key_path.parent / "known_hosts"
    known.write_text(f"[127.0.0.1]:{server.port} {host_key.get_name()} {host_key.get_base64()}\n")
    target = f"{label}=ssh://tester@127.0.0.1:{server.port}"
    return ["--vm-host", target, "--vm-ssh-key", str(key_path), "--vm-known-hosts", str(known)]
