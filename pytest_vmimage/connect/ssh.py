"""Linux targets over SSH, through pytest-testinfra.

testinfra's ``Host`` is what checks and users' own tests get (``vm_ssh``
fixture). We connect once, in fixture setup, and turn every connect failure into
one :class:`ConnectError` with a plain cause; commands we run ourselves get a
deadline and read stdout and stderr together (testinfra's paramiko backend has
no command timeout and hangs on large stderr, NOTES.md).

Host keys are verified as OpenSSH does (see :mod:`pytest_vmimage.connect.hostkeys`):
the backends here replace testinfra's, which trust any key (paramiko) or let a host
name reach ``ssh`` as an option (no ``--`` before the destination).
"""

from __future__ import annotations

import errno
import functools
import shlex
import subprocess
import time
import urllib.parse
from dataclasses import dataclass

from pytest_vmimage.connect import ConnectError, RemoteCommandError
from pytest_vmimage.connect.hostkeys import (
    HostKeyTrust,
    TrustPolicy,
    changed_key_message,
    load_known_hosts,
    openssh_settings,
    openssh_trust_args,
    paramiko_settings,
    resolve_trust,
)
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

    def __init__(self, target: Target, host, backend: str, trust: HostKeyTrust | None = None):
        self.target = target
        self.host = host  # testinfra.host.Host
        self.backend = backend
        self.trust = trust
        self.commands_run = 0
        #: set when an unknown host key was trusted on first use (shown in reports)
        self.host_key_note = ""

    def __repr__(self) -> str:
        return f"LinuxConnection({self.target.label!r}, backend={self.backend!r})"

    def run(self, command: str, timeout: float = 300.0, stdin: bytes | None = None) -> CommandOutput:
        """Run one shell command with a deadline; never raises on a non-zero exit.
        ``stdin`` (e.g. a sudo password) travels in the SSH channel, never on a command line."""
        self.commands_run += 1
        if self.backend == "paramiko":
            return self._run_paramiko(command, timeout, stdin)
        return self._run_openssh(command, timeout, stdin)

    def _run_openssh(self, command: str, timeout: float, stdin: bytes | None) -> CommandOutput:
        label = self.target.label
        wrapped = f"timeout -k 5 {int(max(1, timeout))} sh -c {shlex.quote(command)}"
        line = self.host.backend.ssh_command_line(wrapped)
        try:
            proc = subprocess.run(
                line, shell=True, input=stdin or b"", capture_output=True, timeout=timeout + 30
            )
        except subprocess.TimeoutExpired:
            raise RemoteCommandError(
                f"{label}: no answer from ssh within {timeout + 30:.0f} s (connection lost?)"
            ) from None
        if proc.returncode == 255:
            text = _last_line(proc.stderr.decode("utf-8", "replace"))
            raise RemoteCommandError(
                f"{label}: the SSH connection was lost or failed ({text or 'ssh exited 255'})"
            )
        if proc.returncode == 124:
            raise RemoteCommandError(f"{label}: command exceeded its {timeout:.0f} s deadline")
        return CommandOutput(proc.returncode, proc.stdout, proc.stderr)

    def _run_paramiko(self, command: str, timeout: float, stdin: bytes | None) -> CommandOutput:
        import paramiko

        label = self.target.label
        deadline = time.monotonic() + timeout
        try:
            transport = self.host.backend.client.get_transport()
            if transport is None or not transport.is_active():
                raise RemoteCommandError(f"{label}: the SSH connection was lost")
            chan = transport.open_session(timeout=min(timeout, 30))
            chan.settimeout(1.0)
            chan.exec_command(command)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            out: list[bytes] = []
            err: list[bytes] = []
            while True:
                if time.monotonic() > deadline:
                    chan.close()
                    raise RemoteCommandError(f"{label}: command exceeded its {timeout:.0f} s deadline")
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
                    if not transport.is_active() or (chan.closed and not chan.exit_status_ready()):
                        raise RemoteCommandError(
                            f"{label}: the SSH connection was lost during a command "
                            "(the VM stopped, rebooted or the network dropped)"
                        )
                    time.sleep(0.02)
            if chan.exit_status == -1:
                # paramiko reports a channel closed by a dead connection as "exit status ready"
                # with rc -1 (never a real status): no answer; its partial output is never judged
                chan.close()
                raise RemoteCommandError(
                    f"{label}: the SSH connection was lost during a command "
                    "(the VM stopped, rebooted or the network dropped)"
                    if not transport.is_active()
                    else f"{label}: the command ended without an exit status (killed by a signal?)"
                )
            rc = chan.recv_exit_status()
            chan.close()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise RemoteCommandError(f"{label}: SSH failed during a command ({_plain(exc)})") from None
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
    known_hosts: str | None = None,
    host_key_policy: str | None = None,
) -> LinuxConnection:
    """Open the SSH connection now, or raise ConnectError naming target and cause.

    ``known_hosts`` (--vm-known-hosts) replaces the known_hosts files of ssh_config;
    ``host_key_policy`` (--vm-host-key-policy; ``?host_key=`` wins) is ``strict`` or ``tofu``.
    """
    import testinfra.host

    backend = target.options.get("backend", "paramiko")
    timeout = float(target.options.get("timeout", DEFAULT_CONNECT_TIMEOUT))
    host_part = f"[{target.host}]" if ":" in target.host else target.host
    user = urllib.parse.quote(target.user, safe="")
    ssh_config = target.options.get("ssh_config", ssh_config)
    policy = target.options.get("host_key", host_key_policy)
    spec = f"{user}@{host_part}:{target.port}"
    if backend == "paramiko":
        settings = paramiko_settings(target, ssh_config)
        trust = resolve_trust(target, settings, known_hosts, policy)
        ssh_backend = _VerifiedParamikoBackend(
            spec,
            ssh_identity_file=key_path,
            timeout=int(timeout),
            vm_target=target,
            vm_settings=settings,
            vm_trust=trust,
            vm_password=password,
        )
    else:
        if password:
            raise ConnectError(
                f"{target.label}: the openssh backend takes keys or ssh-agent only (a password "
                "would be visible in the process list); drop the password or use backend=paramiko"
            )
        settings = openssh_settings(target, ssh_config)
        trust = resolve_trust(target, settings, known_hosts, policy)
        extra = ["-o", "BatchMode=yes", *openssh_trust_args(trust, known_hosts)]
        ssh_backend = _SafeOpenSSHBackend(
            spec,
            ssh_config=ssh_config,
            ssh_identity_file=key_path,
            timeout=int(timeout),
            ssh_extra_args=shlex.join(extra),
        )
    host = testinfra.host.Host(ssh_backend)
    ssh_backend.set_host(host)
    connection = LinuxConnection(target, host, backend, trust)
    if backend == "paramiko":
        _open_paramiko(connection)
    else:
        _open_openssh(connection)
    return connection


@functools.cache
def _backend_classes():
    from testinfra.backend.paramiko import ParamikoBackend
    from testinfra.backend.ssh import SshBackend

    class VerifiedParamikoBackend(ParamikoBackend):
        """testinfra's paramiko backend with OpenSSH's host-key rules, our ssh_config reading
        and a bounded handshake. Its reconnect (after a dropped connection) verifies too."""

        def __init__(self, hostspec, *, vm_target, vm_settings, vm_trust, vm_password, **kwargs):
            super().__init__(hostspec, **kwargs)
            self.vm_target = vm_target
            self.vm_settings = vm_settings
            self.vm_trust = vm_trust
            self.vm_password = vm_password
            self.vm_policy = TrustPolicy(vm_trust)

        @functools.cached_property
        def client(self):
            import paramiko

            settings = self.vm_settings
            client = paramiko.SSHClient()
            for path in self.vm_trust.read_files:
                load_known_hosts(client._system_host_keys, path)
            client.set_missing_host_key_policy(self.vm_policy)
            kwargs = {
                "hostname": settings.hostname,
                "port": settings.port,
                "username": self.vm_target.user,
                "password": self.vm_password,
                "timeout": self.timeout,
                "banner_timeout": self.timeout,
                "auth_timeout": self.timeout,
                "allow_agent": True,
                "look_for_keys": not self.ssh_identity_file and not settings.identity_files,
            }
            key_files = [self.ssh_identity_file] if self.ssh_identity_file else list(settings.identity_files)
            if key_files:
                kwargs["key_filename"] = key_files
            if settings.proxy_command:
                kwargs["sock"] = paramiko.ProxyCommand(settings.proxy_command)
            try:
                client.connect(**kwargs)
            except BaseException:
                client.close()
                raise
            transport = client.get_transport()
            if transport is not None:
                transport.set_keepalive(15)
            return client

    class SafeOpenSSHBackend(SshBackend):
        """testinfra's ssh backend with ``--`` before the destination, so a destination can
        never be read as an option, and our own command line for stdin and deadlines."""

        def _build_ssh_command(self, command):
            cmd, args = super()._build_ssh_command(command)
            if cmd[-1] != "%s %s":  # pragma: no cover - testinfra changed its layout
                raise RuntimeError("unexpected testinfra ssh command layout")
            cmd[-1] = "-- %s %s"
            return cmd, args

        def ssh_command_line(self, command: str) -> str:
            cmd, args = self._build_ssh_command(command)
            return self.quote(" ".join(cmd), *args)

    return VerifiedParamikoBackend, SafeOpenSSHBackend


def _VerifiedParamikoBackend(*args, **kwargs):  # noqa: N802 - a class, built lazily
    return _backend_classes()[0](*args, **kwargs)


def _SafeOpenSSHBackend(*args, **kwargs):  # noqa: N802
    return _backend_classes()[1](*args, **kwargs)


def _open_paramiko(connection: LinuxConnection) -> None:
    import paramiko

    from pytest_vmimage.connect.hostkeys import HostKeyRefused

    label = connection.target.label
    where = f"{connection.target.host}:{connection.target.port}"
    backend = connection.host.backend
    try:
        backend.client  # noqa: B018 - connects
    except HostKeyRefused as exc:
        raise ConnectError(f"{label} ({where}): {exc}") from None
    except paramiko.BadHostKeyException as exc:
        raise ConnectError(f"{label} ({where}): {changed_key_message(exc, connection.trust)}") from None
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
        text = _plain(exc)
        # paramiko's start_client stops waiting after `timeout` without raising; auth then
        # finds "No existing session": both mean the handshake never completed in time
        if "banner" in text.lower() or "no existing session" in text.lower():
            text = (
                f"no SSH banner or handshake within {backend.timeout} s (the port accepts "
                "connections but does not speak SSH: is sshd hung, or is this another service?)"
            )
            raise ConnectError(f"{label} ({where}): {text}") from None
        raise ConnectError(f"{label} ({where}): SSH handshake failed ({text})") from None
    except FileNotFoundError as exc:
        raise ConnectError(f"{label} ({where}): {exc.filename}: no such file") from None
    except OSError as exc:
        cause = "connection refused" if exc.errno == errno.ECONNREFUSED else (exc.strerror or _plain(exc))
        raise ConnectError(f"{label} ({where}): {cause}") from None
    except (UnicodeError, ValueError) as exc:  # e.g. a host name the resolver cannot encode
        raise ConnectError(f"{label} ({where}): cannot resolve the host ({_plain(exc)})") from None
    connection.host_key_note = backend.vm_policy.note


def _open_openssh(connection: LinuxConnection) -> None:
    label = connection.target.label
    where = f"{connection.target.host}:{connection.target.port}"
    line = connection.host.backend.ssh_command_line("true")
    timeout = connection.host.backend.timeout
    try:
        proc = subprocess.run(
            line, shell=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=2 * timeout + 15
        )
    except subprocess.TimeoutExpired:
        raise ConnectError(f"{label} ({where}): no SSH login within {2 * timeout + 15} s") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConnectError(f"{label} ({where}): cannot run ssh ({_plain(exc)})") from None
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode == 255:
        lowered = stderr.lower()
        if "remote host identification has changed" in lowered:
            cause = changed_key_message(stderr, connection.trust)
        elif "host key verification failed" in lowered:
            cause = (
                f"{_last_line(stderr, skip='Host key verification failed.')} Host key verification "
                "failed. Add the key to known_hosts, pass --vm-known-hosts FILE, or trust it on "
                "first use with --vm-host-key-policy tofu"
            )
        elif "connection refused" in lowered:
            cause = "connection refused"
        elif "timed out" in lowered:
            cause = "connection timed out (no connection or no SSH banner in time)"
        elif "permission denied" in lowered:
            cause = f"authentication failed for user {connection.target.user!r}"
        else:
            cause = _last_line(stderr) or "ssh failed"
        raise ConnectError(f"{label} ({where}): {cause}") from None
    if proc.returncode != 0:
        raise ConnectError(f"{label} ({where}): the login shell failed (exit {proc.returncode})")
    for text in stderr.splitlines():
        if "Permanently added" in text:
            connection.host_key_note = (
                f"host key trusted on first use: {text.strip().removeprefix('Warning: ')}"
            )


def _last_line(text: str, skip: str = "") -> str:
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("Warning:") and line.strip() != skip
    ]
    return lines[-1][:300] if lines else ""


def _plain(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
