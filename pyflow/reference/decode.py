"""Packet decoding for the reference model: link layer -> IPv4/IPv6 -> TCP/UDP/ICMP.

Protocol numbers and ethertypes come from dpkt; header layouts from the RFCs cited per function.
dpkt's packet classes are not used for the byte walk itself: they decode payloads eagerly,
raise on short headers and handle VLAN/PPPoE/802.11 their own way, while pyflow documents a
precise contract for every malformed case (csrc/decode.h, csrc/record.h):

- the status is one of ok / not_ip / truncated (headers up to L3 do not fit the captured bytes) /
  bad_header (impossible header) / unsupported_link;
- L4 problems never change the status: they leave `has_l4` False and set `l4_truncated`;
- ICMP echo uses the identifier as the source port (nf_conntrack_proto_icmp.c tuple);
- ICMP errors carry the quoted packet's tuple (`inner_*`) when the quote is long enough.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import dpkt

ET_IPV4 = dpkt.ethernet.ETH_TYPE_IP            # 0x0800
ET_IPV6 = dpkt.ethernet.ETH_TYPE_IP6           # 0x86DD
ET_VLAN = dpkt.ethernet.ETH_TYPE_8021Q         # 0x8100
ET_QINQ = dpkt.ethernet.ETH_TYPE_8021AD        # 0x88A8
ET_QINQ_OLD = 0x9100                           # pre-standard S-tag
ET_PPPOE_SESS = dpkt.ethernet.ETH_TYPE_PPPoE   # 0x8864
PPP_IP, PPP_IPV6 = dpkt.ppp.PPP_IP, dpkt.ppp.PPP_IP6  # 0x21, 0x57

P_ICMP, P_TCP, P_UDP, P_ICMP6 = dpkt.ip.IP_PROTO_ICMP, dpkt.ip.IP_PROTO_TCP, dpkt.ip.IP_PROTO_UDP, dpkt.ip.IP_PROTO_ICMP6

# link types (https://www.tcpdump.org/linktypes.html)
LT_NULL, LT_ETHERNET, LT_RAW, LT_LOOP, LT_SLL = 0, 1, 101, 108, 113
LT_RADIOTAP, LT_IPV4, LT_IPV6, LT_SLL2 = 127, 228, 229, 276

OK, NOT_IP, TRUNCATED, BAD_HEADER, UNSUPPORTED_LINK = "ok", "not_ip", "truncated", "bad_header", "unsupported_link"

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

MAX_VLAN = 2       # tags remembered; more set vlan_excess
MAX_VLAN_WALK = 8  # more tags than this: an impossible frame
MAX_V6_EXT = 16


@dataclass
class Decoded:
    status: str = OK
    l3: int = 0
    l4proto: int = 0
    ttl: int = 0
    ip_len: int = 0
    src: bytes = b""
    dst: bytes = b""
    n_vlan: int = 0
    vlan_excess: bool = False
    pppoe: bool = False
    l2_multicast: bool = False
    ipv4_options: bool = False
    fragment: bool = False
    first_fragment: bool = False
    ipv6_ext: bool = False
    ext_loop: bool = False
    has_l4: bool = False
    l4_truncated: bool = False
    sport: int = 0
    dport: int = 0
    tcp_flags: int = 0
    tcp_window: int = 0
    tcp_seq: int = 0
    tcp_ack: int = 0
    tcp_payload: int = 0       # TCP payload bytes by the IP length
    tcp_bad_doff: bool = False
    icmp_type: int = 0
    icmp_error: bool = False
    has_inner: bool = False
    inner_l4proto: int = 0
    inner_src: bytes = b""
    inner_dst: bytes = b""
    inner_sport: int = 0
    inner_dport: int = 0

    @property
    def nonfirst_fragment(self) -> bool:
        return self.fragment and not self.first_fragment


def be16(b: bytes, o: int) -> int:
    return (b[o] << 8) | b[o + 1]


# ---- IPv6 extension headers (RFC 8200 section 4) -------------------------------------------
_V6_EXT = {0, 43, 60, 135, 44, 51}  # hop-by-hop, routing, destination, mobility, fragment, AH


def v6_ext_walk(p: bytes, cap: int, nh: int, off: int, d: Decoded):
    """Walks extension headers from `off`; returns (final next header, L4 offset). Sets the
    ipv6_ext / fragment / first_fragment / ext_loop flags of `d`."""
    count = 0
    while nh in _V6_EXT:
        if count >= MAX_V6_EXT or off > cap or cap - off < 8:
            d.ext_loop = d.ipv6_ext = True
            return nh, off
        count += 1
        d.ipv6_ext = True
        if nh == 44:  # fragment header: next, reserved, offset(13) res(2) M(1), identification
            d.fragment = True
            fo = be16(p, off + 2)
            nh = p[off]
            off += 8
            if fo & 0xFFF8:
                return nh, off  # non-first fragment: no upper-layer header follows
            d.first_fragment = True
            continue
        hlen = (p[off + 1] + 2) * 4 if nh == 51 else (p[off + 1] + 1) * 8  # AH counts 32-bit words
        nh = p[off]
        if hlen > cap - off:
            d.ext_loop = True
            return nh, off
        off += hlen
    return nh, off


# ---- ICMP (RFC 792, RFC 4443) ------------------------------------------------------------
def icmp4_is_error(t: int) -> bool:
    return t in (3, 4, 5, 11, 12)  # unreachable, source quench, redirect, time exceeded, param problem


def icmp6_is_error(t: int) -> bool:
    return 1 <= t <= 4  # unreachable, packet too big, time exceeded, parameter problem


def decode_inner(p: bytes, d: Decoded) -> None:
    """The invoking packet quoted by an ICMP error: its IP header and the first 8 bytes."""
    n = len(p)
    if n < 1:
        return
    v = p[0] >> 4
    if v == 4:
        hl = (p[0] & 0x0F) * 4
        if n < 20 or hl < 20 or hl > n:
            return
        proto = p[9]
        d.inner_src, d.inner_dst = p[12:16] + bytes(12), p[16:20] + bytes(12)
        off = hl
        nonfirst = (be16(p, 6) & 0x1FFF) != 0
    elif v == 6:
        if n < 40:
            return
        d.inner_src, d.inner_dst = p[8:24], p[24:40]
        tmp = Decoded()
        proto, off = v6_ext_walk(p, n, p[6], 40, tmp)
        if tmp.ext_loop:
            return
        nonfirst = tmp.nonfirst_fragment
    else:
        return
    d.inner_l4proto = proto
    if not nonfirst:
        l4 = p[off:]
        if proto in (P_TCP, P_UDP):
            if len(l4) < 4:
                return
            d.inner_sport, d.inner_dport = be16(l4, 0), be16(l4, 2)
        elif proto in (P_ICMP, P_ICMP6):
            t = l4[0] if l4 else 0
            echo = t in (8, 0) if proto == P_ICMP else t in (128, 129)
            if echo:
                if len(l4) < 8:
                    return
                d.inner_sport = be16(l4, 4)
    d.has_inner = True


def decode_l4(l4: bytes, plen: int, v6: bool, d: Decoded) -> None:
    cap = len(l4)
    proto = d.l4proto
    if proto == P_TCP:  # RFC 9293 3.1
        if cap < 20 or (l4[12] >> 4) < 5:
            d.l4_truncated = True
            return
        hl = (l4[12] >> 4) * 4
        d.sport, d.dport = be16(l4, 0), be16(l4, 2)
        d.tcp_flags = l4[13]
        d.tcp_window = be16(l4, 14)
        d.tcp_seq = int.from_bytes(l4[4:8], "big")
        d.tcp_ack = int.from_bytes(l4[8:12], "big")
        d.tcp_payload = max(plen - hl, 0)
        d.tcp_bad_doff = hl > plen  # tcp_error: "truncated packet" (tcplen < doff * 4)
        d.has_l4 = True
    elif proto == P_UDP:  # RFC 768
        if cap < 8:
            d.l4_truncated = True
            return
        d.sport, d.dport = be16(l4, 0), be16(l4, 2)
        d.has_l4 = True
    elif proto in (P_ICMP, P_ICMP6):
        is6 = proto == P_ICMP6
        if is6 != v6:
            return  # ICMPv6 over IPv4 / ICMP over IPv6: generic protocol
        if cap < 2:
            d.l4_truncated = True
            return
        t = l4[0]
        d.icmp_type = t
        if icmp6_is_error(t) if is6 else icmp4_is_error(t):
            d.icmp_error = True
            if cap < 8:
                d.l4_truncated = True
                return
            decode_inner(l4[8:], d)
            return
        if t in ((128, 129) if is6 else (8, 0)):  # echo request / reply
            if cap < 8:
                d.l4_truncated = True
                return
            d.sport, d.dport = be16(l4, 4), 0
            d.has_l4 = True


# ---- L3 ----------------------------------------------------------------------------------
def decode_ipv4(p: bytes, d: Decoded) -> Decoded:
    """RFC 791."""
    n = len(p)
    d.l3 = 4
    if n < 1:
        d.status = TRUNCATED
        return d
    if p[0] >> 4 != 4:
        d.status = BAD_HEADER
        return d
    hl = (p[0] & 0x0F) * 4
    if hl < 20:
        d.status = BAD_HEADER
        return d
    if n < 20 or hl > n:
        d.status = TRUNCATED
        return d
    tot = be16(p, 2)
    if tot == 0:
        tot = n  # TSO/GSO capture: total length left 0 by the stack
    elif tot < hl:
        d.status = BAD_HEADER
        return d
    d.ip_len = tot
    d.ipv4_options = hl > 20
    fo = be16(p, 6)
    d.ttl = p[8]
    d.l4proto = p[9]
    d.src, d.dst = p[12:16] + bytes(12), p[16:20] + bytes(12)
    if fo & 0x3FFF:  # MF or offset
        d.fragment = True
        if fo & 0x1FFF:
            return d
        d.first_fragment = True
    cap = min(n, tot)  # Ethernet padding is not L4
    decode_l4(p[hl:cap], tot - hl, False, d)
    return d


def decode_ipv6(p: bytes, d: Decoded) -> Decoded:
    """RFC 8200."""
    n = len(p)
    d.l3 = 6
    if n < 1:
        d.status = TRUNCATED
        return d
    if p[0] >> 4 != 6:
        d.status = BAD_HEADER
        return d
    if n < 40:
        d.status = TRUNCATED
        return d
    plen = be16(p, 4)
    tot = 40 + plen if plen else n  # 0: jumbogram / GSO capture
    d.ip_len = tot
    d.ttl = p[7]
    d.src, d.dst = p[8:24], p[24:40]
    cap = min(n, tot)
    d.l4proto, off = v6_ext_walk(p, cap, p[6], 40, d)
    if d.ext_loop or d.nonfirst_fragment:
        return d
    decode_l4(p[off:cap], max(tot - off, 0), True, d)
    return d


def decode_ip_by_version(p: bytes, d: Decoded) -> Decoded:
    if not p:
        d.status = TRUNCATED
        return d
    v = p[0] >> 4
    if v == 4:
        return decode_ipv4(p, d)
    if v == 6:
        return decode_ipv6(p, d)
    d.status = BAD_HEADER
    return d


# ---- L2 ----------------------------------------------------------------------------------
def decode_ethertype(p: bytes, off: int, et: int, d: Decoded) -> Decoded:
    """VLAN tags (802.1Q/802.1ad), 802.3 length + LLC/SNAP (RFC 1042), PPPoE session (RFC 2516)."""
    n = len(p)
    tags = 0
    while et in (ET_VLAN, ET_QINQ, ET_QINQ_OLD):
        tags += 1
        if tags > MAX_VLAN_WALK:
            d.status = BAD_HEADER
            return d
        if n - off < 4:
            d.status = TRUNCATED
            return d
        if d.n_vlan < MAX_VLAN:
            d.n_vlan += 1
        else:
            d.vlan_excess = True
        et = be16(p, off + 2)
        off += 4
    if et <= 1500:
        if n - off < 3:
            d.status = TRUNCATED
            return d
        if p[off:off + 3] != b"\xaa\xaa\x03":
            d.status = NOT_IP
            return d
        if n - off < 8:
            d.status = TRUNCATED
            return d
        if p[off + 3] != 0 or p[off + 4] != 0 or p[off + 5] not in (0, 0xF8):
            d.status = NOT_IP
            return d
        et = be16(p, off + 6)
        off += 8
    if et == ET_IPV4:
        return decode_ipv4(p[off:], d)
    if et == ET_IPV6:
        return decode_ipv6(p[off:], d)
    if et == ET_PPPOE_SESS:
        if n - off < 7:
            d.status = TRUNCATED
            return d
        if p[off] != 0x11 or p[off + 1] != 0:  # ver/type 1/1, code 0 (session data)
            d.status = BAD_HEADER
            return d
        d.pppoe = True
        off += 6
        if p[off] & 1:  # RFC 1661 2: protocol field compressed to one byte
            proto = p[off]
            off += 1
        else:
            if n - off < 2:
                d.status = TRUNCATED
                return d
            proto = be16(p, off)
            off += 2
        if proto == PPP_IP:
            return decode_ipv4(p[off:], d)
        if proto == PPP_IPV6:
            return decode_ipv6(p[off:], d)
    d.status = NOT_IP  # ARP, PPPoE discovery, LCP, MPLS, LLDP ...
    return d


def decode_ether(p: bytes, d: Decoded) -> Decoded:
    if len(p) < 14:
        d.status = TRUNCATED
        return d
    d.l2_multicast = bool(p[0] & 1)  # I/G bit of the destination MAC
    return decode_ethertype(p, 14, be16(p, 12), d)


def decode_sll_proto(p: bytes, off: int, proto: int, d: Decoded) -> Decoded:
    # below 0x0600 a Linux ETH_P_* pseudo type; only ETH_P_802_2 (4) is followed by an LLC header
    if proto < 0x0600 and proto != 4:
        d.status = NOT_IP
        return d
    return decode_ethertype(p, off, proto, d)


def decode_sll(p: bytes, d: Decoded) -> Decoded:
    """LINKTYPE_LINUX_SLL: packet type, ARPHRD, address length, address (8), protocol."""
    if len(p) < 16:
        d.status = TRUNCATED
        return d
    d.l2_multicast = be16(p, 0) in (1, 2)  # PACKET_BROADCAST, PACKET_MULTICAST
    return decode_sll_proto(p, 16, be16(p, 14), d)


def decode_sll2(p: bytes, d: Decoded) -> Decoded:
    """LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, addr."""
    if len(p) < 20:
        d.status = TRUNCATED
        return d
    d.l2_multicast = p[10] in (1, 2)
    return decode_sll_proto(p, 20, be16(p, 0), d)


def decode_null(p: bytes, loop: bool, d: Decoded) -> Decoded:
    """LINKTYPE_NULL (host-order family, either order) / LINKTYPE_LOOP (big-endian)."""
    if len(p) < 4:
        d.status = TRUNCATED
        return d
    fam = struct.unpack_from(">I", p, 0)[0]
    if not loop and fam > 0xFFFF:
        fam = struct.unpack_from("<I", p, 0)[0]
    if fam == 2:
        return decode_ipv4(p[4:], d)
    if fam in (24, 28, 30):  # AF_INET6 of NetBSD/OpenBSD, FreeBSD, Darwin
        return decode_ipv6(p[4:], d)
    d.status = NOT_IP
    return d


def decode_radiotap(p: bytes, caplen: int, wirelen: int, d: Decoded) -> Decoded:
    """Radiotap (radiotap.org) + IEEE 802.11-2020 9.2 MAC header + LLC/SNAP."""
    n = len(p)
    if n < 8:
        d.status = TRUNCATED
        return d
    if p[0] != 0:
        d.status = BAD_HEADER
        return d
    rtlen = p[2] | (p[3] << 8)
    if rtlen < 8:
        d.status = BAD_HEADER
        return d
    if rtlen > n:
        d.status = TRUNCATED
        return d
    present = struct.unpack_from("<I", p, 4)[0]
    off = 8
    fcs = False
    w, ok = present, True
    while w & 0x80000000:  # extended present bitmaps
        if rtlen - off < 4:
            ok = False
            break
        w = struct.unpack_from("<I", p, off)[0]
        off += 4
    if ok:
        if present & 1:  # TSFT u64, aligned 8
            off = (off + 7) & ~7
            off += 8
        if present & 2:  # Flags
            if off < rtlen and p[off] & 0x10:
                fcs = True
            off += 1
    end = n
    if fcs and caplen >= wirelen and end - rtlen >= 4:
        end -= 4  # frame check sequence at the end (only when nothing was snapped)
    p = p[rtlen:end]
    n = len(p)
    if n < 2:
        d.status = TRUNCATED
        return d
    fc0, fc1 = p[0], p[1]
    if fc0 & 3:
        d.status = BAD_HEADER
        return d
    ftype, subtype = (fc0 >> 2) & 3, fc0 >> 4
    if ftype != 2:
        d.status = NOT_IP  # management, control, extension
        return d
    hl = 24
    if fc1 & 3 == 3:
        hl += 6  # A4
    if subtype & 8:
        hl += 2  # QoS control
        if fc1 & 0x80:
            hl += 4  # HT control
    if n < hl:
        d.status = TRUNCATED
        return d
    da = {0: 4, 1: 16, 2: 4, 3: 16}[fc1 & 3]
    d.l2_multicast = bool(p[da] & 1)
    if subtype & 4 or fc1 & 0x40 or fc1 & 0x04 or be16(p[22:24][::-1], 0) & 0x0F:
        # null data / protected / more fragments / fragment number != 0: no plain LLC payload
        d.status = NOT_IP
        return d
    amsdu = bool(subtype & 8) and bool(p[hl - (6 if fc1 & 0x80 else 2)] & 0x80)
    p = p[hl:]
    if amsdu:  # A-MSDU: decode the first subframe (DA, SA, length)
        if len(p) < 14:
            d.status = TRUNCATED
            return d
        d.l2_multicast = bool(p[0] & 1)
        p = p[14:]
    if len(p) < 8:
        d.status = TRUNCATED
        return d
    if p[0:3] != b"\xaa\xaa\x03" or p[3] != 0 or p[4] != 0 or p[5] not in (0, 0xF8):
        d.status = NOT_IP
        return d
    et = be16(p, 6)
    if et == ET_IPV4:
        return decode_ipv4(p[8:], d)
    if et == ET_IPV6:
        return decode_ipv6(p[8:], d)
    d.status = NOT_IP
    return d


def decode(data: bytes, linktype: int, caplen: int, wirelen: int) -> Decoded:
    d = Decoded()
    if linktype == LT_ETHERNET:
        return decode_ether(data, d)
    if linktype == LT_RAW:
        return decode_ip_by_version(data, d)
    if linktype == LT_IPV4:
        return decode_ipv4(data, d)
    if linktype == LT_IPV6:
        return decode_ipv6(data, d)
    if linktype == LT_SLL:
        return decode_sll(data, d)
    if linktype == LT_SLL2:
        return decode_sll2(data, d)
    if linktype in (LT_NULL, LT_LOOP):
        return decode_null(data, linktype == LT_LOOP, d)
    if linktype == LT_RADIOTAP:
        return decode_radiotap(data, caplen, wirelen, d)
    d.status = UNSUPPORTED_LINK
    return d
