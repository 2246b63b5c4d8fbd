"""WinRMClient against a real WS-Management endpoint on loopback, through real pywinrm HTTP."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import winrm.transport as winrm_transport

from pytest_vmimage.connect import ConnectError, RemoteCommandError
from pytest_vmimage.connect.winrm import (
    POWERSHELL_ARGS,
    WinRMClient,
    WinRMSettings,
    build_endpoint_url,
    clean_clixml,
    extract_json,
)
from tests.winrm_endpoint import (
    CLIXML_PROGRESS,
    SIGNAL_TERMINATE,
    WinRMEndpoint,
    clixml_errors,
    endpoint_settings,
    make_self_signed,
    server_tls_context,
)

pytest_plugins = ["tests.winrm_fixtures"]

# pywinrm's environment fallbacks (proxy, CA bundle) warn; the client must not trigger them.
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

MakeEndpoint = Callable[..., WinRMEndpoint]
PROLOGUE = "$ProgressPreference='SilentlyContinue'\r\n"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- running scripts ---------------------------------------------------------------------


def test_run_ps_returns_the_parsed_json_and_sends_the_script_over_stdin(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    document = {"caption": "Microsoft Windows Server 2022 Datacenter", "build": 20348, "x": None}
    winrm_endpoint.add_json("# check: os", document)

    result = winrm_client.run_ps("# check: os\n$x = Get-WmiObject Win32_OperatingSystem\n")

    assert result == document
    [command] = winrm_endpoint.of("Command")
    assert command.command == "powershell.exe"
    assert command.arguments == " ".join(POWERSHELL_ARGS)
    assert command.arguments.endswith("-Command -")
    assert "check" not in command.arguments
    stdin = winrm_endpoint.stdin_of(command.command_id or "")
    assert stdin.isascii()  # code page 437 cannot mangle it
    assert stdin.rstrip().endswith(b"exit 0")
    assert winrm_endpoint.scripts == [PROLOGUE + "# check: os\n$x = Get-WmiObject Win32_OperatingSystem\n"]
    assert winrm_endpoint.errors == []


def test_a_50_kb_script_arrives_whole_over_stdin_in_several_sends(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    filler = "".join(f"$v{i} = 'Prüfung €{i:05d}' # padding padding padding\n" for i in range(1200))
    script = "# check: big\n" + filler + "Write-Output done\n"
    assert len(script) > 50_000
    winrm_endpoint.add_json("# check: big", {"ok": True})

    assert winrm_client.run_ps(script) == {"ok": True}

    assert winrm_endpoint.scripts == [PROLOGUE + script]  # non-ASCII survives
    [command] = winrm_endpoint.of("Command")
    assert len(command.arguments or "") < 100
    sends = winrm_endpoint.of("Send")
    assert len(sends) >= 2
    assert [s.stdin_end for s in sends] == [False] * (len(sends) - 1) + [True]
    assert max(len(s.body) for s in sends) < 150 * 1024  # below WinRM 2.0's MaxEnvelopeSize


def test_one_shell_is_reused_for_three_scripts(
    winrm_endpoint: WinRMEndpoint, winrm_settings: WinRMSettings
) -> None:
    for name in ("a", "b", "c"):
        winrm_endpoint.add_json(f"# check: {name}", {"check": name})
    client = WinRMClient(winrm_settings)
    client.connect()

    results = [client.run_ps(f"# check: {name}") for name in ("a", "b", "c")]
    actions_before_close = winrm_endpoint.actions()
    client.close()

    assert results == [{"check": "a"}, {"check": "b"}, {"check": "c"}]
    assert actions_before_close.count("Create") == 1
    assert "Delete" not in actions_before_close
    [create] = winrm_endpoint.of("Create")
    commands = winrm_endpoint.of("Command")
    assert len(commands) == 3
    assert {c.shell_id for c in commands} == {create.shell_id}
    signals = winrm_endpoint.of("Signal")
    assert [s.command_id for s in signals] == [c.command_id for c in commands]
    assert winrm_endpoint.actions()[-1] == "Delete"
    assert winrm_endpoint.shells == {}
    # Basic auth on one keep-alive connection: no reconnect per command
    assert len({r.connection for r in winrm_endpoint.requests}) == 1


@pytest.mark.parametrize("hang", ["timeout", "running"])
def test_the_deadline_fires_terminates_the_command_and_keeps_the_shell(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient, hang: str
) -> None:
    winrm_endpoint.add_json("# check: slow", {"never": "seen"})
    winrm_endpoint.add_json("# check: after", {"after": True})
    winrm_endpoint.hang = hang  # operation-timeout faults (or Running) forever

    started = time.monotonic()
    with pytest.raises(RemoteCommandError) as caught:
        winrm_client.run_ps("# check: slow", timeout=2)
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert "endpoint" in message and "deadline" in message and "2 s" in message
    assert 2 <= elapsed < 6
    receives = winrm_endpoint.of("Receive")
    assert len(receives) >= 2
    if hang == "timeout":
        assert {r.fault_code for r in receives} == {2150858793}
    assert all((r.operation_timeout or 99) <= 2 for r in receives)  # never blocks past it
    [command] = winrm_endpoint.of("Command")
    [signal] = winrm_endpoint.of("Signal")
    assert signal.command_id == command.command_id and signal.signal == SIGNAL_TERMINATE

    winrm_endpoint.hang = None
    assert winrm_client.run_ps("# check: after") == {"after": True}
    assert winrm_endpoint.actions().count("Create") == 1


def test_non_zero_exit_raises_with_the_exit_code_and_clean_stderr(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    stderr = clixml_errors(
        "Get-WmiObject : Access denied (Exception from HRESULT: 0x80070005)",
        "At line:3 char:6",
    )
    winrm_endpoint.handler = lambda script: (b"", stderr, 5)

    with pytest.raises(RemoteCommandError) as caught:
        winrm_client.run_ps("Get-WmiObject Win32_BitLocker")

    message = str(caught.value)
    assert message.startswith("endpoint: ")
    assert "exited with code 5" in message
    assert "Access denied (Exception from HRESULT: 0x80070005)\nAt line:3 char:6" in message
    for noise in ("CLIXML", "<Objs", "<S ", "_x000D_", "Preparing modules"):
        assert noise not in message


def test_long_stderr_is_truncated(winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient) -> None:
    winrm_endpoint.handler = lambda script: (b"", b"E" * 20_000, 1)

    with pytest.raises(RemoteCommandError) as caught:
        winrm_client.run_ps("throw 'x'")

    assert len(str(caught.value)) < 2_200
    assert "more characters" in str(caught.value)


def test_clixml_progress_on_stderr_with_exit_0_still_returns_the_json(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    winrm_endpoint.clixml_progress = True
    winrm_endpoint.add_json("# check: features", [{"Name": "Web-Server", "Installed": False}])

    assert winrm_client.run_ps("# check: features") == [{"Name": "Web-Server", "Installed": False}]
    assert clean_clixml(CLIXML_PROGRESS.decode()) == ""


def test_stray_output_around_the_json_is_ignored(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    out = b'WARNING: [x] module loaded\r\n{"disks": [{"size": 136365211648}]}\r\nbye\r\n'
    winrm_endpoint.handler = lambda script: (out, b"", 0)

    assert winrm_client.run_ps("Get-Disk") == {"disks": [{"size": 136365211648}]}


def test_output_without_json_raises(winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient) -> None:
    winrm_endpoint.handler = lambda script: (b"The term 'Get-Foo' is not recognized\r\n", b"", 0)

    with pytest.raises(RemoteCommandError, match="not JSON: \"The term 'Get-Foo' is not"):
        winrm_client.run_ps("Get-Foo")


def test_output_spanning_several_receives_is_joined(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    document = {"updates": [{"kb": f"KB{5000000 + i}", "title": "Cumulative " * 8} for i in range(800)]}
    winrm_endpoint.add_json("# check: updates", document)

    assert winrm_client.run_ps("# check: updates") == document
    assert len(json.dumps(document)) > 3 * 16 * 1024
    assert len(winrm_endpoint.of("Receive")) >= 3


def test_run_ps_before_connect_raises(winrm_settings: WinRMSettings) -> None:
    with pytest.raises(RemoteCommandError, match="not connected"):
        WinRMClient(winrm_settings).run_ps("1")


def test_a_shell_lost_on_the_server_raises_and_disconnects(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    winrm_endpoint.shells.clear()

    with pytest.raises(RemoteCommandError, match=r"WinRM fault: .*shell was not found.*2150858843"):
        winrm_client.run_ps("1")
    assert not winrm_client.connected


# -- connecting ----------------------------------------------------------------------------


def test_bad_password_is_an_authentication_error_without_the_password(
    winrm_endpoint: WinRMEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Wr0ng-Secret-Value-91"
    settings = endpoint_settings(winrm_endpoint, label="D2s_v3", password=secret)
    client = WinRMClient(settings)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ConnectError) as caught:
        client.connect()

    message = str(caught.value)
    assert message.startswith("D2s_v3: ")
    assert "authentication failed (401)" in message
    assert "Traceback" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    for text in (message, repr(settings), repr(client), caplog.text):
        assert secret not in text
    assert [(r.auth_scheme, r.status) for r in winrm_endpoint.requests] == [("Basic", 401)]


def test_a_401_from_the_server_is_an_authentication_error(
    winrm_endpoint: WinRMEndpoint, winrm_settings: WinRMSettings
) -> None:
    winrm_endpoint.force_status = 401

    with pytest.raises(ConnectError, match=r"^endpoint: authentication failed \(401\)"):
        WinRMClient(winrm_settings).connect()


def test_nothing_listening_is_connection_refused() -> None:
    port = _free_port()
    settings = WinRMSettings(
        label="10.0.0.4",
        host="127.0.0.1",
        port=port,
        scheme="http",
        username="u",
        password="p",
        transport="basic",
        connect_timeout=3.0,
    )

    with pytest.raises(ConnectError) as caught:
        WinRMClient(settings).connect()

    assert str(caught.value) == "10.0.0.4: connection refused"


def test_a_fault_on_create_is_a_winrm_fault(
    winrm_endpoint: WinRMEndpoint, winrm_settings: WinRMSettings
) -> None:
    winrm_endpoint.fail_actions["Create"] = (
        2144108120,
        "w:QuotaLimit",
        "The maximum number of concurrent shells for this user has been exceeded.",
    )

    with pytest.raises(ConnectError) as caught:
        WinRMClient(winrm_settings).connect()

    assert str(caught.value) == (
        "endpoint: WinRM fault: The maximum number of concurrent shells for this user "
        "has been exceeded. (2144108120)"
    )


def test_connect_timeout_does_not_cut_a_slow_answer(winrm_endpoint: WinRMEndpoint) -> None:
    winrm_endpoint.add_json("# check: x", {"x": 1})
    winrm_endpoint.delays["Create"] = 1.0
    settings = endpoint_settings(winrm_endpoint, connect_timeout=0.3)

    with WinRMClient(settings) as client:
        assert client.connected
        assert client.run_ps("# check: x") == {"x": 1}


def test_close_never_raises_and_is_idempotent(
    winrm_endpoint: WinRMEndpoint, winrm_client: WinRMClient
) -> None:
    winrm_endpoint.force_status = 500
    winrm_client.close()
    winrm_client.close()
    assert not winrm_client.connected
    assert winrm_endpoint.of("Delete") == [] and winrm_endpoint.requests[-1].status == 500


# -- URLs and IPv6 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "host", "port", "url"),
    [
        ("https", "::1", 5986, "https://[::1]:5986/wsman"),
        ("https", "[::1]", 5986, "https://[::1]:5986/wsman"),
        ("http", "fe80::1", 5985, "http://[fe80::1]:5985/wsman"),
        ("https", "fe80::1%eth0", 5986, "https://[fe80::1%25eth0]:5986/wsman"),
        ("https", "2001:db8::4", 15986, "https://[2001:db8::4]:15986/wsman"),
        ("https", "10.0.0.4", 5986, "https://10.0.0.4:5986/wsman"),
        (
            "https",
            "vm1.westeurope.cloudapp.azure.com",
            5986,
            "https://vm1.westeurope.cloudapp.azure.com:5986/wsman",
        ),
    ],
)
def test_endpoint_url(scheme: str, host: str, port: int, url: str) -> None:
    assert build_endpoint_url(scheme, host, port) == url
    assert WinRMSettings(label="t", host=host, port=port, scheme=scheme).url == url


@pytest.mark.skipif(not _ipv6_loopback(), reason="::1 cannot be bound on this machine")
def test_a_real_connection_over_ipv6(make_winrm_endpoint: MakeEndpoint) -> None:
    endpoint = make_winrm_endpoint(host="::1")
    endpoint.add_json("# check: v6", {"family": "inet6"})
    settings = endpoint_settings(endpoint, label="v6")
    assert settings.url == f"http://[::1]:{endpoint.port}/wsman"

    with WinRMClient(settings) as client:
        assert client.run_ps("# check: v6") == {"family": "inet6"}


# -- settings -------------------------------------------------------------------------------


def test_settings_and_client_reprs_hide_the_password() -> None:
    settings = WinRMSettings(label="D2s_v3", host="10.0.0.4", username="azureuser", password="S3cr3t!x")
    assert "S3cr3t!x" not in repr(settings) and "S3cr3t!x" not in repr(WinRMClient(settings))
    assert "azureuser" in repr(settings)
    assert settings.url == "https://10.0.0.4:5986/wsman" and settings.transport == "ntlm"


@pytest.mark.parametrize(
    "overrides",
    [{"scheme": "ftp"}, {"transport": "plaintext"}, {"transport": "certificate", "scheme": "http"}],
)
def test_invalid_settings_are_refused(overrides: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        WinRMSettings(label="t", host="h", **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('noise <<<CERT-JSON>>>{"a": [1]}<<<END-CERT-JSON>>> noise', {"a": [1]}),
        ("[1, 2]\r\n", [1, 2]),
        ('[WARNING] x\r\n{"a": "}"}\r\n', {"a": "}"}),
    ],
)
def test_extract_json(stdout: str, expected: object) -> None:
    assert extract_json(stdout) == expected


# -- TLS and NTLM ------------------------------------------------------------------------------


@pytest.fixture
def tls_endpoint(make_winrm_endpoint: MakeEndpoint, tmp_path: Path) -> WinRMEndpoint:
    cert, key = make_self_signed(str(tmp_path))
    endpoint = make_winrm_endpoint(tls=server_tls_context(cert, key))
    endpoint.add_json("# check: tls", {"tls": True})
    endpoint.cert_path = cert  # type: ignore[attr-defined]
    return endpoint


def test_https_with_the_ca_trusted(tls_endpoint: WinRMEndpoint) -> None:
    ca = tls_endpoint.cert_path  # type: ignore[attr-defined]
    settings = endpoint_settings(tls_endpoint, ca_trust_path=ca)
    assert settings.url.startswith("https://")

    with WinRMClient(settings) as client:
        assert client.run_ps("# check: tls") == {"tls": True}


def test_https_with_an_untrusted_certificate(tls_endpoint: WinRMEndpoint) -> None:
    settings = endpoint_settings(tls_endpoint, label="D2s_v3")

    with pytest.raises(ConnectError) as caught:
        WinRMClient(settings).connect()

    assert str(caught.value) == "D2s_v3: TLS certificate not trusted"
    assert tls_endpoint.requests == []  # nothing was sent before the certificate was checked


def test_https_without_validation_when_asked(tls_endpoint: WinRMEndpoint) -> None:
    settings = endpoint_settings(tls_endpoint, cert_validation=False)

    with WinRMClient(settings) as client:
        assert client.run_ps("# check: tls") == {"tls": True}


@pytest.mark.parametrize("tls", [False, True], ids=["http-encrypted", "https"])
def test_ntlm(make_winrm_endpoint: MakeEndpoint, tmp_path: Path, tls: bool) -> None:
    context = server_tls_context(*make_self_signed(str(tmp_path))) if tls else None
    endpoint = make_winrm_endpoint(ntlm=True, tls=context, username="azureuser")
    endpoint.add_json("# check: a", {"a": 1})
    endpoint.add_json("# check: b", {"b": 2})
    settings = endpoint_settings(endpoint, transport="ntlm", cert_validation=False)

    with WinRMClient(settings) as client:
        assert client.run_ps("# check: a") == {"a": 1}
        assert client.run_ps("# check: b") == {"b": 2}

    soap = [r for r in endpoint.requests if r.action]
    assert {r.encrypted for r in soap} == {not tls}  # message encryption only over http
    assert [r.auth_scheme for r in endpoint.requests[:3]] == ["", "Negotiate", "Negotiate"]
    assert {r.auth_scheme for r in endpoint.requests[3:]} == {""}  # authenticated once
    assert endpoint.actions().count("Create") == 1 and endpoint.errors == []


def test_ntlm_with_a_bad_password(make_winrm_endpoint: MakeEndpoint) -> None:
    endpoint = make_winrm_endpoint(ntlm=True)
    settings = endpoint_settings(endpoint, transport="ntlm", password="Not-The-Password-3")

    with pytest.raises(ConnectError) as caught:
        WinRMClient(settings).connect()

    assert "authentication failed (401)" in str(caught.value)
    assert "Not-The-Password-3" not in str(caught.value)


@pytest.mark.skipif(winrm_transport.HAVE_KERBEROS, reason="pykerberos is installed here")
def test_kerberos_without_its_library_is_a_clean_connect_error(winrm_endpoint: WinRMEndpoint) -> None:
    settings = endpoint_settings(winrm_endpoint, transport="kerberos")

    with pytest.raises(ConnectError, match=r"^endpoint: WinRM error: .*pykerberos is not installed"):
        WinRMClient(settings).connect()
