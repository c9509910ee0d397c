"""The router: topology, routing decision, the flowtable fast path at ingress, the slow path
(conntrack, forward chain with fw4's `flow add @ft`, confirmation) and the GC clock.

Kernel functions modelled (repository torvalds/linux unless stated):
- nf_flow_offload_ip_hook / nf_flow_offload_ipv6_hook (net/netfilter/nf_flow_table_ip.c);
- nft_flow_offload_eval (net/netfilter/nft_flow_offload.c);
- nf_conntrack_in, nf_conntrack_inet_error, __nf_conntrack_confirm (nf_conntrack_core.c);
- ip_forward / ip6_forward (TTL, link-local scope);
- openwrt/firewall4 ruleset.uc: `meta l4proto { tcp, udp } flow add @ft` first in forward.
"""
from __future__ import annotations

import heapq
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from . import decode as D
from .conntrack import CT_FULL, CT_OK, NS, ORIG, REPLY, Conn, Conntrack, key_from_icmp_error, key_from_packet
from .flowtable import FIN_RST, Flowtable

PATHS = ("slow", "sfo", "hfo", "not_forwarded", "unparsed")

# ---- configuration -------------------------------------------------------------------------


@dataclass
class Iface:
    name: str
    role: str = "lan"
    kind: str = "ethernet"
    band: Optional[str] = None
    in_flowtable: bool = True
    wed: bool = True
    shaper: bool = False
    mtu: int = 1500


@dataclass
class Config:
    mode: str = "sw"
    kernel_version: int = 606
    ct_max: int = 65536
    tcp_loose: bool = True
    tcp_timeouts_s: List[int] = field(default_factory=list)
    udp_timeout_s: int = 60
    udp_timeout_stream_s: int = 180
    icmp_timeout_s: int = 30
    generic_timeout_s: int = 600
    flow_timeout_tcp_s: int = 30
    flow_timeout_udp_s: int = 30
    ifaces: List[Iface] = field(default_factory=list)
    default_lan: int = 0
    default_wan: int = 1
    capture_map: Dict[int, int] = field(default_factory=dict)
    lan_prefixes: List[Any] = field(default_factory=list)  # ipaddress networks
    hw: Any = None  # ppe.HwConfig in mode hw


# ---- address classes (the default topology) ---------------------------------------------------
WAN, LAN, MULTICAST, LINK_LOCAL6, MARTIAN = "wan", "lan", "multicast", "link_local", "martian"

_LAN4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")]
_ULA = ipaddress.ip_network("fc00::/7")


def addr_class(cfg: Config, l3: int, raw: bytes) -> str:
    """Model choice (README "Topology"): LAN = RFC 1918, 169.254/16, fc00::/7 and the configured
    LAN prefixes (which win over everything else); every other unicast address is WAN.
    Multicast and broadcast are never routed; 0/8, 127/8, 240/4, :: and ::1 are martians
    (ip_route_input_slow: martian source/destination); IPv6 link-local scope is never
    forwarded (ip6_forward)."""
    a = ipaddress.ip_address(raw[:4] if l3 == 4 else raw[:16])
    for net in cfg.lan_prefixes:
        if net.version == (4 if l3 == 4 else 6) and a in net:
            return LAN
    if l3 == 4:
        b0 = raw[0]
        if b0 == 0 or b0 == 127:
            return MARTIAN
        if b0 >= 240:
            return MULTICAST if raw[:4] == b"\xff\xff\xff\xff" else MARTIAN
        if b0 >= 224:
            return MULTICAST
        return LAN if any(a in n for n in _LAN4) else WAN
    if raw[0] == 0xFF:
        return MULTICAST
    if raw[0] == 0xFE and raw[1] & 0xC0 == 0x80:
        return LINK_LOCAL6
    if raw[:15] == bytes(15) and raw[15] in (0, 1):
        return MARTIAN
    return LAN if a in _ULA else WAN


# ---- the clock and the GC ---------------------------------------------------------------------
class Clock:
    """Trace time. The model places the GC passes (nf_flow_offload_work_gc re-queues itself every
    HZ; the conntrack gc_worker) at whole seconds after the first packet: at each pass, first the
    flowtable step, then the conntrack reaper, then (mode hw) the PPE's 1 s tick. A timestamp
    earlier than the previous one is clamped (the model's clock never runs backwards)."""

    FT, CT = 0, 1

    def __init__(self):
        self.started = False
        self.origin = 0
        self.last_ts = 0
        self.last_tick = 0
        self.backwards = 0
        self.gc_tick: Optional[int] = None  # tick being processed
        self.heap: list = []
        self.seq = 0
        self.ft = None
        self.ct = None
        self.ppe = None

    def tick_of(self, ns: int) -> int:
        """First GC pass at or after time ns."""
        rel = ns - self.origin
        return 0 if rel <= 0 else -(-rel // NS)

    def _arm(self, obj, kind: int, when: int) -> None:
        t = self.tick_of(when)
        # something due at a pass already run is looked at by the next one
        floor = self.gc_tick if self.gc_tick is not None else self.last_tick + 1
        t = max(t, floor)
        self.seq += 1
        obj.arm_tick = (t, self.seq)
        heapq.heappush(self.heap, (t, kind, self.seq, obj))

    def ft_arm(self, flow, when):
        self._arm(flow, self.FT, when)

    def ct_arm(self, conn, when):
        self._arm(conn, self.CT, when)

    def ft_disarm(self, flow):
        flow.arm_tick = None

    def ct_disarm(self, conn):
        conn.arm_tick = None

    def advance(self, ts: int) -> int:
        if not self.started:
            self.started = True
            self.origin = self.last_ts = ts
            self.last_tick = 0
        if ts < self.last_ts:
            self.backwards += 1
            ts = self.last_ts
        self.last_ts = ts
        target = (ts - self.origin) // NS
        if target > self.last_tick:
            self.run_gc(target)
        return ts

    def run_gc(self, target: int) -> None:
        ppe_next = self.last_tick + 1
        h = self.heap
        while h and h[0][0] <= target:
            t, kind, seq, obj = heapq.heappop(h)
            if obj.arm_tick != (t, seq):
                continue  # re-armed or disarmed since
            obj.arm_tick = None
            if self.ppe is not None and ppe_next <= t:
                # PPE ticks before this pass (ordering: ft, ct, then ppe within one second)
                self.ppe.run_ticks(self, ppe_next, t - 1)
                ppe_next = t
            self.gc_tick = t
            tick_ns = self.origin + t * NS
            if kind == self.FT:
                self.ft.nf_flow_offload_gc_step(obj, tick_ns)
            else:
                self.ct.gc_expire(obj, tick_ns)
            self.gc_tick = None
        if self.ppe is not None and ppe_next <= target:
            self.ppe.run_ticks(self, ppe_next, target)
        self.last_tick = target


# ---- the per-packet decision -----------------------------------------------------------------
class Pkt:
    __slots__ = ("in_if", "out_if", "conn", "dir", "path", "reason")

    def __init__(self):
        self.in_if = self.out_if = -1
        self.conn: Optional[Conn] = None
        self.dir = 0
        self.path = "slow"
        self.reason = ""


def is_tcp_udp(d: D.Decoded) -> bool:
    return d.l4proto in (D.P_TCP, D.P_UDP)


class Router:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.clock = Clock()
        self.stats: Dict[str, Any] = dict(
            packets_total=0, bytes_total=0, dropped=0, ct_created=0, ct_peak=0,
            flows_added=0, flows_teardown_fin_rst=0, flows_timeout=0, flows_peak=0,
            hw_commits=0, hw_refused=0, hw_removals=0,
            paths={p: {"packets": 0, "bytes": 0, "flows": 0} for p in PATHS}, reasons={})
        self.ct = Conntrack(cfg, self.clock)
        self.ft = Flowtable(cfg, self.ct, self.clock, self.stats)
        self.clock.ft, self.clock.ct = self.ft, self.ct
        self.ct.on_evict = lambda c: self.ft.ct_gone(c, self.clock.last_ts)
        self.ppe = None
        if cfg.mode == "hw":
            from .ppe import Ppe
            self.ppe = Ppe(cfg, self)
            self.clock.ppe = self.ppe
            self.ft.hw_last_hit = self.ppe.last_hit
            self.ft.on_teardown = self.ppe.on_flow_teardown
        self.decisions: List[tuple] = []

    # -- routing ----------------------------------------------------------------------------
    def route(self, rec, d: D.Decoded, p: Pkt) -> None:
        """Is the packet routed at all, and from which router interface to which side?"""
        cfg = self.cfg
        sc, dc = addr_class(cfg, d.l3, d.src), addr_class(cfg, d.l3, d.dst)
        p.path = "not_forwarded"
        if MULTICAST in (sc, dc) or d.l2_multicast:
            p.reason = "multicast"
        elif MARTIAN in (sc, dc):
            p.reason = "martian"
        elif LINK_LOCAL6 in (sc, dc):
            p.reason = "link_local"
        else:
            in_if = -1
            if 0 <= rec.if_id < 64:
                in_if = cfg.capture_map.get(rec.if_id, -1)
            if in_if < 0:
                in_if = cfg.default_lan if sc == LAN else cfg.default_wan
            dst_role = "lan" if dc == LAN else "wan"
            if cfg.ifaces[in_if].role == dst_role:
                p.reason = "same_side"
                return
            p.in_if = in_if
            p.out_if = cfg.default_lan if dst_role == "lan" else cfg.default_wan
            p.path = "slow"

    # -- fast path ---------------------------------------------------------------------------
    def nf_flow_offload_hook_precheck(self, d: D.Decoded, in_if: int) -> str:
        """nf_flow_offload_ip_hook / _ipv6_hook -> nf_flow_tuple_ip(v6): packets the flowtable
        cannot look up. '' when the lookup can proceed."""
        if not self.cfg.ifaces[in_if].in_flowtable:
            return "not_flowtable_device"  # the ingress hook is not registered on this device
        if d.ipv6_ext:
            return "ipv6_ext_header"   # nf_flow_tuple_ipv6: ip6h->nexthdr must be TCP/UDP
        if not is_tcp_udp(d):
            return "icmp_error" if d.icmp_error else "l4_proto"
        if d.fragment:
            return "fragment"          # ip_is_fragment
        if d.ipv4_options:
            return "ipv4_options"      # iph->ihl * 4 != sizeof(struct iphdr)
        if not d.has_l4:
            return "l4_truncated"      # pskb_may_pull of the ports fails
        if d.ttl <= 1:
            return "ttl_expired"       # iph->ttl <= 1
        if d.n_vlan > 1 or (d.n_vlan and d.pppoe) or d.vlan_excess:
            return "encap_unsupported"  # nf_flow_skb_encap_protocol: one 802.1Q tag or PPPoE
        return ""

    def nf_flow_offload_hook(self, d: D.Decoded, p: Pkt, now: int) -> str:
        """The flowtable at ingress. Forwards the packet (p.path = sfo/hfo) or returns the reason
        it goes to the slow path ('' when no flow matched)."""
        pre = self.nf_flow_offload_hook_precheck(d, p.in_if)
        conn = None
        if is_tcp_udp(d) and d.has_l4:
            key, is_a = key_from_packet(d)
            conn = self.ct.lookup(key, now)
        f = self.ft.flow_offload_lookup(conn) if conn is not None else None
        if f is None:
            return pre
        dir_ = conn.direction(is_a)
        if self.ppe is not None and f.hw:
            eligible = (not pre and d.ip_len <= f.mtu[dir_]
                        and not d.tcp_flags & (D.TCP_SYN | D.TCP_FIN | D.TCP_RST))
            fwd, hw_reason = self.ppe.packet(conn, dir_, now, eligible, d.tcp_flags)
            if fwd:
                p.path, p.reason, p.conn, p.dir, p.out_if = "hfo", "hw_forwarded", conn, dir_, f.oif[dir_]
                return ""
        else:
            hw_reason = None
        if pre:
            return pre
        if f.iif[dir_] != p.in_if:
            return "iif_mismatch"        # the tuple includes the input interface
        if d.ip_len > f.mtu[dir_]:
            return "mtu_exceeded"        # nf_flow_exceeds_mtu
        if d.l4proto == D.P_TCP and d.tcp_flags & (D.TCP_FIN | D.TCP_RST):
            # nf_flow_state_check (<= 6.13): FIN or RST tears the flow down, slow path
            self.ft.flow_offload_teardown(f, now, FIN_RST)
            return "tcp_fin_rst"
        # nf_flow_offload_forward: flow_offload_refresh, then neigh_xmit / dev_queue_xmit
        self.ft.flow_offload_refresh(f, now)
        p.path, p.conn, p.dir, p.out_if = "sfo", conn, dir_, f.oif[dir_]
        p.reason = hw_reason if hw_reason is not None else "flow_offloaded"
        return ""

    # -- slow path -----------------------------------------------------------------------------
    def nft_flow_offload_eval(self, d: D.Decoded, p: Pkt) -> str:
        """fw4's `flow add @ft` (nft_flow_offload_eval): the first rule that refuses, in the
        kernel's order, or flow_add / flow_timeout when this packet created the flow."""
        c = p.conn
        if d.ipv4_options:
            return "ipv4_options"          # nft_flow_offload_skip
        if c.proto == D.P_TCP:
            if d.tcp_flags & (D.TCP_FIN | D.TCP_RST):
                return "tcp_fin_rst"
            if not c.tcp_established():
                return "tcp_not_established"  # ESTABLISHED and ASSURED (e5eaac2, 5.18)
        elif c.proto != D.P_UDP:
            return "l4_proto"
        if not c.confirmed:
            return "ct_new"                # nf_ct_is_confirmed: confirmed only at POSTROUTING
        if c.offload:
            return "iif_mismatch"          # test_and_set_bit(IPS_OFFLOAD_BIT): already offloaded
        dir_ = p.dir
        iif, oif, mtu = [0, 0], [0, 0], [0, 0]
        iif[dir_], iif[1 - dir_] = p.in_if, p.out_if
        oif[dir_], oif[1 - dir_] = p.out_if, p.in_if
        mtu[dir_] = self.cfg.ifaces[p.out_if].mtu
        mtu[1 - dir_] = self.cfg.ifaces[p.in_if].mtu
        reason = "flow_timeout" if c.flow_expired else "flow_add"
        hw = self.ppe is not None
        self.ft.flow_offload_add(c, self.clock.last_ts, iif, oif, mtu, hw)
        self.stats["flows_added"] += 1
        if hw:
            self.ppe.commit(c, d, iif, oif)
        return reason

    def slow_path(self, d: D.Decoded, p: Pkt, pre: str) -> None:
        """nf_conntrack_in at PREROUTING, routing (ip_forward), the forward chain, confirmation at
        POSTROUTING. `pre`: why the fast path refused the packet ('' when no flow matched)."""
        none = self.cfg.mode == "none"
        now = self.clock.last_ts
        p.path = "slow"
        # nf_defrag holds non-first fragments until the datagram is complete; conntrack sees the
        # reassembled datagram once, at its first fragment here
        if d.nonfirst_fragment:
            p.reason = "offload_disabled" if none else "fragment"
            return
        # ICMP errors: nf_conntrack_inet_error makes them RELATED to the connection they quote;
        # never offloaded
        if d.icmp_error:
            if d.has_inner:
                key, is_a = key_from_icmp_error(d)
                c = self.ct.lookup(key, now)
                if c is not None:
                    p.conn, p.dir = c, c.direction(is_a)
            if d.ttl <= 1:
                p.reason = "ttl_expired"
                self.stats["dropped"] += 1
            else:
                p.reason = "offload_disabled" if none else "icmp_error"
            return
        ttl_expired = d.ttl <= 1
        verdict, c, dir_, is_new = self.ct.nf_conntrack_in(d, now)
        if verdict == CT_FULL:
            self.stats["dropped"] += 1
            p.reason = "ct_table_full"  # nf_conntrack_alloc: "table full, dropping packet"
            return
        if verdict != CT_OK:
            # invalid / untracked: forwarded by fw4 (drop_invalid is off), never offloaded
            if ttl_expired:
                self.stats["dropped"] += 1
                p.reason = "ttl_expired"
            else:
                p.reason = "offload_disabled" if none else (pre or "ct_invalid")
            return
        p.conn, p.dir = c, dir_
        if ttl_expired:
            # ip_forward drops it (time exceeded) before the forward chain; a new entry is never
            # confirmed and dies with the packet
            self.stats["dropped"] += 1
            p.reason = "ttl_expired"
            if is_new:
                self.ct.free(c)
                p.conn = None
            return
        c.iface[dir_] = p.in_if
        if c.iface[1 - dir_] >= 0:
            p.out_if = c.iface[1 - dir_]
        # fw4's forward chain starts with `meta l4proto { tcp, udp } flow add @ft`: it runs for
        # every forwarded TCP/UDP packet; a reason found by the fast path names the packet
        if none:
            reason = "offload_disabled"
        else:
            r = self.nft_flow_offload_eval(d, p) if is_tcp_udp(d) else "l4_proto"
            reason = pre or r
        if is_new:
            self.ct.confirm(c)  # __nf_conntrack_confirm at POSTROUTING
            self.stats["ct_created"] += 1
        p.reason = reason

    # -- one packet -------------------------------------------------------------------------------
    def packet(self, rec, d: Optional[D.Decoded]) -> Pkt:
        now = self.clock.advance(rec.ts_ns)
        p = Pkt()
        if rec.bad:
            p.path, p.reason = "unparsed", rec.bad
        elif d.status != D.OK:
            p.path = "not_forwarded" if d.status == D.NOT_IP else "unparsed"
            p.reason = {D.NOT_IP: "not_ip", D.TRUNCATED: "truncated_header",
                        D.BAD_HEADER: "bad_header", D.UNSUPPORTED_LINK: "unsupported_linktype"}[d.status]
        else:
            self.route(rec, d, p)
        if p.path == "slow":
            pre = ""
            if self.cfg.mode != "none":
                pre = self.nf_flow_offload_hook(d, p, now)
            if p.path == "slow":
                self.slow_path(d, p, pre)
        self.account(rec, p)
        return p

    def account(self, rec, p: Pkt) -> None:
        st = self.stats
        st["packets_total"] += 1
        st["bytes_total"] += rec.wirelen
        ps = st["paths"][p.path]
        ps["packets"] += 1
        ps["bytes"] += rec.wirelen
        st["reasons"][p.reason] = st["reasons"].get(p.reason, 0) + 1
        c = p.conn
        if c is not None and c.alive and p.path not in c.paths_seen:
            c.paths_seen.add(p.path)
            ps["flows"] += 1
        st["ct_peak"] = max(st["ct_peak"], self.ct.count)
        st["flows_peak"] = max(st["flows_peak"], self.ft.live)
        self.decisions.append((p.path, p.reason))
