"""What-if reports: time series (CSV/JSON), pictures (matplotlib, optional) and one HTML page.

Rows are those of `pyflow.whatif.whatif`; time series need `series_bin` there (Result.series:
one dict per bin {"t", "packets": {path: n}, "bytes": {path: n}, "ct", "flows", "ppe_bound"}).
Bins without packets may be missing from Result.series: `dense_series` fills them with zero
packets and the previous bin's occupancy.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import costs as costmod
from . import presets
from .core import PATHS
from .errors import PyflowError

_TITLES = {"slow": "slow path", "sfo": "SFO", "hfo": "HFO", "not_forwarded": "not forwarded", "unparsed": "unparsed"}
_COLORS = {"slow": "#d62728", "sfo": "#ff7f0e", "hfo": "#2ca02c", "not_forwarded": "#9e9e9e", "unparsed": "#7f7f7f"}


# ----------------------------------------------------------------------------------------------
# time series

def dense_series(series: Sequence[Mapping[str, Any]], bin_s: float) -> List[Dict[str, Any]]:
    """Every bin from the first to the last, missing bins filled (0 packets, occupancy carried)."""
    if not series:
        return []
    by_index = {int(round(b["t"] / bin_s)): b for b in series}
    last = max(by_index)
    out: List[Dict[str, Any]] = []
    prev: Optional[Mapping[str, Any]] = None
    for i in range(0, last + 1):
        b = by_index.get(i)
        if b is None:
            b = {"t": i * bin_s, "packets": {p: 0 for p in PATHS}, "bytes": {p: 0 for p in PATHS},
                 "ct": prev["ct"] if prev else 0, "flows": prev["flows"] if prev else 0,
                 "ppe_bound": prev["ppe_bound"] if prev else 0}
        else:
            b = {"t": float(b["t"]), "packets": {p: int(b["packets"].get(p, 0)) for p in PATHS},
                 "bytes": {p: int(b["bytes"].get(p, 0)) for p in PATHS},
                 "ct": int(b.get("ct", 0)), "flows": int(b.get("flows", 0)), "ppe_bound": int(b.get("ppe_bound", 0))}
        out.append(b)
        prev = b
    return out


def _cost_of(row: Mapping[str, Any]) -> costmod.CostPreset:
    c = row["cost"]
    return costmod.CostPreset(c["soc"], "", c["cores"], 1.0, c["slow_ns"], c["sfo_ns"], c["hfo_ns"])


def series_rows(rows: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Flat per-bin rows for every (trace, configuration) that has a series."""
    out = []
    for r in rows:
        if not r.get("series"):
            continue
        bin_s = float(r.get("series_bin") or 1.0)
        cost = _cost_of(r)
        for b in dense_series(r["series"], bin_s):
            d: Dict[str, Any] = {"trace": r["trace"], "label": r["label"], "t": b["t"]}
            for p in PATHS:
                d[f"packets_{p}"] = b["packets"][p]
            for p in PATHS:
                d[f"bytes_{p}"] = b["bytes"][p]
            d["ct"] = b["ct"]
            d["flows"] = b["flows"]
            d["ppe_bound"] = b["ppe_bound"]
            d["cpu_load_pct_core"] = costmod.bin_cpu_load_pct(b["packets"], bin_s, cost)
            out.append(d)
    return out


def series_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    flat = series_rows(rows)
    buf = io.StringIO()
    cols = ["trace", "label", "t"] + [f"packets_{p}" for p in PATHS] + [f"bytes_{p}" for p in PATHS] \
        + ["ct", "flows", "ppe_bound", "cpu_load_pct_core"]
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for d in flat:
        w.writerow(d)
    return buf.getvalue()


def series_json(rows: Sequence[Mapping[str, Any]], indent: Optional[int] = None) -> str:
    doc = []
    for r in rows:
        if not r.get("series"):
            continue
        bin_s = float(r.get("series_bin") or 1.0)
        cost = _cost_of(r)
        bins = dense_series(r["series"], bin_s)
        for b in bins:
            b["cpu_load_pct_core"] = costmod.bin_cpu_load_pct(b["packets"], bin_s, cost)
        doc.append({"trace": r["trace"], "label": r["label"], "config": r["config"], "bin_s": bin_s, "series": bins})
    return json.dumps(doc, indent=indent)


def write_series(rows: Sequence[Mapping[str, Any]], path: str) -> str:
    """Writes the time series: JSON when `path` ends with .json, else CSV."""
    if not any(r.get("series") for r in rows):
        raise PyflowError("no time series in these rows (run whatif with series_bin)")
    text = series_json(rows) if path.endswith(".json") else series_csv(rows)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


# ----------------------------------------------------------------------------------------------
# pictures

def _plt() -> Any:
    try:
        import matplotlib  # type: ignore[import-not-found]
    except ImportError:
        raise PyflowError("pictures need matplotlib: pip install 'pyflow-offload[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # type: ignore[import-not-found]
    return plt


def _save(fig: Any, path: str) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found]
    plt.close(fig)
    return path


def _ppe_size(row: Mapping[str, Any]) -> int:
    cfg = row["config"]
    if cfg.get("ppe_entries") is not None:
        return int(cfg["ppe_entries"])
    return presets.foe_entries(presets.KERNELS[cfg.get("kernel", presets.DEFAULT_KERNEL)])


def _share(row: Mapping[str, Any], path: str) -> float:
    s = row["stats"]
    return 100.0 * s["paths"][path]["packets"] / s["packets_total"] if s["packets_total"] else 0.0


def plot_compare(rows: Sequence[Mapping[str, Any]], path: str, title: str = "") -> str:
    """Bars per configuration: share of packets per path, and estimated CPU load (one core)."""
    plt = _plt()
    labels = [r["label"] for r in rows]
    n = len(rows)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 1.2 + 0.32 * n), sharey=True,
                                   gridspec_kw={"width_ratios": [3, 2]})
    y = list(range(n))
    left = [0.0] * n
    for p in PATHS:
        vals = [_share(r, p) for r in rows]
        if not any(vals):
            continue
        ax1.barh(y, vals, left=left, color=_COLORS[p], label=_TITLES[p], height=0.7)
        left = [a + b for a, b in zip(left, vals)]
    ax1.set_yticks(y)
    ax1.set_yticklabels(labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlim(0, 100)
    ax1.set_xlabel("share of packets (%)")
    handles, names = ax1.get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8, ncol=len(PATHS),
               frameon=False)
    cpu = [r["cost"]["cpu_load_pct_core"] or 0.0 for r in rows]
    ax2.barh(y, cpu, color="#1f77b4", height=0.7)
    for yi, r in zip(y, rows):
        m = r["cost"]["max_mbps_core"]
        ax2.text(cpu[yi], yi, f" max {m:.0f} Mbit/s" if m else " no CPU", va="center", fontsize=7)
    ax2.set_xlabel("estimated CPU load, one core (%) - a model")
    ax2.set_xlim(0, max(cpu + [1e-9]) * 1.6)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _pick_timeline_rows(rows: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """Up to 4 configurations for the path-mix picture: the first of mode none and sw, and the
    hw configurations with the most and the least HFO."""
    out: List[Mapping[str, Any]] = []
    seen = set()
    for mode in ("none", "sw"):
        for r in rows:
            if r["config"]["mode"] == mode and r.get("series"):
                out.append(r)
                seen.add(id(r))
                break
    hw = [r for r in rows if r["config"]["mode"] == "hw" and r.get("series")]
    if hw:
        best = max(hw, key=lambda r: r["stats"]["paths"]["hfo"]["packets"])
        worst = min(hw, key=lambda r: r["stats"]["paths"]["hfo"]["packets"])
        for r in (best, worst):
            if id(r) not in seen and (r is best or r["stats"]["paths"]["hfo"]["packets"]
                                      != best["stats"]["paths"]["hfo"]["packets"]):
                out.append(r)
                seen.add(id(r))
    return out or [r for r in rows if r.get("series")][:1]


def plot_path_mix(rows: Sequence[Mapping[str, Any]], path: str, title: str = "") -> str:
    """Stacked area of packets per second per path over time, one panel per configuration."""
    plt = _plt()
    rows = _pick_timeline_rows(rows)
    if not rows:
        raise PyflowError("no time series to plot")
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.3 * len(rows) + 0.4), sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], rows):
        bin_s = float(r.get("series_bin") or 1.0)
        bins = dense_series(r["series"], bin_s)
        t = [b["t"] for b in bins]
        stacks = [[b["packets"][p] / bin_s for b in bins] for p in PATHS]
        keep = [i for i, p in enumerate(PATHS) if any(stacks[i])]
        ax.stackplot(t, *[stacks[i] for i in keep], labels=[_TITLES[PATHS[i]] for i in keep],
                     colors=[_COLORS[PATHS[i]] for i in keep], step="post")
        ax.set_ylabel("packets/s")
        ax.set_title(r["label"], fontsize=9, loc="left")
        ax.legend(loc="upper right", fontsize=7, ncol=len(keep), frameon=False)
    axes[-1, 0].set_xlabel("seconds since the first packet")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_occupancy(rows: Sequence[Mapping[str, Any]], path: str, title: str = "") -> str:
    """Table occupancy over time: conntrack entries and flowtable flows (one line per distinct
    flowtable configuration), and PPE bound entries for every hw configuration."""
    plt = _plt()
    with_series = [r for r in rows if r.get("series")]
    hw = [r for r in with_series if r["config"]["mode"] == "hw"]
    fig, axes = plt.subplots(2 if hw else 1, 1, figsize=(10, 6 if hw else 3.2), sharex=True, squeeze=False)
    ax = axes[0, 0]
    drawn = set()
    ct_drawn = False
    for r in with_series:
        bins = dense_series(r["series"], float(r.get("series_bin") or 1.0))
        t = [b["t"] for b in bins]
        if not ct_drawn:
            ax.plot(t, [b["ct"] for b in bins], color="black", lw=1.2, label=f"conntrack entries ({r['label']})")
            ct_drawn = True
        if r["config"]["mode"] == "none":
            continue
        flows = tuple(b["flows"] for b in bins)
        if flows in drawn:
            continue
        drawn.add(flows)
        ax.plot(t, flows, lw=1, label=f"flowtable flows ({r['label']})")
    ax.set_ylabel("entries")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    if hw:
        ax = axes[1, 0]
        curves: Dict[Tuple[int, ...], List[Mapping[str, Any]]] = {}
        times: Dict[Tuple[int, ...], List[float]] = {}
        for r in hw:   # configurations with the same curve share one line
            bins = dense_series(r["series"], float(r.get("series_bin") or 1.0))
            key = tuple(b["ppe_bound"] for b in bins)
            curves.setdefault(key, []).append(r)
            times.setdefault(key, [b["t"] for b in bins])
        for key, rs in curves.items():
            more = f" (+{len(rs) - 1} with the same curve)" if len(rs) > 1 else ""
            ax.step(times[key], list(key), where="post", lw=1.2, label=rs[0]["label"] + more)
        ax.set_ylabel("PPE bound entries")
        ax.legend(fontsize=6, frameon=False, loc="upper left", ncol=2)
    axes[-1, 0].set_xlabel("seconds since the first packet")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_offload_vs_ppe(rows: Sequence[Mapping[str, Any]], path: str, title: str = "") -> str:
    """HFO share of packets against the PPE table size, one line per SoC (and other settings)."""
    plt = _plt()
    groups: Dict[str, List[Tuple[int, float]]] = {}
    for r in rows:
        if r["config"]["mode"] != "hw":
            continue
        rest = {k: v for k, v in r["config"].items() if k not in ("mode", "ppe_entries")}
        key = " ".join([rest.pop("soc")] + [f"{k}={v}" for k, v in rest.items()])
        groups.setdefault(key, []).append((_ppe_size(r), _share(r, "hfo")))
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, pts in groups.items():
        pts = sorted(set(pts))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=key)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("PPE FOE entries")
    ax.set_ylabel("HFO share of packets (%)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", os.path.basename(text)).strip("-") or "trace"


def write_plots(rows: Sequence[Mapping[str, Any]], outdir: str) -> List[Tuple[str, str]]:
    """Every picture that the rows allow, per trace; returns [(title, file)]."""
    os.makedirs(outdir, exist_ok=True)
    by_trace: Dict[str, List[Mapping[str, Any]]] = {}
    for r in rows:
        by_trace.setdefault(r["trace"], []).append(r)
    multi = len(by_trace) > 1
    out: List[Tuple[str, str]] = []
    for ti, (trace, rs) in enumerate(by_trace.items()):
        pre = f"{ti + 1:02d}-{_slug(trace)}-" if multi else ""
        name = os.path.basename(trace)
        out.append((f"{name}: share of packets per path and estimated CPU load per configuration",
                    plot_compare(rs, os.path.join(outdir, f"{pre}compare.png"), name)))
        hw_sizes = {_ppe_size(r) for r in rs if r["config"]["mode"] == "hw"}
        if len(hw_sizes) > 1:
            out.append((f"{name}: HFO share against the PPE table size",
                        plot_offload_vs_ppe(rs, os.path.join(outdir, f"{pre}offload-vs-ppe.png"), name)))
        if any(r.get("series") for r in rs):
            out.append((f"{name}: packets per second per path over time",
                        plot_path_mix(rs, os.path.join(outdir, f"{pre}path-mix.png"), name)))
            out.append((f"{name}: table occupancy over time",
                        plot_occupancy(rs, os.path.join(outdir, f"{pre}occupancy.png"), name)))
    return out


# ----------------------------------------------------------------------------------------------
# HTML

_CSS = """body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:first-child,th:first-child,td.l{text-align:left}th{background:#f2f2f2}img{max-width:100%;border:1px solid #eee}
.note{background:#fff8e1;border-left:4px solid #f0ad4e;padding:.6em 1em}pre{white-space:pre-wrap;font-size:12px}"""


def _num(v: Any, spec: str = ".1f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def grid_table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ["trace", "configuration", "slow %", "SFO %", "HFO %", "not fw %", "PPE bound peak",
            "CPU load % (1 core)", "CPU load % (SoC)", "max Mbit/s (1 core)", "max Mbit/s (SoC)"]
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        s, c = r["stats"], r["cost"]
        nf = _share(r, "not_forwarded") + _share(r, "unparsed")
        hw = s.get("hw")
        cells = [html.escape(os.path.basename(r["trace"])), html.escape(r["label"]),
                 _num(_share(r, "slow")), _num(_share(r, "sfo")), _num(_share(r, "hfo")), _num(nf),
                 str(hw["ppe_bound_peak"]) if hw else "-",
                 _num(c["cpu_load_pct_core"], ".2f"), _num(c["cpu_load_pct_soc"], ".2f"),
                 _num(c["max_mbps_core"], ".0f") if c["max_mbps_core"] else "no CPU",
                 _num(c["max_mbps_soc"], ".0f") if c["max_mbps_soc"] else "no CPU"]
        out.append("<tr>" + "".join(f"<td class='l'>{x}</td>" if i < 2 else f"<td>{x}</td>"
                                    for i, x in enumerate(cells)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def cost_table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    socs = sorted({r["cost"]["soc"] for r in rows})
    out = ["<table><tr><th>SoC</th><th>CPU</th><th>cores</th><th>slow path ns/packet</th>"
           "<th>SFO ns/packet</th><th>HFO ns/packet</th><th>source</th></tr>"]
    for soc in socs:
        c = costmod.COSTS[soc]
        used = next(r["cost"] for r in rows if r["cost"]["soc"] == soc)
        over = " (overridden)" if used["overridden"] else ""
        out.append(f"<tr><td>{soc}</td><td class='l'>{html.escape(c.cpu)}</td><td>{c.cores}</td>"
                   f"<td>{used['slow_ns']:.0f}</td><td>{used['sfo_ns']:.0f}</td><td>{used['hfo_ns']:.0f}{over}</td>"
                   f"<td class='l'>{html.escape(c.source)}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def write_html(rows: Sequence[Mapping[str, Any]], path: str, pictures: Sequence[Tuple[str, str]] = (),
               embed: bool = True, title: str = "pyflow what-if report") -> str:
    """One page: the grid table, the pictures (embedded as base64 PNG, or referenced as files
    relative to the page with embed=False) and the cost model's assumptions and sources."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    traces = sorted({r["trace"] for r in rows})
    parts.append("<p>Traces: " + ", ".join(html.escape(t) for t in traces) + f". {len(rows)} rows.</p>")
    parts.append("<p class='note'><b>The CPU figures are a model, not a measurement</b>: estimated CPU time per "
                 "forwarded packet on the slow path and on the SFO fast path (HFO costs no CPU), from published "
                 "throughput figures (sources below), applied to the paths pyflow computed for each packet.</p>")
    parts.append("<h2>Configurations</h2>")
    parts.append(grid_table_html(rows))
    if pictures:
        parts.append("<h2>Pictures</h2>")
    base = os.path.dirname(os.path.abspath(path))
    for ptitle, pfile in pictures:
        name = os.path.basename(pfile)
        if embed:
            with open(pfile, "rb") as fh:
                data = base64.b64encode(fh.read()).decode("ascii")
            src = f"data:image/png;base64,{data}"
        else:
            src = html.escape(os.path.relpath(os.path.abspath(pfile), base))
        parts.append(f"<figure id='{html.escape(name)}'><img src='{src}' alt='{html.escape(ptitle)}' "
                     f"data-file='{html.escape(name)}'><figcaption>{html.escape(ptitle)} "
                     f"({html.escape(name)})</figcaption></figure>")
    parts.append("<h2>Cost model</h2>")
    parts.append(cost_table_html(rows))
    parts.append("<p>CPU load: CPU time of the trace's packets over its duration. Max rate: the packets per "
                 "second one core would forward with this trace's mix of paths (and times the cores, assuming "
                 "perfect spreading over them), in Mbit/s at the trace's mean forwarded packet size. Packets "
                 "not forwarded are not charged.</p>")
    parts.append(f"<pre>{html.escape(costmod.assumptions_text())}</pre>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
    return path
