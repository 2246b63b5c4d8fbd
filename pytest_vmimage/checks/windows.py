"""Windows checks (guide §3): pure functions of :class:`WindowsFacts` and a profile.

Every message says what was found, what is required, how to fix it and the
guide section. Checks read facts only through the typed accessors of
:class:`WindowsFacts` (``value``, ``fact``, ``items``, ``services``, ``tasks``...):
a fact that is unreadable, blank, cut short or garbled raises FactError (an
*error* of that check naming the fact), so a check passes only on facts it read.
"""

from __future__ import annotations

import datetime as dt
import ntpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_vmimage.checks import rule_added_2026
from pytest_vmimage.facts.windows import (
    AgentService,
    PantherLog,
    WindowsFacts,
    drive_letters,
    image_program,
    panther_time,
    parse_utc,
)
from pytest_vmimage.verdict import FactError, Result, Verdict

GIB = 2**30
#: Win32_DiskDrive.Size is cylinders x heads x sectors x bytes: it under-reports the
#: true size by less than one cylinder (255 heads x 63 sectors x 512 bytes).
CYLINDER_BYTES = 255 * 63 * 512
SYSPREP = "sysprep.exe /generalize /oobe /shutdown"
#: WIN-001: a declared base image must date from this day or later.
BASE_IMAGE_MIN_DATE = dt.date(2014, 9, 8)
ALLOWED_DRIVES = ("C", "D")

#: ``E:\``, ``E:/`` or a bare ``E:`` (at the end or before a separator), not ``http:`` or ``-k:x``.


# -- helpers ---------------------------------------------------------------------------


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _gib(size_bytes: int) -> str:
    return f"{size_bytes / GIB:.2f} GiB"


#: Windows Server 10.0 builds by exact build number (the LTSC releases). A build is matched
#: exactly, never as a floor: Semi-Annual/Annual Channel releases (1709 16299 ... 20H2 19042,
#: 23H2 25398) and preview builds sit between and after them and are none of these releases.
LTSC_BUILDS = {14393: "2016", 17763: "2019", 20348: "2022", 26100: "2025"}


def windows_release(facts: WindowsFacts) -> str:
    """``2008 R2``, ``2012``, ``2012 R2`` (by major.minor), ``2016``, ``2019``, ``2022``,
    ``2025`` (by exact build, LTSC_BUILDS), else the raw version such as ``10.0.25398``."""
    major, minor, build = facts.os_version
    if (major, minor) == (6, 1):
        return "2008 R2"
    if (major, minor) == (6, 2):
        return "2012"
    if (major, minor) == (6, 3):
        return "2012 R2"
    if (major, minor) == (10, 0) and build in LTSC_BUILDS:
        return LTSC_BUILDS[build]
    return f"{major}.{minor}.{build}"


# -- WIN-001 approved base -------------------------------------------------------------

GUIDE_BASES = ("2008 R2 SP1", "2012", "2012 R2")
#: current: Windows Server 2016 and later, while in extended support (END_OF_SUPPORT).
CURRENT_BASES = ("2016", "2019", "2022", "2025")
#: Last day of extended support of each release (Microsoft lifecycle pages): the release is
#: supported through that day. 2012/2012 R2 and 2016 as the catalogue states them; 2019, 2022
#: and 2025 from the lifecycle pages as remembered (not re-read here).
END_OF_SUPPORT = {
    "2008 R2": dt.date(2020, 1, 14),
    "2008 R2 SP1": dt.date(2020, 1, 14),
    "2012": dt.date(2023, 10, 10),
    "2012 R2": dt.date(2023, 10, 10),
    "2016": dt.date(2027, 1, 12),
    "2019": dt.date(2029, 1, 9),
    "2022": dt.date(2031, 10, 14),
    "2025": dt.date(2034, 11, 14),
}
#: EditionID (exact, Core installations end in ``Cor``) and OperatingSystemSKU of the Datacenter
#: editions: Datacenter (8/12) in both profiles, Datacenter: Azure Edition (``ServerTurbine``,
#: 407/408) in current. When both are read they must name the same edition. Not Datacenter:
#: ``ServerDatacenterACor``/145 (Semi-Annual Channel, 1709...20H2, also on build 17763),
#: evaluation editions (``...Eval``, SKU 79/80), Standard (7/13).
DATACENTER_EDITIONS = {
    "serverdatacenter": (8, 12),
    "serverdatacentercor": (8, 12),
    "serverturbine": (407, 408),
    "serverturbinecor": (407, 408),
}
DATACENTER_SKUS = {"guide": (8, 12), "current": (8, 12, 407, 408)}
#: Names of the OperatingSystemSKU values a message may meet (Win32_OperatingSystem).
SKU_NAMES = {
    7: "Standard",
    8: "Datacenter",
    12: "Datacenter Core",
    13: "Standard Core",
    79: "Standard Evaluation",
    80: "Datacenter Evaluation",
    145: "Datacenter Semi-Annual Channel Core",
    146: "Standard Semi-Annual Channel Core",
    407: "Datacenter: Azure Edition",
    408: "Datacenter: Azure Edition Core",
}
#: SQL Server editions of the approved SQL images; Express/LocalDB only warn.
SQL_EDITIONS = ("Enterprise", "Standard", "Web")


@dataclass
class _Part:
    result: Result
    text: str


def run_date() -> dt.date:
    """Today (UTC) where the verdict is made: WIN-001 judges support against it (tests pin it)."""
    return dt.datetime.now(dt.timezone.utc).date()


def support_date(facts: WindowsFacts) -> dt.date:
    """The day support is judged on: the run's date alone. The VM's clock (``meta.collected``)
    neither ends a supported release early (a clock in the future) nor keeps an ended one
    alive (an old clock, a replay of old facts); :func:`clock_note` reports a skew."""
    return run_date()


def clock_note(facts: WindowsFacts) -> str:
    """`` (VM clock ...)`` when the VM's clock at collection is more than a day from the run's
    date (reported, not judged), else ``""``."""
    collected = facts.meta.get("collected") if isinstance(facts.meta, dict) else None
    stamp = parse_utc(collected) if isinstance(collected, str) else None
    if stamp is None or abs((stamp.date() - run_date()).days) <= 1:
        return ""
    return (
        f" (the VM clock read {stamp.date().isoformat()} at collection, "
        f"{abs((stamp.date() - run_date()).days)} days from the run's date {run_date().isoformat()}; "
        "support is judged on the run's date)"
    )


def _edition_problem(edition: str | None, sku: int, kind: str) -> str:
    """Why EditionID/OperatingSystemSKU are not an approved Datacenter edition, or ``""``."""
    sku_text = f"OperatingSystemSKU {sku}" + (f" ({SKU_NAMES[sku]})" if sku in SKU_NAMES else "")
    wanted = " nor Datacenter: Azure Edition" if kind == "current" else ""
    if sku not in DATACENTER_SKUS[kind]:
        return f"not the Datacenter edition{wanted} ({f'EditionID {edition}, ' if edition else ''}{sku_text})"
    if not edition:
        return ""
    skus = DATACENTER_EDITIONS.get(edition.lower())
    if skus is None or skus[0] not in DATACENTER_SKUS[kind]:
        return f"not the Datacenter edition{wanted} (EditionID {edition})"
    if sku not in skus:
        return f"EditionID {edition} and {sku_text} name different editions"
    return ""


def _approved(profile: Mapping[str, Any]) -> tuple[str, ...]:
    return CURRENT_BASES if getattr(profile, "is_current", False) else GUIDE_BASES


def _os_part(facts: WindowsFacts, profile: Mapping[str, Any]) -> tuple[_Part, str]:
    current = getattr(profile, "is_current", False)
    kind = "current" if current else "guide"
    release = windows_release(facts)
    if release == "2008 R2" and facts.value("os", "sp_major", int) >= 1:
        release = "2008 R2 SP1"
    edition = facts.value("os", "edition_id", str, absent=None)  # not set: the SKU decides
    sku = facts.value("os", "sku", int)
    if sku == 0:  # PRODUCT_UNDEFINED: what [int]$null gave before the script marked it unread
        raise FactError(
            "os.sku is 0 (PRODUCT_UNDEFINED): Win32_OperatingSystem.OperatingSystemSKU was not read"
        )
    product_type = facts.value("os", "product_type", int)
    if product_type not in (1, 2, 3):
        raise FactError(f"os.product_type is {product_type}: Win32_OperatingSystem.ProductType was not read")
    name = f"Windows Server {release} {edition or f'SKU {sku}'} ({facts.value('os', 'caption', str)})"
    problems = []
    if product_type not in (2, 3):
        problems.append("not a server edition")
    end = END_OF_SUPPORT.get(release)
    on = support_date(facts) if current else None
    if release not in _approved(profile):
        ended = f" (extended support ended {end.isoformat()})" if current and end and on > end else ""
        what = f"Windows Server build {release}" if release.count(".") == 2 else f"version {release}"
        problems.append(f"{what} is not an approved base{ended}")
    elif current and (end is None or on > end):
        problems.append(
            f"Windows Server {release} is out of support: extended support ended {end} (judged on {on})"
        )
    edition_problem = _edition_problem(edition, sku, kind)
    if edition_problem:
        problems.append(edition_problem)
    name += clock_note(facts) if current else ""
    if problems:
        return _Part(Result.FAILED, f"{name}: {'; '.join(problems)}"), release
    return _Part(Result.PASSED, name), release


def base_image_date(name: str) -> dt.date | None:
    """The date in a base image name: ``YYYY-MM-DD``, ``YYYYMMDD`` or the gallery's ``YYYYMM.DD``."""
    for pattern in (
        r"(?<!\d)(20\d{2})-(\d{2})-(\d{2})(?!\d)",
        r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)",
        r"(?<!\d)(20\d{2})(\d{2})\.(\d{2})(?!\d)",
    ):
        for match in re.finditer(pattern, name):
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                continue
    return None


def _base_name_part(profile: Mapping[str, Any]) -> _Part:
    image = getattr(profile, "image", {}) or {}
    name = str(image.get("base_image_name") or "")
    if not name:
        return _Part(
            Result.NOT_APPLICABLE,
            "base image date not checked: no base image name declared ([image] base_image_name)",
        )
    date = base_image_date(name)
    if date is None:
        return _Part(Result.NOT_APPLICABLE, f"base image date not checked: no date in {name!r}")
    if date < BASE_IMAGE_MIN_DATE:
        return _Part(
            Result.FAILED,
            f"base image {name!r} dates from {date.isoformat()}, before {BASE_IMAGE_MIN_DATE.isoformat()}",
        )
    return _Part(Result.PASSED, f"base image {name!r} dates from {date.isoformat()}")


def _sql_edition(text: str) -> str:
    lowered = text.lower()
    if "evaluation" in lowered:
        return "Evaluation"
    for edition in (
        "Enterprise",
        "Standard",
        "Web",
        "Express",
        "Developer",
        "Workgroup",
        "Business Intelligence",
    ):
        if lowered.startswith(edition.lower()):
            return edition
    return text or "unknown edition"


def _sql_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(".") if x != "")
    except ValueError:
        return ()


def _sql_part(facts: WindowsFacts, release: str) -> _Part:
    instances = facts.sql_instances()
    localdb = facts.localdb_versions()
    if not instances and not localdb:
        return _Part(Result.NOT_APPLICABLE, "no SQL Server installed")
    failed, warned, fine = [], [], []
    for inst in instances:
        edition = _sql_edition(inst.edition)
        version = _sql_version(inst.version)
        label = f"SQL Server {inst.version or '?'} {edition} ({inst.instance})"
        if edition == "Express":
            warned.append(f"{label}: Express is not an approved SQL image edition")
        elif edition not in SQL_EDITIONS:
            failed.append(f"{label}: edition must be {', '.join(SQL_EDITIONS)}")
            continue
        if release == "2012 R2" and version[:1] != (12,):
            failed.append(f"{label}: on Windows Server 2012 R2 the approved image is SQL Server 2014 (12.x)")
        elif release == "2012" and not (version[:1] == (11,) and version >= (11, 0, 5058)):
            failed.append(
                f"{label}: on Windows Server 2012 the approved image is SQL Server 2012 SP2 (11.0.5058+)"
            )
        elif release in ("2008 R2", "2008 R2 SP1"):
            failed.append(f"{label}: there is no approved SQL Server image on Windows Server 2008 R2")
        elif edition in SQL_EDITIONS:
            fine.append(label)
    for version in localdb:
        warned.append(f"SQL Server LocalDB {version} is not an approved SQL image")
    if failed:
        return _Part(Result.FAILED, "; ".join(failed + warned))
    if warned:
        return _Part(Result.WARNING, "; ".join(warned))
    return _Part(Result.PASSED, ", ".join(fine))


def approved_base(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-001: an approved Windows Server Datacenter base, a base image from 2014-09-08 or
    later when one is declared, and SQL Server only as an approved SQL image (guide §3.1)."""
    current = getattr(profile, "is_current", False)
    support = f", in extended support on {support_date(facts)}" if current else ""
    editions = "Datacenter or Datacenter: Azure Edition" if current else "Datacenter"
    required = (
        f"Windows Server {', '.join(_approved(profile))} {editions}{support}; declared base image from "
        f"{BASE_IMAGE_MIN_DATE.isoformat()}; SQL Server 2014 on 2012 R2 or 2012 SP2 on 2012 "
        f"({'/'.join(SQL_EDITIONS)})"
    )
    os_part, release = _os_part(facts, profile)
    parts = [os_part, _base_name_part(profile), _sql_part(facts, release)]
    actual = "; ".join(p.text for p in parts)
    fixes = {
        0: f"build the image from an approved Windows Server {editions} base (Azure gallery image)"
        + (" of a release in extended support" if current else ""),
        1: f"start again from a base image published on or after {BASE_IMAGE_MIN_DATE.isoformat()}",
        2: "use an approved SQL Server image (Enterprise, Standard or Web) matching the Windows version",
    }
    if any(p.result is Result.FAILED for p in parts):
        fix = "; ".join(fixes[i] for i, p in enumerate(parts) if p.result is Result.FAILED)
        return Verdict.failed(actual, required, f"{actual}. Required: {required}. Fix: {fix} (guide §3.1)")
    if any(p.result is Result.WARNING for p in parts):
        return Verdict.warning(
            actual,
            required,
            f"{actual}. Express editions and LocalDB are not approved SQL images; "
            f"use Enterprise, Standard or Web (guide §3.1)",
        )
    return Verdict.passed(actual, required, actual)


# -- WIN-002 / WIN-003 disk sizes ---------------------------------------------------------


@dataclass
class _Disk:
    index: int
    letters: list[str]
    size_bytes: int
    exact: bool
    model: str

    @property
    def label(self) -> str:
        letters = f" ({', '.join(self.letters)})" if self.letters else ""
        how = "" if self.exact else ", Win32_DiskDrive geometry"
        return f"disk {self.index}{letters} {_gib(self.size_bytes)}{how}"

    def below(self, gib: float) -> bool:
        slack = 0 if self.exact else CYLINDER_BYTES
        return self.size_bytes + slack < gib * GIB

    def above(self, gib: float) -> bool:
        return self.size_bytes > gib * GIB


def _disks(facts: WindowsFacts) -> list[_Disk]:
    exact = facts.exact_disk_sizes()  # 2012 and later; else the geometry, with a tolerance
    disks = []
    for d in facts.physical_disks():
        if d.index in exact:
            size, is_exact = exact[d.index], True
        elif d.geometry_bytes is not None:
            size, is_exact = d.geometry_bytes, False
        else:
            raise FactError(f"Win32_DiskDrive reports no size for disk {d.index} ({d.model})")
        disks.append(_Disk(d.index, list(d.letters), size, is_exact, d.model))
    if not disks:
        raise FactError("Win32_DiskDrive lists no disk")
    return disks


def _os_disk(facts: WindowsFacts, disks: list[_Disk]) -> _Disk:
    drive = facts.system_drive
    holding = [d for d in disks if drive in d.letters]
    if len(holding) != 1:
        raise FactError(f"{len(holding)} disks hold {drive} (Win32_DiskDrive -> partition -> logical disk)")
    return holding[0]


def _temporary_disks(facts: WindowsFacts, disks: list[_Disk]) -> set[int]:
    """The Azure temporary (resource) disk: D:, whose volume is "Temporary Storage" or carries
    DATALOSS_WARNING_README.txt (a data disk labelled so elsewhere is still a data disk)."""
    temp_letters = {
        v.id.upper()
        for v in facts.volumes()
        if v.volume_name.lower() == "temporary storage" or v.dataloss_warning
    }
    temp_letters &= {"D:"}
    return {d.index for d in disks if temp_letters & set(d.letters)}


def os_disk_size(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-002: the disk holding C: (not the C: volume) is within the profile's limits (guide §3.4)."""
    disks = _disks(facts)
    disk = _os_disk(facts, disks)
    low, high = profile["windows_os_disk_min_gib"], profile["windows_os_disk_max_gib"]
    if low is not None and high is not None and low == high:
        required = f"{low} GiB"
    else:
        required = " and ".join(
            part for part in (f"≥ {low} GiB" if low else "", f"≤ {high} GiB" if high else "") if part
        )
    actual = disk.label
    if (low and disk.below(low)) or (high and disk.above(high)):
        if getattr(profile, "is_current", False):
            fix = f"resize the OS disk VHD to between {low} and {high} GiB"
        else:
            fix = "keep the base image's 127 GiB OS disk: do not change its size"
        return Verdict.failed(actual, required, f"OS {actual}; required {required}. Fix: {fix} (guide §3.4)")
    return Verdict.passed(actual, required)


def data_disk_size(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-003: every data disk (not the OS disk, not the temporary disk) is at most 1023 GiB."""
    disks = _disks(facts)
    exclude = {_os_disk(facts, disks).index} | _temporary_disks(facts, disks)
    limit = profile["data_disk_max_gib"]
    required = f"each data disk ≤ {limit} GiB"
    data = [d for d in disks if d.index not in exclude]
    if not data:
        return Verdict.not_applicable("no data disk is attached to this VM", required)
    actual = ", ".join(d.label for d in data)
    too_big = [d for d in data if d.above(limit)]
    if too_big:
        names = ", ".join(f"disk {d.index}" for d in too_big)
        return Verdict.failed(
            actual,
            required,
            f"{names} exceed {limit} GiB ({actual}); a 1024 GiB VHD cannot be uploaded: "
            f"shrink the data disk VHD to at most {limit} GiB (guide §3.4)",
        )
    return Verdict.passed(actual, required)


# -- WIN-004 updates ---------------------------------------------------------------------


#: IUpdateSearcher.ServerSelection: 2 asks Microsoft's Windows Update servers directly.
SERVER_WINDOWS_UPDATE = 2
#: ISearchResult.ResultCode (OperationResultCode).
RESULT_CODES = {
    0: "not started",
    1: "in progress",
    2: "succeeded",
    3: "succeeded with errors",
    4: "failed",
    5: "aborted",
}


def _update_source(facts: WindowsFacts) -> str | None:
    """Why the search may not have asked Microsoft's servers, or None when it did."""
    selection = facts.value("updates", "server_selection", int)
    if selection == SERVER_WINDOWS_UPDATE:
        return None
    use_wsus, server = facts.wsus_policy()
    if selection == 0 and use_wsus != 1:
        return None  # the default source is Windows Update when no WSUS policy is set
    if use_wsus == 1:
        return f"the search asked WSUS {server or '(server not named)'}"
    return f"the search asked update service {selection} (ServerSelection), not Windows Update"


def latest_updates(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-004: no pending Critical or Important security update, hidden ones included, in a
    complete Windows Update search of Microsoft's servers; a search that could not run, ran
    with errors, left hidden updates out or asked WSUS is an error (guide §3.5)."""
    required = "no pending update with MSRC severity Critical or Important (hidden ones included)"
    if not facts.value("updates", "search_ok", bool):
        hresult = facts.fact("updates", "hresult").value_or_absent("no HRESULT")
        raise FactError(
            f"the Windows Update search failed ({hresult}): "
            f"{facts.fact('updates', 'search_error').value_or_absent('')}; the VM needs access to "
            "Windows Update (update.microsoft.com) and an elevated account"
        )
    code = facts.value("updates", "result_code", int)
    criteria = facts.value("updates", "criteria", str)
    source = _update_source(facts)
    updates = facts.pending_updates()
    pending = [u for u in updates if u.msrc_severity in ("Critical", "Important")]
    if pending:
        names = [
            f"{'KB' + u.kb[0] + ' ' if u.kb else ''}{u.title} ({u.msrc_severity}{', hidden' if u.is_hidden else ''})"
            for u in pending
        ]
        actual = f"{len(pending)} pending: {_listing(names, 10)}"
        hidden = (
            " Hidden updates count too: unhide them (Windows Update > Restore hidden updates)."
            if any(u.is_hidden for u in pending)
            else ""
        )
        return Verdict.failed(
            actual,
            required,
            f"{actual}.{hidden} Fix: install them with Windows Update, reboot, then generalize again with "
            f"{SYSPREP} (guide §3.5)",
        )
    if code != 2:
        raise FactError(
            f"the Windows Update search ended with result code {code} ({RESULT_CODES.get(code, 'unknown')}), "
            "not 2 (succeeded): some updates may not have been evaluated, so finding none proves nothing; "
            "fix the Windows Update errors (WindowsUpdate.log) and run again"
        )
    if "IsInstalled=0" not in criteria.replace(" ", ""):
        raise FactError(
            f"the Windows Update search did not ask for missing updates (IsInstalled=0): criteria {criteria!r}"
        )
    if "IsHidden=1" not in criteria.replace(" ", ""):
        raise FactError(
            f"the Windows Update search left hidden updates out (criteria {criteria!r}); a hidden "
            "Critical update is still missing: collect again with this version's script"
        )
    if source is not None:
        raise FactError(
            f"{source}, which lists only the updates its administrator approved: finding none there "
            "does not show that Microsoft's latest Critical and Important updates are installed; "
            "let the VM reach Windows Update (or remove the WUServer/UseWUServer policy) and run again"
        )
    hidden = sum(1 for u in updates if u.is_hidden)
    actual = "no pending Critical/Important update" + (
        f" ({len(updates)} other updates pending{f', {hidden} hidden' if hidden else ''})" if updates else ""
    )
    return Verdict.passed(actual, required)


# -- WIN-005 startup tasks ---------------------------------------------------------------

TRIGGER_BOOT = 8


def startup_tasks(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-005: no scheduled task outside ``\\Microsoft\\`` with a boot trigger is left behind
    (guide §3.6, "Il est recommandé")."""
    required = "no task outside \\Microsoft\\ with an at-startup (boot) trigger"
    tasks = [t for t in facts.tasks() if not t.is_microsoft]
    unreadable = [t.path for t in tasks if t.read_error is not None]
    found = [t.path + ("" if t.enabled else " (disabled)") for t in tasks if TRIGGER_BOOT in t.trigger_types]
    if found:
        actual = f"startup tasks: {_listing(found)}"
        return Verdict.warning(
            actual,
            required,
            f"{actual}. Startup tasks should clean up after themselves: delete them "
            f"(Unregister-ScheduledTask / schtasks /delete /tn NAME) before {SYSPREP} (guide §3.6)",
        )
    if unreadable:
        raise FactError(f"cannot read the definition of scheduled task(s) {_listing(unreadable)}")
    return Verdict.passed(f"no startup task outside \\Microsoft\\ ({len(tasks)} other tasks)", required)


# -- WIN-006 drive letters ---------------------------------------------------------------


def _drive_references(facts: WindowsFacts) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """(what, text, letters) for everything that refers to a drive letter, and what could not be read."""
    refs: list[tuple[str, str, list[str]]] = []
    unreadable: list[str] = []

    def add(what: str, text: str) -> None:
        letters = drive_letters(text)
        if letters:
            refs.append((what, text, letters))

    for service in facts.services():
        add(f"service {service.name}", service.path)
    for task in facts.tasks():
        if task.read_error is not None:
            unreadable.append(f"scheduled task {task.path} ({task.read_error})")
        for text in task.action_texts:
            add(f"scheduled task {task.path}", text)
    for what, text in facts.drive_setting_texts():
        add(what, text)
    return refs, unreadable


#: WIN-006 never reads the default user's hive: the suite does not change the VM it inspects.
DEFAULT_HIVE_NOT_JUDGED = (
    "The default user's hive (C:\\Users\\Default\\NTUSER.DAT) is not read because reading it would "
    "require loading it (a change to the VM), so a Run key there is not judged"
)


def only_c_and_d(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-006: no service, scheduled task, Run key (HKLM, the .DEFAULT user), Startup folder item,
    page file or environment variable refers to a drive other than C: and D: (guide §3.6).
    The default user's hive is not read (loading it would change the VM): not judged."""
    required = "only C: (OS) and D: (temporary disk) referenced"
    offenders = []
    references, unreadable = _drive_references(facts)
    for what, text, letters in references:
        other = [x for x in letters if x not in ALLOWED_DRIVES]
        if other:
            offenders.append(f"{what} uses {', '.join(x + ':' for x in other)} ({text.strip()[:120]})")
    if offenders:
        actual = _listing(sorted(set(offenders)))
        return Verdict.failed(
            actual,
            required,
            f"{actual}. Only C: and D: exist on every VM; Azure assigns data disk letters at "
            "deployment. Fix: refer to data disks through a mount folder (e.g. C:\\Data) or a "
            "volume GUID path (\\\\?\\Volume{GUID}\\) instead of a drive letter (guide §3.6). "
            f"{DEFAULT_HIVE_NOT_JUDGED}",
        )
    if unreadable:
        raise FactError(f"cannot tell which drives these refer to: {_listing(unreadable)}")
    return Verdict.passed(
        "no reference to a drive other than C: and D:", required, f"{DEFAULT_HIVE_NOT_JUDGED}."
    )


# -- WIN-007 generalized -----------------------------------------------------------------


def _log(logs: list[PantherLog], sysprep_dir: bool) -> PantherLog | None:
    for log in logs:
        lowered = log.path.lower().replace("/", "\\")
        if (
            lowered.endswith("\\panther\\setupact.log")
            and ("\\sysprep\\" in lowered) == sysprep_dir
            and log.exists
        ):
            return log
    return None


def _dated(what: str, stamp: dt.datetime | None) -> dt.datetime:
    if stamp is None:
        raise FactError(f"cannot date {what}: no timestamped line and no readable modification time")
    return stamp


#: WIN-007: the specialize pass ends, Windows reboots once and runs oobeSystem; a VM fresh from a
#: generalized image last booted within this time of its specialize (os.install_date).
DEPLOYMENT_BOOT_WINDOW = dt.timedelta(hours=1)


def _untied_deployment(facts: WindowsFacts, install: dt.datetime) -> str:
    """The deployment evidence (Panther log, install date) belongs to THIS VM only when this
    VM's current boot is the one that followed the specialize pass. A disk captured without
    sysprep carries the build VM's deployment evidence and boots long after it; a VM rebooted
    after its deployment looks the same, so a later boot is an error, never a pass (review F36).
    The reason, "" when the boot is tied."""
    boot = _dated("this boot (os.last_boot)", parse_utc(facts.value("os", "last_boot", str)))
    if install - DEPLOYMENT_BOOT_WINDOW <= boot <= install + DEPLOYMENT_BOOT_WINDOW:
        return ""
    return (
        f"cannot tie the deployment evidence to this VM: the specialize pass (install date "
        f"{install:%Y-%m-%d %H:%M} UTC) is {_hours(boot - install)} from this VM's last boot "
        f"({boot:%Y-%m-%d %H:%M} UTC), more than {_hours(DEPLOYMENT_BOOT_WINDOW)}: either this VM "
        "was rebooted after its deployment, or the image was captured without sysprep and the "
        "Panther log, install date and ImageState are the build VM's; the collected facts cannot "
        "tell which. Deploy a fresh VM from the image and run the suite before rebooting it "
        "(guide §3.7)"
    )


def _hours(delta: dt.timedelta) -> str:
    hours = abs(delta.total_seconds()) / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def generalized(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-007: sysprep generalize + OOBE ran for this VM: the deployment Panther log
    (%WINDIR%\\Panther\\setupact.log) shows a generalized image going through specialize
    and oobeSystem, after the last generalize and not before this installation, and this
    VM's current boot is the one right after that specialize (else ERROR: the evidence could be
    the build VM's). ImageState alone is not evidence (guide §3.7)."""
    required = "Panther log: generalized image deployed through specialize and oobeSystem on this VM"
    fix = f"run {SYSPREP} on the build VM as the last step, then capture the VHD (guide §3.7)"
    image_state = facts.value("sysprep", "image_state", str, absent="")
    logs = facts.panther_logs()
    deploy = _log(logs, sysprep_dir=False)
    problems: list[str] = []
    untied = ""
    evidence: list[str] = [f"ImageState {image_state or 'absent'}"]
    if image_state != "IMAGE_STATE_COMPLETE":
        problems.append(f"setup has not completed on this VM (ImageState {image_state or 'absent'})")
    if deploy is None:
        problems.append("no deployment log %WINDIR%\\Panther\\setupact.log")
    else:
        matches = deploy.matches
        generalized_image = list(matches["generalization_state"]) or [
            line for line in matches["image_state"] if "GENERALIZE_RESEAL_TO_OOBE" in line
        ]
        missing = [
            what
            for what, lines in (
                (
                    "a generalized image being deployed (windeploy 'Found generalization state')",
                    generalized_image,
                ),
                ("the specialize pass", matches["specialize"]),
                ("the oobeSystem pass", matches["oobe"]),
            )
            if not lines
        ]
        if missing:
            problems.append(f"{deploy.path} shows no {', no '.join(missing)}")
        deployed = _dated(
            deploy.path,
            panther_time([*generalized_image, *matches["specialize"]]) or parse_utc(deploy.mtime),
        )
        evidence.append(f"deployed {deployed:%Y-%m-%d %H:%M}")
        install = _dated(
            "this installation (os.install_date)", parse_utc(facts.value("os", "install_date", str))
        )
        if deployed < install - dt.timedelta(days=1):
            problems.append(
                f"the deployment log dates from {deployed:%Y-%m-%d}, before this installation "
                f"({install:%Y-%m-%d}): it was carried over from another machine"
            )
        untied = _untied_deployment(facts, install)
        sysprep_log = _log(logs, sysprep_dir=True)
        if sysprep_log is not None:
            generalize = _dated(
                sysprep_log.path,
                panther_time(sysprep_log.matches["generalize"]) or parse_utc(sysprep_log.mtime),
            )
            evidence.append(f"generalized {generalize:%Y-%m-%d %H:%M}")
            if generalize > deployed + dt.timedelta(days=1):
                problems.append(
                    f"sysprep generalize ran on {generalize:%Y-%m-%d}, after the last "
                    f"deployment ({deployed:%Y-%m-%d}): this VM is not a deployment of that image"
                )
    actual = "; ".join(evidence)
    if problems:
        detail = "; ".join(problems)
        return Verdict.failed(detail, required, f"{detail} ({actual}). Fix: {fix}")
    if untied:
        raise FactError(f"{untied} ({actual})")
    return Verdict.passed(actual, required)


# -- WIN-008 64-bit ------------------------------------------------------------------------


def architecture(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-008: the operating system is 64-bit (tool 1.1.4)."""
    arch = facts.value("os", "proc_arch", str).upper()
    wow = facts.value("os", "proc_arch_w6432", str).upper()
    native = wow or arch
    shown = f"{facts.value('os', 'os_architecture', str) or '?'} ({native or 'unknown'})"
    required = "64-bit (AMD64)"
    if not native:
        raise FactError("PROCESSOR_ARCHITECTURE is not set")
    if native in ("AMD64", "ARM64", "IA64"):
        return Verdict.passed(shown, required)
    return Verdict.failed(
        shown,
        required,
        f"the OS is {shown}; only 64-bit Windows images are accepted: rebuild from a 64-bit base (tool 1.1.4)",
    )


# -- WIN-009 built-in Administrator ------------------------------------------------------------


def _account_name(value: str) -> str:
    return value.rsplit("\\", 1)[-1].strip().lower()


def no_builtin_administrator(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-009: neither the connecting account nor a service nor a scheduled task runs as the
    built-in Administrator (the account whose SID ends in -500) (tool 1.1.5)."""
    required = "connecting account, service and scheduled task accounts are not the built-in Administrator (SID -500)"
    admin_name = facts.value("accounts", "builtin_admin_name", str)
    admin_sid = facts.value("accounts", "builtin_admin_sid", str)
    current_sid = facts.value("accounts", "current_sid", str)
    current = facts.value("accounts", "current_user", str)
    if not (admin_name and admin_sid.startswith("S-1-5-21-") and admin_sid.endswith("-500")):
        raise FactError(f"the built-in Administrator is garbled: {admin_name!r} {admin_sid!r}")
    if not current_sid.startswith("S-1-"):
        raise FactError(f"the SID of the connecting account is garbled: {current_sid!r}")
    problems = []
    if current_sid.endswith("-500") or current_sid == admin_sid:
        problems.append(f"the checks connected as {current} ({current_sid}), the built-in Administrator")
    elif facts.admin_user and _account_name(facts.admin_user) == admin_name.lower():
        problems.append(f"the connecting account {facts.admin_user} is the built-in Administrator")

    def is_admin(account: str) -> bool:
        return bool(account) and (_account_name(account) == admin_name.lower() or account == admin_sid)

    for service in facts.services():
        if is_admin(service.start_name):
            problems.append(f"service {service.name} runs as {service.start_name}")
    tasks = facts.tasks()
    unreadable = [f"{t.path} ({t.read_error})" for t in tasks if t.read_error is not None]
    problems += [f"scheduled task {t.path} runs as {t.run_as}" for t in tasks if is_admin(t.run_as)]
    if problems:
        detail = "; ".join(problems)
        return Verdict.failed(
            detail,
            required,
            f"{detail}. The built-in Administrator is renamed/disabled on deployment: use another "
            "administrator account and a dedicated or virtual service account (tool 1.1.5)",
        )
    if unreadable:
        raise FactError(f"cannot tell which account these scheduled tasks run as: {_listing(unreadable)}")
    return Verdict.passed(
        f"connected as {current}; no service or scheduled task runs as the built-in Administrator "
        f"({admin_name})",
        required,
    )


# -- WIN-010 unsupported roles and features ----------------------------------------------------

#: catalogue name -> (Get-WindowsFeature names on 2008 R2 … 2022, Win32_ServerFeature IDs)
UNSUPPORTED_FEATURES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "Failover Clustering": (("Failover-Clustering",), (33,)),
    "DHCP Server": (("DHCP",), (12,)),
    "Hyper-V": (("Hyper-V",), (20,)),
    "Remote Access (DirectAccess)": (
        ("RemoteAccess", "DirectAccess-VPN", "NPAS-RRAS-Services", "NPAS-RRAS", "DAMC"),
        (468, 334, 206, 207),
    ),
    "AD Rights Management Services": (("ADRMS", "ADRMS-Server", "ADRMS-Identity"), (17, 253, 254)),
    "Windows Deployment Services": (("WDS", "WDS-Deployment", "WDS-Transport"), (19, 251, 252)),
    "iSNS": (("ISNS",), (55,)),
    "Multipath I/O": (("Multipath-IO",), (57,)),
    "Network Load Balancing": (("NLB",), (34,)),
    "PNRP": (("PNRP",), (64,)),
    "SNMP Service": (("SNMP-Service", "SNMP-Services"), (59, 224)),
    "WINS": (("WINS", "WINS-Server"), (40,)),
    "Wireless LAN Service": (("Wireless-Networking",), (38,)),
}
UNSUPPORTED_FEATURE_NAMES = tuple(UNSUPPORTED_FEATURES)
#: Features the current rules no longer list (REQUIREMENTS profile table, WIN-010).
SUPPORTED_IN_CURRENT = {
    "Hyper-V": "Hyper-V is not on the current list of unsupported features (nested virtualization is supported)",
}


def unsupported_feature(facts: WindowsFacts, profile: Mapping[str, Any], feature: str) -> Verdict:
    """WIN-010: one unsupported role or feature (by its language-neutral name) is not installed."""
    names, ids = UNSUPPORTED_FEATURES[feature]
    required = f"{feature} not installed"
    if feature in SUPPORTED_IN_CURRENT and getattr(profile, "is_current", False):
        return Verdict.not_applicable(SUPPORTED_IN_CURRENT[feature], required)
    installed = facts.installed_features()
    if installed is not None:
        hits = [installed[n.lower()] for n in names if n.lower() in installed]
        how = "Get-WindowsFeature"
    else:
        present = facts.server_feature_ids()
        hits = [f"Win32_ServerFeature ID {i}" for i in ids if i in present]
        how = "Win32_ServerFeature"
    if hits:
        actual = f"{feature} installed ({', '.join(hits)})"
        remove = " ".join(h for h in hits if not h.startswith("Win32_")) or names[0]
        return Verdict.failed(
            actual,
            required,
            f"{actual}; it is not supported on Azure VMs. Fix: Uninstall-WindowsFeature {remove} "
            "(Remove-WindowsFeature on 2008 R2), reboot, then generalize again (tool)",
        )
    return Verdict.passed(f"{feature} not installed ({how})", required)


# -- WIN-011 BitLocker ------------------------------------------------------------------------

_CONVERSION = {
    0: "fully decrypted",
    1: "fully encrypted",
    2: "encryption in progress",
    3: "decryption in progress",
    4: "encryption paused",
    5: "decryption paused",
}


#: Win32_ServerFeature.ID of "BitLocker Drive Encryption" (learn.microsoft.com win32-serverfeature).
BITLOCKER_SERVER_FEATURE_ID = 61


def no_bitlocker_os(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-011: BitLocker is off on the OS volume (allowed on data disks) (tool). Without the
    BitLocker WMI namespace it passes only when a feature list that was read (Get-WindowsFeature,
    else Win32_ServerFeature) shows BitLocker is not installed."""
    drive = facts.drive_letter("bitlocker", "drive")  # the volume the script asked about
    required = f"BitLocker off on {drive} (fully decrypted)"
    if not facts.value("bitlocker", "namespace_present", bool):
        code = facts.fact("bitlocker", "wmi_error").value_or_absent("")
        message = facts.fact("bitlocker", "namespace_error").value_or_absent("")
        text = f"{code or ''} {message or ''}".lower()
        if "invalidnamespace" in text or "invalid namespace" in text or "0x8004100e" in text:
            installed = facts.installed_features()  # FactError when it could not be read
            if installed is not None:
                present, how = "bitlocker" in installed, "Get-WindowsFeature"
            else:  # Get-WindowsFeature could not run: Win32_ServerFeature, else FactError
                present = BITLOCKER_SERVER_FEATURE_ID in facts.server_feature_ids()
                how = f"Win32_ServerFeature has no ID {BITLOCKER_SERVER_FEATURE_ID}"
            if present:
                raise FactError(
                    f"BitLocker is installed ({how.split(' has ')[0]}) but its WMI namespace is missing: "
                    f"the OS volume's state cannot be read ({message or code})"
                )
            return Verdict.passed(
                f"BitLocker is not installed ({how}; no MicrosoftVolumeEncryption WMI namespace)", required
            )
        raise FactError(f"cannot query BitLocker: {message or code or 'no reason given'}")
    if not facts.value("bitlocker", "volume_found", bool):
        raise FactError(
            f"the BitLocker WMI provider lists no encryptable volume {drive}: the OS volume's state is unknown"
        )
    protection = facts.value("bitlocker", "protection_status", int, (0, 1, 2))
    conversion = facts.value("bitlocker", "conversion_status", int, tuple(_CONVERSION))
    state = _CONVERSION[conversion]
    actual = f"{drive} {state}, protection {('off', 'on', 'unknown')[protection]}"
    if conversion == 0 and protection == 0:
        return Verdict.passed(actual, required)
    return Verdict.failed(
        actual,
        required,
        f"BitLocker on the OS volume: {actual}. Fix: manage-bde -off {drive}, wait until it is fully "
        "decrypted, then generalize again; BitLocker is allowed on data disks only (tool)",
    )


# -- WIN-012 IPv6 ------------------------------------------------------------------------------


def no_ipv6_reliance(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-012: no static IPv6 address the image depends on (tool)."""
    addresses = facts.ipv6_addresses()
    required = "no static (Manual) IPv6 address"
    static = [
        f"{a.address} on {a.interface}" for a in addresses if a.prefix_origin == "Manual" and not a.loopback
    ]
    if static:
        actual = f"static IPv6: {_listing(static)}"
        return Verdict.warning(
            actual,
            required,
            f"{actual}. Azure hands out addresses by DHCP; remove the static IPv6 configuration "
            "(Remove-NetIPAddress, or netsh interface ipv6 delete address) (tool)",
        )
    return Verdict.passed(
        f"no static IPv6 address ({len(addresses)} IPv6 addresses, all automatic)", required
    )


# -- WIN-013 remote access --------------------------------------------------------------------

_PROFILE_BITS = (
    (1, "Domain", "DomainProfile", "DomainProfile"),
    (2, "Private", "StandardProfile", "PrivateProfile"),
    (4, "Public", "PublicProfile", "PublicProfile"),
)


def _rdp_problems(facts: WindowsFacts) -> tuple[list[str], int]:
    problems = []
    deny, source = facts.value("rdp", "policy_fDenyTSConnections", int, absent=None), "policy"
    if deny is None:
        deny, source = facts.value("rdp", "fDenyTSConnections", int, absent=None), "registry"
    if deny != 0:
        problems.append(f"Remote Desktop connections are denied (fDenyTSConnections={deny} by {source})")
    if facts.value("rdp", "termservice_start", str).lower() == "disabled":
        problems.append("the TermService service is disabled")
    port = facts.value("rdp", "port", int, absent=3389)
    current = facts.value("rdp", "fw_current_profiles", int)
    if not 0 < current < 8:
        raise FactError(f"rdp.fw_current_profiles is garbled: {current} names no active firewall profile")
    inbound = [
        r
        for r in facts.rdp_firewall_rules()
        if r.enabled and r.direction == 1 and r.covers_port(port) and r.reaches_remote_desktop
    ]
    allows = [r for r in inbound if r.action == 1]
    blocks = [r for r in inbound if r.action == 0]
    missing, scoped = [], []
    for bit, name, local_key, policy_key in _PROFILE_BITS:
        if not current & bit:
            continue
        on = facts.firewall_switch("fw_enabled_policy", policy_key)
        if on is None:
            on = facts.firewall_switch("fw_enabled", local_key)
        if on == 0:
            continue  # the firewall is off in this profile (None: on, the default)
        blocking = [r for r in blocks if r.profiles & bit]
        allowing = [r for r in allows if r.profiles & bit]
        if blocking:  # a block rule wins over every allow rule
            problems.append(
                f"inbound TCP {port} is blocked in the active {name} profile by "
                + _listing([f"{r.name!r} (from {r.remote_addresses or '?'})" for r in blocking])
            )
        elif not allowing:
            missing.append(name)
        elif not any(r.from_anywhere for r in allowing):
            scoped.append(f"{name}: {_listing(sorted({r.remote_addresses for r in allowing}))}")
    if missing:
        problems.append(
            f"no enabled inbound Remote Desktop firewall rule for TCP {port} in the active "
            f"{'/'.join(missing)} profile"
        )
    if scoped:
        problems.append(
            f"RDP on TCP {port} is allowed only from some remote addresses ({'; '.join(scoped)}), "
            "not from any address"
        )
    return problems, port


def _https_listener(facts: WindowsFacts) -> tuple[bool, str]:
    found = []
    for listener in facts.winrm_listeners():
        found.append(f"{listener.transport or '?'}:{listener.port}")
        if (
            listener.transport.upper() == "HTTPS"
            and listener.port == "5986"
            and listener.enabled.lower() == "true"
        ):
            return True, ", ".join(found)
    return False, ", ".join(found) or "no listener"


def remote_access(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-013: RDP enabled and allowed through the firewall from any remote address, with no
    inbound block rule on its port (warn in guide-2016, fail in current); a WinRM HTTPS listener
    on 5986 where the profile requires it (tool, pc)."""
    rdp_problems, port = _rdp_problems(facts)
    https_required = bool(profile["windows_winrm_https_required"])
    required = f"RDP enabled and allowed inbound on TCP {port}" + (
        "; WinRM HTTPS listener on 5986" if https_required else ""
    )
    results: list[Result] = []
    problems = list(rdp_problems)
    if rdp_problems:
        results.append(Result(profile["rdp_result"]))
    actual_parts = [f"RDP on TCP {port} {'not reachable' if rdp_problems else 'enabled and allowed'}"]
    if https_required:
        ok, listeners = _https_listener(facts)
        actual_parts.append(f"WinRM listeners {listeners}")
        if not ok:
            problems.append(f"no enabled WinRM HTTPS listener on 5986 (found {listeners})")
            results.append(Result.FAILED)
    actual = "; ".join(actual_parts)
    if not problems:
        return Verdict.passed(actual, required)
    fix = (
        "enable Remote Desktop (fDenyTSConnections=0) and its firewall rule group "
        "(Enable-NetFirewallRule -DisplayGroup 'Remote Desktop', or netsh advfirewall firewall set rule "
        'group="remote desktop" new enable=Yes), remove inbound block rules on the RDP port and '
        "let the allow rule accept any remote address (restrict access with an Azure network "
        "security group instead)"
    )
    if https_required:
        fix += "; create an HTTPS listener (winrm quickconfig -transport:https) and allow TCP 5986"
    message = f"{'; '.join(problems)}. Required: {required}. Fix: {fix} (guide §3.3, tool)"
    if Result.FAILED in results:
        return Verdict.failed(actual, required, message)
    return Verdict.warning(actual, required, message)


# -- WIN-014 Windows VM agent -------------------------------------------------------------

AGENT_SERVICE = "WindowsAzureGuestAgent"
#: The agent's other service, from the same MSI: RdAgent (WaAppAgent.exe) sends the VM's
#: heartbeat/Ready signal to the host and installs and updates WindowsAzureGuestAgent.
AGENT_SERVICES = {AGENT_SERVICE: "WindowsAzureGuestAgent.exe", "RdAgent": "WaAppAgent.exe"}
#: "the Windows Agent ... must be later than or equal to version 2.7.41491.1010" (minimum
#: version support article for virtual machine agents in Azure); the agent is version 2.x.
AGENT_MIN_VERSION = (2, 7, 41491, 1010)
AGENT_SOURCE = "agent minimum-version support article"


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(n) for n in version)


def _service_problems(facts: WindowsFacts, name: str) -> tuple[AgentService | None, list[str]]:
    """One agent service: installed, start Auto, its ImagePath running the agent's program."""
    service = facts.agent_service(name)
    if service is None:
        return None, [f"the Azure Windows VM agent is not installed (no {name} service)"]
    problems = []
    if service.start_mode != "Auto":
        problems.append(f"{name} is set to start {service.start_mode}, not Automatic")
    program = ntpath.basename(image_program(service.image_path))
    if program.lower() != AGENT_SERVICES[name].lower():
        problems.append(
            f"the {name} service runs {program}, not {AGENT_SERVICES[name]} ({service.image_path})"
        )
    return service, problems


def _agent_problems(facts: WindowsFacts) -> tuple[str, list[str], list[str]]:
    """(what was found, problems, warnings) of the agent's two services; a fact that cannot be
    read is a FactError unless a problem read elsewhere already fails the rule."""
    found, problems, stopped = [], [], []
    for name in AGENT_SERVICES:
        try:
            service, service_problems = _service_problems(facts, name)
        except FactError as exc:
            if not problems:
                raise
            found.append(f"{name} unreadable")
            problems.append(f"the {name} service cannot be read ({exc})")
            continue
        problems += service_problems
        if service is None:
            found.append(f"no {name} service")
            continue
        if service.state != "Running":
            stopped.append(f"{name} is {service.state}")
        if name != AGENT_SERVICE:
            found.append(f"{name} start {service.start_text}, {service.state}")
            continue
        exe = facts.value("agent", "exe_path", str)
        try:
            version = facts.agent_file_version()
        except FactError as exc:
            if not problems:
                raise
            version, problems = None, problems + [f"its version cannot be read ({exc})"]
        else:
            if version is None:
                problems.append(f"the executable its ImagePath names ({exe}) does not exist")
            elif version[0] != AGENT_MIN_VERSION[0]:
                problems.append(f"file version {_version_text(version)} is not a version 2 Azure VM agent")
            elif version < AGENT_MIN_VERSION:
                problems.append(
                    f"version {_version_text(version)} is older than {_version_text(AGENT_MIN_VERSION)}"
                )
        found.insert(
            0,
            f"{AGENT_SERVICE} {_version_text(version) if version else 'version unknown'} ({exe}), "
            f"start {service.start_text}, {service.state}",
        )
    return "; ".join(found), problems, stopped


def windows_agent(facts: WindowsFacts, profile: Mapping[str, Any]) -> Verdict:
    """WIN-014: the Azure Windows VM agent is installed: its WindowsAzureGuestAgent and RdAgent
    services set to start automatically (delayed or not) and running WindowsAzureGuestAgent.exe
    / WaAppAgent.exe, and the file version of the guest agent's executable is 2.x and at least
    2.7.41491.1010 (agent minimum-version support article). Added 2026-11: it warns under
    guide-2016. A service that is not running on the checked VM warns: the image carries the
    start mode, while the state belongs to this VM, which may run outside Azure (no host to
    talk to); a stopped agent may also have crashed, so a human looks."""
    required = (
        f"{AGENT_SERVICE} and RdAgent installed, start Automatic, running; "
        f"{AGENT_SERVICE}.exe version 2.x >= {_version_text(AGENT_MIN_VERSION)}"
    )
    found, problems, stopped = _agent_problems(facts)
    if not problems and not stopped:
        return Verdict.passed(found, required)
    fix = (
        "install the current Windows VM agent (the MSI from https://go.microsoft.com/fwlink/?LinkID=394789) "
        "on the build VM before sysprep, and set both services to start automatically (sc.exe config "
        f"{AGENT_SERVICE} start= auto; sc.exe config RdAgent start= auto) ({AGENT_SOURCE})"
    )
    if not problems:
        return Verdict.warning(
            found,
            required,
            f"{'; '.join(stopped)} on this VM although set to start automatically: the agent may have "
            f"crashed (see C:\\WindowsAzure\\Logs); it must run on the Azure VMs deployed from the image. "
            f"Found: {found}. Required: {required}. Fix: start it (Start-Service) and read its logs; "
            f"if it does not stay up, {fix}",
        )
    message = f"{'; '.join(problems + stopped)}. Found: {found}. Required: {required}. Fix: {fix}"
    return rule_added_2026(Verdict.failed(found, required, message), profile)


CHECKS = {
    "WIN-001": approved_base,
    "WIN-002": os_disk_size,
    "WIN-003": data_disk_size,
    "WIN-004": latest_updates,
    "WIN-005": startup_tasks,
    "WIN-006": only_c_and_d,
    "WIN-007": generalized,
    "WIN-008": architecture,
    "WIN-009": no_builtin_administrator,
    "WIN-011": no_bitlocker_os,
    "WIN-012": no_ipv6_reliance,
    "WIN-013": remote_access,
    "WIN-014": windows_agent,
}
"""Every check taking (facts, profile); WIN-010 is per feature: :func:`unsupported_feature`."""
