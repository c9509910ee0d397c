"""Hardware offload rules (--mode hw), one crafted trace per rule.

Expected paths come from the driver semantics in ../shared/docs/hw-offload-detail.md (§2.3:
a direction binds when its PPE entry counts ppe_bind_rate = 30 packets in one 1-s tick and
the driver holds the flow; the next packet is HFO; §2.5 aging; §1.3 bound ways are never
evicted; §5 WED) and the kernel flowtable rules (the flow must exist in software first).
Note: the PPE counts the packets it sees after the flowtable entry exists (README, "Hardware
offload"), so for a one-way UDP stream: 2 slow packets, then 30 SFO packets, the 30th of which
is the RATE_REACHED packet that makes the driver bind, then HFO.
"""
from __future__ import annotations

import ipaddress

import pytest

from tests.helpers import LAN, WAN, paths, reasons, run
from tests.pcapgen import Trace, tcp, udp


def mtk_ppe_hash(src: str, sport: int, dst: str, dport: int, entries: int, ways: int) -> int:
    """mtk_ppe.c:mtk_ppe_hash_entry for an IPv4 HNAPT key (hw-offload-detail.md §1.2)."""
    m = 0xFFFFFFFF
    hv1 = ((sport << 16) | dport) & m
    hv2 = int(ipaddress.IPv4Address(dst))
    hv3 = int(ipaddress.IPv4Address(src))
    h = (hv1 & hv2) | ((~hv1 & m) & hv3)
    h = ((h << 8) | (h >> 24)) & m
    h ^= hv1 ^ hv2 ^ hv3
    h ^= h >> 16
    h = (h << (ways.bit_length() - 1)) & m
    return h & (entries - 1)


def test_python_hash_matches_the_documented_vectors():
    assert mtk_ppe_hash("192.168.1.10", 40000, "93.184.216.34", 443, 8192, 2) == 0x73E
    assert mtk_ppe_hash("192.168.1.10", 40000, "93.184.216.34", 443, 16384, 2) == 0x273E
    assert mtk_ppe_hash("192.168.1.10", 40000, "93.184.216.34", 443, 8192, 4) == 0xE7C
    assert mtk_ppe_hash("93.184.216.34", 443, "203.0.113.5", 40000, 8192, 2) == 0xD2


def stream(t: Trace, src: str, dst: str, start: float, n: int, pps: float, size: int = 100) -> float:
    p = udp(src, dst, b"u" * size)
    for i in range(n):
        t.add(round(start + i / pps, 6), p)
    return start + n / pps


def test_bind_after_rate_reached_then_hardware_forwards(tmp_path):
    t = Trace()
    stream(t, f"{LAN}:4000", f"{WAN}:5004", 0.0, 100, 100)
    r = run(t, tmp_path, mode="hw")
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68
    assert set(reasons(r)[2:32]) == {"hw_bind_pending"}
    assert set(reasons(r)[32:]) == {"hw_forwarded"}
    assert r.stats["hw"]["binds"] == 1 and r.stats["hw"]["commits"] == 1


def test_direction_below_bind_rate_stays_on_sfo_for_its_whole_life(tmp_path):
    t = Trace()
    stream(t, f"{LAN}:4000", f"{WAN}:5004", 0.0, 100, 10)  # 10 packets/s for 10 s
    r = run(t, tmp_path, mode="hw")
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 98
    assert r.stats["hw"]["binds"] == 0


def test_bind_and_age_out_events_are_logged(tmp_path):
    t = Trace()
    end = stream(t, f"{LAN}:4000", f"{WAN}:5004", 0.0, 100, 100)
    stream(t, f"{LAN}:4000", f"{WAN}:5004", end + 15.0, 10, 100)
    log = tmp_path / "log.jsonl"
    run(t, tmp_path, mode="hw", log=str(log))
    from tests.helpers import read_log
    events = [e["event"] for e in read_log(log) if "event" in e]
    assert events == ["flow_add", "hw_commit", "hw_commit", "hw_bind", "hw_age_out"]


def test_each_direction_binds_on_its_own(tmp_path):
    """A download binds downstream while its 10 pkt/s ACK stream stays in software."""
    t = Trace()
    c, s = f"{LAN}:40000", f"{WAN}:443"
    t.add(0.0, tcp(c, s, "S", seq=1))
    t.add(0.01, tcp(s, c, "SA", seq=9, ack=2))
    t.add(0.02, tcp(c, s, "A", seq=2, ack=10))
    for i in range(100):
        t.add(round(0.03 + i * 0.009, 6), tcp(s, c, "A", seq=10 + i * 1000, ack=2, payload=b"d" * 1000))
        if i % 10 == 0:
            t.add(round(0.0305 + i * 0.009, 6), tcp(c, s, "A", seq=2, ack=1010 + i * 1000))
    r = run(t, tmp_path, mode="hw")
    down = [p for (p, _), rec in zip(r.decisions, t) if rec.frame[26:30] == bytes([93, 184, 216, 34])]
    acks = [p for (p, _), rec in zip(r.decisions[3:], list(t)[3:]) if rec.frame[26:30] == bytes([192, 168, 1, 10])]
    assert down[1:] == ["sfo"] * 30 + ["hfo"] * 70  # down[0] is the SYN/ACK
    assert set(acks) == {"sfo"}


def colliding_ports(n: int, entries: int, ways: int, *, avoid_bucket: int | None = None, same: bool = True):
    """Client ports whose reply direction (WAN->LAN) lands in one bucket (or anywhere else)."""
    found, target = [], None
    for port in range(20000, 60000):
        b = mtk_ppe_hash(WAN, 5004, LAN, port, entries, ways) // ways
        bo = mtk_ppe_hash(LAN, port, WAN, 5004, entries, ways) // ways
        if same:
            if target is None and b != bo:
                target = b
            if b == target and bo != target:
                found.append(port)
        elif b != avoid_bucket and bo != avoid_bucket:
            found.append(port)
        if len(found) == n:
            return found, target
    raise AssertionError("no ports found")


def test_bucket_collision_keeps_the_third_flow_in_software(tmp_path):
    """A 2-way bucket holds two bound entries; a third flow hashing there stays SFO
    (ppe_bucket_full) while a flow in another bucket binds (§1.3: bound ways are never evicted)."""
    entries, ways = 64, 2
    ports, bucket = colliding_ports(3, entries, ways)
    other, _ = colliding_ports(1, entries, ways, avoid_bucket=bucket, same=False)
    t = Trace()
    for k, port in enumerate(ports):  # downstream streams, 100 pkt/s each
        stream(t, f"{WAN}:5004", f"{LAN}:{port}", k * 2.0, 100, 100)
    stream(t, f"{WAN}:5004", f"{LAN}:{other[0]}", 6.0, 100, 100)
    r = run(t, tmp_path, mode="hw", ppe_entries=entries, lan_prefixes=[])
    p = paths(r)
    assert p[0:100] == ["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68
    assert p[100:200] == ["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68
    assert p[200:300] == ["slow", "slow"] + ["sfo"] * 98
    assert reasons(r)[299] == "ppe_bucket_full"
    assert p[300:400] == ["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68


def test_full_table_surplus_flow_stays_on_sfo(tmp_path):
    """A one-bucket table (the seed's tiny table, scaled down): the surplus is SFO, never lost."""
    t = Trace()
    for k in range(3):
        stream(t, f"{LAN}:{4000 + k}", f"{WAN}:5004", k * 2.0, 100, 100)
    r = run(t, tmp_path, mode="hw", ppe_entries=2)
    p = paths(r)
    assert p[:200] == (["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68) * 2
    assert p[200:] == ["slow", "slow"] + ["sfo"] * 98
    assert reasons(r)[-1] == "ppe_bucket_full"
    assert r.paths["hfo"]["packets"] + r.paths["sfo"]["packets"] + r.paths["slow"]["packets"] == 300


def test_bound_entry_ages_out_after_idle_and_rebinds(tmp_path):
    """BIND_AGE0: an idle bound UDP entry ages after 12 s; the software flow lives on (hardware
    stats refreshed it), so the resumed stream is SFO (hw_aged) until it reaches the rate again."""
    t = Trace()
    end = stream(t, f"{LAN}:4000", f"{WAN}:5004", 0.0, 100, 100)
    stream(t, f"{LAN}:4000", f"{WAN}:5004", end + 15.0, 100, 100)
    r = run(t, tmp_path, mode="hw")
    p = paths(r)
    assert p[:100] == ["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68
    assert p[100:] == ["sfo"] * 30 + ["hfo"] * 70
    assert reasons(r)[100] == "hw_aged"
    assert r.stats["hw"]["age_outs"] == 1 and r.stats["hw"]["binds"] == 2


def test_teardown_frees_a_way_that_a_waiting_flow_then_takes(tmp_path):
    """Flow teardown (FIN) deletes its FOE entries (mtk_foe_entry_clear): the flow kept in
    software for lack of a way binds as soon as its next second reaches the rate."""
    t = Trace()
    c1, s1 = f"{LAN}:40000", f"{WAN}:443"
    t.add(0.0, tcp(c1, s1, "S", seq=1))
    t.add(0.01, tcp(s1, c1, "SA", seq=9, ack=2))
    t.add(0.02, tcp(c1, s1, "A", seq=2, ack=10))
    for i in range(100):  # downstream 100 pkt/s: binds
        t.add(round(0.03 + i * 0.01, 6), tcp(s1, c1, "A", seq=10 + i * 100, ack=2, payload=b"d" * 100))
    stream(t, f"{WAN}:5004", f"{LAN}:4001", 0.05, 100, 100)  # binds the second way
    stream(t, f"{WAN}:5005", f"{LAN}:4002", 2.0, 300, 100)  # waits: bucket full
    t.add(2.5, tcp(c1, s1, "FA", seq=2, ack=10010))  # teardown of flow 1 frees its way
    t.records.sort(key=lambda rec: rec.ts_ns)
    r = run(t, tmp_path, mode="hw", ppe_entries=2)
    waiting = [r.decisions[i] for i in range(len(t)) if t[i].frame[26:30] == bytes([93, 184, 216, 34])
               and t[i].frame[34:36] == (5005).to_bytes(2, "big")]
    wp = [p for p, _ in waiting]
    assert wp[:2] == ["slow", "slow"]
    assert "ppe_bucket_full" in [x for _, x in waiting[:50]]
    assert "hfo" in wp  # bound after the FIN freed a way
    first_hfo = wp.index("hfo")
    assert first_hfo > 50  # only after the teardown at t=2.5 s


def wifi_topology():
    return [
        {"name": "wan", "role": "wan"},
        {"name": "lan", "role": "lan"},
        {"name": "wlan2g", "role": "lan", "kind": "wifi", "band": "2g"},
        {"name": "wlan5g", "role": "lan", "kind": "wifi", "band": "5g"},
    ]


def wifi_trace():
    """Downstream 100 pkt/s streams to a 5 GHz client (iface 2) and a 2.4 GHz client (iface 1)."""
    t = Trace()
    for k, (client, iface) in enumerate((("192.168.1.50", 2), ("192.168.1.60", 1))):
        up = udp(f"{client}:4000", f"{WAN}:5004", b"u")
        down = udp(f"{WAN}:5004", f"{client}:4000", b"d" * 200)
        t.add(k * 0.001, up, iface=iface)
        for i in range(100):
            t.add(round(0.01 + k * 0.001 + i * 0.01, 6), down, iface=0)
    return t


WIFI_WRITE = {"interfaces": [{"linktype": 1, "name": "wan"}, {"linktype": 1, "name": "wlan2g"},
                             {"linktype": 1, "name": "wlan5g"}]}
WIFI_MAP = {0: "wan", 1: "wlan2g", 2: "wlan5g"}


def client_paths(r, t, client_last_octet):
    return [p for (p, _), rec in zip(r.decisions, t) if rec.frame[33] == client_last_octet or rec.frame[29] == client_last_octet]


def test_wifi_5ghz_goes_hfo_through_wed_while_2ghz_stays_sfo(tmp_path):
    t = wifi_trace()
    r = run(t, tmp_path, mode="hw", fmt="pcapng", write_kw=WIFI_WRITE, soc="mt7986",
            interfaces=wifi_topology(), capture_map=WIFI_MAP)
    p5, p2 = client_paths(r, t, 50), client_paths(r, t, 60)
    # up packet (slow, ct_new), down: slow (flow_add), 30 SFO (the 30th reaches the rate), 69 HFO
    assert p5.count("hfo") == 69 and p2.count("hfo") == 0
    r2 = [x for (_, x), rec in zip(r.decisions, t) if rec.frame[33] == 60 and rec.frame[29] != 60]
    assert "wed_2g_excluded" in r2


def test_wifi_on_a_soc_without_wed_stays_sfo(tmp_path):
    t = wifi_trace()
    r = run(t, tmp_path, mode="hw", fmt="pcapng", write_kw=WIFI_WRITE, soc="mt7621",
            interfaces=wifi_topology(), capture_map=WIFI_MAP)
    assert r.paths["hfo"]["packets"] == 0
    assert r.reasons.get("wifi_no_wed", 0) > 0


def test_wed_2g_override_lets_the_2ghz_client_bind(tmp_path):
    t = wifi_trace()
    r = run(t, tmp_path, mode="hw", fmt="pcapng", write_kw=WIFI_WRITE, soc="mt7986", wed_2g=True,
            interfaces=wifi_topology(), capture_map=WIFI_MAP)
    assert client_paths(r, t, 60).count("hfo") == 69


def test_ipv6_on_a_soc_without_ipv6_offload_stays_sfo(tmp_path):
    t = Trace()
    stream(t, "[fd00::10]:4000", "[2606:2800:220:1::1]:5004", 0.0, 100, 100)
    with_v6 = run(t, tmp_path, mode="hw")
    assert with_v6.paths["hfo"]["packets"] == 68
    without = run(t, tmp_path, mode="hw", ppe_ipv6=False)
    assert paths(without) == ["slow", "slow"] + ["sfo"] * 98
    assert set(reasons(without)[2:]) == {"ppe_ipv6_unsupported"}


def test_soc_without_ppe_never_offloads_in_hardware(tmp_path):
    t = Trace()
    stream(t, f"{LAN}:4000", f"{WAN}:5004", 0.0, 100, 100)
    r = run(t, tmp_path, mode="hw", soc="mt7629")
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 98
    assert set(reasons(r)[2:]) == {"hw_no_ppe"}


def test_hfo_bypasses_the_shaper_and_warns(tmp_path):
    t = Trace()
    stream(t, f"{LAN}:4000", f"{WAN}:5004", 0.0, 100, 100)
    ifaces = [{"name": "lan", "role": "lan"}, {"name": "wan", "role": "wan", "shaper": True}]
    r = run(t, tmp_path, mode="hw", interfaces=ifaces)
    q = r.stats["qos"]["wan"]
    assert q["bypass_packets"] == 68 and q["shaped_packets"] == 32
    assert any("bypasses the shaper on wan" in w for w in r.warnings)
    sw = run(t, tmp_path, mode="sw", interfaces=ifaces)
    assert sw.stats["qos"]["wan"]["bypass_packets"] == 0 and not sw.warnings


def test_hfo_share_rises_with_table_size_on_thousands_of_concurrent_flows(tmp_path):
    """3000 concurrent UDP flows, 40 packets each in 0.4 s, all alive together: a bigger FOE
    table binds more of them; the accounting invariant holds throughout."""
    t = Trace()
    n = 3000
    for k in range(n):
        p = udp(f"192.168.{k // 250}.{k % 250 + 1}:{10000 + k}", f"{WAN}:5004", b"v" * 100)
        start = 0.002 * k
        for i in range(40):
            t.add(round(start + i * 0.01, 6), p)
    t.records.sort(key=lambda rec: rec.ts_ns)
    shares = []
    for entries in (64, 256, 8192):
        r = run(t, tmp_path, mode="hw", ppe_entries=entries)
        shares.append(r.paths["hfo"]["packets"] / r.stats["packets_total"])
        assert r.paths["slow"]["packets"] == 2 * n
    assert shares[0] < shares[1] < shares[2]
    assert shares[0] > 0
