"""Per-connection summaries (`pyflow flows`): every forwarded packet with a connection is in
exactly one flow row, and each row tells the connection's story."""
from __future__ import annotations

import csv
import io
import json
import os

from click.testing import CliRunner

import pyflow
from pyflow.cli import main
from tests.helpers import LAN, WAN
from tests.pcapgen import Trace, udp
from tests.test_rules_sw import tcp_session, C, S
from tests.pcapgen import tcp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "pcaps", "demo-home.pcap")


def test_flow_rows_add_up_to_the_path_statistics():
    r = pyflow.replay(DEMO, mode="hw", keep_flows=True)
    for p in ("slow", "sfo", "hfo"):
        assert sum(f["packets"][p] for f in r.flows) == r.paths[p]["packets"]
        assert sum(f["bytes"][p] for f in r.flows) == r.paths[p]["bytes"]
    assert len(r.flows) == r.stats["conntrack"]["connections"]
    assert len({f["flow"] for f in r.flows}) == len(r.flows)


def test_a_flow_row_tells_the_connections_story(tmp_path):
    t = Trace()
    ts = tcp_session(t, 10)
    t.add(ts, tcp(C, S, "FA", seq=1101, ack=5101))
    for i in range(5):  # a UDP stream that idles out
        t.add(i * 0.1, udp(f"{LAN}:4000", f"{WAN}:5004", b"u"))
    t.records.sort(key=lambda r: r.ts_ns)
    p = tmp_path / "t.pcap"
    t.write_pcap(p)
    rows = {f["tuple"].split()[0]: f for f in pyflow.flows(p, "sw")}
    tcp_row, udp_row = rows["tcp"], rows["udp"]
    assert tcp_row["packets"] == {"slow": 4, "sfo": 20, "hfo": 0}
    assert tcp_row["teardown"] == "fin_rst" and tcp_row["flows_added"] == 1
    assert tcp_row["in_iface"] == "lan" and tcp_row["reply_in_iface"] == "wan"
    assert udp_row["packets"] == {"slow": 2, "sfo": 3, "hfo": 0}
    assert udp_row["teardown"] is None  # still offloaded when the trace ends
    assert 0.29 < udp_row["offloaded_s"] < 0.31  # added at 0.1 s, trace ends at 0.4 s


def test_hardware_binding_is_reported_per_direction():
    rows = pyflow.flows(DEMO, "hw", top=3)
    assert rows[0]["hw_bound"]["reply"] and not rows[0]["hw_bound"]["orig"]  # the download binds downstream


def test_cli_flows_sorted_by_slow_path_packets_as_csv():
    res = CliRunner().invoke(main, ["flows", DEMO, "--sort", "slow", "--top", "5", "--csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    slow = [int(r["slow_packets"]) for r in rows]
    assert len(rows) == 5 and slow == sorted(slow, reverse=True)


def test_cli_flows_json_and_table():
    js = CliRunner().invoke(main, ["flows", DEMO, "--json", "--top", "2"])
    assert js.exit_code == 0 and len(json.loads(js.stdout)) == 2
    tb = CliRunner().invoke(main, ["flows", DEMO, "--top", "2", "--mode", "hw"])
    assert tb.exit_code == 0 and "bound" in tb.stdout
