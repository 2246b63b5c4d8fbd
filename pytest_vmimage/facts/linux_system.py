"""Parsers for the system-configuration facts of LNX-030...036: sudo's policy, the
persistent-net udev rules, the DHCP clients' hostname settings, the Hyper-V KVP daemon,
the package manager's repositories and OMI's version.

Each parser reads the raw text of one collection-script section (``facts/linux.py``) and
raises FactError when the text cannot be the complete answer, so a check never passes on
evidence it did not see.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from pytest_vmimage.facts.linux import parse_shell_assignments
from pytest_vmimage.verdict import FactError

SUDOERS = "/etc/sudoers"
SUDOERS_DIR = "/etc/sudoers.d"
# sudo flags that make it ask for someone else's password (sudoers(5))
PASSWORD_FLAGS = ("targetpw", "rootpw", "runaspw")


# -- LNX-030: sudoers ---------------------------------------------------------


@dataclass(frozen=True)
class SudoDefault:
    """One ``Defaults`` setting of a password flag, where sudo reads it."""

    flag: str  # targetpw | rootpw | runaspw
    on: bool  # False for "!targetpw"
    scope: str  # "" for plain Defaults, else the qualifier (":user", ">runas", "@host", "!cmd")
    path: str
    line: int
    text: str


@dataclass
class SudoPolicy:
    """What sudo reads, in its order: the password flags still on at the end, the files it
    reads, the directory files it skips, and include targets that were not collected."""

    active: list[SudoDefault] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # names sudo ignores (a '.' or a trailing '~')
    not_included: list[str] = field(default_factory=list)  # in /etc/sudoers.d, no includedir reads it
    unread_includes: list[str] = field(default_factory=list)


_INCLUDE = re.compile(r"^\s*[#@]include(dir)?\s+(\S.*?)\s*$")
# toke.l: Defaults([:@>!][[:blank:]]*!*"?(ID|WORD))? -- the binding may be a list ("a, b")
_BINDING_ITEM = r'!*"?[^\s,"]+"?'
_DEFAULTS = re.compile(rf"^\s*Defaults(?:([:@!>])\s*({_BINDING_ITEM}(?:\s*,\s*{_BINDING_ITEM})*))?\s+(.*)$")
_CONTINUED = re.compile(r"\\[ \t]*$")  # toke.l: \\[[:blank:]]*\n


def _strip_comment(line: str) -> tuple[str, bool]:
    """The line before its comment, and whether it had one. As toke.l: ``#`` starts a comment
    unless a digit (or ``-`` and a digit) follows it -- ``#0`` is a uid -- and never inside a
    double-quoted string."""
    quoted, i = False, 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted and not re.match(r"#-?[0-9]", line[i:]):
            return line[:i], True
        i += 1
    return line, False


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line without its comment) with backslash continuations joined
    (blanks may follow the backslash); a comment ends the line, its backslash continues nothing.
    Include directives are kept whole."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
            if _INCLUDE.match(line):
                out.append((start, line))
                continue
        code, commented = _strip_comment(line)
        continued = None if commented else _CONTINUED.search(code)
        if continued:
            pending += code[: continued.start()] + " "
            continue
        out.append((start, pending + code))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def _split_options(text: str) -> list[str]:
    """Comma-separated Defaults options; commas inside double quotes do not split."""
    options, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            options.append(current.strip())
            current = ""
        else:
            current += char
    options.append(current.strip())
    return [o for o in options if o]


def sudo_skips(name: str) -> bool:
    """sudo's includedir ignores file names that end in '~' or contain a '.' (sudoers(5))."""
    return name.endswith("~") or "." in name


def parse_sudoers(files: dict[str, str]) -> SudoPolicy:
    """Follow /etc/sudoers and its include directives through the collected files."""
    policy = SudoPolicy()
    state: dict[tuple[str, str], SudoDefault] = {}
    included: set[str] = set()

    def read(path: str, depth: int) -> None:
        if depth > 8 or path in policy.read:
            return
        policy.read.append(path)
        for number, line in _logical_lines(files[path]):
            include = _INCLUDE.match(line)
            if include:
                target = include.group(2).strip().strip('"')
                if not target.startswith("/"):
                    target = posixpath.join(posixpath.dirname(path), target)
                target = posixpath.normpath(target)
                if include.group(1):  # includedir
                    inside = sorted(p for p in files if posixpath.dirname(p) == target)
                    if target != SUDOERS_DIR and not inside:
                        policy.unread_includes.append(f"{target}/ ({path}:{number})")
                    for member in inside:
                        included.add(member)
                        if sudo_skips(posixpath.basename(member)):
                            policy.skipped.append(member)
                        else:
                            read(member, depth + 1)
                elif target in files:
                    included.add(target)
                    read(target, depth + 1)
                else:
                    policy.unread_includes.append(f"{target} ({path}:{number})")
                continue
            text = line
            defaults = _DEFAULTS.match(text)
            if not defaults:
                continue
            for option in _split_options(defaults.group(3)):
                bare = option.lstrip("! \t").strip()
                if bare in PASSWORD_FLAGS:
                    scope = (defaults.group(1) or "") + re.sub(r"\s+", "", defaults.group(2) or "")
                    state[(bare, scope)] = SudoDefault(
                        bare, not option.startswith("!"), scope, path, number, text.strip()
                    )

    if SUDOERS in files:
        read(SUDOERS, 0)
    policy.not_included = sorted(p for p in files if p != SUDOERS and p not in included)
    policy.active = [d for d in state.values() if d.on]
    return policy


# -- LNX-032: persistent-net udev rules --------------------------------------------


@dataclass(frozen=True)
class UdevRuleFile:
    path: str
    size: int | None  # None when the size could not be read (dangling link)
    target: str = ""  # the symlink's target, "" for a regular file

    @property
    def masks(self) -> bool:
        """A link to /dev/null or an empty file: it disables the rule of that name."""
        return self.target == "/dev/null" or self.size == 0


def parse_udev_net_rules(text: str) -> list[UdevRuleFile]:
    """``rule SIZE PATH [-> TARGET]`` lines; FactError without the closing ``looked`` line
    or with an unreadable rules directory."""
    lines = text.splitlines()
    if "looked" not in (line.strip() for line in lines):
        raise FactError("the udev rules listing is incomplete (its closing line is missing)")
    unreadable = [line[11:] for line in lines if line.startswith("unreadable ")]
    if unreadable:
        raise FactError(f"cannot list {', '.join(unreadable)} (permission denied)")
    rules = []
    for line in lines:
        if not line.startswith("rule "):
            continue
        size, _, rest = line[5:].partition(" ")
        path, _, target = rest.partition(" -> ")
        if not path.startswith("/"):
            raise FactError(f"udev rules listing garbled: {line[:120]!r}")
        rules.append(UdevRuleFile(path, int(size) if size.isdigit() else None, target.strip()))
    return rules


# -- LNX-033: DHCP client hostname settings ------------------------------------------


def _uncommented(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def suse_dhcp_set_hostname(text: str) -> str | None:
    """The value of DHCLIENT_SET_HOSTNAME in /etc/sysconfig/network/dhcp (None when unset)."""
    return parse_shell_assignments(text).get("DHCLIENT_SET_HOSTNAME")


def dhcpcd_requests_host_name(text: str) -> bool:
    """dhcpcd.conf's global section, in order, ends with ``host_name`` requested: ``option X, Y``
    adds, ``nooption X`` removes (dhcpcd.conf(5)); an ``interface``/``ssid`` block ends it."""
    requested = False
    for line in _uncommented(text):
        words = line.replace(",", " ").split()
        if words[0] in ("interface", "ssid"):
            break
        if words[0] in ("option", "nooption") and "host_name" in words[1:]:
            requested = words[0] == "option"
    return requested


def dhclient_requests_host_name(text: str) -> bool:
    """dhclient.conf, in order, ends with ``host-name`` in the request list: ``request`` sets
    the list, ``also request`` adds to it (dhclient.conf(5))."""
    requested = False
    for statement in " ".join(_uncommented(text)).split(";"):
        match = re.match(r"\s*(also\s+)?request\b(.*)", statement, re.S)
        if match:
            named = re.search(r"(^|[\s,])host-name([\s,]|$)", match.group(2)) is not None
            requested = (requested or named) if match.group(1) else named
    return requested


# -- LNX-034: the Hyper-V KVP daemon -------------------------------------------------------


@dataclass
class KvpDaemon:
    binaries: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    udev_rules: list[str] = field(default_factory=list)  # "file:rule" lines that start a KVP unit
    units: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (is-enabled, is-active)
    rule_files: dict[str, list[str]] = field(
        default_factory=dict
    )  # rules directory -> file names, udev's order

    def hidden(self, path: str) -> bool:
        """A file of the same name in an earlier rules directory (an /etc link to /dev/null, an
        empty file) replaces this one for udev."""
        directory, _, name = path.rpartition("/")
        for earlier, names in self.rule_files.items():
            if earlier == directory:
                return False
            if name in names:
                return True
        return False

    def udev_started_units(self) -> list[str]:
        """Units a live udev rule pulls in (``ENV{SYSTEMD_WANTS}+="hv-kvp-daemon.service"``):
        not a comment, not in a file that a same-named earlier file hides."""
        names = []
        for rule in self.udev_rules:
            path, _, text = rule.partition(":")
            if text.lstrip().startswith("#") or self.hidden(path):
                continue
            for match in re.finditer(r'SYSTEMD_WANTS\}\+?="([^"]+)"', text):
                names += match.group(1).split()
        return names


def parse_kvp_daemon(text: str) -> KvpDaemon:
    found = KvpDaemon()
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "binary" and rest:
            found.binaries.append(rest.strip())
        elif kind == "process" and rest:
            found.processes.append(rest.strip())
        elif kind == "udev" and rest:
            found.udev_rules.append(rest.strip())
        elif kind == "rules" and rest:
            directory, *names = rest.split()
            found.rule_files[directory] = names
        elif kind == "unit":
            words = rest.split(" ")
            found.units[words[0]] = (words[1] if len(words) > 1 else "", words[2] if len(words) > 2 else "")
    if not found.units:
        raise FactError("the KVP daemon's unit states were not listed (systemctl gave no answer)")
    return found


# -- LNX-035: repositories -------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    manager: str  # apt | rpm (dnf/yum/tdnf) | zypper
    id: str  # rpm/zypper section name; apt: "URI SUITE"
    name: str
    uris: tuple[str, ...]
    suites: tuple[str, ...]  # apt only
    enabled: bool
    path: str
    source_only: bool = False  # apt deb-src

    def words(self) -> str:
        """Everything a rule may match on, lower case."""
        return " ".join((self.id, self.name, *self.uris, *self.suites)).lower()


def _apt_one_line(path: str, text: str) -> list[Repository]:
    repos = []
    for line in _uncommented(text):
        words = line.split()
        if not words or words[0] not in ("deb", "deb-src"):
            continue
        rest = words[1:]
        if rest and rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            continue
        uri, suite = rest[0], rest[1]
        repos.append(
            Repository("apt", f"{uri} {suite}", "", (uri,), (suite,), True, path, words[0] == "deb-src")
        )
    return repos


# apt's StringToBool: these turn a deb822 stanza off (any other value leaves it on)
APT_FALSE = ("0", "no", "false", "without", "off", "disable")


def _apt_deb822(path: str, text: str) -> list[Repository]:
    repos = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.lstrip().startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if not fields.get("uris"):
            continue
        enabled = fields.get("enabled", "yes").strip().lower() not in APT_FALSE
        types = fields.get("types", "deb").split()
        uris, suites = tuple(fields["uris"].split()), tuple(fields.get("suites", "").split())
        for suite in suites:
            repos.append(
                Repository(
                    "apt", f"{' '.join(uris)} {suite}", "", uris, (suite,), enabled, path, "deb" not in types
                )
            )
    return repos


def _ini_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            sections.append((stripped[1:-1].strip(), {}))
        elif "=" in stripped and sections:
            key, _, value = stripped.partition("=")
            sections[-1][1][key.strip().lower()] = value.strip()
    return sections


# libdnf's OptionBool (yum, zypper and tdnf accept a subset of these)
_TRUE, _FALSE = ("1", "yes", "true", "on"), ("0", "no", "false", "off")


def _repo_bool(path: str, section: str, value: str) -> bool:
    """``enabled=`` as dnf reads it; a value dnf refuses is a FactError, never "enabled"."""
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise FactError(f"{path} [{section}] enabled={value.strip()!r} is no boolean dnf accepts")


def _ini_repos(manager: str, path: str, text: str) -> list[Repository]:
    repos = []
    for section, values in _ini_sections(text):
        if section.lower() == "main":
            continue
        uris = tuple(
            u
            for key in ("baseurl", "mirrorlist", "metalink")
            for u in values.get(key, "").replace(",", " ").split()
        )
        enabled = _repo_bool(path, section, values.get("enabled", "1"))
        repos.append(Repository(manager, section, values.get("name", ""), uris, (), enabled, path))
    return repos


def parse_repositories(files: dict[str, str]) -> list[Repository]:
    """Every repository definition of the collected apt, yum/dnf/tdnf and zypper files."""
    repos: list[Repository] = []
    for path, text in sorted(files.items()):
        if path.endswith(".sources"):
            repos += _apt_deb822(path, text)
        elif path.startswith("/etc/apt/"):
            repos += _apt_one_line(path, text)
        elif path.startswith("/etc/zypp/"):
            repos += _ini_repos("zypper", path, text)
        elif path.endswith(".repo"):
            repos += _ini_repos("rpm", path, text)
    return repos


def release_codename(release: dict[str, str]) -> str:
    """The release's codename (os-release VERSION_CODENAME, UBUNTU_CODENAME, or Debian's
    ``VERSION="12 (bookworm)"`` / ``"22.04 LTS (Jammy Jellyfish)"``): only ``<codename>-security``/``-updates``
    are this release's pockets (not ESM's ``jammy-infra-security``, not a ``bullseye-security`` left on bookworm)."""
    code = release.get("VERSION_CODENAME") or release.get("UBUNTU_CODENAME")
    if not code:
        match = re.search(r"\(([A-Za-z]+)", release.get("VERSION", ""))  # "(bookworm)", "(Jammy Jellyfish)"
        code = match.group(1) if match else ""
    if not code:
        raise FactError(
            "os-release names no release codename (VERSION_CODENAME): which apt suites are this release's "
            "-security and -updates pockets cannot be told"
        )
    return code.strip().lower()


def apt_security_repositories(repos: list[Repository], codename: str) -> list[Repository]:
    """The enabled binary apt repositories of the release's own security pocket
    (``<codename>-security``; Debian 10 and older ``<codename>/updates``) -- LNX-021 and LNX-035."""
    own = (f"{codename}-security", f"{codename}/updates")
    return [r for r in repos if r.manager == "apt" and r.enabled and not r.source_only and r.suites[0] in own]


# -- LNX-036: OMI -----------------------------------------------------------------------

# LISA's pattern for OMI versions ("OMI-1.6.8-1", "omi 1.6.8.1", "omi-1.6.8-1")
OMI_VERSION = re.compile(r"(?:OMI-|omi\s+|omi-)(\d+\.\d+\.\d+(?:\.\d+|-\d+)?)")


def omi_version_numbers(version: str) -> tuple[int, ...] | None:
    """``1.6.8-1`` / ``1.6.8.1`` (build after a dash or a dot) -> (1, 6, 8, 1); a missing
    build is 0; a package epoch (``1:1.6.8-1``) is skipped; None when the text is no OMI version."""
    match = re.match(r"\s*(?:\d+:)?(\d+)\.(\d+)\.(\d+)(?:[.-](\d+))?", version)
    if not match:
        return None
    return tuple(int(x) if x is not None else 0 for x in match.groups())


def omiserver_version(text: str) -> str:
    """The version ``omiserver --version`` printed; FactError when it printed none."""
    match = OMI_VERSION.search(text)
    if not match:
        raise FactError(
            f"/opt/omi/bin/omiserver --version printed no version ({text.strip()[:120] or 'nothing'})"
        )
    return match.group(1)
