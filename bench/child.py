"""One benchmark measurement, run in its own process by bench/run.py.

    python3 bench/child.py '{"kind": "replay", "path": "...", "mode": "hw", "options": {...}}'

Prints one JSON line on stdout: packets processed, seconds inside the measured call (time.perf_counter
around it: interpreter start-up and imports excluded), peak RSS of this process (VmHWM) and,
with "sample_mem": true, the peak anonymous and file-backed RSS seen by a thread polling
/proc/self/status every 5 ms while the call runs (pyflow's C call releases the GIL).

Kinds: replay (pyflow.replay), run_many (pyflow.run_many, "grid": list of Options kwargs),
reference (pyflow.reference, if it exists), dpkt (the 5-tuple dict loop a user would write),
nfstream (NFStreamer, no dissection, one meter). "repeat": N calls in the process (tiny traces).
"""
from __future__ import annotations

import json
import resource
import sys
import threading
import time


def _status_kb() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("RssAnon:", "RssFile:", "VmRSS:", "VmHWM:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    return out


class MemSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_anon = self.peak_file = 0

    def sample(self) -> None:
        s = _status_kb()
        self.peak_anon = max(self.peak_anon, s.get("RssAnon", 0))
        self.peak_file = max(self.peak_file, s.get("RssFile", 0))

    def run(self) -> None:
        while not self.stop.wait(0.005):
            self.sample()


def dpkt_loop(path: str) -> int:
    """The script a user would write: every packet's 5-tuple into a dict of counters."""
    import dpkt

    flows: dict = {}
    n = 0
    with open(path, "rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            n += 1
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.UnpackError, IndexError):
                continue
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                proto = ip.p
            elif isinstance(ip, dpkt.ip6.IP6):
                proto = ip.nxt
            else:
                continue
            l4 = ip.data
            if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
                key = (ip.src, ip.dst, proto, l4.sport, l4.dport)
                flows[key] = flows.get(key, 0) + 1
    return n


def nfstream_loop(path: str) -> int:
    from nfstream import NFStreamer

    n = 0
    for flow in NFStreamer(source=path, n_dissections=0, statistical_analysis=False, n_meters=1,
                           decode_tunnels=True):
        n += flow.bidirectional_packets
    return n


def main() -> None:
    spec = json.loads(sys.argv[1])
    kind, path = spec["kind"], spec["path"]
    repeat = int(spec.get("repeat", 1))
    out: dict = {"kind": kind}

    if kind in ("replay", "run_many"):
        import pyflow

        if kind == "replay":
            def call() -> int:
                r = pyflow.replay(path, mode=spec["mode"], **spec.get("options", {}))
                out["paths"] = {k: v["packets"] for k, v in r.paths.items()}
                out["conntrack_peak"] = r.stats["conntrack"]["peak"]
                out["flowtable_peak"] = r.stats["flowtable"]["peak"]
                return r.stats["trace"]["records"]
        else:
            configs = [pyflow.Options(**c) for c in spec["grid"]]

            def call() -> int:
                rs = pyflow.run_many(path, configs)
                out["configs"] = len(rs)
                return rs[0].stats["trace"]["records"]
    elif kind == "reference":
        try:
            import pyflow.reference as ref  # type: ignore
        except ImportError as exc:
            print(json.dumps({"kind": kind, "skipped": f"pyflow.reference not importable: {exc}"}))
            return
        fn = getattr(ref, "replay", None)
        if fn is None:
            print(json.dumps({"kind": kind, "skipped": "pyflow.reference has no replay()"}))
            return

        def call() -> int:
            r = fn(path, mode=spec["mode"])
            st = getattr(r, "stats", r)
            try:
                return int(st["trace"]["records"])
            except (KeyError, TypeError):
                return int(spec.get("packets", 0))
    elif kind == "dpkt":
        def call() -> int:
            return dpkt_loop(path)
    elif kind == "nfstream":
        try:
            import nfstream  # noqa: F401
        except ImportError as exc:
            print(json.dumps({"kind": kind, "skipped": f"nfstream not importable: {exc}"}))
            return

        def call() -> int:
            # NFStream reads every record; its flows account only for the packets it parses
            out["flow_packets"] = nfstream_loop(path)
            return int(spec.get("packets") or out["flow_packets"])
    else:
        raise SystemExit(f"unknown kind {kind}")

    sampler = None
    if spec.get("sample_mem"):
        sampler = MemSampler()
        sampler.sample()
        out["rss_before_kb"] = _status_kb().get("VmRSS", 0)
        sampler.start()
    def cpu_now() -> float:
        # this process + its waited-for children (NFStream meters run in child processes)
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    packets = 0
    c0 = cpu_now()
    t0 = time.perf_counter()
    for _ in range(repeat):
        packets += call()
    dt = time.perf_counter() - t0
    out["cpu_seconds"] = cpu_now() - c0
    if sampler is not None:
        sampler.stop.set()
        sampler.join()
        sampler.sample()
        out["peak_anon_kb"] = sampler.peak_anon
        out["peak_file_kb"] = sampler.peak_file
    out["packets"] = packets
    out["seconds"] = dt
    # VmHWM: the peak RSS of this process's own address space. ru_maxrss is kept only as a
    # cross-check: Linux carries the parent's high-water mark over fork + exec into it.
    out["vmhwm_kb"] = _status_kb().get("VmHWM", 0)
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(out))


if __name__ == "__main__":
    main()
