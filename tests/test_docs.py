"""The README's requirement table is generated from the suites and must be current."""

from pathlib import Path

from pytest_vmimage.docs import BEGIN, END, declared_requirements, replace_table, requirements_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_requirement_table_is_current():
    text = README.read_text()
    assert replace_table(text, requirements_table()) == text, (
        "README.md is out of date: run python -m pytest_vmimage.docs --write README.md"
    )


def test_table_lists_every_declared_requirement():
    table = requirements_table()
    ids = [declared.id for declared, _ in declared_requirements()]
    assert "LNX-013" in ids
    assert all(f"| {req_id} |" in table for req_id in ids)
    assert BEGIN in README.read_text() and END in README.read_text()
