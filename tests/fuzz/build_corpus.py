#!/usr/bin/env python3
"""Builds the fuzzing seed corpus: every capture of the given directories (default pcaps/ and
../shared/pcaps/{edge,encap,real}), cut to --max-len bytes (a prefix of a capture is still a
capture: the fuzzer then also sees a truncated last record), plus the small adversarial traces
of tests/fuzz/adversarial.py and a few hand-made pcapng files, deduplicated by content.

    python3 tests/fuzz/build_corpus.py OUT_DIR [--max-len 65536] [--no-generated | --generated-only] [DIR ...]

Seeds are named by the SHA-1 of their content (as libFuzzer names its own inputs), so the
builder can be re-run into an existing corpus directory without duplicating anything.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DIRS = [ROOT / "pcaps"] + [ROOT.parent / "shared" / "pcaps" / d for d in ("edge", "encap", "real")]
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp", ".ntar")


def _add(out: Path, data: bytes, seen: set) -> bool:
    h = hashlib.sha1(data).hexdigest()
    if h in seen:
        return False
    seen.add(h)
    (out / h).write_bytes(data)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--max-len", type=int, default=65536)
    ap.add_argument("--no-generated", action="store_true", help="only the capture directories")
    ap.add_argument("--generated-only", action="store_true", help="only the generated traces")
    a = ap.parse_intermixed_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    seen = {p.name for p in a.out.iterdir()}
    n_files = n_gen = 0
    for d in ([] if a.generated_only else a.dirs or DEFAULT_DIRS):
        if not d.is_dir():
            print(f"build_corpus: skipping {d} (not a directory)", file=sys.stderr)
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file() and p.suffix.lower() in CAPTURE_SUFFIXES:
                n_files += _add(a.out, p.read_bytes()[: a.max_len], seen)
    if not a.no_generated:
        from tests.fuzz import adversarial
        for name, data in adversarial.seed_images():
            n_gen += _add(a.out, data[: a.max_len], seen)
    print(f"build_corpus: {n_files} capture seeds + {n_gen} generated seeds -> {a.out} "
          f"({len(seen)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
