"""Merge the JSON reports of a CI matrix into one submission report.

``python -m pytest_vmimage merge JOB1.json JOB2.json ... -o submission.json
[--html submission.html] [--junit TEST-submission.xml] [--allow-mixed]``

- Several sizes of one image: each report's targets become columns side by side.
- Different requirements from different jobs (artifacts job + Linux job) are united.
- The same requirement on the same target with different results is a conflict:
  the worse result is kept and both are listed (``Conflicts``).
- Reports of different profiles, overrides or tool versions are refused unless
  ``--allow-mixed`` (the merged report then says what differed, ``Mixed``).
- A file that cannot be read, is not JSON or does not match the report schema stops
  the merge with a message naming the file; nothing is written.

The merged report is judged by the same rules as a single run
(:func:`pytest_vmimage.report.apply_judgement`). Exit status: 0 Passed or Passed
with warnings, 1 Failed or Incomplete, 2 bad input (nothing written).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

from pytest_vmimage import __version__
from pytest_vmimage.report import (
    FAILED,
    INCOMPLETE,
    SCHEMA_VERSION,
    TOOL_NAME,
    WORST_FIRST,
    apply_judgement,
    now_iso,
)


class MergeError(Exception):
    """Input the merge refuses; the message names the file and the problem."""


def schema() -> dict:
    return json.loads(resources.files("pytest_vmimage").joinpath("schema/report.schema.json").read_text())


def validate(document: dict, where: str) -> None:
    """Raise MergeError when ``document`` does not match the report schema."""
    import jsonschema

    if isinstance(document, dict) and document.get("SchemaVersion") not in (None, SCHEMA_VERSION):
        raise MergeError(
            f"{where}: report schema version {document.get('SchemaVersion')!r}; this pytest-vmimage "
            f"({__version__}) reads {SCHEMA_VERSION}"
        )
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        at = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise MergeError(
            f"{where}: not a pytest-vmimage report (schema {SCHEMA_VERSION}): at {at}: {first.message[:300]}"
        )


def load_report(path: str | Path) -> tuple[dict, bytes]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MergeError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MergeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MergeError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    validate(document, str(path))
    return document, data


def _settings(report: dict) -> str:
    return json.dumps([report.get("Overrides", []), report.get("Declared", [])], sort_keys=True)


def _check_same(inputs: list[tuple[str, dict]], allow_mixed: bool) -> list[str]:
    mixed = []
    for what, key in (
        ("profiles", lambda r: r["Profile"]),
        ("tool versions", lambda r: r["Tool"]["Version"]),
        ("threshold overrides", _settings),
    ):
        seen: dict[str, list[str]] = {}
        for name, report in inputs:
            seen.setdefault(key(report), []).append(name)
        if len(seen) > 1:
            shown = "; ".join(
                f"{value if len(value) < 80 else value[:77] + '...'} ({', '.join(names)})"
                for value, names in seen.items()
            )
            if not allow_mixed:
                raise MergeError(
                    f"the reports were made with different {what}: {shown}. A submission is judged by one "
                    "profile: rerun the jobs with the same --vm-profile/--vm-config and pytest-vmimage "
                    "version, or pass --allow-mixed to merge them anyway (the merged report says so)"
                )
            mixed.append(f"different {what}: {shown}")
    return mixed


def _rank(test: dict) -> tuple[int, int]:
    """Lower is worse: Failed, Error, Warning, Passed, NotApplicable (not checked before accepted)."""
    return WORST_FIRST.index(test["Result"]), 1 if test.get("Accepted") else 0


def _key(test: dict) -> tuple[str, str]:
    return (test["TestID"] or f"case:{test['NodeID']}", test["Host"])


def merge_reports(inputs: list[tuple[str, dict]], allow_mixed: bool = False) -> dict:
    """One report from several (``(source name, report)`` pairs), judged anew."""
    if not inputs:
        raise MergeError("no report to merge")
    mixed = _check_same(inputs, allow_mixed)
    rows: dict[tuple[str, str], list[tuple[str, dict]]] = {}
    for name, report in inputs:
        for test in report["Tests"]:
            rows.setdefault(_key(test), []).append((name, test))
    hosted_ids = {key[0] for key in rows if key[1]}
    tests, conflicts = [], []
    for key in sorted(rows):
        found = rows[key]
        if not key[1] and key[0] in hosted_ids and all(t["Result"] == "NotApplicable" for _, t in found):
            continue  # "no VHD given" in one job, checked on a target in another
        found.sort(key=lambda pair: _rank(pair[1]))
        source, kept = found[0]
        kept = dict(kept)
        distinct = {(t["Result"], bool(t.get("Accepted"))) for _, t in found}
        kept["Source"] = ", ".join(dict.fromkeys(name for name, _ in found))
        if len(distinct) > 1:
            kept["Conflict"] = True
            conflicts.append(
                {
                    "TestID": kept["TestID"] or kept["TestCaseName"],
                    "Host": kept["Host"],
                    "Kept": kept["Result"],
                    "Results": [
                        {"Result": t["Result"], "Source": name, "Message": t.get("Message", "")}
                        for name, t in found
                    ],
                }
            )
        tests.append(kept)
    covered = {(t["TestID"], t["Host"]) for t in tests}
    covered_ids = {t["TestID"] for t in tests if t["Result"] != "NotApplicable" or t.get("Accepted")}
    not_run, seen = [], set()
    for _, report in inputs:
        for entry in report["NotRun"]:
            key = (entry["TestID"], entry["Host"])
            if key in seen or key in covered or (not entry["Host"] and entry["TestID"] in covered_ids):
                continue
            seen.add(key)
            not_run.append(entry)
    hosts, targets = [], {}
    for _, report in inputs:
        for host in report["Hosts"]:
            if host not in hosts:
                hosts.append(host)
        for target in report["Targets"]:
            targets.setdefault(target["Label"], {k: v for k, v in target.items() if k != "TestResult"})
    first = inputs[0][1]
    versions = sorted({r["Tool"]["Version"] for _, r in inputs})
    merged = {
        "SchemaVersion": SCHEMA_VERSION,
        "Tool": {"Name": TOOL_NAME, "Version": versions[0] if len(versions) == 1 else __version__},
        "CreatedDate": now_iso(),
        "TestResult": INCOMPLETE,
        "Profile": "+".join(sorted({r["Profile"] for _, r in inputs})),
        "Overrides": first["Overrides"],
        "Declared": first.get("Declared", []),
        "Hosts": hosts,
        "Targets": list(targets.values()),
        "Tests": tests,
        "NotRun": sorted(not_run, key=lambda n: (n["TestID"], n["Host"])),
        "Sources": [],
        "Conflicts": conflicts,
    }
    if mixed:
        merged["Mixed"] = mixed
    apply_judgement(merged)
    return merged


# -- outputs ------------------------------------------------------------------------------


def junit_xml(report: dict) -> bytes:
    """JUnit with the requirement ID as the test name and the target as the class name."""
    suite = ET.Element("testsuite", name="vmimage-certification")
    props = ET.SubElement(suite, "properties")
    for name, value in (("vmimage_result", report["TestResult"]), ("vmimage_profile", report["Profile"])):
        ET.SubElement(props, "property", name=name, value=value)
    for item in report["Overrides"]:
        ET.SubElement(
            props,
            "property",
            name=f"vmimage_override_{item['Name']}",
            value=f"{item['Value']!r} (profile default {item['Default']!r})",
        )
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for test in report["Tests"]:
        case = ET.SubElement(
            suite,
            "testcase",
            name=test["TestID"] or test["TestCaseName"],
            classname=f"vmimage.{test['Host'] or 'run'}",
        )
        case_props = ET.SubElement(case, "properties")
        for name, key in (
            ("requirement", "TestID"),
            ("result", "Result"),
            ("actual", "ActualValue"),
            ("required", "RequiredValue"),
            ("host", "Host"),
            ("title", "Description"),
        ):
            ET.SubElement(case_props, "property", name=name, value=str(test.get(key, "")))
        message = test.get("Message", "") or test.get("ActualValue", "")
        counts["tests"] += 1
        if test["Result"] == "Failed":
            ET.SubElement(case, "failure", message=message[:500]).text = message
            counts["failures"] += 1
        elif test["Result"] == "Error":
            ET.SubElement(case, "error", message=message[:500]).text = message
            counts["errors"] += 1
        elif test["Result"] == "NotApplicable":
            ET.SubElement(case, "skipped", message=message[:500])
            counts["skipped"] += 1
        elif test["Result"] == "Warning":
            ET.SubElement(case, "system-out").text = f"WARNING: {message}"
    for entry in report["NotRun"]:
        case = ET.SubElement(
            suite, "testcase", name=entry["TestID"], classname=f"vmimage.{entry['Host'] or 'run'}"
        )
        ET.SubElement(case, "skipped", message=f"not run: {entry['Reason']}")
        counts["tests"] += 1
        counts["skipped"] += 1
    for name, value in counts.items():
        suite.set(name, str(value))
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _write_all(outputs: dict[Path, bytes]) -> None:
    """Write every output to a temporary file first, then move them in place."""
    temps = []
    try:
        for path, data in outputs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temp.write_bytes(data)
            temps.append((temp, path))
    except OSError as exc:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        raise MergeError(f"cannot write {exc.filename}: {exc.strerror}") from None
    for temp, path in temps:
        os.replace(temp, path)


def run(
    files: list[str],
    output: str | None,
    html: str | None = None,
    junit: str | None = None,
    allow_mixed: bool = False,
) -> dict:
    """Merge ``files`` and write the outputs; MergeError (nothing written) on bad input."""
    inputs, sources = [], []
    names = [Path(f).name for f in files]
    for file, name in zip(files, names, strict=True):
        document, data = load_report(file)
        label = name if names.count(name) == 1 else file
        inputs.append((label, document))
        sources.append(
            {
                "File": label,
                "SHA256": hashlib.sha256(data).hexdigest(),
                "TestResult": document["TestResult"],
                "Profile": document["Profile"],
                "ToolVersion": document["Tool"]["Version"],
                "CreatedDate": document["CreatedDate"],
            }
        )
    merged = merge_reports(inputs, allow_mixed)
    merged["Sources"] = sources
    validate(merged, "the merged report")
    if not (output or html or junit):
        raise MergeError("name at least one output: -o FILE.json, --html FILE or --junit FILE")
    outputs = {}
    if output:
        outputs[Path(output)] = (json.dumps(merged, indent=2, ensure_ascii=False) + "\n").encode()
    if html:
        from pytest_vmimage.report_html import render_page

        outputs[Path(html)] = render_page(merged, "VM image certification: submission").encode()
    if junit:
        outputs[Path(junit)] = junit_xml(merged)
    if len(set(outputs)) != len(outputs) or any(
        Path(f).resolve() in {p.resolve() for p in outputs} for f in files
    ):
        raise MergeError("an output path is also an input or another output; choose distinct files")
    _write_all(outputs)
    return merged


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge the JSON reports of a CI matrix into one submission report",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("reports", nargs="+", metavar="REPORT.json", help="--vm-report files of the jobs")
    parser.add_argument("-o", "--output", metavar="FILE", help="merged JSON report")
    parser.add_argument("--html", metavar="FILE", help="also write the merged report as an HTML page")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML (test name = requirement ID)")
    parser.add_argument(
        "--allow-mixed",
        action="store_true",
        help="merge reports of different profiles, overrides or tool versions (the result says so)",
    )
    parser.set_defaults(handler=main_merge)


def main_merge(args) -> int:
    try:
        merged = run(args.reports, args.output, args.html, args.junit, args.allow_mixed)
    except MergeError as exc:
        print(f"pytest-vmimage merge: error: {exc}; nothing was written", file=sys.stderr)
        return 2
    print(
        f"submission: {merged['TestResult']} (profile {merged['Profile']}, {len(merged['Sources'])} reports)"
    )
    for target in merged["Targets"]:
        print(f"  {target['Label']}: {target['TestResult']}")
    for conflict in merged.get("Conflicts", []):
        results = ", ".join(f"{r['Result']} in {r['Source']}" for r in conflict["Results"])
        print(
            f"  conflict {conflict['TestID']} on {conflict['Host'] or 'the run'}: {results}; kept {conflict['Kept']}"
        )
    for reason in merged["Incomplete"]:
        print(f"  incomplete: {reason}")
    print(f"written: {', '.join(filter(None, [args.output, args.html, args.junit]))}")
    return 1 if merged["TestResult"] in (FAILED, INCOMPLETE) else 0
