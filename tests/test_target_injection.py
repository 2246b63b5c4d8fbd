"""Every part of --vm-host is checked before it reaches ssh, ssh_config or a shell.

One test per attempted payload: host, user, port, query options and label. And even a
Target built around parse_target cannot make OpenSSH's ``ssh`` take its host for an
option (``--`` goes before the destination), checked by running the real ``ssh``.
"""

from __future__ import annotations

import shlex

import pytest

from pytest_vmimage.connect import ConnectError
from pytest_vmimage.connect.ssh import connect_linux
from pytest_vmimage.targets import Target, TargetError, parse_target

HOST_PAYLOADS = [
    "ssh://u@-oProxyCommand=touch%20/tmp/pwned",
    "ssh://u@-oProxyCommand=sh",
    "ssh://u@-F/tmp/evil",
    "ssh://u@-p",
    "ssh://u@host;touch%20x",
    "ssh://u@host&&id",
    "ssh://u@host|id",
    "ssh://u@$(id)",
    "ssh://u@`id`",
    "ssh://u@host%0AProxyCommand%20id",
    "ssh://u@host%20-oProxyCommand=id",
    "ssh://u@.host",
    "ssh://u@host.",
    "ssh://u@ho'st",
    'ssh://u@ho"st',
    "ssh://u@host\\x",
    "ssh://u@[::1%25eth0;id]",
    "ssh://u@[-oProxyCommand=id]",
    "winrm://u@-oProxyCommand=id",
    "winrm://u@host%0d%0aX-Injected:1",
]

USER_PAYLOADS = [
    "ssh://-oProxyCommand=id@host",
    "ssh://-l@host",
    "ssh://root;id@host",
    "ssh://u$(id)@host",
    "ssh://u`id`@host",
    "ssh://u%0AHost%20*@host",
    "ssh://u%0aProxyCommand%20id@host",
    "ssh://u'x@host",
    'ssh://u"x@host',
    "ssh://u%20x@host",
    "ssh://%2Doption@host",
    "ssh://a%5Cb@host",
    "ssh://" + "a" * 33 + "@host",
    "winrm://-admin@host",
    "winrm://adm%0Ain@host",
    "winrm://adm;in@host",
]

PORT_PAYLOADS = [
    "ssh://u@host:-1",
    "ssh://u@host:0",
    "ssh://u@host:99999",
    "ssh://u@host:22;id",
    "ssh://u@host:22%20-oProxyCommand=id",
    "ssh://u@host:-oProxyCommand=id",
]

QUERY_PAYLOADS = [
    "ssh://u@host?ssh_config=-oProxyCommand=id",
    "ssh://u@host?ssh_config=%0AProxyCommand%20id",
    "ssh://u@host?ssh_config=",
    "ssh://u@host?backend=openssh;id",
    "ssh://u@host?backend=openssh%20-oProxyCommand=id",
    "ssh://u@host?backend=ssh",
    "ssh://u@host?timeout=1;id",
    "ssh://u@host?timeout=nan",
    "ssh://u@host?timeout=inf",
    "ssh://u@host?timeout=-1",
    "ssh://u@host?timeout=1e9",
    "ssh://u@host?host_key=no",
    "ssh://u@host?host_key=tofu&host_key=strict",
    "ssh://u@host?backend=paramiko&backend=openssh",
    "ssh://u@host?ProxyCommand=id",
    "ssh://u@host?proxycommand=id",
    "ssh://u@host?sudo=yes;id",
    "ssh://u@host?backend",
    "ssh://u@host#-oProxyCommand=id",
    "ssh://u@host/;id",
    "winrm://u@host?ca_trust_path=-x",
    "winrm://u@host?cert_pem=%0Ax",
    "winrm://u@host?transport=basic;id",
    "winrm://u@host?scheme=file",
]

LABEL_PAYLOADS = [
    "-oProxyCommand=id=ssh://u@host",
    "$(id)=ssh://u@host",
    "a;b=ssh://u@host",
    "../../etc/x=ssh://u@host",
    "a b=ssh://u@host",
    "`id`=ssh://u@host",
]

WHITESPACE_PAYLOADS = [
    "ssh://u@ho\nst",
    "ssh://u@ho\tst",
    "ssh://u@host\n-oProxyCommand=id",
    "ssh://u@host?backend=openssh\r\nProxyCommand=id",
    "ssh://u@ho\x00st",
    "ssh://u @host",
]


@pytest.mark.parametrize(
    "value",
    HOST_PAYLOADS + USER_PAYLOADS + PORT_PAYLOADS + QUERY_PAYLOADS + LABEL_PAYLOADS + WHITESPACE_PAYLOADS,
)
def test_payload_is_refused(value):
    with pytest.raises(TargetError):
        parse_target(value)


@pytest.mark.parametrize(
    "value, host, user",
    [
        ("ssh://azureuser@10.0.0.4", "10.0.0.4", "azureuser"),
        (
            "ssh://azure-user.1@vm-01.westeurope.cloudapp.azure.com",
            "vm-01.westeurope.cloudapp.azure.com",
            "azure-user.1",
        ),
        ("ssh://u@[2001:db8::4]:2222", "2001:db8::4", "u"),
        ("ssh://u@[fe80::1%25eth0]", "fe80::1%eth0", "u"),
        ("ssh://_svc@my_host", "my_host", "_svc"),
        ("winrm://CONTOSO%5Cvmadmin@host", "host", "CONTOSO\\vmadmin"),
        ("winrm://vmadmin%40contoso.com@host", "host", "vmadmin@contoso.com"),
        ("winrm://vm%20admin@host", "host", "vm admin"),
    ],
)
def test_ordinary_values_still_parse(value, host, user):
    target = parse_target(value)
    assert (target.host, target.user) == (host, user)


@pytest.mark.parametrize("backend", ["openssh", "paramiko"])
@pytest.mark.parametrize(
    "host, user",
    [
        ("-oProxyCommand=touch {marker}", "u"),
        ("127.0.0.1", "-oProxyCommand=touch {marker}"),
    ],
)
def test_a_hostile_target_never_runs_a_local_command(tmp_path, backend, host, user):
    """Target built directly (no parse_target): the real ssh still sees a destination."""
    marker = tmp_path / "pwned"
    target = Target(
        label="t",
        os="linux",
        scheme="ssh",
        user=user.format(marker=marker),
        host=host.format(marker=marker),
        port=1,
        options={"backend": backend, "timeout": "3"},
    )
    with pytest.raises(ConnectError):
        connect_linux(target, None, None, None, known_hosts=str(tmp_path / "known_hosts"))
    assert not marker.exists()


def test_openssh_command_line_ends_with_double_dash_destination_and_quoted_command(tmp_path):
    from pytest_vmimage.connect.ssh import _backend_classes

    backend_class = _backend_classes()[1]
    backend = backend_class("u@host:2222", timeout=5, ssh_extra_args="-o BatchMode=yes")
    argv = shlex.split(backend.ssh_command_line("echo $HOME; id"))
    assert argv[-3:] == ["--", "host", "echo $HOME; id"]
    assert "-o" in argv and "User=u" in argv and "Port=2222" in argv
