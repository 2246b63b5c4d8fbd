"""Fixtures for tests that boot the real Debian test VM (tests/testbed/README.md).

    @pytest.mark.testbed
    def test_something(testbed_vm):
        vm = testbed_vm("misc-config")        # booted once per session and variant
        vm.ssh("sudo -n iptables-save").stdout
        vm.url, vm.key_path, vm.port          # ssh://azureuser@127.0.0.1:PORT
        vm.known_hosts                        # its host keys, read from its serial port
        scratch = testbed_vm("compliant#faults")  # a second VM of a variant, free to break

The images are built on first use (root + Debian's apt needed; about 10 minutes
for all variants, cached under $VMIMAGE_CACHE/testbed/<recipe hash>/). Where they
cannot be built the tests are skipped with the reason, unless
VMIMAGE_TESTBED=require, which turns that into a failure. VMIMAGE_TESTBED=skip
skips them. At most VMIMAGE_TESTBED_MAX_VMS (default 2) VMs run at once: the
least recently used one is shut down to make room (TCG guests cost CPU even idle).
"""
from __future__ import annotations

import collections
import contextlib
import os
import shutil

import pytest

from . import qemu


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "testbed: boots the real Debian 12 test VM under QEMU/TCG (slow; needs root and "
        "Debian's package registry to build it once, see tests/testbed/README.md)")


def _why_unavailable() -> str | None:
    mode = os.environ.get("VMIMAGE_TESTBED", "auto")
    if mode == "skip":
        return "VMIMAGE_TESTBED=skip"
    if shutil.which("qemu-system-x86_64") is None and os.geteuid() != 0:
        return "qemu-system-x86_64 missing and not root (cannot install it)"
    if qemu.is_built():
        return None
    if os.geteuid() != 0:
        return "testbed images not built and building needs root"
    if shutil.which("apt-get") is None:
        return "testbed images not built and building needs Debian's apt-get"
    return None


class _Pool:
    """Boots variants on demand and keeps at most `limit` running."""

    def __init__(self, limit: int, log_dir):
        self.limit = max(1, limit)
        self.log_dir = log_dir
        self.running: collections.OrderedDict[str, tuple] = collections.OrderedDict()
        self.failed: dict[str, str] = {}

    def get(self, variant: str) -> qemu.VM:
        if variant in self.failed:
            raise qemu.TestbedError(self.failed[variant])
        if variant in self.running:
            self.running.move_to_end(variant)
            vm = self.running[variant][0]
            if vm.process.poll() is None:
                return vm
            self.stop(variant)
        while len(self.running) >= self.limit:
            self.stop(next(iter(self.running)))
        base = variant.partition("#")[0]
        try:
            with open(self.log_dir / "build.log", "ab") as log:
                qemu.build([base], log=log)
            stack = contextlib.ExitStack()
            vm = stack.enter_context(qemu.boot_variant(
                base, serial_log=self.log_dir / f"{variant.replace('#', '-')}.serial.log"))
        except qemu.TestbedError as e:
            self.failed[variant] = f"testbed variant {variant}: {e}"
            raise
        self.running[variant] = (vm, stack)
        with contextlib.suppress(OSError), open(qemu.cache_dir() / "boot-times.tsv", "a") as f:
            f.write(f"{variant}\t{vm.boot_seconds:.1f}\n")
        return vm

    def stop(self, variant: str) -> None:
        vm, stack = self.running.pop(variant)
        stack.close()

    def close(self) -> None:
        while self.running:
            self.stop(next(iter(self.running)))


@pytest.fixture(scope="session")
def testbed_available():
    """Skip (or fail with VMIMAGE_TESTBED=require) when the testbed cannot be built."""
    why = _why_unavailable()
    if why:
        if os.environ.get("VMIMAGE_TESTBED") == "require":
            pytest.fail(f"testbed required but unavailable: {why}")
        pytest.skip(f"testbed unavailable: {why}")
    return True


@pytest.fixture(scope="session")
def testbed_vm(testbed_available, tmp_path_factory):
    """Factory: testbed_vm(variant="compliant") -> qemu.VM, booted once per session.

    A build or boot failure is raised as TestbedError in the test that asked
    (reported as that test's error/failure, with the serial-log tail)."""
    pool = _Pool(int(os.environ.get("VMIMAGE_TESTBED_MAX_VMS", "2")),
                 tmp_path_factory.mktemp("testbed"))

    def get(variant: str = "compliant") -> qemu.VM:
        """VARIANT, or VARIANT#NAME: another VM of that variant, for tests that change or
        kill it (the disk is snapshot=on: changes vanish when it stops)."""
        if variant.partition("#")[0] not in qemu.variants():
            raise KeyError(f"unknown testbed variant {variant!r}; see tests/testbed/variants.json")
        return pool.get(variant)

    def stop(variant: str) -> None:
        """Shut a VM down now (frees its slot; a later get() boots it afresh)."""
        if variant in pool.running:
            pool.stop(variant)

    get.stop = stop
    yield get
    pool.close()


@pytest.fixture(scope="session")
def testbed_variants():
    """variants.json: name -> {description, breaks, also_affects, data_disks}."""
    return qemu.variants()
