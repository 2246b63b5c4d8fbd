"""The README's requirement table, generated from the declarations in the suites.

``python -m pytest_vmimage.docs`` prints the table; ``--write README.md``
replaces the part between the markers. A self-test fails when the README is
out of date.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
from pathlib import Path

from pytest_vmimage.catalog import Requirement, requirement_of

BEGIN = "<!-- requirements-table:begin -->"
END = "<!-- requirements-table:end -->"
SUITES_PACKAGE = "pytest_vmimage.suites"


def declared_requirements() -> list[tuple[Requirement, str]]:
    """Every requirement the suites declare, with the test that checks it, by ID."""
    package = importlib.import_module(SUITES_PACKAGE)
    found: dict[str, tuple[Requirement, str]] = {}
    for info in pkgutil.walk_packages(package.__path__, SUITES_PACKAGE + "."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            declared = requirement_of(obj)
            if declared is not None and getattr(obj, "__module__", None) == module.__name__:
                short = info.name.removeprefix(SUITES_PACKAGE + ".").replace(".", "/")
                found[declared.id] = (declared, f"suites/{short}.py::{name}")
    return [found[key] for key in sorted(found)]


def requirements_table() -> str:
    rows = ["| ID | requirement | guide | severity | test |", "|---|---|---|---|---|"]
    for declared, test in declared_requirements():
        title = declared.title.replace("|", "\\|")
        rows.append(f"| {declared.id} | {title} | {declared.guide} | {declared.severity} | `{test}` |")
    return "\n".join(rows)


def replace_table(text: str, table: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers {BEGIN} ... {END} not found")
    return pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="README", help="update the table in this file")
    args = parser.parse_args(argv)
    table = requirements_table()
    if args.write:
        path = Path(args.write)
        path.write_text(replace_table(path.read_text(), table))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
