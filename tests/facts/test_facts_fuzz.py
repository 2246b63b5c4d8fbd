"""Property tests: readers of untrusted input give facts (or DiskError), never a crash."""

from __future__ import annotations

import os
import struct
import tempfile
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_vmimage.facts.disk import DiskError, DiskFacts, inspect_disk
from pytest_vmimage.facts.sas import SasFacts, parse_sas_uri, redact_sas

from .conftest import vhd_footer

SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _gpt_template() -> bytes:
    """8 KiB: protective MBR, GPT header and one entry, valid CRCs."""
    mbr = bytearray(512)
    mbr[446 + 4] = 0xEE
    mbr[446 + 8 : 446 + 16] = struct.pack("<II", 1, 0xFFFFFFFF)
    mbr[510:512] = b"\x55\xaa"
    entries = bytearray(128 * 4)
    entries[0:16] = bytes.fromhex("af3dc60f838472478e793d69d8477de4")  # Linux filesystem
    entries[16:32] = os.urandom(16)
    entries[32:48] = struct.pack("<QQ", 34, 60)
    header = bytearray(512)
    header[0:8] = b"EFI PART"
    header[8:12] = struct.pack("<I", 0x00010000)
    header[12:16] = struct.pack("<I", 92)
    header[72:92] = struct.pack("<QIII", 2, 4, 128, zlib.crc32(entries))
    header[16:20] = struct.pack("<I", zlib.crc32(bytes(header[:92])))
    image = bytes(mbr) + bytes(header) + bytes(entries)
    return image.ljust(8192, b"\0")


TEMPLATES = [
    b"",
    _gpt_template(),
    b"\0" * 4096 + vhd_footer(4096),
    vhd_footer(1 << 40, disk_type=3) + b"cxsparse" + b"\0" * 1016 + vhd_footer(1 << 40, disk_type=3),
    b"QFI\xfb" + b"\0" * 508,
    b"vhdxfile" + b"\0" * 600,
    b"KDMV" + b"\0" * 508,
    b"\0" * 1024 + b"\0" * 56 + b"\x53\xef" + b"\0" * 2000,
    b"XFSB" + b"\0" * 1020,
]


@st.composite
def disk_bytes(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or a valid-looking structure with random bytes changed."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=6000))
    data = bytearray(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(0, 12))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data += draw(st.binary(max_size=1024))
    return bytes(data)


@SETTINGS
@given(data=disk_bytes())
def test_any_bytes_give_disk_facts(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.vhd")
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            facts = inspect_disk(path)
        except DiskError:
            return
        assert isinstance(facts, DiskFacts)
        assert facts.bytes_read <= max(len(data), 1) * 8 + 4 * 1024 * 1024
        assert DiskFacts.from_json(facts.to_json()) == facts


@SETTINGS
@given(uri=st.text(max_size=400))
def test_any_text_gives_sas_facts(uri: str) -> None:
    facts = parse_sas_uri(uri)
    assert isinstance(facts, SasFacts)
    assert SasFacts.from_json(facts.to_json()) == facts


SIG = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%+/=", min_size=8, max_size=60
)


@SETTINGS
@given(
    prefix=st.sampled_from(["https://a.blob.core.windows.net/vhds/x.vhd?", "http://127.0.0.1:10000/a/c/b?"]),
    params=st.lists(
        st.tuples(st.sampled_from(["sv", "sr", "sp", "st", "se", "foo"]), st.text(max_size=20)), max_size=5
    ),
    sig=SIG.filter(lambda s: "&" not in s and "%26" not in s.upper()),
    noise=st.text(max_size=50),
)
def test_signature_never_leaks(prefix: str, params: list[tuple[str, str]], sig: str, noise: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in params if not set(v) & set("&#") and "sig" not in v.lower())
    uri = prefix + query + ("&" if query else "") + "sig=" + sig
    facts = parse_sas_uri(uri)
    assert facts.sig_present
    assert sig not in facts.to_json() or sig in uri.replace("sig=" + sig, "")
    text = noise + " " + uri + " " + noise
    redacted = redact_sas(text)
    assert "sig=" + sig not in redacted
    assert "sig=REDACTED" in redacted
