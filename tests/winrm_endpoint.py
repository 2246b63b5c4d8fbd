"""A WS-Management (WinRS) endpoint for tests, speaking the protocol as pywinrm 0.5.0 does.

Real HTTP on loopback (stdlib ``http.server`` in a thread, port 0), HTTP/1.1 keep-alive,
Basic auth, optionally NTLM with WinRM message encryption (pyspnego acceptor) and TLS.
It implements Create, Command, Send, Receive, Signal and Delete of the WinRS ``cmd``
resource as shared/research/windows.md §3 records them; faults are HTTP 500 with a
``WSManFault Code``; every response echoes the request's MessageID in RelatesTo.

What a test feeds it, instead of a Windows host running PowerShell:

* ``endpoint.handler = fn`` with ``fn(script_text) -> (stdout_bytes, stderr_bytes, exit_code)``;
* or ``endpoint.add_json(marker, document, exit_code=0)``: a script containing ``marker``
  prints ``document`` as JSON (CRLF-terminated, as powershell.exe would).

``script_text`` is what PowerShell would run: the script recovered from the stdin payload
that ``powershell.exe -Command -`` reads (pytest_vmimage.connect.winrm's base64 form is
decoded; any other stdin is passed as it is), or a ``-EncodedCommand`` argument, or the
plain command line of a non-PowerShell command.

Scripted misbehaviour (attributes, change them at any time):

* ``hang = "timeout"``: every Receive answers the operation-timeout fault 2150858793
  (after ``hang_wait`` seconds, at most the request's OperationTimeout), forever;
  ``hang = "running"``: every Receive answers CommandState Running with no output.
* ``clixml_progress = True``: stderr gets "Preparing modules for first use." progress
  records (as CLIXML) in front, whatever the exit code.
* ``force_status = 401`` (or any code): every request gets that status.
* ``delays = {"Receive": 1.5}``: sleep before answering that action.
* ``fail_actions = {"Create": (code, "w:Subcode", "reason")}``: answer that action with a
  WSManFault (HTTP 500).
* ``shells.clear()``: the server forgets every shell (as after an idle timeout).

Everything is recorded in ``endpoint.requests`` (``RecordedRequest``), decrypted.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from pytest_vmimage.connect.winrm import WinRMSettings

Handler = Callable[[str], tuple[bytes, bytes, int]]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_NS = NS["rsp"]
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "Create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "Delete",
    SHELL_NS + "/Command": "Command",
    SHELL_NS + "/Send": "Send",
    SHELL_NS + "/Receive": "Receive",
    SHELL_NS + "/Signal": "Signal",
}
RESPONSE_ACTIONS = {
    "Create": "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
    "Delete": "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
    "Command": SHELL_NS + "/CommandResponse",
    "Send": SHELL_NS + "/SendResponse",
    "Receive": SHELL_NS + "/ReceiveResponse",
    "Signal": SHELL_NS + "/SignalResponse",
}
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
OPERATION_TIMEOUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
INVALID_SELECTORS = 2150858843  # shell or command not found
ACTION_NOT_SUPPORTED = 2150858778
SIGNAL_TERMINATE = SHELL_NS + "/signal/terminate"

#: Bytes of stdout/stderr per Receive response; more output spans several Receives
#: (state Running until the last), as Windows does for large output.
RECEIVE_CHUNK = 16 * 1024

_CLIXML_OBJS = b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
_PROGRESS_OBJ = (
    b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    b'<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record">'
    b"<AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>"
    b"<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"
)
#: stderr of a successful powershell.exe that loaded a module: progress records only.
CLIXML_PROGRESS = b"#< CLIXML\r\n" + _CLIXML_OBJS + _PROGRESS_OBJ + b"</Objs>"

_STDIN_CHUNK = re.compile(r"^\$(\w+)\+='([A-Za-z0-9+/=]*)'\s*$")


def clixml_errors(*messages: str, progress: bool = True) -> bytes:
    """stderr as powershell.exe writes errors: CLIXML with ``<S S="Error">`` strings."""
    objs = [_PROGRESS_OBJ] if progress else []
    for message in messages:
        text = escape(message).replace("\r", "").replace("\n", "_x000D__x000A_")
        objs.append(f'<S S="Error">{text}_x000D__x000A_</S>'.encode())
    return b"#< CLIXML\r\n" + _CLIXML_OBJS + b"".join(objs) + b"</Objs>"


def reads_script_from_stdin(command: str, arguments: str) -> bool:
    """True for ``powershell ... -Command -``: the script comes over stdin."""
    words = (command + " " + arguments).lower().split()
    return "-command" in words and words[words.index("-command") + 1 :][:1] == ["-"]


def decode_script(command: str, arguments: str, stdin: bytes) -> str:
    """The text PowerShell would run for this command line and stdin (see module doc)."""
    words = (command + " " + arguments).split()
    lowered = [w.lower() for w in words]
    for flag in ("-encodedcommand", "-enc", "-ec"):
        if flag in lowered[:-1]:
            return base64.b64decode(words[lowered.index(flag) + 1]).decode("utf-16-le")
    if reads_script_from_stdin(command, arguments):
        text = stdin.decode("cp437")
        chunks: dict[str, list[str]] = {}
        for line in text.splitlines():
            m = _STDIN_CHUNK.match(line)
            if m:
                chunks.setdefault(m.group(1), []).append(m.group(2))
        for parts in chunks.values():
            joined = "".join(parts)
            if joined:
                return base64.b64decode(joined).decode("utf-8")
        return text
    return " ".join(words)


@dataclass
class RecordedRequest:
    """One HTTP request as the endpoint saw it (SOAP body decrypted)."""

    action: str  # Create | Command | Send | Receive | Signal | Delete | "" (auth/setup) | URI
    status: int  # HTTP status answered
    connection: int  # serial number of the TCP connection
    auth_scheme: str  # "Basic", "Negotiate", "NTLM" or "" (no Authorization header)
    encrypted: bool
    message_id: str | None = None
    shell_id: str | None = None
    command_id: str | None = None
    operation_timeout: float | None = None
    command: str | None = None  # rsp:Command
    arguments: str | None = None  # rsp:Arguments
    stdin: bytes | None = None  # one Send's decoded bytes
    stdin_end: bool = False
    signal: str | None = None
    fault_code: int | None = None
    body: str = ""


@dataclass
class _Command:
    command_id: str
    shell_id: str
    command: str
    arguments: str
    needs_stdin: bool
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: bool = False
    script: str | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    sent_out: int = 0
    sent_err: int = 0
    done: bool = False
    terminated: bool = False


@dataclass
class _Shell:
    shell_id: str
    codepage: str | None
    noprofile: str | None
    environment: dict[str, str]
    commands: dict[str, _Command] = field(default_factory=dict)


class _Fault(Exception):
    def __init__(self, code: int, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason = code, subcode, reason


class WinRMEndpoint:
    """The endpoint. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        username: str = "vmimage",
        password: str = "Endpoint-Pass-7",
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        ntlm: bool = False,
        ntlm_user_file: str | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.host = host
        self.tls = tls
        self.ntlm = ntlm
        self.ntlm_user_file = ntlm_user_file
        if ntlm and not ntlm_user_file:
            raise ValueError("ntlm=True needs ntlm_user_file (a path the endpoint may write)")
        self.handler: Handler | None = None
        self.canned: list[tuple[str, bytes, bytes, int]] = []
        self.hang: str | None = None
        self.hang_wait: float = 0.2
        self.clixml_progress = False
        self.force_status: int | None = None
        self.delays: dict[str, float] = {}
        self.fail_actions: dict[str, tuple[int, str, str]] = {}
        self.requests: list[RecordedRequest] = []
        self.shells: dict[str, _Shell] = {}
        self.scripts: list[str] = []
        self.errors: list[str] = []  # exceptions inside the endpoint (bugs), answered as 500
        self.lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections = 0
        self._saved_env: str | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> WinRMEndpoint:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_cls = type("_BoundServer", (_Server,), {"address_family": family})
        self._server = server_cls((self.host, 0), _RequestHandler)
        self._server.endpoint = self
        if self.ntlm:
            assert self.ntlm_user_file is not None
            with open(self.ntlm_user_file, "w", encoding="utf-8") as fh:
                fh.write(f":{self.username}:{self.password}\n")
            self._saved_env = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self.ntlm_user_file
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.ntlm:
            if self._saved_env is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = self._saved_env

    def __enter__(self) -> WinRMEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "endpoint not started"
        return int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/wsman"

    # -- what the "Windows host" answers -----------------------------------------------

    def add_json(self, marker: str, document: Any, exit_code: int = 0, stderr: bytes = b"") -> None:
        """A script containing ``marker`` prints ``document`` as JSON and exits ``exit_code``."""
        out = json.dumps(document).encode("ascii") + b"\r\n"
        self.canned.append((marker, out, stderr, exit_code))

    def _run_script(self, script: str) -> tuple[bytes, bytes, int]:
        with self.lock:
            self.scripts.append(script)
        for marker, out, err, code in self.canned:
            if marker in script:
                return out, err, code
        if self.handler is not None:
            return self.handler(script)
        return b"", b"no canned output for this script\r\n", 1

    # -- record queries ----------------------------------------------------------------

    def actions(self) -> list[str]:
        """The WinRS actions received, in order (auth-only legs left out)."""
        return [r.action for r in self.requests if r.action]

    def of(self, action: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.action == action]

    def stdin_of(self, command_id: str) -> bytes:
        return b"".join(r.stdin or b"" for r in self.of("Send") if r.command_id == command_id)

    # -- dispatch ----------------------------------------------------------------------

    def dispatch(self, body: bytes, record: RecordedRequest) -> tuple[int, bytes]:
        """Answer one SOAP request: (HTTP status, response XML)."""
        text = body.decode("utf-8")
        record.body = text
        root = ET.fromstring(text)
        action_uri = _text(root, "s:Header/a:Action") or ""
        action = ACTIONS.get(action_uri, action_uri)
        record.action = action
        record.message_id = _text(root, "s:Header/a:MessageID")
        timeout = _text(root, "s:Header/w:OperationTimeout")
        if timeout:
            m = re.fullmatch(r"PT([0-9.]+)S", timeout)
            record.operation_timeout = float(m.group(1)) if m else None
        selector = root.find("s:Header/w:SelectorSet/w:Selector[@Name='ShellId']", NS)
        record.shell_id = selector.text if selector is not None else None
        delay = self.delays.get(action)
        if delay:
            time.sleep(delay)
        try:
            if action in self.fail_actions:
                raise _Fault(*self.fail_actions[action])
            with self.lock:
                response = self._dispatch(action, root, record)
            if response is None:  # Receive while hanging: answered outside the lock
                response = self._hang(record)
            return 200, self._envelope(RESPONSE_ACTIONS[action], record.message_id, response)
        except _Fault as fault:
            record.fault_code = fault.code
            return 500, self._fault(record.message_id, fault)

    def _dispatch(self, action: str, root: ET.Element, record: RecordedRequest) -> str | None:
        body = root.find("s:Body", NS)
        assert body is not None
        if action == "Create":
            options = _options(root)
            env = {
                v.get("Name", ""): v.text or ""
                for v in body.findall("rsp:Shell/rsp:Environment/rsp:Variable", NS)
            }
            shell_id = str(uuid.uuid4()).upper()
            self.shells[shell_id] = _Shell(
                shell_id, options.get("WINRS_CODEPAGE"), options.get("WINRS_NOPROFILE"), env
            )
            record.shell_id = shell_id
            return (
                "<x:ResourceCreated><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing"
                "/role/anonymous</a:Address><a:ReferenceParameters><w:ResourceURI>"
                "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
                f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector>'
                "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
            )
        if action not in ("Command", "Send", "Receive", "Signal", "Delete"):
            raise _Fault(ACTION_NOT_SUPPORTED, "w:ActionNotSupported", f"unknown action {action}")
        shell = self.shells.get(record.shell_id or "")
        if shell is None:
            raise _Fault(
                INVALID_SELECTORS,
                "w:InvalidSelectors",
                f"The request for the Windows Remote Shell with ShellId {record.shell_id} failed "
                "because the shell was not found on the server.",
            )
        if action == "Delete":
            del self.shells[shell.shell_id]
            return ""
        if action == "Command":
            command = _text(body, "rsp:CommandLine/rsp:Command") or ""
            arguments = _text(body, "rsp:CommandLine/rsp:Arguments") or ""
            record.command, record.arguments = command, arguments
            needs_stdin = reads_script_from_stdin(command, arguments)
            command_id = str(uuid.uuid4()).upper()
            record.command_id = command_id
            cmd = _Command(command_id, shell.shell_id, command, arguments, needs_stdin)
            shell.commands[command_id] = cmd
            if not needs_stdin:
                self._finish(cmd)
            return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
        if action == "Send":
            stream = body.find("rsp:Send/rsp:Stream", NS)
            assert stream is not None and stream.get("Name") == "stdin"
            cmd = self._command(shell, stream.get("CommandId"), record)
            data = base64.b64decode(stream.text or "")
            record.stdin, record.stdin_end = data, stream.get("End", "").lower() == "true"
            cmd.stdin += data
            if record.stdin_end and not cmd.stdin_closed:
                cmd.stdin_closed = True
                self._finish(cmd)
            return "<rsp:SendResponse/>"
        if action == "Signal":
            signal = body.find("rsp:Signal", NS)
            assert signal is not None
            cmd = self._command(shell, signal.get("CommandId"), record)
            record.signal = _text(signal, "rsp:Code")
            cmd.terminated = True
            del shell.commands[cmd.command_id]
            return "<rsp:SignalResponse/>"
        # Receive
        desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
        assert desired is not None
        cmd = self._command(shell, desired.get("CommandId"), record)
        if self.hang or not cmd.done:
            return None
        return self._receive_chunk(cmd)

    def _command(self, shell: _Shell, command_id: str | None, record: RecordedRequest) -> _Command:
        record.command_id = command_id
        cmd = shell.commands.get(command_id or "")
        if cmd is None:
            raise _Fault(INVALID_SELECTORS, "w:InvalidSelectors", f"no command {command_id}")
        return cmd

    def _finish(self, cmd: _Command) -> None:
        """The "process" ran: compute its output once, when its stdin is complete."""
        cmd.script = decode_script(cmd.command, cmd.arguments, bytes(cmd.stdin))
        out, err, code = self._run_script(cmd.script)
        if self.clixml_progress:
            err = CLIXML_PROGRESS + err
        cmd.stdout, cmd.stderr, cmd.exit_code, cmd.done = out, err, code, True

    def _hang(self, record: RecordedRequest) -> str:
        limit = record.operation_timeout if record.operation_timeout is not None else 20.0
        time.sleep(min(self.hang_wait, limit))
        if self.hang == "running" or not self.hang:
            return (
                f'<rsp:ReceiveResponse><rsp:CommandState CommandId="{record.command_id}" '
                f'State="{SHELL_NS}/CommandState/Running"/></rsp:ReceiveResponse>'
            )
        raise _Fault(
            OPERATION_TIMEOUT,
            "w:TimedOut",
            "The WS-Management service cannot complete the operation within the time specified "
            "in OperationTimeout.  ",
        )

    def _receive_chunk(self, cmd: _Command) -> str:
        out = cmd.stdout[cmd.sent_out : cmd.sent_out + RECEIVE_CHUNK]
        err = cmd.stderr[cmd.sent_err : cmd.sent_err + RECEIVE_CHUNK]
        cmd.sent_out += len(out)
        cmd.sent_err += len(err)
        last = cmd.sent_out >= len(cmd.stdout) and cmd.sent_err >= len(cmd.stderr)
        cid = cmd.command_id
        parts = []
        for name, data in (("stdout", out), ("stderr", err)):
            for i in range(0, len(data), 4096):  # Windows splits a response into Streams
                b64 = base64.b64encode(data[i : i + 4096]).decode()
                parts.append(f'<rsp:Stream Name="{name}" CommandId="{cid}">{b64}</rsp:Stream>')
        if last:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(
                f'<rsp:CommandState CommandId="{cid}" State="{SHELL_NS}/CommandState/Done">'
                f"<rsp:ExitCode>{cmd.exit_code}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            parts.append(f'<rsp:CommandState CommandId="{cid}" State="{SHELL_NS}/CommandState/Running"/>')
        return "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"

    # -- XML ---------------------------------------------------------------------------

    @staticmethod
    def _envelope(action: str, relates_to: str | None, body: str) -> bytes:
        return (
            '<s:Envelope xml:lang="en-US" '
            f'xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" '
            f'xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" '
            'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
            f"<s:Header><a:Action>{action}</a:Action>"
            f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            f"<a:RelatesTo>{relates_to or ''}</a:RelatesTo></s:Header>"
            f"<s:Body>{body}</s:Body></s:Envelope>"
        ).encode()

    def _fault(self, relates_to: str | None, fault: _Fault) -> bytes:
        reason = escape(fault.reason)
        body = (
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
            f"<s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>'
            f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" '
            f'Machine="winrm-endpoint.test"><f:Message>{reason}</f:Message></f:WSManFault>'
            "</s:Detail></s:Fault>"
        )
        return self._envelope(FAULT_ACTION, relates_to, body)


def _text(node: ET.Element, path: str) -> str | None:
    found = node.find(path, NS)
    return found.text if found is not None else None


def _options(root: ET.Element) -> dict[str, str]:
    return {o.get("Name", ""): o.text or "" for o in root.findall("s:Header/w:OptionSet/w:Option", NS)}


# -- HTTP ------------------------------------------------------------------------------

BOUNDARY = b"--Encrypted Boundary"
SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    endpoint: WinRMEndpoint

    def finish_request(self, request: Any, client_address: Any) -> None:
        tls = self.endpoint.tls
        if tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()  # shutdown_request() only closes the unwrapped socket


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        endpoint = self.server.endpoint
        with endpoint.lock:
            endpoint._connections += 1
            self.connection_number = endpoint._connections
        self.ntlm_context: Any = None
        self.authenticated = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        endpoint = self.server.endpoint
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        authorization = self.headers.get("Authorization", "")
        content_type = self.headers.get("Content-Type", "")
        encrypted = SPNEGO_PROTOCOL.lower() in content_type.lower()
        record = RecordedRequest(
            action="",
            status=0,
            connection=self.connection_number,
            auth_scheme=authorization.split(" ", 1)[0] if authorization else "",
            encrypted=encrypted,
        )
        with endpoint.lock:
            endpoint.requests.append(record)
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            return self._reply(record, 404, b"")
        if endpoint.force_status is not None:
            return self._reply(record, endpoint.force_status, b"", challenge=True)
        if not self._authenticate(record, authorization):
            return
        try:
            body = self._decrypt(raw) if encrypted else raw
        except Exception:  # noqa: BLE001
            return self._reply(record, 400, b"")
        if not body:  # NTLM encryption setup: an empty POST
            return self._reply(record, 200, b"")
        try:
            status, response = endpoint.dispatch(body, record)
        except Exception as exc:  # noqa: BLE001 - a bug here must not look like a dead host
            with endpoint.lock:
                endpoint.errors.append(f"{type(exc).__name__}: {exc}")
            fault = _Fault(ACTION_NOT_SUPPORTED, "w:InternalError", f"endpoint bug: {exc!r}")
            status, response = 500, endpoint._fault(record.message_id, fault)
        self._reply(record, status, response, encrypt=self.ntlm_context is not None and encrypted)

    def _authenticate(self, record: RecordedRequest, authorization: str) -> bool:
        endpoint = self.server.endpoint
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "basic":
            expected = base64.b64encode(f"{endpoint.username}:{endpoint.password}".encode()).decode()
            if token.strip() == expected:
                return True
            self._reply(record, 401, b"", challenge=True)
            return False
        if scheme.lower() in ("negotiate", "ntlm") and endpoint.ntlm:
            return self._ntlm_step(record, scheme, base64.b64decode(token))
        if self.authenticated:
            return True  # NTLM binds the authentication to the TCP connection
        self._reply(record, 401, b"", challenge=True)
        return False

    def _ntlm_step(self, record: RecordedRequest, scheme: str, token: bytes) -> bool:
        import spnego  # only needed with ntlm=True

        if token[8:12] == b"\x01\x00\x00\x00" or self.ntlm_context is None:
            self.ntlm_context = spnego.server(protocol="ntlm")
            self.authenticated = False
        try:
            answer = self.ntlm_context.step(token)
        except Exception:  # noqa: BLE001 - wrong password or a broken token
            self.ntlm_context = None
            self._reply(record, 401, b"", challenge=True)
            return False
        if not self.ntlm_context.complete:
            header = f"{scheme} {base64.b64encode(answer or b'').decode()}"
            self._reply(record, 401, b"", headers=[("WWW-Authenticate", header)])
            return False
        self.authenticated = True
        return True

    def _decrypt(self, raw: bytes) -> bytes:
        parts = [p for p in raw.split(BOUNDARY + b"\r\n") if p]
        header, payload = parts[0], parts[1]
        m = re.search(rb"Length=(\d+)", header)
        assert m is not None
        if payload.endswith(BOUNDARY + b"--\r\n"):
            payload = payload[: -len(BOUNDARY + b"--\r\n")]
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        n = struct.unpack("<i", payload[:4])[0]
        plain = self.ntlm_context.unwrap(payload[4 : 4 + n] + payload[4 + n :]).data
        assert len(plain) == int(m.group(1)), "length mismatch"
        return bytes(plain)

    def _encrypt(self, plain: bytes) -> bytes:
        wrapped = self.ntlm_context.wrap(plain, encrypt=True).data
        return (
            BOUNDARY
            + b"\r\n\tContent-Type: "
            + SPNEGO_PROTOCOL.encode()
            + b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(plain)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", 16)
            + wrapped[:16]
            + wrapped[16:]
            + BOUNDARY
            + b"--\r\n"
        )

    def _reply(
        self,
        record: RecordedRequest,
        status: int,
        body: bytes,
        *,
        challenge: bool = False,
        encrypt: bool = False,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        record.status = status
        self.send_response(status)
        if challenge:
            self.send_header("WWW-Authenticate", "Negotiate")
            self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
        for name, value in headers or []:
            self.send_header(name, value)
        if body and encrypt:
            body = self._encrypt(body)
            self.send_header(
                "Content-Type",
                f'multipart/encrypted;protocol="{SPNEGO_PROTOCOL}";boundary="Encrypted Boundary"',
            )
        elif body:
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


def endpoint_settings(endpoint: WinRMEndpoint, **overrides: Any) -> WinRMSettings:
    """WinRMSettings that reach ``endpoint`` with its credentials (Basic unless overridden)."""
    values: dict[str, Any] = {
        "label": "endpoint",
        "host": endpoint.host,
        "port": endpoint.port,
        "scheme": endpoint.scheme,
        "username": endpoint.username,
        "password": endpoint.password,
        "transport": "basic",
        "connect_timeout": 5.0,
        "operation_timeout": 5,
    }
    values.update(overrides)
    return WinRMSettings(**values)


# -- TLS for tests ---------------------------------------------------------------------


def make_self_signed(
    directory: str, hosts: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")
) -> tuple[str, str]:
    """A self-signed server certificate for ``hosts``: (cert_pem_path, key_pem_path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "winrm-endpoint.test")])
    alt: list[x509.GeneralName] = []
    for h in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "endpoint-cert.pem")
    key_path = os.path.join(directory, "endpoint-key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def server_tls_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
