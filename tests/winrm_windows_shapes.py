"""Windows-shaped fact documents for the WS-Management endpoint and the check tests.

Each is the hand-written 2012 R2 snapshot (tests/recorded/windows/ws2012r2-compliant.json,
HAND-WRITTEN, not recorded from a live Windows) turned into another VM the way the collection
script would report it: the ``os`` and ``agent`` parts rewritten, every part completed with
``_status`` and recounted ``_counts``. None of them comes from a real Windows either.

* :func:`ws2025_azure_core`: Windows Server 2025 Datacenter: Azure Edition, Server Core
  (EditionID ``ServerTurbineCor``), agent 2.7.41491.1102, collected 2026-11-30: compliant
  under both profiles except WIN-001 in guide-2016 (2025 is not a 2016 base).
* :func:`ws2022_old_agent`: Windows Server 2022 Datacenter whose agent service runs
  2.7.41491.949 while a newer GuestAgent_2.7.41491.1102 folder sits next to it.
* :func:`agent_disabled`, :func:`agent_missing`: the 2025 VM with the agent service disabled,
  and without any agent.
* :func:`ws2012r2_out_of_support`: the 2012 R2 snapshot as it is (extended support ended
  2023-10-10).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pytest_vmimage.facts.windows import recount

RECORDED = Path(__file__).parent / "recorded" / "windows"
#: The snapshot's days (sysprep, install, boot, Panther lines, collection) become these days.
SHIFTED_DAYS = {"2016-02-29": "2026-11-28", "2016-03-01": "2026-11-29", "2016-03-02": "2026-11-30"}
AGENT_ROOT = "C:\\WindowsAzure\\"
NEW_AGENT = "GuestAgent_2.7.41491.1102_2024-04-05_011501"
OLD_AGENT = "GuestAgent_2.7.41491.949_2019-12-03_203442"


def snapshot(name: str = "ws2012r2-compliant") -> dict[str, Any]:
    data = json.loads((RECORDED / f"{name}.json").read_text())
    return {"meta": data["meta"], "parts": data["parts"]}


def _finish(doc: dict[str, Any], provenance: str) -> dict[str, Any]:
    doc["meta"]["provenance"] = f"{provenance} Derived by tests/winrm_windows_shapes.py from " + (
        "the HAND-WRITTEN 2012 R2 snapshot; not recorded from a live Windows."
    )
    for part in doc["parts"].values():
        part.setdefault("_status", "ok")
        recount(part)
    return doc


def _shifted(doc: dict[str, Any]) -> dict[str, Any]:
    """The snapshot's dates moved to 2026-11 (the install, boot and Panther lines keep their
    distances, so WIN-007 still ties the deployment to this boot)."""
    text = json.dumps(doc)
    for old, new in SHIFTED_DAYS.items():
        text = text.replace(old, new)
    return json.loads(text)


def agent_part(folder: str | None = NEW_AGENT, version: str = "2.7.41491.1102", **service: Any) -> dict:
    """The ``agent`` part: the service runs ``folder``'s executable of ``version``."""
    exe = f"{AGENT_ROOT}{folder}\\GuestAgent\\WindowsAzureGuestAgent.exe"  # the MSI's layout
    unset = "value DelayedAutostart not set in HKLM:\\SYSTEM\\CurrentControlSet\\Services\\"
    guest = {
        "start_mode": "Auto",
        "state": "Running",
        "image_path": exe,
        "delayed_autostart": {"_absent": unset + "WindowsAzureGuestAgent"},
        **service,
    }
    rd = {
        "start_mode": "Auto",
        "state": "Running",
        "image_path": f"{AGENT_ROOT}Packages\\WaAppAgent.exe",
        "delayed_autostart": {"_absent": unset + "RdAgent"},
    }
    return {
        "services": {"WindowsAzureGuestAgent": guest, "RdAgent": rd},
        "exe_path": exe,
        "file_version": version,
        "file_version_text": version,
        "folders": [folder],
        "registry_incarnation": version,
        "registry_version": {
            "_absent": "value GuestAgentVersion not set in HKLM:\\SOFTWARE\\Microsoft\\GuestAgent"
        },
        "uninstall_entries": [
            {"display_name": f"Windows Azure VM Agent - {version}", "display_version": version}
        ],
        "_elapsed_ms": 203,
    }


def ws2025_azure_core() -> dict[str, Any]:
    doc = _shifted(snapshot())
    doc["meta"].update(ps_version="5.1")
    doc["parts"]["os"].update(
        caption="Microsoft Windows Server 2025 Datacenter: Azure Edition",
        version="10.0.26100",
        build="26100",
        current_build="26100",
        sku=408,
        edition_id="ServerTurbineCor",
        installation_type="Server Core",
        product_name="Windows Server 2025 Datacenter: Azure Edition",
        ps_version="5.1",
    )
    doc["parts"]["agent"] = agent_part()
    doc["parts"]["agent"]["folders"] = [OLD_AGENT.replace("949_2019-12-03", "1010_2021-05-11"), NEW_AGENT]
    return _finish(doc, "Windows Server 2025 Datacenter: Azure Edition (Server Core), agent 2.7.41491.1102.")


def ws2022_old_agent() -> dict[str, Any]:
    doc = _shifted(snapshot())
    doc["parts"]["os"].update(
        caption="Microsoft Windows Server 2022 Datacenter",
        version="10.0.20348",
        build="20348",
        current_build="20348",
        sku=8,
        edition_id="ServerDatacenter",
        installation_type="Server",
        product_name="Windows Server 2022 Datacenter",
        ps_version="5.1",
    )
    doc["parts"]["agent"] = agent_part(OLD_AGENT, "2.7.41491.949")
    doc["parts"]["agent"]["folders"] = [OLD_AGENT, NEW_AGENT]  # the newer folder is not the one that runs
    return _finish(doc, "Windows Server 2022 Datacenter, agent service on 2.7.41491.949.")


def agent_disabled() -> dict[str, Any]:
    doc = ws2025_azure_core()
    doc["parts"]["agent"]["services"]["WindowsAzureGuestAgent"].update(start_mode="Disabled", state="Stopped")
    return _finish(doc, "Windows Server 2025 Azure Edition with the agent service disabled.")


def agent_missing() -> dict[str, Any]:
    doc = ws2025_azure_core()
    gone = "the WindowsAzureGuestAgent service is not installed"
    doc["parts"]["agent"] = {
        "services": {
            "WindowsAzureGuestAgent": {"_absent": "no service named WindowsAzureGuestAgent"},
            "RdAgent": {"_absent": "no service named RdAgent"},
        },
        "exe_path": {"_absent": gone},
        "file_version": {"_absent": gone},
        "folders": {"_absent": "C:\\WindowsAzure does not exist"},
        "registry_incarnation": {
            "_absent": "registry key HKLM:\\SOFTWARE\\Microsoft\\GuestAgent not present"
        },
        "registry_version": {"_absent": "registry key HKLM:\\SOFTWARE\\Microsoft\\GuestAgent not present"},
        "uninstall_entries": [],
        "_elapsed_ms": 96,
    }
    doc["parts"]["services"]["services"] = [
        s
        for s in doc["parts"]["services"]["services"]
        if s["name"] not in ("RdAgent", "WindowsAzureGuestAgent")
    ]
    return _finish(doc, "Windows Server 2025 Azure Edition without the Azure VM agent.")


def ws2012r2_out_of_support() -> dict[str, Any]:
    return copy.deepcopy(snapshot())


SHAPES = {
    "ws2025-azure-core": ws2025_azure_core,
    "ws2022-old-agent": ws2022_old_agent,
    "agent-disabled": agent_disabled,
    "agent-missing": agent_missing,
    "ws2012r2": ws2012r2_out_of_support,
}
