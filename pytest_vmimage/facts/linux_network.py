"""Network facts of a running Linux VM: interface configuration in every distro's format,
resolver settings, and the firewall state (LNX-017..020, LNX-024).

Parsers are pure functions over the text the collection script printed; the functions
taking :class:`LinuxFacts` read its sections (``files``/``section``/``raw`` raise
FactError when a source could not be read) and never turn "could not read" into
"nothing configured".

Formats: ifupdown (Debian/Ubuntu), ifcfg (RHEL family network-scripts, SUSE wicked),
netplan (Ubuntu), systemd-networkd ``.network`` (Azure Linux/Mariner), NetworkManager
keyfiles (Fedora ≥ 39, EL9), dhclient, systemd-resolved and ``/etc/resolv.conf``.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field

from pytest_vmimage.facts.image_files import is_resolver_stub
from pytest_vmimage.facts.linux import SECTIONS, LinuxFacts, parse_shell_assignments, parse_units
from pytest_vmimage.verdict import FactError

# configs keyed by these names are not one interface
ROUTES = "(routes)"
DHCP_ANY = "(dhcp-any)"  # a catch-all DHCP rule (cloud-init hotplug, networkd Name=e*)


@dataclass
class IfaceConfig:
    """What one configuration file says about one interface (IPv4 unless named ``x/inet6``)."""

    source: str
    method: str  # dhcp | static | manual | loopback | other
    extras: list[str] = field(default_factory=list)  # custom settings: routes, DNS, options
    addresses4: list[str] = field(default_factory=list)  # static IPv4 addresses
    addresses6: list[str] = field(default_factory=list)  # static IPv6 addresses


def _is_ipv6(address: str) -> bool:
    return ":" in address.split("/")[0]


def _split_addresses(values: list[str]) -> tuple[list[str], list[str]]:
    v4 = [a for a in values if a and not _is_ipv6(a)]
    v6 = [a for a in values if a and _is_ipv6(a)]
    return v4, v6


# -- ifupdown ----------------------------------------------------------------------------

_IFUPDOWN_OPTIONS = (
    "address",
    "gateway",
    "dns-nameservers",
    "dns-search",
    "up",
    "post-up",
    "pre-up",
    "netmask",
    "hwaddress",  # a fixed MAC: Azure drops frames from any MAC but the NIC's own
)


def parse_ifupdown(path: str, text: str) -> list[tuple[str, IfaceConfig]]:
    """``iface NAME inet|inet6 METHOD`` stanzas of /etc/network/interfaces(.d)."""
    found: list[tuple[str, IfaceConfig]] = []
    current = None
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        words = line.split()
        if not words:
            continue
        if words[0] == "iface" and len(words) >= 4:
            method = words[3] if words[3] in ("dhcp", "static", "manual", "loopback") else "other"
            current = IfaceConfig(path, method)
            inet6 = words[2] == "inet6"
            found.append((words[1] + ("/inet6" if inet6 else ""), current))
        elif words[0] == "mapping":
            current = None  # a mapping stanza's options are not an interface's
        elif current is not None and words[0] in _IFUPDOWN_OPTIONS:
            current.extras.append(line)
            if words[0] == "address" and len(words) > 1:
                v4, v6 = _split_addresses([words[1]])
                current.addresses4 += v4
                current.addresses6 += v6
    return found


def ifupdown_sources_not_read(text: str, globs: list[str]) -> list[str]:
    """``source``/``source-directory`` targets of an interfaces file outside the collected globs
    (relative paths are relative to /etc/network)."""
    unread = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("source", "source-directory"):
            target = words[1] if words[1].startswith("/") else f"/etc/network/{words[1]}"
            probe = target.rstrip("/") + "/x" if words[0] == "source-directory" else target
            if not any(fnmatch.fnmatchcase(probe, g) or g == target for g in globs):
                unread.append(target)
    return unread


# -- ifcfg (RHEL network-scripts, SUSE wicked) ------------------------------------------

_IFCFG_CUSTOM = re.compile(r"(DNS\d+|GATEWAY\d*|PEERDNS|IPV6_DEFAULTGW|DOMAIN|NETCONFIG_DNS_STATIC_SERVERS)$")
_IFCFG_ADDRESS = re.compile(r"(IPADDR\d*|IPADDR_\w+|IPV6ADDR|IPV6ADDR_SECONDARIES)$")


def parse_ifcfg(path: str, text: str) -> list[tuple[str, IfaceConfig]]:
    """One ``ifcfg-NAME`` file: BOOTPROTO, static addresses (IPv4 and IPv6), DNS, gateways."""
    name = path.rsplit("ifcfg-", 1)[1]
    values = parse_shell_assignments(text)
    proto = values.get("BOOTPROTO", "").lower()
    addresses = [a for k, v in values.items() if _IFCFG_ADDRESS.match(k) and v for a in v.split()]
    v4, v6 = _split_addresses(addresses)
    if name == "lo" or values.get("DEVICE") == "lo":
        return [("lo", IfaceConfig(path, "loopback"))]
    if proto.startswith("dhcp") and proto != "dhcp6":
        method = "dhcp"
    elif proto in ("static", "none", "") and v4:
        method = "static"
    else:
        method = proto or "other"
    config = IfaceConfig(path, method, addresses4=v4)
    # YaST writes every key, most of them empty
    config.extras += [
        f"{k}={v}"
        for k, v in values.items()
        if v and _IFCFG_CUSTOM.match(k) and not (k == "PEERDNS" and v.lower() == "yes")
    ]
    config.extras += [f"static address {a}" for a in v4] if method == "dhcp" else []
    found = [(name, config)]
    if v6 or (
        values.get("IPV6_AUTOCONF", "").lower() == "no" and values.get("IPV6INIT", "").lower() == "yes"
    ):
        found.append(
            (
                name + "/inet6",
                IfaceConfig(path, "static", [f"IPv6 {' '.join(v6) or 'IPV6_AUTOCONF=no'}"], addresses6=v6),
            )
        )
    return found


def parse_route_file(path: str, text: str) -> list[tuple[str, IfaceConfig]]:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines:
        return []
    return [(ROUTES, IfaceConfig(path, "other", [f"static route: {line}" for line in lines]))]


# -- netplan --------------------------------------------------------------------------------


def _yaml_scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        return [_yaml_scalar(item) for item in _split_flow(text[1:-1]) if item.strip()]
    if text.startswith("{") and text.endswith("}"):
        pairs = [item.partition(":") for item in _split_flow(text[1:-1]) if item.strip()]
        return {k.strip().strip("'\""): _yaml_scalar(v) for k, _, v in pairs}
    return text


def _split_flow(text: str) -> list[str]:
    items, depth, current, quote = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += char
    return items + [current]


def _strip_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index].rstrip()
    return line.rstrip()


# a mapping key ("quoted: keys" may hold colons) and what follows its colon
_YAML_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'[^']*'|[^:'"\[{][^:]*?)\s*:(?:\s+(.*))?$""")


def parse_yaml_subset(text: str):
    """The block YAML netplan files use: mappings, ``- item`` lists, flow ``[a, b]`` lists,
    quoted scalars, comments. Raises ValueError on what it cannot read (tabs, anchors)."""
    lines = []
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise ValueError("tab indentation")
        if line.lstrip().startswith(("&", "*", "!!", "|", ">")):
            raise ValueError(f"unsupported YAML: {line.strip()[:40]}")
        lines.append((len(line) - len(line.lstrip()), line.strip()))

    def block(index: int, indent: int):
        if index >= len(lines):
            return None, index
        if lines[index][1].startswith("- ") or lines[index][1] == "-":
            items = []
            while index < len(lines) and lines[index][0] == indent and lines[index][1].startswith("-"):
                after = lines[index][1][1:]
                rest = after.strip()
                if not rest:
                    value, index = block(index + 1, lines[index + 1][0] if index + 1 < len(lines) else indent)
                    items.append(value)
                    continue
                if _YAML_KEY.match(rest) and not rest.startswith(
                    ("[", "{")
                ):  # "- key: value" opens a mapping
                    column = indent + 1 + len(after) - len(after.lstrip())
                    lines[index] = (column, rest)
                    value, index = block(index, column)
                    items.append(value)
                    continue
                items.append(_yaml_scalar(rest))
                index += 1
            return items, index
        mapping: dict = {}
        while index < len(lines) and lines[index][0] == indent:
            entry = _YAML_KEY.match(lines[index][1])
            if not entry:
                raise ValueError(f"not a mapping entry: {lines[index][1][:40]}")
            key, rest = entry.group(1).strip().strip("'\""), entry.group(2) or ""
            if rest.strip():
                mapping[key] = _yaml_scalar(rest)
                index += 1
            elif index + 1 < len(lines) and lines[index + 1][0] > indent:
                mapping[key], index = block(index + 1, lines[index + 1][0])
            elif (
                index + 1 < len(lines)
                and lines[index + 1][0] == indent
                and lines[index + 1][1].startswith("-")
            ):
                mapping[key], index = block(index + 1, indent)
            else:
                mapping[key] = None
                index += 1
        if index < len(lines) and lines[index][0] > indent:
            raise ValueError(f"bad indentation at {lines[index][1][:40]}")
        return mapping, index

    if not lines:
        return {}
    value, index = block(0, lines[0][0])
    if index < len(lines):
        raise ValueError(f"unexpected line {lines[index][1][:40]}")
    return value


_TRUE = ("true", "yes", "on", "y")


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def netplan_interfaces(text: str) -> dict[str, dict]:
    """Interface definitions under ``network:`` (ethernets, bonds, vlans, bridges, wifis), by name."""
    try:
        document = parse_yaml_subset(text)
    except ValueError as exc:
        raise FactError(f"cannot parse the netplan file ({exc})") from exc
    network = document.get("network") if isinstance(document, dict) else None
    if not isinstance(network, dict):
        return {}
    found: dict[str, dict] = {}
    for kind in ("ethernets", "bonds", "vlans", "bridges", "wifis", "tunnels"):
        block = network.get(kind)
        if isinstance(block, dict):
            found.update({name: body if isinstance(body, dict) else {} for name, body in block.items()})
    return found


def parse_netplan(
    path: str, text: str, known_links: dict[str, str] | None = None
) -> list[tuple[str, IfaceConfig]]:
    """Netplan definitions by the interface they apply to: ``set-name``, else the link whose
    MAC ``match`` names, else the definition's id."""
    found = []
    for name, body in netplan_interfaces(text).items():
        match = body.get("match") if isinstance(body.get("match"), dict) else {}
        mac = str(match.get("macaddress", "")).lower()
        by_mac = next((link for link, address in (known_links or {}).items() if mac and address == mac), None)
        name = str(body.get("set-name") or by_mac or name)
        dhcp4 = str(body.get("dhcp4", "")).lower() in _TRUE
        addresses = [a if isinstance(a, str) else next(iter(a), "") for a in _as_list(body.get("addresses"))]
        v4, v6 = _split_addresses([str(a) for a in addresses])
        method = "dhcp" if dhcp4 else ("static" if v4 else "other")
        config = IfaceConfig(path, method, addresses4=v4, addresses6=v6)
        config.extras += [f"static address {a}" for a in v4] if dhcp4 else []
        nameservers = body.get("nameservers")
        if isinstance(nameservers, dict) and (nameservers.get("addresses") or nameservers.get("search")):
            config.extras.append(
                f"netplan nameservers {nameservers.get('addresses') or nameservers.get('search')}"
            )
        for key in ("routes", "routing-policy", "gateway4", "gateway6", "macaddress"):
            if body.get(key):
                config.extras.append(f"netplan {key}")
        overrides = body.get("dhcp4-overrides")
        if isinstance(overrides, dict):
            config.extras += [
                f"netplan dhcp4-overrides {k}: {v}"
                for k, v in overrides.items()
                if k in ("use-dns", "use-routes") and str(v).lower() not in _TRUE
            ]
        if (
            match
            and "set-name" not in body
            and not by_mac
            and method == "dhcp"
            and not config.extras
            and not v6
        ):
            # a catch-all DHCP rule matching NICs by driver or MAC (cloud-init's
            # 90-hotplug-azure.yaml "ephemeral"/"hotplug"): not a hand-written interface
            name = DHCP_ANY
        found.append((name, config))
        if v6:
            found.append(
                (name + "/inet6", IfaceConfig(path, "static", [f"static IPv6 {' '.join(v6)}"], addresses6=v6))
            )
    return found


# -- INI files: systemd-networkd and NetworkManager keyfiles ---------------------------------


def parse_ini(text: str) -> list[tuple[str, str, str]]:
    """``[Section]`` / ``Key=Value`` lines as (section, key, value), repeated keys kept."""
    entries, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep:
            entries.append((section, key.strip(), value.strip()))
    return entries


def _networkd_targets(entries, links: dict[str, str], primary: str) -> tuple[list[str], bool]:
    """Interfaces a .network file's [Match] applies to, and whether it is a catch-all pattern."""
    names = [w for s, k, v in entries if s == "Match" and k == "Name" for w in v.split()]
    macs = [
        w.lower()
        for s, k, v in entries
        if s == "Match" and k in ("MACAddress", "PermanentMACAddress")
        for w in v.split()
    ]
    other = [
        k for s, k, v in entries if s == "Match" and k not in ("Name", "MACAddress", "PermanentMACAddress")
    ]
    if not names and not macs:
        return [primary, *links], True  # no [Match] name: applies to every link
    # a list starting with "!" is inverted (systemd.network(5))
    invert = bool(names) and names[0].startswith("!")
    patterns = [p.lstrip("!") for p in names]
    matched = [
        n for n in [primary, *links] if not names or any(fnmatch.fnmatch(n, p) for p in patterns) != invert
    ]
    if macs:
        matched = [n for n in matched if links.get(n, "") in macs]
    pattern = bool(other) or invert or any(set(p) & set("*?[") for p in names)
    if not matched:
        return [" ".join(names + macs) or "(networkd match)"], pattern
    return list(dict.fromkeys(matched)), pattern


def parse_networkd(
    path: str, text: str, links: dict[str, str], primary: str
) -> list[tuple[str, IfaceConfig]]:
    entries = parse_ini(text)
    dhcp = next((v.lower() for s, k, v in reversed(entries) if s == "Network" and k == "DHCP"), "no")
    addresses = [v for s, k, v in entries if (s, k) in (("Network", "Address"), ("Address", "Address"))]
    v4, v6 = _split_addresses(addresses)
    method = "dhcp" if dhcp in ("yes", "true", "ipv4", "both", "1", "on") else ("static" if v4 else "other")
    config = IfaceConfig(path, method, addresses4=v4, addresses6=v6)
    config.extras += [f"static address {a}" for a in v4] if method == "dhcp" else []
    for s, k, v in entries:
        if not v:
            continue  # an empty assignment resets the list
        if (s, k) in (
            ("Network", "DNS"),
            ("Network", "Domains"),
            ("Network", "Gateway"),
            ("Route", "Gateway"),
            ("Route", "Destination"),
        ):
            config.extras.append(f"{s}.{k}={v}")
        elif (s, k) == ("Link", "MACAddress"):
            config.extras.append(f"fixed MAC {s}.{k}={v}")
        elif (
            s in ("DHCP", "DHCPv4")
            and k in ("UseDNS", "UseRoutes", "UseGateway")
            and v.lower() in ("no", "false", "0", "off")
        ):
            config.extras.append(f"{s}.{k}={v}")
    targets, pattern = _networkd_targets(entries, links, primary)
    plain_dhcp = method == "dhcp" and not config.extras and not v6
    found = []
    if pattern and plain_dhcp:
        found.append((DHCP_ANY, config))
        if primary in targets:
            found.append((primary, config))
    else:
        found += [
            (name, config) for name in (targets if not pattern or primary not in targets else [primary])
        ]
    if v6:
        for name, _ in list(found):
            found.append(
                (name + "/inet6", IfaceConfig(path, "static", [f"static IPv6 {' '.join(v6)}"], addresses6=v6))
            )
    return found


def parse_nm_keyfile(path: str, text: str) -> tuple[dict[str, str], IfaceConfig, IfaceConfig | None]:
    """A NetworkManager keyfile: (``{connection/ethernet keys}``, IPv4 config, IPv6 config or None)."""
    entries = parse_ini(text)
    values = {f"{s}.{k}": v for s, k, v in entries}

    def addresses(section: str) -> list[str]:
        found = [
            v.split(",")[0] for s, k, v in entries if s == section and re.fullmatch(r"address(es)?\d*", k)
        ]
        return [a.strip() for item in found for a in item.split(";") if a.strip()]

    method4 = values.get("ipv4.method", "auto")
    v4 = addresses("ipv4")
    method = {"auto": "dhcp", "manual": "static"}.get(method4, "other")
    if values.get("connection.type") == "loopback":
        method = "loopback"
    config = IfaceConfig(path, method, addresses4=v4)
    config.extras += [f"static address {a}" for a in v4] if method == "dhcp" else []
    for s, k, v in entries:
        if (
            s in ("ipv4", "ipv6")
            and v.strip(" ;")
            and (
                k in ("dns", "dns-search", "gateway")
                or re.fullmatch(r"route\d*", k)
                or (k in ("ignore-auto-dns", "ignore-auto-routes") and v.lower() == "true")
            )
        ):
            config.extras.append(f"NetworkManager {s}.{k}={v}")
        elif (
            s in ("ethernet", "802-3-ethernet")
            and k == "cloned-mac-address"
            and v.lower() not in ("", "preserve", "permanent")
        ):
            config.extras.append(f"NetworkManager fixed MAC {s}.{k}={v}")
    v6 = addresses("ipv6")
    config6 = None
    if values.get("ipv6.method") == "manual" or v6:
        config6 = IfaceConfig(
            path,
            "static",
            [f"ipv6.method={values.get('ipv6.method', '?')} {' '.join(v6)}".strip()],
            addresses6=v6,
        )
    return values, config, config6


# -- all of it, from the facts ----------------------------------------------------------------


def links(facts: LinuxFacts) -> dict[str, str]:
    """Interface name -> MAC address, from ``ip -o link``."""
    found = {}
    for line in facts.section("ip_state").split("## link", 1)[-1].splitlines():
        match = re.match(r"\d+: ([^:@\s]+)[:@].*link/ether (\S+)", line)
        if match:
            found[match.group(1)] = match.group(2).lower()
    return found


def primary_interface(facts: LinuxFacts) -> str:
    """The interface of the default IPv4 route, else the one with a global IPv4 address."""
    text = facts.section("ip_state")
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    for line in sections.get("route", "").splitlines():
        match = re.match(r"default .*\bdev (\S+)", line)
        if match:
            return match.group(1)
    for line in sections.get("addr", "").splitlines():
        match = re.match(r"\d+: (\S+)\s+inet \S+ .*scope global", line)
        if match and match.group(1) != "lo":
            return match.group(1)
    raise FactError("no default IPv4 route and no global IPv4 address: the primary interface is unknown")


def nm_profile_interface(
    values: dict[str, str], path: str, known_links: dict[str, str], primary: str = ""
) -> str:
    """The interface a NetworkManager profile applies to: interface-name, else its
    mac-address (cloud-init writes those), else (an Ethernet profile bound to no device, which
    NetworkManager may activate on any NIC) the primary, else the last word of its id, else
    the file name."""
    if values.get("connection.interface-name"):
        return values["connection.interface-name"]
    mac = values.get("ethernet.mac-address", "").lower()
    unbound = not mac and values.get("connection.type") in ("ethernet", "802-3-ethernet")
    if unbound and primary:
        return primary
    for name, address in known_links.items():
        if mac and address == mac:
            return name
    profile_id = values.get("connection.id", "").split()
    if profile_id and profile_id[-1] in known_links:
        return profile_id[-1]
    return path.rsplit("/", 1)[-1]


def network_manager_absent(facts: LinuxFacts) -> bool:
    """NetworkManager is provably not installed: no unit, no nmcli, no package."""
    text = facts.section("network_services")
    units = parse_units(text)
    if "NetworkManager" not in units:
        return False  # the unit list was not printed: cannot tell
    nmcli = re.search(r"^command nmcli(.*)$", text, re.M)
    if nmcli is None or nmcli.group(1).strip():
        return False
    return units["NetworkManager"][0] == "" and units["NetworkManager"][1] in ("", "inactive")


def _collected_globs(name: str) -> list[str]:
    """The path globs a file-listing section of the collection script reads."""
    match = re.search(r"for f in (.*?); do", SECTIONS[name][1])
    return match.group(1).split() if match else []


def config_files(facts: LinuxFacts, name: str) -> dict[str, str]:
    """A file-listing section, checked for shape: it starts with a ``###`` header and names
    only files the script looks for (a garbled or shifted listing is an error, not "no file")."""
    found = facts.files(name)
    first = next((line for line in facts.section(name).splitlines() if line.strip()), None)
    if first is not None and not first.startswith("### /"):
        raise FactError(f"the {name.replace('_', ' ')} listing does not start with a file header (garbled)")
    globs = _collected_globs(name)
    strange = [path for path in found if globs and not any(fnmatch.fnmatchcase(path, g) for g in globs)]
    if strange:
        raise FactError(
            f"the {name.replace('_', ' ')} listing names files it never reads: {strange[0]!r} (garbled)"
        )
    return found


def nm_keyfiles(facts: LinuxFacts) -> dict[str, str]:
    """NetworkManager's system connection profiles; an error when they could not be read,
    unless NetworkManager is not installed at all."""
    try:
        return config_files(facts, "nm_connections")
    except FactError as exc:
        if network_manager_absent(facts):
            return {}
        raise FactError(f"NetworkManager profiles could not be read: {exc}") from exc


_NETWORKD_DIRS = (
    "/etc/systemd/network/",
    "/run/systemd/network/",
    "/usr/lib/systemd/network/",
    "/lib/systemd/network/",
)
_NETPLAN_DIRS = ("/run/netplan/", "/etc/netplan/", "/usr/lib/netplan/", "/lib/netplan/")


def _shadowing(paths, dirs: tuple[str, ...]) -> dict[str, str]:
    """File name -> the path that wins among ``dirs`` (earlier directories shadow later ones)."""
    winners: dict[str, str] = {}
    for path in sorted(paths, key=lambda p: next(i for i, d in enumerate(dirs) if p.startswith(d))):
        winners.setdefault(path.rsplit("/", 1)[-1], path)
    return winners


# [Match] keys of systemd's own .network files that never select an Azure VM's Ethernet NIC
_VENDOR_NON_MATCH = {"Kind", "WLANInterfaceType", "SSID", "BSSID"}


def _vendor_network_applies(entries, known_links: dict[str, str], primary: str) -> bool:
    """Whether a .network file shipped under /usr/lib or /run (systemd's stock container, VM
    and Wi-Fi files) can select one of this VM's links; unsure means it applies."""
    match = {k: v for s, k, v in entries if s == "Match"}
    if set(match) & _VENDOR_NON_MATCH:
        return False
    if match.get("Virtualization", "").strip() in ("container", "systemd-nspawn", "docker", "podman", "lxc"):
        return False
    types = match.get("Type", "").split()
    if types and all(t != "ether" and not t.startswith("!") for t in types):
        return False  # only wlan, loopback, tunnels...: never the VM's Ethernet NIC
    if match.get("Driver", "").split() == ["veth"]:
        return False
    names = [w for s, k, v in entries if s == "Match" and k == "Name" for w in v.split()]
    if not names or any(p.startswith("!") for p in names):
        return True  # no name, or a negated one: unsure, so it applies
    return any(fnmatch.fnmatch(n, p) for n in [primary, *known_links] for p in names)


def networkd_files(files: dict[str, str], known_links: dict[str, str], primary: str) -> dict[str, str]:
    """The .network files networkd uses (same name: /etc shadows /run shadows /usr/lib), each
    with its ``NAME.network.d/*.conf`` drop-ins of every directory appended in name order;
    vendor files that select none of this VM's links are left out. Keyed by a source label."""
    networks = {p for p in files if p.startswith(_NETWORKD_DIRS) and p.endswith(".network")}
    dropins: dict[str, list[str]] = {}
    for path in files:
        if path.startswith(_NETWORKD_DIRS) and ".network.d/" in path and path.endswith(".conf"):
            parent = path.rsplit("/", 2)[-2][: -len(".d")]
            dropins.setdefault(parent, []).append(path)
    found = {}
    winners = _shadowing(networks, _NETWORKD_DIRS)
    for name in sorted(set(winners) | set(dropins)):
        path = winners.get(name)
        confs = [c for _, c in sorted((c.rsplit("/", 1)[-1], c) for c in dropins.get(name, []))]
        text = "\n".join(([files[path]] if path else []) + [files[c] for c in confs])
        vendor = path is not None and not path.startswith("/etc/") and not confs
        if vendor and not _vendor_network_applies(parse_ini(text), known_links, primary):
            continue
        found[" + ".join(([path] if path else []) + confs)] = text
    return found


def interface_configs(facts: LinuxFacts) -> dict[str, list[IfaceConfig]]:
    """Interface configuration across ifupdown, ifcfg, netplan, networkd and NetworkManager."""
    configs: dict[str, list[IfaceConfig]] = {}
    files = config_files(facts, "network_config")
    keyfiles = nm_keyfiles(facts)
    if not files and not keyfiles:
        raise FactError(
            "no network configuration file was found at all (ifupdown, ifcfg, netplan, networkd, "
            "NetworkManager, dhclient): the listing is empty, so nothing can be judged"
        )
    known_links = links(facts)
    primary = primary_interface(facts)
    netplan = set(_shadowing([p for p in files if p.startswith(_NETPLAN_DIRS)], _NETPLAN_DIRS).values())
    for path, text in networkd_files(files, known_links, primary).items():
        for name, config in parse_networkd(path, text, known_links, primary):
            configs.setdefault(name, []).append(config)
    for path, text in files.items():
        if path.startswith(_NETWORKD_DIRS) or (path.startswith(_NETPLAN_DIRS) and path not in netplan):
            continue  # judged above, or shadowed by a netplan file of the same name
        if path.startswith(("/etc/network/interfaces", "/run/network/interfaces")):
            unread = ifupdown_sources_not_read(text, _collected_globs("network_config"))
            if unread:
                raise FactError(f"{path} sources {unread[0]}, which the collection does not read")
            found = parse_ifupdown(path, text)
        elif "/ifcfg-" in path:
            found = parse_ifcfg(path, text)
        elif "/route-" in path or "/route6-" in path or path.endswith("/routes") or "/ifroute-" in path:
            found = parse_route_file(path, text)
        elif path.startswith(_NETPLAN_DIRS):
            try:
                found = parse_netplan(path, text, known_links)
            except FactError as exc:
                raise FactError(f"{path}: {exc}") from exc
        else:
            found = []
        for name, config in found:
            configs.setdefault(name, []).append(config)
    for path, text in keyfiles.items():
        values, config, config6 = parse_nm_keyfile(path, text)
        name = nm_profile_interface(values, path, known_links, primary)
        configs.setdefault(name, []).append(config)
        if config6 is not None:
            configs.setdefault(name + "/inet6", []).append(config6)
    return configs


# -- DNS ---------------------------------------------------------------------------------------

# headers the DHCP/network tools write into resolv.conf (a hand-written "managed by puppet" is not one)
RESOLV_GENERATORS = re.compile(
    r"NetworkManager|resolvconf|dhcpcd|dhclient-script|systemd-resolved|netconfig|connman|wicked", re.I
)


@dataclass
class ResolvConf:
    """``/etc/resolv.conf`` as the VM has it, with the DNS servers DHCP leases handed out."""

    link: str = ""
    immutable: bool = False
    attrs_unknown: bool = False  # lsattr could not tell
    exists: bool = True
    nameservers: list[str] = field(default_factory=list)
    generator: str = ""  # the header naming the tool that wrote it
    lease_dns: set[str] = field(default_factory=set)
    leases_read: bool = False
    unreadable_leases: list[str] = field(default_factory=list)


def parse_resolv_conf(text: str, dhcp_dns: str | None = None) -> ResolvConf:
    """The ``resolv_conf`` section (``link``, ``attrs``, the file) and the ``dhcp_dns`` section
    (``lease_dns SERVERS`` / ``lease_unreadable PATH``; None when it was not collected)."""
    state = ResolvConf()
    if not text.startswith("link "):
        raise FactError("the resolv.conf section does not start with its link line (cut or garbled)")
    head, marker, body = text.partition("### /etc/resolv.conf")
    for line in head.splitlines() + (dhcp_dns or "").splitlines():
        word, _, rest = line.partition(" ")
        if word == "link":
            state.link = rest.strip()
        elif word == "attrs":
            state.immutable = "i" in rest.strip()
        elif word == "lease_dns":
            state.leases_read = True
            state.lease_dns.update(re.split(r"[\s,;]+", rest.strip()) if rest.strip() else [])
        elif word == "leases":
            state.leases_read = True
        elif word == "lease_unreadable":
            state.unreadable_leases.append(rest.strip())
        elif word == "attrs-error":
            state.attrs_unknown = True
    state.lease_dns.discard("")
    if not marker:
        state.exists = False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", ";")) and RESOLV_GENERATORS.search(stripped) and not state.generator:
            state.generator = stripped.lstrip("#; ")[:80]
        words = stripped.split()
        if len(words) >= 2 and words[0] == "nameserver":
            state.nameservers.append(words[1])
    return state


def resolv_conf_findings(state: ResolvConf) -> list[str]:
    """Why ``/etc/resolv.conf`` is a static (hand-written) resolver configuration."""
    findings = []
    if state.immutable:
        findings.append("/etc/resolv.conf is immutable (chattr +i)")
    if state.link and is_resolver_stub(state.link):
        return findings
    if state.exists and state.attrs_unknown:
        raise FactError("lsattr could not read the attributes of /etc/resolv.conf (is it chattr +i?)")
    if not state.exists or not state.nameservers:
        return findings
    if state.generator:
        # a header copied from the build host proves nothing: compare with the leases when
        # they name DNS servers (a local forwarder such as dnsmasq's 127.0.0.1 is the generator's)
        foreign = [
            n
            for n in state.nameservers
            if not n.startswith("127.") and n != "::1" and not _same_address(n, state.lease_dns)
        ]
        if state.lease_dns and foreign:
            findings.append(
                f"/etc/resolv.conf ({state.generator[:40]}) names {', '.join(foreign)}, not handed out by "
                f"DHCP (leases: {', '.join(sorted(state.lease_dns))})"
            )
        return findings
    handed_out = state.nameservers and all(_same_address(n, state.lease_dns) for n in state.nameservers)
    if handed_out:
        return findings
    if state.unreadable_leases:
        raise FactError(
            f"/etc/resolv.conf names {', '.join(state.nameservers)} without a generator header and the DHCP "
            f"leases that would show where they came from could not be read ({', '.join(state.unreadable_leases[:3])})"
        )
    if not state.leases_read:
        raise FactError(
            "/etc/resolv.conf has nameservers without a generator header and the DHCP lease DNS servers were "
            "not collected, so a static resolv.conf cannot be told from one the DHCP client wrote"
        )
    foreign = [n for n in state.nameservers if not _same_address(n, state.lease_dns)]
    where = f" -> {state.link}" if state.link else ""
    findings.append(
        f"static /etc/resolv.conf{where}: nameserver {', '.join(foreign)} not handed out by DHCP "
        f"(leases: {', '.join(sorted(state.lease_dns)) or 'none'})"
    )
    return findings


def resolv_conf(facts: LinuxFacts) -> ResolvConf:
    dhcp_dns = facts.section("dhcp_dns") if "dhcp_dns" in facts.sections else None
    return parse_resolv_conf(facts.section("resolv_conf"), dhcp_dns)


def _same_address(address: str, pool: set[str]) -> bool:
    try:
        wanted = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address in pool
    for item in pool:
        try:
            if ipaddress.ip_address(item.split("%")[0]) == wanted:
                return True
        except ValueError:
            continue
    return False


def dns_overrides(files: dict[str, str]) -> list[str]:
    """DNS servers and default gateways set by hand for the whole system: dhclient
    (supersede/prepend/append), systemd-resolved, SUSE netconfig, NetworkManager's global DNS,
    RHEL's /etc/sysconfig/network GATEWAY."""
    findings = []
    for path, text in files.items():
        if "dhclient" in path:
            # statements, not lines: interface "eth0" { supersede ...; } may sit on one line
            statements = re.split(r"[;{}]", re.sub(r"#[^\n]*", "", text))
            findings += [
                f"{' '.join(statement.split())} ({path})"
                for statement in statements
                if re.match(r"\s*(supersede|prepend|append)\s+(domain-name-servers|routers)\b", statement)
            ]
        if path.startswith("/etc/systemd/resolved.conf"):
            findings += [
                f"{line.strip()} ({path})"
                for line in text.splitlines()
                if re.match(r"\s*(DNS|FallbackDNS)\s*=\s*\S", line)
            ]
        if path == "/etc/sysconfig/network/config":
            values = parse_shell_assignments(text)
            if values.get("NETCONFIG_DNS_STATIC_SERVERS"):
                findings.append(
                    f"NETCONFIG_DNS_STATIC_SERVERS={values['NETCONFIG_DNS_STATIC_SERVERS']} ({path})"
                )
        if path == "/etc/sysconfig/network":
            gateway = parse_shell_assignments(text).get("GATEWAY")
            if gateway:
                findings.append(f"static default route GATEWAY={gateway} ({path})")
        if path.startswith("/etc/NetworkManager/") and path.endswith(".conf"):
            findings += [
                f"NetworkManager global DNS [{section}] {key}={value} ({path})"
                for section, key, value in parse_ini(text)
                if section.startswith("global-dns-domain") and key == "servers" and value
            ]
    return findings


# -- who brings the primary interface up at boot (LNX-017, LNX-018) -----------------------------

ENABLED_STATES = ("enabled", "enabled-runtime", "static", "indirect")
_NM_CONF_DIRS = (
    "/usr/lib/NetworkManager/conf.d/",
    "/run/NetworkManager/conf.d/",
    "/etc/NetworkManager/conf.d/",
)
_FALSE = ("false", "no", "off", "0")


def unit_on(units: dict[str, tuple[str, str]], name: str) -> bool:
    """The unit starts at boot (enabled, static, ...) or runs now; a masked unit never does."""
    enabled, active = units.get(name, ("", ""))
    return not enabled.startswith("masked") and (enabled in ENABLED_STATES or active == "active")


def nm_settings(files: dict[str, str]) -> dict[tuple[str, str], str]:
    """NetworkManager's configuration as it reads it: /usr/lib and /run conf.d first, then
    NetworkManager.conf, then /etc conf.d (same file name: /etc shadows /run shadows /usr/lib),
    later files overriding; ``key+=``/``key-=`` add to / remove from a list. {(section, key): value}."""
    snippets = {p: t for p, t in files.items() if p.startswith(_NM_CONF_DIRS) and p.endswith(".conf")}
    winners = _shadowing(snippets, tuple(reversed(_NM_CONF_DIRS)))
    early = sorted(
        (p for p in winners.values() if not p.startswith("/etc/")), key=lambda p: p.rsplit("/", 1)[-1]
    )
    late = sorted((p for p in winners.values() if p.startswith("/etc/")), key=lambda p: p.rsplit("/", 1)[-1])
    main = (
        ["/etc/NetworkManager/NetworkManager.conf"]
        if "/etc/NetworkManager/NetworkManager.conf" in files
        else []
    )
    values: dict[tuple[str, str], str] = {}
    for path in early + main + late:
        for section, key, value in parse_ini(files[path]):
            op = key[-1] if key[-1:] in "+-" else ""
            name = (section, key.rstrip("+-").strip())
            if not op:
                values[name] = value
                continue
            items = [i for i in re.split(r"[,;]", values.get(name, "")) if i.strip()]
            new = [i for i in re.split(r"[,;]", value) if i.strip()]
            items = (
                items + new if op == "+" else [i for i in items if i.strip() not in {n.strip() for n in new}]
            )
            values[name] = ",".join(items)
    return values


def _spec_matches(spec: str, name: str, mac: str) -> bool:
    """One NetworkManager device spec (NetworkManager.conf(5) "Device List Format") against an
    Ethernet NIC (on Azure its driver is hv_netvsc)."""
    spec = spec.strip()
    kind, sep, value = spec.partition(":")
    if spec == "*":
        return True
    if not sep or re.fullmatch(r"(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", spec):
        return spec.lower() == mac or spec == name  # a bare MAC (or, leniently, a bare name)
    kind = kind.lower()
    if kind == "interface-name":
        value = value.lstrip("=")
        if value.startswith("~"):
            return fnmatch.fnmatch(name.lower(), value[1:].lower())
        return fnmatch.fnmatchcase(name, value)
    if kind == "mac":
        return value.lower() == mac
    if kind == "type":
        return fnmatch.fnmatchcase("ethernet", value)
    if kind == "driver":
        return fnmatch.fnmatchcase("hv_netvsc", value.split("|")[0])
    return False


def nm_spec_matches(specs: str, name: str, mac: str) -> bool:
    """A device list: any positive spec matches and no ``except:`` spec does (only ``except:``
    specs: every device but those)."""
    items = [i.strip() for i in re.split(r"[,;]", specs) if i.strip()]
    excepts = [i[len("except:") :] for i in items if i.startswith("except:")]
    positive = [i for i in items if not i.startswith("except:")]
    if any(_spec_matches(e, name, mac) for e in excepts):
        return False
    return any(_spec_matches(p, name, mac) for p in positive) or (bool(excepts) and not positive)


def ifupdown_start_modes(files: dict[str, str]) -> dict[str, list[str]]:
    """Interface -> the ifupdown stanzas that start it: ``auto``/``allow-auto`` (networking.service,
    ifup -a) and ``allow-hotplug`` (udev); ``allow-CLASS`` for other classes are not boot."""
    modes: dict[str, list[str]] = {}
    for path, text in files.items():
        if not path.startswith(("/etc/network/interfaces", "/run/network/interfaces")):
            continue
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if words and words[0] in ("auto", "allow-auto", "allow-hotplug"):
                for name in words[1:]:
                    modes.setdefault(name, []).append(f"{words[0]} {name} ({path})")
    return modes


def netplan_renderer(files: dict[str, str], name: str, source: str) -> str:
    """The renderer of the netplan definition in ``source`` for ``name``: its own ``renderer``,
    else its type block's, else ``network: renderer`` (the last file in netplan's order wins),
    else networkd."""
    found = "networkd"
    for path in sorted((p for p in files if p.startswith(_NETPLAN_DIRS)), key=lambda p: p.rsplit("/", 1)[-1]):
        try:
            document = parse_yaml_subset(files[path])
        except ValueError:
            continue  # parse_netplan reports it
        network = document.get("network") if isinstance(document, dict) else None
        if isinstance(network, dict) and isinstance(network.get("renderer"), str):
            found = network["renderer"]
    try:
        network = parse_yaml_subset(files[source]).get("network") or {}
    except (ValueError, AttributeError):
        return found
    for kind in ("ethernets", "bonds", "vlans", "bridges", "wifis", "tunnels"):
        block = network.get(kind) if isinstance(network, dict) else None
        if not isinstance(block, dict):
            continue
        body = block.get(name)
        if isinstance(body, dict) and isinstance(body.get("renderer"), str):
            return body["renderer"]
        if isinstance(block.get("renderer"), str) and name in block:
            return block["renderer"]
    return found


@dataclass
class BringUp:
    """How the primary interface comes up at boot: ``by`` (stack, what, its config; None for
    NetworkManager's default DHCP connection), and why each configuration found does not."""

    primary: str
    by: list[tuple[str, str, IfaceConfig | None]] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def stacks(self) -> set[str]:
        return {stack for stack, _, _ in self.by}


def primary_bring_up(facts: LinuxFacts) -> BringUp:
    """Which stack brings the primary interface up at boot, judged from its configuration
    files and the settings of the stack that reads each: ifupdown's ``auto``/``allow-hotplug``
    and networking.service, ifcfg ``ONBOOT``, netplan's ``renderer``, networkd, and
    NetworkManager's profiles (``autoconnect``), ``unmanaged-devices``, ``no-auto-default`` and
    its ifupdown plugin (``[ifupdown] managed=false`` leaves interfaces of /etc/network/interfaces alone)."""
    text = facts.section("network_services")
    units = parse_units(text)
    commands = dict(re.findall(r"^command (\S+) ?(\S*)$", text, re.M))
    resolved = re.search(r"^resolved ifup (\S*)", text, re.M)
    ifup = (resolved.group(1) if resolved else "") or commands.get("ifup", "")
    ifupdown = bool(ifup) and "nm-ifup" not in ifup
    primary = primary_interface(facts)
    mac = links(facts).get(primary, "")
    files = config_files(facts, "network_config")
    configs = interface_configs(facts).get(primary, [])
    result = BringUp(primary)
    nm_on, networkd_on = unit_on(units, "NetworkManager"), unit_on(units, "systemd-networkd")
    nm = nm_settings(files)
    in_interfaces = [
        c.source
        for c in configs
        if c.source.startswith(("/etc/network/interfaces", "/run/network/interfaces"))
    ]
    unmanaged = ""
    if nm_spec_matches(nm.get(("keyfile", "unmanaged-devices"), ""), primary, mac):
        unmanaged = (
            f"NetworkManager unmanaged-devices={nm[('keyfile', 'unmanaged-devices')]} covers {primary}"
        )
    elif (
        "ifupdown" in re.split(r"[,;\s]+", nm.get(("main", "plugins"), ""))
        and nm.get(("ifupdown", "managed"), "false").lower() in _FALSE
        and in_interfaces
    ):
        unmanaged = (
            f"NetworkManager's ifupdown plugin with [ifupdown] managed=false leaves {primary} "
            f"(declared in {in_interfaces[0]}) unmanaged"
        )
    nm_why = "NetworkManager not enabled or running" if not nm_on else unmanaged
    modes = ifupdown_start_modes(files)
    networking = units.get("networking", ("", ""))
    for config in configs:
        source = config.source
        if source.startswith(("/etc/network/interfaces", "/run/network/interfaces")):
            starts = modes.get(primary, [])
            hotplug = [m for m in starts if m.startswith("allow-hotplug")]
            if not ifupdown:
                result.blocked.append(f"{source}: ifupdown is not installed (no ifup)")
            elif hotplug:
                result.by.append(("ifupdown", f"ifupdown, {hotplug[0]}", config))
            elif starts and unit_on(units, "networking"):
                result.by.append(
                    ("ifupdown", f"ifupdown, {starts[0]}, networking.service {networking[0]}", config)
                )
            elif starts:
                result.blocked.append(
                    f"{starts[0]} needs networking.service, which is {networking[0] or 'not installed'}/{networking[1] or 'inactive'}"
                )
            else:
                result.blocked.append(
                    f"{source} declares {primary} without 'auto {primary}' or 'allow-hotplug {primary}': nothing starts it at boot"
                )
        elif "/ifcfg-" in source:
            values = parse_shell_assignments(files.get(source, ""))
            suse = source.startswith("/etc/sysconfig/network/")
            stack, stack_on = (
                ("wicked", unit_on(units, "wicked"))
                if suse
                else ("network-scripts", unit_on(units, "network"))
            )
            start = values.get("STARTMODE" if suse else "ONBOOT", "").lower()
            if (suse and start in ("manual", "off")) or (not suse and start in ("no", "false")):
                result.blocked.append(
                    f"{source}: {'STARTMODE' if suse else 'ONBOOT'}={start}: not started at boot"
                )
            elif stack_on:
                result.by.append((stack, f"{stack} ({source})", config))
            elif nm_on and not unmanaged:
                result.by.append(("NetworkManager", f"NetworkManager ({source})", config))
            else:
                result.blocked.append(
                    f"{source}: neither {stack} nor NetworkManager brings it up ({nm_why or stack + ' not enabled'})"
                )
        elif source.startswith(_NETPLAN_DIRS):
            renderer = netplan_renderer(files, primary, source) if source in files else "networkd"
            if not commands.get("netplan"):
                result.blocked.append(f"{source}: netplan is not installed, nothing renders it")
            elif renderer.lower() == "networkmanager":
                if nm_on and not unmanaged:
                    result.by.append(("netplan", f"netplan, renderer NetworkManager ({source})", config))
                else:
                    result.blocked.append(f"{source}: renderer NetworkManager, but {nm_why}")
            elif renderer == "networkd":
                if networkd_on:
                    result.by.append(("netplan", f"netplan, renderer networkd ({source})", config))
                else:
                    result.blocked.append(
                        f"{source}: renderer networkd, but systemd-networkd is not enabled or running"
                    )
            else:
                result.blocked.append(f"{source}: unknown netplan renderer {renderer!r}")
        elif source.startswith(_NETWORKD_DIRS) or " + " in source:
            if networkd_on:
                result.by.append(("networkd", f"systemd-networkd ({source})", config))
            else:
                result.blocked.append(f"{source}: systemd-networkd is not enabled or running")
        elif source.startswith(("/etc/NetworkManager/", "/run/NetworkManager/", "/usr/lib/NetworkManager/")):
            values = parse_nm_keyfile(source, nm_keyfiles(facts).get(source, ""))[0]
            if values.get("connection.autoconnect", "true").lower() in _FALSE:
                result.blocked.append(f"{source}: connection.autoconnect=false")
            elif nm_on and not unmanaged:
                result.by.append(("NetworkManager", f"NetworkManager profile {source}", config))
            else:
                result.blocked.append(f"{source}: {nm_why}")
    nm_profile = any(
        c.source.startswith(("/etc/NetworkManager/", "/run/NetworkManager/", "/usr/lib/NetworkManager/"))
        for c in configs
    )
    if not result.by and units.get("NetworkManager", ("", ""))[1] == "active" and not nm_profile:
        no_auto = nm.get(("main", "no-auto-default"), "")
        if unmanaged:
            result.blocked.append(unmanaged)
        elif no_auto and nm_spec_matches(no_auto, primary, mac):
            result.blocked.append(
                f"NetworkManager runs, but no-auto-default={no_auto} turns off its default DHCP connection for {primary} "
                "and no profile names it"
            )
        else:
            result.by.append(
                ("NetworkManager", f"NetworkManager's default DHCP connection for {primary}", None)
            )
    return result
