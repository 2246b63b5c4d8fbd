"""The results in every output: properties, terminal, HTML, JSON.

Each requirement test carries JUnit properties ``requirement``, ``result``
(passed|warning|failed|not_applicable|error), ``actual``, ``required`` and
``host``, plus ``title``, ``guide``, ``severity`` and ``message``. Everything
else (terminal categories, HTML columns, the JSON certification report) is
derived from those properties, so it is the same with and without xdist.

The JSON certification report (``--vm-report``, schema
``pytest_vmimage/schema/report.schema.json``) is also what ``python -m
pytest_vmimage merge`` reads, so the overall results are pure functions of that
document (:func:`judge`): a merged report is judged by the same rules as a run.

Overall result of a target and of a run:

- **Failed**: a requirement failed;
- **Incomplete**: nothing failed, but something was not judged: an error, a
  requirement deselected (``-k``, ``-m``, ``--vm-severity``) or not collected,
  or not applicable for a reason that means "did not look" (no input of that
  kind given, ``--vm-offline``, a skip); or nothing at all was checked;
- **Passed with warnings**: everything judged, some recommendation not met;
- **Passed**: everything judged and met.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vmimage import __version__
from pytest_vmimage.catalog import KIND_BY_PREFIX
from pytest_vmimage.verdict import Result

SCHEMA_VERSION = "2.0"
TOOL_NAME = "pytest-vmimage"

PROPERTY_NAMES = (
    "requirement",
    "title",
    "guide",
    "severity",
    "result",
    "actual",
    "required",
    "host",
    "message",
)

PASSED = "Passed"
PASSED_WITH_WARNINGS = "Passed with warnings"
FAILED = "Failed"
INCOMPLETE = "Incomplete"
OVERALL_RESULTS = (PASSED, PASSED_WITH_WARNINGS, FAILED, INCOMPLETE)

# Result words of the JSON report, worst first (conflicts keep the worst).
WORST_FIRST = ("Failed", "Error", "Warning", "Passed", "NotApplicable")

# Not-applicable reasons that mean the tool did not look (a check's own "does not
# apply" is accepted; these are not): the report lists them and says Incomplete.
NOT_CHECKED_REASONS = (
    re.compile(r"^offline\b", re.I),
    re.compile(r"^no (\w+ )*(target|VHD|SAS URI|offer manifest|artifact)s? given", re.I),
)


def properties_of(report) -> dict[str, str]:
    """Our properties on a report (empty for tests that are not requirements)."""
    props = {name: value for name, value in getattr(report, "user_properties", ()) if name in PROPERTY_NAMES}
    return props if "result" in props else {}


def result_of(report) -> str | None:
    return properties_of(report).get("result")


def test_case_name(nodeid: str) -> str:
    """``suites/linux/test_boot.py::test_kernel_boot_line[D2s]`` -> ``test_kernel_boot_line``."""
    return re.sub(r"\[.*\]$", "", nodeid.split("::")[-1])


def kind_of(test_id: str) -> str:
    """``linux``, ``windows``, ``artifact`` (VHD/SAS/SKU) or ``other`` (a user's own test)."""
    return KIND_BY_PREFIX.get(test_id[:3], "other") if test_id else "other"


def na_accepted(reason: str, from_setup: bool) -> bool:
    """A not-applicable result is accepted when the check itself judged that the
    requirement does not apply; a skip before the check ran, or a reason that says
    the input was missing or the tool stayed offline, is "not checked"."""
    if from_setup:
        return False
    return not any(pattern.search(reason.strip()) for pattern in NOT_CHECKED_REASONS)


# -- judging a report document (a run or a merge) ---------------------------------------


@dataclass
class Judgement:
    """The overall result of a report, per target and for the run, with the reasons."""

    overall: str
    per_target: dict[str, str]
    incomplete: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)


def scope_kinds(report: dict) -> set[str]:
    """The kinds this report is about: the OS of every target, and ``artifact`` when
    any artifact was checked. Requirements of other kinds are out of scope."""
    kinds = {host.get("OS", "") for host in report.get("Hosts", [])}
    kinds |= {kind_of(t["TestID"]) for t in report.get("Tests", []) if t.get("Host")}
    kinds |= {kind_of(n["TestID"]) for n in report.get("NotRun", []) if n.get("Host")}
    return {kind for kind in kinds if kind}


def _verdict_of(results: list[str], not_judged: bool) -> str:
    if "Failed" in results:
        return FAILED
    if not_judged or not any(r in ("Passed", "Warning") for r in results):
        return INCOMPLETE
    if "Warning" in results:
        return PASSED_WITH_WARNINGS
    return PASSED


def judge(report: dict) -> Judgement:
    """Overall result per target and for the run, from the Tests and NotRun lists."""
    kinds = scope_kinds(report)
    tests = report.get("Tests", [])
    incomplete: list[str] = []
    warnings: list[str] = []
    out_of_scope: list[str] = []
    by_target: dict[str, list[dict]] = {}
    for test in tests:
        by_target.setdefault(test.get("Host", ""), []).append(test)
    for host in report.get("Hosts", []):
        by_target.setdefault(host["Label"], [])
    not_run_by_target: dict[str, list[dict]] = {}
    for entry in report.get("NotRun", []):
        not_run_by_target.setdefault(entry.get("Host", ""), []).append(entry)

    counted: list[str] = []
    per_target: dict[str, str] = {}
    run_not_judged = False
    for label in sorted(set(by_target) | set(not_run_by_target)):
        results: list[str] = []
        not_judged = False
        for test in by_target.get(label, []):
            name = _row_name(test)
            result = test["Result"]
            if result == "NotApplicable":
                if not label and kind_of(test.get("TestID", "")) not in kinds:
                    out_of_scope.append(f"{name}: {test.get('Message') or 'not applicable'}")
                    continue
                if not test.get("Accepted", False):
                    not_judged = True
                    incomplete.append(f"{name} was not checked: {test.get('Message') or 'no reason given'}")
                continue
            if result == "Error":
                not_judged = True
                incomplete.append(f"{name} could not be judged (error): {test.get('Message', '')}")
            if result == "Warning":
                warnings.append(warning_in_words(test))
            results.append(result)
        for entry in not_run_by_target.get(label, []):
            not_judged = True
            where = f" on {entry['Host']}" if entry.get("Host") else ""
            incomplete.append(f"{entry['TestID']}{where} was not run: {entry.get('Reason', '')}")
        counted += results
        run_not_judged = run_not_judged or not_judged
        if label:
            per_target[label] = _verdict_of(results, not_judged)
    overall = _verdict_of(counted, run_not_judged)
    if not counted:
        incomplete.append("no requirement was checked (nothing applied to the given targets and files)")
    return Judgement(overall, per_target, incomplete, warnings, out_of_scope)


def _row_name(test: dict) -> str:
    name = test.get("TestID") or test.get("TestCaseName") or test.get("NodeID", "?")
    return f"{name} on {test['Host']}" if test.get("Host") else name


def warning_in_words(test: dict) -> str:
    """What a warning means, for a reviewer."""
    detail = test.get("Message") or test.get("ActualValue") or ""
    return (
        f"{_row_name(test)} ({test.get('Description', '')}): a recommendation is not met, "
        f"not a rule: the image can still be certified, but expect the reviewer to ask about it. "
        f"{detail}"
    ).strip()


def apply_judgement(report: dict) -> dict:
    """Fill TestResult, each target's TestResult, and the explanations into ``report``."""
    judgement = judge(report)
    report["TestResult"] = judgement.overall
    for target in report.get("Targets", []):
        target["TestResult"] = judgement.per_target.get(target["Label"], INCOMPLETE)
    known = {t["Label"] for t in report.get("Targets", [])}
    for label, verdict in judgement.per_target.items():
        if label not in known:
            report.setdefault("Targets", []).append({"Label": label, "Kind": "other", "TestResult": verdict})
    report["Targets"] = sorted(report.get("Targets", []), key=lambda t: t["Label"])
    report["Incomplete"] = judgement.incomplete
    report["WarningsExplained"] = judgement.warnings
    report["OutOfScope"] = judgement.out_of_scope
    report.pop("Note", None)
    if not any(t["Result"] in ("Passed", "Warning", "Failed") for t in report.get("Tests", [])):
        report["Note"] = "no requirement was checked (nothing applied to the given targets and files)"
    return report


# -- gathering results during a run ---------------------------------------------------------


@dataclass
class Outcome:
    nodeid: str
    props: dict[str, str]
    from_setup: bool = False


class ResultCollector:
    """Registered on the controller only: gathers the final properties of every
    requirement test (from its teardown report, which carries them all)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self._setup_skipped: set[str] = set()

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "setup" and report.skipped:
            self._setup_skipped.add(report.nodeid)
        if report.when != "teardown":
            return
        props = properties_of(report)
        if props:
            self.outcomes[report.nodeid] = Outcome(
                report.nodeid, props, from_setup=report.nodeid in self._setup_skipped
            )

    def counts(self) -> Counter:
        return Counter(outcome.props["result"] for outcome in self.outcomes.values())

    def tests(self) -> list[dict]:
        tests = []
        for outcome in sorted(
            self.outcomes.values(),
            key=lambda o: (o.props.get("requirement", ""), o.props.get("host", ""), o.nodeid),
        ):
            props = outcome.props
            test = {
                "TestID": props.get("requirement", ""),
                "TestCaseName": test_case_name(outcome.nodeid),
                "Description": props.get("title", ""),
                "Host": props.get("host", ""),
                "GuideSection": props.get("guide", ""),
                "Result": Result(props["result"]).report_word,
                "ActualValue": props.get("actual", ""),
                "RequiredValue": props.get("required", ""),
                "Message": props.get("message", ""),
                "Severity": props.get("severity", ""),
                "NodeID": outcome.nodeid,
            }
            if test["Result"] == "NotApplicable":
                test["Accepted"] = na_accepted(test["Message"], outcome.from_setup)
            tests.append(test)
        return tests


@dataclass
class RunContext:
    """What a report says besides the results: profile, overrides, targets, what was not run."""

    profile: str
    hosts: list[dict] = field(default_factory=list)
    overrides: list[dict] = field(default_factory=list)
    declared: list[dict] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)
    not_run: list[dict] = field(default_factory=list)
    created: str = ""


def build_report(tests: list[dict], context: RunContext) -> dict:
    """The JSON certification report of one run."""
    covered = {(t["TestID"], t["Host"]) for t in tests}
    report = {
        "SchemaVersion": SCHEMA_VERSION,
        "Tool": {"Name": TOOL_NAME, "Version": __version__},
        "CreatedDate": context.created or now_iso(),
        "TestResult": INCOMPLETE,
        "Profile": context.profile,
        "Overrides": context.overrides,
        "Declared": context.declared,
        "Hosts": context.hosts,
        "Targets": [dict(t) for t in context.targets],
        "Tests": tests,
        "NotRun": sorted(
            (n for n in context.not_run if (n["TestID"], n.get("Host", "")) not in covered),
            key=lambda n: (n["TestID"], n.get("Host", "")),
        ),
    }
    return apply_judgement(report)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def write_json_atomic(path: str | Path, document: dict) -> None:
    """Write a JSON document so that a reader never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    os.replace(temp, path)


# -- terminal ---------------------------------------------------------------------------


def summary_lines(outcomes: list[Outcome], verbose: bool) -> list[str]:
    """Lines for the terminal: counts per host, then every non-pass with its message."""
    if not outcomes:
        return []
    by_host: dict[str, Counter] = {}
    for outcome in outcomes:
        by_host.setdefault(outcome.props.get("host") or "(no target or file)", Counter())[
            outcome.props["result"]
        ] += 1
    lines = []
    order = [r.value for r in Result]
    for host in sorted(by_host):
        counts = by_host[host]
        text = ", ".join(f"{counts[r]} {r.replace('_', ' ')}" for r in order if counts[r])
        lines.append(f"{host}: {text}")
    shown = {"failed", "error", "warning", "not_applicable"} | ({"passed"} if verbose else set())
    for outcome in sorted(outcomes, key=lambda o: (o.props.get("host", ""), o.props.get("requirement", ""))):
        props = outcome.props
        if props["result"] in shown:
            word = props["result"].replace("_", " ").upper()
            where = f" [{props['host']}]" if props.get("host") else ""
            detail = props.get("message") or props.get("actual") or ""
            lines.append(
                f"{word:<13} {props.get('requirement', '')}{where} {props.get('title', '')}: {detail}"
            )
    return lines


def header_lines(report: dict) -> list[str]:
    """The report header as terminal lines: overall results, profile, overrides, what was tested."""
    lines = [f"overall: {report['TestResult']} (profile {report['Profile']})"]
    for override in report.get("Overrides", []):
        lines.append(
            f"  override {override['Name']} = {override['Value']!r} "
            f"(profile default {override['Default']!r}): {override['Meaning']}"
        )
    for item in report.get("Declared", []):
        lines.append(f"  declared {item['Name']} = {item['Value']!r}: {item['Meaning']}")
    for target in report.get("Targets", []):
        tested = "; ".join(f"{k}: {v}" for k, v in target.get("Tested", {}).items())
        lines.append(f"  {target['Label']}: {target['TestResult']}" + (f" ({tested})" if tested else ""))
    for reason in report.get("Incomplete", []):
        lines.append(f"  incomplete: {reason}")
    return lines


# -- pytest-html columns -------------------------------------------------------------------


def html_header_cells() -> list[str]:
    return [
        '<th class="sortable" data-column-type="requirement">Requirement</th>',
        '<th class="sortable" data-column-type="vmresult">Verdict</th>',
        '<th data-column-type="actual">Actual</th>',
        '<th data-column-type="required">Required</th>',
    ]


def html_row_cells(report) -> list[str]:
    props = properties_of(report)
    values = [
        props.get("requirement", ""),
        props.get("result", ""),
        props.get("actual", ""),
        props.get("required", ""),
    ]
    classes = ["requirement", "vmresult", "actual", "required"]
    return [
        f'<td class="col-{cls}">{html.escape(value)}</td>' for cls, value in zip(classes, values, strict=True)
    ]
