"""CPU-cost model: estimated CPU time per forwarded packet on the slow path and on the SFO fast
path, per SoC, and what follows from it for a replayed trace (CPU load, maximum forwarding rate).

THIS IS A MODEL, NOT A MEASUREMENT. Each number below names where it comes from; a number that
no published source gives is marked ASSUMPTION. Costs are "CPU time of one core per forwarded
full-size packet", everything included (driver, stack, netfilter), taken from published
throughput figures of CPU-bound routers at 1500-byte packets. HFO packets cost no CPU.

Sources (the figures were read from these public pages):

[S1] OpenWrt wiki, "Flow offloading" (https://openwrt.org/docs/guide-user/perf_and_log/flow_offloading):
     "Software offload typically increases forwarding bandwidth 2-3x over firewall filtering
     each packet".
[S2] coolsnowwolf/lede issue #8732 "MT7621的NAT可以跑满千兆吗" (https://github.com/coolsnowwolf/lede/issues/8732),
     2022-01-20: Phicomm K2P (MT7621), iperf3 between a LAN and a WAN host through the router's NAT:
     about 940 Mbit/s with flow offloading + hardware NAT on, about 310 Mbit/s with both off
     (CPU 97 % in the PPPoE variant of the test at about 300 Mbit/s).
[S3] openwrt/openwrt pull request #2815, comment of 2020-03-21 (https://github.com/openwrt/openwrt/pull/2815):
     "the MT7621 uses only 17% to do SW offload at around 940 Mbit unidirectional, and it has
     2Cores/4Threads".
[S4] openwrt/openwrt pull request #24515 "ramips: mt7620: add PPE hardware flow offload"
     (https://github.com/openwrt/openwrt/pull/24515), comment of 2026-08-29: MT7620N, two-stream
     iperf3 at MTU 1500, 91 Mbit/s in every mode: router CPU busy 78.6 % without offload, 39.1 %
     with software flow offload, 3.7 % with the PPE (a 2.0x ratio slow/SFO at equal throughput).
[S5] openwrt/openwrt issue #19449 (https://github.com/openwrt/openwrt/issues/19449): MT7981BA
     (Cudy WR3000S, OpenWrt 24.10.1) forwards 942 Mbit/s LAN-WAN with software flow offloading.
[S6] openwrt/openwrt issue #24219 (https://github.com/openwrt/openwrt/issues/24219): MT7986
     (GL.iNet GL-MT6000, OpenWrt 25.12) reaches 1490 Mbit/s over PPPoE with the flowtable active
     and no PPE binding (so on the software fast path, several cores).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from . import presets

#: bits per 1500-byte packet, the size of the published throughput figures
_FULL_SIZE_BITS = 1500 * 8

#: MT7621 slow path: [S2] ~310 Mbit/s of 1500-byte packets without any offload. ASSUMPTION: that
#: single iperf3 flow was bound by one core (its receive softirq runs on one CPU without packet
#: steering). 1500*8 bit / 310 Mbit/s = 38.7 us of one core per forwarded packet (the share of
#: the TCP ACKs of the reverse direction is included in this figure).
MT7621_SLOW_NS = round(_FULL_SIZE_BITS / 310e6 * 1e9, -2)   # 38700

#: SFO speed-up over the slow path: [S1] says 2-3x. We take 3x, the top of that range, because
#: MT7621 reports reach gigabit line rate with software offload ([S2] 940 Mbit/s with offload
#: on, [S3] 940 Mbit/s at "17 %" CPU), which 2x or 2.5x would not allow on one core.
#: [S4] (MT7620, a weaker MIPS of the same family) measured 2.0x at equal throughput.
SFO_SPEEDUP = 3.0


@dataclass(frozen=True)
class CostPreset:
    """Per-packet CPU costs of one SoC (ns of one core per forwarded packet)."""

    soc: str
    cpu: str                  # the application cores
    cores: int                # physical cores that can forward (SoC-wide rates assume ideal spreading)
    speed_vs_mt7621: float    # per-core forwarding speed relative to the MT7621 (1.0 = MT7621)
    slow_ns: float
    sfo_ns: float
    hfo_ns: float = 0.0       # the PPE forwards without the CPU
    source: str = ""
    overridden: Tuple[str, ...] = field(default=())

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["overridden"] = list(self.overridden)
        return d


def _preset(soc: str, cpu: str, cores: int, speed: float, source: str) -> CostPreset:
    slow = round(MT7621_SLOW_NS / speed, -1)
    return CostPreset(soc, cpu, cores, speed, slow, round(slow / SFO_SPEEDUP, -1), 0.0, source)


_FILOGIC_NOTE = ("ASSUMPTION: no published per-packet figure found; the MT7621 costs ([S2], [S1]) "
                 "scaled by an assumed per-core speed ({why}). ")

#: Cost presets, one per SoC preset of pyflow.presets.SOCS.
COSTS: Dict[str, CostPreset] = {
    "mt7621": _preset(
        "mt7621", "2x MIPS 1004Kc @ 880 MHz (4 threads)", 2, 1.0,
        "slow path: [S2] 310 Mbit/s at 1500 B without offload on one core (38.7 us/packet); "
        "SFO: slow / 3 ([S1] 2-3x, top of the range: [S2], [S3] reach 940 Mbit/s with SFO); "
        "HFO 0 ([S4]: 3.7 % CPU with the PPE vs 78.6 % without offload on MT7620). "
        "2 cores counted for SoC-wide rates (the 4 hardware threads share 2 pipelines)."),
    "mt7622": _preset(
        "mt7622", "2x Cortex-A53 @ 1.35 GHz", 2, 2.68,
        _FILOGIC_NOTE.format(why="clock 1.35/0.88 GHz x 1.75 for A53 vs 1004Kc per clock, ASSUMPTION")),
    "mt7623": _preset(
        "mt7623", "4x Cortex-A7 @ 1.3 GHz", 4, 1.48,
        _FILOGIC_NOTE.format(why="clock 1.3/0.88 GHz x 1.0 for A7 vs 1004Kc per clock, ASSUMPTION")),
    "mt7629": _preset(
        "mt7629", "2x Cortex-A7 @ 1.25 GHz", 2, 1.42,
        _FILOGIC_NOTE.format(why="clock 1.25/0.88 GHz x 1.0 for A7 vs 1004Kc per clock, ASSUMPTION")
        + "No PPE: hw mode forwards nothing in hardware."),
    "mt7981": _preset(
        "mt7981", "2x Cortex-A53 @ 1.3 GHz", 2, 2.59,
        _FILOGIC_NOTE.format(why="clock 1.3/0.88 GHz x 1.75 for A53 vs 1004Kc per clock, ASSUMPTION")
        + "Consistent with [S5] (SFO sustains 942 Mbit/s LAN-WAN)."),
    "mt7986": _preset(
        "mt7986", "4x Cortex-A53 @ 2.0 GHz", 4, 3.98,
        _FILOGIC_NOTE.format(why="clock 2.0/0.88 GHz x 1.75 for A53 vs 1004Kc per clock, ASSUMPTION")
        + "Consistent with [S6] (SFO over PPPoE at 1490 Mbit/s on several cores)."),
    "mt7988": _preset(
        "mt7988", "4x Cortex-A73 @ 1.8 GHz", 4, 5.73,
        _FILOGIC_NOTE.format(why="clock 1.8/0.88 GHz x 1.75 x 1.6 for A73 vs 1004Kc per clock, ASSUMPTION")),
}
assert set(COSTS) == set(presets.SOCS), "a cost preset per SoC preset"


def get_costs(soc: str, slow_ns: Optional[float] = None, sfo_ns: Optional[float] = None,
              hfo_ns: Optional[float] = None) -> CostPreset:
    """The preset of `soc`, with any given cost replacing the preset's (recorded in `overridden`)."""
    if soc not in COSTS:
        raise ValueError(f"no cost preset for soc {soc!r} (one of {', '.join(COSTS)})")
    c = COSTS[soc]
    over = {k: float(v) for k, v in (("slow_ns", slow_ns), ("sfo_ns", sfo_ns), ("hfo_ns", hfo_ns))
            if v is not None}
    for k, v in over.items():
        if v < 0:
            raise ValueError(f"{k} must be >= 0")
    if over:
        c = replace(c, overridden=tuple(sorted(over)), **over)
    return c


def estimate(stats: Mapping[str, Any], cost: CostPreset) -> Dict[str, Any]:
    """The cost-model figures of one replay (its stats JSON) on one SoC.

    - `cpu_s`: estimated CPU time (one core) to forward the whole trace;
    - `cpu_load_pct_core`: that time over the trace's duration, in % of one core (can exceed 100:
      the router could not keep up on one core); `cpu_load_pct_soc`: in % of all the SoC's cores;
    - `max_pps_core` / `max_mbps_core`: the forwarding rate one core sustains with this trace's
      mix of paths and mean forwarded packet size; `_soc`: times the cores (ideal spreading, an
      upper bound). None when nothing costs CPU (all HFO) or nothing is forwarded.
    Packets not forwarded or unparsed are not charged (local delivery is outside the model).
    """
    paths = stats["paths"]
    pk = {p: paths[p]["packets"] for p in ("slow", "sfo", "hfo")}
    fwd_packets = sum(pk.values())
    fwd_bytes = sum(paths[p]["bytes"] for p in ("slow", "sfo", "hfo"))
    cpu_ns = pk["slow"] * cost.slow_ns + pk["sfo"] * cost.sfo_ns + pk["hfo"] * cost.hfo_ns
    cpu_s = cpu_ns / 1e9
    duration = stats["trace"].get("duration_s") or 0.0
    mean_bytes = fwd_bytes / fwd_packets if fwd_packets else 0.0
    per_packet_ns = cpu_ns / fwd_packets if fwd_packets else 0.0
    max_pps = 1e9 / per_packet_ns if per_packet_ns > 0 else None
    out: Dict[str, Any] = {
        "soc": cost.soc,
        "slow_ns": cost.slow_ns,
        "sfo_ns": cost.sfo_ns,
        "hfo_ns": cost.hfo_ns,
        "cores": cost.cores,
        "overridden": list(cost.overridden),
        "forwarded_packets": fwd_packets,
        "mean_packet_bytes": mean_bytes,
        "trace_pps": stats["packets_total"] / duration if duration > 0 else None,
        "trace_forwarded_mbps": fwd_bytes * 8 / duration / 1e6 if duration > 0 else None,
        "cpu_s": cpu_s,
        "cpu_ns_per_packet": per_packet_ns,
        "cpu_load_pct_core": 100.0 * cpu_s / duration if duration > 0 else None,
        "cpu_load_pct_soc": 100.0 * cpu_s / duration / cost.cores if duration > 0 else None,
        "max_pps_core": max_pps,
        "max_mbps_core": max_pps * mean_bytes * 8 / 1e6 if max_pps else None,
        "max_pps_soc": max_pps * cost.cores if max_pps else None,
        "max_mbps_soc": max_pps * cost.cores * mean_bytes * 8 / 1e6 if max_pps else None,
    }
    return out


def bin_cpu_load_pct(packets: Mapping[str, int], bin_s: float, cost: CostPreset) -> float:
    """CPU load (% of one core) of one time-series bin."""
    ns = packets.get("slow", 0) * cost.slow_ns + packets.get("sfo", 0) * cost.sfo_ns \
        + packets.get("hfo", 0) * cost.hfo_ns
    return 100.0 * ns / 1e9 / bin_s if bin_s > 0 else 0.0


def assumptions_text() -> str:
    """The model's assumptions and sources, for reports."""
    return __doc__ or ""
