"""Craft pcap / pcapng traces for pyflow tests in a few lines.

Packets are built byte-exact with ``struct`` (checksums computed here, overridable
for corruption tests); file formats are written by hand so tests control every
field.  ``dpkt`` is only used by ``Pkt.parsed()`` for convenience.

    t = Trace()
    syn = tcp("192.168.1.10:40000", "93.184.216.34:443", "S", seq=1000)
    t.add(0, syn)
    t.add(0.010, tcp("93.184.216.34:443", "192.168.1.10:40000", "SA", seq=5000, ack=1001))
    t.write_pcap(tmp_path / "x.pcap")

Timestamps: ``int``/``float``/``Fraction``/``Decimal``/``str`` are *seconds*
relative to ``Trace.base`` (default 1_700_000_000 s); floats are converted via
their shortest repr, so ``30.000001`` is exactly 30 000 001 000 ns.  Wrap an
integer with ``ns(...)`` to give nanoseconds.  Records are written in insertion
order (never sorted), so out-of-order timestamps can be tested.
"""
from __future__ import annotations

import ipaddress
import itertools
import struct
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

__all__ = [
    "Pkt", "tcp", "udp", "icmp_echo", "icmp_error", "raw_ip",
    "ipv4_fragment", "ipv4_fragment_at", "ipv6_fragment", "ipv6_fragment_at", "ipv6_with_ext",
    "tcp_opt_mss", "tcp_opt_wscale", "tcp_opt_sack_perm", "tcp_opt_timestamps", "tcp_opt_nop",
    "Trace", "Record", "ns", "to_ns", "mac",
    "CLIENT_MAC", "ROUTER_MAC", "ROUTER_WAN_MAC", "UPSTREAM_MAC", "BROADCAST_MAC", "DEFAULT_BASE",
    "pcap_global_header", "pcap_record", "pcapng_shb", "pcapng_idb", "pcapng_epb", "pcapng_spb",
    "pcapng_block", "truncated", "pcap_header_only", "bad_magic", "pcap_with_caplen",
    "pcapng_bad_trailing_length", "pcapng_epb_unknown_interface",
    "pcapng_block_length_not_multiple_of_4",
    "LINKTYPE_NULL", "LINKTYPE_ETHERNET", "LINKTYPE_RAW", "LINKTYPE_LOOP", "LINKTYPE_LINUX_SLL",
    "LINKTYPE_IEEE802_11_RADIOTAP", "LINKTYPE_IPV4", "LINKTYPE_IPV6", "LINKTYPE_LINUX_SLL2",
]

# --------------------------------------------------------------------------- constants
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806
ETH_P_8021Q, ETH_P_8021AD, ETH_P_PPPOE_SESS = 0x8100, 0x88A8, 0x8864
PPP_IP, PPP_IPV6 = 0x0021, 0x0057
NULL_AF_INET, NULL_AF_INET6 = 2, 24  # BSD loopback families (24 = NetBSD/OpenBSD AF_INET6)

DEFAULT_BASE = 1_700_000_000
PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 = 1, 6, 17, 58
EXT_HOP, EXT_ROUTING, EXT_FRAG, EXT_DST, EXT_AH, EXT_NONE = 0, 43, 44, 60, 51, 59
_EXT_NAMES = {"hop": EXT_HOP, "dst": EXT_DST, "routing": EXT_ROUTING, "frag": EXT_FRAG}

MacLike = Union[str, bytes]


def mac(m: MacLike) -> bytes:
    """'aa:bb:cc:dd:ee:ff' / 'aabb.ccdd.eeff' / 6 bytes -> 6 bytes."""
    if isinstance(m, (bytes, bytearray)):
        if len(m) != 6:
            raise ValueError(f"MAC must be 6 bytes, got {len(m)}")
        return bytes(m)
    h = m.replace(":", "").replace("-", "").replace(".", "")
    b = bytes.fromhex(h)
    if len(b) != 6:
        raise ValueError(f"bad MAC {m!r}")
    return b


CLIENT_MAC = mac("02:00:00:00:00:10")      # LAN client (locally administered, unicast)
ROUTER_MAC = mac("02:00:00:00:00:01")      # router LAN side
ROUTER_WAN_MAC = mac("02:00:00:00:01:01")  # router WAN side
UPSTREAM_MAC = mac("02:00:00:00:01:fe")    # ISP gateway
BROADCAST_MAC = b"\xff" * 6


# --------------------------------------------------------------------------- time
class ns(int):
    """Marks an integer timestamp as nanoseconds (plain ints are seconds)."""


TsLike = Union[int, float, Fraction, Decimal, str, ns]


def to_ns(ts: TsLike) -> int:
    """Convert a timestamp (seconds, or ``ns(...)``) to integer nanoseconds, exactly."""
    if isinstance(ts, ns):
        return int(ts)
    if isinstance(ts, bool):
        raise TypeError("bool is not a timestamp")
    if isinstance(ts, int):
        return ts * 1_000_000_000
    if isinstance(ts, float):
        # float sums (0.02 + 0.031) carry binary noise: round to the nearest nanosecond
        return int((Decimal(repr(ts)) * 1_000_000_000).to_integral_value())
    elif isinstance(ts, str):
        ts = Decimal(ts)
    if isinstance(ts, Decimal):
        v = ts * 1_000_000_000
        if v != v.to_integral_value():
            raise ValueError(f"timestamp {ts} is finer than 1 ns")
        return int(v)
    if isinstance(ts, Fraction):
        v = ts * 1_000_000_000
        if v.denominator != 1:
            raise ValueError(f"timestamp {ts} is finer than 1 ns")
        return int(v)
    raise TypeError(f"unsupported timestamp type {type(ts).__name__}")


# --------------------------------------------------------------------------- checksums / addresses
def inet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement checksum."""
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip(a: str | bytes | ipaddress.IPv4Address | ipaddress.IPv6Address):
    if isinstance(a, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return a
    if isinstance(a, bytes):
        return ipaddress.ip_address(a)
    return ipaddress.ip_address(a.strip("[]"))


def _endpoint(ep) -> tuple:
    """'1.2.3.4:80', '[2001:db8::1]:80' or (addr, port) -> (ip_address, port)."""
    if isinstance(ep, tuple):
        return _ip(ep[0]), int(ep[1])
    if ep.startswith("["):
        host, _, port = ep[1:].partition("]:")
        return ipaddress.IPv6Address(host), int(port)
    host, _, port = ep.rpartition(":")
    if not host or ":" in host:
        raise ValueError(f"endpoint {ep!r} must be 'ip:port' or '[ipv6]:port'")
    return ipaddress.IPv4Address(host), int(port)


def _pseudo(src, dst, proto: int, length: int) -> bytes:
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


# --------------------------------------------------------------------------- Pkt
@dataclass(frozen=True)
class Pkt:
    """An L3 packet (IPv4 or IPv6 bytes)."""

    data: bytes

    def __bytes__(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)

    @property
    def version(self) -> int:
        return self.data[0] >> 4

    @property
    def ethertype(self) -> int:
        return ETH_P_IP if self.version == 4 else ETH_P_IPV6

    @property
    def src(self) -> str:
        return str(ipaddress.ip_address(self.data[12:16] if self.version == 4 else self.data[8:24]))

    @property
    def dst(self) -> str:
        return str(ipaddress.ip_address(self.data[16:20] if self.version == 4 else self.data[24:40]))

    @property
    def l3_header_len(self) -> int:
        """IPv4: IHL*4.  IPv6: 40 + all extension headers before the upper layer."""
        if self.version == 4:
            return (self.data[0] & 0xF) * 4
        return _v6_walk(self.data)[1]

    @property
    def proto(self) -> int:
        """Upper-layer protocol (IPv6: after extension headers)."""
        if self.version == 4:
            return self.data[9]
        return _v6_walk(self.data)[0]

    @property
    def l4(self) -> bytes:
        return self.data[self.l3_header_len:]

    def parsed(self):
        """dpkt view (dpkt.ip.IP or dpkt.ip6.IP6)."""
        import dpkt
        return dpkt.ip.IP(self.data) if self.version == 4 else dpkt.ip6.IP6(self.data)


def _v6_walk(data: bytes) -> tuple[int, int]:
    """(upper-layer proto, offset of upper layer) following the ext-header chain."""
    nh, off = data[6], 40
    while nh in (EXT_HOP, EXT_ROUTING, EXT_DST, EXT_FRAG, EXT_AH) and off + 8 <= len(data):
        if nh == EXT_FRAG:
            if struct.unpack_from("!H", data, off + 2)[0] & 0xFFF8:  # non-first fragment
                return EXT_FRAG, off
            nh, off = data[off], off + 8
        elif nh == EXT_AH:
            nh, off = data[off], off + (data[off + 1] + 2) * 4
        else:
            nh, off = data[off], off + (data[off + 1] + 1) * 8
    return nh, off


_ident = itertools.count(1)


def _ipv4(src, dst, proto: int, payload: bytes, *, ttl: int = 64, tos: int = 0, ident: int | None = None,
          df: bool = False, mf: bool = False, frag_offset: int = 0, options: bytes = b"",
          ip_csum: int | None = None, total_length: int | None = None) -> bytes:
    if len(options) % 4:
        options += b"\x00" * (4 - len(options) % 4)  # pad with EOL
    if len(options) > 40:
        raise ValueError("IPv4 options longer than 40 bytes")
    if ident is None:
        ident = next(_ident) & 0xFFFF
    if frag_offset % 8:
        raise ValueError("fragment offset must be a multiple of 8 bytes")
    ihl = 5 + len(options) // 4
    tl = ihl * 4 + len(payload) if total_length is None else total_length
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tl, ident, flags, ttl, proto, 0,
                      src.packed, dst.packed) + options
    c = inet_checksum(hdr) if ip_csum is None else ip_csum
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def _ipv6(src, dst, nh: int, payload: bytes, *, hlim: int = 64, tc: int = 0, flow: int = 0,
          payload_length: int | None = None) -> bytes:
    pl = len(payload) if payload_length is None else payload_length
    return struct.pack("!IHBB16s16s", (6 << 28) | (tc << 20) | flow, pl, nh, hlim,
                       src.packed, dst.packed) + payload


def _l3(src, dst, proto: int, l4: bytes, kw: dict) -> Pkt:
    if src.version != dst.version:
        raise ValueError("src and dst address families differ")
    if src.version == 4:
        return Pkt(_ipv4(src, dst, proto, l4, ttl=kw.pop("ttl", 64), options=kw.pop("ip_options", b""), **kw))
    if kw.pop("ip_options", b""):
        raise ValueError("ip_options is IPv4 only; use ipv6_with_ext for IPv6")
    kw = {("hlim" if k == "ttl" else k): v for k, v in kw.items()}
    return Pkt(_ipv6(src, dst, proto, l4, **kw))


def _ipkw(ttl, ip_options, extra) -> dict:
    kw = dict(extra)
    kw["ttl"] = ttl
    if ip_options:
        kw["ip_options"] = ip_options
    return kw


# --------------------------------------------------------------------------- L4 builders
_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}


def tcp_opt_nop() -> bytes:
    return b"\x01"


def tcp_opt_mss(mss: int = 1460) -> bytes:
    return struct.pack("!BBH", 2, 4, mss)


def tcp_opt_wscale(shift: int = 7) -> bytes:
    return struct.pack("!BBB", 3, 3, shift)


def tcp_opt_sack_perm() -> bytes:
    return b"\x04\x02"


def tcp_opt_timestamps(tsval: int, tsecr: int = 0) -> bytes:
    return struct.pack("!BBII", 8, 10, tsval, tsecr)


def tcp(src, dst, flags: str = "S", seq: int = 0, ack: int = 0, payload: bytes = b"", ttl: int = 64,
        ip_options: bytes = b"", window: int = 65535, *, tcp_options: bytes = b"", urp: int = 0,
        l4_csum: int | None = None, **ip_kw) -> Pkt:
    """TCP segment.  flags: letters of 'FSRPAUEC' (E=ECE, C=CWR); '' for none.

    ip_kw (IPv4): tos, ident, df, mf, frag_offset, ip_csum, total_length;
    (IPv6): tc, flow, payload_length.  ``ttl`` is the hop limit for IPv6.
    """
    (s, sp), (d, dp) = _endpoint(src), _endpoint(dst)
    fl = 0
    for ch in flags.upper():
        if ch not in _TCP_FLAGS:
            raise ValueError(f"unknown TCP flag {ch!r} in {flags!r}")
        fl |= _TCP_FLAGS[ch]
    if len(tcp_options) % 4:
        tcp_options += b"\x00" * (4 - len(tcp_options) % 4)
    off = 5 + len(tcp_options) // 4
    hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, fl,
                      window, 0, urp) + tcp_options
    seg = hdr + payload
    c = inet_checksum(_pseudo(s, d, PROTO_TCP, len(seg)) + seg) if l4_csum is None else l4_csum
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return _l3(s, d, PROTO_TCP, seg, _ipkw(ttl, ip_options, ip_kw))


def udp(src, dst, payload: bytes = b"", ttl: int = 64, ip_options: bytes = b"", *,
        l4_csum: int | None = None, udp_length: int | None = None, **ip_kw) -> Pkt:
    """UDP datagram.  l4_csum=0 disables the checksum (IPv4)."""
    (s, sp), (d, dp) = _endpoint(src), _endpoint(dst)
    ln = 8 + len(payload) if udp_length is None else udp_length
    dg = struct.pack("!HHHH", sp, dp, ln, 0) + payload
    if l4_csum is None:
        c = inet_checksum(_pseudo(s, d, PROTO_UDP, len(dg)) + dg) or 0xFFFF
    else:
        c = l4_csum
    dg = dg[:6] + struct.pack("!H", c) + dg[8:]
    return _l3(s, d, PROTO_UDP, dg, _ipkw(ttl, ip_options, ip_kw))


def _icmp_msg(s, d, typ: int, code: int, rest: bytes, body: bytes, csum: int | None) -> tuple[int, bytes]:
    msg = struct.pack("!BBH", typ, code, 0) + rest + body
    if s.version == 4:
        proto, pseudo = PROTO_ICMP, b""
    else:
        proto, pseudo = PROTO_ICMPV6, _pseudo(s, d, PROTO_ICMPV6, len(msg))
    c = inet_checksum(pseudo + msg) if csum is None else csum
    return proto, msg[:2] + struct.pack("!H", c) + msg[4:]


def icmp_echo(src, dst, ident: int = 1, seq: int = 1, reply: bool = False, payload: bytes = b"pyflow-ping",
              ttl: int = 64, *, l4_csum: int | None = None, **ip_kw) -> Pkt:
    """ICMP echo request/reply (ICMPv6 128/129 for IPv6 addresses)."""
    s, d = _ip(src), _ip(dst)
    if s.version == 4:
        typ = 0 if reply else 8
    else:
        typ = 129 if reply else 128
    proto, msg = _icmp_msg(s, d, typ, 0, struct.pack("!HH", ident, seq), payload, l4_csum)
    return _l3(s, d, proto, msg, _ipkw(ttl, b"", ip_kw))


def icmp_error(quoted: Pkt, src, type: int | None = None, code: int | None = None, dst=None, *,
               mtu: int | None = None, pointer: int | None = None, rest: int | None = None,
               quote: int | str | None = None, ttl: int = 64, l4_csum: int | None = None, **ip_kw) -> Pkt:
    """ICMP(v6) error quoting ``quoted``; family follows the quoted packet.

    Defaults: port unreachable (v4 3/3, v6 1/4); dst = quoted source.
    ``type``/``code`` use the family's own numbering (v6: 1 unreach, 2 too big, 3 time exceeded, 4 param).
    ``mtu``: v4 next-hop MTU (3/4) or v6 packet-too-big MTU.  ``pointer``: param problem pointer.
    ``rest``: raw 32-bit value after the checksum (overrides mtu/pointer).
    ``quote``: bytes of ``quoted`` to include (default: L3 header incl. options/ext headers + 8), or "all".
    """
    q = bytes(quoted)
    v = quoted.version
    if type is None:
        type, code = (3, 3) if v == 4 else (1, 4)
    code = 0 if code is None else code
    if rest is None:
        rest = 0
        if mtu is not None:
            rest = (mtu & 0xFFFF) if v == 4 else mtu
        if pointer is not None:
            rest = (pointer << 24) if v == 4 else pointer
    if quote == "all":
        n = len(q)
    elif quote is None:
        n = quoted.l3_header_len + 8
    else:
        n = int(quote)
    s = _ip(src)
    d = _ip(dst) if dst is not None else _ip(quoted.src)
    proto, msg = _icmp_msg(s, d, type, code, struct.pack("!I", rest), q[:n], l4_csum)
    return _l3(s, d, proto, msg, _ipkw(ttl, b"", ip_kw))


def raw_ip(src, dst, proto: int, payload: bytes = b"", ttl: int = 64, ip_options: bytes = b"", **ip_kw) -> Pkt:
    """IP packet with an arbitrary protocol number and payload (e.g. GRE=47, SCTP=132)."""
    return _l3(_ip(src), _ip(dst), proto, payload, _ipkw(ttl, ip_options, ip_kw))


# --------------------------------------------------------------------------- IPv4 fragmentation
def _v4_copied_options(opts: bytes) -> bytes:
    out, i = b"", 0
    while i < len(opts):
        t = opts[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        ln = opts[i + 1] if i + 1 < len(opts) else 0
        if ln < 2:
            break
        if t & 0x80:
            out += opts[i:i + ln]
        i += ln
    return out


def ipv4_fragment_at(pkt: Pkt, offset: int, length: int | None = None, more: bool | None = None,
                     *, ident: int | None = None) -> Pkt:
    """One fragment carrying pkt payload[offset:offset+length] (offset in bytes, multiple of 8).

    ``more`` defaults to "not the end of the payload" (or the original MF flag at the end).
    Useful for overlapping / out-of-order / duplicate fragment tests.
    """
    d = bytes(pkt)
    if pkt.version != 4:
        raise ValueError("ipv4_fragment_at needs an IPv4 packet")
    ihl = (d[0] & 0xF) * 4
    tl = struct.unpack_from("!H", d, 2)[0]
    payload = d[ihl:tl]
    flags = struct.unpack_from("!H", d, 6)[0]
    base = (flags & 0x1FFF) * 8
    end = len(payload) if length is None else min(len(payload), offset + length)
    if more is None:
        more = end < len(payload) or bool(flags & 0x2000)
    opts = d[20:ihl] if base + offset == 0 else _v4_copied_options(d[20:ihl])
    src, dst = ipaddress.IPv4Address(d[12:16]), ipaddress.IPv4Address(d[16:20])
    return Pkt(_ipv4(src, dst, d[9], payload[offset:end], ttl=d[8], tos=d[1],
                     ident=struct.unpack_from("!H", d, 4)[0] if ident is None else ident,
                     df=bool(flags & 0x4000), mf=more, frag_offset=base + offset, options=opts))


def ipv4_fragment(pkt: Pkt, mtu: int = 576, sizes: Sequence[int] | None = None) -> list[Pkt]:
    """Split an IPv4 packet into fragments fitting ``mtu`` (or of explicit payload ``sizes``)."""
    d = bytes(pkt)
    ihl = (d[0] & 0xF) * 4
    plen = struct.unpack_from("!H", d, 2)[0] - ihl
    if sizes is None:
        step = (mtu - ihl) // 8 * 8
        if step <= 0:
            raise ValueError(f"mtu {mtu} too small for header of {ihl} bytes")
        sizes = [step] * ((plen + step - 1) // step) or [0]
    out, off = [], 0
    for sz in sizes:
        if off >= plen and out:
            break
        out.append(ipv4_fragment_at(pkt, off, sz))
        off += sz
    if off < plen:
        out.append(ipv4_fragment_at(pkt, off))
    return out


# --------------------------------------------------------------------------- IPv6 ext headers / fragmentation
def _ext_header(kind, nh: int) -> tuple[int, bytes]:
    """Build (its protocol number, bytes) for an extension header whose next header is nh."""
    if isinstance(kind, tuple):  # (proto, body after the 2 first bytes), padded to 8
        num, body = kind
        ln = 2 + len(body)
        body += b"\x00" * ((-ln) % 8)
        return num, bytes([nh, (2 + len(body)) // 8 - 1]) + body
    num = _EXT_NAMES[kind]
    if num in (EXT_HOP, EXT_DST):
        return num, bytes([nh, 0]) + b"\x01\x04\x00\x00\x00\x00"  # PadN(4): 8 bytes
    if num == EXT_ROUTING:
        return num, bytes([nh, 0, 0, 0]) + b"\x00" * 4  # type 0, segments left 0
    return num, struct.pack("!BBHI", nh, 0, 0, 0)  # atomic fragment (offset 0, M=0)


def ipv6_with_ext(pkt: Pkt, ext: Sequence = ("hop", "dst", "routing")) -> Pkt:
    """Insert IPv6 extension headers (in the given order) after the fixed header.

    ext items: "hop", "dst", "routing" (type 0, segments left 0), "frag" (atomic fragment),
    or (proto_number, raw_body) for anything else.  Upper-layer checksum is unchanged.
    """
    d = bytes(pkt)
    if pkt.version != 6:
        raise ValueError("ipv6_with_ext needs an IPv6 packet")
    nh, chain = d[6], b""
    for kind in reversed(list(ext)):
        nh, h = _ext_header(kind, nh)
        chain = h + chain
    pl = struct.unpack_from("!H", d, 4)[0] + len(chain)
    return Pkt(d[:4] + struct.pack("!HB", pl, nh) + d[7:40] + chain + d[40:])


def _v6_unfrag_len(d: bytes) -> tuple[int, int]:
    """(offset where fragmentable part starts, index of the next-header byte to patch)."""
    nh, off, patch = d[6], 40, 6
    end, end_patch = 40, 6
    while nh in (EXT_HOP, EXT_ROUTING, EXT_DST):
        hlen = (d[off + 1] + 1) * 8
        if nh in (EXT_HOP, EXT_ROUTING):
            end, end_patch = off + hlen, off
        nh, patch, off = d[off], off, off + hlen
    return end, end_patch


def ipv6_fragment_at(pkt: Pkt, offset: int, length: int | None = None, more: bool | None = None,
                     *, ident: int = 0x12345678) -> Pkt:
    """One IPv6 fragment (Fragment header inserted) of the fragmentable part [offset:offset+length]."""
    d = bytes(pkt)
    if pkt.version != 6:
        raise ValueError("ipv6_fragment_at needs an IPv6 packet")
    if offset % 8:
        raise ValueError("fragment offset must be a multiple of 8 bytes")
    d = d[:40 + struct.unpack_from("!H", d, 4)[0]]
    uend, patch = _v6_unfrag_len(d)
    unfrag, frag = bytearray(d[:uend]), d[uend:]
    next_after = unfrag[patch]
    unfrag[patch] = EXT_FRAG
    end = len(frag) if length is None else min(len(frag), offset + length)
    if more is None:
        more = end < len(frag)
    fh = struct.pack("!BBHI", next_after, 0, offset | (1 if more else 0), ident)
    body = fh + frag[offset:end]
    unfrag[4:6] = struct.pack("!H", len(unfrag) - 40 + len(body))
    return Pkt(bytes(unfrag) + body)


def ipv6_fragment(pkt: Pkt, mtu: int = 1280, sizes: Sequence[int] | None = None,
                  *, ident: int = 0x12345678) -> list[Pkt]:
    """Split an IPv6 packet into fragments (Fragment header after hop-by-hop/routing headers)."""
    d = bytes(pkt)
    uend, _ = _v6_unfrag_len(d)
    flen = 40 + struct.unpack_from("!H", d, 4)[0] - uend
    if sizes is None:
        step = (mtu - uend - 8) // 8 * 8
        if step <= 0:
            raise ValueError(f"mtu {mtu} too small")
        sizes = [step] * ((flen + step - 1) // step) or [0]
    out, off = [], 0
    for sz in sizes:
        if off >= flen and out:
            break
        out.append(ipv6_fragment_at(pkt, off, sz, ident=ident))
        off += sz
    if off < flen:
        out.append(ipv6_fragment_at(pkt, off, ident=ident))
    return out


# --------------------------------------------------------------------------- trace records
@dataclass
class Record:
    """One captured frame.  ``ts, frame, iface = rec`` unpacks (ns, Ethernet-or-raw bytes, iface)."""

    ts_ns: int                      # absolute, nanoseconds since the epoch
    frame: bytes                    # Ethernet frame (or the raw bytes for add_raw)
    iface: int = 0
    raw: bool = False               # add_raw: written verbatim whatever the link type
    dst_mac: bytes = b""
    src_mac: bytes = b""
    l2_payload: bytes = b""         # what follows the MACs: outer ethertype onward
    l3: bytes | None = None         # innermost network packet (IP/ARP) incl. trailer
    l3_ethertype: int = 0
    pkttype: int = 0                # SLL/SLL2 packet type (0 host, 4 outgoing, ...)
    comment: str | None = None      # pcapng opt_comment
    epb_flags: int | None = None    # pcapng epb_flags (bits 0-1: 1 inbound, 2 outbound)

    def __iter__(self) -> Iterator:
        return iter((self.ts_ns, self.frame, self.iface))

    @property
    def ts(self) -> Fraction:
        return Fraction(self.ts_ns, 1_000_000_000)


def _vlan_tags(vlan) -> list[tuple[int, int]]:
    if vlan is None:
        return []
    items = [vlan] if isinstance(vlan, (int, tuple)) else list(vlan)
    out = []
    for it in items:
        vid, pcp = (it, 0) if isinstance(it, int) else it
        if not 0 <= vid <= 4095:
            raise ValueError(f"VLAN id {vid} out of range")
        out.append((vid, pcp))
    return out


def _multicast_mac(ip: str) -> bytes | None:
    a = ipaddress.ip_address(ip)
    if a.version == 4:
        if a.is_multicast:
            return b"\x01\x00\x5e" + bytes([a.packed[1] & 0x7F]) + a.packed[2:]
        if int(a) == 0xFFFFFFFF:
            return BROADCAST_MAC
    elif a.is_multicast:
        return b"\x33\x33" + a.packed[12:]
    return None


class Trace:
    """An ordered list of frames, writable as pcap or pcapng."""

    def __init__(self, base: TsLike = DEFAULT_BASE, src_mac: MacLike = CLIENT_MAC,
                 dst_mac: MacLike = ROUTER_MAC, pad: bool = False):
        self.base_ns = to_ns(base)
        self.src_mac = mac(src_mac)
        self.dst_mac = mac(dst_mac)
        self.pad = pad
        self.records: list[Record] = []

    # -- list-like
    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def _abs(self, ts: TsLike) -> int:
        v = self.base_ns + to_ns(ts)
        if v < 0:
            raise ValueError("absolute timestamp before the epoch")
        return v

    # -- adding
    def add(self, ts: TsLike, p: Pkt | Iterable[Pkt], *, vlan=None, pppoe: int | None = None,
            src_mac: MacLike | None = None, dst_mac: MacLike | None = None, iface: int = 0,
            pad: bool | None = None, trailer: bytes = b"", pkttype: int = 0,
            comment: str | None = None, epb_flags: int | None = None) -> "Trace":
        """Append an L3 packet (or a list, e.g. fragments, all at ``ts``) wrapped in Ethernet.

        vlan: id, (id, pcp) or list outer-first (outer TPID 0x88a8 when >1 tag).
        pppoe: session id -> PPPoE session header + PPP protocol.
        dst_mac default: multicast/broadcast mapping for such IP dsts, else the trace default.
        pad: pad the Ethernet frame to 60 bytes.  trailer: bytes appended after the L3 packet.
        """
        if not isinstance(p, Pkt):
            for q in p:
                self.add(ts, q, vlan=vlan, pppoe=pppoe, src_mac=src_mac, dst_mac=dst_mac, iface=iface,
                         pad=pad, trailer=trailer, pkttype=pkttype, comment=comment, epb_flags=epb_flags)
            return self
        if dst_mac is None:
            dst_mac = _multicast_mac(p.dst) or self.dst_mac
        return self._add_l2(ts, p.ethertype, bytes(p), vlan=vlan, pppoe=pppoe,
                            src_mac=src_mac, dst_mac=dst_mac, iface=iface, pad=pad, trailer=trailer,
                            pkttype=pkttype, comment=comment, epb_flags=epb_flags)

    def _add_l2(self, ts, ethertype: int, l3: bytes, *, vlan, pppoe, src_mac, dst_mac, iface, pad,
                trailer, pkttype, comment, epb_flags) -> "Trace":
        smac = mac(src_mac) if src_mac is not None else self.src_mac
        dmac = mac(dst_mac) if dst_mac is not None else self.dst_mac
        inner_type, inner = ethertype, l3 + trailer
        if pppoe is not None:
            if ethertype not in (ETH_P_IP, ETH_P_IPV6):
                raise ValueError("PPPoE carries IP only here")
            ppp = struct.pack("!H", PPP_IP if ethertype == ETH_P_IP else PPP_IPV6) + l3
            inner = struct.pack("!BBHH", 0x11, 0x00, pppoe, len(ppp)) + ppp + trailer
            inner_type = ETH_P_PPPOE_SESS
        tags = _vlan_tags(vlan)
        l2 = b""
        for i, (vid, pcp) in enumerate(tags):
            tpid = ETH_P_8021AD if (i == 0 and len(tags) > 1) else ETH_P_8021Q
            l2 += struct.pack("!HH", tpid, (pcp << 13) | vid)
        l2 += struct.pack("!H", inner_type) + inner
        frame = dmac + smac + l2
        if (self.pad if pad is None else pad) and len(frame) < 60:
            frame += b"\x00" * (60 - len(frame))
        self.records.append(Record(self._abs(ts), frame, iface, False, dmac, smac, frame[12:],
                                   l3 + trailer, ethertype, pkttype, comment, epb_flags))
        return self

    def add_raw(self, ts: TsLike, frame_bytes: bytes, iface: int = 0, *, comment: str | None = None,
                epb_flags: int | None = None) -> "Trace":
        """Append bytes written verbatim as the link-layer frame (any link type)."""
        self.records.append(Record(self._abs(ts), bytes(frame_bytes), iface, True,
                                   comment=comment, epb_flags=epb_flags))
        return self

    def arp(self, ts: TsLike, sender_ip: str = "192.168.1.10", target_ip: str = "192.168.1.1", *,
            reply: bool = False, sender_mac: MacLike | None = None, target_mac: MacLike | None = None,
            iface: int = 0, vlan=None, dst_mac: MacLike | None = None) -> "Trace":
        """Append an ARP request (broadcast) or reply (unicast to target_mac)."""
        smac = mac(sender_mac) if sender_mac is not None else self.src_mac
        tmac = mac(target_mac) if target_mac is not None else (self.dst_mac if reply else b"\x00" * 6)
        body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 2 if reply else 1, smac,
                           ipaddress.IPv4Address(sender_ip).packed, tmac,
                           ipaddress.IPv4Address(target_ip).packed)
        dmac = dst_mac if dst_mac is not None else (tmac if reply else BROADCAST_MAC)
        return self._add_l2(ts, ETH_P_ARP, body, vlan=vlan, pppoe=None, src_mac=smac, dst_mac=dmac,
                            iface=iface, pad=None, trailer=b"", pkttype=0, comment=None, epb_flags=None)

    # -- link-layer conversion
    def link_frame(self, rec: Record, linktype: int, *, ifindex: int | None = None,
                   freq: int = 2412, bssid: MacLike | None = None) -> bytes:
        """The bytes of ``rec`` as a frame of ``linktype``."""
        if rec.raw or linktype == LINKTYPE_ETHERNET:
            return rec.frame
        et, l3 = rec.l3_ethertype, rec.l3
        if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_NULL, LINKTYPE_LOOP):
            if et not in (ETH_P_IP, ETH_P_IPV6):
                raise ValueError(f"link type {linktype} cannot carry ethertype {et:#06x}")
            if linktype == LINKTYPE_IPV4 and et != ETH_P_IP or linktype == LINKTYPE_IPV6 and et != ETH_P_IPV6:
                raise ValueError(f"link type {linktype} cannot carry ethertype {et:#06x}")
            if linktype == LINKTYPE_NULL:
                return struct.pack("<I", NULL_AF_INET if et == ETH_P_IP else NULL_AF_INET6) + l3
            if linktype == LINKTYPE_LOOP:
                return struct.pack("!I", NULL_AF_INET if et == ETH_P_IP else NULL_AF_INET6) + l3
            return l3
        outer_type = struct.unpack_from("!H", rec.l2_payload)[0]
        rest = rec.l2_payload[2:]
        if linktype == LINKTYPE_LINUX_SLL:
            return struct.pack("!HHH8sH", rec.pkttype, 1, 6, rec.src_mac, outer_type) + rest
        if linktype == LINKTYPE_LINUX_SLL2:
            idx = rec.iface + 1 if ifindex is None else ifindex
            return struct.pack("!HHIHBB8s", outer_type, 0, idx, 1, rec.pkttype, 6, rec.src_mac) + rest
        if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            return _radiotap(freq) + _wifi_data(rec, mac(bssid) if bssid else ROUTER_MAC) + \
                b"\xaa\xaa\x03\x00\x00\x00" + rec.l2_payload
        raise ValueError(f"unsupported link type {linktype}")

    # -- pcap
    def pcap_bytes(self, linktype: int = LINKTYPE_ETHERNET, nanosecond: bool = False, big_endian: bool = False,
                   snaplen: int = 262144, *, ifindex: dict[int, int] | None = None,
                   freqs: dict[int, int] | None = None, bssid: MacLike | None = None) -> bytes:
        """Whole pcap file as bytes (see write_pcap)."""
        out = [pcap_global_header(linktype, nanosecond, big_endian, snaplen)]
        for r in self.records:
            f = self.link_frame(r, linktype, ifindex=(ifindex or {}).get(r.iface),
                                freq=(freqs or {}).get(r.iface, 2412), bssid=bssid)
            out.append(pcap_record(r.ts_ns, f, nanosecond, big_endian, snaplen))
        return b"".join(out)

    def write_pcap(self, path, linktype: int = LINKTYPE_ETHERNET, nanosecond: bool = False,
                   big_endian: bool = False, snaplen: int = 262144, *, ifindex: dict[int, int] | None = None,
                   freqs: dict[int, int] | None = None, bssid: MacLike | None = None) -> Path:
        """Write a classic pcap.  linktype: 1, 0, 101, 108, 113, 127, 228, 229, 276.

        caplen = min(len, snaplen); SLL2 ifindex = iface+1 unless mapped by ``ifindex``;
        radiotap channel frequency per iface from ``freqs`` (default 2412 MHz).
        """
        p = Path(path)
        p.write_bytes(self.pcap_bytes(linktype, nanosecond, big_endian, snaplen,
                                      ifindex=ifindex, freqs=freqs, bssid=bssid))
        return p

    # -- pcapng
    def pcapng_bytes(self, interfaces: Sequence[dict] | None = None, big_endian: bool = False,
                     simple: bool = False) -> bytes:
        """Whole pcapng file as bytes (see write_pcapng)."""
        if interfaces is None:
            n = max((r.iface for r in self.records), default=0) + 1
            interfaces = [{"linktype": LINKTYPE_ETHERNET, "name": f"eth{i}"} for i in range(n)]
        e = ">" if big_endian else "<"
        out = [pcapng_shb(big_endian)]
        for ifc in interfaces:
            out.append(pcapng_idb(ifc.get("linktype", LINKTYPE_ETHERNET), ifc.get("snaplen", 262144),
                                  big_endian, name=ifc.get("name"), tsresol=ifc.get("tsresol"),
                                  description=ifc.get("description")))
        for r in self.records:
            if r.iface >= len(interfaces) or r.iface < 0:
                raise ValueError(f"record on iface {r.iface} but only {len(interfaces)} interfaces")
            if simple and r.iface != 0:
                raise ValueError("simple packet blocks belong to interface 0 only")
            ifc = interfaces[r.iface]
            f = self.link_frame(r, ifc.get("linktype", LINKTYPE_ETHERNET), ifindex=ifc.get("ifindex"),
                                freq=ifc.get("freq", 2412), bssid=ifc.get("bssid"))
            snap = ifc.get("snaplen", 262144)
            if simple:
                out.append(pcapng_spb(f, big_endian, snaplen=snap))
            else:
                units = _ts_units(r.ts_ns, ifc.get("tsresol", 6))
                opts = []
                if r.comment is not None:
                    opts.append((1, r.comment.encode()))
                if r.epb_flags is not None:
                    opts.append((2, struct.pack(e + "I", r.epb_flags)))
                out.append(pcapng_epb(r.iface, units, f, big_endian, snaplen=snap, options=opts))
        return b"".join(out)

    def write_pcapng(self, path, interfaces: Sequence[dict] | None = None, big_endian: bool = False,
                     simple: bool = False) -> Path:
        """Write pcapng: SHB, one IDB per ``interfaces`` entry, then one EPB (or SPB) per record.

        Interface keys: linktype (1), name, description, tsresol (omitted -> option not written,
        readers default to 6; 9 = ns; 0x80|n = 2^-n), snaplen (262144; 0 = unlimited),
        ifindex (SLL2), freq (radiotap MHz), bssid (radiotap).
        """
        p = Path(path)
        p.write_bytes(self.pcapng_bytes(interfaces, big_endian, simple))
        return p


def _radiotap(freq: int) -> bytes:
    # present: Flags(1) Rate(2) Channel(3) dBm AntSignal(5); channel is 2-byte aligned at offset 10
    present = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5)
    chflags = 0x0040 | (0x0080 if freq < 3000 else 0x0100)  # OFDM + 2GHz/5GHz
    body = struct.pack("<BBHHb", 0x00, 12, freq, chflags, -40)
    return struct.pack("<BBHI", 0, 0, 8 + len(body), present) + body


def _wifi_data(rec: Record, bssid: bytes) -> bytes:
    if rec.src_mac == bssid:   # from the AP: FromDS, addr1=DA addr2=BSSID addr3=SA
        fc, a1, a2, a3 = 0x0208, rec.dst_mac, bssid, rec.src_mac
    else:                      # to the AP: ToDS, addr1=BSSID addr2=SA addr3=DA
        fc, a1, a2, a3 = 0x0108, bssid, rec.src_mac, rec.dst_mac
    # frame control is little-endian: byte0 = type/subtype (0x08 data), byte1 = flags
    return struct.pack("<HH6s6s6sH", fc, 0, a1, a2, a3, 0)


def _ts_units(ts_ns: int, tsresol: int | None) -> int:
    r = 6 if tsresol is None else tsresol
    if r & 0x80:
        return ts_ns * (1 << (r & 0x7F)) // 1_000_000_000
    return ts_ns * 10 ** r // 1_000_000_000


# --------------------------------------------------------------------------- raw file pieces
def pcap_global_header(linktype: int = LINKTYPE_ETHERNET, nanosecond: bool = False, big_endian: bool = False,
                       snaplen: int = 262144, *, magic: int | None = None, version: tuple[int, int] = (2, 4)) -> bytes:
    e = ">" if big_endian else "<"
    if magic is None:
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    return struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)


def pcap_record(ts_ns: int, frame: bytes, nanosecond: bool = False, big_endian: bool = False,
                snaplen: int = 262144, *, caplen: int | None = None, wirelen: int | None = None) -> bytes:
    """Record header + captured bytes. caplen/wirelen override only the header fields."""
    e = ">" if big_endian else "<"
    sec, sub = divmod(ts_ns, 1_000_000_000)
    if not nanosecond:
        sub //= 1000
    data = frame[:snaplen]
    return struct.pack(e + "IIII", sec, sub, len(data) if caplen is None else caplen,
                       len(frame) if wirelen is None else wirelen) + data


def _pad4(b: bytes) -> bytes:
    return b + b"\x00" * ((-len(b)) % 4)


def _options(opts: Sequence[tuple[int, bytes]], e: str) -> bytes:
    if not opts:
        return b""
    out = b"".join(struct.pack(e + "HH", c, len(v)) + _pad4(v) for c, v in opts)
    return out + struct.pack(e + "HH", 0, 0)


def pcapng_block(btype: int, body: bytes, big_endian: bool = False, *, length: int | None = None,
                 trailing_length: int | None = None, pad: bool = True) -> bytes:
    """Generic block; body padded to 4 unless pad=False. ``length``/``trailing_length`` override the fields."""
    e = ">" if big_endian else "<"
    if pad:
        body = _pad4(body)
    tl = 12 + len(body)
    return struct.pack(e + "II", btype, tl if length is None else length) + body + \
        struct.pack(e + "I", tl if trailing_length is None else trailing_length)


def pcapng_shb(big_endian: bool = False, *, section_length: int = -1, options=()) -> bytes:
    e = ">" if big_endian else "<"
    return pcapng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, section_length) +
                        _options(list(options), e), big_endian)


def pcapng_idb(linktype: int = LINKTYPE_ETHERNET, snaplen: int = 262144, big_endian: bool = False, *,
               name: str | None = None, tsresol: int | None = None, description: str | None = None) -> bytes:
    e = ">" if big_endian else "<"
    opts = []
    if name is not None:
        opts.append((2, name.encode()))
    if description is not None:
        opts.append((3, description.encode()))
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))
    return pcapng_block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + _options(opts, e), big_endian)


def pcapng_epb(iface: int, ts_units: int, frame: bytes, big_endian: bool = False, *, snaplen: int = 0,
               options=(), caplen: int | None = None, pad: bool = True, **block_kw) -> bytes:
    """Enhanced Packet Block; ts_units in the interface's tsresol units; snaplen 0 = unlimited."""
    e = ">" if big_endian else "<"
    data = frame[:snaplen] if snaplen else frame
    body = struct.pack(e + "IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF,
                       len(data) if caplen is None else caplen, len(frame)) + \
        (_pad4(data) if pad else data) + _options(list(options), e)
    return pcapng_block(6, body, big_endian, pad=pad, **block_kw)


def pcapng_spb(frame: bytes, big_endian: bool = False, *, snaplen: int = 0) -> bytes:
    e = ">" if big_endian else "<"
    data = frame[:snaplen] if snaplen else frame
    return pcapng_block(3, struct.pack(e + "I", len(frame)) + _pad4(data), big_endian)


# --------------------------------------------------------------------------- malformed files
def _sample_frame() -> bytes:
    t = Trace()
    t.add(0, udp("192.168.1.10:5353", "8.8.8.8:53", b"x" * 20))
    return t.records[0].frame


def _maybe_write(data: bytes, path) -> bytes:
    if path is not None:
        Path(path).write_bytes(data)
    return data


def truncated(path_in, path_out, n_bytes: int) -> bytes:
    """Copy path_in to path_out keeping the first n_bytes (negative: drop |n| bytes from the end)."""
    data = Path(path_in).read_bytes()
    return _maybe_write(data[:n_bytes], path_out)


def pcap_header_only(path=None, *, linktype: int = LINKTYPE_ETHERNET, nanosecond: bool = False,
                     big_endian: bool = False) -> bytes:
    """A valid pcap global header and no records."""
    return _maybe_write(pcap_global_header(linktype, nanosecond, big_endian), path)


def bad_magic(path=None, magic: int = 0xDEADBEEF) -> bytes:
    """A pcap-shaped file (header + one record) whose magic is neither pcap nor pcapng."""
    f = _sample_frame()
    return _maybe_write(pcap_global_header(magic=magic) + pcap_record(DEFAULT_BASE * 10**9, f), path)


def pcap_with_caplen(value: int, path=None, *, data: bytes | None = None, wirelen: int | None = None) -> bytes:
    """Valid header + one record whose caplen field is ``value``; followed by ``data`` (a real frame)."""
    f = _sample_frame() if data is None else data
    rec = pcap_record(DEFAULT_BASE * 10**9, f, caplen=value, wirelen=len(f) if wirelen is None else wirelen)
    return _maybe_write(pcap_global_header() + rec, path)


def _shb_idb() -> bytes:
    return pcapng_shb() + pcapng_idb(name="eth0")


def pcapng_bad_trailing_length(path=None) -> bytes:
    """SHB + IDB + EPB whose trailing block length differs from the leading one (+4)."""
    f = _sample_frame()
    good = pcapng_epb(0, DEFAULT_BASE * 10**6, f)
    epb = pcapng_epb(0, DEFAULT_BASE * 10**6, f, trailing_length=len(good) + 4)
    return _maybe_write(_shb_idb() + epb, path)


def pcapng_epb_unknown_interface(path=None, iface: int = 5) -> bytes:
    """SHB + one IDB + an EPB referring to interface ``iface`` (undefined)."""
    f = _sample_frame()
    return _maybe_write(_shb_idb() + pcapng_epb(iface, DEFAULT_BASE * 10**6, f), path)


def pcapng_block_length_not_multiple_of_4(path=None) -> bytes:
    """SHB + IDB + an EPB written without data padding, so its block length (both fields) is 4k+2."""
    f = _sample_frame()
    f = f if len(f) % 4 == 2 else f + b"\x00" * ((2 - len(f)) % 4)
    return _maybe_write(_shb_idb() + pcapng_epb(0, DEFAULT_BASE * 10**6, f, pad=False), path)
