"""The CLI and the Python API: JSON shape, table, progress callback, corpus accounting."""
from __future__ import annotations

import glob
import json
import os

import pytest
from click.testing import CliRunner

import pyflow
from pyflow.cli import main
from tests.helpers import check_accounting, paths, run
from tests.pcapgen import Trace, udp
from tests.test_rules_sw import tcp_session

CORPUS = "/work/shared/pcaps"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_trace(tmp_path):
    t = Trace()
    tcp_session(t, 5)
    p = tmp_path / "t.pcap"
    t.write_pcap(p)
    return p


def test_json_shape_is_stable(tmp_path):
    r = pyflow.replay(small_trace(tmp_path))
    s = json.loads(r.to_json())
    assert s["schema_version"] == 1
    for key in ("packets_total", "bytes_total", "paths", "reasons", "options", "trace", "conntrack", "flowtable"):
        assert key in s
    assert set(s["paths"]) == {"slow", "sfo", "hfo", "not_forwarded", "unparsed"}
    for p in s["paths"].values():
        assert set(p) == {"packets", "bytes", "flows"}
    assert s["trace"]["first_ts"] <= s["trace"]["last_ts"]
    assert s["options"]["mode"] == "sw"


def test_cli_json_equals_api(tmp_path):
    p = small_trace(tmp_path)
    res = CliRunner().invoke(main, ["replay", str(p), "--json", "--mode", "sw"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == pyflow.replay(p).stats


def test_cli_table_names_every_path(tmp_path):
    res = CliRunner().invoke(main, ["replay", str(small_trace(tmp_path))])
    assert res.exit_code == 0
    for title in ("slow path", "SFO", "HFO", "not forwarded", "unparsed"):
        assert title in res.output


def test_cli_log_option_writes_jsonl(tmp_path):
    log = tmp_path / "d.jsonl"
    res = CliRunner().invoke(main, ["replay", str(small_trace(tmp_path)), "--log", str(log), "--json"])
    assert res.exit_code == 0
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert sum(1 for x in lines if "i" in x) == json.loads(res.stdout)["packets_total"]


def test_progress_callback_is_called_in_bulk_and_can_cancel(tmp_path):
    t = Trace()
    for i in range(1000):
        t.add(i * 0.001, udp("192.168.1.10:1000", "8.8.8.8:53", b"x"))
    p = tmp_path / "p.pcap"
    t.write_pcap(p)
    calls = []
    pyflow.replay(p, progress=lambda n, done, total: calls.append(n), progress_every=250)
    assert calls == [250, 500, 750, 1000]
    with pytest.raises(pyflow.CancelledError):
        pyflow.replay(p, progress=lambda n, d, t: True, progress_every=100)


def test_run_many_equals_individual_replays(tmp_path):
    p = small_trace(tmp_path)
    cfgs = [pyflow.Options(mode=m, keep_decisions=True) for m in ("none", "sw", "hw")]
    many = pyflow.run_many(p, cfgs)
    for opts, res in zip(cfgs, many):
        single = pyflow.replay(p, mode=opts.mode, keep_decisions=True)
        assert res.decisions == single.decisions
        assert res.stats == single.stats


def test_bundled_demo_trace_replays(tmp_path):
    demo = os.path.join(REPO, "pcaps", "demo-home.pcap")
    if not os.path.exists(demo):
        pytest.skip("demo trace not generated")
    r = pyflow.replay(demo, keep_decisions=True)
    check_accounting(r)
    assert r.paths["sfo"]["packets"] > r.paths["slow"]["packets"]


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not present")
@pytest.mark.parametrize("mode", ["none", "sw", "hw"])
def test_every_corpus_file_counts_every_packet_once(mode):
    n_files = n_packets = 0
    for f in sorted(glob.glob(os.path.join(CORPUS, "*", "*.pcap*"))):
        try:
            r = pyflow.replay(f, mode=mode)
        except pyflow.CaptureError as exc:
            assert f in str(exc)
            r = exc.partial_result
            if r is None:
                continue
        check_accounting(r)
        n_files += 1
        n_packets += r.stats["packets_total"]
    print(f"{mode}: {n_files} files, {n_packets} packets")
    assert n_files > 600


def test_cli_nft_ruleset_equals_the_offload_after_packets_option(tmp_path):
    demo = os.path.join(REPO, "pcaps", "demo-home.pcap")
    nft = os.path.join(REPO, "tests", "data", "nft", "fw4-24.10-zapret.nft")
    a = CliRunner().invoke(main, ["replay", demo, "--json", "--nft-ruleset", nft])
    b = CliRunner().invoke(main, ["replay", demo, "--json", "--offload-after-packets", "30"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    pa, pb = json.loads(a.stdout)["paths"], json.loads(b.stdout)["paths"]
    assert pa == pb
    assert pa["slow"]["packets"] > json.loads(CliRunner().invoke(main, ["replay", demo, "--json"]).stdout)["paths"]["slow"]["packets"]


def test_cli_hw_ruleset_sets_the_mode_unless_mode_is_given():
    demo = os.path.join(REPO, "pcaps", "demo-home.pcap")
    nft = os.path.join(REPO, "tests", "data", "nft", "fw4-24.10-hw.nft")
    hw = json.loads(CliRunner().invoke(main, ["replay", demo, "--json", "--nft-ruleset", nft]).stdout)
    sw = json.loads(CliRunner().invoke(main, ["replay", demo, "--json", "--nft-ruleset", nft, "--mode", "sw"]).stdout)
    assert hw["options"]["mode"] == "hw" and hw["paths"]["hfo"]["packets"] > 0
    assert sw["options"]["mode"] == "sw" and sw["paths"]["hfo"]["packets"] == 0


def test_cli_flowtable_devices_leaves_the_lan_ingress_slow():
    demo = os.path.join(REPO, "pcaps", "demo-home.pcap")
    r = json.loads(CliRunner().invoke(main, ["replay", demo, "--json", "--flowtable-devices", "wan"]).stdout)
    assert r["reasons"]["not_flowtable_device"] > 0


def test_cli_openwrt_config_and_topology_show():
    cfg = os.path.join(REPO, "tests", "data", "openwrt", "dualband-24.10")
    show = CliRunner().invoke(main, ["topology", "show", "--openwrt-config", cfg])
    assert show.exit_code == 0 and "wlan2g" in show.output and "radio_band" in show.output
    demo = os.path.join(REPO, "pcaps", "demo-home.pcap")
    r = CliRunner().invoke(main, ["replay", demo, "--json", "--openwrt-config", cfg])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["options"]["mode"] == "hw"  # firewall: flow_offloading_hw '1'


def test_cli_bad_ruleset_exits_2_naming_the_line():
    nft = os.path.join(REPO, "tests", "data", "nft", "unsupported-tcp-dport.nft")
    demo = os.path.join(REPO, "pcaps", "demo-home.pcap")
    r = CliRunner().invoke(main, ["replay", demo, "--nft-ruleset", nft])
    assert r.exit_code == 2 and "unsupported-tcp-dport.nft:" in r.output and "Traceback" not in r.output
