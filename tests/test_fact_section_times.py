"""Issue 10 item 5: every fact section's time, deadline and status reach the terminal at
``-vv`` and the JSON report, slowest first (through the plugin and a real SSH login on
loopback; the loopback server runs the collection script with this machine's ``sh``)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import paramiko

import pytest_vmimage.facts.linux as linux_facts
from pytest_vmimage.facts.linux import Section, section_timings
from tests.ssh_server import LoopbackSshServer, plugin_options, write_key

SCHEMA = Path(linux_facts.__file__).resolve().parents[1] / "schema" / "report.schema.json"
SECTIONS = {
    "hangs": (False, "echo partial; sleep 4"),
    "slow": (False, "sleep 1.2; echo slow"),
    "quick": (False, "echo quick"),
    "missing": (False, f"exit {linux_facts.ABSENT_RC}"),
    "fails": (False, "exit 3"),
}


def test_section_timings_status_and_order():
    rows = section_timings(
        {
            "quick": Section(0, "x", 0.1, 10),
            "hung": Section(124, "", 1.0, 1, "timed out after 1 s"),
            "absent": Section(linux_facts.ABSENT_RC, "", 0.2, 10),
            "failed": Section(2, "", 0.3, 10),
            "old": Section(0, "x"),  # a recording without times
        }
    )
    assert [row["Name"] for row in rows] == ["hung", "failed", "absent", "quick", "old"]
    assert [row["Status"] for row in rows] == ["timed out after 1 s", "exit 2", "absent", "ok", "ok"]
    assert rows[0]["Deadline"] == 1 and rows[-1]["Seconds"] is None


def run_vv(pytester, tmp_path, monkeypatch, *extra: str):
    host_key, client_key = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    key_path = write_key(client_key, tmp_path / "id_ecdsa")
    real_gather = linux_facts.gather

    def few_sections(connection, **kwargs):
        kwargs["section_timeouts"] = {"hangs": 1}
        return real_gather(connection, sections=SECTIONS, lanes=(("hangs",), ("slow",)), **kwargs)

    monkeypatch.setattr(linux_facts, "gather", few_sections)
    pytester.makepyfile(test_facts="def test_reads(linux_facts):\n    assert linux_facts.section('quick')\n")
    report = tmp_path / "report.json"
    with LoopbackSshServer(host_key, client_key) as server:
        options = plugin_options(server, host_key, key_path)
        result = pytester.runpytest("-p", "no:cacheprovider", *options, "--vm-report", str(report), *extra)
    result.assert_outcomes(passed=1)
    return result, json.loads(report.read_text())


def test_vv_prints_every_section_slowest_first_with_deadline_and_status(pytester, tmp_path, monkeypatch):
    result, document = run_vv(pytester, tmp_path, monkeypatch, "-vv")
    out = result.stdout.str()
    head = out.index("t: 5 fact sections")
    lines = out[head:].splitlines()[1:6]
    assert {line.split()[0] for line in lines[:2]} == {"slow", "hangs"}  # ~1.2 s and the 1 s deadline
    by_name = {line.split()[0]: line for line in lines}
    assert "(deadline 1 s)  timed out after 1 s" in by_name["hangs"]
    assert by_name["quick"].endswith("ok") and "(deadline 10 s)" in by_name["quick"]
    assert by_name["missing"].endswith("absent") and by_name["fails"].endswith("exit 3")
    seconds = [float(line.split()[1]) for line in lines]
    assert seconds == sorted(seconds, reverse=True)
    (target,) = [t for t in document["Targets"] if t["Label"] == "t"]
    assert {row["Name"]: row["Status"] for row in target["FactSections"]}["hangs"] == "timed out after 1 s"
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_section_times_only_at_vv(pytester, tmp_path, monkeypatch):
    result, document = run_vv(pytester, tmp_path, monkeypatch, "-v")
    assert "fact sections" not in result.stdout.str()
    assert document["Targets"][0]["FactSections"]  # the JSON report carries them always
