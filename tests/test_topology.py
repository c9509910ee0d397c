"""The router model (pyflow/topology.py): OpenWrt config import, TOML topology files, conversion
to replay options, `describe()`, and end-to-end replays through imported topologies."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import pyflow
from pyflow.core import Options, build_config
from pyflow.errors import ConfigError
from pyflow.topology import MapRule, Topology
from tests.helpers import WAN, run
from tests.pcapgen import ROUTER_MAC, Trace, udp

DATA = Path(__file__).parent / "data" / "openwrt"
EXAMPLE = Path(__file__).parent.parent / "pcaps" / "topology-example.toml"
SETS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def rules(t: Topology):
    return [(r.kind, r.value, r.iface) for r in t.map_rules()]


def ifaces(t: Topology):
    return [(i.name, i.role, i.kind, i.band, i.vlan, i.mtu, i.in_flowtable) for i in t.interfaces]


def copy_set(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    shutil.copytree(DATA / name, d)
    return d


# --------------------------------------------------------------------------- OpenWrt import
def test_plain_ethernet_wan_2305():
    t = Topology.from_openwrt(DATA / "ethernet-23.05")
    assert t.mode == "sw" and "flow_offloading '1'" in t.mode_source
    assert ifaces(t) == [("lan", "lan", "ethernet", None, None, 1500, True),
                         ("wan", "wan", "ethernet", None, None, 1500, True)]
    lan = t.iface("lan")
    assert lan.device == "br-lan" and lan.lower == ["lan1", "lan2", "lan3", "lan4"]
    assert lan.subnets == ["192.168.1.0/24", "fd12:3456:789a::/60"]   # ip6assign 60 of the ULA /48
    assert t.iface("wan").device == "wan" and t.iface("wan").shaper is None
    assert rules(t) == [("subnet", "192.168.1.0/24", "lan"), ("subnet", "fd12:3456:789a::/60", "lan")]
    assert t.lan_prefixes == ["192.168.1.0/24", "fd12:3456:789a::/60"]
    # radios are disabled in the default wireless file: not modelled
    assert any("default_radio0 on radio0 is disabled" in n for n in t.notes)
    assert any("wan6 (dhcpv6) shares device wan" in n for n in t.notes)
    assert [(l.macs, l.ip, l.name) for l in t.leases] == [(["00:11:32:aa:bb:cc"], "192.168.1.20", "nas")]


def test_pppoe_wan_over_vlan7_2410_hw_offload_and_sqm():
    t = Topology.from_openwrt(DATA / "pppoe-vlan7-24.10")
    assert t.mode == "hw"
    assert ifaces(t) == [("lan", "lan", "ethernet", None, None, 1500, True),
                         ("wan", "wan", "pppoe", None, 7, 1492, True)]
    wan = t.iface("wan")
    assert wan.device == "pppoe-wan" and wan.lower == ["wan.7", "wan"]
    assert (wan.shaper.download_kbit, wan.shaper.upload_kbit, wan.shaper.qdisc, wan.shaper.device) == \
        (100000, 20000, "cake", "pppoe-wan")
    assert ("vlan", 7, "wan") in rules(t) and ("pppoe", "any", "wan") in rules(t)
    assert [k for k, _, _ in rules(t)] == ["vlan", "pppoe", "subnet", "subnet"]
    assert any("wan6 (dhcpv6) runs on @wan" in n for n in t.notes)
    opts = t.to_options()
    w = [i for i in opts["interfaces"] if i.name == "wan"][0]
    assert (w.role, w.kind, w.shaper, w.mtu) == ("wan", "ethernet", True, 1492)


def test_dual_band_wifi_2410():
    t = Topology.from_openwrt(DATA / "dualband-24.10")
    assert t.mode == "hw"
    assert ifaces(t) == [("lan", "lan", "ethernet", None, None, 1500, True),
                         ("wan", "wan", "ethernet", None, None, 1500, True),
                         ("wlan2g", "wlan", "wifi", "2g", None, 1500, True),
                         ("wlan5g", "wlan", "wifi", "5g", None, 1500, True)]
    assert t.iface("wlan5g").ssid == 'OpenWrt 5G "fast"' and t.iface("wlan5g").network == "lan"
    # the LAN subnet is bridged over Ethernet and both radios: no subnet rule, only the bands
    assert rules(t) == [("radio_band", "2g", "wlan2g"), ("radio_band", "5g", "wlan5g")]
    assert t.lan_prefixes == ["192.168.1.0/24", "fd12:3456:789a::/60"]
    core = [(i.name, i.role, i.kind, i.band) for i in t.to_options()["interfaces"]]
    assert core == [("lan", "lan", "ethernet", None), ("wan", "wan", "ethernet", None),
                    ("wlan2g", "lan", "wifi", "2g"), ("wlan5g", "lan", "wifi", "5g")]


def test_dual_band_legacy_hwmode_swconfig_and_guest():
    t = Topology.from_openwrt(DATA / "dualband-legacy-19.07")
    assert t.mode == "sw"
    assert ifaces(t) == [("lan", "lan", "ethernet", None, 1, 1500, True),
                         ("wan", "wan", "vlan", None, 2, 1500, True),
                         ("wlan2g", "wlan", "wifi", "2g", None, 1500, True),   # hwmode 11g, channel 11
                         ("wlan5g", "wlan", "wifi", "5g", None, 1500, True),   # hwmode 11a, channel auto
                         ("guest", "wlan", "wifi", "2g", None, 1500, True)]    # Wi-Fi-only network
    assert t.iface("lan").device == "br-lan" and t.iface("lan").lower == ["eth0.1", "eth0"]
    assert t.iface("guest").subnets == ["192.168.3.0/24"]
    assert rules(t) == [("radio_band", "2g", "wlan2g"), ("radio_band", "5g", "wlan5g"),
                        ("vlan", 1, "lan"), ("vlan", 2, "wan"), ("subnet", "192.168.3.0/24", "guest")]
    assert any("wlan2g, guest share the band" in n for n in t.notes)


def test_sqm_on_ethernet_wan_2410():
    t = Topology.from_openwrt(DATA / "sqm-wan-24.10")
    assert t.mode == "sw"
    wan = t.iface("wan")
    assert (wan.shaper.download_kbit, wan.shaper.upload_kbit, wan.shaper.qdisc, wan.shaper.script) == \
        (100000, 20000, "cake", "piece_of_cake.qos")
    assert t.iface("lan").shaper is None            # the br-lan queue is not enabled
    assert any("sqm lan" in n and "not enabled" in n for n in t.notes)
    assert "cake on wan down 100 Mbit/s up 20 Mbit/s" in t.describe()


@pytest.mark.parametrize("name", SETS)
def test_every_set_converts_to_options_the_core_accepts(name):
    t = Topology.from_openwrt(DATA / name)
    opts = t.to_options()
    assert opts["mode"] in ("none", "sw", "hw")
    build_config(Options(**opts))                   # the core's own validation


@pytest.mark.parametrize("sw,hw,mode", [("1", "0", "sw"), ("1", "1", "hw"), ("0", "0", "none"), ("0", "1", "none")])
def test_offload_mode_from_firewall_defaults(tmp_path, sw, hw, mode):
    d = copy_set(tmp_path, "pppoe-vlan7-24.10")
    fw = (d / "firewall").read_text()
    fw = fw.replace("option flow_offloading '1'", f"option flow_offloading '{sw}'")
    fw = fw.replace("option flow_offloading_hw '1'", f"option flow_offloading_hw '{hw}'")
    (d / "firewall").write_text(fw)
    t = Topology.from_openwrt(d)
    assert t.mode == mode
    if (sw, hw) == ("0", "1"):
        assert "fw4 then creates no flowtable" in t.mode_source


def test_network_outside_any_zone_is_not_in_the_flowtable(tmp_path):
    d = copy_set(tmp_path, "ethernet-23.05")
    with open(d / "network", "a") as fh:
        fh.write("\nconfig interface 'mgmt'\n\toption device 'lan4.99'\n\toption proto 'static'\n"
                 "\toption ipaddr '10.99.0.1/24'\n")
    t = Topology.from_openwrt(d)
    m = t.iface("mgmt")
    assert (m.role, m.kind, m.vlan, m.in_flowtable, m.lower) == ("lan", "vlan", 99, False, ["lan4"])
    assert ("subnet", "10.99.0.0/24", "mgmt") in rules(t) and ("vlan", 99, "mgmt") in rules(t)


def test_config_device_8021q_and_bridge_vlan(tmp_path):
    d = tmp_path / "cfg"
    d.mkdir()
    (d / "network").write_text("""
config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'
	list ports 'lan2'

config bridge-vlan
	option device 'br-lan'
	option vlan '1'
	list ports 'lan1:u*'

config bridge-vlan
	option device 'br-lan'
	option vlan '10'
	list ports 'lan2:t'

config interface 'lan'
	option device 'br-lan.1'
	option proto 'static'
	option ipaddr '192.168.1.1'
	option netmask '255.255.255.0'

config interface 'iot'
	option device 'br-lan.10'
	option proto 'static'
	list ipaddr '192.168.10.1/24'

config device
	option type '8021ad'
	option ifname 'eth1'
	option vid '100'
	option name 'svlan'

config interface 'wan'
	option device 'svlan'
	option proto 'dhcp'
""")
    (d / "firewall").write_text("config defaults\nconfig zone\n\toption name lan\n\tlist network lan\n"
                                "\tlist network iot\nconfig zone\n\toption name wan\n\tlist network wan\n")
    t = Topology.from_openwrt(d)
    assert t.mode == "none"
    assert [(i.name, i.kind, i.vlan, i.lower) for i in t.interfaces] == [
        ("lan", "vlan", 1, ["br-lan", "lan1"]), ("iot", "vlan", 10, ["br-lan", "lan2"]),
        ("wan", "vlan", 100, ["eth1"])]
    assert [r for r in rules(t) if r[0] == "vlan"] == [("vlan", 1, "lan"), ("vlan", 10, "iot"), ("vlan", 100, "wan")]


@pytest.mark.parametrize("edit,where,what", [
    (("sqm", "option interface 'pppoe-wan'", "option interface 'eth9'"), "sqm:4",
     "sqm queue wan on device 'eth9', which is no device of the router model"),
    (("network", "option vid '7'", "option vid 'seven'"), "network:29", "not a number"),
    (("network", "option ipaddr '192.168.1.1'", "option ipaddr '192.168.1.300'"), "network:22", "bad ipaddr"),
    (("firewall", "option flow_offloading '1'", "option flow_offloading 'maybe'"), "firewall:7", "not a boolean"),
    (("network", "option device '@wan'", "option device '@nowhere'"), "network:43", "runs on @nowhere"),
    (("network", "config interface 'wan6'", "config interface 'wan6'\n\toption 'x"), "network:43",
     "unterminated ' quote"),
])
def test_bad_config_is_one_error_naming_file_and_line(tmp_path, edit, where, what):
    d = copy_set(tmp_path, "pppoe-vlan7-24.10")
    fname, old, new = edit
    text = (d / fname).read_text()
    assert old in text
    (d / fname).write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as ei:
        Topology.from_openwrt(d)
    assert f"{d}/{where}: " in str(ei.value) and what in str(ei.value), str(ei.value)


def test_missing_network_file_and_wifi_on_unknown_radio(tmp_path):
    with pytest.raises(ConfigError, match="no 'network' file"):
        Topology.from_openwrt(tmp_path)
    d = copy_set(tmp_path, "dualband-24.10")
    (d / "wireless").write_text((d / "wireless").read_text().replace("option device 'radio1'", "option device 'radio7'"))
    with pytest.raises(ConfigError, match=r"wireless:\d+: wifi-iface default_radio1 on unknown radio 'radio7'"):
        Topology.from_openwrt(d)


def test_without_firewall_roles_come_from_names(tmp_path):
    d = copy_set(tmp_path, "ethernet-23.05")
    (d / "firewall").unlink()
    t = Topology.from_openwrt(d)
    assert t.mode is None and [(i.name, i.role) for i in t.interfaces] == [("lan", "lan"), ("wan", "wan")]
    assert "mode" not in t.to_options()


# --------------------------------------------------------------------------- TOML
def test_toml_example_loads():
    t = Topology.from_toml(EXAMPLE)
    assert t.mode == "hw"
    assert [i.name for i in t.interfaces] == ["lan", "wan", "wlan2g", "wlan5g", "iot"]
    wan = t.iface("wan")
    assert (wan.kind, wan.vlan, wan.mtu, wan.shaper.download_kbit, wan.shaper.upload_kbit) == ("pppoe", 7, 1492, 100000, 20000)
    assert t.iface("wlan2g").kind == "wifi" and t.iface("wlan2g").band == "2g"
    assert t.iface("iot").in_flowtable is False
    kinds = [r.kind for r in t.map_rules()]
    assert kinds == sorted(kinds, key=["capture_if", "capture_name", "sll2_ifindex", "radio_band", "vlan",
                                       "pppoe", "mac", "subnet"].index) or kinds[:2] == ["capture_name", "capture_if"]
    assert ("mac", "3c:22:fb:12:34:56", "wlan5g") in rules(t)
    assert ("subnet", "192.168.1.50/32", "wlan5g") in rules(t)
    assert ("subnet", "fd12:3456:789a::60/128", "wlan2g") in rules(t)
    opts = t.to_options()
    assert opts["mode"] == "hw" and opts["lan_prefixes"] == ["192.168.1.0/24", "2001:db8:4a1:7700::/56"]
    assert opts["map_rules"][0] == {"kind": "capture_name", "value": "pppoe-wan", "iface": "wan"}
    build_config(Options(**opts))


def test_toml_on_openwrt_config_with_stations_and_static_leases(tmp_path):
    f = tmp_path / "topo.toml"
    f.write_text(f"""
openwrt_config = "{DATA / 'dualband-24.10'}"
mode = "sw"

[[interfaces]]
name = "wlan5g"
wed = false

[[stations]]
mac = "3C:22:FB:12:34:56"
iface = "wlan5g"

[[stations]]
mac = "a4:83:e7:65:43:21"
iface = "wlan2g"
""")
    t = Topology.from_toml(f)
    assert t.mode == "sw" and t.iface("wlan5g").wed is False and len(t.interfaces) == 4
    assert rules(t) == [("radio_band", "2g", "wlan2g"), ("radio_band", "5g", "wlan5g"),
                        ("mac", "3c:22:fb:12:34:56", "wlan5g"), ("mac", "a4:83:e7:65:43:21", "wlan2g"),
                        ("subnet", "192.168.1.50/32", "wlan5g"), ("subnet", "192.168.1.60/32", "wlan2g")]
    assert "-> mapped" in t.describe()


def test_station_subnet_rules_come_before_the_lan_subnet(tmp_path):
    f = tmp_path / "topo.toml"
    f.write_text(f'openwrt_config = "{DATA / "ethernet-23.05"}"\n'
                 '[[interfaces]]\nname = "wlan"\nband = "5g"\n'
                 '[[stations]]\nmac = "00:11:32:aa:bb:cc"\niface = "wlan"\n')
    t = Topology.from_toml(f)
    subnets = [(v, i) for k, v, i in rules(t) if k == "subnet"]
    assert subnets[0] == ("192.168.1.20/32", "wlan")         # the NAS's static lease, longest prefix first
    assert ("192.168.1.0/24", "lan") in subnets


@pytest.mark.parametrize("text,line,what", [
    ('mode = "hw"\nbogus = 1\n', 2, "unknown key 'bogus'"),
    ('[[interfaces]]\nname = "lan"\n\n[[interfaces]]\nname = "wan"\nrole = "wan"\nbnad = "2g"\n', 7,
     "unknown key 'bnad' in an interface"),
    ('[[interfaces]]\nname = "lan"\n[[interfaces]]\nname = "wan"\nrole = "wan"\n[[rules]]\nkind = "vlan"\n'
     'value = 7\niface = "pppoe"\n', 8, "refers to a missing interface 'pppoe'"),
    ('[[interfaces]]\nname = "lan"\n[[interfaces]]\nname = "wan"\nrole = "wan"\n[[rules]]\nkind = "radio_band"\n'
     'value = "9g"\niface = "lan"\n', 8, "radio_band must be one of"),
    ('[[interfaces]]\nname = "lan"\nband = "4g"\n', 3, "band must be one of"),
    ('[[interfaces]]\nname = "lan"\n[[interfaces]]\nname = "wan"\nrole = "wan"\n[interfaces.shaper]\n'
     'download = 1\n', 7, "unknown key 'download' in the shaper of wan"),
    ('[[interfaces]]\nname = "lan"\n[[interfaces]]\nname = "wan"\nrole = "wan"\n[[stations]]\nmac = "zz"\n'
     'iface = "lan"\n', 7, "bad MAC address"),
    ('[[interfaces]]\nname = "lan"\nmtu = "big"\n', 3, "mtu must be int"),
    ('[[interfaces]\nname = "lan"\n', 1, "malformed TOML"),
    ('mode = "hw"\n\nlan_prefixes = ["10.0.0.0/8",\n', 3, "malformed TOML"),
    ('[[interfaces]]\nname = "lan"\n', 1, "no WAN interface"),
    ('mode = "turbo"\n', 1, "mode must be one of"),
])
def test_bad_toml_is_one_error_naming_file_and_line(tmp_path, text, line, what):
    f = tmp_path / "t.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as ei:
        Topology.from_toml(f)
    msg = str(ei.value)
    assert what in msg, msg
    if "no WAN" not in what:
        assert msg.startswith(f"{f}:{line}: "), msg


def test_load_chooses_one_source():
    assert Topology.load().is_default
    assert Topology.load(openwrt_config=str(DATA / "sqm-wan-24.10")).mode == "sw"
    assert Topology.load(topology=str(EXAMPLE)).mode == "hw"
    with pytest.raises(ConfigError, match="not both"):
        Topology.load(openwrt_config=str(DATA / "sqm-wan-24.10"), topology=str(EXAMPLE))


# --------------------------------------------------------------------------- default, describe
def test_default_topology_is_todays_default():
    t = Topology.default()
    assert t.to_options() == {}
    out = t.describe()
    assert "router topology: embedded default" in out
    assert "offload mode: not set" in out
    assert "only: the default: LAN (RFC 1918, 169.254.0.0/16, fc00::/7 + LAN prefixes) -> lan" in out


def test_describe_has_the_key_lines():
    out = Topology.from_openwrt(DATA / "pppoe-vlan7-24.10").describe()
    lines = out.splitlines()
    assert lines[0].startswith("router topology: OpenWrt config ")
    assert lines[1].startswith("offload mode: hw (firewall ") and "flow_offloading_hw '1'" in lines[1]
    head = next(l for l in lines if l.strip().startswith("name"))
    for col in ("role", "kind", "device", "band", "vlan", "flowtable", "MTU", "shaper", "subnets"):
        assert col in head
    wan = next(l for l in lines if l.strip().startswith("wan "))
    for cell in ("wan", "pppoe", "pppoe-wan (wan.7+wan)", " 7 ", "yes", "1492",
                 "cake on pppoe-wan down 100 Mbit/s up 20 Mbit/s"):
        assert cell in wan, wan
    assert "mapping rules (first match wins):" in out
    assert any(l.strip().startswith("1. vlan") and "-> wan" in l for l in lines)
    assert any(l.strip().startswith("2. pppoe") and "any" in l for l in lines)
    assert "  then: the default:" in out
    assert "LAN prefixes: 192.168.1.0/24, fd4e:8a21:77c3::/60" in out
    wifi = Topology.from_openwrt(DATA / "dualband-24.10").describe()
    assert "wlan2g: 2g, WED yes, SSID 'OpenWrt', bridged into lan" in wifi
    assert "radio_band   2g" in wifi and "-> wlan2g" in wifi


def test_map_rule_normalisation():
    from pyflow.topology import normalize_rule
    assert normalize_rule("mac", "AA-BB-CC-DD-EE-FF", "x", "w").value == "aa:bb:cc:dd:ee:ff"
    assert normalize_rule("subnet", "192.168.1.7/24", "x", "w").value == "192.168.1.0/24"
    assert normalize_rule("pppoe", "any", "x", "w").value == "any"
    for kind, value in (("vlan", 0), ("vlan", True), ("capture_if", 64), ("pppoe", "some"), ("sll2_ifindex", 0)):
        with pytest.raises(ConfigError, match="^w: "):
            normalize_rule(kind, value, "x", "w")
    assert MapRule("radio_band", "2g", "x").describe().startswith("radiotap channel in the 2.4 GHz band")


# --------------------------------------------------------------------------- end to end
def radiotap_two_clients() -> Trace:
    """A monitor capture on both radios: the 5 GHz client (iface 1) and the 2.4 GHz client
    (iface 0) each send one packet up (ToDS) and receive 100 packets/s for 1 s from the AP
    (FromDS: source MAC = the BSSID), each on its radio's channel."""
    t = Trace()
    for k, (client, cmac, iface) in enumerate((("192.168.1.50", "3c:22:fb:12:34:56", 1),
                                               ("192.168.1.60", "a4:83:e7:65:43:21", 0))):
        t.add(k * 0.001, udp(f"{client}:4000", f"{WAN}:5004", b"u"), src_mac=cmac, iface=iface)
        down = udp(f"{WAN}:5004", f"{client}:4000", b"d" * 200)
        for i in range(100):
            t.add(round(0.01 + k * 0.001 + i * 0.01, 6), down, src_mac=ROUTER_MAC, dst_mac=cmac, iface=iface)
    t.records.sort(key=lambda r: r.ts_ns)
    return t


def hfo_of(r, t, octet):
    return sum(1 for (p, _), rec in zip(r.decisions, t) if p == "hfo" and rec.frame[33] == octet)


def test_e2e_dual_band_config_24ghz_stays_sfo_5ghz_goes_hfo_on_wed_soc(tmp_path):
    t = radiotap_two_clients()
    opts = Topology.from_openwrt(DATA / "dualband-24.10").to_options()
    assert opts.pop("mode") == "hw"
    r = run(t, tmp_path, mode="hw", soc="mt7986", write_kw={"linktype": 127, "freqs": {0: 2412, 1: 5180}}, **opts)
    assert hfo_of(r, t, 50) == 69        # 5 GHz: slow (flow_add), 30 SFO up to the bind rate, 69 HFO
    assert hfo_of(r, t, 60) == 0         # 2.4 GHz: never bound
    two = [x for (p, x), rec in zip(r.decisions, t) if rec.frame[33] == 60 and p == "sfo"]
    assert len(two) == 99 and set(two) == {"wed_2g_excluded"}


def test_e2e_same_trace_without_topology_has_no_wifi(tmp_path):
    """The control: with the default topology every client is on the Ethernet LAN and both bind."""
    t = radiotap_two_clients()
    r = run(t, tmp_path, mode="hw", soc="mt7986", write_kw={"linktype": 127, "freqs": {0: 2412, 1: 5180}},
            **Topology.default().to_options())
    assert hfo_of(r, t, 50) == 69 and hfo_of(r, t, 60) == 69


def test_e2e_station_table_maps_an_ethernet_capture(tmp_path):
    """An Ethernet capture (no radiotap): the TOML station table puts the clients on their radios."""
    f = tmp_path / "topo.toml"
    f.write_text(f'openwrt_config = "{DATA / "dualband-24.10"}"\n'
                 '[[stations]]\nmac = "3c:22:fb:12:34:56"\niface = "wlan5g"\n'
                 '[[stations]]\nmac = "a4:83:e7:65:43:21"\niface = "wlan2g"\n')
    t = radiotap_two_clients()
    opts = Topology.from_toml(f).to_options(include_mode=False)
    r = run(t, tmp_path, mode="hw", soc="mt7986", **opts)
    assert hfo_of(r, t, 50) == 69 and hfo_of(r, t, 60) == 0


def test_e2e_pppoe_config_mtu_and_shaper(tmp_path):
    """The PPPoE set: a downstream packet in PPPoE session 0x11 enters by the PPPoE WAN (MTU 1492);
    a 1498-byte upstream packet exceeds its path MTU; the SQM shaper on the WAN is accounted."""
    t = Trace()
    a, b = "192.168.1.10:4000", f"{WAN}:5004"
    t.add(0.0, udp(a, b, b"1"))
    t.add(0.1, udp(b, a, b"2"), pppoe=0x11)
    t.add(0.2, udp(a, b, b"x" * 1470))
    t.add(0.3, udp(a, b, b"3"))
    opts = Topology.from_openwrt(DATA / "pppoe-vlan7-24.10").to_options()
    r = run(t, tmp_path, mode="sw", **{k: v for k, v in opts.items() if k != "mode"})
    assert [p for p, _ in r.decisions] == ["slow", "slow", "slow", "sfo"]
    assert r.decisions[2] == ("slow", "mtu_exceeded")
    assert r.stats["qos"]["wan"]["shaped_packets"] == 3  # the 3 packets leaving by the WAN
    assert r.stats["options"]["map_rules"][0] == {"kind": "vlan", "value": 7, "iface": "wan"}


def test_replay_keyword_arguments_are_the_options():
    """to_options() is exactly what pyflow.replay / Options take."""
    for name in SETS:
        Options(**Topology.from_openwrt(DATA / name).to_options())
    Options(**Topology.from_toml(EXAMPLE).to_options())
    assert pyflow.Options(**Topology.default().to_options()) == pyflow.Options()
