"""The nftables flowtable (net/netfilter/nf_flow_table_core.c, nf_flow_table_ip.c).

A connection is in at most one flowtable entry at a time (IPS_OFFLOAD); the flow records, per
direction, the ingress and egress interfaces and the path MTU (struct flow_offload_tuple).
"""
from __future__ import annotations

from .conntrack import NS, Conn

DAY = 86400 * NS

TIMEOUT, FIN_RST, CT_GONE = "timeout", "fin_rst", "ct_gone"


class Flow:
    __slots__ = ("conn", "timeout", "teardown", "cause", "iif", "oif", "mtu", "hw", "arm_tick")

    def __init__(self, conn: Conn, timeout: int, iif, oif, mtu, hw: bool):
        self.conn = conn
        self.timeout = timeout      # flow->timeout
        self.teardown = False       # NF_FLOW_TEARDOWN
        self.cause = None
        self.iif, self.oif, self.mtu = list(iif), list(oif), list(mtu)
        self.hw = hw                # NF_FLOW_HW
        self.arm_tick = None


class Flowtable:
    def __init__(self, cfg, ct, clock, stats):
        self.cfg = cfg
        self.ct = ct
        self.clock = clock
        self.stats = stats
        self.live = 0
        self.hw_last_hit = None  # (conn) -> last time the PPE forwarded it, or None
        self.on_teardown = None  # (flow, now): hardware removal

    def flow_offload_get_timeout(self, conn: Conn) -> int:
        """nf_flowtable_tcp_timeout / nf_flowtable_udp_timeout."""
        s = self.cfg.flow_timeout_tcp_s if conn.proto == 6 else self.cfg.flow_timeout_udp_s
        return s * NS

    def flow_offload_lookup(self, conn: Conn):
        """The live flow of a connection (a torn-down flow is invisible)."""
        f = conn.flow
        return f if f is not None and not f.teardown else None

    def flow_offload_add(self, conn: Conn, now: int, iif, oif, mtu, hw: bool) -> Flow:
        """flow_offload_add: timeout = now + offload timeout; IPS_OFFLOAD set by the caller
        (nft_flow_offload_eval); nf_ct_offload_timeout pushes the ct timeout out to a day when
        less than half a day remains (<= 6.13). A torn-down flow still waiting for GC is
        replaced."""
        f = Flow(conn, now + self.flow_offload_get_timeout(conn), iif, oif, mtu, hw)
        conn.flow = f
        self.live += 1
        self.clock.ft_arm(f, f.timeout)
        conn.offload = True
        conn.flow_expired = False
        if conn.deadline - now < DAY // 2:
            conn.deadline = now + DAY
        self.ct.set_deadline(conn, conn.deadline)
        return f

    def flow_offload_refresh(self, f: Flow, now: int) -> None:
        """flow_offload_refresh: written only when it moves by more than 1 s (HZ)."""
        timeout = now + self.flow_offload_get_timeout(f.conn)
        if timeout - f.timeout > NS:
            f.timeout = timeout

    def flow_offload_fixup_ct(self, conn: Conn, now: int) -> None:
        """flow_offload_fixup_ct (5.18-6.13): clear IPS_OFFLOAD; the ct timeout becomes the state
        timeout minus the offload timeout (TCP: timeouts[state]; UDP: the replied timeout, or from
        6.3 the unreplied one when no reply was seen), floored at 0, if shorter than what
        remains. While offloaded, the ct gc_worker kept the timeout half a day away at least."""
        cfg = self.cfg
        conn.offload = False
        if conn.deadline - now < DAY // 2:
            conn.deadline = now + DAY
        timeout = None
        if conn.proto == 6:
            timeout = cfg.tcp_timeouts_s[conn.tcp_state] - cfg.flow_timeout_tcp_s
        elif conn.proto == 17:
            base = cfg.udp_timeout_stream_s
            if cfg.kernel_version >= 603 and not conn.seen_reply:
                base = cfg.udp_timeout_s
            timeout = base - cfg.flow_timeout_udp_s
        if timeout is not None:
            deadline = now + max(timeout, 0) * NS
            if deadline < conn.deadline:
                conn.deadline = deadline
        self.ct.set_deadline(conn, conn.deadline)

    def flow_offload_teardown(self, f: Flow, now: int, cause: str) -> None:
        """flow_offload_teardown: NF_FLOW_TEARDOWN (invisible to lookups), fix up the ct; the entry
        is deleted by the next GC pass."""
        if f.teardown or f.conn.flow is not f:
            return
        f.teardown = True
        f.cause = cause
        self.live -= 1
        if cause == TIMEOUT:
            f.conn.flow_expired = True
            self.stats["flows_timeout"] += 1
        elif cause == FIN_RST:
            self.stats["flows_teardown_fin_rst"] += 1
        if self.on_teardown:
            self.on_teardown(f, now)
        if cause != CT_GONE:
            self.flow_offload_fixup_ct(f.conn, now)
        self.clock.ft_arm(f, now + 1)

    def flow_offload_del(self, f: Flow) -> None:
        self.clock.ft_disarm(f)
        if f.conn.flow is f:
            f.conn.flow = None

    def ct_gone(self, conn: Conn, now: int) -> None:
        """The connection is being destroyed (early drop): its flow goes at once."""
        f = conn.flow
        if f is None:
            return
        self.flow_offload_teardown(f, now, CT_GONE)
        self.flow_offload_del(f)

    def nf_flow_offload_gc_step(self, f: Flow, tick_ns: int) -> None:
        """At a GC pass: a live flow whose timeout has passed (nf_flow_has_expired) is torn down,
        and a software flow deleted in the same pass; a torn-down flow is deleted. A flow the
        hardware forwards is first refreshed from the hardware counters
        (nf_flow_offload_stats: timeout = max(timeout, lastused + offload timeout))."""
        if f.conn.flow is not f:
            return
        if not f.teardown:
            if f.hw and self.hw_last_hit is not None:
                last = self.hw_last_hit(f.conn)
                if last is not None:
                    f.timeout = max(f.timeout, last + self.flow_offload_get_timeout(f.conn))
            if f.timeout > tick_ns:
                self.clock.ft_arm(f, f.timeout)
                return
            self.flow_offload_teardown(f, tick_ns, TIMEOUT)
        self.flow_offload_del(f)
