"""A minimal read-only XFS reader: enough to look up paths, list directories and read
small files of a root file system inside a disk image.

Why not ``xfs_db -r``: it opens a device or file path itself and has no byte-offset
option, so a partition inside an image would need a loop device (root) or a copy.

Supported: XFS v4 and v5 superblocks, inodes v1-v3 (incl. NREXT64 counters), data forks
in local, extents and B+tree format, short-form / block / leaf / node directories (a name
is looked up through the directory's hash index, as the kernel does; a listing scans the
data blocks below 32 GiB), inline and remote symlinks (v5 ``XSLM`` headers).
Not supported: realtime devices (not used for root file systems). Every loop is bounded;
corrupt structures raise :class:`XfsError`, and every block and inode read is charged to
the :class:`~pytest_vmimage.facts.disk.Meter` (a crafted B+tree fan-out or a symbolic link
chain through a self-referencing directory ends with BudgetExceeded, never a hang).

Error model: a path whose lookup meets a broken inode or directory (of any component) is
:class:`~pytest_vmimage.facts.disk.Unreadable`, never absent; only a name missing from a
directory that was read whole, or from the leaves of its hash index that hold the name's
hash, is absent, however many entries the directory holds. A directory read whole that is
over MAX_DIR_BYTES is Unreadable naming it; a listing stops after MAX_DIR_ENTRIES and is then
Unreadable ("not all read").
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from pytest_vmimage.facts.disk import MAX_DIR_ENTRIES, Budget, FileEntry, Meter, Unreadable

MAX_EXTENTS = 100_000
MAX_BTREE_DEPTH = 8
MAX_SYMLINKS = 40
DIR_DATA_LIMIT = 1 << 35  # XFS_DIR2_LEAF_OFFSET: data blocks live below 32 GiB
MAX_DIR_BYTES = 64 * 1024 * 1024
MAX_LEAF_HOPS = 64  # leaves one name hash may span

S_IFMT, S_IFDIR, S_IFREG, S_IFLNK = 0o170000, 0o040000, 0o100000, 0o120000
_KINDS = {S_IFDIR: "dir", S_IFREG: "file", S_IFLNK: "symlink"}


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as XFS v5 stores it in its metadata blocks."""
    crc, table = 0xFFFFFFFF, _CRC32C
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def xfs_checksum(block: bytes, at: int) -> int:
    """The CRC XFS stores at byte ``at`` of ``block`` (computed with that field zeroed)."""
    return crc32c(block[:at] + b"\0\0\0\0" + block[at + 4 :])


def da_hashname(name: bytes) -> int:
    """XFS's directory name hash (xfs_da_hashname), which orders the leaf entries."""

    def rol32(x: int, y: int) -> int:
        return ((x << y) | (x >> (32 - y))) & 0xFFFFFFFF

    h, i = 0, 0
    while len(name) - i >= 4:
        h = (name[i] << 21) ^ (name[i + 1] << 14) ^ (name[i + 2] << 7) ^ name[i + 3] ^ rol32(h, 28)
        i += 4
    rest = name[i:]
    if len(rest) == 3:
        h = (rest[0] << 14) ^ (rest[1] << 7) ^ rest[2] ^ rol32(h, 21)
    elif len(rest) == 2:
        h = (rest[0] << 7) ^ rest[1] ^ rol32(h, 14)
    elif len(rest) == 1:
        h = rest[0] ^ rol32(h, 7)
    return h & 0xFFFFFFFF


def _da_magic(block: bytes) -> int:
    """The magic of a directory leaf/node block (after the forw/back sibling pointers)."""
    return struct.unpack(">H", block[8:10])[0]


def _da_header(block: bytes, v5: bool) -> tuple[int, int]:
    """(header size, entry count) of a leaf or node block: the count follows the block info
    (12 bytes, v5: 56 with CRC, block number, LSN, UUID and owner)."""
    at = 56 if v5 else 12
    return (64 if v5 else 16), struct.unpack(">H", block[at : at + 2])[0]


def _leaf_entries(block: bytes, at: int, count: int) -> list[tuple[int, int]]:
    """``count`` (hash, address-or-block) pairs from byte ``at``: leaf and node entries alike."""
    values = struct.unpack_from(f">{2 * count}I", block, at)
    return list(zip(values[0::2], values[1::2], strict=True))


class XfsError(Exception):
    """The XFS structures are not readable (bad magic, out of bounds, unsupported)."""


class _Inode:
    def __init__(self, fs: XfsReader, ino: int) -> None:
        raw = fs.read(fs.inode_offset(ino), fs.inodesize)
        fs.inodes_read += 1
        if len(raw) < 100 or raw[:2] != b"IN":
            raise XfsError(f"inode {ino}: bad magic")
        if raw[4] == 3:
            fs.verify(raw, 100, f"inode {ino}")
            if len(raw) < 160 or struct.unpack(">Q", raw[152:160])[0] != ino:
                raise XfsError(f"inode {ino}: the inode records another number")
        elif fs.v5:
            raise XfsError(f"inode {ino}: version {raw[4]} on a v5 file system")
        self.ino = ino
        self.mode = struct.unpack(">H", raw[2:4])[0]
        version, self.format = raw[4], raw[5]
        self.size = struct.unpack(">Q", raw[56:64])[0]
        nextents = struct.unpack(">I", raw[76:80])[0]
        forkoff = raw[82]
        core = 176 if version == 3 else 100
        if version == 3 and fs.nrext64 and len(raw) >= 128:
            flags2 = struct.unpack(">Q", raw[120:128])[0]
            if flags2 & 0x10:
                nextents = struct.unpack(">Q", raw[24:32])[0]
        end = core + forkoff * 8 if forkoff else len(raw)
        self.fork = raw[core:end]
        self.nextents = nextents

    @property
    def kind(self) -> str:
        return _KINDS.get(self.mode & S_IFMT, "other")


class XfsReader:
    """:class:`pytest_vmimage.facts.disk.FsReader` over a ``read(offset, size)`` callable
    that reads the partition (offsets relative to the partition start)."""

    name = "builtin-xfs"
    use_hash_index = True  # False: every lookup reads the directory whole (tests compare both)

    def __init__(self, read: Callable[[int, int], bytes], meter: Meter | None = None) -> None:
        self._read = read
        self.meter = meter or Meter(Budget())
        self.inodes_read = 0
        sb = read(0, 512)
        if sb[:4] != b"XFSB" or len(sb) < 224:
            raise XfsError("no XFS superblock")
        self.blocksize = struct.unpack(">I", sb[4:8])[0]
        self.rootino = struct.unpack(">Q", sb[56:64])[0]
        self.agblocks = struct.unpack(">I", sb[84:88])[0]
        version = struct.unpack(">H", sb[100:102])[0]
        self.v5 = version & 0xF == 5
        self.ascii_ci = bool(version & 0x4000)  # XFS_SB_VERSION_BORGBIT: another name hash
        self.inodesize = struct.unpack(">H", sb[104:106])[0]
        self.blocklog, self.inopblog, self.agblklog = sb[120], sb[123], sb[124]
        dirblklog = sb[192]
        features2 = struct.unpack(">I", sb[200:204])[0]
        incompat = struct.unpack(">I", sb[216:220])[0] if self.v5 else 0
        self.ftype = bool(incompat & 0x1) if self.v5 else bool(features2 & 0x200)
        self.nrext64 = bool(incompat & 0x20)
        self.verified: set[int] = set()  # hashes of metadata blocks whose CRC matched
        if self.v5 and struct.unpack("<I", sb[224:228])[0] != xfs_checksum(sb[:512], 224):
            raise XfsError("superblock CRC mismatch")
        if (
            self.blocksize != 1 << self.blocklog
            or not 512 <= self.blocksize <= 65536
            or not 256 <= self.inodesize <= 2048
            or self.agblocks == 0
            or self.agblklog > 32
            or dirblklog > 8
        ):
            raise XfsError("XFS superblock geometry is not plausible")
        self.dirblksize = self.blocksize << dirblklog

    def verify(self, block: bytes, at: int, what: str) -> None:
        """Check a v5 metadata CRC (each distinct block content once)."""
        key = hash(block)
        if key in self.verified:
            return
        if len(block) < at + 4 or struct.unpack("<I", block[at : at + 4])[0] != xfs_checksum(block, at):
            raise XfsError(f"{what}: CRC mismatch")
        if len(self.verified) < 100_000:
            self.verified.add(key)

    def read(self, offset: int, size: int) -> bytes:
        """Read and charge the budget: one unit per block (an inode counts as one)."""
        self.meter.block(max(1, size // self.blocksize))
        self.meter.check_time()
        return self._read(offset, size)

    # ------------------------------------------------------------------ addresses

    def inode_offset(self, ino: int) -> int:
        agino_bits = self.agblklog + self.inopblog
        agno, agino = ino >> agino_bits, ino & ((1 << agino_bits) - 1)
        agbno, index = agino >> self.inopblog, agino & ((1 << self.inopblog) - 1)
        return (agno * self.agblocks + agbno) * self.blocksize + index * self.inodesize

    def fsb_offset(self, fsb: int) -> int:
        agno, agbno = fsb >> self.agblklog, fsb & ((1 << self.agblklog) - 1)
        return (agno * self.agblocks + agbno) * self.blocksize

    # ------------------------------------------------------------------ extents

    def extents(self, inode: _Inode) -> list[tuple[int, int, int]]:
        """(file block, fs block, count) of the data fork, sorted."""
        if inode.format == 2:
            count = min(inode.nextents, len(inode.fork) // 16)
            result = [self._extent(inode.fork[16 * i : 16 * i + 16]) for i in range(count)]
        elif inode.format == 3:
            result = []
            level, numrecs = struct.unpack(">HH", inode.fork[:4])
            maxrecs = (len(inode.fork) - 4) // 16
            ptr_at = 4 + maxrecs * 8
            ptrs = [
                struct.unpack(">Q", inode.fork[ptr_at + 8 * i : ptr_at + 8 * i + 8])[0]
                for i in range(min(numrecs, maxrecs))
            ]
            for ptr in ptrs:
                self._btree(ptr, level - 1, result, 0)
        else:
            raise XfsError(f"inode {inode.ino}: data fork format {inode.format} has no extents")
        return sorted(result)

    @staticmethod
    def _extent(raw: bytes) -> tuple[int, int, int]:
        l0, l1 = struct.unpack(">QQ", raw)
        startoff = (l0 & ((1 << 63) - 1)) >> 9
        startblock = ((l0 & 0x1FF) << 43) | (l1 >> 21)
        return startoff, startblock, l1 & ((1 << 21) - 1)

    def _btree(self, fsb: int, level: int, out: list, depth: int) -> None:
        if depth > MAX_BTREE_DEPTH or level < 0 or len(out) > MAX_EXTENTS:
            raise XfsError("B+tree too deep or too large")
        block = self.read(self.fsb_offset(fsb), self.blocksize)
        magic = block[:4]
        if magic not in (b"BMA3", b"BMAP"):
            raise XfsError(f"bad B+tree block magic at fs block {fsb}")
        if magic == b"BMA3":
            self.verify(block, 64, f"B+tree block {fsb}")
        if struct.unpack(">H", block[4:6])[0] != level:
            raise XfsError(
                f"B+tree block {fsb} has level {struct.unpack('>H', block[4:6])[0]}, expected {level}"
            )
        header = 72 if magic == b"BMA3" else 24
        numrecs = struct.unpack(">H", block[6:8])[0]
        maxrecs = (self.blocksize - header) // 16
        numrecs = min(numrecs, maxrecs)
        if level == 0:
            out.extend(self._extent(block[header + 16 * i : header + 16 * i + 16]) for i in range(numrecs))
            return
        ptr_at = header + maxrecs * 8
        for i in range(numrecs):
            ptr = struct.unpack(">Q", block[ptr_at + 8 * i : ptr_at + 8 * i + 8])[0]
            self._btree(ptr, level - 1, out, depth + 1)

    def _read_file(self, inode: _Inode, limit: int) -> bytes:
        size = min(inode.size, limit)
        if inode.format == 1:
            return inode.fork[:size]
        out = bytearray(size)
        for fileblk, fsb, count in self.extents(inode):
            start = fileblk * self.blocksize
            if start >= size:
                break
            n = min(count * self.blocksize, size - start)
            data = self.read(self.fsb_offset(fsb), n)
            out[start : start + len(data)] = data
        return bytes(out)

    # ------------------------------------------------------------------ directories

    def _dir_entries(self, inode: _Inode) -> list[tuple[str, int]]:
        """The directory's entries, at most MAX_DIR_ENTRIES + 1 (a longer list means the
        directory was cut short: a listing must say so, never a lookup; see ``_find``)."""
        entries: list[tuple[str, int]] = []
        for entry in self._iter_dir(inode):
            entries.append(entry)
            if len(entries) > MAX_DIR_ENTRIES:
                break
        return entries

    def _find(self, inode: _Inode, name: str) -> int | None:
        """The inode number ``name`` has in the directory, None when it holds no such name:
        looked up in the directory's hash index as the kernel does (block, leaf and node
        directories: a few blocks, however many entries), else (short form, an ASCII-CI file
        system) by reading the directory whole."""
        if inode.format == 1 or self.ascii_ci or not self.use_hash_index:
            return next((ino for n, ino in self._iter_dir(inode) if n == name), None)
        raw = name.encode("utf-8", "surrogateescape")
        extents = self.extents(inode)
        for address in self._hash_candidates(inode, extents, da_hashname(raw)):
            found = self._entry_at(inode, extents, address << 3, raw)
            if found is not None:
                return found
        return None

    def _hash_candidates(self, inode: _Inode, extents: list, hashval: int) -> list[int]:
        """Data addresses (in 8-byte units) of the entries whose name hash is ``hashval``."""
        leaf_dablk = DIR_DATA_LIMIT >> self.blocklog
        if not any(start <= leaf_dablk < start + count for start, _, count in extents):
            block = self._dir_block(inode, extents, 0)  # a block directory: one block
            if block[:4] not in (b"XD2B", b"XDB3"):
                raise XfsError(f"directory inode {inode.ino}: no leaf block and no block-form directory")
            if block[:4] == b"XDB3":
                self.verify(block, 4, f"directory block of inode {inode.ino}")
            count = struct.unpack(">I", block[-8:-4])[0]
            first = len(block) - 8 - 8 * count
            if count == 0 or first < (64 if block[:4] == b"XDB3" else 16):
                raise XfsError(f"directory inode {inode.ino}: block tail claims {count} entries")
            return [a for h, a in _leaf_entries(block, first, count) if h == hashval and a]
        dablk, depth = leaf_dablk, 0
        block = self._da_block(inode, extents, dablk)
        while _da_magic(block) in (0xFEBE, 0x3EBE):  # a node: descend to the leaf holding hashval
            depth += 1
            if depth > MAX_BTREE_DEPTH:
                raise XfsError(f"directory inode {inode.ino}: hash B+tree too deep")
            header, count = _da_header(block, _da_magic(block) == 0x3EBE)
            if not 0 < count <= (len(block) - header) // 8:
                raise XfsError(f"directory inode {inode.ino}: hash node claims {count} entries")
            nodes = _leaf_entries(block, header, count)
            dablk = next((before for h, before in nodes if h >= hashval), nodes[-1][1])
            block = self._da_block(inode, extents, dablk)
        found: list[int] = []
        for _ in range(MAX_LEAF_HOPS):  # equal hashes may continue in the next leaf
            magic = _da_magic(block)
            if magic not in (0xD2F1, 0xD2FF, 0x3DF1, 0x3DFF):
                raise XfsError(f"directory inode {inode.ino}: block {dablk} is not a leaf (magic {magic:#x})")
            header, count = _da_header(block, magic in (0x3DF1, 0x3DFF))
            if count > (len(block) - header) // 8:
                raise XfsError(f"directory inode {inode.ino}: leaf claims {count} entries")
            entries = _leaf_entries(block, header, count)
            found += [a for h, a in entries if h == hashval and a]
            forw = struct.unpack(">I", block[:4])[0]
            if magic in (0xD2F1, 0x3DF1) or not entries or entries[-1][0] != hashval or not forw:
                return found
            dablk = forw
            block = self._da_block(inode, extents, dablk)
        raise XfsError(f"directory inode {inode.ino}: more than {MAX_LEAF_HOPS} leaves share one hash")

    def _da_block(self, inode: _Inode, extents: list, dablk: int) -> bytes:
        """The leaf or node block at file block ``dablk`` (v5: its CRC checked)."""
        block = self._dir_block(inode, extents, dablk)
        if _da_magic(block) in (0x3EBE, 0x3DF1, 0x3DFF):
            self.verify(block, 12, f"directory hash block {dablk} of inode {inode.ino}")
        return block

    def _dir_block(self, inode: _Inode, extents: list, dablk: int) -> bytes:
        """The directory block starting at file block ``dablk`` (it may span extents)."""
        out = b""
        want = self.dirblksize // self.blocksize
        for start, fsb, count in extents:
            if start <= dablk + len(out) // self.blocksize < start + count:
                first = dablk + len(out) // self.blocksize - start
                take = min(count - first, want - len(out) // self.blocksize)
                out += self.read(self.fsb_offset(fsb + first), take * self.blocksize)
                if len(out) >= self.dirblksize:
                    return out
        raise XfsError(f"directory inode {inode.ino}: file block {dablk} is not mapped")

    def _entry_at(self, inode: _Inode, extents: list, byte: int, name: bytes) -> int | None:
        """The inode of the data entry at directory byte offset ``byte`` if it is ``name``."""
        if byte >= DIR_DATA_LIMIT:
            raise XfsError(f"directory inode {inode.ino}: a leaf points past the data blocks")
        block = self._dir_block(inode, extents, byte // self.dirblksize * (self.dirblksize // self.blocksize))
        if block[:4] in (b"XDB3", b"XDD3"):
            self.verify(block, 4, f"directory block of inode {inode.ino}")
        elif block[:4] not in (b"XD2B", b"XD2D"):
            raise XfsError(f"directory inode {inode.ino}: a leaf points at a block with magic {block[:4]!r}")
        pos, header = byte % self.dirblksize, 64 if block[:4] in (b"XDB3", b"XDD3") else 16
        if pos < header or pos + 12 > len(block) or block[pos : pos + 2] == b"\xff\xff" or not block[pos + 8]:
            raise XfsError(f"directory inode {inode.ino}: a leaf points at no entry (byte {byte})")
        namelen = block[pos + 8]
        if block[pos + 9 : pos + 9 + namelen] != name:
            return None
        return struct.unpack(">Q", block[pos : pos + 8])[0]

    def _iter_dir(self, inode: _Inode) -> Iterator[tuple[str, int]]:
        """Every entry of the directory, block by block. A directory whose data blocks
        exceed MAX_DIR_BYTES raises XfsError before any of its blocks is read, so no
        caller sees part of a directory as the whole."""
        if inode.format == 1:
            yield from self._shortform(inode.fork)
            return
        extents = [e for e in self.extents(inode) if e[0] * self.blocksize < DIR_DATA_LIMIT]
        total = sum(count for _, _, count in extents) * self.blocksize
        if total > MAX_DIR_BYTES:
            raise XfsError(
                f"directory inode {inode.ino} holds {total} bytes of entries, more than the "
                f"{MAX_DIR_BYTES} this reader reads; not read"
            )
        pending, pending_at = b"", 0  # a directory block may span extents (dir block > fs block)
        for fileblk, fsb, count in extents:
            start = fileblk * self.blocksize
            if pending and start != pending_at + len(pending):
                raise XfsError(f"directory inode {inode.ino}: a directory block is cut by a hole")
            if not pending:
                pending_at = start
                if start % self.dirblksize:
                    raise XfsError(f"directory inode {inode.ino}: an extent starts inside a directory block")
            pending += self.read(self.fsb_offset(fsb), count * self.blocksize)
            whole = len(pending) - len(pending) % self.dirblksize
            for pos in range(0, whole, self.dirblksize):
                yield from self._data_block(pending[pos : pos + self.dirblksize])
            pending, pending_at = pending[whole:], pending_at + whole
        if pending:
            raise XfsError(f"directory inode {inode.ino}: its last directory block is incomplete")

    def _shortform(self, fork: bytes) -> list[tuple[str, int]]:
        count, i8 = fork[0], fork[1]
        width = 8 if i8 else 4
        pos = 2 + width
        entries = []
        for _ in range(count):
            if pos >= len(fork):
                raise XfsError("short-form directory runs past its fork")
            namelen = fork[pos]
            name = fork[pos + 3 : pos + 3 + namelen]
            pos += 3 + namelen + (1 if self.ftype else 0)
            ino = int.from_bytes(fork[pos : pos + width], "big")
            pos += width
            entries.append((name.decode("utf-8", "surrogateescape"), ino))
        return entries

    def _data_block(self, block: bytes) -> list[tuple[str, int]]:
        magic = block[:4]
        if magic in (b"XDB3", b"XDD3"):
            self.verify(block, 4, "directory block")
            header = 64
        elif magic in (b"XD2B", b"XD2D"):
            header = 16
        else:  # data blocks (below 32 GiB) are in the extent list only while in use
            raise XfsError(f"directory data block with magic {magic!r}")
        end = len(block)
        if magic in (b"XDB3", b"XD2B"):
            leaf_count = struct.unpack(">I", block[-8:-4])[0]
            end = len(block) - 8 - 8 * leaf_count
        entries, pos = [], header
        while header <= pos < end - 8:  # pos grows by >= 8 bytes per step
            if block[pos : pos + 2] == b"\xff\xff":
                length = struct.unpack(">H", block[pos + 2 : pos + 4])[0]
                if length < 8 or length % 8:
                    raise XfsError("directory free space record is corrupt")
                pos += length
                continue
            ino = struct.unpack(">Q", block[pos : pos + 8])[0]
            namelen = block[pos + 8]
            if namelen == 0:
                raise XfsError("directory entry with an empty name")
            name = block[pos + 9 : pos + 9 + namelen].decode("utf-8", "surrogateescape")
            size = 8 + 1 + namelen + (1 if self.ftype else 0) + 2
            pos += (size + 7) // 8 * 8
            if name not in (".", ".."):
                entries.append((name, ino))
        return entries

    # ------------------------------------------------------------------ paths

    def _symlink_target(self, inode: _Inode) -> str:
        size = min(inode.size, 4096)
        if inode.format == 1:
            raw = inode.fork[:size]
        else:
            raw = b""
            for _, fsb, count in self.extents(inode):
                block = self.read(self.fsb_offset(fsb), count * self.blocksize)
                if block[:4] == b"XSLM":
                    self.verify(block, 12, f"symbolic link block of inode {inode.ino}")
                    raw += block[56 : 56 + size - len(raw)]
                else:
                    raw += block[: size - len(raw)]
                if len(raw) >= size:
                    break
        return raw[:size].decode("utf-8", "surrogateescape")

    def _lookup(self, path: str) -> _Inode | None | Unreadable:
        """The inode at ``path``; intermediate symlinks are followed, the last is not.
        None when a name is missing from a directory read whole; Unreadable when any
        inode or directory on the way could not be read."""
        try:
            return self._walk(path)
        except XfsError as exc:
            return Unreadable(f"{path}: {exc} (XFS)")

    def _walk(self, path: str) -> _Inode | None | Unreadable:
        pending = [p for p in path.split("/") if p not in ("", ".")]
        stack: list[_Inode] = [_Inode(self, self.rootino)]
        walked = ""
        hops = 0
        while pending:
            name = pending.pop(0)
            if name == "..":
                if len(stack) > 1:
                    stack.pop()
                continue
            current = stack[-1]
            if current.kind != "dir":
                return Unreadable(f"{path}: {walked or '/'} is not a directory (inode {current.ino}) (XFS)")
            try:
                match = self._find(current, name)
            except XfsError as exc:
                raise XfsError(f"{walked or '/'}: {exc}") from None
            if match is None:
                return None
            walked += "/" + name
            try:
                child = _Inode(self, match)
            except XfsError as exc:
                raise XfsError(f"{walked}: {exc}") from None
            if child.kind == "symlink" and pending:
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise XfsError("too many symbolic links")
                target = self._symlink_target(child)
                if target.startswith("/"):
                    stack = stack[:1]
                pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                continue
            stack.append(child)
        return stack[-1]

    def lstat_many(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]:
        result: dict[str, FileEntry | None | Unreadable] = {}
        for path in paths:
            inode = self._lookup(path)
            try:
                result[path] = self._entry(path, inode) if isinstance(inode, _Inode) else inode
            except XfsError as exc:
                result[path] = Unreadable(f"{path}: {exc} (XFS)")
        return result

    def listdir_many(self, paths: list[str]) -> dict[str, list[FileEntry] | None | Unreadable]:
        result: dict[str, list[FileEntry] | None | Unreadable] = {}
        for path in paths:
            inode = self._lookup(path)
            if not isinstance(inode, _Inode) or inode.kind != "dir":
                result[path] = inode if not isinstance(inode, _Inode) else None
                continue
            base = path.rstrip("/")
            try:
                names = self._dir_entries(inode)
            except XfsError as exc:
                result[path] = Unreadable(f"{path}: {exc} (XFS)")
                continue
            if len(names) > MAX_DIR_ENTRIES:
                result[path] = Unreadable(f"{path}: more than {MAX_DIR_ENTRIES} entries; not all read")
                continue
            entries = []
            for name, ino in names:
                try:
                    entries.append(self._entry(f"{base}/{name}", _Inode(self, ino)))
                except XfsError as exc:
                    entries.append(FileEntry(f"{base}/{name}", "unreadable", error=f"{exc} (XFS)"))
            result[path] = entries
        return result

    def _entry(self, path: str, inode: _Inode) -> FileEntry:
        entry = FileEntry(path, inode.kind, inode.size, inode.mode)
        if inode.kind == "symlink":
            if inode.size > 4096:
                raise XfsError(f"symbolic link inode {inode.ino} claims {inode.size} bytes: corrupt")
            entry.target = self._symlink_target(inode)
        return entry

    def read_many(self, paths: list[str], limit: int) -> dict[str, bytes | None | Unreadable]:
        result: dict[str, bytes | None | Unreadable] = {}
        for path in paths:
            inode = self._lookup(path)
            if not isinstance(inode, _Inode) or inode.kind != "file":
                result[path] = inode if not isinstance(inode, _Inode) else None
                continue
            try:
                result[path] = self._read_file(inode, limit)
            except XfsError as exc:
                result[path] = Unreadable(f"{path}: {exc} (XFS)")
        return result
