"""SSH host keys, verified as OpenSSH verifies them.

* The known_hosts files are OpenSSH's: ``--vm-known-hosts FILE`` alone when given, else
  ssh_config's ``UserKnownHostsFile`` / ``GlobalKnownHostsFile`` (defaults
  ``~/.ssh/known_hosts``, ``~/.ssh/known_hosts2``, ``/etc/ssh/ssh_known_hosts``,
  ``/etc/ssh/ssh_known_hosts2``). Hashed entries and ``[host]:port`` entries work.
* ``strict`` (default): an unknown host is refused. ``tofu``: an unknown host's key is
  recorded in the first user known_hosts file and the run says so. The policy comes from
  ``?host_key=``, else ``--vm-host-key-policy``, else ssh_config's ``StrictHostKeyChecking``
  (``accept-new``/``no`` mean tofu; ``yes``/``ask`` strict), else strict.
* A key that differs from the recorded one is always refused, with OpenSSH's words.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vmimage.connect import ConnectError
from pytest_vmimage.targets import Target

POLICIES = ("strict", "tofu")
_USER_FILES = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
_GLOBAL_FILES = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
_CONFIG_POLICY = {"yes": "strict", "ask": "strict", "accept-new": "tofu", "no": "tofu", "off": "tofu"}

CHANGED = "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!"
FAILED = "Host key verification failed."


class HostKeyRefused(Exception):
    """The server's key is not known and the policy is strict (message says how to fix)."""


@dataclass(frozen=True)
class SshSettings:
    """What ssh_config says for one target (only the parts we use)."""

    hostname: str
    port: int
    identity_files: tuple[str, ...] = ()
    proxy_command: str = ""
    strict_host_key_checking: str = ""
    user_known_hosts: tuple[str, ...] = ()
    global_known_hosts: tuple[str, ...] = ()
    hash_known_hosts: bool = False


@dataclass(frozen=True)
class HostKeyTrust:
    """Which known_hosts files decide, where a first-use key goes, and why."""

    policy: str
    read_files: tuple[str, ...]
    write_file: str | None
    source: str
    hash_names: bool = False
    extra: dict = field(default_factory=dict, compare=False)


def _paths(value, defaults: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return tuple(os.path.expanduser(p) for p in defaults)
    if isinstance(value, (list, tuple)):
        value = " ".join(value)
    return tuple(os.path.expanduser(p) for p in shlex.split(value) if p.lower() != "none")


def paramiko_settings(target: Target, ssh_config: str | None) -> SshSettings:
    """ssh_config (the given file, else ~/.ssh/config when it exists) read by paramiko."""
    import paramiko

    path = ssh_config or os.path.expanduser("~/.ssh/config")
    found: dict = {}
    if ssh_config or os.path.isfile(path):
        try:
            found = paramiko.SSHConfig.from_path(path).lookup(target.host)
        except OSError as exc:
            raise ConnectError(f"{target.label}: cannot read ssh_config {path}: {exc.strerror}") from None
        except Exception as exc:  # noqa: BLE001 - a malformed config is the user's to fix
            raise ConnectError(f"{target.label}: cannot use ssh_config {path}: {exc}") from None
    port = target.port
    if target.port == 22 and "port" in found:
        port = int(found["port"])
    return SshSettings(
        hostname=found.get("hostname", target.host),
        port=port,
        identity_files=tuple(os.path.expanduser(p) for p in found.get("identityfile", [])),
        proxy_command=found.get("proxycommand", "") if found.get("proxycommand", "none") != "none" else "",
        strict_host_key_checking=str(found.get("stricthostkeychecking", "")).lower(),
        user_known_hosts=_paths(found.get("userknownhostsfile"), _USER_FILES),
        global_known_hosts=_paths(found.get("globalknownhostsfile"), _GLOBAL_FILES),
        hash_known_hosts=str(found.get("hashknownhosts", "no")).lower() == "yes",
    )


def openssh_settings(target: Target, ssh_config: str | None) -> SshSettings:
    """OpenSSH's own evaluation of its config for this target (``ssh -G``)."""
    argv = ["ssh", "-G", "-p", str(target.port), "-l", target.user]
    if ssh_config:
        argv += ["-F", ssh_config]
    argv += ["--", target.host]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConnectError(f"{target.label}: cannot run ssh -G ({exc})") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["ssh -G failed"])[-1]
        raise ConnectError(f"{target.label}: ssh_config cannot be used: {last}")
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key.lower(), value)
    return SshSettings(
        hostname=found.get("hostname", target.host),
        port=int(found.get("port", target.port)),
        strict_host_key_checking=found.get("stricthostkeychecking", "").lower(),
        user_known_hosts=_paths(found.get("userknownhostsfile"), _USER_FILES),
        global_known_hosts=_paths(found.get("globalknownhostsfile"), _GLOBAL_FILES),
        hash_known_hosts=found.get("hashknownhosts", "no").lower() == "yes",
    )


def resolve_trust(
    target: Target, settings: SshSettings, known_hosts: str | None, policy: str | None
) -> HostKeyTrust:
    """The host-key rules for one target (see the module docstring for the order)."""
    if policy is not None and policy not in POLICIES:
        raise ConnectError(f"{target.label}: host key policy {policy!r} is not one of {', '.join(POLICIES)}")
    if target.options.get("host_key"):
        source = "?host_key="
    elif policy:
        source = "--vm-host-key-policy"
    elif settings.strict_host_key_checking in _CONFIG_POLICY:
        policy = _CONFIG_POLICY[settings.strict_host_key_checking]
        source = f"ssh_config StrictHostKeyChecking {settings.strict_host_key_checking}"
    else:
        policy, source = "strict", "default"
    if known_hosts:
        read, write = (known_hosts,), known_hosts
    else:
        read = settings.user_known_hosts + settings.global_known_hosts
        write = settings.user_known_hosts[0] if settings.user_known_hosts else None
    existing = tuple(p for p in read if os.path.isfile(p))
    return HostKeyTrust(
        policy or "strict", existing, write, source, settings.hash_known_hosts, {"consulted": read}
    )


def load_known_hosts(host_keys, path: str) -> None:
    """Add a known_hosts file's entries to paramiko ``HostKeys``, line by line as OpenSSH
    does: a line paramiko cannot read (bad base64, unknown key type) is skipped, and so are
    ``@cert-authority`` / ``@revoked`` lines (not supported: such a host stays unknown)."""
    from paramiko.hostkeys import HostKeyEntry

    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith(("#", "@")):
            continue
        try:
            entry = HostKeyEntry.from_line(line, number)
        except Exception:  # noqa: BLE001 - InvalidHostKey, SSHException from a broken key blob, ...
            continue
        if entry is not None:
            host_keys._entries.append(entry)


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _key_kind(name: str) -> str:
    kind = name.removeprefix("ssh-").split("-")[0].upper()
    return "ECDSA" if kind.startswith("ECDSA") else kind


def _shown(files) -> str:
    return ", ".join(files) or "no known_hosts file"


class TrustPolicy:
    """paramiko's MissingHostKeyPolicy for a host with no recorded key: refuse (strict) or
    record it and say so (tofu). Changed keys never get here (paramiko raises BadHostKey)."""

    def __init__(self, trust: HostKeyTrust):
        self.trust = trust
        self.note = ""

    def missing_host_key(self, client, hostname: str, key) -> None:
        kind, print_ = _key_kind(key.get_name()), fingerprint(key)
        consulted = self.trust.extra.get("consulted", self.trust.read_files)
        if self.trust.policy != "tofu":
            raise HostKeyRefused(
                f"No {kind} host key is known for {hostname} ({print_}) in {_shown(consulted)}. "
                f"{FAILED} Add the key to known_hosts (read it over a channel you trust), pass "
                "--vm-known-hosts FILE, or trust it on first use with --vm-host-key-policy tofu "
                "(or ?host_key=tofu)"
            )
        client.get_host_keys().add(hostname, key.get_name(), key)
        where = self.trust.write_file
        if where and where != os.devnull:
            record_host_key(where, hostname, key, self.trust.hash_names)
            self.note = f"host key trusted on first use: {hostname} {kind} {print_}, recorded in {where}"
        else:
            self.note = f"host key trusted on first use: {hostname} {kind} {print_} (not recorded)"


def record_host_key(path: str, hostname: str, key, hashed: bool = False) -> None:
    """Append one known_hosts line (one write, so parallel workers do not interleave)."""
    from paramiko.hostkeys import HostKeys

    name = HostKeys.hash_host(hostname) if hashed else hostname
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    target = Path(path)
    if not target.parent.exists():
        target.parent.mkdir(mode=0o700, parents=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)


def changed_key_message(source, trust: HostKeyTrust | None) -> str:
    """One line with OpenSSH's wording for a host whose key differs from the recorded one.
    ``source`` is paramiko's BadHostKeyException or OpenSSH's stderr."""
    if isinstance(source, str):
        offending = re.search(r"Offending \S+ key in (\S+)", source)
        got = re.search(r"(SHA256:[A-Za-z0-9+/]+)", source)
        detail = f"The key sent by the remote host is {got.group(1) if got else 'different'}" + (
            f"; the recorded one is in {offending.group(1)}" if offending else ""
        )
    else:
        files = _shown(trust.read_files) if trust else "known_hosts"
        detail = (
            f"The {_key_kind(source.key.get_name())} key sent by the remote host is "
            f"{fingerprint(source.key)}; {files} records {_key_kind(source.expected_key.get_name())} "
            f"{fingerprint(source.expected_key)} for it"
        )
    return (
        f"{CHANGED} IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY! Someone could be "
        f"eavesdropping on you right now (man-in-the-middle attack)! It is also possible that a "
        f"host key has just been changed. {detail}. If the VM was re-created, remove the old "
        f"entry (ssh-keygen -R HOST). {FAILED}"
    )


def openssh_trust_args(trust: HostKeyTrust, known_hosts: str | None) -> list[str]:
    """ssh -o options enforcing the same rules with the openssh backend (the command line
    overrides ssh_config, so StrictHostKeyChecking=no there cannot let a changed key in)."""
    args = ["-o", f"StrictHostKeyChecking={'accept-new' if trust.policy == 'tofu' else 'yes'}"]
    if trust.policy == "tofu":
        args += ["-o", "LogLevel=INFO"]  # OpenSSH's "Permanently added ..." line is the record
    if known_hosts:
        quoted = f'"{known_hosts}"' if " " in known_hosts else known_hosts
        args += ["-o", f"UserKnownHostsFile={quoted}", "-o", "GlobalKnownHostsFile=/dev/null"]
    return args
