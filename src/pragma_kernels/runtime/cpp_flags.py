"""The compiler flags a candidate may choose.

Only flags that change code generation are allowed: nothing that writes or
reads other files, loads plugins, or links other libraries, since the source is
untrusted and the flags come from the same place.
"""

from __future__ import annotations

import re

from pragma_kernels.errors import FlagError

ALLOWED_FLAGS: tuple[str, ...] = (
    "-O0",
    "-O1",
    "-O2",
    "-O3",
    "-Os",
    "-Ofast",
    "-march=native",
    "-mtune=native",
    "-fopenmp",
    "-fopenmp-simd",
    "-funroll-loops",
    "-funroll-all-loops",
    "-ffast-math",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fassociative-math",
    "-freciprocal-math",
    "-fno-signed-zeros",
    "-ftree-vectorize",
    "-fno-tree-vectorize",
    "-fvect-cost-model=unlimited",
    "-fvect-cost-model=dynamic",
    "-fvect-cost-model=cheap",
    "-fprefetch-loop-arrays",
    "-fomit-frame-pointer",
    "-fno-strict-aliasing",
    "-mavx",
    "-mavx2",
    "-mfma",
    "-mf16c",
    "-mavx512f",
    "-mavx512bw",
    "-mavx512vl",
    "-mavx512dq",
    "-mavx512vnni",
    "-mavx512bf16",
    "-msse4.2",
    "-mprefer-vector-width=128",
    "-mprefer-vector-width=256",
    "-mprefer-vector-width=512",
    "-std=c++17",
    "-std=c++20",
    "-DNAME[=VALUE]",
)
DEFAULT_FLAGS: tuple[str, ...] = ("-O3", "-march=native")
# Always passed; not the candidate's choice.
BASE_FLAGS: tuple[str, ...] = ("-shared", "-fPIC", "-std=c++17", "-fdiagnostics-color=never")

_DEFINE = re.compile(r"-D[A-Za-z_]\w*(=[\w.+-]*)?")


def check_flags(flags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Return the flags unchanged if every one is allowed, else raise FlagError."""
    for flag in flags:
        if flag not in ALLOWED_FLAGS and not _DEFINE.fullmatch(flag):
            raise FlagError(flag, ALLOWED_FLAGS)
    return tuple(flags)
