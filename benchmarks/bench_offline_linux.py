#!/usr/bin/env python3
"""The Linux suite judged offline from the 30 GiB compliant testbed VHD: bytes read and
wall time, beside the booted path (boot + SSH + suite).

Offline figures: the fact reading in process (bytes the reader counts: its own reads of
the image plus debugfs' output; and ``rchar`` of /proc/self/io, which adds every byte this
process and its reaped debugfs children read, pipes and temporary files included: an upper
bound), then the whole suite as a pytest run (``pytest suites/linux --vm-vhd os:VHD``).
Booted figure: the boot times the testbed recorded (boot-times.tsv), or with ``--boot`` a
fresh boot of the compliant image plus the live suite over SSH. Prints; asserts nothing.
Usage: python benchmarks/bench_offline_linux.py [--vhd PATH] [--boot]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import qemu  # noqa: E402

from pytest_vmimage.facts.linux_image import read_linux_image  # noqa: E402

MIB = 2**20


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def suite(args: list[str]) -> tuple[float, str]:
    started, cpu = time.monotonic(), cpu_seconds()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(REPO / "suites" / "linux"),
            "-q",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd="/tmp",
    )
    summary = [line for line in done.stdout.splitlines() if line.strip()][-1:]
    used = f"{cpu_seconds() - cpu:.1f} s CPU; "
    return time.monotonic() - started, used + (summary[0] if summary else f"exit {done.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vhd", type=Path, help="OS disk VHD (default: the testbed's compliant image)")
    parser.add_argument("--boot", action="store_true", help="also boot the image and run the live suite")
    options = parser.parse_args()
    vhd = options.vhd or qemu.image_path("compliant")
    print(
        f"VHD: {vhd} ({vhd.stat().st_size / 2**30:.0f} GiB apparent, {vhd.stat().st_blocks * 512 / MIB:.0f} MiB allocated)"
    )

    before, started, cpu = rchar(), time.monotonic(), cpu_seconds()
    facts = read_linux_image(vhd)
    seconds, read, cpu = time.monotonic() - started, rchar() - before, cpu_seconds() - cpu
    judged = sum(1 for s in facts.sections.values() if not s.problem)
    files = facts.meta["file_bytes"]
    print(
        f"offline facts: {seconds:.2f} s wall, {cpu:.2f} s CPU (process + debugfs), "
        f"{judged}/{len(facts.sections)} sections read from the image; read: {read / MIB:.1f} MiB rchar in all "
        f"(process + debugfs children), of which {files / MIB:.1f} MiB are the files' contents read back from "
        f"debugfs' dumps, so about {(read - files) / MIB:.1f} MiB from the image (upper bound: pipes included)"
    )
    wall, summary = suite(["--vm-vhd", f"os:{vhd}"])
    print(
        f"offline suite (pytest suites/linux --vm-vhd os:VHD, interpreter start included): {wall:.2f} s: {summary}"
    )

    times = vhd.parent / "boot-times.tsv"
    boots = []
    if times.exists():
        boots = [
            float(v)
            for n, v in (line.split("\t") for line in times.read_text().splitlines() if "\t" in line)
            if n == "compliant"
        ]
    if boots:
        print(
            f"booted path, boot only (testbed boot-times.tsv, compliant, n={len(boots)}): median {statistics.median(boots):.0f} s under TCG"
        )
    if options.boot:
        started = time.monotonic()
        with qemu.boot_variant("compliant") as vm:
            booted = time.monotonic() - started
            wall, summary = suite(
                [
                    "--vm-host",
                    vm.url,
                    "--vm-ssh-key",
                    str(vm.key_path),
                    "--vm-known-hosts",
                    str(vm.known_hosts),
                ]
            )
        print(
            f"booted path: boot {booted:.0f} s + live suite {wall:.0f} s = {booted + wall:.0f} s: {summary}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
