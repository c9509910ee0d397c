"""What-if analysis: a grid of router configurations over one or many traces.

- `expand_grid(...)`: the cartesian grid of option values, with the dimensions that do not matter
  to a mode collapsed (mode none has no flowtable; soc only sets the CPU costs outside hw mode;
  ppe_entries only matters in hw mode on a SoC with a PPE).
- `whatif(traces, grid, ...)`: runs it. Each trace is read ONCE per grid chunk: every simulation
  of the chunk is fed from the same pass (`pyflow.run_many`). Configurations that simulate the same
  router (they differ only in the SoC whose CPU costs are applied) run once. Traces (and grid
  chunks) run in parallel processes, or on a Dask cluster.
- Each row: the trace, the configuration, the replay's stats JSON, the CPU-cost model's figures
  (`pyflow.costs`), and with `series_bin` the per-bin time series.
- `table`, `to_csv`, `to_json`, `to_pandas`: the outputs.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import costs as costmod
from . import presets
from .core import PATHS, Options, run_many
from .errors import ConfigError, PyflowError

SCHEMA_VERSION = 1

#: Options that make no sense in a sweep (per-replay outputs).
_FORBIDDEN = {"keep_decisions", "log", "dump_conntrack_at", "dump_conntrack", "dump_ppe_at", "dump_ppe",
              "series_bin"}
#: Options that only matter when the flowtable exists (modes sw and hw).
_FLOWTABLE_ONLY = {"flow_timeout", "flow_timeout_tcp", "flow_timeout_udp", "offload_after_packets",
                   "offload_rule", "flowtable_counter", "flowtable_devices"}
#: Options that only matter to the PPE (mode hw).
_PPE_ONLY = {"ppe_entries", "wed_2g", "ppe_ipv6"}
#: Options whose value is itself a list or a mapping (never expanded as a grid dimension).
_STRUCTURED = {"lan_prefixes", "interfaces", "capture_map", "map_rules", "flowtable_devices", "offload_rule"}

_OPTION_FIELDS = [f.name for f in dataclasses.fields(Options)]
_SHORT = {"ppe_entries": "ppe", "flow_timeout": "ft", "offload_after_packets": "after", "kernel": "k",
          "sysctl": "sysctl", "ct_max": "ct_max", "flow_timeout_tcp": "ft_tcp", "flow_timeout_udp": "ft_udp"}

ProgressFn = Callable[[int, int], Any]


# ----------------------------------------------------------------------------------------------
# the grid

def parse_list(text: Optional[str], kind: Callable[[str], Any] = str) -> Optional[List[Any]]:
    """'64,1024,8192' -> [64, 1024, 8192]; None stays None. 'preset'/'default' -> None (the preset)."""
    if text is None:
        return None
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if part.lower() in ("preset", "default", "none") and kind is not str:
            out.append(None)
            continue
        try:
            out.append(kind(part))
        except ValueError:
            raise ConfigError(f"bad value {part!r} in {text!r}") from None
    if not out:
        raise ConfigError(f"empty list {text!r}")
    return out


def _soc_has_ppe(soc: Optional[str]) -> bool:
    s = presets.SOCS.get(soc or presets.DEFAULT_SOC)
    return bool(s and s.has_ppe)


def normalize(entry: Mapping[str, Any]) -> Dict[str, Any]:
    """One grid entry (Options keyword arguments) without the keys that do not matter to its mode.

    `soc` is always kept: outside hw mode it names the SoC whose CPU costs are applied."""
    unknown = set(entry) - set(_OPTION_FIELDS)
    if unknown:
        raise ConfigError(f"unknown option(s) in the grid: {', '.join(sorted(unknown))}")
    bad = set(entry) & _FORBIDDEN
    if bad:
        raise ConfigError(f"not available in a what-if grid: {', '.join(sorted(bad))}")
    d = {k: v for k, v in entry.items() if v is not None}
    d.setdefault("mode", "sw")
    d.setdefault("soc", presets.DEFAULT_SOC)
    if d["mode"] not in ("none", "sw", "hw"):
        raise ConfigError(f"mode must be none, sw or hw, not {d['mode']!r}")
    if d["soc"] not in presets.SOCS:
        raise ConfigError(f"soc must be one of {', '.join(presets.SOCS)}, not {d['soc']!r}")
    if d["mode"] != "hw" or not _soc_has_ppe(d["soc"]):
        for k in _PPE_ONLY:
            d.pop(k, None)
    if d["mode"] == "none":
        for k in _FLOWTABLE_ONLY:
            d.pop(k, None)
    # the order of Options' fields, so equal entries print alike
    return {k: d[k] for k in _OPTION_FIELDS if k in d}


def sim_config(entry: Mapping[str, Any]) -> Dict[str, Any]:
    """The part of a normalized entry the simulation sees (soc only matters in hw mode)."""
    d = dict(entry)
    if d.get("mode") != "hw":
        d.pop("soc", None)
    return d


def _key(d: Mapping[str, Any]) -> str:
    return json.dumps(d, sort_keys=True, default=str)


def dedupe(entries: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Normalized entries, duplicates dropped (first occurrence kept)."""
    seen, out = set(), []
    for e in entries:
        n = normalize(e)
        k = _key(n)
        if k not in seen:
            seen.add(k)
            out.append(n)
    return out


def expand_grid(mode: Optional[Sequence[str]] = None, soc: Optional[Sequence[str]] = None,
                ppe_entries: Optional[Sequence[Optional[int]]] = None,
                flow_timeout: Optional[Sequence[Optional[int]]] = None,
                offload_after_packets: Optional[Sequence[Optional[int]]] = None,
                **fixed: Any) -> List[Dict[str, Any]]:
    """The cartesian product of the given values (None: the option's default), collapsed and
    deduplicated. `fixed` options apply to every entry; a list value there is one more dimension
    (except for options whose value is a list, e.g. lan_prefixes)."""
    dims: Dict[str, List[Any]] = {
        "mode": list(mode or ["none", "sw", "hw"]),
        "soc": list(soc or [presets.DEFAULT_SOC]),
        "ppe_entries": list(ppe_entries or [None]),
        "flow_timeout": list(flow_timeout or [None]),
        "offload_after_packets": list(offload_after_packets or [None]),
    }
    for k, v in fixed.items():
        dims[k] = list(v) if isinstance(v, (list, tuple)) and k not in _STRUCTURED else [v]
    names = list(dims)
    return dedupe(dict(zip(names, combo)) for combo in itertools.product(*(dims[n] for n in names)))


def _expand_entry(entry: Mapping[str, Any]) -> List[Dict[str, Any]]:
    dims = {k: (list(v) if isinstance(v, (list, tuple)) and k not in _STRUCTURED else [v]) for k, v in entry.items()}
    names = list(dims)
    return [dict(zip(names, c)) for c in itertools.product(*(dims[n] for n in names))]


def load_grid(path: Union[str, os.PathLike]) -> List[Dict[str, Any]]:
    """A grid file: JSON (a list of option dicts, or {"grid": [...]}) or TOML (`[[grid]]` tables).
    A list value in an entry is a dimension: {"mode": "hw", "ppe_entries": [64, 1024]} is 2 entries."""
    spath = os.fspath(path)
    try:
        with open(spath, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the grid file: {exc.strerror}", path=spath) from None
    if spath.endswith(".toml"):
        try:
            import tomllib  # type: ignore[import-not-found]
        except ImportError:  # Python < 3.11
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ImportError:
                raise ConfigError("a TOML grid needs Python 3.11+ or the tomli package", path=spath) from None
        try:
            doc: Any = tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"bad TOML: {exc}", path=spath) from None
    else:
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"bad JSON: {exc}", path=spath) from None
    if isinstance(doc, dict):
        doc = doc.get("grid", doc.get("config"))
    if not isinstance(doc, list) or not doc or not all(isinstance(e, dict) for e in doc):
        raise ConfigError("a grid file holds a non-empty list of option tables "
                          "(JSON list, {\"grid\": [...]}, or TOML [[grid]])", path=spath)
    try:
        return dedupe(e for entry in doc for e in _expand_entry(entry))
    except ConfigError as exc:
        raise ConfigError(exc.detail, path=spath) from None


def build_grid(modes: Optional[str] = None, socs: Optional[str] = None, ppe_entries: Optional[str] = None,
               flow_timeouts: Optional[str] = None, offload_after_packets: Optional[str] = None,
               grid_file: Optional[str] = None, **fixed: Any) -> List[Dict[str, Any]]:
    """The grid from the command line's comma-separated lists, or from a grid file (not both).
    `fixed` options (None: not given) apply to every entry (for a grid file: where it has no value)."""
    fixed = {k: v for k, v in fixed.items() if v is not None and v != ()}
    lists = (modes, socs, ppe_entries, flow_timeouts, offload_after_packets)
    if grid_file is not None:
        if any(x is not None for x in lists):
            raise ConfigError("give either --grid or the --mode/--soc/--ppe-entries/--flow-timeout/"
                              "--offload-after-packets lists, not both")
        return dedupe({**fixed, **e} for e in load_grid(grid_file))
    return expand_grid(mode=parse_list(modes), soc=parse_list(socs), ppe_entries=parse_list(ppe_entries, int),
                       flow_timeout=parse_list(flow_timeouts, int),
                       offload_after_packets=parse_list(offload_after_packets, int), **fixed)


class CliProgress:
    """A click progress bar on stderr, shown only on a terminal (or when forced with enabled=True)."""

    def __init__(self, enabled: Optional[bool] = None) -> None:
        import sys
        self.enabled = enabled is True or (enabled is None and sys.stderr.isatty())
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            import sys

            import click
            self._bar = click.progressbar(length=total, label="what-if", file=sys.stderr, show_eta=True)
            self._bar.__enter__()
        if done > self._shown:
            self._bar.update(done - self._shown)
            self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def label(entry: Mapping[str, Any]) -> str:
    """A short name: 'hw mt7986 ppe=64 ft=30'."""
    parts = [str(entry.get("mode", "sw")), str(entry.get("soc", presets.DEFAULT_SOC))]
    for k, v in entry.items():
        if k in ("mode", "soc"):
            continue
        if isinstance(v, (list, dict, tuple)):
            v = json.dumps(v, separators=(",", ":"), default=str)
        parts.append(f"{_SHORT.get(k, k)}={v}")
    return " ".join(parts)


# ----------------------------------------------------------------------------------------------
# running

def series_supported() -> bool:
    """Whether this pyflow's core records time series (Options.series_bin)."""
    return "series_bin" in _OPTION_FIELDS


def _run_chunk(trace: str, configs: List[Dict[str, Any]], series_bin: Optional[float],
               progress: Optional[Callable[[int, int, int], Any]] = None) -> List[Dict[str, Any]]:
    """One pass over `trace` for every configuration of the chunk (runs in a worker)."""
    opts = []
    for c in configs:
        o = Options(**c)
        if series_bin is not None:
            o.series_bin = series_bin  # type: ignore[attr-defined]
        opts.append(o)
    out = []
    for res in run_many(trace, opts, progress=progress, progress_every=1 << 16):
        item: Dict[str, Any] = {"stats": res.stats, "warnings": list(res.warnings)}
        if series_bin is not None:
            item["series"] = getattr(res, "series", None)
        out.append(item)
    return out


def _chunks(items: List[Any], size: int) -> List[List[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def _dask_client(address: Any) -> Tuple[Any, bool]:
    try:
        import distributed  # type: ignore[import-not-found]
    except ImportError:
        raise PyflowError("--dask-scheduler needs the 'distributed' package: "
                          "pip install 'pyflow-offload[dask]'") from None
    if isinstance(address, distributed.Client):
        return address, False
    return distributed.Client(address), True


def whatif(traces: Sequence[Union[str, os.PathLike]], grid: Sequence[Mapping[str, Any]], *,
           jobs: Optional[int] = None, dask_scheduler: Any = None,
           progress: Optional[ProgressFn] = None, series_bin: Optional[float] = None,
           chunk_size: Optional[int] = None, cost_slow_ns: Optional[float] = None,
           cost_sfo_ns: Optional[float] = None, cost_hfo_ns: Optional[float] = None) -> List[Dict[str, Any]]:
    """Runs every grid entry on every trace and returns one row per (trace, entry):
    {"trace", "config" (normalized entry), "label", "stats" (Result stats JSON), "cost"
    (pyflow.costs.estimate), "warnings"} and, with series_bin, "series" (Result.series).

    jobs: worker processes (default os.cpu_count(); 1 runs in this process).
    dask_scheduler: a scheduler address (or a distributed.Client) to run the tasks on instead.
    chunk_size: simulations per pass (default: the whole grid, split only to keep every worker
    busy when there are fewer traces than workers).
    progress(done, total): called as work completes (units: trace bytes x simulations).
    Raises the first error of any task (CaptureError names its file).
    """
    traces = [os.fspath(t) for t in traces]
    if not traces:
        raise ConfigError("no trace given")
    entries = dedupe(grid)
    if not entries:
        raise ConfigError("the grid is empty")
    if series_bin is not None:
        if not series_supported():
            raise PyflowError("time series need a pyflow core with Options.series_bin")
        if not series_bin > 0:
            raise ConfigError("the series bin must be > 0 seconds")
    cost_presets = {}
    for e in entries:
        if e["soc"] not in cost_presets:
            cost_presets[e["soc"]] = costmod.get_costs(e["soc"], cost_slow_ns, cost_sfo_ns, cost_hfo_ns)

    sims: List[Dict[str, Any]] = []
    sim_index: Dict[str, int] = {}
    for e in entries:
        s = sim_config(e)
        k = _key(s)
        if k not in sim_index:
            sim_index[k] = len(sims)
            sims.append(s)

    client, close_client = (None, False)
    if dask_scheduler is not None:
        client, close_client = _dask_client(dask_scheduler)
        workers = max(1, sum(client.nthreads().values()))
    else:
        workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    if chunk_size is None:
        per_trace = max(1, math.ceil(workers / len(traces)))
        chunk_size = max(1, math.ceil(len(sims) / per_trace))
    chunk_size = max(1, int(chunk_size))
    sim_chunks = [list(range(i, min(i + chunk_size, len(sims)))) for i in range(0, len(sims), chunk_size)]
    tasks = [(ti, idx) for ti in range(len(traces)) for idx in sim_chunks]

    sizes = []
    for t in traces:
        try:
            sizes.append(max(1, os.path.getsize(t)))
        except OSError:
            sizes.append(1)
    total = sum(sizes[ti] * len(idx) for ti, idx in tasks)
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(min(done[0], total), total)

    results: Dict[Tuple[int, int], Dict[str, Any]] = {}

    def collect(task: Tuple[int, List[int]], items: List[Dict[str, Any]]) -> None:
        ti, idx = task
        for si, item in zip(idx, items):
            results[(ti, si)] = item

    try:
        if client is not None:
            import distributed  # type: ignore[import-not-found]
            futs = {}
            for task in tasks:
                ti, idx = task
                f = client.submit(_run_chunk, traces[ti], [sims[i] for i in idx], series_bin, pure=False)
                futs[f] = task
            try:
                for f in distributed.as_completed(list(futs)):
                    task = futs[f]
                    collect(task, f.result())
                    advance(sizes[task[0]] * len(task[1]))
            finally:
                for f in futs:
                    f.cancel()
        elif workers == 1 or len(tasks) == 1:
            for task in tasks:
                ti, idx = task
                base = done[0]

                def fine(records: int, bdone: int, btotal: int, _n: int = len(idx), _s: int = sizes[ti],
                         _base: int = base) -> None:
                    if progress is not None and btotal:
                        done[0] = _base + min(bdone, btotal) * _n * _s // btotal
                        progress(min(done[0], total), total)

                collect(task, _run_chunk(traces[ti], [sims[i] for i in idx], series_bin,
                                         fine if progress is not None else None))
                done[0] = base
                advance(sizes[ti] * len(idx))
        else:
            from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
                pending = {pool.submit(_run_chunk, traces[ti], [sims[i] for i in idx], series_bin): (ti, idx)
                           for ti, idx in tasks}
                try:
                    while pending:
                        finished, _ = wait(list(pending), return_when=FIRST_EXCEPTION)
                        for f in finished:
                            task = pending.pop(f)
                            collect(task, f.result())   # re-raises the worker's exception
                            advance(sizes[task[0]] * len(task[1]))
                except BaseException:
                    for f in pending:
                        f.cancel()
                    raise
    finally:
        if close_client:
            client.close()

    rows = []
    for ti, trace in enumerate(traces):
        for e in entries:
            item = results[(ti, sim_index[_key(sim_config(e))])]
            stats = item["stats"]
            row: Dict[str, Any] = {
                "trace": trace,
                "config": dict(e),
                "label": label(e),
                "stats": stats,
                "cost": costmod.estimate(stats, cost_presets[e["soc"]]),
                "warnings": item.get("warnings", []),
            }
            if series_bin is not None:
                row["series_bin"] = series_bin
                row["series"] = item.get("series")
            rows.append(row)
    return rows


def simulations(grid: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The distinct simulations a grid runs per trace (what `whatif` hands to run_many)."""
    out, seen = [], set()
    for e in dedupe(grid):
        s = sim_config(e)
        if _key(s) not in seen:
            seen.add(_key(s))
            out.append(s)
    return out


# ----------------------------------------------------------------------------------------------
# outputs

def _pct(part: float, whole: float) -> Optional[float]:
    return 100.0 * part / whole if whole else None


def flat_row(row: Mapping[str, Any]) -> Dict[str, Any]:
    """One row as flat columns (CSV, pandas)."""
    s, c = row["stats"], row["cost"]
    d: Dict[str, Any] = {"trace": row["trace"], "label": row["label"]}
    for k, v in row["config"].items():
        d[k] = json.dumps(v, default=str) if isinstance(v, (list, dict, tuple)) else v
    d["packets_total"] = s["packets_total"]
    d["bytes_total"] = s["bytes_total"]
    d["duration_s"] = s["trace"]["duration_s"]
    for p in PATHS:
        d[f"{p}_packets"] = s["paths"][p]["packets"]
        d[f"{p}_bytes"] = s["paths"][p]["bytes"]
        d[f"{p}_flows"] = s["paths"][p]["flows"]
        d[f"{p}_pct"] = _pct(s["paths"][p]["packets"], s["packets_total"])
    d["dropped"] = s["dropped"]
    d["ct_peak"] = s["conntrack"]["peak"]
    d["flows_added"] = s["flowtable"]["added"]
    d["flows_peak"] = s["flowtable"]["peak"]
    hw = s.get("hw") or {}
    d["ppe_bound_peak"] = hw.get("ppe_bound_peak")
    d["ppe_bound_mean"] = hw.get("ppe_bound_mean")
    for k in ("soc", "cores", "slow_ns", "sfo_ns", "hfo_ns", "cpu_s", "cpu_ns_per_packet", "trace_pps",
              "cpu_load_pct_core", "cpu_load_pct_soc", "max_pps_core", "max_mbps_core", "max_pps_soc",
              "max_mbps_soc", "mean_packet_bytes"):
        d["cost_soc" if k == "soc" else k] = c[k]
    return d


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    flat = [flat_row(r) for r in rows]
    cfg_keys = {k for r in rows for k in r["config"]}
    cols: List[str] = ["trace", "label"] + [k for k in _OPTION_FIELDS if k in cfg_keys]
    for f in flat:
        for k in f:
            if k not in cols:
                cols.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for f in flat:
        w.writerow({k: ("" if f.get(k) is None else f.get(k)) for k in cols})
    return buf.getvalue()


def cost_model_dict(rows: Sequence[Mapping[str, Any]] = ()) -> Dict[str, Any]:
    socs = sorted({r["cost"]["soc"] for r in rows}) or sorted(costmod.COSTS)
    return {
        "note": "a model, not a measurement: estimated CPU time per forwarded packet (slow path, SFO; "
                "HFO costs 0) from published throughput figures; see pyflow/costs.py for each source",
        "presets": {s: costmod.COSTS[s].to_dict() for s in socs},
        "overridden": sorted({k for r in rows for k in r["cost"]["overridden"]}),
    }


def to_json(rows: Sequence[Mapping[str, Any]], indent: Optional[int] = 2) -> str:
    doc = {"schema_version": SCHEMA_VERSION, "rows": list(rows), "cost_model": cost_model_dict(rows)}
    return json.dumps(doc, indent=indent, default=str)


def to_pandas(rows: Sequence[Mapping[str, Any]]) -> Any:
    """A pandas DataFrame of the flat rows (pandas is optional)."""
    try:
        import pandas as pd  # type: ignore[import-not-found]
    except ImportError:
        raise PyflowError("to_pandas needs pandas: pip install pandas") from None
    return pd.DataFrame([flat_row(r) for r in rows])


def _fmt(v: Optional[float], spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The grid as a terminal table, one block per trace."""
    lines: List[str] = []
    by_trace: Dict[str, List[Mapping[str, Any]]] = {}
    for r in rows:
        by_trace.setdefault(r["trace"], []).append(r)
    for trace, rs in by_trace.items():
        s0 = rs[0]["stats"]
        c0 = rs[0]["cost"]
        rate = f", {c0['trace_pps']:.0f} packets/s" if c0["trace_pps"] else ""
        lines.append(f"{trace}: {s0['packets_total']} packets, {s0['trace']['duration_s']:.3f} s{rate}")
        w = max(len("configuration"), *(len(r["label"]) for r in rs))
        lines.append(f"{'configuration':<{w}}  {'slow%':>6} {'SFO%':>6} {'HFO%':>6} {'notfw%':>6} "
                     f"{'CPU% core':>9} {'max Mbit/s':>11} {'PPE peak':>8}")
        for r in rs:
            s, c = r["stats"], r["cost"]
            tot = s["packets_total"]
            pct = [_pct(s["paths"][p]["packets"], tot) for p in ("slow", "sfo", "hfo")]
            nf = _pct(s["paths"]["not_forwarded"]["packets"] + s["paths"]["unparsed"]["packets"], tot)
            hw = s.get("hw")
            mx = "no CPU" if c["max_mbps_core"] is None and c["forwarded_packets"] else _fmt(c["max_mbps_core"], ".0f")
            lines.append(f"{r['label']:<{w}}  {_fmt(pct[0]):>6} {_fmt(pct[1]):>6} {_fmt(pct[2]):>6} {_fmt(nf):>6} "
                         f"{_fmt(c['cpu_load_pct_core'], '.2f'):>9} {mx:>11} "
                         f"{(str(hw['ppe_bound_peak']) if hw else '-'):>8}")
        lines.append("")
    lines.append("CPU% core: estimated load of one core at the trace's own rate; max Mbit/s: what one core "
                 "would forward with this mix of paths at the trace's mean packet size. A model "
                 "(pyflow/costs.py), not a measurement.")
    return "\n".join(lines)
