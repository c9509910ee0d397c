"""Regression files found by fuzzing (tests/data/crashers/, see its README.md).

Each file is replayed in every mode (none, sw, hw in one pass, decisions kept) through the Python
API. The outcome must be statistics whose accounting holds, or a clean pyflow.CaptureError
subclass that names the file and a byte offset inside it. A crash, a sanitizer report (under
`make sanitize`), a hang or any other exception is a failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import pyflow
from tests.helpers import check_accounting

CRASHERS = Path(__file__).parent / "data" / "crashers"
FILES = sorted(p for p in CRASHERS.glob("*") if p.is_file() and p.suffix != ".md"
               and not p.name.startswith(".")) if CRASHERS.is_dir() else []
MODES = ("none", "sw", "hw")


@pytest.mark.parametrize("path", FILES or [None], ids=[p.name for p in FILES] or ["no-crashers"])
def test_crasher_replays_cleanly_in_every_mode(path):
    if path is None:
        pytest.skip("tests/data/crashers/ holds no regression file yet")
    configs = [pyflow.Options(mode=m, keep_decisions=True) for m in MODES]
    try:
        results = pyflow.run_many(path, configs)
    except pyflow.CaptureError as exc:
        assert str(path) in str(exc)
        if exc.offset is not None:
            assert f"byte {exc.offset}" in str(exc)
            assert 0 <= exc.offset <= os.path.getsize(path)
        if exc.partial_result is not None:
            check_accounting(exc.partial_result)
        return
    assert [r.stats["options"]["mode"] for r in results] == list(MODES)
    for r in results:
        check_accounting(r)
        assert r.paths["hfo"]["packets"] == 0 or r.stats["options"]["mode"] == "hw"
        assert r.paths["sfo"]["packets"] == 0 or r.stats["options"]["mode"] != "none"
