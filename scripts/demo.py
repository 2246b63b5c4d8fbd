#!/usr/bin/env python3
"""The main job: certify the bundled Debian test image, end to end.

1. build (or reuse) the compliant test image: debootstrap -> fixed VHD (tests/testbed)
2. check the VHD file offline (suites/artifacts), when that suite is installed
3. boot it under QEMU (TCG, loopback-only networking) and run suites/linux over SSH
4. write JUnit, HTML and JSON reports under ./reports/ and print where they are
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import qemu  # noqa: E402  (the testbed launcher, stdlib only)

REPORTS = REPO / "reports"


def pytest_run(name: str, args: list[str]) -> int:
    out = REPORTS / name
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *args,
        "-p",
        "no:cacheprovider",
        "-v",
        f"--junitxml={out / 'TEST-vmimage.xml'}",
        f"--html={out / 'report.html'}",
        "--self-contained-html",
        f"--vm-report={out / 'certification.json'}",
    ]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=REPO).returncode


def main() -> int:
    started = time.monotonic()
    print("demo: building or reusing the compliant test image (first time: about 5 minutes) ...", flush=True)
    qemu.build(["compliant"])
    image = qemu.image_path("compliant")
    print(
        f"demo: image {image} ({image.stat().st_size / 2**30:.1f} GiB apparent, "
        f"{image.stat().st_blocks * 512 / 2**20:.0f} MiB on disk)"
    )
    codes = {}
    if (REPO / "suites" / "artifacts").is_dir():
        codes["artifacts"] = pytest_run(
            "artifacts",
            [
                str(REPO / "suites" / "artifacts"),
                "--vm-vhd",
                f"os:{image}",
                "--vm-os",
                "linux",
                "--vm-offline",
            ],
        )
    print("demo: booting it under QEMU (TCG, about 1 minute) ...", flush=True)
    with qemu.boot_variant("compliant") as vm:
        print(f"demo: {vm.url} answered after {vm.boot_seconds:.0f} s")
        codes["linux"] = pytest_run(
            "linux",
            [
                str(REPO / "suites" / "linux"),
                "--vm-host",
                f"debian12-demo={vm.url}",
                "--vm-ssh-key",
                str(vm.key_path),
                "--vm-known-hosts",  # host keys read from the VM's serial port: verification on
                str(vm.known_hosts),
            ],
        )
    print(f"\ndemo: finished in {time.monotonic() - started:.0f} s")
    for name, code in codes.items():
        out = REPORTS / name
        print(
            f"  {name:<9} exit {code}: {out / 'TEST-vmimage.xml'}, {out / 'report.html'}, {out / 'certification.json'}"
        )
    return max(codes.values())


if __name__ == "__main__":
    sys.exit(main())
