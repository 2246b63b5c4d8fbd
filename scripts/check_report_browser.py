#!/usr/bin/env python3
"""Render a pytest-vmimage HTML report in headless Chromium and check what a reviewer sees.

    python3 scripts/check_report_browser.py REPORT.html [--label D2s_v5 ...] [--screenshot out.png]

Debian's chromium (``apt-get install chromium``) loads the file with scripts on (pytest-html
builds its rows in JavaScript), prints the DOM after load (``--dump-dom``) and takes a
screenshot. The check passes when the rendered page has the certification header (overall
result, profile, what was tested) and the requirement x target table with one column per
given label, each cell linked to a detail that exists. No network: only a file:// URL.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(html: Path, screenshot: Path | None = None, timeout: float = 180) -> str:
    """The DOM after load (and a PNG screenshot when asked); raises RuntimeError on failure."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    url = html.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="vmimage-chromium-") as profile:
        base = [binary, *FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run(
            [*base, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if dom.returncode != 0 or "<html" not in dom.stdout:
            raise RuntimeError(f"chromium --dump-dom exited {dom.returncode}: {dom.stderr[-1500:]}")
        if screenshot is not None:
            shot = subprocess.run(
                [*base, f"--screenshot={screenshot}", "--window-size=1400,2200", url],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
            if shot.returncode != 0 or not screenshot.is_file():
                raise RuntimeError(f"chromium --screenshot exited {shot.returncode}: {shot.stderr[-1500:]}")
    return dom.stdout


class _Tables(HTMLParser):
    """Header cells of the tables with an id, element ids, and in-page links."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.headers: dict[str, list[str]] = {}
        self.text: dict[str, str] = {}
        self._table: str | None = None
        self._th = False
        self._capture: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
            if attrs["id"] in ("vm-overall",):
                self._capture = attrs["id"]
                self.text[self._capture] = ""
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.headers[self._table] = []
        if tag == "th" and self._table:
            self._th = True
            self.headers[self._table].append("")
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"][1:])

    def handle_endtag(self, tag):
        if tag == "th":
            self._th = False
        if tag == "table":
            self._table = None
        if tag == "span":
            self._capture = None

    def handle_data(self, data):
        if self._th and self._table:
            self.headers[self._table][-1] += data
        if self._capture:
            self.text[self._capture] += data


def check(dom: str, labels: list[str]) -> list[str]:
    """What is missing from the rendered page (empty: the check passed)."""
    page = _Tables()
    page.feed(dom)
    problems = []
    for ident in ("vm-certification", "vm-overall", "vm-targets", "vm-results", "vm-details"):
        if ident not in page.ids:
            problems.append(f"no element #{ident}")
    overall = page.text.get("vm-overall", "").strip()
    if overall not in ("Passed", "Passed with warnings", "Failed", "Incomplete"):
        problems.append(f"overall result {overall!r} is not one of the four")
    if not re.search(r"Profile <b>[^<]+</b>", dom):
        problems.append("no profile in the header")
    columns = page.headers.get("vm-results", [])
    for label in labels:
        if label not in columns:
            problems.append(f"no column {label!r} in the results table (columns: {columns})")
    tested = page.headers.get("vm-targets", [])
    if "result" not in tested:
        problems.append(f"'What was tested' has no result column ({tested})")
    dangling = sorted({link for link in page.links if link.startswith("vm-") and link not in page.ids})
    if dangling:
        problems.append(f"cells link to missing details: {dangling[:5]}")
    if not any(link.startswith("vm-") for link in page.links):
        problems.append("no result cell links to a detail")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("--label", action="append", default=[], help="a target that must have a column")
    parser.add_argument("--screenshot", type=Path, help="write a PNG screenshot here")
    args = parser.parse_args(argv)
    try:
        dom = render(args.html, args.screenshot)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"browser check: {exc}", file=sys.stderr)
        return 2
    problems = check(dom, args.label)
    for problem in problems:
        print(f"browser check: {args.html}: {problem}", file=sys.stderr)
    if not problems:
        shot = f"; screenshot {args.screenshot}" if args.screenshot else ""
        print(
            f"browser check: {args.html}: header and table with {len(args.label)} target columns rendered{shot}"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
