"""Accounts of a running Linux VM (LNX-022): password fields, and the SSH keys that log in.

``shadow`` holds ``user:FIELD`` with hashes masked (``HASH``). The ``authorized_keys``
section prints ``akf PATTERNS`` (sshd's effective ``AuthorizedKeysFile``, ``?`` when
``sshd -T`` could not say), then for every account and every existing keys file
``keysfile USER PATH`` followed by one ``key LINE`` per key, the key material replaced
by ``KEY``. Pure parsers, no I/O.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from pytest_vmimage.verdict import FactError

# statements a forced command may be made of and still deny every login: cloud-init's
# disable_root stub is  echo 'Please login as the user "x" rather than the user "root".';echo;sleep 10;exit 142
_PRINTING_WORDS = {"echo", "printf", "logger"}
_NUMERIC_WORDS = {"sleep", "exit"}  # only with numeric arguments
_NO_ARGUMENT_WORDS = {"false", "true", ":", "nologin"}
_DENYING_WORDS = _PRINTING_WORDS | _NUMERIC_WORDS | _NO_ARGUMENT_WORDS
_SYSTEM_DIRS = {"", "/bin", "/usr/bin", "/sbin", "/usr/sbin"}
# background, pipes, redirections, expansions, grouping: anything that runs or opens more
_SHELL_METACHARACTERS = re.compile(r"[&|<>$`(){}\\]")


def parse_shadow(text: str) -> dict[str, str]:
    """``user:field`` lines -> {user: field} (of repeated names, one that logs in wins);
    FactError when root is missing (not a shadow file)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name:
            raise FactError(f"unexpected line in /etc/shadow: {line[:60]!r}")
        # getspnam uses the first line of a name; keep any that lets the account log in
        value = value.split(":")[0]
        if name not in fields or password_finding(name, fields[name]) is None:
            fields[name] = value
    if "root" not in fields:
        raise FactError("/etc/shadow as read has no root entry (cut short or not readable)")
    return fields


def parse_passwd(text: str) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.count(":") >= 6:
            row = line.split(":")
            # getpwnam uses the first line of a name; keep one whose password field logs in
            if row[0] not in users or (users[row[0]][1] == "x" and row[1] != "x"):
                users[row[0]] = row
    if "root" not in users:
        raise FactError("/etc/passwd as read has no root entry (cut short or not readable)")
    return users


def password_finding(user: str, value: str) -> str | None:
    """Why an account's password field lets it log in, or None when it is locked."""
    if value == "":
        return f"{user} has an empty password (logs in without one)"
    if value.startswith(("!", "*")):
        return None
    return "root has a usable password" if user == "root" else f"{user} has a password hash"


def key_options(line: str) -> str:
    """The options field of an authorized_keys line (before the key type), '' if none."""
    match = re.match(r"^((?:[^\s\"]|\"(?:[^\"\\]|\\.)*\")*)\s+(ssh-|ecdsa-|sk-)", line)
    if match and not line.startswith(("ssh-", "ecdsa-", "sk-")):
        return match.group(1)
    return ""


def forced_command(options: str) -> str | None:
    """The ``command="..."`` option (option names are case-insensitive in sshd)."""
    match = re.search(r'(?:^|,)command="((?:[^"\\]|\\.)*)"', options, re.I)
    return match.group(1).replace('\\"', '"') if match else None


def _statement_denies(words: list[str]) -> bool:
    """One simple command of the stub: a printing, waiting or exiting word from the system's
    directories, ``sleep``/``exit`` with numbers only, ``false``/``true``/``nologin`` alone."""
    directory, _, name = words[0].rpartition("/")
    if directory not in _SYSTEM_DIRS or name not in _DENYING_WORDS:
        return False
    if name in _NUMERIC_WORDS:
        return all(re.fullmatch(r"\d+(\.\d+)?", word) for word in words[1:])
    if name in _NO_ARGUMENT_WORDS and name != "nologin":
        return len(words) == 1
    return True


def command_denies_login(command: str) -> bool:
    """A forced command that only prints, waits or exits (cloud-init's "Please login as"
    stub, ``/bin/false``, ``nologin``): the key cannot open a shell or run commands. Any
    ``&``, ``|``, redirection, ``$``, backtick, grouping or other command word means it can."""
    if _SHELL_METACHARACTERS.search(command) or re.search(r"\b(exec|eval)\b", command):
        return False
    if not command.strip(" ;\n"):
        return False
    for statement in re.split(r"[;\n]", command):
        if not statement.strip():
            continue
        try:
            words = shlex.split(statement)
        except ValueError:
            return False
        if not words or not _statement_denies(words):
            return False
    return True


def key_logs_in(line: str) -> bool:
    """Whether an authorized_keys line lets its holder log in."""
    command = forced_command(key_options(line.strip()))
    return command is None or not command_denies_login(command)


@dataclass(frozen=True)
class KeysFile:
    """An authorized_keys file sshd reads for ``user``; ``logs_in`` is None when the
    collected facts cannot tell (an older recording that kept only a count)."""

    user: str
    path: str
    logs_in: bool | None


DEFAULT_PATTERNS = {
    ".ssh/authorized_keys",
    ".ssh/authorized_keys2",
    "%h/.ssh/authorized_keys",
    "%h/.ssh/authorized_keys2",
}


def percent_expand(pattern: str, tokens: dict[str, str]) -> str | None:
    """``%h``/``%u``/``%U``/``%%`` replaced once, left to right, as sshd's percent_expand
    does (the live section's awk does the same); None for a token sshd does not know."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char != "%":
            out.append(char)
        elif pattern[i + 1 : i + 2] == "%":
            out.append("%")
            i += 1
        elif pattern[i + 1 : i + 2] in tokens and pattern[i + 1 : i + 2]:
            out.append(tokens[pattern[i + 1]])
            i += 1
        else:
            return None
        i += 1
    return "".join(out)


def parse_authorized_keys(text: str) -> list[KeysFile] | None:
    """The ``akf``/``keysfile``/``key`` lines of the home_files section; None when the
    section predates them (see :func:`legacy_authorized_keys`)."""
    patterns = None
    found: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "akf":
            patterns = rest.strip()
        elif word == "akc" and rest.strip() not in ("", "none"):
            raise FactError(
                f"sshd also takes keys from AuthorizedKeysCommand {rest.strip()!r}, which cannot be judged here"
            )
        elif word == "keysfile":
            user, _, path = rest.partition(" ")
            found.append((user, path.strip(), []))
        elif word == "key":
            if not found:
                raise FactError("a key line before any keys file in the home files section (garbled)")
            found[-1][2].append(rest)
        elif word == "keysfile_unreadable":
            raise FactError(f"cannot read the keys file {rest.strip()}")
    if patterns is None:
        return None
    if patterns == "?":
        raise FactError(
            "sshd's effective AuthorizedKeysFile could not be read (sshd -T failed), so keys outside "
            "~/.ssh/authorized_keys cannot be found"
        )
    return [KeysFile(user, path, any(key_logs_in(k) for k in keys)) for user, path, keys in found]


def legacy_authorized_keys(home_files: str, sshd_effective: str, homes: dict[str, str]) -> list[KeysFile]:
    """Keys from an older recording: ``SIZE MTIME OWNER PATH`` stat lines and ``usable N PATH``
    counts (key lines without ``command=``). Sound only for the default AuthorizedKeysFile;
    a file whose every key has a forced command cannot be judged (None)."""
    patterns = re.search(r"^authorizedkeysfile (.+)$", sshd_effective, re.M)
    if patterns is None or not set(patterns.group(1).split()) <= DEFAULT_PATTERNS:
        raise FactError(
            "this recording has no authorized_keys contents and sshd's AuthorizedKeysFile is "
            + (f"{patterns.group(1)!r}" if patterns else "unknown")
        )
    usable = {}
    for line in home_files.splitlines():
        if line.startswith("usable "):
            parts = line.split(" ", 2)
            usable[parts[2]] = int(parts[1]) if parts[1].isdigit() else None
    found = []
    for line in home_files.splitlines():
        parts = line.split(" ", 3)
        if len(parts) != 4 or not parts[0].isdigit() or "/.ssh/authorized_keys" not in parts[3]:
            continue
        path = parts[3]
        owners = [
            (len(h), u) for u, h in homes.items() if len(h) > 1 and path.startswith(h.rstrip("/") + "/")
        ]
        user = max(owners)[1] if owners else parts[2]
        # no count: a key file of any content; a count of 0: every key has a forced command
        count = usable.get(path)
        logs_in = None if count == 0 else True
        if int(parts[0]) == 0:
            logs_in = False
        found.append(KeysFile(user, path, logs_in))
    return found


def authorized_keys(facts) -> list[KeysFile]:
    """Every keys file sshd reads, for which account, and whether its keys log in
    (the ``authorized_keys`` section; recordings older than it and ``dhcp_dns``, both added
    together, are read by :func:`legacy_authorized_keys`)."""
    if "authorized_keys" in facts.sections:
        found = parse_authorized_keys(facts.section("authorized_keys"))
        if found is None:
            raise FactError(
                "the authorized_keys section has no AuthorizedKeysFile line (cut short or garbled)"
            )
        return found
    if "dhcp_dns" in facts.sections:  # collected by a script that prints both: this one went missing
        raise FactError("the authorized_keys section is missing from facts that should have it")
    homes = {name: fields[5] for name, fields in parse_passwd(facts.section("passwd")).items()}
    return legacy_authorized_keys(facts.section("home_files"), facts.section("sshd_effective"), homes)


# sshd settings that open or move a login path; inside a Match block sshd -T (without -C) hides them
_LOGIN_SETTINGS = (
    "authorizedkeysfile",
    "authorizedkeyscommand",
    "trustedusercakeys",
    "passwordauthentication",
    "permitrootlogin",
)
_HARMLESS_VALUES = {
    "passwordauthentication": "no",
    "permitrootlogin": "no",
    "authorizedkeyscommand": "none",
    "trustedusercakeys": "none",
}


def match_block_settings(lines: list[tuple[str, str]]) -> list[str]:
    """``(file, line)`` pairs of sshd_config and its Include'd files, in file order -> the
    login settings (and Includes) that sit inside a ``Match`` block (``Match all`` ends one)."""
    in_match: dict[str, bool] = {}
    found = []
    for path, line in lines:
        keyword, _, value = line.strip().replace("=", " ", 1).partition(" ")
        keyword, value = keyword.lower(), value.strip().strip('"')
        if keyword == "match":
            in_match[path] = value.lower() != "all"
        elif in_match.get(path) and (
            keyword == "include"
            or (keyword in _LOGIN_SETTINGS and value.lower() != _HARMLESS_VALUES.get(keyword))
        ):
            found.append(f"{path}: {line.strip()}")
    return found


def sshd_login_findings(text: str, sshd_effective: str | None) -> list[str]:
    """Login paths in sshd's configuration the keys files do not show: a global
    TrustedUserCAKeys (a build-time CA logs in as any account) is a finding; a login setting
    inside a Match block cannot be judged without the connection (FactError). ``text`` is
    the authorized_keys section; recordings older than its ``cfg`` lines fall back to
    ``sshd_effective`` (sshd -T and its "## match" lines, when recorded)."""
    if text.startswith("akf none"):
        return []
    words = {line.partition(" ")[0] for line in text.splitlines()}
    if not words & {"tuck", "cfg", "cfg_files", "cfg_unreadable", "cfg_truncated"}:
        if sshd_effective is None:
            return []
        ca = re.search(r"^trustedusercakeys (.*)$", sshd_effective, re.M)
        tuck = ca.group(1).strip() if ca else "none"
        _, _, match = sshd_effective.partition("\n## match\n")
        lines = [tuple(line.split(": ", 1)) for line in match.splitlines() if ": " in line]
    else:
        bad = [line for line in text.splitlines() if line.startswith(("cfg_unreadable", "cfg_truncated"))]
        if bad:
            raise FactError(f"sshd's configuration could not all be read ({bad[0]})")
        count = re.search(r"^cfg_files (\d+)$", text, re.M)
        tuck_line = re.search(r"^tuck ?(.*)$", text, re.M)
        if count is None or tuck_line is None:
            raise FactError("the authorized_keys section lacks its sshd_config lines (cut short or garbled)")
        if count.group(1) == "0":
            raise FactError("sshd is installed but no sshd_config was found to read")
        tuck = tuck_line.group(1).strip()
        lines = [tuple(line[4:].split(": ", 1)) for line in text.splitlines() if line.startswith("cfg ")]
        quoted = [
            f"{pair[0]}: {pair[1].strip()}"
            for pair in lines
            if len(pair) == 2 and re.match(r"\s*authorizedkeysfile\b", pair[1], re.I) and re.search(r"[\"'\\]", pair[1])
        ]
        if quoted:
            # sshd -T prints the list unquoted: "a b/%u" (or 'a b/%u', a\ b/%u: OpenSSH >= 8.7
            # argv_split) and the two paths a, b/%u look alike
            raise FactError(
                f"AuthorizedKeysFile is quoted or escaped in sshd's configuration ({quoted[0]}): sshd -T prints its "
                "paths unquoted, so a path with a space cannot be told from two paths and the keys files "
                "sshd reads were not all found"
            )
    inside = match_block_settings([pair for pair in lines if len(pair) == 2])
    if inside:
        raise FactError(
            "sshd_config has Match blocks that set login settings sshd -T cannot show without the "
            f"connection: {'; '.join(inside[:3])}"
        )
    if not tuck:
        raise FactError("sshd -T did not print TrustedUserCAKeys (output cut short?)")
    if tuck.lower() != "none":
        return [
            f"sshd trusts user certificates signed by {tuck} (TrustedUserCAKeys): a holder of that CA logs in"
        ]
    return []
