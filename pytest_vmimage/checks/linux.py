"""Linux checks (guide §2): pure functions of :class:`LinuxFacts` and a profile."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_vmimage.facts.image_files import history_stored_bytes
from pytest_vmimage.facts.linux import (
    BOOT_TYPES,
    BlockDevice,
    LinuxFacts,
    parse_units,
    version_tuple,
)
from pytest_vmimage.facts.linux_accounts import (
    authorized_keys,
    parse_passwd,
    parse_shadow,
    password_finding,
    sshd_login_findings,
)
from pytest_vmimage.facts.linux_firewall import parse_firewall, unread_views
from pytest_vmimage.facts.linux_health import boot_log
from pytest_vmimage.facts.linux_network import (
    DHCP_ANY,
    ENABLED_STATES,
    ROUTES,
    BringUp,
    config_files,
    dns_overrides,
    interface_configs,
    primary_bring_up,
    primary_interface,
    resolv_conf,
    resolv_conf_findings,
)
from pytest_vmimage.facts.linux_parsers import (
    HV_MODULES,
    history_kind_of,
    parse_path_python,
    upstream_version,
)
from pytest_vmimage.facts.linux_system import apt_security_repositories, parse_repositories, release_codename
from pytest_vmimage.facts.linux_versions import (
    agent_interpreter_missing,
    parse_openssl_versions,
)
from pytest_vmimage.verdict import FactError, Verdict

REGENERATE_GRUB = {
    "debian": "update-grub",
    "rhel": "grub2-mkconfig -o /boot/grub2/grub.cfg (or grubby --update-kernel=ALL --args=...)",
    "suse": "grub2-mkconfig -o /boot/grub2/grub.cfg",
}


def kernel_param_present(params: list[str], required: str) -> tuple[bool, str]:
    """Whether ``required`` (``key=value``) is among ``params``, and a note.

    Device options count (``console=ttyS0,115200n8``); any of several
    ``console=`` counts; ``rootdelay`` is numeric and the last one wins (as in
    the kernel), a larger value passes with a note.
    """
    key, _, value = required.partition("=")
    if "--" in params:  # the kernel hands every word after "--" to init, not to itself
        params = params[: params.index("--")]
    values = [p.partition("=")[2] for p in params if p.partition("=")[0] == key]
    if not values:
        return False, ""
    if value.isdigit():
        last = values[-1]
        if not last.isdigit():
            return False, f"{key}={last} is not a number"
        if int(last) < int(value):
            return False, f"{key}={last} is below {value}"
        return True, f"{key}={last} (larger than {value})" if int(last) > int(value) else ""
    # console=ttyS0,115200n8 and earlyprintk=serial,ttyS0,115200 both name ttyS0
    return any(value in v.split(",") for v in values), ""


ARM64_CONSOLE = "console=ttyAMA0"
# the history names LISA verify_bash_history_is_empty finds anywhere below a shell user's home
LISA_HISTORY_NAME = re.compile(r"\..*sh_history|\.history")


def kernel_boot_line(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-013: console=ttyS0 earlyprintk=ttyS0 rootdelay=300 on the running kernel
    line and in the persisted boot loader configuration (guide §2.5); per profile which
    missing ones fail or warn, and (current) console=ttyAMA0 on aarch64."""
    fail_params = list(profile["kernel_params_fail"])
    warn_params = [p for p in profile["kernel_params_warn"] if p not in fail_params]
    arm_console = profile.get("serial_console_by_arch") and facts.machine == "aarch64"
    notes: list[str] = []
    if arm_console:  # LISA verify_serial_console_is_enabled: the Arm64 serial console is ttyAMA0
        fail_params = [ARM64_CONSOLE if p == "console=ttyS0" else p for p in fail_params]
        warn_params = [ARM64_CONSOLE if p == "console=ttyS0" else p for p in warn_params]
        x86_only = [p for p in fail_params + warn_params if p.startswith("earlyprintk=")]
        if x86_only:  # earlyprintk= is an x86 option and ttyS0 not the Arm64 UART (LISA asks neither)
            fail_params = [p for p in fail_params if p not in x86_only]
            warn_params = [p for p in warn_params if p not in x86_only]
            notes.append(f"{' '.join(x86_only)} not required on aarch64 (an x86-only option)")
    wanted = fail_params + warn_params
    required = f"{' '.join(wanted)} on the running kernel and in the boot loader config"
    sources = {"running kernel (/proc/cmdline)": facts.kernel_cmdline_alternatives()}
    persisted = facts.boot_loader_alternatives()
    if not persisted:
        raise FactError(
            "no boot loader configuration with a kernel line was found (looked in /etc/default/grub, "
            "grub.cfg, /boot/loader/entries, extlinux.conf)"
        )
    sources.update(persisted)
    missing: dict[str, list[str]] = {}
    undecided: list[str] = []  # places whose kernel lines (picked at boot) do not all agree
    for where, (lines, decided_by) in sources.items():
        judged = [_judge_line(params, wanted) for params in lines]
        if len(lines) > 1 and len({tuple(sorted(m)) for m, _ in judged}) > 1:
            if not all(any(p in fail_params for p in m) for m, _ in judged):
                shown = "; ".join(
                    f"line {k} ({' '.join(lines[k - 1])}): " + (f"missing {' '.join(m)}" if m else "all present")
                    for k, (m, _) in enumerate(judged, 1)
                )
                undecided.append(
                    f"{where} boots one of {len(lines)} kernel lines, picked at boot by {decided_by}: {shown}"
                )
                continue
        for k, (missed, line_notes) in enumerate(judged, 1):
            label = where
            if len(lines) > 1:
                label += f" (kernel line {k} of {len(lines)}, picked at boot by {decided_by}: {' '.join(lines[k - 1])})"
            for param, note in missed.items():
                missing.setdefault(param, []).append(label + (f": {note}" if note else ""))
            notes.extend(n for n in line_notes if n not in notes)
    console = next((p for p in fail_params if p.startswith("console=")), "")
    by_log = ""
    if profile.get("serial_console_log_accepted") and console in missing:
        log_note = _console_from_boot_log(facts, console, missing[console])
        if log_note.startswith("console ["):
            by_log = log_note
            del missing[console]
        else:
            missing[console][-1] += f" ({log_note})"
    if undecided and any(param in fail_params for param in missing):
        notes.append(f"also {'; '.join(undecided)}")
    elif undecided:
        raise FactError(
            "which kernel line the default entry boots is decided by GRUB at boot, and its lines do not all "
            f"pass: {'; '.join(undecided)}. Required: {required} on every line GRUB may boot (guide §2.5)"
        )
    if not missing:
        actual = f"all present in {len(sources)} places"
        if by_log:
            actual = f"{console} not on the boot line; {by_log.split(' (LISA')[0]}"
            notes.append(by_log)
        found = [p for p in wanted if p != console or not by_log]
        message = f"found {' '.join(found)}" + (f"; note {', '.join(notes)}" if notes else "")
        return Verdict.passed(actual, required, message)
    actual = "; ".join(f"{param} missing in {', '.join(where)}" for param, where in missing.items())
    regenerate = REGENERATE_GRUB.get(facts.distro_family, "regenerate the boot loader config")
    fix = (
        f"add the missing parameters to GRUB_CMDLINE_LINUX in /etc/default/grub, run {regenerate} "
        "and reboot so the running kernel has them too (guide §2.5)"
    )
    message = f"{actual}. Required: {required}. Fix: {fix}" + (f"; note {', '.join(notes)}" if notes else "")
    if profile.get("serial_console_by_arch") and console in missing:  # the LISA case is about the console only
        message += f" (LISA verify_serial_console_is_enabled: {ARM64_CONSOLE if arm_console else 'console=ttyS0'} on {facts.machine})"
    if any(param in fail_params for param in missing):
        return Verdict.failed(actual, required, message)
    return Verdict.warning(actual, required, message)


def _judge_line(params: list[str], wanted: list[str]) -> tuple[dict[str, str], list[str]]:
    """One kernel line: the wanted parameters it misses (with a note) and notes on the rest."""
    missed: dict[str, str] = {}
    notes: list[str] = []
    for param in wanted:
        ok, note = kernel_param_present(params, param)
        if not ok:
            missed[param] = note
        elif note:
            notes.append(note)
    return missed, notes


def _console_from_boot_log(facts: LinuxFacts, console: str, places: list[str]) -> str:
    """LISA verify_serial_console_is_enabled also accepts this boot's kernel log saying
    ``console [ttyS0] enabled`` (ttyAMA0 on Arm64) when /proc/cmdline lacks the parameter:
    the console then does not come from the boot line, so the boot loader config need not
    carry it either. A note starting "console [" when the log shows it; otherwise why not.
    A log that could not be read is a FactError, never "no such line"."""
    if not any(place.startswith("running kernel") for place in places):
        return "the running kernel has it: this boot's log shows that boot line, not the next one"
    device = console.partition("=")[2]
    try:
        log = boot_log(facts)
    except FactError as exc:
        raise FactError(
            f"{console} is missing on the running kernel line, and this boot's kernel log, which LISA "
            f"verify_serial_console_is_enabled accepts instead, could not be read: {exc}"
        ) from exc
    if device in log.consoles:
        return f"console [{device}] enabled in this boot's kernel log (LISA verify_serial_console_is_enabled accepts it)"
    if not log.starts_at_boot:  # the kernel enables its consoles in its first second: that part was not read
        raise FactError(
            f"{console} is missing on the running kernel line, and this boot's log ({log.source}) does not "
            "reach back to the kernel's first line (rotated, volatile or wrapped), so whether the kernel "
            "enabled the console, which LISA verify_serial_console_is_enabled accepts instead, was not read"
        )
    return f"this boot's kernel log enables {', '.join(sorted(log.consoles)) or 'no console'}, not {device}"


# -- helpers -----------------------------------------------------------------------

AGENT_PACKAGES = ("waagent", "walinuxagent", "WALinuxAgent", "python-azure-agent", "python3-azure-agent")
GIB = 2**30
# systemctl is-enabled answers that mean the unit starts at boot


def _gib(size_bytes: int) -> str:
    return f"{size_bytes / GIB:.1f} GiB"


def _agent_missing(facts: LinuxFacts) -> str | None:
    """Why the agent-based checks cannot apply, or None when the agent is there."""
    if not facts.agent_binary():
        return "the Azure Linux Agent is not installed (LNX-003 fails)"
    return None


def _listing(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# -- §2.1 disks ------------------------------------------------------------------------


def os_disk_size(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-001: the disk holding / within the profile's bounds: guide-2016 at least 30 GiB
    (warns above 50 GiB); current 1–1023 GiB, warning below 30 GiB (Partner Center FAQ)."""
    devices = facts.block_devices()
    disk = devices[facts.os_disk(devices)]
    size = disk.size_gib
    low, warn_below, warn_above, high = (
        profile["linux_os_disk_min_gib"],
        profile.get("linux_os_disk_warn_below_gib"),
        profile["linux_os_disk_warn_above_gib"],
        profile["linux_os_disk_max_gib"],
    )
    required = (
        f"≥ {low} GiB"
        + (f", ≤ {high} GiB" if high else "")
        + (f" ({warn_below} GiB or more recommended)" if warn_below else "")
        + (f" (> {warn_above} GiB reviewed case by case)" if warn_above else "")
    )
    actual = f"/dev/{disk.name} is {_gib(disk.size_bytes)}"
    source = "Partner Center FAQ: 1–1023 GiB" if warn_below else "guide §2.1"
    if size < low:
        return Verdict.failed(
            actual,
            required,
            f"OS disk {actual}; it must be at least {low} GiB: resize the VHD before upload ({source})",
        )
    if high and size > high:
        return Verdict.failed(
            actual, required, f"OS disk {actual}; it must be at most {high} GiB ({source})"
        )
    if warn_below and size < warn_below:
        return Verdict.warning(
            actual,
            required,
            f"OS disk {actual}; {warn_below}–50 GiB is recommended, a smaller disk leaves customers little "
            f"room (Partner Center FAQ: 1–1023 GiB accepted, 30–50 recommended)",
        )
    if warn_above and size > warn_above:
        return Verdict.warning(
            actual,
            required,
            f"OS disk {actual}; above {warn_above} GiB Microsoft evaluates it individually (guide §2.1)",
        )
    return Verdict.passed(actual, required)


def data_disk_size(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-002: every data disk (not the OS disk, not the temporary disk) is at most 1023 GiB."""
    devices = facts.block_devices()
    exclude = {facts.os_disk(devices), facts.resource_disk(devices)}
    limit = profile["data_disk_max_gib"]
    data = [d for d in facts.physical_disks(devices) if d.name not in exclude]
    required = f"each data disk ≤ {limit} GiB"
    if not data:
        return Verdict.not_applicable("no data disk is attached to this VM", required)
    actual = ", ".join(f"/dev/{d.name} {_gib(d.size_bytes)}" for d in data)
    too_big = [d for d in data if d.size_gib > limit]
    if too_big:
        names = ", ".join(f"/dev/{d.name}" for d in too_big)
        return Verdict.failed(
            actual,
            required,
            f"{names} exceed {limit} GiB (1024 GiB cannot be uploaded); shrink the data disk VHD (guide §2.1)",
        )
    return Verdict.passed(actual, required)


# -- §2.2 agent ------------------------------------------------------------------------


def agent_installed(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-003: waagent, /etc/waagent.conf and an enabled service, installed from the distro package."""
    required = "waagent + /etc/waagent.conf + enabled service, from the distro package"
    binary = facts.agent_binary()
    conf = facts.waagent_conf() is not None
    units = facts.unit_states("agent")
    enabled = [name for name, (state, _) in units.items() if state in ENABLED_STATES]
    packages = facts.packages()
    package = next((f"{name} {packages[name]}" for name in AGENT_PACKAGES if name in packages), "")
    missing = [
        what
        for what, ok in (
            ("waagent", binary),
            ("/etc/waagent.conf", conf),
            ("an enabled walinuxagent/waagent service", enabled),
        )
        if not ok
    ]
    actual = (
        f"{binary or 'no waagent'}; "
        + (f"package {package}" if package else "no agent package")
        + f"; service {'enabled' if enabled else 'not enabled'}"
    )
    fix = "install your distribution's agent package (walinuxagent / WALinuxAgent / waagent) and enable its service (guide §2.2)"
    if missing:
        return Verdict.failed(actual, required, f"missing: {', '.join(missing)}. Fix: {fix}")
    if not package:
        return Verdict.warning(
            actual,
            required,
            f"the agent was installed by hand; the guide strongly recommends the distribution package. Fix: {fix}",
        )
    return Verdict.passed(actual, required)


def _agent_version(facts: LinuxFacts) -> str:
    packages = facts.packages()
    text = facts.raw("agent_version").text
    match = re.search(r"WALinuxAgent-(\d+(?:\.\d+)+)", text)
    if match:
        return match.group(1)
    for name in AGENT_PACKAGES:
        if name in packages:
            return re.sub(r"^\d+:", "", packages[name]).split("-")[0]
    raise FactError("the agent's version could not be read (waagent --version and the package database)")


def agent_version(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-004: the agent is recent: per profile, a minimum version or no newer packaged agent."""
    reason = _agent_missing(facts)
    if reason:
        return Verdict.not_applicable(reason)
    version = _agent_version(facts)
    minimum = profile["agent_min_version"]
    if minimum:
        return _agent_minimum(facts, version, minimum, profile.get("agent_auto_update_exempts", False))
    required = "the newest agent your distribution's repository offers"
    if not profile["agent_warn_if_newer_packaged"]:
        return Verdict.passed(version, "any version")
    newer = _newer_packaged_agent(facts, version)
    if newer:
        installed, candidate = newer
        return Verdict.warning(
            f"{version} (repository offers {candidate})",
            required,
            f"agent {installed} installed, the repository offers {candidate}; upgrade it before capture (guide §2.2)",
        )
    return Verdict.passed(version, required)


def _lisa_auto_update_value(text: str) -> str | None:
    """AutoUpdate.Enabled as LISA's Waagent tool reads it: ``^\\s*(\\S+)=(\\S+)\\s*$`` lines,
    the last wins, the value compared as written (no quotes, spaces or case folded)."""
    lines = (re.fullmatch(r"\s*(\S+)=(\S+)\s*", line) for line in text.splitlines())
    values = [m.group(2) for m in lines if m and m.group(1) == "AutoUpdate.Enabled"]
    return values[-1] if values else None


def _agent_minimum(facts: LinuxFacts, version: str, minimum: str, auto_update_exempts: bool) -> Verdict:
    """Below ``minimum`` fails; with ``auto_update_exempts`` it only warns while
    AutoUpdate.Enabled is not n (absent or commented means y, as in the agent)."""
    if not auto_update_exempts:
        required = f"≥ {minimum}"
        if version_tuple(version) < version_tuple(minimum):
            return Verdict.failed(
                version,
                required,
                f"agent {version} is older than {minimum}; install the current package of your distribution (tool 39, guide §2.2)",
            )
        return Verdict.passed(version, required)
    required = f"≥ {minimum}, or AutoUpdate.Enabled=y"
    if version_tuple(version) >= version_tuple(minimum):
        return Verdict.passed(version, required)
    conf = facts.waagent_conf()
    if conf is None:
        raise FactError(
            f"agent {version} is older than {minimum} and /etc/waagent.conf is missing, so whether it "
            "updates itself cannot be told (LNX-003 fails)"
        )
    setting = conf.get("AutoUpdate.Enabled")
    actual = f"{version}, AutoUpdate.Enabled={setting if setting is not None else 'not set (y)'}"
    lisa = (
        f"LISA verify_waagent_version: ≥ {minimum}, or auto-update on; agents below {minimum} are "
        "unsupported since July 2022 (agent support article)"
    )
    if setting is not None and setting.lower() == "n":
        lisa_differs = _lisa_auto_update_value(facts.fact("waagent_conf").get() or "") != "n"
        return Verdict.failed(
            actual,
            required,
            f"agent {version} is older than {minimum} and AutoUpdate.Enabled=n: install your distribution's "
            f"current agent package, or set AutoUpdate.Enabled=y in /etc/waagent.conf ({lisa})"
            + (
                "; note LISA would pass this file: it reads only the exact line 'AutoUpdate.Enabled=n', "
                "but the agent reads this spelling as n and does not update itself"
                if lisa_differs
                else ""
            ),
        )
    return Verdict.warning(
        actual,
        required,
        f"agent {version} is older than {minimum}; it passes only because auto-update replaces it at first boot: "
        f"install your distribution's current agent package ({lisa})",
    )


def _newer_packaged_agent(facts: LinuxFacts, version: str) -> tuple[str, str] | None:
    """(installed, candidate) when the repository offers another agent than the one installed;
    FactError when the repository's candidate cannot be compared (never a silent pass)."""
    rows = facts.agent_policy()
    if rows is None:
        raise FactError(
            "the repository's agent version cannot be compared on this distribution (no apt-cache); "
            "compare the installed agent with your repository by hand, or use --vm-profile current"
        )
    if not rows:
        raise FactError("apt-cache policy named no waagent/walinuxagent package: the repository's candidate is unknown")
    installed = [row for row in rows if row.installed != "(none)"]
    for row in installed:
        if row.candidate not in ("(none)", row.installed):
            return row.installed, row.candidate
    if installed:
        return None
    offered = [row.candidate for row in rows if row.candidate != "(none)"]
    if not offered:
        raise FactError("the package index offers no agent package, so the installed agent cannot be compared")
    newer = [c for c in offered if version_tuple(upstream_version(c)) > version_tuple(version)]
    return (version, newer[0]) if newer else None


def agent_auto_update(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-005: AutoUpdate.Enabled is not n (absent or commented means enabled)."""
    reason = _agent_missing(facts)
    conf = facts.waagent_conf()
    if reason or conf is None:
        return Verdict.not_applicable(reason or "/etc/waagent.conf is missing (LNX-003 fails)")
    value = conf.get("AutoUpdate.Enabled")
    actual = f"AutoUpdate.Enabled={value}" if value is not None else "AutoUpdate.Enabled not set (default: y)"
    if value is not None and value.lower() == "n":
        return Verdict.warning(
            actual,
            "AutoUpdate.Enabled=y (or absent)",
            "set AutoUpdate.Enabled=y in /etc/waagent.conf so the agent keeps itself current (tool 51)",
        )
    return Verdict.passed(actual, "AutoUpdate.Enabled=y (or absent)")


# -- §2.3 kernel and libraries -----------------------------------------------------------

def hyperv_drivers(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-006: hv_vmbus, hv_storvsc, hv_netvsc built in or loadable, and in the initramfs when
    storage is modular. Judged on the running kernel only when it (and the initramfs read)
    is what the boot loader's default entry starts: a kernel installed but not booted into
    is an error, never a pass on the old one."""
    required = "hv_vmbus, hv_storvsc, hv_netvsc built in or as modules of the running kernel; in the initramfs when modular"
    state = facts.kernel_modules()
    absent = [m for m in HV_MODULES if state.get(m, "absent") == "absent"]
    actual = ", ".join(f"{m} {state.get(m, 'absent')}" for m in HV_MODULES)
    packages = facts.packages()
    lis = [p for p in ("microsoft-hyper-v", "kmod-microsoft-hyper-v") if p in packages]
    if absent:
        return Verdict.failed(
            actual,
            required,
            f"{', '.join(absent)} missing from the running kernel; use a kernel with Hyper-V drivers (LIS ≥ 3.0) (guide §2.3)",
        )
    modular = state.get("hv_storvsc") == "module"
    fix = (
        "reboot into the default entry (or make the running kernel the default) and run again, so the "
        "kernel and initramfs judged are the ones the image boots"
    )
    mismatch = facts.next_boot_mismatch()  # the kernel release first: its drivers were read
    bare = facts.entries_without_initrd() if modular and not mismatch else []
    if bare:
        return Verdict.failed(
            actual + "; the default entry loads no initramfs",
            required,
            f"the boot loader's default entry ({', '.join(bare)}) loads no initramfs while hv_storvsc is a module: "
            "the kernel cannot reach its disk on Hyper-V; add an initrd line (update-grub / grub2-mkconfig after "
            "update-initramfs / dracut) or build hv_vmbus and hv_storvsc into the kernel (guide §2.3)",
        )
    mismatch = mismatch or (facts.next_boot_mismatch(facts.initramfs_image()) if modular else "")
    if mismatch:
        # what was read is not what a VM made from this image boots: never a pass on it
        raise FactError(f"{mismatch}. Required: {required}. Fix: {fix}")
    if modular:
        found = facts.initramfs_modules()
        missing = [m for m in ("hv_vmbus", "hv_storvsc") if m not in found]
        if missing:
            return Verdict.failed(
                actual + f"; initramfs lacks {', '.join(missing)}",
                required,
                f"the initramfs lacks {', '.join(missing)}: the VM cannot find its disk on Hyper-V; add them (initramfs-tools: /etc/initramfs-tools/modules; dracut: add_drivers+=) and rebuild it (guide §2.3)",
            )
        actual += "; in the initramfs"
    note = f"LIS package installed: {', '.join(f'{p} {packages[p]}' for p in lis)}" if lis else ""
    return Verdict.passed(actual, required, note)


def python_version(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-007: the agent's interpreter exists and is at least ``python_fail_below``;
    python3 below ``python_warn_below`` warns (current: 3.10, LISA verify_python_version)."""
    reason = _agent_missing(facts)
    if reason:
        return Verdict.not_applicable(reason)
    fail_below, warn_below = profile["python_fail_below"], profile["python_warn_below"]
    section = facts.raw("agent_python")
    missing = agent_interpreter_missing(section.rc, section.text)
    if missing:
        agent_lines = facts.raw("agent").text.splitlines()
        shebang = next((line[8:].strip() for line in agent_lines if line.startswith("shebang ")), "")
        if not shebang.startswith("#!"):
            raise FactError(f"waagent's first line could not be read ({shebang!r}), so its interpreter is unknown")
        return Verdict.failed(
            f"interpreter {missing} missing",
            "the agent's interpreter installed",
            f"waagent's shebang {shebang} names {missing}, which does not exist: the agent cannot run; "
            "install the Python your distribution's agent package depends on (guide §2.3)",
        )
    info = facts.agent_python()
    version = info.get("version")
    if not version:
        raise FactError(f"the agent's interpreter {info.get('interpreter', '?')} did not report a version")
    interpreter = info.get("interpreter", "?")
    actual = f"{interpreter} {version}"
    if fail_below and version_tuple(version) < version_tuple(fail_below):
        return Verdict.failed(
            actual,
            f"≥ {fail_below}",
            f"the agent runs on Python {version}; {fail_below} or newer is required (guide §2.3)",
        )
    if warn_below:
        return _python3_lisa(facts, actual, warn_below, fail_below)
    return Verdict.passed(actual, f"≥ {fail_below}" if fail_below else "the agent's interpreter present")


def _python3_lisa(facts: LinuxFacts, agent: str, warn_below: str, fail_below: str | None) -> Verdict:
    """The ``python3`` on PATH (else ``python``, as LISA verify_python_version falls back)
    below ``warn_below`` warns (LISA: below 3.9 it fails, below 3.10 it warns; priority 5
    since 2026-06); neither answering warns too (LISA cannot read a version and fails)."""
    lisa = f"LISA verify_python_version (python3 --version): {warn_below}+ (3.9 support ended 2025-10-31)"
    required = f"the agent's interpreter {f'≥ {fail_below}' if fail_below else 'present'}; python3 ≥ {warn_below} recommended"
    found = parse_path_python(facts.fact("agent_python").get() or "")
    if not found.command:
        actual = f"agent: {agent}; {', '.join(found.tried)}"
        return Verdict.warning(
            actual,
            required,
            f"no python3 or python answers on PATH ({', '.join(found.tried)}): LISA cannot read a Python version and "
            f"fails; install python3 {warn_below}+ ({lisa})",
        )
    before = f" ({', '.join(found.tried)})" if found.tried else ""
    actual = f"agent: {agent}; {found.command} on PATH: {found.path} {found.version}{before}"
    if version_tuple(found.version) < version_tuple(warn_below):
        return Verdict.warning(
            actual,
            required,
            f"{found.command} on PATH ({found.path}) is {found.version}{before}; move to a distribution release "
            f"with Python {warn_below}+ ({lisa})",
        )
    return Verdict.passed(actual, required, lisa)


def pyasn1(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-008: pyasn1 is importable by the agent's interpreter."""
    reason = _agent_missing(facts)
    if reason:
        return Verdict.not_applicable(reason)
    info = facts.agent_python()
    required = f"import pyasn1 works in {info.get('interpreter', 'the agent interpreter')}"
    if (
        "pyasn1" in info
        and not info["pyasn1"].startswith(("Error", "ImportError", "ModuleNotFoundError"))
        and "Traceback" not in info["pyasn1"]
    ):
        return Verdict.passed(f"pyasn1 {info['pyasn1']}", required)
    found = info.get("pyasn1") or "not importable"
    return Verdict.failed(
        found,
        required,
        "pyasn1 is not importable by the agent's Python; install python3-pyasn1 (or python-pyasn1) (guide §2.3)",
    )


def openssl_version(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-009: OpenSSL present and not older than the profile's minimum: guide-2016 0.9.8
    (1.0 recommended); current ≥ 3.0.0 or a release of an extended-support series
    (1.1.1, 1.0.2), as LISA verify_openssl_version."""
    if profile.get("openssl_extended_support") is not None:
        return _openssl_lisa(facts, profile["openssl_fail_below"], list(profile["openssl_extended_support"]))
    version = facts.openssl_version()
    fail_below, warn_below = profile["openssl_fail_below"], profile["openssl_warn_below"]
    required = f"≥ {fail_below}" + (f", {warn_below}+ recommended" if warn_below else "")
    if version is None:
        return Verdict.failed("openssl not found", required, "install openssl (tool 44, guide §2.3)")
    if version_tuple(version) < version_tuple(fail_below):
        return Verdict.failed(
            version, required, f"OpenSSL {version} is older than {fail_below}; update it (tool 44)"
        )
    if warn_below and version_tuple(version) < version_tuple(warn_below):
        return Verdict.warning(
            version, required, f"OpenSSL {version}: version {warn_below} or newer is recommended (guide §2.3)"
        )
    return Verdict.passed(version, required)


def _openssl_lisa(facts: LinuxFacts, minimum: str, extended: list[str]) -> Verdict:
    """≥ ``minimum`` (a pre-release of it is below it), or a release of an ``extended``
    series (1.1.1w is a 1.1.1 release, 1.1.1-pre9 is not); the command's version and the
    library it is linked with are both judged."""
    lisa = f"LISA verify_openssl_version: ≥ {minimum}" + (f" or {'/'.join(extended)}" if extended else "")
    required = f"OpenSSL ≥ {minimum}" + (f", or a {' or '.join(extended)} release" if extended else "")
    text = facts.fact("openssl").get()
    if text is None:
        return Verdict.failed("openssl not found", required, f"install openssl ({lisa})")
    versions = parse_openssl_versions(text)
    actual = " / ".join(dict.fromkeys(f"{v.library} {v.text}" for v in versions))
    fix = f"update to OpenSSL {minimum} or newer (your distribution's current release) ({lisa})"
    other = [v for v in versions if not v.is_openssl]
    if other:
        return Verdict.failed(
            actual,
            required,
            f"the openssl command is {actual}, not OpenSSL: this rule names OpenSSL releases only "
            f"(LISA reads any number it prints as an OpenSSL version); install OpenSSL. {fix}",
        )
    low = version_tuple(minimum)
    for version in versions:
        series = version.series()
        if version.numbers > low or (version.numbers == low and not version.prerelease):
            continue
        if series in extended and not version.prerelease:
            continue
        why = f"pre-release {version.prerelease} of {series}" if version.prerelease else f"below {minimum}"
        extra = "" if series not in extended else f" (a pre-release is not a {series} release)"
        if version.prerelease:  # the catalogue's rule names releases only
            extra += "; LISA reads only the numbers and would pass it"
        return Verdict.failed(
            actual,
            required,
            f"OpenSSL {version.text} is {why} and not a release of {'/'.join(extended)}{extra}; {fix}",
        )
    return Verdict.passed(actual, required, lisa)


# -- §2.4 partitions --------------------------------------------------------------------


def no_lvm(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-010: / is not on a logical volume and the OS disk has no LVM physical volume."""
    devices = facts.block_devices()
    root = devices[facts.root_device(devices)]
    os_disk = facts.os_disk(devices)
    pvs = [d.name for d in devices.values() if d.kind == "part" and d.parent == os_disk and d.is_lvm_pv]
    on_lv = root.kind == "dm" and root.dm_uuid.startswith("LVM-")
    required = "/ on a plain partition; no LVM on the OS disk"
    findings = ([f"/ on logical volume {root.dm_name or root.name}"] if on_lv else []) + [
        f"LVM physical volume /dev/{p}" for p in pvs
    ]
    if findings:
        actual = "; ".join(findings)
        return Verdict.warning(
            actual,
            required,
            f"{actual}: the guide advises against LVM on the OS disk; use a single ext4/XFS root partition (guide §2.4)",
        )
    return Verdict.passed(f"/ on /dev/{root.name}", required)


def single_root_partition(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-011: the OS disk has one partition, holding / (BIOS-boot/EFI partitions allowed)."""
    devices = facts.block_devices()
    os_disk = facts.os_disk(devices)
    parts = sorted(
        (d for d in devices.values() if d.kind == "part" and d.parent == os_disk),
        key=lambda d: d.start_sector,
    )
    allowed = [d for d in parts if d.parttype.lower() in BOOT_TYPES]
    others = [d for d in parts if d not in allowed]
    root = facts.root_device(devices)
    required = "one partition on the OS disk, holding / (BIOS boot / EFI system allowed)"
    named = "; ".join(f"/dev/{d.name} ({BOOT_TYPES[d.parttype.lower()]}, allowed)" for d in allowed)
    if len(others) == 1 and others[0].name == root:
        return Verdict.passed(f"/dev/{root} holds /" + (f"; {named}" if named else ""), required)
    actual = (
        ", ".join(f"/dev/{d.name} {d.mountpoint or d.fstype or d.parttype or '?'}" for d in others)
        or "no partition"
    )
    return Verdict.warning(
        actual,
        required,
        f"OS disk /dev/{os_disk} has {len(others)} partitions besides boot partitions ({actual}); use a single root partition (guide §2.4, tool 42)",
    )


def no_swap_partition(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-012: no swap partition on the OS or data disks that is active, in fstab or a swap unit
    (fail); one that merely exists warns. Swap the agent puts on the resource disk is allowed."""
    devices = facts.block_devices()
    resource = facts.resource_disk(devices)
    swap_parts = [d for d in devices.values() if d.kind == "part" and d.is_swap and d.parent != resource]
    active = facts.active_swaps()
    fstab_swaps = [e.device for e in facts.fstab() if e.fstype == "swap"]
    # hand-written swap units; units generated from fstab are already covered above
    units = [
        line.strip() for line in facts.section("swap_units").splitlines() if line.startswith("/etc/systemd/")
    ]
    required = "no swap partition on the OS or data disks (use ResourceDisk.EnableSwap on the temporary disk)"
    resource_mounts = {
        d.mountpoint for d in devices.values() if d.kind == "part" and d.parent == resource and d.mountpoint
    }
    resource_mounts |= {"/mnt/resource", "/mnt"}

    def allowed_file(path: str) -> bool:
        return any(path.startswith(mount.rstrip("/") + "/") for mount in resource_mounts)

    def names(device: BlockDevice) -> set[str]:
        refs = {f"/dev/{device.name}"}
        refs |= {f"UUID={device.uuid}", f"/dev/disk/by-uuid/{device.uuid}"} if device.uuid else set()
        refs |= (
            {f"PARTUUID={device.partuuid}", f"/dev/disk/by-partuuid/{device.partuuid}"}
            if device.partuuid
            else set()
        )
        refs |= {f"LABEL={device.label}", f"/dev/disk/by-label/{device.label}"} if device.label else set()
        return refs

    used = []
    for device in swap_parts:
        refs = names(device)
        how = [
            w
            for w, hit in (("active", refs & set(active)), ("in /etc/fstab", refs & set(fstab_swaps)))
            if hit
        ]
        if how:
            used.append(f"/dev/{device.name} ({', '.join(how)})")
    other_active = [
        a
        for a in active
        if a.startswith("/dev/")
        and not any(a in names(d) for d in swap_parts)
        and not a.startswith("/dev/zram")
    ]
    # a device whose disk cannot be resolved still counts: it cannot be shown to be the resource disk
    unresolved = [a for a in other_active if not facts.disk_of(devices, a.removeprefix("/dev/"))]
    other_active = [a for a in other_active if facts.disk_of(devices, a.removeprefix("/dev/")) - {resource}]
    files = [a for a in active if not a.startswith("/dev/") and not allowed_file(a)]
    unit_swaps = [u.rsplit("/", 1)[-1] for u in units]
    failing = (
        used
        + [f"{a} (active)" for a in other_active]
        + [f"{a} (active, on a disk that could not be identified)" for a in unresolved]
        + [f"swap file {f} (active, not on the resource disk)" for f in files]
    )
    if failing:
        actual = "; ".join(failing)
        return Verdict.failed(
            actual,
            required,
            f"{actual}: remove the swap partition and its /etc/fstab entry; let the agent create swap on the resource disk (ResourceDisk.EnableSwap=y) (guide §2.4, tool 41)",
        )
    if unit_swaps:
        actual = f"swap unit(s) {', '.join(unit_swaps)}"
        return Verdict.failed(actual, required, f"{actual} configured: remove them (guide §2.4)")
    if swap_parts:
        actual = ", ".join(f"/dev/{d.name}" for d in swap_parts) + " (not used)"
        return Verdict.warning(
            actual,
            required,
            f"swap partition {actual} exists; remove it even though it is not mounted (guide §2.4)",
        )
    return Verdict.passed("no swap partition", required)


# -- §2.6 SSH ----------------------------------------------------------------------------


def _ssh_blocked(profile: Mapping[str, Any]) -> str:
    """Why the SSH checks do not apply, or "" when they do."""
    if profile_image(profile).get("ssh_intentionally_blocked"):
        return "the image declares SSH intentionally blocked ([image] ssh_intentionally_blocked)"
    return ""


def ssh_server(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-014: an SSH server is installed and enabled (unless the image blocks SSH on purpose)."""
    if reason := _ssh_blocked(profile):
        return Verdict.not_applicable(reason)
    binary = next((line for line in facts.raw("sshd").text.splitlines() if line.startswith("/")), "")
    units = facts.unit_states("sshd")
    enabled = [u for u, (state, _) in units.items() if state in ENABLED_STATES]
    required = "sshd installed and enabled"
    actual = f"{binary or 'no sshd'}; service {'enabled' if enabled else 'not enabled'}"
    if binary and enabled:
        return Verdict.passed(actual, required)
    return Verdict.warning(
        actual, required, "install and enable the SSH server (openssh-server) (guide §2.6)"
    )


def client_alive_interval(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-015: effective ClientAliveInterval: guide-2016 180 passes, 30–235 warns; current
    30–235 passes, 1–29 warns; 0, unset or above the range fails."""
    if reason := _ssh_blocked(profile):
        return Verdict.not_applicable(reason)
    values = facts.sshd_settings()
    if "clientaliveinterval" not in values:
        raise FactError("sshd -T printed no clientaliveinterval")
    in_match = [f"{setting} ({path})" for path, setting in facts.sshd_match_settings() if "clientalive" in setting.lower()]
    if in_match:
        raise FactError(
            f"ClientAliveInterval is set inside a Match block ({'; '.join(in_match)}): sshd -T shows only the "
            "global value, so what a login gets cannot be told; set it once, outside any Match block (guide §2.6)"
        )
    raw = values["clientaliveinterval"].strip()
    value = int(re.match(r"\d+", raw).group(0)) if re.match(r"\d+", raw) else 0
    target, pass_low, pass_high, low, high = (
        profile["client_alive_interval"],
        profile.get("client_alive_pass_min", profile["client_alive_interval"]),
        profile.get("client_alive_pass_max", profile["client_alive_interval"]),
        profile["client_alive_warn_min"],
        profile["client_alive_warn_max"],
    )
    passes = f"{pass_low}–{pass_high}" if pass_low != pass_high else f"{pass_low}"
    required = (
        f"{target} (tolerated {low}–{high})"
        if passes == str(target)
        else f"{passes} ({target} recommended; {low}–{high} tolerated)"
    )
    actual = f"ClientAliveInterval {raw}"
    source = (
        "guide §2.6"
        if passes == str(target)
        else "guide §2.6; certification FAQ range 30–235, LISA verify_client_active_interval passes 1–235"
    )
    fix = f"set ClientAliveInterval {target} in /etc/ssh/sshd_config and remove other values in sshd_config.d drop-ins ({source})"
    if value == target or pass_low <= value <= pass_high:
        return Verdict.passed(actual, required)
    if low <= value <= high:
        return Verdict.warning(actual, required, f"ClientAliveInterval is {raw}; {fix}")
    return Verdict.failed(
        actual, required, f"ClientAliveInterval is {raw or 'unset'} (allowed {low}–{high}); {fix}"
    )


def profile_image(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    return getattr(profile, "image", {}) or {}


# -- tool checks ---------------------------------------------------------------------------


def architecture(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-027: the kernel is 64-bit (x86_64 or aarch64)."""
    machine = facts.machine
    required = "x86_64 (or aarch64)"
    if machine in ("x86_64", "aarch64"):
        return Verdict.passed(machine, required)
    return Verdict.failed(machine, required, f"the image is {machine}; Azure needs a 64-bit image (tool 49)")


# glibc packages patched for GHOST below 2.18 (distro, fixed package version prefix).
GHOST_FIXED = {
    "rhel": ("2.17-55.el7_0.5", "2.12-1.149.el6_6.5"),
    "debian": ("2.13-38+deb7u7", "2.11.3-4+deb6u4", "2.15-0ubuntu10.10", "2.15-0ubuntu20.2"),
}


def ghost_vulnerability(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-028: glibc is not vulnerable to GHOST (CVE-2015-0235): ≥ 2.18, or a patched distro build."""
    version = facts.glibc_version()
    required = "glibc ≥ 2.18 or a distro build fixing CVE-2015-0235"
    if version_tuple(version) >= (2, 18):
        return Verdict.passed(f"glibc {version}", required)
    packages = facts.packages()
    build = packages.get("glibc") or packages.get("libc6") or ""
    fixed = GHOST_FIXED.get(facts.distro_family, ())
    if build and any(_build_at_least(build, f) for f in fixed):
        return Verdict.passed(f"glibc {version} ({build}, patched)", required)
    return Verdict.warning(
        f"glibc {version} ({build or 'build unknown'})",
        required,
        "this glibc may be vulnerable to GHOST (CVE-2015-0235); update glibc, or ignore if your distribution patched it (tool 50)",
    )


def _release_numbers(release: str) -> list[int]:
    """Numbers of a package release with the distro tag dropped but its update number
    kept: "55.el7_0.5" -> [55, 0, 5], "317.el7" -> [317], "38+deb7u7" -> [38, 7, 7]."""
    numbers: list[int] = []
    for token in re.split(r"[.+~]", release):
        tag = re.fullmatch(r"el\d+(?:_(\d+))?", token)
        if tag:
            numbers += [int(tag.group(1))] if tag.group(1) else []
        else:
            numbers += [int(x) for x in re.findall(r"\d+", token)]
    return numbers


def _build_at_least(build: str, fixed: str) -> bool:
    """Same upstream version and a distro release that is not older."""
    upstream, _, release = re.sub(r"^\d+:", "", build).partition("-")
    fixed_upstream, _, fixed_release = fixed.partition("-")
    if upstream != fixed_upstream:
        return False
    if ("ubuntu" in release) != ("ubuntu" in fixed_release) or ("deb" in release) != ("deb" in fixed_release):
        return False
    if ".el" in fixed_release and fixed_release.split(".el")[1][:1] != release.split(".el")[-1][:1]:
        return False  # an el6 fix says nothing about an el7 build
    return _release_numbers(release) >= _release_numbers(fixed_release)


def storvsc_patch(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-029: the kernel has storvsc commit 5c1b10ab7f93 ("account for in-transit packets in the
    RESET path"): kernels from 4.0 on (a conservative bound for the 3.19/4.0-era commit), or a
    distro changelog naming it; otherwise verify manually."""
    release = facts.kernel_release
    changelog = facts.raw("kernel_changelog").text
    required = "storvsc fix 5c1b10ab7f93 in the running kernel"
    if version_tuple(release) >= (4, 0):
        return Verdict.passed(f"kernel {release}", required, "kernel 4.0 or newer contains the fix")
    if "in-transit" in changelog.lower():
        return Verdict.passed(f"kernel {release} (named in its changelog)", required)
    return Verdict.warning(
        f"kernel {release}",
        required,
        "cannot tell whether this kernel has storvsc commit 5c1b10ab7f93; verify manually with your distribution (guide §2.3)",
    )


# -- §2.7 network ----------------------------------------------------------------------------


def network_manager(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-016: NetworkManager not active — except on the EL7 family, where it should be enabled.
    current: judged only on the RHEL/CentOS 6 family, where an installed NetworkManager fails."""
    if profile.get("network_manager_el6_only"):
        return _network_manager_el6(facts)
    units = facts.unit_states("network_services")
    enabled, active = units.get("NetworkManager", ("", ""))
    actual = f"NetworkManager {enabled or 'not installed'}/{active or 'inactive'}"
    if facts.is_el7:
        required = "NetworkManager enabled (EL7 family)"
        if enabled == "enabled":
            return Verdict.passed(actual, required)
        return Verdict.warning(
            actual,
            required,
            "on RHEL/CentOS 7 images NetworkManager should be enabled: systemctl enable NetworkManager (guide §2.7)",
        )
    required = "NetworkManager not active"
    if active == "active" or enabled == "enabled":
        return Verdict.warning(
            actual,
            required,
            "NetworkManager is enabled; it is preferable to remove it (it can conflict with the agent's network setup): apt-get purge network-manager / disable it (guide §2.7)",
        )
    return Verdict.passed(actual, required)


EL_FAMILY = {"rhel", "centos", "ol", "scientific"}


def _network_manager_el6(facts: LinuxFacts) -> Verdict:
    """LISA verify_network_manager_not_installed runs only on RHEL/CentOS 6 (it skips EL ≥ 7)."""
    release = facts.os_release
    ids = {release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()}
    version = release.get("VERSION_ID", "")
    required = "NetworkManager not installed (RHEL/CentOS 6 family)"
    lisa = "LISA verify_network_manager_not_installed: judged on the RHEL/CentOS 6 family only"
    if not (ids & EL_FAMILY and version.split(".")[0] == "6"):
        name = release.get("PRETTY_NAME") or f"{release.get('ID', '?')} {version}".strip()
        return Verdict.not_applicable(f"{name} is not RHEL/CentOS 6: NetworkManager is allowed ({lisa})", required)
    package = facts.packages().get("NetworkManager")
    if package:
        return Verdict.failed(
            f"NetworkManager {package} installed",
            required,
            f"NetworkManager {package} is installed: remove it (yum remove NetworkManager) and use the "
            f"network service (guide §2.7; {lisa})",
        )
    if "manager rpm" not in (facts.fact("packages").get() or ""):
        raise FactError("the rpm database was not queried, so whether NetworkManager is installed is unknown")
    return Verdict.passed("NetworkManager not installed", required, lisa)


def ifupdown_control(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-017: the distro's ifup/ifdown scripts (ifupdown, network-scripts, wicked) bring up
    the primary interface; under ``current`` any standard stack of the distro does."""
    text = facts.section("network_services")
    commands = dict(re.findall(r"^command (\S+) ?(\S*)$", text, re.M))
    units = parse_units(text)
    primary = primary_interface(facts)
    configs = interface_configs(facts)
    required = f"{primary} brought up by the distribution's ifup/ifdown scripts"
    family = facts.distro_family
    resolved = re.search(r"^resolved ifup (\S*)", text, re.M)
    ifup = (resolved.group(1) if resolved else "") or commands.get("ifup", "")
    nm_wrapper = "nm-ifup" in ifup
    primary_sources = [c.source for c in configs.get(primary, [])]
    bring = primary_bring_up(facts)
    # only configurations something starts at boot (auto/allow-hotplug, ONBOOT, ...) count
    started = {config.source for _, _, config in bring.by if config is not None}
    by_ifupdown = [
        p for p in primary_sources if p.startswith(("/etc/network/interfaces", "/run/network/interfaces")) and p in started
    ]
    by_ifcfg = [p for p in primary_sources if "/ifcfg-" in p and p in started]
    if family == "suse" and units.get("wicked", ("", ""))[0] == "enabled" and by_ifcfg:
        return Verdict.passed(f"wicked with {by_ifcfg[0]}", required)
    if ifup and not nm_wrapper and by_ifupdown:
        how = next(what for stack, what, _ in bring.by if stack == "ifupdown")
        return Verdict.passed(f"{ifup} with {by_ifupdown[0]} ({how})", required)
    if ifup and not nm_wrapper and by_ifcfg and ("legacy network-scripts" in text or family != "rhel"):
        return Verdict.passed(f"{ifup} (network-scripts) with {by_ifcfg[0]}", required)
    if getattr(profile, "is_current", False):
        return _any_standard_stack(bring)
    blocked = [b for b in bring.blocked if "/network/interfaces" in b or "/ifcfg-" in b or "networking.service" in b]
    if blocked:
        actual = f"{primary} not started at boot by ifup/ifdown: {'; '.join(blocked)}"
        fix = (
            f"start it at boot: 'allow-hotplug {primary}' (or 'auto {primary}' with networking.service enabled: "
            "systemctl unmask networking; systemctl enable networking), ONBOOT=yes in ifcfg files"
        )
    elif any("/netplan/" in p for p in primary_sources):
        actual, fix = f"{primary} configured by netplan", f"install ifupdown and configure {primary} for DHCP in /etc/network/interfaces"
    elif any("/systemd/network/" in p for p in primary_sources):
        actual, fix = f"{primary} configured by systemd-networkd", "use the distribution's ifup/ifdown scripts, or note this for review"
    elif nm_wrapper or family == "rhel":
        actual = f"{primary} handled by NetworkManager ({ifup or 'no ifup'}; network-scripts not installed)"
        fix = "EL8+ has only NetworkManager: install network-scripts and enable 'network', or note this for review"
    else:
        actual = f"no ifup/ifdown configuration for {primary} (ifup {'at ' + ifup if ifup else 'absent'})"
        fix = f"install your distribution's ifup/ifdown scripts and configure {primary} for DHCP"
    return Verdict.failed(
        actual, required, f"{actual}: the 2016 guide requires the distribution's ifup/ifdown scripts; {fix} (guide §2.7)"
    )


def _any_standard_stack(bring: BringUp) -> Verdict:
    """current LNX-017: some standard stack of the distro brings the primary interface up at
    boot: a file configuring it whose stack is installed, enabled and started for it
    (primary_bring_up), or NetworkManager's default DHCP connection."""
    primary = bring.primary
    required = (
        f"a standard network stack brings up {primary} "
        "(ifupdown, network-scripts, wicked, netplan, networkd, NetworkManager)"
    )
    if bring.by:
        return Verdict.passed(f"{primary} brought up by {bring.by[0][1]}", required)
    actual = "; ".join(bring.blocked) or f"no configuration for {primary} and no NetworkManager running"
    return Verdict.failed(
        actual,
        required,
        f"nothing brings up {primary} at boot: {actual}. Fix: enable your distribution's network stack "
        f"(e.g. systemctl enable networking / NetworkManager / systemd-networkd) with {primary} on DHCP, "
        f"started at boot (allow-hotplug/auto {primary}, ONBOOT=yes, a profile NetworkManager manages) (guide §2.7)",
    )


def dhcp(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-018: the primary interface gets its IPv4 address by DHCP at boot, with no static
    IPv4 address beside it."""
    primary = primary_interface(facts)
    configs = interface_configs(facts).get(primary, [])
    required = f"{primary} configured for DHCP, no static IPv4 address"
    bring = primary_bring_up(facts)
    blocked = f" ({'; '.join(bring.blocked)})" if bring.blocked else ""
    if not configs:
        if any(config is None for _, _, config in bring.by):
            return Verdict.passed(f"{primary} managed by NetworkManager without a profile (DHCP default)", required)
        return Verdict.failed(
            f"no configuration for {primary}{blocked}",
            required,
            f"no configuration brings {primary} up at boot{blocked}; add 'allow-hotplug {primary}' / 'iface {primary} inet dhcp' "
            "(or BOOTPROTO=dhcp, or a NetworkManager profile) (guide §2.7)",
        )
    actual = ", ".join(f"{c.method}{''.join(' + ' + a for a in c.addresses4 if c.method != 'static')} in {c.source}" for c in configs)
    static = [f"{a} ({c.source})" for c in configs for a in c.addresses4]
    methods = sorted({c.method for c in configs})
    if methods == ["dhcp"] and not static and not bring.by:
        return Verdict.failed(
            f"{actual}, not started at boot{blocked}",
            required,
            f"{primary} is configured for DHCP ({actual}) but nothing brings it up at boot{blocked}; start it at boot "
            f"(allow-hotplug {primary}, networking.service enabled, ONBOOT=yes, a stack that is installed and enabled) (guide §2.7)",
        )
    if methods == ["dhcp"] and not static:
        return Verdict.passed(f"{actual} ({bring.by[0][1]})", required)
    found = "/".join(methods) + (f" with static address {', '.join(static)}" if static else "")
    return Verdict.failed(actual, required, f"{primary} is configured {found} ({actual}); configure it for DHCP only (guide §2.7)")


# settings of a static primary that LNX-018 already reports
_STATIC_PRIMARY = ("address", "netmask", "gateway", "IPADDR", "GATEWAY", "static address", "Network.Gateway")


def no_custom_network(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-019: no static routes, static or superseded DNS, static resolv.conf, or hand-written
    interface config beyond the DHCP primary."""
    primary = primary_interface(facts)
    findings: list[str] = []
    for name, entries in interface_configs(facts).items():
        if name.split("/")[0] == "lo" or name.endswith("/inet6"):
            continue  # IPv6 is LNX-020's
        for config in entries:
            if name not in (primary, ROUTES, DHCP_ANY) and config.method != "loopback":
                findings.append(f"interface {name} configured in {config.source}")
            findings += [
                f"{e} ({config.source})"
                for e in config.extras
                if config.method == "dhcp" or name != primary or not e.startswith(_STATIC_PRIMARY)
            ]
    findings += dns_overrides(config_files(facts, "network_config"))
    findings += resolv_conf_findings(resolv_conf(facts))
    required = "DHCP-provided network settings only"
    if findings:
        actual = "; ".join(findings[:8]) + (f" (+{len(findings) - 8} more)" if len(findings) > 8 else "")
        return Verdict.failed(
            actual,
            required,
            f"custom network configuration found: {actual}. Remove it (a hand-written /etc/resolv.conf: delete it, waagent -deprovision does); the VM must take routes and DNS from DHCP (guide §2.7)",
        )
    return Verdict.passed("no custom routes, DNS or interfaces", required)


def no_ipv6_reliance(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-020: no static IPv6 address or IPv6-only service configured."""
    findings = [
        f"{name.split('/')[0]} inet6 static {' '.join(c.addresses6) or (c.extras or [c.method])[0]} ({c.source})"
        for name, cs in interface_configs(facts).items()
        if name.split("/")[0] != "lo"
        for c in cs
        if c.addresses6 or (name.endswith("/inet6") and c.method == "static")
    ]
    listen = re.findall(r"^listenaddress (\S+)", facts.section("sshd_effective"), re.M)
    if listen and all(addr.startswith("[") for addr in listen):
        findings.append(f"sshd listens on IPv6 only ({', '.join(listen)})")
    required = "no static IPv6 configuration, no IPv6-only service"
    if findings:
        actual = "; ".join(dict.fromkeys(findings))
        return Verdict.warning(
            actual, required, f"{actual}: Azure did not offer IPv6 to VMs in the guide's era; do not rely on it (guide §2.7)"
        )
    return Verdict.passed("no static IPv6 configuration", required)


# -- §2.8 security ----------------------------------------------------------------------------


REFRESH_INDEX = {"apt": "apt-get update", "dnf": "dnf makecache", "yum": "yum makecache", "zypper": "zypper refresh"}


def security_updates(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-021: no pending update from the distribution's security repository, judged from the
    package index already on the VM (the suite never refreshes it). The index must be readable,
    list the security repository, and be at most ``package_index_max_age_days`` old: an older
    index cannot show what was published since, so it is an error, never a pass."""
    updates = facts.pending_updates()
    manager, refresh = updates.manager, REFRESH_INDEX[updates.manager]
    required = "no pending security update"
    again = f"run {refresh} on the test VM, then check again"
    if updates.status != 0:
        detail = "; ".join(updates.errors[:3]) or f"exit {updates.status}"
        raise FactError(f"the {manager} query of pending updates failed ({detail[:200]}); {again}")
    if manager == "apt":
        if not updates.lists:
            raise FactError(f"the apt package index is empty (/var/lib/apt/lists); {again}")
        repos = parse_repositories(facts.files("repositories"))
        code = release_codename(facts.os_release)
        if not apt_security_repositories(repos, code):
            apt = [f"{r.id}{'' if r.enabled else ' (disabled)'}" for r in repos if r.manager == "apt" and not r.source_only]
            actual = f"no enabled {code}-security source in the apt sources (found: {'; '.join(apt[:5]) or 'none'})"
            return Verdict.failed(
                actual,
                required,
                f"{actual}: add this release's security repository (e.g. deb http://security.debian.org/debian-security "
                f"{code}-security main, or Ubuntu's {code}-security pocket), run apt-get update and apt-get upgrade (guide §2.8)",
            )
        if not any("security" in name.rsplit("/", 1)[-1] for name in updates.lists):
            raise FactError(f"the security repository is configured but its package list is missing; {again}")
    newest = updates.security_index()
    if newest is None:
        raise FactError(f"cannot tell how old the {manager} security index is (no index file found); {again}")
    max_days = profile["package_index_max_age_days"]
    age_days = (facts.now - newest) / 86400
    if age_days > max_days:
        raise FactError(
            f"the {manager} package index is {age_days:.0f} days old (more than {max_days}): security "
            f"updates published since then cannot be seen; {again}"
        )
    if manager == "yum" and facts.os_release.get("ID", "").lower() == "centos":
        raise FactError(
            "CentOS repositories publish no security errata, so pending security updates cannot be told "
            "apart from other updates; run 'yum check-update' and install what is pending"
        )
    if updates.security:
        pending = updates.security
        actual = f"{len(pending)} pending: {_listing(pending)}"
        return Verdict.failed(
            actual,
            required,
            f"security updates pending ({_listing(pending)}); install them and recapture the image (guide §2.8)",
        )
    if updates.kept_back:
        raise FactError(
            f"apt keeps back {_listing(updates.kept_back)} (held or pinned): whether they carry security fixes "
            "cannot be told from the simulation; check apt-mark showhold and apt-cache policy, upgrade them"
        )
    return Verdict.passed(f"none pending (index {age_days:.0f} days old)", required)


def no_default_accounts(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-022: only the provisioned admin has a usable password or an SSH key that logs in
    (in any file sshd's AuthorizedKeysFile names); root's password deleted or locked, not empty."""
    fields = parse_shadow(facts.section("shadow"))
    passwd = parse_passwd(facts.section("passwd"))
    # root (uid 0) is never exempt, even when the suite connects as root
    admin = facts.admin_user if facts.admin_user in passwd and passwd[facts.admin_user][2] != "0" else None
    findings = [
        finding for name, value in fields.items() if name != admin and (finding := password_finding(name, value))
    ]
    # pam_unix reads /etc/shadow only for an "x" in /etc/passwd: any other field 2 is the password
    findings += [
        f"{finding} in /etc/passwd"
        for name, row in passwd.items()
        if name != admin and row[1] != "x" and (finding := password_finding(name, row[1]))
    ]
    unshadowed = [name for name, row in passwd.items() if row[1] == "x" and name not in fields]
    required = f"no password or key for any account but {admin or 'the provisioned admin'}; root locked"
    fix = "delete default/extra accounts (userdel -r) or lock them (passwd -l), remove their authorized_keys, lock root (passwd -l root) (guide §2.8, §2.9)"
    try:
        keys = authorized_keys(facts)
    except FactError as exc:
        if not findings:
            raise
        keys, findings = [], findings + [f"(keys not judged: {exc})"]
    try:
        if "authorized_keys" in facts.sections:
            text = facts.section("authorized_keys")
            legacy = "\ncfg_files " not in text and "sshd_effective" in facts.sections
            findings += sshd_login_findings(text, facts.section("sshd_effective") if legacy else None)
    except FactError as exc:
        if not findings:
            raise
        findings.append(f"(sshd_config not judged: {exc})")
    unknown = [k.path for k in keys if k.user != admin and k.logs_in is None]
    findings += [f"{k.user} has {k.path} (a key that logs in)" for k in keys if k.user != admin and k.logs_in]
    if unknown and not findings:
        raise FactError(f"cannot tell whether the forced-command keys in {', '.join(unknown)} deny login")
    if unshadowed and not findings:
        raise FactError(f"accounts in /etc/passwd without an /etc/shadow entry: {', '.join(unshadowed)}")
    if findings:
        actual = "; ".join(findings)
        if facts.meta.get("source") == "vhd":  # offline: no account was provisioned yet
            fix = (
                "a deprovisioned image has no such account (the admin is created at deployment); "
                "run 'waagent -deprovision+user' in the VM before capture (it deletes the last "
                "provisioned user), and " + fix
            )
        return Verdict.failed(actual, required, f"{actual}: {fix}")
    return Verdict.passed(f"only {admin or 'the admin'} can log in; root locked", required)


def shell_history(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-023: no shell history storing anything for any user (other tools' histories warn).
    A history symlinked to /dev/null stores nothing (same rule as VHD-009: image_files)."""
    limit = profile["shell_history_max_bytes"]
    admin_home = next(
        (
            line.split(":")[5]
            for line in facts.section("passwd").splitlines()
            if line.split(":")[0] == facts.admin_user and line.count(":") >= 6
        ),
        None,
    )
    started = facts.now
    shells, others, unresolved = [], [], []
    for found in facts.history_files():
        kind = history_kind_of(found.entry.path)
        if kind is None and LISA_HISTORY_NAME.fullmatch(found.entry.path.rsplit("/", 1)[-1]):
            kind = "shell"  # found below a home (LISA verify_bash_history_is_empty's names)
        stored = history_stored_bytes(found.entry)
        path = found.entry.path
        if kind is None or stored == 0:
            continue
        if admin_home and path.startswith(admin_home.rstrip("/") + "/") and found.mtime >= started:
            continue  # written during this session by the connecting admin
        if stored is None:
            unresolved.append(f"{path} -> {found.entry.target}")
            continue
        (shells if kind == "shell" else others).append((path, stored))
    required = "no shell history" if limit == 0 else f"shell history ≤ {limit} bytes"
    over = [(p, s) for p, s in shells if s > limit]
    if over:
        actual = ", ".join(f"{p} ({s} bytes)" for p, s in over)
        return Verdict.failed(
            actual,
            required,
            f"shell history left in the image: {actual}; delete it (e.g. rm /root/.bash_history; history -c) before capture (guide §2.8, tool 48)",
        )
    if unresolved:
        raise FactError(f"cannot tell what these history symlinks store: {', '.join(unresolved)}")
    if shells or others:
        actual = ", ".join(f"{p} ({s} bytes)" for p, s in shells + others)
        return Verdict.warning(
            actual, required, f"history files left: {actual}; delete them before capture (guide §2.8)"
        )
    return Verdict.passed("no history files", required)


def firewall_rules(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-024: iptables installed, no rules and ACCEPT policies in every table of iptables,
    ip6tables and nftables, no active firewalld/ufw; only the agent's own rules for
    168.63.129.16 in the security table are excepted. guide-2016 fails, current warns."""
    state = parse_firewall(facts.section("firewall"))
    required = "iptables installed; no rules; ACCEPT policies"
    findings = [f for view in state.views.values() for f in view.findings]
    units = parse_units(facts.section("network_services"))
    findings += [
        f"{unit} is active"
        for unit in ("firewalld", "ufw")
        if units.get(unit, ("", ""))[1] == "active" and (unit != "ufw" or state.ufw_enabled)
    ]
    findings = list(dict.fromkeys(findings))
    unread = unread_views(state)
    recommendation = getattr(profile, "is_current", False)
    judge = Verdict.warning if recommendation else Verdict.failed
    if not state.iptables_path:
        findings.insert(0, "iptables not installed")
    if findings:
        actual = "; ".join(findings[:6]) + (f" (+{len(findings) - 6} more)" if len(findings) > 6 else "")
        note = f" Not read: {'; '.join(unread)}." if unread else ""
        install = "" if state.iptables_path else "install iptables; "
        today = (
            " Under today's certification this is a recommendation, and a firewall appliance image may keep its rules."
            if recommendation
            else ""
        )
        return judge(
            actual,
            required,
            f"{actual}.{note} Fix: {install}remove every rule (iptables -F; iptables -P INPUT ACCEPT …; nft flush ruleset; disable firewalld/ufw) and keep iptables installed without rules (guide §2.8).{today}",
        )
    if unread:
        raise FactError("the firewall rules could not all be read: " + "; ".join(unread))
    return Verdict.passed("iptables installed, no rules (iptables, ip6tables, nftables)", required)


# -- §2.9 deprovisioning -------------------------------------------------------------------------


def deprovision_settings(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-025: waagent.conf has Provisioning.RegenerateSshHostKeyPair=y and Provisioning.DeleteRootPassword=y."""
    conf = facts.waagent_conf()
    if conf is None:
        return Verdict.not_applicable("/etc/waagent.conf is missing (LNX-003 fails)")
    wanted = {"Provisioning.RegenerateSshHostKeyPair": "y", "Provisioning.DeleteRootPassword": "y"}
    required = ", ".join(f"{k}={v}" for k, v in wanted.items())
    actual = ", ".join(f"{k}={conf.get(k, 'unset')}" for k in wanted)
    wrong = [k for k, v in wanted.items() if conf.get(k, "").lower() != v]
    if wrong:
        return Verdict.warning(
            actual, required, f"set {', '.join(f'{k}=y' for k in wrong)} in /etc/waagent.conf (guide §2.9)"
        )
    return Verdict.passed(actual, required)


def generalized(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-026: no residue of the build VM: DHCP leases older than this VM's provisioning (or
    boot), a hostname in /etc/hostname that is not the running one. Old SSH host keys only warn."""
    residue = facts.residue()
    markers = residue.markers
    reference = min(markers) if markers else facts.boot_time
    reference_name = "this VM's provisioning" if markers else "this boot"
    failures, warnings = [], []
    for mtime, path in residue.leases:
        if mtime < reference - 60:
            failures.append(f"DHCP lease file {path} predates {reference_name}")
    for mtime, path in residue.host_keys:
        if markers and mtime < reference - 60:
            warnings.append(f"SSH host key {path} predates provisioning")
    hostname_file, hostname_now = residue.hostname_file, residue.hostname_now
    if (
        hostname_file
        and hostname_now
        and hostname_file.split(".")[0] != hostname_now.split(".")[0]
        and hostname_file not in ("localhost", "localhost.localdomain")
    ):
        failures.append(
            f"/etc/hostname says {hostname_file!r} but the VM is {hostname_now!r} (build-time hostname persisted)"
        )
    required = "no build-time DHCP leases or hostname; generalized with waagent -deprovision"
    fix = "run 'sudo waagent -deprovision+user' as the last step before capture (guide §2.9)"
    if failures:
        actual = "; ".join(failures)
        return Verdict.failed(actual, required, f"{actual}. Fix: {fix}")
    if warnings:
        actual = "; ".join(warnings)
        return Verdict.warning(
            actual, required, f"{actual} (heuristic; VHD-009 checks the image itself). Fix: {fix}"
        )
    return Verdict.passed(
        "no residue found", required, "the strong check of generalization is VHD-009 on the VHD"
    )
