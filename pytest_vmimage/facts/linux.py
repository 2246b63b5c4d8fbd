"""Facts about a running Linux VM, gathered by one read-only shell script.

Every section is a small POSIX ``sh`` snippet whose stdout is kept verbatim
(with its exit code). All sections run in **one** SSH command, under
``sudo -n`` when the account may; without sudo the script still runs and the
sections that need root say so, so only the checks that need them error.
Nothing here writes on the VM.

Checks never see the shell: they read the parsed properties of
:class:`LinuxFacts`, which can be recorded to JSON from a real VM and replayed
in tests.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vmimage.verdict import FactError

# name -> (needs root, snippet). Snippets print raw files or command output;
# parsing happens in Python. Keep them read-only and POSIX sh.
SECTIONS: dict[str, tuple[bool, str]] = {
    "os_release": (False, "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"),
    "proc_cmdline": (False, "cat /proc/cmdline"),
    "default_grub": (
        False,
        'for f in /etc/default/grub /etc/default/grub.d/*.cfg; do [ -f "$f" ] && '
        '{ echo "### $f"; cat "$f"; }; done; true',
    ),
    "grub_cfg": (
        True,
        "for f in /boot/grub/grub.cfg /boot/grub2/grub.cfg /boot/efi/EFI/*/grub.cfg; do "
        '[ -f "$f" ] && { echo "### $f"; cat "$f"; }; done; true',
    ),
    "grubenv": (
        True,
        'for f in /boot/grub2/grubenv /boot/grub/grubenv; do [ -f "$f" ] && { echo "### $f"; cat "$f"; }; done; true',
    ),
    "bls_entries": (
        True,
        'for f in /boot/loader/entries/*.conf; do [ -f "$f" ] && { echo "### $f"; cat "$f"; }; done; true',
    ),
    "extlinux": (
        False,
        "for f in /boot/extlinux/extlinux.conf /boot/syslinux/syslinux.cfg; do "
        '[ -f "$f" ] && { echo "### $f"; cat "$f"; }; done; true',
    ),
}

_ROOT_NOTE = "needs root: sudo -n failed"


@dataclass(frozen=True)
class Section:
    rc: int
    text: str


@dataclass
class LinuxFacts:
    """Raw section outputs of one VM plus parsers the checks use."""

    sections: dict[str, Section]
    privileged: bool = True
    sudo_error: str = ""
    admin_user: str = ""
    commands_run: int = 0
    meta: dict = field(default_factory=dict)

    # -- recording -------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "privileged": self.privileged,
            "sudo_error": self.sudo_error,
            "admin_user": self.admin_user,
            "meta": self.meta,
            "sections": {name: {"rc": s.rc, "text": s.text} for name, s in sorted(self.sections.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> LinuxFacts:
        return cls(
            sections={name: Section(s["rc"], s["text"]) for name, s in data["sections"].items()},
            privileged=data.get("privileged", True),
            sudo_error=data.get("sudo_error", ""),
            admin_user=data.get("admin_user", ""),
            meta=data.get("meta", {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> LinuxFacts:
        return cls.from_json(json.loads(Path(path).read_text()))

    # -- access ----------------------------------------------------------
    def section(self, name: str) -> str:
        """The text of a section, or FactError when it could not be read."""
        if name not in self.sections:
            raise FactError(f"fact {name!r} was not collected")
        needs_root = SECTIONS.get(name, (False, ""))[0]
        if needs_root and not self.privileged:
            raise FactError(f"reading {name.replace('_', ' ')} {_ROOT_NOTE} ({self.sudo_error or 'no sudo'})")
        section = self.sections[name]
        if section.rc != 0:
            raise FactError(f"reading {name.replace('_', ' ')} failed on the VM (exit {section.rc})")
        return section.text

    def files(self, name: str) -> dict[str, str]:
        """A section made of ``### path`` headers followed by file contents."""
        return split_files(self.section(name))

    @property
    def os_release(self) -> dict[str, str]:
        return parse_os_release(self.section("os_release"))

    @property
    def distro_family(self) -> str:
        """``debian``, ``rhel``, ``suse`` or ``other``, from os-release ID and ID_LIKE."""
        release = self.os_release
        ids = {release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()}
        if ids & {"debian", "ubuntu"}:
            return "debian"
        if ids & {"rhel", "centos", "fedora", "rocky", "almalinux", "ol", "scientific"}:
            return "rhel"
        if ids & {"suse", "sles", "opensuse", "opensuse-leap", "sle_hpc"}:
            return "suse"
        return "other"

    @property
    def kernel_cmdline(self) -> list[str]:
        return self.section("proc_cmdline").split()

    def boot_loader_lines(self) -> dict[str, list[str]]:
        """The persisted kernel lines, by where they live.

        Keys name the file (and entry); values are the kernel parameters the next
        boot would get from that source.
        """
        found: dict[str, list[str]] = {}
        # grub-mkconfig sources /etc/default/grub, then /etc/default/grub.d/*.cfg in
        # order: later files may extend earlier values ("$GRUB_CMDLINE_LINUX_DEFAULT ...").
        defaults = self.files("default_grub")
        if defaults:
            variables: dict[str, str] = {}
            for path in sorted(defaults, key=lambda p: (p != "/etc/default/grub", p)):
                variables = parse_shell_assignments(defaults[path], variables)
            keys = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")
            if any(key in variables for key in keys):
                where = "/etc/default/grub" + (" (with grub.d)" if len(defaults) > 1 else "")
                found[where] = [param for key in keys for param in variables.get(key, "").split()]
        grubenv = {}
        for text in self.files("grubenv").values():
            grubenv.update(parse_shell_assignments(text))
        for path, text in self.files("grub_cfg").items():
            line = default_grub_cfg_kernel_line(text)
            if line is not None:
                found[path] = expand_grub_vars(line, grubenv)
        for path, text in self.files("bls_entries").items():
            options = parse_bls_options(text)
            if options is not None:
                found[path] = expand_grub_vars(options, grubenv)
        for path, text in self.files("extlinux").items():
            line = default_extlinux_append(text)
            if line is not None:
                found[path] = line
        return found


# -- collection ------------------------------------------------------------


def collection_script(sections: dict[str, tuple[bool, str]], nonce: str) -> str:
    """One sh script printing every section between markers carrying ``nonce``."""
    parts = ["export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    for name, (_, snippet) in sections.items():
        parts.append(f"echo '@@{nonce} begin {name}'")
        parts.append(f"( {snippet} ) 2>/dev/null")
        parts.append(f'echo; echo "@@{nonce} end {name} $?"')
    return "\n".join(parts) + "\n"


def parse_collection(output: str, nonce: str) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    pattern = re.compile(rf"^@@{nonce} begin (\S+)\n(.*?)\n?\n@@{nonce} end \1 (\d+)$", re.M | re.S)
    for match in pattern.finditer(output):
        sections[match.group(1)] = Section(int(match.group(3)), match.group(2))
    return sections


def gather(connection, admin_user: str = "", timeout: float = 600.0) -> LinuxFacts:
    """Collect every section from a live VM in one SSH command (two without sudo)."""
    nonce = secrets.token_hex(8)
    script = collection_script(SECTIONS, nonce)
    quoted = shlex.quote(script)
    result = connection.run(f"sudo -n sh -c {quoted}", timeout=timeout)
    privileged = True
    sudo_error = ""
    if f"@@{nonce} begin" not in result.text:
        privileged = False
        sudo_error = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["sudo failed"]
        sudo_error = sudo_error[0][:200]
        result = connection.run(f"sh -c {quoted}", timeout=timeout)
    sections = parse_collection(result.text, nonce)
    if not sections:
        raise FactError(
            f"the fact collection script produced no output (exit {result.rc}); is /bin/sh usable?"
        )
    return LinuxFacts(
        sections=sections,
        privileged=privileged,
        sudo_error=sudo_error,
        admin_user=admin_user,
        commands_run=connection.commands_run,
    )


# -- parsers (pure) --------------------------------------------------------


def split_files(text: str) -> dict[str, str]:
    files: dict[str, str] = {}
    current = None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith("### /"):
            if current is not None:
                files[current] = "\n".join(lines)
            current, lines = line[4:], []
        elif current is not None:
            lines.append(line)
    if current is not None:
        files[current] = "\n".join(lines)
    return files


def parse_os_release(text: str) -> dict[str, str]:
    return parse_shell_assignments(text)


_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_shell_assignments(text: str, earlier: dict[str, str] | None = None) -> dict[str, str]:
    """``KEY=value`` lines as a shell would read them (quotes, ``$KEY`` of earlier lines)."""
    values: dict[str, str] = dict(earlier or {})
    for line in text.splitlines():
        match = _ASSIGN.match(line)
        if not match:
            continue
        key, raw = match.groups()
        try:
            words = shlex.split(raw, comments=True, posix=True)
        except ValueError:
            words = [raw.strip().strip("\"'")]
        value = " ".join(words)
        value = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: values.get(m.group(1), ""), value)
        values[key] = value.strip()
    return values


def default_grub_cfg_kernel_line(text: str) -> list[str] | None:
    """Kernel parameters of the default (first) menu entry of a grub.cfg."""
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0] in ("linux", "linux16", "linuxefi"):
            return words[2:]
    return None


def parse_bls_options(text: str) -> list[str] | None:
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0] == "options":
            return words[1:]
    return None


def default_extlinux_append(text: str) -> list[str] | None:
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0].lower() == "append":
            return words[1:]
    return None


def expand_grub_vars(params: list[str], variables: dict[str, str]) -> list[str]:
    """Expand ``$kernelopts`` and similar grub environment variables."""
    expanded: list[str] = []
    for param in params:
        match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", param)
        if match:
            expanded += variables.get(match.group(1), "").split()
        else:
            expanded.append(param)
    return expanded
