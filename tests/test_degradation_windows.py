"""Windows degradation harness: broken facts must never turn a verdict into PASSED.

For every Windows fact set in ``tests/recorded/windows`` (the compliant VM and one with a
violation per requirement), and for every single-violation edit of the compliant VM (those of
``tests/test_checks_windows.py`` and EXTRA_EDITS below; for an edit, the parts its unpassed
checks read, traced), every part of the collection is degraded the ways a real
collection breaks: the part reports nothing (blank), is cut short, failed, timed out, is
missing, is not an object, lost its completion status, or is garbled (seeded); then every
top-level key of every part is removed, nulled, blanked, cut, marked unreadable or garbled.
For every WIN requirement and both profiles, no result may move TO passed from failed,
warning or error, and no check may crash (raise anything but FactError).
"""

from __future__ import annotations

import copy
import functools
import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_vmimage.checks import windows
from pytest_vmimage.facts.windows import PART_META, PARTS, WindowsFacts
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result, Verdict
from tests import winrm_windows_shapes as shapes
from tests.test_checks_windows import CASES, RUN_DATE, edited

RECORDED = sorted((Path(__file__).parent / "recorded" / "windows").glob("*.json"))
PROFILES = [load_profile("guide-2016"), load_profile("current")]
SEED = 20261130
GARBLE_SEEDS = 4
NOT_PASSED = (Result.FAILED, Result.WARNING, Result.ERROR)

CHECKS: dict[str, Callable[..., Any]] = dict(windows.CHECKS)
for _feature in windows.UNSUPPORTED_FEATURE_NAMES:
    CHECKS[f"WIN-010 {_feature}"] = functools.partial(windows.unsupported_feature, feature=_feature)

Mutation = tuple[str, Callable[[dict[str, Any]], None]]


# -- what can happen to a value ---------------------------------------------------------------


def blank(value: Any) -> Any:
    """The empty value of the same type (a number or a flag reports nothing: null)."""
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    return None


def cut(value: Any) -> Any:
    """The first half of a list or of an object's keys: a part whose collection stopped
    part-way. (A single text is not cut: WMI and registry strings arrive whole, and a cut in
    transport breaks the whole JSON document, which fails every check.)"""
    if isinstance(value, list):
        return value[: len(value) // 2]
    if isinstance(value, dict):
        keys = list(value)[: len(value) // 2]
        return {k: value[k] for k in keys}
    return None


def garble(value: Any, rng: random.Random) -> Any:
    """A value of another type: what a corrupted or misparsed field looks like."""
    junk: list[Any] = ["\ufffd\x00garbled", 7.5, -1, True, ["\ufffd"], {"\ufffd": 1}, "", None]
    others = [j for j in junk if type(j) is not type(value)]
    return rng.choice(others)


def garble_deep(part: dict[str, Any], rng: random.Random, rate: float) -> None:
    """Garble a seeded share of the nodes at every depth of one part."""

    def walk(node: Any) -> None:
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            if rng.random() < rate:
                node[key] = garble(node[key], rng)
            else:
                walk(node[key])

    walk(part)


# -- the mutations ------------------------------------------------------------------------


def part_mutations(name: str, part: Any, garble_seeds: int) -> Iterator[Mutation]:
    def replace(value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda parts: parts.__setitem__(name, copy.deepcopy(value))

    yield f"{name}: blank", replace({"_status": "ok", "_elapsed_ms": 3, "_counts": {}})
    yield (
        f"{name}: failed",
        replace(
            {
                "_status": "error",
                "_error": "Access is denied.",
                "_error_type": "System.UnauthorizedAccessException",
            }
        ),
    )
    yield (
        f"{name}: timed out",
        replace({"_status": "timeout", "_error": "did not finish within 600 s", "_elapsed_ms": 600000}),
    )
    yield f"{name}: removed", lambda parts: parts.pop(name)
    yield f"{name}: not an object", replace("\ufffd" * 8)
    if not isinstance(part, dict):
        return
    data = {k: v for k, v in part.items() if k not in PART_META}
    meta = {k: v for k, v in part.items() if k in PART_META}
    yield f"{name}: cut (keys)", replace({**cut(data), **meta})
    yield (
        f"{name}: cut (lists)",
        replace({**{k: cut(v) if isinstance(v, list) else v for k, v in data.items()}, **meta}),
    )
    yield f"{name}: no status", replace({k: v for k, v in part.items() if k != "_status"})
    yield (
        f"{name}: legacy error",
        replace({"error": "Invalid class", "type": "System.Management.ManagementException"}),
    )
    for seed in range(garble_seeds):
        rng = random.Random(f"{SEED}-{name}-{seed}")
        garbled = copy.deepcopy(part)
        garble_deep(garbled, rng, rate=0.15)
        yield f"{name}: garbled (seed {seed})", replace(garbled)
    for key, value in part.items():
        yield from key_mutations(name, key, value)


def key_mutations(name: str, key: str, value: Any) -> Iterator[Mutation]:
    def setter(new: Any) -> Callable[[dict[str, Any]], None]:
        return lambda parts: parts[name].__setitem__(key, copy.deepcopy(new))

    where = f"{name}.{key}"
    yield f"{where}: removed", lambda parts: parts[name].pop(key)
    yield f"{where}: null", setter(None)
    if blank(value) is not None:
        yield f"{where}: blank", setter(blank(value))
    if isinstance(value, (list, dict)) and len(value) > 0:  # strings arrive whole (see cut())
        yield f"{where}: cut", setter(cut(value))
    yield f"{where}: unreadable", setter({"_unreadable": "Access is denied."})
    yield f"{where}: garbled", setter(garble(value, random.Random(f"{SEED}-{where}")))


def all_mutations(
    parts: dict[str, Any], garble_seeds: int = GARBLE_SEEDS, only: set[str] | None = None
) -> Iterator[Mutation]:
    for name in PARTS:
        if only is None or name in only:
            yield from part_mutations(name, parts.get(name), garble_seeds)


class TracingFacts(WindowsFacts):
    """WindowsFacts that note which parts the checks read (every accessor goes through part())."""

    read: set[str]

    def part(self, name: str) -> dict[str, Any]:
        self.read.add(name)
        return super().part(name)


def parts_read(facts: WindowsFacts, names: list[str], checks: dict[str, Callable[..., Any]]) -> set[str]:
    tracing = TracingFacts(facts.parts, facts.admin_user, facts.meta)
    tracing.read = set()
    judge(tracing, names, checks)
    return tracing.read


# -- judging ---------------------------------------------------------------------------


def judge(
    facts: WindowsFacts, names: list[str], checks: dict[str, Callable[..., Any]] = CHECKS
) -> dict[tuple[str, str], Result]:
    """Every result; a FactError is an error, any other exception a crash (AssertionError)."""
    results = {}
    for profile in PROFILES:
        for name in names:
            try:
                result = checks[name](facts, profile).result
            except FactError:
                result = Result.ERROR
            except Exception as exc:  # noqa: BLE001 - a crash is a defect of its own
                raise AssertionError(f"{name} crashed ({profile.name}): {exc!r}") from exc
            results[(name, profile.name)] = result
    return results


def _update(part: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda parts: parts[part].update(values)


#: More edits of the compliant VM whose verdict is not a pass: other evidence of a violation,
#: and facts a check must call an error (these must stay errors, never become passes).
EXTRA_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "DHCP seen only by Win32_ServerFeature": _update(
        "features",
        source="unavailable",
        installed={"_unreadable": "Get-WindowsFeature failed: module not found"},
        server_feature_ids=[481, 12],
    ),
    "RDP denied by policy": _update("rdp", policy_fDenyTSConnections=1),
    "firewall rule disabled": lambda parts: [r.update(enabled=False) for r in parts["rdp"]["fw_rules"]],
    "search asked WSUS": _update(
        "updates", server_selection=0, use_wu_server=1, wu_server="http://wsus:8530"
    ),
    "search ended with errors": _update("updates", result_code=3),
    "search left hidden updates out": _update(
        "updates", criteria="IsInstalled=0 and Type='Software' and IsHidden=0"
    ),
    "BitLocker namespace access denied": _update(
        "bitlocker", namespace_error="Access denied ", wmi_error="AccessDenied"
    ),
    "a task definition unreadable": lambda parts: parts["tasks"]["tasks"].append(
        {"path": "\\Contoso\\Broken", "read_error": "Access is denied."}
    ),
    "Run key on G:": lambda parts: parts["drives"]["run_keys"][
        "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"
    ].update(Agent="G:\\agent.exe"),
    "connected as the built-in Administrator": _update(
        "accounts", current_sid="S-1-5-21-3128766436-4118573412-2409348571-500"
    ),
}


#: Windows-shaped VMs of tests/winrm_windows_shapes.py (WIN-001 / WIN-014 in today's shapes),
#: judged like the edits on the requirements they do not pass.
SHAPES = ("ws2022-old-agent", "agent-disabled", "agent-missing")


def baselines() -> Iterator[tuple[str, WindowsFacts, bool]]:
    """(label, facts, judge every check): the recorded sets, then each single-violation edit
    of the compliant VM and each Windows shape (judged on the requirements it does not pass)."""
    for path in RECORDED:
        yield path.stem, WindowsFacts.load(path), True
    for i, case in enumerate(CASES):
        yield f"compliant + edit {case[0]}-{i}", edited(case[1]), False
    for label, change in EXTRA_EDITS.items():
        yield f"compliant + {label}", edited(change), False
    for name in SHAPES:
        doc = shapes.SHAPES[name]()
        yield f"shape {name}", WindowsFacts(doc["parts"], "vmadmin", doc["meta"]), False


def run_harness(
    checks: dict[str, Callable[..., Any]] = CHECKS,
    sets: Iterable[tuple[str, WindowsFacts, bool]] | None = None,
) -> tuple[int, list[str], list[str]]:
    mutations, flips, crashes = 0, [], []
    # An edit is watched on the checks it changed: what the unedited compliant VM already does
    # not pass (WIN-001 of 2012 R2 under current) is covered by the recorded sets.
    unedited = judge(edited(lambda parts: None), list(checks), checks)
    for label, base, every_check in baselines() if sets is None else sets:
        before = judge(base, list(checks), checks)
        watched = sorted(
            {
                name
                for (name, profile), result in before.items()
                if result in NOT_PASSED and (label.startswith("shape") or result != unedited[(name, profile)])
            }
        )
        names = list(checks) if every_check else watched
        # a recorded set: every part; an edit: the parts its unpassed checks read
        only = None if every_check else parts_read(base, names, checks)
        for what, mutate in all_mutations(base.parts, GARBLE_SEEDS if every_check else 1, only):
            part_name = what.split(":")[0].split(".")[0]
            parts = {**base.parts, part_name: copy.deepcopy(base.parts.get(part_name))}
            mutate(parts)
            mutations += 1
            try:
                after = judge(WindowsFacts(parts, base.admin_user, base.meta), names, checks)
            except AssertionError as exc:
                crashes.append(f"{label} / {what}: {exc}")
                continue
            for key, result in after.items():
                if result is Result.PASSED and before[key] in NOT_PASSED:
                    flips.append(f"{label} / {what}: {key[0]} ({key[1]}) {before[key].value} -> passed")
    return mutations, flips, crashes


@pytest.fixture(autouse=True)
def pinned_run_date(monkeypatch):
    monkeypatch.setattr(windows, "run_date", lambda: RUN_DATE)


def test_recorded_fact_sets_cover_every_requirement():
    """The violating set fails or warns every WIN requirement in both profiles, so the harness
    watches every check."""
    violating = WindowsFacts.load(Path(__file__).parent / "recorded" / "windows" / "ws2012r2-violating.json")
    results = judge(violating, list(CHECKS))
    assert results.pop(("WIN-010 Hyper-V", "current")) is Result.NOT_APPLICABLE  # not on the current list
    assert {r for r in results.values()} <= {Result.FAILED, Result.WARNING}, results


def test_no_degradation_turns_a_verdict_into_a_pass(capsys: pytest.CaptureFixture[str]):
    mutations, flips, crashes = run_harness()
    with capsys.disabled():
        print(f"\nwindows degradation: {mutations} mutations, {len(flips)} flips, {len(crashes)} crashes")
    assert mutations >= 1500
    assert not flips, "\n".join(flips[:40])
    assert not crashes, "\n".join(crashes[:40])


def lenient_bitlocker_check(facts: WindowsFacts, profile: Any) -> Any:
    """WIN-011 as it was before issue 8: a missing protection status counted as "off"."""
    part = facts.parts.get("bitlocker") or {}
    if not isinstance(part, dict) or not part.get("volume_found"):
        return Verdict.passed("no volume", "off")
    if int(part.get("protection_status", 0) or 0) == 0:
        return Verdict.passed("off", "off")
    return Verdict.failed("on", "off", "BitLocker on")


def test_the_harness_catches_a_check_that_passes_on_missing_evidence():
    violating = WindowsFacts.load(Path(__file__).parent / "recorded" / "windows" / "ws2012r2-violating.json")
    mutations, flips, _ = run_harness({"WIN-011": lenient_bitlocker_check}, [("violating", violating, True)])
    assert mutations > 100
    assert any("bitlocker: blank" in f for f in flips) and any(
        "bitlocker.protection_status: removed" in f for f in flips
    )


def test_every_extra_edit_is_not_a_pass():
    for label, change in EXTRA_EDITS.items():
        results = judge(edited(change), list(CHECKS))
        assert any(r in NOT_PASSED for r in results.values()), label
