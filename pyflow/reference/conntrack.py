"""nf_conntrack, as the reference model sees it (net/netfilter/nf_conntrack_core.c and
nf_conntrack_proto_{tcp,udp,icmp,generic}.c, repository torvalds/linux).

pyflow models no NAT, so a connection's reply tuple is the inverse of its original tuple and one
table entry per connection stands for the kernel's two tuplehash entries. An entry is found by
its canonical key: the two endpoints in a fixed order (smaller (address, port) first).
"""
from __future__ import annotations

import struct
from typing import Dict, List, Optional, Tuple

from . import decode as D

NS = 1_000_000_000
ORIG, REPLY = 0, 1  # IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY

# enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h)
(sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2, sRETRANS, sUNACK) = range(12)
sIV, sIG = "invalid", "ignore"  # TCP_CONNTRACK_MAX, TCP_CONNTRACK_IGNORE
TCP_STATE_NAMES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
                   "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2", "RETRANS", "UNACK"]

# get_conntrack_index: the packet's row in tcp_conntracks
SYN_SET, SYNACK_SET, FIN_SET, ACK_SET, RST_SET, NONE_SET = range(6)

# nf_conntrack_proto_tcp.c: tcp_conntracks[direction][packet index][old state], current kernels.
#                 sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
TCP_CONNTRACKS = (
    (  # ORIGINAL
        (sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2),  # syn
        (sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR),  # synack
        (sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV),  # fin
        (sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV),  # ack
        (sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL),  # rst
        (sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV),  # none
    ),
    (  # REPLY
        (sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2),  # syn
        (sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR),  # synack
        (sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV),  # fin
        (sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG),  # ack
        (sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL),  # rst
        (sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV),  # none
    ),
)


def get_conntrack_index(flags: int) -> int:
    """nf_conntrack_proto_tcp.c:get_conntrack_index."""
    if flags & D.TCP_RST:
        return RST_SET
    if flags & D.TCP_SYN:
        return SYNACK_SET if flags & D.TCP_ACK else SYN_SET
    if flags & D.TCP_FIN:
        return FIN_SET
    if flags & D.TCP_ACK:
        return ACK_SET
    return NONE_SET


_F, _S, _R, _A, _U = D.TCP_FIN, D.TCP_SYN, D.TCP_RST, D.TCP_ACK, D.TCP_URG
TCP_VALID_FLAGS = {_S, _S | _U, _S | _A, _R, _R | _A, _F | _A, _F | _A | _U, _A, _A | _U}


def tcp_error(flags: int) -> bool:
    """tcp_error -> tcp_valid_flags: True when the flag combination is invalid (PSH, ECE, CWR
    are ignored)."""
    return (flags & 0x37) not in TCP_VALID_FLAGS


def icmp_is_request(proto: int, icmp_type: int) -> bool:
    """icmp_new / icmpv6_new: only requests may create an entry (echo, timestamp, info,
    address mask; ICMPv6 echo and MLD query)."""
    if proto == D.P_ICMP:
        return icmp_type in (8, 13, 15, 17)
    return icmp_type in (128, 130)


# ---- the connection key ------------------------------------------------------------------
Key = Tuple[int, int, bytes, int, bytes, int]  # l3, proto, addr_a, port_a, addr_b, port_b


def make_key(l3: int, proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> Tuple[Key, bool]:
    """Canonical key and whether the packet goes a -> b. ICMP tuples (icmp_pkt_to_tuple) are
    (type, code, id); a request and its reply share the id: both 'ports' are the id."""
    if proto in (D.P_ICMP, D.P_ICMP6):
        dport = sport
    if (src, sport) <= (dst, dport):
        return (l3, proto, src, sport, dst, dport), True
    return (l3, proto, dst, dport, src, sport), False


def key_from_packet(d: D.Decoded) -> Tuple[Key, bool]:
    return make_key(d.l3, d.l4proto, d.src, d.sport, d.dst, d.dport)


def key_from_icmp_error(d: D.Decoded) -> Tuple[Key, bool]:
    """nf_conntrack_inet_error: the quoted packet went the other way; the error travels like a
    reply to it."""
    key, quoted_is_a = make_key(d.l3, d.inner_l4proto, d.inner_src, d.inner_sport, d.inner_dst,
                                d.inner_dport)
    return key, not quoted_is_a


def _mix64(h: int) -> int:
    m = (1 << 64) - 1
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & m
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & m
    h ^= h >> 33
    return h


def key_hash(key: Key) -> int:
    """The table hash. The kernel hashes with a per-boot random seed (hash_conntrack_raw,
    siphash); pyflow fixes the function so that runs are reproducible, and early_drop's victims
    (which depend on the hash neighbourhood) are part of the model. This is the documented
    model hash (csrc/conntrack.c key_hash): the 40-byte key record (both 16-byte addresses, both
    ports little-endian, l3, proto, 2 pad bytes) read as five little-endian 64-bit words, each
    xored with a constant and multiplied, rotated by 0/7/17/29/41 bits and xored together, then
    h ^= h >> 32; h *= 0xd6e8feb86659fd93; h ^= h >> 29; the low 32 bits."""
    l3, proto, a, pa, b, pb = key
    raw = a + b + struct.pack("<HHBBxx", pa, pb, l3, proto)
    w = [x for (x,) in struct.iter_unpack("<Q", raw)]
    m = (1 << 64) - 1
    k = [(0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9), (0x94D049BB133111EB, 0x9E3779B97F4A7C15),
         (0xBF58476D1CE4E5B9, 0x94D049BB133111EB), (0x2545F4914F6CDD1D, 0xBF58476D1CE4E5B9),
         (0x9E3779B97F4A7C15, 0x94D049BB133111EB)]
    v = [((w[i] ^ k[i][0]) * k[i][1]) & m for i in range(5)]

    def ror(x: int, r: int) -> int:
        return ((x >> r) | (x << (64 - r))) & m if r else x

    h = v[0] ^ ror(v[1], 7) ^ ror(v[2], 17) ^ ror(v[3], 29) ^ ror(v[4], 41)
    h ^= h >> 32
    h = (h * 0xD6E8FEB86659FD93) & m
    h ^= h >> 29
    return h & 0xFFFFFFFF


# ---- the entry ---------------------------------------------------------------------------
class Conn:
    """struct nf_conn, reduced to what decides paths."""

    __slots__ = ("key", "orig_is_a", "id", "created", "deadline", "confirmed", "seen_reply",
                 "assured", "offload", "hw_offload", "tcp_state", "close_init", "last_dir",
                 "last_index", "paths_seen", "flow_expired", "iface", "flow", "alive",
                 "arm_tick", "bucket", "maxack", "last_end")

    def __init__(self, key: Key, orig_is_a: bool, cid: int, now: int, bucket: int):
        self.key = key
        self.orig_is_a = orig_is_a
        self.id = cid
        self.created = now
        self.deadline = 0
        self.confirmed = self.seen_reply = self.assured = False
        self.offload = self.hw_offload = False      # IPS_OFFLOAD, IPS_HW_OFFLOAD
        self.tcp_state = sNO
        self.close_init = [False, False]            # IP_CT_TCP_FLAG_CLOSE_INIT per direction
        self.last_dir = 0
        self.last_index = 0
        self.paths_seen = set()
        self.flow_expired = False  # its last flowtable entry ended by idle timeout
        self.iface = [-1, -1]      # ingress interface seen per direction
        self.flow = None           # flowtable entry (live or torn down, until deleted)
        self.alive = True
        self.arm_tick = None       # GC tick at which the reaper looks at it
        self.bucket = bucket
        self.maxack = [None, None]  # td_maxack per direction (None: MAXACK_SET clear)
        self.last_end = 0          # last_end of the last tracked segment

    @property
    def proto(self) -> int:
        return self.key[1]

    def direction(self, pkt_is_a: bool) -> int:
        return ORIG if pkt_is_a == self.orig_is_a else REPLY

    def expired(self, now: int) -> bool:
        """nf_ct_is_expired; an offloaded entry never expires (nf_ct_offload_timeout)."""
        return not self.offload and self.confirmed and now >= self.deadline

    def tcp_established(self) -> bool:
        """nf_conntrack_tcp_established: ESTABLISHED and ASSURED."""
        return self.tcp_state == sES and self.assured


# verdicts of nf_conntrack_in
CT_OK, CT_INVALID, CT_FULL, CT_UNTRACKED = "ok", "invalid", "full", "untracked"
TCP_ACCEPT, TCP_INVALID, TCP_REPEAT = "accept", "invalid", "repeat"


class Conntrack:
    def __init__(self, cfg, clock):
        self.cfg = cfg
        self.clock = clock  # arms the GC reaper (see router.Clock)
        self.max = cfg.ct_max
        nb = 1
        while nb < self.max:
            nb <<= 1
        self.nbuckets = nb
        self.table: Dict[Key, Conn] = {}
        self.buckets: Dict[int, List[Conn]] = {}
        self.count = 0
        self.next_id = 1
        self.early_drops = 0
        self.on_evict = None  # flowtable callback for an offloaded entry that is early-dropped

    # -- table ------------------------------------------------------------------------------
    def lookup(self, key: Key, now: int) -> Optional[Conn]:
        """__nf_conntrack_find_get: an expired entry is not returned."""
        c = self.table.get(key)
        if c is None or c.expired(now):
            return None
        return c

    def free(self, c: Conn) -> None:
        if not c.alive:
            return
        c.alive = False
        c.arm_tick = None
        del self.table[c.key]
        self.buckets[c.bucket].remove(c)
        self.count -= 1

    def alloc(self, key: Key, is_a: bool, now: int) -> Conn:
        """init_conntrack / __nf_conntrack_alloc: a new unconfirmed entry."""
        b = key_hash(key) & (self.nbuckets - 1)
        c = Conn(key, is_a, self.next_id, now, b)
        self.next_id += 1
        self.table[key] = c
        self.buckets.setdefault(b, []).insert(0, c)
        self.count += 1
        return c

    def set_deadline(self, c: Conn, deadline: int) -> None:
        """ct->timeout = deadline; the reaper looks at it then, unless it is offloaded."""
        c.deadline = deadline
        if c.offload:
            self.clock.ct_disarm(c)
        else:
            self.clock.ct_arm(c, deadline)

    def early_drop(self, hash_: int, now: int) -> int:
        """nf_conntrack_core.c:early_drop / early_drop_list: look at up to 8 buckets from the new
        tuple's bucket; in the first one that yields a victim, every confirmed entry without
        IPS_ASSURED is dropped (expired entries met on the way are reaped, not counted).
        Offloaded entries are skipped before 6.3 and eligible from 6.3 (allow early drop of
        offloaded UDP conns)."""
        dropped = 0
        for k in range(8):
            if dropped:
                break
            b = (hash_ + k) & (self.nbuckets - 1)
            for c in list(self.buckets.get(b, ())):
                if c.expired(now):
                    self.free(c)
                elif (not c.assured and c.confirmed
                      and (not c.offload or self.cfg.kernel_version >= 603)):
                    if c.offload and self.on_evict:
                        self.on_evict(c)
                    self.free(c)
                    self.early_drops += 1
                    dropped += 1
        return dropped

    def confirm(self, c: Conn) -> None:
        """__nf_conntrack_confirm at POSTROUTING."""
        c.confirmed = True
        self.set_deadline(c, c.deadline)

    # -- L4 trackers --------------------------------------------------------------------------
    def tcp_new(self, flags: int) -> bool:
        """tcp_new: a SYN opens an entry; a mid-stream packet only with nf_conntrack_tcp_loose."""
        st = TCP_CONNTRACKS[ORIG][get_conntrack_index(flags)][sNO]
        if st == sSS:
            return True
        if st == sES:
            return bool(self.cfg.tcp_loose)
        return False

    def nf_conntrack_tcp_packet(self, c: Conn, dir_: int, d: D.Decoded, now: int) -> str:
        """The state machine (tcp_conntracks) and timeouts; window tracking is not modelled
        (every segment is in window). Returns accept / invalid / repeat (an RFC 1122 reopen:
        the old entry is killed and the packet looked up again: -NF_REPEAT)."""
        to = self.cfg.tcp_timeouts_s
        index = get_conntrack_index(d.tcp_flags)
        old = c.tcp_state
        new = TCP_CONNTRACKS[dir_][index][old if old < 10 else 0]
        if new == sSS and old >= sTW:
            if c.close_init[0] or c.close_init[1] or (c.last_dir == dir_ and c.last_index == RST_SET):
                return TCP_REPEAT
        if new == sIG or (new == sSS and old >= sTW):
            # ignored: accepted without a state change or a timeout refresh
            c.last_index, c.last_dir = index, dir_
            return TCP_ACCEPT
        if new == sIV:
            return TCP_INVALID
        if new == sCL and index == RST_SET:
            verdict = self.tcp_rst_check(c, dir_, d, old)
            if verdict == "invalid":
                return TCP_INVALID
            if verdict == "keep":
                new = old
        self.tcp_in_window(c, dir_, d)
        c.last_index, c.last_dir = index, dir_
        c.tcp_state = new
        if old != new and new == sFW:
            c.close_init[dir_] = True
        if index == RST_SET:
            timeout = to[sCL]
        elif d.tcp_window == 0 and to[new] > to[sRETRANS]:
            timeout = to[sRETRANS]  # last_win == 0
        else:
            timeout = to[new]
        if not c.seen_reply:
            if d.tcp_flags & D.TCP_RST:
                # "If only reply is a RST, we can consider ourselves not to have an established
                # connection": the entry dies now
                c.deadline = now
                return TCP_ACCEPT
            if new == sES and timeout > to[sUNACK]:
                timeout = to[sUNACK]
        elif not c.assured and old in (sSR, sES) and new == sES:
            c.assured = True  # a valid ACK in ESTABLISHED after SYN_RECV, or a picked-up answer
        c.deadline = now + timeout * NS
        return TCP_ACCEPT

    @staticmethod
    def tcp_rst_check(c: Conn, dir_: int, d: D.Decoded, old: int) -> str:
        """nf_conntrack_tcp_packet, case TCP_CONNTRACK_CLOSE for an RST: "close", "keep" (the
        state stays: "RST sequence number doesn't match exactly, keep established state to
        allow a possible challenge ACK") or "invalid" ("invalid rst")."""
        if old in (sFW, sCW, sLA, sTW, sCL):
            return "close"  # tcp_can_early_drop: validation skipped in closing states
        peer_maxack = c.maxack[1 - dir_]
        if peer_maxack is None or c.last_index == SYN_SET:
            return "close"
        seq = d.tcp_seq
        established = c.tcp_state == sES and c.assured
        if seq == 0 and not established:
            return "close"
        if ((seq - peer_maxack) & 0xFFFFFFFF) >= 0x80000000:  # before(seq, td_maxack)
            return "invalid"
        if not established or seq == peer_maxack:
            return "close"
        if c.last_index == ACK_SET and c.last_dir == dir_ and seq == c.last_end:
            return "close"  # the RST ends a train of this direction's segments
        return "keep"

    @staticmethod
    def tcp_in_window(c: Conn, dir_: int, d: D.Decoded) -> None:
        """tcp_in_window, reduced: every segment is in window; it records the sender's highest
        ACK (td_maxack, MAXACK_SET) and the segment's end (last_end)."""
        if d.tcp_flags & D.TCP_ACK:
            cur = c.maxack[dir_]
            delta = (d.tcp_ack - cur) & 0xFFFFFFFF if cur is not None else 0
            if cur is None or 0 < delta < 0x80000000:  # after(ack, td_maxack)
                c.maxack[dir_] = d.tcp_ack
        # last_end is kept by the retransmission check, for ACK-type segments only
        if get_conntrack_index(d.tcp_flags) == ACK_SET:
            end = d.tcp_seq + d.tcp_payload + (1 if d.tcp_flags & D.TCP_SYN else 0) + (1 if d.tcp_flags & D.TCP_FIN else 0)
            c.last_end = end & 0xFFFFFFFF

    def nf_conntrack_udp_packet(self, c: Conn, now: int) -> None:
        """nf_conntrack_proto_udp.c: unreplied timeout until a reply; then, once the entry is more
        than 2 s old (stream_ts, 5.19+; before: at once), the stream timeout and ASSURED."""
        cfg = self.cfg
        if c.seen_reply:
            extra, stream = cfg.udp_timeout_s, False
            if cfg.kernel_version < 519 or now > c.created + 2 * NS:
                extra, stream = cfg.udp_timeout_stream_s, not c.assured
            c.deadline = now + extra * NS
            if stream:
                c.assured = True
        else:
            c.deadline = now + cfg.udp_timeout_s * NS

    # -- nf_conntrack_in ------------------------------------------------------------------------
    def nf_conntrack_in(self, d: D.Decoded, now: int):
        """Returns (verdict, conn, direction, is_new)."""
        tcp, udp = d.l4proto == D.P_TCP, d.l4proto == D.P_UDP
        icmp = d.l4proto in (D.P_ICMP, D.P_ICMP6)
        if (tcp or udp or icmp) and not d.has_l4:
            return CT_UNTRACKED, None, 0, False
        if tcp and (tcp_error(d.tcp_flags) or d.tcp_bad_doff):
            return CT_INVALID, None, 0, False
        key, is_a = key_from_packet(d)
        is_new = False
        for attempt in range(2):
            c = self.lookup(key, now)
            if c is None:
                if tcp and not self.tcp_new(d.tcp_flags):
                    return CT_INVALID, None, 0, False
                if icmp and not icmp_is_request(d.l4proto, d.icmp_type):
                    return CT_INVALID, None, 0, False
                old = self.table.get(key)
                if old is not None and old.expired(now):
                    self.free(old)  # nf_ct_gc_expired on the way
                if self.count >= self.max:
                    self.early_drop(key_hash(key), now)
                    if self.count >= self.max:
                        return CT_FULL, None, 0, False  # "table full, dropping packet"
                c = self.alloc(key, is_a, now)
                is_new = True
            dir_ = c.direction(is_a)
            if tcp:
                r = self.nf_conntrack_tcp_packet(c, dir_, d, now)
                if r == TCP_REPEAT and attempt == 0 and not c.offload:
                    self.free(c)  # nf_ct_kill, then the packet is looked up again
                    continue
                if r == TCP_INVALID:
                    if is_new:
                        self.free(c)
                    return CT_INVALID, None, 0, False
            elif udp:
                self.nf_conntrack_udp_packet(c, now)
            elif icmp:
                c.deadline = now + self.cfg.icmp_timeout_s * NS
            else:
                c.deadline = now + self.cfg.generic_timeout_s * NS  # nf_conntrack_generic
            if dir_ == REPLY:
                c.seen_reply = True  # IPS_SEEN_REPLY, set after the L4 handler
            if c.confirmed:
                self.set_deadline(c, c.deadline)
            return CT_OK, c, dir_, is_new
        return CT_INVALID, None, 0, False

    # -- GC -------------------------------------------------------------------------------------
    def gc_expire(self, c: Conn, tick_ns: int) -> None:
        """gc_worker: reap an entry whose timeout has passed (offloaded ones are skipped)."""
        if not c.alive or c.offload:
            return
        if c.deadline > tick_ns:
            self.clock.ct_arm(c, c.deadline)
            return
        self.free(c)
