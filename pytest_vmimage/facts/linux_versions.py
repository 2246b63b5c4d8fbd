"""Version strings the ``current`` profile judges the way LISA does: ``openssl version``
(LNX-009) and the agent's interpreter (LNX-007). Parsing only; the rules are in checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_vmimage.verdict import FactError

# "OpenSSL 1.1.1w  11 Sep 2023", "OpenSSL 1.0.2k-fips  26 Jan 2017",
# "OpenSSL 3.0.0-beta1 17 Jun 2021", "OpenSSL 1.1.1-pre9 (beta) 21 Aug 2018", "LibreSSL 3.3.6",
# "OpenSSL 3.1.4+quic 24 Oct 2023" (quictls: a build suffix, not a pre-release)
_LIBRARY_VERSION = re.compile(
    r"(?P<library>[A-Za-z]+SSL)\s+(?P<numbers>\d+(?:\.\d+)*)(?P<letter>[a-z]{0,2})(?:[-+](?P<suffix>[\w.+-]+))?(?P<rest>\S*)"
)
_PRERELEASE = re.compile(r"(?:alpha|beta|pre|rc|dev)\d*", re.I)


@dataclass(frozen=True)
class SslVersion:
    """One library version named by ``openssl version``: the command's own and, on
    OpenSSL 3, the ``(Library: ...)`` it is linked with."""

    library: str  # "OpenSSL", "LibreSSL", ...
    text: str  # as printed: "1.1.1w", "1.0.2k-fips", "3.0.0-beta1"
    numbers: tuple[int, ...]  # (1, 1, 1)
    prerelease: str  # "beta1", "pre9", "dev" ("" for a release)

    @property
    def is_openssl(self) -> bool:
        return self.library == "OpenSSL"

    def series(self) -> str:
        """ "1.1.1" for 1.1.1w (the letter is a patch release of the 1.1.1 series)."""
        return ".".join(map(str, self.numbers))


def parse_openssl_versions(text: str) -> list[SslVersion]:
    """Every ``<Library>SSL <version>`` of ``openssl version`` (the binary's first, then
    ``(Library: ...)`` when printed); FactError when none is readable."""
    found = []
    for match in _LIBRARY_VERSION.finditer(text):
        suffix, rest = match.group("suffix") or "", match.group("rest")
        if rest:  # "1.1.1w@x": not a version form this parser knows
            raise FactError(f"openssl version printed an unknown version form ({match.group(0)!r})")
        numbers = tuple(int(n) for n in match.group("numbers").split("."))
        if len(numbers) < 3:
            raise FactError(f"openssl version printed a version without three numbers ({match.group(0)!r})")
        # "beta1-fips", "rc1+quic": a pre-release followed by a build tag is still a pre-release
        pre = next((part for part in re.split(r"[-+]", suffix) if _PRERELEASE.fullmatch(part)), "")
        tail = text[match.end() : match.end() + 12]
        if not pre and re.match(r"\s*\((?:alpha|beta)\)", tail):
            pre = "beta"
        found.append(
            SslVersion(
                match.group("library"),
                match.group(0).split(None, 1)[1],
                numbers,
                pre,
            )
        )
    if not found:
        raise FactError(f"openssl version printed no version ({text.strip()[:100] or 'nothing'})")
    return found


def agent_interpreter_missing(rc: int, text: str) -> str | None:
    """The agent's interpreter when its shebang names one that does not exist (the
    ``agent_python`` section printed only its ``interpreter`` line and exited 127)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if rc == 127 and len(lines) <= 1 and (not lines or lines[0].startswith("interpreter")):
        path = lines[0].partition(" ")[2].strip() if lines else ""
        return path or "(the shebang's program was not found on the PATH)"
    return None
