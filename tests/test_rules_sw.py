"""Software flow offload rules, one crafted trace per rule.

Expected per-packet paths come from the kernel semantics (../shared/docs/kernel-sfo.md and
kernel-sfo-detail.md, which cite nft_flow_offload.c, nf_flow_table_ip.c, nf_flow_table_core.c,
nf_conntrack_proto_tcp.c / _udp.c), not from pyflow's own output.
"""
from __future__ import annotations

import pytest

import pyflow
from tests.helpers import LAN, WAN, paths, read_log, reasons, run, tcp_handshake
from tests.pcapgen import (Trace, icmp_echo, icmp_error, ipv4_fragment, ipv6_with_ext, tcp, udp)

C = f"{LAN}:40000"
S = f"{WAN}:443"


def tcp_session(t: Trace, n_data: int = 20, ts: float = 0.0, **kw) -> float:
    """Handshake, n_data segments each way, then FIN/ACK close by the client."""
    ts = tcp_handshake(t, ts, C, S, **kw)
    for i in range(n_data):
        t.add(ts, tcp(C, S, "PA", seq=1001 + i * 10, ack=5001, payload=b"x" * 10), **kw)
        t.add(ts + 0.001, tcp(S, C, "PA", seq=5001 + i * 10, ack=1011 + i * 10, payload=b"y" * 10), **kw)
        ts += 0.01
    return ts


def test_tcp_flow_added_by_third_handshake_packet_then_fast_until_fin(tmp_path):
    """kernel-sfo.md §6.1: slow, slow, slow(add), fast x 40, FIN slow (teardown), rest slow."""
    t = Trace()
    ts = tcp_session(t, 20)
    t.add(ts, tcp(C, S, "FA", seq=1201, ack=5201))
    t.add(ts + 0.01, tcp(S, C, "A", seq=5201, ack=1202))
    t.add(ts + 0.02, tcp(S, C, "FA", seq=5201, ack=1202))
    t.add(ts + 0.03, tcp(C, S, "A", seq=1202, ack=5202))
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 3 + ["sfo"] * 40 + ["slow"] * 4
    # the eval refuses the SYN and SYN/ACK on the TCP state before it looks at confirmation
    assert reasons(r)[:3] == ["tcp_not_established", "tcp_not_established", "flow_add"]
    assert set(reasons(r)[3:43]) == {"flow_offloaded"}
    # the FIN tears the flow down (nf_flow_state_check), the server's FIN is refused by the
    # eval (FIN set), the ACKs by the TCP state (no longer ESTABLISHED)
    assert reasons(r)[43:] == ["tcp_fin_rst", "tcp_not_established", "tcp_fin_rst", "tcp_not_established"]
    assert r.stats["flowtable"]["teardown_fin_rst"] == 1
    assert r.paths["sfo"]["flows"] == 1 and r.paths["slow"]["flows"] == 1


def test_tcp_rst_not_matching_the_peers_ack_tears_down_but_keeps_established(tmp_path):
    """nf_flow_state_check tears the flow down on the RST; conntrack then validates the RST
    against the peer's highest ACK it has seen (td_maxack, stale while the flow was
    offloaded): a sequence number that does not match exactly keeps ESTABLISHED ("to allow a
    possible challenge ACK", nf_conntrack_tcp_packet), so the next packet adds the flow again.
    The real Linux 6.1 kernel does exactly this (tests/golden/kernel/tcp_rst.json, packets
    13-15)."""
    t = Trace()
    ts = tcp_session(t, 3)
    t.add(ts, tcp(S, C, "RA", seq=5031, ack=1031))
    t.add(ts + 0.01, tcp(C, S, "PA", seq=1031, ack=5031, payload=b"late"))
    t.add(ts + 0.02, tcp(C, S, "A", seq=1035, ack=5031))
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 3 + ["sfo"] * 6 + ["slow", "slow", "sfo"]
    assert reasons(r)[-3:-1] == ["tcp_fin_rst", "flow_add"]


def test_tcp_rst_matching_the_peers_ack_closes_the_connection(tmp_path):
    """An RST whose sequence number equals the peer's highest ACK moves conntrack to CLOSE: the
    connection is no longer ESTABLISHED and never offloads again."""
    t = Trace()
    ts = tcp_handshake(t, 0.0, C, S)
    t.add(ts, tcp(S, C, "PA", seq=5001, ack=1001, payload=b"y" * 10))
    t.add(ts + 0.01, tcp(S, C, "RA", seq=5001, ack=1001))  # the client's last ACK was 5001
    t.add(ts + 0.02, tcp(C, S, "PA", seq=1001, ack=5011, payload=b"late"))
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 3 + ["sfo", "slow", "slow"]
    assert reasons(r)[-2:] == ["tcp_fin_rst", "tcp_not_established"]


def test_tcp_rst_before_the_peers_ack_is_invalid(tmp_path):
    """An RST with a sequence number before the peer's highest ACK is an "invalid rst": no
    state change (the flow is still torn down by the fast path), so the connection re-offloads."""
    t = Trace()
    ts = tcp_handshake(t, 0.0, C, S)
    t.add(ts, tcp(S, C, "PA", seq=5001, ack=1001, payload=b"y" * 10))
    t.add(ts + 0.01, tcp(S, C, "RA", seq=4000, ack=1001))
    t.add(ts + 0.02, tcp(C, S, "PA", seq=1001, ack=5011, payload=b"late"))
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 3 + ["sfo", "slow", "slow"]
    assert reasons(r)[-2:] == ["tcp_fin_rst", "flow_add"]


def test_tcp_segment_beyond_the_receivers_window_is_invalid_before_offload(tmp_path):
    """tcp_in_window: before the flow is offloaded (BE_LIBERAL), a segment whose sequence number
    is over the receiver's window is invalid: no state change, no flow. The real Linux 6.1
    kernel agrees (tests/golden/kernel/tcp_out_of_window.json)."""
    t = Trace()
    t.add(0.0, tcp(C, S, "S", seq=1000, window=64240))
    t.add(0.01, tcp(S, C, "SA", seq=5000, ack=1001, window=65160))
    t.add(0.02, tcp(C, S, "PA", seq=1001 + 3_000_000, ack=5001, payload=b"x" * 100))
    t.add(0.03, tcp(C, S, "A", seq=1001, ack=5001))
    t.add(0.04, tcp(C, S, "PA", seq=1001, ack=5001, payload=b"y" * 100))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow", "slow", "slow", "sfo"]
    assert reasons(r)[2:4] == ["ct_invalid", "flow_add"]


def test_tcp_window_checks_are_off_once_offloaded(tmp_path):
    """nft_flow_offload_eval sets IP_CT_TCP_FLAG_BE_LIBERAL on both directions. Conntrack sees
    none of the fast-path segments, so a slow-path FIN (IP options keep it off the fast path)
    acknowledges data conntrack never saw ("ACK is over upper bound"): liberal tracking accepts
    it and the connection moves to FIN_WAIT. After the flow idles out, the next packet therefore
    finds a closing connection and stays slow (it would re-offload if the FIN had been invalid)."""
    t = Trace()
    ts = tcp_handshake(t, 0.0, C, S)
    for i in range(50):  # 50 kB downloaded on the fast path
        t.add(ts + i * 0.01, tcp(S, C, "A", seq=5001 + i * 1000, ack=1001, payload=b"d" * 1000))
    t.add(ts + 0.6, tcp(C, S, "FA", seq=1001, ack=55001, ip_options=b"\x01\x01\x01\x00"))
    t.add(ts + 40.0, tcp(C, S, "A", seq=1002, ack=55001))
    r = run(t, tmp_path)
    assert reasons(r)[-2] == "ipv4_options"
    assert r.decisions[-1] == ("slow", "tcp_not_established")


def test_udp_request_response_second_packet_adds_flow(tmp_path):
    """§6.2: query slow (unconfirmed), response slow and adds; a third packet is fast."""
    t = Trace()
    t.add(0.0, udp(f"{LAN}:5353", "8.8.8.8:53", b"q" * 30))
    t.add(0.02, udp("8.8.8.8:53", f"{LAN}:5353", b"r" * 60))
    t.add(0.04, udp(f"{LAN}:5353", "8.8.8.8:53", b"q" * 30))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow", "sfo"]
    assert reasons(r) == ["ct_new", "flow_add", "flow_offloaded"]


def test_one_way_udp_offloaded_from_second_packet(tmp_path):
    """§6.3: no ctinfo check since 5.2: slow, slow(add), fast x 98."""
    t = Trace()
    for i in range(100):
        t.add(i * 0.02, udp(f"{LAN}:4000", f"{WAN}:5004", b"rtp" * 50))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 98


def test_idle_gap_longer_than_flow_timeout_readds_flow_with_one_slow_packet(tmp_path):
    """§6.4 / detail §8(d): a 40 s gap: GC removed the flow; the ct lives on (fixup
    REPLIED - 30 s): exactly one slow packet re-adds the flow, the next is fast."""
    t = Trace()
    a, b = f"{LAN}:51820", f"{WAN}:51820"
    for i in range(10):
        t.add(i * 0.5, udp(a, b, b"w" * 100))
        t.add(i * 0.5 + 0.1, udp(b, a, b"g" * 100))
    t.add(4.6 + 40, udp(a, b, b"w" * 100))
    t.add(4.7 + 40, udp(b, a, b"g" * 100))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 18 + ["slow", "sfo"]
    assert reasons(r)[20] == "flow_timeout"
    assert r.stats["flowtable"]["timeouts"] == 1


def test_flow_refreshed_by_fast_path_packets_never_expires(tmp_path):
    """flow_offload_refresh: a 1 packet/s stream keeps its flow for 100 s."""
    t = Trace()
    for i in range(100):
        t.add(float(i), udp(f"{LAN}:4000", f"{WAN}:5004", b"k"))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 98


def test_gap_longer_than_flow_and_conntrack_timeouts_starts_a_new_connection(tmp_path):
    """After the flow (30 s) and the fixed-up ct (OpenWrt stream 180 - 30 = 150 s) are both
    gone, the next packet is a new connection: slow (new), slow (add)."""
    t = Trace()
    a, b = f"{LAN}:51820", f"{WAN}:51820"
    for i in range(6):
        t.add(i * 0.5, udp(a, b, b"w"))
        t.add(i * 0.5 + 0.1, udp(b, a, b"g"))
    t.add(300.0, udp(a, b, b"w"))
    t.add(300.1, udp(b, a, b"g"))
    t.add(300.2, udp(a, b, b"w"))
    r = run(t, tmp_path)
    assert paths(r)[12:] == ["slow", "slow", "sfo"]
    assert reasons(r)[12:14] == ["ct_new", "flow_add"]
    assert r.stats["conntrack"]["connections"] == 2


def test_ipv4_options_packet_takes_slow_path_and_flow_stays(tmp_path):
    """§6.5: nf_flow_tuple_ip rejects ihl != 5; the flow is untouched."""
    t = Trace()
    ts = tcp_session(t, 2)
    t.add(ts, tcp(C, S, "PA", seq=1021, ack=5021, payload=b"o" * 10, ip_options=b"\x01\x01\x01\x00"))
    t.add(ts + 0.01, tcp(S, C, "PA", seq=5021, ack=1031, payload=b"p" * 10))
    r = run(t, tmp_path)
    assert paths(r)[-2:] == ["slow", "sfo"]
    assert reasons(r)[-2] == "ipv4_options"


def test_fragments_take_slow_path_and_flow_stays(tmp_path):
    """ip_is_fragment: fragments never use the fast path."""
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    t.add(0.0, udp(a, b, b"1"))
    t.add(0.1, udp(b, a, b"2"))
    t.add(0.2, udp(a, b, b"3"))
    t.add(0.3, ipv4_fragment(udp(a, b, b"F" * 1400), mtu=600))
    t.add(0.4, udp(a, b, b"4"))
    r = run(t, tmp_path)
    n_frag = len(r.decisions) - 4
    assert n_frag == 3
    assert paths(r) == ["slow", "slow", "sfo"] + ["slow"] * 3 + ["sfo"]
    assert reasons(r)[3:6] == ["fragment"] * 3


def test_ttl_1_on_offloaded_flow_is_slow_and_dropped_flow_stays(tmp_path):
    """§6.7: TTL <= 1 fails nf_flow_tuple_ip; the slow path drops it (time exceeded)."""
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    t.add(0.0, udp(a, b, b"1"))
    t.add(0.1, udp(a, b, b"2"))
    t.add(0.2, udp(a, b, b"3", ttl=1))
    t.add(0.3, udp(a, b, b"4"))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow", "slow", "sfo"]
    assert reasons(r)[2] == "ttl_expired"
    assert r.stats["dropped"] == 1


def test_packet_larger_than_path_mtu_is_slow_and_flow_stays(tmp_path):
    """§6.6: nf_flow_exceeds_mtu."""
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    t.add(0.0, udp(a, b, b"1"))
    t.add(0.1, udp(a, b, b"2"))
    t.add(0.2, udp(a, b, b"B" * 1200))
    t.add(0.3, udp(a, b, b"4"))
    r = run(t, tmp_path, mtu=1000)
    assert paths(r) == ["slow", "slow", "slow", "sfo"]
    assert reasons(r)[2] == "mtu_exceeded"


def test_icmp_error_is_slow_and_related_to_the_flow_it_quotes(tmp_path):
    """nf_conntrack_inet_error: RELATED to the quoted connection; ICMP never offloads."""
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    q = udp(a, b, b"1")
    t.add(0.0, q)
    t.add(0.1, udp(b, a, b"2"))
    t.add(0.2, icmp_error(q, src=WAN, type=3, code=3))
    t.add(0.3, udp(a, b, b"3"))
    log = tmp_path / "log.jsonl"
    r = run(t, tmp_path, log=str(log))
    assert paths(r) == ["slow", "slow", "slow", "sfo"]
    assert reasons(r)[2] == "icmp_error"
    pk = [e for e in read_log(log) if "i" in e]
    assert pk[2]["flow"] == pk[0]["flow"] is not None
    assert pk[2]["dir"] == "reply"


def test_icmp_echo_is_tracked_but_never_offloaded(tmp_path):
    t = Trace()
    for i in range(3):
        t.add(i, icmp_echo(LAN, "8.8.8.8", ident=7, seq=i))
        t.add(i + 0.01, icmp_echo("8.8.8.8", LAN, ident=7, seq=i, reply=True))
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 6
    assert set(reasons(r)) == {"l4_proto"}
    assert r.paths["slow"]["flows"] == 1


def test_ipv6_tcp_same_rules_and_extension_header_goes_slow(tmp_path):
    """nf_flow_offload_ipv6_hook: any extension header after the fixed header -> slow."""
    c6, s6 = "[fd00::10]:40000", "[2606:2800:220:1::1]:443"
    t = Trace()
    ts = tcp_handshake(t, 0.0, c6, s6)
    t.add(ts, tcp(c6, s6, "PA", seq=1001, ack=5001, payload=b"a"))
    t.add(ts + 0.01, ipv6_with_ext(tcp(s6, c6, "PA", seq=5001, ack=1002, payload=b"b"), ext=["dst"]))
    t.add(ts + 0.02, tcp(s6, c6, "PA", seq=5002, ack=1002, payload=b"c"))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow", "slow", "sfo", "slow", "sfo"]
    assert reasons(r)[4] == "ipv6_ext_header"


def test_ipv6_global_lan_needs_a_lan_prefix(tmp_path):
    c6, s6 = "[2001:db8:1::10]:40000", "[2606:2800:220:1::1]:443"
    t = Trace()
    tcp_handshake(t, 0.0, c6, s6)
    assert set(paths(run(t, tmp_path))) == {"not_forwarded"}
    assert paths(run(t, tmp_path, lan_prefixes=["2001:db8:1::/64"])) == ["slow"] * 3


@pytest.mark.parametrize("encap", [{"vlan": 100}, {"pppoe": 0x1234}])
def test_single_vlan_tag_or_pppoe_session_is_offloaded_like_plain_ethernet(tmp_path, encap):
    """nf_flow_skb_encap_protocol looks inside one 802.1Q tag or a PPPoE session."""
    t = Trace()
    tcp_session(t, 2, **encap)
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 3 + ["sfo"] * 4


def test_qinq_double_tag_is_not_parsed_by_the_fast_path(tmp_path):
    """nf_flow_skb_encap_protocol handles a single VLAN tag: the inner tag hides IP."""
    t = Trace()
    tcp_session(t, 2, vlan=[100, 200])
    r = run(t, tmp_path)
    assert paths(r) == ["slow"] * 7
    assert set(reasons(r)[3:]) == {"encap_unsupported"}


def test_sll2_capture_gives_the_same_paths(tmp_path):
    t = Trace()
    tcp_session(t, 2)
    r = run(t, tmp_path, write_kw={"linktype": 276})
    assert paths(r) == ["slow"] * 3 + ["sfo"] * 4


def test_pcapng_with_two_interfaces(tmp_path):
    t = Trace()
    ts = tcp_handshake(t, 0.0, C, S)
    t.add(ts, tcp(C, S, "PA", seq=1001, ack=5001, payload=b"a"), iface=0)
    t.add(ts + 0.01, tcp(S, C, "PA", seq=5001, ack=1002, payload=b"b"), iface=1)
    r = run(t, tmp_path, fmt="pcapng", write_kw={"interfaces": [
        {"linktype": 1, "name": "br-lan"}, {"linktype": 1, "name": "wan"}]})
    assert paths(r) == ["slow", "slow", "slow", "sfo", "sfo"]
    assert r.stats["trace"]["capture_interfaces"] == 2


def test_pcapng_interface_map_puts_packets_on_a_chosen_router_port(tmp_path):
    """The flow records its ingress interface per direction: a packet of that direction on
    another interface does not match the flowtable tuple (iifidx is part of the key)."""
    t = Trace()
    t.add(0.0, tcp(C, S, "S", seq=1000), iface=0)
    t.add(0.01, tcp(S, C, "SA", seq=5000, ack=1001), iface=2)
    t.add(0.02, tcp(C, S, "A", seq=1001, ack=5001), iface=0)
    t.add(0.03, tcp(C, S, "PA", seq=1001, ack=5001, payload=b"a"), iface=0)
    t.add(0.04, tcp(C, S, "PA", seq=1002, ack=5001, payload=b"b"), iface=1)
    ifaces = [{"name": "lan1", "role": "lan"}, {"name": "lan2", "role": "lan"}, {"name": "wan", "role": "wan"}]
    r = run(t, tmp_path, fmt="pcapng",
            write_kw={"interfaces": [{"linktype": 1, "name": n} for n in ("lan1", "lan2", "wan")]},
            interfaces=ifaces, capture_map={0: "lan1", 1: "lan2", 2: "wan"})
    assert paths(r) == ["slow", "slow", "slow", "sfo", "slow"]
    assert reasons(r)[4] == "iif_mismatch"


def test_device_outside_the_flowtable_never_takes_the_fast_path_in_that_direction(tmp_path):
    """The flowtable's ingress hook only runs on its devices."""
    t = Trace()
    tcp_session(t, 2)
    ifaces = [{"name": "lan", "role": "lan", "in_flowtable": False}, {"name": "wan", "role": "wan"}]
    r = run(t, tmp_path, interfaces=ifaces)
    # client->server packets enter on lan (not a flowtable device): slow; replies from wan: fast
    assert paths(r)[3:] == ["slow", "sfo", "slow", "sfo"]
    assert reasons(r)[3] == "not_flowtable_device"


@pytest.mark.parametrize("write_kw", [{"nanosecond": True}, {"big_endian": True},
                                      {"nanosecond": True, "big_endian": True}])
def test_nanosecond_and_big_endian_pcap_give_the_same_paths(tmp_path, write_kw):
    t = Trace()
    tcp_session(t, 3)
    plain = run(t, tmp_path)
    other = run(t, tmp_path, write_kw=write_kw)
    assert other.decisions == plain.decisions
    assert other.stats["trace"]["first_ts"] == plain.stats["trace"]["first_ts"]


def test_nanosecond_timestamps_are_kept_exactly(tmp_path):
    t = Trace(base=1_700_000_000)
    t.add("0.000000001", udp(f"{LAN}:1", f"{WAN}:2", b"x"))
    t.add("0.000000999", udp(f"{LAN}:1", f"{WAN}:2", b"x"))
    log = tmp_path / "log.jsonl"
    run(t, tmp_path, write_kw={"nanosecond": True}, log=str(log))
    times = [e["t"] for e in read_log(log) if "i" in e]
    assert times == [1700000000.000000001, 1700000000.000000999] or \
        (tmp_path / "log.jsonl").read_text().count("1700000000.000000999") == 1


def test_multicast_broadcast_same_side_and_non_ip_are_not_forwarded(tmp_path):
    t = Trace()
    t.add(0.0, udp(f"{LAN}:5353", "224.0.0.251:5353", b"mdns"))
    t.add(0.1, udp(f"{LAN}:68", "255.255.255.255:67", b"dhcp"))
    t.add(0.2, udp(f"{LAN}:1000", "192.168.1.20:2000", b"lan2lan"))
    t.arp(0.3)
    t.add(0.4, udp("[fe80::1]:546", "[ff02::1:2]:547", b"dhcpv6"))
    r = run(t, tmp_path)
    assert paths(r) == ["not_forwarded"] * 5
    assert reasons(r) == ["multicast", "multicast", "same_side", "not_ip", "multicast"]


def test_mode_none_sends_every_forwarded_packet_to_the_slow_path(tmp_path):
    t = Trace()
    tcp_session(t, 5)
    r = run(t, tmp_path, mode="none")
    assert paths(r) == ["slow"] * 13
    assert set(reasons(r)) == {"offload_disabled"}


def test_tcp_mid_stream_pickup_with_loose_tracking(tmp_path):
    """tcp_new: a pure ACK opens an ESTABLISHED entry (nf_conntrack_tcp_loose=1); ASSURED needs
    a packet after the first reply: the third packet adds the flow."""
    t = Trace()
    for i in range(3):
        t.add(i * 0.01, tcp(C, S, "PA", seq=100 + i, ack=200, payload=b"a"))
        t.add(i * 0.01 + 0.005, tcp(S, C, "A", seq=200, ack=101 + i))
    r = run(t, tmp_path)
    assert paths(r) == ["slow", "slow", "slow", "sfo", "sfo", "sfo"]
    assert reasons(r)[:3] == ["tcp_not_established", "tcp_not_established", "flow_add"]
    strict = run(t, tmp_path, tcp_loose=False)
    assert paths(strict) == ["slow"] * 6
    assert reasons(strict)[0] == "ct_invalid"


def test_conntrack_full_of_assured_entries_drops_new_connections(tmp_path):
    """early_drop finds no unassured victim: "nf_conntrack: table full, dropping packet"."""
    t = Trace()
    ts = 0.0
    for i in range(16):
        c, s = f"{LAN}:{10000 + i}", f"{WAN}:443"
        ts = tcp_handshake(t, ts, c, s)
    t.add(ts, tcp(f"{LAN}:20000", f"{WAN}:443", "S"))
    r = run(t, tmp_path, ct_max=16)
    assert paths(r)[-1] == "slow"
    assert reasons(r)[-1] == "ct_table_full"
    assert r.stats["dropped"] == 1


def test_conntrack_full_early_drops_an_unassured_entry(tmp_path):
    t = Trace()
    for i in range(40):
        t.add(i * 0.01, udp(f"{LAN}:{10000 + i}", f"{WAN}:53", b"q"))
    r = run(t, tmp_path, ct_max=16)
    assert "ct_table_full" not in reasons(r)
    assert r.stats["conntrack"]["early_drops"] >= 24
    assert r.stats["conntrack"]["peak"] == 16


def test_timestamps_going_backwards_are_clamped_and_counted(tmp_path):
    t = Trace()
    t.add(10.0, udp(f"{LAN}:1", f"{WAN}:2", b"x"))
    t.add(5.0, udp(f"{LAN}:1", f"{WAN}:2", b"x"))
    t.add(11.0, udp(f"{LAN}:1", f"{WAN}:2", b"x"))
    r = run(t, tmp_path)
    assert r.stats["trace"]["ts_backwards"] == 1
    assert paths(r) == ["slow", "slow", "sfo"]


def test_decision_log_has_a_line_per_packet_and_flow_events(tmp_path):
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    t.add(0.0, udp(a, b, b"1"))
    t.add(0.1, udp(b, a, b"2"))
    t.add(40.0, udp(a, b, b"3"))
    log = tmp_path / "log.jsonl"
    r = run(t, tmp_path, log=str(log))
    entries = read_log(log)
    pk = [e for e in entries if "i" in e]
    ev = [e["event"] for e in entries if "event" in e]
    assert [e["path"] for e in pk] == paths(r)
    assert [e["i"] for e in pk] == [0, 1, 2]
    assert ev == ["flow_add", "flow_teardown", "flow_del", "flow_add"]
    assert entries[1]["tuple"] == "udp 192.168.1.10:4000>93.184.216.34:5004"
