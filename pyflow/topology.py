"""The router model: interfaces, how packets map onto them, and where it comes from.

Three sources, one model (`Topology`):

- `Topology.default()`: one Ethernet LAN port and one Ethernet WAN port, LAN = RFC 1918,
  169.254/16, fc00::/7 (what a replay uses when nothing is given);
- `Topology.from_openwrt(dir)`: a copy of a router's /etc/config (UCI files `network`,
  `wireless`, `firewall`, and optionally `sqm`, `dhcp`);
- `Topology.from_toml(path)`: a pyflow topology file (see pcaps/topology-example.toml), which can
  start from an OpenWrt config (`openwrt_config = "dir"`) and add capture mappings and stations.

`Topology.to_options()` gives the keyword arguments of `pyflow.replay` (interfaces, map_rules or
capture_map, lan_prefixes, mode); `Topology.describe()` is what `pyflow topology show` prints.

Mapping rules (`MapRule`), first match wins, in this order of kinds (MAP_KINDS):
capture_if / capture_name (pcapng IDB index / if_name), sll2_ifindex, radio_band (802.11
radiotap channel frequency), vlan (802.1Q id), pppoe (session id or "any"), mac (client MAC:
source MAC on ingress, destination MAC on egress), subnet (CIDR: source address on ingress,
destination on egress); then the default (LAN = private/ULA/link-local + lan_prefixes, WAN
otherwise). `map_rules()` returns the rules sorted into that order (stable within a kind, except
subnets: longest prefix first).

What the OpenWrt import derives:

- interfaces: one per logical network of `network` (`config interface`; `wan6` on `@wan` or on
  wan's device is folded into wan; `loopback` is skipped) and one per enabled Wi-Fi AP/STA
  (`config wifi-iface` on an enabled `config wifi-device`); kind `vlan` for `eth0.2`-style devices,
  `config device` of type 8021q/8021ad and bridge VLANs (`br-lan.10`); kind `pppoe` for proto pppoe
  (device `pppoe-NAME`, MTU 1492 unless set); Wi-Fi band from `band`, else legacy `channel`
  (<= 14: 2g, else 5g) or `hwmode` (11b/11g: 2g, 11a: 5g);
- role: networks of a zone named `wan` or with `masq '1'` are WAN, Wi-Fi APs are `wlan` (a LAN
  role), everything else LAN; in_flowtable: fw4 puts the devices of every zone into the flowtable,
  so an interface is in it when its network is in a firewall zone;
- mode: firewall `defaults` `flow_offloading '1'` -> sw, plus `flow_offloading_hw '1'` -> hw
  (fw4 ignores flow_offloading_hw without flow_offloading: none), neither -> none;
- shapers: enabled `config queue` of `sqm` on an interface's device (or a device below it);
- rules: capture_name for the Linux device names that belong to exactly one interface (the L3
  device, bridge ports, VLAN/PPPoE parents, Wi-Fi `ifname`), radio_band per band (first Wi-Fi
  interface of that band), vlan per VLAN id, pppoe "any" for a PPPoE WAN, subnet for each subnet
  carried by exactly one interface (a LAN bridged with Wi-Fi is ambiguous: no rule, the default
  sends it to the first LAN interface);
- lan_prefixes: the subnets of LAN interfaces (ipaddr/netmask, ip6addr, the ip6assign'd part of
  the ULA prefix);
- static leases (`dhcp` `config host` mac + ip) give IP <-> MAC, not an interface; a lease whose
  MAC is in the station table (TOML `[[stations]]`) gives a /32 (/128) subnet rule to the
  station's interface, so the client is found by address where no MAC is visible (raw IP or SLL
  captures). Other leases are only listed.
"""
from __future__ import annotations

import ipaddress
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from . import uci
from .errors import ConfigError

__all__ = ["Topology", "RouterInterface", "MapRule", "Station", "Lease", "Shaper",
           "MAP_KINDS", "ROLES", "KINDS", "BANDS", "MAX_INTERFACES"]

MAP_KINDS = ("capture_if", "capture_name", "sll2_ifindex", "radio_band", "vlan", "pppoe", "mac", "subnet")
_KIND_RANK = {"capture_if": 0, "capture_name": 0, "sll2_ifindex": 1, "radio_band": 2, "vlan": 3,
              "pppoe": 4, "mac": 5, "subnet": 6}
ROLES = ("wan", "lan", "wlan")
KINDS = ("ethernet", "vlan", "pppoe", "wifi")
BANDS = ("2g", "5g", "6g")
MODES = ("none", "sw", "hw")
MAX_INTERFACES = 16
MAX_LAN_PREFIXES = 16
DEFAULT_LAN_TEXT = "RFC 1918, 169.254.0.0/16, fc00::/7"
_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$")


# --------------------------------------------------------------------------- model
@dataclass
class Shaper:
    """SQM on an interface (sqm-scripts `config queue`). Rates in kbit/s, 0 = not shaped."""

    download_kbit: int = 0
    upload_kbit: int = 0
    qdisc: str = "cake"
    script: Optional[str] = None
    device: Optional[str] = None    # the Linux device sqm attaches to
    source: str = ""

    def describe(self) -> str:
        def rate(k: int) -> str:
            if not k:
                return "-"
            return f"{k / 1000:g} Mbit/s" if k >= 1000 else f"{k} kbit/s"
        on = f" on {self.device}" if self.device else ""
        return f"{self.qdisc}{on} down {rate(self.download_kbit)} up {rate(self.upload_kbit)}"


@dataclass
class RouterInterface:
    """One interface of the router model."""

    name: str
    role: str = "lan"                 # wan | lan | wlan (Wi-Fi access point: a LAN role)
    kind: str = "ethernet"            # ethernet (DSA port, bridge) | vlan | pppoe | wifi
    device: Optional[str] = None      # its Linux L3 device (br-lan, wan, wan.7, pppoe-wan, phy1-ap0)
    lower: List[str] = field(default_factory=list)   # devices below it: bridge ports, VLAN/PPPoE parents
    vlan: Optional[int] = None        # 802.1Q id (VLAN, or the VLAN a PPPoE session runs over)
    band: Optional[str] = None        # 2g | 5g | 6g for Wi-Fi
    subnets: List[str] = field(default_factory=list)
    in_flowtable: bool = True
    wed: bool = True                  # Wi-Fi radio attached to WED (if the SoC has it)
    shaper: Optional[Shaper] = None
    mtu: int = 1500
    network: Optional[str] = None     # the UCI logical network (for Wi-Fi: the one it is bridged into)
    zone: Optional[str] = None        # firewall zone
    ssid: Optional[str] = None
    source: str = ""                  # file:line it comes from

    @property
    def core_role(self) -> str:
        return "wan" if self.role == "wan" else "lan"

    def to_interface(self) -> Any:
        """The core's pyflow.Interface."""
        from .core import Interface
        return Interface(name=self.name, role=self.core_role, kind="wifi" if self.kind == "wifi" else "ethernet",
                         band=self.band if self.kind == "wifi" else None, in_flowtable=self.in_flowtable,
                         wed=self.wed, shaper=self.shaper is not None, mtu=self.mtu)


@dataclass
class MapRule:
    """Packets matching (kind, value) belong to interface `iface`."""

    kind: str
    value: Union[int, str]
    iface: str
    source: str = ""      # where it comes from (file:line, or "station ...")

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "iface": self.iface}

    def describe(self) -> str:
        v = self.value
        text = {
            "capture_if": f"pcapng interface #{v}",
            "capture_name": f"pcapng interface named {v!r}",
            "sll2_ifindex": f"SLL2 ifindex {v}",
            "radio_band": f"radiotap channel in the {v[:-1]} GHz band" if isinstance(v, str) and v != "2g"
            else "radiotap channel in the 2.4 GHz band (2412-2484 MHz)",
            "vlan": f"802.1Q VLAN {v}",
            "pppoe": "any PPPoE session" if v == "any" else f"PPPoE session {v}",
            "mac": f"client MAC {v} (src in, dst out)",
            "subnet": f"address in {v} (src in, dst out)",
        }[self.kind]
        return text


@dataclass
class Station:
    """A client associated with an interface (a Wi-Fi station table entry, or a known wired host)."""

    mac: str
    iface: str
    ip: List[str] = field(default_factory=list)
    name: Optional[str] = None
    source: str = ""


@dataclass
class Lease:
    """A DHCP static lease (`config host` of /etc/config/dhcp)."""

    macs: List[str]
    ip: Optional[str]
    name: Optional[str] = None
    source: str = ""


def _norm_mac(text: Any, where: str) -> str:
    if not isinstance(text, str) or not _MAC_RE.match(text.strip().lower()):
        raise ConfigError(f"{where}: bad MAC address {text!r} (expected aa:bb:cc:dd:ee:ff)")
    return text.strip().lower().replace("-", ":")


def _norm_net(text: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_network(str(text).strip(), strict=False))
    except ValueError as exc:
        raise ConfigError(f"{where}: bad subnet {text!r}: {exc}") from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def normalize_rule(kind: Any, value: Any, iface: Any, where: str) -> MapRule:
    """Checks and normalizes one rule (ConfigError naming `where`)."""
    if kind not in MAP_KINDS:
        raise ConfigError(f"{where}: unknown rule kind {kind!r} (one of {', '.join(MAP_KINDS)})")
    if not isinstance(iface, str) or not iface:
        raise ConfigError(f"{where}: rule {kind} needs an interface name (iface)")
    if kind == "capture_if":
        if not _is_int(value) or not 0 <= value < 64:
            raise ConfigError(f"{where}: capture_if needs a pcapng interface index 0..63, not {value!r}")
    elif kind == "capture_name":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: capture_name needs an interface name string, not {value!r}")
    elif kind == "sll2_ifindex":
        if not _is_int(value) or value < 1 or value > 0x7FFFFFFF:
            raise ConfigError(f"{where}: sll2_ifindex needs a positive interface index, not {value!r}")
    elif kind == "radio_band":
        if value not in BANDS:
            raise ConfigError(f"{where}: radio_band must be one of {', '.join(BANDS)}, not {value!r}")
    elif kind == "vlan":
        if not _is_int(value) or not 1 <= value <= 4094:
            raise ConfigError(f"{where}: vlan needs an 802.1Q id 1..4094, not {value!r}")
    elif kind == "pppoe":
        if value != "any" and (not _is_int(value) or not 1 <= value <= 0xFFFE):
            raise ConfigError(f"{where}: pppoe needs a session id 1..65534 or \"any\", not {value!r}")
    elif kind == "mac":
        value = _norm_mac(value, where)
    elif kind == "subnet":
        value = _norm_net(value, where)
    return MapRule(kind, value, iface, where)


def _core_takes(option: str) -> bool:
    """Whether the C core's Options has this field yet (map_rules is being added in parallel)."""
    try:
        from .core import Options
    except ImportError:  # pragma: no cover - the C core is not built
        return False
    return option in getattr(Options, "__dataclass_fields__", {})


# --------------------------------------------------------------------------- topology
@dataclass
class Topology:
    interfaces: List[RouterInterface] = field(default_factory=list)
    rules: List[MapRule] = field(default_factory=list)        # explicit / imported rules
    stations: List[Station] = field(default_factory=list)
    leases: List[Lease] = field(default_factory=list)
    lan_prefixes: List[str] = field(default_factory=list)
    mode: Optional[str] = None                                 # from the firewall config / topology file
    mode_source: str = ""
    origin: str = ""
    notes: List[str] = field(default_factory=list)
    is_default: bool = False

    # -- construction
    @classmethod
    def default(cls) -> "Topology":
        """The embedded default: Ethernet LAN + Ethernet WAN, both in the flowtable."""
        return cls(interfaces=[RouterInterface("lan", "lan", "ethernet"), RouterInterface("wan", "wan", "ethernet")],
                   origin="embedded default", is_default=True)

    @classmethod
    def from_openwrt(cls, path: Union[str, os.PathLike]) -> "Topology":
        """Imports a copy of a router's /etc/config (network required; wireless, firewall, sqm,
        dhcp optional)."""
        return _OpenWrtImport(os.fspath(path)).run()

    @classmethod
    def from_toml(cls, path: Union[str, os.PathLike]) -> "Topology":
        """Reads a pyflow topology file (format: pcaps/topology-example.toml)."""
        return _TomlImport(os.fspath(path)).run()

    @classmethod
    def load(cls, openwrt_config: Optional[str] = None, topology: Optional[str] = None) -> "Topology":
        """What the command line does: one of the two sources, or the default."""
        if openwrt_config and topology:
            raise ConfigError("give either an OpenWrt config directory or a topology file, not both "
                              "(a topology file can name one with openwrt_config = \"DIR\")")
        if topology:
            return cls.from_toml(topology)
        if openwrt_config:
            return cls.from_openwrt(openwrt_config)
        return cls.default()

    # -- queries
    def iface(self, name: str) -> Optional[RouterInterface]:
        for i in self.interfaces:
            if i.name == name:
                return i
        return None

    def map_rules(self) -> List[MapRule]:
        """Every rule, sorted into the documented order of kinds (stable within a kind): the
        explicit/imported rules, then per station a mac rule and a subnet rule per address, and a
        /32 (/128) subnet rule for each static lease of a station's MAC."""
        rules = list(self.rules)
        seen = {(r.kind, r.value) for r in rules}

        def add(r: MapRule) -> None:
            if (r.kind, r.value) not in seen:
                seen.add((r.kind, r.value))
                rules.append(r)

        for st in self.stations:
            add(MapRule("mac", st.mac, st.iface, st.source or f"station {st.mac}"))
            for ip in st.ip:
                add(MapRule("subnet", _norm_net(ip, st.source), st.iface, st.source or f"station {st.mac}"))
        by_mac = {st.mac: st for st in self.stations}
        for lease in self.leases:
            for m in lease.macs:
                st = by_mac.get(m)
                if st is not None and lease.ip:
                    add(MapRule("subnet", _norm_net(lease.ip, lease.source), st.iface,
                                f"{lease.source} (static lease of station {m})"))
        def key(r: MapRule) -> Tuple[int, int]:
            # within the subnet kind the longest prefix first (a station's /32 before its LAN's /24)
            if r.kind == "subnet":
                net = ipaddress.ip_network(str(r.value))
                return _KIND_RANK[r.kind], -(net.prefixlen + (96 if net.version == 4 else 0))
            return _KIND_RANK[r.kind], 0

        return sorted(rules, key=key)

    def validate(self) -> None:
        """Checks what the core needs (raises ConfigError)."""
        names = [i.name for i in self.interfaces]
        for i in self.interfaces:
            where = i.source or i.name
            if names.count(i.name) > 1:
                raise ConfigError(f"{where}: interface {i.name!r} defined twice")
            if not i.name or len(i.name.encode()) > 31:
                raise ConfigError(f"{where}: interface name {i.name!r} must be 1..31 bytes")
            if i.role not in ROLES:
                raise ConfigError(f"{where}: interface {i.name}: role must be one of {', '.join(ROLES)}, not {i.role!r}")
            if i.kind not in KINDS:
                raise ConfigError(f"{where}: interface {i.name}: kind must be one of {', '.join(KINDS)}, not {i.kind!r}")
            if i.band is not None and i.band not in BANDS:
                raise ConfigError(f"{where}: interface {i.name}: band must be one of {', '.join(BANDS)}, not {i.band!r}")
            if i.band is not None and i.kind != "wifi":
                raise ConfigError(f"{where}: interface {i.name}: a band needs kind wifi")
            if not _is_int(i.mtu) or not 576 <= i.mtu <= 65535:
                raise ConfigError(f"{where}: interface {i.name}: MTU {i.mtu!r} out of range 576..65535")
            if i.vlan is not None and (not _is_int(i.vlan) or not 1 <= i.vlan <= 4094):
                raise ConfigError(f"{where}: interface {i.name}: VLAN id {i.vlan!r} out of range 1..4094")
        if len(self.interfaces) > MAX_INTERFACES:
            raise ConfigError(f"{self.origin}: {len(self.interfaces)} interfaces; the model takes at most "
                              f"{MAX_INTERFACES} ({', '.join(names)})")
        if not any(i.role == "wan" for i in self.interfaces):
            raise ConfigError(f"{self.origin}: no WAN interface (a firewall zone named wan, or role = \"wan\")")
        if not any(i.role != "wan" for i in self.interfaces):
            raise ConfigError(f"{self.origin}: no LAN interface")
        for r in self.map_rules():
            if r.iface not in names:
                raise ConfigError(f"{r.source or self.origin}: rule {r.kind} {r.value!r} refers to a missing "
                                  f"interface {r.iface!r} (interfaces: {', '.join(names)})")
        if len(self.lan_prefixes) > MAX_LAN_PREFIXES:
            raise ConfigError(f"{self.origin}: {len(self.lan_prefixes)} LAN prefixes; at most {MAX_LAN_PREFIXES}")
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"{self.mode_source or self.origin}: mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    # -- conversion
    def unsupported_rules(self) -> List[MapRule]:
        """Rules the installed core cannot take (before its map_rules support, only capture_if)."""
        if _core_takes("map_rules"):
            return []
        return [r for r in self.map_rules() if r.kind != "capture_if"]

    def to_options(self, include_mode: bool = True) -> Dict[str, Any]:
        """Keyword arguments for pyflow.replay / pyflow.Options: interfaces, map_rules (or, with
        a core without map_rules, capture_map from the capture_if rules), lan_prefixes and, when
        the source says it, mode."""
        self.validate()
        d: Dict[str, Any] = {}
        if include_mode and self.mode is not None:
            d["mode"] = self.mode
        if self.lan_prefixes:
            d["lan_prefixes"] = list(self.lan_prefixes)
        if self.is_default:
            return d    # exactly today's default: no topology passed to the core
        d["interfaces"] = [i.to_interface() for i in self.interfaces]
        rules = self.map_rules()
        if _core_takes("map_rules"):
            if rules:
                d["map_rules"] = [r.to_dict() for r in rules]
        else:
            cmap = {}
            for r in rules:
                if r.kind == "capture_if" and r.value not in cmap:
                    cmap[r.value] = r.iface
            if cmap:
                d["capture_map"] = cmap
        return d

    # -- display
    def describe(self) -> str:
        """The router model as `pyflow topology show` prints it."""
        out = [f"router topology: {self.origin}"]
        if self.mode is not None:
            out.append(f"offload mode: {self.mode} ({self.mode_source})" if self.mode_source
                       else f"offload mode: {self.mode}")
        else:
            out.append("offload mode: not set (replay --mode decides; default sw)")
        out.append("")
        out.append("interfaces:")
        head = ("name", "role", "kind", "device", "band", "vlan", "flowtable", "MTU", "shaper", "subnets")
        rows = [head]
        for i in self.interfaces:
            dev = i.device or "-"
            if i.lower:
                dev += f" ({'+'.join(i.lower)})"
            rows.append((i.name, i.role, i.kind, dev, i.band or "-", str(i.vlan) if i.vlan else "-",
                         "yes" if i.in_flowtable else "no", str(i.mtu),
                         i.shaper.describe() if i.shaper else "-",
                         ", ".join(i.subnets) or "-"))
        widths = [max(len(r[c]) for r in rows) for c in range(len(head) - 1)]
        for r in rows:
            out.append("  " + "  ".join(r[c].ljust(widths[c]) for c in range(len(head) - 1)) + "  " + r[-1])
        wifi = [i for i in self.interfaces if i.kind == "wifi"]
        if wifi:
            out.append("  Wi-Fi: " + "; ".join(
                f"{i.name}: {i.band or 'band unknown'}, WED {'yes' if i.wed else 'no'}"
                + (f", SSID {i.ssid!r}" if i.ssid else "") + (f", bridged into {i.network}" if i.network else "")
                for i in wifi))
        out.append("")
        rules = self.map_rules()
        unsupported = {id(r) for r in self.unsupported_rules()}
        out.append("mapping rules (first match wins):")
        for n, r in enumerate(rules, 1):
            flag = "  [not in this core yet: ignored]" if id(r) in unsupported else ""
            src = f"  ({r.source})" if r.source else ""
            out.append(f"  {n:2d}. {r.kind:<12} {str(r.value):<22} -> {r.iface:<10} {r.describe()}{src}{flag}")
        lan_default = next((i.name for i in self.interfaces if i.role != "wan"), "lan")
        wan_default = next((i.name for i in self.interfaces if i.role == "wan"), "wan")
        out.append(f"  {'then' if rules else 'only'}: the default: LAN ({DEFAULT_LAN_TEXT} + LAN prefixes) "
                   f"-> {lan_default}, anything else -> {wan_default}")
        out.append("")
        out.append("LAN prefixes: " + (", ".join(self.lan_prefixes) if self.lan_prefixes else "none beyond the default")
                   + f" (plus the default {DEFAULT_LAN_TEXT})")
        if self.stations:
            out.append("")
            out.append("stations:")
            for st in self.stations:
                extra = (" " + ", ".join(st.ip)) if st.ip else ""
                out.append(f"  {st.mac} -> {st.iface}{extra}" + (f" ({st.name})" if st.name else ""))
        if self.leases:
            out.append("")
            out.append("static leases (dhcp; mapped only when the MAC is a known station):")
            station_macs = {st.mac for st in self.stations}
            for lease in self.leases:
                mapped = any(m in station_macs for m in lease.macs)
                out.append(f"  {' '.join(lease.macs)} {lease.ip or '-'}" + (f" {lease.name}" if lease.name else "")
                           + ("  -> mapped" if mapped else "  -> not mapped (interface unknown)"))
        if self.notes:
            out.append("")
            out.append("notes:")
            out.extend(f"  - {n}" for n in self.notes)
        return "\n".join(out)


# --------------------------------------------------------------------------- OpenWrt import
def _split_dev(dev: str) -> Optional[Tuple[str, int]]:
    """'eth0.2' -> ('eth0', 2)."""
    m = re.match(r"^(.+)\.(\d+)$", dev)
    if m and 1 <= int(m.group(2)) <= 4094:
        return m.group(1), int(m.group(2))
    return None


def _netmask_len(mask: str, where: str) -> int:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        raise ConfigError(f"{where}: bad netmask {mask!r}") from None


class _OpenWrtImport:
    def __init__(self, path: str):
        self.path = path
        self.pk = uci.load_dir(path)
        if "network" not in self.pk:
            raise ConfigError(f"{path}: no 'network' file (give a copy of the router's /etc/config)")
        self.topo = Topology(origin=f"OpenWrt config {path}")
        self.notes = self.topo.notes
        net = self.pk["network"]
        self.devices = {s.get("name"): s for s in net.of_type("device") if s.get("name")}
        self.bridge_vlans = net.of_type("bridge-vlan")
        self.ula = None
        g = net.get("globals") or (net.of_type("globals")[0] if net.of_type("globals") else None)
        if g is not None and g.get("ula_prefix"):
            try:
                self.ula = ipaddress.IPv6Network(g.get("ula_prefix").strip(), strict=False)
            except ValueError:
                raise ConfigError(f"{g.where('ula_prefix')}: bad ula_prefix {g.get('ula_prefix')!r}") from None
        self.zone_of: Dict[str, uci.UciSection] = {}     # network name -> firewall zone section
        self.zone_devices: Dict[str, uci.UciSection] = {}

    # -- firewall
    def firewall(self) -> None:
        fw = self.pk.get("firewall")
        if fw is None:
            self.notes.append("no firewall file: offload mode not set; every interface taken as in the flowtable; "
                              "WAN = networks named wan*")
            return
        for z in fw.of_type("zone"):
            for n in z.get_list("network"):
                self.zone_of.setdefault(n, z)
            for d in z.get_list("device"):
                self.zone_devices.setdefault(d, z)
        defaults = fw.of_type("defaults")
        if not defaults:
            self.topo.mode, self.topo.mode_source = "none", f"{fw.file}: no defaults section: no flow offloading"
            return
        d = defaults[0]
        sw = d.get_bool("flow_offloading", False)
        hw = d.get_bool("flow_offloading_hw", False)
        if sw and hw:
            self.topo.mode, self.topo.mode_source = "hw", f"firewall {d.where('flow_offloading_hw')}: flow_offloading_hw '1'"
        elif sw:
            self.topo.mode, self.topo.mode_source = "sw", f"firewall {d.where('flow_offloading')}: flow_offloading '1'"
        else:
            self.topo.mode = "none"
            self.topo.mode_source = f"firewall {d.where()}: flow_offloading not set"
            if hw:
                self.topo.mode_source = (f"firewall {d.where('flow_offloading_hw')}: flow_offloading_hw '1' without "
                                         f"flow_offloading '1' (fw4 then creates no flowtable)")

    def is_wan_zone(self, z: uci.UciSection) -> bool:
        return z.get("name") == "wan" or z.get_bool("masq", False)

    def role_of(self, network: str, devices: Iterable[str] = ()) -> Tuple[str, Optional[str], bool]:
        """(role, zone name, in flowtable) of a logical network."""
        z = self.zone_of.get(network)
        if z is None:
            for d in devices:
                if d in self.zone_devices:
                    z = self.zone_devices[d]
                    break
        if z is None:
            if "firewall" not in self.pk:
                return ("wan" if network.startswith(("wan", "wwan")) else "lan"), None, True
            return "lan", None, False
        return ("wan" if self.is_wan_zone(z) else "lan"), z.get("name"), True

    # -- network
    def resolve_device(self, dev: str, where: str) -> Dict[str, Any]:
        """Kind/VLAN/lower devices/MTU of a Linux device name as netifd would build it."""
        info: Dict[str, Any] = {"kind": "ethernet", "vlan": None, "lower": [], "mtu": None}
        sec = self.devices.get(dev)
        if sec is not None and sec.get("mtu"):
            info["mtu"] = sec.get_int("mtu")
        typ = sec.get("type") if sec is not None else None
        parent = None
        if typ in ("8021q", "8021ad"):
            parent = sec.get("ifname") or sec.get("device")
            vid = sec.get_int("vid")
            if not parent or vid is None:
                raise ConfigError(f"{sec.where()}: {typ} device {dev!r} needs ifname and vid")
            if not 1 <= vid <= 4094:
                raise ConfigError(f"{sec.where('vid')}: VLAN id {vid} out of range 1..4094")
            info["kind"], info["vlan"] = "vlan", vid
        elif typ is None or typ not in ("bridge",):
            sp = _split_dev(dev)
            if sp:
                parent, vid = sp
                info["kind"], info["vlan"] = "vlan", vid
        if typ == "bridge":
            ports = sec.get_list("ports") + sec.get_list("ifname")
            lower = list(ports)
            vids = set()
            for p in ports:     # a swconfig-era bridge over eth0.1: the bridge is VLAN 1 of eth0
                sub = self.resolve_device(p, where) if p != dev else {"vlan": None, "lower": []}
                if sub["vlan"] is not None:
                    vids.add(sub["vlan"])
                lower += [x for x in sub["lower"] if x not in lower]
            if len(vids) == 1 and all(self.resolve_device(p, where)["vlan"] is not None for p in ports):
                info["vlan"] = vids.pop()
            info["lower"] = lower
        elif parent is not None:
            lower = [parent]
            psec = self.devices.get(parent)
            if psec is not None and psec.get("type") == "bridge":
                # bridge VLAN: its member ports (`lan1:u*` -> lan1)
                for bv in self.bridge_vlans:
                    if bv.get("device") == parent and bv.get_int("vlan") == info["vlan"]:
                        lower += [p.split(":")[0] for p in bv.get_list("ports")]
            else:
                up = self.resolve_device(parent, where)
                lower += [x for x in up["lower"] if x not in lower]
                if info["mtu"] is None and up["mtu"]:
                    info["mtu"] = up["mtu"]
            info["lower"] = lower
        return info

    def subnets_of(self, s: uci.UciSection) -> List[str]:
        nets: List[str] = []
        mask = s.get("netmask")
        for a in s.get_list("ipaddr"):
            w = s.where("ipaddr")
            try:
                if "/" in a:
                    n = ipaddress.ip_interface(a).network
                elif mask:
                    n = ipaddress.ip_interface(f"{a}/{_netmask_len(mask, s.where('netmask'))}").network
                else:
                    n = ipaddress.ip_interface(f"{a}/32").network
            except ValueError:
                raise ConfigError(f"{w}: bad ipaddr {a!r}") from None
            nets.append(str(n))
        for a in s.get_list("ip6addr"):
            try:
                nets.append(str(ipaddress.ip_interface(a if "/" in a else a + "/128").network))
            except ValueError:
                raise ConfigError(f"{s.where('ip6addr')}: bad ip6addr {a!r}") from None
        assign = s.get_int("ip6assign")
        if assign is not None and self.ula is not None:
            if not self.ula.prefixlen <= assign <= 128:
                raise ConfigError(f"{s.where('ip6assign')}: ip6assign {assign} does not fit the ULA prefix {self.ula}")
            hint = s.get("ip6hint")
            try:
                sub = int(hint, 16) if hint else 0
            except ValueError:
                raise ConfigError(f"{s.where('ip6hint')}: bad ip6hint {hint!r}") from None
            sub &= (1 << (assign - self.ula.prefixlen)) - 1
            base = int(self.ula.network_address) | (sub << (128 - assign))
            nets.append(str(ipaddress.IPv6Network((base, assign))))
        return nets

    def network(self) -> Dict[str, RouterInterface]:
        net = self.pk["network"]
        by_net: Dict[str, RouterInterface] = {}
        by_dev: Dict[str, RouterInterface] = {}
        aliases: List[Tuple[uci.UciSection, str]] = []
        for s in net.of_type("interface"):
            name = s.ref if s.name is None else s.name
            proto = s.get("proto", "none")
            dev = s.get("device")
            legacy_type = s.get("type")
            if dev is None and s.get("ifname"):
                ports = s.get_list("ifname")
                if legacy_type == "bridge":
                    dev = f"br-{name}"
                    self.devices.setdefault(dev, uci.UciSection("device", None, 0, {"name": dev, "type": "bridge",
                                                                                   "ports": ports}, s.file, s.line))
                else:
                    dev = ports[0]
            elif dev is not None and legacy_type == "bridge" and dev not in self.devices:
                ports = s.get_list("device")
                dev = f"br-{name}"
                self.devices[dev] = uci.UciSection("device", None, 0, {"name": dev, "type": "bridge", "ports": ports},
                                                   s.file, s.line)
            if name == "loopback" or dev == "lo" or proto == "loopback":
                continue
            if dev is not None and dev.startswith("@"):
                aliases.append((s, dev[1:]))
                continue
            if dev is None:
                self.notes.append(f"network {name} ({s.where()}): no device; it exists only through Wi-Fi "
                                  f"interfaces bridged into it")
                by_net[name] = None  # type: ignore[assignment]
                continue
            info = self.resolve_device(dev, s.where("device"))
            mtu = s.get_int("mtu") or info["mtu"] or 1500
            if proto in ("pppoe", "pppoa"):
                ri = RouterInterface(name, kind="pppoe", device=f"pppoe-{name}", lower=[dev] + info["lower"],
                                     vlan=info["vlan"], mtu=s.get_int("mtu") or (info["mtu"] or 1500) - 8,
                                     network=name, source=s.where())
            else:
                if dev in by_dev:   # wan6 on wan's device: one interface
                    other = by_dev[dev]
                    other.subnets += [n for n in self.subnets_of(s) if n not in other.subnets]
                    self.notes.append(f"network {name} ({proto}) shares device {dev} with {other.name}: "
                                      f"modelled as {other.name}")
                    by_net[name] = other
                    continue
                ri = RouterInterface(name, kind=info["kind"], device=dev, lower=info["lower"], vlan=info["vlan"],
                                     mtu=mtu, network=name, source=s.where())
            ri.subnets = self.subnets_of(s)
            by_net[name] = ri
            by_dev[ri.device or dev] = ri
            self.topo.interfaces.append(ri)
        for s, target in aliases:
            name = s.name or s.ref
            other = by_net.get(target)
            if other is None:
                raise ConfigError(f"{s.where('device')}: network {name} runs on @{target}, which is not a network "
                                  f"with a device")
            other.subnets += [n for n in self.subnets_of(s) if n not in other.subnets]
            self.notes.append(f"network {name} ({s.get('proto', 'none')}) runs on @{target}: modelled as {other.name}")
            by_net[name] = other
        return by_net

    # -- wireless
    def radio_band(self, r: uci.UciSection) -> Optional[str]:
        band = r.get("band")
        if band:
            b = band.strip().lower()
            if b in BANDS:
                return b
            if b == "60g":
                return None
            raise ConfigError(f"{r.where('band')}: unknown band {band!r} (2g, 5g, 6g)")
        ch = r.get("channel")
        if ch and ch.strip().isdigit():
            return "2g" if int(ch) <= 14 else "5g"
        hw = (r.get("hwmode") or "").strip().lower()
        if hw in ("11b", "11g", "11ng", "11bg"):
            return "2g"
        if hw in ("11a", "11na", "11ac", "11ax"):
            return "5g"
        return None

    def wireless(self, by_net: Dict[str, RouterInterface]) -> None:
        wl = self.pk.get("wireless")
        if wl is None:
            return
        radios = {r.name: r for r in wl.of_type("wifi-device") if r.name}
        used = {i.name for i in self.topo.interfaces}
        for w in wl.of_type("wifi-iface"):
            rname = w.get("device")
            r = radios.get(rname or "")
            if r is None:
                raise ConfigError(f"{w.where('device')}: wifi-iface {w.ref} on unknown radio {rname!r}")
            if r.get_bool("disabled", False) or w.get_bool("disabled", False):
                self.notes.append(f"Wi-Fi {w.ref} on {rname} is disabled ({w.where()}): not modelled")
                continue
            mode = w.get("mode", "ap")
            if mode in ("monitor",):
                continue
            band = self.radio_band(r)
            if r.get("band", "").strip().lower() == "60g":
                self.notes.append(f"{rname}: 60 GHz radio not modelled")
                continue
            nets = w.get_list("network")
            devs = [w.get("ifname")] if w.get("ifname") else []
            role, zone, inft = ("lan", None, False)
            for n in nets:
                role, zone, inft = self.role_of(n, devs)
                if zone is not None:
                    break
            if not nets:
                role, zone, inft = self.role_of("", devs)
            # named by ifname, else by its network when the network is Wi-Fi only (a guest SSID),
            # else wlan<band>
            wifi_only = [n for n in nets if n in by_net and by_net[n] is None]
            name = w.get("ifname") or (wifi_only[0] if wifi_only and wifi_only[0] not in used else None) \
                or (f"wlan{band}" if band else f"wlan-{rname}")
            base, k = name, 1
            while name in used:
                name = f"{base}-{k}"
                k += 1
            used.add(name)
            ri = RouterInterface(name, role="wan" if role == "wan" else "wlan", kind="wifi",
                                 device=w.get("ifname"), band=band, in_flowtable=inft, zone=zone,
                                 network=nets[0] if nets else None, ssid=w.get("ssid"), source=w.where())
            if band is None:
                self.notes.append(f"{rname} ({r.where()}): band unknown (no band, numeric channel or hwmode)")
            owner = None
            for n in nets:
                if by_net.get(n) is not None:
                    owner = by_net[n]
                    break
            if owner is not None:
                ri.subnets = list(owner.subnets)
                ri.mtu = owner.mtu
            else:
                sec = self.pk["network"].get(nets[0]) if nets else None
                if sec is not None:
                    ri.subnets = self.subnets_of(sec)
            self.topo.interfaces.append(ri)

    # -- sqm
    def sqm(self) -> None:
        sq = self.pk.get("sqm")
        if sq is None:
            return
        for q in sq.of_type("queue"):
            if not q.get_bool("enabled", False):
                self.notes.append(f"sqm {q.ref} ({q.where()}) is not enabled: ignored")
                continue
            dev = q.get("interface")
            if not dev:
                raise ConfigError(f"{q.where()}: sqm queue {q.ref} has no interface")
            target = next((i for i in self.topo.interfaces if i.device == dev), None)
            if target is None:
                target = next((i for i in self.topo.interfaces if dev in i.lower), None)
            if target is None:
                known = sorted({d for i in self.topo.interfaces for d in ([i.device] if i.device else []) + i.lower})
                raise ConfigError(f"{q.where('interface')}: sqm queue {q.ref} on device {dev!r}, which is no "
                                  f"device of the router model (devices: {', '.join(known)})")
            target.shaper = Shaper(download_kbit=q.get_int("download", 0) or 0, upload_kbit=q.get_int("upload", 0) or 0,
                                   qdisc=q.get("qdisc", "cake"), script=q.get("script"), device=dev, source=q.where())

    # -- dhcp
    def dhcp(self) -> None:
        d = self.pk.get("dhcp")
        if d is None:
            return
        for h in d.of_type("host"):
            macs = [_norm_mac(m, h.where("mac")) for m in h.get_list("mac")]
            if not macs:
                continue
            ip = h.get("ip")
            if ip and ip != "ignore":
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    raise ConfigError(f"{h.where('ip')}: bad static lease address {ip!r}") from None
            else:
                ip = None
            self.topo.leases.append(Lease(macs, ip, h.get("name"), h.where()))

    # -- rules
    def rules(self) -> None:
        ifs = self.topo.interfaces
        rules = self.topo.rules
        # No capture_if/capture_name rules: the config does not know how the trace was taken, and
        # those rules place a packet's *ingress* (a capture on br-lan or wan also holds the packets
        # leaving by it). A topology file adds them when the capture has one interface per ingress.
        for b in BANDS:
            of = [i for i in ifs if i.kind == "wifi" and i.band == b]
            of.sort(key=lambda i: i.role == "wan")   # an AP before a client (STA) uplink
            if of:
                rules.append(MapRule("radio_band", b, of[0].name, of[0].source))
                if len(of) > 1:
                    self.notes.append(f"{b}: {', '.join(i.name for i in of)} share the band; radiotap "
                                      f"frequency maps to {of[0].name} (add stations for the others)")
        vids: Dict[int, List[RouterInterface]] = {}
        for i in ifs:
            if i.vlan:
                vids.setdefault(i.vlan, []).append(i)
        for vid, owners in sorted(vids.items()):
            if len(owners) == 1:
                rules.append(MapRule("vlan", vid, owners[0].name, owners[0].source))
            else:
                self.notes.append(f"VLAN {vid} is used by {', '.join(i.name for i in owners)}: no vlan rule")
        ppp = [i for i in ifs if i.kind == "pppoe"]
        if ppp:
            rules.append(MapRule("pppoe", "any", ppp[0].name, ppp[0].source))
            if len(ppp) > 1:
                self.notes.append(f"several PPPoE interfaces: any session maps to {ppp[0].name}")
        carriers: Dict[str, List[RouterInterface]] = {}
        for i in ifs:
            for n in i.subnets:
                carriers.setdefault(n, []).append(i)
        for n, owners in carriers.items():
            if len(owners) == 1:
                rules.append(MapRule("subnet", n, owners[0].name, owners[0].source))
            else:
                self.notes.append(f"{n} is shared by {', '.join(i.name for i in owners)} (bridged): no subnet rule; "
                                  f"the default maps it to the first LAN interface unless a band, MAC or "
                                  f"station rule says otherwise")
        prefixes: List[str] = []
        for i in ifs:
            if i.role != "wan":
                prefixes += [n for n in i.subnets if n not in prefixes]
        if len(prefixes) > MAX_LAN_PREFIXES:
            self.notes.append(f"{len(prefixes)} LAN prefixes: only the first {MAX_LAN_PREFIXES} are used")
            prefixes = prefixes[:MAX_LAN_PREFIXES]
        self.topo.lan_prefixes = prefixes
        if any(i.role != "wan" and any(":" in n for n in i.subnets) for i in ifs) or self.ula is not None:
            self.notes.append("a global IPv6 prefix delegated by the ISP is not in the config: add it with --lan-prefix")

    def run(self) -> Topology:
        self.firewall()
        by_net = self.network()
        for i in self.topo.interfaces:
            role, zone, inft = self.role_of(i.network or i.name, [i.device or ""] + i.lower)
            i.role, i.zone, i.in_flowtable = role, zone, inft
        self.wireless(by_net)
        # Ethernet LAN interfaces before Wi-Fi, so the default LAN is the wired one
        self.sqm()
        self.dhcp()
        self.rules()
        self.topo.validate()
        return self.topo


# --------------------------------------------------------------------------- TOML
def _tomllib() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    try:
        import tomli  # type: ignore[import-not-found]
        return tomli
    except ImportError:
        raise ConfigError("reading a TOML topology needs Python 3.11+ (tomllib) or the tomli package "
                          "on Python 3.9/3.10: pip install tomli") from None


class _TomlLines:
    """Finds the line of a key in a TOML text (tomllib keeps no positions): tracks table headers
    and the index of each array-of-tables entry."""

    _HDR = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*=")

    def __init__(self, text: str):
        self.keys: List[Tuple[str, int, str, int]] = []    # (table, index, key, line)
        self.headers: List[Tuple[str, int, int]] = []       # (table, index, line)
        counts: Dict[str, int] = {}
        table, index = "", 0
        for n, line in enumerate(text.splitlines(), 1):
            m = self._HDR.match(line)
            if m:
                name = m.group(2).replace(" ", "")
                top = name.split(".")[0]
                if m.group(1) == "[[":
                    counts[name] = counts.get(name, -1) + 1
                    index = counts[name]
                elif name.split(".")[0] in counts and "." in name:
                    index = counts[top]       # [interfaces.shaper] belongs to the last [[interfaces]]
                else:
                    index = 0
                table = name
                self.headers.append((table, index, n))
                continue
            k = self._KEY.match(line)
            if k:
                self.keys.append((table, index, k.group(1).strip("\"'"), n))

    def line(self, table: str, index: int = 0, key: Optional[str] = None) -> int:
        if key is not None:
            for t, i, k, n in self.keys:
                if t == table and i == index and k == key:
                    return n
        for t, i, n in self.headers:
            if t == table and i == index:
                return n
        if key is not None:
            for t, i, k, n in self.keys:
                if k == key:
                    return n
        return 1


_TOP_KEYS = {"mode", "lan_prefixes", "openwrt_config", "interfaces", "rules", "stations", "description"}
_IFACE_KEYS = {"name", "role", "kind", "device", "lower", "vlan", "band", "subnets", "in_flowtable", "wed",
               "shaper", "mtu", "ssid", "network"}
_SHAPER_KEYS = {"download_kbit", "upload_kbit", "qdisc", "script", "device"}
_RULE_KEYS = {"kind", "value", "iface"}
_STATION_KEYS = {"mac", "iface", "ip", "name"}


class _TomlImport:
    def __init__(self, path: str):
        self.path = path

    def where(self, table: str = "", index: int = 0, key: Optional[str] = None) -> str:
        return f"{self.path}:{self.lines.line(table, index, key)}"

    def check_keys(self, d: Any, allowed: set, table: str, index: int, what: str) -> None:
        if not isinstance(d, dict):
            raise ConfigError(f"{self.where(table, index)}: {what} must be a table")
        for k in d:
            if k not in allowed:
                raise ConfigError(f"{self.where(table, index, k)}: unknown key {k!r} in {what} "
                                  f"(allowed: {', '.join(sorted(allowed))})")

    def typed(self, d: Dict[str, Any], key: str, types: Tuple[type, ...], table: str, index: int, what: str) -> Any:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{self.where(table, index, key)}: {what} {key} must be {names}, not {v!r}")
        return v

    def run(self) -> Topology:
        tl = _tomllib()
        _, text = uci.read_text(self.path)
        self.lines = _TomlLines(text)
        try:
            data = tl.loads(text)
        except tl.TOMLDecodeError as exc:
            msg = str(exc)
            m = re.search(r"\(at line (\d+), column \d+\)", msg)
            line = int(m.group(1)) if m else (getattr(exc, "lineno", None) or 1)
            if "at end of document" in msg:
                line = max(1, len(text.splitlines()))
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
            raise ConfigError(f"{self.path}:{line}: malformed TOML: {msg}") from None
        self.check_keys(data, _TOP_KEYS, "", 0, "the topology file")
        base_dir = os.path.dirname(os.path.abspath(self.path))
        ow = self.typed(data, "openwrt_config", (str,), "", 0, "")
        if ow is not None:
            d = ow if os.path.isabs(ow) else os.path.join(base_dir, ow)
            topo = Topology.from_openwrt(d)
            topo.origin = f"topology file {self.path} (on OpenWrt config {d})"
        else:
            topo = Topology(origin=f"topology file {self.path}")
        mode = self.typed(data, "mode", (str,), "", 0, "")
        if mode is not None:
            if mode not in MODES:
                raise ConfigError(f"{self.where('', 0, 'mode')}: mode must be one of {', '.join(MODES)}, not {mode!r}")
            topo.mode, topo.mode_source = mode, f"{self.where('', 0, 'mode')}"
        ifs = data.get("interfaces", [])
        if not isinstance(ifs, list):
            raise ConfigError(f"{self.where('', 0, 'interfaces')}: interfaces must be an array of tables ([[interfaces]])")
        for idx, d in enumerate(ifs):
            self.interface(topo, d, idx)
        lp = data.get("lan_prefixes", [])
        if not isinstance(lp, list):
            raise ConfigError(f"{self.where('', 0, 'lan_prefixes')}: lan_prefixes must be a list of CIDR strings")
        for p in lp:
            n = _norm_net(p, self.where("", 0, "lan_prefixes"))
            if n not in topo.lan_prefixes:
                topo.lan_prefixes.append(n)
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise ConfigError(f"{self.where('', 0, 'rules')}: rules must be an array of tables ([[rules]])")
        explicit = []
        for idx, r in enumerate(rules):
            self.check_keys(r, _RULE_KEYS, "rules", idx, "a rule")
            w = self.where("rules", idx)
            for k in ("kind", "value", "iface"):
                if k not in r:
                    raise ConfigError(f"{w}: rule needs {k}")
            explicit.append(normalize_rule(r["kind"], r["value"], r["iface"], self.where("rules", idx, "value")))
        topo.rules = explicit + topo.rules     # the file's rules before the imported ones (same kind)
        sts = data.get("stations", [])
        if not isinstance(sts, list):
            raise ConfigError(f"{self.where('', 0, 'stations')}: stations must be an array of tables ([[stations]])")
        for idx, s in enumerate(sts):
            self.check_keys(s, _STATION_KEYS, "stations", idx, "a station")
            w = self.where("stations", idx)
            if "mac" not in s or "iface" not in s:
                raise ConfigError(f"{w}: a station needs mac and iface")
            ips = s.get("ip", [])
            ips = [ips] if isinstance(ips, str) else ips
            if not isinstance(ips, list):
                raise ConfigError(f"{self.where('stations', idx, 'ip')}: ip must be an address or a list")
            for a in ips:
                try:
                    ipaddress.ip_address(a)
                except (ValueError, TypeError):
                    raise ConfigError(f"{self.where('stations', idx, 'ip')}: bad address {a!r}") from None
            iface = self.typed(s, "iface", (str,), "stations", idx, "station")
            topo.stations.append(Station(_norm_mac(s["mac"], self.where("stations", idx, "mac")), iface,
                                         list(ips), self.typed(s, "name", (str,), "stations", idx, "station"),
                                         self.where("stations", idx, "mac")))
        topo.is_default = False
        if not topo.interfaces:
            raise ConfigError(f"{self.path}:1: no interfaces (give [[interfaces]] or openwrt_config)")
        topo.validate()
        return topo

    def interface(self, topo: Topology, d: Any, idx: int) -> None:
        self.check_keys(d, _IFACE_KEYS, "interfaces", idx, "an interface")
        name = self.typed(d, "name", (str,), "interfaces", idx, "interface")
        if not name:
            raise ConfigError(f"{self.where('interfaces', idx)}: an interface needs a name")
        ri = topo.iface(name)
        if ri is None:       # new interface (else: the file overrides fields of an imported one)
            ri = RouterInterface(name, source=self.where("interfaces", idx, "name"))
            topo.interfaces.append(ri)
        w = lambda k: self.where("interfaces", idx, k)  # noqa: E731
        for key, types in (("role", (str,)), ("kind", (str,)), ("device", (str,)), ("band", (str,)),
                           ("ssid", (str,)), ("network", (str,)), ("in_flowtable", (bool,)), ("wed", (bool,)),
                           ("mtu", (int,)), ("vlan", (int,))):
            v = self.typed(d, key, types, "interfaces", idx, f"interface {name}:")
            if v is not None:
                setattr(ri, key, v)
        if "role" in d and ri.role not in ROLES:
            raise ConfigError(f"{w('role')}: interface {name}: role must be one of {', '.join(ROLES)}, not {ri.role!r}")
        if "kind" in d and ri.kind not in KINDS:
            raise ConfigError(f"{w('kind')}: interface {name}: kind must be one of {', '.join(KINDS)}, not {ri.kind!r}")
        if "band" in d:
            if ri.band not in BANDS:
                raise ConfigError(f"{w('band')}: interface {name}: band must be one of {', '.join(BANDS)}, not {ri.band!r}")
            if "kind" not in d:
                ri.kind = "wifi"
        if ri.kind == "wifi" and "role" not in d and ri.role == "lan":
            ri.role = "wlan"
        if "mtu" in d and not 576 <= ri.mtu <= 65535:
            raise ConfigError(f"{w('mtu')}: interface {name}: MTU {ri.mtu} out of range 576..65535")
        if "vlan" in d and not 1 <= ri.vlan <= 4094:  # type: ignore[operator]
            raise ConfigError(f"{w('vlan')}: interface {name}: VLAN id {ri.vlan} out of range 1..4094")
        for key in ("lower", "subnets"):
            if key in d:
                v = d[key]
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ConfigError(f"{w(key)}: interface {name}: {key} must be a list of strings")
                setattr(ri, key, [_norm_net(x, w(key)) for x in v] if key == "subnets" else list(v))
        if "shaper" in d:
            s = d["shaper"]
            if s is False:
                ri.shaper = None
            elif s is True:
                ri.shaper = Shaper(source=w("shaper"))
            else:
                self.check_keys(s, _SHAPER_KEYS, "interfaces.shaper", idx, f"the shaper of {name}")
                sw = lambda k: self.where("interfaces.shaper", idx, k)  # noqa: E731
                for k in ("download_kbit", "upload_kbit"):
                    if k in s and (not _is_int(s[k]) or s[k] < 0):
                        raise ConfigError(f"{sw(k)}: {k} must be a rate in kbit/s (>= 0), not {s[k]!r}")
                for k in ("qdisc", "script", "device"):
                    if k in s and not isinstance(s[k], str):
                        raise ConfigError(f"{sw(k)}: {k} must be a string")
                ri.shaper = Shaper(s.get("download_kbit", 0), s.get("upload_kbit", 0), s.get("qdisc", "cake"),
                                   s.get("script"), s.get("device"), self.where("interfaces.shaper", idx))
