#!/usr/bin/env python3
"""How long fact collection takes on the real test VM: one batched SSH command
(what the suite does) against one SSH command per section (the naive way).

Boots the compliant testbed image under QEMU/TCG (tests/testbed), so the figures
are TCG figures: process start-up dominates (NOTES.md). Prints figures; asserts
nothing. Usage: python benchmarks/bench_linux_facts.py [--repeat N]
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import qemu  # noqa: E402

from pytest_vmimage.connect.ssh import connect_linux  # noqa: E402
from pytest_vmimage.facts.linux import SECTIONS, collection_script, gather  # noqa: E402
from pytest_vmimage.targets import parse_target  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    qemu.build(["compliant"])
    with qemu.boot_variant("compliant") as vm:
        print(f"VM up after {vm.boot_seconds:.0f} s ({vm.url})")
        target = parse_target(f"bench={vm.url}")
        connection = connect_linux(target, str(vm.key_path), None, None, known_hosts=str(vm.known_hosts))
        batched = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            facts = gather(connection, admin_user="azureuser")
            batched.append(time.perf_counter() - started)
        size = sum(len(s.text) for s in facts.sections.values())
        print(
            f"batched: {len(SECTIONS)} sections in 1 SSH command: median {statistics.median(batched):.1f} s "
            f"(min {min(batched):.1f}, max {max(batched):.1f}; {size / 1024:.0f} KiB of facts)"
        )
        per_section: dict[str, float] = {}
        started_all = time.perf_counter()
        before = connection.commands_run
        for name in SECTIONS:
            script = collection_script({name: SECTIONS[name]}, secrets.token_hex(4))
            started = time.perf_counter()
            connection.run(f"sudo -n sh -c {shlex.quote(script)}", timeout=300)
            per_section[name] = time.perf_counter() - started
        total = time.perf_counter() - started_all
        print(
            f"one command per section: {connection.commands_run - before} SSH commands, {total:.1f} s in all"
        )
        for name, seconds in sorted(per_section.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {name:<18} {seconds:5.1f} s")
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
