"""The C++ loader: signature parsing, argument checks, flag allow-list, builds and the cache."""

from __future__ import annotations

import pytest
import torch

from pragma_kernels.errors import BuildError, CppCallError, FlagError, PragmaError
from pragma_kernels.runtime import cpp
from pragma_kernels.runtime.cpp_abi import parse_exports
from pragma_kernels.runtime.cpp_build import Origin, parse_diagnostics
from pragma_kernels.runtime.cpp_flags import check_flags

SCALE = r"""
#include <cstdint>
// extern "C" void commented_out(int x) {}
static inline float twice(float v) { return 2.0f * v; }
extern "C" void scale(const float* __restrict__ x, float* out, int64_t n, float factor) {
    for (int64_t i = 0; i < n; ++i) { out[i] = twice(x[i]) * factor; }
}
extern "C" {
    int64_t count_positive(const float* x, long long n) {
        int64_t c = 0;
        for (long long i = 0; i < n; ++i) c += x[i] > 0;
        return c;
    }
}
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRAGMA_CACHE_DIR", str(tmp_path / "cache"))


def test_parse_exports_reads_single_and_block_forms_and_skips_comments_and_helpers():
    functions = parse_exports(SCALE)
    assert [f.signature() for f in functions] == [
        "void scale(const float* x, float* out, int64_t n, float factor)",
        "int64_t count_positive(const float* x, long long n)",
    ]
    assert functions[0].line == 5


def test_parse_exports_rejects_types_it_cannot_check():
    with pytest.raises(ValueError, match="line 1.*references"):
        parse_exports('extern "C" void f(float& x) {}')
    with pytest.raises(ValueError, match="unsupported pointer element type"):
        parse_exports('extern "C" void f(std::string* x) {}')


def test_loaded_function_runs_and_returns_scalars():
    lib = cpp.load(SCALE)
    x = torch.randn(1000)
    out = torch.empty_like(x)
    lib.scale(x, out, x.numel(), 0.5)
    torch.testing.assert_close(out, x)
    assert lib.count_positive(x, x.numel()) == int((x > 0).sum())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda x, o: (x.t(), o, 4, 1.0), "non-contiguous.*Fix: call .contiguous"),
        (lambda x, o: (x.double(), o, 4, 1.0), "float64.*Fix: convert"),
        (lambda x, o: (x, o, torch.tensor(4), 1.0), "expects a Python int.*item"),
        (lambda x, o: (x, o, 4), "called with 3 arguments, expects 4"),
        (lambda x, o: (3, o, 4, 1.0), "got int 3"),
        (lambda x, o: (x, o, 4.5, 1.0), "expects a Python int"),
    ],
)
def test_wrong_calls_raise_before_reaching_cpp(args, message):
    lib = cpp.load(SCALE)
    x, out = torch.randn(4, 4), torch.empty(4, 4)
    with pytest.raises(CppCallError, match=message):
        lib.scale(*args(x, out))


def test_unknown_function_and_empty_exports_are_clear_errors():
    lib = cpp.load(SCALE)
    with pytest.raises(CppCallError, match="exports no function 'nope'.*scale, count_positive"):
        _ = lib.nope
    with pytest.raises(PragmaError, match="exports no function"):
        cpp.load("int helper() { return 1; }")


def test_flags_outside_the_allow_list_are_refused():
    assert check_flags(["-O3", "-march=native", "-fopenmp", "-DBLOCK=64"]) == (
        "-O3",
        "-march=native",
        "-fopenmp",
        "-DBLOCK=64",
    )
    for bad in ["-fplugin=x.so", "-o", "/tmp/x", "-Wl,-rpath,.", "-lfoo", "@args", "-DX=$(rm)"]:
        with pytest.raises(FlagError, match="not allowed"):
            check_flags([bad])


def test_build_is_cached_by_content(tmp_path):
    first = cpp.load(SCALE)
    again = cpp.load(SCALE)
    other_flags = cpp.load(SCALE, flags=["-O2"])
    assert first.path == again.path != other_flags.path
    assert len(list((tmp_path / "cache" / "cpp").iterdir())) == 2


def test_compiler_errors_point_at_the_python_file_line():
    source = """
extern "C" void broken(float* x) {
    x[0] = not_declared;
}
"""
    with pytest.raises(BuildError) as info:
        cpp.load(source)
    error = next(d for d in info.value.diagnostics if d.severity == "error")
    assert error.file == __file__
    text = open(__file__).read().splitlines()
    assert "not_declared" in text[error.line - 1]


def test_parse_diagnostics_maps_only_the_generated_file():
    log = (
        "/cache/ab/kernel.cpp:3:5: error: 'y' was not declared in this scope\n"
        "/usr/include/cmath:10:1: note: in expansion\n"
    )
    found = parse_diagnostics(log, "/cache/ab/kernel.cpp", Origin("sol.py", 20))
    assert [str(d) for d in found] == [
        "sol.py:22:5: error: 'y' was not declared in this scope",
        "/usr/include/cmath:10:1: note: in expansion",
    ]
