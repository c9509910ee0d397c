"""cffi builder (API mode, out of line): compiles csrc/*.c into pyflow._core.

The cdef is csrc/pyflow.h verbatim (that header is written to be both C and cdef), plus the
one Python callback. The builder never preprocesses or edits C text.
"""
from __future__ import annotations

import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")

ffibuilder = FFI()
with open(os.path.join(CSRC, "pyflow.h"), encoding="utf-8") as fh:
    ffibuilder.cdef(fh.read())
ffibuilder.cdef('extern "Python" int pf_py_progress(void *, uint64_t, uint64_t, uint64_t);')

_extra = os.environ.get("PYFLOW_CFLAGS", "").split()
ffibuilder.set_source(
    "pyflow._core",
    "#include <stdint.h>\n#include \"pyflow.h\"\n",
    sources=sorted(os.path.relpath(p, os.path.dirname(HERE)) for p in glob.glob(os.path.join(CSRC, "*.c"))),
    include_dirs=["csrc"],
    extra_compile_args=["-std=c11", "-D_DEFAULT_SOURCE", "-O2", "-Wall", "-Wextra"] + _extra,
    extra_link_args=[f for f in _extra if f.startswith("-fsanitize")],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
