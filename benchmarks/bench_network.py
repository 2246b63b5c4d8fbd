#!/usr/bin/env python3
"""The Linux suite over a delayed network, beside a naive one-command-per-fact baseline.

Run as root on the machine that builds the testbed (prints figures, asserts nothing):

    python benchmarks/bench_network.py [--delays 0,50,150] [--targets 3] [--skip-targets]

1. Creates a network namespace and a veth pair (10.213.X.1 here, 10.213.X.2 in the namespace).
   Every client (pytest, the naive baseline, the RTT probe) runs INSIDE the namespace and reaches
   the VM across the veth pair: 10.213.X.1:RELAY_PORT -> relay -> 127.0.0.1:HOSTFWD -> QEMU -> sshd.
   Delay: `tc qdisc add … netem delay RTT/2` on both veth ends when the kernel has sch_netem; else
   benchmarks/delay_relay.py delays every chunk by RTT/2 in each direction (latency, not
   bandwidth). The machine's own loopback device never gets a qdisc. Which one was used is printed.
2. One compliant test VM (2 vCPUs), sshd switched to `LogLevel VERBOSE` at run time (the disk is
   snapshot=on: nothing persists). Per delay: the RTT of a 1-byte echo through the same path;
   `pytest suites/linux` (wall time, SSH sessions = new "Starting session" lines in the VM's sshd
   journal, SSH connections = new "Accepted publickey" lines); the naive baseline: one testinfra
   `host.run` per fact section (the suite's own sections, one remote command each), same VM, same path.
3. N VMs booted at once (1 vCPU each); `pytest suites/linux -n k` with k = 1..N targets (0 ms added
   delay); wall time and ratio to one target.

Machine load (`uptime`) is printed beside every measurement: other work on the machine skews
TCG timings. Clean-up (QEMU, relays, the namespace) always runs, with bounded waits.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
RELAY = HERE / "delay_relay.py"
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import qemu  # noqa: E402

RUN_TIMEOUT = 1800.0  # one pytest or naive run
BOOT_TIMEOUT = 1200.0  # several TCG VMs booting at once on 2 cores


def sh(argv: list[str], *, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited {r.returncode}: {(r.stderr or r.stdout).strip()}")
    return r


def load() -> str:
    return sh(["uptime"]).stdout.strip().split("load average:")[-1].strip()


# ------------------------------------------------------------------ network namespace
class Netns:
    """A namespace with one veth pair; `tc netem` on both ends if the kernel has it."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.name = f"vmbench{tag}"
        self.host_if, self.ns_if = f"vbh{tag}", f"vbn{tag}"
        used = sh(["ip", "-o", "-4", "addr"]).stdout
        for _ in range(50):
            octet = secrets.randbelow(200) + 20
            if f"10.213.{octet}." not in used:
                break
        else:
            raise RuntimeError("no free 10.213.X.0/30 subnet")
        self.host_ip, self.ns_ip = f"10.213.{octet}.1", f"10.213.{octet}.2"
        self.netem: bool | None = None
        self.netem_error = ""

    def __enter__(self) -> Netns:
        sh(["ip", "netns", "add", self.name])
        try:
            sh(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if])
            sh(["ip", "link", "set", self.ns_if, "netns", self.name])
            sh(["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if])
            sh(["ip", "link", "set", self.host_if, "up"])
            sh(["ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if])
            sh(["ip", "-n", self.name, "link", "set", self.ns_if, "up"])
            sh(["ip", "-n", self.name, "link", "set", "lo", "up"])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        # deleting the namespace deletes its veth end, which deletes the pair
        sh(["ip", "netns", "del", self.name], check=False)
        sh(["ip", "link", "del", self.host_if], check=False)

    def exec(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def set_delay(self, rtt_ms: float) -> bool:
        """netem delay RTT/2 on both veth ends; False (and the kernel's words) if refused."""
        if self.netem is False:
            return False
        half = f"{rtt_ms / 2:g}ms"
        for argv in (["tc", "qdisc", "replace", "dev", self.host_if, "root", "netem", "delay", half],
                     ["tc", "-n", self.name, "qdisc", "replace", "dev", self.ns_if, "root", "netem",
                      "delay", half]):
            r = sh(argv, check=False)
            if r.returncode != 0:
                self.netem = False
                self.netem_error = (r.stderr or r.stdout).strip()
                return False
        self.netem = True
        return True


# ------------------------------------------------------------------ relay
class Relay:
    """benchmarks/delay_relay.py on the veth address here, forwarding to UPSTREAM."""

    def __init__(self, listen_ip: str, upstream: str, delay_ms: float, mode: str = "relay"):
        argv = [sys.executable, str(RELAY), mode, "--listen", f"{listen_ip}:0"]
        if mode == "relay":
            argv += ["--connect", upstream, "--delay-ms", f"{delay_ms:g}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True)
        line = _readline(self.proc, 30)
        if not line.startswith("listening "):
            self.close()
            raise RuntimeError(f"relay did not start: {line!r}")
        self.address = line.split()[1]
        self.host, self.port = self.address.rsplit(":", 1)
        self.closed: list[str] = []  # "closed up=B down=B turns=T", one per relayed connection
        threading.Thread(target=lambda: self.closed.extend(iter(self.proc.stdout.readline, "")),
                         daemon=True).start()

    def take_turns(self, connections: int = 0, wait: float = 0) -> int:
        """Round trips of the connections closed since the last call (waits for `connections`)."""
        deadline = time.monotonic() + wait
        while len(self.closed) < connections and time.monotonic() < deadline:
            time.sleep(0.2)
        lines, self.closed[:] = list(self.closed), []
        return sum(int(m.group(1)) for ln in lines if (m := re.search(r"turns=(\d+)", ln)))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return out[0].strip() if out else ""


@contextlib.contextmanager
def relays(ns: Netns, ports: list[int], delay_ms: float):
    """One relay per VM port, delaying RTT/2 per direction unless netem does the delay."""
    by_netem = ns.set_delay(delay_ms)
    started: list[Relay] = []
    try:
        for port in ports:
            started.append(Relay(ns.host_ip, f"127.0.0.1:{port}", 0 if by_netem else delay_ms / 2))
        yield started
    finally:
        for r in started:
            r.close()
        if by_netem:
            ns.set_delay(0)


def probe_rtt(ns: Netns, delay_ms: float) -> str:
    """Median RTT of 1-byte echoes: namespace -> veth -> relay -> loopback echo server."""
    echo = Relay("127.0.0.1", "", 0, mode="echo")
    try:
        with relays(ns, [int(echo.port)], delay_ms) as (relay,):
            r = sh(ns.exec([sys.executable, str(RELAY), "probe", "--connect", relay.address,
                            "--count", "10"]), timeout=120)
            return r.stdout.strip()
    finally:
        echo.close()


# ------------------------------------------------------------------ the VM's sshd log
def enable_verbose_sshd(vm) -> None:
    vm.ssh("sudo -n sh -c 'echo LogLevel VERBOSE > /etc/ssh/sshd_config.d/99-bench-verbose.conf"
           " && systemctl reload ssh'")
    time.sleep(1)
    a, b = ssh_log_counts(vm), ssh_log_counts(vm)
    if b[0] - a[0] != 1:
        raise RuntimeError(f"sshd does not log 'Starting session' at VERBOSE (counts {a} then {b})")


def ssh_log_counts(vm) -> tuple[int, int]:
    """(sessions, connections) in sshd's journal, this reading session included."""
    command = ("sudo -n journalctl -u ssh.service -o cat --no-pager"
               " | awk '/Starting session/ {s++} /Accepted publickey/ {c++} END {print s+0, c+0}'")
    for _attempt in range(10):  # sshd re-executes itself on reload: slow under TCG and load
        r = vm.ssh(command, check=False)
        if r.returncode != 255:
            break
        time.sleep(3)
    if r.returncode != 0:
        raise RuntimeError(f"reading sshd's journal failed ({r.returncode}): {r.stderr.strip()}")
    s, c = r.stdout.split()
    return int(s), int(c)


def during(vm, before: tuple[int, int]) -> tuple[int, int]:
    """Sessions and connections since `before`, minus the two reading sessions themselves."""
    after = ssh_log_counts(vm)
    return after[0] - before[0] - 1, after[1] - before[1] - 1


# ------------------------------------------------------------------ the two ways of checking
def known_hosts_args(ns: Netns, endpoints: list[Relay], folder: Path) -> list[str]:
    """--vm-known-hosts FILE with the keys read through the same path, if the plugin has it."""
    if "--vm-known-hosts" not in (REPO / "pytest_vmimage" / "plugin.py").read_text():
        return []
    lines = []
    for e in endpoints:
        r = sh(ns.exec(["ssh-keyscan", "-T", "30", "-p", e.port, e.host]), timeout=120, check=False)
        lines += [ln for ln in r.stdout.splitlines() if ln and not ln.startswith("#")]
    path = folder / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return ["--vm-known-hosts", str(path)]


@dataclass
class Run:
    seconds: float
    rc: int
    summary: str
    detail: str = ""
    turns: int = 0


def run_suite(ns: Netns, endpoints: list[Relay], key: Path, folder: Path, workers: int = 0) -> Run:
    number = len(list(folder.glob("pytest-*.log"))) + 1
    facts_dir = folder / f"facts-{number}"
    argv = [sys.executable, "-m", "pytest", "suites/linux", "-p", "no:cacheprovider", "-q",
            "--vm-ssh-key", str(key), "--vm-facts-dir", str(facts_dir),
            *known_hosts_args(ns, endpoints, folder)]
    for i, e in enumerate(endpoints):
        argv += ["--vm-host", f"t{i + 1}=ssh://{qemu.USER}@{e.host}:{e.port}"]
    if workers:
        argv += ["-n", str(workers)]
    for e in endpoints:
        e.take_turns(wait=0)  # the ssh-keyscan connections are not part of the run
    started = time.perf_counter()
    r = subprocess.run(ns.exec(argv), capture_output=True, text=True, cwd=REPO,
                       timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    turns = endpoints[0].take_turns(connections=1, wait=15)
    log = folder / f"pytest-{number}.log"
    log.write_text(r.stdout + r.stderr)
    tail = [ln for ln in r.stdout.splitlines() if ln.strip()][-1:] or [r.stderr.strip()[-300:]]
    summary = re.sub(r"=+", "", tail[0]).strip()
    if r.returncode != 0:
        first = [ln for ln in r.stdout.splitlines() if ln.startswith(("E ", "ERROR ", "FAILED "))][:2]
        summary += f" [{log}: {' / '.join(x.strip() for x in first)[:300]}]"
    return Run(seconds, r.returncode, summary, slowest_sections(facts_dir), turns)


def slowest_sections(facts_dir: Path) -> str:
    """The slowest fact sections on the VM (their own times, from --vm-facts-dir), if recorded."""
    times: dict[str, float] = {}
    for path in sorted(facts_dir.glob("*.linux.json"))[:1]:
        for name, section in json.loads(path.read_text()).get("sections", {}).items():
            if isinstance(section.get("seconds"), (int, float)):
                times[name] = section["seconds"]
    if not times:
        return ""
    top = sorted(times.items(), key=lambda kv: -kv[1])[:4]
    return "slowest sections on the VM: " + ", ".join(f"{n} {t:.1f} s" for n, t in top)


def run_naive(ns: Netns, endpoint: Relay, key: Path) -> Run:
    argv = [sys.executable, str(Path(__file__).resolve()), "naive", "--host", endpoint.host,
            "--port", endpoint.port, "--key", str(key)]
    endpoint.take_turns(wait=0)
    started = time.perf_counter()
    r = subprocess.run(ns.exec(argv), capture_output=True, text=True, cwd=REPO,
                       timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    tail = [ln for ln in r.stdout.splitlines() if ln.strip()][-1:] or [r.stderr.strip()[-300:]]
    return Run(seconds, r.returncode, tail[0], turns=endpoint.take_turns(connections=1, wait=15))


def naive_main(host: str, port: int, key: str) -> int:
    """The baseline: one testinfra host.run per fact section (the suite's own sections)."""
    import warnings

    import testinfra

    from pytest_vmimage.facts.linux import SECTIONS

    warnings.filterwarnings("ignore", message="Unknown .* host key")
    conn = testinfra.get_host(f"paramiko://{qemu.USER}@{host}:{port}", ssh_identity_file=key, timeout=60)
    failed = 0
    for value in SECTIONS.values():
        needs_root, snippet = value[0], value[-1]
        script = f"export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin\n( {snippet} ) </dev/null"
        command = f"sudo -n sh -c {shlex.quote(script)}" if needs_root else f"sh -c {shlex.quote(script)}"
        result = conn.run(command)
        failed += result.rc != 0
    print(f"{len(SECTIONS)} remote commands, {failed} with a non-zero exit")
    return 0


# ------------------------------------------------------------------ VMs
@contextlib.contextmanager
def boot_at_once(count: int, cpus: int, image: Path, key: Path, disks: list[Path]):
    """Boot `count` compliant VMs concurrently (one thread each holds its boot() open)."""
    vms: list = [None] * count
    errors: list[BaseException] = []
    ready = [threading.Event() for _ in range(count)]
    stop = threading.Event()

    def hold(i: int) -> None:
        try:
            with qemu.boot(image, key, data_disks=disks, timeout=BOOT_TIMEOUT, cpus=cpus) as vm:
                vms[i] = vm
                ready[i].set()
                stop.wait(RUN_TIMEOUT * 8)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            ready[i].set()

    threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(count)]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        for ev in ready:
            ev.wait(BOOT_TIMEOUT + 120)
        if errors or any(v is None for v in vms):
            raise RuntimeError(f"booting {count} VMs failed: {errors[:1] or 'timeout'}")
        print(f"{count} VM(s) with {cpus} vCPU up after {time.monotonic() - started:.0f} s "
              f"(load {load()})", flush=True)
        yield vms
    finally:
        stop.set()
        for t in threads:
            t.join(120)


# ------------------------------------------------------------------ the benchmark
def bench_delays(ns: Netns, delays: list[float], vm_files: tuple, folder: Path, warmup: bool) -> list[dict]:
    rows = []
    key = vm_files[1]
    with boot_at_once(1, 2, *vm_files) as (vm,):
        enable_verbose_sshd(vm)
        print("sshd on the VM: LogLevel VERBOSE (run time only)", flush=True)
        if warmup:
            with relays(ns, [vm.port], 0) as endpoints:
                run = run_suite(ns, endpoints, key, folder)
            print(f"warm-up run (not counted): {run.seconds:.1f} s, {run.summary}; {run.detail}", flush=True)
        for delay in delays:
            rtt = probe_rtt(ns, delay)
            how = "tc netem on both veth ends" if ns.netem else "delay_relay.py (userspace, RTT/2 each way)"
            print(f"\n--- {delay:g} ms RTT via {how}; echo through the path: {rtt}", flush=True)
            with relays(ns, [vm.port], delay) as endpoints:
                row = {"delay": delay, "rtt": rtt}
                for name, fn in (("ours", lambda: run_suite(ns, endpoints, key, folder)),
                                 ("naive", lambda: run_naive(ns, endpoints[0], key))):
                    before = ssh_log_counts(vm)
                    load_before = load()
                    run = fn()
                    sessions, connections = during(vm, before)
                    row[name] = (run, sessions, connections, load_before)
                    print(f"{name:5}: {run.seconds:6.1f} s  sessions {sessions:3}  connections "
                          f"{connections:2}  round trips {run.turns:4}  rc {run.rc}  load before {load_before}  | {run.summary}",
                          flush=True)
                    if run.detail:
                        print(f"       {run.detail}", flush=True)
            rows.append(row)
    return rows


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_targets(ns: Netns, count: int, vm_files: tuple, folder: Path, warmup: bool) -> list[tuple]:
    """1..count targets; beside each wall time, the CPU seconds each QEMU used during the run
    (what bounds the ratio: the emulated work of k VMs shares the host's cores)."""
    rows = []
    key = vm_files[1]
    with boot_at_once(count, 1, *vm_files) as vms:
        with relays(ns, [vm.port for vm in vms], 0) as endpoints:
            if warmup:
                run = run_suite(ns, endpoints, key, folder, workers=count)
                print(f"warm-up run, {count} targets (not counted): {run.seconds:.1f} s, {run.summary}",
                      flush=True)
            for k in range(1, count + 1):
                load_before = load()
                cpu_before = [cpu_seconds(vm.process.pid) for vm in vms]
                run = run_suite(ns, endpoints[:k], key, folder, workers=k)
                cpu = [cpu_seconds(vm.process.pid) - b for vm, b in zip(vms, cpu_before, strict=True)]
                rows.append((k, run, load_before, cpu[:k]))
                print(f"{k} target(s), -n {k}: {run.seconds:6.1f} s  rc {run.rc}  load before "
                      f"{load_before}  | {run.summary}", flush=True)
                print(f"       QEMU CPU s during the run, per VM: {', '.join(f'{c:.1f}' for c in cpu)}; "
                      f"targets' sum {sum(cpu[:k]):.1f} s = {sum(cpu[:k]) / run.seconds:.2f} of "
                      f"{os.cpu_count()} host cores on average", flush=True)
                if run.detail:
                    print(f"       t1 {run.detail}", flush=True)
    return rows


def print_tables(delay_rows: list[dict], target_rows: list[tuple], netem: bool, netem_error: str) -> None:
    print("\n=== results", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
          f"on {os.uname().nodename}, {os.cpu_count()} cores, QEMU TCG ===")
    if not netem:
        print(f"delay: tc netem refused ({netem_error or 'not tried'}); userspace relay delay_relay.py")
    if delay_rows:
        print("sess = 'Starting session' lines, conn = 'Accepted publickey' lines in the VM's sshd journal;"
              " +delay = wall time minus the same run at the first delay; trips = request/response"
              " round trips the relay saw (client spoke after the server), each costs one RTT")
        print(f"\n{'RTT set':>7} | {'echo RTT':>9} | {'ours s':>7} {'+delay':>6} {'sess':>4} {'conn':>4} "
              f"{'trips':>5} | {'naive s':>7} {'+delay':>6} {'sess':>4} {'conn':>4} {'trips':>5} | {'naive/ours':>10}")
        first = delay_rows[0]
        for row in delay_rows:
            ours, naive = row["ours"], row["naive"]
            median = re.search(r"median=([\d.]+)", row["rtt"])
            ok = ours[0].rc == 0 and naive[0].rc == 0
            ratio = f"{naive[0].seconds / ours[0].seconds:9.2f}x" if ok else "   (a run failed)"
            print(f"{row['delay']:>5g}ms | {(median.group(1) + ' ms') if median else '?':>9} | "
                  f"{ours[0].seconds:7.1f} {ours[0].seconds - first['ours'][0].seconds:6.1f} "
                  f"{ours[1]:4} {ours[2]:4} {ours[0].turns:5} | {naive[0].seconds:7.1f} "
                  f"{naive[0].seconds - first['naive'][0].seconds:6.1f} {naive[1]:4} {naive[2]:4} "
                  f"{naive[0].turns:5} | {ratio}")
    if target_rows:
        one = target_rows[0][1].seconds
        print(f"\n{'targets':>7} | {'-n':>3} | {'wall s':>7} | {'ratio':>5} | {'QEMU CPU s':>10} | "
              f"{'cores used':>10} | load before | result")
        for k, run, load_before, cpu in target_rows:
            print(f"{k:>7} | {k:>3} | {run.seconds:7.1f} | {run.seconds / one:5.2f} | {sum(cpu):10.1f} | "
                  f"{sum(cpu) / run.seconds:10.2f} | {load_before} | {run.summary}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["naive"]:
        p = argparse.ArgumentParser()
        p.add_argument("naive")
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--key", required=True)
        a = p.parse_args(argv)
        sys.path.insert(0, str(REPO))
        return naive_main(a.host, a.port, a.key)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", default="0,50,150", help="round-trip delays in ms (default 0,50,150)")
    parser.add_argument("--targets", type=int, default=3, help="most VMs booted at once (default 3)")
    parser.add_argument("--skip-delays", action="store_true")
    parser.add_argument("--skip-targets", action="store_true")
    parser.add_argument("--image", type=Path, help="OS VHD (default: the built compliant testbed image)")
    parser.add_argument("--key", type=Path, help="its SSH key (default: the testbed key)")
    parser.add_argument("--data-disk", type=Path, action="append", help="default: the image's data disks")
    parser.add_argument("--no-warmup", action="store_true", help="no uncounted first run on fresh VMs")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (ip netns, veth, tc)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.image:
        vm_files = (args.image, args.key or qemu.key_path(), args.data_disk or [])
    else:
        qemu.build(["compliant"])
        vm_files = (qemu.image_path("compliant"), qemu.key_path(), qemu.data_disk_paths("compliant"))
    print(f"image {vm_files[0]}", flush=True)
    delays = [float(d) for d in args.delays.split(",") if d.strip()]
    print(f"machine: {os.uname().nodename}, {os.cpu_count()} cores; load {load()}", flush=True)
    delay_rows: list[dict] = []
    target_rows: list[tuple] = []
    tmp = tempfile.mkdtemp(prefix="bench-network-")
    print(f"pytest output and known_hosts in {tmp}", flush=True)
    with Netns() as ns:
        print(f"namespace {ns.name}: veth {ns.host_if} {ns.host_ip} <-> {ns.ns_if} {ns.ns_ip} (in the namespace)")
        if ns.set_delay(0):
            print("delay: tc netem on both veth ends (relay adds none)")
        else:
            print(f"delay: tc netem refused by this kernel ({ns.netem_error}); using the userspace "
                  "relay benchmarks/delay_relay.py (every chunk RTT/2 later, in order, each way)")
        try:
            if not args.skip_delays:
                delay_rows = bench_delays(ns, delays, vm_files, Path(tmp), not args.no_warmup)
            if not args.skip_targets:
                target_rows = bench_targets(ns, args.targets, vm_files, Path(tmp), not args.no_warmup)
        finally:
            print_tables(delay_rows, target_rows, bool(ns.netem), ns.netem_error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
