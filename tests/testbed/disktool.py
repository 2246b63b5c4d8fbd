#!/usr/bin/env python3
"""Disk-image helpers for the testbed build (stdlib only, no loop devices).

    disktool.py fixed-vhd RAW VHD
        Append a fixed-VHD footer to RAW (in place, no copy, stays sparse) and
        rename it to VHD. Virtual size = size of RAW, which must be a whole
        number of MiB. (qemu-img 7.2 `convert -O vpc -o subformat=fixed,force_size=on`
        writes 30 GiB - 512 bytes for a 30 GiB input: see README.md.)

    disktool.py place SRC DST OFFSET_BYTES
        Copy SRC into DST at OFFSET_BYTES without truncating DST, like
        `dd conv=notrunc,sparse`, but only SRC's data extents (SEEK_DATA/SEEK_HOLE):
        GNU dd reads and compares every zero of a 30 GiB hole (minutes under load).

    disktool.py lvm-pv PART_FILE VG LV LV_START_MIB LV_SIZE_MIB
        Write an LVM2 physical-volume label and text metadata (one VG with one
        linear LV) into the first MiB of PART_FILE (a file that will become a
        partition), so that the LV's data starts LV_START_MIB into the file.
"""
import os
import struct
import sys
import time
import uuid

SECTOR = 512


# ----------------------------------------------------------------- VHD footer
def _chs(total_sectors):
    """CHS geometry per the VHD specification (Appendix: CHS calculation)."""
    if total_sectors > 65535 * 16 * 255:
        total_sectors = 65535 * 16 * 255
    if total_sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total_sectors // spt
    else:
        spt = 17
        cth = total_sectors // spt
        heads = (cth + 1023) // 1024
        if heads < 4:
            heads = 4
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total_sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total_sectors // spt
    return cth // heads, heads, spt


def vhd_footer(size, disk_uuid=None, timestamp=None):
    if timestamp is None:
        timestamp = int(time.time()) - 946684800  # seconds since 2000-01-01 UTC
    c, h, s = _chs(size // SECTOR)
    f = bytearray(512)
    f[0:8] = b"conectix"
    struct.pack_into(">I", f, 8, 2)                    # features: reserved bit
    struct.pack_into(">I", f, 12, 0x00010000)          # format version 1.0
    struct.pack_into(">Q", f, 16, 0xFFFFFFFFFFFFFFFF)  # data offset: none (fixed)
    struct.pack_into(">I", f, 24, timestamp & 0xFFFFFFFF)
    f[28:32] = b"qem2"        # what qemu writes with force_size: "size is current_size"
    struct.pack_into(">I", f, 32, 0x00050003)
    f[36:40] = b"Wi2k"
    struct.pack_into(">Q", f, 40, size)                # original size
    struct.pack_into(">Q", f, 48, size)                # current size
    struct.pack_into(">HBB", f, 56, c, h, s)
    struct.pack_into(">I", f, 60, 2)                   # disk type: fixed
    f[68:84] = (disk_uuid or uuid.uuid4()).bytes
    checksum = (~sum(f)) & 0xFFFFFFFF
    struct.pack_into(">I", f, 64, checksum)
    return bytes(f)


def fixed_vhd(raw, vhd):
    size = os.path.getsize(raw)
    if size % (1024 * 1024):
        raise SystemExit(f"{raw}: size {size} is not a whole number of MiB")
    with open(raw, "r+b") as fh:
        fh.seek(size)
        fh.write(vhd_footer(size))
    os.replace(raw, vhd)


# ----------------------------------------------------------------- sparse placement
def place(src, dst, offset):
    """Copy the data extents of src into dst at offset (dst keeps its length or grows)."""
    chunk = 64 * 1024 * 1024
    size = os.path.getsize(src)
    with open(src, "rb") as fi, open(dst, "r+b") as fo:
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fi.fileno(), pos, os.SEEK_DATA)
            except OSError:          # ENXIO: no more data
                break
            end = os.lseek(fi.fileno(), start, os.SEEK_HOLE)
            while start < end:
                n = min(chunk, end - start)
                fi.seek(start)
                data = fi.read(n)
                if data.count(0) != len(data):   # keep all-zero chunks as holes
                    fo.seek(offset + start)
                    fo.write(data)
                start += len(data)
            pos = end
        if os.fstat(fo.fileno()).st_size < offset + size:
            fo.truncate(offset + size)


# ----------------------------------------------------------------- LVM2 label
def _lvm_crc(data, crc=0xF597A6CF):
    """LVM2's calc_crc(): CRC-32 (reflected 0xEDB88320) without final inversion."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc & 0xFFFFFFFF


def _lvm_id(seed):
    """A 32-character LVM id (deterministic from seed)."""
    import hashlib
    h = hashlib.sha256(seed.encode()).digest()
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(chars[b % len(chars)] for b in h[:32])


def _fmt_id(i):
    return "-".join([i[0:6], i[6:10], i[10:14], i[14:18], i[18:22], i[22:26], i[26:32]])


def lvm_pv(part, vg, lv, lv_start_mib, lv_size_mib):
    part_size = os.path.getsize(part)
    pe_size = 8192                     # sectors: 4 MiB extents
    pe_start = lv_start_mib * 2048     # sectors
    mda_offset, mda_size = 4096, pe_start * SECTOR - 4096
    pe_count = (part_size // SECTOR - pe_start) // pe_size
    lv_extents = lv_size_mib // 4
    if lv_extents > pe_count or lv_size_mib % 4:
        raise SystemExit("LV does not fit / not a multiple of 4 MiB")
    pv_id, vg_id, lv_id = _lvm_id(part + "pv"), _lvm_id(vg + "vg"), _lvm_id(vg + lv + "lv")
    now = int(time.time())
    meta = f"""{vg} {{
id = "{_fmt_id(vg_id)}"
seqno = 1
format = "lvm2"
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = {pe_size}
max_lv = 0
max_pv = 0
metadata_copies = 0

physical_volumes {{

pv0 {{
id = "{_fmt_id(pv_id)}"
device = "/dev/vda2"

status = ["ALLOCATABLE"]
flags = []
dev_size = {part_size // SECTOR}
pe_start = {pe_start}
pe_count = {pe_count}
}}
}}

logical_volumes {{

{lv} {{
id = "{_fmt_id(lv_id)}"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
creation_time = {now}
creation_host = "localhost.localdomain"
segment_count = 1

segment1 {{
start_extent = 0
extent_count = {lv_extents}

type = "striped"
stripe_count = 1

stripes = [
"pv0", 0
]
}}
}}
}}

}}
# Generated by pytest-vmimage testbed disktool.py

contents = "Text Format Volume Group"
version = 1

description = "testbed"

creation_host = "localhost.localdomain"
creation_time = {now}

""".encode() + b"\0"

    buf = bytearray(pe_start * SECTOR if pe_start * SECTOR <= 1 << 20 else 1 << 20)
    # label header in sector 1
    lh = bytearray(SECTOR)
    lh[0:8] = b"LABELONE"
    struct.pack_into("<Q", lh, 8, 1)          # sector_xl
    struct.pack_into("<I", lh, 20, 32)        # offset_xl (pv_header at byte 32)
    lh[24:32] = b"LVM2 001"
    ph = 32
    lh[ph:ph + 32] = pv_id.encode()
    struct.pack_into("<Q", lh, ph + 32, part_size)   # device_size_xl
    o = ph + 40
    # data areas: one, starting at pe_start, size 0 = to the end; then terminator
    struct.pack_into("<QQ", lh, o, pe_start * SECTOR, 0); o += 16
    struct.pack_into("<QQ", lh, o, 0, 0); o += 16
    # metadata areas: one at 4096; then terminator
    struct.pack_into("<QQ", lh, o, mda_offset, mda_size); o += 16
    struct.pack_into("<QQ", lh, o, 0, 0); o += 16
    # pv_header_extension: version 2, flags PV_EXT_USED (in a VG), no bootloader area
    struct.pack_into("<II", lh, o, 2, 1); o += 8
    struct.pack_into("<QQ", lh, o, 0, 0); o += 16
    struct.pack_into("<I", lh, 16, _lvm_crc(bytes(lh[20:SECTOR])))
    buf[SECTOR:2 * SECTOR] = lh
    # metadata area header at 4096, text right after it
    text_off = SECTOR
    mh = bytearray(SECTOR)
    mh[4:20] = b" LVM2 x[5A%r0N*>"
    struct.pack_into("<I", mh, 20, 1)                      # version
    struct.pack_into("<Q", mh, 24, mda_offset)             # start
    struct.pack_into("<Q", mh, 32, mda_size)               # size
    struct.pack_into("<QQII", mh, 40, text_off, len(meta), _lvm_crc(meta), 0)
    struct.pack_into("<I", mh, 0, _lvm_crc(bytes(mh[4:SECTOR])))
    buf[mda_offset:mda_offset + SECTOR] = mh
    buf[mda_offset + text_off:mda_offset + text_off + len(meta)] = meta
    with open(part, "r+b") as fh:
        fh.seek(0)
        fh.write(buf)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "fixed-vhd":
        fixed_vhd(*args)
    elif cmd == "place":
        place(args[0], args[1], int(args[2]))
    elif cmd == "lvm-pv":
        lvm_pv(args[0], args[1], args[2], int(args[3]), int(args[4]))
    else:
        raise SystemExit(__doc__)
