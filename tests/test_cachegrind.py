"""The cachegrind profiler: harness generation and parsing (pure), and one real replay."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from pragma_kernels.profilers.cachegrind import (
    NO_AVX512_NOTE,
    avx512_paths,
    builds_avx512,
    footprint_metrics,
    harness_source,
    metrics_from_counts,
    parse_cachegrind_out,
    path_differences,
    per_kernel,
    profile_calls,
    replay_flags,
    replay_note,
    valgrind_cause,
)
from pragma_kernels.profilers.schema import KernelProfile, UnavailableKind
from pragma_kernels.runtime import cpp
from pragma_kernels.runtime.cpp_abi import parse_exports

SCALE = r"""
#include <cstdint>
extern "C" void scale(const float* x, float* out, int64_t n, float factor) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0 ? x[i] * factor : 0.0f;
}
"""

CG_OUT = """desc: I1 cache: 32768 B, 64 B, 8-way associative
cmd: ./replay
events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw Bc Bcm Bi Bim
fl=kernel0.cpp
fn=scale
3 100 1 1 40 5 2 20 3 1 10 2 0 0
4 50 0 0 10 1 0 0 0 0 5 1
fn=scale._omp_fn.0
5 10
fl=/usr/include/stdio.h
fn=main
9 7 0 0 1
summary: 167 1 1 51 6 2 20 3 1 15 3 0 0
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRAGMA_CACHE_DIR", str(tmp_path / "cache"))


def test_parse_cachegrind_out_sums_functions_and_reads_the_summary():
    counts = parse_cachegrind_out(CG_OUT)
    assert counts.total["Ir"] == 167 and counts.total["Bcm"] == 3
    assert counts.by_function["scale"]["Ir"] == 150 and counts.by_function["scale"]["Dr"] == 50
    assert counts.by_function["scale._omp_fn.0"]["Ir"] == 10
    with pytest.raises(ValueError, match="events"):
        parse_cachegrind_out("not a profile")


def test_derived_rates():
    metrics = {
        m.name: m.value
        for m in metrics_from_counts(
            {
                "Ir": 100,
                "Dr": 30,
                "Dw": 10,
                "D1mr": 3,
                "D1mw": 1,
                "DLmr": 1,
                "DLmw": 0,
                "Bc": 20,
                "Bcm": 5,
                "Bi": 0,
                "Bim": 0,
            }
        )
    }
    assert metrics["D1_miss_rate"] == 0.1 and metrics["LL_miss_rate"] == 0.025
    assert metrics["branch_mispredict_rate"] == 0.25


def test_harness_declares_the_function_and_passes_exact_scalars():
    function = parse_exports(SCALE)[0]
    call = cpp.RecordedCall(
        function, SCALE, ("-O3",), [torch.ones(4), torch.empty(4), 4, 0.1], 0.001
    )
    text = harness_source([call], [["c0a0.bin", "c0a1.bin", None, None]], [[16, 16, 0, 0]])
    assert 'extern "C" void scale(const float* x, float* out, int64_t n, float factor);' in text
    assert (
        "scale((const float*)c0a0, (float*)c0a1, (int64_t)4LL, (float)0x1.999999999999ap-4)" in text
    )
    assert "if (argc > 1) return 0;" in text


def test_replay_flags_remove_avx512():
    assert replay_flags(("-O3", "-march=native", "-mavx512f")) == [
        "-O3",
        "-march=native",
        "-mno-avx512f",
    ]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_replay_counts_only_the_kernel_with_its_source_labelled():
    lib = cpp.load(SCALE, flags=["-O1"])
    x = torch.randn(20000)
    out = torch.empty_like(x)
    with cpp.recording() as calls:
        lib.scale(x, out, x.numel(), 2.0)
    kernels, notes = profile_calls(calls)
    assert [k.name for k in kernels] == ["scale"], notes
    metrics = {m.name: m.value for m in kernels[0].metrics}
    assert metrics["Ir"] > 5 * x.numel()  # a handful of instructions per element
    assert metrics["Bc"] >= x.numel()
    assert all(m.profiler == m.source == "cachegrind" for m in kernels[0].metrics)
    assert [n.kind for n in notes] == [UnavailableKind.ALTERED_BUILD]  # the AVX-512 caveat


def test_a_replay_too_long_for_the_budget_is_refused_with_the_reason():
    function = parse_exports(SCALE)[0]
    call = cpp.RecordedCall(
        function, SCALE, ("-O3",), [torch.ones(4), torch.empty(4), 4, 1.0], seconds=1.0
    )
    kernels, notes = profile_calls([call], budget_s=5)
    assert kernels == [] and notes[0].kind is UnavailableKind.TOO_SLOW
    assert "1000.0 ms natively" in notes[0].why and "50x" in notes[0].why
    assert notes[0].profiler == "cachegrind"


HELPER_OUT = """events: Ir Dr D1mr Dw D1mw DLmr DLmw
fl=kernel0.cpp
fn=kern
3 10 2 0 1 0 0 0
fn=kern._omp_fn.0
4 20 4 1 2 0 0 0
fn=axpy_rows(float const*, float*, long)
5 900 400 64 100 32 16 8
fl=/build/glibc/e_expf.c
fn=expf
1 70 5 0 0 0 0 0
fl=replay.cpp
fn=main
9 30 10 0 0 0 0 0
summary: 1030 421 65 103 32 16 8
"""
LOAD_ONLY_OUT = """events: Ir Dr D1mr Dw D1mw DLmr DLmw
fl=replay.cpp
fn=main
9 30 10 0 0 0 0 0
summary: 30 10 0 0 0 0 0
"""


def test_static_helpers_in_the_candidate_source_are_reported_per_function():
    """Moving the hot loop into a static helper must not hide it among the callees."""
    full, load_only = parse_cachegrind_out(HELPER_OUT), parse_cachegrind_out(LOAD_ONLY_OUT)
    assert full.files["axpy_rows(float const*, float*, long)"] == {"kernel0.cpp"}
    kernels = {k.name: k for k in per_kernel(full, load_only, ["kern"])}
    assert set(kernels) == {
        "kern",
        "axpy_rows (static helper)",
        "callees (OpenMP runtime, libm, ...)",
    }
    helper = {m.name: m.value for m in kernels["axpy_rows (static helper)"].metrics}
    assert helper["Ir"] == 900 and kernels["axpy_rows (static helper)"].time_share == 0.9
    assert {m.name: m.value for m in kernels["callees (OpenMP runtime, libm, ...)"].metrics}[
        "Ir"
    ] == 70  # expf: 1030 - 30 (harness) - 930 (candidate)


def test_footprint_counts_every_own_function_against_the_tensors():
    kernels = per_kernel(
        parse_cachegrind_out(HELPER_OUT), parse_cachegrind_out(LOAD_ONLY_OUT), ["kern"]
    )
    function = parse_exports(SCALE)[0]
    call = cpp.RecordedCall(
        function, SCALE, ("-O3",), [torch.ones(512), torch.empty(512), 512, 1.0], 0.001
    )
    got = {m.name: m.value for m in footprint_metrics(kernels, [call])}
    lines = 2 * 512 * 4 / 64  # two float tensors of 512
    assert got["replay_footprint_bytes"] == 4096
    assert got["D1_misses_per_footprint_line"] == pytest.approx((65 + 32) / lines)
    assert got["LL_misses_per_footprint_line"] == pytest.approx((16 + 8) / lines)


def test_a_failure_names_valgrinds_error_not_the_summary_after_it():
    stderr = """==123== Cachegrind, a cache and branch-prediction profiler
==123== valgrind: Unrecognised instruction at address 0x10a4f0.
==123== Your program just tried to execute an instruction that Valgrind
==123== Process terminating with default action of signal 4 (SIGILL)
==123== I   refs:      1,234
==123== D1  misses:    12
"""
    cause = valgrind_cause(stderr, -4)
    assert cause.startswith("killed by signal 4")
    assert "Unrecognised instruction" in cause and "SIGILL" in cause and "refs" not in cause
    assert "no error line" in valgrind_cause("==1== I refs: 5\n", 1)


# The reviewer's softmax: the AVX-512 path computes exp with a polynomial, the #else path
# calls libm expf per element and walks the row once where the AVX-512 path blocks it.
TWO_PATHS = """#include <immintrin.h>
#include <cmath>
extern "C" void softmax(const float* x, float* y, long n) {
#ifdef __AVX512F__
    for (long b = 0; b < n; b += 256)
        for (long i = b; i + 16 <= b + 256; i += 16) {
#if 1
            _mm512_storeu_ps(y + i, exp512(_mm512_loadu_ps(x + i)));
#endif
        }
    for (long i = n / 16 * 16; i < n; ++i) y[i] = fast_exp(x[i]);
#else
    for (long i = 0; i < n; ++i) y[i] = std::exp(x[i]) + expf(0.0f);
#endif
}
"""


def test_paths_split_at_the_avx512_ifdef_with_nested_directives():
    avx, other = avx512_paths(TWO_PATHS)
    assert "_mm512_storeu_ps" in avx and "#if 1" in avx and "#endif" in avx
    assert "expf" in other and "_mm512" not in other and "#else" not in other
    assert avx512_paths(SCALE) is None  # no #ifdef: the replay builds the same code
    elif_source = "#if defined(__AVX512F__)\nfor(\n#elif defined(__AVX2__)\nfor(\n#else\n#endif"
    assert avx512_paths(elif_source) is None  # the replay builds the AVX2 branch


def test_visible_differences_between_the_paths_are_named():
    assert path_differences(TWO_PATHS) == [
        "the #else path calls libm exp, expf, the AVX-512 path does not",
        "the AVX-512 path has 3 for loops, the #else path 1 (a remainder loop aside, the same "
        "loops and blocking give the same count)",
    ]
    mirrored = TWO_PATHS.replace("std::exp(x[i]) + expf(0.0f)", "fast_exp(x[i])").replace(
        "    for (long i = 0; i < n; ++i) y[i]",
        "    for (long b = 0; b < n; b += 256) for (long i = b; i < b + 256; ++i) y[i]",
    )
    assert path_differences(mirrored) == []  # one fewer loop: the remainder, not a difference


def test_the_replay_note_says_all_metrics_describe_the_else_path_and_flags_differences():
    assert "ALL cachegrind metrics" in NO_AVX512_NOTE and "`#else` path" in NO_AVX512_NOTE
    assert replay_note([SCALE], []) == NO_AVX512_NOTE
    callees = KernelProfile(name="callees (OpenMP runtime, libm, ...)", time_share=0.75)
    note = replay_note([TWO_PATHS, TWO_PATHS], [KernelProfile(name="softmax"), callees])
    assert note.startswith(NO_AVX512_NOTE) and note.count("calls libm exp, expf") == 1
    assert "75% of its instructions in callees" in note
    assert "same loops, blocking" in note
    assert "in callees" not in replay_note([TWO_PATHS], [])


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="AVX-512 is x86-64 only")
def test_only_a_native_build_with_avx512_differs_from_the_replay():
    assert builds_avx512(("-O3", "-mavx512f"))
    assert not builds_avx512(("-O2",))  # both builds take the #else path
    assert not builds_avx512(("-O3", "-mavx512f", "-mno-avx512f"))
