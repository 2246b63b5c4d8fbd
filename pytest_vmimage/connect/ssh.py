"""Linux targets over SSH, through pytest-testinfra.

testinfra's ``Host`` is what checks and users' own tests get (``vm_ssh``
fixture). We connect once, in fixture setup, and turn every connect failure into
one :class:`ConnectError` with a plain cause; commands we run ourselves get a
deadline and read stdout and stderr together (testinfra's paramiko backend has
no command timeout and hangs on large stderr, NOTES.md).
"""

from __future__ import annotations

import errno
import shlex
import subprocess
import time
import urllib.parse
import warnings
from dataclasses import dataclass

from pytest_vmimage.connect import ConnectError, RemoteCommandError
from pytest_vmimage.targets import Target

DEFAULT_CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class CommandOutput:
    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


class LinuxConnection:
    """One SSH connection to one Linux target (per process)."""

    def __init__(self, target: Target, host, backend: str):
        self.target = target
        self.host = host  # testinfra.host.Host
        self.backend = backend
        self.commands_run = 0

    def __repr__(self) -> str:
        return f"LinuxConnection({self.target.label!r}, backend={self.backend!r})"

    def run(self, command: str, timeout: float = 300.0) -> CommandOutput:
        """Run one shell command with a deadline; never raises on a non-zero exit."""
        self.commands_run += 1
        if self.backend == "paramiko":
            return self._run_paramiko(command, timeout)
        wrapped = f"timeout -k 5 {int(max(1, timeout))} sh -c {shlex.quote(command)}"
        try:
            result = self.host.backend.run(wrapped)
        except RuntimeError as exc:  # ssh exited 255: the connection broke
            raise RemoteCommandError(f"{self.target.label}: ssh failed: {_ssh_stderr(exc)}") from None
        if result.rc == 124:
            raise RemoteCommandError(f"{self.target.label}: command exceeded its {timeout:.0f} s deadline")
        return CommandOutput(result.rc, result.stdout_bytes, result.stderr_bytes)

    def _run_paramiko(self, command: str, timeout: float) -> CommandOutput:
        import paramiko

        deadline = time.monotonic() + timeout
        try:
            transport = self.host.backend.client.get_transport()
            if transport is None or not transport.is_active():
                raise RemoteCommandError(f"{self.target.label}: the SSH connection was lost")
            chan = transport.open_session(timeout=min(timeout, 30))
            chan.settimeout(1.0)
            chan.exec_command(command)
            out: list[bytes] = []
            err: list[bytes] = []
            while True:
                if time.monotonic() > deadline:
                    chan.close()
                    raise RemoteCommandError(
                        f"{self.target.label}: command exceeded its {timeout:.0f} s deadline"
                    )
                progressed = False
                while chan.recv_ready():
                    out.append(chan.recv(65536))
                    progressed = True
                while chan.recv_stderr_ready():
                    err.append(chan.recv_stderr(65536))
                    progressed = True
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if not progressed:
                    time.sleep(0.02)
            rc = chan.recv_exit_status()
            chan.close()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise RemoteCommandError(
                f"{self.target.label}: SSH failed during a command ({_plain(exc)})"
            ) from None
        return CommandOutput(rc, b"".join(out), b"".join(err))

    def close(self) -> None:
        try:
            if self.backend == "paramiko" and "client" in vars(self.host.backend):
                self.host.backend.client.close()
        except Exception:  # noqa: BLE001 - closing must never raise
            pass


def connect_linux(
    target: Target,
    key_path: str | None,
    password: str | None,
    ssh_config: str | None,
) -> LinuxConnection:
    """Open the SSH connection now, or raise ConnectError naming target and cause."""
    import testinfra

    backend = target.options.get("backend", "paramiko")
    timeout = float(target.options.get("timeout", DEFAULT_CONNECT_TIMEOUT))
    host_part = f"[{target.host}]" if ":" in target.host else target.host
    user = urllib.parse.quote(target.user, safe="")
    ssh_config = target.options.get("ssh_config", ssh_config)
    kwargs: dict = {}
    if ssh_config:
        kwargs["ssh_config"] = ssh_config
    if key_path:
        kwargs["ssh_identity_file"] = key_path
    if backend == "paramiko":
        secret = f":{urllib.parse.quote(password, safe='')}" if password else ""
        spec = f"paramiko://{user}{secret}@{host_part}:{target.port}"
        kwargs["timeout"] = int(timeout)
    else:
        if password:
            raise ConnectError(
                f"{target.label}: the openssh backend takes keys or ssh-agent only (a password "
                "would be visible in the process list); drop the password or use backend=paramiko"
            )
        spec = f"ssh://{user}@{host_part}:{target.port}"
        kwargs["timeout"] = int(timeout)
        kwargs["ssh_extra_args"] = "-o BatchMode=yes"
    host = testinfra.get_host(spec, **kwargs)
    connection = LinuxConnection(target, host, backend)
    if backend == "paramiko":
        _open_paramiko(connection)
    else:
        _open_openssh(connection)
    return connection


def _open_paramiko(connection: LinuxConnection) -> None:
    import paramiko

    label = connection.target.label
    where = f"{connection.target.host}:{connection.target.port}"
    try:
        with warnings.catch_warnings():
            # paramiko's WarningPolicy: testinfra never loads known_hosts (README: host keys).
            warnings.filterwarnings("ignore", message="Unknown .* host key")
            connection.host.backend.client  # noqa: B018 - connects
    except paramiko.PasswordRequiredException:
        raise ConnectError(
            f"{label} ({where}): the SSH key is protected by a passphrase; use ssh-agent"
        ) from None
    except paramiko.AuthenticationException:
        raise ConnectError(
            f"{label} ({where}): authentication failed for user {connection.target.user!r} "
            "(wrong key or password, or the key is not in authorized_keys)"
        ) from None
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        causes = {getattr(e, "errno", None) for e in exc.errors.values()}
        cause = "connection refused" if errno.ECONNREFUSED in causes else _plain(exc)
        raise ConnectError(f"{label} ({where}): {cause}") from None
    except TimeoutError:
        raise ConnectError(f"{label} ({where}): connection timed out") from None
    except paramiko.SSHException as exc:
        raise ConnectError(f"{label} ({where}): SSH handshake failed ({_plain(exc)})") from None
    except FileNotFoundError as exc:
        raise ConnectError(f"{label} ({where}): {exc.filename}: no such file") from None
    except OSError as exc:
        cause = "connection refused" if exc.errno == errno.ECONNREFUSED else (exc.strerror or _plain(exc))
        raise ConnectError(f"{label} ({where}): {cause}") from None


def _open_openssh(connection: LinuxConnection) -> None:
    label = connection.target.label
    where = f"{connection.target.host}:{connection.target.port}"
    try:
        result = connection.host.backend.run("true")
    except RuntimeError as exc:
        text = _ssh_stderr(exc)
        lowered = text.lower()
        if "connection refused" in lowered:
            cause = "connection refused"
        elif "timed out" in lowered:
            cause = "connection timed out"
        elif "permission denied" in lowered:
            cause = f"authentication failed for user {connection.target.user!r}"
        else:
            cause = text or "ssh failed"
        raise ConnectError(f"{label} ({where}): {cause}") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConnectError(f"{label} ({where}): cannot run ssh ({_plain(exc)})") from None
    if result.rc != 0:
        raise ConnectError(f"{label} ({where}): the login shell failed (exit {result.rc})")


def _ssh_stderr(exc: RuntimeError) -> str:
    result = exc.args[0] if exc.args else None
    stderr = getattr(result, "stderr", "") or ""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("Warning:")]
    return lines[-1] if lines else ""


def _plain(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
