"""Facts about a VHD blob as its SAS URI serves it (SAS-006): one HEAD and one ranged GET.

:func:`probe_blob` never raises and never stores the signature: every text it keeps
went through :func:`~pytest_vmimage.facts.sas.redact_sas`. Redirects are not followed
(a SAS URI that redirects is reported as such). Proxies from the environment are used,
except for loopback hosts (the emulator in tests).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from pytest_vmimage.facts.sas import redact_sas

RANGE_BYTES = 512
DEFAULT_TIMEOUT = 15.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class HttpAnswer:
    """What one request got back (or why it got nothing)."""

    method: str
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, x-ms-* and length/range
    body_bytes: int = 0
    error: str = ""  # network error, redacted

    @property
    def error_code(self) -> str:
        return self.headers.get("x-ms-error-code", "")

    def describe(self) -> str:
        if self.error:
            return f"{self.method}: {self.error}"
        text = f"{self.method}: HTTP {self.status} {self.reason}".rstrip()
        if self.error_code:
            text += f" ({self.error_code})"
        if self.status is not None and 300 <= self.status < 400 and "location" in self.headers:
            text += f", redirected to {self.headers['location']}"
        return text


@dataclass
class BlobProbe:
    redacted_uri: str
    head: HttpAnswer
    ranged_get: HttpAnswer

    @property
    def blob_type(self) -> str | None:
        return self.head.headers.get("x-ms-blob-type")

    @property
    def content_length(self) -> int | None:
        value = self.head.headers.get("content-length")
        return int(value) if value and value.isdigit() else None


_KEEP = ("content-length", "content-range", "x-ms-blob-type", "x-ms-error-code", "location", "content-type")


def probe_blob(uri: str, timeout: float = DEFAULT_TIMEOUT) -> BlobProbe:
    """HEAD the blob, then GET its first ``RANGE_BYTES`` bytes (``Range: bytes=0-511``)."""
    import requests  # installed with pywinrm; imported here so offline runs never need it

    redacted = redact_sas(uri)
    host = (urllib.parse.urlsplit(uri).hostname or "").lower()
    session = requests.Session()
    proxies = {"http": None, "https": None} if host in _LOOPBACK else None
    answers = []
    try:
        for method, headers in (("HEAD", {}), ("GET", {"Range": f"bytes=0-{RANGE_BYTES - 1}"})):
            answer = HttpAnswer(method)
            answers.append(answer)
            try:
                with session.request(
                    method,
                    uri,
                    headers={"x-ms-version": "2019-12-12", **headers},
                    timeout=(min(timeout, 10.0), timeout),
                    allow_redirects=False,
                    stream=True,
                    proxies=proxies,
                ) as response:
                    answer.status, answer.reason = response.status_code, response.reason or ""
                    answer.headers = {
                        k.lower(): redact_sas(v) for k, v in response.headers.items() if k.lower() in _KEEP
                    }
                    if method == "GET":
                        answer.body_bytes = len(
                            response.raw.read(RANGE_BYTES + 1, decode_content=False) or b""
                        )
            except requests.exceptions.Timeout:
                answer.error = f"no answer within {timeout:g} s (timeout)"
            except requests.exceptions.SSLError as exc:
                answer.error = f"TLS error: {_cause(exc)}"
            except requests.exceptions.ConnectionError as exc:
                answer.error = f"cannot connect: {_cause(exc)}"
            except (requests.exceptions.RequestException, ValueError, OSError) as exc:
                answer.error = f"request failed: {_cause(exc)}"
            if answer.error:
                answer.error = redact_sas(answer.error)
                break
    finally:
        session.close()
    while len(answers) < 2:
        answers.append(HttpAnswer("GET", error="not sent (HEAD failed)"))
    return BlobProbe(redacted, answers[0], answers[1])


def _cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without the URL's query."""
    inner = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner or not isinstance(nxt, BaseException):
            break
        inner = nxt
    text = str(inner) or type(inner).__name__
    text = text.split("Caused by ")[-1]
    return redact_sas(text)[:300]


__all__ = ["BlobProbe", "HttpAnswer", "probe_blob"]
