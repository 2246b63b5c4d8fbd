"""Adversarial review r3 (2026-12-01), kept as regression tests: LNX-022 keys files sshd reads that the live section does not see. Run from /work/main:
VMIMAGE_TESTBED=skip .venv/bin/python -m pytest /work/helpers/review-r3/test_r3_lnx022.py -q -p no:cacheprovider --rootdir=/work/main
OpenSSH >= 8.7 servconf.c splits with misc.c argv_split: '...' and backslash-space also make one path
with a space; sshd -T prints it unquoted. A failing test = PASS where FAILED/ERROR is required."""
import pytest

from pytest_vmimage.checks import linux
from pytest_vmimage.verdict import FactError, Result
from tests.test_checks_linux_network import GUIDE, run_authorized_keys_snippet, with_keys


@pytest.mark.parametrize(
    "written",
    ["'/etc/ssh/authorized keys/%u'", "/etc/ssh/authorized\\ keys/%u"],
    ids=["single-quotes", "backslash-space"],
)
def test_keys_path_with_space_not_double_quoted(tmp_path, written):
    keys = tmp_path / "ssh" / "authorized keys"   # /etc/ssh/ is moved under tmp_path by the helper
    keys.mkdir(parents=True)
    (keys / "olduser").write_text("ssh-ed25519 AAAAC3Nza old@build\n")
    passwd = f"root:x:0:0:root:/nonexistent:/bin/sh\nolduser:x:1001:1001::{tmp_path}/home:/bin/sh\n"
    cfg = f"PermitRootLogin no\nAuthorizedKeysFile {written}\n"
    # what sshd -T prints for it: the one path, unquoted
    out = run_authorized_keys_snippet(tmp_path, passwd, {"sshd_config": cfg}, akf=f"{tmp_path}/ssh/authorized keys/%u")
    print(out.stdout)
    try:
        verdict = linux.no_default_accounts(with_keys(out.stdout, out.returncode), GUIDE).result
    except FactError as exc:
        verdict = f"ERROR {exc}"
    assert verdict is not Result.PASSED, out.stdout
