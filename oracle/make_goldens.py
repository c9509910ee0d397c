#!/usr/bin/env python3
"""Regenerates the committed kernel goldens (tests/golden/kernel/) with the kernel oracle.

    python3 oracle/make_goldens.py            # all traces (about 10 minutes under TCG)
    python3 oracle/make_goldens.py udp_gap40  # only the named ones

Crafted rule traces are written with tests/pcapgen.py into oracle/build/traces/ (not committed: the
re-stamped copy next to each golden carries the same frames); real traces come from
/work/shared/pcaps/real (first N packets, long idle gaps shortened: the re-stamped trace records the
times the kernel really saw, so pyflow is compared on the same timing).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import run  # noqa: E402
from pcapgen import Trace, icmp_error, ipv4_fragment, ipv6_with_ext, tcp, udp  # noqa: E402

REAL = Path("/work/shared/pcaps/real")
C4, S4 = "192.168.1.10", "93.184.216.34"
C6, S6 = "[fd00::10]", "[2001:db8::80]"


def tcp_session(t: Trace, t0: float, c: str, s: str, n: int = 5, close: str = "F", dt: float = 0.01):
    """Handshake, n data segments each way (request / ack), then FIN or RST close."""
    cs, ss = 1000, 5000
    t.add(t0, tcp(c, s, "S", seq=cs))
    t.add(t0 + dt, tcp(s, c, "SA", seq=ss, ack=cs + 1))
    t.add(t0 + 2 * dt, tcp(c, s, "A", seq=cs + 1, ack=ss + 1))
    cs, ss, ts = cs + 1, ss + 1, t0 + 3 * dt
    for _ in range(n):
        t.add(ts, tcp(c, s, "PA", seq=cs, ack=ss, payload=b"q" * 100))
        cs += 100
        t.add(ts + dt / 2, tcp(s, c, "PA", seq=ss, ack=cs, payload=b"r" * 200))
        ss += 200
        ts += dt
    return cs, ss, ts


def tcp_handshake_fin():
    t = Trace()
    c, s = f"{C4}:40000", f"{S4}:443"
    cs, ss, ts = tcp_session(t, 0, c, s, n=20)
    t.add(ts, tcp(c, s, "FA", seq=cs, ack=ss))
    t.add(ts + 0.01, tcp(s, c, "FA", seq=ss, ack=cs + 1))
    t.add(ts + 0.02, tcp(c, s, "A", seq=cs + 1, ack=ss + 1))
    return t


def tcp_rst():
    t = Trace()
    c, s = f"{C4}:40001", f"{S4}:80"
    cs, ss, ts = tcp_session(t, 0, c, s, n=5)
    t.add(ts, tcp(s, c, "RA", seq=ss, ack=cs))
    # the client keeps talking after the reset (stale packets of a closed connection)
    t.add(ts + 0.01, tcp(c, s, "PA", seq=cs, ack=ss, payload=b"late"))
    t.add(ts + 0.02, tcp(c, s, "A", seq=cs + 4, ack=ss))
    # and a new connection on another port right after
    tcp_session(t, ts + 0.05, f"{C4}:40002", s, n=3)
    return t


def udp_req_resp():
    t = Trace()
    c, s = f"{C4}:53000", "8.8.8.8:53"
    t.add(0, udp(c, s, b"\x12\x34query"))
    t.add(0.02, udp(s, c, b"\x12\x34answer"))
    t.add(0.04, udp(c, s, b"\x12\x35query2"))
    t.add(0.06, udp(s, c, b"\x12\x35answer2"))
    # a second client: query and answer only
    t.add(0.1, udp(f"{C4}:53001", s, b"\x22\x34query"))
    t.add(0.12, udp(s, f"{C4}:53001", b"\x22\x34answer"))
    return t


def udp_oneway():
    t = Trace()
    for i in range(100):
        t.add(i * 0.01, udp(f"{C4}:5004", f"{S4}:5004", b"rtp%05d" % i + b"\0" * 160))
    return t


def udp_gap40():
    t = Trace()
    c, s = f"{C4}:41000", f"{S4}:4500"
    ts = 0.0
    for i in range(6):
        t.add(ts, udp(c, s, b"ping%d" % i))
        t.add(ts + 0.01, udp(s, c, b"pong%d" % i))
        ts += 0.05
    ts += 40
    for i in range(6, 10):
        t.add(ts, udp(c, s, b"ping%d" % i))
        t.add(ts + 0.01, udp(s, c, b"pong%d" % i))
        ts += 0.05
    return t


def tcp_ipv4_options():
    t = Trace()
    c, s = f"{C4}:40010", f"{S4}:443"
    cs, ss, ts = tcp_session(t, 0, c, s, n=4)
    t.add(ts, tcp(c, s, "PA", seq=cs, ack=ss, payload=b"o" * 50, ip_options=b"\x01\x01\x01\x00"))
    cs += 50
    t.add(ts + 0.01, tcp(s, c, "A", seq=ss, ack=cs))
    for i in range(3):
        t.add(ts + 0.02 + i * 0.01, tcp(c, s, "PA", seq=cs, ack=ss, payload=b"d" * 10))
        cs += 10
    t.add(ts + 0.06, tcp(s, c, "PA", seq=ss, ack=cs, payload=b"x" * 10, ip_options=b"\x01\x01\x01\x00"))
    t.add(ts + 0.07, tcp(c, s, "A", seq=cs, ack=ss + 10))
    return t


def udp_ttl1():
    t = Trace()
    c, s = f"{C4}:42000", f"{S4}:3478"
    for i in range(4):
        t.add(i * 0.02, udp(c, s, b"a%d" % i))
        t.add(i * 0.02 + 0.01, udp(s, c, b"b%d" % i))
    t.add(0.1, udp(c, s, b"ttl1", ttl=1))
    t.add(0.11, udp(s, c, b"ttl1r", ttl=1))
    t.add(0.12, udp(c, s, b"after"))
    t.add(0.13, udp(s, c, b"afterr"))
    t.add(0.14, udp(c, s, b"ttl2", ttl=2))
    t.add(0.15, udp(c, s, b"end"))
    return t


def udp_fragments():
    t = Trace()
    c, s = f"{C4}:43000", f"{S4}:443"
    for i in range(4):
        t.add(i * 0.02, udp(c, s, b"small%d" % i))
        t.add(i * 0.02 + 0.01, udp(s, c, b"reply%d" % i))
    t.add(0.1, ipv4_fragment(udp(c, s, b"F" * 1200, ident=0x4242), mtu=576))
    t.add(0.11, udp(c, s, b"mid"))
    t.add(0.12, ipv4_fragment(udp(s, c, b"G" * 1000, ident=0x4343), mtu=576))
    t.add(0.13, udp(c, s, b"after"))
    t.add(0.14, udp(s, c, b"afterr"))
    return t


def tcp_ipv6():
    t = Trace()
    c, s = f"{C6}:40000", f"{S6}:443"
    cs, ss, ts = tcp_session(t, 0, c, s, n=8)
    t.add(ts, tcp(c, s, "FA", seq=cs, ack=ss))
    t.add(ts + 0.01, tcp(s, c, "FA", seq=ss, ack=cs + 1))
    t.add(ts + 0.02, tcp(c, s, "A", seq=cs + 1, ack=ss + 1))
    return t


def ipv6_ext_header():
    t = Trace()
    c, s = f"{C6}:44000", f"{S6}:53"
    for i in range(4):
        t.add(i * 0.02, udp(c, s, b"q%d" % i))
        t.add(i * 0.02 + 0.01, udp(s, c, b"r%d" % i))
    t.add(0.1, ipv6_with_ext(udp(c, s, b"with-dst-opts"), ext=("dst",)))
    t.add(0.11, udp(s, c, b"r-after-dst"))
    t.add(0.12, ipv6_with_ext(udp(s, c, b"with-hbh"), ext=("hop",)))
    t.add(0.13, udp(c, s, b"q-after-hbh"))
    t.add(0.14, udp(c, s, b"hop1", ttl=1))
    t.add(0.15, udp(s, c, b"end"))
    # TCP over IPv6 with a destination-options header mid-flow
    cs, ss, ts = tcp_session(t, 0.2, f"{C6}:44001", f"{S6}:80", n=3)
    t.add(ts, ipv6_with_ext(tcp(f"{C6}:44001", f"{S6}:80", "PA", seq=cs, ack=ss, payload=b"e" * 20),
                            ext=("dst",)))
    t.add(ts + 0.01, tcp(f"{S6}:80", f"{C6}:44001", "A", seq=ss, ack=cs + 20))
    t.add(ts + 0.02, tcp(f"{C6}:44001", f"{S6}:80", "PA", seq=cs + 20, ack=ss, payload=b"f" * 20))
    return t


def mixed_icmp_multicast():
    t = Trace()
    c, s = f"{C4}:45000", f"{S4}:9999"
    q = udp(c, s, b"probe")
    t.add(0, q)
    t.add(0.01, udp(s, c, b"resp"))
    t.add(0.02, udp(c, s, b"probe2"))
    t.add(0.03, udp(c, s, b"probe3"))
    t.add(0.04, icmp_error(udp(c, s, b"probe3"), S4))           # port unreachable, RELATED
    t.add(0.05, udp(c, s, b"probe4"))
    t.add(0.06, udp(f"{C4}:5353", "224.0.0.251:5353", b"mdns"))  # multicast: not forwarded
    t.add(0.07, udp(f"{C4}:1900", "239.255.255.250:1900", b"ssdp"))
    t.add(0.08, udp(f"{C4}:137", "192.168.1.255:137", b"nbns"))
    t.add(0.09, udp(f"{C4}:6000", "192.168.1.20:6000", b"same side"))
    t.arp(0.1)
    t.add(0.11, udp(s, c, b"resp2"))
    # WAN-initiated TCP (a port forward): handshake from the WAN side
    tcp_session(t, 0.2, f"{S4}:50000", f"{C4}:8080", n=3)
    return t


def tcp_out_of_window():
    """Handshake, then a segment far outside the window (conntrack: INVALID), then normal data."""
    t = Trace()
    c, s = f"{C4}:46000", f"{S4}:443"
    t.add(0, tcp(c, s, "S", seq=1000))
    t.add(0.01, tcp(s, c, "SA", seq=5000, ack=1001))
    t.add(0.02, tcp(c, s, "PA", seq=1001 + 3_000_000, ack=5001, payload=b"bogus"))
    t.add(0.03, tcp(c, s, "A", seq=1001, ack=5001))
    t.add(0.04, tcp(c, s, "PA", seq=1001, ack=5001, payload=b"x" * 10))
    t.add(0.05, tcp(s, c, "A", seq=5001, ack=1011))
    t.add(0.06, tcp(c, s, "PA", seq=1011, ack=5001, payload=b"y" * 10))
    t.add(0.07, tcp(s, c, "PA", seq=5001 + 3_000_000, ack=1021, payload=b"bogus2"))
    t.add(0.08, tcp(s, c, "A", seq=5001, ack=1021))
    # a SYN on the established connection
    t.add(0.09, tcp(c, s, "S", seq=1021))
    t.add(0.10, tcp(c, s, "PA", seq=1021, ack=5001, payload=b"z" * 10))
    return t


CRAFTED = {
    "tcp_handshake_fin": (tcp_handshake_fin, []),
    "tcp_rst": (tcp_rst, []),
    "udp_req_resp": (udp_req_resp, []),
    "udp_oneway": (udp_oneway, []),
    "udp_gap40": (udp_gap40, ["--max-gap", "45"]),
    "tcp_ipv4_options": (tcp_ipv4_options, []),
    "udp_ttl1": (udp_ttl1, []),
    "udp_fragments": (udp_fragments, []),
    "tcp_ipv6": (tcp_ipv6, []),
    "ipv6_ext_header": (ipv6_ext_header, []),
    "mixed_icmp_multicast": (mixed_icmp_multicast, []),
    "tcp_out_of_window": (tcp_out_of_window, []),
}

# real captures: (file, first N records, extra args)
REAL_TRACES = {
    "real_safari": ("safari.pcap", 0, ["--max-gap", "1"]),
    "real_smtp_starttls": ("smtp-starttls.pcap", 0, ["--max-gap", "1"]),
    "real_tencent_games": ("tencent_games.pcap", 0, ["--max-gap", "1"]),
    "real_raknet": ("raknet.pcap", 0, ["--max-gap", "1"]),
    "real_telegram_videocall": ("telegram_videocall.pcapng", 300, ["--max-gap", "1"]),
    "real_zoom": ("zoom.pcap", 300, ["--max-gap", "1"]),
}


def main(names):
    out_dir = HERE.parent / "tests" / "golden" / "kernel"
    src = HERE / "build" / "traces"
    src.mkdir(parents=True, exist_ok=True)
    for name, (fn, args) in CRAFTED.items():
        if names and name not in names:
            continue
        p = src / f"{name}.pcap"
        fn().write_pcap(p)
        run.main([str(p), "-o", str(out_dir / f"{name}.json"), "--name", name,
                  "--note", (fn.__doc__ or "crafted rule trace (oracle/make_goldens.py)").strip()] + args)
    for name, (fname, n, args) in REAL_TRACES.items():
        if names and name not in names:
            continue
        extra = ["--max-packets", str(n)] if n else []
        run.main([str(REAL / fname), "-o", str(out_dir / f"{name}.json"), "--name", name,
                  "--note", f"real capture {fname}" + (f", first {n} records" if n else "")] + args + extra)


if __name__ == "__main__":
    main(sys.argv[1:])
