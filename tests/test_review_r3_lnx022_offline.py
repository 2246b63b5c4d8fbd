"""Adversarial review r3 (2026-12-01), kept as regression tests: LNX-022 offline: sshd tilde-expands AuthorizedKeysFile at parse time (servconf.c
sAuthorizedKeysFile: tilde_expand_filename(arg, getuid()) -> root's home); offline keeps '~/...'
verbatim and joins it to each account's home ({home}/~/...). Also quotes: offline splits the raw
value on whitespace. Run from /work/main:
VMIMAGE_TESTBED=skip .venv/bin/python -m pytest /work/helpers/review-r3/test_r3_lnx022_offline.py -q -p no:cacheprovider --rootdir=/work/main"""
import pytest

from pytest_vmimage.checks import linux as checks
from pytest_vmimage.facts.linux_image import read_linux_image
from pytest_vmimage.verdict import FactError, Result
from tests.test_linux_image import BASE, GUIDE, LINKS, _image

PASSWD = "root:x:0:0:root:/root:/bin/bash\nold:*:1001:1001::/home/old:/bin/sh\n"
SHADOW = "root:!:19000::::::\nold:*:19000::::::\n"


@pytest.mark.parametrize(
    ("akf", "keys_at"),
    [
        ("~/.ssh/extra_keys", "/root/.ssh/extra_keys"),           # sshd: /root/.ssh/extra_keys (uid 0's home)
        ("'/etc/ssh/authorized keys/%u'", "/etc/ssh/authorized keys/old"),
        ("/etc/ssh/authorized\\ keys/%u", "/etc/ssh/authorized keys/old"),
    ],
    ids=["tilde", "single-quotes", "backslash-space"],
)
def test_keys_file_sshd_reads_is_seen_offline(tmp_path, akf, keys_at):
    files = {k: v for k, v in BASE.items() if not k.startswith("/home/old/") and k != "/root/.bash_history"}
    files.update({
        "/etc/passwd": PASSWD, "/etc/shadow": SHADOW,
        "/etc/ssh/sshd_config": f"PermitRootLogin no\nAuthorizedKeysFile {akf}\n",
        keys_at: "ssh-ed25519 AAAAC3Nza old@build\n",
    })
    facts = read_linux_image(_image(tmp_path, files, LINKS))
    print(facts.section("authorized_keys"))
    try:
        got = checks.no_default_accounts(facts, GUIDE).result
    except FactError as exc:
        got = f"ERROR {exc}"
    assert got is not Result.PASSED
