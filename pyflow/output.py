"""Output formats, in one place: the terminal table and JSON."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from .core import PATHS, Result

# Which path each reason belongs to (documented in the README reason table).
_PATH_TITLES = {"slow": "slow path", "sfo": "SFO", "hfo": "HFO", "not_forwarded": "not forwarded",
                "unparsed": "unparsed"}


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "    -"


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def table(result: Result) -> str:
    """A readable summary for a terminal."""
    s = result.stats
    t = s["trace"]
    o = s["options"]
    lines: List[str] = []
    mode = o["mode"] + (f" ({o['soc']}, {o.get('ppe_entries') or 'preset'} FOE entries)" if o["mode"] == "hw" else "")
    lines.append(f"{t['path']}: {t['format']}, {s['packets_total']} packets, "
                 f"{_human_bytes(s['bytes_total'])}, {t['duration_s']:.3f} s")
    lines.append(f"mode {mode}, kernel {o['kernel']}, sysctl {o['sysctl']}")
    lines.append("")
    lines.append(f"{'path':<14}{'packets':>12}{'':>8}{'bytes':>14}{'':>8}{'flows':>9}")
    total_p, total_b = s["packets_total"], s["bytes_total"]
    for name in PATHS:
        p = s["paths"][name]
        lines.append(f"{_PATH_TITLES[name]:<14}{p['packets']:>12}{_pct(p['packets'], total_p):>8}"
                     f"{p['bytes']:>14}{_pct(p['bytes'], total_b):>8}{p['flows']:>9}")
    lines.append("")
    lines.append("reasons (packets):")
    for reason, n in sorted(s["reasons"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {reason:<24}{n:>12}")
    ct, ft = s["conntrack"], s["flowtable"]
    lines.append("")
    lines.append(f"conntrack: {ct['connections']} connections, peak {ct['peak']} entries, "
                 f"{ct['early_drops']} early drops; flowtable: {ft['added']} flows added, peak {ft['peak']}, "
                 f"{ft['timeouts']} timed out, {ft['teardown_fin_rst']} torn down by FIN/RST")
    if "hw" in s:
        h = s["hw"]
        lines.append(f"hardware: {h['commits']} flows committed, {h['refused']} refused, {h['binds']} binds, "
                     f"{h['age_outs']} age-outs, PPE bound peak {h['ppe_bound_peak']}, "
                     f"mean {h['ppe_bound_mean']:.1f}")
    if s["dropped"]:
        lines.append(f"dropped by the router: {s['dropped']} packets")
    return "\n".join(lines)


def to_json(result: Result) -> str:
    return json.dumps(result.stats, indent=2)


def many_to_json(results: List[Result]) -> str:
    return json.dumps([r.stats for r in results], indent=2)


def load_json(text: str) -> Dict[str, Any]:
    return json.loads(text)


def dump_section(kind: str, path: str, text: str) -> str:
    """A table dump printed after the summary."""
    title = {"dump_conntrack": "conntrack table (/proc/net/nf_conntrack)",
             "dump_ppe": "PPE table (/sys/kernel/debug/ppe0/entries)"}[kind]
    at = os.path.basename(path).rsplit("-at-", 1)[-1][:-5]
    return f"\n{title} at {at} s:\n" + (text if text else "(empty)\n")


FLOW_CSV_FIELDS = ["flow", "tuple", "in_iface", "reply_in_iface", "first_ts", "last_ts", "slow_packets",
                   "sfo_packets", "hfo_packets", "slow_bytes", "sfo_bytes", "hfo_bytes", "offloaded_s",
                   "flows_added", "teardown", "end", "tcp_state", "hw_bound_orig", "hw_bound_reply",
                   "hw_refused"]


def _flow_row(f: Dict[str, Any]) -> Dict[str, Any]:
    row = {k: f[k] for k in ("flow", "tuple", "in_iface", "reply_in_iface", "first_ts", "last_ts",
                             "offloaded_s", "flows_added", "teardown", "end", "tcp_state", "hw_refused")}
    for p in ("slow", "sfo", "hfo"):
        row[f"{p}_packets"] = f["packets"][p]
        row[f"{p}_bytes"] = f["bytes"][p]
    row["hw_bound_orig"], row["hw_bound_reply"] = f["hw_bound"]["orig"], f["hw_bound"]["reply"]
    return row


def flows_csv(rows: List[Dict[str, Any]]) -> str:
    import csv
    import io
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FLOW_CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for f in rows:
        w.writerow(_flow_row(f))
    return buf.getvalue()


def flows_table(rows: List[Dict[str, Any]]) -> str:
    lines = [f"{'flow':>6} {'tuple':<52} {'slow':>6} {'sfo':>7} {'hfo':>7} {'bytes':>10} "
             f"{'offl. s':>8} {'teardown':<9} {'hw':<9}"]
    for f in rows:
        hw = "bound" if (f["hw_bound"]["orig"] or f["hw_bound"]["reply"]) else (f["hw_refused"] or "-")
        lines.append(f"{f['flow']:>6} {f['tuple'][:52]:<52} {f['packets']['slow']:>6} {f['packets']['sfo']:>7} "
                     f"{f['packets']['hfo']:>7} {sum(f['bytes'].values()):>10} {f['offloaded_s']:>8.1f} "
                     f"{f['teardown'] or '-':<9} {hw:<9}")
    return "\n".join(lines)
