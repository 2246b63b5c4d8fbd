"""``--vm-host [NAME=]URL``: which VMs to check, and how to reach them.

``ssh://user@host[:port]`` is a Linux target, ``winrm://user@host[:port]`` a
Windows target. NAME (e.g. the VM size ``D2s_v3``) labels the target in test IDs
and reports; without it the host (and a non-default port) is shown. Passwords
never come from the URL: only from the environment variable named by
``--vm-password-env``.
"""

from __future__ import annotations

import ipaddress
import math
import re
import urllib.parse
from dataclasses import dataclass, field

LINUX = "linux"
WINDOWS = "windows"

_SCHEMES = {"ssh": (LINUX, 22), "winrm": (WINDOWS, 5986)}
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$")
# What reaches ssh, ssh_config token expansion (%h in ProxyCommand runs in a shell) and
# HTTP: host names as in DNS (plus "_"), never starting with "-" or "."; POSIX user names
# for ssh; Windows adds DOMAIN\\user, user@domain and spaces inside. Nothing else passes.
_HOST_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252}[A-Za-z0-9_])?$")
_SSH_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
_WINRM_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@\\ -]{0,255}$")
_ZONE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PATH_OPTIONS = ("ssh_config", "ca_trust_path", "cert_pem", "cert_key_pem")

# Query options each scheme accepts, with the values allowed (None = any text).
_SSH_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "backend": ("paramiko", "openssh"),
    "ssh_config": None,
    "sudo": ("true", "false"),
    "timeout": None,
    "host_key": ("strict", "tofu"),
}
_WINRM_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "transport": ("ntlm", "kerberos", "credssp", "certificate", "basic"),
    "scheme": ("https", "http"),
    "cert_validation": ("validate", "ignore"),
    "ca_trust_path": None,
    "cert_pem": None,
    "cert_key_pem": None,
    "timeout": None,
}


class TargetError(ValueError):
    """A ``--vm-host`` value that cannot be used; the message says why and how to fix it."""


@dataclass(frozen=True)
class Target:
    """One VM under test. Holds no secret: the password stays in the environment."""

    label: str
    os: str
    scheme: str
    user: str
    host: str
    port: int
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def display_url(self) -> str:
        """The URL as reports show it (no password can be in it: URLs with one are refused)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{self.user}@{host}:{self.port}"

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "os": self.os,
            "scheme": self.scheme,
            "user": self.user,
            "host": self.host,
            "port": self.port,
            "options": dict(self.options),
        }

    @classmethod
    def from_json(cls, data: dict) -> Target:
        return cls(**data)


def parse_target(value: str) -> Target:
    """Parse one ``--vm-host`` value."""
    name = ""
    url = value.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise TargetError(
            f"--vm-host {_safe(value)!r}: white space or a control character in the value "
            "(URL parsers drop some of them silently); remove it"
        )
    prefix, sep, rest = url.partition("=")
    if sep and "://" not in prefix:
        name, url = prefix.strip(), rest.strip()
        if not _LABEL_RE.match(name):
            raise TargetError(
                f"--vm-host {value!r}: the name {name!r} may hold letters, digits and _ . : + - only"
            )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"--vm-host {_safe(value)}: {exc}") from None
    if parts.scheme not in _SCHEMES:
        raise TargetError(
            f"--vm-host {_safe(value)}: the URL must start with ssh:// (Linux) or winrm:// "
            "(Windows), e.g. ssh://azureuser@10.0.0.4"
        )
    if parts.password is not None:
        raise TargetError(
            f"--vm-host {_safe(value)}: a password inside the URL is refused (it would end up in "
            "shell history, process lists and CI logs); put it in the environment variable named "
            "by --vm-password-env (default VMIMAGE_PASSWORD) instead"
        )
    if not parts.hostname:
        raise TargetError(f"--vm-host {_safe(value)}: no host name in the URL")
    if not parts.username:
        raise TargetError(
            f"--vm-host {_safe(value)}: name the user to log in as, e.g. "
            f"{parts.scheme}://azureuser@{parts.hostname}"
        )
    if parts.path not in ("", "/"):
        raise TargetError(f"--vm-host {_safe(value)}: unexpected path {parts.path!r} in the URL")
    if parts.fragment:
        raise TargetError(f"--vm-host {_safe(value)}: unexpected #fragment in the URL")
    os_name, default_port = _SCHEMES[parts.scheme]
    host = parts.hostname.replace("%25", "%", 1)  # an IPv6 zone id, percent-encoded in URLs
    _check_host(value, host)
    _check_user(value, urllib.parse.unquote(parts.username), os_name)
    if port == 0:
        raise TargetError(f"--vm-host {_safe(value)}: port 0 is not a port to connect to")
    allowed = _SSH_OPTIONS if os_name == LINUX else _WINRM_OPTIONS
    options: dict[str, str] = {}
    try:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise TargetError(
            f"--vm-host {_safe(value)}: the query must be key=value pairs joined by &"
        ) from None
    for key, val in pairs:
        if key in options:
            raise TargetError(f"--vm-host {_safe(value)}: option {key!r} is given twice")
        if key in _PATH_OPTIONS and (not val or val.startswith("-") or any(ord(c) < 32 for c in val)):
            raise TargetError(
                f"--vm-host {_safe(value)}: {key}={val!r} is not a usable path (empty, starts "
                "with '-' or holds a control character)"
            )
        if key not in allowed:
            raise TargetError(
                f"--vm-host {_safe(value)}: unknown option {key!r}; "
                f"{parts.scheme}:// accepts {', '.join(sorted(allowed))}"
            )
        choices = allowed[key]
        if choices is not None and val not in choices:
            raise TargetError(f"--vm-host {_safe(value)}: {key}={val!r} is not one of {', '.join(choices)}")
        if key == "timeout":
            try:
                if not (math.isfinite(float(val)) and 0 < float(val) <= 86400):
                    raise ValueError
            except ValueError:
                raise TargetError(
                    f"--vm-host {_safe(value)}: timeout must be a number of seconds in (0, 86400]"
                ) from None
        options[key] = val
    if os_name == WINDOWS and "scheme" in options and port is None:
        default_port = 5985 if options["scheme"] == "http" else 5986
    effective_port = port or default_port
    if not name:
        shown = f"[{host}]" if ":" in host else host
        name = shown if effective_port == default_port else f"{shown}:{effective_port}"
    return Target(
        label=name,
        os=os_name,
        scheme=parts.scheme,
        user=urllib.parse.unquote(parts.username),
        host=host,
        port=effective_port,
        options=options,
    )


def parse_targets(values: list[str]) -> list[Target]:
    """Parse every ``--vm-host``; labels must be unique (they are test IDs)."""
    targets = [parse_target(v) for v in values]
    seen: dict[str, Target] = {}
    for target in targets:
        if target.label in seen:
            raise TargetError(
                f"--vm-host: two targets are labelled {target.label!r}; give each a name, "
                "e.g. --vm-host D2s_v3=ssh://azureuser@10.0.0.4"
            )
        seen[target.label] = target
    return targets


def _check_host(value: str, host: str) -> None:
    """A DNS name, an IPv4 address or a bracketed IPv6 literal (zone id allowed); never
    something an ssh command line, ssh_config token or shell could take for more."""
    if _HOST_RE.match(host) and not host.startswith("-"):
        return
    address, _, zone = host.partition("%")
    try:
        if isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address) and (
            not zone or _ZONE_RE.match(zone)
        ):
            return
    except ValueError:
        pass
    raise TargetError(
        f"--vm-host {_safe(value)}: {host!r} is not a host name or IP address (letters, digits, "
        "'.', '-' and '_', not starting with '-'; IPv6 in brackets)"
    )


def _check_user(value: str, user: str, os_name: str) -> None:
    pattern = _SSH_USER_RE if os_name == LINUX else _WINRM_USER_RE
    if pattern.match(user) and not user.endswith(" "):
        return
    allowed = (
        "letters, digits, '.', '_' and '-', not starting with '-', at most 32"
        if os_name == LINUX
        else "letters, digits, '.', '_', '-', '@', '\\' and inner spaces, not starting with '-'"
    )
    raise TargetError(f"--vm-host {_safe(value)}: the user name {user!r} may hold {allowed}")


def _safe(value: str) -> str:
    """A --vm-host value fit for an error message: any password part replaced."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", value)
