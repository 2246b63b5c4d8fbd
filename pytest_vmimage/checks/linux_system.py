"""Linux checks LNX-030...036: rules today's certification (LISA ``azure_image_standard``)
checks that the 2016 guide did not. Pure functions of :class:`LinuxFacts` and a profile;
every verdict goes through :func:`rule_added_2026` (guide-2016 warns instead of failing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_vmimage.checks import rule_added_2026
from pytest_vmimage.checks.linux import ENABLED_STATES, REGENERATE_GRUB
from pytest_vmimage.facts.linux import LinuxFacts, version_tuple
from pytest_vmimage.facts.linux_system import (
    Repository,
    apt_security_repositories,
    dhclient_requests_host_name,
    dhcpcd_requests_host_name,
    omi_version_numbers,
    omiserver_version,
    parse_kvp_daemon,
    parse_repositories,
    parse_sudoers,
    parse_udev_net_rules,
    release_codename,
    suse_dhcp_set_hostname,
)
from pytest_vmimage.verdict import FactError, Verdict

HARMFUL_KERNEL_PARAMS = ("libata.atapi_enabled=0", "reserve=0x1f0,0x8")
OMI_FIXED = (1, 6, 8, 1)
OMI_PACKAGES = ("omi", "omiserver")
KVP_PACKAGES = ("hyperv-daemons", "hypervkvpd", "hyper-v")


def _listing(items: list[str], limit: int = 5) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def _release(facts: LinuxFacts) -> tuple[str, set[str], str]:
    """(ID, ID_LIKE words, VERSION_ID) of os-release, lower case."""
    release = facts.os_release
    return (
        release.get("ID", "").lower(),
        set(release.get("ID_LIKE", "").lower().split()),
        release.get("VERSION_ID", ""),
    )


# -- LNX-030 ----------------------------------------------------------------------------


def default_targetpw(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-030: no ``Defaults targetpw`` (or ``rootpw``, ``runaspw``) left on in what sudo reads:
    /etc/sudoers and the files it includes (LISA verify_default_targetpw reads /etc/sudoers)."""
    required = "no Defaults targetpw / rootpw / runaspw in /etc/sudoers or its included files"
    if facts.fact("sudoers").get() is None:  # the section looked: no /etc/sudoers, no sudo command
        return Verdict.not_applicable(
            "sudo is not installed (no /etc/sudoers, no sudo command): no sudo policy to judge "
            "(LISA verify_default_targetpw)",
            required,
        )
    files = facts.files("sudoers")
    if "/etc/sudoers" not in files:
        found = ", ".join(sorted(files)) or "nothing"
        raise FactError(
            f"the sudoers listing has no /etc/sudoers (it printed {found}): sudo's policy cannot be read"
        )
    policy = parse_sudoers(files)
    if policy.unread_includes:
        raise FactError(
            f"sudoers includes {_listing(policy.unread_includes)}, which the suite does not read: whether they "
            "turn on targetpw cannot be told"
        )
    if policy.active:
        where = [f"{d.path}:{d.line}: {d.text}" for d in policy.active]
        lisa = any(d.path == "/etc/sudoers" and d.flag == "targetpw" and not d.scope for d in policy.active)
        return rule_added_2026(
            Verdict.failed(
                _listing(where),
                required,
                f"sudo asks for the target user's (root's) password instead of the admin's own: {_listing(where)}. "
                "On Azure root's password is deleted, so the provisioned admin cannot use sudo. Remove the line "
                "(or turn it off with 'Defaults !targetpw') and check with 'visudo -c' "
                + (
                    "(LISA verify_default_targetpw fails on this line)"
                    if lisa
                    else "(LISA verify_default_targetpw reads only /etc/sudoers; sudo itself reads this file)"
                ),
            ),
            profile,
        )
    notes = []
    if policy.skipped:
        notes.append(f"sudo skips {_listing(policy.skipped)} (names with '.' or '~')")
    if policy.not_included:
        notes.append(f"no includedir reads {_listing(policy.not_included)}")
    return rule_added_2026(
        Verdict.passed(
            f"no targetpw/rootpw/runaspw in {len(policy.read)} file(s) sudo reads",
            required,
            f"sudo reads {_listing(policy.read)}: none turns on targetpw, rootpw or runaspw"
            + (f" ({'; '.join(notes)})" if notes else "")
            + " (LISA verify_default_targetpw)",
        ),
        profile,
    )


# -- LNX-031 ----------------------------------------------------------------------------


def _has_param(text: str, param: str) -> bool:
    """``param`` as a whole kernel parameter (``reserve=0x1f0,0x8`` may go on with more ranges)."""
    return re.search(r"(?<![\w.,-])" + re.escape(param) + r"(?![\w.=-])", text) is not None


def _kernel_int(value: str) -> int | None:
    """A number as the kernel reads it (kstrtoint/simple_strtoull base 0): ``0x1F0``, ``0760``,
    ``496``, ``+0``, ``00``; None for anything else."""
    value = value.strip().lower()
    sign, digits = (-1, value[1:]) if value[:1] == "-" else (1, value.lstrip("+"))
    base = 16 if digits.startswith("0x") else 8 if digits.startswith("0") and len(digits) > 1 else 10
    try:
        return sign * int(digits[2:] if base == 16 else digits, base) if digits else None
    except ValueError:
        return None


def _reserves_ata_ports(numbers: list[int | None]) -> bool:
    """``reserve=`` (start, count) pairs include the primary ATA ports 0x1f0 + 8."""
    return any(numbers[i : i + 2] == [0x1F0, 0x8] for i in range(0, len(numbers), 2))


# the harmful parameters however the kernel accepts them spelled: parameq treats '-' and '_' in a
# name alike, next_arg strips double quotes, values are numbers (get_options/kstrtoint, base 0)
_ARG_VALUE = r'=(?P<v>"[^"\s]*"?|[^\s"\';]*)'
_SPELLINGS = {
    "libata.atapi_enabled=0": (
        re.compile(r"(?<![\w.,-])libata\.atapi[-_]enabled" + _ARG_VALUE),
        lambda v: _kernel_int(v) == 0,
    ),
    "reserve=0x1f0,0x8": (
        re.compile(r"(?<![\w.,-])reserve" + _ARG_VALUE),
        lambda v: _reserves_ata_ports([_kernel_int(n) for n in v.split(",")]),
    ),
}


def _harmful_spelled(text: str, param: str) -> str | None:
    """The first spelling of the harmful ``param`` in ``text`` (``libata.atapi-enabled="00"``)."""
    pattern, harmful = _SPELLINGS[param]
    for match in pattern.finditer(text):
        if harmful(match.group("v").strip('"')):
            return match.group(0)
    return None


def _config_text(facts: LinuxFacts) -> dict[str, str]:
    """Every persisted boot configuration, comment lines left out (LISA reads grub.cfg whole)."""
    texts: dict[str, str] = {}
    for section in ("default_grub", "grub_cfg", "grubenv", "bls_entries", "extlinux"):
        for path, text in facts.files(section).items():
            texts[path] = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return texts


def harmful_kernel_params(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-031: neither ``libata.atapi_enabled=0`` nor ``reserve=0x1f0,0x8`` on the running
    kernel line or anywhere in the persisted boot configuration; RHEL/CentOS below 6.6 also
    need ``numa=off`` (LISA verify_grub)."""
    required = "no libata.atapi_enabled=0, no reserve=0x1f0,0x8 (running and persisted)"
    running = facts.section("proc_cmdline")
    if not running.strip():
        raise FactError("/proc/cmdline read as empty: the running kernel line cannot be judged")
    configs = _config_text(facts)
    loaders = [p for p in configs if "/boot/" in p]
    if not loaders:
        raise FactError(
            "no boot loader configuration was found (grub.cfg, grubenv, BLS entries, extlinux): what the next "
            "boot gets cannot be told (LISA verify_grub fails without a grub file)"
        )
    found = []
    for param in HARMFUL_KERNEL_PARAMS:
        spelled = {
            path: _harmful_spelled(text, param)
            for path, text in {"/proc/cmdline": running, **configs}.items()
        }
        places = [path if as_ == param else f"{path} (as {as_})" for path, as_ in spelled.items() if as_]
        if places:
            found.append(f"{param} in {', '.join(places)}")
    distro, like, version = _release(facts)
    regenerate = REGENERATE_GRUB.get(facts.distro_family, "regenerate the boot loader configuration")
    if found:
        return rule_added_2026(
            Verdict.failed(
                "; ".join(found),
                required,
                f"harmful kernel parameter(s): {'; '.join(found)}. They turn off the ATAPI (DVD) driver Azure "
                f"uses for provisioning media or reserve its I/O ports. Remove them from /etc/default/grub "
                f"(GRUB_CMDLINE_LINUX), run {regenerate}, and reboot (LISA verify_grub)",
            ),
            profile,
        )
    old_el = distro in ("rhel", "centos") and bool(version_tuple(version)) and version_tuple(version) < (6, 6)
    if old_el:
        if not _has_param(running, "numa=off") or not any(
            _has_param(t, "numa=off") for t in configs.values()
        ):
            return rule_added_2026(
                Verdict.failed(
                    f"numa=off missing ({distro} {version})",
                    "numa=off on RHEL/CentOS below 6.6",
                    f"{distro} {version} is below 6.6: its kernel needs numa=off on Azure (running and persisted); "
                    f"add it to the kernel line and run {regenerate} (LISA verify_grub)",
                ),
                profile,
            )
    return rule_added_2026(
        Verdict.passed(
            "none of the harmful parameters",
            required,
            f"neither {' nor '.join(HARMFUL_KERNEL_PARAMS)} on the running line or in {', '.join(sorted(configs))} "
            "(LISA verify_grub)",
        ),
        profile,
    )


# -- LNX-032 ----------------------------------------------------------------------------


def persistent_net_rules(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-032: no ``70-persistent-net.rules`` in /etc/udev/rules.d and no
    ``75-persistent-net-generator.rules`` shipped (LISA verify_udev_rules_moved): a rule tied
    to the build machine's MAC renames or strands the NIC on every new VM."""
    required = "no 70-persistent-net.rules, no 75-persistent-net-generator.rules"
    rules = parse_udev_net_rules(facts.section("udev_net_rules"))
    found, masks = [], []
    for rule in rules:
        name = rule.path.rsplit("/", 1)[1]
        if name.startswith("75-") and rule.path.startswith("/etc/") and rule.masks:
            masks.append(f"{rule.path} masks the generator")
        else:
            found.append(
                rule.path
                + (f" -> {rule.target}" if rule.target else "")
                + (" (empty)" if rule.size == 0 else "")
            )
    if found:
        return rule_added_2026(
            Verdict.failed(
                _listing(found),
                required,
                f"persistent network naming rules are in the image: {_listing(found)}. They bind interface names "
                "to the build machine's MAC addresses, which change on every Azure deployment: delete "
                "/etc/udev/rules.d/70-persistent-net.rules and move 75-persistent-net-generator.rules out of "
                "the rules directories (Azure's Linux image preparation; LISA verify_udev_rules_moved)",
            ),
            profile,
        )
    return rule_added_2026(
        Verdict.passed(
            "no persistent-net rules",
            required,
            "no 70-persistent-net.rules or 75-persistent-net-generator.rules in the udev rules directories"
            + (f" ({_listing(masks)})" if masks else "")
            + " (LISA verify_udev_rules_moved)",
        ),
        profile,
    )


# -- LNX-033 ----------------------------------------------------------------------------


def dhcp_hostname(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-033: SUSE's DHCP client must not set the hostname (``DHCLIENT_SET_HOSTNAME="no"``);
    Azure Linux 3+ dhcpcd requests ``option host_name``, Mariner 1/2 dhclient ``host-name``
    (LISA verify_dhcp_file_configuration); other distros: not applicable."""
    distro, like, version = _release(facts)
    files = facts.files("dhcp_hostname")
    if (
        distro in ("sles", "sle_hpc", "sles_sap", "opensuse-leap", "opensuse-tumbleweed", "opensuse")
        or "suse" in like
    ):
        path, required = (
            "/etc/sysconfig/network/dhcp",
            'DHCLIENT_SET_HOSTNAME="no" in /etc/sysconfig/network/dhcp',
        )
        if path not in files:
            return rule_added_2026(
                Verdict.failed(
                    f"{path} missing",
                    required,
                    f"{path} does not exist: create it (the wicked/sysconfig package ships it) with "
                    'DHCLIENT_SET_HOSTNAME="no", so DHCP does not overwrite the hostname Azure sets '
                    "(LISA verify_dhcp_file_configuration)",
                ),
                profile,
            )
        value = suse_dhcp_set_hostname(files[path])
        if value != "no":
            found = "unset" if value is None else f'DHCLIENT_SET_HOSTNAME="{value}"'
            return rule_added_2026(
                Verdict.failed(
                    found,
                    required,
                    f'{path}: {found}; set DHCLIENT_SET_HOSTNAME="no" so the DHCP client leaves the '
                    "hostname Azure provisions alone (Azure SUSE preparation; LISA "
                    "verify_dhcp_file_configuration)",
                ),
                profile,
            )
        ifcfg = "/etc/sysconfig/network/ifcfg-eth0"
        override = suse_dhcp_set_hostname(files.get(ifcfg, ""))
        if override not in (None, "no"):
            return rule_added_2026(
                Verdict.failed(
                    f'{ifcfg}: DHCLIENT_SET_HOSTNAME="{override}"',
                    required,
                    f'{path} says "no" but {ifcfg} sets DHCLIENT_SET_HOSTNAME="{override}", which wicked uses '
                    'for eth0, Azure\'s NIC: remove it or set it to "no" (LISA verify_dhcp_file_configuration '
                    "reads only the global file)",
                ),
                profile,
            )
        return rule_added_2026(
            Verdict.passed(
                'DHCLIENT_SET_HOSTNAME="no"',
                required,
                f'{path} sets DHCLIENT_SET_HOSTNAME="no" (LISA verify_dhcp_file_configuration)',
            ),
            profile,
        )
    if distro in ("azurelinux", "mariner"):
        major = version_tuple(version)[:1]
        if distro == "azurelinux" or major >= (3,):
            path, wanted, test = "/etc/dhcpcd.conf", "option host_name", dhcpcd_requests_host_name
        else:
            path, wanted, test = (
                "/etc/dhcp/dhclient.conf",
                "a request for host-name",
                dhclient_requests_host_name,
            )
        required = f"{wanted} in {path}"
        if path not in files or not test(files[path]):
            found = f"{path} missing" if path not in files else f"no {wanted} in {path}"
            return rule_added_2026(
                Verdict.failed(
                    found,
                    required,
                    f"{distro} {version}: {found}; the DHCP client must ask for the host name Azure "
                    f"hands out: add {wanted} to {path} (LISA verify_dhcp_file_configuration)",
                ),
                profile,
            )
        return rule_added_2026(
            Verdict.passed(
                f"{wanted} in {path}", required, f"{path} has {wanted} (LISA verify_dhcp_file_configuration)"
            ),
            profile,
        )
    name = distro or "this distribution"
    return Verdict.not_applicable(
        f"{name} is neither SUSE nor Azure Linux/Mariner: the DHCP hostname setting is a SUSE / Azure Linux "
        "rule (LISA verify_dhcp_file_configuration skips other distros)",
        'SUSE: DHCLIENT_SET_HOSTNAME="no"; Azure Linux: option host_name',
    )


# -- LNX-034 ----------------------------------------------------------------------------


def kvp_daemon(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-034: the Hyper-V KVP daemon (``hv_kvp_daemon`` / ``hypervkvpd``) is installed and
    starts on Azure: its unit enabled, or pulled in by the udev rule of /dev/vmbus/hv_kvp, or
    running (LISA verify_hv_kvp_daemon_installed; Debian family: missing only warns)."""
    required = "hv_kvp_daemon / hypervkvpd installed and enabled"
    kvp = parse_kvp_daemon(facts.section("kvp_daemon"))
    packages = {n: v for n, v in facts.packages().items() if n in KVP_PACKAGES}
    installed = kvp.binaries or packages
    package_text = ", ".join(f"{n} {v}" for n, v in sorted(packages.items())) or "no KVP package"
    if not installed:
        return Verdict.warning(
            "not installed",
            required,
            "no hv_kvp_daemon or hypervkvpd binary and no hyperv-daemons/hypervkvpd/hyper-v package: Azure cannot "
            "read the VM's network details and guest information through KVP; install your distribution's Hyper-V "
            "daemons package (Debian/Ubuntu: hyperv-daemons or linux-cloud-tools; RHEL: hyperv-daemons; SUSE: "
            "hyper-v; Azure Linux: hypervkvpd) (LISA verify_hv_kvp_daemon_installed)",
        )
    enabled = [f"{u} {e}" for u, (e, _) in kvp.units.items() if e in ENABLED_STATES]
    udev = [
        u
        for u in kvp.udev_started_units()
        if kvp.units.get(u, ("", ""))[0] not in ("masked", "masked-runtime")
    ]
    masked = [u for u, (e, _) in kvp.units.items() if e.startswith("masked")]
    how = []
    if kvp.processes:
        how.append(f"running ({', '.join(sorted(set(kvp.processes)))})")
    if enabled:
        how.append(f"unit {', '.join(enabled)}")
    if udev:
        how.append(f"started by udev when /dev/vmbus/hv_kvp appears ({', '.join(sorted(set(udev)))})")
    found = f"{package_text}; binary {', '.join(sorted(set(kvp.binaries))) or 'not found'}"
    if not how:
        states = ", ".join(f"{u} {e or 'not found'}" for u, (e, _) in kvp.units.items())
        return Verdict.warning(
            f"installed, not enabled ({found})",
            required,
            f"the KVP daemon is installed ({found}) but nothing starts it: {states}"
            + (f"; masked: {', '.join(masked)}" if masked else "")
            + ". Enable its unit (systemctl enable hv-kvp-daemon / hypervkvpd) (LISA verify_hv_kvp_daemon_installed)",
        )
    return Verdict.passed(
        f"installed and enabled ({found})",
        required,
        f"the KVP daemon is installed ({found}) and starts on Azure: {'; '.join(how)} "
        "(LISA verify_hv_kvp_daemon_installed)",
    )


# -- LNX-035 ----------------------------------------------------------------------------

DEBIAN_MIRRORS = ("deb.debian.org", "debian-archive.trafficmanager.net", "azure.deb.debian.cloud")
EL_BASE_WORDS = ("base", "baseos", "rhel", "fedora", "centos", "rhui")
OSS = re.compile(r"^(?!.*(debug|non)).*oss.*$")
UPDATE = re.compile(r"^(?!.*(debug|non)).*update.*$")
AZURE_LINUX_REPOS = {
    3: ("azurelinux-official-base", "azurelinux-official-ms-non-oss", "azurelinux-official-ms-oss"),
    2: ("mariner-official-base", "mariner-official-microsoft", "mariner-official-extras"),
    1: ("mariner-official-base", "mariner-official-microsoft", "mariner-official-update"),
}


def _codename(facts: LinuxFacts) -> str:
    return release_codename(facts.os_release)


def _repo_rule(facts: LinuxFacts, repos: list[Repository]) -> tuple[str, list[str], list[str]] | None:
    """(the distro's rule, what satisfies it, what is missing) or None for an unknown distro."""
    distro, like, version = _release(facts)
    major = (version_tuple(version) or (0,))[0]
    apt = [r for r in repos if r.manager == "apt" and not r.source_only]
    rpm_ids = [r.id for r in repos if r.manager == "rpm"]
    if distro == "ubuntu" or (distro != "debian" and "ubuntu" in like):
        code = _codename(facts)
        rule = f"Ubuntu: {code}-updates and {code}-security sources"
        needs = {
            "-updates": [r.id for r in apt if r.suites[0] == f"{code}-updates"],
            "-security": [r.id for r in apt if r.suites[0] == f"{code}-security"],
        }
    elif distro == "debian" or "debian" in like:
        code = _codename(facts)
        rule = f"Debian: {code}-security and {code}-updates sources"
        needs = {
            "-security": [r.id for r in apt_security_repositories(apt, code)],
            "-updates": [r.id for r in apt if r.suites[0] == f"{code}-updates"],
        }
    elif distro in ("sles", "sle_hpc", "sles_sap"):
        rule = "SLES: Pool and Updates repositories (zypper)"
        names = [f"{r.id} {r.name}" for r in repos if r.manager == "zypper"]
        needs = {"Pool": [n for n in names if "Pool" in n], "Updates": [n for n in names if "Updates" in n]}
    elif distro.startswith("opensuse") or "suse" in like:
        rule = "openSUSE: oss and update repositories (zypper)"
        names = [f"{r.id} {r.name}".lower() for r in repos if r.manager == "zypper"]
        needs = {"oss": [n for n in names if OSS.match(n)], "update": [n for n in names if UPDATE.match(n)]}
    elif distro in ("azurelinux", "mariner"):
        wanted = AZURE_LINUX_REPOS[3 if distro == "azurelinux" or major >= 3 else (1 if major == 1 else 2)]
        rule = f"{distro} {version}: {', '.join(wanted)}"
        needs = {w: [i for i in rpm_ids if w in i] for w in wanted}
    elif distro == "rhel":
        rule = "RHEL: RHUI repositories (LISA: more than 5 rhui- repositories in yum repolist all)"
        needs = {"rhui-": [i for i in rpm_ids if "rhui-" in i.lower()]}
    elif distro == "fedora":
        rule = "Fedora: fedora and updates repositories"
        needs = {
            "fedora": [i for i in rpm_ids if i.lower() == "fedora"],
            "updates": [i for i in rpm_ids if i.lower() == "updates"],
        }
    elif distro == "ol":
        rule = "Oracle Linux: a *_latest repository"
        needs = {"latest": [i for i in rpm_ids if "latest" in i.lower()]}
    elif like & {"rhel", "centos", "fedora"} or distro in ("centos", "rocky", "almalinux"):
        base = [i for i in rpm_ids if any(w in i.lower() for w in EL_BASE_WORDS)]
        if major and major < 8:
            rule = f"{distro} {version}: base and updates repositories"
            needs = {"base": base, "updates": [i for i in rpm_ids if "updates" in i.lower()]}
        else:
            rule = f"{distro} {version}: a BaseOS repository (it carries the updates on EL 8 and later)"
            needs = {"base": base}
    else:
        return None
    return rule, sorted({x for v in needs.values() for x in v}), [k for k, v in needs.items() if not v]


def repositories(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-035: the package manager lists the distro's own update sources (LISA
    verify_repository_installed, offline: the configured, enabled repositories; the VM is
    not asked to reach them)."""
    repos = parse_repositories(facts.files("repositories"))
    enabled = [r for r in repos if r.enabled]
    found = _listing([r.id for r in enabled if not r.source_only], 6) or "no enabled repository"
    outcome = _repo_rule(facts, enabled)
    disabled = [r.id for r in repos if not r.enabled]
    off = f" (disabled, not counted: {_listing(disabled, 4)})" if disabled else ""
    if outcome is None:
        distro = _release(facts)[0] or "an unknown distribution"
        if not [r for r in enabled if not r.source_only]:
            return rule_added_2026(
                Verdict.failed(
                    "no enabled repository",
                    "the distribution's update repositories",
                    f"{distro}: no enabled package repository is configured{off}: the VM cannot get "
                    "updates; configure the distribution's repositories (LISA verify_repository_installed)",
                ),
                profile,
            )
        return Verdict.warning(
            found,
            "the distribution's update repositories",
            f"{distro}: the suite has no repository rule for this distribution; found {found}{off}. LISA "
            "verify_repository_installed fails distributions it does not know: check them by hand",
        )
    rule, satisfying, missing = outcome
    if distro_rhel := (_release(facts)[0] == "rhel"):
        rhui_all = [r.id for r in repos if "rhui-" in r.id.lower()]
        if not missing and len(rhui_all) <= 5:
            missing = [f"more than 5 rhui- repositories (found {len(rhui_all)})"]
    if missing:
        return rule_added_2026(
            Verdict.failed(
                found,
                rule,
                f"{rule}; missing: {', '.join(missing)}. Found: {found}{off}. Configure the distribution's "
                "update repositories (Azure mirrors where the distribution has them) and keep them enabled "
                "(LISA verify_repository_installed)",
            ),
            profile,
        )
    note = ""
    if (
        not distro_rhel
        and _release(facts)[0] == "debian"
        and not any(m in u for r in enabled for u in r.uris for m in DEBIAN_MIRRORS)
    ):
        note = f"; LISA also looks for one of {', '.join(DEBIAN_MIRRORS)} in apt-get update's output"
    return rule_added_2026(
        Verdict.passed(
            _listing(satisfying, 4),
            rule,
            f"{rule}: {_listing(satisfying, 6)}{off}{note}. Judged offline from the repository files; "
            "whether the VM reaches them is not tested (LISA verify_repository_installed also runs apt-get "
            "update / zypper lr)",
        ),
        profile,
    )


# -- LNX-036 ----------------------------------------------------------------------------


def omi_version(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-036: OMI absent, or at least 1.6.8.1 (OMIGOD, CVE-2021-38647; LISA verify_omi_version),
    judged from the package manager and from ``/opt/omi/bin/omiserver --version``."""
    required = "OMI absent or ≥ 1.6.8.1"
    listing = facts.fact("packages").get()
    if listing is None:
        raise FactError("neither dpkg nor rpm answered: whether an OMI package is installed cannot be told")
    if not re.search(r"^manager (dpkg|rpm)$", listing, re.M):
        raise FactError("the package listing names no package manager (dpkg/rpm): it is incomplete")
    versions = {f"package {n}": v for n, v in facts.packages().items() if n in OMI_PACKAGES}
    server = facts.fact("omi").get()
    if server is not None:
        versions["omiserver --version"] = omiserver_version(server)
    if not versions:
        return rule_added_2026(
            Verdict.passed(
                "OMI not installed",
                required,
                "no omi/omiserver package and no /opt/omi/bin/omiserver (LISA verify_omi_version)",
            ),
            profile,
        )
    parsed = {where: omi_version_numbers(v) for where, v in versions.items()}
    unknown = [f"{where} {versions[where]}" for where, n in parsed.items() if n is None]
    if unknown:
        raise FactError(f"OMI is installed but its version cannot be read ({'; '.join(unknown)})")
    found = "; ".join(f"{where} {v}" for where, v in versions.items())
    vulnerable = [where for where, n in parsed.items() if n < OMI_FIXED]
    if vulnerable:
        return rule_added_2026(
            Verdict.failed(
                f"OMI {found}",
                required,
                f"Vulnerable OMI version detected ({found}): below 1.6.8.1, open to OMIGOD (CVE-2021-38647, "
                "remote code execution as root). Update OMI to 1.6.8.1 or later, or remove it "
                "(https://aka.ms/omi-updation; LISA verify_omi_version)",
            ),
            profile,
        )
    return rule_added_2026(
        Verdict.passed(f"OMI {found}", required, f"OMI {found}: 1.6.8.1 or later (LISA verify_omi_version)"),
        profile,
    )


# requirement -> check, for the recorded-fact tests and the degradation harness
CHECKS = {
    "LNX-030": default_targetpw,
    "LNX-031": harmful_kernel_params,
    "LNX-032": persistent_net_rules,
    "LNX-033": dhcp_hostname,
    "LNX-034": kvp_daemon,
    "LNX-035": repositories,
    "LNX-036": omi_version,
}
