"""Parsers for the LNX-037...043 sections of the Linux collection script: Defender for
Endpoint residue, the kernel's config, modprobe configuration and filesystem modules, this
boot's log, cloud-init, the resource disk and a DNS lookup.

Each parser takes a section's text and raises FactError when the text is not what the VM
prints when it looked (a missing closing line, a garbled line): a check can never read
"nothing found" out of output that was cut or altered.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field

from pytest_vmimage.facts.linux import LinuxFacts
from pytest_vmimage.verdict import FactError

# -- LNX-037: Defender for Endpoint ---------------------------------------------------------


@dataclass(frozen=True)
class MdatpResidue:
    """Paths of LISA's check-mdatp.sh that exist, ``mdatp`` on PATH, and directories on the
    way that could not be searched (so a residue inside them cannot be ruled out)."""

    found: list[str]
    command: str = ""
    unreadable: list[str] = field(default_factory=list)


def parse_mdatp(text: str) -> MdatpResidue:
    lines = text.strip().splitlines()
    if "looked" not in lines:
        raise FactError(
            "the Defender for Endpoint section is incomplete (its closing line 'looked' is missing)"
        )
    found, unreadable, command = [], [], ""
    for line in lines:
        word, _, rest = line.partition(" ")
        if word == "found" and rest.startswith("/"):
            found.append(rest)
        elif word == "unreadable" and rest.startswith("/"):
            unreadable.append(rest)
        elif word == "command" and rest.startswith("/"):
            command = rest
        elif line != "looked":
            raise FactError(f"the Defender for Endpoint section has a line it never prints: {line[:120]!r}")
    return MdatpResidue(found, command, unreadable)


def mdatp_residue(facts: LinuxFacts) -> MdatpResidue:
    return parse_mdatp(facts.section("mdatp"))


# -- LNX-038: kernel config --------------------------------------------------------------------

ESSENTIAL_OPTIONS = ("CONFIG_WATCHDOG", "CONFIG_CIFS")
_OPTION = re.compile(r"^(CONFIG_[A-Z0-9_]+)=(\S+)$")
_NOT_SET = re.compile(r"^# (CONFIG_[A-Z0-9_]+) is not set$")


@dataclass(frozen=True)
class KernelConfigSource:
    """One kernel config file read on the VM: the essential options found in it
    (``y``, ``m``, ``n`` for "is not set"; missing = not in the file at all)."""

    path: str
    options: dict[str, str]


@dataclass(frozen=True)
class KernelConfigs:
    release: str
    sources: list[KernelConfigSource]
    unreadable: list[str]

    def lisa_source(self) -> KernelConfigSource | None:
        """The file LISA reads: /boot/config-RELEASE (/usr/boot/config-RELEASE on CoreOS)."""
        wanted = (f"/boot/config-{self.release}", f"/usr/boot/config-{self.release}")
        return next((s for s in self.sources if s.path in wanted), None)


def parse_kernel_config(text: str) -> KernelConfigs:
    """``release R``, then per file ``### PATH``, the option lines and ``config_lines N``
    (``### ! PATH``: exists, could not be read). A block without a positive line count is
    a file that was not read whole: it counts as unreadable."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("release "):
        raise FactError("the kernel config section does not name the running kernel's release")
    release = lines[0].split(None, 1)[1].strip() if len(lines[0].split()) > 1 else ""
    if not release:
        raise FactError("the kernel config section names no kernel release")
    sources, unreadable = [], []
    path, options, count = None, {}, None

    def close():
        if path is None:
            return
        if count:
            sources.append(KernelConfigSource(path, dict(options)))
        else:
            unreadable.append(f"{path} (read incompletely: no option lines counted)")

    for line in lines[1:]:
        if line.startswith("### ! /"):
            close()
            path, options, count = None, {}, None
            unreadable.append(line[6:])
        elif line.startswith("### /"):
            close()
            path, options, count = line[4:], {}, None
        elif path is not None and line.startswith("config_lines "):
            value = line.split()[1] if len(line.split()) > 1 else ""
            count = int(value) if value.isdigit() else None
        elif path is not None and (m := _OPTION.match(line)):
            options[m.group(1)] = m.group(2).strip('"')
        elif path is not None and (m := _NOT_SET.match(line)):
            options[m.group(1)] = "n"
        elif line.strip():
            raise FactError(f"the kernel config section has a line it never prints: {line[:120]!r}")
    close()
    return KernelConfigs(release, sources, unreadable)


def kernel_configs(facts: LinuxFacts) -> KernelConfigs | None:
    """The running kernel's config files; None when the VM has none (looked, not there)."""
    text = facts.fact("kernel_config").get()
    return None if text is None else parse_kernel_config(text)


def installed_packages(facts: LinuxFacts) -> dict[str, str]:
    """Installed packages among the ones the section asks dpkg/rpm about; {} when the VM has
    neither; FactError when the listing does not name the manager it asked (cut output)."""
    text = facts.fact("packages").get()
    if text is None:
        return {}
    if not re.search(r"^manager (dpkg|rpm)$", text, re.M):
        raise FactError("the package list is incomplete (it does not name dpkg or rpm)")
    return facts.packages()


# -- LNX-039: udf and vfat ---------------------------------------------------------------------

PROVISIONING_FILESYSTEMS = ("udf", "vfat")
# kmod reads these directories in this order; a file name seen earlier hides later ones
MODPROBE_DIRS = (
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
)


@dataclass(frozen=True)
class ModprobeDirective:
    """One line of modprobe configuration that stops a module from loading."""

    module: str
    line: str
    path: str


def effective_modprobe_files(files: dict[str, str]) -> dict[str, str]:
    """The files kmod reads, as it orders them: only ``*.conf`` of the modprobe.d directories
    (a name in an earlier directory hides the same name in later ones), sorted by file name;
    the legacy /etc/modprobe.conf last."""
    chosen: dict[str, str] = {}
    for directory in MODPROBE_DIRS:
        for path in sorted(files):
            head, _, name = path.rpartition("/")
            if head == directory and name.endswith(".conf") and name not in chosen:
                chosen[name] = path
    ordered = {chosen[name]: files[chosen[name]] for name in sorted(chosen)}
    if "/etc/modprobe.conf" in files:
        ordered["/etc/modprobe.conf"] = files["/etc/modprobe.conf"]
    return ordered


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined; comment lines dropped (modprobe.d(5))."""
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _same_module(a: str, b: str) -> bool:
    return a.replace("-", "_") == b.replace("-", "_")


def _simple_commands(command: str) -> list[list[str]]:
    """The simple commands ``/bin/sh -c`` runs for ``command``: words split at ``;``, ``&``,
    ``|`` (and ``&&``/``||``), a ``#`` comment dropped; an unparsable command gives []."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    try:
        for word in lexer:
            if word and set(word) <= set(";&|"):
                commands.append([])
            else:
                commands[-1].append(word)
    except ValueError:
        return []
    return [c for c in commands if c]


def _loads_a_module(command: str, module: str) -> bool:
    """Whether an ``install`` command still loads ``module``: one of its simple commands is
    ``modprobe -i|--ignore-install ... MODULE`` or ``insmod .../MODULE.ko*`` (also inside
    ``sh -c '...'``). A word "modprobe" anywhere else (an argument, a comment) loads nothing."""
    for words in _simple_commands(command):
        program, args = words[0].rsplit("/", 1)[-1], words[1:]
        if program in ("sh", "bash", "dash") and args[:1] == ["-c"] and len(args) > 1:
            if _loads_a_module(args[1], module):
                return True
        elif program == "modprobe":
            if {"-i", "--ignore-install"} & set(args) and any(_same_module(a, module) for a in args):
                return True
        elif program == "insmod":
            if any(_same_module(a.rsplit("/", 1)[-1].split(".ko")[0], module) for a in args):
                return True
    return False


def _names_module(name: str, module: str) -> bool:
    """``name`` is how a request reaches ``module``: the module itself or the filesystem
    alias ``fs-MODULE`` mount asks for (request_module("fs-udf"))."""
    return _same_module(name, module) or _same_module(name, f"fs-{module}")


def disabling_directives(files: dict[str, str], module: str) -> list[ModprobeDirective]:
    """Lines of the effective modprobe configuration that keep ``module`` from loading:
    ``blacklist M`` (no loading by alias, which is how mount asks for a filesystem),
    ``install M|fs-M CMD`` whose command loads nothing (``/bin/true``, ``/bin/false``, ...; only
    ``modprobe --ignore-install M`` or ``insmod M.ko`` as a command loads it), and
    ``alias M|fs-M X`` (a shell pattern too) sending the request to anything but M -- kmod
    looks config aliases and install commands up before modules.alias."""
    found = []
    for path, text in effective_modprobe_files(files).items():
        for line in _logical_lines(text):
            words = line.split()
            if len(words) < 2:
                continue
            verb, name = words[0], words[1]  # kmod compares the command word case-sensitively
            # "blocklist": a synonym some distributions patch into kmod
            if verb in ("blacklist", "blocklist") and _same_module(name, module):
                found.append(ModprobeDirective(module, line, path))
            elif verb == "install" and _names_module(name, module):
                if not _loads_a_module(line.split(None, 2)[2] if len(words) > 2 else "", module):
                    found.append(ModprobeDirective(module, line, path))
            elif (
                verb == "alias"
                and len(words) >= 3
                and any(
                    fnmatch.fnmatchcase(candidate.replace("-", "_"), name.replace("-", "_"))
                    for candidate in (module, f"fs-{module}")
                )
                and not _same_module(words[2], module)
            ):
                found.append(ModprobeDirective(module, line, path))
    return found


def modprobe_files(facts: LinuxFacts) -> dict[str, str]:
    """The modprobe configuration files the VM listed ({} when there is none); FactError when
    the listing did not run (its first line is missing) or a file could not be read."""
    if not facts.section("modprobe_config").startswith("## modprobe.d"):
        raise FactError(
            "the modprobe configuration listing is incomplete (its first line '## modprobe.d' is missing)"
        )
    return facts.files("modprobe_config")


def cmdline_blacklist(params: list[str], module: str) -> list[str]:
    """Kernel parameters that stop ``module`` from loading (``module_blacklist=``,
    ``modprobe.blacklist=``)."""
    return [
        p
        for p in params
        if p.partition("=")[0] in ("module_blacklist", "modprobe.blacklist")
        and any(_same_module(m, module) for m in p.partition("=")[2].split(","))
    ]


@dataclass(frozen=True)
class FsModule:
    name: str
    builtin: bool
    loadable: bool
    registered: bool
    absent: str = ""  # listed in modules.dep, but this file is gone (deleted without depmod)


def parse_fs_modules(text: str) -> dict[str, FsModule]:
    """``NAME builtin=N module=N`` per filesystem, ``absent NAME PATH`` when its modules.dep
    file is gone, ``registered ...`` for the ones the kernel knows now (/proc/filesystems),
    closing ``looked``."""
    lines = text.strip().splitlines()
    if "looked" not in lines:
        raise FactError("the filesystem module section is incomplete (its closing line 'looked' is missing)")
    counts: dict[str, tuple[int, int]] = {}
    registered = set()
    absent: dict[str, str] = {}
    for line in lines:
        words = line.split()
        if len(words) == 3 and words[1].startswith("builtin=") and words[2].startswith("module="):
            b, m = words[1][8:], words[2][7:]
            if not (b.isdigit() and m.isdigit()):
                raise FactError(f"filesystem module line not understood: {line!r}")
            counts[words[0]] = (int(b), int(m))
        elif words and words[0] == "registered":
            registered.add(words[-1])
        elif len(words) == 3 and words[0] == "absent":
            absent[words[1]] = words[2]
        elif line != "looked":
            raise FactError(f"the filesystem module section has a line it never prints: {line[:120]!r}")
    missing = [name for name in PROVISIONING_FILESYSTEMS if name not in counts]
    if missing:
        raise FactError(f"the filesystem module section says nothing about {', '.join(missing)}")
    return {
        name: FsModule(
            name,
            counts[name][0] > 0,
            counts[name][1] > 0 and name not in absent,
            name in registered,
            absent.get(name, ""),
        )
        for name in counts
    }


# -- LNX-040 / LNX-013: this boot's log -------------------------------------------------------


@dataclass(frozen=True)
class BootLog:
    """What the boot_log section kept of this boot's log: where it came from, whether it
    reaches back to the kernel's first line, the lines naming an error, failure or panic
    (``shown`` of ``matched``), and the consoles the kernel enabled."""

    source: str
    starts_at_boot: bool
    lines: list[str]
    matched: int
    consoles: set[str]
    sudo_commands: int = 0  # sudo's records of command lines: counted on the VM, never errors
    dmi: str = ""  # the kernel's "DMI:" line: which (virtual) machine this is

    @property
    def on_qemu(self) -> bool:
        return bool(re.search(r"\bDMI: QEMU\b", self.dmi))

    @property
    def cut(self) -> bool:
        return self.matched > len(self.lines)


# the kernel's own console line: dmesg form "[    0.337043] printk: console [ttyS0] enabled",
# journal form "[    0.337043] HOST kernel: printk: legacy console [ttyS0] enabled"; not
# "bootconsole [earlyser0] ..." (the early console), not sudo's, logger's or an application's
# line that only quotes the words
_CONSOLE = re.compile(
    r"^(?:\[\s*[\d.]+\]\s+)?(?:\S+\s+kernel:\s+)?(?:printk:\s+)?(?:legacy\s+)?"
    r"console \[([^\]\s]+)\] (enabled|disabled)\s*$",
    re.I,
)
# the lines the boot_log section prints as console lines (bootconsole included), not counted as errors
_CONSOLE_LINE = re.compile(r"console \[[^\]]*\] (?:enabled|disabled)", re.I)


def parse_boot_log(text: str) -> BootLog:
    """The boot_log section: ``## source WHAT``, ``## start LINE`` (the kernel's "Linux
    version" line, i.e. the log covers this boot from its start), matched lines, console
    lines, ``## sudo_commands N`` (sudo's records of command lines, only counted), closing
    ``## matched N``."""
    lines = text.rstrip("\n").splitlines()
    if not lines or not lines[0].startswith("## source "):
        raise FactError("the boot log section does not say which log it read")
    last = lines[-1].split()
    if len(last) != 3 or last[:2] != ["##", "matched"] or not last[2].isdigit():
        raise FactError("the boot log section is incomplete (its closing '## matched N' line is missing)")
    source = lines[0][len("## source ") :].strip()
    sudo_commands = 0
    if len(lines) > 2 and lines[-2].startswith("## sudo_commands "):
        value = lines.pop(-2).split()[-1]
        if not value.isdigit():
            raise FactError(f"the boot log section's sudo count is not a number: {value!r}")
        sudo_commands = int(value)
    starts, dmi = False, ""
    found, console_state = [], {}
    for line in lines[1:-1]:
        if line.startswith("## start "):
            starts = True
            continue
        if line.startswith("## dmi "):
            dmi = line[len("## dmi ") :]
            continue
        if line.startswith("## "):
            raise FactError(f"the boot log section has a line it never prints: {line[:120]!r}")
        if _CONSOLE_LINE.search(line):
            console = _CONSOLE.search(line)  # the kernel's line only; others' are set aside
            if console:  # the last state per device counts (enabled, later disabled: not enabled)
                console_state[console.group(1)] = console.group(2).lower() == "enabled"
        elif line.strip():
            found.append(
                line
            )  # selected on the VM by the words of _ERROR_WORDS (error, fail, panic, ...: maybe past the 400 kept)
    consoles = {device for device, enabled in console_state.items() if enabled}
    return BootLog(source, starts, found, int(last[2]), consoles, sudo_commands, dmi)


def boot_log(facts: LinuxFacts) -> BootLog:
    return parse_boot_log(facts.section("boot_log"))


def consoles_enabled_in_boot_log(facts: LinuxFacts) -> set[str]:
    """Consoles this boot's kernel log says it enabled ("printk: console [ttyS0] enabled"):
    LISA verify_serial_console_is_enabled accepts that line instead of ``console=ttyS0`` on
    /proc/cmdline. FactError when the log could not be read."""
    return boot_log(facts).consoles


@dataclass(frozen=True)
class Allowed:
    """A boot-log line that names an error but is not one of the image's: what it looks
    like, and why it is left out (``kind``: hypervisor noise, benign wording, ...)."""

    pattern: re.Pattern[str]
    kind: str
    reason: str
    qemu_only: bool = False  # left out only when the kernel's DMI line says QEMU


def _allow(regex: str, kind: str, reason: str, qemu_only: bool = False) -> Allowed:
    return Allowed(re.compile(regex, re.I), kind, reason, qemu_only)


# Each entry matches one precise message, never a word: a publisher's own errors (a unit
# that failed to start, a filesystem or disk I/O error, a kernel oops or panic) still count.
BOOT_LOG_ALLOWLIST: tuple[Allowed, ...] = (
    _allow(
        r"calibrate_delay_direct\(\) failed to get a good estimate for loops_per_jiffy",
        "hypervisor noise (QEMU/TCG)",
        "an emulated CPU's clock does not tick steadily while the kernel times its delay loop; "
        "it falls back to another estimate (only under QEMU: LISA does not allowlist it on Azure)",
        qemu_only=True,
    ),
    _allow(
        r"tsc: Fast TSC calibration failed",
        "hypervisor noise (QEMU/TCG, Hyper-V)",
        "a virtual CPU has no PIT-based fast calibration; the kernel calibrates another way (LISA allowlists it)",
    ),
    _allow(
        r"acpi PNP0A03:00: fail to add MMCONFIG information",
        "hypervisor noise (QEMU i440FX, Hyper-V Gen1)",
        "the emulated PCI host bridge has no extended configuration space (LISA allowlists acpi PNP0A03:00)",
    ),
    _allow(
        r"Perf event create on CPU \d+ failed with -2|Failed to access perfctr msr",
        "hypervisor noise (no virtual PMU)",
        "the VM offers no performance counters (LISA allowlists it)",
    ),
    _allow(
        r"(I/O error, dev fd0, sector 0|floppy: error -5 while reading block 0)",
        "hypervisor noise (empty virtual floppy)",
        "Gen1 VMs and QEMU's PC machine have a floppy drive without a disk (LISA allowlists it)",
    ),
    _allow(
        r"(I/O error, dev sr0, sector \d+ op 0x0:\(READ\)|Buffer I/O error on dev sr0, logical block \d+, async page read)",
        "hypervisor noise (empty virtual DVD)",
        "a read of the DVD drive after the provisioning ISO was ejected (LISA allowlists it)",
    ),
    _allow(
        r"RAS: Correctable Errors collector initialized|ERST: Error Record Serialization Table \(ERST\) support is initialized"
        r"|BERT: Boot Error Record Table support is disabled",
        "benign wording",
        "the kernel names its error-reporting features while starting them; no error happened (LISA allowlists RAS and BERT)",
    ),
    _allow(
        r"GPT: Use GNU Parted to correct GPT errors",
        "benign wording",
        "the platform grew the disk, so the backup GPT header is not at its end yet; growpart or the "
        "first write fixes it (LISA allowlists it)",
    ),
    _allow(
        r"Direct firmware load for regulatory\.db failed|failed to load regulatory\.db",
        "benign (no wireless hardware)",
        "cfg80211 looks for the wireless regulatory database a server without Wi-Fi does not ship (LISA allowlists it)",
    ),
    _allow(
        r"ACPI: _OSC evaluation for CPUs failed, trying _PDC",
        "hypervisor noise (virtual firmware)",
        "the virtual firmware answers the older _PDC method instead (LISA allowlists it)",
    ),
    _allow(
        r"was skipped because (of a failed condition check|all trigger condition checks failed)",
        "benign wording (systemd 250/251)",
        "a unit whose Condition...= was not met is skipped by design (later systemd says 'unmet condition "
        "check'); LISA allowlists it",
    ),
    _allow(
        r"EXT4-fs \([^)]*\): (re-)?mounted.*Opts: .*errors=remount-ro",
        "benign wording (a mount option)",
        "ext4 lists the mount options, and 'errors=remount-ro' is the option that says what to do on a "
        "future error (Debian/Ubuntu fstab default); LISA allowlists it",
    ),
    _allow(
        r"snapd\[\d+\]: .*error trying to compare the snap system key: system-key missing on disk",
        "benign (first boot of an Ubuntu image)",
        "snapd writes its system key on first start; LISA allowlists it",
    ),
    _allow(
        r"\[Firmware Bug\]:",
        "platform firmware",
        "the kernel reports a quirk of the (virtual) machine's firmware, which the image does not control",
    ),
    _allow(
        r"MP-BIOS bug: 8254 timer not connected to IO-APIC|kernel: \.{5,} failed\.\s*$",
        "hypervisor noise (QEMU/TCG), on QEMU only",
        "under software emulation the kernel's timer check runs too slowly and tries the next way to route "
        "the timer ('....... failed.' is one tried way; if all fail the kernel panics, which still warns); "
        "seen on the Debian test VM at load 20, not at rest",
        qemu_only=True,
    ),
    _allow(
        r"watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s!",
        "hypervisor noise (QEMU/TCG on a busy host), on QEMU only",
        "software emulation on shared cores stalls a virtual CPU for seconds; on Azure (or any VM that is not "
        "QEMU) a soft lockup is a real problem and warns",
        qemu_only=True,
    ),
    _allow(
        r"\bsudo\[\d+\]: .*(\bCOMMAND=|: \(command continued\))",
        "not a log of an error",
        "sudo's record of a command line (this collection's own script among them), not a report of a failure",
    ),
)


@dataclass(frozen=True)
class BootLogFindings:
    errors: list[str]
    allowed: list[tuple[str, Allowed]]


def boot_log_findings(log: BootLog) -> BootLogFindings:
    """The shown error lines split into the image's own and the allowlisted ones."""
    errors, allowed = [], []
    for line in log.lines:
        entry = next(
            (a for a in BOOT_LOG_ALLOWLIST if a.pattern.search(line) and (log.on_qemu or not a.qemu_only)),
            None,
        )
        if entry is None:
            errors.append(line)
        else:
            allowed.append((line, entry))
    return BootLogFindings(errors, allowed)


# -- LNX-041: cloud-init ---------------------------------------------------------------------


@dataclass(frozen=True)
class CloudInit:
    """cloud-init as the VM reported it: ``cloud-init status --long`` (exit status and
    fields), the switches that disable it, its units, and its log's [ERROR]/[WARNING] lines."""

    binary: str
    status_rc: int
    status: str
    extended_status: str
    detail: str
    status_text: str
    disabled_files: list[str]
    units: dict[str, tuple[str, str]]
    log: str  # "read", "absent", "unreadable"
    log_errors: list[str]
    log_warnings: list[str]
    error_count: int
    warning_count: int

    @property
    def units_enabled(self) -> bool:
        return any(
            state in ("enabled", "enabled-runtime", "static", "generated", "alias")
            for state, _ in self.units.values()
        )


def parse_cloud_init(text: str) -> CloudInit:
    lines = text.rstrip("\n").splitlines()
    if not lines or not lines[0].startswith("binary /"):
        raise FactError("the cloud-init section does not name the cloud-init command")
    if lines[-1] != "## end":
        raise FactError("the cloud-init section is incomplete (its closing line '## end' is missing)")
    binary = lines[0][len("binary ") :]
    part, status_rc = "", None
    status_lines: list[str] = []
    disabled, units = [], {}
    log, errors, warnings, counts = "", [], [], None
    for line in lines[1:-1]:
        if line.startswith("## status rc "):
            value = line.rsplit(" ", 1)[1]
            status_rc = int(value) if value.lstrip("-").isdigit() else None
            part = "status"
        elif line == "## config":
            part = "config"
        elif line in ("## log", "## log absent", "## log unreadable"):
            log = {"## log": "read", "## log absent": "absent", "## log unreadable": "unreadable"}[line]
            part = "log"
        elif line.startswith("## log_counts "):
            words = line.split()
            if len(words) != 4 or not (words[2].isdigit() and words[3].isdigit()):
                raise FactError(f"cloud-init log counts not understood: {line!r}")
            counts = (int(words[2]), int(words[3]))
        elif part == "status":
            status_lines.append(line)
        elif part == "config" and line.startswith("disabled_file "):
            disabled.append(line.split(" ", 1)[1])
        elif part == "config" and line.startswith("unit "):
            words = line.rstrip().split(" ")
            units[words[1]] = (words[2] if len(words) > 2 else "", words[3] if len(words) > 3 else "")
        elif part == "log" and line.startswith("error "):
            errors.append(line[6:])
        elif part == "log" and line.startswith("warning "):
            warnings.append(line[8:])
        else:
            raise FactError(f"the cloud-init section has a line it never prints: {line[:120]!r}")
    if status_rc is None:
        raise FactError("the cloud-init section lacks the exit status of 'cloud-init status'")
    if not log:
        raise FactError("the cloud-init section does not say whether /var/log/cloud-init.log was read")
    if log == "read" and counts is None:
        raise FactError("the cloud-init log was not read to its end (no '## log_counts' line)")
    fields = {}
    for line in status_lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    if "status" not in fields:
        raise FactError(
            f"'cloud-init status --long' printed no status (exit {status_rc}: "
            f"{' '.join(status_lines)[:200] or 'no output'})"
        )
    detail = fields.get("detail", "")
    if not detail:  # older cloud-init prints the detail on the line after "detail:"
        after = [i for i, line in enumerate(status_lines) if line.startswith("detail:")]
        if after and after[0] + 1 < len(status_lines):
            detail = status_lines[after[0] + 1].strip()
    error_count, warning_count = counts or (0, 0)
    return CloudInit(
        binary,
        status_rc,
        fields["status"].lower(),
        fields.get("extended_status", "").lower(),
        detail,
        "\n".join(status_lines),
        disabled,
        units,
        log,
        errors,
        warnings,
        error_count,
        warning_count,
    )


def cloud_init(facts: LinuxFacts) -> CloudInit | None:
    """cloud-init on the VM; None when its command is not installed."""
    text = facts.fact("cloud_init").get()
    return None if text is None else parse_cloud_init(text)


# -- LNX-042: resource disk ------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceDiskLinks:
    """The links that name the Azure resource (temporary) disk, which of the naming
    directories exist, how many VMBus devices the VM has (0: not on Hyper-V/Azure), and
    the mount points carrying the agent's DATALOSS_WARNING_README.txt."""

    links: dict[str, str]
    dirs: list[str]
    vmbus: int
    readme: list[str]

    @property
    def disk(self) -> str:
        """Kernel name of the resource disk ("" when no link names one)."""
        for link, target in sorted(self.links.items()):
            if "-part" not in link.rsplit("/", 1)[-1]:
                return target.removeprefix("/dev/")
        for target in self.links.values():
            return re.sub(r"(?<=\d)p\d+$|(?<=[a-z])\d+$", "", target.removeprefix("/dev/"))
        return ""


def parse_resource_disk(text: str) -> ResourceDiskLinks:
    lines = text.strip().splitlines()
    if "looked" not in lines:
        raise FactError("the resource disk section is incomplete (its closing line 'looked' is missing)")
    links, dirs, readme, vmbus = {}, [], [], None
    for line in lines:
        words = line.split()
        if len(words) == 3 and words[0] == "link":
            links[words[1]] = words[2]
        elif len(words) == 2 and words[0] == "dir":
            dirs.append(words[1])
        elif len(words) == 2 and words[0] == "vmbus" and words[1].isdigit():
            vmbus = int(words[1])
        elif len(words) == 2 and words[0] == "readme":
            readme.append(words[1])
        elif line != "looked":
            raise FactError(f"the resource disk section has a line it never prints: {line[:120]!r}")
    if vmbus is None:
        raise FactError("the resource disk section does not say whether the VM has VMBus devices")
    return ResourceDiskLinks(links, dirs, vmbus, readme)


def resource_disk_links(facts: LinuxFacts) -> ResourceDiskLinks:
    return parse_resource_disk(facts.section("resource_disk"))


# -- LNX-043: DNS ------------------------------------------------------------------------------

DNS_TEST_NAME = "bing.com"  # the name LISA's verify_dns_name_resolution pings


@dataclass(frozen=True)
class DnsLookup:
    """``getent ahosts bing.com`` on the VM: its exit status (124: no answer within 5 s),
    the addresses, and /etc/hosts lines naming it (an answer that would not come from DNS)."""

    rc: int
    addresses: list[str]
    output: str
    hosts_entries: list[str]


def parse_dns_lookup(text: str) -> DnsLookup:
    lines = text.rstrip("\n").splitlines()
    rc_lines = [i for i, line in enumerate(lines) if line.startswith("## rc ")]
    if len(rc_lines) != 1 or not lines[rc_lines[0]][6:].strip().isdigit():
        raise FactError("the DNS lookup section lacks the exit status of getent")
    at = rc_lines[0]
    hosts = []
    for line in lines[:at]:
        words = line.split()
        if line.strip() == "unreadable /etc/hosts":
            raise FactError(
                f"/etc/hosts exists but could not be read: whether getent answers {DNS_TEST_NAME} from it "
                "instead of DNS cannot be told"
            )
        if len(words) >= 3 and words[0] == "hosts":
            if not words[1].startswith("#"):
                hosts.append(" ".join(words[1:]))
        else:
            raise FactError(f"the DNS lookup section has a line it never prints: {line[:120]!r}")
    rc = int(lines[at][6:].strip())
    output = [line for line in lines[at + 1 :] if line.strip()]
    addresses = []
    for line in output:
        words = line.split()
        if (
            len(words) >= 2
            and words[1] in ("STREAM", "DGRAM", "RAW")
            and re.fullmatch(r"[0-9a-fA-F:.]+", words[0])
        ):
            if words[0] not in addresses:
                addresses.append(words[0])
    if rc == 0 and not addresses:
        raise FactError(
            f"getent reported success but printed no address ({' '.join(output)[:200] or 'no output'})"
        )
    return DnsLookup(rc, addresses, "\n".join(output), hosts)


def dns_lookup(facts: LinuxFacts) -> DnsLookup:
    return parse_dns_lookup(facts.section("dns_lookup"))
