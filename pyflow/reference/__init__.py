"""pyflow.reference: the executable specification.

A plain-Python model of the same per-packet decisions as pyflow's C core, written from the
kernel semantics (../shared/docs/kernel-sfo.md, kernel-sfo-detail.md, hw-offload*.md) and
pyflow's documented model choices, for differential testing. It never calls the C core. Slow
(tens of microseconds per packet) and meant to be read:

- capture.py   pcap / pcapng reading (pyflow's reading contract for broken files)
- decode.py    link layer -> IP -> L4 (dpkt constants, explicit byte walk)
- conntrack.py nf_conntrack: tcp_conntracks, UDP/ICMP timeouts, early_drop, GC reaping
- flowtable.py nf_flow_table: add, refresh, teardown, flow_offload_fixup_ct, GC step
- router.py    routing decision, nf_flow_offload_ip_hook, nft_flow_offload_eval, slow path, clock
- ppe.py       the MediaTek PPE and its driver (mode hw)

    decisions, stats = pyflow.reference.replay("x.pcap", mode="sw", ct_max=1024)
"""
from __future__ import annotations

import ipaddress
import os
from typing import Any, Dict, List, Tuple

from .. import presets
from ..errors import ConfigError, CorruptCaptureError
from . import decode as D
from .capture import Reader, open_capture
from .router import PATHS, Config, Iface, Router

__all__ = ["replay", "build_config", "PATHS"]

_OPTION_NAMES = {"kernel", "sysctl", "ct_max", "tcp_loose", "flow_timeout", "flow_timeout_tcp",
                 "flow_timeout_udp", "mtu", "lan_prefixes", "interfaces", "capture_map", "soc",
                 "ppe_entries", "wed_2g", "keep_decisions", "log"}


def build_config(mode: str = "sw", **o: Any) -> Config:
    """The same options as pyflow.replay (pyflow.core.Options), with the same defaults."""
    unknown = set(o) - _OPTION_NAMES
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
    if mode not in ("none", "sw", "hw"):
        raise ConfigError(f"bad mode {mode!r}")
    kernel = o.get("kernel", presets.DEFAULT_KERNEL)
    sysctl = o.get("sysctl", presets.DEFAULT_SYSCTL)
    if kernel not in presets.KERNELS or sysctl not in presets.SYSCTLS:
        raise ConfigError("bad kernel or sysctl profile")
    sc = presets.SYSCTLS[sysctl]
    ft = o.get("flow_timeout")
    cfg = Config(
        mode=mode, kernel_version=presets.KERNELS[kernel], ct_max=o.get("ct_max", 65536),
        tcp_loose=o.get("tcp_loose", True), tcp_timeouts_s=list(sc["tcp"]),
        udp_timeout_s=sc["udp"], udp_timeout_stream_s=sc["udp_stream"],
        icmp_timeout_s=30, generic_timeout_s=600,
        flow_timeout_tcp_s=ft if ft is not None else o.get("flow_timeout_tcp", 30),
        flow_timeout_udp_s=ft if ft is not None else o.get("flow_timeout_udp", 30))
    if not 16 <= cfg.ct_max <= 1 << 26:
        raise ConfigError("ct_max must be between 16 and 67108864")
    if cfg.flow_timeout_tcp_s < 1 or cfg.flow_timeout_udp_s < 1:
        raise ConfigError("flow timeouts must be at least 1 s")
    if o.get("interfaces") is not None:
        ifaces = [i if isinstance(i, Iface) else Iface(**(vars(i) if not isinstance(i, dict) else i))
                  for i in o["interfaces"]]
        cfg.ifaces = ifaces
        cfg.default_lan = next(i for i, x in enumerate(ifaces) if x.role == "lan")
        cfg.default_wan = next(i for i, x in enumerate(ifaces) if x.role == "wan")
    else:
        cfg.ifaces = [Iface("lan", "lan"), Iface("wan", "wan")]
    if o.get("mtu") is not None:
        for i in cfg.ifaces:
            i.mtu = o["mtu"]
    names = {i.name: k for k, i in enumerate(cfg.ifaces)}
    cfg.capture_map = {int(k): names[v] for k, v in (o.get("capture_map") or {}).items()}
    cfg.lan_prefixes = [ipaddress.ip_network(t, strict=False) for t in o.get("lan_prefixes", ())]
    if mode == "hw":
        from .ppe import hw_config
        cfg.hw = hw_config(cfg, o.get("soc", presets.DEFAULT_SOC), o.get("ppe_entries"),
                           o.get("wed_2g", False))
    return cfg


def _stats(router: Router, reader: Reader, path: str) -> Dict[str, Any]:
    st = router.stats
    info = reader.info
    return {
        "trace": {"path": path, "format": "pcapng" if info.is_pcapng else "pcap",
                  "size_bytes": info.size, "records": info.records,
                  "truncated_records": info.truncated_records,
                  "capture_interfaces": info.n_ifaces, "ts_backwards": router.clock.backwards},
        "packets_total": st["packets_total"],
        "bytes_total": st["bytes_total"],
        "paths": st["paths"],
        "reasons": dict(sorted((k, v) for k, v in st["reasons"].items() if v)),
        "dropped": st["dropped"],
        "conntrack": {"connections": st["ct_created"], "peak": st["ct_peak"],
                      "early_drops": router.ct.early_drops},
        "flowtable": {"added": st["flows_added"], "peak": st["flows_peak"],
                      "teardown_fin_rst": st["flows_teardown_fin_rst"],
                      "timeouts": st["flows_timeout"]},
    }


def replay(path, mode: str = "sw", **options: Any) -> Tuple[List[Tuple[str, str]], Dict[str, Any]]:
    """Replays one capture; returns (decisions, stats). Errors are the pyflow.errors classes of
    the C core; a CorruptCaptureError carries `partial_result` = (decisions, stats) of the
    packets read before the bad record."""
    spath = os.fspath(path)
    cfg = build_config(mode, **options)
    data = open_capture(spath)
    reader = Reader(data, spath)
    router = Router(cfg)
    try:
        for rec in reader:
            d = None if rec.bad else D.decode(rec.data, rec.linktype, rec.caplen, rec.wirelen)
            router.packet(rec, d)
    except CorruptCaptureError as exc:
        reader.info.n_ifaces = len(reader.ifaces)
        exc.partial_result = (router.decisions, _stats(router, reader, spath)) if reader.info.records else None
        raise
    return router.decisions, _stats(router, reader, spath)
