#!/usr/bin/env python3
"""Regenerates the golden outputs of the committed traces: `make golden`.

For every trace in pcaps/ (every file but *.md / *.py / *.json / *.txt) and every mode
(none, sw, hw), writes

    tests/golden/<trace stem>.<mode>.json    the statistics JSON (README "Output"), with the
                                            trace path reduced to the file name
    tests/golden/<trace stem>.<mode>.jsonl   the decision log (replay(..., log=...))

Goldens are keyed by trace file name. Replay options per trace come from pcaps/options.json
({"<file name>": {option: value}}). Goldens of traces that no longer exist are removed.
A changed golden is committed together with a message that explains why the new output is right.

    python3 tools/golden.py            # rewrite everything
    python3 tools/golden.py --check    # exit 1 if any golden is missing or differs
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "pcaps"
GOLDEN = ROOT / "tests" / "golden"
MODES = ("none", "sw", "hw")
sys.path.insert(0, str(ROOT))


def trace_files() -> List[Path]:
    if not PCAPS.is_dir():
        return []
    files = sorted(p for p in PCAPS.iterdir()
                   if p.is_file() and p.name.endswith((".pcap", ".pcapng", ".cap")))
    stems: Dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise SystemExit(f"two traces share the stem {p.stem!r}: {stems[p.stem].name}, {p.name}")
        stems[p.stem] = p
    return files


def trace_options() -> Dict[str, Dict[str, Any]]:
    f = PCAPS / "options.json"
    if not f.exists():
        return {}
    return {k: v for k, v in json.loads(f.read_text()).items() if not k.startswith("_")}


def golden_paths(trace: Path, mode: str) -> Tuple[Path, Path]:
    return GOLDEN / f"{trace.stem}.{mode}.json", GOLDEN / f"{trace.stem}.{mode}.jsonl"


def produce(trace: Path, mode: str, options: Dict[str, Any]) -> Tuple[str, str]:
    """(stats JSON text, decision log text) of one replay, volatile fields removed."""
    import pyflow

    with tempfile.TemporaryDirectory() as td:
        log = Path(td) / "log.jsonl"
        try:
            r = pyflow.replay(trace, mode=mode, log=str(log), **options)
            stats = r.stats
        except pyflow.CaptureError as exc:  # a malformed committed trace: keep its partial output
            p = exc.partial_result
            stats = {"error": type(exc).__name__, "detail": exc.detail,
                     "partial": p.stats if p is not None else None}
        text_log = log.read_text() if log.exists() else ""
    for s in (stats, stats.get("partial") or {}):
        if "trace" in s:
            s["trace"]["path"] = trace.name  # absolute path -> file name
    return json.dumps(stats, indent=2) + "\n", text_log


def all_cases() -> Iterator[Tuple[Path, str, Dict[str, Any]]]:
    opts = trace_options()
    for t in trace_files():
        for m in MODES:
            yield t, m, opts.get(t.name, {})


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    a = ap.parse_args(argv)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    wanted = set()
    bad = 0
    for trace, mode, options in all_cases():
        js, log = produce(trace, mode, options)
        pj, pl = golden_paths(trace, mode)
        wanted |= {pj.name, pl.name}
        if a.check:
            for p, text in ((pj, js), (pl, log)):
                if not p.exists() or p.read_text() != text:
                    print(f"differs: {p.relative_to(ROOT)}")
                    bad += 1
            continue
        for p, text in ((pj, js), (pl, log)):
            if not p.exists() or p.read_text() != text:
                p.write_text(text)
                print(f"wrote {p.relative_to(ROOT)}")
    for p in sorted(GOLDEN.glob("*.json*")):
        if p.name not in wanted:
            if a.check:
                print(f"stale: {p.relative_to(ROOT)}")
                bad += 1
            else:
                p.unlink()
                print(f"removed {p.relative_to(ROOT)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
