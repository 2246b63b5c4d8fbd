#!/usr/bin/env python3
"""The main job: certify the bundled Debian test image on several "sizes", end to end.

1. build (or reuse) the compliant test image: debootstrap -> fixed VHD (tests/testbed)
2. boot it as two or three "sizes" at once under QEMU (TCG, loopback-only networking),
   differing the way Azure sizes do: vCPUs, memory and the number of data disks
3. run suites/linux across them with ``-n`` (one xdist worker and one SSH connection per size)
4. power the VMs off, then check the VHD files offline (suites/artifacts)
5. merge both reports into one submission report (JSON, HTML, JUnit with the
   requirement ID as test name) under ./reports/

Exit status: 0 unless the submission Failed or a step could not run.
``--sizes 2`` boots two sizes instead of three.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import qemu  # noqa: E402  (the testbed launcher, stdlib only)

REPORTS = REPO / "reports"


@dataclass(frozen=True)
class Size:
    """A stand-in for an Azure VM size: vCPUs, memory and how many data disks are attached."""

    label: str
    cpus: int
    memory_mib: int
    data_disks: int


SIZES = (
    Size("demo-1cpu-1g-0disk", 1, 1024, 0),
    Size("demo-2cpu-2g-1disk", 2, 2048, 1),
    Size("demo-2cpu-1536m-2disk", 2, 1536, 2),
)


def pytest_run(name: str, args: list[str]) -> tuple[int, Path]:
    out = REPORTS / name
    out.mkdir(parents=True, exist_ok=True)
    report = out / "certification.json"
    report.unlink(missing_ok=True)
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
        f"--vm-report={report}",
    ]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=REPO).returncode, report


def data_disks_for(size: Size, scratch: Path) -> list[Path]:
    """The compliant image's data disk first, then fresh empty fixed VHDs."""
    disks = list(qemu.data_disk_paths("compliant"))[: size.data_disks]
    for n in range(len(disks), size.data_disks):
        extra = scratch / f"{size.label}-data{n}.vhd"
        subprocess.run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "vpc",
                "-o",
                "subformat=fixed,force_size=on",
                str(extra),
                "1G",
            ],
            check=True,
        )
        disks.append(extra)
    return disks


def boot_sizes(stack: contextlib.ExitStack, sizes: list[Size], scratch: Path) -> dict[str, qemu.VM]:
    """Boot every size at once (each boot waits for SSH); all are powered off when the stack closes."""
    image, key = qemu.image_path("compliant"), qemu.key_path()
    managers = {
        size.label: qemu.boot(
            image,
            key,
            data_disks=data_disks_for(size, scratch),
            cpus=size.cpus,
            memory_mib=size.memory_mib,
            serial_log=scratch / f"{size.label}.serial.log",
        )
        for size in sizes
    }
    vms: dict[str, qemu.VM] = {}
    with concurrent.futures.ThreadPoolExecutor(len(managers)) as pool:
        futures = {label: pool.submit(manager.__enter__) for label, manager in managers.items()}
        errors = []
        for label, future in futures.items():
            try:
                vms[label] = future.result()
                stack.push(managers[label].__exit__)
            except Exception as exc:  # noqa: BLE001 - reported below, the others are powered off
                errors.append(f"{label}: {exc}")
    if errors:
        raise qemu.TestbedError("; ".join(errors))
    return vms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, choices=(2, 3), default=3, help="how many sizes to boot")
    args = parser.parse_args(argv)
    sizes = list(SIZES[: args.sizes])
    started = time.monotonic()
    print("demo: building or reusing the compliant test image (first time: about 5 minutes) ...", flush=True)
    qemu.build(["compliant"])
    image = qemu.image_path("compliant")
    print(
        f"demo: image {image} ({image.stat().st_size / 2**30:.1f} GiB apparent, "
        f"{image.stat().st_blocks * 512 / 2**20:.0f} MiB on disk)"
    )
    codes: dict[str, int] = {}
    reports: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="vmimage-demo-") as tmp, contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        print(f"demo: booting {len(sizes)} sizes at once under QEMU (TCG) ...", flush=True)
        for size in sizes:
            print(f"  {size.label}: {size.cpus} vCPU, {size.memory_mib} MiB, {size.data_disks} data disk(s)")
        booted = time.monotonic()
        vms = boot_sizes(stack, sizes, scratch)
        for label, vm in vms.items():
            print(f"demo: {label} answered at {vm.url} after {vm.boot_seconds:.0f} s")
        print(f"demo: all sizes up after {time.monotonic() - booted:.0f} s", flush=True)
        known_hosts = scratch / "known_hosts"
        known_hosts.write_text("".join(Path(vm.known_hosts).read_text() for vm in vms.values()))
        hosts = [arg for label, vm in vms.items() for arg in ("--vm-host", f"{label}={vm.url}")]
        codes["linux"], report = pytest_run(
            "linux",
            [
                str(REPO / "suites" / "linux"),
                *hosts,
                "-n",
                str(len(vms)),
                "--vm-ssh-key",
                str(qemu.key_path()),
                "--vm-known-hosts",  # host keys read from each VM's serial port: verification on
                str(known_hosts),
            ],
        )
        reports.append(report)
    print("demo: VMs powered off; checking the VHD files offline ...", flush=True)
    vhds = ["--vm-vhd", f"os:{image}"]
    for n, disk in enumerate(qemu.data_disk_paths("compliant")):
        vhds += ["--vm-vhd", f"data:{n}:{disk}"]
    codes["artifacts"], report = pytest_run(
        "artifacts",
        [str(REPO / "suites" / "artifacts"), *vhds, "--vm-os", "linux", "--vm-offline", "--vm-vhd-sha256"],
    )
    reports.append(report)
    missing = [str(r) for r in reports if not r.is_file()]
    if missing:
        print(f"demo: no report written: {', '.join(missing)}", file=sys.stderr)
        return 2
    merge = [
        sys.executable,
        "-m",
        "pytest_vmimage",
        "merge",
        *map(str, reports),
        "-o",
        str(REPORTS / "submission.json"),
        "--html",
        str(REPORTS / "submission.html"),
        "--junit",
        str(REPORTS / "TEST-submission.xml"),
    ]
    print(f"\n$ {' '.join(merge)}", flush=True)
    merged = subprocess.run(merge, cwd=REPO).returncode
    print(f"\ndemo: finished in {time.monotonic() - started:.0f} s (wall time)")
    for name, code in codes.items():
        print(f"  {name:<9} pytest exit {code}: reports/{name}/")
    print("  submission: reports/submission.json, reports/submission.html, reports/TEST-submission.xml")
    if merged == 2 or any(code not in (0, 1) for code in codes.values()):
        return 2  # a step could not run (bad input, internal error, interrupted)
    result = json.loads((REPORTS / "submission.json").read_text())["TestResult"]
    return 1 if result == "Failed" else 0


if __name__ == "__main__":
    sys.exit(main())
