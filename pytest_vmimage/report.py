"""The three-state results in every output: properties, terminal, HTML, JSON.

Each requirement test carries JUnit properties ``requirement``, ``result``
(passed|warning|failed|not_applicable|error), ``actual``, ``required`` and
``host``, plus ``title``, ``guide``, ``severity`` and ``message``. Everything
else (terminal categories, HTML columns, the JSON certification report) is
derived from those properties, so it is the same with and without xdist.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pytest_vmimage.verdict import Result

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


def properties_of(report) -> dict[str, str]:
    """Our properties on a report (empty for tests that are not requirements)."""
    props = {name: value for name, value in getattr(report, "user_properties", ()) if name in PROPERTY_NAMES}
    return props if "result" in props else {}


def result_of(report) -> str | None:
    return properties_of(report).get("result")


def test_case_name(nodeid: str) -> str:
    """``suites/linux/test_boot.py::test_kernel_boot_line[D2s]`` -> ``test_kernel_boot_line``."""
    return re.sub(r"\[.*\]$", "", nodeid.split("::")[-1])


@dataclass
class Outcome:
    nodeid: str
    props: dict[str, str]


class ResultCollector:
    """Registered on the controller only: gathers the final properties of every
    requirement test (from its teardown report, which carries them all)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if report.when != "teardown":
            return
        props = properties_of(report)
        if props:
            self.outcomes[report.nodeid] = Outcome(report.nodeid, props)

    def counts(self) -> Counter:
        return Counter(outcome.props["result"] for outcome in self.outcomes.values())

    def overall(self) -> str:
        counts = self.counts()
        checked = sum(n for result, n in counts.items() if result != Result.NOT_APPLICABLE.value)
        if not checked or counts[Result.FAILED.value] or counts[Result.ERROR.value]:
            return "Failed"
        if counts[Result.WARNING.value]:
            return "Warning"
        return "Passed"

    def json_report(self, profile: str, hosts: list[dict]) -> dict:
        tests = []
        for outcome in sorted(
            self.outcomes.values(),
            key=lambda o: (o.props.get("requirement", ""), o.props.get("host", ""), o.nodeid),
        ):
            props = outcome.props
            tests.append(
                {
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
            )
        report = {"TestResult": self.overall(), "Profile": profile, "Hosts": hosts, "Tests": tests}
        if all(test["Result"] == "NotApplicable" for test in tests):
            report["Note"] = "no requirement was checked (nothing applied to the given targets and files)"
        return report

    def write_json(self, path: str | Path, profile: str, hosts: list[dict]) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.json_report(profile, hosts), indent=2, ensure_ascii=False) + "\n")

    def summary_lines(self, verbose: bool) -> list[str]:
        """Lines for the terminal: counts per host, then every non-pass with its message."""
        if not self.outcomes:
            return []
        by_host: dict[str, Counter] = {}
        for outcome in self.outcomes.values():
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
        for outcome in sorted(
            self.outcomes.values(), key=lambda o: (o.props.get("host", ""), o.props.get("requirement", ""))
        ):
            props = outcome.props
            if props["result"] in shown:
                word = props["result"].replace("_", " ").upper()
                where = f" [{props['host']}]" if props.get("host") else ""
                detail = props.get("message") or props.get("actual") or ""
                lines.append(
                    f"{word:<13} {props.get('requirement', '')}{where} {props.get('title', '')}: {detail}"
                )
        return lines


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
