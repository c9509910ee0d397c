"""Writes pcaps/demo-home.pcap: two minutes of a small home network, crafted and deterministic.

LAN: a laptop (192.168.1.10), a phone (192.168.1.11) and an IPv6 ULA host (fd00::10).
Traffic: a video download over TCP, a QUIC (UDP 443) stream, a VoIP call at 50 packets/s each
way, short web connections, DNS lookups, NTP, a game session with a 40 s pause, mDNS and ARP.
Written with snaplen 80 (payloads are cut as in a real header capture; byte counts use the
original length).

    python3 pcaps/make_demo.py        # rewrites pcaps/demo-home.pcap
"""
from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.pcapgen import Trace, tcp, udp  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-home.pcap")


def build() -> Trace:
    rnd = random.Random(20261128)
    ev = []  # (ts, pkt)

    def tcp_conn(t0, client, server, n_down, gap, size=1400, close=True):
        ev.append((t0, tcp(client, server, "S", seq=1)))
        ev.append((t0 + 0.012, tcp(server, client, "SA", seq=9, ack=2)))
        ev.append((t0 + 0.013, tcp(client, server, "A", seq=2, ack=10)))
        ev.append((t0 + 0.014, tcp(client, server, "PA", seq=2, ack=10, payload=b"G" * 300)))
        t = t0 + 0.03
        seq = 10
        for i in range(n_down):
            ev.append((t, tcp(server, client, "A", seq=seq, ack=302, payload=b"v" * size)))
            seq += size
            if i % 2:
                ev.append((t + 0.0005, tcp(client, server, "A", seq=302, ack=seq)))
            t += gap
        if close:
            ev.append((t, tcp(client, server, "FA", seq=302, ack=seq)))
            ev.append((t + 0.01, tcp(server, client, "FA", seq=seq, ack=303)))
            ev.append((t + 0.02, tcp(client, server, "A", seq=303, ack=seq + 1)))

    # video download: 2500 segments over ~50 s
    tcp_conn(1.0, "192.168.1.10:50001", "151.101.2.10:443", 2500, 0.02)
    # QUIC stream from the phone: 1600 packets
    a, b = "192.168.1.11:51000", "142.250.74.46:443"
    for i in range(800):
        t = 5.0 + i * 0.03
        ev.append((t, udp(a, b, b"q" * 60)))
        ev.append((t + 0.005, udp(b, a, b"Q" * 1200)))
    # VoIP call: 50 pps each way for 18 s
    a, b = "192.168.1.11:40000", "185.60.216.35:3478"
    for i in range(900):
        t = 20.0 + i * 0.02
        ev.append((t, udp(a, b, b"o" * 160)))
        ev.append((t + 0.007, udp(b, a, b"i" * 160)))
    # web browsing: 40 short connections
    for k in range(40):
        t0 = 2.0 + k * 2.5 + rnd.random()
        server = f"104.16.{rnd.randrange(1, 250)}.{rnd.randrange(1, 250)}:443"
        tcp_conn(t0, f"192.168.1.10:{52000 + k}", server, rnd.randrange(3, 25), 0.004)
    # IPv6 (ULA LAN host) web connections
    for k in range(10):
        tcp_conn(10.0 + k * 7, f"[fd00::10]:{53000 + k}", "[2606:4700::6810:85e5]:443", 12, 0.005)
    # DNS lookups
    for k in range(60):
        t = 1.5 + k * 1.9
        c = f"192.168.1.{10 + k % 2}:{30000 + k}"
        ev.append((t, udp(c, "9.9.9.9:53", b"d" * 40)))
        ev.append((t + 0.02, udp("9.9.9.9:53", c, b"D" * 120)))
    # NTP every 16 s
    for k in range(7):
        t = 3.0 + k * 16
        ev.append((t, udp("192.168.1.10:123", "162.159.200.1:123", b"n" * 48)))
        ev.append((t + 0.03, udp("162.159.200.1:123", "192.168.1.10:123", b"N" * 48)))
    # a game session with a 40 s pause (the flow times out and comes back with one slow packet)
    a, b = "192.168.1.10:3074", "198.51.100.7:3074"
    for phase in (30.0, 80.0):
        for i in range(200):
            t = phase + i * 0.05
            ev.append((t, udp(a, b, b"g" * 80)))
            ev.append((t + 0.02, udp(b, a, b"G" * 120)))
    # mDNS (multicast: not forwarded)
    for k in range(12):
        ev.append((4.0 + k * 10, udp("192.168.1.11:5353", "224.0.0.251:5353", b"m" * 50)))
    ev.sort(key=lambda e: e[0])
    tr = Trace()
    for k, (ts, p) in enumerate(ev):
        tr.add(round(ts, 6), p)
        if k % 997 == 0:
            tr.arp(round(ts, 6) + 0.000001)
    return tr


if __name__ == "__main__":
    tr = build()
    tr.write_pcap(OUT, snaplen=80)
    print(f"wrote {OUT}: {len(tr)} packets, {os.path.getsize(OUT)} bytes")
