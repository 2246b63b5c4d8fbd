"""The pytest plugin: options, targets, fixtures, verdicts and reports.

Data flows one way: ``--vm-host`` -> Target -> connection (once per target
and process) -> facts (once) -> pure check -> Verdict -> properties -> every
report.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_vmimage import catalog, run_report
from pytest_vmimage.catalog import requirement_of
from pytest_vmimage.connect import ConnectError, RemoteCommandError
from pytest_vmimage.profiles import GUIDE_2016, PROFILES, ConfigError, Profile, load_profile
from pytest_vmimage.report import (
    ResultCollector,
    header_lines,
    html_header_cells,
    html_row_cells,
    properties_of,
    result_of,
    summary_lines,
    write_json_atomic,
)
from pytest_vmimage.targets import LINUX, WINDOWS, Target, TargetError, parse_targets
from pytest_vmimage.verdict import FactError, Result, Verdict

STATE = pytest.StashKey["VmState"]()
VERDICT = pytest.StashKey[Verdict]()
COLLECTOR_NAME = "vmimage-results"


@dataclass(frozen=True)
class NoTarget:
    """The parameter of a check when no target of its OS was given."""

    os: str

    @property
    def reason(self) -> str:
        scheme = "ssh" if self.os == LINUX else "winrm"
        return f"no {self.os.capitalize()} target given (--vm-host {scheme}://user@host)"


@dataclass
class VmState:
    """Everything the plugin resolved from the command line, once per process."""

    targets: list[Target] = field(default_factory=list)
    profile: Profile | None = None
    error: str = ""
    key_path: str | None = None
    ssh_config: str | None = None
    known_hosts: str | None = None
    host_key_policy: str | None = None
    password_env: str = "VMIMAGE_PASSWORD"
    sudo_password_env: str = "VMIMAGE_SUDO_PASSWORD"
    host_key_notes: dict[str, str] = field(default_factory=dict)
    connections: dict = field(default_factory=dict)
    remote_commands: dict[str, int] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show secrets, even in a traceback with locals
        return f"VmState(targets={[t.label for t in self.targets]!r})"

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None

    @property
    def sudo_password(self) -> str | None:
        """For ``sudo -S`` on stdin: its own variable, else the login password."""
        return os.environ.get(self.sudo_password_env) or self.password

    def redact(self, text: str) -> str:
        for password in (self.password, self.sudo_password):
            if password and password in text:
                text = text.replace(password, "***")
        return re.sub(r"(?i)(\bsig=)[^&\s\"'<>]+", r"\1REDACTED", text)

    def hosts(self) -> list[dict]:
        hosts = [{"Label": t.label, "OS": t.os, "URL": t.display_url} for t in self.targets]
        for host in hosts:
            if host["Label"] in self.host_key_notes:  # trust on first use happened: say so
                host["HostKey"] = self.host_key_notes[host["Label"]]
        return hosts


# -- options -------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vmimage", "Azure Marketplace VM image certification (pytest-vmimage)")
    group.addoption(
        "--vm-host",
        action="append",
        default=[],
        metavar="[NAME=]URL",
        dest="vm_hosts",
        help="VM to check, repeatable: ssh://user@host[:port] (Linux) or winrm://user@host[:port] "
        "(Windows, HTTPS 5986 by default). NAME (e.g. the VM size) labels it in test IDs and reports.",
    )
    group.addoption("--vm-ssh-key", metavar="PATH", dest="vm_ssh_key", help="private key for ssh:// targets")
    group.addoption(
        "--vm-ssh-config",
        metavar="PATH",
        dest="vm_ssh_config",
        help="OpenSSH client config for ssh:// targets (use ?backend=openssh for ProxyJump)",
    )
    group.addoption(
        "--vm-known-hosts",
        metavar="FILE",
        dest="vm_known_hosts",
        help="the known_hosts file that decides SSH host keys (instead of ~/.ssh/known_hosts and "
        "ssh_config's UserKnownHostsFile); first-use keys are recorded here under tofu",
    )
    group.addoption(
        "--vm-host-key-policy",
        choices=("strict", "tofu"),
        dest="vm_host_key_policy",
        default=None,
        help="strict (default, unless ssh_config's StrictHostKeyChecking says accept-new/no): an "
        "unknown SSH host key is refused; tofu: it is trusted on first use, recorded and reported. "
        "A changed key is always refused",
    )
    group.addoption(
        "--vm-sudo-password-env",
        metavar="NAME",
        dest="vm_sudo_password_env",
        default="VMIMAGE_SUDO_PASSWORD",
        help="environment variable holding the sudo password, given to sudo -S on stdin when sudo "
        "asks for one (default VMIMAGE_SUDO_PASSWORD, else the login password)",
    )
    group.addoption(
        "--vm-password-env",
        metavar="NAME",
        dest="vm_password_env",
        default="VMIMAGE_PASSWORD",
        help="environment variable holding the login password (default VMIMAGE_PASSWORD); "
        "passwords in URLs are refused",
    )
    group.addoption(
        "--vm-profile",
        metavar="NAME",
        dest="vm_profile",
        default=GUIDE_2016,
        help=f"edition of the rules: {' | '.join(PROFILES)} (default {GUIDE_2016})",
    )
    group.addoption(
        "--vm-config", metavar="FILE", dest="vm_config", help="TOML file overriding single thresholds"
    )
    group.addoption(
        "--vm-report", metavar="PATH", dest="vm_report", help="write the JSON certification report here"
    )
    group.addoption(
        "--vm-facts-dir",
        metavar="DIR",
        dest="vm_facts_dir",
        help="also save the facts gathered from each target as DIR/LABEL.linux.json (bug reports, tests)",
    )
    group.addoption(
        "--vm-strict",
        action="store_true",
        dest="vm_strict",
        default=False,
        help="exit non-zero when any requirement only warned",
    )
    group.addoption(
        "--vm-severity",
        action="append",
        default=[],
        choices=catalog.SEVERITIES,
        dest="vm_severity",
        help="run only requirements of this severity (fail or warn); repeatable",
    )
    group.addoption(
        "--vm-vhd-sha256",
        action="store_true",
        dest="vm_vhd_sha256",
        default=False,
        help="put the SHA-256 of each --vm-vhd file in the report header (reads the whole file)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{catalog.MARKER}(id, severity): the catalogue requirement a test checks (set by @requirement)",
    )
    state = VmState(
        key_path=config.getoption("vm_ssh_key"),
        ssh_config=config.getoption("vm_ssh_config"),
        known_hosts=config.getoption("vm_known_hosts"),
        host_key_policy=config.getoption("vm_host_key_policy"),
        password_env=config.getoption("vm_password_env"),
        sudo_password_env=config.getoption("vm_sudo_password_env"),
    )
    try:
        state.targets = parse_targets(config.getoption("vm_hosts"))
        state.profile = load_profile(config.getoption("vm_profile"), config.getoption("vm_config"))
        for option, path in (("--vm-ssh-key", state.key_path), ("--vm-ssh-config", state.ssh_config)):
            if path and not Path(path).is_file():
                raise ConfigError(f"{option} {path}: no such file")
    except (TargetError, ConfigError) as exc:
        state.error = str(exc)
    config.stash[STATE] = state
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ResultCollector(), COLLECTOR_NAME)


def pytest_sessionstart(session: pytest.Session) -> None:
    """JUnit suite properties: profile and every override (junitxml exists only after configure)."""
    if not hasattr(session.config, "workerinput"):
        _add_junit_suite_properties(session.config, _state(session.config))


def _add_junit_suite_properties(config: pytest.Config, state: VmState) -> None:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - private API moved
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None and state.profile is not None:
        xml.add_global_property("vmimage_profile", state.profile.name)
        overrides, declared = run_report.overrides_of(state.profile)
        for item in overrides:
            xml.add_global_property(
                f"vmimage_override_{item['Name']}", f"{item['Value']!r} (profile default {item['Default']!r})"
            )
        for item in declared:
            xml.add_global_property(f"vmimage_declared_{item['Name']}", repr(item["Value"]))


def _state(config: pytest.Config) -> VmState:
    return config.stash[STATE]


# -- collection ----------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector, name, obj):
    result = yield
    declared = requirement_of(obj)
    if declared is not None and result:
        state = _state(collector.config)
        where = f"{collector.nodeid}::{name}"
        first = state.declared.setdefault(declared.id, where)
        if first != where:
            raise collector.CollectError(
                f"requirement {declared.id} is declared twice: by {first} and by {where}; "
                "one check per requirement"
            )
    return result


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vm_target" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    declared = requirement_of(metafunc.function)
    if declared is not None:
        wanted = declared.kind
    elif "vm_ssh" in metafunc.fixturenames or "linux_facts" in metafunc.fixturenames:
        wanted = LINUX
    elif "vm_winrm" in metafunc.fixturenames or "windows_facts" in metafunc.fixturenames:
        wanted = WINDOWS
    else:
        wanted = None
    targets = [t for t in state.targets if wanted is None or t.os == wanted]
    if wanted == LINUX:
        targets += _image_targets(metafunc.config)
    if targets:
        metafunc.parametrize(
            "vm_target", targets, ids=[t.label for t in targets], indirect=True, scope="session"
        )
    elif wanted in (LINUX, WINDOWS):
        metafunc.parametrize("vm_target", [NoTarget(wanted)], ids=[f"no-{wanted}-target"], indirect=True)


def pytest_itemcollected(item: pytest.Item) -> None:
    declared = requirement_of(getattr(item, "obj", None))
    if declared is not None:
        item.extra_keyword_matches.add(declared.id)
        item.extra_keyword_matches.add(f"severity-{declared.severity}")


class VmConfigurationItem(pytest.Item):
    """Stands in for every test when the command line cannot be used, so the
    reports are still written and name the problem."""

    def __init__(self, *, message: str, **kwargs):
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        raise ConfigError(self.message)

    def repr_failure(self, excinfo, style=None) -> str:
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, None, "pytest-vmimage configuration"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    state = _state(config)
    if state.error:
        config.hook.pytest_deselected(items=list(items))
        items[:] = [VmConfigurationItem.from_parent(session, name="vm-configuration", message=state.error)]
        return
    severities = config.getoption("vm_severity")
    if severities:
        keep, drop = [], []
        for item in items:
            declared = requirement_of(getattr(item, "obj", None))
            (keep if declared is not None and declared.severity in severities else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def pytest_deselected(items) -> None:
    """Deselected requirements are listed in the report (never a silent pass)."""
    if items:
        config = items[0].config
        run_report.note_deselected(config, items, config_error=bool(_state(config).error))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Name the requirement IDs a run will check (also under --collect-only -q)."""
    run_report.note_collection(session)
    declared = (requirement_of(getattr(item, "obj", None)) for item in session.items)
    ids = sorted({d.id for d in declared if d is not None})
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if ids and reporter is not None:
        reporter.write_line(f"requirements: {len(ids)} ({' '.join(ids)})")


# -- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def vm_profile(request: pytest.FixtureRequest) -> Profile:
    """The profile of this run, with --vm-config overrides applied."""
    return _state(request.config).profile


@pytest.fixture(scope="session")
def vm_target(request: pytest.FixtureRequest) -> Target:
    """The target this test runs against (one test per target of the check's OS)."""
    param = getattr(request, "param", None)
    if isinstance(param, NoTarget):
        pytest.skip(param.reason)
    if param is None:
        pytest.skip("no --vm-host given")
    return param


@pytest.fixture
def vm_connection(request: pytest.FixtureRequest, vm_target: Target):
    """The open connection to the target: connected once per process; a failure is
    remembered and reported as one ERROR per test, naming target and cause."""
    state = _state(request.config)
    cached = state.connections.get(vm_target.label)
    if cached is None:
        try:
            cached = _connect(state, vm_target)
        except ConnectError as exc:
            cached = exc
        except Exception as exc:  # noqa: BLE001 - any failure: one attempt, one message, cached
            cached = ConnectError(f"{vm_target.label}: {type(exc).__name__}: {exc}")
        state.connections[vm_target.label] = cached
        note = getattr(cached, "host_key_note", "")
        if note:
            state.host_key_notes[vm_target.label] = note
    if isinstance(cached, ConnectError):
        pytest.fail(state.redact(f"cannot connect to {cached}"), pytrace=False)
    return cached


def _connect(state: VmState, target: Target):
    if target.os == LINUX:
        from pytest_vmimage.connect.ssh import connect_linux

        return connect_linux(
            target,
            state.key_path,
            state.password,
            state.ssh_config,
            known_hosts=state.known_hosts,
            host_key_policy=state.host_key_policy,
        )
    from pytest_vmimage.connect.winrm import WinRMClient, WinRMSettings

    options = target.options
    settings = WinRMSettings(
        label=target.label,
        host=target.host,
        port=target.port,
        scheme=options.get("scheme", "https"),
        username=target.user,
        password=state.password or "",
        transport=options.get("transport", "ntlm"),
        cert_validation=options.get("cert_validation", "validate") == "validate",
        ca_trust_path=options.get("ca_trust_path"),
        cert_pem=options.get("cert_pem"),
        cert_key_pem=options.get("cert_key_pem"),
        connect_timeout=float(options.get("timeout", 15)),
    )
    client = WinRMClient(settings)
    client.connect()
    return client


@pytest.fixture
def vm_ssh(vm_connection):
    """The testinfra ``Host`` of a Linux target, for checks and users' own tests."""
    return vm_connection.host


@pytest.fixture
def vm_winrm(vm_connection):
    """The WinRM client of a Windows target (``run_ps(script) -> parsed JSON``)."""
    return vm_connection


def _image_targets(config: pytest.Config) -> list[Target]:
    """The OS disk VHDs (--vm-vhd os:PATH): the Linux suite judges them offline."""
    from pytest_vmimage.artifacts_plugin import ARTIFACTS

    artifacts = config.stash.get(ARTIFACTS, None)
    vhds = [v for v in artifacts.vhds if v.role == "os"] if artifacts is not None else []
    return [Target(v.label, LINUX, "vhd", "", str(v.path), 0, {"vhd": v.label}) for v in vhds]


@pytest.fixture
def linux_facts(request: pytest.FixtureRequest, vm_target: Target):
    """Every Linux fact, collected once per target and process in one SSH command; for an
    OS disk VHD (--vm-vhd os:PATH) read offline from the image (facts/linux_image.py)."""
    from pytest_vmimage.facts.linux import gather

    state = _state(request.config)
    if vm_target.scheme == "vhd":
        from pytest_vmimage.facts.linux_image import image_facts

        return _gathered(request, vm_target, None, "linux", image_facts(request.config, vm_target))
    vm_connection = request.getfixturevalue("vm_connection")

    def gather_linux(connection, admin_user: str):
        return gather(
            connection,
            admin_user=admin_user,
            sudo_password=state.sudo_password,
            sudo_password_hint=f"put the sudo password in the environment variable {state.sudo_password_env}",
            section_timeouts=getattr(state.profile, "section_timeouts", None),
        )

    return _gathered(request, vm_target, vm_connection, "linux", gather_linux)


@pytest.fixture
def windows_facts(request: pytest.FixtureRequest, vm_target: Target, vm_connection):
    """Every Windows fact, collected once per target and process by one PowerShell script."""
    from pytest_vmimage.facts.windows import gather

    return _gathered(request, vm_target, vm_connection, "windows", gather)


def _gathered(request: pytest.FixtureRequest, target: Target, connection, os_name: str, gather):
    """Facts of one target, gathered once per process; a failure is remembered and fails
    every test that needs them. With --vm-facts-dir the facts are also saved as JSON."""
    state = _state(request.config)
    key = (os_name, target.label)
    cached = state.facts.get(key)
    if cached is None:
        try:
            cached = gather(connection, admin_user=target.user)
        except (FactError, RemoteCommandError) as exc:
            cached = exc
        except Exception as exc:  # noqa: BLE001 - any failure is cached: one attempt per target
            cached = FactError(f"{type(exc).__name__}: {str(exc)[:300]}")
        state.facts[key] = cached
        facts_dir = request.config.getoption("vm_facts_dir")
        if facts_dir and not isinstance(cached, Exception):
            path = Path(facts_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', target.label)}.{os_name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(state.redact(json.dumps(cached.to_json(), indent=1)) + "\n")
    if isinstance(cached, Exception):
        pytest.fail(state.redact(f"{target.label}: collecting facts failed: {cached}"), pytrace=False)
    return cached


# -- running a check -------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """Call a requirement test, take its Verdict and turn it into the outcome."""
    declared = requirement_of(pyfuncitem.obj)
    if declared is None:
        return None
    funcargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    try:
        verdict = pyfuncitem.obj(**funcargs)
    except FactError as exc:
        if getattr(exc, "not_applicable", False):  # only a running VM knows (facts/linux_image.py)
            verdict = Verdict.not_applicable(f"{declared.id}: {exc}")
        else:
            verdict = Verdict.error(f"{declared.id}: a fact could not be determined: {exc}")
    except RemoteCommandError as exc:
        verdict = Verdict.error(f"{declared.id}: {exc}")
    if not isinstance(verdict, Verdict):
        verdict = Verdict.error(
            f"{declared.id}: check bug: {pyfuncitem.name} returned {type(verdict).__name__}, not a Verdict"
        )
    elif declared.severity == "warn" and verdict.result is Result.FAILED:
        verdict = Verdict.error(f"{declared.id}: check bug: declared 'warn' but failed: {verdict.message}")
    if getattr(funcargs.get("linux_facts"), "source", ""):  # offline: the kernel that would run
        from pytest_vmimage.facts.linux_image import offline_verdict

        verdict = offline_verdict(verdict, funcargs.get("linux_facts"))
    pyfuncitem.stash[VERDICT] = verdict
    state = _state(pyfuncitem.config)
    text = state.redact(verdict.message or verdict.actual)
    if verdict.result is Result.NOT_APPLICABLE:
        pytest.skip(text)
    if verdict.result in (Result.FAILED, Result.ERROR):
        pytest.fail(text, pytrace=False)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return report
    declared = requirement_of(getattr(item, "obj", None))
    params = item.callspec.params if hasattr(item, "callspec") else {}
    if isinstance(item, VmConfigurationItem):
        props = {"requirement": "", "result": Result.ERROR.value, "message": item.message, "host": ""}
    elif declared is None and "vm_target" not in params and "vm_artifact" not in params:
        return report  # an ordinary test: not ours to label
    elif report.when == "setup":
        result = Result.NOT_APPLICABLE if report.skipped else Result.ERROR
        props = _props(declared, item, result, message=_short(report))
    elif (verdict := item.stash.get(VERDICT, None)) is not None:
        props = _props(declared, item, verdict.result, verdict.actual, verdict.required, verdict.message)
    elif declared is None:  # a user's own test on a target: its pytest outcome is its result
        result = {"passed": Result.PASSED, "skipped": Result.NOT_APPLICABLE}.get(
            report.outcome, Result.FAILED
        )
        props = _props(declared, item, result, message="" if report.passed else _short(report))
    else:  # the check raised: an error of the check, not a verdict
        result = Result.NOT_APPLICABLE if report.skipped else Result.ERROR
        props = _props(declared, item, result, message=_short(report))
    state = _state(item.config)
    pairs = [(name, state.redact(str(value))) for name, value in props.items()]
    item.user_properties.extend(pairs)
    report.user_properties = list(report.user_properties) + pairs
    return report


def _props(declared, item, result: Result, actual="", required="", message="") -> dict:
    params = item.callspec.params if hasattr(item, "callspec") else {}
    target = params.get("vm_target") or params.get("vm_artifact")
    return {
        "requirement": declared.id if declared else "",
        "title": declared.title
        if declared
        else item.originalname
        if hasattr(item, "originalname")
        else item.name,
        "guide": declared.guide if declared else "",
        "severity": declared.severity if declared else "",
        "result": result.value,
        "actual": actual,
        "required": required,
        "host": getattr(target, "label", "") or "",
        "message": message,
    }


def _short(report) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext.strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def pytest_report_teststatus(report, config):
    result = result_of(report)
    if result == Result.WARNING.value and report.when == "call":
        return "warned", "W", ("WARNING", {"yellow": True})
    if result == Result.NOT_APPLICABLE.value and report.skipped:
        return "not applicable", "n", ("N/A", {"yellow": False})
    if result == Result.ERROR.value and report.when == "call" and report.failed:
        return "error", "E", ("ERROR", {"red": True})
    return None


# -- session end ---------------------------------------------------------------


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    collector = config.pluginmanager.get_plugin(COLLECTOR_NAME)
    if collector is None:
        return
    state = _state(config)
    lines = summary_lines(list(collector.outcomes.values()), verbose=config.getoption("verbose") > 0)
    document = run_report.run_report(config, state, collector)
    if lines or document["NotRun"]:
        terminalreporter.section("vm image certification")
        for line in lines + header_lines(document):
            terminalreporter.line(line)
    for label, note in sorted(state.host_key_notes.items()):
        terminalreporter.line(f"{label}: {note}")
    if config.getoption("verbose") > 0 and state.remote_commands:
        counts = ", ".join(f"{label}: {n}" for label, n in sorted(state.remote_commands.items()))
        terminalreporter.line(f"remote commands run per target: {counts}")
    if config.getoption("verbose") > 1:
        for target in document["Targets"]:
            for line in run_report.fact_section_lines(target["Label"], target.get("FactSections", [])):
                terminalreporter.line(line)
    report = config.getoption("vm_report")
    if report:
        terminalreporter.line(f"JSON certification report: {report}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    collector = config.pluginmanager.get_plugin(COLLECTOR_NAME)
    state = _state(config)
    for label, connection in state.connections.items():
        if hasattr(connection, "commands_run"):
            state.remote_commands[label] = state.remote_commands.get(label, 0) + connection.commands_run
        close = getattr(connection, "close", None)
        if close:
            close()
    if hasattr(config, "workeroutput"):
        config.workeroutput["vm_remote_commands"] = json.dumps(state.remote_commands)
        config.workeroutput["vm_host_key_notes"] = json.dumps(state.host_key_notes)
        run_report.worker_output(config, state)
    if collector is None:
        return
    report = config.getoption("vm_report")
    if report:
        write_json_atomic(report, run_report.run_report(config, state, collector))
    if config.getoption("vm_strict") and collector.counts()[Result.WARNING.value] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """Controller: add up the remote commands each xdist worker ran."""
    counts = json.loads(getattr(node, "workeroutput", {}).get("vm_remote_commands", "{}"))
    state = _state(node.config)
    for label, count in counts.items():
        state.remote_commands[label] = state.remote_commands.get(label, 0) + count
    state.host_key_notes.update(json.loads(getattr(node, "workeroutput", {}).get("vm_host_key_notes", "{}")))
    run_report.add_worker_output(node.config, getattr(node, "workeroutput", {}))


# -- pytest-html ---------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report) -> None:
    report.title = "VM image certification (pytest-vmimage)"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list, summary: list, postfix: list, session) -> None:
    """The certification header and the requirement x target table above pytest-html's rows."""
    config = session.config
    collector = config.pluginmanager.get_plugin(COLLECTOR_NAME)
    if collector is None:
        return
    from pytest_vmimage.report_html import render_fragment

    prefix.append(render_fragment(run_report.run_report(config, _state(config), collector)))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list) -> None:
    for offset, cell in enumerate(html_header_cells()):
        cells.insert(1 + offset, cell)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list) -> None:
    for offset, cell in enumerate(html_row_cells(report)):
        cells.insert(1 + offset, cell)


# -- pytest-xdist ----------------------------------------------------------------


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """One worker (and one connection) per target: a host-keyed scheduler
    (xdist's loadgroup does not group on pytest 9.2, NOTES.md)."""
    if config.getoption("dist", "load") != "load":
        return None
    from pytest_vmimage.xdist_scheduler import make_host_scheduler

    targets = _state(config).targets + _image_targets(config)  # a VHD read once, on one worker
    return make_host_scheduler(config, log, [t.label for t in targets])


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` starts one worker per target."""
    try:
        targets = parse_targets(config.getoption("vm_hosts"))
    except TargetError:
        return None
    return len(targets) or None


__all__ = ["properties_of"]
