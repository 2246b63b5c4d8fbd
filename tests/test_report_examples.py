"""The CI examples in examples/ are valid pipelines that use only real options.

Validated against the published GitHub Actions and Azure Pipelines schemas that
check-jsonschema bundles (``--builtin-schema vendor.*``): no network at test time.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CASES = [
    ("github-actions.yml", "vendor.github-workflows"),
    ("azure-pipelines.yml", "vendor.azure-pipelines"),
]


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("name", "schema"), CASES)
def test_example_matches_its_published_schema(name, schema, tmp_path):
    done = check_jsonschema(schema, EXAMPLES / name)
    assert done.returncode == 0, done.stdout + done.stderr
    # the validator does reject a broken pipeline (the check can fail)
    broken = tmp_path / name
    text = (EXAMPLES / name).read_text()
    broken.write_text(text.replace("steps:", "stepz:", 1))
    assert check_jsonschema(schema, broken).returncode != 0


def commands(data) -> list[str]:
    """Every shell command of a pipeline (run: / script: / inlineScript:)."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("run", "script", "inlineScript") and isinstance(value, str):
                found.append(value)
            else:
                found += commands(value)
    elif isinstance(data, list):
        for value in data:
            found += commands(value)
    return found


def matrix_sizes(data) -> list[str]:
    if isinstance(data, dict):
        if "matrix" in data:
            matrix = data["matrix"]
            sizes = matrix.get("size") or [v.get("vmSize") for v in matrix.values() if isinstance(v, dict)]
            return list(sizes)
        return [s for value in data.values() for s in matrix_sizes(value)]
    if isinstance(data, list):
        return [s for value in data for s in matrix_sizes(value)]
    return []


@pytest.mark.parametrize(("name", "schema"), CASES)
def test_example_has_three_sizes_requirement_junit_and_a_merge(name, schema, pytestconfig):
    data = YAML(typ="safe").load((EXAMPLES / name).read_text())
    sizes = matrix_sizes(data)
    assert len(sizes) == 3 and all(s.startswith("Standard_") for s in sizes), sizes
    runs = commands(data)
    pytest_runs = [c for c in runs if c.lstrip().startswith("pytest ")]
    merges = [c for c in runs if "pytest_vmimage merge" in c]
    assert len(pytest_runs) == 2  # the artifacts job and the Linux job of the matrix
    assert all("--vm-report=" in c for c in pytest_runs)
    # each job's JUnit with the requirement ID as test name, and the final merge of all jobs
    assert sum("--junit TEST-vmimage-" in c for c in merges) == 3
    final = [c for c in merges if " -o submission.json" in c]
    assert len(final) == 1 and "--html submission.html" in final[0] and "certification-*.json" in final[0]
    text = (EXAMPLES / name).read_text()
    published = re.findall(r"(?:report_paths|testResultsFiles): (TEST-vmimage-.+?\.xml)", text)
    assert len(published) == 3, published  # every JUnit written by merge is published

    # every option the examples pass exists (pytest --help) or is merge's
    from pytest_vmimage.__main__ import build_parser

    helptext = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], capture_output=True, text=True
    ).stdout
    for command in pytest_runs:
        for option in re.findall(r"(--vm-[a-z0-9-]+)", command):
            assert option in helptext, f"{name}: {option} is not a pytest-vmimage option"
    for command in merges:
        argv = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "EXPR", command.replace("\n", " ")))
        args = build_parser().parse_args(argv[argv.index("merge") :])  # unknown options exit 2
        assert args.reports and (args.output or args.junit)
