"""What-if sweeps (pyflow.whatif), the CPU-cost model (pyflow.costs) and reports (pyflow.report)."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import sys

import pytest
from click.testing import CliRunner

import pyflow
from pyflow import costs, report
from pyflow import whatif as wi

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "pcaps", "demo-home.pcap")
MIX = os.path.join(REPO, "pcaps", "crafted-home-mix.pcap")

GRID = dict(mode=["none", "sw", "hw"], soc=["mt7621", "mt7986"], ppe_entries=[64, 8192], flow_timeout=[30, 60])


def _canon(rows):
    return json.dumps(rows, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------
# the grid


def test_expand_grid_collapses_dimensions_irrelevant_to_a_mode():
    g = wi.expand_grid(mode=["none", "sw", "hw"], soc=["mt7621", "mt7986"], ppe_entries=[64, 1024, 8192],
                       flow_timeout=[30, 60])
    # none: one per SoC (CPU costs); sw: SoC x timeout; hw: SoC x size x timeout
    assert len(g) == 2 + 4 + 12
    assert [e for e in g if e["mode"] == "none"] == [{"mode": "none", "soc": "mt7621"}, {"mode": "none", "soc": "mt7986"}]
    assert all("ppe_entries" not in e for e in g if e["mode"] != "hw")
    # the simulations: soc is only a CPU-cost parameter outside hw mode
    sims = wi.simulations(g)
    assert len(sims) == 1 + 2 + 12
    assert len({json.dumps(s, sort_keys=True) for s in sims}) == len(sims)
    # a SoC without a PPE: the table size means nothing
    g = wi.expand_grid(mode=["hw"], soc=["mt7629"], ppe_entries=[64, 1024])
    assert g == [{"mode": "hw", "soc": "mt7629"}]
    # duplicates given by hand collapse too
    assert len(wi.dedupe([{"mode": "sw"}, {"mode": "sw", "ppe_entries": 64}, {"mode": "sw", "soc": "mt7621"}])) == 1


def test_no_simulation_runs_twice(monkeypatch):
    calls = []
    real = wi.run_many

    def spy(trace, configs, **kw):
        calls.append([o.to_dict() for o in configs])
        return real(trace, configs, **kw)

    monkeypatch.setattr(wi, "run_many", spy)
    g = wi.expand_grid(**GRID)
    rows = wi.whatif([DEMO], g, jobs=1)
    assert len(calls) == 1                                  # one pass over the file for the whole grid
    assert len(calls[0]) == len(wi.simulations(g)) == 1 + 2 + 8
    assert len({json.dumps(c, sort_keys=True) for c in calls[0]}) == len(calls[0])
    assert len(rows) == len(g) == 2 + 4 + 8
    sw = [r for r in rows if r["config"]["mode"] == "sw" and r["config"]["flow_timeout"] == 30]
    assert sw[0]["stats"] == sw[1]["stats"] and sw[0]["cost"]["soc"] != sw[1]["cost"]["soc"]


def test_grid_results_equal_individual_replays():
    g = wi.expand_grid(offload_after_packets=[None, 30], **GRID)
    rows = wi.whatif([DEMO, MIX], g, jobs=2)   # two traces in two worker processes
    assert len(rows) == 2 * len(g)
    for row in rows:
        alone = pyflow.replay(row["trace"], **row["config"])
        assert row["stats"] == alone.stats, row["label"]
    # and the in-process run gives the same rows
    assert _canon(wi.whatif([DEMO, MIX], g, jobs=1)) == _canon(rows)
    # grid chunks (several passes per trace) change nothing either
    assert _canon(wi.whatif([DEMO, MIX], g, jobs=2, chunk_size=3)) == _canon(rows)


def test_grid_file_json_and_toml(tmp_path):
    j = tmp_path / "grid.json"
    j.write_text(json.dumps([{"mode": "sw", "flow_timeout": [30, 60]}, {"mode": "hw", "ppe_entries": [64, 256]},
                             {"mode": "sw", "flow_timeout": 30}]))
    g = wi.load_grid(j)
    assert [wi.label(e) for e in g] == ["sw mt7621 ft=30", "sw mt7621 ft=60", "hw mt7621 ppe=64", "hw mt7621 ppe=256"]
    t = tmp_path / "grid.toml"
    t.write_text('[[grid]]\nmode = "none"\n\n[[grid]]\nmode = "hw"\nsoc = ["mt7621", "mt7986"]\nppe_entries = 64\n')
    if sys.version_info >= (3, 11):
        assert [wi.label(e) for e in wi.load_grid(t)] == ["none mt7621", "hw mt7621 ppe=64", "hw mt7986 ppe=64"]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"mode": "sw", "flow_timout": 30}]')
    with pytest.raises(pyflow.ConfigError, match="flow_timout"):
        wi.load_grid(bad)
    with pytest.raises(pyflow.ConfigError, match="either --grid"):
        wi.build_grid(modes="sw", grid_file=str(j))
    with pytest.raises(pyflow.ConfigError, match="not available"):
        wi.dedupe([{"mode": "sw", "log": "x.jsonl"}])


def test_a_bad_trace_is_reported_by_name(tmp_path):
    for jobs in (1, 2):
        with pytest.raises(pyflow.CaptureOpenError, match="missing.pcap"):
            wi.whatif([DEMO, str(tmp_path / "missing.pcap")], [{"mode": "sw"}], jobs=jobs)


def test_progress_reaches_the_total():
    seen = []
    wi.whatif([DEMO, MIX], [{"mode": "sw"}, {"mode": "hw"}], jobs=1, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


# ------------------------------------------------------------------------------------------------
# Dask


def test_dask_local_cluster_equals_local_run():
    distributed = pytest.importorskip("distributed")
    g = wi.expand_grid(**GRID)
    local = wi.whatif([DEMO, MIX], g, jobs=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        remote = wi.whatif([DEMO, MIX], g, dask_scheduler=cluster.scheduler_address, chunk_size=4)
        with distributed.Client(cluster) as client:   # a Client is accepted too
            again = wi.whatif([DEMO], g, dask_scheduler=client)
    assert _canon(remote) == _canon(local)
    assert _canon(again) == _canon(local[:len(g)])


def test_dask_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # import distributed -> ImportError
    with pytest.raises(pyflow.PyflowError, match=r"pip install 'pyflow-offload\[dask\]'"):
        wi.whatif([DEMO], [{"mode": "sw"}], dask_scheduler="tcp://127.0.0.1:1")


# ------------------------------------------------------------------------------------------------
# the cost model


def test_cost_presets_cover_every_soc_and_name_a_source():
    assert set(costs.COSTS) == set(pyflow.SOCS)
    for soc, c in costs.COSTS.items():
        assert c.source, soc
        assert c.slow_ns > c.sfo_ns > 0 and c.hfo_ns == 0
        assert c.slow_ns / c.sfo_ns == pytest.approx(costs.SFO_SPEEDUP, rel=0.01)
    # MT7621: 310 Mbit/s of 1500-byte packets without offload on one core ([S2])
    assert costs.COSTS["mt7621"].slow_ns == pytest.approx(1500 * 8 / 310e6 * 1e9, rel=0.01)
    # the other SoCs have no published per-packet figure: said plainly
    for soc in ("mt7622", "mt7981", "mt7986", "mt7988"):
        assert "ASSUMPTION" in costs.COSTS[soc].source
    c = costs.get_costs("mt7621", slow_ns=1000, sfo_ns=100)
    assert (c.slow_ns, c.sfo_ns, c.overridden) == (1000, 100, ("sfo_ns", "slow_ns"))
    with pytest.raises(ValueError):
        costs.get_costs("mt9999")


def test_cost_figures_follow_from_the_presets():
    rows = wi.whatif([DEMO], wi.expand_grid(mode=["none", "sw", "hw"], soc=["mt7621", "mt7986"]), jobs=1)
    by = {r["label"]: r for r in rows}
    for r in rows:
        s, c, p = r["stats"], r["cost"], costs.COSTS[r["config"]["soc"]]
        pk = {k: s["paths"][k]["packets"] for k in ("slow", "sfo", "hfo")}
        cpu_s = (pk["slow"] * p.slow_ns + pk["sfo"] * p.sfo_ns) / 1e9
        assert c["cpu_s"] == pytest.approx(cpu_s)
        assert c["cpu_load_pct_core"] == pytest.approx(100 * cpu_s / s["trace"]["duration_s"])
        assert c["cpu_load_pct_soc"] == pytest.approx(c["cpu_load_pct_core"] / p.cores)
        fwd = sum(pk.values())
        assert c["max_pps_core"] == pytest.approx(fwd / cpu_s)
        size = sum(s["paths"][k]["bytes"] for k in pk) / fwd
        assert c["max_mbps_core"] == pytest.approx(c["max_pps_core"] * size * 8 / 1e6)
    for soc in ("mt7621", "mt7986"):
        none, sw, hw = (by[f"{m} {soc}"]["cost"] for m in ("none", "sw", "hw"))
        assert none["cpu_load_pct_core"] > sw["cpu_load_pct_core"] > hw["cpu_load_pct_core"] > 0
        assert none["max_mbps_core"] < sw["max_mbps_core"] < hw["max_mbps_core"]
    assert by["sw mt7986"]["cost"]["cpu_s"] < by["sw mt7621"]["cost"]["cpu_s"]
    # overrides reach every row
    over = wi.whatif([DEMO], [{"mode": "none"}], jobs=1, cost_slow_ns=1000.0)
    assert over[0]["cost"]["cpu_s"] == pytest.approx(over[0]["stats"]["paths"]["slow"]["packets"] * 1e-6)


def test_all_hfo_costs_no_cpu():
    stats = {"paths": {"slow": {"packets": 0, "bytes": 0}, "sfo": {"packets": 0, "bytes": 0},
                       "hfo": {"packets": 10, "bytes": 15000}},
             "packets_total": 10, "trace": {"duration_s": 1.0}}
    e = costs.estimate(stats, costs.COSTS["mt7621"])
    assert e["cpu_s"] == 0 and e["cpu_load_pct_core"] == 0 and e["max_pps_core"] is None


# ------------------------------------------------------------------------------------------------
# outputs


def test_csv_and_json_shapes():
    g = wi.expand_grid(mode=["none", "sw", "hw"], soc=["mt7621"], ppe_entries=[64, 1024])
    rows = wi.whatif([DEMO], g, jobs=1)
    table = list(csv.DictReader(io.StringIO(wi.to_csv(rows))))
    assert len(table) == len(rows) == 4
    head = list(table[0])
    assert head[:5] == ["trace", "label", "mode", "soc", "ppe_entries"]
    for col in ("slow_packets", "sfo_pct", "hfo_packets", "cpu_load_pct_core", "max_mbps_core", "ppe_bound_peak"):
        assert col in head
    assert [r["label"] for r in table] == [r["label"] for r in rows]
    assert int(table[3]["hfo_packets"]) == rows[3]["stats"]["paths"]["hfo"]["packets"]
    doc = json.loads(wi.to_json(rows))
    assert doc["schema_version"] == 1 and len(doc["rows"]) == 4
    assert set(doc["rows"][0]) >= {"trace", "config", "label", "stats", "cost"}
    assert doc["rows"][0]["stats"] == rows[0]["stats"]
    assert "mt7621" in doc["cost_model"]["presets"] and "model" in doc["cost_model"]["note"]
    assert "CPU% core" in wi.table(rows)
    pd = pytest.importorskip("pandas")
    df = wi.to_pandas(rows)
    assert isinstance(df, pd.DataFrame) and len(df) == 4


def _fake_run_many(real):
    """run_many as the core's contract describes Result.series (sparse bins: bin 1 has no packet)."""
    def fake(trace, configs, **kw):
        bins = [getattr(o, "series_bin", None) for o in configs]
        for o in configs:
            if hasattr(o, "series_bin"):
                o.series_bin = None
        out = real(trace, configs, **kw)
        for res, b in zip(out, bins):
            s = res.stats
            res.series = None if b is None else [
                {"t": 0.0, "packets": {p: v["packets"] for p, v in s["paths"].items()},
                 "bytes": {p: v["bytes"] for p, v in s["paths"].items()}, "ct": 3, "flows": 2, "ppe_bound": 1},
                {"t": 2 * b, "packets": {"slow": 1}, "bytes": {"slow": 60}, "ct": 1, "flows": 0, "ppe_bound": 0},
            ]
        return out
    return fake


def test_time_series_with_a_fake_core(monkeypatch, tmp_path):
    monkeypatch.setattr(wi, "run_many", _fake_run_many(wi.run_many))
    if not wi.series_supported():
        monkeypatch.setattr(wi, "series_supported", lambda: True)
    rows = wi.whatif([DEMO], [{"mode": "sw"}, {"mode": "hw"}], jobs=1, series_bin=2.0)
    assert all(len(r["series"]) == 2 for r in rows)
    flat = list(csv.DictReader(io.StringIO(report.series_csv(rows))))
    assert len(flat) == 2 * 3                       # bins 0, 2, 4 s: the missing one filled
    mid = flat[1]
    assert (float(mid["t"]), mid["packets_slow"], mid["ct"], mid["ppe_bound"]) == (2.0, "0", "3", "1")
    sw = rows[0]
    first = flat[0]
    assert int(first["packets_sfo"]) == sw["stats"]["paths"]["sfo"]["packets"]
    c = costs.COSTS["mt7621"]
    expect = 100 * (int(first["packets_slow"]) * c.slow_ns + int(first["packets_sfo"]) * c.sfo_ns) / 1e9 / 2.0
    assert float(first["cpu_load_pct_core"]) == pytest.approx(expect)
    doc = json.loads(report.series_json(rows))
    assert [d["label"] for d in doc] == ["sw mt7621", "hw mt7621"]
    assert doc[0]["bin_s"] == 2.0 and [b["t"] for b in doc[0]["series"]] == [0.0, 2.0, 4.0]
    assert set(doc[0]["series"][0]) == {"t", "packets", "bytes", "ct", "flows", "ppe_bound", "cpu_load_pct_core"}
    report.write_series(rows, str(tmp_path / "s.json"))
    report.write_series(rows, str(tmp_path / "s.csv"))
    assert json.loads((tmp_path / "s.json").read_text()) == doc


@pytest.mark.skipif(not wi.series_supported(), reason="this core has no Options.series_bin")
def test_time_series_from_the_core_add_up():
    rows = wi.whatif([DEMO], [{"mode": "none"}, {"mode": "sw"}, {"mode": "hw"}], jobs=1, series_bin=1.0)
    for r in rows:
        for p in pyflow.PATHS:
            assert sum(b["packets"].get(p, 0) for b in r["series"]) == r["stats"]["paths"][p]["packets"]
            assert sum(b["bytes"].get(p, 0) for b in r["series"]) == r["stats"]["paths"][p]["bytes"]
        assert max(b["ct"] for b in r["series"]) <= r["stats"]["conntrack"]["peak"]
        if r["config"]["mode"] == "hw":
            assert max(b["ppe_bound"] for b in r["series"]) <= r["stats"]["hw"]["ppe_bound_peak"]
    # series do not change the statistics
    assert [r["stats"] for r in rows] == [r["stats"] for r in
                                          wi.whatif([DEMO], [{"mode": "none"}, {"mode": "sw"}, {"mode": "hw"}], jobs=1)]


def test_plots_and_html(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    if not wi.series_supported():
        monkeypatch.setattr(wi, "run_many", _fake_run_many(wi.run_many))
        monkeypatch.setattr(wi, "series_supported", lambda: True)
    g = wi.expand_grid(mode=["none", "sw", "hw"], soc=["mt7621", "mt7986"], ppe_entries=[64, 8192])
    rows = wi.whatif([DEMO], g, jobs=1, series_bin=1.0)
    pics = report.write_plots(rows, str(tmp_path / "plots"))
    names = [os.path.basename(f) for _, f in pics]
    assert names == ["compare.png", "offload-vs-ppe.png", "path-mix.png", "occupancy.png"]
    for _, f in pics:
        with open(f, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(f) > 1024
    page = report.write_html(rows, str(tmp_path / "report.html"), pics)
    text = open(page, encoding="utf-8").read()
    for _, f in pics:
        assert os.path.basename(f) in text
        with open(f, "rb") as fh:
            assert base64.b64encode(fh.read()).decode() in text    # embedded: readable offline
    assert "a model" in text and "[S2]" in text and "hw mt7986 ppe=8192" in text
    linked = report.write_html(rows, str(tmp_path / "linked.html"), pics, embed=False)
    text = open(linked, encoding="utf-8").read()
    for _, f in pics:
        assert f"src='plots/{os.path.basename(f)}'" in text
    # without series only the pictures of the statistics
    plain = wi.whatif([MIX], [{"mode": "sw"}, {"mode": "hw"}], jobs=1)
    assert [os.path.basename(f) for _, f in report.write_plots(plain, str(tmp_path / "p2"))] == ["compare.png"]


# ------------------------------------------------------------------------------------------------
# the command (once pyflow/cli.py has it)


def _cli():
    from pyflow.cli import main
    if "whatif" not in main.commands:
        pytest.skip("pyflow/cli.py has no whatif command yet")
    return main


def test_cli_whatif_table_csv_json(tmp_path):
    main = _cli()
    args = ["whatif", DEMO, "--mode", "none,sw,hw", "--soc", "mt7621,mt7986", "--ppe-entries", "64,8192",
            "--flow-timeout", "30,60", "--jobs", "1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "hw mt7986 ft=60 ppe=8192" in r.output and "CPU% core" in r.output
    r = CliRunner().invoke(main, args + ["--csv"])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 1 + 2 + 4 + 8
    r = CliRunner().invoke(main, args + ["--json", "--cost-slow-ns", "5000"])
    doc = json.loads(r.output)
    assert len(doc["rows"]) == 14 and doc["rows"][0]["cost"]["slow_ns"] == 5000
    r = CliRunner().invoke(main, ["whatif", str(tmp_path / "nope.pcap"), "--mode", "sw"])
    assert r.exit_code == 2 and "nope.pcap" in r.output
    r = CliRunner().invoke(main, ["whatif", DEMO, "--mode", "sw,bogus"])
    assert r.exit_code == 2


def test_cli_whatif_plots_html_series(tmp_path):
    main = _cli()
    pytest.importorskip("matplotlib")
    r = CliRunner().invoke(main, ["whatif", DEMO, "--mode", "sw,hw", "--ppe-entries", "64,1024", "--jobs", "1",
                                  "--plot", str(tmp_path / "p"), "--html", str(tmp_path / "r.html"),
                                  "--series", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    assert os.path.getsize(tmp_path / "p" / "compare.png") > 1024
    assert "compare.png" in (tmp_path / "r.html").read_text()
    if wi.series_supported():
        assert (tmp_path / "s.csv").read_text().startswith("trace,label,t,")
