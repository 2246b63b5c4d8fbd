"""The artifacts plugin: VHD files, SAS URIs and the offer manifest, checked before submission.

Options (group "vmimage"):

``--vm-vhd [os:|data:|data:LUN:]PATH`` (repeatable)
    A VHD file. Without a prefix, the first such VHD is the OS disk when no ``os:`` VHD is
    given anywhere; every other unprefixed VHD is a data disk. ``data:2:PATH`` records LUN 2.
``--vm-os linux|windows``
    What the OS disk holds. Default: the manifest's ``os_family``, else detected from the
    OS disk (NTFS -> windows; a Linux root or Linux file systems -> linux), else linux.
``--vm-sas-uri URI`` (repeatable)
    A SAS URI; matched to a VHD whose file name equals the blob's last path segment (or,
    with exactly one VHD and one URI, to that VHD). Unmatched URIs are still checked.
``--vm-offer FILE``
    The offer manifest (TOML, see :mod:`pytest_vmimage.facts.offer`): its SKUs feed
    SKU-001..006, and the submitted version's VHDs and SAS URIs feed VHD-* and SAS-*.
``--vm-offline``
    No network: SAS-006 is not applicable ("offline").
``--vm-generation 1|2``
    The generation the OS disk must boot as (VHD-010), for a run without a manifest or
    where the manifest's submitted version does not write ``generation``. A manifest
    that writes a different one is a configuration error (the manifest is what is
    submitted: the run must not judge another declaration). Default: 1.

Everything is resolved from the command line alone (no file is read at collection), so
every xdist worker collects the same tests. Each VHD is inspected once per process,
read-only; its root file system is read only when a check needs it (VHD-004/006 for the
OS family, VHD-006 for /etc/fstab, VHD-009), once per process, and its boot paths (MBR
code, bios_grub, the ESPs' loaders) only for VHD-010 under a profile that judges it; each
blob is probed once per process.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_vmimage.catalog import requirement_of
from pytest_vmimage.facts import disk as disk_facts
from pytest_vmimage.facts.disk import DiskError, DiskFacts
from pytest_vmimage.facts.offer import OS_FAMILIES, Offer, Sku, load_offer
from pytest_vmimage.facts.sas import SasFacts, parse_sas_uri, redact_sas
from pytest_vmimage.plugin import STATE
from pytest_vmimage.profiles import ConfigError
from pytest_vmimage.verdict import Verdict

ARTIFACTS = pytest.StashKey["ArtifactState"]()
MARKER = "vm_artifacts"
KINDS = ("vhd", "os-vhd", "data-vhd", "sas", "sku")
KIND_BY_PREFIX = {"VHD": "vhd", "SAS": "sas", "SKU": "sku"}

_NONE_GIVEN = {
    "vhd": "no VHD given (--vm-vhd [os:|data:]PATH or --vm-offer FILE)",
    "os-vhd": "no OS disk VHD given (--vm-vhd os:PATH or os_vhd in --vm-offer FILE)",
    "data-vhd": "no data disk VHD given (--vm-vhd data:PATH or data_disks in --vm-offer FILE)",
    "sas": "no SAS URI given (--vm-sas-uri URI or sas_uri in --vm-offer FILE)",
    "sku": "no offer manifest given (--vm-offer FILE)",
}


# -- artifacts ---------------------------------------------------------------------


@dataclass(frozen=True)
class VhdArtifact:
    """A local VHD file and the disk it is in the image."""

    label: str
    role: str  # "os" or "data"
    path: Path
    lun: Any = None
    os_family: str | None = None  # declared by the manifest's SKU/offer
    # VHD-010: (generation or None when not written, trusted_launch, "SKU 'x' version 1.0.1")
    # of each manifest SKU version that submits this file (a file shared by a Gen1 and a
    # Gen2 plan is judged against both)
    declarations: tuple[tuple[int | None, bool, str], ...] = ()


@dataclass(frozen=True)
class SasArtifact:
    """A SAS URI (the signature never shown) and the local VHD it was matched to."""

    label: str
    uri: str = field(repr=False)
    facts: SasFacts = field(repr=False, compare=False)
    vhd: VhdArtifact | None = None
    matched_by: str = ""

    def __repr__(self) -> str:
        return f"SasArtifact({self.label!r}, {self.facts.redacted_uri!r})"


@dataclass(frozen=True)
class SkuArtifact:
    label: str  # "offer:OFFER/SKU"
    offer: Offer = field(repr=False)
    sku: Sku = field(repr=False)


@dataclass(frozen=True)
class NoArtifact:
    """The parameter of a check when no artifact of its kind was given."""

    kind: str
    label: str = ""

    @property
    def reason(self) -> str:
        return _NONE_GIVEN[self.kind]


@dataclass
class InspectedVhd:
    """A VHD artifact with its facts, or the reason it could not be read."""

    artifact: VhdArtifact
    facts: DiskFacts | None
    error: DiskError | None


@dataclass
class ArtifactState:
    vhds: list[VhdArtifact] = field(default_factory=list)
    sas: list[SasArtifact] = field(default_factory=list)
    skus: list[SkuArtifact] = field(default_factory=list)
    offer: Offer | None = None
    os_option: str | None = None
    generation_option: int | None = None  # --vm-generation
    offline: bool = False
    disks: dict[Path, DiskFacts | DiskError] = field(default_factory=dict)
    root_fs_read: set[Path] = field(default_factory=set)
    boot_read: set[Path] = field(default_factory=set)
    probes: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ArtifactState(vhds={[v.label for v in self.vhds]!r}, sas={[s.label for s in self.sas]!r})"

    def params(self, kind: str) -> list:
        if kind == "vhd":
            return list(self.vhds)
        if kind in ("os-vhd", "data-vhd"):
            return [v for v in self.vhds if v.role == kind.split("-")[0]]
        if kind == "sas":
            return list(self.sas)
        return list(self.skus)

    def inspect(self, artifact: VhdArtifact, root_fs: bool = False, boot: bool = False) -> InspectedVhd:
        """Inspect a VHD once per process (read-only): container and layout; with
        ``root_fs`` also its root file system, with ``boot`` its boot paths (VHD-010),
        each read once, on first need."""
        cached = self.disks.get(artifact.path)
        if cached is None:
            try:
                cached = disk_facts.inspect_disk(artifact.path, read_root_fs=False)
            except DiskError as exc:
                cached = exc
            self.disks[artifact.path] = cached
        if isinstance(cached, DiskError):
            return InspectedVhd(artifact, None, cached)
        if root_fs and artifact.path not in self.root_fs_read:
            self.root_fs_read.add(artifact.path)
            try:
                cached.root_fs = disk_facts.read_root_fs(artifact.path, cached)
            except DiskError as exc:
                cached.root_fs = disk_facts.RootFsFacts(reason=str(exc))
        if boot and artifact.path not in self.boot_read:
            self.boot_read.add(artifact.path)
            try:
                cached.boot = disk_facts.read_boot(artifact.path, cached)
            except DiskError as exc:
                cached.boot = disk_facts.BootFacts(reason=str(exc))
        return InspectedVhd(artifact, cached, None)

    def probe(self, sas: SasArtifact):
        """Probe a blob over HTTP once per process (never when offline)."""
        from pytest_vmimage.facts.blob import probe_blob

        if sas.uri not in self.probes:
            self.probes[sas.uri] = probe_blob(sas.uri)
        return self.probes[sas.uri]

    def vhd_for_path(self, path: Path | None) -> VhdArtifact | None:
        return next((v for v in self.vhds if path is not None and v.path == path), None)


# -- options -------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vmimage", "Azure Marketplace VM image certification (pytest-vmimage)")
    group.addoption(
        "--vm-vhd",
        action="append",
        default=[],
        metavar="[os:|data:|data:LUN:]PATH",
        dest="vm_vhds",
        help="VHD file to check, repeatable. Unprefixed: the first is the OS disk unless an os: VHD "
        "is given, the others data disks.",
    )
    group.addoption(
        "--vm-os",
        metavar="linux|windows",
        dest="vm_os",
        help="what the OS disk holds (default: the offer's os_family, else detected from the disk, else linux)",
    )
    group.addoption(
        "--vm-sas-uri",
        action="append",
        default=[],
        metavar="URI",
        dest="vm_sas_uris",
        help="SAS URI of a VHD blob, repeatable; matched to a --vm-vhd by file name = blob name",
    )
    group.addoption(
        "--vm-offer",
        metavar="FILE",
        dest="vm_offer",
        help="offer manifest (TOML): ids, SKUs, versions, VM sizes, VHDs with LUNs and SAS URIs",
    )
    group.addoption(
        "--vm-offline",
        action="store_true",
        default=False,
        dest="vm_offline",
        help="no network: SAS-006 (download test) is not applicable",
    )
    group.addoption(
        "--vm-generation",
        metavar="1|2",
        dest="vm_generation",
        help="VHD-010: the generation the OS disk must boot as (X64 Gen1 or Gen2), when no manifest "
        "declares it; a manifest declaring another one is an error (default 1)",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(kind): which artifacts a requirement test runs on ({', '.join(KINDS)})"
    )
    state = ArtifactState(offline=config.getoption("vm_offline"))
    config.stash[ARTIFACTS] = state
    try:
        resolve(state, config)
    except ConfigError as exc:
        vm_state = config.stash.get(STATE, None)
        if vm_state is not None and not vm_state.error:
            vm_state.error = redact_sas(str(exc))


def resolve(state: ArtifactState, config: pytest.Config) -> None:
    """Turn the options into artifacts, deterministically (no file is opened but the manifest)."""
    base = Path(config.invocation_params.dir)
    os_option = config.getoption("vm_os")
    if os_option is not None and os_option not in OS_FAMILIES:
        raise ConfigError(f"--vm-os {os_option!r}: choose linux or windows")
    state.os_option = os_option
    generation = config.getoption("vm_generation")
    if generation is not None and generation not in ("1", "2"):
        raise ConfigError(f"--vm-generation {generation!r}: write 1 (X64 Gen1) or 2 (X64 Gen2)")
    state.generation_option = int(generation) if generation is not None else None
    labels: set[str] = set()
    vhds = _cli_vhds(config.getoption("vm_vhds"), base)
    uris: list[tuple[str, VhdArtifact | None]] = []
    offer_path = config.getoption("vm_offer")
    if offer_path:
        offer = load_offer(base / offer_path)
        state.offer = offer
        several = len(offer.skus) > 1
        for sku in offer.skus:
            state.skus.append(SkuArtifact(_unique(f"offer:{offer.id}/{sku.id}", labels), offer, sku))
            version = sku.submitted
            family = sku.os_family or offer.os_family
            disks = ([version.os_vhd] if version and version.os_vhd else []) + list(
                (version.data_disks or ()) if version else ()
            )
            for disk in disks:
                vhd = None
                if disk.path is not None:
                    prefix = f"{sku.id}/" if several else ""
                    role = "os" if disk.role == "os" else f"data-lun{disk.lun}"
                    declared = f"SKU {sku.id!r} version {version.version}"
                    _same_generation(state.generation_option, version.generation, declared)
                    vhd = VhdArtifact(
                        f"{prefix}{role}:{disk.path.name}",
                        disk.role,
                        disk.path,
                        disk.lun,
                        family,
                        ((version.generation, version.trusted_launch, declared),),
                    )
                    vhds.append(vhd)
                if disk.sas_uri:
                    uris.append((disk.sas_uri, vhd))
    # one artifact per file: the first mention wins
    seen: dict[Path, VhdArtifact] = {}
    for vhd in vhds:
        if vhd.path not in seen:
            seen[vhd.path] = dataclasses.replace(vhd, label=_unique(vhd.label, labels))
        elif vhd.declarations:  # another SKU submits the same file: judge its declaration too
            first = seen[vhd.path]
            seen[vhd.path] = dataclasses.replace(first, declarations=first.declarations + vhd.declarations)
    state.vhds = list(seen.values())
    cli_uris = config.getoption("vm_sas_uris")
    for uri in cli_uris:
        uris.append((uri, None))
    done: set[str] = set()
    for uri, vhd in uris:
        if uri in done:
            continue
        done.add(uri)
        facts = parse_sas_uri(uri)
        matched_by = "the manifest" if vhd is not None else ""
        if vhd is not None:
            vhd = seen.get(vhd.path, vhd)
        else:
            vhd, matched_by = _match(facts, state.vhds, len(cli_uris))
        name = facts.blob_basename or "uri"
        state.sas.append(SasArtifact(_unique(f"sas:{name}", labels), uri, facts, vhd, matched_by))


def _same_generation(option: int | None, declared: int | None, where: str) -> None:
    """--vm-generation and a manifest's ``generation`` must agree (VHD-010)."""
    if option is not None and declared is not None and option != declared:
        raise ConfigError(
            f"--vm-generation {option} conflicts with generation = {declared} of {where} in --vm-offer: "
            "the manifest is what is submitted; change one of them (or drop --vm-generation)"
        )


def generations_of(state: ArtifactState, vhd: VhdArtifact) -> list[tuple[int, bool, str]]:
    """Each (generation, Trusted Launch, where it comes from) the OS disk is judged
    against (VHD-010): the manifest's, else --vm-generation, else the default (Gen1)."""
    cli = (
        (state.generation_option, "declared by --vm-generation")
        if state.generation_option is not None
        else (1, "default: X64 Gen1 (declare generation in the manifest or --vm-generation 2)")
    )
    if not vhd.declarations:
        return [(cli[0], False, cli[1])]
    return [
        (g, tl, f"declared by the offer manifest, {where}")
        if g is not None
        else (cli[0], tl, f"{cli[1]}; {where}")
        for g, tl, where in vhd.declarations
    ]


def _cli_vhds(values: list[str], base: Path) -> list[VhdArtifact]:
    parsed: list[tuple[str | None, Any, str]] = []
    for value in values:
        role, lun, path = None, None, value
        head, sep, rest = value.partition(":")
        if sep and head in ("os", "data"):
            role, path = head, rest
            if head == "data":
                maybe, sep2, after = rest.partition(":")
                if sep2 and maybe.isdigit():
                    lun, path = int(maybe), after
        if not path:
            raise ConfigError(f"--vm-vhd {value!r}: no file path after the role")
        parsed.append((role, lun, path))
    have_os = any(role == "os" for role, _, _ in parsed)
    result = []
    for role, lun, path in parsed:
        if role is None:
            role = "data" if have_os else "os"
            have_os = True
        full = Path(path) if os.path.isabs(path) else base / path
        name = Path(path).name or path
        tag = role if role == "os" or lun is None else f"data-lun{lun}"
        result.append(VhdArtifact(f"{tag}:{name}", role, full, lun))
    return result


def _match(facts: SasFacts, vhds: list[VhdArtifact], cli_count: int) -> tuple[VhdArtifact | None, str]:
    named = [v for v in vhds if facts.blob_basename and v.path.name == facts.blob_basename]
    if len(named) == 1:
        return named[0], "blob name = file name"
    if not named and len(vhds) == 1 and cli_count == 1:
        return vhds[0], "the only VHD given"
    return None, ""


def _unique(label: str, labels: set[str]) -> str:
    candidate, n = label, 2
    while candidate in labels:
        candidate, n = f"{label}#{n}", n + 1
    labels.add(candidate)
    return candidate


def artifacts(config: pytest.Config) -> ArtifactState:
    return config.stash[ARTIFACTS]


# -- collection ------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vm_artifact" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    declared = requirement_of(metafunc.function)
    if marker is not None and marker.args:
        kind = marker.args[0]
    elif declared is not None and declared.id[:3] in KIND_BY_PREFIX:
        kind = KIND_BY_PREFIX[declared.id[:3]]
    else:
        kind = "vhd"
    if kind not in KINDS:
        raise ValueError(f"@pytest.mark.{MARKER}({kind!r}): choose one of {', '.join(KINDS)}")
    params = artifacts(metafunc.config).params(kind)
    if params:
        metafunc.parametrize("vm_artifact", params, ids=[p.label for p in params], indirect=True)
    else:
        metafunc.parametrize("vm_artifact", [NoArtifact(kind)], ids=[f"no-{kind}"], indirect=True)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def vm_artifact(request: pytest.FixtureRequest):
    """The artifact this test checks: a VhdArtifact, SasArtifact or SkuArtifact."""
    param = getattr(request, "param", None)
    if isinstance(param, NoArtifact):
        pytest.skip(param.reason)
    if param is None:
        pytest.skip("no artifact given (--vm-vhd, --vm-sas-uri or --vm-offer)")
    return param


@pytest.fixture
def vm_artifacts(request: pytest.FixtureRequest) -> ArtifactState:
    """Every artifact of this run, with the per-process caches (inspect, probe)."""
    return artifacts(request.config)


@pytest.fixture
def vhd(vm_artifacts: ArtifactState, vm_artifact) -> InspectedVhd:
    """The VHD of this test, inspected once per process (its root file system is not
    read: see :func:`vhd_root_fs`)."""
    return vm_artifacts.inspect(vm_artifact)


@pytest.fixture
def vhd_root_fs(vm_artifacts: ArtifactState, vm_artifact) -> InspectedVhd:
    """The VHD of this test with its root file system read (once per process)."""
    return vm_artifacts.inspect(vm_artifact, root_fs=True)


@pytest.fixture
def vm_offline(vm_artifacts: ArtifactState) -> bool:
    return vm_artifacts.offline


def detect_os(disk: DiskFacts | None) -> tuple[str | None, str]:
    """The OS family a disk's content shows, with the evidence (None when it shows none)."""
    if disk is None:
        return None, "the OS disk could not be read"
    types = {p.content.type for p in disk.partitions if p.content} | (
        {disk.whole_disk_fs.type} if disk.whole_disk_fs else set()
    )
    # A Linux root file system is the strongest evidence, when it is the root the image
    # boots (a decoy beside an LVM/btrfs root or the partition root= names is not);
    # a "Microsoft basic data" GPT type alone is not Windows evidence (parted/gdisk give
    # it to FAT EFI partitions of Linux images).
    if disk.root_fs.readable and disk.root_fs.not_booted == "":
        name = disk.root_fs.os_release.get("PRETTY_NAME") or disk.root_fs.os_release.get("ID") or "Linux"
        return "linux", f"a Linux root file system ({name})"
    if "ntfs" in types or "bitlocker" in types:
        return "windows", "an NTFS / BitLocker partition"
    linux = sorted(types & {"ext2", "ext3", "ext4", "xfs", "btrfs", "swap", "lvm2_pv"})
    if linux:
        return "linux", f"Linux file systems ({', '.join(linux)})"
    if not disk.content_readable:
        return None, f"the OS disk content was not read ({disk.content_reason})"
    return None, "no file system on the OS disk says which"


def os_family_of(state: ArtifactState, vhd: VhdArtifact) -> tuple[str, str]:
    """The OS family the checks of this VHD use, and where it comes from."""
    if state.os_option:
        return state.os_option, "--vm-os"
    if vhd.os_family:
        return vhd.os_family, "the offer manifest"
    os_vhds = [v for v in state.vhds if v.role == "os"]
    source = vhd if vhd.role == "os" else (os_vhds[0] if os_vhds else None)
    if source is not None:
        family, evidence = detect_os(state.inspect(source, root_fs=True).facts)
        if family:
            return family, f"detected: {evidence}"
    return "linux", "default (nothing says otherwise)"


def not_applicable(reason: str) -> Verdict:
    return Verdict.not_applicable(redact_sas(reason))


# -- SAS judgement (shared by SAS-001..006 and SKU-006) ----------------------------------


def _not_a_token(facts: SasFacts) -> str:
    if facts.scheme not in ("http", "https") or not facts.host:
        return "not an http(s) URL"
    if not facts.has_query:
        return "no SAS token (no '?' query)"
    if not (facts.sig_present or facts.sv or facts.sp or facts.se):
        return "the query holds no SAS fields (sv, sp, se, sig)"
    return ""


def judge_sas(req_id: str, sas: SasArtifact, profile, state: ArtifactState) -> Verdict:
    """The verdict of one SAS requirement on one SAS URI."""
    from pytest_vmimage.checks import artifacts as checks

    facts = sas.facts
    if req_id == "SAS-001":
        return checks.check_sas_points_at_vhd(facts, profile)
    if req_id == "SAS-005":
        return checks.check_sas_well_formed(facts, profile)
    gate = _not_a_token(facts)
    if gate:
        return not_applicable(f"{facts.redacted_uri}: {gate}; see SAS-005")
    if req_id == "SAS-002":
        return checks.check_sas_permissions(facts, profile)
    if req_id == "SAS-003":
        return checks.check_sas_start_time(facts, profile)
    if req_id == "SAS-004":
        return checks.check_sas_validity(facts, profile)
    if req_id != "SAS-006":
        raise ValueError(f"not a SAS requirement: {req_id}")
    if state.offline:
        return not_applicable("offline (--vm-offline): the download test was not run")
    local_length, local_name = None, ""
    if sas.vhd is not None:
        inspected = state.inspect(sas.vhd)
        if inspected.facts is not None:
            local_length = inspected.facts.apparent_size
            local_name = f"{sas.vhd.path.name} (matched by {sas.matched_by})"
    return checks.check_sas_downloads(state.probe(sas), local_length, local_name)
