"""WinRM client for Windows targets: one WinRS shell, PowerShell over stdin, a deadline.

Rules this module keeps (each one works around a pywinrm 0.5.0 behaviour, see
shared/NOTES.md "pywinrm 0.5.0"):

* The endpoint URL is built here; pywinrm mis-parses IPv6 hosts.
* The transport, ``ca_trust_path`` and ``proxy`` are always passed explicitly; pywinrm's
  defaults are plaintext Basic and environment lookups with DeprecationWarnings.
* One shell per target, reused by every script (no NTLM handshake per command, and one
  shell against ``MaxShellsPerUser``).
* Scripts travel over stdin, never on the command line (cmd.exe's 8191-character limit
  breaks ``Session.run_ps`` at about 3 KB of script).
* Every command has an overall deadline; pywinrm itself retries operation timeouts forever.
* Messages name the target label and a cause, never a secret, never a library traceback.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from pytest_vmimage.connect import ConnectError, RemoteCommandError

__all__ = [
    "WinRMClient",
    "WinRMSettings",
    "build_endpoint_url",
    "build_stdin_payload",
    "clean_clixml",
    "extract_json",
]

log = logging.getLogger(__name__)

TRANSPORTS = ("ntlm", "kerberos", "credssp", "certificate", "basic")
SCHEMES = ("https", "http")

#: The command line every script runs under; the script itself arrives on stdin.
POWERSHELL_COMMAND = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-")

#: Variable the stdin payload assembles the base64 script in (see build_stdin_payload).
PAYLOAD_VARIABLE = "__vmimage_script"
#: Length of one base64 chunk line on stdin, and of one WinRS Send request.
_B64_LINE = 4000
_SEND_CHUNK = 32 * 1024
#: Read timeout margin above the WS-Man OperationTimeout (the server may block that long).
_READ_MARGIN = 10
#: Longest stderr / stdout excerpt a message carries.
STDERR_LIMIT = 2000
STDOUT_LIMIT = 500

_JSON_MARKERS = ("<<<CERT-JSON>>>", "<<<END-CERT-JSON>>>")
_CLIXML_HEADER = "#< CLIXML"
_CLIXML_ERROR = re.compile(r'<S\s+S="Error"\s*>(.*?)</S>', re.DOTALL | re.IGNORECASE)
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


@dataclass(frozen=True)
class WinRMSettings:
    """How to reach one Windows target. The password never appears in the repr."""

    label: str
    host: str
    port: int = 5986
    scheme: str = "https"
    username: str = ""
    password: str = field(default="", repr=False)
    transport: str = "ntlm"
    cert_validation: bool = True
    ca_trust_path: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    connect_timeout: float = 15.0
    operation_timeout: int = 20

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"{self.label}: scheme must be one of {SCHEMES}, not {self.scheme!r}")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"{self.label}: transport must be one of {TRANSPORTS}, not {self.transport!r}")
        if self.transport == "certificate" and self.scheme != "https":
            raise ValueError(f"{self.label}: certificate authentication needs https")
        if int(self.operation_timeout) < 1:
            raise ValueError(f"{self.label}: operation_timeout must be at least 1 second")
        if self.connect_timeout <= 0:
            raise ValueError(f"{self.label}: connect_timeout must be positive")

    @property
    def url(self) -> str:
        """The WS-Management endpoint, e.g. ``https://[fe80::1]:5986/wsman``."""
        return build_endpoint_url(self.scheme, self.host, self.port)


def build_endpoint_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port/wsman``; IPv6 literals go in brackets, a zone id becomes ``%25``."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        address, _, zone = host.partition("%")
        host = f"[{address}%25{zone}]" if zone else f"[{address}]"
    return f"{scheme}://{host}:{int(port)}/wsman"


def build_stdin_payload(script: str) -> bytes:
    """The bytes sent on stdin to ``powershell.exe -Command -``.

    ``-Command -`` runs stdin statement by statement like an interactive prompt: a
    multi-line statement needs a blank line to end, a statement that does not parse is
    skipped, and ``$ErrorActionPreference='Stop'`` does not stop the rest (PowerShell
    issues #3223, #15331, #21808). So the script itself travels as base64 of UTF-8 in
    one-line assignments, and one line turns it into a script block and runs it whole.
    The payload is pure ASCII, so the shell's code page (437) cannot mangle it.

    The script gets ``$ProgressPreference='SilentlyContinue'`` in front (progress
    records otherwise reach stderr as CLIXML). A terminating error exits 1 with the
    message on stderr; a script that ends without its own ``exit N`` exits 0.
    """
    body = "$ProgressPreference='SilentlyContinue'\r\n" + script
    encoded = base64.b64encode(body.encode("utf-8")).decode("ascii")
    var = "$" + PAYLOAD_VARIABLE
    lines = ["$ProgressPreference='SilentlyContinue'", f"{var}=''"]
    lines += [f"{var}+='{encoded[i : i + _B64_LINE]}'" for i in range(0, len(encoded), _B64_LINE)]
    lines.append(
        "try { & ([scriptblock]::Create([Text.Encoding]::UTF8.GetString("
        f"[Convert]::FromBase64String({var})))) }} "
        "catch { [Console]::Error.WriteLine('script failed: ' + $_.Exception.Message); exit 1 }"
    )
    lines.append("exit 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def clean_clixml(stderr: str, limit: int = STDERR_LIMIT) -> str:
    """stderr for humans: CLIXML reduced to its ``<S S="Error">`` strings, then truncated.

    Progress-only CLIXML (``Preparing modules for first use.``) becomes "".
    """
    text = stderr
    if _CLIXML_HEADER in text:
        found = [_decode_clixml_string(m) for m in _CLIXML_ERROR.findall(text)]
        rest = text[: text.index(_CLIXML_HEADER)]
        text = rest + "".join(found)
    text = text.replace("\r\n", "\n").strip()
    if len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more characters]"
    return text


def _decode_clixml_string(raw: str) -> str:
    unescaped = html.unescape(raw)
    return _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), unescaped)


def extract_json(stdout: str) -> Any:
    """The one JSON document in ``stdout``, ignoring stray text around it.

    Takes the text between ``<<<CERT-JSON>>>`` markers when present; otherwise the whole
    output, else the first ``{`` or ``[`` from which a JSON value decodes.
    Raises ValueError when there is none.
    """
    start_marker, end_marker = _JSON_MARKERS
    a = stdout.find(start_marker)
    b = stdout.find(end_marker, a + 1)
    if a >= 0 and b > a:
        return json.loads(stdout[a + len(start_marker) : b])
    text = stdout.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value
    raise ValueError("no JSON document in the output")


class WinRMClient:
    """One WinRS shell on one Windows target; PowerShell scripts return one JSON document.

    Not thread-safe: one client per target per process. Use ``connect()`` once, then any
    number of ``run_ps()``, then ``close()`` (also a context manager).
    """

    def __init__(self, settings: WinRMSettings) -> None:
        self.settings = settings
        self._protocol: Protocol | None = None
        self._shell_id: str | None = None

    def __repr__(self) -> str:
        s = self.settings
        state = "connected" if self._shell_id else "not connected"
        return f"WinRMClient({s.label!r}, {s.url!r}, transport={s.transport!r}, {state})"

    def __enter__(self) -> WinRMClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True while a shell is open."""
        return self._shell_id is not None

    # -- connect / close ---------------------------------------------------------------

    def connect(self) -> None:
        """Open the one shell. Raises ConnectError naming the label and the cause."""
        if self._shell_id is not None:
            return
        s = self.settings
        try:
            self._protocol = self._make_protocol()
        except (WinRMError, ValueError) as exc:
            raise ConnectError(f"{s.label}: invalid WinRM settings: {exc}") from None
        try:
            self._shell_id = self._protocol.open_shell(codepage=437)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one clean message
            log.debug("WinRM connect to %s failed", s.label, exc_info=True)
            self._drop_session()
            raise ConnectError(f"{s.label}: {describe_failure(exc, s)}") from None

    def _make_protocol(self) -> Protocol:
        s = self.settings
        operation = int(s.operation_timeout)
        read = operation + _READ_MARGIN
        protocol = Protocol(
            endpoint=s.url,
            transport=s.transport,  # type: ignore[arg-type]
            username=s.username or None,
            password=s.password,
            ca_trust_path=s.ca_trust_path,  # type: ignore[arg-type]
            cert_pem=s.cert_pem,
            cert_key_pem=s.cert_key_pem,
            server_cert_validation="validate" if s.cert_validation else "ignore",
            read_timeout_sec=read,
            operation_timeout_sec=operation,
            proxy=None,
        )
        # pywinrm hands one number to requests for connect and read alike; requests also
        # takes (connect, read), so a dead host fails after connect_timeout, not after read.
        protocol.transport.read_timeout_sec = (float(s.connect_timeout), float(read))  # type: ignore[assignment]
        return protocol

    def close(self) -> None:
        """Delete the shell and drop the HTTP session. Never raises."""
        protocol, shell_id = self._protocol, self._shell_id
        self._shell_id = None
        if protocol is not None and shell_id is not None:
            try:
                protocol.close_shell(shell_id)
            except Exception:  # noqa: BLE001 - closing is best effort
                log.debug("closing the WinRM shell on %s failed", self.settings.label, exc_info=True)
        self._drop_session()

    def _drop_session(self) -> None:
        if self._protocol is not None:
            try:
                self._protocol.transport.close_session()
            except Exception:  # noqa: BLE001
                pass

    # -- run ---------------------------------------------------------------------------

    def run_ps(self, script: str, timeout: float = 300.0) -> Any:
        """Run a PowerShell script on the shell and return the JSON document it wrote.

        The script writes exactly one JSON document to stdout. Non-zero exit code,
        output without JSON, an exceeded deadline or a broken transport raise
        RemoteCommandError (exit code and cleaned stderr included).
        """
        s = self.settings
        if self._protocol is None or self._shell_id is None:
            raise RemoteCommandError(f"{s.label}: not connected (call connect() first)")
        stdout, stderr, exit_code = self._execute(script, timeout)
        out = stdout.decode("cp437")
        err = clean_clixml(stderr.decode("cp437"))
        if exit_code != 0:
            detail = f": {err}" if err else " (no stderr)"
            raise RemoteCommandError(f"{s.label}: PowerShell exited with code {exit_code}{detail}")
        try:
            return extract_json(out)
        except ValueError:
            excerpt = out.strip()[:STDOUT_LIMIT] or "(empty)"
            detail = f"; stderr: {err}" if err else ""
            raise RemoteCommandError(
                f"{s.label}: PowerShell output is not JSON: {excerpt!r}{detail}"
            ) from None

    def _execute(self, script: str, timeout: float) -> tuple[bytes, bytes, int]:
        """Command → Send (stdin) → Receive until Done or deadline → Signal terminate."""
        protocol, shell_id, s = self._protocol, self._shell_id, self.settings
        assert protocol is not None and shell_id is not None
        deadline = time.monotonic() + timeout
        command_id: str | None = None
        finished = False
        try:
            command_id = protocol.run_command(shell_id, POWERSHELL_COMMAND, POWERSHELL_ARGS)
            payload = build_stdin_payload(script)
            for i in range(0, len(payload), _SEND_CHUNK):
                last = i + _SEND_CHUNK >= len(payload)
                protocol.send_command_input(shell_id, command_id, payload[i : i + _SEND_CHUNK], end=last)
            out, err, exit_code = self._receive(protocol, shell_id, command_id, deadline, timeout)
            finished = True
            return out, err, exit_code
        except RemoteCommandError:
            raise
        except Exception as exc:  # noqa: BLE001 - every transport failure becomes one message
            log.debug("WinRM command on %s failed", s.label, exc_info=True)
            if isinstance(exc, WSManFaultError):
                self._forget_shell()  # e.g. the shell was deleted or timed out server-side
            raise RemoteCommandError(f"{s.label}: {describe_failure(exc, s)}") from None
        finally:
            if command_id is not None:
                self._terminate(command_id, quiet=finished)

    def _receive(
        self, protocol: Protocol, shell_id: str, command_id: str, deadline: float, timeout: float
    ) -> tuple[bytes, bytes, int]:
        out: list[bytes] = []
        err: list[bytes] = []
        configured = int(self.settings.operation_timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteCommandError(
                    f"{self.settings.label}: PowerShell script exceeded its deadline of "
                    f"{timeout:g} s (terminated)"
                )
            # Never let one Receive block the server past the deadline.
            protocol.operation_timeout_sec = max(1, min(configured, math.ceil(remaining)))
            try:
                o, e, exit_code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                continue  # normal: no output within OperationTimeout
            finally:
                protocol.operation_timeout_sec = configured
            out.append(o)
            err.append(e)
            if done:
                return b"".join(out), b"".join(err), exit_code

    def _terminate(self, command_id: str, quiet: bool) -> None:
        """Signal terminate: ends a running process and releases a finished one."""
        protocol, shell_id = self._protocol, self._shell_id
        if protocol is None or shell_id is None:
            return
        try:
            protocol.cleanup_command(shell_id, command_id)
        except Exception:  # noqa: BLE001 - the command's own outcome is what matters
            log.debug("Signal terminate on %s failed", self.settings.label, exc_info=True)
            if not quiet:
                self._forget_shell()

    def _forget_shell(self) -> None:
        """The shell can no longer be trusted: close it; the next run_ps reports that."""
        self.close()


def describe_failure(exc: BaseException, settings: WinRMSettings) -> str:
    """A short cause for a failed WinRM request, fit for the publisher; never a secret."""
    if isinstance(exc, InvalidCredentialsError):
        return f"authentication failed (401) for user {settings.username!r}"
    if isinstance(exc, WinRMOperationTimeoutError):
        return "WinRM fault: operation timed out (2150858793)"
    if isinstance(exc, WSManFaultError):
        code = f" ({exc.wsman_fault_code})" if exc.wsman_fault_code is not None else ""
        return f"WinRM fault: {(exc.reason or '').strip()}{code}"
    if isinstance(exc, WinRMTransportError):
        return f"WinRM endpoint answered HTTP {exc.code}"
    if isinstance(exc, WinRMError):
        return f"WinRM error: {exc}"
    if isinstance(exc, requests.exceptions.SSLError):
        if _chain_mentions(exc, "CERTIFICATE_VERIFY_FAILED", "certificate verify failed"):
            return "TLS certificate not trusted"
        if _chain_mentions(exc, "hostname", "doesn't match", "does not match"):
            return "TLS certificate does not match the host name"
        return "TLS handshake failed"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"timed out (no connection within {settings.connect_timeout:g} s)"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        read = int(settings.operation_timeout) + _READ_MARGIN
        return f"timed out (no answer within {read} s)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        os_error = _find_os_error(exc)
        if isinstance(os_error, ConnectionRefusedError) or _chain_mentions(exc, "refused"):
            return "connection refused"
        if isinstance(os_error, ConnectionResetError):
            return "connection reset by the target"
        if isinstance(os_error, TimeoutError):
            return "timed out"
        if _chain_mentions(exc, "Name or service not known", "getaddrinfo", "NameResolution"):
            return f"host name {settings.host!r} not resolved"
        if _chain_mentions(exc, "RemoteDisconnected", "Connection aborted"):
            return "connection closed by the target"
        if _chain_mentions(exc, "unreachable"):
            return "network unreachable"
        return "connection failed"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"HTTP request failed ({type(exc).__name__})"
    if isinstance(exc, (RemoteCommandError, ConnectError)):
        return str(exc)
    return f"unexpected WinRM response ({type(exc).__name__})"


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """exc plus its causes, contexts, urllib3 ``reason`` and exception args, once each."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 32:
        item = todo.pop()
        if any(item is s for s in seen):
            continue
        seen.append(item)
        nexts = [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
        todo.extend(n for n in nexts if isinstance(n, BaseException))
    return seen


def _find_os_error(exc: BaseException) -> OSError | None:
    for item in _exception_chain(exc):
        if isinstance(item, OSError) and not isinstance(item, requests.exceptions.RequestException):
            if type(item).__module__ == "builtins":
                return item
    return None


def _chain_mentions(exc: BaseException, *needles: str) -> bool:
    text = " ".join(f"{type(e).__name__} {e}" for e in _exception_chain(exc)).lower()
    return any(n.lower() in text for n in needles)
