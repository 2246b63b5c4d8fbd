"""Every Windows check on a hand-written, Windows-shaped facts snapshot, and on the same
facts edited to break one requirement at a time.

``tests/recorded/windows/ws2012r2-compliant.json`` is HAND-WRITTEN from documented output
formats (see its ``meta.provenance`` and the README next to it), not recorded from a live
Windows: no Windows machine was available.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_vmimage.checks import windows
from pytest_vmimage.facts.windows import (
    COLLECTION_SCRIPT,
    PARTS,
    SCRIPT_MARKER,
    WindowsFacts,
    drive_letters,
    gather,
    recount,
)
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result
from tests import winrm_windows_shapes as shapes

SNAPSHOT = Path(__file__).parent / "recorded" / "windows" / "ws2012r2-compliant.json"
GUIDE = load_profile("guide-2016")
CURRENT = load_profile("current")
PROFILES = [GUIDE, CURRENT]
FEATURES = windows.UNSUPPORTED_FEATURE_NAMES
DEPLOY_LOG = "C:\\Windows\\Panther\\setupact.log"


#: The day this session judged (WIN-001 support ends are judged against the run's date).
RUN_DATE = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def pinned_run_date(monkeypatch):
    monkeypatch.setattr(windows, "run_date", lambda: RUN_DATE)


def compliant() -> WindowsFacts:
    return WindowsFacts.load(SNAPSHOT)


def shaped(name: str) -> WindowsFacts:
    """A Windows-shaped document of tests/winrm_windows_shapes.py as facts."""
    doc = shapes.SHAPES[name]()
    return WindowsFacts(doc["parts"], "vmadmin", doc["meta"])


def compliant_for(profile) -> WindowsFacts:
    """The compliant VM of a profile: the 2012 R2 snapshot for guide-2016, the Windows Server
    2025 Azure Edition shape for current (2012 R2 is out of support today)."""
    return shaped("ws2025-azure-core") if profile.is_current else compliant()


def edited(change: Callable[[dict], None], base: WindowsFacts | None = None) -> WindowsFacts:
    """The snapshot (or ``base``) with ``change`` applied as the script would have reported it:
    parts completed (``_status`` ok unless the edit failed them) and item counts updated."""
    facts = base or compliant()
    parts = copy.deepcopy(facts.parts)
    change(parts)
    for part in parts.values():
        if isinstance(part, dict) and "error" not in part:
            part.setdefault("_status", "ok")
            recount(part)
    return WindowsFacts(parts, facts.admin_user, facts.meta)


def all_verdicts(facts: WindowsFacts, profile) -> dict[str, object]:
    """Every verdict of the profile (a feature not on the profile's list is left out)."""
    found = {req_id: check(facts, profile) for req_id, check in windows.CHECKS.items()}
    for feature in FEATURES:
        if not (profile.is_current and feature in windows.SUPPORTED_IN_CURRENT):
            found[f"WIN-010 {feature}"] = windows.unsupported_feature(facts, profile, feature)
    return found


def test_snapshot_says_it_is_hand_written():
    facts = compliant()
    assert "HAND-WRITTEN" in facts.meta["provenance"]
    assert set(facts.parts) == set(PARTS)


def test_every_requirement_has_a_check():
    assert set(windows.CHECKS) | {"WIN-010"} == {f"WIN-{n:03d}" for n in range(1, 15)}
    assert len(FEATURES) == 13


@pytest.mark.parametrize("profile", PROFILES, ids=["guide-2016", "current"])
def test_compliant_vm_passes_every_check(profile):
    for name, verdict in all_verdicts(compliant_for(profile), profile).items():
        assert verdict.result is Result.PASSED, f"{name}: {verdict}"
        assert verdict.actual and verdict.required


def test_not_applicable_parts_are_named_in_the_pass():
    verdict = windows.approved_base(compliant(), GUIDE)
    assert "no base image name declared" in verdict.message


def _set(part: str, **values):
    return lambda p: p[part].update(values)


def _deploy_matches(**values):
    return lambda p: p["sysprep"]["panther"][DEPLOY_LOG]["matches"].update(values)


def _add_service(**service):
    base = {"start_mode": "Auto", "state": "Running", "start_name": "LocalSystem", "path": "C:\\x.exe"}
    return lambda p: p["services"]["services"].append({**base, **service})


def _feature(name):
    return lambda p: p["features"]["installed"].append(name)


def _days_later(stamp: str, days: int) -> str:
    moved = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(days=days)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")


def _disk(index, size):
    """Disk ``index`` of ``size`` bytes, as MSFT_Disk (exact) and Win32_DiskDrive (geometry) see it."""

    def change(p):
        p["disks"]["msft_disk"][index]["size_bytes"] = size
        p["disks"]["physical"][index]["size_bytes"] = size - size % (255 * 63 * 512)

    return change


def _disk0(size):
    return _disk(0, size)


SQL_2014_EXPRESS = {
    "instance": "SQLEXPRESS",
    "instance_id": "MSSQL12.SQLEXPRESS",
    "wow64": False,
    "edition": "Express Edition (64-bit)",
    "edition_type": "Express Edition",
    "version": "12.0.4100.1",
    "patch_level": "12.0.4100.1",
}
SQL_2012_STANDARD = {**SQL_2014_EXPRESS, "instance": "MSSQLSERVER", "instance_id": "MSSQL11.MSSQLSERVER"}
SQL_2012_STANDARD.update(edition="Standard Edition (64-bit)", version="11.0.5058.0")

# requirement (WIN-010: "WIN-010 <feature>"), edit, result in guide-2016, result in current, message text
CASES = [
    (
        "WIN-001",
        _set(
            "os",
            version="6.1.7600",
            build="7600",
            sp_major=0,
            caption="Microsoft Windows Server 2008 R2 Datacenter",
        ),
        Result.FAILED,
        Result.FAILED,
        "version 2008 R2 is not an approved base",
    ),
    (
        "WIN-001",
        _set("os", edition_id="ServerStandard", sku=7),
        Result.FAILED,
        Result.FAILED,
        "not the Datacenter edition",
    ),
    (
        "WIN-001",
        _set("os", version="10.0.14393", build="14393", caption="Microsoft Windows Server 2016 Datacenter"),
        Result.FAILED,
        Result.PASSED,
        "version 2016 is not an approved base",
    ),
    (
        "WIN-001",
        lambda p: p["sql"]["instances"].append(SQL_2014_EXPRESS),
        Result.WARNING,
        Result.WARNING,
        "Express is not an approved SQL image edition",
    ),
    (
        "WIN-001",
        lambda p: p["sql"]["instances"].append(SQL_2012_STANDARD),
        Result.FAILED,
        Result.PASSED,  # current judges the 2025 VM: no SQL pairing rule from 2016 on
        "on Windows Server 2012 R2 the approved image is SQL Server 2014",
    ),
    (
        "WIN-001",
        lambda p: p["sql"]["localdb_versions"].append("12.0"),
        Result.WARNING,
        Result.WARNING,
        "LocalDB",
    ),
    ("WIN-002", _disk0(30 * 2**30), Result.FAILED, Result.PASSED, "do not change its size"),
    ("WIN-002", _disk0(300 * 2**30), Result.FAILED, Result.FAILED, "OS disk 0 (C:) 300.00 GiB"),
    (
        "WIN-003",
        _disk(2, 2**40),
        Result.FAILED,
        Result.FAILED,
        "exceed 1023 GiB",
    ),
    (
        "WIN-004",
        lambda p: p["updates"]["updates"].append(
            {
                "title": "Security Update for Windows Server 2012 R2 (KB3146706)",
                "msrc_severity": "Important",
                "kb": ["3146706"],
                "browse_only": False,
            }
        ),
        Result.FAILED,
        Result.FAILED,
        "KB3146706 Security Update",
    ),
    (
        "WIN-005",
        lambda p: p["tasks"]["tasks"].append(
            {
                "path": "\\Contoso\\FirstBootSetup",
                "enabled": True,
                "trigger_types": [8],
                "actions": [],
                "run_as": "SYSTEM",
            }
        ),
        Result.WARNING,
        Result.WARNING,
        "\\Contoso\\FirstBootSetup",
    ),
    (
        "WIN-006",
        _add_service(name="ContosoDb", path='"E:\\Contoso\\db.exe" -service'),
        Result.FAILED,
        Result.FAILED,
        "service ContosoDb uses E:",
    ),
    (
        "WIN-006",
        _set("drives", pagefile_settings=["F:\\pagefile.sys"], paging_files_reg=["F:\\pagefile.sys 0 0"]),
        Result.FAILED,
        Result.FAILED,
        "page file uses F:",
    ),
    (
        "WIN-006",
        lambda p: p["drives"]["machine_env"].update(CONTOSO_HOME="G:\\contoso"),
        Result.FAILED,
        Result.FAILED,
        "environment variable CONTOSO_HOME uses G:",
    ),
    (
        "WIN-006",
        lambda p: p["tasks"]["tasks"][4]["actions"][0].update(arguments="/out H:\\reports"),
        Result.FAILED,
        Result.FAILED,
        "scheduled task \\Contoso Nightly Report uses H:",
    ),
    (
        "WIN-007",  # a clone of a machine that was never generalized
        _deploy_matches(generalization_state=[], generalize=[], image_state=[]),
        Result.FAILED,
        Result.FAILED,
        "Found generalization state",
    ),
    (
        "WIN-007",
        _set("sysprep", image_state="IMAGE_STATE_UNDEPLOYABLE"),
        Result.FAILED,
        Result.FAILED,
        "IMAGE_STATE_UNDEPLOYABLE",
    ),
    (
        "WIN-007",  # deployment logs carried over from an earlier installation
        lambda p: p["os"].update(install_date=_days_later(p["os"]["install_date"], 70)),
        Result.FAILED,
        Result.FAILED,
        "carried over",
    ),
    (
        "WIN-008",
        _set("os", proc_arch="x86", os_architecture="32-bit", ptr_size=4),
        Result.FAILED,
        Result.FAILED,
        "32-bit",
    ),
    (
        "WIN-009",
        _set(
            "accounts",
            current_user="CERTVM01\\Administrator",
            current_sid="S-1-5-21-3128766436-4118573412-2409348571-500",
        ),
        Result.FAILED,
        Result.FAILED,
        "the built-in Administrator",
    ),
    (
        "WIN-009",
        _add_service(name="ContosoSync", start_name=".\\Administrator"),
        Result.FAILED,
        Result.FAILED,
        "service ContosoSync runs as .\\Administrator",
    ),
    ("WIN-010 DHCP Server", _feature("DHCP"), Result.FAILED, Result.FAILED, "Uninstall-WindowsFeature DHCP"),
    ("WIN-010 WINS", _feature("WINS-Server"), Result.FAILED, Result.FAILED, "WINS installed (WINS-Server)"),
    (
        "WIN-010 Remote Access (DirectAccess)",
        _feature("DirectAccess-VPN"),
        Result.FAILED,
        Result.FAILED,
        "DirectAccess-VPN",
    ),
    (
        "WIN-011",
        _set(
            "bitlocker",
            namespace_present=True,
            volume_found=True,
            protection_status=1,
            conversion_status=1,
            encryption_percentage=100,
        ),
        Result.FAILED,
        Result.FAILED,
        "manage-bde -off C:",
    ),
    (
        "WIN-011",  # protection suspended, but the volume is still encrypted
        _set(
            "bitlocker", namespace_present=True, volume_found=True, protection_status=0, conversion_status=1
        ),
        Result.FAILED,
        Result.FAILED,
        "C: fully encrypted, protection off",
    ),
    (
        "WIN-012",
        lambda p: p["ipv6"]["addresses"].append(
            {
                "interface": "Ethernet",
                "address": "2001:db8::10",
                "prefix_origin": "Manual",
                "suffix_origin": "Manual",
                "link_local": False,
                "loopback": False,
            }
        ),
        Result.WARNING,
        Result.WARNING,
        "2001:db8::10 on Ethernet",
    ),
    ("WIN-013", _set("rdp", fDenyTSConnections=1), Result.WARNING, Result.FAILED, "fDenyTSConnections=1"),
    (
        "WIN-013",
        lambda p: [r.update(enabled=False) for r in p["rdp"]["fw_rules"]],
        Result.WARNING,
        Result.FAILED,
        "no enabled inbound Remote Desktop firewall rule for TCP 3389 in the active Public profile",
    ),
    (
        "WIN-013",
        lambda p: p["winrm"]["listeners"].pop(1),
        Result.PASSED,
        Result.FAILED,
        "no enabled WinRM HTTPS listener on 5986",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "guide_result", "current_result", "text"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_each_edit_breaks_only_its_requirement(name, change, guide_result, current_result, text):
    for profile, expected in ((GUIDE, guide_result), (CURRENT, current_result)):
        facts = edited(change, compliant_for(profile))
        verdicts = all_verdicts(facts, profile)
        verdict = verdicts.pop(name)
        assert verdict.result is expected, f"{profile.name}: {verdict}"
        if expected is not Result.PASSED:
            assert text in verdict.message, verdict.message
            assert verdict.actual and verdict.required
        others = {k: v.result for k, v in verdicts.items() if v.result is not Result.PASSED}
        assert not others, f"{profile.name}: the edit for {name} also changed {others}"


def test_messages_name_the_real_sysprep_command():
    facts = edited(_deploy_matches(generalization_state=[], generalize=[], image_state=[]))
    message = windows.generalized(facts, GUIDE).message
    assert "sysprep.exe /generalize /oobe /shutdown" in message and "/sshutdown" not in message


def test_old_declared_base_image_fails_and_a_recent_one_passes():
    old = dataclasses.replace(
        GUIDE, image={"base_image_name": "Windows-Server-2012-R2-201407.01-en.us-127GB.vhd"}
    )
    verdict = windows.approved_base(compliant(), old)
    assert verdict.result is Result.FAILED and "before 2014-09-08" in verdict.message
    recent = dataclasses.replace(
        GUIDE, image={"base_image_name": "Windows-Server-2012-R2-20141010-en.us-127GB.vhd"}
    )
    assert windows.approved_base(compliant(), recent).result is Result.PASSED
    undated = dataclasses.replace(GUIDE, image={"base_image_name": "my-golden-image"})
    verdict = windows.approved_base(compliant(), undated)
    assert verdict.result is Result.PASSED and "no date in 'my-golden-image'" in verdict.message


def test_sql_2012_sp2_standard_on_ws2012_passes():
    facts = edited(
        lambda p: (
            p["os"].update(
                version="6.2.9200", build="9200", caption="Microsoft Windows Server 2012 Datacenter"
            ),
            p["sql"]["instances"].append(SQL_2012_STANDARD),
        )
    )
    assert windows.approved_base(facts, GUIDE).result is Result.PASSED
    facts.parts["sql"]["instances"][0]["version"] = "11.0.3000.0"  # SP1
    verdict = windows.approved_base(facts, GUIDE)
    assert verdict.result is Result.FAILED and "SQL Server 2012 SP2" in verdict.message


@pytest.mark.parametrize(
    ("gib", "expected"), [(127, Result.PASSED), (128, Result.PASSED), (126, Result.FAILED)]
)
def test_geometry_size_without_msft_disk_uses_a_tolerance(gib, expected):
    def change(p):
        p["disks"]["msft_disk"] = None
        size = gib * 2**30
        p["disks"]["physical"][0]["size_bytes"] = size - size % (255 * 63 * 512)

    facts = edited(change)
    verdict = windows.os_disk_size(facts, GUIDE)
    assert verdict.result is expected, verdict
    assert "geometry" in verdict.actual


def test_2008_r2_sp1_and_server_feature_ids_fallback():
    def change(p):
        p["os"].update(version="6.1.7601", build="7601", sp_major=1)
        p["features"] = {
            "source": "unavailable",
            "servermanager_error": "module not found",
            "installed": [],
            "server_feature_ids": [2, 12],
        }

    facts = edited(change)
    assert windows.approved_base(facts, GUIDE).result is Result.PASSED
    verdict = windows.unsupported_feature(facts, GUIDE, "DHCP Server")
    assert verdict.result is Result.FAILED and "Win32_ServerFeature ID 12" in verdict.actual
    assert windows.unsupported_feature(facts, GUIDE, "Hyper-V").result is Result.PASSED


def test_firewall_off_for_the_active_profile_allows_rdp():
    def change(p):
        p["rdp"]["fw_rules"] = []
        p["rdp"]["fw_enabled"]["PublicProfile"] = 0

    assert windows.remote_access(edited(change), CURRENT).result is Result.PASSED


PRIMARY_PART = {
    "WIN-001": "os",
    "WIN-002": "disks",
    "WIN-003": "disks",
    "WIN-004": "updates",
    "WIN-005": "tasks",
    "WIN-006": "drives",
    "WIN-007": "sysprep",
    "WIN-008": "os",
    "WIN-009": "accounts",
    "WIN-011": "bitlocker",
    "WIN-012": "ipv6",
    "WIN-013": "rdp",
    "WIN-014": "agent",
}


@pytest.mark.parametrize("req_id", sorted(PRIMARY_PART))
def test_a_part_that_failed_on_the_vm_is_an_error_naming_it(req_id):
    part = PRIMARY_PART[req_id]
    facts = edited(
        lambda p: p.update(
            {part: {"error": "Access is denied.", "type": "System.UnauthorizedAccessException"}}
        )
    )
    with pytest.raises(FactError, match=rf"collecting '{part}' failed on the VM: Access is denied\."):
        windows.CHECKS[req_id](facts, CURRENT)


def test_missing_part_and_failed_feature_listing_are_errors():
    facts = edited(lambda p: p.pop("features"))
    with pytest.raises(FactError, match="'features' was not collected"):
        windows.unsupported_feature(facts, GUIDE, "Hyper-V")
    facts = edited(
        _set(
            "features",
            source="unavailable",
            installed={"_unreadable": "Get-WindowsFeature failed: nope"},
            server_feature_ids={"_unreadable": "Win32_ServerFeature failed: Access denied"},
        )
    )
    with pytest.raises(FactError, match="Get-WindowsFeature failed.*Win32_ServerFeature failed"):
        windows.unsupported_feature(facts, GUIDE, "Hyper-V")


def test_failed_windows_update_search_is_an_error_with_the_hresult():
    facts = edited(
        lambda p: p.update(
            updates={
                "search_ok": False,
                "search_error": "Exception from HRESULT: 0x8024402C",
                "hresult": "0x8024402C",
            }
        )
    )
    with pytest.raises(FactError, match="0x8024402C"):
        windows.latest_updates(facts, GUIDE)


def test_bitlocker_access_denied_is_an_error_not_a_pass():
    facts = edited(
        lambda p: p.update(
            bitlocker={
                "drive": "C:",
                "namespace_present": False,
                "namespace_error": "Access denied ",
                "wmi_error": "AccessDenied",
            }
        )
    )
    with pytest.raises(FactError, match="Access denied"):
        windows.no_bitlocker_os(facts, GUIDE)


def test_winrm_part_is_only_needed_where_https_is_required():
    facts = edited(lambda p: p.update(winrm={"error": "Cannot find drive WSMan", "type": "x"}))
    assert windows.remote_access(facts, GUIDE).result is Result.PASSED
    with pytest.raises(FactError, match="winrm"):
        windows.remote_access(facts, CURRENT)


@pytest.mark.parametrize(
    ("text", "letters"),
    [
        ('"E:\\App\\svc.exe" -k', ["E"]),
        ("http://example/x C:\\a d:\\b", ["C", "D"]),
        ("%SystemRoot%\\system32;\\\\?\\Volume{0b1e}\\data", []),
        ("\\\\?\\F:\\data", ["F"]),
    ],
)
def test_drive_letters(text, letters):
    assert windows.drive_letters(text) == letters


# -- the collection script and gather() ---------------------------------------------------


def test_collection_script_is_read_only_ascii_powershell_2():
    script = COLLECTION_SCRIPT
    assert SCRIPT_MARKER in script
    script.encode("ascii")
    for ps3_only in (
        "ConvertTo-Json ",
        "ConvertFrom-Json",
        "[ordered]",
        "[pscustomobject]",
        " -in ",
        " -notin ",
        "Get-CimInstance",
        "$PSItem",
    ):
        assert ps3_only not in script, ps3_only
    writes = re.compile(
        r"\b(Set|Remove|Add|Install|Uninstall|Enable|Disable|Clear|Stop|Start|Restart|Register|Unregister)-\w+|\.Download\(|\.Install\(|CreateUpdateInstaller|CreateUpdateDownloader|New-Item|Out-File|reg add",
        re.I,
    )
    assert not writes.findall(script)
    parts = re.findall(r"^Invoke-Part '(\w+)'", script, re.M)
    assert tuple(parts) == PARTS
    assert script.rstrip().endswith("exit 0")
    assert script.count("exit ") == 1


class FakeClient:
    def __init__(self, document):
        self.document = document
        self.calls: list[tuple[str, float]] = []
        self.commands_run = 0

    def run_ps(self, script, timeout):
        self.calls.append((script, timeout))
        return self.document


def test_gather_runs_one_script_with_a_generous_deadline():
    data = compliant().to_json()
    client = FakeClient({"meta": data["meta"], "parts": data["parts"]})
    facts = gather(client, admin_user="vmadmin")
    assert len(client.calls) == 1 and client.calls[0][1] >= 900
    assert client.commands_run == 1
    assert facts.admin_user == "vmadmin" and facts.parts == data["parts"]
    assert WindowsFacts.from_json(facts.to_json()).parts == facts.parts


def test_gather_without_parts_is_a_fact_error():
    with pytest.raises(FactError, match="no 'parts'"):
        gather(FakeClient({"Caption": "x"}))


# -- issue 8: no pass on evidence that was not read (each test failed before its fix) -------------

OLD_CRITERIA = "IsInstalled=0 and Type='Software' and IsHidden=0"
CRITICAL_UPDATE = {
    "title": "Security Update for Windows Server 2012 R2 (KB3146706)",
    "msrc_severity": "Critical",
    "kb": ["3146706"],
    "browse_only": False,
}


def _result(check, facts, profile=GUIDE) -> Result:
    try:
        return check(facts, profile).result
    except FactError:
        return Result.ERROR


def test_win004_excludes_hidden_updates():
    criteria = re.search(r'\$criteria = "([^"]+)"', COLLECTION_SCRIPT).group(1)
    assert "IsHidden=1" in criteria and "IsHidden=0" in criteria, criteria
    hidden = edited(lambda p: p["updates"]["updates"].append({**CRITICAL_UPDATE, "is_hidden": True}))
    verdict = windows.latest_updates(hidden, GUIDE)
    assert verdict.result is Result.FAILED and "hidden" in verdict.message
    # facts of a search that left hidden updates out cannot pass
    old = edited(_set("updates", criteria=OLD_CRITERIA))
    with pytest.raises(FactError, match="hidden"):
        windows.latest_updates(old, GUIDE)


def test_win004_accepts_result_code_3():
    partial = edited(_set("updates", result_code=3))
    with pytest.raises(FactError, match="result code 3"):
        windows.latest_updates(partial, GUIDE)
    found = edited(
        lambda p: (p["updates"].update(result_code=3), p["updates"]["updates"].append(CRITICAL_UPDATE))
    )
    assert windows.latest_updates(found, GUIDE).result is Result.FAILED
    for code in (0, 1, 4, 5):
        assert _result(windows.latest_updates, edited(_set("updates", result_code=code))) is Result.ERROR
    assert _result(windows.latest_updates, edited(lambda p: p["updates"].pop("result_code"))) is Result.ERROR


def test_win004_ignores_wsus():
    assert re.search(r"\$searcher\.ServerSelection = 2\b", COLLECTION_SCRIPT)
    wsus = edited(
        _set("updates", server_selection=0, use_wu_server=1, wu_server="http://wsus.contoso.local:8530")
    )
    with pytest.raises(FactError, match=r"WSUS http://wsus\.contoso\.local:8530"):
        windows.latest_updates(wsus, GUIDE)
    with pytest.raises(FactError):
        windows.latest_updates(wsus, CURRENT)
    # a WSUS answer that lists a pending Critical update is still a failure
    found = edited(
        lambda p: (
            p["updates"].update(server_selection=0, use_wu_server=1, wu_server="http://wsus:8530"),
            p["updates"]["updates"].append(CRITICAL_UPDATE),
        )
    )
    assert windows.latest_updates(found, GUIDE).result is Result.FAILED
    # the same WSUS policy does not matter once the search asked Windows Update itself
    direct = edited(_set("updates", server_selection=2, use_wu_server=1, wu_server="http://wsus:8530"))
    assert windows.latest_updates(direct, GUIDE).result is Result.PASSED


def test_win004_missing_update_list_is_an_error():
    assert _result(windows.latest_updates, edited(lambda p: p["updates"].pop("updates"))) is Result.ERROR
    assert _result(windows.latest_updates, edited(_set("updates", updates=None))) is Result.ERROR


WIN006_GAPS = {
    "run keys removed": lambda p: p["drives"].pop("run_keys"),
    "page file settings removed": lambda p: p["drives"].pop("pagefile_settings"),
    "page file usage null": _set("drives", pagefile_usage=None),
    "PagingFiles removed": lambda p: p["drives"].pop("paging_files_reg"),
    "environment null": _set("drives", machine_env=None),
    "a task unreadable": lambda p: p["tasks"]["tasks"].append(
        {"path": "\\Contoso\\Broken", "read_error": "Access is denied."}
    ),
    "a service without path": lambda p: p["services"]["services"].append({"name": "ContosoDb"}),
}


@pytest.mark.parametrize("gap", sorted(WIN006_GAPS))
def test_win006_passes_on_missing_evidence(gap):
    assert _result(windows.only_c_and_d, edited(WIN006_GAPS[gap])) is Result.ERROR


WIN009_GAPS = {
    "built-in Administrator not found": _set("accounts", builtin_admin_name=None, builtin_admin_sid=None),
    "current SID removed": lambda p: p["accounts"].pop("current_sid"),
    "a service without its account": lambda p: p["services"]["services"].append(
        {"name": "ContosoSync", "path": "C:\\x.exe", "start_mode": "Auto", "state": "Running"}
    ),
}


@pytest.mark.parametrize("gap", sorted(WIN009_GAPS))
def test_win009_passes_on_missing_evidence(gap):
    assert _result(windows.no_builtin_administrator, edited(WIN009_GAPS[gap])) is Result.ERROR


@pytest.mark.parametrize(
    "change",
    [lambda p: p["features"].pop("installed"), _set("features", installed=None)],
    ids=["removed", "null"],
)
def test_win010_passes_on_missing_evidence(change):
    facts = edited(change)
    for feature in FEATURES:
        assert _result(functools.partial(windows.unsupported_feature, feature=feature), facts) is Result.ERROR


WIN011_GAPS = {
    "volume_found removed": lambda p: (
        p["bitlocker"].update(namespace_present=True) or p["bitlocker"].pop("namespace_error")
    ),
    "no volume for C:": _set("bitlocker", namespace_present=True, volume_found=False),
    "protection status missing": _set(
        "bitlocker", namespace_present=True, volume_found=True, conversion_status=0
    ),
    "namespace error without reason": _set("bitlocker", wmi_error="", namespace_error=""),
}


@pytest.mark.parametrize("gap", sorted(WIN011_GAPS))
def test_win011_passes_on_missing_evidence(gap):
    assert _result(windows.no_bitlocker_os, edited(WIN011_GAPS[gap])) is Result.ERROR


# -- the error model of the facts (issue 8) ------------------------------------------------------


def test_collection_script_records_status_time_and_counts_per_part():
    invoke = COLLECTION_SCRIPT[COLLECTION_SCRIPT.index("function Invoke-Part") :]
    invoke = invoke[: invoke.index("\n}\n")]
    for token in ("$value['_status'] = 'ok'", "'timeout'", "'error'", "_error", "_elapsed_ms", "_counts"):
        assert token in invoke, token
    assert "[System.TimeoutException]" in invoke


def test_collection_script_never_reports_a_failed_read_as_nothing():
    script = COLLECTION_SCRIPT
    assert "-ErrorAction SilentlyContinue" not in script
    assert not re.findall(r"\$(d|x|r)\['\w+'\] = \$null", script)
    # WMI methods report failure in ReturnValue: BitLocker's status is checked, not cast from $null
    assert script.count("ReturnValue -ne '0'") == 2
    assert "New-Absent" in script and "New-Unreadable" in script


def test_update_search_has_its_own_deadline_inside_the_collection_deadline():
    from pytest_vmimage.facts.windows import COLLECTION_TIMEOUT, UPDATE_SEARCH_TIMEOUT

    assert f"WaitOne({int(UPDATE_SEARCH_TIMEOUT * 1000)})" in COLLECTION_SCRIPT
    assert f"within {int(UPDATE_SEARCH_TIMEOUT)} s" in COLLECTION_SCRIPT
    assert UPDATE_SEARCH_TIMEOUT < COLLECTION_TIMEOUT


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {"_status": "timeout", "_error": "did not finish within 600 s", "_elapsed_ms": 600000},
            r"collecting 'updates' timed out on the VM after 600 s: did not finish",
        ),
        (
            {
                "_status": "error",
                "_error": "Access is denied.",
                "_error_type": "System.UnauthorizedAccessException",
            },
            r"collecting 'updates' failed on the VM: Access is denied\. \(System\.UnauthorizedAccessException\)",
        ),
        ({"search_ok": True}, r"did not report completion"),
        ({"_status": "ok", "search_ok": True}, r"carries no item counts"),
        ("\ufffd", r"is not an object"),
    ],
    ids=["timeout", "error", "no status", "no counts", "not an object"],
)
def test_a_part_that_did_not_complete_is_an_error_naming_it(state, message):
    facts = compliant()
    facts.parts["updates"] = state
    with pytest.raises(FactError, match=message):
        windows.latest_updates(facts, GUIDE)


def test_facts_are_values_absent_or_unreadable():
    facts = compliant()
    policy = facts.fact("rdp", "policy_fDenyTSConnections")
    assert policy.absent and not policy.is_value and policy.value_or_absent(None) is None
    assert "not present" in policy.absent_reason
    with pytest.raises(FactError, match="rdp.policy_fDenyTSConnections is absent"):
        policy.need()
    facts.parts["rdp"]["fDenyTSConnections"] = {"_unreadable": "Access is denied."}
    with pytest.raises(FactError, match="rdp.fDenyTSConnections could not be read: Access is denied"):
        facts.fact("rdp", "fDenyTSConnections").value_or_absent(0)
    facts.parts["ipv6"]["addresses"].pop()
    assert "reported 3 items, the facts carry 2" in facts.fact("ipv6", "addresses").unreadable
    facts.parts["os"]["sku"] = True
    with pytest.raises(FactError, match="os.sku is garbled: expected a number"):
        facts.value("os", "sku", int)


def test_unreadable_rdp_setting_is_an_error_not_a_pass():
    facts = edited(_set("rdp", fDenyTSConnections={"_unreadable": "Access is denied."}))
    assert _result(windows.remote_access, facts, CURRENT) is Result.ERROR
    facts = edited(_set("rdp", fw_current_profiles=0))
    assert _result(windows.remote_access, facts, CURRENT) is Result.ERROR


# -- which broken Windows facts would make a check pass? -----------------------------------------


def test_win003_a_big_data_disk_labelled_temporary_storage_still_counts():
    def change(p):
        _disk(2, 2 * 2**40)(p)
        p["disks"]["logical"][2]["volume_name"] = "Temporary Storage"

    facts = edited(change)
    assert windows.data_disk_size(facts, GUIDE).result is Result.FAILED


def test_win004_criteria_must_ask_for_missing_updates():
    facts = edited(_set("updates", criteria="IsInstalled=1 and IsHidden=0 or IsInstalled=1 and IsHidden=1"))
    with pytest.raises(FactError, match="IsInstalled=0"):
        windows.latest_updates(facts, GUIDE)


@pytest.mark.parametrize(
    ("text", "letters"),
    [("E:/data/app.exe", ["E"]), ("DATA_ROOT=F:", ["F"]), ('"G:" -x', ["G"]), ("-k:x http://a:80/", [])],
)
def test_win006_drive_letters_with_slashes_or_alone(text, letters):
    assert windows.drive_letters(text) == letters


def test_win011_bitlocker_installed_without_its_wmi_namespace_is_an_error():
    facts = edited(lambda p: p["features"]["installed"].append("BitLocker"))
    with pytest.raises(FactError, match="BitLocker is installed"):
        windows.no_bitlocker_os(facts, GUIDE)


def _powershell_delimiters(script: str) -> list[str]:
    """Unbalanced (), {} and [] of a PowerShell script outside strings and comments (a cheap
    syntax check: no PowerShell is available here to parse the script)."""
    problems, stack, i, line = [], [], 0, 1
    pairs = {")": "(", "}": "{", "]": "["}
    while i < len(script):
        ch = script[i]
        if ch == "\n":
            line += 1
        elif ch == "#":
            while i < len(script) and script[i] != "\n":
                i += 1
            continue
        elif ch == "'":
            i += 1
            while i < len(script) and not (script[i] == "'" and script[i + 1 : i + 2] != "'"):
                i += 2 if script[i : i + 2] == "''" else 1
        elif ch == '"':
            i += 1
            while i < len(script) and script[i] != '"':
                i += 2 if script[i] == "`" else 1
        elif ch in "({[":
            stack.append((ch, line))
        elif ch in ")}]":
            if not stack or stack[-1][0] != pairs[ch]:
                problems.append(f"line {line}: unexpected {ch}")
            else:
                stack.pop()
        i += 1
    problems += [f"line {n}: {ch} never closed" for ch, n in stack]
    return problems


def test_collection_script_delimiters_are_balanced():
    assert _powershell_delimiters(COLLECTION_SCRIPT) == []
    assert _powershell_delimiters("if ($a) { $b = @('x}', \"y)\") # }\n}") == []
    assert _powershell_delimiters("foreach ($x in $y) { $z = ($x") == [
        "line 1: { never closed",
        "line 1: ( never closed",
    ]


def test_recorded_windows_facts_mask_secret_environment_and_run_key_values():
    def change(p):
        p["drives"]["machine_env"].update(DB_PASSWORD="Pa55w0rd!", API_TOKEN="abc", TEMP="%SystemRoot%\\TEMP")
        p["drives"]["run_keys"]["HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"]["Sync_Secret"] = (
            "x"
        )

    facts = edited(change)
    text = json.dumps(facts.to_json())
    assert (
        "Pa55w0rd!" not in text and '"API_TOKEN": "REDACTED"' in text and '"Sync_Secret": "REDACTED"' in text
    )
    assert '"TEMP": "%SystemRoot%\\\\TEMP"' in text
    assert (
        facts.parts["drives"]["machine_env"]["DB_PASSWORD"] == "Pa55w0rd!"
    )  # the checks see the VM as it is
    assert WindowsFacts.from_json(compliant().to_json()).parts == compliant().parts


def test_win010_hyper_v_is_not_on_the_current_list():
    """REQUIREMENTS profile table: in `current`, Hyper-V is no longer unsupported (nested
    virtualization is supported); guide-2016 keeps the 13 features."""
    facts = edited(_feature("Hyper-V"))
    assert windows.unsupported_feature(facts, GUIDE, "Hyper-V").result is Result.FAILED
    verdict = windows.unsupported_feature(facts, CURRENT, "Hyper-V")
    assert verdict.result is Result.NOT_APPLICABLE and "nested virtualization" in verdict.message


def test_get_gives_a_read_value_or_a_fact_error():
    facts = compliant()
    assert facts.get("os", "caption") == "Microsoft Windows Server 2012 R2 Datacenter"
    with pytest.raises(FactError, match="rdp.policy_fDenyTSConnections is absent"):
        facts.get("rdp", "policy_fDenyTSConnections")


def _captured_without_sysprep(parts: dict) -> None:
    """review F36 / WIN-007: the build VM's deployment (2016-01-10) and Microsoft's generalize of the
    base (2016-01-05) carried in a VHD captured without sysprep; this VM booted on 2016-03-02."""
    sysprep = parts["sysprep"]
    text = (
        json.dumps(sysprep["panther"]).replace("2016-03-01", "2016-01-10").replace("2016-02-29", "2016-01-05")
    )
    sysprep["panther"] = json.loads(text)
    sysprep["clone_tag"] = ["Tue Jan 05 16:02:11 2016"]
    parts["os"]["install_date"] = "2016-01-10T10:24:51Z"
    parts["os"]["last_boot"] = "2016-03-02T08:58:12Z"


@pytest.mark.parametrize("profile", PROFILES, ids=["guide-2016", "current"])
def test_win007_captured_without_sysprep_is_not_a_pass(profile):
    """F36: deployment evidence that predates this VM's boot is not this VM's: error, never pass."""
    with pytest.raises(FactError, match="cannot tie the deployment evidence to this VM.*without sysprep"):
        windows.generalized(edited(_captured_without_sysprep), profile)


@pytest.mark.parametrize(
    "boot, tied",
    [
        ("2016-03-01T10:26:05Z", True),  # the reboot between specialize and oobeSystem
        ("2016-03-01T11:24:50Z", True),
        ("2016-03-01T11:24:52Z", False),  # rebooted after the deployment: cannot tell
        ("2016-03-01T09:24:50Z", False),  # booted before the specialize that set the install date
    ],
)
def test_win007_deployment_must_be_tied_to_this_boot(boot, tied):
    facts = edited(lambda p: p["os"].update(last_boot=boot))
    if tied:
        assert windows.generalized(facts, GUIDE).result is Result.PASSED
    else:
        with pytest.raises(FactError, match="cannot tie the deployment evidence"):
            windows.generalized(facts, GUIDE)


def test_win007_a_real_failure_is_reported_before_the_untied_boot():
    def change(parts):
        _captured_without_sysprep(parts)
        parts["sysprep"]["image_state"] = "IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE"

    assert windows.generalized(edited(change), GUIDE).result is Result.FAILED


def _feature_list_failed(parts: dict) -> None:
    parts["features"]["source"] = "unavailable"
    parts["features"]["installed"] = {
        "_unreadable": "Get-WindowsFeature failed: The term 'Get-WindowsFeature' is not recognized"
    }


def test_win011_bitlocker_not_installed_needs_a_feature_list_that_was_read():
    """F24: no BitLocker WMI namespace and no readable feature list is an error, not 'not installed'."""

    def change(parts):
        _feature_list_failed(parts)
        parts["features"]["server_feature_ids"] = {"_unreadable": "Win32_ServerFeature: Invalid class"}

    with pytest.raises(FactError, match="cannot be listed"):
        windows.no_bitlocker_os(edited(change), GUIDE)


@pytest.mark.parametrize("ids, result", [([481, 9, 67], Result.PASSED), ([481, 61, 67], Result.ERROR)])
def test_win011_win32_serverfeature_fallback_names_bitlocker(ids, result):
    """F24: where Get-WindowsFeature failed, Win32_ServerFeature ID 61 (BitLocker Drive Encryption)
    without the WMI namespace is an error; without it the pass says which list it read."""

    def change(parts):
        _feature_list_failed(parts)
        parts["features"]["server_feature_ids"] = ids

    assert _result(windows.no_bitlocker_os, edited(change)) is result
    if result is Result.PASSED:
        assert "Win32_ServerFeature" in windows.no_bitlocker_os(edited(change), GUIDE).actual


def _admin_task(parts: dict) -> None:
    parts["tasks"]["tasks"].append(
        {
            "path": "\\Contoso\\NightlyImport",
            "enabled": True,
            "trigger_types": [2],
            "actions": [{"path": "C:\\Contoso\\import.exe", "arguments": "", "working_directory": ""}],
            "run_as": "CERTVM01\\Administrator",
        }
    )


def test_win009_task_running_as_builtin_administrator_fails():
    """F22 (a): a scheduled task with the built-in Administrator as principal breaks at deployment."""
    verdict = windows.no_builtin_administrator(edited(_admin_task), GUIDE)
    assert verdict.result is Result.FAILED
    assert "scheduled task \\Contoso\\NightlyImport runs as CERTVM01\\Administrator" in verdict.actual


def test_win009_unreadable_task_definition_is_an_error():
    def change(parts):
        parts["tasks"]["tasks"].append({"path": "\\Contoso\\Broken", "read_error": "Access is denied"})

    with pytest.raises(FactError, match="which account these scheduled tasks run as"):
        windows.no_builtin_administrator(edited(change), GUIDE)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["drives"]["startup_items"].update(
            {"C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp\\sync.lnk": "E:\\sync.exe  "}
        ),
        lambda p: p["services"]["services"].append(
            {
                "name": "ContosoDB",
                "path": "C:\\Contoso\\db.exe -datadir E:data\\db",
                "start_mode": "Auto",
                "state": "Running",
                "start_name": "LocalSystem",
            }
        ),
    ],
    ids=["all-users-startup-folder", "drive-relative-E:data"],
)
def test_win006_startup_folder_and_drive_relative_paths_fail(change):
    """F22 (c): the Startup folders and ``E:data`` name drive E:."""
    verdict = windows.only_c_and_d(edited(change), GUIDE)
    assert verdict.result is Result.FAILED and "E:" in verdict.actual


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["drives"].pop("startup_items"),
        lambda p: p["drives"]["startup_items"].update({"C:\\x\\a.cmd": {"_unreadable": "Access is denied"}}),
    ],
    ids=["startup-items-missing", "startup-item-unreadable"],
)
def test_win006_unreadable_startup_folder_is_an_error(change):
    with pytest.raises(FactError):
        windows.only_c_and_d(edited(change), GUIDE)


@pytest.mark.parametrize(
    "change, result",
    [
        (lambda p: None, Result.PASSED),
        (lambda p: p["drives"]["machine_env"].update(CONTOSO_HOME="G:\\contoso"), Result.FAILED),
    ],
    ids=["passed", "failed"],
)
def test_win006_says_the_default_user_hive_is_not_judged(change, result):
    """The default user's hive is never loaded, so WIN-006 must not imply its Run keys were checked."""
    verdict = windows.only_c_and_d(edited(change), GUIDE)
    assert verdict.result is result
    assert "(C:\\Users\\Default\\NTUSER.DAT) is not read" in verdict.message
    assert "would require loading it (a change to the VM)" in verdict.message
    assert "a Run key there is not judged" in verdict.message


@pytest.mark.parametrize(
    "text, letters",
    [("-datadir E:data\\db", ["E"]), ('"F:logs"', ["F"]), ("ROOT=G:x", ["G"]), ("http://host:80 a-b:c", [])],
)
def test_win006_drive_relative_paths(text, letters):
    assert drive_letters(text) == letters


def test_startup_script_secrets_are_masked_in_saved_facts():
    facts = edited(
        lambda p: p["drives"]["startup_items"].update(
            {"C:\\s\\a.cmd": "net use Z: \\\\srv\\x /user:bob password=Hunter2"}
        )
    )
    saved = json.dumps(facts.to_json())
    assert "Hunter2" not in saved and "net use Z:" in saved


#: What writes to the VM from PowerShell: files, registry, services, processes, ACLs, WMI methods.
_WRITES_TO_VM = re.compile(
    r"(?i)\breg(\.exe)?\s+(load|unload|add|delete|import|restore|copy)\b|\breg\.exe\b|Copy\(|Delete\("
    r"|File\]::Create\(|::(Write|Append|Create(Directory|Text)|Move|Replace|Encrypt|Set)\w*\("
    r"|\.(Save|SetValue|CreateSubKey|Delete\w*|Put)\("
    r"|\b(Copy|Move|Remove|Rename|Set|New|Clear)-Item(Property)?\b|\b(Set|Add|Clear)-Content\b|\bOut-File\b"
    r"|\bTee-Object\b|\bExport-\w+|\b(Start|Stop|Restart|Set|Suspend|New|Remove)-Service\b|\bStart-Process\b"
    r"|\bStop-Process\b|\bSet-Acl\b|\bInvoke-(WmiMethod|CimMethod)\b|\b(Set|Remove)-(WmiInstance|WmiObject)\b"
    r"|\b(Enable|Disable|Install|Uninstall|Register|Unregister)-\w+|\bSet-ExecutionPolicy\b"
    r"|\b(schtasks|netsh|bcdedit|icacls|takeown|sc\.exe|mkdir|rmdir|del)\b"
    r"|(?:^|\s)[1-6*]?>{1,2}(?![>&])\s*[\w$'\"(\\]"  # redirection to a file
)


@pytest.mark.parametrize(
    "writer",
    [
        "& reg.exe load 'HKU\\x' $copy",
        "reg load HKU\\x C:\\x.dat",
        "[IO.File]::Copy($a, $b, $true)",
        "[IO.File]::Delete($b)",
        "[IO.File]::WriteAllText($p, $t)",
        "Remove-Item -LiteralPath $p",
        "Set-ItemProperty -Path $k -Name x -Value 1",
        "New-Item -ItemType Directory $p",
        "Copy-Item $a $b",
        "$s | Out-File $p",
        "$key.SetValue('x', 1)",
        "Stop-Service wuauserv",
        "'x' > $env:TEMP\\a.txt",
        "Invoke-WmiMethod -Name Create",
        "[IO.File]::Create($p)",
        "[IO.Directory]::CreateDirectory($p)",
        "Get-Content $a >> $b",
    ],
)
def test_read_only_guard_catches_writers(writer):
    """The guard below is not vacuous: each of these writes to the VM and is caught."""
    assert _WRITES_TO_VM.search(writer)


def test_collection_script_is_read_only():
    """The suite never changes the VM it inspects: the collection script has no writing verb
    (no ``reg load`` of the default user's hive, no temporary copy, no deletion)."""
    found = [
        f"line {number}: {match.group(0)!r} in {line.strip()[:100]}"
        for number, line in enumerate(COLLECTION_SCRIPT.splitlines(), 1)
        for match in _WRITES_TO_VM.finditer(line)
    ]
    assert found == []


def _rdp_rule(**overrides) -> dict:
    rule = {
        "name": "Contoso block RDP",
        "rdp_group": False,
        "enabled": True,
        "direction": 1,
        "action": 0,
        "profiles": 2147483647,
        "protocol": 6,
        "local_ports": "3389",
        "remote_addresses": "*",
        "application_name": "",
        "service_name": "",
    }
    rule.update(overrides)
    return rule


def _scope_group_rules(addresses: str):
    def change(parts):
        for rule in parts["rdp"]["fw_rules"]:
            rule["remote_addresses"] = addresses

    return change


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["rdp"]["fw_rules"].append(_rdp_rule()),
        lambda p: p["rdp"]["fw_rules"].append(_rdp_rule(protocol=256, local_ports="*")),
        lambda p: p["rdp"]["fw_rules"].append(
            _rdp_rule(local_ports="3000-4000", remote_addresses="0.0.0.0/1")
        ),
        _scope_group_rules("10.0.0.0/255.0.0.0"),
        _scope_group_rules("LocalSubnet"),
    ],
    ids=["block-rule", "block-any-protocol", "block-port-range", "allow-scoped-10/8", "allow-local-subnet"],
)
@pytest.mark.parametrize("profile", PROFILES, ids=["guide-2016", "current"])
def test_win013_rdp_block_rules_and_scoped_allow_rules_do_not_pass(change, profile):
    """F37: a block rule on the RDP port, or allow rules all scoped to some remote addresses,
    leave RDP unreachable from the Internet: warning in guide-2016, failure in current."""
    verdict = windows.remote_access(edited(change), profile)
    assert verdict.result is (Result.FAILED if profile.is_current else Result.WARNING)
    assert "not reachable" in verdict.actual


@pytest.mark.parametrize(
    "rule",
    [
        _rdp_rule(local_ports="445"),
        _rdp_rule(application_name="C:\\Contoso\\app.exe"),
        _rdp_rule(service_name="dnscache", application_name="%SystemRoot%\\system32\\svchost.exe"),
        _rdp_rule(enabled=False),
        _rdp_rule(action=1, remote_addresses="10.0.0.0/8"),
    ],
    ids=["other-port", "other-program", "other-service", "disabled", "extra-scoped-allow"],
)
def test_win013_rules_that_do_not_touch_rdp_keep_it_open(rule):
    verdict = windows.remote_access(edited(lambda p: p["rdp"]["fw_rules"].append(rule)), CURRENT)
    assert verdict.result is Result.PASSED


# -- WIN-014 Windows VM agent, WIN-001 today (Windows-shaped VMs of tests/winrm_windows_shapes.py) --


def _agent(facts: WindowsFacts, **changes) -> WindowsFacts:
    """``facts`` with agent keys (or ``service`` entries of WindowsAzureGuestAgent) changed."""

    def change(parts):
        service = changes.pop("service", {})
        parts["agent"]["services"]["WindowsAzureGuestAgent"].update(service)
        parts["agent"].update(changes)

    return edited(change, facts)


@pytest.mark.parametrize(
    ("shape", "current", "guide", "text"),
    [
        ("ws2025-azure-core", Result.PASSED, Result.PASSED, "WindowsAzureGuestAgent 2.7.41491.1102"),
        (
            "ws2022-old-agent",
            Result.FAILED,
            Result.WARNING,
            "version 2.7.41491.949 is older than 2.7.41491.1010",
        ),
        ("agent-disabled", Result.FAILED, Result.WARNING, "WindowsAzureGuestAgent is set to start Disabled"),
        ("agent-missing", Result.FAILED, Result.WARNING, "not installed (no WindowsAzureGuestAgent service)"),
        ("ws2012r2", Result.PASSED, Result.PASSED, "2.7.41491.1010"),
    ],
)
def test_win014_windows_vm_agent(shape, current, guide, text):
    facts = shaped(shape)
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is current, verdict
    assert text in (verdict.message if current is Result.FAILED else verdict.actual), verdict
    warned = windows.windows_agent(facts, GUIDE)
    assert warned.result is guide, warned
    if guide is Result.WARNING:
        assert "guide-2016 profile: this rule was added to the catalogue in 2026-11" in warned.message


def test_win014_judges_the_executable_the_service_runs_not_the_newest_folder():
    """Several GuestAgent_* folders coexist: the version is the running executable's."""
    facts = shaped("ws2022-old-agent")
    assert facts.value("agent", "folders", list)[-1].startswith("GuestAgent_2.7.41491.1102")
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is Result.FAILED and "GuestAgent_2.7.41491.949" in verdict.actual


@pytest.mark.parametrize(
    ("version", "result"),
    [
        ("2.7.41491.1010", Result.PASSED),
        ("2.7.41491.1009", Result.FAILED),
        ("2.7.41491.999", Result.FAILED),  # compared as numbers: "999" > "1010" as text
        ("2.7.1198.778", Result.FAILED),
        ("2.8.0.0", Result.PASSED),
    ],
)
def test_win014_minimum_version_boundary(version, result):
    facts = _agent(shaped("ws2025-azure-core"), file_version=version)
    assert windows.windows_agent(facts, CURRENT).result is result


@pytest.mark.parametrize(
    ("service", "result", "text"),
    [
        ({"start_mode": "Auto", "delayed_autostart": 1}, Result.PASSED, "start Automatic (delayed)"),
        ({"start_mode": "Manual", "state": "Stopped"}, Result.FAILED, "set to start Manual, not Automatic"),
        ({"start_mode": "Disabled", "state": "Stopped"}, Result.FAILED, "set to start Disabled"),
    ],
)
def test_win014_start_mode(service, result, text):
    verdict = windows.windows_agent(_agent(shaped("ws2025-azure-core"), service=service), CURRENT)
    assert verdict.result is result and text in (verdict.actual + verdict.message), verdict


def test_win014_an_image_path_to_a_missing_executable_fails():
    exe = "C:\\WindowsAzure\\GuestAgent_2.7.41491.1102_2024-04-05_011501\\WindowsAzureGuestAgent.exe"
    facts = _agent(
        shaped("ws2025-azure-core"), file_version={"_absent": f"the service executable {exe} does not exist"}
    )
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is Result.FAILED and "does not exist" in verdict.message


@pytest.mark.parametrize(
    "changes",
    [
        {"file_version": {"_unreadable": "reading C:\\WindowsAzure\\...: Access is denied."}},
        {"file_version": "0.0.0.0"},
        {"file_version": "2.7.41491"},
        {"file_version": None},
        {"services": {"_unreadable": "Win32_Service: Access denied"}},
        {"service": {"start_mode": "Automatic"}},  # not a Win32_Service StartMode
        {"service": {"delayed_autostart": {"_unreadable": "Access is denied."}}},
        {"service": {"delayed_autostart": None}},
    ],
)
def test_win014_facts_it_cannot_read_are_errors(changes):
    facts = _agent(shaped("ws2025-azure-core"), **changes)
    for profile in PROFILES:
        with pytest.raises(FactError):
            windows.windows_agent(facts, profile)


def test_win014_a_disabled_service_fails_even_when_its_version_cannot_be_read():
    facts = _agent(
        shaped("ws2025-azure-core"),
        service={"start_mode": "Disabled"},
        file_version={"_unreadable": "Access is denied."},
    )
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is Result.FAILED and "its version cannot be read" in verdict.message


@pytest.mark.parametrize(
    ("run_date", "result"),
    [(dt.date(2027, 1, 12), Result.PASSED), (dt.date(2027, 1, 13), Result.FAILED)],
)
def test_win001_2016_is_judged_against_its_end_of_support(monkeypatch, run_date, result):
    """Windows Server 2016's extended support ends 2027-01-12 (supported through that day)."""
    monkeypatch.setattr(windows, "run_date", lambda: run_date)
    facts = edited(
        _set("os", version="10.0.14393", build="14393", caption="Microsoft Windows Server 2016 Datacenter"),
        shaped("ws2025-azure-core"),
    )
    verdict = windows.approved_base(facts, CURRENT)
    assert verdict.result is result, verdict
    if result is Result.FAILED:
        assert "out of support: extended support ended 2027-01-12" in verdict.message
    assert windows.approved_base(compliant(), GUIDE).result is Result.PASSED  # guide-2016: no dates


def test_win001_2012_r2_is_out_of_support_under_current_only():
    verdict = windows.approved_base(shaped("ws2012r2"), CURRENT)
    assert verdict.result is Result.FAILED
    assert "version 2012 R2 is not an approved base (extended support ended 2023-10-10)" in verdict.message
    assert windows.approved_base(shaped("ws2012r2"), GUIDE).result is Result.PASSED


@pytest.mark.parametrize(
    ("edition_id", "sku", "current", "guide"),
    [
        ("ServerTurbineCor", 408, Result.PASSED, Result.FAILED),
        ("ServerTurbine", 407, Result.PASSED, Result.FAILED),
        ("ServerDatacenterCor", 12, Result.PASSED, Result.FAILED),  # guide-2016: 2025 is not a base
        ("", 407, Result.PASSED, Result.FAILED),  # EditionID blank: OperatingSystemSKU decides
        ("ServerStandard", 7, Result.FAILED, Result.FAILED),
        ("ServerDatacenterEval", 80, Result.FAILED, Result.FAILED),
        ("ServerTurbineEval", 407, Result.FAILED, Result.FAILED),
    ],
)
def test_win001_datacenter_and_azure_edition(edition_id, sku, current, guide):
    facts = edited(_set("os", edition_id=edition_id, sku=sku), shaped("ws2025-azure-core"))
    assert windows.approved_base(facts, CURRENT).result is current
    assert windows.approved_base(facts, GUIDE).result is guide


def test_win001_azure_edition_is_not_a_guide_2016_edition():
    facts = edited(
        _set("os", version="6.3.9600", build="9600", edition_id="ServerTurbine", sku=407), compliant()
    )
    verdict = windows.approved_base(facts, GUIDE)
    assert verdict.result is Result.FAILED and "not the Datacenter edition" in verdict.message


def test_collection_script_reads_the_agent_and_the_build():
    agent = COLLECTION_SCRIPT[COLLECTION_SCRIPT.index("Invoke-Part 'agent'") :]
    for token in (
        "Win32_Service -Filter",
        "'ImagePath'",
        "'DelayedAutostart'",
        "FilePrivatePart",
        "GuestAgent_*",
        "HKLM:\\SOFTWARE\\Microsoft\\GuestAgent",
        "*Azure VM Agent*",
        "Test-NotFound",
    ):
        assert token in agent, token
    assert "$d['current_build'] = [string]$cv.CurrentBuild" in COLLECTION_SCRIPT
    assert (
        "$d['edition_id'] = Read-RegValue 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion' 'EditionID'"
        in (COLLECTION_SCRIPT)
    )


def test_win001_annual_channel_23h2_is_not_a_2022_base():
    """Build 25398 (Windows Server, version 23H2, Azure Edition) lies between 2022 and 2025: it is
    none of the listed releases, so it fails instead of passing as 2022."""
    facts = edited(_set("os", version="10.0.25398", build="25398"), shaped("ws2025-azure-core"))
    verdict = windows.approved_base(facts, CURRENT)
    assert verdict.result is Result.FAILED
    assert "Windows Server build 10.0.25398 is not an approved base" in verdict.message


# -- review-win findings F1...F7 (adversarial review of WIN-001 current / WIN-014) ------------


def _release(version: str, edition_id: str, sku: int, base: str = "ws2025-azure-core") -> WindowsFacts:
    build = version.rsplit(".", 1)[1]
    return edited(_set("os", version=version, build=build, edition_id=edition_id, sku=sku), shaped(base))


@pytest.mark.parametrize(
    ("version", "edition_id", "sku"),
    [
        ("10.0.16299", "ServerDatacenterACor", 145),  # 1709
        ("10.0.17134", "ServerDatacenterACor", 145),  # 1803
        ("10.0.17763", "ServerDatacenterACor", 145),  # 1809: the build of LTSC 2019 too
        ("10.0.17763", "ServerDatacenter", 145),
        ("10.0.17763", "", 146),
        ("10.0.18362", "ServerDatacenterCor", 12),  # 1903
        ("10.0.18363", "ServerDatacenterCor", 12),  # 1909
        ("10.0.19041", "ServerDatacenterCor", 12),  # 2004
        ("10.0.19042", "ServerDatacenterCor", 12),  # 20H2
    ],
)
def test_f1_semi_annual_channel_releases_fail_win001(version, edition_id, sku):
    """F1: a Semi-Annual Channel build or edition is not LTSC 2016/2019 (builds exact, not floors)."""
    verdict = windows.approved_base(_release(version, edition_id, sku), CURRENT)
    assert verdict.result is Result.FAILED, verdict
    if sku in (145, 146):
        assert f"OperatingSystemSKU {sku}" in verdict.message
    else:
        assert f"Windows Server build {version} is not an approved base" in verdict.message


@pytest.mark.parametrize("build", [22000, 25110, 25398, 26040, 26200, 26311, 27842, 14300])
def test_f2_unknown_and_preview_builds_fail_naming_the_build_win001(build):
    """F2: only the exact LTSC builds are releases; any other build fails and is named."""
    verdict = windows.approved_base(_release(f"10.0.{build}", "ServerTurbineCor", 408), CURRENT)
    assert verdict.result is Result.FAILED
    assert f"Windows Server build 10.0.{build} is not an approved base" in verdict.message


@pytest.mark.parametrize(
    ("version", "sp_major", "release"),
    [("6.1.7601", 1, "2008 R2 SP1"), ("6.2.9200", 0, "2012"), ("6.3.9600", 0, "2012 R2")],
)
def test_f1_guide_2016_releases_are_still_read_by_major_minor(version, sp_major, release):
    facts = edited(_set("os", version=version, build=version.rsplit(".", 1)[1], sp_major=sp_major))
    verdict = windows.approved_base(facts, GUIDE)
    assert verdict.result is Result.PASSED and f"Windows Server {release} " in verdict.actual
    assert windows.approved_base(facts, CURRENT).result is Result.FAILED


def _rdagent(facts: WindowsFacts, entry: dict | None = None, **values) -> WindowsFacts:
    def change(parts):
        services = parts["agent"]["services"]
        services["RdAgent"] = entry if entry is not None else {**services["RdAgent"], **values}

    return edited(change, facts)


@pytest.mark.parametrize(
    ("facts_of", "text"),
    [
        (lambda f: _rdagent(f, start_mode="Disabled", state="Stopped"), "RdAgent is set to start Disabled"),
        (lambda f: _rdagent(f, start_mode="Manual", state="Stopped"), "RdAgent is set to start Manual"),
        (lambda f: _rdagent(f, {"_absent": "no service named RdAgent"}), "(no RdAgent service)"),
        (lambda f: _rdagent(f, image_path="C:\\Tools\\nssm.exe"), "runs nssm.exe, not WaAppAgent.exe"),
    ],
)
def test_f3_rdagent_is_judged_like_the_guest_agent_win014(facts_of, text):
    facts = facts_of(shaped("ws2025-azure-core"))
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is Result.FAILED and text in verdict.message, verdict
    assert windows.windows_agent(facts, GUIDE).result is Result.WARNING


@pytest.mark.parametrize(
    "facts_of",
    [
        lambda f: _agent(f, service={"state": "Stopped"}),
        lambda f: _rdagent(f, state="Stopped"),
    ],
)
def test_f3_a_stopped_agent_on_the_checked_vm_warns_win014(facts_of):
    """The start mode is the image's; the state is this VM's (maybe outside Azure): it warns."""
    for profile in PROFILES:
        verdict = windows.windows_agent(facts_of(shaped("ws2025-azure-core")), profile)
        assert verdict.result is Result.WARNING, verdict
        assert "is Stopped on this VM although set to start automatically" in verdict.message


@pytest.mark.parametrize(
    ("image_path", "exe", "version", "text"),
    [
        (
            "%SystemRoot%\\System32\\svchost.exe -k netsvcs",
            "C:\\Windows\\System32\\svchost.exe",
            "10.0.26100.1",
            "runs svchost.exe, not WindowsAzureGuestAgent.exe",
        ),
        ('"C:\\Tools\\nssm.exe"', "C:\\Tools\\nssm.exe", "2.24.101.0", "runs nssm.exe"),
        (
            "C:\\WindowsAzure\\GuestAgent_3\\WindowsAzureGuestAgent.exe",
            "C:\\WindowsAzure\\GuestAgent_3\\WindowsAzureGuestAgent.exe",
            "3.0.0.0",
            "file version 3.0.0.0 is not a version 2 Azure VM agent",
        ),
    ],
)
def test_f4_the_service_must_run_the_agent_executable_win014(image_path, exe, version, text):
    facts = _agent(
        shaped("ws2025-azure-core"), service={"image_path": image_path}, exe_path=exe, file_version=version
    )
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is Result.FAILED and text in verdict.message, verdict


def test_f4_a_version_read_from_another_file_than_the_image_path_is_an_error_win014():
    old = "C:\\WindowsAzure\\" + shapes.OLD_AGENT + "\\GuestAgent\\WindowsAzureGuestAgent.exe"
    facts = _agent(shaped("ws2025-azure-core"), service={"image_path": old})  # exe_path: the 1102 one
    for profile in PROFILES:
        with pytest.raises(FactError, match="is not the program the WindowsAzureGuestAgent ImagePath names"):
            windows.windows_agent(facts, profile)


def test_f4_an_image_path_with_variables_and_quotes_matches_its_expanded_program_win014():
    exe = shaped("ws2025-azure-core").value("agent", "exe_path", str)
    quoted = '"' + exe.replace("C:", "%SystemDrive%") + '" -service'
    facts = _agent(shaped("ws2025-azure-core"), service={"image_path": quoted})
    assert windows.windows_agent(facts, CURRENT).result is Result.PASSED


@pytest.mark.parametrize(
    ("edition_id", "sku", "text"),
    [
        ("ServerDatacenter", 7, "EditionID ServerDatacenter, OperatingSystemSKU 7 (Standard)"),
        ("ServerDatacenter", 80, "OperatingSystemSKU 80 (Datacenter Evaluation)"),
        ("ServerTurbine", 8, "EditionID ServerTurbine and OperatingSystemSKU 8 (Datacenter) name different"),
        ("ServerDatacenter", 407, "EditionID ServerDatacenter and OperatingSystemSKU 407"),
    ],
)
def test_f5_edition_id_and_sku_must_agree_win001(edition_id, sku, text):
    verdict = windows.approved_base(_release("10.0.20348", edition_id, sku), CURRENT)
    assert verdict.result is Result.FAILED and text in verdict.message, verdict
    facts = edited(_set("os", edition_id=edition_id, sku=7))  # 2012 R2, guide-2016
    assert windows.approved_base(facts, GUIDE).result is Result.FAILED


@pytest.mark.parametrize(
    "values",
    [
        {"sku": {"_unreadable": "Win32_OperatingSystem.OperatingSystemSKU returned no value"}},
        {"product_type": {"_unreadable": "Win32_OperatingSystem.ProductType returned no value"}},
        {"edition_id": {"_unreadable": "reading HKLM:\\...\\EditionID: Access is denied."}},
        {"sku": 0, "edition_id": ""},  # what [int]$null / [string]$null gave (a v2 document)
        {"product_type": 0},
    ],
)
def test_f6_unread_os_values_are_errors_not_failures_win001(values):
    facts = edited(_set("os", **values), shaped("ws2022-old-agent"))
    for profile in PROFILES:
        with pytest.raises(FactError, match="sku|product_type|edition_id"):
            windows.approved_base(facts, profile)


def test_f6_an_edition_id_not_set_leaves_the_sku_to_decide_win001():
    facts = edited(_set("os", edition_id={"_absent": "value EditionID not set"}), shaped("ws2022-old-agent"))
    assert windows.approved_base(facts, CURRENT).result is Result.PASSED
    os_part = COLLECTION_SCRIPT[COLLECTION_SCRIPT.index("Invoke-Part 'os'") :]
    assert "$d['sku'] = [int]$os.OperatingSystemSKU" not in os_part
    assert "' returned no value')" in os_part
    agent = COLLECTION_SCRIPT[COLLECTION_SCRIPT.index("Invoke-Part 'agent'") :]
    assert "[string]$s[0].State" not in agent


def test_f7_the_vm_clock_is_reported_not_judged_win001(monkeypatch):
    """Support is judged on the run's date: a VM clock in the future does not end a supported
    release, an old clock (or a replay of old facts) does not keep an ended one alive."""
    facts = shaped("ws2022-old-agent")
    facts.meta["collected"] = "2032-05-01T08:00:00Z"
    verdict = windows.approved_base(facts, CURRENT)
    assert verdict.result is Result.PASSED
    assert "the VM clock read 2032-05-01 at collection" in verdict.actual
    old = shaped("ws2012r2")
    old.meta["collected"] = "2016-03-02T09:15:40Z"
    assert windows.approved_base(old, CURRENT).result is Result.FAILED
    monkeypatch.setattr(windows, "run_date", lambda: dt.date(2027, 2, 1))
    v2016 = _release("10.0.14393", "ServerDatacenter", 8)
    v2016.meta["collected"] = "2026-12-01T08:00:00Z"
    verdict = windows.approved_base(v2016, CURRENT)
    assert verdict.result is Result.FAILED and "judged on 2027-02-01" in verdict.message


def test_f3_an_unreadable_rdagent_does_not_hide_a_disabled_guest_agent_win014():
    facts = _rdagent(shaped("agent-disabled"), {"_unreadable": "Win32_Service: Access denied"})
    verdict = windows.windows_agent(facts, CURRENT)
    assert verdict.result is Result.FAILED and "the RdAgent service cannot be read" in verdict.message
    with pytest.raises(FactError):
        windows.windows_agent(_rdagent(shaped("ws2025-azure-core"), {"_unreadable": "denied"}), CURRENT)


def test_review_win_script_tells_absent_from_unreadable_agent_facts():
    """Real-Windows points 2 and 3 of the review: an executable whose folder cannot be listed,
    or a service WMI does not list while its registry key exists, is unread, not absent."""
    agent = COLLECTION_SCRIPT[COLLECTION_SCRIPT.index("Invoke-Part 'agent'") :]
    assert "Open-RegKey ('HKLM:\\SYSTEM\\CurrentControlSet\\Services\\' + $name)" in agent
    assert "' but its registry key exists')" in agent
    assert "[IO.Directory]::GetFileSystemEntries([IO.Path]::GetDirectoryName($exe))" in agent
    facts = _agent(shaped("ws2025-azure-core"), services={"WindowsAzureGuestAgent": {"_unreadable": "x"}})
    with pytest.raises(FactError):
        windows.windows_agent(facts, CURRENT)
