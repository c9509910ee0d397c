#!/usr/bin/env python3
"""Writes the crafted traces of pcaps/ (crafted-*.pcap / .pcapng) with tests/pcapgen.py.

Deterministic: the same bytes every run. After changing a trace here, run `make golden` and
commit the trace and its goldens together.

    python3 pcaps/make_crafted.py            # (re)writes every crafted trace
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests.pcapgen import (Trace, icmp_echo, icmp_error, ipv4_fragment, ipv6_fragment,  # noqa: E402
                           ipv6_with_ext, tcp, udp)

LAN, LAN2, WAN, WAN2 = "192.168.1.10", "192.168.1.20", "93.184.216.34", "151.101.1.69"
LAN6, WAN6 = "fd00::10", "2606:2800:220:1::1"


def handshake(t: Trace, ts: float, c: str, s: str, **kw) -> float:
    t.add(ts, tcp(c, s, "S", seq=1000), **kw)
    t.add(ts + 0.01, tcp(s, c, "SA", seq=5000, ack=1001), **kw)
    t.add(ts + 0.02, tcp(c, s, "A", seq=1001, ack=5001), **kw)
    return ts + 0.03


def session(t: Trace, ts: float, c: str, s: str, n: int, close: str = "fin", **kw) -> float:
    ts = handshake(t, ts, c, s, **kw)
    for i in range(n):
        t.add(ts, tcp(c, s, "PA", seq=1001 + 10 * i, ack=5001, payload=b"q" * 10), **kw)
        t.add(ts + 0.002, tcp(s, c, "PA", seq=5001 + 100 * i, ack=1011 + 10 * i, payload=b"r" * 100), **kw)
        ts += 0.01
    cs, ss = 1001 + 10 * n, 5001 + 100 * n
    if close == "fin":
        t.add(ts, tcp(c, s, "FA", seq=cs, ack=ss), **kw)
        t.add(ts + 0.01, tcp(s, c, "FA", seq=ss, ack=cs + 1), **kw)
        t.add(ts + 0.02, tcp(c, s, "A", seq=cs + 1, ack=ss + 1), **kw)
    elif close == "rst":
        t.add(ts, tcp(s, c, "RA", seq=ss, ack=cs), **kw)
    return ts + 0.03


def home_mix() -> Trace:
    """A small household: web sessions, DNS, a VoIP-like UDP stream with idle gaps around the
    30 s flow timeout, a retransmitted SYN, an ICMP error, fragments, IPv6 with an extension
    header, a VLAN-tagged and a PPPoE session, multicast and ARP noise."""
    t = Trace()
    ts = session(t, 0.0, f"{LAN}:40000", f"{WAN}:443", 12)
    t.add(ts, udp(f"{LAN}:5353", "224.0.0.251:5353", b"mdns"))
    t.arp(ts + 0.01)
    # DNS query / answer, then a one-way stream
    t.add(0.5, udp(f"{LAN}:53000", "8.8.8.8:53", b"q" * 30))
    t.add(0.52, udp("8.8.8.8:53", f"{LAN}:53000", b"a" * 80))
    for i in range(30):
        t.add(1.0 + i * 0.02, udp(f"{LAN}:4000", f"{WAN2}:5004", b"rtp" * 40))
    # idle gaps around the flow timeout: 29.5 s (stays), 31 s (expired: re-added)
    t.add(1.58 + 29.5, udp(f"{LAN}:4000", f"{WAN2}:5004", b"rtp" * 40))
    t.add(1.58 + 29.5 + 31.0, udp(f"{LAN}:4000", f"{WAN2}:5004", b"rtp" * 40))
    t.add(1.58 + 29.5 + 31.1, udp(f"{LAN}:4000", f"{WAN2}:5004", b"rtp" * 40))
    # retransmitted SYN, then a session with an RST
    t.add(70.0, tcp(f"{LAN2}:41000", f"{WAN}:80", "S", seq=77))
    t.add(71.0, tcp(f"{LAN2}:41000", f"{WAN}:80", "S", seq=77))
    session(t, 72.0, f"{LAN2}:41001", f"{WAN}:80", 4, close="rst")
    # ICMP error quoting a live UDP flow, echo request / reply
    q = udp(f"{LAN}:33434", f"{WAN}:33434", b"probe")
    t.add(73.0, q)
    t.add(73.01, icmp_error(q, src=WAN, type=3, code=3))
    t.add(73.02, icmp_echo(LAN, WAN, ident=9, seq=1))
    t.add(73.03, icmp_echo(WAN, LAN, ident=9, seq=1, reply=True))
    # fragments of an offloaded UDP flow
    a, b = f"{LAN}:6000", f"{WAN}:6000"
    t.add(74.0, udp(a, b, b"1"))
    t.add(74.01, udp(b, a, b"2"))
    t.add(74.02, ipv4_fragment(udp(a, b, b"F" * 1400), mtu=600))
    t.add(74.03, udp(a, b, b"3"))
    # IPv6 session with a destination-options packet in the middle
    c6, s6 = f"[{LAN6}]:40000", f"[{WAN6}]:443"
    ts = handshake(t, 75.0, c6, s6)
    t.add(ts, tcp(c6, s6, "PA", seq=1001, ack=5001, payload=b"a"))
    t.add(ts + 0.01, ipv6_with_ext(tcp(s6, c6, "PA", seq=5001, ack=1002, payload=b"b"), ext=["dst"]))
    t.add(ts + 0.02, tcp(s6, c6, "PA", seq=5002, ack=1002, payload=b"c"))
    t.add(ts + 0.03, ipv6_fragment(udp(f"[{LAN6}]:7000", f"[{WAN6}]:7000", b"G" * 3000), mtu=1280))
    # one VLAN tag, a PPPoE session, QinQ
    session(t, 80.0, f"{LAN}:42000", f"{WAN}:8443", 3, vlan=100)
    session(t, 81.0, f"{LAN}:42001", f"{WAN}:8443", 3, pppoe=0x11)
    session(t, 82.0, f"{LAN}:42002", f"{WAN}:8443", 3, vlan=[100, 200])
    # TTL 1 and an over-MTU packet on an offloaded flow
    t.add(83.0, udp(a, b, b"t", ttl=1))
    t.add(83.01, udp(a, b, b"M" * 1600))
    t.add(83.02, udp(a, b, b"4"))
    return t


def table_full() -> Trace:
    """ct_max-sized bursts (replay with ct_max=16 to see early drops and a full table): 20
    assured TCP connections, then unreplied UDP that early_drop can evict."""
    t = Trace()
    ts = 0.0
    for i in range(20):
        ts = handshake(t, ts, f"{LAN}:{10000 + i}", f"{WAN}:443")
        t.add(ts, tcp(f"{LAN}:{10000 + i}", f"{WAN}:443", "PA", seq=1001, ack=5001, payload=b"x"))
        ts += 0.01
    for i in range(40):
        t.add(ts + i * 0.01, udp(f"{LAN}:{20000 + i}", f"{WAN}:53", b"q"))
    return t


def timeouts() -> Trace:
    """Idle gaps around every timeout: flowtable 30 s, UDP unreplied 60 s / stream 180 s (fixed
    up to 150 s after a flow timeout), TCP established after a flow timeout, ICMP 30 s."""
    t = Trace()
    a, b = f"{LAN}:5000", f"{WAN}:5000"
    base = 0.0
    for gap in (29.5, 30.0, 30.5, 31.0, 149.5, 151.0, 181.0):
        t.add(base, udp(a, b, b"1"))
        t.add(base + 0.1, udp(b, a, b"2"))
        t.add(base + 2.5, udp(a, b, b"3"))
        t.add(base + 2.5 + gap, udp(a, b, b"4"))
        t.add(base + 2.6 + gap, udp(b, a, b"5"))
        base += 2.6 + gap + 400
    c, s = f"{LAN}:40000", f"{WAN}:22"
    ts = handshake(t, base, c, s)
    for gap in (10.0, 29.9, 31.0, 45.0):
        t.add(ts, tcp(c, s, "PA", seq=1001, ack=5001, payload=b"k"))
        t.add(ts + 0.01, tcp(s, c, "A", seq=5001, ack=1002))
        ts += gap
    for gap in (29.0, 31.0):
        t.add(ts, icmp_echo(LAN, WAN, ident=3, seq=1))
        t.add(ts + gap, icmp_echo(WAN, LAN, ident=3, seq=1, reply=True))
        ts += gap + 1
    return t


def two_ports() -> Trace:
    """pcapng with three capture interfaces (replay with capture_map for lan1/lan2/wan)."""
    t = Trace()
    c, s = f"{LAN}:40000", f"{WAN}:443"
    t.add(0.0, tcp(c, s, "S", seq=1000), iface=0)
    t.add(0.01, tcp(s, c, "SA", seq=5000, ack=1001), iface=2)
    t.add(0.02, tcp(c, s, "A", seq=1001, ack=5001), iface=0)
    t.add(0.03, tcp(c, s, "PA", seq=1001, ack=5001, payload=b"a"), iface=0)
    t.add(0.04, tcp(c, s, "PA", seq=1002, ack=5001, payload=b"b"), iface=1)
    t.add(0.05, tcp(s, c, "PA", seq=5001, ack=1003, payload=b"c"), iface=2)
    return t


def main() -> None:
    home_mix().write_pcap(os.path.join(HERE, "crafted-home-mix.pcap"))
    table_full().write_pcap(os.path.join(HERE, "crafted-table-full.pcap"))
    timeouts().write_pcap(os.path.join(HERE, "crafted-timeouts.pcap"))
    two_ports().write_pcapng(os.path.join(HERE, "crafted-two-ports.pcapng"),
                             interfaces=[{"linktype": 1, "name": n} for n in ("lan1", "lan2", "wan")])


if __name__ == "__main__":
    main()
