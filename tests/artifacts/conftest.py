"""Real artifacts for the artifacts-suite runs: VHD files made by qemu-img (and sfdisk,
mkfs.ext4), and an Azurite blob emulator on a loopback port for SAS-006."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.facts.conftest import (
    CLEAN_ROOT,
    MIB,
    mkext4,
    partition,
    place,
    run,
    sparse_file,
    to_vhd,
    write_tree,
)

GIB = 1024 * MIB
REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / "node_modules" / ".bin" / "azurite-blob"
ROOT_UUID = "0b0c0c0d-1111-2222-3333-444455556666"
# Azurite's well-known development account (documented, public)
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

needs_image_tools = pytest.mark.skipif(
    any(
        shutil.which(t) is None and not Path("/usr/sbin", t).exists()
        for t in ("qemu-img", "sfdisk", "mkfs.ext4")
    ),
    reason="qemu-img, sfdisk or mkfs.ext4 missing (apt-get install qemu-utils fdisk e2fsprogs)",
)


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """Every image file of the runs, made once per session."""
    d = tmp_path_factory.mktemp("images")
    root = write_tree(d / "tree", CLEAN_ROOT)
    raw = sparse_file(d / "os.raw", 30 * GIB)
    partition(raw, "label: gpt\nstart=2048, size=64M, type=L\n")
    place(raw, mkext4(root, d / "root.img", 64 * MIB, ROOT_UUID), 2048)
    to_vhd(raw, d / "good.vhd")  # 30 GiB fixed, a generalized Debian-like root
    to_vhd(raw, d / "dynamic.vhd", "dynamic")
    run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", d / "data.vhd", "1G")
    run(
        "qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", d / "small.vhd", "16M"
    )
    run("qemu-img", "create", "-q", "-f", "vhdx", d / "disk.vhdx", "1G")
    run("qemu-img", "create", "-q", "-f", "qcow2", d / "qcow2.vhd", "30G")
    to_vhd(sparse_file(d / "odd.raw", 20 * MIB + 3 * 512), d / "odd.vhd")
    to_vhd(sparse_file(d / "cut.raw", 64 * MIB), d / "cut.vhd", "dynamic")
    with open(d / "cut.vhd", "r+b") as fh:  # lose the footer at the end: a cut-short upload
        fh.truncate(os.path.getsize(d / "cut.vhd") - 512)
    (d / "empty.vhd").write_bytes(b"")
    (d / "folder.vhd").mkdir()
    for name in ("os.raw", "root.img", "odd.raw", "cut.raw"):
        (d / name).unlink()
    return d


def sas_uri(container: str = "vhds", blob: str = "good.vhd", days: int = 30, sp: str = "rl") -> str:
    """An Azure-style SAS URI (offline checks only; the signature is a placeholder)."""
    now = dt.datetime.now(dt.timezone.utc)
    st = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    se = (now + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"https://contoso.blob.core.windows.net/{container}/{blob}"
        f"?sv=2019-12-12&sr=b&sp={sp}&st={st}&se={se}&sig=Zm9vYmFyU0VDUkVUU0lH%3D"
    )


# -- running the suite ---------------------------------------------------------------


@dataclass
class SuiteRun:
    result: pytest.RunResult
    out: Path

    @property
    def tests(self) -> list[dict]:
        return json.loads((self.out / "cert.json").read_text())["Tests"]

    @property
    def cert(self) -> dict:
        return json.loads((self.out / "cert.json").read_text())

    def by(self, requirement: str, host: str | None = None) -> dict:
        found = [t for t in self.tests if t["TestID"] == requirement and (host is None or t["Host"] == host)]
        assert len(found) == 1, (requirement, host, [(t["TestID"], t["Host"]) for t in self.tests])
        return found[0]

    def bad(self) -> list[dict]:
        return [t for t in self.tests if t["Result"] in ("Failed", "Error")]

    def junit(self) -> dict[tuple[str, str], dict]:
        root = ET.parse(self.out / "junit.xml").getroot()
        cases = {}
        for case in root.iter("testcase"):
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            props["_failure"] = case.find("failure") is not None or case.find("error") is not None
            props["_skipped"] = case.find("skipped") is not None
            cases[(props.get("requirement", ""), props.get("host", ""))] = props
        return cases

    def html(self) -> str:
        return (self.out / "report.html").read_text()

    def all_output(self) -> str:
        files = [self.out / n for n in ("cert.json", "junit.xml", "report.html")]
        return self.result.stdout.str() + self.result.stderr.str() + "".join(f.read_text() for f in files)


def run_suite(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> SuiteRun:
    reports = [
        "--junitxml=out/junit.xml",
        "--html=out/report.html",
        "--self-contained-html",
        "--vm-report=out/cert.json",
    ]
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    result = runner(
        "--pyargs", "pytest_vmimage.suites.artifacts", *args, *reports, "-p", "no:cacheprovider", "-rA"
    )
    out = pytester.path / "out"
    for name in ("cert.json", "junit.xml", "report.html"):
        assert (out / name).is_file(), f"{name} not written:\n{result.stdout.str()[-3000:]}"
    assert "Traceback" not in result.stdout.str()
    return SuiteRun(result, out)


# -- Azurite ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Azurite:
    port: int

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def service(self):
        from azure.storage.blob import BlobServiceClient

        conn = (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )
        return BlobServiceClient.from_connection_string(conn)

    def sas(self, container: str, blob: str, *, start_days: float = -1, expiry_days: float = 30) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        now = dt.datetime.now(dt.timezone.utc)
        token = generate_blob_sas(
            ACCOUNT,
            container,
            blob,
            account_key=ACCOUNT_KEY,
            permission=BlobSasPermissions(read=True, list=True),
            start=now + dt.timedelta(days=start_days),
            expiry=now + dt.timedelta(days=expiry_days),
        )
        return f"{self.blob_endpoint}/{container}/{blob}?{token}"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Azurite:
    """Azurite's blob service on a free loopback port, data in a tmp folder, no telemetry; killed at the end."""
    pytest.importorskip("azure.storage.blob", reason="azure-storage-blob missing: pip install -e '.[test]'")
    if not AZURITE.exists():
        pytest.skip(f"Azurite not installed ({AZURITE} missing): run scripts/setup.sh (npm install azurite)")
    if shutil.which("node") is None:
        pytest.skip("node missing: apt-get install nodejs npm, then scripts/setup.sh")
    workdir = tmp_path_factory.mktemp("azurite")
    port = free_port()
    log = open(workdir / "azurite.log", "wb")
    proc = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(workdir),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"Azurite exited ({proc.returncode}): {(workdir / 'azurite.log').read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("Azurite did not listen within 30 s") from None
                time.sleep(0.2)
        yield Azurite(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
