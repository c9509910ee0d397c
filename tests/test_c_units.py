"""The C unit drivers of the PPE model (tests/c/ppe_test.c: 192 checks; ppe_hash_test.c: the
driver's hash against the documented test vectors), built with gcc (ASan/UBSan when the
toolchain has them) and run."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build_and_run(src: str, tmp_path: Path) -> str:
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    exe = tmp_path / Path(src).stem
    base = ["gcc", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-g", f"-I{ROOT / 'csrc'}",
            "-o", str(exe), str(ROOT / "tests" / "c" / src), str(ROOT / "csrc" / "ppe.c")]
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    if subprocess.run(base + san, capture_output=True).returncode != 0:
        subprocess.run(base, check=True, capture_output=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120,
                         env={"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_ppe_model_unit_checks(tmp_path):
    assert "0 failed" in build_and_run("ppe_test.c", tmp_path)


def test_ppe_hash_matches_the_documented_vectors(tmp_path):
    build_and_run("ppe_hash_test.c", tmp_path)
