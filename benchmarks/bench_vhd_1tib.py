"""Time inspect_disk on a 1 TiB sparse fixed VHD, beside ``qemu-img info``.

Run: ``python benchmarks/bench_vhd_1tib.py [--repeat N]``. Builds in a temporary
folder (a few MiB on disk): a 1 TiB sparse file with a GPT (root ext4 at 1 MiB, the
rest swap), a root file system from ``mkfs.ext4 -d`` and a hand-written fixed-VHD
footer. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_vmimage.facts.disk import inspect_disk  # noqa: E402
from tests.facts.conftest import DIRTY_ROOT, mkext4, partition, place, vhd_footer, write_tree  # noqa: E402

TIB = 1024**4
MIB = 1024**2


def build(folder: Path) -> Path:
    path = folder / "big.vhd"
    with open(path, "wb") as fh:
        fh.truncate(TIB)
    partition(path, "label: gpt\nstart=2048, size=64M, type=L\ntype=S\n")
    root = mkext4(write_tree(folder / "root", DIRTY_ROOT), folder / "root.img", 64 * MIB)
    place(path, root, 2048)
    with open(path, "ab") as fh:
        fh.write(vhd_footer(TIB))
    return path


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-vhd-") as tmp:
        path = build(Path(tmp))
        st = path.stat()
        print(f"file: {st.st_size} bytes apparent, {st.st_blocks * 512} bytes allocated")
        runs = {
            "inspect_disk (layout + root fs via debugfs)": lambda: inspect_disk(path),
            "inspect_disk (layout only)": lambda: inspect_disk(path, read_root_fs=False),
            "qemu-img info -f vpc": lambda: subprocess.run(
                ["qemu-img", "info", "-f", "vpc", str(path)], check=True, capture_output=True
            ),
        }
        for name, fn in runs.items():
            times = timed(fn, args.repeat)
            print(
                f"{name:45s} median {statistics.median(times) * 1000:8.2f} ms"
                f"  min {min(times) * 1000:8.2f} ms  max {max(times) * 1000:8.2f} ms  (n={args.repeat})"
            )
        facts = inspect_disk(path)
        layout = inspect_disk(path, read_root_fs=False)
        print(
            f"bytes_read: {facts.bytes_read} with root fs (debugfs reads excluded), {layout.bytes_read} layout only"
        )
        print(
            f"facts: {facts.format} {facts.format_detail}, {len(facts.partitions)} partitions, "
            f"root readable={facts.root_fs.readable} hostname={facts.root_fs.hostname!r}"
        )


if __name__ == "__main__":
    main()
