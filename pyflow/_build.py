"""cffi builder (API mode, out of line): compiles csrc/*.c into pyflow._core.

The cdef is csrc/pyflow.h verbatim (that header is written to be both C and cdef), plus the
one Python callback. The builder never preprocesses or edits C text.
"""
from __future__ import annotations

import glob
import os
import sysconfig

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")

ffibuilder = FFI()
with open(os.path.join(CSRC, "pyflow.h"), encoding="utf-8") as fh:
    ffibuilder.cdef(fh.read())
ffibuilder.cdef('extern "Python" int pf_py_progress(void *, uint64_t, uint64_t, uint64_t);')

_extra = os.environ.get("PYFLOW_CFLAGS", "").split()


def _lto_flags() -> list:
    """Link-time optimisation lets the compiler inline across the C modules (the per-packet path
    crosses pcap.c, decode.c, conntrack.c, ppe.c and sim.c): about 5 % faster replays (BENCHMARKS.md).
    Only with GCC, whose LTO plugin every Debian/Ubuntu toolchain has; off for sanitizer builds and
    with PYFLOW_LTO=0."""
    if os.environ.get("PYFLOW_LTO", "1") == "0" or any(f.startswith("-fsanitize") for f in _extra):
        return []
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "").split()
    if not cc or "gcc" not in os.path.basename(cc[0]):
        return []
    return ["-flto=auto", "-O3"]


_lto = _lto_flags()
ffibuilder.set_source(
    "pyflow._core",
    "#include <stdint.h>\n#include \"pyflow.h\"\n",
    sources=sorted(os.path.relpath(p, os.path.dirname(HERE)) for p in glob.glob(os.path.join(CSRC, "*.c"))),
    include_dirs=["csrc"],
    # hidden visibility: only PyInit__core is exported, so calls between the modules are direct
    # (no PLT, no interposition) and can be inlined
    extra_compile_args=["-std=c11", "-D_DEFAULT_SOURCE", "-O3", "-fvisibility=hidden", "-Wall", "-Wextra"]
    + _lto + _extra,
    extra_link_args=_lto + [f for f in _extra if f.startswith("-fsanitize")],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
