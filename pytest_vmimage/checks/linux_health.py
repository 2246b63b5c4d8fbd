"""Linux checks added 2026-11 from today's certification (LNX-037...043): Defender for
Endpoint residue, essential kernel options, the provisioning media's filesystems, a clean
boot log, cloud-init's health, the resource disk and DNS resolution.

Pure functions of :class:`LinuxFacts` and a profile. Every verdict goes through
:func:`rule_added_2026`: under ``guide-2016`` a broken rule warns instead of failing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from pytest_vmimage.checks import rule_added_2026
from pytest_vmimage.checks.linux import profile_image
from pytest_vmimage.facts.linux import LinuxFacts
from pytest_vmimage.facts.linux_health import (
    DNS_TEST_NAME,
    ESSENTIAL_OPTIONS,
    PROVISIONING_FILESYSTEMS,
    CloudInit,
    boot_log,
    boot_log_findings,
    cloud_init,
    cmdline_blacklist,
    disabling_directives,
    dns_lookup,
    installed_packages,
    kernel_configs,
    mdatp_residue,
    modprobe_files,
    parse_fs_modules,
    resource_disk_links,
)
from pytest_vmimage.verdict import FactError, Verdict


def added_2026(check: Callable[[LinuxFacts, Mapping[str, Any]], Verdict]):
    """Mark a check as a rule added in 2026-11: its verdict goes through
    :func:`rule_added_2026` (a failure warns under guide-2016)."""

    @functools.wraps(check)
    def judged(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
        return rule_added_2026(check(facts, profile), profile)

    return judged


def _listing(items: list[str], limit: int = 5) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


# -- LNX-037 ----------------------------------------------------------------------------------


@added_2026
def mdatp_not_preinstalled(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-037: Defender for Endpoint is neither installed nor onboarded: no ``mdatp``
    package or command and none of the paths LISA's check-mdatp.sh looks for."""
    residue = mdatp_residue(facts)
    package = installed_packages(facts).get("mdatp")
    found = list(residue.found)
    if residue.command:
        found.append(f"mdatp command {residue.command}")
    if package:
        found.append(f"mdatp package {package}")
    required = "no mdatp package, no /etc/opt/microsoft/mdatp, no MDE extension files or logs"
    lisa = "LISA verify_mdatp_not_preinstalled (https://aka.ms/mdatp-check-sh must exit 0)"
    if found:
        onboarded = any(p.endswith("mdatp_onboard.json") for p in residue.found)
        why = (
            "an onboarding file clones one Defender identity into every customer's VM"
            if onboarded
            else "certification fails any pre-installed Defender: each customer onboards their own"
        )
        actual = _listing(found)
        return Verdict.failed(
            actual,
            required,
            f"Defender for Endpoint residue found: {actual} ({why}); required: {required}. Fix: uninstall "
            f"and offboard it before generalizing (https://aka.ms/uninstall-defender-linux), remove "
            f"/etc/opt/microsoft/mdatp and /var/log/microsoft/mdatp ({lisa})",
        )
    if residue.unreadable:
        raise FactError(
            f"cannot search {', '.join(residue.unreadable)} for Defender for Endpoint files (not readable); "
            "run with sudo"
        )
    return Verdict.passed("no mdatp package, command or files", required, lisa)


# -- LNX-038 ----------------------------------------------------------------------------------


@added_2026
def essential_kernel_options(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-038: CONFIG_WATCHDOG and CONFIG_CIFS are built in (y) or modules (m) in the
    running kernel's config, read where LISA reads it (/boot/config-RELEASE)."""
    required = " and ".join(f"{o}=y or =m" for o in ESSENTIAL_OPTIONS) + " in the running kernel's config"
    lisa = "LISA verify_essential_kernel_modules"
    configs = kernel_configs(facts)
    if configs is None:
        return Verdict.failed(
            "no kernel config file",
            required,
            "the running kernel's config is nowhere: no /boot/config-RELEASE, /lib/modules/RELEASE/config or "
            f"/proc/config.gz; required: {required}. Fix: ship the kernel package's config file in /boot "
            f"({lisa} greps /boot/config-$(uname -r))",
        )
    lisa_paths = (f"/boot/config-{configs.release}", f"/usr/boot/config-{configs.release}")
    if any(entry.split(" ", 1)[0] in lisa_paths for entry in configs.unreadable):
        raise FactError(
            f"/boot/config-{configs.release}, the file {lisa} reads, exists but could not be read: "
            f"{', '.join(configs.unreadable)}"
        )
    source = configs.lisa_source() or (configs.sources[0] if configs.sources else None)
    if source is None:
        raise FactError(f"the running kernel's config could not be read: {', '.join(configs.unreadable)}")
    values = {o: source.options.get(o, "") for o in ESSENTIAL_OPTIONS}
    actual = ", ".join(f"{o}={v or 'absent'}" for o, v in values.items()) + f" ({source.path})"
    missing = [o for o, v in values.items() if v not in ("y", "m")]
    if missing:
        return Verdict.failed(
            actual,
            required,
            f"the running kernel {configs.release} lacks {', '.join(missing)} ({actual}); required: {required} "
            f"(the Hyper-V watchdog and SMB/CIFS for Azure Files). Fix: use the distribution's Azure or "
            f"generic kernel, or rebuild with them enabled ({lisa})",
        )
    if source is not configs.lisa_source():
        return Verdict.warning(
            actual,
            required,
            f"the options are enabled ({actual}) but /boot/config-{configs.release} is missing: {lisa} reads only "
            "that file and fails without it. Fix: install the kernel's config file in /boot",
        )
    return Verdict.passed(actual, required, lisa)


# -- LNX-039 ----------------------------------------------------------------------------------


@added_2026
def provisioning_filesystems(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-039: udf (the provisioning ISO) and vfat exist for the running kernel (built in
    or loadable) and no modprobe configuration or kernel parameter stops them loading."""
    required = (
        "udf and vfat built in or loadable, not disabled by modprobe.d (install/blacklist) or the kernel line"
    )
    docs = 'Azure "Prepare Linux for imaging": disabling udf breaks provisioning, vfat provisioning and boot'
    modules = parse_fs_modules(facts.section("fs_modules"))
    files = modprobe_files(facts)
    params = facts.kernel_cmdline
    if not params:
        raise FactError(
            "/proc/cmdline was read empty: the kernel parameters that blacklist modules cannot be told"
        )
    problems, states, notes = [], [], []
    for name in PROVISIONING_FILESYSTEMS:
        module = modules[name]
        directives = [f"'{d.line}' in {d.path}" for d in disabling_directives(files, name)]
        directives += [f"'{p}' on the kernel line" for p in cmdline_blacklist(params, name)]
        if module.builtin:
            states.append(f"{name} built in")
            if directives:
                notes.append(
                    f"{name} is built in, so {', '.join(directives)} cannot disable it; remove it anyway"
                )
        elif module.loadable and directives:
            states.append(f"{name} disabled")
            problems.append(f"{name} is disabled by {', '.join(directives)}")
        elif module.loadable:
            states.append(f"{name} loadable")
        elif module.absent:
            states.append(f"{name} missing")
            problems.append(
                f"{name} is listed in modules.dep but {module.absent} is gone (deleted without depmod): "
                "modprobe cannot load it"
            )
        else:
            states.append(f"{name} missing")
            problems.append(f"{name} is neither built into the running kernel nor a module of it")
    actual = ", ".join(states)
    if problems:
        return Verdict.failed(
            actual,
            required,
            f"{'; '.join(problems)}; required: {required}. Fix: delete those lines (CIS hardening adds "
            f"'install udf /bin/false' and 'blacklist udf') and rebuild the initramfs ({docs})",
        )
    return Verdict.passed(actual, required, "; ".join(notes) or docs)


# -- LNX-040 ----------------------------------------------------------------------------------


@added_2026
def clean_boot_log(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-040: this boot's kernel and system log has no line naming an error, failure or
    panic beyond the documented allowlist (hypervisor noise, benign wording)."""
    required = "no error, failure or panic lines in this boot's log (allowlisted noise aside)"
    lisa = "LISA verify_boot_error_fail_warnings (priority 5)"
    log = boot_log(facts)
    if not log.starts_at_boot:
        raise FactError(
            f"this boot's log ({log.source}) does not reach back to the kernel's first line (rotated or "
            "overwritten), so errors early in the boot cannot be ruled out"
        )
    findings = boot_log_findings(log)
    kinds = sorted({entry.kind for _, entry in findings.allowed})
    left_out = (
        f"{len(findings.allowed)} allowlisted ({', '.join(kinds)})"
        if findings.allowed
        else "none allowlisted"
    )
    if findings.errors or log.cut:
        more = log.matched - len(log.lines)
        count = len(findings.errors) + max(more, 0)
        actual = f"{count} error line(s) in {log.source}; {left_out}"
        first = _listing([line.strip() for line in findings.errors], 3)
        cut = f" (and {more} lines not shown: the section keeps 300)" if more > 0 else ""
        return Verdict.warning(
            actual,
            required,
            f"this boot's log names errors: {first}{cut}; required: {required}. Fix: find the cause of each "
            f"(a failed unit, a missing device or firmware) and remove it from the image ({lisa})",
        )
    sudo = f"; {log.sudo_commands} sudo command records not judged" if log.sudo_commands else ""
    named = _listing(
        [
            f"{line.split('] ', 1)[-1][:100]} ({entry.kind}: {entry.reason})"
            for line, entry in findings.allowed
        ],
        3,
    )
    why = f"allowlisted: {named}. " if named else ""
    return Verdict.passed(f"no error lines in {log.source}; {left_out}{sudo}", required, f"{why}{lisa}")


# -- LNX-041 ----------------------------------------------------------------------------------

_AZURE_LINUX_IDS = {"azurelinux", "mariner"}


def _cloud_init_enabled(state: CloudInit, params: list[str]) -> tuple[bool, str]:
    """Whether cloud-init runs at boot, and why not."""
    if state.status == "disabled":
        return False, "cloud-init status says disabled"
    if state.disabled_files:
        return False, f"disabled by {', '.join(state.disabled_files)}"
    if "cloud-init=disabled" in params:
        return False, "disabled by cloud-init=disabled on the kernel line"
    if state.units and not state.units_enabled:
        return False, "its units are not enabled"
    return True, ""


def _agent_provisions(facts: LinuxFacts, cloud_init_on: bool) -> tuple[bool, str]:
    """Whether the Azure Linux Agent provisions the VM, from waagent.conf (Provisioning.Agent:
    auto = cloud-init when it is enabled, else the agent; waagent; cloud-init; disabled)."""
    facts.unit_states("agent")  # the agent section was read whole
    if not facts.agent_binary():
        return False, "no Azure Linux Agent"
    conf = facts.waagent_conf()
    if conf is None:
        raise FactError(
            "the Azure Linux Agent is installed without /etc/waagent.conf (LNX-003 fails): which agent provisions "
            "cannot be told"
        )
    mode = conf.get("Provisioning.Agent", "").lower()
    setting = f"Provisioning.Agent={conf.get('Provisioning.Agent', 'auto (unset)')}"
    if not mode:
        # agents before Provisioning.Agent read Provisioning.Enabled (default y); newer ones
        # ignore it once Provisioning.Agent is set
        if conf.get("Provisioning.Enabled", "y").lower() == "n":
            return False, setting + ", Provisioning.Enabled=n"
        mode = "auto"
    if mode == "waagent":
        return True, setting
    if mode == "auto":
        return not cloud_init_on, setting
    return False, setting  # cloud-init or disabled: the agent does not provision


@added_2026
def cloud_init_healthy(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-041: when cloud-init is installed, it finished this boot without errors, its log
    has no [ERROR], and exactly one provisioning agent is active."""
    required = "cloud-init status done (exit 0), no [ERROR] in cloud-init.log, exactly one provisioning agent"
    lisa = "LISA verify_cloud_init_error_status"
    state = cloud_init(facts)
    if state is None:
        if "cloud-init" in installed_packages(facts):
            raise FactError("the cloud-init package is installed but its command was not found on PATH")
        return Verdict.not_applicable(
            "cloud-init is not installed (no cloud-init command, no cloud-init package)"
        )
    on, why_off = _cloud_init_enabled(state, facts.kernel_cmdline)
    agent, setting = _agent_provisions(facts, on)
    provisioners = (["cloud-init"] if on else []) + ([f"the Azure Linux Agent ({setting})"] if agent else [])
    problems: list[str] = []
    if len(provisioners) == 2:
        problems.append(
            f"both cloud-init and the agent provision ({setting}); set Provisioning.Agent=auto or cloud-init "
            "in /etc/waagent.conf"
        )
    elif not provisioners:
        problems.append(
            f"nothing provisions the VM: cloud-init is off ({why_off}) and the agent does not ({setting}); "
            "enable cloud-init or set Provisioning.Agent=auto"
        )
    if on:
        if state.status == "running":
            raise FactError(
                "cloud-init is still running on the VM: judge it after it finished ('cloud-init status --wait')"
            )
        if state.status in ("not run", "not started", "not running"):
            problems.append("cloud-init is enabled but did not run this boot")
        elif state.status != "done" or state.status_rc != 0 or "degraded" in state.extended_status:
            detail = f" ({state.detail})" if state.detail else ""
            problems.append(
                f"cloud-init status is {state.extended_status or state.status}, exit {state.status_rc}{detail}"
            )
        if state.log == "unreadable":
            raise FactError("/var/log/cloud-init.log exists but could not be read (run with sudo)")
        if state.log == "absent":
            raise FactError(
                "cloud-init runs but /var/log/cloud-init.log does not exist, so its errors cannot be read"
            )
        if state.error_count:
            problems.append(
                f"cloud-init.log has {state.error_count} [ERROR] line(s): {_listing(state.log_errors, 2)}"
            )
    ids = {facts.os_release.get("ID", "").lower()}
    warnings = []
    if on and state.warning_count:
        text = (
            f"cloud-init.log has {state.warning_count} [WARNING] line(s): {_listing(state.log_warnings, 2)}"
        )
        (problems if ids & _AZURE_LINUX_IDS else warnings).append(text)
    status = (
        f"status {state.extended_status or state.status} (exit {state.status_rc})"
        if on
        else f"off ({why_off})"
    )
    actual = f"cloud-init {status}; provisioning: {', '.join(provisioners) or 'none'}"
    if problems:
        return Verdict.failed(
            actual,
            required,
            f"{'; '.join(problems)}; required: {required}. Fix: correct the cloud-init configuration, then "
            f"'cloud-init clean --logs' before capture ({lisa}; Azure cloud-init docs)",
        )
    if warnings:
        return Verdict.warning(
            actual, required, f"{'; '.join(warnings)} ({lisa} fails these on Azure Linux; review them)"
        )
    return Verdict.passed(actual, required, lisa)


# -- LNX-042 ----------------------------------------------------------------------------------


@added_2026
def resource_disk(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-042: an attached resource (temporary) disk is not NTFS and is formatted and
    mounted by the agent (ResourceDisk.Format=y) or cloud-init; not applicable without one."""
    required = (
        "resource disk not NTFS, formatted and mounted by the agent (ResourceDisk.Format=y) or cloud-init"
    )
    lisa = "LISA verify_resource_disk_file_system, verify_resource_disk_readme_file"
    links = resource_disk_links(facts)
    disk = links.disk
    if not disk:
        if links.vmbus and not links.dirs:
            raise FactError(
                "the VM is on Hyper-V/Azure but /dev/disk/azure is missing (the agent's udev rules name the "
                "resource disk there), so whether a resource disk is attached cannot be told"
            )
        where = (
            "the VM is not on Hyper-V/Azure (no VMBus devices), e.g. a local test VM"
            if not links.vmbus
            else "this VM size has none (the agent's udev rules name no /dev/disk/azure/resource; an NVMe "
            "local disk is not judged, as LISA skips it)"
        )
        return Verdict.not_applicable(
            "no resource disk is attached: no /dev/disk/azure/resource or /dev/disk/cloud/azure_resource link, "
            f"{where}",
            required,
        )
    devices = facts.block_devices()
    parts = [d for d in devices.values() if d.kind == "part" and d.parent == disk] or (
        [devices[disk]] if disk in devices else []
    )
    if not parts:
        raise FactError(f"the resource disk /dev/{disk} is not among the block devices listed")
    ntfs = [f"/dev/{p.name}" for p in parts if p.fstype.lower() == "ntfs"]
    mounted = [f"/dev/{p.name} on {p.mountpoint}" for p in parts if p.mountpoint]
    conf = facts.waagent_conf() or {}
    state = cloud_init(facts)
    ci_on = state is not None and _cloud_init_enabled(state, facts.kernel_cmdline)[0]
    managers = (
        ["the agent (ResourceDisk.Format=y)"] if conf.get("ResourceDisk.Format", "").lower() == "y" else []
    )
    managers += ["cloud-init (its Azure datasource formats ephemeral0)"] if ci_on else []
    actual = (
        f"/dev/{disk}: {', '.join(p.name + ' ' + (p.fstype or 'unformatted') for p in parts)}; "
        f"mounted: {', '.join(mounted) or 'no'}; managed by {', '.join(managers) or 'nobody'}"
    )
    problems = []
    if ntfs:
        problems.append(f"{', '.join(ntfs)} is NTFS (the platform's blank format): nothing formatted it")
    if not managers:
        problems.append("neither the agent (ResourceDisk.Format=n or unset) nor cloud-init manages it")
    if not mounted:
        problems.append("it is not mounted")
    if problems:
        return Verdict.failed(
            actual,
            required,
            f"resource disk: {'; '.join(problems)}; required: {required}. Fix: set ResourceDisk.Format=y in "
            f"/etc/waagent.conf, or let cloud-init manage it (disk_setup/fs_setup/mounts) ({lisa})",
        )
    readme = (
        "DATALOSS_WARNING_README.txt present"
        if links.readme
        else "no DATALOSS_WARNING_README.txt (LISA skips that check on cloud-init managed disks)"
    )
    return Verdict.passed(actual, required, f"{readme} ({lisa})")


# -- LNX-043 ----------------------------------------------------------------------------------


@added_2026
def dns_resolution(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-043: the VM resolves a public name (bing.com, as LISA) through its resolver;
    not applicable when the run declares the VM isolated from every network."""
    required = f"{DNS_TEST_NAME} resolves through the VM's configured resolver"
    lisa = "certification case verify_dns_name_resolution (ping/nslookup bing.com)"
    isolated = bool(profile_image(profile).get("network_isolated"))
    try:
        lookup = dns_lookup(facts)
    except FactError as exc:
        if isolated:
            return Verdict.not_applicable(
                "the run declares the VM isolated from the network ([image] network_isolated = true), so DNS "
                f"resolution is not judged (the lookup could not be read either: {exc})",
                required,
            )
        raise
    if lookup.hosts_entries:
        raise FactError(
            f"{DNS_TEST_NAME} is in /etc/hosts ({'; '.join(lookup.hosts_entries)}): getent answers from that file, "
            "so DNS resolution was not tested; remove the entry from the image"
        )
    if lookup.rc == 0:
        actual = f"{DNS_TEST_NAME} -> {', '.join(lookup.addresses[:4])}"
        note = " (although the run declares the VM isolated)" if isolated else ""
        return Verdict.passed(actual, required, f"resolved{note} ({lisa})")
    if isolated:
        return Verdict.not_applicable(
            "the run declares the VM isolated from the network ([image] network_isolated = true), so DNS "
            f"resolution is not judged (getent ahosts {DNS_TEST_NAME} exit {lookup.rc} on this VM)",
            required,
        )
    why = {2: "not found (no resolver answered or the name does not exist)", 124: "no answer within 5 s"}
    if lookup.rc not in why:
        raise FactError(
            f"getent ahosts {DNS_TEST_NAME} could not run a lookup (exit {lookup.rc}: {lookup.output[:200] or 'no output'})"
        )
    actual = f"getent ahosts {DNS_TEST_NAME}: {why[lookup.rc]}"
    return Verdict.failed(
        actual,
        required,
        f"{DNS_TEST_NAME} does not resolve on the VM ({why[lookup.rc]}); required: {required}. Fix: keep the "
        "DHCP-provided resolver (no static nameserver, no resolv.conf left from the build VM); if the test "
        f"VM has no network on purpose, declare [image] network_isolated = true in --vm-config ({lisa})",
    )


CHECKS = {
    "LNX-037": mdatp_not_preinstalled,
    "LNX-038": essential_kernel_options,
    "LNX-039": provisioning_filesystems,
    "LNX-040": clean_boot_log,
    "LNX-041": cloud_init_healthy,
    "LNX-042": resource_disk,
    "LNX-043": dns_resolution,
}
