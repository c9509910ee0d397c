"""Checks tests/pcapgen.py against independent readers: dpkt, and tshark when installed."""
from __future__ import annotations

import shutil
import struct
import subprocess
from decimal import Decimal
from fractions import Fraction

import dpkt
import pytest

from tests.pcapgen import (
    BROADCAST_MAC, CLIENT_MAC, ROUTER_MAC, Trace, bad_magic, icmp_echo, icmp_error, ipv4_fragment,
    ipv4_fragment_at, ipv6_fragment, ipv6_with_ext, mac, ns, pcap_header_only, pcap_with_caplen,
    pcapng_bad_trailing_length, pcapng_block_length_not_multiple_of_4, pcapng_epb_unknown_interface,
    raw_ip, tcp, tcp_opt_mss, tcp_opt_sack_perm, tcp_opt_timestamps, tcp_opt_wscale, to_ns, truncated, udp,
)

BASE_NS = 1_700_000_000 * 10**9
TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")


# --------------------------------------------------------------------------- helpers
def tshark(path, *fields: str, extra: tuple[str, ...] = ()) -> list[list[str]]:
    """Rows of tab-separated field values, one per frame."""
    cmd = [TSHARK, "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", *extra, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return [line.split("\t") for line in res.stdout.splitlines()]


def tshark_error(path) -> str:
    res = subprocess.run([TSHARK, "-n", "-r", str(path)], capture_output=True, text=True, timeout=60)
    return res.stderr


def dpkt_resum(ip_bytes: bytes, l4: bool = True) -> bytes:
    """Let dpkt recompute every checksum it knows (IP header, and L4 if l4) and return the bytes."""
    if ip_bytes[0] >> 4 == 4:
        ip = dpkt.ip.IP(ip_bytes)
        ip.sum = 0
    else:
        ip = dpkt.ip6.IP6(ip_bytes)
    if l4 and hasattr(ip.data, "sum"):
        ip.data.sum = 0
    return bytes(ip)


SYN = tcp("192.168.1.10:40000", "93.184.216.34:443", "S", seq=1000)
SYN6 = tcp("[2001:db8::10]:40000", "[2606:2800:220:1::1]:443", "S", seq=1000)


def sample_trace() -> Trace:
    t = Trace()
    t.add(0, SYN)
    t.add(0.010, tcp("93.184.216.34:443", "192.168.1.10:40000", "SA", seq=5000, ack=1001),
          src_mac=ROUTER_MAC, dst_mac=CLIENT_MAC)
    t.add(30.000001, SYN6)
    t.add(31, udp("192.168.1.10:5000", "8.8.8.8:5001", b"x" * 20))
    return t


# --------------------------------------------------------------------------- timestamps
def test_to_ns_exact():
    assert to_ns(30.000001) == 30_000_001_000
    assert to_ns(0.1) == 100_000_000
    assert to_ns(30) == 30 * 10**9
    assert to_ns(Fraction(1, 3 * 10**0) * 3) == 10**9
    assert to_ns(Fraction(1, 1000)) == 1_000_000
    assert to_ns(Decimal("1.000000001")) == 1_000_000_001
    assert to_ns("2.5") == 2_500_000_000
    assert to_ns(ns(7)) == 7
    with pytest.raises(ValueError):
        to_ns(Fraction(1, 3))


def test_trace_base_and_records():
    t = Trace(base=100)
    t.add(1.5, SYN, iface=2)
    ts, frame, iface = t[0]
    assert ts == 101_500_000_000 and iface == 2 and frame[14:] == bytes(SYN)
    assert t[0].ts == Fraction(203, 2)
    assert len(Trace().add(0, SYN).add(ns(1), SYN)) == 2
    assert Trace().add(ns(1), SYN)[0].ts_ns == BASE_NS + 1


# --------------------------------------------------------------------------- packet builders
def test_tcp_fields_and_checksums():
    p = tcp("192.168.1.10:40000", "93.184.216.34:443", "SA", seq=1000, ack=77, payload=b"hi", ttl=33,
            window=1234, tcp_options=tcp_opt_mss(1400) + tcp_opt_sack_perm() + tcp_opt_timestamps(5, 6)
            + tcp_opt_wscale(7))
    ip = p.parsed()
    assert (p.src, p.dst, p.version, p.proto) == ("192.168.1.10", "93.184.216.34", 4, 6)
    assert ip.ttl == 33 and ip.p == 6 and ip.len == len(p)
    t = ip.data
    assert (t.sport, t.dport, t.seq, t.ack, t.win) == (40000, 443, 1000, 77, 1234)
    assert t.flags == dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK and t.data == b"hi"
    opts = dict(dpkt.tcp.parse_opts(t.opts))
    assert opts[dpkt.tcp.TCP_OPT_MSS] == struct.pack("!H", 1400)
    assert opts[dpkt.tcp.TCP_OPT_WSCALE] == b"\x07"
    assert dpkt_resum(bytes(p)) == bytes(p)


@pytest.mark.parametrize("flags,bits", [("S", 0x02), ("SA", 0x12), ("A", 0x10), ("FA", 0x11), ("R", 0x04),
                                        ("PA", 0x18), ("U", 0x20), ("RA", 0x14), ("", 0)])
def test_tcp_flags(flags, bits):
    assert tcp("1.1.1.1:1", "2.2.2.2:2", flags).parsed().data.flags == bits


def test_ipv4_options_and_overrides():
    p = tcp("10.0.0.1:1", "10.0.0.2:2", "S", ip_options=b"\x94\x04\x00\x00", ident=99, df=True, tos=0x10)
    ip = p.parsed()
    assert ip.hl == 6 and ip.opts == b"\x94\x04\x00\x00" and ip.id == 99 and ip.df and ip.tos == 0x10
    assert dpkt_resum(bytes(p)) == bytes(p)
    bad = tcp("10.0.0.1:1", "10.0.0.2:2", "S", l4_csum=0xBEEF, ip_csum=0x1234)
    assert bad.parsed().sum == 0x1234 and bad.parsed().data.sum == 0xBEEF


@pytest.mark.parametrize("src,dst", [("192.168.1.10:5353", "8.8.8.8:53"),
                                     ("[2001:db8::10]:5353", "[2001:4860:4860::8888]:53")])
def test_udp(src, dst):
    p = udp(src, dst, payload=b"x" * 20, ttl=5)
    ip = p.parsed()
    u = ip.data
    assert (u.sport, u.dport, u.ulen, u.data) == (5353, 53, 28, b"x" * 20)
    assert (ip.ttl if p.version == 4 else ip.hlim) == 5
    assert dpkt_resum(bytes(p)) == bytes(p)


def test_tcp_ipv6():
    ip = SYN6.parsed()
    assert isinstance(ip, dpkt.ip6.IP6) and ip.nxt == 6 and ip.plen == 20
    assert SYN6.src == "2001:db8::10" and SYN6.dst == "2606:2800:220:1::1"
    assert dpkt_resum(bytes(SYN6)) == bytes(SYN6)


def test_icmp_echo_v4_v6():
    e = icmp_echo("192.168.1.10", "8.8.8.8", ident=7, seq=1).parsed().data
    assert isinstance(e, dpkt.icmp.ICMP) and e.type == 8 and e.data.id == 7 and e.data.seq == 1
    r = icmp_echo("8.8.8.8", "192.168.1.10", ident=7, seq=1, reply=True)
    assert r.parsed().data.type == 0 and dpkt_resum(bytes(r)) == bytes(r)
    e6 = icmp_echo("2001:db8::10", "2001:db8::1", ident=7, seq=2)
    assert e6.proto == 58 and e6.parsed().data.type == 128
    assert icmp_echo("2001:db8::1", "2001:db8::10", reply=True).parsed().data.type == 129
    assert dpkt_resum(bytes(e6)) == bytes(e6)


def test_icmp_error_quotes_header_plus_8():
    err = icmp_error(quoted=SYN, src="10.0.0.1", type=3, code=3)
    ip = err.parsed()
    assert err.src == "10.0.0.1" and err.dst == "192.168.1.10" and ip.p == 1
    assert ip.data.type == 3 and ip.data.code == 3
    assert bytes(err)[20 + 8:] == bytes(SYN)[:28]
    assert dpkt_resum(bytes(err)) == bytes(err)
    frag_needed = icmp_error(SYN, "10.0.0.1", type=3, code=4, mtu=1400).parsed().data
    assert struct.unpack("!HH", bytes(frag_needed)[4:8]) == (0, 1400)

    e6 = icmp_error(SYN6, "2001:db8::1")
    assert e6.proto == 58 and e6.parsed().data.type == 1 and e6.parsed().data.code == 4
    assert bytes(e6)[48:] == bytes(SYN6)[:48]
    ptb = icmp_error(SYN6, "2001:db8::1", type=2, mtu=1280)
    assert struct.unpack("!I", bytes(ptb)[44:48])[0] == 1280
    assert dpkt_resum(bytes(ptb)) == bytes(ptb)
    assert bytes(icmp_error(SYN, "10.0.0.1", quote="all"))[28:] == bytes(SYN)


def test_raw_ip():
    p = raw_ip("10.0.0.1", "10.0.0.2", 47, b"\x00\x00\x08\x00")
    assert p.proto == 47 and p.l4 == b"\x00\x00\x08\x00" and dpkt_resum(bytes(p)) == bytes(p)


def test_ipv4_fragment_reassembles():
    big = udp("192.168.1.10:5000", "8.8.8.8:5001", bytes(range(256)) * 6, ip_options=b"\x94\x04\x00\x00"
              + b"\x07\x07\x04" + b"\x00" * 4 + b"\x00")  # router alert (copied) + record route (not copied)
    frags = ipv4_fragment(big, mtu=600)
    assert len(frags) == 3
    payload = b""
    for i, f in enumerate(frags):
        ip = f.parsed()
        assert len(f) <= 600 and ip.id == big.parsed().id
        assert ip.offset * 8 == len(payload) and ip.mf == (i < len(frags) - 1)
        assert dpkt_resum(bytes(f), l4=False) == bytes(f)  # header checksum valid
        if i:
            assert ip.opts == b"\x94\x04\x00\x00"  # only the copied option
        payload += bytes(f)[ip.hl * 4:]
        if i < len(frags) - 1:
            assert (len(f) - ip.hl * 4) % 8 == 0
    assert frags[0].parsed().hl == big.parsed().hl
    assert payload == big.l4
    # explicit sizes and arbitrary (overlapping) fragments
    assert [len(f.l4) for f in ipv4_fragment(big, sizes=[8, 16])] == [8, 16, len(big.l4) - 24]
    ov = ipv4_fragment_at(big, 8, 32, more=True)
    assert ov.parsed().offset == 1 and ov.parsed().mf and ov.l4 == big.l4[8:40]


def test_ipv6_ext_and_fragment():
    inner = udp("[2001:db8::10]:5000", "[2001:db8::1]:5001", b"B" * 1500)
    withext = ipv6_with_ext(inner, ["hop", "dst", "routing"])
    ip = withext.parsed()
    assert ip.nxt == 0 and withext.proto == 17 and withext.l3_header_len == 64
    assert list(ip.extension_hdrs) and ip.data.ulen == 1508
    assert withext.l4 == inner.l4  # checksum unchanged and still valid
    assert dpkt.ip6.IP6(bytes(withext)).plen == len(withext) - 40

    src = ipv6_with_ext(inner, ["hop"])
    frags = ipv6_fragment(src, mtu=700)
    assert len(frags) == 3
    data = b""
    for i, f in enumerate(frags):
        b = bytes(f)
        assert len(b) <= 700 and b[6] == 0 and b[40] == 44  # hop-by-hop stays unfragmentable
        nh, _, offm, ident = struct.unpack("!BBHI", b[48:56])
        assert nh == 17 and offm & 0xFFF8 == len(data) and bool(offm & 1) == (i < 2) and ident == 0x12345678
        data += b[56:]
    assert data == bytes(src)[48:]


# --------------------------------------------------------------------------- frames
def test_ethernet_vlan_pppoe_frames():
    t = Trace()
    t.add(0, SYN)
    t.add(0, SYN, vlan=100)
    t.add(0, SYN, vlan=[100, 200])
    t.add(0, SYN6, pppoe=0x1234)
    t.add(0, udp("192.168.1.10:5000", "224.0.0.251:5353", b"m"))
    t.add(0, udp("192.168.1.10:5000", "255.255.255.255:67", b"m"))
    t.arp(0, "192.168.1.10", "192.168.1.1")
    t.add_raw(0, b"\x00garbage")
    e = [dpkt.ethernet.Ethernet(r.frame) for r in t.records[:7]]
    assert e[0].dst == ROUTER_MAC and e[0].src == CLIENT_MAC and not ROUTER_MAC[0] & 1
    assert bytes(e[0].data) == bytes(SYN)
    assert t[1].frame[12:18] == b"\x81\x00\x00\x64\x08\x00"
    assert t[2].frame[12:22] == b"\x88\xa8\x00\x64\x81\x00\x00\xc8\x08\x00"
    assert [tag.id for tag in e[2].vlan_tags] == [100, 200]
    assert t[3].frame[12:22] == b"\x88\x64\x11\x00\x12\x34" + struct.pack("!H", len(SYN6) + 2) + b"\x00\x57"
    assert t[3].frame[22:] == bytes(SYN6)
    assert t[4].frame[:6] == mac("01:00:5e:00:00:fb") and t[5].frame[:6] == BROADCAST_MAC
    assert e[6].type == 0x0806 and t[6].frame[:6] == BROADCAST_MAC
    assert t[7].frame == b"\x00garbage"
    assert len(Trace(pad=True).add(0, SYN)[0].frame) == 60


# --------------------------------------------------------------------------- pcap via dpkt
@pytest.mark.parametrize("nanosecond", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
def test_pcap_dpkt_roundtrip(tmp_path, nanosecond, big_endian):
    t = sample_trace()
    path = t.write_pcap(tmp_path / "a.pcap", nanosecond=nanosecond, big_endian=big_endian)
    raw = path.read_bytes()
    magic = raw[:4]
    assert magic == struct.pack(">I" if big_endian else "<I", 0xA1B23C4D if nanosecond else 0xA1B2C3D4)
    with open(path, "rb") as f:
        r = dpkt.pcap.Reader(f)
        assert r.datalink() == 1 and r.snaplen == 262144
        got = list(r)
    assert [buf for _, buf in got] == [rec.frame for rec in t]
    for (ts, _), rec in zip(got, t):
        assert abs(float(ts) - rec.ts_ns / 1e9) < 1e-6
    # exact integer fields of record 3 (ts 30.000001)
    e = ">" if big_endian else "<"
    off = 24 + sum(16 + len(rec.frame) for rec in t.records[:2])
    sec, sub, caplen, wirelen = struct.unpack_from(e + "IIII", raw, off)
    assert (sec, sub) == (1_700_000_030, 1000 if nanosecond else 1)
    assert caplen == wirelen == len(t[2].frame)


def test_pcap_snaplen(tmp_path):
    t = Trace().add(0, udp("1.1.1.1:1", "2.2.2.2:2", b"z" * 200))
    raw = t.pcap_bytes(snaplen=64)
    caplen, wirelen = struct.unpack_from("<II", raw, 24 + 8)
    assert (caplen, wirelen) == (64, 14 + 28 + 200) and len(raw) == 24 + 16 + 64


@pytest.mark.parametrize("linktype", [0, 1, 101, 108, 113, 127, 228, 229, 276])
def test_pcap_linktypes_dpkt(tmp_path, linktype):
    t = Trace()
    t.add(0, SYN if linktype != 229 else SYN6)
    if linktype not in (228, 229):
        t.add(1, SYN6)
    path = t.write_pcap(tmp_path / "l.pcap", linktype=linktype)
    with open(path, "rb") as f:
        r = dpkt.pcap.Reader(f)
        assert r.datalink() == linktype
        bufs = [b for _, b in r]
    for buf, rec in zip(bufs, t):
        l3 = rec.l3
        if linktype == 1:
            assert buf == rec.frame
        elif linktype in (101, 228, 229):
            assert buf == l3
        elif linktype == 0:
            assert buf[4:] == l3 and struct.unpack("<I", buf[:4])[0] == (2 if l3[0] >> 4 == 4 else 24)
        elif linktype == 108:
            assert buf[4:] == l3 and struct.unpack("!I", buf[:4])[0] == (2 if l3[0] >> 4 == 4 else 24)
        elif linktype == 113:
            sll = dpkt.sll.SLL(buf)
            assert sll.ethtype == rec.l3_ethertype and buf[16:] == l3 and buf[6:12] == CLIENT_MAC
        elif linktype == 276:
            sll2 = dpkt.sll2.SLL2(buf)
            assert sll2.ethtype == rec.l3_ethertype and sll2.intindex == 1 and buf[20:] == l3
        elif linktype == 127:
            rt = dpkt.radiotap.Radiotap(buf)
            assert buf.endswith(l3) and rt.channel.freq == 2412
    with pytest.raises(ValueError):
        Trace().arp(0).pcap_bytes(linktype=101)
    with pytest.raises(ValueError):
        Trace().add(0, SYN6).pcap_bytes(linktype=228)


# --------------------------------------------------------------------------- pcapng via dpkt
@pytest.mark.parametrize("tsresol,divisor", [(None, 10**6), (6, 10**6), (9, 10**9), (3, 10**3), (0x80 | 20, 2**20)])
@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_dpkt_roundtrip(tmp_path, tsresol, divisor, big_endian):
    t = sample_trace()
    ifc = {"linktype": 1, "name": "eth0"}
    if tsresol is not None:
        ifc["tsresol"] = tsresol
    path = t.write_pcapng(tmp_path / "a.pcapng", interfaces=[ifc], big_endian=big_endian)
    with open(path, "rb") as f:
        r = dpkt.pcapng.Reader(f)
        assert r.datalink() == 1
        got = list(r)
    assert [b for _, b in got] == [rec.frame for rec in t]
    for (ts, _), rec in zip(got, t):
        assert abs(ts - rec.ts_ns / 1e9) <= 1.0 / divisor + 1e-6


def test_pcapng_structure():
    t = Trace().add(0, SYN, comment="hello", epb_flags=1).add(1, SYN, iface=1)
    raw = t.pcapng_bytes(interfaces=[{"name": "eth0"}, {"name": "wlan0", "tsresol": 9}])
    off, types = 0, []
    while off < len(raw):
        bt, bl = struct.unpack_from("<II", raw, off)
        assert bl % 4 == 0 and struct.unpack_from("<I", raw, off + bl - 4)[0] == bl
        types.append(bt)
        if bt == 6:
            iface = struct.unpack_from("<I", raw, off + 8)[0]
            assert iface == len([x for x in types if x == 6]) - 1
        off += bl
    assert types == [0x0A0D0D0A, 1, 1, 6, 6]
    with pytest.raises(ValueError):
        t.pcapng_bytes(interfaces=[{"name": "eth0"}])
    spb = Trace().add(0, SYN).pcapng_bytes(interfaces=[{}], simple=True)
    assert struct.unpack_from("<III", spb, 28 + 20) == (3, 16 + 56, 54)  # SHB(28) + IDB(20) + SPB


# --------------------------------------------------------------------------- malformed helpers
def test_malformed_helpers(tmp_path):
    assert len(pcap_header_only()) == 24
    with open(tmp_path / "h.pcap", "wb") as f:
        f.write(pcap_header_only())
    with open(tmp_path / "h.pcap", "rb") as f:
        assert list(dpkt.pcap.Reader(f)) == []
    (tmp_path / "bm.pcap").write_bytes(bad_magic())
    with open(tmp_path / "bm.pcap", "rb") as f, pytest.raises(ValueError):
        dpkt.pcap.Reader(f)
    b = pcap_with_caplen(0xFFFFFFFF)
    assert struct.unpack_from("<I", b, 32)[0] == 0xFFFFFFFF
    assert len(pcapng_block_length_not_multiple_of_4()) % 4 == 2
    b = pcapng_bad_trailing_length()
    bl = struct.unpack_from("<I", b, len(b) - 4)[0]
    assert bl != struct.unpack_from("<I", b, 28 + 32 + 4)[0]
    b = pcapng_epb_unknown_interface()
    assert struct.unpack_from("<I", b, 28 + 32 + 8)[0] == 5
    src = sample_trace().write_pcap(tmp_path / "s.pcap")
    assert len(truncated(src, tmp_path / "t.pcap", 50)) == 50 and (tmp_path / "t.pcap").stat().st_size == 50
    assert len(truncated(src, tmp_path / "t2.pcap", -3)) == src.stat().st_size - 3
    assert pcap_header_only(tmp_path / "w.pcap") == (tmp_path / "w.pcap").read_bytes()


@needs_tshark
def test_malformed_tshark(tmp_path):
    cases = {
        "bm.pcap": (bad_magic(), "isn't a capture file"),
        "cl.pcap": (pcap_with_caplen(0xFFFFFFFF), "bigger than maximum"),
        "bt.pcapng": (pcapng_bad_trailing_length(), "don't match"),
        "ui.pcapng": (pcapng_epb_unknown_interface(), "interface index 5"),
        "nm.pcapng": (pcapng_block_length_not_multiple_of_4(), ""),
    }
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        err = tshark_error(tmp_path / name)
        assert "appears" in err or "isn't" in err, (name, err)
        assert msg in err, (name, err)
    src = sample_trace().write_pcap(tmp_path / "s.pcap")
    truncated(src, tmp_path / "t.pcap", -3)
    assert "cut short" in tshark_error(tmp_path / "t.pcap")


# --------------------------------------------------------------------------- tshark decoding
@needs_tshark
@pytest.mark.parametrize("linktype", [0, 1, 101, 108, 113, 127, 228, 276])
def test_tshark_linktypes(tmp_path, linktype):
    t = Trace()
    t.add(0, SYN)
    t.add(0.25, tcp("93.184.216.34:443", "192.168.1.10:40000", "SA", seq=1, ack=1001), src_mac=ROUTER_MAC,
          dst_mac=CLIENT_MAC, iface=1, pkttype=4)
    if linktype != 228:
        t.add(30.000001, SYN6)
    path = t.write_pcap(tmp_path / "l.pcap", linktype=linktype, nanosecond=True, freqs={0: 2412, 1: 5180})
    rows = tshark(path, "frame.len", "frame.time_epoch", "ip.src", "ipv6.src", "tcp.flags",
                  "tcp.checksum.status", "sll.ifindex", "sll.pkttype", "radiotap.channel.freq", "wlan.fc.ds",
                  "wlan.sa", "null.family")
    assert len(rows) == len(t)
    for row, rec in zip(rows, t):
        flen, epoch, ip4, ip6, flags, csum, ifidx, pkttype, freq, ds, wsa, fam = row
        assert int(flen) == len(t.link_frame(rec, linktype, freq=2412))
        assert Decimal(epoch) * 10**9 == rec.ts_ns
        assert csum == "1"
    assert [r[2] for r in rows[:2]] == ["192.168.1.10", "93.184.216.34"]
    assert [r[4] for r in rows[:2]] == ["0x0002", "0x0012"]
    if linktype != 228:
        assert rows[2][3] == "2001:db8::10"
    if linktype == 276:
        assert [r[6] for r in rows] == ["1", "2", "1"] and [r[7] for r in rows] == ["0", "4", "0"]
    if linktype == 113:
        assert [r[7] for r in rows] == ["0", "4", "0"]
    if linktype == 127:
        assert [r[8] for r in rows] == ["2412", "5180", "2412"]
        assert [r[9] for r in rows] == ["0x01", "0x02", "0x01"]  # ToDS from client, FromDS from router
        assert rows[1][10] == "02:00:00:00:00:01"
    if linktype in (0, 108):
        assert [r[11] for r in rows] == ["2", "2", "24"]


@needs_tshark
def test_tshark_sll2_ifindex_map(tmp_path):
    t = Trace().add(0, SYN, iface=0).add(1, SYN, iface=1)
    path = t.write_pcap(tmp_path / "s.pcap", linktype=276, ifindex={0: 7, 1: 42})
    assert [r[0] for r in tshark(path, "sll.ifindex")] == ["7", "42"]


@needs_tshark
@pytest.mark.parametrize("big_endian", [False, True])
def test_tshark_pcapng_multi_iface(tmp_path, big_endian):
    t = Trace()
    t.add(0, SYN, iface=0)
    t.add(0.5, SYN6, iface=1)
    t.add(1.000000001, udp("192.168.1.10:5000", "8.8.8.8:5001", b"u"), iface=2)
    t.add(2, SYN, iface=3)
    ifs = [{"linktype": 1, "name": "eth0", "tsresol": 6},
           {"linktype": 1, "name": "wlan0"},
           {"linktype": 276, "name": "any", "tsresol": 9},
           {"linktype": 127, "name": "mon0", "freq": 5180}]
    path = t.write_pcapng(tmp_path / "m.pcapng", interfaces=ifs, big_endian=big_endian)
    rows = tshark(path, "frame.interface_id", "frame.interface_name", "frame.time_epoch", "ip.src", "ipv6.src",
                  "sll.ifindex", "radiotap.channel.freq", "frame.len")
    assert [r[0] for r in rows] == ["0", "1", "2", "3"]
    assert [r[1] for r in rows] == ["eth0", "wlan0", "any", "mon0"]
    assert [Decimal(r[2]) for r in rows] == [Decimal("1700000000"), Decimal("1700000000.5"),
                                             Decimal("1700000001.000000001"), Decimal("1700000002")]
    assert rows[1][4] == "2001:db8::10" and rows[2][3] == "192.168.1.10" and rows[2][5] == "3"
    assert rows[3][6] == "5180"


@needs_tshark
def test_tshark_pcapng_simple_and_options(tmp_path):
    t = Trace().add(0, SYN).add(1, SYN6)
    path = t.write_pcapng(tmp_path / "s.pcapng", interfaces=[{"linktype": 1}], simple=True)
    rows = tshark(path, "frame.len", "ip.src", "ipv6.src")
    assert rows == [["54", "192.168.1.10", ""], ["74", "", "2001:db8::10"]]
    t = Trace().add(0, SYN, comment="syn here", epb_flags=2)
    path = t.write_pcapng(tmp_path / "c.pcapng", interfaces=[{"tsresol": 0x80 | 10}])
    rows = tshark(path, "frame.comment", "frame.time_epoch")
    assert rows[0][0] == "syn here" and Decimal(rows[0][1]) == Decimal(1_700_000_000)


@needs_tshark
def test_tshark_vlan_pppoe_arp(tmp_path):
    t = Trace()
    t.add(0, SYN, vlan=100)
    t.add(0, SYN, vlan=[100, 200])
    t.add(0, SYN, pppoe=0x1234)
    t.add(0, SYN6, vlan=[(300, 5)], pppoe=7)
    t.arp(0, "192.168.1.10", "192.168.1.1")
    t.add_raw(0, b"\xff" * 6 + CLIENT_MAC + b"\x88\xb5" + b"junk")
    path = t.write_pcap(tmp_path / "v.pcap")
    rows = tshark(path, "eth.type", "ieee8021ad.id", "vlan.id", "vlan.priority", "pppoe.session_id", "ip.src",
                  "ipv6.src", "tcp.flags", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "tcp.checksum.status")
    assert rows[0][:3] == ["0x8100", "", "100"] and rows[0][5] == "192.168.1.10"
    assert rows[1][:3] == ["0x88a8", "100", "200"] and rows[1][7] == "0x0002"
    assert rows[2][0] == "0x8864" and rows[2][4] == "0x1234" and rows[2][5] == "192.168.1.10"
    assert rows[3][2:5] == ["300", "5", "0x0007"] and rows[3][6] == "2001:db8::10" and rows[3][10] == "1"
    assert rows[4][8:10] == ["192.168.1.10", "192.168.1.1"]
    assert rows[5][0] == "0x88b5"


@needs_tshark
def test_tshark_fragments_reassemble(tmp_path):
    big = udp("192.168.1.10:5000", "8.8.8.8:5001", bytes(range(256)) * 6)
    big6 = ipv6_with_ext(udp("[2001:db8::10]:5000", "[2001:db8::1]:5001", b"B" * 1500), ["hop"])
    t = Trace()
    t.add(0, ipv4_fragment(big, mtu=600))
    t.add(1, ipv6_fragment(big6, mtu=700))
    path = t.write_pcap(tmp_path / "f.pcap")
    rows = tshark(path, "ip.flags.mf", "ip.frag_offset", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
                  "udp.length", "udp.checksum.status", "ip.fragment.count", "ipv6.fragment.count",
                  "ipv6.hopopts.nxt")
    assert [r[0] for r in rows[:3]] == ["1", "1", "0"]
    assert [r[1] for r in rows[:3]] == ["0", "72", "144"]  # units of 8 bytes
    assert rows[2][4] == "1544" and rows[2][5] == "1" and rows[2][6] == "3"
    assert [r[2] for r in rows[3:]] == ["0", "80", "160"]  # units of 8 bytes
    assert [r[3] for r in rows[3:]] == ["1", "1", "0"]
    assert rows[5][4] == "1508" and rows[5][5] == "1" and rows[5][7] == "3" and rows[5][8] == "44"


@needs_tshark
def test_tshark_icmp_and_ext_headers(tmp_path):
    t = Trace()
    t.add(0, icmp_error(SYN, "10.0.0.1"), src_mac=ROUTER_MAC, dst_mac=CLIENT_MAC)
    t.add(0, icmp_error(SYN, "10.0.0.1", type=11, code=0))
    t.add(0, icmp_error(SYN6, "2001:db8::1", type=2, mtu=1280))
    t.add(0, icmp_echo("192.168.1.10", "8.8.8.8", ident=7, seq=1))
    t.add(0, icmp_echo("2001:db8::10", "2001:db8::1", ident=7, seq=1, reply=True))
    t.add(0, ipv6_with_ext(SYN6, ["hop", "dst", "routing"]))
    path = t.write_pcap(tmp_path / "i.pcap")
    rows = tshark(path, "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.mtu", "ip.src", "ip.dst", "ipv6.src",
                  "tcp.srcport", "icmp.checksum.status", "icmpv6.checksum.status", "ipv6.hopopts.nxt",
                  "ipv6.dstopts.nxt", "ipv6.routing.nxt", "tcp.flags", "tcp.checksum.status", "icmp.ident")
    assert rows[0][:2] == ["3", "3"] and rows[0][4:6] == ["10.0.0.1,192.168.1.10", "192.168.1.10,93.184.216.34"]
    assert rows[0][7] == "40000" and rows[0][8] == "1"
    assert rows[1][:2] == ["11", "0"]
    assert rows[2][2:4] == ["2", "1280"] and rows[2][6] == "2001:db8::1,2001:db8::10" and rows[2][9] == "1"
    assert rows[3][0] == "8" and rows[3][8] == "1" and rows[3][15] == "7"
    assert rows[4][2] == "129" and rows[4][9] == "1"
    assert rows[5][10:15] == ["60", "43", "6", "0x0002", "1"]
