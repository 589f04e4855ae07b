"""The C++ loader CPU candidates import: `cpp.load(SOURCE, flags=[...])`.

Like torch's `load_inline`, but builds in well under a second: plain
`extern "C"` functions compiled by the system compiler and called through
ctypes (which releases the GIL during the call). Every exported function is
wrapped so that each argument is checked against its C type before the call:

    from pragma_kernels.runtime import cpp
    lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])
    lib.relu(x, out, x.numel())   # float* <- contiguous float32 CPU tensor, int64_t <- int
"""

from __future__ import annotations

import ctypes
import inspect
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pragma_kernels.errors import CppCallError, PragmaError
from pragma_kernels.runtime.cpp_abi import CFunction, check_call, parse_exports
from pragma_kernels.runtime.cpp_build import build_shared_library, find_origin
from pragma_kernels.runtime.cpp_flags import ALLOWED_FLAGS, DEFAULT_FLAGS

__all__ = ["ALLOWED_FLAGS", "DEFAULT_FLAGS", "CppModule", "RecordedCall", "load", "recording"]

_SCALAR_CTYPES = {
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "bool": ctypes.c_bool,
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "unsigned": ctypes.c_uint,
    "unsigned int": ctypes.c_uint,
    "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64,
    "long": ctypes.c_long,
    "long long": ctypes.c_longlong,
    "size_t": ctypes.c_size_t,
    "uint64_t": ctypes.c_uint64,
    "int16_t": ctypes.c_int16,
    "int8_t": ctypes.c_int8,
    "uint8_t": ctypes.c_uint8,
    "ptrdiff_t": ctypes.c_ssize_t,
}


@dataclass
class RecordedCall:
    """One call into C++, kept so a profiler can replay it natively (e.g. under valgrind)."""

    function: CFunction
    source: str
    flags: tuple[str, ...]
    args: list  # pointer arguments: a copy of the tensor before the call; scalars as given
    seconds: float
    library: str = ""  # the built shared object the call went to


_recorder: list[RecordedCall] | None = None


@contextmanager
def recording() -> Iterator[list[RecordedCall]]:
    """Record every checked C++ call made inside the block (with copies of its inputs)."""
    global _recorder
    previous, _recorder = _recorder, []
    try:
        yield _recorder
    finally:
        _recorder = previous


class CppFunction:
    """A compiled function whose arguments are checked against its C signature."""

    def __init__(
        self,
        spec: CFunction,
        symbol,
        source: str = "",
        flags: tuple[str, ...] = (),
        library: str = "",
    ):
        self.spec, self.source, self.flags, self.library = spec, source, flags, library
        symbol.argtypes = [
            ctypes.c_void_p if p.pointer else _SCALAR_CTYPES[p.base] for p in spec.params
        ]
        symbol.restype = None if spec.returns == "void" else _SCALAR_CTYPES[spec.returns]
        self._symbol = symbol
        self.__doc__ = spec.signature()

    def __call__(self, *args):
        raw = check_call(self.spec, args)
        if _recorder is None:
            return self._symbol(*raw)
        snapshot = [
            a.detach().clone() if p.pointer else a
            for p, a in zip(self.spec.params, args, strict=True)
        ]
        start = time.perf_counter()
        result = self._symbol(*raw)
        _recorder.append(
            RecordedCall(
                self.spec,
                self.source,
                self.flags,
                snapshot,
                time.perf_counter() - start,
                self.library,
            )
        )
        return result

    def __repr__(self) -> str:
        return f"<C++ {self.spec.signature()}>"


class CppModule:
    """The exported functions of one built library, as attributes."""

    def __init__(self, path: str, functions: dict[str, CppFunction]):
        self.path = path
        self.functions = functions

    def __getattr__(self, name: str) -> CppFunction:
        functions = self.__dict__.get("functions", {})
        if name in functions:
            return functions[name]
        raise CppCallError(
            f"the C++ source exports no function {name!r}; exported: "
            f"{', '.join(functions) or 'none'}. Fix: declare it as "
            f'`extern "C" void {name}(...)`'
        )

    def __dir__(self):
        return [*super().__dir__(), *self.functions]


def load(source: str, flags: Sequence[str] = DEFAULT_FLAGS, name: str = "kernel") -> CppModule:
    """Build `source` (cached by content) and return its `extern "C"` functions.

    Raises FlagError for a flag outside ALLOWED_FLAGS, BuildError with the
    compiler's messages (lines point into the calling .py file when the source
    is a literal there), and PragmaError when no function can be exported.
    """
    try:
        exports = parse_exports(source)
    except ValueError as exc:
        raise PragmaError(f"cannot export the C++ functions: {exc}") from None
    if not exports:
        raise PragmaError(
            "the C++ source exports no function. Fix: define the entry points as "
            '`extern "C" void name(const float* x, float* out, int64_t n) {...}`'
        )
    caller = inspect.stack(context=0)[1].filename
    library = build_shared_library(source, tuple(flags), name, find_origin(source, caller))
    handle = ctypes.CDLL(str(library), mode=ctypes.RTLD_LOCAL)
    return CppModule(
        str(library),
        {
            f.name: CppFunction(f, getattr(handle, f.name), source, tuple(flags), str(library))
            for f in exports
        },
    )
