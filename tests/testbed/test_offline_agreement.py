"""The Linux suite judged offline from the testbed's VHDs (no boot): the compliant image
passes what can be judged offline, each variant fails exactly its requirements, and the
offline verdicts equal the verdicts of the live facts recorded from the booted variant
(tests/recorded/linux/debian12-<variant>.json) for every requirement judged both ways.

Reads the VHDs only (read-only; built once by the testbed, no VM is booted).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
from pathlib import Path

import pytest

from pytest_vmimage.catalog import requirement_of
from pytest_vmimage.facts.linux import LinuxFacts
from pytest_vmimage.facts.linux_image import offline_verdict, read_linux_image
from pytest_vmimage.profiles import load_profile
from pytest_vmimage.verdict import FactError, Result, Verdict

from . import qemu

RECORDED = Path(__file__).parent.parent / "recorded" / "linux"
GUIDE = load_profile("guide-2016")
JUDGED = (Result.PASSED, Result.WARNING, Result.FAILED)


def linux_checks() -> dict[str, object]:
    """Requirement ID -> the suite's test function (called as the plugin calls it)."""
    import suites.linux as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"suites.linux.{info.name}")
        for name in dir(module):
            declared = requirement_of(getattr(module, name))
            if declared is not None and declared.id.startswith("LNX-"):
                found[declared.id] = getattr(module, name)
    return found


def judge(facts: LinuxFacts) -> dict[str, tuple[Result, str]]:
    """Every LNX verdict on these facts, as the plugin decides it."""
    verdicts = {}
    for req, check in sorted(linux_checks().items()):
        try:
            verdict = check(facts, GUIDE)
        except FactError as exc:
            verdict = (
                Verdict.not_applicable(str(exc))
                if getattr(exc, "not_applicable", False)
                else Verdict.error(str(exc))
            )
        if getattr(facts, "source", ""):
            verdict = offline_verdict(verdict)
        verdicts[req] = (verdict.result, verdict.message or verdict.actual)
    return verdicts


@pytest.fixture(scope="module")
def images(testbed_available, testbed_variants):
    """Variant -> OS disk VHD, built if needed (no VM is booted)."""
    names = [v for v in testbed_variants if (RECORDED / f"debian12-{v}.json").exists()]
    qemu.build(names)
    return {name: qemu.image_path(name) for name in names}


@pytest.fixture(scope="module")
def offline(images):
    """Offline verdicts; the testbed's admin (whose key the image carries so the live suite
    can log in) is exempt as in the recordings (admin_user), nobody else."""
    verdicts = {}
    for name, path in images.items():
        facts = read_linux_image(path)
        facts.admin_user = LinuxFacts.load(RECORDED / f"debian12-{name}.json").admin_user
        verdicts[name] = judge(facts)
    return verdicts


def _recorded(variant: str) -> dict[str, tuple[Result, str]]:
    return judge(LinuxFacts.load(RECORDED / f"debian12-{variant}.json"))


@pytest.mark.testbed
def test_compliant_passes_what_is_judged_offline(offline):
    verdicts = offline["compliant"]
    judged = {req: r for req, (r, _) in verdicts.items() if r in JUDGED}
    assert {"LNX-003", "LNX-005", "LNX-013", "LNX-014", "LNX-023", "LNX-025"} <= set(judged)
    bad = {req: verdicts[req] for req, r in judged.items() if r is not Result.PASSED}
    errors = {req: m for req, (r, m) in verdicts.items() if r is Result.ERROR}
    assert not bad and not errors
    for req, (result, message) in verdicts.items():
        if result is Result.NOT_APPLICABLE and "offline" in message:
            assert "needs a running VM" in message, (req, message)


@pytest.mark.testbed
def test_each_variant_fails_exactly_its_requirements_offline(offline, testbed_variants):
    for variant, verdicts in offline.items():
        breaks = set(testbed_variants[variant]["breaks"])
        # a requirement of severity "warn" is broken by a warning
        failed = {req for req, (r, _) in verdicts.items() if r in (Result.FAILED, Result.WARNING)}
        judged = {req for req, (r, _) in verdicts.items() if r in JUDGED}
        assert failed <= breaks, (variant, failed - breaks)
        # what the offline suite cannot judge is stated (error or not applicable), never passed
        assert not (breaks & judged) - failed, (variant, {r: verdicts[r] for r in (breaks & judged) - failed})


@pytest.mark.testbed
def test_offline_verdicts_equal_the_recorded_live_verdicts(offline):
    """For every requirement judged both ways (passed/warning/failed), the same result."""
    compared = 0
    for variant, verdicts in offline.items():
        live = _recorded(variant)
        for req, (result, message) in verdicts.items():
            if result in JUDGED and live[req][0] in JUDGED:
                assert result is live[req][0], (variant, req, message, live[req][1])
                compared += 1
    assert compared >= 5 * len(offline)


@pytest.mark.testbed
def test_the_vhd_is_unchanged(images):
    path = images["compliant"]
    before = _digest(path)
    read_linux_image(path)
    assert _digest(path) == before


def _digest(path: Path) -> tuple:
    """SHA-256 of the data extents (holes read as zeros anyway) plus size and mtime."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        fd, size, offset = fh.fileno(), os.fstat(fh.fileno()).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            digest.update(start.to_bytes(8, "little"))
            fh.seek(start)
            remaining = end - start
            while remaining:
                chunk = fh.read(min(remaining, 1 << 24))
                digest.update(chunk)
                remaining -= len(chunk)
            offset = end
    st = path.stat()
    return digest.hexdigest(), st.st_size, st.st_mtime_ns
