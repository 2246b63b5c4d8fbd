#!/usr/bin/env python3
"""How long fact collection takes on the real test VM: the one collection command with the
slow sections concurrent (what the suite does, facts/linux.py CONCURRENT_LANES) against the
same command with every section in turn (``lanes=()``, the script before issue 10 item 5),
alternating, with the machine's load average beside every figure; optionally also one SSH
command per section (the naive way).

Boots the compliant testbed image under QEMU/TCG (tests/testbed), or uses a VM already up
(``--url`` from ``python3 tests/testbed/qemu.py boot compliant``), so the figures are TCG
figures: process start-up dominates (NOTES.md), and other work on the machine skews them.
Prints figures; asserts nothing.

    python benchmarks/bench_linux_facts.py [--repeat N] [--vcpus 2] [--per-section]
    python benchmarks/bench_linux_facts.py --url ssh://azureuser@127.0.0.1:PORT --known-hosts FILE
"""

from __future__ import annotations

import argparse
import contextlib
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

MODES = {"concurrent": None, "in turn": ()}  # lanes= of gather(): default lanes / none


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextlib.contextmanager
def vm_connection(args):
    if args.url:
        key = args.key or str(qemu.key_path())
        target = parse_target(f"bench={args.url}")
        yield connect_linux(target, key, None, None, known_hosts=args.known_hosts)
        return
    qemu.build(["compliant"])
    with qemu.boot_variant("compliant", cpus=args.vcpus) as vm:
        print(f"VM up after {vm.boot_seconds:.0f} s ({vm.url}, {args.vcpus} vCPU), load {load()}")
        target = parse_target(f"bench={vm.url}")
        yield connect_linux(target, str(vm.key_path), None, None, known_hosts=str(vm.known_hosts))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (concurrent, in turn)")
    parser.add_argument("--vcpus", type=int, default=2, help="vCPUs of the VM this script boots")
    parser.add_argument("--url", help="a running VM instead of booting one")
    parser.add_argument("--key", help="its SSH key (default: the testbed key)")
    parser.add_argument("--known-hosts", help="its known_hosts file")
    parser.add_argument("--per-section", action="store_true", help="also one SSH command per section")
    args = parser.parse_args()
    with vm_connection(args) as connection:
        walls: dict[str, list[float]] = {mode: [] for mode in MODES}
        for round_ in range(args.repeat):
            for mode, lanes in MODES.items():
                before = load()
                started = time.perf_counter()
                facts = gather(connection, admin_user="azureuser", lanes=lanes)
                wall = time.perf_counter() - started
                walls[mode].append(wall)
                unreadable = [name for name, s in facts.sections.items() if s.unreadable(name)]
                top = sorted(facts.sections.items(), key=lambda kv: -(kv[1].seconds or 0))[:5]
                print(
                    f"round {round_ + 1} {mode:<10}: {wall:6.1f} s  load before {before}, after {load()}; "
                    f"{len(facts.sections)} sections, unreadable {unreadable or 'none'}; slowest: "
                    + ", ".join(f"{name} {s.seconds:.1f}" for name, s in top),
                    flush=True,
                )
        for mode, values in walls.items():
            print(
                f"{mode:<10}: median {statistics.median(values):.1f} s "
                f"(min {min(values):.1f}, max {max(values):.1f}) over {len(values)} runs, 1 SSH command each"
            )
        ratios = [turn / conc for conc, turn in zip(walls["concurrent"], walls["in turn"], strict=True)]
        print("in turn / concurrent, per round: " + ", ".join(f"{r:.2f}x" for r in ratios))
        if args.per_section:
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
                f"one command per section: {connection.commands_run - before} SSH commands, "
                f"{total:.1f} s in all (load {load()})"
            )
            for name, seconds in sorted(per_section.items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {name:<18} {seconds:5.1f} s")
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
