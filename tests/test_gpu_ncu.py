"""Nsight Compute around the GPU profile worker: merging, and the orchestration with a
stand-in ncu (the real one runs in tests/gpu)."""

import os
from pathlib import Path

import pytest

from pragma_kernels.isolation import Limits
from pragma_kernels.profilers.gpu_ncu import merge, metrics_for_ncu, not_run, profile_gpu_job
from pragma_kernels.profilers.ncu import DEFAULT_METRICS
from pragma_kernels.profilers.requests import account_for
from pragma_kernels.profilers.schema import Finding, KernelProfile, Metric, Profile
from pragma_kernels.worker import Job

ROOT = Path(__file__).resolve().parent.parent


def counter_free() -> Profile:
    return Profile(
        tools=["gpu fallback"],
        target="gpu",
        metrics=[Metric(name="kernel_time_ms", value=0.04, unit="ms", source="gpu fallback")],
        kernels=[
            KernelProfile(
                name="softmax_kernel",
                metrics=[Metric(name="n_spills", value=0, source="gpu fallback")],
            )
        ],
    )


def ncu_kernel(name: str, ns: float) -> KernelProfile:
    return KernelProfile(
        name=name,
        metrics=[Metric(name="gpu__time_duration.sum", value=ns, unit="ns", source="ncu")],
    )


def test_ncu_kernels_carry_the_counter_free_metrics_of_the_same_kernel():
    finding = Finding(severity="OPT", message="memory bound", estimated_speedup_pct=25.0)
    kernels = [ncu_kernel("softmax_kernel", 30.0), ncu_kernel("softmax_kernel", 30.0)]
    for kernel in kernels:
        kernel.time_share = 0.5
    merged = merge(counter_free(), kernels, [finding])
    assert merged.tools == ["ncu", "gpu fallback"]
    assert [k.name for k in merged.kernels] == ["softmax_kernel", "softmax_kernel (launch 2)"]
    first = {m.name for m in merged.kernels[0].metrics}
    assert first == {"gpu__time_duration.sum", "n_spills"}
    assert merged.findings == [finding]
    assert merged.metric("kernel_time_ms").value == 0.04


def test_requested_extra_goes_to_ncu_unless_the_fallback_makes_it():
    names = metrics_for_ncu(["l1tex__t_sectors.sum", "n_spills"], {"n_spills"})
    assert names[: len(DEFAULT_METRICS)] == list(DEFAULT_METRICS)
    assert names[len(DEFAULT_METRICS) :] == ["l1tex__t_sectors.sum"]


def test_without_ncu_a_requested_counter_is_stated_with_why():
    profile = not_run(counter_free(), "the driver refuses access to GPU performance counters here")
    account_for(profile, ["dram__throughput.avg.pct_of_peak_sustained_elapsed"])
    stated = profile.unavailable[-1]
    assert stated.what.startswith("dram__throughput") and "refuses access" in stated.why


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
        problem=str(SOFTSIGN),
        solution=str(SOFTSIGN_CPP),
        size="tiny",
        metrics=["dram__throughput.avg.pct_of_peak_sustained_elapsed"],
    )
    return profile_gpu_job(job, Limits(timeout_s=300))


@pytest.mark.slow
def test_worker_runs_under_ncu_and_its_report_is_merged(monkeypatch):
    verdict, profile = run_under_fake_ncu(monkeypatch, "report")
    assert verdict.ok and profile.tools[0] == "ncu"
    ncu_kernel = profile.kernels[0]
    assert ncu_kernel.name == "softsign"
    assert {m.name for m in ncu_kernel.metrics} >= {"gpu__time_duration.sum", "Ir"}
    assert "device__attribute_chip" not in {m.name for m in ncu_kernel.metrics}  # section noise
    assert profile.findings[0].estimated_speedup_pct == 18.0
    assert {"ncu report read-back", "profiling"} <= set(profile.overhead_s)


@pytest.mark.slow
def test_refused_counters_leave_the_worker_profile_and_say_why(monkeypatch):
    verdict, profile = run_under_fake_ncu(monkeypatch, "refuse")
    assert verdict.ok and "ncu" not in profile.tools
    assert profile.unavailable[0].what == "Nsight Compute (ncu) counters"
    assert "could not load its profiling library" in profile.unavailable[0].why
