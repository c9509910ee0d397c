"""`nft list ruleset` as input (issue 11): the flowtable and the forward-chain offload rule read from
the text nft prints, replayed on crafted traces with the per-packet paths the semantics give.

The fixtures in tests/data/nft/ have the shape of OpenWrt 23.05/24.10 fw4 output: the firewall4
template (root/usr/share/firewall4/templates/ruleset.uc) as nftables prints it back
(`flow offload @ft` is listed as `flow add @ft`, `ge 30` as `>= 30`, the flowtable with
`hook ingress priority filter`, `devices = { ... }`, `flags offload`, `counter`)."""
from __future__ import annotations

from pathlib import Path

import pytest

import pyflow
from pyflow.nftables import NftOffload, default_interface, load_ruleset, parse_ruleset
from tests.helpers import LAN, WAN, paths, reasons, run, tcp_handshake
from tests.pcapgen import Trace, tcp, udp

NFT = Path(__file__).parent / "data" / "nft"


def ruleset(rule: str, *, devices: str = '"lan1", "wan"', flags: str = "", family: str = "inet",
            before: str = "") -> str:
    """A minimal ruleset around one forward-chain rule; the rule is on line 10."""
    return (f"table {family} fw4 {{\n"                                      # 1
            "\tflowtable ft {\n"                                           # 2
            "\t\thook ingress priority filter\n"                          # 3
            f"\t\tdevices = {{ {devices} }}\n"                            # 4
            f"\t\t{flags or 'counter'}\n"                                 # 5
            "\t}\n"                                                        # 6
            "\n"                                                           # 7
            "\tchain forward {\n"                                          # 8
            "\t\ttype filter hook forward priority filter; policy drop;\n"  # 9
            f"{before}\t\t{rule}\n"                                        # 10
            "\t\tct state vmap { established : accept, related : accept }\n"
            "\t}\n"
            "}\n")


def rule_of(rule: str, **kw) -> dict:
    return parse_ruleset(ruleset(rule, **kw)).rule


def udp_exchange(t: Trace, ts: float, a: str, b: str, n: int, *, iface_a: int = 0, iface_b: int = 0) -> None:
    """n request/answer pairs a->b, b->a, 10 ms apart."""
    for i in range(n):
        t.add(round(ts + i * 0.01, 6), udp(a, b, b"q" * 40), iface=iface_a)
        t.add(round(ts + i * 0.01 + 0.005, 6), udp(b, a, b"r" * 200), iface=iface_b)


def one_way(n: int, src: str = f"{LAN}:4000", dst: str = f"{WAN}:5004") -> Trace:
    t = Trace()
    for i in range(n):
        t.add(round(i * 0.01, 6), udp(src, dst, b"u" * 100))
    return t


# --------------------------------------------------------------------------- the fw4 fixtures

def test_stock_fw4_23_05_software_offload(tmp_path):
    """`meta l4proto { tcp, udp } flow add @ft`: the model's built-in default, so the ruleset gives
    exactly the decisions of a plain `--mode sw` replay."""
    nft = load_ruleset(NFT / "fw4-23.05-sw.nft")
    assert (nft.table, nft.flowtable, nft.hook, nft.priority) == ("inet fw4", "ft", "ingress", "filter")
    assert nft.devices == ["lan1", "lan2", "lan3", "lan4", "wan"]
    assert nft.counter and not nft.offload and nft.mode == "sw"
    assert nft.chain == "forward" and nft.rule_line == 22
    assert nft.rule_text == "meta l4proto { tcp, udp } flow add @ft"
    assert nft.to_options() == {"mode": "sw", "offload_rule": {"l4proto": ["tcp", "udp"]},
                                "flowtable_counter": True, "flowtable_devices": ["lan", "wan"]}
    t = Trace()
    udp_exchange(t, 0.0, f"{LAN}:4000", f"{WAN}:5004", 3)
    ts = tcp_handshake(t, 1.0, f"{LAN}:40000", f"{WAN}:443")
    for i in range(3):
        t.add(ts + i * 0.01, tcp(f"{LAN}:40000", f"{WAN}:443", "A", seq=1001, ack=5001, payload=b"x" * 50))
    r = run(t, tmp_path, **nft.to_options())
    # UDP: the first packet creates the connection, the reply adds the flow, then the fast path;
    # TCP: SYN and SYN/ACK are not established, the handshake's ACK adds the flow
    assert paths(r) == ["slow", "slow", "sfo", "sfo", "sfo", "sfo"] + ["slow"] * 3 + ["sfo"] * 3
    assert reasons(r)[:2] == ["ct_new", "flow_add"] and reasons(r)[8] == "flow_add"
    assert r.decisions == run(t, tmp_path, mode="sw").decisions


def test_hardware_offload_24_10_binds_after_30_packets(tmp_path):
    nft = load_ruleset(NFT / "fw4-24.10-hw.nft")
    assert nft.offload and nft.counter and nft.mode == "hw"
    assert nft.devices == ["lan1", "lan2", "lan3", "lan4", "phy0-ap0", "phy1-ap0", "wan"]
    r = run(one_way(100), tmp_path, **nft.to_options())
    # slow (ct_new), slow (flow_add), 30 SFO until the PPE counts its 30th packet, then HFO
    assert paths(r) == ["slow", "slow"] + ["sfo"] * 30 + ["hfo"] * 68


def test_zapret_rule_keeps_the_first_30_original_packets_slow(tmp_path):
    """`ct original packets ge 30 flow offload @ft` (printed `>= 30 ... flow add`): conntrack counts
    the packet before the forward chain, so packet 30 matches and adds the flow."""
    nft = load_ruleset(NFT / "fw4-24.10-zapret.nft")
    assert nft.rule == {"l4proto": ["tcp", "udp"],
                        "ct_count": {"kind": "packets", "dir": "original", "cmp": "ge", "value": 30}}
    assert nft.mode == "sw"
    r = run(one_way(100), tmp_path, **nft.to_options())
    assert paths(r) == ["slow"] * 30 + ["sfo"] * 70
    assert set(reasons(r)[:29]) == {"rule_packets_below_threshold"} and reasons(r)[29] == "flow_add"


def test_zapret_rule_with_hardware_offload_delays_the_bind_too(tmp_path):
    opts = load_ruleset(NFT / "fw4-24.10-zapret.nft").to_options()
    opts["mode"] = "hw"
    r = run(one_way(100), tmp_path, **opts)
    # 30 slow, then the PPE counts 30 more (all within the first 1-s tick) before it binds
    assert paths(r) == ["slow"] * 30 + ["sfo"] * 30 + ["hfo"] * 40


def test_zapret_rule_counts_the_original_direction_only(tmp_path):
    """On a request/answer stream the 30th original packet is packet 59 of the file (index 58)."""
    t = Trace()
    udp_exchange(t, 0.0, f"{LAN}:4000", f"{WAN}:5004", 40)
    r = run(t, tmp_path, **load_ruleset(NFT / "fw4-24.10-zapret.nft").to_options())
    assert reasons(r)[58] == "flow_add"
    assert set(paths(r)[:59]) == {"slow"} and set(paths(r)[59:]) == {"sfo"}


def test_ct_packets_without_direction_counts_both_directions(tmp_path):
    """nft leaves the direction out of `ct packets`; nft_ct_get_eval_counter (net/netfilter/nft_ct.c)
    then adds the original and the reply counters: the 30th packet of the connection adds it."""
    rule = rule_of("meta l4proto { tcp, udp } ct packets >= 30 flow add @ft")
    assert rule["ct_count"] == {"kind": "packets", "dir": "both", "cmp": "ge", "value": 30}
    t = Trace()
    udp_exchange(t, 0.0, f"{LAN}:4000", f"{WAN}:5004", 40)
    r = run(t, tmp_path, offload_rule=rule)
    assert reasons(r)[29] == "flow_add"
    assert set(paths(r)[:30]) == {"slow"} and set(paths(r)[30:]) == {"sfo"}


def test_ct_original_bytes_threshold(tmp_path):
    """`ct original bytes > 1000`: 100-byte payloads make 128-byte IPv4 packets (L3 length, as
    nf_conn_acct counts them): the 8th packet brings 1024 bytes and adds the flow."""
    rule = rule_of("meta l4proto udp ct original bytes > 1000 flow add @ft")
    assert rule["ct_count"] == {"kind": "bytes", "dir": "original", "cmp": "gt", "value": 1000}
    r = run(one_way(12), tmp_path, offload_rule=rule)
    assert paths(r) == ["slow"] * 8 + ["sfo"] * 4
    assert reasons(r)[7] == "flow_add"


WIFI_TOPOLOGY = [{"name": "wan", "role": "wan"}, {"name": "lan", "role": "lan"},
                 {"name": "wlan", "role": "lan", "kind": "wifi", "band": "5g"}]
WIFI_CAPTURE = {0: "wan", 1: "lan", 2: "wlan"}
WIFI_WRITE = {"interfaces": [{"linktype": 1, "name": "wan"}, {"linktype": 1, "name": "lan1"},
                             {"linktype": 1, "name": "phy1-ap0"}]}
DEVICE_MAP = {"lan1": "lan", "lan2": "lan", "lan3": "lan", "lan4": "lan", "wan": "wan",
              "phy0-ap0": "wlan", "phy1-ap0": "wlan"}


def wifi_and_ethernet_trace() -> Trace:
    """A Wi-Fi client (.20, capture interface 2) and an Ethernet client (.10, interface 1), each
    with 10 request/answer pairs to the WAN (interface 0)."""
    t = Trace()
    udp_exchange(t, 0.0, "192.168.1.20:4000", f"{WAN}:5004", 10, iface_a=2, iface_b=0)
    udp_exchange(t, 1.0, f"{LAN}:4001", f"{WAN}:5005", 10, iface_a=1, iface_b=0)
    return t


def test_wifi_left_out_of_the_flowtable_stays_slow_on_its_ingress(tmp_path):
    """The flowtable's ingress hook runs only on its devices: packets entering on the Wi-Fi AP
    never take the fast path (not_flowtable_device) while the WAN->Wi-Fi direction does."""
    nft = load_ruleset(NFT / "fw4-24.10-wifi-excluded.nft")
    opts = nft.to_options(DEVICE_MAP)
    assert opts["flowtable_devices"] == ["lan", "wan"]
    t = wifi_and_ethernet_trace()
    r = run(t, tmp_path, fmt="pcapng", write_kw=WIFI_WRITE, interfaces=WIFI_TOPOLOGY,
            capture_map=WIFI_CAPTURE, **opts)
    p, why = paths(r), reasons(r)
    wifi_up, wifi_down = p[0:20:2], p[1:20:2]
    assert wifi_up == ["slow"] * 10
    assert set(why[0:20:2]) == {"not_flowtable_device"}  # the fast path's refusal names even the first
    assert wifi_down == ["slow"] + ["sfo"] * 9 and why[1] == "flow_add"
    assert p[20:] == ["slow", "slow"] + ["sfo"] * 18  # the Ethernet client: fast both ways


def test_wifi_in_the_flowtable_is_fast_both_ways(tmp_path):
    """The same trace with the 24.10 device list that holds the radios (software offload)."""
    opts = load_ruleset(NFT / "fw4-24.10-hw.nft").to_options(DEVICE_MAP)
    assert opts["flowtable_devices"] == ["lan", "wlan", "wan"]
    opts["mode"] = "sw"
    r = run(wifi_and_ethernet_trace(), tmp_path, fmt="pcapng", write_kw=WIFI_WRITE, interfaces=WIFI_TOPOLOGY,
            capture_map=WIFI_CAPTURE, **opts)
    assert paths(r) == (["slow", "slow"] + ["sfo"] * 18) * 2


def test_established_lan_to_wan_only(tmp_path):
    """`ct state established iifname { "br-lan" } oifname { "wan", "pppoe-wan" }`: the first packet
    is NEW, the WAN's answer enters on wan, so the LAN's second packet adds the flow."""
    nft = load_ruleset(NFT / "custom-state-ifaces.nft")
    assert nft.rule == {"l4proto": ["tcp", "udp"], "ct_state": ["established"], "iifname": ["br-lan"],
                        "oifname": ["wan", "pppoe-wan"]}
    opts = nft.to_options()  # br-lan -> lan; wan, pppoe-wan -> wan
    assert opts["offload_rule"]["iifname"] == ["lan"] and opts["offload_rule"]["oifname"] == ["wan"]
    t = Trace()
    a, b = f"{LAN}:4000", f"{WAN}:5004"
    for i, (src, dst) in enumerate([(a, b), (b, a), (a, b), (b, a), (a, b)]):
        t.add(i * 0.01, udp(src, dst, b"x"))
    for i in range(5):  # a one-way stream is never established
        t.add(1 + i * 0.01, udp(f"{LAN}:4001", f"{WAN}:5005", b"y"))
    r = run(t, tmp_path, **opts)
    assert paths(r)[:5] == ["slow", "slow", "slow", "sfo", "sfo"]
    assert reasons(r)[:3] == ["rule_not_matched", "rule_not_matched", "flow_add"]
    assert reasons(r)[5:] == ["rule_not_matched"] * 5


def test_daddr_set_across_lines(tmp_path):
    """`meta l4proto udp ip daddr { 8.8.8.0/24,\\n 1.1.1.1 }`: IPv4 UDP to those only."""
    nft = load_ruleset(NFT / "custom-addr-sets.nft")
    assert nft.rule == {"l4proto": ["udp"], "daddr": ["8.8.8.0/24", "1.1.1.1/32"]}
    assert nft.flowtable == "ft" and nft.devices == ["lan1", "lan2", "wan"]
    t = Trace()
    for k, dst in enumerate(("8.8.8.8", "1.1.1.1", "9.9.9.9")):
        udp_exchange(t, k, f"{LAN}:4000", f"{dst}:53", 2)
    t.add(5.0, udp("[fd00::10]:4000", "[2001:db8::53]:53", b"q"))
    t.add(5.01, udp("[2001:db8::53]:53", "[fd00::10]:4000", b"r"))
    t.add(5.02, udp("[fd00::10]:4000", "[2001:db8::53]:53", b"q"))
    ts = tcp_handshake(t, 6.0, f"{LAN}:40000", "8.8.8.8:443")
    t.add(ts, tcp(f"{LAN}:40000", "8.8.8.8:443", "A", seq=1001, ack=5001, payload=b"x"))
    r = run(t, tmp_path, **nft.to_options())
    # the condition holds per packet: the answers' destination is the LAN host, so the second
    # request adds the flow and the second answer is the first fast one
    assert paths(r)[:8] == ["slow", "slow", "slow", "sfo"] * 2
    assert reasons(r)[:4] == ["ct_new", "rule_not_matched", "flow_add", "flow_offloaded"]
    assert paths(r)[8:] == ["slow"] * 11
    assert set(reasons(r)[8:]) == {"rule_not_matched"}


def test_ip6_saddr_set_leaves_ipv4_and_other_prefixes_slow(tmp_path):
    nft = load_ruleset(NFT / "custom-ip6-saddr.nft")
    assert nft.rule == {"l4proto": ["tcp", "udp"], "saddr": ["fd00:1::/64", "fd00:3::/64"]}
    t = Trace()
    udp_exchange(t, 0, "[fd00:1::10]:4000", "[2001:db8::1]:5004", 2)
    udp_exchange(t, 1, "[fd00:2::10]:4000", "[2001:db8::1]:5004", 2)
    udp_exchange(t, 2, f"{LAN}:4000", f"{WAN}:5004", 2)
    r = run(t, tmp_path, **nft.to_options())
    # the source must be in the set: only the first flow's LAN packets can add it (the reply's source
    # is the WAN host), so its second request adds the flow and its second reply is fast
    assert paths(r) == ["slow", "slow", "slow", "sfo"] + ["slow"] * 8
    assert reasons(r)[:3] == ["ct_new", "rule_not_matched", "flow_add"]


def test_unsupported_expression_in_the_fixture_names_line_and_expression():
    with pytest.raises(pyflow.ConfigError, match=r"unsupported-tcp-dport\.nft:10: `tcp dport 443`"):
        load_ruleset(NFT / "unsupported-tcp-dport.nft")


# --------------------------------------------------------------------------- syntax

@pytest.mark.parametrize("text,cmp,value", [
    ("ge 30", "ge", 30), (">= 30", "ge", 30), (">=30", "ge", 30), ("gt 29", "gt", 29), ("> 29", "gt", 29),
    ("lt 5", "lt", 5), ("< 5", "lt", 5), ("le 5", "le", 5), ("<= 5", "le", 5), ("eq 7", "eq", 7),
    ("== 7", "eq", 7), ("7", "eq", 7), ("ne 7", "ne", 7), ("!= 7", "ne", 7), ("0x10", "eq", 16)])
def test_ct_count_operators(text, cmp, value):
    rule = rule_of(f"ct original packets {text} flow add @ft")
    assert rule["ct_count"] == {"kind": "packets", "dir": "original", "cmp": cmp, "value": value}
    assert rule["l4proto"] == ["tcp", "udp"]  # no protocol condition: the flowtable takes tcp and udp


def test_ct_reply_direction():
    assert rule_of("ct reply bytes > 1000 flow add @ft")["ct_count"] == \
        {"kind": "bytes", "dir": "reply", "cmp": "gt", "value": 1000}


def test_device_lists_quoted_unquoted_single_and_across_lines():
    text = ruleset("flow add @ft", devices='lan1, "lan2",\n\t\t\t    "phy0-ap0"  , wan')
    nft = parse_ruleset(text)
    assert nft.devices == ["lan1", "lan2", "phy0-ap0", "wan"]
    assert nft.rule_line == 11  # the device list took one more line
    single = parse_ruleset(ruleset("flow add @ft").replace('devices = { "lan1", "wan" }', 'devices = { wan }'))
    assert single.devices == ["wan"]


def test_input_spelling_flow_offload_semicolons_and_handles():
    text = ("table inet fw4 { # handle 1\n"
            "\tflowtable ft { hook ingress priority 0; devices = { lan1, wan }; counter; flags offload; }\n"
            "\tchain forward { type filter hook forward priority filter; policy drop;\n"
            "\t\tmeta l4proto { tcp, udp } flow offload @ft; # handle 5\n"
            "\t}\n}\n")
    nft = parse_ruleset(text)
    assert nft.priority == "0" and nft.offload and nft.counter and nft.mode == "hw"
    assert nft.rule == {"l4proto": ["tcp", "udp"]} and nft.rule_line == 4


@pytest.mark.parametrize("expr,expected", [
    ("meta l4proto udp", {"l4proto": ["udp"]}),
    ("meta l4proto { 6, 17 }", {"l4proto": ["tcp", "udp"]}),
    ("ip protocol { tcp, udp }", {"l4proto": ["tcp", "udp"], "saddr": ["0.0.0.0/0"]}),
    ("ip6 nexthdr tcp", {"l4proto": ["tcp"], "saddr": ["::/0"]}),
    ("meta nfproto ipv6 meta l4proto udp", {"l4proto": ["udp"], "saddr": ["::/0"]}),
    ("meta nfproto ipv4 ip saddr { 192.168.1.0/24, 10.0.0.0/8 }",
     {"l4proto": ["tcp", "udp"], "saddr": ["192.168.1.0/24", "10.0.0.0/8"]}),
    ("meta protocol ip", {"l4proto": ["tcp", "udp"], "saddr": ["0.0.0.0/0"]}),
    ('iif "lan1" oif "wan"', {"l4proto": ["tcp", "udp"], "iifname": ["lan1"], "oifname": ["wan"]}),
    ('meta iifname { "br-lan", lan2 } meta oifname == "wan"',
     {"l4proto": ["tcp", "udp"], "iifname": ["br-lan", "lan2"], "oifname": ["wan"]}),
    ("ct state established,related", {"l4proto": ["tcp", "udp"], "ct_state": ["established", "related"]}),
    ("ct state { new, established }", {"l4proto": ["tcp", "udp"], "ct_state": ["new", "established"]}),
    ("ip daddr 8.8.8.8", {"l4proto": ["tcp", "udp"], "daddr": ["8.8.8.8/32"]}),
    ("counter packets 120 bytes 9870 meta l4proto udp counter", {"l4proto": ["udp"]}),
    ('meta l4proto udp comment "udp only"', {"l4proto": ["udp"]}),
    ("meta l4proto { tcp, udp, icmp, gre }", {"l4proto": ["tcp", "udp"]}),
    ("meta l4proto { tcp, udp } meta l4proto udp", {"l4proto": ["udp"]}),
])
def test_supported_conditions(expr, expected):
    assert rule_of(f"{expr} flow add @ft") == expected


def test_statements_after_flow_add_are_ignored():
    assert rule_of("meta l4proto udp flow add @ft counter packets 3 bytes 120 accept") == {"l4proto": ["udp"]}


def test_table_family_ip_offloads_only_ipv4(tmp_path):
    nft = parse_ruleset(ruleset("meta l4proto udp flow add @ft", family="ip"))
    assert nft.rule == {"l4proto": ["udp"], "saddr": ["0.0.0.0/0"]}
    t = Trace()
    udp_exchange(t, 0, "[fd00::10]:4000", "[2001:db8::1]:5004", 2)
    udp_exchange(t, 1, f"{LAN}:4000", f"{WAN}:5004", 2)
    r = run(t, tmp_path, **nft.to_options())
    assert paths(r) == ["slow"] * 4 + ["slow", "slow", "sfo", "sfo"]


def test_conditions_that_exclude_each_other_match_nothing(tmp_path):
    nft = parse_ruleset(ruleset("ip daddr 8.8.8.8 ip6 saddr fd00::/8 flow add @ft"))
    assert nft.rule == {"l4proto": []} and any("no packet" in n for n in nft.notes)
    t = Trace()
    udp_exchange(t, 0, f"{LAN}:4000", "8.8.8.8:53", 2)
    r = run(t, tmp_path, **nft.to_options())
    assert set(reasons(r)) == {"rule_not_matched"}


def test_no_flowtable_and_no_flow_add_mean_no_offload(tmp_path):
    no_ft = parse_ruleset("table inet fw4 {\n\tchain forward {\n\t\ttype filter hook forward priority filter; "
                          "policy accept;\n\t\tct state established accept\n\t}\n}\n")
    assert no_ft.mode == "none" and no_ft.flowtable is None
    assert no_ft.to_options() == {"mode": "none", "offload_rule": {"present": False}}
    no_rule = parse_ruleset(ruleset("ct state established accept"))
    assert no_rule.flowtable == "ft" and no_rule.rule is None and no_rule.mode == "none"
    assert no_rule.notes and "nothing is offloaded" in no_rule.notes[0]
    opts = no_rule.to_options()
    assert opts["offload_rule"] == {"present": False}
    r = run(one_way(5), tmp_path, **opts)
    assert set(reasons(r)) == {"offload_disabled"}
    opts["mode"] = "sw"  # a flowtable without a `flow add` rule: the statement is missing
    assert set(reasons(run(one_way(5), tmp_path, **opts))) == {"offload_disabled"}


def test_default_device_map():
    assert [default_interface(d) for d in ("wan", "wan6", "pppoe-wan", "lan1", "br-lan", "phy0-ap0", "eth0")] == \
        ["wan", "wan", "wan", "lan", "lan", "lan", "lan"]
    nft = load_ruleset(NFT / "fw4-24.10-hw.nft")
    assert nft.to_options({"phy1-ap0": "wlan5g"})["flowtable_devices"] == ["lan", "wlan5g", "wan"]


def test_other_tables_sets_and_non_forward_chains_are_skipped():
    nft = load_ruleset(NFT / "fw4-24.10-zapret.nft")  # zapret's own table: sets, queue rules
    assert isinstance(nft, NftOffload) and nft.table == "inet fw4"


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("expr,what", [
    ("tcp dport 443", "`tcp dport 443`"),
    ("udp dport { 53, 443 }", "`udp dport { 53, 443 }`"),
    ("meta mark 0x1", "`meta mark 0x1`"),
    ('ct helper "ftp"', '`ct helper "ftp"`'),
    ("ct status dnat", "`ct status dnat`"),
    ("ct mark 0x1", "`ct mark 0x1`"),
    ("ct state invalid", "ct state 'invalid'"),
    ('iifname != "wan"', "negated match"),
    ("meta l4proto != udp", "negated match"),
    ('iifname "wl*"', "wildcard"),
    ("ip daddr @cdn", "named sets"),
    ("ip daddr 10.0.0.1-10.0.0.9", "address range"),
    ("ip daddr 2001:db8::1", "not an IPv4 address"),
    ("ct original packets 1-6", "range"),
    ("ct original packets ge 3 ct original bytes ge 10", "second ct packets/bytes"),
    ('log prefix "offload: "', "`log prefix"),
    ("limit rate 10/second", "`limit rate 10/second`"),
    ("fib daddr type local", "`fib daddr type local`"),
])
def test_unsupported_expression_is_a_config_error_naming_the_line(expr, what):
    with pytest.raises(pyflow.ConfigError) as exc:
        parse_ruleset(ruleset(f"meta l4proto {{ tcp, udp }} {expr} flow add @ft"), source="rules.nft")
    assert str(exc.value).startswith("rules.nft:10: ")
    assert what in str(exc.value)


def test_unsupported_expression_on_a_continuation_line_names_that_line():
    text = ruleset('meta l4proto { tcp,\n\t\t\tudp } iifname "br-lan"\n\t\t\ttcp dport 443 flow add @ft')
    with pytest.raises(pyflow.ConfigError, match=r"^<ruleset>:12: `tcp dport 443`"):
        parse_ruleset(text)


def test_verdict_before_the_offload_rule_is_an_error():
    text = ruleset("meta l4proto { tcp, udp } flow add @ft", before='\t\tiifname "wg0" accept\n')
    with pytest.raises(pyflow.ConfigError, match=r"^<ruleset>:10: rule `iifname \"wg0\" accept` comes before"):
        parse_ruleset(text)
    # a rule without a verdict (counting) does not change which packets reach flow add
    ok = ruleset("meta l4proto { tcp, udp } flow add @ft", before="\t\tcounter packets 1 bytes 60\n")
    assert parse_ruleset(ok).rule == {"l4proto": ["tcp", "udp"]}


@pytest.mark.parametrize("text,message", [
    (ruleset("meta l4proto udp flow add @ft", before="\t\tmeta l4proto tcp flow add @ft\n"), "several `flow add` rules"),
    (ruleset("meta l4proto udp flow add @nope"), "no flowtable nope"),
    (ruleset("meta l4proto udp flow add @ft").replace("type filter hook forward priority filter; policy drop;",
                                                     "comment \"a regular chain\""), "not a forward base chain"),
    (ruleset("meta l4proto udp flow add @ft").replace("counter", "flags offload,weird"), "flowtable flag 'weird'"),
    (ruleset("meta l4proto { tcp, udp flow add @ft"), "unbalanced"),
    ("define lan = br-lan\n", "expected 'table'"),
    ('table inet fw4 {\n\tchain forward {\n\t\tiifname "lan\n', "unterminated string"),
])
def test_malformed_or_unmodelled_rulesets(text, message):
    with pytest.raises(pyflow.ConfigError, match=message):
        parse_ruleset(text)


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(pyflow.ConfigError, match="cannot read the ruleset"):
        load_ruleset(tmp_path / "missing.nft")
