"""SAS URI facts: parsing, dates, blob names, redaction."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_vmimage.facts.sas import SasFacts, parse_sas_time, parse_sas_uri, redact_sas

GUIDE_URI = (
    "https://mystorage.blob.core.windows.net/vhds/ubuntu-16.04-os.vhd"
    "?sv=2015-04-05&sr=c&sp=rl&st=2016-05-01T00:00:00Z&se=2016-05-20T00:00:00Z"
    "&sig=J3QRHO%2BqA1n7vGe4yw%2FvzPJY6%2BUZcSzP%2B%2Fk5%3D"
)


def test_the_guide_form() -> None:
    facts = parse_sas_uri(GUIDE_URI)
    assert facts.errors == []
    assert (facts.scheme, facts.host, facts.account) == (
        "https",
        "mystorage.blob.core.windows.net",
        "mystorage",
    )
    assert facts.blob_endpoint and not facts.path_style
    assert (facts.container, facts.blob_name, facts.blob_basename) == (
        "vhds",
        "ubuntu-16.04-os.vhd",
        "ubuntu-16.04-os.vhd",
    )
    assert (facts.sv, facts.sr, facts.sp) == ("2015-04-05", "c", "rl")
    assert facts.permissions == ["l", "r"]
    assert facts.st is not None and facts.st.form == "datetime"
    assert facts.st.when == dt.datetime(2016, 5, 1, tzinfo=dt.timezone.utc)
    assert facts.se is not None and facts.se.utc == "2016-05-20T00:00:00Z"
    assert facts.sig_present
    assert facts.redacted_uri.endswith("&sig=REDACTED")
    assert "J3QRHO" not in facts.to_json() and "J3QRHO" not in repr(facts)
    assert SasFacts.from_json(facts.to_json()) == facts


def test_date_only_and_permissions_as_a_set() -> None:
    facts = parse_sas_uri(
        "http://acct.blob.core.windows.net/vhds/a.vhd?sp=lrwd&st=2016-05-01&se=2016-05-20&sig=x"
    )
    assert facts.scheme == "http"
    assert facts.permissions == ["d", "l", "r", "w"] and facts.sp == "lrwd"
    assert facts.st is not None and facts.st.form == "date" and facts.st.utc == "2016-05-01T00:00:00Z"
    assert facts.se is not None and facts.se.form == "date"
    assert facts.sv is None and facts.sr is None


@pytest.mark.parametrize(
    ("raw", "utc", "form"),
    [
        ("2016-05-01", "2016-05-01T00:00:00Z", "date"),
        ("2016-05-01T10:30Z", "2016-05-01T10:30:00Z", "datetime"),
        ("2016-05-01T10:30:15Z", "2016-05-01T10:30:15Z", "datetime"),
        ("2016-05-01T10:30:15.1234567Z", "2016-05-01T10:30:15.123456Z", "datetime"),
        ("2016-05-01T10:30:15+02:00", "2016-05-01T08:30:15Z", "datetime"),
    ],
)
def test_sas_times(raw: str, utc: str, form: str) -> None:
    parsed = parse_sas_time(raw)
    assert not isinstance(parsed, str)
    assert (parsed.utc, parsed.form) == (utc, form)
    assert parsed.had_offset == ("+" in raw)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("2016-13-01", "not a valid date"),
        ("2016-05-01T10:30:15", "without a time zone"),
        ("01/05/2016", "not a date"),
        ("", "not a date"),
        ("2016-02-30T00:00:00Z", "not a valid date"),
    ],
)
def test_bad_sas_times(raw: str, why: str) -> None:
    parsed = parse_sas_time(raw)
    assert isinstance(parsed, str) and why in parsed


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("my%20disk.vhd", ["space"]),
        ("my disk.vhd", ["space"]),
        ("disk%2525.vhd", ["%"]),  # a literal "%25" in the name
        ("disk%25.vhd", ["%"]),
        ('di"sk.vhd', ['"']),
        ("di%22sk%20x%25.vhd", ['"', "%", "space"]),
        ("folder/disk.vhd", []),
        ("disk%09.vhd", ["space"]),  # a tab
    ],
)
def test_blob_name_characters(name: str, bad: list[str]) -> None:
    facts = parse_sas_uri(f"https://a.blob.core.windows.net/vhds/{name}?sp=rl&sig=abc%2B")
    assert facts.blob_name_bad_chars == sorted(bad)


def test_folder_blob_and_sovereign_cloud() -> None:
    facts = parse_sas_uri("https://acct.blob.core.chinacloudapi.cn/vhds/2016/os.vhd?sp=rl&sig=a")
    assert facts.blob_endpoint and facts.account == "acct"
    assert facts.blob_name == "2016/os.vhd" and facts.blob_basename == "os.vhd"


def test_azurite_path_style() -> None:
    facts = parse_sas_uri("http://127.0.0.1:10000/devstoreaccount1/vhds/os.vhd?sv=2021-08-06&sp=r&sig=a")
    assert facts.path_style and facts.port == 10000
    assert (facts.account, facts.container, facts.blob_name) == ("devstoreaccount1", "vhds", "os.vhd")


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        ("", "no scheme"),
        ("mystorage.blob.core.windows.net/vhds/a.vhd?sp=rl", "no scheme"),
        ("ftp://a.blob.core.windows.net/vhds/a.vhd?sp=rl&sig=a", "not http or https"),
        ("https://a.blob.core.windows.net/vhds/a.vhd", "no query string"),
        ("https://a.blob.core.windows.net/vhds?sp=rl&sig=a", "points at a container"),
        ("https://a.blob.core.windows.net/?sp=rl&sig=a", "no container"),
        ("https://[::1/vhds/a.vhd?sig=a", "not a URL"),
        ("https://a.blob.core.windows.net:99999/v/a.vhd?sig=a", "bad host or port"),
        ("https://a.blob.core.windows.net/v/a.vhd?sp=rl&sp=rwl&sig=a", "more than once"),
        ("https://a.blob.core.windows.net/v/a.vhd?SP=rl&sig=a", "lower case"),
        ("https://a.blob.core.windows.net/v/a.vhd?sp=r+l&sig=a", "not permission letters"),
        ("https://a.blob.core.windows.net/v/a.vhd?sp=rl&se=tomorrow&sig=a", "se='tomorrow'"),
        ("https://a.blob.core.windows.net/v/a#b.vhd?sp=rl&sig=a", "fragment"),
        ("https://a.blob.core.windows.net/v/a.vhd?sp=rl\n&sig=a", "control characters"),
        ("https://a.blob.core.windows.net/v/a.vhd?sp=rl&sig=", "sig is empty"),
    ],
)
def test_malformed_uris_give_errors(uri: str, error: str) -> None:
    facts = parse_sas_uri(uri)
    assert any(error in e for e in facts.errors), facts.errors


def test_unknown_and_other_parameters() -> None:
    facts = parse_sas_uri("https://a.blob.core.windows.net/v/a.vhd?sp=rl&spr=https&utm=1&sig=a")
    assert facts.unknown_params == ["utm"]
    assert facts.other_params == {"spr": "https"}
    assert facts.errors == []


def test_huge_uri_is_bounded() -> None:
    facts = parse_sas_uri("https://a/" + "x" * 100_000 + "?sig=SECRET")
    assert facts.errors and "SECRET" not in facts.to_json()


def test_not_a_string() -> None:
    facts = parse_sas_uri(None)  # type: ignore[arg-type]
    assert facts.errors == ["not a string: NoneType"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x?sp=rl&sig=abc%2Bdef%3D&se=1", "x?sp=rl&sig=REDACTED&se=1"),
        ("error: 'https://h/c/b?sig=abc' failed", "error: 'https://h/c/b?sig=REDACTED' failed"),
        ('{"uri": "https://h/b?SIG=abc"}', '{"uri": "https://h/b?SIG=REDACTED"}'),
        (
            "u=https%3A%2F%2Fh%2Fb%3Fsig%3Dabc%2B%26sp%3Drl",
            "u=https%3A%2F%2Fh%2Fb%3Fsig%3DREDACTED%26sp%3Drl",
        ),
        ("signature=keep design=keep", "signature=keep design=keep"),
        ("sig=a%0Gb c", "sig=REDACTED c"),
    ],
)
def test_redact_sas(text: str, expected: str) -> None:
    assert redact_sas(text) == expected
