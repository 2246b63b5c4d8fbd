"""Facts about a SAS URI of a VHD blob, read offline (SAS-001..005).

:func:`parse_sas_uri` never raises: a malformed URI gives facts whose ``errors`` say
what is wrong. The signature is never stored: facts keep ``sig_present`` and a
``redacted_uri`` with ``sig=REDACTED``. Hand-coded with :mod:`urllib.parse`
(``azure-storage-blob`` parses only what its own clients build and would need the
account key to do more; no dependency needed).

Dates: Azure accepts ``YYYY-MM-DD``, ``YYYY-MM-DDThh:mmZ`` and ``YYYY-MM-DDThh:mm:ss[.f]Z``
(UTC). A date-only value means midnight UTC of that day; ``form`` records which it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from dataclasses import dataclass, field

from pytest_vmimage.facts._serial import from_jsonable, to_jsonable

# Service / account SAS parameters (and blob request parameters valid on a download URL).
KNOWN_PARAMS = frozenset(
    "sv ss srt sp se st sr sig sip spr si skoid sktid skt ske sks skv saoid suoid scid "
    "sdd ses rscc rscd rsce rscl rsct snapshot versionid timeout".split()
)
BLOB_ENDPOINT_SUFFIXES = (
    ".blob.core.windows.net",
    ".blob.core.chinacloudapi.cn",
    ".blob.core.usgovcloudapi.net",
    ".blob.core.cloudapi.de",
)
CONCERNING_CHARS = {" ": "space", "%": "%", '"': '"'}
MAX_URI_LENGTH = 64 * 1024
MAX_PARAMS = 100

_SIG = re.compile(
    r"(?i)(?:(?<=%3F)|(?<=%26)|(?<![a-z0-9_]))(sig(?:=|%3D))"
    r"(?:[^&\s\"'<>#%]|%(?!26))*"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})?"
)


def redact_sas(text: str) -> str:
    """Replace the value of every ``sig=`` (or URL-encoded ``sig%3D``) in ``text``."""
    return _SIG.sub(lambda m: m.group(1) + "REDACTED", text)


@dataclass
class SasTime:
    """A parsed ``st``/``se`` value. ``utc`` is ISO 8601 in UTC (``...Z``)."""

    raw: str
    utc: str
    form: str  # "date" (YYYY-MM-DD) or "datetime"
    had_offset: bool = False  # a +hh:mm offset instead of Z (converted to UTC)

    @property
    def when(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.utc.replace("Z", "+00:00"))


@dataclass
class SasFacts:
    """What a SAS URI says; JSON round trip via :meth:`to_json`/:meth:`from_json`."""

    redacted_uri: str
    scheme: str = ""
    host: str = ""
    port: int | None = None
    account: str = ""
    blob_endpoint: bool = False  # host ends in a public/sovereign blob endpoint suffix
    path_style: bool = False  # http://127.0.0.1:10000/account/container/blob (emulator)
    container: str = ""
    blob_name: str = ""  # URL-decoded, may contain "/"
    blob_basename: str = ""  # last segment of the blob name
    blob_name_bad_chars: list[str] = field(default_factory=list)  # "space", "%", '"'
    has_query: bool = False
    sv: str | None = None
    sr: str | None = None
    sp: str | None = None  # as given
    permissions: list[str] = field(default_factory=list)  # sp letters, sorted, unique
    st: SasTime | None = None
    se: SasTime | None = None
    sig_present: bool = False
    other_params: dict[str, str] = field(default_factory=dict)  # known, not sig
    unknown_params: list[str] = field(default_factory=list)
    duplicate_params: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(to_jsonable(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SasFacts:
        return from_jsonable(cls, json.loads(text))


def parse_sas_uri(uri: str) -> SasFacts:
    """Parse a blob SAS URI into facts; never raises (problems go to ``errors``)."""
    if not isinstance(uri, str):
        return SasFacts(redacted_uri="", errors=[f"not a string: {type(uri).__name__}"])
    if len(uri) > MAX_URI_LENGTH:
        return SasFacts(
            redacted_uri=redact_sas(uri[:200]) + "...",
            errors=[f"URI is {len(uri)} characters long; more than {MAX_URI_LENGTH}"],
        )
    text = uri.strip()
    facts = SasFacts(redacted_uri=redact_sas(text))
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        facts.errors.append("the URI contains control characters (a line break pasted inside it?)")
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        facts.errors.append(f"not a URL: {exc}")
        return facts
    facts.scheme = parts.scheme.lower()
    if facts.scheme not in ("http", "https"):
        facts.errors.append(
            f"scheme {parts.scheme!r} is not http or https" if parts.scheme else "no scheme (https://)"
        )
    try:
        facts.host = (parts.hostname or "").lower()
        facts.port = parts.port
    except ValueError as exc:
        facts.errors.append(f"bad host or port: {exc}")
    if not facts.host:
        facts.errors.append("no host name")
    _path(parts.path, facts)
    _query(parts.query, text, facts)
    if parts.fragment:
        facts.errors.append("the URI has a '#' fragment; a '#' inside the blob name must be encoded as %23")
    return facts


def _path(path: str, facts: SasFacts) -> None:
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    facts.blob_endpoint = facts.host.endswith(BLOB_ENDPOINT_SUFFIXES)
    if facts.blob_endpoint:
        facts.account = facts.host.split(".", 1)[0]
    elif re.fullmatch(r"[\d.]+|localhost|\[?[0-9a-f:]+\]?", facts.host) and len(segments) >= 1:
        facts.path_style = True
        facts.account = urllib.parse.unquote(segments.pop(0)) if segments else ""
    if not segments or not segments[0]:
        facts.errors.append("no container in the path")
        return
    facts.container = urllib.parse.unquote(segments[0])
    facts.blob_name = urllib.parse.unquote("/".join(segments[1:]))
    facts.blob_basename = facts.blob_name.rsplit("/", 1)[-1]
    if not facts.blob_name:
        facts.errors.append("no blob name after the container (the URI points at a container)")
    found = {name for char, name in CONCERNING_CHARS.items() if char in facts.blob_name}
    if any(c.isspace() and c != " " for c in facts.blob_name):
        found.add("space")
    facts.blob_name_bad_chars = sorted(found)


def _query(query: str, text: str, facts: SasFacts) -> None:
    facts.has_query = "?" in text
    if not facts.has_query:
        facts.errors.append("no query string ('?'): not a SAS URI")
        return
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if len(pairs) > MAX_PARAMS:
        facts.errors.append(f"{len(pairs)} query parameters; only the first {MAX_PARAMS} read")
        pairs = pairs[:MAX_PARAMS]
    seen: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in seen and key not in facts.duplicate_params:
            facts.duplicate_params.append(key)
            facts.errors.append(f"parameter {key} appears more than once")
        seen.setdefault(key, value)
        if key != name and key in KNOWN_PARAMS:
            facts.errors.append(f"parameter {name!r} should be lower case ({key})")
        if key not in KNOWN_PARAMS:
            facts.unknown_params.append(name[:100])
    facts.sig_present = bool(seen.get("sig"))
    if "sig" in seen and not seen["sig"]:
        facts.errors.append("sig is empty")
    facts.sv, facts.sr, facts.sp = seen.get("sv"), seen.get("sr"), seen.get("sp")
    if facts.sp is not None:
        facts.permissions = sorted(set(facts.sp))
        if not facts.sp.isalpha():
            facts.errors.append(f"sp={facts.sp!r} has characters that are not permission letters")
    for key in ("st", "se"):
        if key in seen:
            parsed = parse_sas_time(seen[key])
            if isinstance(parsed, str):
                facts.errors.append(f"{key}={seen[key]!r}: {parsed}")
            else:
                setattr(facts, key, parsed)
    facts.other_params = {
        k: v[:200]
        for k, v in seen.items()
        if k in KNOWN_PARAMS and k not in {"sig", "sv", "sr", "sp", "st", "se"}
    }


def parse_sas_time(raw: str) -> SasTime | str:
    """A SasTime, or a string saying why ``raw`` is not a SAS date or date-time."""
    value = raw.strip()
    try:
        if _DATE.fullmatch(value):
            day = dt.date.fromisoformat(value)
            when = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            return SasTime(raw, _iso(when), "date")
        m = _DATETIME.fullmatch(value)
        if not m:
            return "not a date (YYYY-MM-DD) or UTC date-time (YYYY-MM-DDThh:mm:ssZ)"
        year, month, day, hour, minute, second, frac, zone = m.groups()
        if zone is None:
            return "date-time without a time zone; Azure needs UTC ('Z')"
        when = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((frac or "0").ljust(6, "0")[:6]),
            tzinfo=dt.timezone.utc,
        )
        offset = zone != "Z"
        if offset:
            sign = 1 if zone[0] == "+" else -1
            when -= sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        return SasTime(raw, _iso(when), "datetime", had_offset=offset)
    except (ValueError, OverflowError) as exc:
        return f"not a valid date: {exc}"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


__all__ = ["SasFacts", "SasTime", "parse_sas_time", "parse_sas_uri", "redact_sas"]
