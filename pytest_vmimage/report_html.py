"""The certification header and the requirement x target table, as HTML.

The same fragment goes into pytest-html's summary (a run) and into the page that
``python -m pytest_vmimage merge --html`` writes (a submission): overall result per
target and for the run, profile and every override, what was tested, a table with
one row per requirement and one column per target (each cell coloured and linked
to its detail), and the warnings and gaps in words.
"""

from __future__ import annotations

import html
import re

CSS = """
.vmcert{font-family:Helvetica,Arial,sans-serif;font-size:13px;margin:8px 0 16px;color:#111}
.vmcert *{color:#111}
.vmcert h2,.vmcert h3{margin:12px 0 6px}
.vmcert table{border-collapse:collapse;margin:4px 0 10px}
.vmcert th,.vmcert td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}
.vmcert .overall{font-size:16px;font-weight:bold;padding:6px 10px;display:inline-block;border-radius:3px}
.vmcert .r-Passed,.vmcert .o-Passed{background:#c8eecb}
.vmcert .r-Warning,.vmcert .o-Passed-with-warnings{background:#ffe9a8}
.vmcert .r-Failed,.vmcert .o-Failed{background:#f7b8b8}
.vmcert .r-Error,.vmcert .o-Incomplete{background:#f2c9f2}
.vmcert .r-NotApplicable{background:#e4e4e4}
.vmcert .r-NotChecked{background:#f2c9f2}
.vmcert .r-NotRun{background:#fff;color:#a00;font-style:italic}
.vmcert td a{color:inherit;text-decoration:none;display:block}
.vmcert .detail{margin:2px 0 6px;padding:3px 6px;border-left:4px solid #bbb}
"""

CELL_WORDS = {
    "Passed": "passed",
    "Warning": "warning",
    "Failed": "FAILED",
    "Error": "ERROR",
    "NotApplicable": "n/a",
}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def anchor(test_id: str, host: str, name: str = "") -> str:
    return "vm-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{test_id or name}--{host or 'run'}")


def _overall_class(result: str) -> str:
    return "o-" + result.replace(" ", "-")


def render_fragment(report: dict) -> str:
    """The header, table and details of a report document (escaped, self-contained)."""
    parts = [f"<style>{CSS}</style>", '<div class="vmcert" id="vm-certification">']
    parts.append("<h2>VM image certification</h2>")
    parts.append(
        f'<p>Overall result: <span class="overall {_overall_class(report["TestResult"])}" '
        f'id="vm-overall">{_e(report["TestResult"])}</span></p>'
    )
    tool = report.get("Tool", {})
    parts.append(
        f"<p>Profile <b>{_e(report.get('Profile', ''))}</b>; {_e(tool.get('Name', ''))} "
        f"{_e(tool.get('Version', ''))}; report schema {_e(report.get('SchemaVersion', ''))}; "
        f"created {_e(report.get('CreatedDate', ''))}</p>"
    )
    parts.append(_overrides(report))
    parts.append(_targets(report))
    parts.append(_table(report))
    parts.append(_explanations(report))
    parts.append(_details(report))
    parts.append("</div>")
    return "\n".join(p for p in parts if p)


def _overrides(report: dict) -> str:
    overrides = report.get("Overrides", [])
    declared = report.get("Declared", [])
    if not overrides and not declared:
        return '<p id="vm-overrides">No threshold overridden: the profile\'s own values were used.</p>'
    rows = [
        f"<tr><td>{_e(o['Name'])}</td><td>{_e(o['Value'])}</td><td>{_e(o['Default'])}</td>"
        f"<td>{_e(o['Meaning'])}</td></tr>"
        for o in overrides
    ] + [
        f"<tr><td>{_e(d['Name'])} (declared)</td><td>{_e(d['Value'])}</td><td></td><td>{_e(d['Meaning'])}</td></tr>"
        for d in declared
    ]
    return (
        '<h3>Overrides</h3><table id="vm-overrides"><tr><th>setting</th><th>value used</th>'
        "<th>profile default</th><th>meaning</th></tr>" + "".join(rows) + "</table>"
    )


def _targets(report: dict) -> str:
    targets = report.get("Targets", [])
    if not targets:
        return ""
    rows = []
    for target in targets:
        tested = "<br>".join(f"<b>{_e(k)}</b>: {_e(v)}" for k, v in target.get("Tested", {}).items())
        result = target.get("TestResult", "")
        rows.append(
            f"<tr><td>{_e(target['Label'])}</td><td>{_e(target.get('Kind', ''))}</td>"
            f'<td class="{_overall_class(result)}">{_e(result)}</td><td>{tested}</td></tr>'
        )
    return (
        '<h3>What was tested</h3><table id="vm-targets"><tr><th>target</th><th>kind</th>'
        "<th>result</th><th>tested</th></tr>" + "".join(rows) + "</table>"
    )


def _columns(report: dict) -> list[str]:
    labels = [t["Label"] for t in report.get("Targets", [])]
    for test in report.get("Tests", []):
        if test.get("Host") not in labels and test.get("Host"):
            labels.append(test["Host"])
    if any(not t.get("Host") for t in report.get("Tests", [])) or any(
        not n.get("Host") for n in report.get("NotRun", [])
    ):
        labels.append("")
    return labels


def _table(report: dict) -> str:
    columns = _columns(report)
    rows: dict[str, dict] = {}
    titles: dict[str, str] = {}
    for test in report.get("Tests", []):
        key = test.get("TestID") or test.get("TestCaseName", "")
        rows.setdefault(key, {})[test.get("Host", "")] = test
        titles.setdefault(key, test.get("Description", ""))
    for entry in report.get("NotRun", []):
        rows.setdefault(entry["TestID"], {}).setdefault(entry.get("Host", ""), {"NotRun": entry})
    head = "".join(f"<th>{_e(c) if c else '(run / no target)'}</th>" for c in columns)
    body = []
    for key in sorted(rows):
        cells = []
        for column in columns:
            test = rows[key].get(column)
            if test is None:
                cells.append("<td></td>")
            elif "NotRun" in test:
                cells.append(f'<td class="r-NotRun"><a href="#{anchor(key, column)}">not run</a></td>')
            else:
                result = test["Result"]
                word, css = CELL_WORDS.get(result, result), result
                if result == "NotApplicable" and not test.get("Accepted", False):
                    word, css = "not checked", "NotChecked"
                if test.get("Conflict"):
                    word += " (conflict)"
                cells.append(
                    f'<td class="r-{_e(css)}" title="{_e(test.get("Message", ""))}">'
                    f'<a href="#{anchor(key, column)}">{_e(word)}</a></td>'
                )
        body.append(f"<tr><td>{_e(key)}</td><td>{_e(titles.get(key, ''))}</td>{''.join(cells)}</tr>")
    return (
        '<h3>Results by requirement</h3><table id="vm-results"><tr><th>requirement</th><th>title</th>'
        f"{head}</tr>" + "".join(body) + "</table>"
    )


def _list(title: str, ident: str, items: list[str]) -> str:
    if not items:
        return ""
    return f'<h3>{_e(title)}</h3><ul id="{ident}">' + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _explanations(report: dict) -> str:
    conflicts = [
        f"{c['TestID']} on {c['Host'] or 'the run'}: "
        + ", ".join(f"{s['Result']} in {s['Source']}" for s in c["Results"])
        + f"; the worse ({c['Kept']}) is kept"
        for c in report.get("Conflicts", [])
    ]
    return "".join(
        [
            _list("Why the result is Incomplete", "vm-incomplete", report.get("Incomplete", []))
            if report.get("TestResult") == "Incomplete"
            else _list("Not judged", "vm-incomplete", report.get("Incomplete", [])),
            _list("Warnings, in words", "vm-warnings", report.get("WarningsExplained", [])),
            _list("Conflicting results between reports", "vm-conflicts", conflicts),
            _list(
                "Out of scope (no target of that kind in this report)",
                "vm-out-of-scope",
                report.get("OutOfScope", []),
            ),
        ]
    )


def _details(report: dict) -> str:
    items = []
    for test in report.get("Tests", []):
        key = test.get("TestID") or test.get("TestCaseName", "")
        host = test.get("Host", "")
        fields = [
            (
                "result",
                test["Result"]
                + (
                    ""
                    if test["Result"] != "NotApplicable"
                    else (" (accepted)" if test.get("Accepted") else " (not checked)")
                ),
            ),
            ("actual", test.get("ActualValue", "")),
            ("required", test.get("RequiredValue", "")),
            ("message", test.get("Message", "")),
            ("guide", test.get("GuideSection", "")),
            ("test", test.get("NodeID", "")),
            ("source", test.get("Source", "")),
        ]
        text = "<br>".join(f"<b>{name}</b>: {_e(value)}" for name, value in fields if value)
        items.append(
            f'<div class="detail r-{_e(test["Result"])}" id="{anchor(key, host)}">'
            f"<b>{_e(key)}</b> on {_e(host or 'the run')}: {_e(test.get('Description', ''))}<br>{text}</div>"
        )
    for entry in report.get("NotRun", []):
        host = entry.get("Host", "")
        items.append(
            f'<div class="detail r-NotRun" id="{anchor(entry["TestID"], host)}"><b>{_e(entry["TestID"])}</b> '
            f"on {_e(host or 'the run')}: not run: {_e(entry.get('Reason', ''))}</div>"
        )
    return '<h3>Details</h3><div id="vm-details">' + "".join(items) + "</div>"


def render_page(report: dict, title: str = "VM image certification") -> str:
    """A standalone HTML page of a (merged) report."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title></head><body>{render_fragment(report)}</body></html>\n"
    )
