"""Builders of real disk images for the facts tests.

Everything runs without root and without loop devices: ``sfdisk`` partitions a plain
file, ``mkfs.ext4 -d`` / ``mkfs.xfs -p`` fill a file system image from a folder,
``mkswap`` formats a file, ``dd conv=notrunc`` places each at its partition offset and
``qemu-img`` converts to VHD/VHDX/qcow2/VMDK.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

MIB = 1024 * 1024
TOOLS = {
    "qemu-img": "qemu-utils",
    "sfdisk": "fdisk",
    "mkfs.ext4": "e2fsprogs",
    "debugfs": "e2fsprogs",
    "mkswap": "util-linux",
    "mkfs.xfs": "xfsprogs",
}


def need(*tools: str) -> pytest.MarkDecorator:
    """Skip only when a tool is truly missing (CI installs them all)."""
    missing = [t for t in tools if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    return pytest.mark.skipif(
        bool(missing),
        reason=f"missing {', '.join(missing)} (apt-get install {' '.join(sorted({TOOLS[t] for t in missing}))})",
    )


def run(*cmd: str | Path, input: str | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if proc.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed: {proc.stderr}")
    return proc.stdout


def sparse_file(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def partition(raw: Path, script: str) -> list[dict]:
    """Run an sfdisk script on ``raw``; return sfdisk's own view (start, size, type)."""
    run("sfdisk", "-q", "--no-reread", "--no-tell-kernel", raw, input=script)
    return json.loads(run("sfdisk", "-J", raw))["partitiontable"]["partitions"]


def place(raw: Path, image: Path, start_sector: int) -> None:
    """Copy ``image`` into ``raw`` at a sector, keeping both sparse."""
    run(
        "dd",
        f"if={image}",
        f"of={raw}",
        "bs=512",
        f"seek={start_sector}",
        "conv=notrunc,sparse",
        "status=none",
    )


def write_tree(root: Path, files: dict[str, str | bytes | tuple[str, str]]) -> Path:
    """Make a folder: value str/bytes = file content; ("symlink", target) = a symlink."""
    for rel, value in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, tuple):
            path.symlink_to(value[1])
        elif isinstance(value, bytes):
            path.write_bytes(value)
        elif rel.endswith("/") or value.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text(value)
    return root


def mkext4(tree: Path, image: Path, size: int, uuid_: str | None = None) -> Path:
    sparse_file(image, size)
    extra = ["-U", uuid_] if uuid_ else []
    run("mkfs.ext4", "-q", "-F", *extra, "-d", tree, image)
    return image


def mkswap(image: Path, size: int, label: str = "", uuid_: str = "") -> Path:
    sparse_file(image, size)
    args = (["-L", label] if label else []) + (["-U", uuid_] if uuid_ else [])
    run("mkswap", "-q", *args, image)
    return image


def xfs_protofile(tree: Path) -> str:
    """A mkfs.xfs protofile describing ``tree`` (files, directories, symlinks)."""
    lines = ["/dev/null", "0 0", "d--755 0 0"]

    def walk(folder: Path) -> None:
        for child in sorted(folder.iterdir()):
            if child.is_symlink():
                lines.append(f"{child.name} l--777 0 0 {child.readlink()}")
            elif child.is_dir():
                lines.append(f"{child.name} d--755 0 0")
                walk(child)
                lines.append("$")
            else:
                lines.append(f"{child.name} ---644 0 0 {child}")

    walk(tree)
    lines.append("$")
    return "\n".join(lines) + "\n"


def mkxfs(tree: Path, image: Path, size: int = 320 * MIB) -> Path:
    proto = image.with_suffix(".proto")
    proto.write_text(xfs_protofile(tree))
    sparse_file(image, size)
    # xfsprogs >= 5.19 refuses file systems under 300 MiB outside its own test suite
    small = {"TEST_DIR": "1", "TEST_DEV": "1", "QA_CHECK_FS": "1"} if size < 300 * MIB else None
    run("mkfs.xfs", "-q", "-f", "-p", proto, image, env=small)
    return image


def chs(size: int) -> tuple[int, int, int]:
    """Disk geometry per the VHD specification's CHS algorithm."""
    total = min(size // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cyl_heads = total // spt
    else:
        spt = 17
        cyl_heads = total // spt
        heads = max((cyl_heads + 1023) // 1024, 4)
        if cyl_heads >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cyl_heads = total // spt
        if cyl_heads >= heads * 1024:
            spt, heads = 63, 16
            cyl_heads = total // spt
    return cyl_heads // heads, heads, spt


def vhd_footer(size: int, disk_type: int = 2, break_checksum: bool = False) -> bytes:
    """A VHD footer written by hand from the specification, as Hyper-V ("win ") writes it
    (qemu trusts the current size of such footers instead of the CHS geometry)."""
    cylinders, heads, spt = chs(size)
    fields = struct.pack(
        ">8sIIQI4sI4sQQHBBII16sB",
        b"conectix",
        2,
        0x00010000,
        0xFFFFFFFFFFFFFFFF if disk_type == 2 else 512,
        0,
        b"win ",
        0x000A0000,
        b"Wi2k",
        size,
        size,
        cylinders,
        heads,
        spt,
        disk_type,
        0,
        uuid.uuid4().bytes,
        0,
    )
    raw = fields.ljust(512, b"\0")
    checksum = ~sum(raw) & 0xFFFFFFFF
    if break_checksum:
        checksum ^= 1
    return raw[:64] + struct.pack(">I", checksum) + raw[68:]


def to_vhd(raw: Path, out: Path, subformat: str = "fixed") -> Path:
    opts = f"subformat={subformat}" + (",force_size=on" if subformat == "fixed" else "")
    run("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", opts, raw, out)
    return out


# A generalized root and a "dirty" root (build-time residue everywhere).
CLEAN_ROOT = {
    "etc/fstab": "UUID=0b0c0c0d-1111-2222-3333-444455556666 / ext4 defaults 0 1\n",
    "etc/hostname": "localhost.localdomain\n",
    "etc/resolv.conf": ("symlink", "../run/systemd/resolve/stub-resolv.conf"),
    "usr/lib/os-release": 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n',
    "etc/os-release": ("symlink", "../usr/lib/os-release"),
    "etc/waagent.conf": "Provisioning.RegenerateSshHostKeyPair=y\nProvisioning.DeleteRootPassword=y\n",
    "etc/ssh/sshd_config": "ClientAliveInterval 180\n",
    "root/.profile": "# profile\n",
    "var/lib/dhcp/": "",
    "home/": "",
}

SECRET = "-----BEGIN OPENSSH PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n"

DIRTY_ROOT = {
    "etc/fstab": (
        "# /etc/fstab\n"
        "UUID=0b0c0c0d-1111-2222-3333-444455556666 / ext4 errors=remount-ro 0 1\n"
        "UUID=5f5f5f5f-aaaa-bbbb-cccc-ddddeeeeffff none swap sw 0 0\n"
        "/dev/disk/by-label/My\\040Data /data ext4 defaults 0 2\n"
    ),
    "etc/hostname": "build-host-17\n",
    "etc/resolv.conf": "nameserver 10.0.0.2\nsearch corp.example\n",
    "etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="16.04"\n',
    "etc/waagent.conf": "# agent\nProvisioning.RegenerateSshHostKeyPair=y  # regen\nAutoUpdate.Enabled=n\n",
    "etc/ssh/ssh_host_ed25519_key": SECRET,
    "etc/ssh/ssh_host_ed25519_key.pub": "ssh-ed25519 AAAA root@build\n",
    "etc/ssh/ssh_host_rsa_key": SECRET,
    "root/.bash_history": "apt-get install secret-tool\n",
    "home/alice/.bash_history": "ls\nsudo -i\n",
    "home/alice/.python_history": "import os\n",
    "home/bob/.zsh_history": "",
    "var/lib/dhcp/dhclient.eth0.leases": "lease { fixed-address 10.0.0.5; }\n",
    "var/lib/dhcp/README": "not a lease\n",
    "var/lib/NetworkManager/internal-1234-eth0.lease": "ADDRESS=10.0.0.5\n",
    "var/lib/NetworkManager/NetworkManager.state": "[main]\n",
}


@pytest.fixture
def tree(tmp_path: Path):
    """Factory: a root folder from a spec dict."""
    counter = iter(range(1000))

    def make(spec: dict) -> Path:
        return write_tree(tmp_path / f"tree{next(counter)}", spec)

    return make


# A root that is generalized except for one non-empty root shell history.
HISTORY_ONLY_ROOT = {
    **CLEAN_ROOT,
    "root/.bash_history": "curl http://build.example/secret\n",
    "var/lib/NetworkManager/NetworkManager.state": "[main]\n",
}


def fs_image(tree: Path, image: Path, fs: str) -> Path:
    """A small ext4 (16 MiB) or XFS (32 MiB) file-system image of ``tree``."""
    if fs == "xfs":
        return mkxfs(tree, image, 32 * MIB)
    return mkext4(tree, image, 16 * MIB)


def gpt_disk(fs_img: Path, raw: Path) -> Path:
    """A raw GPT disk holding ``fs_img`` as its only partition, from sector 2048."""
    size = fs_img.stat().st_size
    sparse_file(raw, size + 2 * MIB)
    partition(raw, f"label: gpt\nstart=2048, size={size // 512}, type=L\n")
    place(raw, fs_img, 2048)
    return raw


def debugfs_write(image: Path, *commands: str) -> None:
    """Change an ext file system image with ``debugfs -w`` (to break it on purpose)."""
    run("debugfs", "-w", "-f", "-", image, input="\n".join(commands) + "\n")


def xfs_inode_offset(image: Path, path: str) -> int:
    """Byte offset of the inode of ``path`` in an XFS image (to break it on purpose)."""
    from pytest_vmimage.facts._xfs import XfsReader

    with open(image, "rb") as fh:
        reader = XfsReader(lambda off, n: os.pread(fh.fileno(), n, off))
        inode = reader._lookup(path)
        assert inode is not None and not isinstance(inode, str), path
        return reader.inode_offset(inode.ino)


def patch(image: Path, offset: int, data: bytes) -> None:
    with open(image, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
