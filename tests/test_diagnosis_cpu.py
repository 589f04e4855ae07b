"""The CPU rules on synthetic profiles (pure, fast): each class from the PMU-free evidence
that shows it, and the known failures: a serial verdict needs no started thread, a
loaded machine's slowdown is not false sharing, an AVX2 replay's branch is not the native
code's, a compute-bound kernel is not called memory-bound."""

from __future__ import annotations

import pytest

from pragma_kernels.diagnosis import rules
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.rules_cpu import false_sharing_pattern
from pragma_kernels.profilers.schema import (
    KernelProfile,
    Metric,
    Profile,
    Unavailable,
    UnavailableKind,
)

GOOD = {  # a healthy parallel, vectorised, one-pass kernel on a quiet machine
    "parallel_regions": 1,
    "thread_scaling": 1.9,
    "thread_scaling_spread": 0.05,
    "serial_fraction": 0.05,
    "machine_load_per_core": 0.2,
    "packed_simd_fraction": 1.0,
    "scalar_fp_instructions": 0,
    "double_fp_fraction": 0.0,
    "fp_conversions_in_loops": 0,
    "atomic_instructions_in_loops": 0,
    "stack_accesses_in_loops": 0,
    "math_calls_in_loops": 0,
    "loop_instructions": 12,
    "branches_in_loops_beyond_loop_control": 0,
    "D1_misses_per_footprint_line": 1.0,
    "copy_bandwidth_fraction": 0.3,
}


def cpu(whole: dict, kernel: dict | None = None) -> Profile:
    def metric(name, value, profiler):
        return Metric(name=name, value=value, profiler=profiler, source=profiler)

    return Profile(
        tools=["perf", "cachegrind"],
        target="cpu",
        kernels=[
            KernelProfile(
                name="kern",
                metrics=[metric(n, v, "cachegrind") for n, v in (kernel or {"Ir": 1e7}).items()],
            )
        ],
        metrics=[metric(n, v, "static_cpu") for n, v in whole.items()],
        unavailable=[
            Unavailable(
                what="top-down", why="no PMU", kind=UnavailableKind.NO_COUNTERS, profiler="perf"
            )
        ],
    )


def diagnose(whole: dict, source: str = "", kernel: dict | None = None):
    return rules.diagnose(cpu({**GOOD, **whole}, kernel), rules.CPP_RULES, None, source)


PARALLEL = "#pragma omp parallel for schedule(static)\nfor (...) out[i] = f(x[i]);"


def test_a_healthy_kernel_gets_no_class():
    assert diagnose({}, PARALLEL).bottleneck == B.NONE_FOUND


@pytest.mark.parametrize(
    ("changes", "source", "expected"),
    [
        ({"parallel_regions": 0, "thread_scaling": 1.0}, "#pragma omp simd", B.SINGLE_THREADED),
        ({"atomic_instructions_in_loops": 2, "thread_scaling": 0.4}, PARALLEL, B.ATOMIC_CONTENTION),
        ({"thread_scaling": 0.3}, "#pragma omp parallel for schedule(static, 1)", B.FALSE_SHARING),
        ({"double_fp_fraction": 1.0, "fp_conversions_in_loops": 4}, PARALLEL, B.SLOW_MATH),
        ({"stack_accesses_in_loops": 6, "loop_instructions": 30}, PARALLEL, B.REGISTER_SPILLS),
        ({"D1_misses_per_footprint_line": 3.0, "parallel_regions": 3}, PARALLEL, B.MULTI_PASS),
        ({"thread_scaling": 1.2, "serial_fraction": 0.67}, PARALLEL, B.SERIAL_FRACTION),
        ({"D1_misses_per_footprint_line": 16.0}, PARALLEL, B.CACHE_MISS_BOUND),
        ({"packed_simd_fraction": 0.0, "scalar_fp_instructions": 6}, PARALLEL, B.NOT_VECTORISED),
        ({"copy_bandwidth_fraction": 0.85}, PARALLEL, B.MEMORY_BANDWIDTH),
        (
            {
                "roofline_bound": "compute",
                "compute_peak_fraction": 0.7,
                "copy_bandwidth_fraction": 0.8,
            },
            PARALLEL,
            B.COMPUTE,
        ),
    ],
)
def test_each_cpu_cause(changes, source, expected):
    diagnosis = diagnose(changes, source)
    assert diagnosis.bottleneck == expected, diagnosis.render_text()
    assert diagnosis.evidence and diagnosis.hints and not diagnosis.counters


def test_single_threaded_needs_no_thread_started_not_just_poor_scaling():
    """The old rule named every kernel with scaling < 1.25 single-threaded."""
    contended = diagnose({"thread_scaling": 0.4, "atomic_instructions_in_loops": 3}, PARALLEL)
    assert contended.bottleneck == B.ATOMIC_CONTENTION
    assert B.SINGLE_THREADED not in {c.bottleneck for c in contended.alternatives}
    # without the static count, the source decides
    profile = cpu({"thread_scaling": 1.0})
    assert rules.diagnose(profile, rules.CPP_RULES, None, PARALLEL).bottleneck != B.SINGLE_THREADED
    assert (
        rules.diagnose(profile, rules.CPP_RULES, None, "for (...) {}").bottleneck
        == B.SINGLE_THREADED
    )


def test_a_slowdown_on_a_loaded_machine_is_not_false_sharing():
    loaded = diagnose({"thread_scaling": 0.3, "machine_load_per_core": 3.0}, PARALLEL)
    assert loaded.bottleneck != B.FALSE_SHARING
    quiet = diagnose({"thread_scaling": 0.3, "thread_scaling_spread": 0.1}, PARALLEL)
    assert quiet.bottleneck == B.FALSE_SHARING and quiet.confidence < 0.6


def test_serial_fraction_needs_agreeing_rounds_on_a_quiet_machine():
    noisy = {"thread_scaling": 1.2, "serial_fraction": 0.67, "thread_scaling_spread": 0.6}
    assert diagnose(noisy, PARALLEL).bottleneck != B.SERIAL_FRACTION
    loaded = {"thread_scaling": 1.2, "serial_fraction": 0.67, "machine_load_per_core": 2.0}
    assert diagnose(loaded, PARALLEL).bottleneck != B.SERIAL_FRACTION


def test_a_branch_only_in_the_avx2_replay_is_discounted():
    kernel = {"Ir": 1e7, "branch_mispredict_rate": 0.25}
    native_branch_free = diagnose({}, PARALLEL, kernel)
    assert native_branch_free.bottleneck != B.BRANCH_MISPREDICT
    branchy = diagnose({"branches_in_loops_beyond_loop_control": 1}, PARALLEL, kernel)
    assert branchy.bottleneck == B.BRANCH_MISPREDICT


def test_compute_bound_conv_is_not_called_memory_bound():
    conv = {
        "roofline_bound": "compute",
        "compute_peak_fraction": 0.4,
        "copy_bandwidth_fraction": 0.9,
    }
    assert diagnose(conv, PARALLEL).bottleneck != B.MEMORY_BANDWIDTH


L3 = {"L1d": 48 * 1024, "L2": 1 << 20, "L3": 32 << 20}  # the 2-core VM's caches


@pytest.mark.parametrize(
    ("planted", "source"),
    [
        ({"D1_misses_per_footprint_line": 3.0, "parallel_regions": 3}, PARALLEL),
        ({"double_fp_fraction": 1.0, "fp_conversions_in_loops": 4}, PARALLEL),
        ({"packed_simd_fraction": 0.0, "scalar_fp_instructions": 6}, PARALLEL),
    ],
)
def test_an_llc_resident_footprint_is_not_called_dram_bound(planted, source):
    """The recheck's misses (multi_pass_matvec_wide, slow_math_lerp_tall, ...): an 8-24 MB
    footprint re-read from the 32 MiB L3 ran at 1-1.7x the DRAM copy roof and tied or beat
    the planted class. Within the LLC the fraction counts half, loaded or not; a DRAM-sized
    footprint with the same fraction still names the memory roof, with or without them."""
    from pragma_kernels.profilers.roofline import cache_fit

    def run(changes: dict, footprint: int):
        profile = cpu({**GOOD, "copy_bandwidth_fraction": 1.0, **changes})
        if fit := cache_fit(footprint, L3):
            profile.findings.append(fit)
        return rules.diagnose(profile, rules.CPP_RULES, None, source)

    expected = diagnose(planted, source).bottleneck
    for load in (0.2, 2.0):  # quiet, and loaded as in the recheck (1.9-2.6 per core)
        resident = run({**planted, "machine_load_per_core": load}, 24 << 20)
        assert resident.bottleneck == expected, resident.render_text()
        memory = [c for c in resident.alternatives if c.bottleneck == B.MEMORY_BANDWIDTH]
        assert memory and memory[0].score <= 0.4 * (0.8 if load > 1 else 1.0)
    # the same fraction over a DRAM-sized footprint on a quiet machine: as before the change
    streaming = run(planted, 256 << 20)
    assert streaming.bottleneck == B.MEMORY_BANDWIDTH, streaming.render_text()
    # alone, an LLC-resident copy-speed kernel is at most a weak memory verdict
    assert run({}, 24 << 20).confidence < 0.4
    dram = run({}, 256 << 20)
    assert dram.bottleneck == B.MEMORY_BANDWIDTH and dram.confidence >= 0.6
    loaded = run({"machine_load_per_core": 2.0}, 256 << 20)
    assert loaded.bottleneck == B.MEMORY_BANDWIDTH and loaded.confidence < dram.confidence


def test_spills_explained_by_calls_are_not_spills():
    calls = {"stack_accesses_in_loops": 6, "loop_instructions": 30, "math_calls_in_loops": 1}
    assert diagnose(calls, PARALLEL).bottleneck != B.REGISTER_SPILLS


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("#pragma omp parallel for schedule(static, 1)", True),
        ("#pragma omp for schedule(dynamic)", True),
        ("const int t = omp_get_thread_num();\n part[j * nt + t] += x[k];", True),
        ("int tid = omp_get_thread_num(); volatile float* s = a;", True),
        ("const int t = omp_get_thread_num();\n float acc = x[t];", False),
        ("#pragma omp parallel for schedule(static)", False),
        ("#pragma omp parallel for schedule(static, 64)", False),
    ],
)
def test_false_sharing_source_patterns(source, found):
    assert (false_sharing_pattern(source) is not None) == found


def test_generated_suite_saved_profiles():
    """Real profiles of the generated suite (benchmarks/results/diagnosis_cpu_generated.md,
    2-core VM without a PMU, heavily loaded): calibrate all named, the held-out splits at
    least as well as when they were run with frozen rules, twins never labelled."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "benchmarks" / "diagnosis"))
    import generate_cpu
    import generated_kernels

    from pragma_kernels.profilers.schema import Profile

    saved = root / "tests" / "fixtures" / "profiles" / "cpu_generated"
    hits: dict[str, list[bool]] = {s: [] for s in generate_cpu.SPLITS}
    for case in generate_cpu.cases():
        if case.split not in hits:
            continue
        for which in ("planted", "fixed"):
            profile = Profile.model_validate_json((saved / f"{case.name}_{which}.json").read_text())
            op = generate_cpu.OPERATORS[case.operator]
            kernel = generated_kernels.KERNELS[
                (case.defect if which == "planted" else "fixed", case.operator)
            ]
            source = generate_cpu._candidate(op, kernel, "")
            label = rules.diagnose(profile, rules.CPP_RULES, None, source).bottleneck.value
            if which == "planted":
                hits[case.split].append(label == case.label)
            else:
                assert label != case.label, case.name
    assert all(hits["calibrate"]) and len(hits["calibrate"]) == 24
    # 22/25 with the rules frozen; 25/25 after the post-hoc changes the misses prompted
    # (own-code branch rate, one scalar op in an all-scalar loop): not a held-out figure
    assert sum(hits["heldout"]) == 25 and len(hits["heldout"]) == 25
    # the second held-out split, run once after those changes: 21/22; 22/22 since
    # memory_bandwidth_cpu's cache fit (a fix for its one miss: not a held-out figure)
    assert sum(hits["heldout2"]) >= 21 and len(hits["heldout2"]) == 22
    # the third, generated after that change and run once (diagnosis_cpu_heldout3.md):
    # 21/22, multi_pass_gelu_skinny a tie with cache_miss_bound at 4.00 lines per line
    assert sum(hits["heldout3"]) >= 21 and len(hits["heldout3"]) == 22


def test_libm_branches_do_not_hide_the_kernels_own_mispredicts():
    """A branchy loop calling expf: the profile-wide rate (0.083) is diluted by libm's
    well-predicted branches; the kernel's own functions mispredict a quarter."""
    profile = cpu({**GOOD, "branches_in_loops_beyond_loop_control": 1})
    profile.kernels = [
        KernelProfile(
            name=name,
            time_share=share,
            metrics=[
                Metric(name=n, value=v, profiler="cachegrind", source="cachegrind")
                for n, v in counts.items()
            ],
        )
        for name, share, counts in (
            ("kern", 0.3, {"Ir": 3e6, "Bc": 2e5, "Bcm": 5e4, "branch_mispredict_rate": 0.25}),
            (
                "callees (OpenMP runtime, libm, ...)",
                0.7,
                {"Ir": 7e6, "Bc": 4e5, "Bcm": 0.0, "branch_mispredict_rate": 0.0},
            ),
        )
    ]
    diagnosis = rules.diagnose(profile, rules.CPP_RULES, None, PARALLEL)
    assert diagnosis.bottleneck == B.BRANCH_MISPREDICT
    assert diagnosis.evidence[0].metric == "own_branch_mispredict_rate"
    assert diagnosis.evidence[0].value == pytest.approx(0.25)


def test_one_scalar_op_in_an_all_scalar_loop_is_not_vectorised():
    assert (
        diagnose({"packed_simd_fraction": 0.0, "scalar_fp_instructions": 1}, PARALLEL).bottleneck
        == B.NOT_VECTORISED
    )
    assert (
        diagnose({"packed_simd_fraction": 0.1, "scalar_fp_instructions": 1}, PARALLEL).bottleneck
        != B.NOT_VECTORISED
    )


def test_intrinsics_whose_tail_the_compiler_missed_are_not_called_unvectorised():
    """An AVX-512 intrinsics kernel: g++ vectorises none of its loops (they are vector code
    already) and misses the scalar tail, yet its hot loop is all packed."""
    remarks = {"missed_vectorisation_loops": 1, "vectorised_loops": 0}
    assert diagnose({**remarks, "packed_simd_fraction": 1.0}, PARALLEL).bottleneck != (
        B.NOT_VECTORISED
    )
    without_mix = {k: v for k, v in GOOD.items() if k != "packed_simd_fraction"}
    found = rules.diagnose(cpu({**without_mix, **remarks}), rules.CPP_RULES, None, PARALLEL)
    assert found.bottleneck == B.NOT_VECTORISED  # the remarks alone still count
