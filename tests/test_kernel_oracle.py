"""pyflow's software-offload decisions against a REAL Linux kernel (issue 6).

The goldens in tests/golden/kernel/ were produced by the kernel oracle (oracle/run.py, `make kernel-oracle
TRACE=...`; regenerate all with `python3 oracle/make_goldens.py`): Debian bookworm's cloud kernel 6.1 under
qemu, lan/router/wan namespaces, firewall4's flowtable ruleset, each packet's path read from a DSCP mark
set only on the slow path.  This test needs no qemu: it replays each golden's re-stamped trace (the
frames at the times the guest really sent them) through pyflow with the oracle's kernel profile and the
guest's sysctls (Debian = upstream defaults = pyflow `sysctl="linux"`), and compares per packet:

    kernel slow    <-> pyflow slow
    kernel sfo     <-> pyflow sfo
    kernel dropped <-> pyflow slow  (sent, never came out of the router: the slow path handled and dropped
                                     it, e.g. TTL 1; the flowtable fast path forwards whatever it accepts)
    kernel not_forwarded <-> pyflow not_forwarded  (decided by the oracle's routing rule, not observed)
    unstable / excluded: left out (path differed between oracle runs, the 1 s flowtable GC phase; or
                         the packet could not be replayed faithfully: truncated, > 1500 bytes)

The agreement rate per trace is printed at the end of the module; any disagreement fails the test.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import pyflow

GOLDEN_DIR = Path(__file__).parent / "golden" / "kernel"
GOLDENS = sorted(GOLDEN_DIR.glob("*.json"))
EXPECT = {"slow": "slow", "sfo": "sfo", "dropped": "slow", "not_forwarded": "not_forwarded"}
SKIP = {"unstable", "excluded"}

_summary: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _print_agreement(request):
    yield
    if not _summary:
        return
    text = "\n".join(["", "kernel oracle agreement (pyflow sw vs Linux 6.1 flowtable):"] + _summary)
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print(text)
    else:  # pragma: no cover
        print(text)


def compare(golden_path: Path):
    g = json.loads(golden_path.read_text())
    trace = golden_path.parent / g["restamped_trace"]
    opts = g["pyflow_options"]
    r = pyflow.replay(trace, mode=opts.get("mode", "sw"), kernel=opts["kernel"], sysctl=opts["sysctl"],
                      lan_prefixes=opts.get("lan_prefixes", []), keep_decisions=True)
    assert len(r.decisions) == len(g["paths"]), "pyflow and the golden disagree on the packet count"
    compared, skipped, diffs = 0, 0, []
    for i, (k, (p, why)) in enumerate(zip(g["paths"], r.decisions)):
        if k in SKIP:
            skipped += 1
            continue
        compared += 1
        if EXPECT.get(k) != p:
            diffs.append((i, k, p, why, g["send_time_ns"][i] / 1e9))
    return g, compared, skipped, diffs


def test_goldens_present():
    if not GOLDENS:
        pytest.skip(f"no kernel goldens in {GOLDEN_DIR}: run `python3 oracle/make_goldens.py` (needs qemu)")


@pytest.mark.parametrize("golden", GOLDENS, ids=[p.stem for p in GOLDENS])
def test_kernel_agreement(golden: Path):
    g, compared, skipped, diffs = compare(golden)
    agree = compared - len(diffs)
    rate = 100.0 * agree / compared if compared else 100.0
    _summary.append(f"  {g['trace']:28} {agree:4}/{compared:<4} agree ({rate:6.2f}%)"
                    f"  {len(g['unstable'])} unstable, {len(g['excluded'])} excluded"
                    f"  [kernel {g['kernel']}, {g['runs']} runs]")
    if diffs:
        detail = "\n".join(f"  #{i} t={t:.3f}s kernel={k} pyflow={p} ({why})" for i, k, p, why, t in diffs)
        pytest.fail(f"{g['trace']}: {len(diffs)} of {compared} packets differ from the kernel:\n{detail}")
