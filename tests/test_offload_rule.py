"""Variants of the forward-chain offload rule that people run (issue 11): the conditions in
front of `flow add @ft` are nft expressions evaluated left to right; the statement (and so
nft_flow_offload_eval) runs only when all of them match. Counters are nf_conn_acct, updated by
conntrack before the forward chain (so the current packet counts) and by the fast path when the
flowtable has the `counter` flag."""
from __future__ import annotations

import pytest

import pyflow
from tests.helpers import LAN, WAN, paths, reasons, run
from tests.pcapgen import Trace, tcp, udp


def one_way(n: int = 100) -> Trace:
    t = Trace()
    for i in range(n):
        t.add(i * 0.01, udp(f"{LAN}:4000", f"{WAN}:5004", b"u" * 50))
    return t


def test_ct_original_packets_ge_30_keeps_the_first_29_packets_slow(tmp_path):
    """zapret / youtubeUnblock: `meta l4proto { tcp, udp } ct original packets ge 30 flow offload
    @ft`: packet 30 of the original direction matches and adds the flow."""
    r = run(one_way(), tmp_path, offload_after_packets=30)
    assert paths(r) == ["slow"] * 30 + ["sfo"] * 70
    assert set(reasons(r)[:29]) == {"rule_packets_below_threshold"}
    assert reasons(r)[29] == "flow_add"


def test_ct_original_packets_counts_only_the_original_direction(tmp_path):
    """A TCP download: the server's segments do not count; the client's 30th packet adds it."""
    c, s = f"{LAN}:40000", f"{WAN}:443"
    t = Trace()
    t.add(0.0, tcp(c, s, "S", seq=1))
    t.add(0.01, tcp(s, c, "SA", seq=9, ack=2))
    t.add(0.02, tcp(c, s, "A", seq=2, ack=10))
    ts = 0.03
    for i in range(40):
        t.add(ts, tcp(s, c, "A", seq=10 + i * 100, ack=2, payload=b"d" * 100))
        t.add(ts + 0.001, tcp(s, c, "A", seq=10 + i * 100 + 50, ack=2, payload=b"d" * 100))
        t.add(ts + 0.002, tcp(c, s, "A", seq=2, ack=10 + (i + 1) * 100))
        ts += 0.01
    r = run(t, tmp_path, offload_after_packets=30)
    client_idx = [i for i, rec in enumerate(t) if rec.frame[26:30] == bytes([192, 168, 1, 10])]
    # client packets: SYN, ACK, then one ACK per round: the 30th is round 28's ACK
    add_at = client_idx[29]
    assert reasons(r)[add_at] == "flow_add"
    assert set(paths(r)[:add_at + 1]) == {"slow"}
    assert set(paths(r)[add_at + 1:]) == {"sfo"}


def test_flowtable_counter_flag_lets_fast_path_packets_count(tmp_path):
    """`ct original packets ge N` after a re-offload: with the counter flag, fast-path packets
    were counted, so the post-gap packet re-adds at once; without it the count lags."""
    t = Trace()
    for i in range(50):
        t.add(i * 0.01, udp(f"{LAN}:4000", f"{WAN}:5004", b"u"))
    for i in range(3):
        t.add(40 + i * 0.01, udp(f"{LAN}:4000", f"{WAN}:5004", b"u"))
    with_counter = run(t, tmp_path, offload_after_packets=40)
    assert paths(with_counter)[50:] == ["slow", "sfo", "sfo"]
    assert reasons(with_counter)[50] == "flow_timeout"
    without = run(t, tmp_path, offload_after_packets=60, flowtable_counter=False)
    assert set(paths(without)) == {"slow"}  # 53 packets never reach 60 in conntrack's count


def test_flowtable_without_a_device_never_fast_paths_that_ingress(tmp_path):
    """Wi-Fi left out of the flowtable's devices: the ingress hook does not run there."""
    t = Trace()
    for i in range(10):
        t.add(i * 0.01, udp(f"{LAN}:4000", f"{WAN}:5004", b"u"))
        t.add(i * 0.01 + 0.005, udp(f"{WAN}:5004", f"{LAN}:4000", b"d"))
    r = run(t, tmp_path, flowtable_devices=["wan"])
    up = paths(r)[0::2]
    down = paths(r)[1::2]
    assert set(up) == {"slow"}
    assert down == ["slow"] + ["sfo"] * 9
    assert "not_flowtable_device" in reasons(r)


def test_iifname_condition_adds_the_flow_only_from_that_interface(tmp_path):
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    for i, (src, dst) in enumerate([(a, b), (b, a), (a, b), (b, a)]):
        t.add(i * 0.01, udp(src, dst, b"x"))
    r = run(t, tmp_path, offload_rule={"iifname": ["lan"]})
    assert paths(r) == ["slow", "slow", "slow", "sfo"]
    assert reasons(r)[:3] == ["ct_new", "rule_not_matched", "flow_add"]


def test_daddr_set_condition(tmp_path):
    t = Trace()
    for k, dst in enumerate(("8.8.8.8", "1.1.1.1")):
        for i in range(4):
            t.add(k + i * 0.01, udp(f"{LAN}:4000", f"{dst}:53", b"q"))
    r = run(t, tmp_path, offload_rule={"daddr": ["8.8.8.0/24"]})
    assert paths(r) == ["slow", "slow", "sfo", "sfo"] + ["slow"] * 4
    assert reasons(r)[4:] == ["rule_not_matched"] * 4


def test_l4proto_udp_only_leaves_tcp_on_the_slow_path(tmp_path):
    t = Trace()
    c, s = f"{LAN}:40000", f"{WAN}:443"
    t.add(0.0, tcp(c, s, "S", seq=1))
    t.add(0.01, tcp(s, c, "SA", seq=9, ack=2))
    for i in range(5):
        t.add(0.02 + i * 0.01, tcp(c, s, "A", seq=2, ack=10))
    r = run(t, tmp_path, offload_rule={"l4proto": ["udp"]})
    assert set(paths(r)) == {"slow"}
    assert set(reasons(r)) == {"rule_not_matched"}


def test_no_offload_statement_means_nothing_is_offloaded(tmp_path):
    r = run(one_way(10), tmp_path, offload_rule={"present": False})
    assert set(paths(r)) == {"slow"} and set(reasons(r)) == {"offload_disabled"}


@pytest.mark.parametrize("rule", [{"l4proto": ["icmp"]}, {"iifname": ["nope"]}, {"ct_state": ["weird"]},
                                  {"ct_count": {"kind": "packets", "cmp": "~", "value": 3}}, {"bogus": 1}])
def test_bad_offload_rule_is_a_config_error(tmp_path, rule):
    with pytest.raises(pyflow.ConfigError):
        pyflow.replay(tmp_path / "x.pcap", offload_rule=rule)
