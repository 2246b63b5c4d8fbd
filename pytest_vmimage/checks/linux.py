"""Linux checks (guide §2): pure functions of :class:`LinuxFacts` and a profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_vmimage.facts.linux import LinuxFacts
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
    return any(v.split(",")[0] == value for v in values), ""


def kernel_boot_line(facts: LinuxFacts, profile: Mapping[str, Any]) -> Verdict:
    """LNX-013: console=ttyS0 earlyprintk=ttyS0 rootdelay=300 on the running kernel
    line and in the persisted boot loader configuration (guide §2.5)."""
    fail_params = list(profile["kernel_params_fail"])
    warn_params = [p for p in profile["kernel_params_warn"] if p not in fail_params]
    wanted = fail_params + warn_params
    required = f"{' '.join(wanted)} on the running kernel and in the boot loader config"
    sources = {"running kernel (/proc/cmdline)": facts.kernel_cmdline}
    persisted = facts.boot_loader_lines()
    if not persisted:
        raise FactError(
            "no boot loader configuration with a kernel line was found (looked in /etc/default/grub, "
            "grub.cfg, /boot/loader/entries, extlinux.conf)"
        )
    sources.update(persisted)
    missing: dict[str, list[str]] = {}
    notes: list[str] = []
    for where, params in sources.items():
        for param in wanted:
            ok, note = kernel_param_present(params, param)
            if not ok:
                missing.setdefault(param, []).append(where + (f": {note}" if note else ""))
            elif note and note not in notes:
                notes.append(note)
    if not missing:
        actual = f"all present in {len(sources)} places"
        message = f"found {' '.join(wanted)}" + (f"; note {', '.join(notes)}" if notes else "")
        return Verdict.passed(actual, required, message)
    actual = "; ".join(f"{param} missing in {', '.join(where)}" for param, where in missing.items())
    regenerate = REGENERATE_GRUB.get(facts.distro_family, "regenerate the boot loader config")
    fix = (
        f"add the missing parameters to GRUB_CMDLINE_LINUX in /etc/default/grub, run {regenerate} "
        "and reboot so the running kernel has them too (guide §2.5)"
    )
    message = f"{actual}. Required: {required}. Fix: {fix}"
    if any(param in fail_params for param in missing):
        return Verdict.failed(actual, required, message)
    return Verdict.warning(actual, required, message)
