"""Nsight Compute around the GPU profile worker: merging, and the orchestration with a
stand-in ncu (the real one runs in tests/gpu)."""

import os
from pathlib import Path

import pytest

from pragma_kernels.evaluation.isolation import run_isolated
from pragma_kernels.evaluation.schema import Job
from pragma_kernels.limits import Limits
from pragma_kernels.profilers import gpu_ncu
from pragma_kernels.profilers.gpu_ncu import (
    merge,
    metrics_for_ncu,
    ncu_limits,
    not_run,
    profile_gpu_job,
    timed_out,
)
from pragma_kernels.profilers.ncu import DEFAULT_METRICS, LAUNCH_COUNT
from pragma_kernels.profilers.requests import account_for
from pragma_kernels.profilers.schema import (
    Finding,
    KernelProfile,
    Metric,
    Profile,
    UnavailableKind,
)

ROOT = Path(__file__).resolve().parent.parent


def fallback_kernel(name: str, launches: int) -> KernelProfile:
    return KernelProfile(
        name=name,
        metrics=[
            Metric(name="n_spills", value=0, profiler="gpu_fallback", source="gpu fallback"),
            Metric(
                name="kernel_launches",
                value=launches,
                unit="count",
                profiler="gpu_fallback",
                source="gpu fallback",
            ),
        ],
    )


def counter_free(**launches: int) -> Profile:
    """The worker's counter-free profile: Triton kernels with their launches per call."""
    return Profile(
        tools=["gpu fallback"],
        target="gpu",
        metrics=[
            Metric(
                name="kernel_time_ms",
                value=0.04,
                unit="ms",
                profiler="gpu_fallback",
                source="gpu fallback",
            )
        ],
        kernels=[fallback_kernel(n, c) for n, c in (launches or {"softmax_kernel": 2}).items()],
    )


def ncu_kernel(name: str, ns: float, dram_pct: float = 80.0) -> KernelProfile:
    """One row of ncu's report: one profiled launch."""
    return KernelProfile(
        name=name,
        metrics=[
            Metric(
                name="gpu__time_duration.sum", value=ns, unit="ns", profiler="ncu", source="ncu"
            ),
            Metric(
                name="dram__throughput.avg.pct_of_peak_sustained_elapsed",
                value=dram_pct,
                unit="%",
                profiler="ncu",
                source="ncu",
            ),
        ],
    )


def metric(kernel: KernelProfile, name: str) -> Metric:
    return next(m for m in kernel.metrics if m.name == name)


def test_ncu_kernels_carry_the_counter_free_metrics_of_the_same_kernel():
    finding = Finding(severity="OPT", message="memory bound", estimated_speedup_pct=25.0)
    rows = [ncu_kernel("softmax_kernel", 30.0, 70.0), ncu_kernel("softmax_kernel", 30.0, 90.0)]
    merged = merge(counter_free(softmax_kernel=2), rows, [finding])
    assert merged.tools == ["ncu", "gpu fallback"]
    assert [k.name for k in merged.kernels] == ["softmax_kernel"]  # one entry per kernel
    kernel = merged.kernels[0]
    assert {m.name for m in kernel.metrics} == {
        "gpu__time_duration.sum",
        "dram__throughput.avg.pct_of_peak_sustained_elapsed",
        "ncu_profiled_launches",
        "n_spills",
        "kernel_launches",
    }
    # every launch profiled: times add up, rates are means, nothing is stated as missing
    assert metric(kernel, "gpu__time_duration.sum").value == 60.0
    assert metric(kernel, "dram__throughput.avg.pct_of_peak_sustained_elapsed").value == 80.0
    assert merged.metric("ncu_profiled_launches").value == 2
    assert "2 of 2" in merged.metric("ncu_profiled_launches").source
    assert merged.unavailable == []
    assert merged.findings == [finding]
    assert merged.metric("kernel_time_ms").value == 0.04


def test_sampled_launches_are_scaled_to_the_call_and_said_so():
    """32,768 launches of a small kernel, 2 profiled: the time is a scaled estimate, the
    profile says how many launches there were and how many were profiled."""
    rows = [ncu_kernel("tiny_kernel", 2.0), ncu_kernel("tiny_kernel", 4.0)]
    rows += [ncu_kernel("final_kernel", 1000.0)]
    merged = merge(counter_free(tiny_kernel=32768, final_kernel=1), rows, [])
    tiny, final = merged.kernels
    time = metric(tiny, "gpu__time_duration.sum")
    assert time.value == 3.0 * 32768
    assert "scaled" in time.source and "2 of 32,768" in time.source
    assert metric(tiny, "ncu_profiled_launches").value == 2
    assert metric(final, "gpu__time_duration.sum").source == "ncu"  # its one launch, exact
    assert abs(tiny.time_share - 98304 / 99304) < 1e-9
    whole = merged.metric("ncu_profiled_launches")
    assert whole.value == 3 and "3 of 32,769" in whole.source
    gap = merged.unavailable[-1]
    assert gap.what == "ncu counters of 32,766 of 32,769 kernel launches"
    assert "scaled" in gap.why
    text = merged.render_text()
    assert "profiled 3 of 32,769 kernel launches" in text
    assert "total per call scaled from the profiled 2 of 32,768 launches" in text


def test_launch_cap_reached_with_uncounted_kernels_is_stated():
    """PyTorch's kernels (no Triton hook counts them) filled the cap; a Triton kernel was
    never reached: its time share is not invented and the gap is stated."""
    rows = [ncu_kernel("elementwise_kernel", 5.0) for _ in range(LAUNCH_COUNT)]
    merged = merge(counter_free(late_kernel=4), rows, [])
    torch_kernel, late = merged.kernels
    assert late.name == "late_kernel" and late.time_share == 0.0
    time = metric(torch_kernel, "gpu__time_duration.sum")
    assert "not a total" in time.source
    gap = merged.unavailable[-1]
    assert gap.what == f"ncu counters past the first {LAUNCH_COUNT} launches"
    assert "late_kernel" in gap.why
    assert "more not counted" in merged.metric("ncu_profiled_launches").source


def test_ncu_gets_a_shorter_limit_than_the_job():
    assert ncu_limits(Limits(timeout_s=600, memory_mb=100)) == Limits(
        timeout_s=gpu_ncu.NCU_TIMEOUT_S, memory_mb=100
    )
    assert ncu_limits(Limits(timeout_s=60)).timeout_s == 30
    why = timed_out(120, '==PROF== Profiling "k": 0%....100% - 10 passes\n' * 3)
    assert "stopped after 120 s" in why and "3 kernel launches profiled" in why


def test_requested_extra_goes_to_ncu_unless_the_fallback_makes_it():
    names = metrics_for_ncu(["l1tex__t_sectors.sum", "n_spills"], {"n_spills"})
    assert names[: len(DEFAULT_METRICS)] == list(DEFAULT_METRICS)
    assert names[len(DEFAULT_METRICS) :] == ["l1tex__t_sectors.sum"]


def test_without_ncu_a_requested_counter_is_stated_with_why():
    profile = not_run(
        counter_free(),
        UnavailableKind.NO_COUNTERS,
        "the driver refuses access to GPU performance counters here",
    )
    account_for(profile, ["dram__throughput.avg.pct_of_peak_sustained_elapsed"])
    stated = profile.unavailable[-1]
    assert stated.what.startswith("dram__throughput") and "refuses access" in stated.why
    assert stated.kind is UnavailableKind.NO_COUNTERS and stated.profiler == "ncu"


FAKE_NCU = Path(__file__).parent / "fixtures" / "fake_ncu"
SOFTSIGN = ROOT / "examples" / "problems" / "softsign.py"
SOFTSIGN_CPP = ROOT / "examples" / "solutions" / "cpu" / "softsign.py"


def run_under_fake_ncu(monkeypatch, mode: str):
    """The real orchestration (worker under the wrapper, report read back, merge) on a CPU
    job: only the ncu executable is a stand-in."""
    monkeypatch.setenv("PATH", f"{FAKE_NCU}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NCU", mode)
    job = Job(
        action="profile",
        backend="cpp-cpu",
        problem=str(SOFTSIGN),
        solution=str(SOFTSIGN_CPP),
        size="tiny",
        metrics=["dram__throughput.avg.pct_of_peak_sustained_elapsed"],
    )
    return profile_gpu_job(job, Limits(timeout_s=300), run_isolated)


@pytest.mark.slow
def test_worker_runs_under_ncu_and_its_report_is_merged(monkeypatch):
    verdict, profile = run_under_fake_ncu(monkeypatch, "report")
    assert verdict.ok and profile.tools[0] == "ncu"
    ncu_kernel = profile.kernels[0]
    assert ncu_kernel.name == "softsign"
    assert {m.name for m in ncu_kernel.metrics} >= {"gpu__time_duration.sum", "Ir"}
    assert "device__attribute_chip" not in {m.name for m in ncu_kernel.metrics}  # section noise
    # ncu's own finding, the only one with an estimated speedup (a loaded machine, or a
    # footprint that fits a cache, adds a note of its own beside it)
    assert [f.estimated_speedup_pct for f in profile.findings if f.estimated_speedup_pct] == [18.0]
    assert {"ncu report read-back", "profiling"} <= set(profile.overhead_s)


@pytest.mark.slow
def test_ncu_past_its_limit_leaves_the_counter_free_profile_and_says_why(monkeypatch):
    monkeypatch.setattr(gpu_ncu, "NCU_TIMEOUT_S", 2.0)
    verdict, profile = run_under_fake_ncu(monkeypatch, "slow")
    assert verdict.ok and "ncu" not in profile.tools
    assert profile.unavailable[0].what == "Nsight Compute (ncu) counters"
    assert "stopped after 2 s" in profile.unavailable[0].why
    assert "2 kernel launches profiled" in profile.unavailable[0].why
    assert 2.0 <= profile.overhead_s["failed run under ncu"] < 30  # its time is accounted for


@pytest.mark.slow
def test_refused_counters_leave_the_worker_profile_and_say_why(monkeypatch):
    verdict, profile = run_under_fake_ncu(monkeypatch, "refuse")
    assert verdict.ok and "ncu" not in profile.tools
    assert profile.unavailable[0].what == "Nsight Compute (ncu) counters"
    assert "could not load its profiling library" in profile.unavailable[0].why
    assert profile.unavailable[0].kind is UnavailableKind.NO_COUNTERS


def test_dropped_launches_run_outside_the_candidates_range(monkeypatch):
    """The worker's side of sampling, with Triton's launch hooks called as its launcher
    calls them and NVTX recorded instead of sent: what ncu sees at each launch."""
    import torch
    from triton import knobs

    from pragma_kernels.profilers.gpu import candidate_range
    from pragma_kernels.profilers.ncu import NVTX_RANGE, LaunchSampler

    stack: list[str] = []
    monkeypatch.setattr(torch.cuda.nvtx, "range_push", stack.append)
    monkeypatch.setattr(torch.cuda.nvtx, "range_pop", lambda: stack.pop())

    class Launch:
        def __init__(self, name: str):
            self.name = name

        def get(self) -> dict:
            return {"name": self.name}

    seen = []
    with candidate_range(LaunchSampler(per_kernel=1)) as sampler:
        for name in ["a", "a", "b", "a"]:
            knobs.runtime.launch_enter_hook(Launch(name))
            seen.append(list(stack))
            knobs.runtime.launch_exit_hook(Launch(name))
        assert stack == [NVTX_RANGE]  # PyTorch's own launches stay in the range
    assert seen == [[NVTX_RANGE], [], [NVTX_RANGE], []]
    assert stack == [] and sampler.seen == {"a": 3, "b": 1}
    assert not knobs.runtime.launch_enter_hook.calls  # hooks removed
