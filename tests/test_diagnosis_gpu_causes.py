"""The GPU cause rules (rules_gpu.py) on small synthetic profiles, and the counter-free
evidence they read (PTX and SASS counts), the ncu metric filter and the under-ncu timing."""

import pytest

from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.profilers.gpu_fallback import ptx_counts, sass_counts
from pragma_kernels.profilers.gpu_ncu import usable_metrics
from pragma_kernels.profilers.ncu import DEFAULT_METRICS, EVIDENCE_METRICS
from pragma_kernels.profilers.schema import KernelProfile, Metric, Profile
from tests.test_diagnosis import DRAM, FALLBACK, NCU, diagnose, gpu

SECTORS_ST = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_st.ratio"
SECTORS_LD = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio"
LOCAL_LD = "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum"
LOCAL_ST = "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum"
ATOM = "l1tex__t_requests_pipe_lsu_mem_global_op_red.sum"
LOADS = "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum"
XU = "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active"
FP64 = "sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active"
SM = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
GRID = {"launch__grid_size": 4096}


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [
        # the held-out transpose: coalesced loads, column stores, 19 % of DRAM peak
        ({SECTORS_LD: 16, SECTORS_ST: 32, DRAM: 19.0, **GRID}, B.UNCOALESCED_ACCESS),
        # a spilling softmax near the DRAM roof: the spills, not the bandwidth
        (
            {
                DRAM: 82.0,
                LOCAL_LD: 3e8,
                LOCAL_ST: 2e8,
                "dram__bytes_read.sum": 1.2e9,
                "dram__bytes_write.sum": 4e8,
                **GRID,
            },
            B.REGISTER_SPILLS,
        ),
        # a little local traffic beside a streaming kernel is no spill problem
        (
            {
                DRAM: 85.0,
                LOCAL_LD: 1e6,
                "dram__bytes_read.sum": 1e9,
                "dram__bytes_write.sum": 1e9,
                **GRID,
            },
            B.MEMORY_BANDWIDTH,
        ),
        # an atomic per element, far from the roof
        ({ATOM: 4e6, LOADS: 1e6, DRAM: 8.0, SECTORS_LD: 16, **GRID}, B.ATOMIC_CONTENTION),
        # one atomic per program (a split reduction) at the roof: memory-bound
        ({ATOM: 4096, LOADS: 1e6, DRAM: 88.0, **GRID}, B.MEMORY_BANDWIDTH),
        # the XU pipe busy: transcendental-heavy, not just "compute-bound"
        ({XU: 85.0, SM: 90.0, DRAM: 12.0, **GRID}, B.SLOW_MATH),
        # the fp64 pipe busy in a float problem
        ({FP64: 70.0, SM: 75.0, DRAM: 30.0, **GRID}, B.SLOW_MATH),
        # busy FMA pipes with idle XU and FP64: plain compute-bound
        ({XU: 5.0, FP64: 0.0, SM: 90.0, DRAM: 10.0, **GRID}, B.COMPUTE),
        # the held-out divergent loop: lanes idle, SM busy
        (
            {
                "smsp__thread_inst_executed_per_inst_executed.ratio": 3.0,
                SM: 94.0,
                DRAM: 9.0,
                **GRID,
            },
            B.WARP_DIVERGENCE,
        ),
    ],
)
def test_each_cause_rule_with_counters(kernel, expected):
    assert diagnose(gpu(kernel), 132).bottleneck == expected


@pytest.mark.parametrize(
    ("kernel", "whole", "expected"),
    [
        ({"n_spills": 112, "grid_size": 2048}, {"dram_roofline_fraction": 0.3}, B.REGISTER_SPILLS),
        (
            {"ptx_atomic_instructions": 8, "grid_size": 4096},
            {"dram_roofline_fraction": 0.05},
            B.ATOMIC_CONTENTION,
        ),
        (  # one atomic per program is not contention
            {"ptx_atomic_instructions": 1, "grid_size": 4096},
            {"dram_roofline_fraction": 0.05},
            B.NONE_FOUND,
        ),
        (
            {"ptx_fp64_instructions": 160, "grid_size": 16384},
            {"dram_roofline_fraction": 0.4},
            B.SLOW_MATH,
        ),
        (
            {"ptx_transcendental_instructions": 192, "ptx_global_accesses": 16, "grid_size": 16384},
            {"dram_roofline_fraction": 0.2},
            B.SLOW_MATH,
        ),
        (  # an activation's one exp per element is not slow math
            {"ptx_transcendental_instructions": 8, "ptx_global_accesses": 16, "grid_size": 16384},
            {"dram_roofline_fraction": 0.2},
            B.NONE_FOUND,
        ),
        (
            {"ptx_global_accesses": 16, "ptx_global_access_instructions": 16, "grid_size": 16384},
            {"dram_roofline_fraction": 0.1},
            B.UNCOALESCED_ACCESS,
        ),
        (
            {
                "sass_reconvergence_points": 16,
                "ptx_global_accesses": 24,
                "ptx_global_access_instructions": 6,
                "grid_size": 16384,
            },
            {"dram_roofline_fraction": 0.1},
            B.WARP_DIVERGENCE,
        ),
        (  # fp64's libdevice slow paths branch too: the fp64 is the cause
            {"sass_reconvergence_points": 16, "ptx_fp64_instructions": 400, "grid_size": 16384},
            {"dram_roofline_fraction": 0.1},
            B.SLOW_MATH,
        ),
        (  # at the roof, static hints are no bottleneck
            {"ptx_global_accesses": 16, "ptx_global_access_instructions": 16, "grid_size": 16384},
            {"dram_roofline_fraction": 0.8},
            B.MEMORY_BANDWIDTH,
        ),
    ],
)
def test_each_cause_rule_without_counters(kernel, whole, expected):
    diagnosis = diagnose(gpu(kernel, whole, ncu=False), 132)
    assert diagnosis.bottleneck == expected
    assert not diagnosis.counters


def chain_profile(ncu: bool, dram: float, shares=(0.34, 0.33, 0.33)) -> Profile:
    """Three elementwise kernels of one call (an unfused chain)."""
    kernels = []
    for index, share in enumerate(shares):
        metrics = [Metric(name="grid_size", value=16384, **FALLBACK)]
        if ncu:
            metrics += [
                Metric(name=DRAM, value=dram, **NCU),
                Metric(name=SECTORS_LD, value=16, **NCU),
                Metric(name="launch__grid_size", value=16384, **NCU),
            ]
        kernels.append(KernelProfile(name=f"step{index}", time_share=share, metrics=metrics))
    whole = [Metric(name="kernel_launches", value=len(shares), **FALLBACK)]
    whole.append(Metric(name="dram_roofline_fraction", value=0.3, **FALLBACK))
    return Profile(tools=["gpu fallback"], target="gpu", kernels=kernels, metrics=whole)


def test_three_kernel_chain_at_the_roof_is_many_small_kernels_not_uncoalesced():
    diagnosis = diagnose(chain_profile(ncu=True, dram=88.0), 132)
    assert diagnosis.bottleneck == B.MANY_SMALL_KERNELS
    assert diagnosis.confidence > 0.9
    assert diagnose(chain_profile(ncu=False, dram=0), 132).bottleneck == B.MANY_SMALL_KERNELS


def test_a_main_kernel_with_a_tiny_finaliser_is_no_chain():
    profile = chain_profile(ncu=True, dram=88.0, shares=(0.97, 0.03))
    assert diagnose(profile, 132).bottleneck == B.MEMORY_BANDWIDTH


def test_thousands_of_launches_are_many_small_kernels():
    profile = gpu({"grid_size": 8}, {"kernel_launches": 32768, "kernel_time_ms": 90.0})
    assert diagnose(profile, 132).bottleneck == B.MANY_SMALL_KERNELS


PTX = """
	ld.global.v4.b32 { %r1, %r2, %r3, %r4 }, [ %rd1 + 0 ];
	@%p1 ld.global.b32 { %r5 }, [ %rd2 + 0 ];
	fma.rn.f64 	%fd3, %fd1, %fd2, %fd1;
	mul.f64 	%fd4, %fd3, %fd3;
	cvt.rn.f32.f64 	%r9, %fd4;
	ex2.approx.f32 	%r6, %r5;
	ex2.approx.ftz.f32 	%r7, %r6;
	rcp.approx.ftz.f32 %r8, %r7;
	div.full.f32 	%r10, %r8, %r7;
	@%p2 red.global.add.f32 	[ %rd3 + 0 ], %r8;
	atom.global.add.f32 	%r11, [ %rd3 + 0 ], %r8;
	st.global.v2.b32 	[ %rd4 + 0 ], { %r8, %r9 };
"""


def test_ptx_counts_read_fp64_transcendental_atomic_and_access_widths():
    assert ptx_counts(PTX) == {
        "ptx_fp64_instructions": 2,
        "ptx_transcendental_instructions": 3,
        "ptx_atomic_instructions": 2,
        "ptx_global_accesses": 7,  # v4 + scalar + v2
        "ptx_global_access_instructions": 3,
    }


SASS = """
        /*0080*/                   BSSY B0, `(.L_x_1) ;                    /* 0x000000d000007945 */
        /*0090*/                   LDL R2, [R1+0x10] ;                     /* 0x0000100001027983 */
        /*00a0*/              @!P0 LDL.64 R4, [R1+0x18] ;                  /* 0x0000180001048983 */
        /*00b0*/                   FFMA R3, R2, R2, R3 ;                   /* 0x0000000202037223 */
"""


def test_sass_counts_read_reconvergence_points_and_local_loads():
    assert sass_counts(SASS) == {"sass_reconvergence_points": 1, "sass_local_loads": 2}


def test_default_ncu_set_holds_what_the_rules_read():
    for name in (
        SECTORS_LD,
        SECTORS_ST,
        LOCAL_LD,
        ATOM,
        XU,
        FP64,
        "lts__t_bytes.sum",
        "smsp__thread_inst_executed_per_inst_executed.ratio",
        "smsp__issue_active.avg.pct_of_peak_sustained_active",
        "sm__warps_active.avg.pct_of_peak_sustained_active",
    ):
        assert name in DEFAULT_METRICS


def test_an_evidence_metric_this_ncu_does_not_list_is_left_out_not_fatal():
    listed = frozenset({"l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_st"})
    names, dropped = usable_metrics(list(DEFAULT_METRICS), listed)
    assert SECTORS_ST in names and LOCAL_LD in dropped
    assert SECTORS_LD in names  # asked for on the H200 already: never left out
    assert "gpu__time_duration.sum" in names  # the set proven on the H200 is never dropped
    assert set(dropped) <= set(EVIDENCE_METRICS)
    assert usable_metrics(["x"], frozenset()) == (["x"], [])  # no listing: trust the names


def test_the_worker_under_ncu_times_with_a_few_reps(monkeypatch):
    from pragma_kernels.profilers import gpu

    monkeypatch.delenv(gpu.UNDER_NCU, raising=False)
    assert gpu.timing_protocol()[0] == gpu.PROFILE_TIMING
    monkeypatch.setenv(gpu.UNDER_NCU, "1")
    protocol, how = gpu.timing_protocol()
    assert protocol.min_reps <= 5 and "under ncu" in how


def test_diagnose_asks_once_more_for_the_counters_it_needs():
    from pragma_kernels.diagnosis.passes import diagnose_with_second_pass

    first = gpu({SM: 94.0, DRAM: 9.0, **GRID})  # compute-bound? lanes unknown
    second = gpu(
        {SM: 94.0, DRAM: 9.0, "smsp__thread_inst_executed_per_inst_executed.ratio": 4.0, **GRID}
    )
    calls = []

    def again(extra):
        calls.append(extra)
        return second

    profile, diagnosis, asked = diagnose_with_second_pass(first, again, lambda p: diagnose(p, 132))
    assert calls == [asked] and "smsp__thread_inst_executed_per_inst_executed.ratio" in asked
    assert profile is second and diagnosis.bottleneck == B.WARP_DIVERGENCE
    fallback = gpu({"grid_size": 4096}, {"dram_roofline_fraction": 0.1}, ncu=False)
    assert diagnose_with_second_pass(fallback, again, lambda p: diagnose(p, 132))[2] == []
