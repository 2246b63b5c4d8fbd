"""Firewall state of a running Linux VM (LNX-024): iptables-save, ip6tables-save and the
native nftables ruleset, each with the tool's exit status.

The ``firewall`` section prints ``## iptables PATH`` then, per tool, ``## TOOL``, its
output (stderr included) and ``## exit TOOL STATUS`` (``absent`` when the tool is not
installed). A view is *read* only when its tool exited 0 and printed nothing but
rules; otherwise it is unreadable with the reason. Pure parsers, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pytest_vmimage.verdict import FactError

TOOLS = ("iptables-save", "ip6tables-save", "nft")


@dataclass
class FirewallView:
    """What one tool showed: rules found, or why it could not be read."""

    tool: str
    installed: bool = True
    error: str = ""  # non-empty: the view could not be read
    incompatible: bool = False  # iptables-nft could not show a table nft created
    nf_tables: bool = False  # the iptables-nft variant: nft shows the same kernel tables
    findings: list[str] = field(default_factory=list)

    @property
    def read(self) -> bool:
        return self.installed and not self.error and not self.incompatible


@dataclass
class FirewallState:
    iptables_path: str
    views: dict[str, FirewallView]
    ufw_enabled: bool = False


def split_firewall_section(text: str) -> tuple[str | None, dict[str, str], dict[str, str], str]:
    """(iptables path or None when the header is missing, {tool: output}, {tool: exit}, ufw.conf)."""
    header = re.search(r"^## iptables ?(.*)$", text, re.M)
    parts = dict(
        re.findall(r"^## (iptables-save|ip6tables-save|nft|ufw)\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    )
    exits = dict(re.findall(r"^## exit (\S+) (\S+)$", text, re.M))
    return (header.group(1).strip() if header else None), parts, exits, parts.get("ufw", "")


# WALinuxAgent's own WireServer rules, exactly as iptables-save prints them (security table,
# OUTPUT): DNS and root may reach 168.63.129.16 over TCP, every other new connection is dropped
_AGENT_IPTABLES = re.compile(
    r"-A OUTPUT -d 168\.63\.129\.16/32 -p tcp "
    r"(-m tcp --dport 53 -j ACCEPT|-m owner --uid-owner 0 -j ACCEPT|-m conntrack --ctstate INVALID,NEW -j DROP)"
)
# the same rules in nft: iptables-nft's translation in "table ip security", chain OUTPUT, and the
# agent's native nft rule in "table ip walinuxagent", chain output (counters stripped first)
_AGENT_NFT_SECURITY = re.compile(
    r"ip daddr 168\.63\.129\.16 (meta l4proto|ip protocol) tcp "
    r"(tcp dport 53 counter accept|skuid 0 counter accept|ct state invalid,new counter drop)"
)
_AGENT_NFT_NATIVE = re.compile(
    r"ip daddr 168\.63\.129\.16 tcp dport != 53 meta skuid != 0 ct state invalid,new counter drop"
    r"|ip daddr 168\.63\.129\.16 tcp dport != 53 skuid != 0 ct state invalid,new counter drop"
)
# "# Warning: iptables-legacy tables present" and its ip6tables/arptables/ebtables forms
_LEGACY_TABLES = re.compile(r"\b(ip6?|arp|eb)tables-legacy tables present")


def _agent_rule_iptables(table: str, line: str) -> bool:
    """One of the agent's own WireServer rules: security table, one of its exact shapes."""
    return table == "security" and _AGENT_IPTABLES.fullmatch(line) is not None


def _agent_rule_nft(table: str, chain: str, line: str) -> bool:
    """One of the agent's WireServer rules in nft form (counter values removed)."""
    rule = re.sub(r"\bcounter packets \d+ bytes \d+", "counter", line)
    rule = re.sub(r"\s*# handle \d+$", "", rule)
    if table == "ip security" and chain == "OUTPUT":
        return _AGENT_NFT_SECURITY.fullmatch(rule) is not None
    return table == "ip walinuxagent" and chain == "output" and _AGENT_NFT_NATIVE.fullmatch(rule) is not None


_SAVE_LINE = re.compile(r"^(\*\w+|:\S+ \S+( \[\d+:\d+\])?|-[AIN] .*|COMMIT|#.*)$")


def judge_iptables_save(tool: str, output: str, status: str | None) -> FirewallView:
    """Rules and non-ACCEPT policies in ``iptables-save`` output; any line that is not part
    of a ruleset (an error message) makes the view unreadable."""
    view = FirewallView(tool)
    if status == "absent":
        view.installed = False
        return view
    table = ""
    unknown = []
    view.nf_tables = ("(nf_tables)" in output or "incompatible" in output) and not _LEGACY_TABLES.search(
        output
    )
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        if "incompatible" in line:
            view.incompatible = True
            view.error = view.error or f"{tool}: {line[:160]}"
            continue
        if _LEGACY_TABLES.search(line):
            view.error = view.error or f"{tool}: {line[:160]} (rules in legacy tables are not shown)"
            # nft cannot show x_tables (legacy) rules either: never covered by the nft view
            continue
        if not _SAVE_LINE.match(line):
            unknown.append(line)
            continue
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            chain, policy = line[1:].split()[:2]
            if policy in ("DROP", "REJECT"):
                view.findings.append(f"{tool} {table}: policy {chain} {policy}")
        elif line.startswith("-") and not _agent_rule_iptables(table, line):
            view.findings.append(f"{tool} {table}: {line}")
    if unknown:
        view.error = f"{tool}: {unknown[0][:160]}"
    if status is None:
        view.error = view.error or f"{tool}: no exit status recorded (output cut short?)"
    elif status != "0":
        view.error = f"{tool} exited {status}" + (f": {unknown[0][:160]}" if unknown else "")
    return view


_NFT_BLOCK = re.compile(r"^(table|chain|set|map|flowtable|counter|quota|limit|ct|secmark|synproxy)\b(.*)\{$")
_NFT_ERROR = re.compile(r"^(Error|netlink|Operation not permitted|.*Permission denied)", re.I)


def judge_nft(output: str, status: str | None) -> FirewallView:
    """Rules and drop/reject policies of ``nft list ruleset``, table by table; the agent's
    rules for 168.63.129.16 in the OUTPUT chain of ``table ip security`` are excepted."""
    view = FirewallView("nft")
    if status == "absent":
        view.installed = False
        return view
    stack: list[tuple[str, str]] = []  # (kind, name)
    table = chain = ""
    for raw in output.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _NFT_ERROR.match(line):
            view.error = f"nft: {line[:160]}"
            continue
        block = _NFT_BLOCK.match(line)
        if block:
            kind, name = block.group(1), block.group(2).strip()
            stack.append((kind, name))
            if kind == "table":
                table = name
            elif kind == "chain":
                chain = name
            continue
        if line == "}":
            if not stack:
                view.error = "nft: unbalanced braces in the ruleset (output garbled?)"
                continue
            kind, _ = stack.pop()
            if kind == "chain":
                chain = ""
            continue
        in_chain = bool(stack) and stack[-1][0] == "chain"
        if not stack:
            view.error = view.error or f"nft: unexpected line outside a table: {line[:120]}"
            continue
        if not in_chain:
            continue  # set/map elements, flowtable devices, named counters: not rules
        policy = re.search(r"\bpolicy (\w+)", line)
        if line.startswith("type ") and "hook" in line:
            if policy and policy.group(1) != "accept":
                view.findings.append(f"nft {table} chain {chain}: policy {policy.group(1)}")
            continue
        if line.startswith(("comment ", "devices ", "policy ")):
            if policy and policy.group(1) != "accept":
                view.findings.append(f"nft {table} chain {chain}: policy {policy.group(1)}")
            continue
        if not _agent_rule_nft(table, chain, line):
            view.findings.append(f"nft {table} chain {chain}: {line}")
    if stack and not view.error:
        view.error = "nft: the ruleset ends inside a block (output cut short?)"
    if status is None:
        view.error = view.error or "nft: no exit status recorded (output cut short?)"
    elif status != "0":
        view.error = f"nft exited {status}" + (f" ({view.error})" if view.error else "")
    return view


_HEADER = re.compile(r"^## (iptables(?= |$)|iptables-save$|ip6tables-save$|nft$|ufw$|exit \S+)", re.M)
_ORDER = [
    "iptables",
    "iptables-save",
    "exit iptables-save",
    "ip6tables-save",
    "exit ip6tables-save",
    "nft",
    "exit nft",
    "ufw",
]


def _check_shape(text: str, legacy: bool, ufw: str) -> None:
    """The section's headers in the script's order, nothing before the first, and a ufw.conf of
    ``KEY=value`` lines: shuffled or shifted output is an error, never a smaller ruleset."""
    headers = [m.group(1) for m in _HEADER.finditer(text)]
    expected = [h for h in _ORDER if not (legacy and h.startswith("exit "))]
    if headers != expected:
        raise FactError("the firewall section's parts are out of order or repeated (output garbled)")
    if text[: text.find("## iptables")].strip():
        raise FactError("the firewall section has output before its first header (garbled)")
    strange = [
        line for line in ufw.splitlines() if line.strip() and not re.match(r"\s*(#|[A-Za-z_]+=)", line)
    ]
    if strange:
        raise FactError(f"unexpected line in /etc/ufw/ufw.conf output: {strange[0][:80]!r} (garbled)")


def parse_firewall(text: str) -> FirewallState:
    """The ``firewall`` section; FactError when it is not the section's shape at all."""
    path, parts, exits, ufw = split_firewall_section(text)
    missing = [tool for tool in TOOLS if tool not in parts]
    if path is None or missing:
        raise FactError(
            "the firewall section is incomplete (missing "
            + ", ".join((["the iptables header"] if path is None else []) + missing)
            + "): output cut short or garbled"
        )
    legacy = not exits  # recorded before exit statuses were printed: infer from the output
    _check_shape(text, legacy, ufw)
    views = {}
    for tool in ("iptables-save", "ip6tables-save"):
        status = "0" if legacy and path else exits.get(tool)
        if not path and legacy:
            status = "absent"
        views[tool] = judge_iptables_save(tool, parts[tool], status)
    nft_status = exits.get("nft")
    if legacy:
        nft_status = "0" if parts["nft"].strip() else "absent"
    views["nft"] = judge_nft(parts["nft"], nft_status)
    return FirewallState(path, views, bool(re.search(r"^ENABLED=yes", ufw, re.M)))


def unread_views(state: FirewallState) -> list[str]:
    """Reasons the rules cannot all be known. An iptables view that failed is covered when the
    nft ruleset was read and iptables is the nf_tables variant (nft then shows its tables);
    a legacy iptables' rules are invisible to nft."""
    nft = state.views["nft"]
    reasons = []
    for tool in ("iptables-save", "ip6tables-save"):
        view = state.views[tool]
        if not view.installed or view.read:
            continue
        if nft.read and view.nf_tables:
            continue
        reasons.append(view.error + ("" if nft.installed else "; nft is not installed to read the ruleset"))
    if nft.installed and not nft.read:
        reasons.append(nft.error)
    if not reasons and not any(view.read for view in state.views.values()):
        reasons.append("no tool could list the rules (iptables-save, ip6tables-save and nft are all missing)")
    return reasons
