"""The boot loader's default entry: which entry GRUB (grub.cfg, BLS entries through
``blscfg``) or extlinux starts when nobody presses a key, with its kernel image, kernel
parameters and initrd files.

One parser for both sides: the live VM (files the collection script printed) and the VHD
read offline. What it cannot prove is returned as a reason (a ``str``) instead of an
entry, never a guess.

GRUB behaviour relied on (grub-core/normal/menu.c, upstream 2.02-2.12):

- ``run_menu()``: ``default_entry = get_entry_number (menu, "default")``; "If DEFAULT_ENTRY
  is not within the menu entries, fall back to the first entry" (index 0).
- ``get_entry_number()``: ``grub_strtoul (val, 0, 0)``: a value that starts with a number
  is that index (base 0: ``0x`` hex, a leading ``0`` octal; the rest, like ``>0``, is ignored
  here); otherwise the first entry whose title or id equals the value up to its first
  unescaped ``>`` (``menuentry_eq``; ``>>`` is a literal ``>``); no match -> entry 0.
- ``grub_menu_execute_entry()`` of a submenu: ``default`` becomes the text after the first
  unescaped ``>`` (unset when there is none), the body runs in a new context that holds only
  exported variables (``grub_env_context_open``) with ``timeout=0``: the same rule then picks
  the entry inside it.
- ``$grub_platform`` is ``pc`` (BIOS, Azure Gen1) or ``efi`` (UEFI, Gen2): the grub.cfg is
  run for both and the entry is known only when both boot the same line.
- The menu runs after the whole grub.cfg ran: ``default`` is its value at the end, and a
  menu entry's body (``$var`` in its ``linux`` line) is run with the variables of that time.

What GRUB decides only at boot (a file not read such as gfxblacklist.txt, hwmatch, a key
pressed) is not guessed: each branch of such an ``if`` runs on its own copy of the variables
and afterwards a variable holds every value a path may leave (a value set, at most
MAX_VALUES; "" stands for unset). A test over a value set is decided only when every value
answers alike; a word expands to each combination (at most MAX_ALTERNATIVES), a function
called with them gets $1.. as value sets (Ubuntu's ``gfxmode $linux_gfx_mode`` leaves
``$vt_handoff`` '' or 'vt.handoff=7'). The default entry must be the same for every value of
``default``; its kernel line may then be one of several (``BootEntry.lines``), each judged.
Inside a loop, or after a ``return`` that may have run, what is set is not known at all.

rhboot's blscfg (grub-core/commands/blscfg.c, Fedora/EL): the entries of
``/loader/entries/*.conf`` are added where ``blscfg`` runs, newest first (``bls_cmp``:
rpm's ``vercmp`` of the file names split as name-version-release; EL 8's older blscfg
sorted by the ``version`` key: when the two orders disagree on the entry picked, that is a
reason); the id is the file name without ``.conf``, the title the ``title`` key, ``options``
is expanded (``$kernelopts``) when ``blscfg`` runs, every ``initrd`` key is loaded.
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import math
import re
from dataclasses import dataclass, field

GRUB_CFG_PATHS = (
    "/boot/grub/grub.cfg",
    "/boot/grub2/grub.cfg",
    "/boot/efi/EFI/*/grub.cfg",
    # 41_custom sources ${config_directory}/custom.cfg when it exists: read it too, so that
    # its absence is known and its entries count.
    "/boot/grub/custom.cfg",
    "/boot/grub2/custom.cfg",
    "/boot/efi/EFI/*/custom.cfg",
    # EL's 01_users sources ${prefix}/user.cfg (GRUB2_PASSWORD, redacted in recordings)
    "/boot/grub/user.cfg",
    "/boot/grub2/user.cfg",
    "/boot/efi/EFI/*/user.cfg",
)
GRUBENV_PATHS = ("/boot/grub2/grubenv", "/boot/grub/grubenv", "/boot/efi/EFI/*/grubenv")
KERNEL_WORDS = ("linux", "linux16", "linuxefi")
INITRD_WORDS = ("initrd", "initrd16", "initrdefi")
MAX_DEPTH = 8
# An 'if' GRUB decides at boot (a file not read, hwmatch, a key pressed) leaves each variable
# its branches set with the values any branch may leave: at most MAX_VALUES of them, and a
# word expands to at most MAX_ALTERNATIVES alternatives; past that the value is not known.
MAX_VALUES = 8
MAX_ALTERNATIVES = 16

# Set by GRUB's normal module before grub.cfg runs (grub-core/normal/main.c features[]).
_FEATURES = (
    "feature_chainloader_bpb",
    "feature_ntldr",
    "feature_platform_search_hint",
    "feature_default_font_path",
    "feature_all_video_module",
    "feature_menuentry_id",
    "feature_menuentry_options",
    "feature_200_final",
    "feature_nativedisk_cmd",
    "feature_timeout_style",
)


@dataclass
class BootEntry:
    """One boot entry: where it is defined, its title/id, and what it loads."""

    source: str  # the grub.cfg, BLS .conf or extlinux.conf defining it
    title: str
    id: str = ""
    kernel: str = ""  # as the loader names it (GRUB: relative to its root device)
    params: list[str] = field(default_factory=list)  # the first of ``lines``
    initrds: list[str] = field(default_factory=list)
    # every parameter list the kernel line may have (a variable set by an 'if' GRUB decides
    # at boot, e.g. Ubuntu's $vt_handoff); empty: ``params`` is the only one
    alternatives: list[list[str]] = field(default_factory=list)
    decided_by: str = ""  # what picks among ``alternatives`` ("" when there is one)
    # GRUB's 'fallback' when grub.cfg sets it ("?" when its value is not known): the entry
    # GRUB boots instead when this one's kernel or initrd fails to load (menu.c
    # grub_menu_execute_with_fallback; review-r2 #17: the files must then be in the image)
    fallback: str = ""

    @property
    def lines(self) -> list[list[str]]:
        """Every parameter list the kernel may get from this entry (one unless GRUB decides
        at boot between several)."""
        return self.alternatives or [self.params]

    @property
    def where(self) -> str:
        if "/loader/entries/" in self.source:
            return self.source
        return f"{self.source} (entry '{self.title}')"

    def same_boot(self, other: BootEntry) -> bool:
        return (self.kernel, self.lines, self.initrds) == (other.kernel, other.lines, other.initrds)


# ----------------------------------------------------------------------------- lexer

_UNKNOWN = object()  # a variable whose value is not known (set in a loop, by load_env of a file not read..)
# yylex.l VARIABLE: $NAME ${NAME} $DIGITS ${DIGITS} $SPECIAL ${SPECIAL} (review-r2 #2: $10 is
# parameter 10, never $1 then 0); a '$' followed by anything else is GRUB_PARSER_TOKEN_BAD
_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#@*])\}|([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#@*]))"
)


class _Values(frozenset):
    """A variable that holds one of these values: branches of an 'if' GRUB decides at boot
    left different ones ("" stands for unset, which expands the same)."""


def _union(values) -> str | _Values | object:
    """The value a variable may hold after paths that leave these values."""
    out: set[str] = set()
    for value in values:
        if value is _UNKNOWN:
            return _UNKNOWN
        out |= value if isinstance(value, _Values) else {value}
    if len(out) == 1:
        return next(iter(out))
    return _Values(out) if len(out) <= MAX_VALUES else _UNKNOWN


def _shown(values) -> str:
    return " or ".join(repr(v) for v in sorted(values))


class _Unknown(Exception):
    """A word uses a variable whose value is not known, or that holds one of several values
    (``values``), or more alternatives than MAX_ALTERNATIVES (``total``)."""

    def __init__(self, name: str, values: frozenset | None = None, total: int = 0):
        super().__init__(name)
        self.name, self.values, self.total = name, values, total

    def __str__(self) -> str:
        return self.name

    @property
    def why(self) -> str:
        if self.total:
            return (
                f"{self.name}, which together may expand {self.total} ways (more than {MAX_ALTERNATIVES}; "
                "set in 'if's GRUB decides at boot)"
            )
        if self.values is not None:
            return f"${self.name}, which may be {_shown(self.values)} (set in an 'if' GRUB decides at boot)"
        return f"${self.name}, whose value is not known"


class _Forked:
    """``certain`` of a path of an undecided 'if' run on its own copy of the variables:
    not certain to run (falsy), yet what it sets is exact on that path."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "_FORKED"


_FORKED = _Forked()


def _exact(certain) -> bool:
    """Whether assignments on this path set values (True, _FORKED) or unknowns (False:
    a loop body, what follows a 'return' that may have run)."""
    return certain is True or certain is _FORKED


@dataclass
class _Word:
    parts: list[tuple[str, str]]  # ("lit" | "dq" | "sq", text); "sq" is never expanded
    glued: bool = False  # a '}' that followed a word with no ';' or newline between

    @property
    def bare(self) -> str | None:
        """The word when it is one unquoted literal (how keywords are spelled)."""
        return self.parts[0][1] if len(self.parts) == 1 and self.parts[0][0] == "lit" else None

    @property
    def raw(self) -> str:
        return "".join(text for _, text in self.parts)


def _bad_dollar(text: str, at: int, strict: bool) -> int:
    """The length of the variable reference at ``text[at]`` ('$'); a '$' that starts none
    (``$-``, ``${x:-y}``, ``$`` at the end) is a GRUB syntax error (yylex.l VAR state: ``.|\\n``
    returns GRUB_PARSER_TOKEN_BAD), after which GRUB's error recovery is not modelled
    (review-r2 #3). ``strict=False`` (scans of kernel lines as written) keeps it literal."""
    match = _VAR.match(text, at)
    if match:
        return match.end() - at
    if strict:
        shown = (text[at : at + 12].splitlines() or ["$"])[0]
        raise _Unparsable(
            f"'{shown}': a '$' that starts no variable name (a GRUB syntax error; what GRUB's "
            "error recovery then runs is not modelled)"
        )
    return 1


def _commands(text: str, strict: bool = True) -> list[list[_Word]]:
    """GRUB script split into commands (newline or ``;``) of words (quotes kept apart).
    ``strict``: a GRUB syntax error of the lexer (a '$' that starts no variable, a '{' or
    '}' glued to a word) raises _Unparsable."""
    commands: list[list[_Word]] = []
    words: list[_Word] = []
    parts: list[tuple[str, str]] = []
    lit: list[str] = []

    def flush() -> None:
        if lit:
            parts.append(("lit", "".join(lit)))
            lit.clear()

    def end_word() -> None:
        flush()
        if parts:
            words.append(_Word(list(parts)))
            parts.clear()

    def end_command() -> None:
        end_word()
        if words:
            commands.append(list(words))
            words.clear()

    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            if text[i + 1] != "\n":
                flush()
                parts.append(("sq", text[i + 1]))
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            end = n if end < 0 else end
            flush()
            parts.append(("sq", text[i + 1 : end]))
            i = end + 1
        elif c == '"':
            flush()
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "$":
                    size = _bad_dollar(text, j, strict)
                    buf.append(text[j : j + size])
                    j += size
                    continue
                if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\$\n':
                    if buf:
                        parts.append(("dq", "".join(buf)))
                        buf = []
                    if text[j + 1] != "\n":
                        parts.append(("sq", text[j + 1]))
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            parts.append(("dq", "".join(buf)))
            i = j + 1
        elif c == "#" and not parts and not lit:
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in " \t\r":
            end_word()
            i += 1
        elif c in "\n;":
            end_command()
            i += 1
        elif c == "$":
            size = _bad_dollar(text, i, strict)
            lit.append(text[i : i + size])
            i += size
        elif c in "{}":
            # yylex.l: CHAR is [^{}|&$;<> \t\n'"\\], so a brace is never part of a word: 'quiet}'
            # is the word quiet and then '}', '}#x' is '}' and then a comment. Whether the
            # grammar then closes the block there or GRUB reports a syntax error is not
            # modelled: a brace glued to a word is a reason (review-r2 #1)
            glued = bool(parts or lit) or (i + 1 < n and text[i + 1] not in " \t\r\n;")
            if glued and strict:
                raise _Unparsable(
                    f"'{text[max(0, i - 12) : i + 12].strip()}': a '{c}' glued to a word (GRUB's lexer "
                    "makes it a token of its own; where its block then ends is not modelled)"
                )
            lit.append(c)
            i += 1
        else:
            lit.append(c)
            i += 1
    end_command()
    out: list[list[_Word]] = []
    for command in commands:
        out.extend(_cut(command))
    joined: list[list[_Word]] = []
    for command in out:  # parser.y: newlines may come between 'function NAME' and its '{'
        if (
            joined
            and [w.bare for w in command] == ["{"]
            and len(joined[-1]) == 2
            and joined[-1][0].bare == "function"
        ):
            joined[-1] = joined[-1] + command
        else:
            joined.append(command)
    return joined


_LEADING = ("then", "else", "do", "fi", "done", "}")


def _cut(command: list[_Word]) -> list[list[_Word]]:
    """One line's command as GRUB's lexer cuts it: a leading keyword ("then insmod x",
    "fi }") stands alone, '{' and '}' are tokens of their own: a block's first command may
    follow its '{' on the line, and a block's '}' may follow a command with no delimiter."""
    out: list[list[_Word]] = []
    while command:
        if len(command) > 1 and command[0].bare in _LEADING:
            out.append([command[0]])
            command = command[1:]
            continue
        k = next((k for k, w in enumerate(command) if w.bare == "{" or (k and w.bare == "}")), None)
        if k is None or (k == len(command) - 1 and command[k].bare == "{"):
            out.append(command)
            break
        if command[k].bare == "{":
            out.append(command[: k + 1])
            command = command[k + 1 :]
        else:
            out.append(command[:k])
            command = [_Word(command[k].parts, glued=True), *command[k + 1 :]]
    return out


def _expand(word: _Word, env: dict) -> list[str]:
    """The fields a word expands to: unquoted ``$var`` values are split on blanks."""
    fields = [""]
    kept = False  # a quoted part makes an empty word a word
    for kind, text in word.parts:
        if kind == "sq":
            fields[-1] += text
            kept = True
            continue
        kept = kept or kind == "dq"
        pos = 0
        for match in _VAR.finditer(text):
            fields[-1] += text[pos : match.start()]
            pos = match.end()
            name = match.group(1) or match.group(2)
            value = env.get(name, _UNKNOWN if name.isdigit() and env.get("#") is _UNKNOWN else "")
            if value is _UNKNOWN:
                raise _Unknown(name)
            if isinstance(value, _Values):
                raise _Unknown(name, value)
            if kind == "dq":
                fields[-1] += value
                continue
            pieces = value.split()
            if pieces and value[:1].isspace() and fields[-1]:
                fields.append("")
            for k, piece in enumerate(pieces):
                if k:
                    fields.append("")
                fields[-1] += piece
            if pieces and value[-1:].isspace():
                fields.append("")
        fields[-1] += text[pos:]
    fields = [f for f in fields if f]
    return fields or ([""] if kept else [])


def _has_var(word: _Word) -> bool:
    return any(kind != "sq" and _VAR.search(text) for kind, text in word.parts)


def _assigned(word: _Word) -> str | None:
    """The variable a ``name=value`` word sets (execute.c: a command name with '=' that is no
    command nor function), None for any other word."""
    kind, text = word.parts[0]
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", text) if kind == "lit" else None
    return match.group(1) if match else None


def _named_by_var(word: _Word) -> bool:
    """A command whose name comes from a variable (not an assignment)."""
    return _has_var(word) and _assigned(word) is None


def _expand_all(words: list[_Word], env: dict) -> list[str]:
    return [field for word in words for field in _expand(word, env)]


def _combos(words: list[_Word], env: dict) -> list[dict]:
    """Each combination of values of the several-valued variables the words use ([{}] when
    none); _Unknown when there are more than MAX_ALTERNATIVES."""
    names: list[str] = []
    for word in words:
        for kind, text in word.parts:
            if kind == "sq":
                continue
            for match in _VAR.finditer(text):
                name = match.group(1) or match.group(2)
                if isinstance(env.get(name), _Values) and name not in names:
                    names.append(name)
    if not names:
        return [{}]
    total = math.prod(len(env[name]) for name in names)
    if total > MAX_ALTERNATIVES:
        raise _Unknown(", ".join(f"${name}" for name in names), total=total)
    return [dict(zip(names, v, strict=True)) for v in itertools.product(*(sorted(env[n]) for n in names))]


def _alternatives(words: list[_Word], env: dict) -> list[list[str]]:
    """Every field list the words may expand to (distinct, in a stable order)."""
    out: list[list[str]] = []
    for combo in _combos(words, env):
        fields = _expand_all(words, {**env, **combo} if combo else env)
        if fields not in out:
            out.append(fields)
    return out


def _call_args(words: list[_Word], env: dict) -> list | None:
    """A call's arguments: each one a value or the values it may have; None when not known
    (a value not known, or alternatives with different numbers of fields)."""
    try:
        alternatives = [_expand_all(words, {**env, **combo}) for combo in _combos(words, env)]
    except _Unknown:
        return None
    if len({len(a) for a in alternatives}) != 1:
        return None
    return [_union(column) for column in zip(*alternatives, strict=True)]


def _varies(words: list[_Word], env: dict) -> str:
    """The several-valued variables the words use and their values."""
    names = sorted({name for combo in _combos(words, env) for name in combo})
    return ", ".join(f"${name} ({_shown(env[name])})" for name in names)


def _merge(env: dict, paths: list[dict]) -> None:
    """``env`` (in place) after the paths an undecided 'if' may take: each variable holds
    the union of what the paths leave (unset counts as "")."""
    merged = {}
    for key in set().union(*paths):
        missing = _UNKNOWN if _POSITIONAL.fullmatch(key) else ""
        merged[key] = _union(path.get(key, missing) for path in paths)
    env.clear()
    env.update(merged)


def _text(words: list[_Word]) -> str:
    return " ".join(w.raw for w in words)


# ----------------------------------------------------------------------------- parser


class _Unparsable(Exception):
    pass


@dataclass
class _Cmd:
    words: list[_Word]


@dataclass
class _Block:
    kind: str  # menuentry | submenu | function
    words: list[_Word]
    body: list


@dataclass
class _If:
    branches: list[tuple[list[_Word], list]]
    orelse: list | None


@dataclass
class _Loop:
    words: list[_Word]
    body: list


def _parse(commands: list[list[_Word]], i: int = 0, stop: tuple = ()) -> tuple[list, int, str | None]:
    nodes: list = []
    while i < len(commands):
        command = commands[i]
        head = command[0].bare
        if head in stop:
            return nodes, i, head
        i += 1
        if head == "function":
            _check_function(command, stop)
        _check_grammar(command, head)
        if command[-1].bare == "{":
            body, i, end = _parse(commands, i, ("}",))
            if end != "}":
                raise _Unparsable(f"a '{head}' block has no closing brace")
            if head == "function" and commands[i][0].glued:
                raise _Unparsable(
                    "a function's '}' follows a command with no ';' or newline (a GRUB syntax error)"
                )
            if head is None and command[0].raw == "function":
                raise _Unparsable("a quoted 'function' runs a command named function (not modelled)")
            nodes.append(_Block(command[0].raw, command[1:-1], body))
            i += 1
        elif head == "if":
            branches, condition, orelse = [], command[1:], None
            while True:
                if i >= len(commands) or commands[i][0].bare != "then":
                    raise _Unparsable(f"'if {_text(condition)}' has no 'then'")
                body, i, end = _parse(commands, i + 1, ("elif", "else", "fi"))
                branches.append((condition, body))
                if end == "elif":
                    _check_tokens(commands[i])
                    condition = commands[i][1:]
                    i += 1
                    continue
                if end == "else":
                    orelse, i, end = _parse(commands, i + 1, ("fi",))
                if end != "fi":
                    raise _Unparsable(f"'if {_text(branches[0][0])}' has no 'fi'")
                i += 1
                break
            nodes.append(_If(branches, orelse))
        elif head in ("while", "until", "for"):
            if i >= len(commands) or commands[i][0].bare != "do":
                raise _Unparsable(f"'{head}' has no 'do'")
            body, i, end = _parse(commands, i + 1, ("done",))
            if end != "done":
                raise _Unparsable(f"'{head}' has no 'done'")
            nodes.append(_Loop(command, body))
            i += 1
        else:
            nodes.append(_Cmd(command))
    return nodes, i, None


_MISPLACED = frozenset("then else elif fi do done case esac select in [[ ]] { }".split())


def _check_grammar(command: list[_Word], head: str | None) -> None:
    """yylex.l/parser.y: a keyword where the grammar has no place for it (a stray 'fi', a
    '{' that follows no command on its line) and the tokens | & < > && || (unquoted) are
    syntax errors; what GRUB's error recovery then runs is not modelled."""
    if head in _MISPLACED:
        raise _Unparsable(f"'{_text(command)}': '{head}' where GRUB's grammar has none (a syntax error)")
    _check_tokens(command)


def _check_tokens(command: list[_Word]) -> None:
    if any(kind == "lit" and re.search(r"[|&<>]", text) for word in command for kind, text in word.parts):
        raise _Unparsable(f"'{_text(command)}' has an unquoted | & < or > (a GRUB syntax error)")


def _check_function(command: list[_Word], stop: tuple) -> None:
    """parser.y: ``function NAME {`` is a statement of a script's top level only (a grub.cfg
    or a file it sources); anywhere else (an if, a loop, a menuentry) and in any other shape
    it is a syntax error, after which what GRUB's error recovery runs is not modelled."""
    if stop:
        raise _Unparsable(
            f"'{_text(command)}' defines a function inside a block (if, loop, menuentry): a GRUB "
            "syntax error, after which what GRUB runs is not modelled"
        )
    name = command[1].bare if len(command) > 1 else None
    if len(command) != 3 or command[2].bare != "{" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise _Unparsable(f"'{_text(command)}' is not 'function NAME {{' (a GRUB syntax error)")


# ----------------------------------------------------------------------------- conditions


def _test(args: list[str], exists, sizeable=lambda path: None) -> bool | None:
    """GRUB's ``test`` / ``[`` on expanded arguments; None when not known. ``exists``:
    whether a file exists; ``sizeable``: whether an existing file has a size > 0."""
    pos = 0

    def primary() -> bool | None:
        nonlocal pos
        rest = args[pos:]
        if rest and rest[0] == "!":
            pos += 1
            value = primary()
            return None if value is None else not value
        if len(rest) >= 3 and rest[1] in ("=", "==", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            left, op, right = rest[0], rest[1], rest[2]
            pos += 3
            if op in ("=", "=="):
                return left == right
            if op == "!=":
                return left != right
            # test.c reads numbers with grub_strtosl(x, 0, 0): 010 is 8, 0x10 16, 1_0 and +5 stop at
            # the first character that is no digit; only plain decimals are decided (review-r2 #14)
            if not all(re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", x) for x in (left, right)):
                return None
            a, b = int(left), int(right)
            return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[
                op
            ]
        if len(rest) >= 2 and rest[0] in ("-z", "-n", "-f", "-e", "-s", "-d"):
            op, value = rest[0], rest[1]
            pos += 2
            if op == "-z":
                return value == ""
            if op == "-n":
                return value != ""
            if op == "-d":
                return None
            found = exists(value)
            if op == "-s" and found:  # test.c: -s is a size > 0 (review-r2 #14)
                return sizeable(value)
            return found
        if rest:
            pos += 1
            return rest[0] != ""
        return None

    def conj() -> bool | None:
        nonlocal pos
        value = primary()
        while pos < len(args) and args[pos] == "-a":
            pos += 1
            other = primary()
            value = False if value is False or other is False else (None if None in (value, other) else True)
        return value

    value = conj()
    while pos < len(args) and args[pos] == "-o":
        pos += 1
        other = conj()
        value = True if value is True or other is True else (None if None in (value, other) else False)
    return value if pos == len(args) else None


# ----------------------------------------------------------------------------- GRUB


@dataclass
class _Item:
    """A menu entry or submenu as GRUB registered it (certain: not inside an undecided if)."""

    kind: str  # menuentry | submenu | bls
    title: str | None  # None: not known (a variable not known)
    id: str | None
    certain: bool
    placed: bool = True  # False: its position differs between blscfg versions
    body: list = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    entry: BootEntry | str | None = None  # BLS: already built


_OPTIONS_WITH_VALUE = ("--class", "--users", "--hotkey", "--id")


def _menuentry_args(fields: list[str]) -> tuple[str, str, list[str], str]:
    """menuentry.c's options (--class --users --hotkey --id with a value, --unrestricted),
    then the title and the arguments; the last: why the entry cannot be modelled ("" when
    it can). menuentry accepts dashes (GRUB_COMMAND_ACCEPT_DASH): an unknown --option
    becomes an argument (the title), '--' ends the options, --source gives a body that is
    no block; these are reasons (review-r2 #7, #8), as is an entry with no title."""
    title, ident, rest, skip = None, "", [], False
    for k, word in enumerate(fields):
        if skip:
            skip = False
            continue
        if word in _OPTIONS_WITH_VALUE:
            if k + 1 >= len(fields):
                return "", "", [], f"'{word}' has no value"
            if word == "--id":
                ident = fields[k + 1]
            skip = True
        elif word.split("=", 1)[0] in _OPTIONS_WITH_VALUE and "=" in word:
            if word.startswith("--id="):
                ident = word[5:]
        elif word == "--unrestricted":
            continue
        elif word.startswith("-") and word != "-":
            return "", "", [], f"its option '{word}' (--source, '--' or one menuentry.c does not know): not modelled"
        elif title is None:
            title = word
        else:
            rest.append(word)
    if title is None:
        return "", "", [], "it has no title (GRUB: missing arguments, the entry is not defined)"
    return title, ident, rest, ""


def _other_device(path: str) -> bool:
    """A path on a device GRUB names literally ('(hd0,gpt99)/..'): which file system that is
    (or whether it exists) is not known (review-r2 #14). '(hd0)' is what a search or $root
    stands for here: this image's file systems."""
    match = re.match(r"\(([^)]*)\)", path)
    return bool(match) and match.group(1) != "hd0"


def _strip_device(path: str) -> str:
    return re.sub(r"^\([^)]*\)", "", path)


def _candidates(path: str) -> list[str]:
    """Where a path GRUB names may be in the image: as is, or below /boot (its own partition)."""
    path = _strip_device(path)
    return [path] if path.startswith("/boot/") else [path, f"/boot{path}"]


def menuentry_eq(name: str, spec: str) -> bool:
    """GRUB's menuentry_eq: ``name`` equals ``spec`` up to its first unescaped ``>``."""
    i = 0
    out = []
    while i < len(spec):
        if spec[i] == ">":
            if spec[i + 1 : i + 2] == ">":
                out.append(">")
                i += 2
                continue
            break
        out.append(spec[i])
        i += 1
    return "".join(out) == name


def _after_first_gt(spec: str) -> str | None:
    i = 0
    while i < len(spec):
        if spec[i] == ">":
            if spec[i + 1 : i + 2] == ">":
                i += 2
                continue
            return spec[i + 1 :] or None
        i += 1
    return None


def grub_strtoul(value: str) -> int | None:
    """grub_strtoul(val, 0, 0): the leading number (base 0), None when there is none."""
    text = value.lstrip()
    match = re.match(r"0[xX]([0-9a-fA-F]+)|0([0-7]+)|([0-9]+)", text)
    if not match:
        return None
    if match.group(1):
        return int(match.group(1), 16)
    if match.group(2):
        return int(match.group(2), 8)
    return int(match.group(3))


_UNPLACED = "BLS entries are ordered differently by blscfg versions (file name, or EL 8's version key)"


def _named(item: _Item, value: str) -> bool:
    return any(n and menuentry_eq(n, value) for n in (item.title, item.id))


def _pick(menu: list[_Item], value: str | None) -> _Item | str:
    """The item GRUB's run_menu() boots for ``default=value`` (see the module docstring)."""
    if not menu:
        return "the menu has no entries"
    number = None if value is None else grub_strtoul(value)
    if value is not None and value.lstrip()[:1].isdigit():
        lead = re.match(r"[0-9A-Za-z]*", value.lstrip()).group(0)
        # review-s3 f3: 0X.., 0x without digits, 08/09 (octal on some GRUB builds) and numbers
        # past 2^31 (cast to int on x86_64-efi) are read differently by GRUB versions
        if not re.fullmatch(r"0|[1-9][0-9]*", lead) or (number or 0) >= 2**31:
            return f"default={value!r} is read differently by GRUB versions and platforms"
    chosen: _Item | None = None
    if value is not None and number is None:
        for item in menu:
            if item.title is None or item.id is None:
                return f"an entry's title is not known, so which entry is named {value!r} is not known"
            if _named(item, value):
                if not item.certain:
                    return f"the entry named {value!r} is inside an 'if' whose condition is not known"
                if not item.placed and sum(_named(other, value) for other in menu) > 1:
                    return f"two entries are named {value!r} and {_UNPLACED}"
                chosen = item
                break
    elif number is not None:
        for k, item in enumerate(menu):
            if not item.certain:
                return (
                    f"entry {number} depends on an entry defined inside an 'if' whose condition is not known"
                )
            if not item.placed:
                return f"which entry is number {number} is not known: {_UNPLACED}"
            if k == number:
                chosen = item
                break
    if chosen is None:  # GRUB falls back to the first entry
        if not menu[0].certain:
            return "the first menu entry is inside an 'if' whose condition is not known"
        if not menu[0].placed:
            return f"which entry is first is not known: {_UNPLACED}"
        chosen = menu[0]
    return chosen


def _pick_one(menu: list[_Item], value) -> _Item | str:
    """``_pick`` for a default that may hold several values (set in an 'if' GRUB decides at
    boot): the item only when every value boots the same one (and, for a submenu, names the
    same entry inside it)."""
    if not isinstance(value, _Values):
        return _pick(menu, value)
    specs = sorted(value)
    picks = [_pick(menu, spec) for spec in specs]
    why = next((p for p in picks if isinstance(p, str)), None)
    if why:
        return why
    same_inside = picks[0].kind != "submenu" or len({_after_first_gt(s) for s in specs}) == 1
    if any(p is not picks[0] for p in picks) or not same_inside:
        return (
            f"'set default' is inside an 'if' whose condition is not known: default may be {_shown(specs)}, "
            "which boot different entries"
        )
    return picks[0]


# How statements end (execute.c function_return): run on, a return ran, a return may have run.
_ON, _MAYBE, _RETURNED = "", "may return", "returned"
_BOOTED = "\0booted"  # an entry's 'boot' ran: no reason, and its later lines never run
# Commands after which GRUB's menu boots no entry of this grub.cfg (minicmd.c, normal/main.c).
_LEAVES = ("exit", "reboot", "halt", "normal_exit")
# GRUB 2.06 command names (command.lst of i386-pc and x86_64-efi, kernel commands, rhboot's
# blscfg): execute.c runs a command before a function of the same name.
_GRUB_COMMANDS = frozenset(
    """915resolution acpi all_functional_test appleloader authenticate background_color
    background_image backtrace badram blocklist bls_import blscfg boot break cat cbmemc chainloader
    clear cmosclean cmosdump cmosset cmostest cmp configfile continue coreboot_boottime cpuid crc
    cryptomount cutmem date decrement distrust drivemap dump echo efiemu_loadcore efiemu_prepare
    efiemu_unload eval exit export extract_entries_configfile extract_entries_source
    extract_legacy_entries_configfile extract_legacy_entries_source
    extract_syslinux_entries_configfile extract_syslinux_entries_source fakebios false file
    fix_video freedos functional_test fwsetup gdbstub gdbstub_break gdbstub_stop gettext gptsync
    halt hashsum hdparm hello help hexdump hexdump_random hwmatch inb increment initrd initrd16
    initrdefi inl insmod inw keymap keystatus kfreebsd kfreebsd_loadenv kfreebsd_module
    kfreebsd_module_elf knetbsd knetbsd_module knetbsd_module_elf kopenbsd kopenbsd_ramdisk
    legacy_check_password legacy_configfile legacy_initrd legacy_initrd_nounzip legacy_kernel
    legacy_password legacy_source linux linux16 linuxefi list_env list_trusted load_env loadbios
    loadfont loopback ls lsacpi lsapm lscoreboot lsefi lsefimmap lsefisystab lsfonts lsmmap lsmod
    lspci lssal macppcbless mactelbless md5sum menuentry module module2 multiboot multiboot2
    nativedisk net_add_addr net_add_dns net_add_route net_bootp net_bootp6 net_del_addr net_del_dns
    net_del_route net_dhcp net_get_dhcp_option net_ipv6_autoconf net_ls_addr net_ls_cards
    net_ls_dns net_ls_routes net_nslookup normal normal_exit ntldr outb outl outw parttool password
    password_pbkdf2 pcidump plan9 play probe pxechainloader rdmsr read read_byte read_dword
    read_word reboot regexp return rmmod save_env search sendkey serial set setparams setpci
    sha1sum sha256sum sha512sum shift sleep smbios source submenu syslinux_configfile
    syslinux_source terminal_input terminal_output terminfo test test_blockarg testload testspeed
    time tr true truecrypt trust unset usb vbeinfo vbetest verify_detached videoinfo videotest
    write_byte write_dword write_word wrmsr xnu_devprop_load xnu_kernel xnu_kernel64 xnu_kext
    xnu_kextdir xnu_mkext xnu_ramdisk xnu_resume xnu_splash xnu_uuid zfsinfo zfskey""".split()
)


# Commands whose arguments name what they change or run: arguments not known are a reason.
_NAMES_WHAT_IT_CHANGES = (
    *("load_env", "source", ".", "eval", "configfile", "blscfg", "unset", "export"),
    *KERNEL_WORDS,
    *_LEAVES,
)


# Commands that set variables at boot (see _sets_by_value); with an argument not known which
# variable they set is not known either (review-r2 #6).
_SETTERS = ("hwmatch", "read", "net_get_dhcp_option", "increment", "decrement", "probe", "regexp", "smbios", "tr")


def _sets_by_value(head: str, args: list[str]) -> list[str]:
    """Variables a GRUB command sets to a value read at boot (hwmatch.c sets $match; read.c
    the names it gets; probe, regexp, smbios, tr, net_get_dhcp_option the one named by
    --set/-s or their first argument; rhboot's increment/decrement the ones named): not
    known."""
    if head == "hwmatch":
        return ["match"]
    if head == "read":
        return [a for a in args if not a.startswith("-")]
    if head == "net_get_dhcp_option":
        return args[:1]
    if head in ("increment", "decrement"):  # rhboot increment.c: the variables named
        return [a for a in args if not a.startswith("-")]
    if head not in ("probe", "regexp", "smbios", "tr"):  # tr.c: --set/-s VARNAME (review-r2 #13)
        return []
    names = [a.partition("=")[2] for a in args if a.startswith("--set=")]
    names += [args[k + 1] for k, a in enumerate(args[:-1]) if a in ("--set", "-s")]
    return [n.rpartition(":")[2] for n in names if n]  # regexp: --set [NUMBER:]NAME


_SEARCHES = ("search", "search.fs_uuid", "search.fs_label", "search.file")


def _search_target(head: str, args: list[str]) -> list[str]:
    """The variable search.c sets to the device found (--set=VAR, --set: root; the
    search.* forms: their second argument)."""
    target = next((a.split("=", 1)[1] for a in args if a.startswith("--set=")), None)
    if target is None and head != "search" and len(args) >= 2 and not args[1].startswith("-"):
        target = args[1]
    if target is None and ("--set" in args or "-s" in args):
        target = "root"
    return [target] if target else []


# legacycfg.c, syslinux_parse.c, extract_entries_*: menus made from GRUB legacy's menu.lst,
# syslinux.cfg or a file's entries only (review-r2 #11): reasons.
_OTHER_MENUS = (
    *("legacy_source", "legacy_configfile", "syslinux_source", "syslinux_configfile"),
    *("extract_entries_source", "extract_legacy_entries_source", "extract_legacy_entries_configfile"),
    *("extract_syslinux_entries_source", "extract_syslinux_entries_configfile"),
)
# Loaders an entry may run after its linux line: the last one loaded boots (review-r2 #12).
_OTHER_LOADERS = (
    *("legacy_kernel", "legacy_initrd", "legacy_initrd_nounzip", "kfreebsd", "knetbsd", "kopenbsd"),
    *("xnu_kernel", "xnu_kernel64", "plan9", "ntldr", "freedos", "truecrypt", "pxechainloader"),
    *("appleloader", "module", "module2"),
)


def _maybe(step: str) -> str:
    return _ON if step == _ON else _MAYBE


def _flow(steps: list[str]) -> str:
    return _RETURNED if _RETURNED in steps else _MAYBE if _MAYBE in steps else _ON


@dataclass
class _Function:
    """What a function name stands for: one body, or (defined under an undecided
    condition) any of these bodies or none."""

    bodies: list[list]
    certain: bool


_POSITIONAL = re.compile(r"[0-9]+|[#@*]")


def _positional(env: dict, args: list[str] | None) -> dict:
    """execute.c scopes: a call's arguments become $1.., $#, $@, $* (None: not known);
    returns the parameters they replace."""
    saved = {k: env.pop(k) for k in [k for k in env if _POSITIONAL.fullmatch(k)]}
    if args is None:
        env.update({"#": _UNKNOWN, "@": _UNKNOWN, "*": _UNKNOWN})
    else:
        env.update({str(k): arg for k, arg in enumerate(args, 1)})
        joined = args[0] if len(args) == 1 else "" if not args else _UNKNOWN  # "$@": one field each
        env.update({"#": str(len(args)), "@": joined, "*": joined})
    return saved


def _scope_args(item: _Item) -> list[str] | None:
    """menuentry.c: an entry's body runs with setparams TITLE ARGS.. (menu.c runs it in a
    new scope of the same): $1 is the title, $2.. the arguments after it."""
    return None if item.title is None else [item.title, *item.args]


def _restore(env: dict, saved: dict) -> None:
    for k in [k for k in env if _POSITIONAL.fullmatch(k)]:
        del env[k]
    env.update(saved)


class _Grub:
    """Runs a grub.cfg the way GRUB's normal mode does, as far as the default entry goes."""

    def __init__(
        self, path: str, files: dict[str, str], envs: dict[str, str], bls: dict[str, str], platform="pc"
    ):
        self.path = path
        self.folder = path.rsplit("/", 1)[0]
        self.files, self.envs, self.bls, self.depth = files, envs, bls, 0
        self.vars: dict = {name: "y" for name in _FEATURES}
        self.vars.update(prefix=self.folder, config_directory=self.folder, root="hd0")
        # $? is the status of the command before, which is not modelled
        self.vars.update(
            {"grub_platform": platform, "grub_cpu": _UNKNOWN, "cmdpath": _UNKNOWN, "?": _UNKNOWN}
        )
        self.exported: set[str] = {*_FEATURES, "grub_platform"}
        self.unsure: set[str] = set()  # exported on some paths only (review-r2 #15)
        self.functions: dict[str, _Function] = {}
        self.scope = ""  # execute.c scope: "" (grub.cfg), function, submenu body, sourced file
        self.running: list[str] = []  # the functions being called
        self.menu: list[_Item] = []
        self.problem = ""  # a reason the default entry cannot be told
        self.delegate: str | None = None  # a configfile that takes over
        self.blscfg = False

    # -- files the script names
    def exists(self, path: str) -> bool | None:
        """A file GRUB tests: True/False when it is one of the files read (or looked for
        and absent), None when nothing tells. A path without /boot may be on a separate
        /boot partition (GRUB names files relative to their file system)."""
        if _other_device(path):
            return None
        candidates = _candidates(path)
        if any(c in self.files or c in self.envs for c in candidates):
            return True
        if any(fnmatch.fnmatch(c, p) for c in candidates for p in GRUB_CFG_PATHS + GRUBENV_PATHS):
            return False
        return None

    def sizeable(self, path: str) -> bool | None:
        """Whether a file read has a size > 0: True when it has text; an empty text may be a
        file read as empty or one the recording cut, so not known."""
        found = self._known_file(path) or self._known_file(path, self.envs)
        if found is None:
            return None
        return True if (self.files.get(found) or self.envs.get(found) or "").strip() else None

    def _known_file(self, path: str, files: dict | None = None) -> str | None:
        files = self.files if files is None else files
        if _other_device(path):
            return None
        return next((c for c in _candidates(path) if c in files), None)

    # -- statements
    def run(self, nodes: list, certain: bool, env: dict | None = None) -> str:
        """Runs statements in order; returns how they end (execute.c): _ON, _RETURNED (a
        ``return`` ran: GRUB skips the rest of the function) or _MAYBE (one may have run:
        the rest runs as under an undecided if)."""
        env = self.vars if env is None else env
        flow = _ON
        for node in nodes:
            if self.problem or self.delegate:
                break
            step = self._node(node, certain, env)
            if step == _RETURNED:
                return _RETURNED
            if step == _MAYBE:
                flow, certain = _MAYBE, False
        return flow

    def _node(self, node, certain: bool, env: dict) -> str:
        if isinstance(node, _Block):
            self._block(node, certain, env)
            return _ON
        if isinstance(node, _If):
            return self._if(
                node,
                certain,
                env,
                lambda body, sure, path: self.run(body, sure, path),
                lambda words, sure, path: self._command(words, sure, path),
            )
        if isinstance(node, _Loop):
            return self._loop(node, env)
        return self._command(node.words, certain, env)

    def _block(self, node: _Block, certain: bool, env: dict) -> None:
        if node.kind == "function":
            self._define(node.words[0].raw, node.body, certain)
            return
        if node.kind not in ("menuentry", "submenu"):
            if "$" in node.kind:
                self.problem = f"a block of '{node.kind}', a command named by a variable (not modelled)"
            return
        try:
            title, ident, args, why = _menuentry_args(_expand_all(node.words, env))
        except _Unknown:
            title = ident = None
            args, why = [], ""
            certain = False
        if why:
            self.problem = f"{node.kind} '{_text(node.words)}': {why}"
            return
        self.menu.append(_Item(node.kind, title, ident, certain is True, body=node.body, args=args))

    def _define(self, name: str, body: list, certain: bool) -> None:
        """function.c: a definition replaces the one before. Under an undecided condition
        (a file sourced inside an undecided if) the name may stand for either, or for none."""
        if name in self.running:
            self.problem = f"function '{name}' is redefined while it runs (GRUB frees the running body)"
        elif certain:
            self.functions[name] = _Function([body], True)
        else:
            before = self.functions.get(name)
            self.functions[name] = _Function([*(before.bodies if before else []), body], False)

    def _if(self, node: _If, certain, env: dict, run, command) -> str:
        """GRUB's if: each condition is a command that runs (its effects count) until one is
        true; a branch after an undecided condition runs as not certain, and a ``return`` in
        it only may have run. On an exact path each branch of an undecided condition runs on
        its own copy of the variables (_FORKED) and the paths are merged after the 'fi': a
        variable holds every value a path may leave (value sets, never a guess); elsewhere (a
        loop body) what a branch sets is not known."""
        now, forks, flows = certain, [], []
        for condition, body in node.branches:
            step = command(condition, now, env)
            if step == _RETURNED and now is True:
                return _RETURNED
            flows.append(step if now is True else _maybe(step))
            if step != _ON:  # a return may have run: the rest is neither certain nor exact
                now = False
            value = self._condition(condition, env) if _exact(now) else None
            if value is True:
                step = run(body, now, env)
                flows.append(step if now is True else _maybe(step))
                break
            if value is None:
                if _exact(now):
                    fork = dict(env)
                    flows.append(_maybe(run(body, _FORKED, fork)))
                    forks.append(fork)
                    now = _FORKED
                else:
                    flows.append(_maybe(run(body, False, env)))
        else:
            if node.orelse is not None:
                step = run(node.orelse, now, env)
                flows.append(step if now is True else _maybe(step))
        if forks:
            _merge(env, [*forks, env])
        return _flow(flows)

    def _loop(self, node: _Loop, env: dict) -> str:
        """while/until run their condition at least once and the body maybe; for sets its
        variable to each word: both as under an undecided if."""
        words, step = node.words, _ON
        if words[0].bare == "for" and len(words) > 1:
            env[words[1].raw] = _UNKNOWN
        elif len(words) > 1:
            step = self._command(words[1:], False, env)
        if step == _RETURNED:  # its condition returns: the body never runs
            return _RETURNED
        return _flow([_maybe(step), _maybe(self.run(node.body, False, env))])

    def _condition(self, words: list[_Word], env: dict) -> bool | None:
        """A test's answer; over several-valued variables only when every value gives the
        same answer."""
        try:
            alternatives = _alternatives(words, env)
        except _Unknown:
            return None
        answers = {self._test_args(args) for args in alternatives}
        return answers.pop() if len(answers) == 1 else None

    def _test_args(self, args: list[str]) -> bool | None:
        if args[:1] == ["["] and args[-1:] == ["]"]:
            return _test(args[1:-1], self.exists, self.sizeable)
        if args[:1] == ["test"]:
            return _test(args[1:], self.exists, self.sizeable)
        return None

    def _assign(self, text: str, certain: bool, env: dict) -> None:
        name, _, value = text.partition("=")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            env[name] = value if _exact(certain) else _UNKNOWN

    def _command(self, words: list[_Word], certain, env: dict) -> str:
        """One command line: its name and arguments expanded first (execute.c: the name may
        come from a variable), then a GRUB command, else a function, else ``name=value``.
        Over several-valued variables: an assignment runs once per combination of values,
        each on its own copy, merged after; a function runs once with $1.. several-valued;
        any other command gets an argument not known."""
        if not words:
            return _ON
        try:
            combos = _combos(words, env)
        except _Unknown:
            combos = [{}]  # too many: expanding below meets a value not known
        if len(combos) > 1:
            return self._several(words, combos, certain, env)
        return self._simple(words, certain, env, env)

    def _several(self, words: list[_Word], combos: list[dict], certain, env: dict) -> str:
        heads = set()
        for combo in combos:
            try:
                argv = _expand(words[0], {**env, **combo})
            except _Unknown:
                argv = [None]
            heads.add(argv[0] if argv else "")
        head = next(iter(heads)) if len(heads) == 1 else None
        if _assigned(words[0]) or head in ("set", "unset", "export"):
            paths = []
            for combo in combos:
                path = dict(env)
                self._simple(words, certain, path, {**env, **combo})
                paths.append(path)
            _merge(env, paths)
            return _ON
        single = all(len(_expand(words[0], {**env, **combo})) == 1 for combo in combos) if head else False
        if single and head in self.functions and head not in _GRUB_COMMANDS:
            return self._call(head, _call_args(words[1:], env), certain, env)
        return self._simple(words, certain, env, env)  # an argument is not known (see _unknown_args)

    def _simple(self, words: list[_Word], certain, env: dict, values: dict) -> str:
        """A command whose words expand from ``values`` and that changes ``env``."""
        try:
            argv = _expand(words[0], values)
        except _Unknown as exc:
            if _assigned(words[0]):
                env[_assigned(words[0])] = _UNKNOWN
            else:
                self.problem = f"'{_text(words)}' runs a command named by {exc.why}"
            return _ON
        if not argv:
            return _ON
        head = argv[0]
        try:
            args = argv[1:] + _expand_all(words[1:], values)
        except _Unknown as exc:
            return self._unknown_args(head, words, exc, certain, env)
        if head == "!" and args:  # execute.c: '!' runs the command after it, status inverted
            head, args = args[0], args[1:]
        return self._dispatch(head, args, words, certain, env)

    def _unknown_args(self, head: str, words: list[_Word], exc: _Unknown, certain: bool, env: dict) -> str:
        if head == "!" and len(words) > 1:  # execute.c: '!' runs the command after it
            try:
                argv = _expand(words[1], env)
            except _Unknown:
                argv = []
            head = argv[0] if len(argv) == 1 else head
            words = words[1:]
        if head == "set":
            for word in words[1:]:
                env[word.raw.split("=", 1)[0]] = _UNKNOWN
        elif head in _NAMES_WHAT_IT_CHANGES or head in _SETTERS:
            self.problem = f"'{_text(words)}' uses {exc.why}"
        elif head == "return":
            return self._return(["?"], certain)
        elif head in ("setparams", "shift"):
            _positional(env, None)
        elif head in self.functions:
            return self._call(head, None, certain, env)
        elif re.match(r"[A-Za-z_][A-Za-z0-9_]*=", head):
            env[head.split("=", 1)[0]] = _UNKNOWN
        return _ON

    def _dispatch(self, head: str, args: list[str], words: list[_Word], certain: bool, env: dict) -> str:
        if head == "set":
            for arg in args:
                if "=" in arg:
                    self._assign(arg, certain, env)
        elif head == "unset":  # env.c grub_env_unset: the variable goes, with its export flag
            for arg in args:
                env[arg] = "" if _exact(certain) else _UNKNOWN
                if arg in self.exported and certain is not True:
                    self.unsure.add(arg)
                elif certain is True:
                    self.unsure.discard(arg)
                self.exported.discard(arg)
        elif head == "export":
            if certain is True:
                self.exported.update(args)
                self.unsure.difference_update(args)
            else:  # review-r2 #15: an export GRUB decides at boot whether to run
                self.unsure.update(a for a in args if a not in self.exported)
        elif head in _SEARCHES:
            for target in _search_target(head, args):
                env[target] = "hd0"  # a device: paths are read from this image's file systems
        elif head == "load_env":
            self._load_env(args, certain, env)
        elif _sets_by_value(head, args):  # hwmatch, read, probe/regexp/smbios --set: values not modelled
            for name in _sets_by_value(head, args):
                env[name] = _UNKNOWN
        elif head in ("source", "."):
            self._source(args, certain, env)
        elif head == "eval":
            self._script(" ".join(args), f"'eval {' '.join(args)}'", certain, env)
        elif head in ("configfile", "normal", "extract_entries_configfile"):
            if not certain:
                self.problem = f"'{_text(words)}' is inside an 'if' whose condition is not known"
                return _ON
            target = self._known_file(args[0]) if args else None
            if target is None:
                self.problem = f"grub.cfg hands over to {args[0] if args else '?'} ({head}), a file not read"
            else:
                self.delegate = target
        elif head in ("menuentry", "submenu"):
            self.problem = f"'{_text(words)}' defines an entry without a block (--source; not modelled)"
        elif head in _OTHER_MENUS:
            self.problem = (
                f"'{_text(words)}' adds the entries of another boot loader's file or of a file not "
                "run as grub.cfg (not modelled)"
            )
        elif head in ("blscfg", "bls_import"):
            if args:
                self.problem = f"'{_text(words)}' (blscfg with arguments) is not read"
                return _ON
            self.blscfg = True
            for entry in _bls_items(self.bls, env, certain is True):
                self.menu.append(entry)
        elif head in KERNEL_WORDS or head == "boot":
            if certain:
                self.problem = f"grub.cfg runs '{head}' outside any menu entry"
        elif head in _LEAVES:
            self.problem = (
                f"grub.cfg runs '{head}'{'' if certain else ' inside an if whose condition is not known'}: "
                "GRUB leaves or restarts before its menu boots an entry"
            )
        elif head == "return":
            return self._return(args, certain)
        elif head in ("setparams", "shift"):
            _positional(env, None)
        elif head in self.functions:
            return self._call(head, args, certain, env)
        elif re.match(r"[A-Za-z_][A-Za-z0-9_]*=", head):  # execute.c: the last resort, an assignment
            self._assign(head, certain, env)
        return _ON

    def _return(self, args: list[str], certain: bool) -> str:
        """execute.c grub_script_return: outside any scope (the grub.cfg run by normal mode)
        an error and nothing more; in a function it ends the function (an argument that is
        not a number: an error instead). In a submenu body or a file sourced by a function
        GRUB goes on running the first command of each later line: not modelled."""
        if not self.scope or len(args) > 1:
            return _ON
        if self.scope != "function":
            self.problem = f"'return' runs in a {self.scope}: what GRUB runs after it is not modelled"
            return _ON
        if args and not re.fullmatch(r"[0-9]+", args[0]):
            return _MAYBE
        return _RETURNED

    def _call(self, name: str, args: list[str] | None, certain: bool, env: dict) -> str:
        """grub_script_function_call: the body runs with the arguments as $1.. ($# ..), and a
        ``return`` ends it. A GRUB command of the same name is run instead of the function."""
        if name in _GRUB_COMMANDS:
            self.problem = (
                f"'{name}' is both a function here and a GRUB command (named like GRUB's command; "
                "GRUB runs the command where its module exists): not modelled"
            )
            return _ON
        if self.depth >= MAX_DEPTH:
            self.problem = f"function calls and sourced files nest deeper than {MAX_DEPTH} ('{name}')"
            return _ON
        function = self.functions[name]
        saved, scope = _positional(env, args), self.scope
        self.depth, self.scope = self.depth + 1, "function"
        self.running.append(name)
        for body in function.bodies:
            self.run(body, certain and function.certain, env)
        self.running.pop()
        self.depth, self.scope = self.depth - 1, scope
        _restore(env, saved)
        return _ON

    def _load_env(self, args: list[str], certain: bool, env: dict) -> None:
        path, names, skip = f"{self.folder}/grubenv", [], False
        for k, arg in enumerate(args):
            if skip:
                skip = False
            elif arg in ("-f", "--file"):
                path, skip = (args[k + 1] if k + 1 < len(args) else path), True
            elif arg.startswith("--file="):
                path = arg[7:]
            elif not arg.startswith("-"):
                names.append(arg)
        found = self._known_file(path, self.envs)
        if found is None:
            if self.exists(path) is None:
                self.problem = f"grub.cfg loads {_strip_device(path)} (load_env), a file not read"
            return  # GRUB: the file does not exist, nothing is loaded
        for name, value in parse_grubenv(self.envs[found]).items():
            if not names or name in names:
                env[name] = value if _exact(certain) else _UNKNOWN

    def _source(self, args: list[str], certain: bool, env: dict) -> None:
        if not args:
            return
        target = self._known_file(args[0])
        if target is None:
            if self.exists(args[0]) is False:
                return  # GRUB: file not found, nothing runs
            self.problem = f"grub.cfg sources {args[0]}, a file not read"
            return
        self._script(self.files[target], target, certain, env)

    def _script(self, text: str, name: str, certain: bool, env: dict) -> None:
        """A file sourced, or eval's arguments (eval.c: joined by spaces): run statement by
        statement in the current scope (grub_script_execute_sourcecode)."""
        if self.depth >= MAX_DEPTH:
            self.problem = f"grub.cfg sources or evals {name} too deeply"
            return
        try:
            nodes = _parse(_commands(text))[0]
        except _Unparsable as exc:
            self.problem = f"{name}: {exc}"
            return
        scope = self.scope
        self.depth, self.scope = self.depth + 1, scope and "file sourced (or eval) in a function or submenu"
        self.run(nodes, certain, env)
        self.depth, self.scope = self.depth - 1, scope

    # -- the entry booted
    def entry_of(self, item: _Item, env: dict) -> BootEntry | str:
        if item.entry is not None:
            return item.entry
        local = dict(env)
        _positional(local, _scope_args(item))
        found = BootEntry(self.path, item.title or "", item.id or "")
        why = self._entry_body(item.body, local, found, True, 0)
        if why and why != _BOOTED:
            return f"entry '{item.title}': {why}"
        if not found.kernel:
            return f"entry '{item.title}' loads no Linux kernel (linux line)"
        return found

    def _entry_body(self, nodes: list, env: dict, found: BootEntry, certain: bool, depth: int) -> str:
        """Runs an entry's statements for its kernel line: a reason when something may change
        what it gets, _BOOTED when ``boot`` ran (later lines never run), else ""."""
        for node in nodes:
            if isinstance(node, _If):
                why = self._entry_if(node, env, found, certain, depth)
            elif isinstance(node, _Loop):
                why = "it runs a loop (its effects on the kernel line are not modelled)"
            elif isinstance(node, _Block):
                why = "its kernel line is inside a nested block" if _mentions_kernel(node) else ""
            else:
                why = self._entry_command(node.words, env, found, certain, depth)
            if why:
                return why
        return ""

    def _entry_if(self, node: _If, env: dict, found: BootEntry, certain: bool, depth: int) -> str:
        whys: list[str] = []

        def run(body: list, sure, path: dict) -> str:
            whys.append(self._entry_body(body, path, found, sure, depth))
            return _ON

        def command(words: list[_Word], sure, path: dict) -> str:
            whys.append(self._entry_command(words, path, found, sure, depth))
            return _ON

        self._if(node, certain, env, run, command)
        reasons = [w for w in whys if w and w != _BOOTED]
        return reasons[0] if reasons else _BOOTED if _BOOTED in whys else ""

    def _entry_command(
        self, words: list[_Word], env: dict, found: BootEntry, certain: bool, depth: int
    ) -> str:
        if not words:
            return ""
        if words[0].raw == "!" and not _has_var(words[0]):  # execute.c: runs the command after '!'
            return self._entry_command(words[1:], env, found, certain, depth)
        if _named_by_var(words[0]):
            return f"it runs '{_text(words)}', a command named by a variable (not modelled)"
        head = words[0].raw
        if head in _SETTERS or head in _SEARCHES:
            # review-r2 #4: regexp/probe/tr/search --set.. inside the entry: what they set is
            # read at boot, so not known for the rest of the entry
            try:
                args = _expand_all(words[1:], env)
            except _Unknown as exc:
                return f"it runs '{_text(words)}', which uses {exc.why}"
            for name in _sets_by_value(head, args) or _search_target(head, args) or []:
                env[name] = _UNKNOWN
            return ""
        if head in KERNEL_WORDS or head in INITRD_WORDS:
            if not certain:
                return f"its '{head}' line is inside an 'if' whose condition is not known"
            try:
                lines = _alternatives(words[1:], env)
            except _Unknown as exc:
                return f"its '{head}' line uses {exc.why}"
            varies = _varies(words[1:], env) if len(lines) > 1 else ""
            if head in KERNEL_WORDS:
                if not all(lines):
                    return f"its '{head}' line names no kernel" + (f" when {varies}" if varies else "")
                if len({line[0] for line in lines}) > 1:
                    return f"its '{head}' line names kernel {_shown({line[0] for line in lines})}, by {varies}"
                found.kernel, found.params, found.initrds = lines[0][0], lines[0][1:], []
                found.alternatives = [line[1:] for line in lines] if len(lines) > 1 else []
                found.decided_by = varies and f"{varies}, set in an 'if' GRUB decides at boot"
            elif len(lines) > 1:
                return f"its '{head}' line loads {_shown(' '.join(line) for line in lines)}, by {varies}"
            else:
                found.initrds = lines[0]
        elif head == "set" or re.match(r"[A-Za-z_][A-Za-z0-9_]*=", head):
            self._command(words, certain, env)
        elif head == "boot":  # GRUB boots right here: later lines of the entry never run
            if not certain:
                return "its 'boot' command is inside an 'if' whose condition is not known"
            return _BOOTED
        elif head in (
            "source",
            ".",
            "configfile",
            "blscfg",
            "chainloader",
            "multiboot",
            "multiboot2",
            *_OTHER_LOADERS,
            *_OTHER_MENUS,
            *_LEAVES,
        ):
            return f"it runs '{head}'"
        elif head in ("unset", "load_env", "eval", "return", "read", "export", "setparams", "shift"):
            return f"it runs '{head}' inside the entry, which may change what its kernel line gets"
        elif head in self.functions:
            return self._entry_call(head, words, env, found, certain, depth)
        return ""

    def _entry_call(
        self, name: str, words: list[_Word], env: dict, found: BootEntry, certain: bool, depth: int
    ) -> str:
        """A function called by the entry: its body as part of the entry (see ``_call``)."""
        if name in _GRUB_COMMANDS:
            return f"it calls '{name}', both a function here and a GRUB command (not modelled)"
        if depth >= MAX_DEPTH:
            return f"its function calls nest deeper than {MAX_DEPTH} ('{name}')"
        args = _call_args(words[1:], env)  # $1.. may be several-valued
        function, saved, why = self.functions[name], _positional(env, args), ""
        for body in function.bodies:
            why = self._entry_body(body, env, found, certain and function.certain, depth + 1)
            if why:
                break
        _restore(env, saved)
        return why

    def context(self, value: str | None, everything: bool = False) -> dict:
        """A submenu's context: exported variables only (``everything``: all of them, as
        rhboot's GRUB), default set to what follows '>'. A variable whose export is not
        certain (an 'export' GRUB decides at boot whether to run) is not known there."""
        local = {k: v for k, v in self.vars.items() if everything or k in self.exported}
        if not everything:
            local.update({k: _UNKNOWN for k in self.unsure if self.vars.get(k, "") != ""})
        if value is not None:
            local["default"] = value
        local["timeout"] = "0"
        local["?"] = _UNKNOWN
        return local


def _mentions_kernel(node) -> bool:
    if isinstance(node, _Cmd):
        return node.words[0].bare in KERNEL_WORDS + INITRD_WORDS
    if isinstance(node, _If):
        return any(_mentions_kernel(n) for _, body in node.branches for n in body) or any(
            _mentions_kernel(n) for n in node.orelse or []
        )
    return any(_mentions_kernel(n) for n in node.body)


def parse_grubenv(text: str) -> dict[str, str]:
    """A grubenv block as envblk.c's grub_envblk_iterate reads it: ``#`` lines are padding,
    ``name=value`` up to a newline, where a backslash takes the next character as it is
    (review-r2 #9: ``\\n`` is ``n``, ``\\\\`` a backslash, a backslash and a newline continue
    the value with a newline). A line without '=' runs into the next one's name (as GRUB)."""
    values: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        if text[i] == "#" or text[i] == "\n":  # padding; an empty line (never written by GRUB)
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        name, i = _envblk_until(text, i, "=")
        if i >= n:
            break
        value, i = _envblk_until(text, i + 1, "\n")
        i += 1
        if name:
            values[name] = value
    return values


def _envblk_until(text: str, i: int, stop: str) -> tuple[str, int]:
    """The characters from ``i`` up to an unescaped ``stop`` (a backslash takes the next
    character as it is) and the index of that ``stop`` (``len(text)`` when there is none)."""
    out: list[str] = []
    n = len(text)
    while i < n and text[i] != stop:
        if text[i] == "\\" and i + 1 < n:
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i


def grub_default_entry(
    path: str, files: dict[str, str], envs: dict[str, str] | None = None, bls: dict[str, str] | None = None
) -> BootEntry | str | None:
    """The entry GRUB boots from the grub.cfg ``path`` (``files``: every grub.cfg and
    custom.cfg read, ``envs``: grubenv files, ``bls``: /boot/loader/entries/*.conf).
    None when the file defines no entry (an EFI stub handing over to another grub.cfg read
    here, or an empty file); a reason (str) when the default cannot be told."""
    # Azure boots an image by BIOS (Gen1, grub_platform=pc) or UEFI (Gen2, efi): the answer
    # holds only when both give the same entry.
    bios, uefi = (_grub_default(path, files, envs or {}, bls or {}, 0, p) for p in ("pc", "efi"))
    if isinstance(bios, BootEntry) and isinstance(uefi, BootEntry):
        if bios.same_boot(uefi):
            bios.fallback = bios.fallback or uefi.fallback
            return bios
        if (bios.kernel, bios.initrds) == (uefi.kernel, uefi.initrds):
            # the same kernel, lines that differ by $grub_platform (Ubuntu's linux_gfx_mode):
            # the kernel may get any line either firmware boots
            lines = [*bios.lines, *(line for line in uefi.lines if line not in bios.lines)]
            why = " and ".join(
                f"{firmware}: {entry.decided_by}"
                for firmware, entry in (("BIOS", bios), ("UEFI", uefi))
                if entry.decided_by
            )
            decided_by = "the firmware (BIOS/Gen1 or UEFI/Gen2; grub.cfg tests $grub_platform)" + (
                f" and {why}" if why else ""
            )
            titles = bios.title if bios.title == uefi.title else f"{bios.title}' or '{uefi.title}"
            return BootEntry(
                bios.source, titles, bios.id, bios.kernel, lines[0], bios.initrds, lines, decided_by,
                bios.fallback or uefi.fallback,
            )
        return (
            f"{path}: BIOS (Gen1) boots '{bios.title}' and UEFI (Gen2) boots '{uefi.title}' "
            "(grub.cfg tests $grub_platform); which one the VM uses is not in the image"
        )
    if bios is None and uefi is None:
        return None
    return next(
        (r for r in (bios, uefi) if isinstance(r, str)), f"{path}: defines entries for one firmware only"
    )


def _grub_default(path, files, envs, bls, depth, platform) -> BootEntry | str | None:
    try:
        nodes = _parse(_commands(files[path]))[0]
    except _Unparsable as exc:
        return f"{path}: {exc}"
    grub = _Grub(path, files, envs, bls, platform)
    grub.run(nodes, True)
    if grub.problem:
        return f"{path}: {grub.problem}"
    if grub.delegate:
        if grub.delegate == path or depth >= MAX_DEPTH:
            return f"{path}: hands over to {grub.delegate} in a loop"
        if not grub.menu:
            return None  # a stub: the other file is judged by itself
        return _grub_default(grub.delegate, files, envs, bls, depth + 1, platform)
    if not grub.menu:
        return None
    found = _grub_entry(path, files, envs, bls, platform, grub)
    fallback = grub.vars.get("fallback", "")
    if isinstance(found, BootEntry) and fallback != "":
        found.fallback = fallback if isinstance(fallback, str) else "?"
    return found


def _grub_entry(path, files, envs, bls, platform, grub: _Grub) -> BootEntry | str:
    value = grub.vars.get("default")
    if value is _UNKNOWN:
        return (
            f"{path}: default is not known: 'set default' is inside an 'if' whose condition is not known "
            "or a loop, or a command sets it at boot (increment, regexp --set..)"
        )
    upstream, entered = _descend(path, files, envs, bls, platform, grub, value, rhboot=False)
    if not entered:
        return upstream
    # review-r2 #16: rhboot's GRUB (Fedora, EL 9/10; 22c9bada1 "Export all variables from the
    # initial context when creating a submenu") copies every variable into a submenu and keeps
    # default there; upstream copies the exported ones and unsets default. Known only when
    # both boot the same line.
    rhboot, _ = _descend(path, files, envs, bls, platform, grub, value, rhboot=True)
    if isinstance(upstream, str):
        return upstream
    if isinstance(rhboot, str):
        return f"{rhboot} (with rhboot's GRUB of Fedora/EL, whose submenus keep every variable and default)"
    if upstream.same_boot(rhboot):
        return upstream
    other = f"'{rhboot.title}'" if rhboot.title != upstream.title else "another kernel line of it"
    return (
        f"{path}: upstream GRUB boots '{upstream.title}' and rhboot's GRUB (Fedora/EL: a submenu keeps "
        f"every variable and default) boots {other}; which GRUB the image has is not modelled"
    )


def _descend(path, files, envs, bls, platform, grub: _Grub, value, rhboot: bool) -> tuple:
    """The entry the menu's default boots, through submenus (upstream GRUB, or rhboot's with
    ``rhboot``); and whether a submenu was entered."""
    menu, env, spec, entered = grub.menu, grub.vars, value, False
    for _ in range(MAX_DEPTH):
        item = _pick_one(menu, spec)
        if isinstance(item, str):
            why = f"{path}: set default={_shown(value) if isinstance(value, _Values) else repr(value)}: {item}"
            return why, entered
        kept = spec
        spec = sorted(spec)[0] if isinstance(spec, _Values) else spec
        if item.kind != "submenu":
            entry = grub.entry_of(item, env)
            return (entry if isinstance(entry, BootEntry) else f"{path}: {entry}"), entered
        entered = True
        inside = None if spec is None else _after_first_gt(spec)
        env = grub.context(inside, everything=rhboot)
        if rhboot and inside is None and kept is not None:
            env["default"] = kept
        _positional(env, _scope_args(item))
        sub = _Grub(path, files, envs, bls, platform)
        sub.vars, sub.functions = env, grub.functions
        sub.exported = set(env) if rhboot else set(grub.exported)
        sub.unsure = set() if rhboot else set(grub.unsure)
        sub.scope = "submenu body"
        sub.run(item.body, item.certain)
        if sub.problem:
            return f"{path}: submenu '{item.title}': {sub.problem}", entered
        spec = env.get("default")
        if spec is _UNKNOWN:
            return f"{path}: submenu '{item.title}' sets default in an 'if' whose condition is not known", entered
        menu, grub = sub.menu, sub
        if not menu:
            return f"{path}: submenu '{item.title}' has no entries", entered
    return f"{path}: submenus nested too deeply", entered


def grub_kernel_params(text: str) -> list[list[str]]:
    """The parameters of every kernel line of a grub.cfg, as written (no expansion)."""
    found = []
    for command in _commands(text, strict=False):
        if command[0].bare == "!" and len(command) > 1:  # execute.c: '!' runs what follows
            command = command[1:]
        if command[0].bare in KERNEL_WORDS:
            found.append([w.raw for w in command[2:]])
    return found


_HANDS_OVER = (
    *("source", ".", "configfile", "normal", "legacy_configfile", "legacy_source"),
    *("extract_entries_configfile", "extract_entries_source", "extract_legacy_entries_configfile"),
    *("extract_legacy_entries_source", "extract_syslinux_entries_configfile"),
    *("extract_syslinux_entries_source", "syslinux_configfile", "syslinux_source"),
)


class _FolderOnly(dict):
    """$prefix and $config_directory as the file's folder; any other variable not known."""

    def get(self, key, default=None):
        return super().get(key, _UNKNOWN)


def grub_unseen(path: str, text: str, files: dict[str, str]) -> list[str]:
    """Commands of a GRUB file that may run kernel lines no scan of the files read sees: eval,
    a command named by a variable, a file sourced or handed over to that was not read and is
    not known to be absent (a path of GRUB_CFG_PATHS that was looked for)."""
    folder = path.rsplit("/", 1)[0]
    sets_prefix = re.search(r"\b(prefix|config_directory)=", text)
    env = _FolderOnly({} if sets_prefix else {"prefix": folder, "config_directory": folder})
    hidden = []
    for command in _commands(text, strict=False):
        head = command[0]
        if head.bare == "!" and len(command) > 1:
            command, head = command[1:], command[1]
        if head.bare == "eval" or _named_by_var(head) or head.bare in _OTHER_LOADERS:
            hidden.append(_text(command))
        elif head.bare in ("menuentry", "submenu") and (
            command[-1].bare != "{" or any(w.raw.startswith("--source") for w in command)
        ):  # review-r2 #8: a body given by --source, not a block the scan reads
            hidden.append(_text(command))
        elif head.bare in _HANDS_OVER and len(command) > 1:
            try:
                target = "".join(_expand(command[1], env))
            except _Unknown:
                hidden.append(_text(command))
                continue
            candidates = _candidates(target)
            read = any(c in files for c in candidates)
            absent = any(fnmatch.fnmatch(c, p) for c in candidates for p in GRUB_CFG_PATHS)
            if not (read or absent):
                hidden.append(_text(command))
    return hidden


# ----------------------------------------------------------------------------- BLS


def rpm_vercmp(a: str, b: str) -> int:
    """rpm's vercmp as blscfg copies it: 1 when ``a`` is newer, -1 when older, 0 same."""
    if a == b:
        return 0
    one, two = a, b
    while one or two:
        one = re.sub(r"^[^A-Za-z0-9~+]+", "", one)
        two = re.sub(r"^[^A-Za-z0-9~+]+", "", two)
        if one.startswith("~") or two.startswith("~"):
            if not one.startswith("~"):
                return 1
            if not two.startswith("~"):
                return -1
            one, two = one[1:], two[1:]
            continue
        if one.startswith("+") or two.startswith("+"):
            if not one:
                return -1
            if not two:
                return 1
            if not one.startswith("+"):
                return 1
            if not two.startswith("+"):
                return -1
            one, two = one[1:], two[1:]
            continue
        if not (one and two):
            break
        pattern = r"^[0-9]+" if one[0].isdigit() else r"^[A-Za-z]+"
        seg1 = re.match(pattern, one)
        seg2 = re.match(pattern, two)
        s1 = seg1.group(0) if seg1 else ""
        s2 = seg2.group(0) if seg2 else ""
        if not s2:
            return 1 if one[0].isdigit() else -1
        one, two = one[len(s1) :], two[len(s2) :]
        if one == "" and two == "" and s1 == s2:
            return 0
        if s1[0].isdigit():
            s1, s2 = s1.lstrip("0"), s2.lstrip("0")
            if len(s1) != len(s2):
                return 1 if len(s1) > len(s2) else -1
        if s1 != s2:
            return 1 if s1 > s2 else -1
    if not one and not two:
        return 0
    return -1 if not one else 1


def _split_nvr(name: str) -> tuple[str, str, str]:
    """blscfg's split_package_string: name-version-release from the right."""
    parts = name.rsplit("-", 2)
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1], ""
    return parts[0], "", ""


def _nvr_cmp(a: str, b: str) -> int:
    for x, y in zip(_split_nvr(a), _split_nvr(b), strict=True):
        r = rpm_vercmp(x, y)
        if r:
            return r
    return 0


def _bls_value(text: str, key: str) -> list[str]:
    values = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") or not line:
            continue
        name, _, value = line.replace("\t", " ").partition(" ")
        if name == key:
            values.append(value.strip())
    return values


def bls_order(entries: dict[str, str]) -> list[list[str]]:
    """The entry paths in the order blscfg adds them, newest first: by file name
    (name-version-release, current blscfg) and by the ``version`` key (EL 8's)."""

    def stem(path: str) -> str:
        return path.rsplit("/", 1)[-1].removesuffix(".conf")

    by_name = sorted(entries, key=functools.cmp_to_key(lambda a, b: _nvr_cmp(stem(b), stem(a))))

    def version_cmp(a: str, b: str) -> int:
        va = (_bls_value(entries[a], "version") or [None])[0]
        vb = (_bls_value(entries[b], "version") or [None])[0]
        if va and not vb:
            return -1
        if vb and not va:
            return 1
        return rpm_vercmp(vb or "", va or "") or rpm_vercmp(stem(b), stem(a))

    return [by_name, sorted(entries, key=functools.cmp_to_key(version_cmp))]


def _bls_entry(path: str, text: str, env: dict) -> BootEntry | str:
    linux = _bls_value(text, "linux")
    stem = path.rsplit("/", 1)[-1].removesuffix(".conf")
    title = (_bls_value(text, "title") or [linux[0] if linux else stem])[0]
    if not linux:
        return (
            f"{path}: a unified kernel image ('efi' key): its kernel line is inside the EFI binary, not read"
        )
    options = _bls_value(text, "options")[:1]
    # blscfg.c expand_val pastes the values of $vars as text into 'linux ...' which GRUB then
    # lexes again (review-r2 #10): a value with a character the lexer reads is not modelled
    for match in _VAR.finditer(" ".join([linux[0], *options, *_bls_value(text, "initrd")])):
        value = env.get(match.group(1) or match.group(2))
        if isinstance(value, str) and re.search(r"[#;$\\'\"{}|&<>\n]", value):
            return (
                f"{path}: ${match.group(1) or match.group(2)} holds {value!r}, which blscfg pastes into "
                "the entry's script, where GRUB reads # ; $ quotes or braces again (not modelled)"
            )
    try:
        commands = _commands(f"linux {linux[0]} {options[0] if options else ''}")
        if len(commands) > 1:  # ';' in options: GRUB runs what follows as another command
            return f"{path}: its linux/options line holds more than one GRUB command (a ';'): not modelled"
        words = _expand_all(commands[0][1:], env)
    except _Unknown as exc:
        return f"{path}: its options use {exc.why}"
    except _Unparsable as exc:
        return f"{path}: its linux/options line: {exc}"
    try:  # EL 8: "initrd /initramfs-X.img $tuned_initrd"
        lexed = [_commands(value) for value in _bls_value(text, "initrd")]
        if any(len(commands) > 1 for commands in lexed):
            return f"{path}: its initrd line holds more than one GRUB command (a ';'): not modelled"
        initrds = [p for commands in lexed for words in commands[:1] for p in _expand_all(words, env)]
    except _Unknown as exc:
        return f"{path}: its initrd uses {exc.why}"
    except _Unparsable as exc:
        return f"{path}: its initrd line: {exc}"
    return BootEntry(path, title, stem, words[0], words[1:], initrds)


def _bls_items(entries: dict[str, str], env: dict, certain: bool) -> list[_Item]:
    # blscfg: "Skipping file with no 'linux' key" (nor an 'efi' one)
    entries = {p: t for p, t in entries.items() if _bls_value(t, "linux") or _bls_value(t, "efi")}
    orders = bls_order(entries)
    items = []
    for k, path in enumerate(orders[0]):
        entry = _bls_entry(path, entries[path], env)
        stem = path.rsplit("/", 1)[-1].removesuffix(".conf")
        title = entry.title if isinstance(entry, BootEntry) else stem
        # an index whose entry differs between the two blscfg orders is not certain
        items.append(_Item("bls", title, stem, certain, placed=orders[1][k] == path, entry=entry))
    return items


def bls_default_entry(entries: dict[str, str], envs: dict[str, str]) -> BootEntry | str | None:
    """The BLS entry EL's grub.cfg boots when no grub.cfg was read: grubenv's next_entry,
    else saved_entry (its ``if [ "${next_entry}" ]`` block), else the newest."""
    if not entries:
        return None
    env: dict = {}
    for text in envs.values():
        env.update(parse_grubenv(text))
    value = env.get("next_entry") or env.get("saved_entry") or None
    item = _pick(_bls_items(entries, env, True), value)
    if isinstance(item, str):
        return f"/boot/loader/entries: default {value!r}: {item}"
    return item.entry


# ----------------------------------------------------------------------------- extlinux


def extlinux_default_entry(path: str, text: str) -> BootEntry | str | None:
    """The label extlinux/syslinux boots: ``DEFAULT label`` (or ``MENU DEFAULT`` inside a
    label), the only label when there is one; its KERNEL/LINUX, APPEND (the global one when
    the label has none) and INITRD (comma-separated)."""
    labels: list[dict] = []
    default, global_append, current = None, None, None
    for raw in text.splitlines():
        words = raw.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        key, value = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
        if key in ("include", "config") or (key == "menu" and value.lower().startswith("include")):
            return f"{path}: '{words[0]}' of another file is not read"
        if key == "ontimeout":  # review-s3 f5: with no key pressed syslinux runs ONTIMEOUT, not DEFAULT
            return f"{path}: ONTIMEOUT {value} may be booted instead of DEFAULT (not modelled)"
        if key == "label":
            current = {"label": value, "append": None, "kernel": "", "initrd": []}
            labels.append(current)
        elif key == "default":
            default = value
        elif key == "menu" and value.lower() == "default" and current is not None:
            if not re.search(r"^\s*ui\s", text, re.M | re.I):  # without a menu UI, MENU lines are ignored
                return f"{path}: MENU DEFAULT without a UI menu module (syslinux ignores it, DEFAULT decides)"
            default = current["label"]
        elif key == "append":
            if current is None:
                global_append = value
            else:
                current["append"] = value
        elif key in ("kernel", "linux") and current is not None:
            current["kernel"] = value
        elif key == "initrd" and current is not None:
            current["initrd"] = [p for p in value.split(",") if p]
    if not labels:
        return None
    if default is None:
        if len(labels) > 1:
            return f"{path}: no DEFAULT label among {len(labels)} labels"
        chosen = labels[0]
    else:
        chosen = next((label for label in labels if label["label"] == default), None)
        if chosen is None:
            return f"{path}: DEFAULT {default} names no LABEL"
    append = chosen["append"] if chosen["append"] is not None else (global_append or "")
    params = [] if append == "-" else append.split()
    initrds = list(chosen["initrd"])
    for param in params:
        if param.startswith("initrd="):
            initrds += [p for p in param[7:].split(",") if p]
    return BootEntry(path, chosen["label"], chosen["label"], chosen["kernel"], params, initrds)


# ----------------------------------------------------------------------------- all loaders


def default_entries(
    grub_files: dict[str, str], envs: dict[str, str], bls: dict[str, str], extlinux: dict[str, str]
) -> dict[str, BootEntry | str]:
    """Per boot loader configuration: its default entry, or why it cannot be told.
    grub.cfg files that define no entry (stubs) are left out; the BLS entries count on
    their own only when no grub.cfg runs ``blscfg``."""
    found: dict[str, BootEntry | str] = {}
    blscfg_run = False
    for path in grub_files:
        if path.rsplit("/", 1)[-1] != "grub.cfg":
            continue  # custom.cfg: run where grub.cfg sources it
        if "blscfg" in grub_files[path]:
            blscfg_run = True
        result = grub_default_entry(path, grub_files, envs, bls)
        if result is not None:
            found[path] = result
    if not blscfg_run:
        result = bls_default_entry(bls, envs)
        if result is not None:
            found[result.source if isinstance(result, BootEntry) else "/boot/loader/entries"] = result
    for path, text in extlinux.items():
        result = extlinux_default_entry(path, text)
        if result is not None:
            found[path] = result
    return found


def all_kernel_params(path: str, grub_files: dict[str, str], bls: dict[str, str]) -> list[list[str]]:
    """Every kernel line's parameters that the configuration ``path`` may boot, as written:
    the kernel lines of every GRUB file read (custom.cfg etc. may be sourced) and every BLS
    entry (one without ``options`` has none: it differs from one that has them). What may run
    a kernel line the files read do not show (``grub_unseen``) is a line ``$(command)`` of its
    own: the lines are then never all alike."""

    def bls_lines() -> list[list[str]]:
        return [" ".join(_bls_value(text, "options")).split() for text in bls.values()]

    if path in grub_files:
        lines = [params for text in grub_files.values() for params in grub_kernel_params(text)]
        folder = path.rsplit("/", 1)[0]  # grub.cfg and what it sources (custom.cfg, user.cfg), not stubs
        near = {name: text for name, text in grub_files.items() if name.rsplit("/", 1)[0] == folder}
        lines += [[f"$({c})"] for name, text in near.items() for c in grub_unseen(name, text, grub_files)]
        if any("blscfg" in text for text in grub_files.values()):
            lines += bls_lines()
        return lines
    return bls_lines()
