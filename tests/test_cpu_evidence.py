"""PMU-free CPU evidence (pure): thread scaling with its spread and Amdahl's serial
fraction, the cachegrind reduction factor, scaled problem sizes, the roofline against both
measured peaks, and the hot-loop hazards the disassembly shows wherever the loop is."""

from __future__ import annotations

from types import ModuleType

import pytest

from pragma_kernels.problems import scaled_sizes
from pragma_kernels.profilers.cpu import amdahl_serial_fraction, reduction_factor, scaling_metrics
from pragma_kernels.profilers.instruction_mix import classify_disassembly, select_functions
from pragma_kernels.profilers.roofline import roofline_metrics, traffic_metrics


def values(metrics):
    return {m.name: m.value for m in metrics}


def test_amdahl_serial_fraction():
    assert amdahl_serial_fraction(2.0, 2) == pytest.approx(0.0)
    assert amdahl_serial_fraction(1.0, 2) == pytest.approx(1.0)
    assert amdahl_serial_fraction(1.6, 4) == pytest.approx((4 / 1.6 - 1) / 3)
    assert amdahl_serial_fraction(0.4, 2) == 1.0  # a slowdown: clipped
    assert amdahl_serial_fraction(1.5, 1) == 1.0


def test_scaling_is_the_median_round_and_the_spread_is_reported():
    got = values(scaling_metrics([0.68, 1.31, 1.02], 2))
    assert got["thread_scaling"] == 1.02
    assert got["thread_scaling_spread"] == pytest.approx((1.31 - 0.68) / 1.02)
    assert got["parallel_efficiency"] == pytest.approx(0.51)
    assert got["serial_fraction"] == pytest.approx(2 / 1.02 - 1)


def test_reduction_factor_targets_half_the_budget():
    assert reduction_factor(0.001, 8.0) == 2.0  # never less than halving
    assert reduction_factor(0.4, 8.0) == pytest.approx(300 * 0.4 / 4)


def _problem(source: str) -> ModuleType:
    module = ModuleType("p")
    exec(source, module.__dict__)
    return module


def test_scaled_sizes_shrink_input_sizes_not_weight_shapes():
    module = _problem(
        "ROWS = 4096\nCOLS = 1024\nCH = 64\n"
        "def get_inputs():\n    return [ROWS * COLS, CH]\n"
        "def get_init_inputs():\n    return [CH]\n"
    )
    sizes = scaled_sizes(module, 8)
    assert "CH" not in sizes  # get_init_inputs reads it: the weights' shape
    reduced = (4096 * 1024) / (sizes.get("ROWS", 4096) * sizes.get("COLS", 1024))
    assert 8 <= reduced < 16
    assert sizes == {"ROWS": 1024, "COLS": 512}  # the largest halves first
    assert (
        scaled_sizes(
            _problem("def get_inputs():\n    return [3]\ndef get_init_inputs():\n    return []\n"),
            4,
        )
        == {}
    )


def test_scaled_sizes_stop_at_the_floor():
    module = _problem(
        "N = 64\ndef get_inputs():\n    return [N]\ndef get_init_inputs():\n    return []\n"
    )
    assert scaled_sizes(module, 1000, floor=16) == {"N": 16}


def test_roofline_labels_each_rate_against_its_own_peak():
    # An FMA-bound conv: 64 FLOP per byte, 40 MB in 10 ms (4 GB/s, 256 GFLOP/s) on a machine
    # with 60 GB/s copy and 400 GFLOP/s matmul: compute-bound at 0.64, not "memory at 0.07".
    got = values(roofline_metrics(40 * 10**6, 2.56e9, 10e-3, 60, 400, "static_cpu", "t"))
    assert got["roofline_bound"] == "compute"
    assert got["compute_peak_fraction"] == pytest.approx(0.64)
    assert got["roofline_fraction"] == pytest.approx(0.64)
    assert got["copy_bandwidth_fraction"] == pytest.approx(4 / 60)
    assert got["peak_gflops"] == 400


def test_traffic_counts_the_passes_cachegrind_saw():
    got = values(traffic_metrics(10**8, 0.01, 50, 3.0, "static_cpu", "t"))
    assert got["traffic_bytes_estimate"] == 3 * 10**8
    assert got["traffic_bandwidth_fraction"] == pytest.approx(0.6)
    assert (
        values(traffic_metrics(10**8, 0.01, 50, 0.5, "static_cpu", "t"))["traffic_bytes_estimate"]
        == 10**8
    )  # never below the tensors


HAZARDS = """
kernel.so:     file format elf64-x86-64

Disassembly of section .text:

0000000000001100 <rows_helper>:
    1100:	xor    %eax,%eax
    1102:	vcvtps2pd (%rdi,%rax,4),%zmm0
    1108:	vmulpd %zmm1,%zmm0,%zmm0
    110e:	vaddpd %zmm2,%zmm0,%zmm0
    1114:	vcvtpd2ps %zmm0,%ymm0
    111a:	vmovups %ymm0,(%rsi,%rax,4)
    1120:	vmovss 0x10(%rsp),%xmm3
    1126:	add    $0x8,%rax
    112a:	cmp    %rax,%rdx
    112d:	jne    1102 <rows_helper+0x2>
    112f:	ret

0000000000001130 <kern>:
    1130:	call   1000 <GOMP_parallel@plt>
    1135:	xor    %eax,%eax
    1137:	vmovss (%rdi,%rax,4),%xmm0
    113c:	call   1010 <expf@plt>
    1141:	lock cmpxchg %ecx,(%rsi)
    1145:	vucomiss %xmm0,%xmm1
    1149:	ja     1150 <kern+0x20>
    114b:	vaddss %xmm0,%xmm0,%xmm0
    1150:	add    $0x1,%rax
    1154:	cmp    %rax,%rdx
    1157:	jne    1137 <kern+0x7>
    1159:	ret
"""


def test_hazards_are_found_in_every_function_including_static_helpers():
    mix = classify_disassembly(select_functions(HAZARDS, None))
    # Totals over both loops (the helper's and kern's), kept on the mix and in the summary.
    assert mix.loops == 2 and mix.double_fp_fraction() == pytest.approx(2 / 4)
    assert (mix.conversions, mix.math_calls, mix.atomics, mix.stack_accesses) == (
        2,
        ("expf@plt",),
        1,
        1,
    )
    assert "double-precision" in mix.summary() and "atomic" in mix.summary()
    # The headline describes one loop: the helper's packed one, not kern's scalar one.
    got = mix.metrics()
    assert mix.hot is not None and mix.hot.function == "rows_helper"
    assert got["parallel_regions"] == 1  # of the whole functions, always
    assert got["double_fp_fraction"] == 1.0 and got["fp_conversions_in_loops"] == 2
    assert got["stack_accesses_in_loops"] == 1
    assert got["math_calls_in_loops"] == got["atomic_instructions_in_loops"] == 0
    only_kern = classify_disassembly(select_functions(HAZARDS, ["kern"])).metrics()
    assert only_kern["double_fp_fraction"] == 0.0  # what an exported-only view misses
    assert only_kern["math_calls_in_loops"] == only_kern["atomic_instructions_in_loops"] == 1
    assert only_kern["branches_in_loops_beyond_loop_control"] == 1  # the ja in kern's loop


def test_a_loaded_machine_is_flagged():
    from pragma_kernels.profilers.cpu import load_warning

    assert load_warning(0.3) == []
    (flag,) = load_warning(2.5)
    assert flag.severity == "WRN" and "2.5 runnable processes per core" in flag.message
