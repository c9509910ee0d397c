"""Shared test helpers: replay a crafted trace and check the accounting invariant."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import pyflow
from tests.pcapgen import Trace, tcp

LAN = "192.168.1.10"
WAN = "93.184.216.34"


def check_accounting(r: pyflow.Result) -> None:
    """slow + sfo + hfo + not_forwarded + unparsed == packets in the file; reasons add up too."""
    s = r.stats
    total = sum(p["packets"] for p in s["paths"].values())
    assert total == s["packets_total"] == s["trace"]["records"]
    assert sum(s["reasons"].values()) == s["packets_total"]
    assert sum(p["bytes"] for p in s["paths"].values()) == s["bytes_total"]
    if r.decisions is not None:
        assert len(r.decisions) == s["packets_total"]


def run(trace: Trace, tmp_path: Path, mode: str = "sw", *, fmt: str = "pcap", write_kw: Any = None,
        **options: Any) -> pyflow.Result:
    path = tmp_path / ("t." + fmt)
    if fmt == "pcapng":
        trace.write_pcapng(path, **(write_kw or {}))
    else:
        trace.write_pcap(path, **(write_kw or {}))
    r = pyflow.replay(path, mode=mode, keep_decisions=True, **options)
    check_accounting(r)
    return r


def paths(r: pyflow.Result) -> List[str]:
    return [p for p, _ in r.decisions]


def reasons(r: pyflow.Result) -> List[str]:
    return [x for _, x in r.decisions]


def read_log(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tcp_handshake(t: Trace, ts: float, client: str, server: str, *, vlan=None, pppoe=None, iface=0) -> float:
    """SYN, SYN/ACK, ACK at ts, ts+0.01, ts+0.02; returns the time after."""
    kw = dict(vlan=vlan, pppoe=pppoe, iface=iface)
    t.add(ts, tcp(client, server, "S", seq=1000), **kw)
    t.add(ts + 0.01, tcp(server, client, "SA", seq=5000, ack=1001), **kw)
    t.add(ts + 0.02, tcp(client, server, "A", seq=1001, ack=5001), **kw)
    return ts + 0.03
