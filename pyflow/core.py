"""Thin wrapper over the C core: options -> pf_config, one C call per file, stats -> Result."""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import presets
from ._core import ffi, lib
from .errors import ERRORS_BY_CODE, CaptureError, ConfigError, PyflowError

SCHEMA_VERSION = 1
PATHS = ("slow", "sfo", "hfo", "not_forwarded", "unparsed")
MODES = {"none": lib.PF_MODE_NONE, "sw": lib.PF_MODE_SW, "hw": lib.PF_MODE_HW}
REASONS = tuple(ffi.string(lib.pf_reason_name(i)).decode() for i in range(lib.PF_REASON_COUNT))
_ROLES = {"lan": lib.PF_ROLE_LAN, "wan": lib.PF_ROLE_WAN}
_KINDS = {"ethernet": lib.PF_KIND_ETHERNET, "wifi": lib.PF_KIND_WIFI}
_BANDS = {None: lib.PF_BAND_NONE, "2g": lib.PF_BAND_2G, "5g": lib.PF_BAND_5G, "6g": lib.PF_BAND_6G}

ProgressFn = Callable[[int, int, int], Optional[bool]]


@dataclass
class Interface:
    """One router interface of the topology."""

    name: str
    role: str = "lan"             # lan | wan
    kind: str = "ethernet"        # ethernet | wifi
    band: Optional[str] = None    # 2g | 5g | 6g for Wi-Fi
    in_flowtable: bool = True
    wed: bool = True              # Wi-Fi radio attached to WED (when the SoC has WED)
    shaper: bool = False          # SQM / cake on this interface
    mtu: int = 1500


@dataclass
class Options:
    """Everything a replay can be told. Field names are the keyword arguments of replay()."""

    mode: str = "sw"
    kernel: str = presets.DEFAULT_KERNEL
    sysctl: str = presets.DEFAULT_SYSCTL
    ct_max: int = 65536
    tcp_loose: bool = True
    flow_timeout: Optional[int] = None      # both nf_flowtable_{tcp,udp}_timeout
    flow_timeout_tcp: int = 30
    flow_timeout_udp: int = 30
    mtu: Optional[int] = None               # MTU of every interface
    lan_prefixes: Sequence[str] = ()
    interfaces: Optional[Sequence[Union[Interface, Mapping[str, Any]]]] = None
    capture_map: Optional[Mapping[int, str]] = None   # pcapng interface id -> interface name
    map_rules: Sequence[Mapping[str, Any]] = ()       # [{"kind", "value", "iface"}], first match wins
    flowtable_counter: bool = True                    # flowtable `counter` flag (fw4 since 2023)
    flowtable_devices: Optional[Sequence[str]] = None  # interfaces listed in the flowtable (default: all)
    offload_after_packets: Optional[int] = None       # `ct original packets ge N` in the offload rule
    offload_rule: Optional[Mapping[str, Any]] = None  # the full rule (see README "Offload rule variants")
    soc: str = presets.DEFAULT_SOC
    ppe_entries: Optional[int] = None
    wed_2g: bool = False
    ppe_ipv6: Optional[bool] = None           # override the SoC's IPv6 support (for studies)
    dump_conntrack_at: Optional[float] = None  # seconds after the first packet
    dump_conntrack: Optional[str] = None       # file for the /proc/net/nf_conntrack look-alike
    dump_ppe_at: Optional[float] = None
    dump_ppe: Optional[str] = None             # file for the /sys/kernel/debug/ppe0/entries look-alike
    keep_decisions: bool = False
    series_bin: Optional[float] = None        # time series bin in seconds (Result.series)
    keep_flows: bool = False                  # one summary per connection (Result.flows)
    log: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        d = {
            "mode": self.mode, "kernel": self.kernel, "sysctl": self.sysctl, "ct_max": self.ct_max,
            "tcp_loose": self.tcp_loose,
            "flow_timeout_tcp": self.flow_timeout if self.flow_timeout is not None else self.flow_timeout_tcp,
            "flow_timeout_udp": self.flow_timeout if self.flow_timeout is not None else self.flow_timeout_udp,
            "lan_prefixes": list(self.lan_prefixes),
        }
        if self.mtu is not None:
            d["mtu"] = self.mtu
        if self.mode == "hw":
            d.update(soc=self.soc, ppe_entries=self.ppe_entries, wed_2g=self.wed_2g)
            if self.ppe_ipv6 is not None:
                d["ppe_ipv6"] = self.ppe_ipv6
        if self.interfaces is not None:
            d["interfaces"] = [vars(_as_iface(i)) for i in self.interfaces]
        if self.capture_map:
            d["capture_map"] = {str(k): v for k, v in self.capture_map.items()}
        if self.map_rules:
            d["map_rules"] = [dict(r) for r in self.map_rules]
        if not self.flowtable_counter:
            d["flowtable_counter"] = False
        if self.flowtable_devices is not None:
            d["flowtable_devices"] = list(self.flowtable_devices)
        if self.offload_after_packets is not None:
            d["offload_after_packets"] = self.offload_after_packets
        if self.offload_rule is not None:
            d["offload_rule"] = dict(self.offload_rule)
        return d


def _as_iface(i: Union[Interface, Mapping[str, Any]]) -> Interface:
    return i if isinstance(i, Interface) else Interface(**i)


def _iface_list(opts: "Options") -> List[Interface]:
    if opts.interfaces is None:
        return [Interface("lan", "lan"), Interface("wan", "wan")]
    return [_as_iface(i) for i in opts.interfaces]


def _set_name(buf: Any, name: str) -> None:
    raw = name.encode()[:31]
    ffi.memmove(buf, raw + b"\0", len(raw) + 1)


_MAP_KINDS = {"capture_if": lib.PF_MAP_CAPTURE_IF, "capture_name": lib.PF_MAP_CAPTURE_NAME,
              "sll2_ifindex": lib.PF_MAP_SLL2_IFINDEX, "radio_band": lib.PF_MAP_RADIO_BAND,
              "vlan": lib.PF_MAP_VLAN, "pppoe": lib.PF_MAP_PPPOE, "mac": lib.PF_MAP_MAC,
              "subnet": lib.PF_MAP_SUBNET}


def _set_rule(c: Any, rule: Mapping[str, Any], names: Mapping[str, int]) -> None:
    """One interface mapping rule into a pf_map_rule."""
    kind, value, iface = rule.get("kind"), rule.get("value"), rule.get("iface")
    if kind not in _MAP_KINDS:
        raise ConfigError(f"mapping rule kind must be one of {', '.join(_MAP_KINDS)}, not {kind!r}")
    if iface not in names:
        raise ConfigError(f"mapping rule {kind}={value!r} names unknown interface {iface!r}")
    c.kind = _MAP_KINDS[kind]
    c.iface = names[iface]
    try:
        if kind == "capture_name":
            _set_name(c.name, str(value))
        elif kind == "radio_band":
            c.value = {"2g": 2, "5g": 5, "6g": 6}[value]
        elif kind == "pppoe":
            c.value = -1 if value in (None, "any") else int(value)
        elif kind == "mac":
            raw = bytes(int(x, 16) for x in str(value).replace("-", ":").split(":"))
            if len(raw) != 6:
                raise ValueError("a MAC has 6 bytes")
            ffi.memmove(c.mac, raw, 6)
        elif kind == "subnet":
            net = ipaddress.ip_network(str(value), strict=False)
            raw = net.network_address.packed
            ffi.memmove(c.addr, raw + bytes(16 - len(raw)), 16)
            c.l3, c.prefix_len = net.version, net.prefixlen
        else:
            c.value = int(value)
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"bad mapping rule {kind}={value!r}: {exc}") from None


_CMPS = {"ge": lib.PF_CMP_GE, ">=": lib.PF_CMP_GE, "gt": lib.PF_CMP_GT, ">": lib.PF_CMP_GT,
         "le": lib.PF_CMP_LE, "<=": lib.PF_CMP_LE, "lt": lib.PF_CMP_LT, "<": lib.PF_CMP_LT,
         "eq": lib.PF_CMP_EQ, "==": lib.PF_CMP_EQ, "ne": lib.PF_CMP_NE, "!=": lib.PF_CMP_NE}
_CTDIRS = {"original": lib.PF_CTDIR_ORIGINAL, "reply": lib.PF_CTDIR_REPLY, "both": lib.PF_CTDIR_BOTH}
_CTSTATES = {"new": 1, "established": 2, "related": 4}


def _set_offload_rule(r: Any, rule: Mapping[str, Any], names: Mapping[str, int]) -> None:
    """The forward-chain offload rule: {present, l4proto, ct_count, ct_state, iifname, oifname,
    saddr, daddr}; missing keys keep fw4's `meta l4proto { tcp, udp } flow add @ft`."""
    unknown = set(rule) - {"present", "l4proto", "ct_count", "ct_state", "iifname", "oifname", "saddr", "daddr"}
    if unknown:
        raise ConfigError(f"unknown offload rule keys: {', '.join(sorted(unknown))}")
    r.present = 1 if rule.get("present", True) else 0
    protos = rule.get("l4proto", ["tcp", "udp"])
    if not set(protos) <= {"tcp", "udp"}:
        raise ConfigError("the flowtable offloads only tcp and udp: l4proto must be a subset of them")
    r.l4proto_mask = (1 if "tcp" in protos else 0) | (2 if "udp" in protos else 0)
    cc = rule.get("ct_count")
    if cc:
        if cc.get("kind", "packets") not in ("packets", "bytes") or cc.get("dir", "original") not in _CTDIRS \
                or cc.get("cmp", "ge") not in _CMPS:
            raise ConfigError(f"bad ct count condition {cc!r}")
        r.ct_count = 1 if cc.get("kind", "packets") == "packets" else 2
        r.ct_count_dir = _CTDIRS[cc.get("dir", "original")]
        r.ct_count_cmp = _CMPS[cc.get("cmp", "ge")]
        r.ct_count_value = int(cc["value"])
    states = rule.get("ct_state") or []
    if not set(states) <= set(_CTSTATES):
        raise ConfigError(f"ct state must be among {', '.join(_CTSTATES)}")
    r.ct_state_mask = sum(_CTSTATES[s] for s in set(states))
    for field, attr in (("iifname", "iif_mask"), ("oifname", "oif_mask")):
        mask = 0
        for name in rule.get(field) or []:
            if name not in names:
                raise ConfigError(f"{field} {name!r} is not an interface of the topology")
            mask |= 1 << names[name]
        setattr(r, attr, mask)
    for field in ("saddr", "daddr"):
        nets = rule.get(field) or []
        if len(nets) > 8:
            raise ConfigError(f"at most 8 {field} prefixes")
        for i, text in enumerate(nets):
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise ConfigError(f"bad {field} {text!r}: {exc}") from None
            raw = net.network_address.packed
            ffi.memmove(getattr(r, field)[i], raw + bytes(16 - len(raw)), 16)
            getattr(r, field + "_len")[i] = net.prefixlen
            getattr(r, field + "_l3")[i] = net.version
        setattr(r, "n_" + field, len(nets))


def build_config(opts: Options) -> Any:
    """Fills a pf_config from Options (raising ConfigError on bad values)."""
    cfg = ffi.new("pf_config *")
    lib.pf_config_default(cfg)
    if opts.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {opts.mode!r}")
    cfg.mode = MODES[opts.mode]
    if opts.kernel not in presets.KERNELS:
        raise ConfigError(f"kernel must be one of {', '.join(presets.KERNELS)}, not {opts.kernel!r}")
    cfg.kernel_version = presets.KERNELS[opts.kernel]
    if opts.sysctl not in presets.SYSCTLS:
        raise ConfigError(f"sysctl profile must be one of {', '.join(presets.SYSCTLS)}")
    sc = presets.SYSCTLS[opts.sysctl]
    for i, v in enumerate(sc["tcp"]):
        cfg.tcp_timeouts_s[i] = v
    cfg.udp_timeout_s = sc["udp"]
    cfg.udp_timeout_stream_s = sc["udp_stream"]
    cfg.ct_max = opts.ct_max
    cfg.tcp_loose = 1 if opts.tcp_loose else 0
    tcp_to = opts.flow_timeout if opts.flow_timeout is not None else opts.flow_timeout_tcp
    udp_to = opts.flow_timeout if opts.flow_timeout is not None else opts.flow_timeout_udp
    if tcp_to < 1 or udp_to < 1:
        raise ConfigError("flow timeouts must be at least 1 s")
    cfg.flow_timeout_tcp_s = tcp_to
    cfg.flow_timeout_udp_s = udp_to

    # SoC preset (used in mode hw)
    if opts.soc not in presets.SOCS:
        raise ConfigError(f"soc must be one of {', '.join(presets.SOCS)}, not {opts.soc!r}")
    soc = presets.SOCS[opts.soc]
    entries = presets.foe_entries(cfg.kernel_version) if soc.has_ppe else 0
    if opts.ppe_entries is not None:
        if not soc.has_ppe:
            raise ConfigError(f"{soc.name} has no PPE: ppe_entries does not apply")
        entries = opts.ppe_entries
    cfg.ppe_entries = entries
    cfg.ppe_ways = soc.ways
    cfg.ppe_count = soc.ppe_count
    cfg.ppe_ipv6 = 1 if (soc.ipv6 if opts.ppe_ipv6 is None else opts.ppe_ipv6) else 0
    # the STATIC entries are a property of the 8K/16K MT7621 table; a study table has none
    cfg.ppe_mt7621_static = 1 if soc.mt7621_static and opts.ppe_entries is None else 0
    cfg.wed_version = soc.wed_version
    cfg.wed_2g = 1 if opts.wed_2g else 0

    # topology
    if opts.interfaces is not None:
        ifaces = [_as_iface(i) for i in opts.interfaces]
        if not 2 <= len(ifaces) <= 16:
            raise ConfigError("a topology needs 2 to 16 interfaces")
        cfg.n_ifaces = len(ifaces)
        cfg.default_lan_iface = cfg.default_wan_iface = -1
        for idx, itf in enumerate(ifaces):
            c = cfg.ifaces[idx]
            _set_name(c.name, itf.name)
            if itf.role not in _ROLES or itf.kind not in _KINDS or itf.band not in _BANDS:
                raise ConfigError(f"interface {itf.name}: bad role/kind/band")
            c.role = _ROLES[itf.role]
            c.kind = _KINDS[itf.kind]
            c.band = _BANDS[itf.band]
            c.in_flowtable = 1 if itf.in_flowtable else 0
            c.wed = 1 if itf.wed else 0
            c.shaped = 1 if itf.shaper else 0
            c.mtu = itf.mtu
            if itf.role == "lan" and cfg.default_lan_iface < 0:
                cfg.default_lan_iface = idx
            if itf.role == "wan" and cfg.default_wan_iface < 0:
                cfg.default_wan_iface = idx
        if cfg.default_lan_iface < 0 or cfg.default_wan_iface < 0:
            raise ConfigError("a topology needs at least one lan and one wan interface")
        names = {itf.name: idx for idx, itf in enumerate(ifaces)}
    else:
        names = {"lan": 0, "wan": 1}
    if opts.mtu is not None:
        for idx in range(cfg.n_ifaces):
            cfg.ifaces[idx].mtu = opts.mtu
    rules = [{"kind": "capture_if", "value": int(k), "iface": v} for k, v in (opts.capture_map or {}).items()]
    rules += list(opts.map_rules)
    if len(rules) > 64:
        raise ConfigError("at most 64 interface mapping rules")
    for i, rule in enumerate(rules):
        _set_rule(cfg.map_rules[i], rule, names)
    cfg.n_map_rules = len(rules)
    if opts.flowtable_devices is not None:
        for name in opts.flowtable_devices:
            if name not in names:
                raise ConfigError(f"flowtable device {name!r} is not an interface of the topology")
        for idx in range(cfg.n_ifaces):
            itf_name = ffi.string(cfg.ifaces[idx].name).decode()
            cfg.ifaces[idx].in_flowtable = 1 if itf_name in opts.flowtable_devices else 0
    cfg.flowtable_counter = 1 if opts.flowtable_counter else 0
    rule = dict(opts.offload_rule or {})
    if opts.offload_after_packets is not None:
        rule["ct_count"] = {"kind": "packets", "dir": "original", "cmp": "ge", "value": opts.offload_after_packets}
    _set_offload_rule(cfg.rule, rule, names)
    if len(opts.lan_prefixes) > 16:
        raise ConfigError("at most 16 LAN prefixes")
    for i, text in enumerate(opts.lan_prefixes):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ConfigError(f"bad LAN prefix {text!r}: {exc}") from None
        raw = net.network_address.packed
        ffi.memmove(cfg.lan_prefix_addr[i], raw + bytes(16 - len(raw)), 16)
        cfg.lan_prefix_len[i] = net.prefixlen
        cfg.lan_prefix_l3[i] = net.version
    cfg.n_lan_prefixes = len(opts.lan_prefixes)
    cfg.keep_decisions = 1 if opts.keep_decisions else 0
    cfg.keep_flows = 1 if opts.keep_flows else 0
    if opts.series_bin is not None:
        if not opts.series_bin > 0:
            raise ConfigError("series_bin must be > 0 seconds")
        cfg.series_bin_ns = max(1, int(round(opts.series_bin * 1e9)))
    for idx, (at, path) in enumerate(((opts.dump_conntrack_at, opts.dump_conntrack), (opts.dump_ppe_at, opts.dump_ppe))):
        if (at is None) != (path is None):
            raise ConfigError("a table dump needs both a time and a file")
        if at is not None:
            if at < 0:
                raise ConfigError("dump time must be >= 0 s after the first packet")
            cfg.dump_at_ns[idx] = int(round(at * 1e9))
    return cfg


@dataclass
class Result:
    """The outcome of one replay: the JSON-ready statistics and, if asked, per-packet decisions."""

    stats: Dict[str, Any]
    decisions: Optional[List[Tuple[str, str]]] = None
    series: Optional[List[Dict[str, Any]]] = None   # per-bin packets/bytes by path and occupancy
    flows: Optional[List[Dict[str, Any]]] = None    # per-connection summaries (keep_flows=True)
    warnings: List[str] = field(default_factory=list)

    @property
    def paths(self) -> Dict[str, Dict[str, int]]:
        return self.stats["paths"]

    @property
    def reasons(self) -> Dict[str, int]:
        return self.stats["reasons"]

    def path_list(self) -> List[str]:
        """The path of every packet in file order (needs keep_decisions=True)."""
        if self.decisions is None:
            raise PyflowError("decisions were not kept: pass keep_decisions=True")
        return [p for p, _ in self.decisions]

    def to_dict(self) -> Dict[str, Any]:
        return self.stats

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.stats, indent=indent, sort_keys=False)


def _raise(err: Any, path: str, partial: Optional[Result] = None) -> None:
    code = err.code
    cls = ERRORS_BY_CODE.get(code, PyflowError)
    message = ffi.string(err.message).decode(errors="replace") or ffi.string(lib.pf_strerror(code)).decode()
    if cls is MemoryError:
        raise MemoryError(f"{path}: {message}")
    offset = int(err.offset) if cls not in (ConfigError,) else None
    if code in (-2, -3, -7, -8):  # open / empty / argument / output: an offset says nothing
        offset = None
    exc = cls(message, path=path, offset=offset)
    if isinstance(exc, CaptureError):
        exc.partial_result = partial
    raise exc


@ffi.def_extern()
def pf_py_progress(ctx: Any, records: int, done: int, total: int) -> int:
    fn = ffi.from_handle(ctx)
    try:
        return 1 if fn(int(records), int(done), int(total)) else 0
    except BaseException:  # an exception must not cross the C frame: cancel the run
        return 1


_TEARDOWN = {0: None, 1: "timeout", 2: "fin_rst", 3: "ct_gone"}
_END = {0: "alive", 1: "expired", 2: "early_drop", 3: "killed"}
_TCP_STATES = ("NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
               "TIME_WAIT", "CLOSE", "SYN_SENT2")


def _addr(l3: int, raw: bytes) -> str:
    return str(ipaddress.ip_address(raw[:4] if l3 == 4 else raw[:16]))


def _flows(sim: Any, opts: Options) -> List[Dict[str, Any]]:
    n = lib.pf_sim_flow_count(sim)
    buf = ffi.new("pf_flow_summary[]", max(1, n))
    lib.pf_sim_flows(sim, buf, n)
    names = [i.name for i in _iface_list(opts)]
    proto_names = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
    out = []
    for i in range(n):
        f = buf[i]
        src, dst = _addr(f.l3, bytes(f.src)), _addr(f.l3, bytes(f.dst))
        proto = proto_names.get(f.proto, f"proto{f.proto}")
        if f.l3 == 6:
            src, dst = f"[{src}]", f"[{dst}]"
        tuple_ = f"{proto} {src}:{f.sport}>{dst}:{f.dport}" if f.proto in (6, 17) else f"{proto} {src}>{dst}"
        out.append({
            "flow": int(f.id), "tuple": tuple_,
            "in_iface": names[f.iface[0]] if 0 <= f.iface[0] < len(names) else None,
            "reply_in_iface": names[f.iface[1]] if 0 <= f.iface[1] < len(names) else None,
            "first_ts": f.first_ns / 1e9, "last_ts": f.last_ns / 1e9,
            "packets": {p: int(f.packets[k]) for k, p in enumerate(("slow", "sfo", "hfo"))},
            "bytes": {p: int(f.bytes[k]) for k, p in enumerate(("slow", "sfo", "hfo"))},
            "offloaded_s": f.offloaded_ns / 1e9, "flows_added": int(f.flows_added),
            "teardown": _TEARDOWN.get(f.teardown), "end": _END.get(f.end, "alive"),
            "tcp_state": _TCP_STATES[f.tcp_state] if f.proto == 6 and f.tcp_state < len(_TCP_STATES) else None,
            "hw_bound": {"orig": bool(f.hw_bound & 1), "reply": bool(f.hw_bound & 2)},
            "hw_refused": REASONS[f.hw_refused] if f.hw_refused else None,
        })
    return out


def _series(sim: Any) -> List[Dict[str, Any]]:
    n = lib.pf_sim_series_count(sim)
    buf = ffi.new("pf_series_bin[]", max(1, n))
    lib.pf_sim_series(sim, buf, n)
    out = []
    for i in range(n):
        b = buf[i]
        out.append({
            "t": b.start_ns / 1e9,
            "packets": {name: int(b.packets[k]) for k, name in enumerate(PATHS)},
            "bytes": {name: int(b.bytes[k]) for k, name in enumerate(PATHS)},
            "ct": int(b.ct_entries), "flows": int(b.flows), "ppe_bound": int(b.ppe_bound),
        })
    return out


def _ns_to_s(ns: int) -> float:
    return ns / 1e9


def stats_to_dict(st: Any, info: Any, opts: Options, path: str) -> Dict[str, Any]:
    """The documented JSON shape (README "Output")."""
    paths = {}
    for i, name in enumerate(PATHS):
        p = st.paths[i]
        paths[name] = {"packets": int(p.packets), "bytes": int(p.bytes), "flows": int(p.flows)}
    reasons = {REASONS[i]: int(st.reasons[i]) for i in range(lib.PF_REASON_COUNT) if st.reasons[i]}
    d: Dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "trace": {
            "path": path,
            "format": "pcapng" if info.is_pcapng else "pcap",
            "size_bytes": int(info.file_size),
            "records": int(info.records),
            "truncated_records": int(info.truncated_records),
            "capture_interfaces": int(info.n_capture_ifaces),
            "first_ts": _ns_to_s(st.first_ts_ns) if info.records else None,
            "last_ts": _ns_to_s(st.last_ts_ns) if info.records else None,
            "duration_s": _ns_to_s(st.last_ts_ns - st.first_ts_ns) if info.records else 0.0,
            "ts_backwards": int(st.ts_backwards),
            "ts_clamped": int(st.ts_clamped),
        },
        "options": opts.to_dict(),
        "packets_total": int(st.packets_total),
        "bytes_total": int(st.bytes_total),
        "paths": paths,
        "reasons": dict(sorted(reasons.items())),
        "dropped": int(st.dropped),
        "conntrack": {
            "connections": int(st.ct_created),
            "peak": int(st.ct_peak),
            "early_drops": int(st.ct_early_drops),
            "max": opts.ct_max,
        },
        "flowtable": {
            "added": int(st.flows_added),
            "peak": int(st.flows_peak),
            "teardown_fin_rst": int(st.flows_teardown_fin_rst),
            "timeouts": int(st.flows_timeout),
        },
    }
    if opts.mode == "hw":
        d["hw"] = {
            "commits": int(st.hw_commits),
            "refused": int(st.hw_refused),
            "binds": int(st.hw_binds),
            "age_outs": int(st.hw_age_outs),
            "removals": int(st.hw_removals),
            "ppe_bound_peak": int(st.ppe_bound_peak),
            "ppe_bound_mean": (st.ppe_bound_sum / st.ppe_samples) if st.ppe_samples else 0.0,
        }
    shaped = [i for i, itf in enumerate(_iface_list(opts)) if itf.shaper]
    if shaped:
        d["qos"] = {_iface_list(opts)[i].name: {
            "shaped_packets": int(st.shaped_packets[i]), "shaped_bytes": int(st.shaped_bytes[i]),
            "bypass_packets": int(st.shaper_bypass_packets[i]), "bypass_bytes": int(st.shaper_bypass_bytes[i]),
        } for i in shaped}
    return d


def replay(path: Union[str, os.PathLike], mode: Optional[str] = None, *, topology: Any = None,
           progress: Optional[ProgressFn] = None, progress_every: int = 1 << 20,
           annotate: Optional[Union[str, os.PathLike]] = None, **options: Any) -> Result:
    """Replays one capture through the router model; the whole file is processed inside C.

    `options` are the fields of Options (kernel, sysctl, ct_max, flow_timeout, soc, ppe_entries,
    log, keep_decisions, ...). `topology`: a pyflow.topology.Topology whose interfaces, mapping
    rules and LAN prefixes are used (explicit options win, LAN prefixes add up), and its offload
    mode when `mode` is not given; the default mode is sw. Raises a CaptureError subclass naming
    the file and byte offset for bad input, ConfigError for bad options, OutputError when an
    output file cannot be written.
    """
    if topology is not None:
        topo = topology.to_options()
        topo_mode = topo.pop("mode", None)
        mode = mode or topo_mode
        if "lan_prefixes" in topo and "lan_prefixes" in options:
            options["lan_prefixes"] = list(topo.pop("lan_prefixes")) + list(options["lan_prefixes"])
        options = {**topo, **options}
    try:
        opts = Options(mode=mode or "sw", **options)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
    return run_many(path, [opts], progress=progress, progress_every=progress_every,
                    annotate=annotate)[0]


def flows(path: Union[str, os.PathLike], mode: Optional[str] = None, *, sort: str = "bytes",
          top: Optional[int] = None, **options: Any) -> List[Dict[str, Any]]:
    """One summary per connection (tuple, interfaces, first/last seen, packets and bytes per
    path, time in the flowtable, teardown cause, hardware binding), sorted by `sort`: "bytes"
    (all paths), "slow" (slow-path packets: the flows that keep the CPU busy), "packets" or
    "first" (start time)."""
    keys = {"bytes": lambda f: -sum(f["bytes"].values()), "slow": lambda f: -f["packets"]["slow"],
            "packets": lambda f: -sum(f["packets"].values()), "first": lambda f: f["first_ts"]}
    if sort not in keys:
        raise ConfigError(f"sort must be one of {', '.join(keys)}")
    res = replay(path, mode, keep_flows=True, **options)
    rows = sorted(res.flows or [], key=keys[sort])
    return rows[:top] if top is not None else rows


def run_many(path: Union[str, os.PathLike], configs: Sequence[Options], *,
             progress: Optional[ProgressFn] = None, progress_every: int = 1 << 20,
             annotate: Optional[Union[str, os.PathLike]] = None) -> List[Result]:
    """One pass over the file feeding every configuration (the what-if engine)."""
    spath = os.fspath(path)
    err = ffi.new("pf_error_info *")
    sims = []
    keep = []
    try:
        for opts in configs:
            cfg = build_config(opts)
            if opts.log is not None:
                keep.append(ffi.new("char[]", os.fsencode(opts.log)))
                cfg.log_path = keep[-1]
            for idx, dpath in enumerate((opts.dump_conntrack, opts.dump_ppe)):
                if dpath is not None:
                    keep.append(ffi.new("char[]", os.fsencode(dpath)))
                    cfg.dump_path[idx] = keep[-1]
            out = ffi.new("pf_sim **")
            rc = lib.pf_sim_create(cfg, out, err)
            if rc:
                _raise(err, opts.log if rc == lib.PF_E_IO else spath)
            sims.append(out[0])
        arr = ffi.new("pf_sim *[]", sims)
        info = ffi.new("pf_run_info *")
        ropts = ffi.new("pf_run_opts *")
        handle = None
        if progress is not None:
            handle = ffi.new_handle(progress)
            ropts.progress = lib.pf_py_progress
            ropts.progress_ctx = handle
            ropts.progress_every = max(1, int(progress_every))
        if annotate is not None:  # annotated pcapng with the decisions of configs[0]
            keep.append(ffi.new("char[]", os.fsencode(annotate)))
            ropts.annotate_path = keep[-1]
        rc = lib.pf_run_file(os.fsencode(spath), arr, len(sims), ropts, info, err)
        results = []
        for sim, opts in zip(sims, configs):
            st = ffi.new("pf_stats *")
            lib.pf_sim_stats(sim, st)
            res = Result(stats_to_dict(st, info, opts, spath))
            if "qos" in res.stats and opts.mode == "hw":
                for name, q in res.stats["qos"].items():
                    res.warnings.append(f"hardware offload bypasses the shaper on {name}: "
                                        f"{q['bypass_packets']} packets ({q['bypass_bytes']} bytes) "
                                        f"were forwarded by the PPE without passing it")
            if info.truncated_records:
                res.warnings.append(f"{spath}: the last record is cut short by the end of the file "
                                    f"(counted as unparsed/truncated_record)")
            if opts.keep_decisions:
                n = lib.pf_sim_decision_count(sim)
                pbuf = ffi.new("uint8_t[]", max(1, n))
                rbuf = ffi.new("uint8_t[]", max(1, n))
                lib.pf_sim_decisions(sim, pbuf, rbuf, n)
                pb, rb = bytes(ffi.buffer(pbuf, n)), bytes(ffi.buffer(rbuf, n))
                res.decisions = [(PATHS[pb[i]], REASONS[rb[i]]) for i in range(n)]
            if opts.keep_flows:
                res.flows = _flows(sim, opts)
            if opts.series_bin is not None:
                res.series = _series(sim)
                if lib.pf_sim_series_truncated(sim):
                    res.warnings.append("time series truncated at 16 M bins")
            results.append(res)
        if rc:
            if annotate is not None and rc in (lib.PF_E_IO, lib.PF_E_ARG) and \
                    b"annotated output" in ffi.string(err.message):
                _raise(err, os.fspath(annotate))
            _raise(err, spath, partial=results[0] if results and info.records else None)
        return results
    finally:
        for s in sims:  # owned here for the length of the call: destroyed (and logs closed) now
            lib.pf_sim_destroy(s)
