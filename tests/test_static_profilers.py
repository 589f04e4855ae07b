"""Static CPU profilers: g++ vectorisation remarks and the objdump FP instruction mix."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from pragma_kernels.errors import BuildError, PragmaError
from pragma_kernels.profilers.instruction_mix import (
    InstructionMix,
    LoopMix,
    classify_disassembly,
    instruction_mix,
    pick_hot_loop,
    select_functions,
)
from pragma_kernels.profilers.vectorisation import (
    NOISE,
    LoopNote,
    VectorisationReport,
    parse_opt_info,
    vectorisation_report,
)
from pragma_kernels.runtime.cpp_build import Origin, build_shared_library, find_origin

ROOT = Path(__file__).resolve().parent.parent

# Line 4: vectorisable; line 7: loop-carried dependency through x.
TWO_LOOPS = """#include <cstdint>
extern "C" void mul(const float* __restrict__ a, const float* __restrict__ b,
                    float* __restrict__ out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}
extern "C" void recur(const float* __restrict__ a, float* __restrict__ x, int64_t n) {
    for (int64_t i = 1; i < n; ++i) x[i] = x[i - 1] * 0.5f + a[i];
}
"""

# Real g++ 12.2 output (-O3 -march=native -fopt-info-vec-optimized
# -fopt-info-vec-missed-internals), trimmed: `mul` vectorised at line 6 (main loop and
# epilogue), basic-block noise at 7:1, `recur` at line 10 (the top-level reason is the
# misleading "no vectype"; the nested one names the dependence), std::accumulate vectorised
# inside a system header.
OPT_INFO_SAMPLE = """\
s.cpp:6:27: missed:  Vectorization factor too high for epilogue loop.
s.cpp:6:27: optimized: loop vectorized using 64 byte vectors
s.cpp:6:27: optimized: loop vectorized using 32 byte vectors
s.cpp:7:1: missed:  not vectorized: no grouped stores in basic block.
s.cpp:10:51: missed:   not vectorized, possible dependence between data-refs *_4 and *_9
s.cpp:10:27: missed:  bad data dependence.
s.cpp:10:27: missed:   not vectorized: no vectype for stmt: _5 = *_4;
 scalar_type: float
s.cpp:10:27: missed:  bad data references.
s.cpp:10:27: missed: couldn't vectorize loop
s.cpp:10:51: missed: not vectorized: no vectype for stmt: _5 = *_4;
 scalar_type: float
s.cpp:11:1: missed:  not vectorized: no grouped stores in basic block.
/usr/include/c++/12/bits/stl_numeric.h:140:22: missed:  bad data references.
/usr/include/c++/12/bits/stl_numeric.h:140:22: optimized: loop vectorized using 64 byte vectors
s.cpp:13:100: missed:  not vectorized: no grouped stores in basic block.
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRAGMA_CACHE_DIR", str(tmp_path / "cache"))


def test_parse_opt_info_keeps_own_loops_widest_vectors_and_specific_reason():
    notes = parse_opt_info(OPT_INFO_SAMPLE, "s.cpp", None)
    assert notes == [
        LoopNote("s.cpp", 6, vector_bytes=64),
        LoopNote("s.cpp", 10, reason="possible dependence between data-refs"),
    ]


def test_parse_opt_info_maps_lines_through_origin():
    notes = parse_opt_info(OPT_INFO_SAMPLE, "/tmp/build/s.cpp", Origin("sol.py", 20))
    assert [(n.file, n.line) for n in notes] == [("sol.py", 25), ("sol.py", 29)]
    assert notes[0].describe() == "sol.py:25: loop vectorised (64-byte vectors)"
    assert notes[1].describe() == (
        "sol.py:29: not vectorised: possible dependence between data-refs"
    )


def test_parse_opt_info_plain_missed_output_and_versioning():
    text = (
        "k.cpp:3:27: optimized: loop vectorized using 16 byte vectors\n"
        "k.cpp:3:27: optimized:  loop versioned for vectorization because of possible aliasing\n"
        "k.cpp:9:35: missed: couldn't vectorize loop\n"
        "k.cpp:9:35: missed: failed: evolution of base is not affine.\n"
        "k.cpp:12:20: missed: couldn't vectorize loop\n"
        "k.cpp:12:20: missed: not vectorized: control flow in loop.\n"
        "k.cpp:15:27: missed: couldn't vectorize loop\n"
        "k.cpp:15:49: missed: statement clobbers memory: _13 = ext (_4);\n"
    )
    notes = parse_opt_info(text, "k.cpp")
    assert notes[0] == LoopNote("k.cpp", 3, 16, "", versioned_for_alias=True)
    reasons = [n.reason for n in notes[1:]]
    assert reasons == [
        "evolution of base is not affine",
        "control flow in loop",
        "call to ext (may clobber memory)",
    ]


def test_vectorisation_report_finds_the_vectorised_and_the_dependent_loop():
    report = vectorisation_report(TWO_LOOPS, ("-O3", "-march=native"), Origin("sol.py", 10))
    assert [(n.file, n.line) for n in report.vectorised] == [("sol.py", 13)]
    assert report.vectorised[0].vector_bytes >= 16
    assert [(n.file, n.line) for n in report.missed] == [("sol.py", 16)]
    assert "dependence" in report.missed[0].reason
    assert report.metrics() == {"vectorised_loops": 1.0, "missed_vectorisation_loops": 1.0}
    assert report.summary_lines()[0].startswith("sol.py:16: not vectorised: ")
    assert "-fopt-info-vec" in report.command and "-march=native" in report.command


def test_vectorisation_report_errors_name_the_problem(monkeypatch):
    with pytest.raises(BuildError) as info:
        vectorisation_report("int f() { return nope; }\n", ("-O2",), Origin("sol.py", 30))
    assert any(d.file == "sol.py" and d.line == 30 for d in info.value.diagnostics)
    monkeypatch.setenv("PRAGMA_CXX", "no-such-compiler-pragma")
    with pytest.raises(PragmaError, match="not found"):
        vectorisation_report(TWO_LOOPS, ("-O2",))


def test_summary_lines_put_missed_first_and_respect_the_limit():
    report = vectorisation_report(TWO_LOOPS, ("-O3",))
    assert len(report.summary_lines(limit=1)) == 1
    assert report.summary_lines(limit=1)[0].startswith("... and 2 more loops (")


def test_cut_summary_keeps_room_for_vectorised_loops():
    from pragma_kernels.profilers.vectorisation import LoopNote, VectorisationReport

    missed = [LoopNote("k.py", line, reason="cold setup loop") for line in range(1, 11)]
    hot = LoopNote("k.py", 40, vector_bytes=32)
    lines = VectorisationReport([hot], missed, "g++").summary_lines(limit=4)
    assert len(lines) == 4 and "k.py:40: loop vectorised" in lines[2]
    assert lines[-1] == "... and 8 more loops (0 vectorised, 8 not)"


DISASSEMBLY = """
kernel.so:     file format elf64-x86-64


Disassembly of section .plt:

0000000000001020 <GOMP_parallel@plt>:
    1020:	jmp    *0x2fba(%rip)        # 4010 <GOMP_parallel@GOMP_4.0>

Disassembly of section .text:

0000000000001100 <scale>:
    1100:	test   %rdx,%rdx
    1103:	jle    1144 <scale+0x44>
    1105:	xor    %eax,%eax
    1107:	vxorps %xmm3,%xmm3,%xmm3
    1110:	vmovups (%rdi,%rax,4),%zmm0
    1117:	vfmadd213ps (%rsi,%rax,4),%zmm1,%zmm0
    111d:	vaddps %zmm2,%zmm0,%zmm0{%k1}
    1123:	vmovups %zmm0,(%rsi,%rax,4)
    112a:	add    $0x10,%rax
    112e:	cmp    %rax,%rdx
    1131:	jne    1110 <scale+0x10>
    1133:	vmulss %xmm1,%xmm0,%xmm0
    1137:	vaddss %xmm2,%xmm0,%xmm0
    113b:	vmaxps %ymm4,%ymm5,%ymm6
    113f:	vzeroupper
    1142:	ret
    1143:	nop
    1144:	vsqrtss %xmm0,%xmm0,%xmm0
    1148:	vucomiss %xmm0,%xmm1
    114b:	jne    1133 <scale+0x33>
    114d:	ret

0000000000001150 <scale._omp_fn.0>:
    1150:	vcvtsi2ss %rdi,%xmm0,%xmm0
    1155:	ret

0000000000001160 <other>:
    1160:	vmulpd %xmm1,%xmm0,%xmm0
    1164:	ret
"""


def test_classify_counts_fp_arithmetic_in_innermost_loops_by_width():
    mix = classify_disassembly(select_functions(DISASSEMBLY, ["scale"]))
    # One real loop (1110..1131). 1144 -> 1133 branches back but 1133 does not dominate it.
    assert mix.scope == "1 innermost loop"
    assert (mix.scalar_fp, mix.packed_fp_by_width, mix.max_vector_width_bits) == (0, {512: 2}, 512)
    assert mix.packed_simd_fraction() == 1.0
    assert (mix.total, mix.counted) == (23, 7)
    assert mix.symbols == ("scale", "scale._omp_fn.0")


def test_classify_whole_functions_and_metrics():
    mix = classify_disassembly(select_functions(DISASSEMBLY, None), loops_only=False)
    # vmulss vaddss vsqrtss vucomiss scalar; vfmadd213ps vaddps (zmm) vmaxps (ymm) vmulpd (xmm)
    assert (mix.scalar_fp, mix.packed_fp_by_width) == (4, {128: 1, 256: 1, 512: 2})
    metrics = mix.metrics()
    assert {k: metrics[k] for k in list(metrics)[:4]} == {
        "packed_simd_fraction": 0.5,
        "max_vector_width_bits": 512.0,
        "scalar_fp_instructions": 4.0,
        "packed_fp_instructions": 4.0,
    }
    assert metrics["double_fp_fraction"] == 0.125  # vmulpd of 8 FP instructions
    assert "whole functions" in mix.summary() and "512-bit: 2" in mix.summary()
    assert "GOMP_parallel@plt" not in mix.symbols


def test_classify_other_architecture_and_missing_function():
    mix = classify_disassembly("k.so:     file format elf64-littleaarch64\n")
    assert mix.metrics()["packed_fp_instructions"] == 0 and "aarch64" in mix.note
    assert classify_disassembly("").packed_simd_fraction() == 0.0
    with pytest.raises(PragmaError, match="nope"):
        select_functions(DISASSEMBLY, ["scale", "nope"])


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "flags:")
    return set(flags.split(":", 1)[1].split())


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="instruction classes are x86-64 only")
def test_instruction_mix_vectorised_vs_unoptimised_build():
    fast_library = build_shared_library(TWO_LOOPS, ("-O3", "-march=native"), "two")
    fast = instruction_mix(fast_library, ["mul"])
    assert fast.packed_simd_fraction() > 0.5
    if "avx2" in _cpu_flags():
        assert fast.max_vector_width_bits >= 256
    dependent = instruction_mix(fast_library, ["recur"])
    assert dependent.packed_simd_fraction() == 0.0 and dependent.scalar_fp > 0
    slow = instruction_mix(build_shared_library(TWO_LOOPS, ("-O0",), "two"), ["mul"])
    assert slow.packed_simd_fraction() == 0.0 and slow.scalar_fp > 0
    assert slow.max_vector_width_bits == 0


def test_shipped_softsign_solution_reports_its_vectorised_loop():
    path = ROOT / "examples" / "solutions" / "cpu" / "softsign.py"
    tree = ast.parse(path.read_text())
    source = next(
        n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SOURCE"
    )
    origin = find_origin(source, str(path))
    report = vectorisation_report(source, ("-O3", "-march=native", "-fopenmp"), origin)
    assert len(report.vectorised) >= 1
    note = report.vectorised[0]
    assert note.file == str(path) and note.vector_bytes >= 16
    lines = path.read_text().splitlines()
    loop = next(n for n, text in enumerate(lines, 1) if "for (int64_t i" in text)
    # g++ places an OpenMP loop at its body's first statement, a plain loop at its `for`.
    assert note.line in (loop, loop + 1)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="instruction classes are x86-64 only")
def test_a_hot_loop_in_a_static_helper_is_still_counted():
    """Moving the kernel into a `static` helper turned packed_simd_fraction from 1 into 0
    when only exported functions were read."""
    source = """#include <cstdint>
__attribute__((noinline)) static void body(const float* __restrict__ a, float* __restrict__ o,
                                           int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = a[i] * 2.0f + 1.0f;
}
extern "C" void entry(const float* a, float* o, int64_t n) { body(a, o, n); }
"""
    library = build_shared_library(source, ("-O3", "-march=native"), "helper")
    whole = instruction_mix(library, None)
    assert whole.packed_simd_fraction() == 1.0 and whole.packed_fp > 0
    assert any("body" in symbol for symbol in whole.symbols)


# A hot AVX-512 FMA loop and a cold scalar tail (K % 16 elements) that calls expf: the
# reviewer's matvec/softmax case, where the tail's calls, spills and scalar FP were read as
# the kernel's. OpenMP outlines the row loop, so g++ also reports an outer loop.
HOT_AND_TAIL = """#include <cstdint>
#include <cmath>
#include <immintrin.h>
extern "C" void rows(const float* __restrict__ A, const float* __restrict__ x,
                     float* __restrict__ y, int64_t M, int64_t K) {
    #pragma omp parallel for
    for (int64_t i = 0; i < M; ++i) {
        const float* a = A + i * K;
        __m512 acc = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 16 <= K; k += 16)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(x + k), acc);
        float s = _mm512_reduce_add_ps(acc);
        for (; k < K; ++k) s += expf(a[k] * x[k]);
        y[i] = s;
    }
}
"""
AVX512_FLAGS = ("-O3", "-mavx512f", "-mfma", "-fopenmp")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="instruction classes are x86-64 only")
def test_headline_metrics_describe_the_hot_loop_not_the_cold_tail():
    mix = instruction_mix(build_shared_library(HOT_AND_TAIL, AVX512_FLAGS, "tail"), None)
    assert len(mix.per_loop) == 2 and mix.hot is not None
    assert mix.hot.mix.packed_fmas >= 1 and "static estimate" in mix.hot_method
    got = mix.metrics()
    assert got["packed_simd_fraction"] == 1.0 and got["scalar_fp_instructions"] == 0
    assert got["math_calls_in_loops"] == 0 and got["stack_accesses_in_loops"] == 0
    # The totals still hold the tail, and the summary labels them as totals.
    assert any("expf" in c for c in mix.math_calls) and mix.scalar_fp > 0
    summary = mix.summary()
    assert summary.startswith("hot loop at rows._omp_fn.0+0x") and "static estimate" in summary
    assert "Totals over all 2 innermost loops" in summary and "expf" in summary
    lines = mix.loop_lines()
    assert lines[0].startswith("HOT loop") and "FMA" in lines[0]
    assert lines[1].startswith("loop at") and "expf" in lines[1]


def _loop(depth: int, packed: int = 0, scalar: int = 0, fmas: int = 0) -> LoopMix:
    counts = InstructionMix(scalar_fp=scalar, packed_fp_by_width={512: packed}, packed_fmas=fmas)
    return LoopMix("k", 16 * depth + packed, depth, counts)


def test_hot_loop_is_the_deepest_then_the_most_packed():
    shallow_vector, deep_scalar = _loop(1, packed=8, fmas=8), _loop(3, scalar=4)
    assert pick_hot_loop([shallow_vector, deep_scalar])[0] is deep_scalar
    tail, body = _loop(2, scalar=3), _loop(2, packed=16, fmas=16)
    hot, method = pick_hot_loop([tail, body])
    assert hot is body and "deepest loop nest" in method
    assert pick_hot_loop([tail]) == (tail, "being the only innermost loop")
    assert pick_hot_loop([]) == (None, "")


INTRINSICS_OPT_INFO = """\
k.cpp:8:32: missed:  not vectorized: loop nest containing two or more consecutive inner loops
k.cpp:8:32: missed: couldn't vectorize loop
k.cpp:8:32: missed: not vectorized: loop nest containing two or more consecutive inner loops
k.cpp:15:37: missed:  statement clobbers memory: _51 = expf (_49);
k.cpp:15:18: missed:  not vectorized: loop contains function calls or data references
k.cpp:15:18: missed: couldn't vectorize loop
k.cpp:15:37: missed: statement clobbers memory: _51 = expf (_49);
k.cpp:12:23: missed:   not vectorized: no vectype for stmt: _76 = MEM[(__m512_u * {ref-all})_56];
 scalar_type: __m512_u
k.cpp:12:23: missed:  bad data references.
k.cpp:12:23: missed: couldn't vectorize loop
k.cpp:15:37: missed: statement clobbers memory: _51 = expf (_49);
"""  # g++ 12.2 (long lines trimmed): an OpenMP row loop, an AVX-512 loop and a scalar tail


def test_intrinsics_and_outer_loop_notes_are_left_out_and_counted():
    notes = parse_opt_info(INTRINSICS_OPT_INFO, "k.cpp")
    kept = [n for n in notes if n.reason != NOISE]
    assert [(n.line, n.reason) for n in kept] == [(15, "call to expf (may clobber memory)")]
    assert sorted(n.line for n in notes if n.reason == NOISE) == [8, 12]
    lines = VectorisationReport([], kept, "g++", omitted=2).summary_lines()
    assert lines[0] == "k.cpp:15: not vectorised: call to expf (may clobber memory)"
    assert lines[1].startswith("2 loops not shown: intrinsics code")
    assert not any("no vectype" in line or "consecutive inner" in line for line in lines)


def test_vectorisation_report_leaves_out_intrinsics_and_outer_loops():
    report = vectorisation_report(HOT_AND_TAIL, AVX512_FLAGS)
    text = "; ".join(report.summary_lines())
    assert "no vectype" not in text and "consecutive inner loops" not in text
    assert report.omitted >= 1 and "expf" in text
