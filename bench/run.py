#!/usr/bin/env python3
"""pyflow benchmark harness (issue 8): `make bench` runs `python3 bench/run.py`.

1. Builds two small C tools with gcc -O2 into bench/out/: gen (deterministic trace generator,
   bench/gen.c) and walk (mmap + visit every record header: the physical lower bound).
2. Generates the traces once (fixed seed; the file name carries a hash of the generator's
   parameters and source, so a changed generator makes new files) and reuses them:
     mixed1m   1 M packets, realistic home-router mix (see bench/gen.c)
     mixed10m  10 M packets, same flow population (same flow arrivals and lifetimes, 10x packets
               per flow): for the memory check
     flows1m   1 M concurrent UDP flows (2-3 packets each, all within 20 s): peak RSS check
     real      the largest classic pcap of the shared corpus (tiny: replayed R times in-process)
3. Runs every measurement in its own child process (bench/child.py or the walk binary),
   alternating them round-robin, best of N; the time is measured inside the child around the
   call (start-up excluded); the wall time of the child and its peak RSS (os.wait4 rusage) are
   reported too.
4. Prints the table and the PASS/FAIL of each target of the issue, writes bench/results.json.

Options: --rounds N (default 3), --quick (1 round, skips the slow optional peers),
--no-install (never tries `pip install nfstream`), --only-traces (generate and stop).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
SEED = 20240808
CHILD = os.path.join(HERE, "child.py")

TRACES = {
    "mixed1m": {"kind": "mixed", "n": 1_000_000, "scale": 1},
    "mixed10m": {"kind": "mixed", "n": 10_000_000, "scale": 10},
    "flows1m": {"kind": "manyflows", "n": 1_000_000, "scale": 1},   # n = flows for this kind
}
SUBSET = 200_000          # dpkt loop and reference model: first 200 k packets of mixed1m
REAL_REPEAT = 200         # calls per child on the tiny corpus trace
CT_MAX_1M = 1_100_000

# 12-config what-if grid: the software fast path at three flowtable timeouts, plus hardware
# offload on three SoCs (PPE of MT7621 / MT7622 with 2-way buckets, MT7986 with 2 PPEs x 4 ways)
# at the same three timeouts.
GRID: List[Dict[str, Any]] = (
    [{"mode": "sw", "flow_timeout": t} for t in (15, 30, 60)]
    + [{"mode": "hw", "soc": s, "flow_timeout": t} for s in ("mt7621", "mt7622", "mt7986") for t in (15, 30, 60)]
)

LOADAVG_START = os.getloadavg()
RSS_SLACK_KB = 8 * 1024   # "10 M trace RSS <= 1 M trace RSS (+ small slack)"


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- tools and traces

def build_tool(name: str) -> str:
    src = os.path.join(HERE, f"{name}.c")
    with open(src, "rb") as fh:
        digest = hashlib.sha1(fh.read()).hexdigest()[:10]
    exe = os.path.join(OUT, f"{name}-{digest}")
    if not os.path.exists(exe):
        cmd = ["gcc", "-O2", "-Wall", "-Wextra", "-o", exe + ".tmp", src, "-lm"]
        subprocess.run(cmd, check=True)
        os.replace(exe + ".tmp", exe)
    return exe


def trace_path(name: str, params: Dict[str, Any], gen_exe: str) -> str:
    key = json.dumps({"params": params, "seed": SEED, "gen": os.path.basename(gen_exe)}, sort_keys=True)
    return os.path.join(OUT, f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.pcap")


def generate(name: str, gen_exe: str) -> Dict[str, Any]:
    p = TRACES[name]
    path = trace_path(name, p, gen_exe)
    meta_path = path + ".json"
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
        log(f"  {name}: reusing {os.path.relpath(path, ROOT)}")
    else:
        t0 = time.perf_counter()
        r = subprocess.run([gen_exe, path + ".tmp", p["kind"], str(p["n"]), str(p["scale"]), str(SEED)],
                           check=True, capture_output=True, text=True)
        os.replace(path + ".tmp", path)
        meta = json.loads(r.stdout)
        meta["generate_seconds"] = round(time.perf_counter() - t0, 2)
        with open(meta_path, "w") as fh:
            json.dump(meta, fh)
        log(f"  {name}: generated {os.path.relpath(path, ROOT)} in {meta['generate_seconds']} s")
    meta.update(path=path, size_bytes=os.path.getsize(path), params=p, seed=SEED)
    return meta


def make_subset(src: str, n: int) -> str:
    """The first n records of a classic little-endian pcap (a plain byte prefix)."""
    dst = src[:-5] + f"-first{n // 1000}k.pcap"
    if os.path.exists(dst):
        return dst
    with open(src, "rb") as fh:
        data = fh.read(64 << 20)
    off = 24
    for _ in range(n):
        (cap,) = struct.unpack_from("<I", data, off + 8)
        off += 16 + cap
    with open(dst + ".tmp", "wb") as fh:
        fh.write(data[:off])
    os.replace(dst + ".tmp", dst)
    return dst


def count_records(path: str) -> int:
    with open(path, "rb") as fh:
        data = fh.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        return -1
    off, n = 24, 0
    while off + 16 <= len(data):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
        if off > len(data):
            break
        n += 1
    return n


def find_real_trace() -> Optional[Dict[str, Any]]:
    env = os.environ.get("PYFLOW_BENCH_REAL")
    if env:
        cands = [env]
    else:
        cands = []
        for d in (os.path.join(ROOT, "..", "shared", "pcaps", "real"), "/work/shared/pcaps/real"):
            cands += glob.glob(os.path.join(d, "*.pcap"))
    best = None
    for c in cands:
        n = count_records(c)
        if n > 0 and (best is None or n > best[1]):
            best = (c, n)
    if not best:
        return None
    return {"path": os.path.realpath(best[0]), "packets": best[1], "size_bytes": os.path.getsize(best[0])}


# --------------------------------------------------------------------------- running children

def run_child(argv: List[str], timeout: float) -> Dict[str, Any]:
    """Runs one child; returns its JSON line plus wall time and its own rusage peak RSS."""
    t0 = time.perf_counter()
    errf = open(os.path.join(OUT, "child.stderr"), "w+")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf, cwd=ROOT)
    killed = []

    def kill() -> None:
        killed.append(1)
        p.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    timer.cancel()
    wall = time.perf_counter() - t0
    errf.seek(0)
    err = errf.read()
    errf.close()
    if killed:
        return {"error": f"timed out after {timeout:.0f} s", "wall": wall}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {err.strip()[-600:]}", "wall": wall}
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"no result line: {err.strip()[-600:]}", "wall": wall}
    res = json.loads(lines[-1])
    res["wall"] = wall
    res["rusage_maxrss_kb"] = ru.ru_maxrss
    # peak RSS of the child's own address space; ru_maxrss (wait4) is only a cross-check, since
    # Linux carries the parent's high-water mark over fork + exec into the child's
    res["peak_rss_kb"] = res.get("vmhwm_kb") or ru.ru_maxrss
    return res


class Bench:
    def __init__(self, bid: str, label: str, trace: str, argv: List[str], rounds: int,
                 timeout: float = 300.0, group: str = "speed") -> None:
        self.id, self.label, self.trace, self.argv = bid, label, trace, argv
        self.rounds, self.timeout, self.group = rounds, timeout, group
        self.runs: List[Dict[str, Any]] = []
        self.skipped: Optional[str] = None

    def run_once(self) -> None:
        if self.skipped or len(self.runs) >= self.rounds:
            return
        r = run_child(self.argv, self.timeout)
        if "skipped" in r:
            self.skipped = r["skipped"]
            log(f"  {self.id}: skipped: {self.skipped}")
            return
        if "error" in r:
            self.skipped = r["error"]
            log(f"  {self.id}: FAILED: {r['error']}")
            return
        self.runs.append(r)
        log(f"  {self.id:<22} {r['packets']:>10} pkts  {r['seconds']:8.3f} s in call  "
            f"{r['wall']:7.2f} s wall  {r['peak_rss_kb'] / 1024:7.1f} MB peak RSS")
        # a slow optional peer is not repeated beyond what the time budget allows
        if r["seconds"] > 40:
            self.rounds = len(self.runs)

    def summary(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"id": self.id, "label": self.label, "trace": self.trace, "group": self.group}
        if not self.runs:
            d["skipped"] = self.skipped or "not run"
            return d
        best = min(self.runs, key=lambda r: r["seconds"])
        d.update(
            runs=len(self.runs),
            packets=best["packets"],
            seconds_best=best["seconds"],
            seconds_all=[round(r["seconds"], 6) for r in self.runs],
            wall_best=min(r["wall"] for r in self.runs),
            cpu_seconds_best=min(r.get("cpu_seconds", r["seconds"]) for r in self.runs),
            pps=best["packets"] / best["seconds"] if best["seconds"] > 0 else None,
            peak_rss_kb=max(r["peak_rss_kb"] for r in self.runs),
            rusage_maxrss_kb=max(r["rusage_maxrss_kb"] for r in self.runs),
        )
        if best.get("cpu_seconds"):
            d["pps_cpu"] = best["packets"] / best["cpu_seconds"]
        for k in ("flow_packets", "peak_anon_kb", "peak_file_kb", "rss_before_kb", "paths", "conntrack_peak",
                  "flowtable_peak", "configs", "children_maxrss_kb"):
            if k in best:
                d[k] = best[k]
        return d


def py_child(spec: Dict[str, Any]) -> List[str]:
    return [sys.executable, CHILD, json.dumps(spec)]


# --------------------------------------------------------------------------- environment

def machine() -> Dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def first_line(cmd: List[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.splitlines()[0]
        except Exception:  # noqa: BLE001 - informative only
            return "unknown"

    mem_kb = 0
    try:
        with open("/proc/meminfo") as fh:
            mem_kb = int(fh.readline().split()[1])
    except OSError:
        pass
    try:
        import pyflow
        pyver = pyflow.__version__
    except Exception as exc:  # noqa: BLE001
        pyver = f"import failed: {exc}"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1048576, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gcc": first_line(["gcc", "--version"]),
        "pyflow": pyver,
        "git_commit": first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "csrc", "pyflow"],
                                         capture_output=True, text=True).stdout.strip()),
        "loadavg_at_start": LOADAVG_START,
        "loadavg_at_end": os.getloadavg(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def ensure_nfstream(allow_install: bool) -> Optional[str]:
    """None when importable; otherwise the reason it is skipped. Tries one pip install (2 min)."""
    probe = [sys.executable, "-c", "import nfstream"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return None
    marker = os.path.join(OUT, "nfstream-install-attempted")
    if not allow_install:
        return "nfstream not installed (pip install nfstream to compare)"
    if os.path.exists(marker):
        return "nfstream not importable (one pip install was already tried; see bench/out/nfstream-install.log)"
    log("  nfstream is not installed: trying `pip install nfstream` once (time-boxed to 120 s) ...")
    with open(marker, "w"):
        pass
    with open(os.path.join(OUT, "nfstream-install.log"), "w") as fh:
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "nfstream"], stdout=fh,
                           stderr=subprocess.STDOUT, timeout=120)
        except subprocess.TimeoutExpired:
            return "pip install nfstream took more than 120 s: skipped"
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return None
    return "nfstream did not install (see bench/out/nfstream-install.log)"


# --------------------------------------------------------------------------- report

def fmt_rate(pps: Optional[float]) -> str:
    if pps is None:
        return "-"
    return f"{pps / 1e6:.2f} M" if pps >= 1e5 else f"{pps / 1e3:.1f} k"


def table(rows: List[Dict[str, Any]], ref_pps: Optional[float]) -> str:
    hdr = ("benchmark", "trace", "packets", "best s", "cpu s", "wall s", "pkt/s", "vs replay hw", "peak RSS MB")
    lines = []
    for r in rows:
        if "skipped" in r:
            why = r["skipped"].strip().splitlines()[-1][:100]
            lines.append((r["label"], r["trace"], "-", "-", "-", "-", "-", "-", f"skipped: {why}"))
            continue
        ratio = "-"
        if ref_pps and r.get("pps") and r["group"] == "speed":
            x = r["pps"] / ref_pps
            ratio = f"{x:.2f}x" if x >= 0.1 else f"1/{1 / x:.0f}"
        lines.append((r["label"], r["trace"], f"{r['packets']:,}", f"{r['seconds_best']:.3f}",
                      f"{r['cpu_seconds_best']:.3f}", f"{r['wall_best']:.2f}", fmt_rate(r["pps"]), ratio,
                      f"{r['peak_rss_kb'] / 1024:.1f}"))
    widths = [max(len(str(x[i])) for x in lines + [hdr]) for i in range(len(hdr))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for x in lines:
        out.append("| " + " | ".join(str(v).ljust(w) for v, w in zip(x, widths)) + " |")
    return "\n".join(out)


def targets(res: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    def get(bid: str) -> Optional[Dict[str, Any]]:
        r = res.get(bid)
        return r if r and "skipped" not in r else None

    out: List[Dict[str, Any]] = []

    def add(name: str, ok: Optional[bool], measured: str) -> None:
        out.append({"target": name, "status": "SKIP" if ok is None else ("PASS" if ok else "FAIL"),
                    "measured": measured})

    hw, walk, dp, grid = get("replay_hw"), get("walk"), get("dpkt"), get("grid12")
    nfs, m1, m10, f1 = get("nfstream"), get("mem_mixed1m"), get("mem_mixed10m"), get("mem_flows1m")
    if hw:
        add("replay --mode hw >= 10 M packets/s (mixed1m)", hw["pps"] >= 10e6,
            f"{hw['pps'] / 1e6:.2f} M packets/s ({hw['pps_cpu'] / 1e6:.2f} M per CPU second)")
    if hw and walk:
        x = walk["pps"] / hw["pps"]
        add("replay hw within 4x of the header walk", x <= 4, f"header walk is {x:.1f}x faster "
            f"({walk['pps'] / 1e6:.1f} M vs {hw['pps'] / 1e6:.2f} M packets/s)")
    if hw and dp:
        x = hw["pps"] / dp["pps"]
        add(">= 50x the dpkt 5-tuple loop", x >= 50, f"{x:.0f}x ({dp['pps'] / 1e3:.0f} k packets/s for dpkt)")
    else:
        add(">= 50x the dpkt 5-tuple loop", None, "dpkt loop not run")
    if hw and nfs:
        x = hw["pps"] / nfs["pps"]
        add(">= 5x NFStream", x >= 5, f"{x:.1f}x ({nfs['pps'] / 1e3:.0f} k packets/s for NFStream)")
    else:
        add(">= 5x NFStream", None, "NFStream not run")
    if hw and grid:
        x = grid["seconds_best"] / hw["seconds_best"]
        add("12-config grid < 6x one replay (hw)", x < 6, f"{x:.2f}x ({grid['seconds_best']:.3f} s vs {hw['seconds_best']:.3f} s)")
    if m1 and m10:
        a, b = m1["peak_rss_kb"], m10["peak_rss_kb"]
        extra = ""
        if "peak_anon_kb" in m1 and "peak_anon_kb" in m10:
            extra = (f"; anonymous (model) memory {m1['peak_anon_kb'] / 1024:.1f} -> {m10['peak_anon_kb'] / 1024:.1f} MB, "
                     f"file-mapped {m1['peak_file_kb'] / 1024:.1f} -> {m10['peak_file_kb'] / 1024:.1f} MB")
        add("10 M trace peak RSS <= 1 M trace peak RSS (+8 MB)", b <= a + RSS_SLACK_KB,
            f"{a / 1024:.1f} MB -> {b / 1024:.1f} MB{extra}")
    if f1:
        a = f1["peak_rss_kb"]
        extra = ""
        if "peak_anon_kb" in f1:
            extra = f" (anonymous {f1['peak_anon_kb'] / 1024:.1f} MB + file-mapped {f1['peak_file_kb'] / 1024:.1f} MB)"
        add("1 M concurrent flows: peak RSS <= 300 MB", a <= 300 * 1024,
            f"{a / 1024:.1f} MB{extra}; conntrack peak {f1.get('conntrack_peak')}")
    return out


# --------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--only-traces", action="store_true")
    ap.add_argument("--output", default=os.path.join(HERE, "results.json"))
    args = ap.parse_args()
    rounds = 1 if args.quick else args.rounds
    t_start = time.perf_counter()
    os.makedirs(OUT, exist_ok=True)

    log("== building tools")
    gen_exe, walk_exe = build_tool("gen"), build_tool("walk")
    log("== traces (fixed seed %d)" % SEED)
    traces = {name: generate(name, gen_exe) for name in TRACES}
    subset = make_subset(traces["mixed1m"]["path"], SUBSET)
    traces["mixed1m_first200k"] = {"path": subset, "packets": SUBSET, "size_bytes": os.path.getsize(subset),
                                   "note": "first 200 k records of mixed1m"}
    real = find_real_trace()
    if real:
        traces["real"] = real
        log(f"  real: {real['path']} ({real['packets']} packets, replayed {REAL_REPEAT}x per child)")
    else:
        log("  real: no corpus trace found (../shared/pcaps/real/*.pcap): skipped")
    if args.only_traces:
        return 0

    log("== peers")
    try:
        import pyflow  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        log(f"pyflow does not import ({exc}): run `pip install -e .` first")
        return 2
    nfs_skip = "skipped (--quick)" if args.quick else ensure_nfstream(not args.no_install)
    dpkt_ok = subprocess.run([sys.executable, "-c", "import dpkt"], capture_output=True).returncode == 0
    log(f"  nfstream: {'available' if nfs_skip is None else nfs_skip}")
    log(f"  dpkt: {'available' if dpkt_ok else 'not installed: dpkt loop skipped'}")

    m1 = traces["mixed1m"]["path"]
    benches: List[Bench] = [
        Bench("walk", "C header walk (mmap, lower bound)", "mixed1m", [walk_exe, m1], rounds),
        Bench("replay_none", "pyflow.replay mode=none", "mixed1m", py_child({"kind": "replay", "path": m1, "mode": "none"}), rounds),
        Bench("replay_sw", "pyflow.replay mode=sw", "mixed1m", py_child({"kind": "replay", "path": m1, "mode": "sw"}), rounds),
        Bench("replay_hw", "pyflow.replay mode=hw", "mixed1m", py_child({"kind": "replay", "path": m1, "mode": "hw"}), rounds),
        Bench("grid12", "pyflow.run_many, 12 configs", "mixed1m", py_child({"kind": "run_many", "path": m1, "grid": GRID}), rounds),
    ]
    if dpkt_ok:
        benches.append(Bench("dpkt", "dpkt 5-tuple dict loop", "mixed1m_first200k",
                             py_child({"kind": "dpkt", "path": subset}), rounds))
    ref = Bench("reference", "pyflow.reference (pure Python) sw", "mixed1m_first200k",
                py_child({"kind": "reference", "path": subset, "mode": "sw", "packets": SUBSET}),
                min(rounds, 1 if args.quick else 2), timeout=240)
    benches.append(ref)
    nfs = Bench("nfstream", "NFStream (no dissection, 1 meter)", "mixed1m",
                py_child({"kind": "nfstream", "path": m1, "packets": traces["mixed1m"]["packets"]}),
                rounds, timeout=240)
    if nfs_skip:
        nfs.skipped = nfs_skip
    benches.append(nfs)
    # memory: separate runs with the RSS sampler (its 5 ms polling stays out of the speed runs)
    mem = [
        Bench("mem_mixed1m", "pyflow.replay hw (memory)", "mixed1m",
              py_child({"kind": "replay", "path": m1, "mode": "hw", "sample_mem": True}), 1, group="memory"),
        Bench("mem_mixed10m", "pyflow.replay hw (memory)", "mixed10m",
              py_child({"kind": "replay", "path": traces["mixed10m"]["path"], "mode": "hw", "sample_mem": True}),
              1 if args.quick else 2, group="memory"),
        Bench("mem_flows1m", f"pyflow.replay hw ct_max={CT_MAX_1M}", "flows1m",
              py_child({"kind": "replay", "path": traces["flows1m"]["path"], "mode": "hw", "sample_mem": True,
                        "options": {"ct_max": CT_MAX_1M}}), 1 if args.quick else 2, group="memory"),
    ]
    benches += mem
    if real:
        rp = real["path"]
        benches += [
            Bench("real_walk", f"C header walk x{REAL_REPEAT}", "real", [walk_exe, rp, str(REAL_REPEAT)], rounds, group="real"),
            Bench("real_replay_hw", f"pyflow.replay hw x{REAL_REPEAT} calls", "real",
                  py_child({"kind": "replay", "path": rp, "mode": "hw", "repeat": REAL_REPEAT}), rounds, group="real"),
        ]
        if dpkt_ok:
            benches.append(Bench("real_dpkt", "dpkt 5-tuple loop x20", "real",
                                 py_child({"kind": "dpkt", "path": rp, "repeat": 20}), rounds, group="real"))

    log(f"== measuring ({rounds} round(s), alternating)")
    for rnd in range(max(b.rounds for b in benches)):
        log(f"-- round {rnd + 1}")
        order = benches[rnd % len(benches):] + benches[:rnd % len(benches)]
        for b in order:
            b.run_once()

    rows = [b.summary() for b in benches]
    res = {r["id"]: r for r in rows}
    hw = res.get("replay_hw")
    ref_pps = hw.get("pps") if hw and "skipped" not in hw else None
    for r in rows:
        if ref_pps and r.get("pps") and r["group"] == "speed":
            r["ratio_to_replay_hw"] = r["pps"] / ref_pps
    tg = targets(res)

    log("")
    log(table(rows, ref_pps))
    log("")
    log("Targets (issue 8):")
    for t in tg:
        log(f"  [{t['status']}] {t['target']}: {t['measured']}")
    busy = max(LOADAVG_START[0], os.getloadavg()[0])
    if busy > (os.cpu_count() or 1):
        log(f"\nWARNING: the machine was busy (load average up to {busy:.1f} on {os.cpu_count()} cores): "
            f"in-call times include time spent descheduled; the cpu s column is the process CPU time.")
    total = time.perf_counter() - t_start
    log(f"\nbench total {total:.0f} s")

    doc = {
        "machine": machine(),
        "rounds": rounds,
        "traces": {k: {kk: (os.path.relpath(vv, ROOT) if kk == "path" and vv.startswith(ROOT) else vv)
                       for kk, vv in v.items()} for k, v in traces.items()},
        "grid": GRID,
        "results": rows,
        "targets": tg,
        "bench_seconds": round(total, 1),
    }
    with open(args.output, "w") as fh:
        json.dump(doc, fh, indent=2)
    log(f"wrote {os.path.relpath(args.output, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
