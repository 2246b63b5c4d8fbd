"""Offer/SKU checks (SKU-001..006): pure functions of the offer manifest and a profile.

Profile thresholds used: ``sku_id_pc_result``, ``sku_version_rule``, ``recommended_sizes_min``,
``recommended_sizes_max``, ``lun_rule``, ``data_disk_count_stable``, ``sku_id_underscore_allowed``,
``data_disks_max``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from pytest_vmimage.facts.offer import Offer, Sku, SkuVersion
from pytest_vmimage.facts.sas import redact_sas
from pytest_vmimage.verdict import FactError, Result, Verdict

Profile = Mapping[str, Any]

URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")
PC_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")
# Partner Center: data disks per plan version (the current profile's data_disks_max)
PARTNER_CENTER_DATA_DISKS = 16
# Partner Center plan id today: lowercase letters, digits, '-' and '_', at most 50 characters
PLAN_ID = re.compile(r"[a-z0-9_-]{1,50}")
VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def _finish(findings: list[tuple[Result, str]], required: str, passed: str, fix: str, guide: str) -> Verdict:
    if not findings:
        return Verdict.passed(passed, required, passed)
    actual = "; ".join(text for _, text in findings)
    message = f"{actual}. Required: {required}. Fix: {fix} ({guide})"
    if any(result == Result.FAILED for result, _ in findings):
        return Verdict.failed(actual, required, message)
    return Verdict.warning(actual, required, message)


def _pc(profile: Profile) -> Result:
    return Result.FAILED if profile["sku_id_pc_result"] == "failed" else Result.WARNING


def _id_findings(kind: str, value: str, profile: Profile) -> list[tuple[Result, str]]:
    if not URL_SAFE.fullmatch(value):
        return [(Result.FAILED, f"{kind} {value!r} is not URL-safe")]
    plan_id = profile.get("sku_id_underscore_allowed", False)
    if not (PLAN_ID if plan_id else PC_ID).fullmatch(value):
        why = []
        if len(value) > 50:
            why.append(f"{len(value)} characters")
        allowed = "lowercase letters, digits, '-' and '_'" if plan_id else "lowercase letters, digits and '-'"
        if re.search(r"[^a-z0-9_-]" if plan_id else r"[^a-z0-9-]", value):
            why.append(f"characters other than {allowed}")
        if not plan_id and (value.endswith("-") or value.startswith("-")):
            why.append("a leading or trailing dash")
        return [(_pc(profile), f"{kind} {value!r} breaks Partner Center's id rule ({', '.join(why)})")]
    return []


def check_sku_identifiers(offer: Offer, sku: Sku, profile: Profile) -> Verdict:
    """SKU-001: offer and SKU ids URL-safe (fail) and per Partner Center (per profile); the SKU id
    unique within the offer and the publisher's other offers, the offer id among those offers."""
    required = "ids URL-safe, unique among the publisher's offers; " + (
        "lowercase letters, digits, '-' and '_', at most 50 characters (Partner Center plan id)"
        if profile.get("sku_id_underscore_allowed", False)
        else "lowercase letters, digits, dashes, at most 50 characters, no trailing dash"
    )
    findings = _id_findings("offer id", offer.id, profile) + _id_findings("SKU id", sku.id, profile)
    same = [s for s in offer.skus if s.id.lower() == sku.id.lower()]
    if len(same) > 1:
        findings.append((Result.FAILED, f"SKU id {sku.id!r} appears {len(same)} times in offer {offer.id!r}"))
    for other_id, other_skus in offer.publisher_offers:
        if other_id.lower() == offer.id.lower():
            findings.append(
                (Result.FAILED, f"offer id {offer.id!r} is already used by another offer of the publisher")
            )
        if any(s.lower() == sku.id.lower() for s in other_skus):
            findings.append((Result.FAILED, f"SKU id {sku.id!r} is already used in offer {other_id!r}"))
    fix = (
        "rename with lowercase letters, digits and dashes"
        + (" (or '_')" if profile.get("sku_id_underscore_allowed", False) else "")
        + ", unique across your offers"
    )
    return _finish(findings, required, f"offer {offer.id!r}, SKU {sku.id!r}", fix, "guide §1")


def _parse_version(raw: str) -> tuple[int, int, int] | None:
    m = VERSION.fullmatch(raw.strip())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def check_sku_versions(sku: Sku, profile: Profile) -> Verdict:
    """SKU-002: versions X.Y.Z (non-negative integers); each new version keeps X.Y and raises Z
    (guide-2016, ``raise-patch``) or is simply higher (current, ``higher``)."""
    rule = profile["sku_version_rule"]
    required = "X.Y.Z of non-negative integers; " + (
        "a new version keeps X.Y and raises Z" if rule == "raise-patch" else "each new version higher"
    )
    findings: list[tuple[Result, str]] = []
    parsed = []
    for version in sku.versions:
        value = _parse_version(version.version)
        if value is None:
            findings.append((Result.FAILED, f"version {version.version!r} is not X.Y.Z"))
        parsed.append((version.version, value))
    for (old_raw, old), (new_raw, new) in zip(parsed, parsed[1:], strict=False):
        if old is None or new is None:
            continue
        if rule == "raise-patch":
            if new[:2] != old[:2]:
                findings.append((Result.FAILED, f"{old_raw} -> {new_raw} changes X.Y"))
            elif new[2] <= old[2]:
                findings.append((Result.FAILED, f"{old_raw} -> {new_raw} does not raise Z"))
        elif new <= old:
            findings.append((Result.FAILED, f"{old_raw} -> {new_raw} is not higher"))
    history = " -> ".join(v.version for v in sku.versions)
    fix = (
        "number the new version X.Y.(Z+1) of the last one" if rule == "raise-patch" else "use a higher X.Y.Z"
    )
    return _finish(findings, required, f"versions {history}", fix, "guide §5.3")


def check_recommended_sizes(sku: Sku, profile: Profile) -> Verdict:
    """SKU-003: the number of recommended VM sizes per profile (warn); duplicates warn."""
    low, high = profile["recommended_sizes_min"], profile["recommended_sizes_max"]
    required = f"exactly {low} recommended VM sizes" if low == high else f"{low}-{high} recommended VM sizes"
    sizes = list(sku.recommended_vm_sizes)
    findings: list[tuple[Result, str]] = []
    if not low <= len(sizes) <= high:
        findings.append(
            (
                Result.WARNING,
                f"{len(sizes)} recommended VM size(s)" + (f": {', '.join(sizes)}" if sizes else ""),
            )
        )
    duplicates = sorted({s for s in sizes if [x.lower() for x in sizes].count(s.lower()) > 1})
    if duplicates:
        findings.append((Result.WARNING, f"listed twice: {', '.join(duplicates)}"))
    fix = f"recommend {required.removesuffix(' recommended VM sizes')} sizes that suit the image"
    return _finish(findings, required, f"{len(sizes)} sizes: {', '.join(sizes)}", fix, "guide §5.3")


def check_disks_and_luns(
    offer: Offer, sku: Sku, profile: Profile, detected_os: str | None, evidence: str
) -> Verdict:
    """SKU-004: the declared OS family matches the OS disk's evidence; data-disk LUNs per
    profile (unique integers, or contiguous from 0); data-disk count across versions per profile,
    and per version at most ``data_disks_max`` (current: 16)."""
    rule = profile["lun_rule"]
    stable = profile["data_disk_count_stable"]
    required = (
        "declared OS family matches the OS disk; data-disk LUNs "
        + ("unique integers" if rule == "unique" else "contiguous from 0")
        + ("; the same data-disk count in every version" if stable else "")
        + (
            f"; at most {profile['data_disks_max']} data disks"
            if profile.get("data_disks_max") is not None
            else ""
        )
    )
    findings: list[tuple[Result, str]] = []
    notes: list[str] = []
    declared = sku.os_family or offer.os_family
    if declared is None:
        findings.append((Result.FAILED, 'no os_family declared ([offer] os_family = "linux" or "windows")'))
    elif detected_os is None:
        notes.append(f"OS family {declared} not compared: {evidence}")
    elif detected_os != declared:
        findings.append(
            (Result.FAILED, f"declared {declared}, but the OS disk looks {detected_os} ({evidence})")
        )
    version = sku.submitted
    disks = list(version.data_disks or ()) if version else []
    luns = [d.lun for d in disks]
    bad = [repr(lun) for lun in luns if isinstance(lun, bool) or not isinstance(lun, int) or lun < 0]
    if bad:
        findings.append((Result.FAILED, f"LUN(s) {', '.join(bad)} not non-negative integers"))
    else:
        duplicates = sorted({lun for lun in luns if luns.count(lun) > 1})
        if duplicates:
            findings.append((Result.FAILED, f"LUN(s) {', '.join(map(str, duplicates))} used twice"))
        elif rule == "contiguous" and sorted(luns) != list(range(len(luns))):
            findings.append((Result.FAILED, f"LUNs {sorted(luns)} are not 0..{len(luns) - 1}"))
    most = profile.get("data_disks_max")
    over = [
        (v.version, v.data_disk_count)
        for v in sku.versions
        if most is not None and (v.data_disk_count or 0) > most
    ]
    if over:
        findings.append(
            (
                Result.FAILED,
                f"more than {most} data disks: "
                + ", ".join(f"version {v} has {c}" for v, c in over)
                + (
                    f" (Partner Center: at most {most} data disks per plan version)"
                    if most == PARTNER_CENTER_DATA_DISKS
                    else f" (at most {most} data disks per plan version, this run's data_disks_max; "
                    f"Partner Center's own limit is {PARTNER_CENTER_DATA_DISKS})"
                ),
            )
        )
    counts = [(v.version, v.data_disk_count) for v in sku.versions if v.data_disk_count is not None]
    if stable and len({c for _, c in counts}) > 1:
        findings.append(
            (Result.FAILED, "data-disk count changes: " + ", ".join(f"{v}: {c}" for v, c in counts))
        )
    passed = f"{declared} image, {len(disks)} data disk(s), LUNs {sorted(luns) if not bad else luns}"
    if notes:
        passed += "; " + "; ".join(notes)
    fix = "declare the OS family of the OS disk and number data disks " + (
        "with distinct LUNs" if rule == "unique" else "0, 1, 2, ..."
    )
    verdict = _finish(findings, required, passed, fix, "guide §1, §5.3")
    if notes and verdict.result is not Result.PASSED:
        verdict = Verdict(verdict.result, verdict.actual, required, f"{verdict.message}; {'; '.join(notes)}")
    return verdict


def check_sizes_fit_disks(offer: Offer, sku: Sku, profile: Profile) -> Verdict:
    """SKU-005: every recommended VM size allows at least as many data disks as the SKU has."""
    version = sku.submitted
    count = (version.data_disk_count or 0) if version else 0
    required = f"every recommended VM size allows at least {count} data disk(s)"
    sizes = list(sku.recommended_vm_sizes)
    if not sizes:
        return Verdict.not_applicable("no recommended VM sizes in the manifest (see SKU-003)", required)
    too_small, unknown, fits = [], [], []
    for size in sizes:
        limit = offer.max_data_disks(size)
        if limit is None:
            unknown.append(size)
        elif limit < count:
            too_small.append(f"{size} allows {limit}")
        else:
            fits.append(f"{size}: {limit}")
    if too_small:
        actual = f"{count} data disk(s); " + ", ".join(too_small)
        extra = f" ({', '.join(unknown)} not in the size table)" if unknown else ""
        message = f"{actual}{extra}. Required: {required}. Fix: recommend larger sizes or use fewer data disks (guide §2.1, §5.3)"
        return Verdict.failed(actual, required, message)
    if unknown:
        raise FactError(
            f"max data disks of {', '.join(unknown)} unknown: add them to the manifest, e.g. "
            f"[vm_sizes] {unknown[0]} = N (the Azure documentation of the size gives N)"
        )
    return Verdict.passed(f"{count} data disk(s); " + ", ".join(fits), required)


def blob_key(uri: str) -> str:
    """Where a SAS URI points: host + path, without the query (the token)."""
    parts = urllib.parse.urlsplit(uri.strip())
    return f"{(parts.hostname or '').lower()}:{parts.port or ''}{urllib.parse.unquote(parts.path)}"


def check_one_sas_per_disk(version: SkuVersion, judged: Mapping[str, list[tuple[str, Verdict]]]) -> Verdict:
    """SKU-006: exactly one SAS URI per disk (OS + each data disk), each a distinct blob, each
    passing SAS-001..006 (``judged``: the SAS verdicts by URI; warnings do not fail)."""
    required = "one SAS URI per disk, each a distinct blob, each passing SAS-001..006"
    disks = ([version.os_vhd] if version.os_vhd else []) + list(version.data_disks or ())
    findings: list[tuple[Result, str]] = []
    seen: dict[str, str] = {}
    for disk in disks:
        if not disk.sas_uri:
            findings.append((Result.FAILED, f"{disk.name}: no sas_uri"))
            continue
        key = blob_key(disk.sas_uri)
        if key in seen:
            findings.append(
                (Result.FAILED, f"{disk.name} and {seen[key]} share one blob ({redact_sas(key)})")
            )
        seen.setdefault(key, disk.name)
        failed = [
            rid
            for rid, verdict in judged.get(disk.sas_uri, [])
            if verdict.result in (Result.FAILED, Result.ERROR)
        ]
        if failed:
            findings.append((Result.FAILED, f"{disk.name}: its SAS fails {', '.join(failed)}"))
    fix = "give every disk its own blob and a SAS URI that passes SAS-001..006 (see those results)"
    return _finish(
        findings, required, f"{len(disks)} disk(s), {len(seen)} distinct SAS blob(s)", fix, "guide §5.2"
    )


__all__ = [
    "blob_key",
    "check_disks_and_luns",
    "check_one_sas_per_disk",
    "check_recommended_sizes",
    "check_sizes_fit_disks",
    "check_sku_identifiers",
    "check_sku_versions",
]
