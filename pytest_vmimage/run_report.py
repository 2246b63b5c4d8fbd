"""The certification report of one pytest run: what the plugin's report hooks call.

Every process records what it saw (requirements deselected, whether the bundled
suites were collected, a description of each target from the facts it gathered);
xdist workers send that record to the controller (``workeroutput``), which builds
the one JSON report that the terminal header, the HTML header and ``--vm-report``
all show (:func:`run_report`, built once per session).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from pytest_vmimage.catalog import requirement_of
from pytest_vmimage.facts.linux import section_timings
from pytest_vmimage.report import RunContext, build_report
from pytest_vmimage.tested import UNKNOWN, describe_linux, describe_vhd, describe_windows, file_sha256

RECORD = pytest.StashKey["RunRecord"]()
REPORT = pytest.StashKey[dict]()
WORKER_KEY = "vm_report_record"
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


@dataclass
class RunRecord:
    deselected: list[dict] = field(default_factory=list)
    suites_collected: bool = False
    tested: dict[str, dict] = field(default_factory=dict)  # label -> description
    fact_sections: dict[str, list] = field(default_factory=dict)  # label -> section timings

    def add(self, other: dict) -> None:
        seen = {(d["TestID"], d["Host"]) for d in self.deselected}
        for entry in other.get("deselected", []):
            if (entry["TestID"], entry["Host"]) not in seen:
                self.deselected.append(entry)
                seen.add((entry["TestID"], entry["Host"]))
        self.suites_collected = self.suites_collected or other.get("suites_collected", False)
        for label, description in other.get("tested", {}).items():
            self.tested.setdefault(label, description)
        for label, timings in other.get("fact_sections", {}).items():
            self.fact_sections.setdefault(label, timings)


def record(config: pytest.Config) -> RunRecord:
    found = config.stash.get(RECORD, None)
    if found is None:
        found = config.stash[RECORD] = RunRecord()
    return found


def _label_of(item) -> str:
    params = item.callspec.params if hasattr(item, "callspec") else {}
    target = params.get("vm_target") or params.get("vm_artifact")
    return getattr(target, "label", "") or ""


def note_deselected(config: pytest.Config, items, config_error: bool) -> None:
    """Requirements a run deselected are listed in its report (never a silent pass)."""
    if config_error:
        return
    severities = config.getoption("vm_severity", None) or []
    run = record(config)
    for item in items:
        run.suites_collected = run.suites_collected or _in_suites(item)
        declared = requirement_of(getattr(item, "obj", None))
        if declared is None:
            continue
        if severities and declared.severity not in severities:
            reason = (
                f"deselected by --vm-severity {' '.join(severities)} (its severity is {declared.severity})"
            )
        else:
            reason = "deselected (-k / -m / --deselect)"
        run.add({"deselected": [{"TestID": declared.id, "Host": _label_of(item), "Reason": reason}]})


def note_collection(session: pytest.Session) -> None:
    """Whether the bundled suites were collected: then a requirement of the catalogue that
    did not run for a target in scope is listed as not run."""
    run = record(session.config)
    run.suites_collected = run.suites_collected or any(_in_suites(item) for item in session.items)


def _in_suites(item) -> bool:
    return SUITES_DIR in Path(str(getattr(item, "path", ""))).resolve().parents


def describe_gathered(config: pytest.Config, state) -> None:
    """Describe every target this process gathered facts of (workers and controller)."""
    run = record(config)
    for (os_name, label), facts in getattr(state, "facts", {}).items():
        if isinstance(facts, Exception):
            run.tested.setdefault(
                label, {"Facts": f"{UNKNOWN} (collecting facts failed: {str(facts)[:200]})"}
            )
        elif os_name == "linux":
            run.tested[label] = describe_linux(facts, label)
            if all(s.seconds is not None for s in facts.sections.values()):  # live, not a VHD or a recording
                run.fact_sections[label] = section_timings(facts.sections)
        elif os_name == "windows":
            run.tested[label] = describe_windows(facts, label)
    artifacts = _artifacts(config)
    if artifacts is None:
        return
    for vhd in artifacts.vhds:
        cached = artifacts.disks.get(vhd.path)
        if cached is None:
            continue
        error = cached if isinstance(cached, Exception) else None
        facts = None if error else cached
        run.tested[vhd.label] = describe_vhd(vhd.path, facts, error, f"{UNKNOWN} (not computed)")


def _artifacts(config: pytest.Config):
    from pytest_vmimage.artifacts_plugin import ARTIFACTS

    return config.stash.get(ARTIFACTS, None)


def worker_output(config: pytest.Config, state) -> None:
    describe_gathered(config, state)
    config.workeroutput[WORKER_KEY] = json.dumps(asdict(record(config)))


def add_worker_output(config: pytest.Config, workeroutput: dict) -> None:
    text = workeroutput.get(WORKER_KEY)
    if text:
        record(config).add(json.loads(text))


def fact_section_lines(label: str, timings: list[dict]) -> list[str]:
    """``-vv``: a target's fact sections, slowest first, with deadline and status."""
    if not timings:
        return []
    total = sum(row["Seconds"] or 0 for row in timings)
    head = f"{label}: {len(timings)} fact sections, {total:.1f} s in all on the VM"
    lines = [head + " (slowest first; the concurrent ones overlap):"]
    for row in timings:
        seconds = "?" if row["Seconds"] is None else f"{row['Seconds']:.1f}"
        deadline = "none" if not row["Deadline"] else f"{row['Deadline']:g} s"
        lines.append(f"  {row['Name']:<20} {seconds:>6} s  (deadline {deadline})  {row['Status']}")
    return lines


# -- the report -------------------------------------------------------------------------------


def overrides_of(profile) -> tuple[list[dict], list[dict]]:
    """Thresholds the config file set, with the profile's own value; declared image settings."""
    from pytest_vmimage.profiles import CURRENT, IMAGE_SETTINGS, THRESHOLDS

    if profile is None:
        return [], []
    column = 1 if profile.name == CURRENT else 0
    overrides = [
        {
            "Name": name,
            "Value": profile[name],
            "Default": THRESHOLDS[name][column],
            "Meaning": THRESHOLDS[name][2],
        }
        for name in profile.overridden
        if name in THRESHOLDS
    ]
    overrides += [
        {
            "Name": f"section_timeouts.{name}",
            "Value": seconds,
            "Default": "built-in (facts/linux.py)",
            "Meaning": f"seconds allowed for the Linux fact section {name}",
        }
        for name, seconds in sorted(getattr(profile, "section_timeouts", {}).items())
    ]
    declared = [
        {"Name": name, "Value": value, "Meaning": IMAGE_SETTINGS[name][1]}
        for name, value in sorted(profile.image.items())
        if name in IMAGE_SETTINGS and value != IMAGE_SETTINGS[name][0]
    ]
    return overrides, declared


def _targets(config: pytest.Config, state, run: RunRecord) -> list[dict]:
    targets = []
    for target in state.targets:
        tested = run.tested.get(target.label) or {
            "Facts": f"{UNKNOWN} (no facts were gathered: no check ran or the VM was not reached)"
        }
        targets.append({"Label": target.label, "Kind": target.os, "Tested": tested})
        if target.label in run.fact_sections:
            targets[-1]["FactSections"] = run.fact_sections[target.label]
    artifacts = _artifacts(config)
    if artifacts is None:
        return targets
    want_sha = bool(config.getoption("vm_vhd_sha256", False))
    for vhd in artifacts.vhds:
        tested = dict(
            run.tested.get(vhd.label)
            or {"File": vhd.path.name, "Distribution": f"{UNKNOWN} (the VHD was not inspected in this run)"}
        )
        if "FileSize" not in tested:
            try:
                tested["FileSize"] = f"{vhd.path.stat().st_size} bytes"
            except OSError as exc:
                tested["FileSize"] = f"{UNKNOWN} (cannot stat: {exc.strerror})"
        tested["SHA256"] = (
            file_sha256(vhd.path) if want_sha else f"{UNKNOWN} (not computed; pass --vm-vhd-sha256)"
        )
        targets.append({"Label": vhd.label, "Kind": f"{vhd.role}-vhd", "Tested": tested})
    for sas in artifacts.sas:
        targets.append({"Label": sas.label, "Kind": "sas", "Tested": {"URL": sas.facts.redacted_uri}})
    for sku in artifacts.skus:
        targets.append(
            {"Label": sku.label, "Kind": "sku", "Tested": {"Offer": sku.offer.id, "SKU": sku.sku.id}}
        )
    return targets


def _not_run(
    config: pytest.Config, state, run: RunRecord, tests: list[dict], targets: list[dict]
) -> list[dict]:
    not_run = list(run.deselected)
    if not run.suites_collected:
        return not_run
    from pytest_vmimage.docs import declared_requirements

    listed = {(n["TestID"], n["Host"]) for n in not_run}
    have = {(t["TestID"], t["Host"]) for t in tests}
    have_any = {t["TestID"] for t in tests}
    catalogue = [declared for declared, _ in declared_requirements()]
    for target in state.targets:
        for declared in catalogue:
            key = (declared.id, target.label)
            if declared.kind == target.os and key not in have and key not in listed:
                not_run.append(
                    {"TestID": declared.id, "Host": target.label, "Reason": "not collected in this run"}
                )
    if any(t["Kind"] not in ("linux", "windows") for t in targets):
        for declared in catalogue:
            if (
                declared.kind == "artifact"
                and declared.id not in have_any
                and not any(n["TestID"] == declared.id for n in not_run)
            ):
                not_run.append({"TestID": declared.id, "Host": "", "Reason": "not collected in this run"})
    return not_run


def run_report(config: pytest.Config, state, collector) -> dict:
    """The report of this run (controller only), built once and reused by every output."""
    cached = config.stash.get(REPORT, None)
    if cached is not None:
        return cached
    run = record(config)
    describe_gathered(config, state)
    tests = collector.tests()
    targets = _targets(config, state, run)
    overrides, declared = overrides_of(state.profile)
    context = RunContext(
        profile=state.profile.name if state.profile else config.getoption("vm_profile"),
        hosts=state.hosts(),
        overrides=overrides,
        declared=declared,
        targets=targets,
        not_run=_not_run(config, state, run, tests, targets),
    )
    report = config.stash[REPORT] = build_report(tests, context)
    return report
