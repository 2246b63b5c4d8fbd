"""A failed collection is collected once per target, whatever the exception: every check of
that target gets the same ERROR (through the plugin, a real SSH login on loopback)."""

from __future__ import annotations

import paramiko
import pytest

import pytest_vmimage.facts.linux as linux_facts
from tests.ssh_server import LoopbackSshServer, write_key


@pytest.mark.parametrize(
    "exception",
    [
        RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
        KeyError("sections"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_any_collection_failure_is_cached_and_names_the_cause(pytester, tmp_path, monkeypatch, exception):
    host_key, client_key = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    key_path = write_key(client_key, tmp_path / "id_ecdsa")
    calls = []

    def broken_gather(connection, **kwargs):
        calls.append(connection)
        raise exception

    monkeypatch.setattr(linux_facts, "gather", broken_gather)
    pytester.makepyfile(
        test_facts="import pytest\n"
        "@pytest.mark.parametrize('n', range(4))\n"
        "def test_reads(linux_facts, n):\n    pass\n"
    )
    with LoopbackSshServer(host_key, client_key) as server:
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{server.port} {host_key.get_name()} {host_key.get_base64()}\n")
        result = pytester.runpytest(
            "-p",
            "no:cacheprovider",
            "--vm-host",
            f"t=ssh://tester@127.0.0.1:{server.port}",
            "--vm-ssh-key",
            str(key_path),
            "--vm-known-hosts",
            str(known),
        )
    result.assert_outcomes(errors=4)
    assert len(calls) == 1, "one collection attempt per target"
    errors = [line for line in result.stdout.lines if line.startswith("t: collecting facts failed")]
    assert len(errors) == 4 and len(set(errors)) == 1, errors  # the same ERROR for every test
    assert errors[0].startswith(f"t: collecting facts failed: {type(exception).__name__}: ")
