"""Read an ext2/3/4 file system inside an image file with e2fsprogs' ``debugfs``.

One ``debugfs -c -f CMDFILE`` process per batch of commands, on ``/dev/fd/N?offset=BYTES``
(our own read-only descriptor; ``?offset=`` is ext2fs' unix I/O option). debugfs opens
read-only without ``-w``; ``-c`` skips the bitmaps. With ``-f``, debugfs echoes every
command as ``debugfs: CMD``; its error messages go to the same pipe (stderr joined to
stdout, in order), which splits the output per command.

Error model: a path is "absent" only when its section is exactly debugfs' own
``PATH: File not found by ext2_lookup``; any other message (a bad inode, a checksum, a
short read, "not a directory", a line that does not parse) makes it
:class:`~pytest_vmimage.facts.disk.Unreadable`. A run that fails as a whole (cannot open
the file system, times out, is killed, prints more than the budget) raises
:class:`~pytest_vmimage.facts.disk.FsReadError`. File contents are written by ``dump`` to a
private temporary directory (never to the image), each file bounded by ``RLIMIT_FSIZE``
(the budget's ``temp_bytes``): a crafted inode claiming gigabytes kills debugfs instead of
filling /tmp.
"""

from __future__ import annotations

import copy
import os
import re
import resource
import selectors
import shutil
import signal
import subprocess
import tempfile
import time

from pytest_vmimage.facts.disk import (
    MAX_DIR_ENTRIES,
    Budget,
    BudgetExceeded,
    FileEntry,
    FsReadError,
    Meter,
    Unreadable,
)

TIMEOUT = 60  # seconds per debugfs run at most; the Budget's wall time bounds the whole read
MAX_SYMLINK = 4096  # PATH_MAX: a longer symbolic link is a corrupt inode
NOT_FOUND = "File not found by ext2_lookup"
_TYPES = {
    "regular": "file",
    "directory": "dir",
    "symlink": "symlink",
}
_MODE_KIND = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink"}
_STAT = re.compile(r"Inode:\s*(\d+)\s+Type:\s*(\S+(?: special)?)\s+Mode:\s*(\d+)")
_LS_LINE = re.compile(r"/(\d+)/([0-7]+)/(\d+)/(\d+)/(.*)/(\d*)/")


def _quote(path: str) -> str | None:
    """A debugfs argument; None for paths debugfs' parser cannot carry."""
    if any(c in path for c in '"\n\r\0'):
        return None
    return f'"{path}"'


def _limit_file_size(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _askable(paths: list[str], result: dict) -> list[tuple[str, str]]:
    """(path, quoted) for the paths debugfs can be asked about; the others are
    Unreadable in ``result``."""
    asked = []
    for p in paths:
        q = _quote(p)
        if q is None:
            result[p] = Unreadable(f"{p!r}: a name debugfs cannot be asked about")
        else:
            asked.append((p, q))
    return asked


def _absent(section: str, path: str) -> bool:
    return section.strip() == f"{path}: {NOT_FOUND}"


def _problem(section: str, path: str) -> Unreadable:
    lines = [line.strip() for line in section.splitlines() if line.strip()]
    text = lines[0] if lines else "debugfs printed nothing"
    if not text.startswith(path):
        text = f"{path}: {text}"
    return Unreadable(f"{text} (debugfs)")


class DebugfsReader:
    """:class:`pytest_vmimage.facts.disk.FsReader` over debugfs."""

    name = "debugfs"

    def __init__(self, fd: int, offset: int, meter: Meter | None = None) -> None:
        from pytest_vmimage.facts.disk import _NoReader

        self.exe = shutil.which("debugfs") or next(
            (p for p in ("/usr/sbin/debugfs", "/sbin/debugfs") if os.access(p, os.X_OK)), None
        )
        if self.exe is None:
            raise _NoReader("debugfs (e2fsprogs) is not installed: cannot read the ext file system")
        self.fd, self.offset = fd, offset
        self.meter = meter or Meter(Budget())
        self.calls = 0
        self.log: list[str] = []  # every command run, in order
        self._stats: dict[str, FileEntry | None | Unreadable] = {}  # lstat answers, per path
        self.stale = ""  # why what is read may be out of date (an unreplayed journal)

    # ------------------------------------------------------------------ one run

    def _run(self, commands: list[str]) -> list[str]:
        """Output section of each command, in order; raises FsReadError."""
        if not commands:
            return []
        self.calls += 1
        self.log += commands
        limit = self.meter.budget.temp_bytes
        remaining = self.meter.remaining()
        if remaining <= 0:
            self.meter.check_time()
        wait = min(TIMEOUT, remaining)
        with tempfile.TemporaryDirectory(prefix="vmimage-debugfs-cmd-") as tmp:
            script = os.path.join(tmp, "commands")
            with open(script, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write("\n".join(commands) + "\n")
            proc = subprocess.Popen(
                [self.exe, "-c", "-f", script, f"/dev/fd/{self.fd}?offset={self.offset}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(self.fd,),
                env={**os.environ, "DEBUGFS_PAGER": "__none__", "PAGER": "__none__"},
                # only runs that dump need the limit (preexec_fn makes every start slower)
                preexec_fn=_limit_file_size(limit) if any(c.startswith("dump ") for c in commands) else None,
            )
            try:
                raw = self._read_all(proc, wait, remaining)
                code = proc.wait(timeout=max(0.1, min(wait, self.meter.remaining())))
            except subprocess.TimeoutExpired:
                raise FsReadError(f"debugfs timed out after {wait:.0f} s") from None
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
        if code == -signal.SIGXFSZ:
            raise BudgetExceeded(
                f"temp budget exhausted: debugfs wrote more than {limit} bytes to a temporary file "
                "(Budget.temp_bytes); an inode claims a size it does not have"
            )
        if code < 0:
            raise FsReadError(f"debugfs was killed by signal {-code}")
        return self._split(raw.decode("utf-8", "surrogateescape"), commands)

    def _read_all(self, proc: subprocess.Popen, wait: float, remaining: float) -> bytes:
        chunks: list[bytes] = []
        end = time.monotonic() + wait
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    if wait >= remaining:
                        self.meter.check_time()
                    raise subprocess.TimeoutExpired("debugfs", wait)
                if not sel.select(left):
                    continue
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    return b"".join(chunks)
                self.meter.read(len(data))  # debugfs' output counts against bytes_read
                chunks.append(data)

    @staticmethod
    def _split(out: str, commands: list[str]) -> list[str]:
        sections: list[list[str]] = []
        preamble: list[str] = []
        for line in out.split("\n"):
            if len(sections) < len(commands) and line == f"debugfs: {commands[len(sections)]}":
                sections.append([])
            elif line.startswith("debugfs: ") and sections:
                raise FsReadError(f"debugfs output could not be split per command at {line[:80]!r}")
            elif sections:
                sections[-1].append(line)
            else:
                preamble.append(line)
        texts = ["\n".join(s) for s in sections]
        opened = [t for t in texts if "Filesystem not open" not in t]
        if len(sections) < len(commands) or not opened:
            why = [line for line in preamble if line.strip() and not line.startswith("debugfs 1.")]
            last = (
                why[-1]
                if why
                else (texts[-1].strip().splitlines() or ["no output"])[-1]
                if texts
                else "no output"
            )
            raise FsReadError(
                f"debugfs could not read the file system ({len(sections)} of {len(commands)} commands ran): {last}"
            )
        return texts

    # ------------------------------------------------------------------ FsReader

    def lstat_many(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]:
        """Cached per path: the image does not change while it is read."""
        missing = [p for p in dict.fromkeys(paths) if p not in self._stats]
        if missing:
            self._stats.update(self._lstat(missing))
        return {p: copy.copy(self._stats[p]) for p in paths}

    def _lstat(self, paths: list[str]) -> dict[str, FileEntry | None | Unreadable]:
        result: dict[str, FileEntry | None | Unreadable] = {}
        asked = _askable(paths, result)
        outputs = self._run([f"stat {q}" for _, q in asked])
        slow: list[tuple[str, FileEntry, int]] = []
        for (path, _), out in zip(asked, outputs, strict=True):
            if _absent(out, path):
                result[path] = None
                continue
            lines = [line for line in out.splitlines() if line.strip()]
            m = _STAT.match(lines[0]) if lines else None
            bad = [line for line in lines[1:] if line.startswith(("stat: ", f"{path}: "))]
            if not m or bad:
                result[path] = _problem(out, path)
                continue
            size = re.search(r"\bSize:\s*(\d+)", out)
            kind = _TYPES.get(m.group(2), "other")
            entry = FileEntry(path, kind, int(size.group(1)) if size else 0, int(m.group(3), 8))
            result[path] = entry
            if kind == "symlink":
                link = re.search(r'link dest: "(.*)"', out)
                if link:
                    entry.target = link.group(1)
                elif entry.size > MAX_SYMLINK:
                    result[path] = Unreadable(
                        f"{path}: symbolic link inode claims {entry.size} bytes (more than {MAX_SYMLINK}): corrupt"
                    )
                else:
                    slow.append((path, entry, int(m.group(1))))
        if slow:
            data = self._dump([f"<{ino}>" for _, _, ino in slow], MAX_SYMLINK)
            for path, entry, ino in slow:
                raw = data.get(f"<{ino}>")
                if isinstance(raw, bytes):
                    entry.target = raw.decode("utf-8", "surrogateescape")
                else:
                    result[path] = Unreadable(f"{path}: symbolic link target not read")
        return result

    def listdir_many(self, paths: list[str]) -> dict[str, list[FileEntry] | None | Unreadable]:
        result: dict[str, list[FileEntry] | None | Unreadable] = {}
        asked = _askable(paths, result)
        outputs = self._run([f"ls -p {q}" for _, q in asked])
        for (path, _), out in zip(asked, outputs, strict=True):
            if _absent(out, path):
                result[path] = None
                continue
            lines = [line for line in out.splitlines() if line.strip()]
            entries: list[FileEntry] = []
            problem = None if lines else _problem(out, path)
            for line in lines:
                m = _LS_LINE.fullmatch(line)
                if not m:
                    problem = _problem(line, path)
                    break
                name = m.group(5)
                if name in (".", ".."):
                    continue
                mode = int(m.group(2), 8)
                kind = _MODE_KIND.get(mode & 0o170000, "other")
                size = int(m.group(6)) if m.group(6) else 0
                entries.append(FileEntry(path.rstrip("/") + "/" + name, kind, size, mode))
            if problem is None and len(entries) > MAX_DIR_ENTRIES:
                problem = Unreadable(f"{path}: more than {MAX_DIR_ENTRIES} entries; not all read")
            result[path] = problem if problem is not None else entries
        # "not a directory": absent as a directory when the path is a readable file or link
        not_dirs = [
            p for p, r in result.items() if isinstance(r, Unreadable) and "is not a directory" in r.reason
        ]
        for path, entry in self.lstat_many(not_dirs).items() if not_dirs else ():
            if isinstance(entry, FileEntry) and entry.kind in ("file", "symlink"):
                result[path] = None
        # symlinks need their target: one more batch for those only
        links = [
            e.path
            for entries in result.values()
            if isinstance(entries, list)
            for e in entries
            if e.kind == "symlink"
        ]
        if links:
            stats = self.lstat_many(links)
            for entries in result.values():
                for e in entries if isinstance(entries, list) else []:
                    found = stats.get(e.path)
                    if e.kind == "symlink" and isinstance(found, FileEntry):
                        e.target = found.target
                    elif e.kind == "symlink":
                        e.kind, e.error = (
                            "unreadable",
                            found.reason if isinstance(found, Unreadable) else "gone",
                        )
        return result

    def read_many(self, paths: list[str], limit: int) -> dict[str, bytes | None | Unreadable]:
        return self._dump(paths, limit)

    def _dump(self, specs: list[str], limit: int) -> dict[str, bytes | None | Unreadable]:
        result: dict[str, bytes | None | Unreadable] = {}
        with tempfile.TemporaryDirectory(prefix="vmimage-debugfs-") as tmp:
            commands, outs = [], {}
            for i, spec in enumerate(specs):
                q = spec if spec.startswith("<") else _quote(spec)
                if q is None:
                    result[spec] = Unreadable(f"{spec!r}: a name debugfs cannot be asked about")
                    continue
                outs[spec] = os.path.join(tmp, str(i))
                commands.append(f'dump {q} "{outs[spec]}"')
            sections = self._run(commands)
            for (spec, out), section in zip(outs.items(), sections, strict=True):
                if _absent(section, spec):
                    result[spec] = None
                    continue
                if section.strip():
                    result[spec] = _problem(section, spec)
                    continue
                try:
                    with open(out, "rb") as fh:
                        result[spec] = fh.read(limit)
                except OSError as exc:
                    result[spec] = Unreadable(f"{spec}: debugfs dump wrote nothing ({exc.strerror})")
        return result
