"""The LVM2 volume group a physical volume belongs to, read from the PV's label and text
metadata (the on-disk format of LVM2's format_text: label header in one of the first four
sectors, pv_header, metadata area header, circular text buffer). Read-only; no logical
volume is read, only what the metadata says of it (name, id, size, the PVs under it).
Checksums are verified as LVM2 does: metadata that fails them is not evidence."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

SECTOR = 512
LABEL_ID = b"LABELONE"
LVM2_TYPE = b"LVM2 001"
MDA_MAGIC = b" LVM2 x[5A%r0N*>"
INITIAL_CRC = 0xF597A6CF
MAX_METADATA = 4 << 20  # a VG's text metadata is a few KiB; bigger is not read


class LvmError(Exception):
    """The LVM2 label or metadata cannot be read: the reason."""


@dataclass(frozen=True)
class Segment:
    """Extents ``start`` .. ``start + count`` of a linear/striped LV: ``stripes`` are
    (PV id, first extent on that PV); ``stripe_size`` in sectors (0 when one stripe)."""

    start: int
    count: int
    stripe_size: int
    stripes: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class LogicalVolume:
    name: str
    id: str  # with dashes, as in the metadata
    sectors: int  # extents * extent size
    pvs: tuple[str, ...]  # the ids of the PVs its segments use
    segments: tuple[Segment, ...] = ()


@dataclass
class VolumeGroup:
    name: str
    id: str
    pv_id: str  # the id of the PV this was read from (with dashes)
    pv_ids: list[str] = field(default_factory=list)
    lvs: dict[str, LogicalVolume] = field(default_factory=dict)
    extent_size: int = 0  # sectors
    pe_start: dict[str, int] = field(default_factory=dict)  # PV id -> sector its first extent starts at
    # LVs whose data is not where linear/striped segments say (thin, raid, mirror, cache,
    # snapshot, ...) or whose segments do not parse: name -> why (their content is not read)
    unmapped: dict[str, str] = field(default_factory=dict)

    def lv_extent_at(self, lv: str, sector: int) -> tuple[str, int]:
        """(PV id, sector on that PV) holding sector ``sector`` of logical volume ``lv``;
        LvmError when no segment maps it."""
        extent, within = divmod(sector, self.extent_size)
        for seg in self.lvs[lv].segments:
            if not seg.start <= extent < seg.start + seg.count:
                continue
            rel = (extent - seg.start) * self.extent_size + within  # sectors into the segment
            if len(seg.stripes) == 1:
                pv, first = seg.stripes[0]
                offset = rel
            else:
                chunk, inside = divmod(rel, seg.stripe_size)
                row, column = divmod(chunk, len(seg.stripes))
                pv, first = seg.stripes[column]
                offset = row * seg.stripe_size + inside
            if pv not in self.pe_start:
                raise LvmError(f"logical volume {self.name}/{lv}: sector {sector} is on a PV not listed")
            return pv, self.pe_start[pv] + first * self.extent_size + offset
        raise LvmError(f"logical volume {self.name}/{lv}: no segment holds sector {sector}")

    def dm_name(self, lv: str) -> str:
        """The device-mapper name LVM gives the LV: VG-LV with '-' doubled in each."""
        return f"{self.name.replace('-', '--')}-{lv.replace('-', '--')}"

    def dm_uuid(self, lv: str) -> str:
        """The device-mapper uuid LVM gives the LV: LVM- + VG id + LV id without dashes."""
        return "LVM-" + self.id.replace("-", "") + self.lvs[lv].id.replace("-", "")


def crc(data: bytes, value: int = INITIAL_CRC) -> int:
    """LVM2's calc_crc (CRC-32, reflected 0xEDB88320, no final inversion)."""
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value >> 1) ^ (0xEDB88320 if value & 1 else 0)
    return value & 0xFFFFFFFF


def format_id(raw: str) -> str:
    return "-".join([raw[0:6], raw[6:10], raw[10:14], raw[14:18], raw[18:22], raw[22:26], raw[26:32]])


def read_volume_group(read: Callable[[int, int], bytes], size: int) -> VolumeGroup:
    """The VG recorded on the PV whose bytes ``read(offset, length)`` gives (``size``
    bytes long). LvmError names why it cannot be told (no label, no metadata area, a
    checksum mismatch, a PV in no VG, text that does not parse)."""
    for sector in range(4):
        head = read(sector * SECTOR, SECTOR)
        if len(head) == SECTOR and head[:8] == LABEL_ID and head[24:32] == LVM2_TYPE:
            break
    else:
        raise LvmError("no LVM2 label in the first four sectors")
    if struct.unpack_from("<Q", head, 8)[0] != sector:
        raise LvmError("the LVM2 label names another sector than the one it is in")
    if struct.unpack_from("<I", head, 16)[0] != crc(head[20:]):
        raise LvmError("the LVM2 label's checksum does not match")
    at = struct.unpack_from("<I", head, 20)[0]
    if not 32 <= at <= SECTOR - 72:
        raise LvmError(f"the pv_header offset {at} is outside the label sector")
    pv_id = format_id(head[at : at + 32].decode("ascii", "replace"))
    at += 40
    areas: list[list[tuple[int, int]]] = [[], []]  # data areas, then metadata areas
    for kind in (0, 1):
        while at + 16 <= SECTOR:
            offset, length = struct.unpack_from("<QQ", head, at)
            at += 16
            if offset == 0:
                break
            areas[kind].append((offset, length))
    if not areas[1]:
        raise LvmError("the PV has no metadata area (its VG is recorded on another PV)")
    problems = []
    for mda_start, mda_size in areas[1]:
        try:
            vg = _parse(_metadata_text(read, size, mda_start, mda_size))
            return _volume_group(vg, pv_id)
        except LvmError as exc:
            problems.append(str(exc))
    raise LvmError("; ".join(problems))


def _metadata_text(read: Callable[[int, int], bytes], size: int, start: int, length: int) -> str:
    if start + SECTOR > size or length < 2 * SECTOR:
        raise LvmError(f"the metadata area at byte {start} is outside the PV")
    header = read(start, SECTOR)
    if len(header) < SECTOR or header[4:20] != MDA_MAGIC:
        raise LvmError(f"no metadata area header at byte {start}")
    if struct.unpack_from("<I", header, 0)[0] != crc(header[4:]):
        raise LvmError("the metadata area header's checksum does not match")
    offset, text_size, checksum, flags = struct.unpack_from("<QQII", header, 40)
    if offset == 0 or flags & 1:  # RAW_LOCN_IGNORED
        raise LvmError("the metadata area holds no (or ignored) metadata: the PV may be in no VG")
    if text_size > MAX_METADATA or offset >= length:
        raise LvmError(f"metadata of {text_size} bytes at {offset} is not read")
    first = min(text_size, length - offset)
    text = read(start + offset, first)
    if first < text_size:  # the circular buffer wraps after its header
        text += read(start + SECTOR, text_size - first)
    if len(text) != text_size or crc(text) != checksum:
        raise LvmError("the metadata text's checksum does not match")
    return text.rstrip(b"\0").decode("utf-8", "replace")


_TOKEN = re.compile(r'\s*(?:#[^\n]*\n?\s*)*(?:("(?:[^"\\]|\\.)*")|([\[\]{}=,])|([^\s\[\]{}=,"#]+))')


def _parse(text: str) -> dict:
    """LVM2's config syntax: ``name { ... }``, ``key = value``, values strings, numbers
    or [lists]."""
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "" or text[pos:].lstrip().startswith("#"):
                break
            raise LvmError(f"metadata text does not parse at character {pos}")
        pos = m.end()
        if m.group(1) is not None:
            tokens.append(("str", re.sub(r"\\(.)", r"\1", m.group(1)[1:-1])))
        elif m.group(2) is not None:
            tokens.append(("op", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("word", m.group(3)))
    result, end = _section(tokens, 0)
    if end != len(tokens):
        raise LvmError("metadata text has an unmatched '}'")
    return result


def _section(tokens: list, i: int) -> tuple[dict, int]:
    out: dict = {}
    while i < len(tokens) and tokens[i] != ("op", "}"):
        kind, name = tokens[i]
        if kind != "word" or i + 1 >= len(tokens):
            raise LvmError("metadata text: a name was expected")
        if tokens[i + 1] == ("op", "{"):
            out[name], i = _section(tokens, i + 2)
            if i >= len(tokens):
                raise LvmError("metadata text: a '}' is missing")
            i += 1
        elif tokens[i + 1] == ("op", "="):
            out[name], i = _value(tokens, i + 2)
        else:
            raise LvmError(f"metadata text: '=' or '{{' expected after {name}")
    return out, i


def _value(tokens: list, i: int):
    if i >= len(tokens):
        raise LvmError("metadata text: a value is missing")
    kind, text = tokens[i]
    if (kind, text) == ("op", "["):
        items, i = [], i + 1
        while i < len(tokens) and tokens[i] != ("op", "]"):
            if tokens[i] == ("op", ","):
                i += 1
                continue
            item, i = _value(tokens, i)
            items.append(item)
        if i >= len(tokens):
            raise LvmError("metadata text: a ']' is missing")
        return items, i + 1
    if kind == "op":
        raise LvmError(f"metadata text: unexpected {text!r}")
    if kind == "word" and re.fullmatch(r"-?\d+", text):
        return int(text), i + 1
    return text, i + 1


def _volume_group(parsed: dict, pv_id: str) -> VolumeGroup:
    groups = [(k, v) for k, v in parsed.items() if isinstance(v, dict)]
    if len(groups) != 1:
        raise LvmError(f"the metadata holds {len(groups)} volume groups, not one")
    name, body = groups[0]
    extent = body.get("extent_size")
    pvs = body.get("physical_volumes")
    if not isinstance(extent, int) or not isinstance(pvs, dict) or not isinstance(body.get("id"), str):
        raise LvmError(f"volume group {name}: id, extent_size or physical_volumes missing")
    pv_ids = {key: pv.get("id", "") for key, pv in pvs.items() if isinstance(pv, dict)}
    if pv_id not in pv_ids.values():
        raise LvmError(f"volume group {name} does not list this PV ({pv_id})")
    vg = VolumeGroup(name, body["id"], pv_id, list(pv_ids.values()), extent_size=extent)
    vg.pe_start = {
        pv["id"]: pv["pe_start"]
        for pv in pvs.values()
        if isinstance(pv, dict) and isinstance(pv.get("id"), str) and isinstance(pv.get("pe_start"), int)
    }
    for lv_name, lv in (body.get("logical_volumes") or {}).items():
        if not isinstance(lv, dict):
            continue
        extents, used, segments = 0, [], []
        for seg in (v for k, v in lv.items() if k.startswith("segment") and isinstance(v, dict)):
            count = seg.get("extent_count")
            stripes = seg.get("stripes")
            if not isinstance(count, int) or not isinstance(stripes, list):
                used = None  # a segment type whose PVs are not listed (thin, raid, ...)
                vg.unmapped[lv_name] = f"a {seg.get('type', 'segment')} segment"
                break
            extents += count
            used += [pv_ids.get(s, f"unknown {s}") for s in stripes[0::2] if isinstance(s, str)]
            pairs = tuple(
                (pv_ids.get(s, f"unknown {s}"), e)
                for s, e in zip(stripes[0::2], stripes[1::2], strict=False)
                if isinstance(e, int)
            )
            size = seg.get("stripe_size", 0)
            start = seg.get("start_extent")
            if (
                not isinstance(start, int)
                or len(pairs) * 2 != len(stripes)
                or not pairs
                or (len(pairs) > 1 and not (isinstance(size, int) and size > 0))
            ):
                vg.unmapped.setdefault(lv_name, "segments that do not parse")
                continue
            segments.append(Segment(start, count, size if len(pairs) > 1 else 0, pairs))
        if used is None or not used:
            vg.unmapped.setdefault(lv_name, "no physical volume listed")
            continue
        vg.lvs[lv_name] = LogicalVolume(
            lv_name, str(lv.get("id", "")), extents * extent, tuple(dict.fromkeys(used)), tuple(segments)
        )
    return vg


def split_dm_name(name: str) -> tuple[str, str] | None:
    """``VG-LV`` (a /dev/mapper name, '-' doubled inside each) as (VG, LV); None when it
    has no single '-'."""
    m = re.fullmatch(r"((?:[^-]|--)+?)-(?!-)((?:[^-]|--)+)", name)
    return (m.group(1).replace("--", "-"), m.group(2).replace("--", "-")) if m else None
