"""pytest fixtures around tests/winrm_endpoint.py (load with ``pytest_plugins``).

``winrm_endpoint``: a started endpoint on 127.0.0.1 (Basic over http), stopped afterwards.
``winrm_settings``: WinRMSettings that reach it (label "endpoint").
``winrm_client``: a connected WinRMClient on those settings, closed afterwards.
``make_winrm_endpoint(**kwargs)``: more endpoints (IPv6 host, TLS, NTLM), all stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_vmimage.connect.winrm import WinRMClient, WinRMSettings
from tests.winrm_endpoint import WinRMEndpoint, endpoint_settings


@pytest.fixture
def make_winrm_endpoint(tmp_path: Path) -> Iterator[Callable[..., WinRMEndpoint]]:
    started: list[WinRMEndpoint] = []

    def make(**kwargs: Any) -> WinRMEndpoint:
        if kwargs.get("ntlm"):
            kwargs.setdefault("ntlm_user_file", str(tmp_path / f"ntlm-users-{len(started)}"))
        endpoint = WinRMEndpoint(**kwargs).start()
        started.append(endpoint)
        return endpoint

    yield make
    for endpoint in reversed(started):
        endpoint.stop()


@pytest.fixture
def winrm_endpoint(make_winrm_endpoint: Callable[..., WinRMEndpoint]) -> WinRMEndpoint:
    return make_winrm_endpoint()


@pytest.fixture
def winrm_settings(winrm_endpoint: WinRMEndpoint) -> WinRMSettings:
    return endpoint_settings(winrm_endpoint)


@pytest.fixture
def winrm_client(winrm_settings: WinRMSettings) -> Iterator[WinRMClient]:
    client = WinRMClient(winrm_settings)
    client.connect()
    yield client
    client.close()
