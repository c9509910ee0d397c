"""Golden suite: the output of every committed trace (pcaps/) in every mode must not change.

Goldens live in tests/golden/<trace stem>.<mode>.json (statistics) and .jsonl (decision log),
written by `make golden` (tools/golden.py). On a mismatch the test prints a unified diff of the
JSON and the first differing decision-log lines. If the change is intended, run `make golden`
and commit the new goldens with a message that explains why the new output is right.
"""
from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("pyflow_golden_tool", ROOT / "tools" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

CASES = [pytest.param(t, m, o, id=f"{t.name}-{m}") for t, m, o in golden.all_cases()]


def _log_diff(expected: str, actual: str, context: int = 3, limit: int = 10) -> str:
    e, a = expected.splitlines(), actual.splitlines()
    first = next((i for i in range(min(len(e), len(a))) if e[i] != a[i]), min(len(e), len(a)))
    lo = max(0, first - context)
    out = [f"decision log: first difference at line {first + 1} "
           f"(golden {len(e)} lines, now {len(a)} lines)"]
    out += difflib.unified_diff(e[lo:first + limit], a[lo:first + limit], "golden", "now", lineterm="", n=context)
    return "\n".join(out)


@pytest.mark.skipif(not CASES, reason="pcaps/ holds no traces")
@pytest.mark.parametrize("trace,mode,options", CASES)
def test_golden(trace: Path, mode: str, options):
    pj, pl = golden.golden_paths(trace, mode)
    if not pj.exists() or not pl.exists():
        pytest.fail(f"no golden for {trace.name} mode {mode}: run `make golden` "
                    f"(python3 tools/golden.py) and commit tests/golden/")
    js, log = golden.produce(trace, mode, options)
    msgs = []
    want_js = pj.read_text()
    if js != want_js:
        msgs.append("statistics JSON:\n" + "\n".join(difflib.unified_diff(
            want_js.splitlines(), js.splitlines(), f"golden/{pj.name}", "now", lineterm="")))
    want_log = pl.read_text()
    if log != want_log:
        msgs.append(_log_diff(want_log, log))
    assert not msgs, f"{trace.name} mode {mode} changed output:\n" + "\n\n".join(msgs)
