"""The MediaTek PPE (Packet Processing Engine) and its driver, for mode hw.

Written from ../shared/docs/hw-offload-detail.md (§ numbers below) and README "Hardware
offload"; driver functions from torvalds/linux drivers/net/ethernet/mediatek/ (mtk_ppe.c,
mtk_ppe_offload.c, mtk_eth_soc.c, mtk_wed.c). Plain and slow: one FOE table per PPE held as a
dict {slot: Foe}, the per-bucket software lists (ppe->foe_flow) reduced to an `accepted` flag
per flow direction (pyflow models no NAT and conntrack holds one entry per tuple, so
mtk_flow_entry_match "HW key equals the committed flow's key" is "the entry was learnt from
that committed direction").

The model's life-cycle of one flow direction:
  mtk_flow_offload_replace (commit)  -> refused, or linked in foe_flow[bucket] (accepted)
  each eligible packet at the PPE     -> bound hit: HFO; else learn/count an UNBIND entry
  count >= 30 in one 1-s tick         -> RATE_REACHED -> __mtk_ppe_check_skb binds it
  aging scan once per second          -> idle entries back to INVALID
  flow teardown                       -> mtk_foe_entry_clear
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from .. import presets
from ..errors import ConfigError
from . import decode as D
from .conntrack import NS, ORIG, REPLY

MS = NS // 1000

INVALID, UNBIND, BIND, FIN = "INV", "UNB", "BND", "FIN"  # MTK_FOE_STATE_*

# mtk_ppe_init_foe_table (CONFIG_SOC_MT7621): the entries crossing a 1024-byte boundary are
# STATIC, never usable (mtk_foe_entry_usable) -- §1.1
MT7621_STATIC = frozenset({12, 25, 38, 51, 76, 89, 102})


@dataclass
class HwConfig:
    entries: int          # FOE entries per PPE; 0: no PPE (no offload_version)
    ways: int             # hash_offset
    ppe_count: int        # ppe_num
    ipv6: bool
    mt7621_static: bool
    wed_version: int
    wed_2g: bool
    bind_rate: int = 30          # mtk_ppe_start: MTK_PPE_BIND_RATE_BIND
    check_interval_ns: int = 100 * MS  # mtk_ppe_check_skb: HZ / 10 per slot
    age_unbind_s: int = 3        # UNBIND_AGE DELTA
    age_udp_s: int = 12          # BIND_AGE0 UDP
    age_tcp_s: int = 7           # BIND_AGE1 TCP
    age_tcp_fin_s: int = 1       # BIND_AGE1 TCP_FIN


def hw_config(cfg, soc_name: str, ppe_entries: Optional[int], wed_2g: bool) -> HwConfig:
    """The SoC preset (presets.SOCS, §1.1, §10) with the option overrides of pyflow.Options."""
    if soc_name not in presets.SOCS:
        raise ConfigError(f"soc must be one of {', '.join(presets.SOCS)}, not {soc_name!r}")
    soc = presets.SOCS[soc_name]
    entries = presets.foe_entries(cfg.kernel_version) if soc.has_ppe else 0
    if ppe_entries is not None:
        if not soc.has_ppe:
            raise ConfigError(f"{soc.name} has no PPE: ppe_entries does not apply")
        entries = ppe_entries
        if entries and (entries & (entries - 1) or entries < soc.ways):
            raise ConfigError("ppe_entries must be a power of two >= the ways per bucket")
    return HwConfig(entries=entries, ways=soc.ways, ppe_count=soc.ppe_count, ipv6=soc.ipv6,
                    # the STATIC slots belong to the real 8K/16K MT7621 table, not a study size
                    mt7621_static=soc.mt7621_static and ppe_entries is None,
                    wed_version=soc.wed_version, wed_2g=bool(wed_2g))


# ---- hash ----------------------------------------------------------------------------------
def mtk_ppe_hash_entry(l3: int, src: bytes, dst: bytes, sport: int, dport: int,
                       entries: int, ways: int) -> int:
    """mtk_ppe.c:mtk_ppe_hash_entry (§1.2): the first slot of the bucket of one direction's key.
    Words are host order (be32_to_cpu); on these little-endian SoCs ports = sport << 16 | dport.
    IPv4 HNAPT: hv1 = ports, hv2 = dst, hv3 = src. IPv6 5T: XORs of the address words."""
    M = 0xFFFFFFFF
    ports = (sport << 16 | dport) & M
    if l3 == 6:
        s = [int.from_bytes(src[4 * i:4 * i + 4], "big") for i in range(4)]
        d = [int.from_bytes(dst[4 * i:4 * i + 4], "big") for i in range(4)]
        hv1 = s[3] ^ d[3] ^ ports
        hv2 = s[2] ^ d[2] ^ d[0]
        hv3 = s[1] ^ d[1] ^ s[0]
    else:
        hv1 = ports
        hv2 = int.from_bytes(dst[:4], "big")
        hv3 = int.from_bytes(src[:4], "big")
    h = (hv1 & hv2) | (~hv1 & M & hv3)
    h = ((h << 8) | (h >> 24)) & M          # rotate left by 8
    h ^= hv1 ^ hv2 ^ hv3
    h ^= h >> 16
    h = (h << (ways.bit_length() - 1)) & M  # << log2(hash_offset)
    return h & (entries - 1)


# ---- state -----------------------------------------------------------------------------------
class Foe:
    """One FOE slot (struct mtk_foe_entry, the fields the model needs)."""
    __slots__ = ("state", "owner", "count", "tick", "last_hit", "static")

    def __init__(self, static: bool):
        self.state = INVALID
        self.owner: Optional["HwDir"] = None
        self.count = 0        # MTK_FOE_IB1_UNBIND_PACKETS in `tick`
        self.tick = None      # the PPE's 1-s timestamp the count belongs to
        self.last_hit = 0     # UNBIND: last packet; BIND/FIN: bind time, then every hit
        self.static = static  # MTK_FOE_IB1_STATIC

    @property
    def bound(self) -> bool:
        return self.state in (BIND, FIN)


class HwDir:
    """One direction of an offloaded flow as the driver and the PPE know it."""
    __slots__ = ("committed", "accepted", "learns", "refused", "aged", "udp", "bucket", "slot",
                 "last_hfo")

    def __init__(self):
        self.committed = False  # mtk_flow_offload_replace ran
        self.accepted = False   # linked in foe_flow[bucket]
        self.learns = False     # its packets enter through a PPE
        self.refused = ""       # refusal reason ('' accepted)
        self.aged = False       # bound once, aged out, not bound again yet
        self.udp = False
        self.bucket = None      # global slot of the first way of its bucket
        self.slot = None        # global slot of its learnt FOE entry
        self.last_hfo = None    # last packet the PPE forwarded


class Ppe:
    def __init__(self, cfg, router):
        self.cfg = cfg
        self.hw: HwConfig = cfg.hw
        self.router = router
        self.stats = router.stats
        self.foe: Dict[int, Foe] = {}        # global slot -> entry (created on first use)
        self.check_time: Dict[int, int] = {}  # foe_check_time[slot]
        self.dirs: Dict[object, List[HwDir]] = {}  # conn -> [orig, reply]
        self.active = set()  # slots not INVALID
        self.bound = self.bound_peak = self.binds = self.age_outs = 0
        self.bound_sum = self.samples = 0

    def _slot(self, g: int) -> Foe:
        e = self.foe.get(g)
        if e is None:
            static = self.hw.mt7621_static and (g % self.hw.entries) % 128 in MT7621_STATIC
            e = self.foe[g] = Foe(static)
        return e

    def _dirs(self, conn) -> List[HwDir]:
        ds = self.dirs.get(conn)
        if ds is None:
            ds = self.dirs[conn] = [HwDir(), HwDir()]
        return ds

    def _invalidate(self, g: int) -> None:
        e = self.foe[g]
        if e.state == INVALID:
            return
        if e.bound:
            self.bound -= 1
        if e.owner is not None and e.owner.slot == g:
            e.owner.slot = None
        e.state, e.owner, e.count = INVALID, None, 0
        self.active.discard(g)

    # -- refusals (mtk_flow_offload_replace and mtk_wed) -----------------------------------------
    def wed_check(self, iface, ingress: bool) -> str:
        """A Wi-Fi end is offloadable only through WED (§5): mtk_flow_get_wdma_info /
        mtk_wed_setup_tc_block; the 2.4 GHz radio per the preset switch; WED v1
        (mtk_wed.c:mtk_wed_setup_tc -EOPNOTSUPP) covers Ethernet -> Wi-Fi only."""
        if self.hw.wed_version == 0 or not iface.wed:
            return "wifi_no_wed"
        if iface.band == "2g" and not self.hw.wed_2g:
            return "wed_2g_excluded"
        if ingress and self.hw.wed_version < 2:
            return "wifi_no_wed"
        return ""

    def mtk_flow_offload_replace_check(self, l3: int, n_tags: int, iif: int, oif: int):
        """(refusal reason or '', learns): why the driver refuses one direction, and whether its
        packets pass a PPE at all (an ingress Wi-Fi radio without WED RX does not)."""
        hw = self.hw
        if hw.entries == 0:
            return "hw_no_ppe", False                 # mtk_eth_setup_tc: no offload_version
        if l3 == 6 and not hw.ipv6:
            return "ppe_ipv6_unsupported", False      # addr_type switch
        if n_tags > 2:
            return "ppe_unsupported_encap", False     # mtk_foe_entry_set_vlan: -ENOSPC
        ifaces = self.cfg.ifaces
        i_in = ifaces[iif] if 0 <= iif < len(ifaces) else None
        i_out = ifaces[oif] if 0 <= oif < len(ifaces) else None
        if i_in is not None and i_in.kind == "wifi":
            r = self.wed_check(i_in, True)
            if r:
                return r, False
        if i_out is not None and i_out.kind == "wifi":
            return self.wed_check(i_out, False), True
        return "", True

    # -- commit ------------------------------------------------------------------------------------
    def commit(self, conn, d: D.Decoded, iif, oif) -> None:
        """flow_offload_add -> nf_flow_offload_add -> mtk_flow_offload_replace for both directions
        (NF_FLOW_HW_BIDIRECTIONAL). An accepted direction goes through mtk_foe_entry_commit:
        its bucket is hashed and it is linked into foe_flow[bucket]; nothing is written to the
        table and a collision never fails (§1.3). IPS_HW_OFFLOAD when >= 1 direction accepted."""
        l3, proto, addr_a, port_a, addr_b, port_b = conn.key
        n_tags = d.n_vlan + (1 if d.vlan_excess else 0)
        accepted = False
        ds = self._dirs(conn)
        for k in (ORIG, REPLY):
            self._clear(ds[k])  # a re-commit replaces the earlier state
            hd = ds[k]
            r, learns = self.mtk_flow_offload_replace_check(l3, n_tags, iif[k], oif[k])
            hd.committed, hd.refused, hd.learns, hd.udp = True, r, learns, proto == D.P_UDP
            if learns:
                from_a = conn.orig_is_a if k == ORIG else not conn.orig_is_a
                src, sport, dst, dport = ((addr_a, port_a, addr_b, port_b) if from_a
                                          else (addr_b, port_b, addr_a, port_a))
                # the PPE of the ingress GMAC (mtk_open: GMACn -> PPEn-1); the model: the
                # ingress interface index modulo the number of PPEs (README)
                ppe = (iif[k] % self.hw.ppe_count) if iif[k] >= 0 else 0
                h = mtk_ppe_hash_entry(l3, src, dst, sport, dport, self.hw.entries, self.hw.ways)
                hd.bucket = ppe * self.hw.entries + h
            if not r:
                hd.accepted = True
                accepted = True
        conn.hw_offload = accepted
        self.stats["hw_commits" if accepted else "hw_refused"] += 1

    # -- teardown -----------------------------------------------------------------------------------
    def _clear(self, hd: HwDir) -> None:
        """mtk_foe_entry_clear: unlink from foe_flow[], the slot back to INVALID. The model also
        drops an UNBIND entry learnt from it (the hardware would age it within 3 s)."""
        if hd.slot is not None:
            self._invalidate(hd.slot)
        hd.__init__()

    def on_flow_teardown(self, f, now: int) -> None:
        """nf_flow_offload_del -> mtk_flow_offload_destroy, both directions (§2.4)."""
        if not f.hw:
            return
        ds = self.dirs.pop(f.conn, None)
        if ds is not None:
            self._clear(ds[0])
            self._clear(ds[1])
        self.stats["hw_removals"] += 1

    def last_hit(self, conn) -> Optional[int]:
        """nf_flow_offload_stats -> mtk_flow_offload_stats: the last time the PPE forwarded a
        packet of the flow (either direction), None if never."""
        ds = self.dirs.get(conn)
        if ds is None:
            return None
        hits = [hd.last_hfo for hd in ds if hd.last_hfo is not None]
        return max(hits) if hits else None

    # -- packets --------------------------------------------------------------------------------------
    @staticmethod
    def unbound_reason(hd: HwDir) -> str:
        if hd.refused:
            return hd.refused
        return "hw_aged" if hd.aged else "hw_bind_pending"

    def learn(self, hd: HwDir, now: int, tick: int):
        """The PPE builds an UNBIND entry for a missed packet (SEARCH_MISS FORWARD_BUILD, §2.1).
        The way (HW-internal, §1.3, §9 step 3): an INVALID way first; else the least recently
        hit UNBIND way not hit in the current tick (c4f033d9e03e: the most active flow keeps
        its entry). BIND and STATIC ways are never taken. Returns (slot or None, all ways
        BIND/STATIC)."""
        best = None
        all_bound = True
        for g in range(hd.bucket, hd.bucket + self.hw.ways):
            e = self._slot(g)
            if e.static or e.bound:
                continue
            all_bound = False
            if e.state == INVALID:
                best = g
                break
            if e.tick == tick:
                continue
            if best is None or e.last_hit < self.foe[best].last_hit:
                best = g
        if best is None:
            return None, all_bound
        self._invalidate(best)  # an UNBIND victim's direction loses its entry
        e = self.foe[best]
        e.state, e.owner, e.count, e.tick, e.last_hit = UNBIND, hd, 0, tick, now
        hd.slot = best
        self.active.add(best)
        return best, False

    def mtk_ppe_check_skb(self, g: int, now: int) -> None:
        """RATE_REACHED -> mtk_ppe_check_skb (at most once per slot every 100 ms) ->
        __mtk_ppe_check_skb: nothing if the slot is bound; else if a software entry of the
        bucket matches the HW key (the owner direction is linked), write it BIND with the
        current timestamp."""
        last = self.check_time.get(g)
        if last is not None and now - last < self.hw.check_interval_ns:
            return
        self.check_time[g] = now
        e = self.foe[g]
        if e.bound or not e.owner.accepted:
            return
        e.state, e.last_hit = BIND, now
        e.owner.aged = False
        self.binds += 1
        self.bound += 1
        self.bound_peak = max(self.bound_peak, self.bound)

    def packet(self, conn, dir_: int, now: int, eligible: bool, tcp_flags: int):
        """A packet of an hw flow's direction reaches the PPE (§9 steps 1-4). (True, reason)
        when the PPE forwards it (HFO), else (False, the reason it is not HFO)."""
        ds = self.dirs.get(conn)
        hd = ds[dir_] if ds is not None else None
        if hd is None or not hd.committed:
            return False, "hw_bind_pending"
        if not hd.learns:
            return False, hd.refused or "hw_no_ppe"   # enters from the CPU side: no PPE lookup
        syn_fin_rst = not hd.udp and bool(tcp_flags & (D.TCP_SYN | D.TCP_FIN | D.TCP_RST))
        e = self.foe[hd.slot] if hd.slot is not None else None
        if e is not None and e.bound:
            if eligible:
                e.last_hit = now
                hd.last_hfo = now
                return True, "hw_forwarded"
            # a bound entry punts SYN/FIN/RST, TTL, fragments, options, MTU (§2.6); a TCP FIN
            # moves it to the FIN state (HIT_BIND_TCP_FIN, aged after 1 s)
            if not hd.udp and tcp_flags & D.TCP_FIN:
                e.state, e.last_hit = FIN, now
            return False, "tcp_fin_rst" if syn_fin_rst else "hw_bind_pending"
        if not eligible:
            # punted before lookup: no learning, no count
            return False, "tcp_fin_rst" if syn_fin_rst and not hd.refused else self.unbound_reason(hd)
        tick = now // NS  # the PPE's timestamp: whole seconds
        g = hd.slot
        if g is None:
            g, all_bound = self.learn(hd, now, tick)
            if g is None:
                if hd.refused:
                    return False, hd.refused
                return False, "ppe_bucket_full" if all_bound else self.unbound_reason(hd)
            e = self.foe[g]
        # UNBIND hit: packets per 1-s tick (tumbling window, §2.3)
        if e.tick != tick:
            e.tick, e.count = tick, 0
        e.count += 1
        e.last_hit = now
        reason = self.unbound_reason(hd)
        if e.count >= self.hw.bind_rate:
            self.mtk_ppe_check_skb(g, now)
            if e.bound:
                reason = "hw_bind_pending"  # the RATE_REACHED packet itself went to the CPU
        return False, reason

    # -- aging -------------------------------------------------------------------------------------
    def age_limit_ns(self, e: Foe) -> int:
        """mtk_ppe_start: UNBIND_AGE 3 s, BIND_AGE0 UDP 12 s, BIND_AGE1 TCP 7 s / TCP_FIN 1 s."""
        hw = self.hw
        if e.state == UNBIND:
            s = hw.age_unbind_s
        elif e.state == FIN:
            s = hw.age_tcp_fin_s
        else:
            s = hw.age_udp_s if e.owner.udp else hw.age_tcp_s
        return s * NS

    def aging_scan(self, now: int) -> None:
        """The PPE's aging scan (SCAN_MODE CHECK_AGE, §2.5) for the tick at `now`: an entry idle
        longer than its limit returns to INVALID. An aged bound direction stays linked in the
        driver, relearns and must reach the rate again. Then the occupancy sample."""
        for g in sorted(self.active):
            e = self.foe[g]
            if now - e.last_hit > self.age_limit_ns(e):
                if e.bound:
                    self.age_outs += 1
                    e.owner.aged = True
                self._invalidate(g)
        self.bound_sum += self.bound
        self.samples += 1

    def run_ticks(self, clock, first: int, last: int) -> None:
        """The 1-s PPE ticks first..last (after the flowtable and conntrack passes of each)."""
        t = first
        while t <= last:
            if not self.active:
                self.samples += last - t + 1  # nothing left to age: the rest are empty samples
                return
            self.aging_scan(clock.origin + t * NS)
            t += 1
