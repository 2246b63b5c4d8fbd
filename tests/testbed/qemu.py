#!/usr/bin/env python3
"""Boot and reach the pytest-vmimage Linux testbed images (stdlib only).

Library:
    from qemu import boot, build, image_path, cache_dir, recipe_hash, variants
    with boot(image_path("compliant"), key_path) as vm:
        vm.url, vm.port, vm.key_path, vm.serial_log, vm.known_hosts, vm.ssh("true")

Host keys: the image makes its SSH host keys at first boot and prints the public keys
to the serial port between cloud-init's markers (build_image.sh). The serial log is a
channel only this machine writes, so boot() turns those lines into a known_hosts file
for this VM (vm.known_hosts, "[127.0.0.1]:PORT" entries) and every SSH connection,
boot() probe included, verifies the host key against it (StrictHostKeyChecking=yes).

CLI:
    python3 tests/testbed/qemu.py build [VARIANT...]   build or reuse the images
    python3 tests/testbed/qemu.py path [VARIANT]       print an image path (default compliant)
    python3 tests/testbed/qemu.py key                  print the SSH private key path
    python3 tests/testbed/qemu.py dir                  print the cache directory of this recipe
    python3 tests/testbed/qemu.py boot IMAGE|VARIANT [--data-disk VHD]... [--key KEY]
                                                       boot, print URL and key, stay up until
                                                       Ctrl-C / SIGTERM

Every VM: TCG only, user networking with restrict=on (loopback SSH forward only),
the disks opened with snapshot=on so a cached image is never modified.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build_image.sh"
RECIPE_FILES = (HERE / "build_image.sh", HERE / "disktool.py", HERE / "variants.json")
USER = "azureuser"
DEFAULT_TIMEOUT = 600.0


class TestbedError(RuntimeError):
    """The testbed could not be built or a VM could not be reached."""


# ------------------------------------------------------------------ cache / build
def recipe_hash() -> str:
    """Same as build_image.sh: sha256(build_image.sh \\0 disktool.py \\0 variants.json)[:16]."""
    h = hashlib.sha256()
    for i, p in enumerate(RECIPE_FILES):
        if i:
            h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("VMIMAGE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "pytest-vmimage")
    return Path(base) / "testbed"


def cache_dir() -> Path:
    """Directory of this recipe's images, key and manifest.json."""
    return cache_root() / recipe_hash()


def variants() -> dict:
    """variants.json: name -> {description, breaks, also_affects, data_disks}."""
    return json.loads((HERE / "variants.json").read_text())


def manifest() -> dict | None:
    p = cache_dir() / "manifest.json"
    return json.loads(p.read_text()) if p.exists() else None


def is_built(names: Sequence[str] | None = None) -> bool:
    m = manifest()
    if not m:
        return False
    want = list(names) if names else list(variants())
    return all(n in m["variants"] and Path(m["variants"][n]["image"]).exists() for n in want)


def build(names: Sequence[str] = (), *, log=None, timeout: float = 3600) -> Path:
    """Build (or reuse) the images; returns cache_dir(). Needs root (debootstrap, chroot)."""
    if names and is_built(names) or not names and is_built():
        return cache_dir()
    if os.geteuid() != 0:
        raise TestbedError("building the testbed needs root (debootstrap, chroot, apt-get)")
    cmd = ["bash", str(BUILD_SCRIPT), *names]
    try:
        r = subprocess.run(cmd, stdout=log or None, stderr=subprocess.STDOUT if log else None,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise TestbedError(f"testbed build timed out after {timeout:.0f} s") from e
    if r.returncode != 0:
        raise TestbedError(f"{' '.join(cmd)} failed with exit code {r.returncode}")
    return cache_dir()


def image_path(variant: str = "compliant") -> Path:
    """The fixed VHD of a built variant (raises if not built)."""
    m = manifest()
    if not m or variant not in m["variants"]:
        raise TestbedError(f"variant {variant!r} is not built; run: python3 {__file__} build")
    return Path(m["variants"][variant]["image"])


def data_disk_paths(variant: str = "compliant") -> list[Path]:
    m = manifest()
    if not m or variant not in m["variants"]:
        raise TestbedError(f"variant {variant!r} is not built")
    return [Path(p) for p in m["variants"][variant]["data_disk_paths"]]


def key_path() -> Path:
    return cache_dir() / "id_ed25519"


# ------------------------------------------------------------------ boot
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ssh_base(port: int, key: Path | str, connect_timeout: int = 10,
              known_hosts: Path | str | None = None) -> list[str]:
    """ssh argv; host keys verified against known_hosts (always given once the VM printed them)."""
    trust = (["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}",
              "-o", "GlobalKnownHostsFile=/dev/null"] if known_hosts else
             ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
    return ["ssh", "-o", "BatchMode=yes", *trust, "-o", "LogLevel=ERROR",
            "-o", f"ConnectTimeout={connect_timeout}", "-o", "IdentitiesOnly=yes",
            "-i", str(key), "-p", str(port), "--", f"{USER}@127.0.0.1"]


HOST_KEYS_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
HOST_KEYS_END = "-----END SSH HOST KEY KEYS-----"
_HOST_KEY_LINE = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+=*)(?: |$)")


def host_keys_from_serial(text: str) -> list[tuple[str, str]]:
    """(type, base64) of every host public key printed between the markers (last block)."""
    text = re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9])", "", text).replace("\r", "")
    end = text.rfind(HOST_KEYS_END)
    begin = text.rfind(HOST_KEYS_BEGIN, 0, end if end >= 0 else None)
    if begin < 0 or end < begin:
        return []
    keys = []
    for line in text[begin + len(HOST_KEYS_BEGIN):end].splitlines():
        m = _HOST_KEY_LINE.match(line.strip())
        if m:
            try:
                blob = base64.b64decode(m.group(2), validate=True)
            except binascii.Error:
                continue
            if blob[4:4 + len(m.group(1))] == m.group(1).encode():  # the blob names its own type
                keys.append((m.group(1), m.group(2)))
    return keys


def write_known_hosts(path: Path, port: int, keys: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"[127.0.0.1]:{port} {kind} {b64}\n" for kind, b64 in keys))
    return path


@dataclass
class VM:
    port: int
    key_path: Path
    serial_log: Path
    image: Path
    process: subprocess.Popen = field(repr=False)
    boot_seconds: float = 0.0
    #: known_hosts with this VM's host keys, read from its serial port ("[127.0.0.1]:PORT")
    known_hosts: Path | None = None

    @property
    def url(self) -> str:
        return f"ssh://{USER}@127.0.0.1:{self.port}"

    @property
    def user(self) -> str:
        return USER

    def ssh_command(self, command: str = "") -> list[str]:
        """argv for `ssh ... azureuser@127.0.0.1 COMMAND` (for subprocess)."""
        return _ssh_base(self.port, self.key_path, known_hosts=self.known_hosts) + (
            [command] if command else [])

    def ssh(self, command: str, *, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run a shell command as azureuser; returns CompletedProcess with text stdout/stderr."""
        r = subprocess.run(self.ssh_command(command), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise TestbedError(f"ssh {command!r} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def serial_tail(self, lines: int = 40) -> str:
        return _tail(self.serial_log, lines)


def _tail(path: Path, lines: int) -> str:
    try:
        data = path.read_bytes()[-65536:].decode("utf-8", "replace")
    except OSError:
        return "(no serial log)"
    data = re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9])", "", data).replace("\r", "")
    return "\n".join([ln for ln in data.splitlines() if ln.strip()][-lines:])


def qemu_command(image: Path, port: int, serial_log: Path, data_disks: Sequence[Path] = (),
                 memory_mib: int = 1024, cpus: int = 2) -> list[str]:
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(memory_mib), "-smp", str(cpus),
           "-display", "none", "-monitor", "none", "-no-user-config", "-nodefaults",
           "-serial", f"file:{serial_log}",
           "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
           "-device", "virtio-net-pci,netdev=n0",
           "-drive", f"file={image},format=vpc,if=virtio,snapshot=on,cache=unsafe"]
    for d in data_disks:
        cmd += ["-drive", f"file={d},format=vpc,if=virtio,snapshot=on,cache=unsafe"]
    cmd += ["-device", "virtio-rng-pci"]
    return cmd


def _stop(proc: subprocess.Popen, port: int | None, key: Path | None,
          known_hosts: Path | None = None) -> None:
    if proc.poll() is not None:
        return
    if port and key and known_hosts:
        with contextlib.suppress(Exception):
            subprocess.run(_ssh_base(port, key, 5, known_hosts) + ["sudo -n systemctl poweroff"],
                           capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
            proc.wait(timeout=20)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def boot(image_path: str | os.PathLike, key_path: str | os.PathLike, *,
         data_disks: Sequence[str | os.PathLike] = (), timeout: float = DEFAULT_TIMEOUT,
         serial_log: str | os.PathLike | None = None, memory_mib: int = 1024,
         cpus: int = 2, port_attempts: int = 5) -> Iterator[VM]:
    """Boot IMAGE (fixed VHD) under TCG and wait until SSH answers with the key.

    Yields a VM (.url, .port, .key_path, .serial_log, .ssh(cmd)). QEMU is shut down
    on exit (poweroff over SSH, then terminate/kill), also when the body raises.
    Raises TestbedError with the serial-log tail if SSH does not answer in time.
    """
    image = Path(image_path).resolve()
    key = Path(key_path).resolve()
    disks = [Path(d).resolve() for d in data_disks]
    for p in [image, key, *disks]:
        if not p.exists():
            raise TestbedError(f"{p} does not exist")
    if serial_log is None:
        fd, name = tempfile.mkstemp(prefix=f"testbed-{image.stem}-", suffix=".serial.log")
        os.close(fd)
        log = Path(name)
    else:
        log = Path(serial_log)
    proc = None
    port = None
    reachable = False
    known_hosts = Path(f"{log}.known_hosts")
    t0 = time.monotonic()
    try:
        for _attempt in range(port_attempts):
            port = free_port()
            log.write_bytes(b"")
            cmd = qemu_command(image, port, log, disks, memory_mib, cpus)
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            time.sleep(1.0)
            if proc.poll() is None:
                break
            out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
            if "hostfwd" in out or "Could not set up host forwarding" in out:
                continue  # the port was taken between bind and QEMU: retry
            raise TestbedError(f"qemu exited {proc.returncode}: {out.strip()}\n{shlex.join(cmd)}")
        else:
            raise TestbedError("could not find a free loopback port for QEMU")
        deadline = t0 + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
                raise TestbedError(f"qemu exited {proc.returncode} during boot: {out.strip()}\n"
                                   f"serial log ({log}):\n{_tail(log, 40)}")
            remaining = deadline - time.monotonic()
            keys = host_keys_from_serial(log.read_bytes().decode("utf-8", "replace"))
            if remaining <= 0:
                why = "" if keys else (" and no SSH host keys on the serial port (an image built "
                                       "before build_image.sh printed them? rebuild it)")
                raise TestbedError(f"no SSH answer on 127.0.0.1:{port} within {timeout:.0f} s{why}; "
                                   f"serial log ({log}) ends:\n{_tail(log, 40)}")
            if not keys:  # sshd starts after the keys are printed: nothing to try yet
                time.sleep(min(3, max(deadline - time.monotonic(), 0)))
                continue
            write_known_hosts(known_hosts, port, keys)
            try:
                r = subprocess.run(_ssh_base(port, key, 10, known_hosts) + ["true"], capture_output=True,
                                   timeout=min(30, max(remaining, 1)), stdin=subprocess.DEVNULL)
                if r.returncode == 0:
                    reachable = True
                    break
            except subprocess.TimeoutExpired:
                pass
            time.sleep(min(3, max(deadline - time.monotonic(), 0)))
        vm = VM(port=port, key_path=key, serial_log=log, image=image, process=proc,
                boot_seconds=time.monotonic() - t0, known_hosts=known_hosts)
        yield vm
    finally:
        if proc is not None:
            # poweroff over SSH only if SSH ever answered; otherwise terminate/kill at once
            _stop(proc, port if reachable else None, key, known_hosts)
            if proc.stdout:
                proc.stdout.close()


@contextlib.contextmanager
def boot_variant(variant: str = "compliant", *, timeout: float = DEFAULT_TIMEOUT,
                 **kw) -> Iterator[VM]:
    """Boot a built variant with its data disks and the testbed key."""
    with boot(image_path(variant), key_path(), data_disks=data_disk_paths(variant),
              timeout=timeout, **kw) as vm:
        yield vm


# ------------------------------------------------------------------ CLI
def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    if cmd == "hash":
        print(recipe_hash())
    elif cmd == "dir":
        print(cache_dir())
    elif cmd == "key":
        print(key_path())
    elif cmd == "build":
        build(args)
        print(cache_dir())
    elif cmd == "path":
        print(image_path(args[0] if args else "compliant"))
    elif cmd == "variants":
        print(json.dumps(variants(), indent=2))
    elif cmd == "boot":
        if not args:
            print("usage: qemu.py boot IMAGE|VARIANT [--data-disk VHD]... [--key KEY]",
                  file=sys.stderr)
            return 2
        target, rest = args[0], args[1:]
        disks, key = [], None
        while rest:
            opt = rest.pop(0)
            if opt == "--data-disk":
                disks.append(rest.pop(0))
            elif opt == "--key":
                key = rest.pop(0)
            else:
                print(f"unknown option {opt}", file=sys.stderr)
                return 2
        if not os.path.exists(target) and target in variants():
            image = image_path(target)
            disks = disks or [str(p) for p in data_disk_paths(target)]
        else:
            image = Path(target)
        key = key or str(key_path())
        stop = {"flag": False}

        def on_signal(signum, frame):
            stop["flag"] = True
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print(f"booting {image} (TCG; this takes a few minutes) ...", file=sys.stderr)
        with boot(image, key, data_disks=disks) as vm:
            print(vm.url)
            print(f"key: {vm.key_path}")
            print(f"serial log: {vm.serial_log}")
            print(f"known_hosts: {vm.known_hosts}")
            print(f"ssh: {shlex.join(vm.ssh_command())}")
            print(f"up after {vm.boot_seconds:.0f} s; Ctrl-C or SIGTERM to stop", flush=True)
            while not stop["flag"] and vm.process.poll() is None:
                time.sleep(0.5)
        print("stopped", file=sys.stderr)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
