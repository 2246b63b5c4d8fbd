"""Read an ext2/3/4 file system inside an image file with e2fsprogs' ``debugfs``.

One ``debugfs -c -f -`` process per batch of commands, on ``/dev/fd/N?offset=BYTES``
(our own read-only descriptor; ``?offset=`` is ext2fs' unix I/O option). debugfs opens
read-only without ``-w``; ``-c`` skips the bitmaps. With ``-f``, debugfs echoes every
command as ``debugfs: CMD`` on stdout, which splits the output per command; its error
messages go to stderr, so an empty section means "not found". File contents are written
by ``dump`` to a private temporary directory (never to the image).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from pytest_vmimage.facts.disk import MAX_DIR_ENTRIES, FileEntry

TIMEOUT = 60
_TYPES = {
    "regular": "file",
    "directory": "dir",
    "symlink": "symlink",
}
_MODE_KIND = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink"}


def _quote(path: str) -> str | None:
    """A debugfs argument; None for paths debugfs' parser cannot carry."""
    if any(c in path for c in '"\n\r\0'):
        return None
    return f'"{path}"'


class DebugfsReader:
    """:class:`pytest_vmimage.facts.disk.FsReader` over debugfs."""

    name = "debugfs"

    def __init__(self, fd: int, offset: int) -> None:
        from pytest_vmimage.facts.disk import _Unreadable as Unreadable

        self.exe = shutil.which("debugfs") or next(
            (p for p in ("/usr/sbin/debugfs", "/sbin/debugfs") if os.access(p, os.X_OK)), None
        )
        if self.exe is None:
            raise Unreadable("debugfs (e2fsprogs) is not installed: cannot read the ext file system")
        self.fd, self.offset = fd, offset
        self.calls = 0

    def _run(self, commands: list[str]) -> list[str]:
        """Output section of each command, in order."""
        if not commands:
            return []
        self.calls += 1
        spec = f"/dev/fd/{self.fd}?offset={self.offset}"
        proc = subprocess.run(
            [self.exe, "-c", "-f", "-", spec],
            input="\n".join(commands) + "\n",
            capture_output=True,
            text=True,
            errors="surrogateescape",
            pass_fds=(self.fd,),
            timeout=TIMEOUT,
            check=False,
        )
        sections: list[list[str]] = []
        for line in proc.stdout.splitlines():
            if line.startswith("debugfs: ") and len(sections) < len(commands):
                sections.append([])
            elif sections:
                sections[-1].append(line)
        if not sections:
            err = proc.stderr.strip().splitlines()
            raise OSError(f"debugfs could not open the file system: {err[-1] if err else proc.returncode}")
        sections += [[] for _ in range(len(commands) - len(sections))]
        return ["\n".join(s) for s in sections]

    def lstat_many(self, paths: list[str]) -> dict[str, FileEntry | None]:
        result: dict[str, FileEntry | None] = {p: None for p in paths}
        quoted = [(p, _quote(p)) for p in paths]
        asked = [(p, q) for p, q in quoted if q]
        outputs = self._run([f"stat {q}" for _, q in asked])
        slow: list[tuple[str, FileEntry, int]] = []
        for (path, _), out in zip(asked, outputs, strict=True):
            m = re.search(r"Inode:\s*(\d+)\s+Type:\s*(\S+(?: special)?)\s+Mode:\s*(\d+)", out)
            if not m:
                continue
            size = re.search(r"\bSize:\s*(\d+)", out)
            kind = _TYPES.get(m.group(2), "other")
            entry = FileEntry(path, kind, int(size.group(1)) if size else 0, int(m.group(3), 8))
            if kind == "symlink":
                link = re.search(r'link dest: "(.*)"', out)
                if link:
                    entry.target = link.group(1)
                else:
                    slow.append((path, entry, int(m.group(1))))
            result[path] = entry
        if slow:
            data = self._dump([f"<{ino}>" for _, _, ino in slow], 4096)
            for _path, entry, ino in slow:
                raw = data.get(f"<{ino}>")
                entry.target = raw.decode("utf-8", "surrogateescape") if raw is not None else ""
        return result

    def listdir_many(self, paths: list[str]) -> dict[str, list[FileEntry] | None]:
        result: dict[str, list[FileEntry] | None] = {p: None for p in paths}
        asked = [(p, q) for p, q in ((p, _quote(p)) for p in paths) if q]
        outputs = self._run([f"ls -p {q}" for _, q in asked])
        for (path, _), out in zip(asked, outputs, strict=True):
            lines = out.splitlines()
            if not lines:
                continue
            entries: list[FileEntry] = []
            for line in lines:
                fields = line.split("/")
                if len(fields) < 8 or fields[5] in (".", ".."):
                    continue
                try:
                    mode = int(fields[2], 8)
                except ValueError:
                    continue
                kind = _MODE_KIND.get(mode & 0o170000, "other")
                size = int(fields[6]) if fields[6].isdigit() else 0
                entries.append(FileEntry(path.rstrip("/") + "/" + fields[5], kind, size, mode))
                if len(entries) >= MAX_DIR_ENTRIES:
                    break
            result[path] = entries
        # symlinks need their target: one more batch for those only
        links = [e.path for entries in result.values() if entries for e in entries if e.kind == "symlink"]
        if links:
            stats = self.lstat_many(links[:MAX_DIR_ENTRIES])
            for entries in result.values():
                for e in entries or []:
                    found = stats.get(e.path)
                    if e.kind == "symlink" and found is not None:
                        e.target = found.target
        return result

    def read_many(self, paths: list[str], limit: int) -> dict[str, bytes | None]:
        return self._dump(paths, limit)

    def _dump(self, specs: list[str], limit: int) -> dict[str, bytes | None]:
        result: dict[str, bytes | None] = {p: None for p in specs}
        with tempfile.TemporaryDirectory(prefix="vmimage-debugfs-") as tmp:
            commands, outs = [], {}
            for i, spec in enumerate(specs):
                q = spec if spec.startswith("<") else _quote(spec)
                if q is None:
                    continue
                outs[spec] = os.path.join(tmp, str(i))
                commands.append(f'dump {q} "{outs[spec]}"')
            self._run(commands)
            for spec, out in outs.items():
                try:
                    with open(out, "rb") as fh:
                        result[spec] = fh.read(limit)
                except OSError:
                    pass
        return result
