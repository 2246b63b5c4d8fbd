"""The offer manifest (``--vm-offer FILE``, TOML): what a publisher submits for SKU-001..006.

Only the *shape* is validated here (a wrong type raises :class:`ConfigError`, which the
plugin turns into one failing ``vm-configuration`` test); whether ids, versions, LUNs
and sizes follow the rules is for the checks (:mod:`pytest_vmimage.checks.offer`).
YAML is not read: TOML through :mod:`tomllib` needs no dependency.

Example::

    [offer]
    id = "contoso-offer"
    os_family = "linux"                 # linux | windows

    [[publisher_offers]]                # the publisher's other offers (SKU-001 uniqueness)
    id = "contoso-db"
    skus = ["db-standard"]

    [[skus]]
    id = "sku1"
    recommended_vm_sizes = ["Standard_D2s_v3", "Standard_D4s_v3", "Standard_E2s_v3"]

    [[skus.versions]]                   # oldest first; the last one is being submitted
    version = "1.0.0"
    data_disks = 1                      # an earlier version may give just the count

    [[skus.versions]]
    version = "1.0.1"
    generation = 2                      # VHD-010: 1 (X64 Gen1, the default) or 2 (X64 Gen2)
    trusted_launch = true               # VHD-010: needs generation = 2 and a shim boot path
    os_vhd = { path = "disk.vhd", sas_uri = "https://acct.blob.core.windows.net/vhds/disk.vhd?..." }
    data_disks = [{ lun = 0, path = "data0.vhd", sas_uri = "https://..." }]

    [vm_sizes]                          # extends/overrides the built-in table
    Standard_L8s_v3 = 16

Relative VHD paths are relative to the manifest's folder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_vmimage.profiles import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

OS_FAMILIES = ("linux", "windows")

# Maximum data disks per VM size, as Azure documents them (sizes pages, 2019-2023).
# Names compare case-insensitively; ``[vm_sizes]`` in the manifest adds or overrides.
BUILTIN_VM_SIZES: dict[str, int] = {
    **{f"Standard_A{n}_v2": d for n, d in ((1, 2), (2, 4), (4, 8), (8, 16))},
    **{f"Standard_A{n}m_v2": d for n, d in ((2, 4), (4, 8), (8, 16))},
    "Standard_B1ls": 2,
    "Standard_B1s": 2,
    "Standard_B1ms": 2,
    "Standard_B2s": 4,
    "Standard_B2ms": 4,
    "Standard_B4ms": 8,
    "Standard_B8ms": 16,
    "Standard_B12ms": 16,
    "Standard_B16ms": 32,
    "Standard_B20ms": 32,
    **{f"Standard_D{n}_v2": d for n, d in ((1, 4), (2, 8), (3, 16), (4, 32), (5, 64))},
    **{f"Standard_DS{n}_v2": d for n, d in ((1, 4), (2, 8), (3, 16), (4, 32), (5, 64))},
    **{
        f"Standard_{family}{n}{s}_{v}": d
        for family in ("D", "E")
        for s in ("", "s")
        for v in ("v3", "v4", "v5")
        for n, d in ((2, 4), (4, 8), (8, 16), (16, 32), (32, 32), (48, 32), (64, 32))
    },
    **{f"Standard_F{n}s_v2": d for n, d in ((2, 4), (4, 8), (8, 16), (16, 32), (32, 32), (48, 32), (64, 32))},
}


@dataclass(frozen=True)
class DiskEntry:
    """One disk of a SKU version: the OS disk or a data disk (``lun`` as written)."""

    role: str  # "os" or "data"
    lun: Any = None  # data disks: as written (the check judges integers)
    path: Path | None = None
    sas_uri: str | None = field(default=None, repr=False)  # holds a signature: never shown

    @property
    def name(self) -> str:
        return "OS disk" if self.role == "os" else f"data disk LUN {self.lun}"


@dataclass(frozen=True)
class SkuVersion:
    version: str
    os_vhd: DiskEntry | None = None
    data_disks: tuple[DiskEntry, ...] | None = None  # None when only a count was given
    data_disk_count: int | None = None  # the count, given or from data_disks
    generation: int | None = None  # VHD-010: 1 or 2 as declared; None when not written (Gen1)
    trusted_launch: bool = False  # VHD-010: the plan declares Trusted Launch (needs generation = 2)


@dataclass(frozen=True)
class Sku:
    id: str
    os_family: str | None
    recommended_vm_sizes: tuple[str, ...]
    versions: tuple[SkuVersion, ...]

    @property
    def submitted(self) -> SkuVersion | None:
        """The version being submitted: the last one listed."""
        return self.versions[-1] if self.versions else None


@dataclass(frozen=True)
class Offer:
    path: Path
    id: str
    os_family: str | None
    publisher_offers: tuple[tuple[str, tuple[str, ...]], ...]  # (offer id, its SKU ids)
    skus: tuple[Sku, ...]
    vm_sizes: dict[str, int] = field(default_factory=dict)  # built-in + [vm_sizes]

    def max_data_disks(self, size: str) -> int | None:
        wanted = size.strip().lower()
        for name, disks in self.vm_sizes.items():
            if name.lower() == wanted:
                return disks
        return None


def load_offer(path: str | Path) -> Offer:
    """Read and shape-check an offer manifest; raise :class:`ConfigError` naming the problem."""
    path = Path(path)
    where = f"--vm-offer {path}"
    if path.suffix.lower() in (".yaml", ".yml"):
        raise ConfigError(f"{where}: YAML is not read; write the manifest as TOML (see the README)")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    unknown = set(data) - {"offer", "publisher_offers", "skus", "vm_sizes"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(sorted(unknown))}; "
            "use [offer], [[publisher_offers]], [[skus]], [vm_sizes]"
        )
    offer = _table(data.get("offer"), f"{where}: [offer]")
    offer_id = _str(offer.get("id"), f"{where}: [offer] id")
    family = _family(offer.get("os_family"), f"{where}: [offer] os_family")
    publisher = []
    for n, entry in enumerate(_list(data.get("publisher_offers", []), f"{where}: publisher_offers")):
        entry = _table(entry, f"{where}: publisher_offers[{n}]")
        skus = _list(entry.get("skus", []), f"{where}: publisher_offers[{n}].skus")
        publisher.append(
            (
                _str(entry.get("id"), f"{where}: publisher_offers[{n}].id"),
                tuple(_str(s, f"{where}: publisher_offers[{n}].skus") for s in skus),
            )
        )
    sku_list = _list(data.get("skus"), f"{where}: [[skus]]")
    if not sku_list:
        raise ConfigError(f"{where}: no [[skus]]; an offer has at least one SKU")
    skus = tuple(_sku(entry, n, path.parent, where) for n, entry in enumerate(sku_list))
    sizes = dict(BUILTIN_VM_SIZES)
    for name, value in _table(data.get("vm_sizes", {}), f"{where}: [vm_sizes]").items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(
                f"{where}: [vm_sizes] {name} = {value!r}: give the max data disks as an integer"
            )
        for known in list(sizes):
            if known.lower() == name.lower():
                del sizes[known]
        sizes[name] = value
    return Offer(path, offer_id, family, tuple(publisher), skus, sizes)


def _sku(entry: Any, n: int, base: Path, where: str) -> Sku:
    entry = _table(entry, f"{where}: skus[{n}]")
    sku_id = _str(entry.get("id"), f"{where}: skus[{n}].id")
    at = f"{where}: SKU {sku_id!r}"
    sizes = _list(entry.get("recommended_vm_sizes", []), f"{at} recommended_vm_sizes")
    versions = _list(entry.get("versions"), f"{at} [[skus.versions]]")
    if not versions:
        raise ConfigError(f"{at}: no [[skus.versions]]; list the version being submitted (last)")
    return Sku(
        sku_id,
        _family(entry.get("os_family"), f"{at} os_family"),
        tuple(_str(s, f"{at} recommended_vm_sizes") for s in sizes),
        tuple(_version(v, i, base, at, last=i == len(versions) - 1) for i, v in enumerate(versions)),
    )


def _version(entry: Any, i: int, base: Path, at: str, last: bool) -> SkuVersion:
    entry = _table(entry, f"{at} versions[{i}]")
    raw = entry.get("version")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)
    version = _str(raw, f"{at} versions[{i}].version")
    at = f"{at} version {version}"
    boot = _generation(entry, at)
    os_vhd = None
    if "os_vhd" in entry:
        os_vhd = _disk(entry["os_vhd"], "os", base, f"{at} os_vhd")
    elif last:
        raise ConfigError(f"{at}: the submitted version needs os_vhd = {{ path = ..., sas_uri = ... }}")
    disks_raw = entry.get("data_disks", [])
    if isinstance(disks_raw, int) and not isinstance(disks_raw, bool) and disks_raw >= 0:
        if last:
            raise ConfigError(f"{at}: the submitted version lists its data disks ({{ lun, path, sas_uri }})")
        return SkuVersion(version, os_vhd, None, disks_raw, *boot)
    disks = tuple(
        _disk(d, "data", base, f"{at} data_disks[{k}]")
        for k, d in enumerate(_list(disks_raw, f"{at} data_disks"))
    )
    return SkuVersion(version, os_vhd, disks, len(disks), *boot)


GENERATIONS = (1, 2)


def _generation(entry: dict, at: str) -> tuple[int | None, bool]:
    """VHD-010: ``generation`` (1 or 2, Partner Center's X64 Gen1 / X64 Gen2 image type)
    and ``trusted_launch`` (a boolean; true needs ``generation = 2``)."""
    generation = entry.get("generation")
    if generation is not None and (type(generation) is not int or generation not in GENERATIONS):
        raise ConfigError(f"{at}: generation = {generation!r}: write 1 (X64 Gen1) or 2 (X64 Gen2)")
    trusted = entry.get("trusted_launch", False)
    if not isinstance(trusted, bool):
        raise ConfigError(f"{at}: trusted_launch = {trusted!r}: write true or false")
    if trusted and generation != 2:
        raise ConfigError(f"{at}: trusted_launch = true needs generation = 2 (Trusted Launch is Gen2 only)")
    return generation, trusted


def _disk(entry: Any, role: str, base: Path, at: str) -> DiskEntry:
    entry = _table(entry, at)
    allowed = {"path", "sas_uri"} | ({"lun"} if role == "data" else set())
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigError(
            f"{at}: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}"
        )
    path = entry.get("path")
    sas = entry.get("sas_uri")
    if path is not None:
        path = base / _str(path, f"{at}.path")
    if sas is not None and not isinstance(sas, str):
        raise ConfigError(f"{at}.sas_uri must be a string")
    if path is None and sas is None:
        raise ConfigError(f"{at}: give path (the local VHD), sas_uri, or both")
    if role == "data" and "lun" not in entry:
        raise ConfigError(f"{at}: a data disk needs lun = N")
    return DiskEntry(role, entry.get("lun"), path, sas)


def _table(value: Any, at: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{at} must be a table" if value is not None else f"{at} is missing")
    return value


def _list(value: Any, at: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{at} must be a list" if value is not None else f"{at} is missing")
    return value


def _str(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{at} must be a string" if value is not None else f"{at} is missing")
    return value


def _family(value: Any, at: str) -> str | None:
    if value is None:
        return None
    if value not in OS_FAMILIES:
        raise ConfigError(f"{at} = {value!r}: choose linux or windows")
    return value
