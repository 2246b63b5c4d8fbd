"""Profiles: which edition of the rules a run judges by.

``guide-2016`` (default) follows the 2015/2016 guide where it speaks and
Microsoft's test tool where the guide is silent; Partner Center rules never fail
there. ``current`` judges what certification checks today: LISA's ``azure_image_standard``
cases (the message names the case where one decides), the Partner Center FAQ and plan rules.
``--vm-config FILE`` (TOML) overrides single thresholds::

    [thresholds]
    linux_os_disk_warn_above_gib = 100

    [image]
    ssh_intentionally_blocked = false

    [section_timeouts]          # seconds per Linux fact section (default: facts/linux.py)
    security_updates = 300
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

GUIDE_2016 = "guide-2016"
CURRENT = "current"

_KERNEL_PARAMS = ["console=ttyS0", "earlyprintk=ttyS0", "rootdelay=300"]

# name -> (guide-2016 value, current value, what it means). Every disk size is in GiB.
THRESHOLDS: dict[str, tuple[Any, Any, str]] = {
    "linux_os_disk_min_gib": (30, 1, "Linux OS disk: fail below this size"),
    "linux_os_disk_warn_below_gib": (None, 30, "Linux OS disk: warn below this size (30-50 GiB recommended)"),
    "linux_os_disk_warn_above_gib": (50, None, "Linux OS disk: warn above this size"),
    "linux_os_disk_max_gib": (None, 1023, "Linux OS disk: fail above this size"),
    "windows_os_disk_exact_gib": ([127, 128], None, "Windows OS disk (VHD): the only sizes allowed"),
    "windows_os_disk_min_gib": (127, 30, "Windows OS disk: fail below this size"),
    "windows_os_disk_max_gib": (128, 250, "Windows OS disk: fail above this size"),
    "data_disk_max_gib": (1023, 1023, "data disk: fail above this size"),
    "agent_min_version": (None, "2.2.53.1", "Linux agent: below this version fail (or warn, see next)"),
    "agent_auto_update_exempts": (
        False,
        True,
        "Linux agent below the minimum only warns when AutoUpdate.Enabled is not n (LISA verify_waagent_version)",
    ),
    "agent_warn_if_newer_packaged": (True, False, "Linux agent: warn if the repository has a newer one"),
    "shell_history_max_bytes": (0, 0, "shell history: fail above this many bytes"),
    "python_fail_below": ("2.6", None, "agent's Python: fail below this version"),
    "python_warn_below": (None, "3.10", "python3 (LISA verify_python_version): warn below this version"),
    "openssl_fail_below": ("0.9.8", "3.0.0", "OpenSSL: fail if absent or below this version"),
    "openssl_extended_support": (
        None,
        ["1.1.1", "1.0.2"],
        "OpenSSL: judge as LISA verify_openssl_version, these series passing below openssl_fail_below",
    ),
    "openssl_warn_below": ("1.0", None, "OpenSSL: warn below this version"),
    "kernel_params_fail": (
        _KERNEL_PARAMS,
        ["console=ttyS0"],
        "kernel parameters whose absence fails",
    ),
    "kernel_params_warn": (
        [],
        ["earlyprintk=ttyS0", "rootdelay=300"],
        "kernel parameters whose absence warns",
    ),
    "serial_console_by_arch": (
        False,
        True,
        "LNX-013: console=ttyAMA0 stands for console=ttyS0 on aarch64 (LISA verify_serial_console_is_enabled)",
    ),
    "network_manager_el6_only": (
        False,
        True,
        "LNX-016 judges only the RHEL/CentOS 6 family, where an installed NetworkManager fails (LISA skips EL >= 7)",
    ),
    "package_index_max_age_days": (7, 7, "LNX-021: an older package index cannot show pending updates (error)"),
    "serial_console_log_accepted": (
        False,
        True,
        "LNX-013: this boot's kernel log saying 'console [ttyS0] enabled' stands for a missing console= "
        "on /proc/cmdline (LISA verify_serial_console_is_enabled)",
    ),
    "client_alive_interval": (180, 180, "sshd ClientAliveInterval that passes"),
    "client_alive_pass_min": (180, 30, "sshd ClientAliveInterval: lowest value that passes"),
    "client_alive_pass_max": (180, 235, "sshd ClientAliveInterval: highest value that passes"),
    "client_alive_warn_min": (30, 1, "sshd ClientAliveInterval: lowest value that only warns"),
    "client_alive_warn_max": (235, 235, "sshd ClientAliveInterval: highest value that only warns"),
    "sas_expiry_business_days": (7, None, "SAS se: at least this many business days from now"),
    "sas_expiry_calendar_days": (None, 21, "SAS se: at least this many calendar days from now"),
    "sas_datetime_required": (False, True, "SAS st/se must be full ISO date-times"),
    "sas_blob_name_chars_result": ("warning", "failed", 'result for space, % or " in a blob name'),
    "sas_http_result": ("warning", "failed", "result for an http:// SAS URI"),
    "recommended_sizes_min": (3, 1, "SKU: warn with fewer recommended VM sizes"),
    "recommended_sizes_max": (3, 6, "SKU: warn with more recommended VM sizes"),
    "first_partition_min_sector": (2048, 2048, "first partition: start at or after this sector"),
    "first_partition_result": ("warning", "failed", "result for a first partition below 1 MiB"),
    "lun_rule": ("unique", "contiguous", "data-disk LUNs: unique integers, or contiguous from 0"),
    "data_disk_count_stable": (False, True, "data-disk count must not change across versions"),
    "data_disks_max": (None, 16, "data disks per SKU version: fail above this count"),
    "sku_version_rule": ("raise-patch", "higher", "new SKU version keeps X.Y and raises Z, or is higher"),
    "sku_id_pc_result": ("warning", "failed", "result for an id breaking Partner Center's id rules"),
    "sku_id_underscore_allowed": (
        False,
        True,
        "ids may hold '_' and start or end with '-' (Partner Center plan id: a-z, 0-9, '-', '_', at most 50)",
    ),
    "rdp_result": ("warning", "failed", "Windows: result when RDP is not enabled/allowed"),
    "windows_winrm_https_required": (False, True, "Windows: require a WinRM HTTPS listener"),
    "rules_2026_result": (
        "warning",
        "failed",
        "result when a rule added in 2026-11 (LNX-030...043, WIN-014) is broken; guide-2016 never fails them",
    ),
}

# Facts about the image that a publisher declares (not thresholds).
IMAGE_SETTINGS: dict[str, tuple[Any, str]] = {
    "ssh_intentionally_blocked": (False, "the image blocks SSH on purpose (LNX-014/015 not applicable)"),
    "base_image_name": ("", "Windows: the declared base image name (WIN-001)"),
    "network_isolated": (
        False,
        "the VM under test is cut off from every network on purpose (a local test VM): "
        "LNX-043 DNS resolution is not applicable",
    ),
}

PROFILES = (GUIDE_2016, CURRENT)


class ConfigError(ValueError):
    """A --vm-profile or --vm-config problem; the message says what and where."""


@dataclass(frozen=True)
class Profile(Mapping[str, Any]):
    """Thresholds of one profile, with the config file's overrides applied.

    Read like a mapping: ``profile["data_disk_max_gib"]``. ``image`` holds what
    the publisher declared about the image (``[image]`` in the config file).
    """

    name: str
    thresholds: Mapping[str, Any]
    image: Mapping[str, Any] = field(default_factory=dict)
    overridden: tuple[str, ...] = ()
    section_timeouts: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.thresholds[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.thresholds)

    def __len__(self) -> int:
        return len(self.thresholds)

    @property
    def is_current(self) -> bool:
        return self.name == CURRENT


def load_profile(name: str, config_path: str | Path | None = None) -> Profile:
    """Build a profile by name, then apply a TOML config file's overrides."""
    if name not in PROFILES:
        raise ConfigError(f"--vm-profile {name!r}: choose one of {', '.join(PROFILES)}")
    column = 0 if name == GUIDE_2016 else 1
    thresholds = {key: values[column] for key, values in THRESHOLDS.items()}
    image = {key: default for key, (default, _) in IMAGE_SETTINGS.items()}
    overridden: list[str] = []
    if config_path is not None:
        data = _read_toml(Path(config_path))
        unknown_sections = set(data) - {"thresholds", "image", "section_timeouts"}
        if unknown_sections:
            raise ConfigError(
                f"{config_path}: unknown section(s) {', '.join(sorted(unknown_sections))}; "
                "use [thresholds], [image] and [section_timeouts]"
            )
        for key, value in _section(data, "thresholds", config_path).items():
            if key not in THRESHOLDS:
                raise ConfigError(
                    f"{config_path}: [thresholds] {key!r} is not a threshold; known: "
                    f"{', '.join(sorted(THRESHOLDS))}"
                )
            thresholds[key] = _checked(config_path, "thresholds", key, value, THRESHOLDS[key][:2])
            overridden.append(key)
        for key, value in _section(data, "image", config_path).items():
            if key not in IMAGE_SETTINGS:
                raise ConfigError(
                    f"{config_path}: [image] {key!r} is not known; known: {', '.join(sorted(IMAGE_SETTINGS))}"
                )
            image[key] = _checked(config_path, "image", key, value, (IMAGE_SETTINGS[key][0],))
        timeouts = _section_timeouts(_section(data, "section_timeouts", config_path), config_path)
    else:
        timeouts = {}
    return Profile(name, thresholds, image, tuple(overridden), timeouts)


def _section_timeouts(table: dict, path: str | Path) -> dict[str, float]:
    """``[section_timeouts]``: a known Linux fact section = a positive number of seconds."""
    from pytest_vmimage.facts.linux import SECTIONS

    timeouts = {}
    for name, value in table.items():
        if name not in SECTIONS:
            raise ConfigError(
                f"{path}: [section_timeouts] {name!r} is not a section; known: {', '.join(sorted(SECTIONS))}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: [section_timeouts] {name} = {value!r} must be a number of seconds")
        if not value > 0:
            raise ConfigError(f"{path}: [section_timeouts] {name} = {value!r} must be positive")
        timeouts[name] = value
    return timeouts


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--vm-config {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"--vm-config {path}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"--vm-config {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--vm-config {path}: not valid TOML ({exc})") from None


def _section(data: dict, name: str, path: str | Path) -> dict:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {name} must be a table, e.g. [{name}]")
    return section


def _checked(path: str | Path, section: str, key: str, value: Any, examples: tuple) -> Any:
    """A config value must have the type of the built-in values (None means 'off')."""
    kinds = {type(example) for example in examples if example is not None}
    if int in kinds:
        kinds.add(float)
    if isinstance(value, bool) and bool not in kinds:
        kinds_ok = False
    else:
        kinds_ok = any(isinstance(value, kind) for kind in kinds)
    if not kinds_ok:
        wanted = " or ".join(sorted(kind.__name__ for kind in kinds))
        raise ConfigError(f"{path}: [{section}] {key} = {value!r} has the wrong type; expected {wanted}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ConfigError(f"{path}: [{section}] {key} = {value!r} must not be negative")
    items = {type(item) for example in examples if isinstance(example, list) for item in example}
    if isinstance(value, list) and items and not all(isinstance(item, tuple(items)) for item in value):
        wanted = " or ".join(sorted(kind.__name__ for kind in items))
        raise ConfigError(f"{path}: [{section}] {key} must be a list of {wanted}")
    return value
