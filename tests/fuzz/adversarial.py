"""Adversarial capture images (issue 9), shared by tests/test_adversarial.py and the fuzzing
seed corpus (tests/fuzz/build_corpus.py).

Every builder returns the whole file as bytes. They use tests/pcapgen.py for packets and its
low-level pcap_record / pcapng_block helpers (with their length overrides) for broken framing.
``syn_flood_pcap`` writes millions of records with ``struct`` directly (no per-packet object).
"""
from __future__ import annotations

import struct
from typing import Iterator, List, Tuple

from tests.pcapgen import (DEFAULT_BASE, LINKTYPE_ETHERNET, LINKTYPE_RAW, Trace, inet_checksum,
                           ipv6_with_ext, pcap_global_header, pcap_record, pcapng_bad_trailing_length,
                           pcapng_block, pcapng_epb, pcapng_epb_unknown_interface, pcapng_idb,
                           pcapng_shb, tcp, udp)

LAN = "192.168.1.10"
WAN = "93.184.216.34"
LAN6 = "fd00::10"
WAN6 = "2001:db8::34"
SEC = 1_000_000_000
T0 = DEFAULT_BASE * SEC
TEN_YEARS_S = 10 * 365 * 86400
PCAP_HDR = 24
REC_HDR = 16


def udp_frame(sport: int = 4000, payload: bytes = b"x" * 20, **kw) -> bytes:
    t = Trace()
    t.add(0, udp(f"{LAN}:{sport}", f"{WAN}:5004", payload, **kw))
    return t.records[0].frame


def pcap_of(frames_ts: List[Tuple[int, bytes]], snaplen: int = 262144,
            linktype: int = LINKTYPE_ETHERNET) -> bytes:
    """A classic pcap from (absolute ns timestamp, frame) pairs, records in the given order."""
    return pcap_global_header(linktype, snaplen=snaplen) + b"".join(
        pcap_record(ts, f, snaplen=1 << 31) for ts, f in frames_ts)


def udp_flow_records(n: int, ts0_ns: int, step_ns: int, sport: int = 4000) -> List[Tuple[int, bytes]]:
    """n packets of one LAN->WAN UDP flow (offloaded from its 2nd packet in mode sw)."""
    f = udp_frame(sport)
    return [(ts0_ns + i * step_ns, f) for i in range(n)]


# --------------------------------------------------------------------------- SYN flood
def syn_flood_pcap(path, n: int, pps: int = 100_000, chunk: int = 1 << 16) -> int:
    """Writes a classic (big-endian) pcap of ``n`` TCP SYNs, each a new flow: distinct source
    address and port (10.a.b.c:1024-1087 -> WAN:443, 64 ports per address), ``pps`` packets per
    second. Returns the file size (70 bytes per record).

    Records are packed with one precompiled struct per SYN (no per-packet packet object): about
    1 s per million records. The IPv4 header checksum is right (computed incrementally from the
    template); the TCP checksum is the template's (the model does not verify L4 checksums)."""
    t = Trace()
    t.add(0, tcp("10.0.0.1:1024", f"{WAN}:443", "S", seq=1))
    frame = t.records[0].frame
    if len(frame) != 54:
        raise AssertionError("unexpected SYN template")
    ip = 14
    # record = header(ts_sec, ts_usec, caplen, len) | frame[:ip+10] | csum | src | dst | sport | rest
    rec = struct.Struct(f"!IIII{ip + 10}sHI4sH{54 - ip - 22}s")
    head, dst, tail = frame[:ip + 10], frame[ip + 16:ip + 20], frame[ip + 22:]
    words = struct.unpack("!5H", frame[ip:ip + 10]) + struct.unpack("!2H", dst)
    base_sum = sum(words)
    step_us = 1_000_000 // pps
    t0_s = T0 // SEC
    with open(path, "wb") as fh:
        fh.write(pcap_global_header(LINKTYPE_ETHERNET, big_endian=True))
        pack = rec.pack
        for lo in range(0, n, chunk):
            parts = []
            for i in range(lo, min(n, lo + chunk)):
                src = 0x0A000000 | (i >> 6)
                s = base_sum + (src >> 16) + (src & 0xFFFF)
                s = (s & 0xFFFF) + (s >> 16)
                s = (s & 0xFFFF) + (s >> 16)
                us = i * step_us
                parts.append(pack(t0_s + us // 1_000_000, us % 1_000_000, 54, 54, head,
                                  ~s & 0xFFFF, src, dst, 1024 + (i & 63), tail))
            fh.write(b"".join(parts))
    return PCAP_HDR + n * (REC_HDR + 54)


# --------------------------------------------------------------------------- timestamps
def ts_backwards() -> bytes:
    """One UDP flow of 6 packets whose timestamps go 10, 11, 5, 12, 3, 13 s."""
    f = udp_frame()
    return pcap_of([(T0 + s * SEC, f) for s in (10, 11, 5, 12, 3, 13)])


def ts_identical(n: int = 1000) -> bytes:
    """n packets of one UDP flow, all with the same timestamp."""
    return pcap_of(udp_flow_records(n, T0, 0))


def ts_ten_year_jump(n_flows: int = 20000, jumps: int = 6) -> bytes:
    """n_flows UDP flows (2 packets each: offloaded), then a 10-year jump, repeated ``jumps`` times
    (classic pcap seconds are 32-bit: 2023 + 6 x 10 years stays below 2106). The GC must expire
    all entries once per jump, not once per elapsed second (3.15e8 ticks)."""
    base = bytearray(udp_frame(sport=1024, payload=b"jjjj"))
    frames = []
    for k in range(n_flows):
        f = bytearray(base)
        struct.pack_into("!H", f, 14 + 20, 1024 + k % 60000)     # source port
        f[14 + 15] = 10 + k // 60000                              # 192.168.1.(10 + k // 60000)
        f[14 + 10:14 + 12] = b"\0\0"
        f[14 + 10:14 + 12] = struct.pack("!H", inet_checksum(bytes(f[14:34])))
        frames.append(bytes(f))
    recs = []
    for j in range(jumps + 1):
        t = T0 + j * TEN_YEARS_S * SEC
        recs += [(t, f) for f in frames]                 # each flow's first packet
        recs += [(t + SEC // 100, f) for f in frames]    # and its second, 10 ms later
    return pcap_of(recs)


def ts_gc_stride(n: int = 2000, stride_s: int = 4095) -> bytes:
    """n packets each ``stride_s`` seconds after the previous: just under the GC's one-pass
    threshold (4096 ticks), so every packet runs thousands of GC ticks; must stay fast."""
    f = udp_frame()
    return pcap_of([(T0 + i * stride_s * SEC, f) for i in range(n)])


# --------------------------------------------------------------------------- record framing
def caplen_over_snaplen() -> bytes:
    """Header snaplen 64, one 74-byte record with caplen 74 (> snaplen): libpcap reads it."""
    return pcap_of([(T0, udp_frame())], snaplen=64)


def caplen_over_max(before: int = 1) -> bytes:
    """``before`` good records, then a record whose caplen is 262145 (> 256 KiB, libpcap's
    MAXIMUM_SNAPLEN) followed by enough bytes for it: the reader cannot trust the framing."""
    f = udp_frame()
    good = b"".join(pcap_record(T0 + i * SEC, f) for i in range(before))
    bad = pcap_record(T0 + before * SEC, f, caplen=262145, wirelen=262145) + b"\0" * 262145
    return pcap_global_header() + good + bad


def pcapng_caplen_over_max() -> bytes:
    """pcapng: SHB, IDB, an EPB whose captured length is 300000 bytes (block length consistent)."""
    data = b"\0" * 300000
    return pcapng_shb() + pcapng_idb() + pcapng_epb(0, T0 // 1000, data)


def zero_length_records(n: int = 5) -> bytes:
    """n records with caplen 0 (wirelen 0 and 60 alternately), then one good UDP packet."""
    recs = [pcap_record(T0 + i, b"", wirelen=0 if i % 2 == 0 else 60) for i in range(n)]
    return pcap_global_header() + b"".join(recs) + pcap_record(T0 + SEC, udp_frame())


def pcapng_zero_length_epb() -> bytes:
    return pcapng_shb() + pcapng_idb() + pcapng_epb(0, T0 // 1000, b"") + \
        pcapng_epb(0, T0 // 1000 + 1, udp_frame())


def record_header_cut(n_good: int = 3, keep: int = 8) -> bytes:
    """n_good records then the first ``keep`` bytes (< 16) of a record header at the end."""
    f = udp_frame()
    good = b"".join(pcap_record(T0 + i * SEC, f) for i in range(n_good))
    return pcap_global_header() + good + pcap_record(T0 + n_good * SEC, f)[:keep]


def record_data_cut(n_good: int = 3, keep: int = 30) -> bytes:
    """n_good records then a record whose header is complete but whose data is cut."""
    f = udp_frame()
    good = b"".join(pcap_record(T0 + i * SEC, f) for i in range(n_good))
    return pcap_global_header() + good + pcap_record(T0 + n_good * SEC, f)[:REC_HDR + keep]


def _shb_idb(linktype: int = LINKTYPE_ETHERNET) -> bytes:
    return pcapng_shb() + pcapng_idb(linktype, name="eth0")


def pcapng_good_epb(ts_us: int = T0 // 1000, iface: int = 0, frame: bytes | None = None) -> bytes:
    return pcapng_epb(iface, ts_us, udp_frame() if frame is None else frame)


def pcapng_length_not_multiple_of_4() -> Tuple[bytes, int]:
    """SHB, IDB, good EPB, then an EPB whose block length is 4k+2 in both fields. Returns
    (image, offset of the bad block)."""
    head = _shb_idb() + pcapng_good_epb()
    f = udp_frame()
    f = f + b"\0" * ((2 - len(f)) % 4)
    return head + pcapng_epb(0, T0 // 1000 + 1, f, pad=False), len(head)


def pcapng_length_too_small() -> Tuple[bytes, int]:
    """... then a block whose length field is 8 (< 12, the smallest block)."""
    head = _shb_idb() + pcapng_good_epb()
    return head + pcapng_block(6, b"\0" * 20, length=8, trailing_length=8) + pcapng_good_epb(), len(head)


def pcapng_length_past_eof() -> Tuple[bytes, int]:
    """... then an EPB whose length claims 4096 bytes but the file ends after its 96 bytes."""
    head = _shb_idb() + pcapng_good_epb()
    blk = pcapng_good_epb(T0 // 1000 + 1)
    return head + blk[:4] + struct.pack("<I", 4096) + blk[8:], len(head)


def pcapng_trailing_mismatch() -> Tuple[bytes, int]:
    """pcapgen.pcapng_bad_trailing_length after a good EPB: (image, offset of the bad block)."""
    img = pcapng_bad_trailing_length()
    shb_idb = len(_shb_idb())
    good = pcapng_good_epb()
    return img[:shb_idb] + good + img[shb_idb:], shb_idb + len(good)


def pcapng_caplen_past_block() -> Tuple[bytes, int]:
    """An EPB whose captured length (2000) is larger than its own block body."""
    head = _shb_idb() + pcapng_good_epb()
    return head + pcapng_epb(0, T0 // 1000 + 1, udp_frame(), caplen=2000), len(head)


# --------------------------------------------------------------------------- link types / interfaces
def unknown_linktype_pcap(linktype: int = 147, n: int = 3) -> bytes:
    """Classic pcap with LINKTYPE_USER0 (147): nothing to decode."""
    return pcap_of(udp_flow_records(n, T0, SEC), linktype=linktype)


def unknown_linktype_pcapng() -> bytes:
    """Two interfaces, Ethernet and an unknown link type 0xFFFF; 2 packets on each."""
    return (pcapng_shb() + pcapng_idb(LINKTYPE_ETHERNET, name="eth0") + pcapng_idb(0xFFFF, name="x")
            + pcapng_good_epb(T0 // 1000, 0) + pcapng_good_epb(T0 // 1000 + 1, 1)
            + pcapng_good_epb(T0 // 1000 + 2, 0) + pcapng_good_epb(T0 // 1000 + 3, 1))


def epb_before_idb() -> bytes:
    """SHB, an EPB naming interface 0, then the IDB of interface 0, then an EPB on it."""
    return (pcapng_shb() + pcapng_good_epb(T0 // 1000) + pcapng_idb(name="eth0")
            + pcapng_good_epb(T0 // 1000 + 1))


def epb_unknown_interface() -> bytes:
    """pcapgen.pcapng_epb_unknown_interface: one IDB, an EPB on interface 5."""
    return pcapng_epb_unknown_interface()


def epb_after_new_section() -> bytes:
    """An IDB in section 1, then a second SHB (interfaces reset), then an EPB on interface 0."""
    return (_shb_idb() + pcapng_good_epb(T0 // 1000) + pcapng_shb()
            + pcapng_good_epb(T0 // 1000 + 1))


# --------------------------------------------------------------------------- headers
def vlan_frames(n_tags: int, n: int = 3) -> bytes:
    """n packets of one UDP flow with ``n_tags`` nested 802.1Q/802.1ad tags."""
    t = Trace()
    for i in range(n):
        t.add(i * 0.01, udp(f"{LAN}:4000", f"{WAN}:5004", b"v" * 20),
              vlan=[(10 + k) for k in range(n_tags)] if n_tags else None)
    return t.pcap_bytes()


def ipv6_ext_chain(n_headers: int, n: int = 3) -> bytes:
    """IPv6 UDP flow whose packets carry ``n_headers`` destination-options headers."""
    t = Trace()
    for i in range(n):
        t.add(i * 0.01, ipv6_with_ext(udp(f"[{LAN6}]:4000", f"[{WAN6}]:5004", b"6" * 20),
                                      ["dst"] * n_headers))
    return t.pcap_bytes()


def ipv6_ext_past_packet(n: int = 3) -> bytes:
    """IPv6 UDP flow whose hop-by-hop header claims 255 x 8 + 8 bytes (past the packet)."""
    t = Trace()
    for i in range(n):
        p = bytearray(bytes(ipv6_with_ext(udp(f"[{LAN6}]:4000", f"[{WAN6}]:5004", b"6" * 20), ["hop"])))
        p[41] = 255   # Hdr Ext Len
        t.add_raw(i * 0.01, _eth(bytes(p), 0x86DD))
    return t.pcap_bytes()


def ipv6_ext_loop_raw(n: int = 3) -> bytes:
    """An extension header whose Next Header names its own type (routing -> routing -> ...),
    repeated 40 times: a chain that "loops" until the packet ends."""
    t = Trace()
    for i in range(n):
        base = bytes(udp(f"[{LAN6}]:4000", f"[{WAN6}]:5004", b"6" * 20))
        chain = bytes([43, 0, 0, 0, 0, 0, 0, 0]) * 40
        plen = len(base) - 40 + len(chain)
        p = base[:4] + struct.pack("!HB", plen, 43) + base[7:40] + chain + base[40:]
        t.add_raw(i * 0.01, _eth(p, 0x86DD))
    return t.pcap_bytes()


def _eth(l3: bytes, ethertype: int) -> bytes:
    from tests.pcapgen import CLIENT_MAC, ROUTER_MAC
    return ROUTER_MAC + CLIENT_MAC + struct.pack("!H", ethertype) + l3


def ipv4_short_ihl(ihl: int = 4, n: int = 3) -> bytes:
    """IPv4 UDP packets whose IHL field is ``ihl`` (< 5: header shorter than the minimum)."""
    t = Trace()
    for i in range(n):
        p = bytearray(bytes(udp(f"{LAN}:4000", f"{WAN}:5004", b"s" * 20)))
        p[0] = 0x40 | ihl
        t.add_raw(i * 0.01, _eth(bytes(p), 0x0800))
    return t.pcap_bytes()


def ipv4_total_length_below_ihl(n: int = 3) -> bytes:
    """IPv4 total length 12 (< the 20-byte header)."""
    t = Trace()
    for i in range(n):
        t.add(i * 0.01, udp(f"{LAN}:4000", f"{WAN}:5004", b"s" * 20, total_length=12))
    return t.pcap_bytes()


def tcp_doff_past_packet(doff: int = 15) -> bytes:
    """A TCP handshake + data whose every segment has data offset ``doff`` (15 = 60 bytes)
    while the segment is 20 bytes of header and no options (and no payload for the
    handshake): the header runs past the end of the packet."""
    t = Trace()
    C, S = f"{LAN}:40000", f"{WAN}:443"
    segs = [(C, S, "S"), (S, C, "SA"), (C, S, "A"), (C, S, "PA"), (S, C, "PA")]
    for i, (a, b, fl) in enumerate(segs):
        p = bytearray(bytes(tcp(a, b, fl, seq=1000 + i, ack=5000 + i)))
        p[20 + 12] = (doff << 4)
        t.add_raw(i * 0.01, _eth(bytes(p), 0x0800))
    return t.pcap_bytes()


def tcp_doff_below_min(doff: int = 2) -> bytes:
    """TCP segments whose data offset is below 5 (header shorter than 20 bytes)."""
    return tcp_doff_past_packet(doff)


# --------------------------------------------------------------------------- corpus seeds
def seed_images() -> Iterator[Tuple[str, bytes]]:
    """Every adversarial image small enough to be a fuzzing seed, with a name."""
    yield "ts_backwards", ts_backwards()
    yield "ts_identical", ts_identical(50)
    yield "ts_ten_year_jump", ts_ten_year_jump(n_flows=4, jumps=6)
    yield "ts_gc_stride", ts_gc_stride(20)
    yield "caplen_over_snaplen", caplen_over_snaplen()
    yield "caplen_over_max", caplen_over_max()[:2000]
    yield "pcapng_caplen_over_max", pcapng_caplen_over_max()[:2000]
    yield "zero_length_records", zero_length_records()
    yield "pcapng_zero_length_epb", pcapng_zero_length_epb()
    yield "record_header_cut", record_header_cut()
    yield "record_data_cut", record_data_cut()
    for fn in (pcapng_length_not_multiple_of_4, pcapng_length_too_small, pcapng_length_past_eof,
               pcapng_trailing_mismatch, pcapng_caplen_past_block):
        yield fn.__name__, fn()[0]
    yield "unknown_linktype_pcap", unknown_linktype_pcap()
    yield "unknown_linktype_pcapng", unknown_linktype_pcapng()
    yield "epb_before_idb", epb_before_idb()
    yield "epb_unknown_interface", epb_unknown_interface()
    yield "epb_after_new_section", epb_after_new_section()
    for k in (1, 2, 3, 8, 9):
        yield f"vlan_{k}", vlan_frames(k)
    for k in (1, 16, 17):
        yield f"ipv6_ext_{k}", ipv6_ext_chain(k)
    yield "ipv6_ext_past_packet", ipv6_ext_past_packet()
    yield "ipv6_ext_loop_raw", ipv6_ext_loop_raw()
    yield "ipv4_short_ihl", ipv4_short_ihl()
    yield "ipv4_total_length_below_ihl", ipv4_total_length_below_ihl()
    yield "tcp_doff_past_packet", tcp_doff_past_packet()
    yield "tcp_doff_below_min", tcp_doff_below_min()
    # a few well-formed traces in the other link types and pcapng variants (coverage)
    t = Trace()
    t.add(0, tcp(f"{LAN}:40000", f"{WAN}:443", "S", seq=1))
    t.add(0.01, tcp(f"{WAN}:443", f"{LAN}:40000", "SA", seq=9, ack=2))
    t.add(0.02, tcp(f"{LAN}:40000", f"{WAN}:443", "A", seq=2, ack=10))
    t.add(0.03, tcp(f"{LAN}:40000", f"{WAN}:443", "PA", seq=2, ack=10, payload=b"d" * 40))
    t.add(0.04, udp(f"[{LAN6}]:4000", f"[{WAN6}]:53", b"q" * 10))
    t.add(0.05, udp(f"{LAN}:4000", f"{WAN}:53", b"q" * 10), pppoe=7)
    t.add(0.06, udp(f"{LAN}:4000", f"{WAN}:53", b"q" * 10), vlan=100)
    for lt in (0, 101, 108, 113, 127, 276):
        tt = Trace()
        for r in t.records:
            if lt in (0, 101, 108) and (r.l3_ethertype not in (0x0800, 0x86DD) or r.l2_payload[:2] != r.l3_ethertype.to_bytes(2, "big")):
                continue
            tt.records.append(r)
        yield f"linktype_{lt}", tt.pcap_bytes(linktype=lt)
    yield "pcap_ns_big_endian", t.pcap_bytes(nanosecond=True, big_endian=True)
    yield "pcapng_two_ifaces", _two_iface_pcapng(t)
    yield "pcapng_big_endian_spb", t.pcapng_bytes(big_endian=True, simple=True)
    yield "pcapng_tsresol", t.pcapng_bytes(interfaces=[{"linktype": 1, "tsresol": 9, "name": "eth0"}])


def _two_iface_pcapng(t: Trace) -> bytes:
    for i, r in enumerate(t.records):
        r.iface = i % 2
    out = t.pcapng_bytes(interfaces=[{"linktype": 1, "name": "lan"}, {"linktype": 1, "name": "wan", "tsresol": 0x8A}])
    for r in t.records:
        r.iface = 0
    return out
