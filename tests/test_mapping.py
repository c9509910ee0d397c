"""Packet -> router interface mapping rules (first match wins), one crafted trace per source.

Each test puts the 5 GHz and 2.4 GHz clients' traffic on their radios with one mapping source
and checks the consequence the kernel/driver semantics give in --mode hw on a WED SoC:
the 5 GHz client binds (HFO), the 2.4 GHz client stays SFO (wed_2g_excluded).
"""
from __future__ import annotations

import pytest

from tests.helpers import WAN, run
from tests.pcapgen import ROUTER_MAC, Trace, udp

IFACES = [
    {"name": "wan", "role": "wan"},
    {"name": "lan", "role": "lan"},
    {"name": "wlan2g", "role": "lan", "kind": "wifi", "band": "2g"},
    {"name": "wlan5g", "role": "lan", "kind": "wifi", "band": "5g"},
]
C5, C2 = "192.168.1.50", "192.168.1.60"
MAC5, MAC2 = "02:00:00:00:00:50", "02:00:00:00:00:60"


def two_clients(*, iface_of=None, vlan_of=None, mac=True) -> Trace:
    """Each client sends one packet up, then receives 100 packets/s for 1 s."""
    t = Trace()
    for k, (client, cmac) in enumerate(((C5, MAC5), (C2, MAC2))):
        up = udp(f"{client}:4000", f"{WAN}:5004", b"u")
        down = udp(f"{WAN}:5004", f"{client}:4000", b"d" * 200)
        kw_up = dict(src_mac=cmac) if mac else {}
        kw_dn = dict(dst_mac=cmac, src_mac=ROUTER_MAC) if mac else {}
        if iface_of:
            kw_up["iface"] = iface_of[client]
        if vlan_of:
            kw_up["vlan"] = vlan_of[client]
        t.add(k * 0.001, up, **kw_up)
        for i in range(100):
            t.add(round(0.01 + k * 0.001 + i * 0.01, 6), down, **kw_dn)
    t.records.sort(key=lambda r: r.ts_ns)
    return t


def hfo_of(r, t, client_octet: int) -> int:
    return sum(1 for (p, _), rec in zip(r.decisions, t) if p == "hfo" and rec.frame[33] == client_octet)


def check(r, t):
    assert hfo_of(r, t, 50) == 69  # slow(add), 30 SFO, 69 HFO
    assert hfo_of(r, t, 60) == 0
    assert r.reasons.get("wed_2g_excluded", 0) > 0


def test_mapping_by_pcapng_interface_name(tmp_path):
    t = two_clients(iface_of={C5: 1, C2: 2})
    r = run(t, tmp_path, mode="hw", soc="mt7986", fmt="pcapng", interfaces=IFACES,
            write_kw={"interfaces": [{"linktype": 1, "name": "eth1"}, {"linktype": 1, "name": "phy1-ap0"},
                                     {"linktype": 1, "name": "phy0-ap0"}]},
            map_rules=[{"kind": "capture_name", "value": "phy1-ap0", "iface": "wlan5g"},
                       {"kind": "capture_name", "value": "phy0-ap0", "iface": "wlan2g"}])
    check(r, t)


def test_mapping_by_sll2_interface_index(tmp_path):
    t = two_clients(iface_of={C5: 7, C2: 8})
    r = run(t, tmp_path, mode="hw", soc="mt7986", interfaces=IFACES, write_kw={"linktype": 276},
            map_rules=[{"kind": "sll2_ifindex", "value": 8, "iface": "wlan5g"},
                       {"kind": "sll2_ifindex", "value": 9, "iface": "wlan2g"}])
    check(r, t)


def test_mapping_by_radiotap_channel_frequency(tmp_path):
    """A capture on the AP's radios: the clients' frames (ToDS) enter by the radio of their
    band; the frames the AP sends them (FromDS) leave by it."""
    t = two_clients(iface_of={C5: 1, C2: 2})
    for rec in t.records:  # downstream frames go out on the client's radio
        if rec.iface == 0:
            rec.iface = 1 if rec.frame[33] == 50 else 2
    r = run(t, tmp_path, mode="hw", soc="mt7986", interfaces=IFACES,
            write_kw={"linktype": 127, "freqs": {0: 5180, 1: 5180, 2: 2412}},
            map_rules=[{"kind": "radio_band", "value": "5g", "iface": "wlan5g"},
                       {"kind": "radio_band", "value": "2g", "iface": "wlan2g"}])
    check(r, t)


def test_mapping_by_vlan_id(tmp_path):
    t = two_clients(vlan_of={C5: 50, C2: 20})
    r = run(t, tmp_path, mode="hw", soc="mt7986", interfaces=IFACES,
            map_rules=[{"kind": "vlan", "value": 50, "iface": "wlan5g"},
                       {"kind": "vlan", "value": 20, "iface": "wlan2g"}])
    check(r, t)


def test_mapping_by_station_mac_applies_to_both_directions(tmp_path):
    """A station table: the client's MAC places its upstream packets (source MAC) and, for the
    egress side, the downstream packets sent to it (destination MAC)."""
    t = two_clients()
    r = run(t, tmp_path, mode="hw", soc="mt7986", interfaces=IFACES,
            map_rules=[{"kind": "mac", "value": MAC5, "iface": "wlan5g"},
                       {"kind": "mac", "value": MAC2, "iface": "wlan2g"}])
    check(r, t)


def test_mapping_by_subnet(tmp_path):
    t = two_clients(mac=False)
    r = run(t, tmp_path, mode="hw", soc="mt7986", interfaces=IFACES,
            map_rules=[{"kind": "subnet", "value": f"{C5}/32", "iface": "wlan5g"},
                       {"kind": "subnet", "value": f"{C2}/32", "iface": "wlan2g"}])
    check(r, t)


def test_mapping_by_pppoe_session_puts_packets_on_the_pppoe_wan(tmp_path):
    """PPPoE WAN with MTU 1492: a 1498-byte packet fits Ethernet but exceeds the PPPoE path MTU."""
    ifaces = [{"name": "pppoe-wan", "role": "wan", "mtu": 1492}, {"name": "lan", "role": "lan"}]
    t = Trace()
    a, b = "192.168.1.10:4000", f"{WAN}:5004"
    t.add(0.0, udp(a, b, b"1"))
    t.add(0.1, udp(b, a, b"2"), pppoe=0x11)
    t.add(0.2, udp(a, b, b"x" * 1470))  # 1498-byte IP packet: > 1492, < 1500
    t.add(0.3, udp(a, b, b"3"))
    r = run(t, tmp_path, interfaces=ifaces, map_rules=[{"kind": "pppoe", "value": "any", "iface": "pppoe-wan"}])
    assert [p for p, _ in r.decisions] == ["slow", "slow", "slow", "sfo"]
    assert r.decisions[2] == ("slow", "mtu_exceeded")


def test_first_matching_rule_wins(tmp_path):
    t = two_clients(mac=True)
    r = run(t, tmp_path, mode="hw", soc="mt7986", interfaces=IFACES,
            map_rules=[{"kind": "subnet", "value": "192.168.1.0/24", "iface": "wlan5g"},
                       {"kind": "mac", "value": MAC2, "iface": "wlan2g"}])
    assert hfo_of(r, t, 50) == 69 and hfo_of(r, t, 60) == 69


@pytest.mark.parametrize("rule", [{"kind": "nope", "value": 1, "iface": "lan"},
                                  {"kind": "vlan", "value": 1, "iface": "nope"},
                                  {"kind": "mac", "value": "zz", "iface": "lan"},
                                  {"kind": "radio_band", "value": "9g", "iface": "lan"}])
def test_bad_mapping_rule_is_a_config_error(tmp_path, rule):
    import pyflow
    with pytest.raises(pyflow.ConfigError):
        pyflow.replay(tmp_path / "x.pcap", interfaces=IFACES, map_rules=[rule])


def test_a_run_routes_each_configuration_by_its_own_topology(tmp_path):
    """One pass shares a packet's routing result only between configurations with the same
    topology (csrc/sim.c pf_sim_share_routes): a grid that mixes topologies, with a repeat of
    each, gives every configuration the decisions of its own replay."""
    import pyflow

    t = two_clients(iface_of={C5: 1, C2: 2}, vlan_of={C5: 5, C2: 6})
    path = tmp_path / "t.pcap"
    t.write_pcap(path)
    base = dict(mode="hw", soc="mt7986", interfaces=IFACES, keep_decisions=True)
    by_vlan = [{"kind": "vlan", "value": 5, "iface": "wlan5g"}, {"kind": "vlan", "value": 6, "iface": "wlan2g"}]
    swapped = [{"kind": "vlan", "value": 5, "iface": "wlan2g"}, {"kind": "vlan", "value": 6, "iface": "wlan5g"}]
    configs = [pyflow.Options(**base),
               pyflow.Options(**base, map_rules=by_vlan),
               pyflow.Options(**base, map_rules=swapped),
               pyflow.Options(**base, lan_prefixes=[f"{WAN}/32"]),  # the server is LAN too: same_side
               pyflow.Options(**base, map_rules=by_vlan),
               pyflow.Options(**base)]
    many = pyflow.run_many(path, configs)
    singles = [pyflow.replay(path, **c.__dict__) for c in configs]
    for res, single in zip(many, singles):
        assert res.decisions == single.decisions
        assert res.stats == single.stats
    # the topologies really differ: the 5 GHz client binds only where its VLAN maps to wlan5g
    assert hfo_of(many[1], t, 50) == 69 and hfo_of(many[2], t, 50) == 0
    assert hfo_of(many[2], t, 60) == 69
    assert many[3].reasons.get("same_side") == len(t.records)
