"""Bottleneck rules on real H200 profiles and on small synthetic ones (one rule each)."""

from pathlib import Path

import pytest

from pragma_kernels.diagnosis import rules
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.profilers.schema import (
    KernelProfile,
    Metric,
    Profile,
    Unavailable,
    UnavailableKind,
)


def diagnose(profile: Profile, sm_count: int | None = None, source: str = ""):
    """The rule set a backend would pass: these tests build their profiles for one of them."""
    rule_set = rules.TRITON_RULES if profile.target == "gpu" else rules.CPP_RULES
    return rules.diagnose(profile, rule_set, sm_count, source)


ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "profiles"


def load(name: str) -> Profile:
    return Profile.model_validate_json((FIXTURES / name).read_text())


NCU = {"profiler": "ncu", "source": "ncu"}
FALLBACK = {"profiler": "gpu_fallback", "source": "gpu fallback"}


def gpu(kernel: dict, whole: dict | None = None, ncu: bool = True) -> Profile:
    """A one-kernel GPU profile; names with "__" are ncu counters, the rest counter-free."""
    profile = Profile(
        tools=["ncu", "gpu fallback"] if ncu else ["gpu fallback"],
        target="gpu",
        kernels=[
            KernelProfile(
                name="k",
                metrics=[
                    Metric(name=n, value=v, **(NCU if "__" in n else FALLBACK))
                    for n, v in kernel.items()
                ],
            )
        ],
        metrics=[Metric(name=n, value=v, **FALLBACK) for n, v in (whole or {}).items()],
    )
    if not ncu:
        profile.unavailable.append(
            Unavailable(
                what="Nsight Compute (ncu) counters",
                why="x",
                kind=UnavailableKind.NO_COUNTERS,
                profiler="ncu",
            )
        )
    return profile


DRAM = "dram__throughput.avg.pct_of_peak_sustained_elapsed"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("gpu/softmax_h200_ncu.json", B.MEMORY_BANDWIDTH),  # 78 % DRAM
        ("gpu/rms_norm_h200_ncu.json", B.MEMORY_BANDWIDTH),  # 84 % DRAM
        ("gpu/gemm_square_h200_ncu.json", B.COMPUTE),  # SM 62 %, DRAM 15 %, tl.dot used
    ],
)
def test_real_h200_profiles_of_the_hand_written_solutions(fixture, expected):
    profile = load(fixture)
    solution = ROOT / "examples" / "solutions" / "gpu" / fixture.split("/")[1].split("_h200")[0]
    diagnosis = diagnose(profile, 132, solution.with_suffix(".py").read_text())
    assert diagnosis.bottleneck == expected
    assert diagnosis.counters and diagnosis.evidence and diagnosis.hints


def test_a_persistent_kernel_beside_a_tiny_fill_kernel_is_not_a_launch_tail():
    """H200, ncu (hand-answered run, 23_Softmax attempt 2): a cooperative softmax, grid =
    132 SMs at one program each, register-capped at 25 % occupancy, DRAM 55 %; torch's
    4-program counter fill is 0.04 % of the time. The launch figures are the dominant
    kernel's, not a time-weighted mean (131.95 programs, "< 132 SMs")."""
    profile = load("gpu/softmax_coop_h200_ncu.json")
    assert profile.metric("launch__grid_size").value == 132
    diagnosis = diagnose(profile, 132)
    assert diagnosis.bottleneck == B.LOW_OCCUPANCY_REGISTERS
    alternatives = {a.bottleneck for a in diagnosis.alternatives}
    assert not alternatives & {B.LAUNCH_TAIL, B.UNCOALESCED_ACCESS}  # 128-bit stores


def test_memory_bound_names_its_evidence_with_threshold_and_source():
    diagnosis = diagnose(gpu({DRAM: 88.0}))
    assert diagnosis.bottleneck == B.MEMORY_BANDWIDTH
    (evidence,) = diagnosis.evidence
    assert evidence.metric == DRAM and evidence.value == 88 and evidence.source == "ncu"
    assert "60 %" in evidence.threshold


@pytest.mark.parametrize(
    ("kernel", "whole", "expected"),
    [
        ({"launch__grid_size": 8}, (), B.LAUNCH_TAIL),
        ({"grid_size": 4}, (), B.LAUNCH_TAIL),
        ({}, (("kernel_launches", 64), ("kernel_time_ms", 0.5)), B.MANY_SMALL_KERNELS),
        ({"n_spills": 40, "grid_size": 10000}, (), B.REGISTER_SPILLS),  # its own class now
        (
            {
                "theoretical_occupancy": 12.5,
                "occupancy_limiter": "shared memory",
                "grid_size": 10000,
            },
            (),
            B.LOW_OCCUPANCY_SHARED_MEMORY,
        ),
        (
            {
                "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio": 31.5,
                "launch__grid_size": 4096,
            },
            (),
            B.UNCOALESCED_ACCESS,
        ),
        (
            {"smsp__thread_inst_executed_per_inst_executed.ratio": 9.0, "grid_size": 4096},
            (),
            B.WARP_DIVERGENCE,
        ),
        (
            {
                "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum": 5e6,
                "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum": 8e6,
                "grid_size": 4096,
            },
            (),
            B.SHARED_MEMORY_BANK_CONFLICTS,
        ),
        (
            {
                "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active": 0.0,
                "grid_size": 4096,
            },
            (("compute_roofline_fraction", 0.02),),
            B.TENSOR_CORES_UNUSED,
        ),
    ],
)
def test_each_gpu_rule(kernel, whole, expected):
    assert diagnose(gpu(kernel, dict(whole)), 132).bottleneck == expected


SECTORS = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio"


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [
        # 16 sectors at the DRAM roof: 128-bit vector loads, coalesced (H200 softmax case)
        ({SECTORS: 16, DRAM: 86.0, "launch__grid_size": 4096}, B.MEMORY_BANDWIDTH),
        # 16 sectors far below the roof: scattered scalar loads are the likely reading
        ({SECTORS: 16, DRAM: 14.0, "launch__grid_size": 4096}, B.UNCOALESCED_ACCESS),
        # ... unless the PTX says every access is a 128-bit vector: 16 whole sectors
        (
            {
                SECTORS: 16,
                DRAM: 14.0,
                "launch__grid_size": 4096,
                "ptx_global_accesses": 64,
                "ptx_global_access_instructions": 16,
            },
            B.NONE_FOUND,
        ),
        # scalar PTX accesses (width 1) touching 8 sectors: uncoalesced
        (
            {
                SECTORS: 8,
                DRAM: 14.0,
                "launch__grid_size": 4096,
                "ptx_global_accesses": 16,
                "ptx_global_access_instructions": 16,
            },
            B.UNCOALESCED_ACCESS,
        ),
        # a streaming reduction's final cross-warp tl.sum conflicts on few wavefronts: the
        # kernel is at the DRAM roof (H200 scripted loop, sum_reduction_dim's fixed kernel)
        (
            {
                "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum": 3e5,
                "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum": 6e5,
                DRAM: 83.0,
                "launch__grid_size": 4096,
            },
            B.MEMORY_BANDWIDTH,
        ),
        # the same conflict share far below the roof: the conflicts are the limiter
        (
            {
                "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum": 3e5,
                "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum": 6e5,
                DRAM: 29.0,
                "launch__grid_size": 4096,
            },
            B.SHARED_MEMORY_BANK_CONFLICTS,
        ),
        # idle lanes make a kernel look compute-bound; the divergence is the cause
        (
            {
                "sm__throughput.avg.pct_of_peak_sustained_elapsed": 94.0,
                DRAM: 9.0,
                "smsp__thread_inst_executed_per_inst_executed.ratio": 12.0,
                "launch__grid_size": 4096,
            },
            B.WARP_DIVERGENCE,
        ),
    ],
)
def test_sectors_per_request_and_divergence_need_their_context(kernel, expected):
    assert diagnose(gpu(kernel), 132).bottleneck == expected


def test_compute_bound_asks_for_the_lane_activity_that_would_show_divergence():
    kernel = {"sm__throughput.avg.pct_of_peak_sustained_elapsed": 94.0, DRAM: 9.0}
    diagnosis = diagnose(gpu({**kernel, "launch__grid_size": 4096}), 132)
    assert diagnosis.bottleneck == B.COMPUTE
    assert "smsp__thread_inst_executed_per_inst_executed.ratio" in diagnosis.extra_metrics


def test_fallback_profile_lowers_confidence_and_source_shows_missing_tl_dot():
    whole = {"compute_roofline_fraction": 0.02, "dram_roofline_fraction": 0.1}
    tensor = "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active"
    with_counters = diagnose(gpu({"grid_size": 4096, tensor: 0.0}, whole))
    fallback = diagnose(gpu({"grid_size": 4096}, whole, ncu=False), 132, "tl.sum(a * b)")
    assert with_counters.bottleneck == fallback.bottleneck == B.TENSOR_CORES_UNUSED
    assert not fallback.counters and fallback.confidence < with_counters.confidence
    assert any(e.source == "static: candidate source" for e in fallback.evidence)
    uses_dot = diagnose(gpu({"grid_size": 4096}, whole, ncu=False), 132, "tl.dot(a, b)")
    assert uses_dot.bottleneck != B.TENSOR_CORES_UNUSED or uses_dot.confidence < 0.4


def test_a_memory_bound_matmul_form_is_not_told_to_use_tensor_cores():
    # A GEMV at 96 % of DRAM: FLOPs counted (matmul-like) but below the ridge point.
    tensor = "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active"
    whole = {"compute_roofline_fraction": 0.004, "roofline_bound": "memory"}
    diagnosis = diagnose(gpu({"grid_size": 4096, tensor: 0.0, DRAM: 96.0}, whole), 132)
    assert diagnosis.bottleneck == B.MEMORY_BANDWIDTH
    assert B.TENSOR_CORES_UNUSED not in [c.bottleneck for c in diagnosis.alternatives]


def test_a_two_pass_kernel_at_the_dram_roof_shows_its_extra_bytes():
    # The hand-answered H200 softmax: 84.6 % of DRAM, 1.45x the operator's minimum bytes.
    kernel = {DRAM: 84.55, SECTORS: 16.0, "grid_size": 4096}
    two_pass = diagnose(gpu(kernel, {"dram_traffic_over_minimum": 1.45}), 132)
    assert two_pass.bottleneck == B.MEMORY_BANDWIDTH
    assert "dram_traffic_over_minimum" in [e.metric for e in two_pass.evidence]
    one_pass = diagnose(gpu(kernel, {"dram_traffic_over_minimum": 1.0}), 132)
    assert "dram_traffic_over_minimum" not in [e.metric for e in one_pass.evidence]


def test_unclear_profile_says_so_and_asks_for_the_counters_that_would_tell():
    throughput = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
    diagnosis = diagnose(gpu({"launch__grid_size": 4096, throughput: 20.0}))
    assert diagnosis.bottleneck == B.NONE_FOUND
    assert "smsp__thread_inst_executed_per_inst_executed.ratio" in diagnosis.extra_metrics
    measured = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio"
    again = diagnose(gpu({"launch__grid_size": 4096, throughput: 20.0, measured: 4.0}))
    assert measured not in again.extra_metrics  # never asks for what the profile holds


def cpu(*kernel_metrics, whole=()) -> Profile:
    return Profile(
        tools=["perf", "cachegrind"],
        target="cpu",
        kernels=[
            KernelProfile(
                name="f",
                metrics=[
                    Metric(name=n, value=v, profiler="cachegrind", source="cachegrind")
                    for n, v in kernel_metrics
                ],
            )
        ],
        metrics=[Metric(name=n, value=v, profiler="static_cpu", source="static") for n, v in whole],
        unavailable=[
            Unavailable(
                what="top-down level 1 (perf)",
                why="no PMU",
                kind=UnavailableKind.NO_COUNTERS,
                profiler="perf",
            )
        ],
    )


@pytest.mark.parametrize(
    ("kernel", "whole", "expected"),
    [
        ((("branch_mispredict_rate", 0.12),), (), B.BRANCH_MISPREDICT),
        ((("D1_miss_rate", 0.3),), (), B.CACHE_MISS_BOUND),
        ((("D1_miss_rate", 0.3),), (("arithmetic_intensity", 40.0),), B.POOR_DATA_REUSE),
        ((), (("thread_scaling", 1.02),), B.SINGLE_THREADED),
        ((), (("packed_simd_fraction", 0.0), ("scalar_fp_instructions", 6)), B.NOT_VECTORISED),
        ((("I1mr", 5e6), ("Ir", 1e8)), (), B.FRONTEND_BOUND),
        ((), (("roofline_fraction", 0.85), ("thread_scaling", 1.6)), B.MEMORY_BANDWIDTH),
    ],
)
def test_each_cpu_rule(kernel, whole, expected):
    diagnosis = diagnose(cpu(*kernel, whole=whole))
    assert diagnosis.bottleneck == expected and not diagnosis.counters
    assert any("omp" in h or "loop" in h or "branch" in h or "code" in h for h in diagnosis.hints)


def test_labelled_cpu_suite_profiles_are_diagnosed_and_twins_are_not():
    """Real profiles of the labelled CPU suite (benchmarks/diagnosis, recorded on the CI VM):
    the planted bottleneck is named, the fixed twin does not get the same label."""
    import tomllib

    cases = tomllib.loads((ROOT / "benchmarks" / "diagnosis" / "cases_cpu.toml").read_text())
    hits, clean = [], []
    for case in cases["case"]:
        for which in ("planted", "fixed"):
            profile = load(f"cpu/{case['name']}_{which}.json")
            source = (ROOT / case[which]).read_text()
            label = diagnose(profile, None, source).bottleneck.value
            (hits if which == "planted" else clean).append(
                label == case["label"] if which == "planted" else label != case["label"]
            )
    assert sum(hits) >= 0.9 * len(hits) and all(clean)
