"""The UCI parser (pyflow/uci.py): libuci's syntax, and clear errors with file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from pyflow import uci
from pyflow.errors import ConfigError

DATA = Path(__file__).parent / "data" / "openwrt"
SETS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def p(text: str, file: str = "network") -> uci.UciPackage:
    return uci.parse(text, file)


def test_named_and_anonymous_sections_and_refs():
    pkg = p("package network\n\nconfig defaults\n\toption a '1'\n\nconfig zone 'lan'\n\toption name lan\n"
            "config defaults\n\toption a 2\nconfig zone\n\toption name wan\n")
    assert pkg.name == "network"
    assert [s.ref for s in pkg] == ["@defaults[0]", "lan", "@defaults[1]", "@zone[1]"]
    assert pkg["@defaults[0]"].get("a") == "1"
    assert pkg["@defaults[-1]"].get("a") == "2"
    assert pkg["@zone[0]"] is pkg["lan"]
    assert pkg["@zone[1]"].get("name") == "wan" and pkg["@zone[1]"].anonymous
    assert pkg.get("@zone[5]") is None and pkg.get("nope") is None
    with pytest.raises(KeyError):
        pkg["@defaults[2]"]


def test_quoting_and_escapes():
    pkg = p("config x 'y'\n"
            "\toption single 'a \"b\" \\n c'\n"            # nothing special inside single quotes
            "\toption double \"it's \\\"quoted\\\" \\\\ end\"\n"
            "\toption bare word\n"
            "\toption glued 'ab'\"cd\"ef\n"
            "\toption uciexport 'it'\\''s'\n"               # how `uci export` writes a quote
            "\toption hash 'a # not a comment'  # a comment\n"
            "\toption empty ''\n"
            "\toption tabs\t'x'\t\t# trailing\n")
    s = pkg["y"]
    assert s.get("single") == 'a "b" \\n c'
    assert s.get("double") == "it's \"quoted\" \\ end"
    assert s.get("bare") == "word"
    assert s.get("glued") == "abcdef"
    assert s.get("uciexport") == "it's"
    assert s.get("hash") == "a # not a comment"
    assert s.get("empty") == ""
    assert s.get("tabs") == "x"


def test_comments_blank_lines_and_continuations():
    pkg = p("# header comment\n\n   \n#config rule\n#\toption src lan\nconfig rule\n"
            "\toption name Allow-Ping # trailing\n\toption long first\\\nsecond\n"
            "\toption multi \"line one\nline two\"\n")
    assert len(pkg) == 1
    s = pkg["@rule[0]"]
    assert s.get("name") == "Allow-Ping"
    assert s.get("long") == "firstsecond"
    assert s.get("multi") == "line one\nline two"


def test_lists_accumulate_and_option_list_interplay():
    pkg = p("config zone\n\tlist network 'wan'\n\tlist network wan6\n\toption masq 1\n\toption masq 0\n"
            "\toption ports 'lan1 lan2'\n\tlist ports 'lan3'\n\toption ifname 'eth0 eth1'\n")
    s = pkg["@zone[0]"]
    assert s.options["network"] == ["wan", "wan6"]
    assert s.get("network") == "wan wan6"               # uci get joins list values
    assert s.get("masq") == "0"                           # a second option replaces
    assert s.get_list("ports") == ["lan1 lan2", "lan3"]  # a list after an option extends it
    assert s.get_list("ifname") == ["eth0", "eth1"]       # an option's words as a list
    assert s.get_list("missing") == []


def test_repeated_named_section_merges_like_libuci():
    pkg = p("config interface 'lan'\n\toption proto static\nconfig interface 'wan'\nconfig interface 'lan'\n"
            "\toption ipaddr 192.168.1.1\n")
    assert [s.ref for s in pkg] == ["lan", "wan"]
    assert pkg["lan"].get("proto") == "static" and pkg["lan"].get("ipaddr") == "192.168.1.1"


def test_typed_getters():
    s = p("config x 'y'\n\toption on 'yes'\n\toption off '0'\n\toption n '42'\n\toption bad 'maybe'\n")["y"]
    assert s.get_bool("on") is True and s.get_bool("off") is False and s.get_bool("none", True) is True
    assert s.get_int("n") == 42 and s.get_int("none", 7) == 7
    with pytest.raises(ConfigError, match=r"^network:5: option bad of y is not a boolean"):
        s.get_bool("bad")
    with pytest.raises(ConfigError, match=r"^network:5: .*not a number"):
        s.get_int("bad")


@pytest.mark.parametrize("text,line,what", [
    ("option a b\n", 1, "option outside of a config section"),
    ("config x\n\toption a 'unterminated\n", 2, "unterminated ' quote"),
    ("config x\n\n\toption a \"unterminated\n", 3, 'unterminated " quote'),
    ("config x\n\tvalue a b\n", 2, "unknown keyword 'value'"),
    ("config x\n\toption a\n", 2, "option a without a value"),
    ("config x\n\tlist\n", 2, "list without a name"),
    ("config x\n\toption a b c\n", 2, "too many values"),
    ("config\n", 1, "config without a section type"),
    ("config a b c\n", 1, "config takes a type and an optional name"),
    ("config x 'bad name'\n", 1, "invalid section name 'bad name'"),
    ("config x\n\toption 'bad.name' 1\n", 2, "invalid option name 'bad.name'"),
    ("config x 'a'\nconfig y 'a'\n", 2, "already defined with type 'x' at line 1"),
    ("package\n", 1, "package takes one name"),
    ("config x; option a b\n", 1, "';' separated statements"),
])
def test_malformed_input_names_file_and_line(text, line, what):
    with pytest.raises(ConfigError) as ei:
        p(text, "network")
    msg = str(ei.value)
    assert msg.startswith(f"network:{line}: "), msg
    assert what in msg
    assert ei.value.file == "network" and ei.value.line == line


def test_load_errors_name_the_path(tmp_path):
    f = tmp_path / "wireless"
    f.write_bytes(b"config wifi-device 'radio0'\n\toption ssid '\xff\xfe'\n")
    with pytest.raises(ConfigError, match=rf"^{f}:2: not UTF-8"):
        uci.load(f)
    with pytest.raises(ConfigError, match="cannot read"):
        uci.load(tmp_path / "missing")
    with pytest.raises(ConfigError, match="not a directory"):
        uci.load_dir(tmp_path / "missing")
    f.write_text("config wifi-device 'radio0'\n\toption band '2g\n")
    with pytest.raises(ConfigError, match=rf"{f.name}:2: unterminated"):
        uci.load(f)


@pytest.mark.parametrize("name", SETS)
def test_every_bundled_config_set_parses(name):
    pkgs = uci.load_dir(DATA / name)
    assert "network" in pkgs and "firewall" in pkgs
    for pkg in pkgs.values():
        assert len(pkg) > 0
        for s in pkg:
            assert s.line > 0 and s.file.endswith(pkg.name)


def test_realistic_fw4_default_firewall():
    fw = uci.load(DATA / "ethernet-23.05" / "firewall")
    d = fw["@defaults[0]"]
    assert d.get("syn_flood") == "1" and d.get_bool("flow_offloading")
    zones = fw.of_type("zone")
    assert [z.get("name") for z in zones] == ["lan", "wan"]
    assert zones[1].get_list("network") == ["wan", "wan6"] and zones[1].get_bool("masq")
    icmp = [r for r in fw.of_type("rule") if r.get("name") == "Allow-ICMPv6-Input"][0]
    assert len(icmp.get_list("icmp_type")) == 11 and icmp.get("limit") == "1000/sec"
    mld = [r for r in fw.of_type("rule") if r.get("name") == "Allow-MLD"][0]
    assert mld.get_list("icmp_type") == ["130/0", "131/0", "132/0", "143/0"]
    assert fw.of_type("forwarding")[0].get("dest") == "wan"
    # the commented-out example sections are not sections
    assert all(r.get("src_mac") is None for r in fw.of_type("rule"))


def test_realistic_network_wireless_sqm_dhcp():
    net = uci.load(DATA / "pppoe-vlan7-24.10" / "network")
    assert net["globals"].get("ula_prefix") == "fd4e:8a21:77c3::/48"
    assert net["@device[0]"].get_list("ports") == ["lan1", "lan2", "lan3"]
    vlan = net["@device[1]"]
    assert (vlan.get("type"), vlan.get("ifname"), vlan.get("vid"), vlan.get("name")) == ("8021q", "wan", "7", "wan.7")
    assert net["wan"].get("password") == 'p4ss"w0rd'
    assert net["wan"].get_list("dns") == ["9.9.9.9", "149.112.112.112"]
    assert net["wan6"].get("device") == "@wan"
    wl = uci.load(DATA / "dualband-24.10" / "wireless")
    assert wl["default_radio1"].get("ssid") == 'OpenWrt 5G "fast"'
    assert wl["radio0"].get("band") == "2g" and wl["radio1"].get("band") == "5g"
    legacy = uci.load(DATA / "dualband-legacy-19.07" / "wireless")
    assert [s.get("key") for s in legacy.of_type("wifi-iface")] == ["it's a secret", "it's a secret", None]
    sqm = uci.load(DATA / "pppoe-vlan7-24.10" / "sqm")
    q = sqm["wan"]
    assert (q.get("interface"), q.get_int("download"), q.get_int("upload"), q.get("qdisc")) == \
        ("pppoe-wan", 100000, 20000, "cake")
    dhcp = uci.load(DATA / "dualband-24.10" / "dhcp")
    hosts = dhcp.of_type("host")
    assert [(h.get("name"), h.get("ip")) for h in hosts] == [("laptop", "192.168.1.50"), ("phone", "192.168.1.60")]
    assert dhcp["lan"].get_list("ra_flags") == ["managed-config", "other-config"]
