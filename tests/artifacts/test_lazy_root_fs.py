"""Only the checks that need the root file system read it (issue 8, bullet 4): VHD-001 on
its own never touches it, and a full run reads it once per VHD."""

from __future__ import annotations

from pytest_vmimage.facts import disk as disk_facts

from .conftest import needs_image_tools, run_suite

pytestmark = needs_image_tools


def counting(monkeypatch) -> list[str]:
    """Every read of a root file system (all go through disk._find_root), by file."""
    calls: list[str] = []
    real = disk_facts._find_root

    def spy(file, content, facts):
        calls.append(file.path)
        return real(file, content, facts)

    monkeypatch.setattr(disk_facts, "_find_root", spy)
    return calls


def test_vhd_001_alone_does_not_read_the_root_file_system(pytester, images, monkeypatch) -> None:
    calls = counting(monkeypatch)
    run = run_suite(pytester, "--vm-vhd", f"os:{images / 'good.vhd'}", "--vm-offline", "-k", "VHD-001")
    assert run.by("VHD-001")["Result"] == "Passed"
    assert calls == []


def test_vhd_001_passes_when_the_root_file_system_is_unreadable(pytester, images, monkeypatch) -> None:
    def broken(path, facts, *args, **kwargs):
        raise disk_facts.DiskError(f"{path}: read error (simulated)")

    monkeypatch.setattr(disk_facts, "read_root_fs", broken)
    run = run_suite(pytester, "--vm-vhd", f"os:{images / 'good.vhd'}", "--vm-offline")
    assert run.by("VHD-001")["Result"] == "Passed"
    assert run.by("VHD-009")["Result"] == "Error"
    assert "read error (simulated)" in run.by("VHD-009")["Message"]


def test_a_full_run_reads_the_root_file_system_once_per_vhd(pytester, images, monkeypatch) -> None:
    calls = counting(monkeypatch)
    run = run_suite(pytester, "--vm-vhd", f"os:{images / 'good.vhd'}", "--vm-offline")
    assert run.by("VHD-009")["Result"] == "Passed"
    assert run.by("VHD-006")["Result"] == "Passed"
    assert calls == [str(images / "good.vhd")]
