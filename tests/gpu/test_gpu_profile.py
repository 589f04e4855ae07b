"""GPU profiles on a real GPU: Nsight Compute's counters, the counter-free fallback, requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluation import profile_candidate
from pragma_kernels.profilers.ncu import find_ncu
from pragma_kernels.profilers.schema import UnavailableKind
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parents[2]
SOFTMAX = ROOT / "examples" / "problems" / "softmax.py"
SOFTMAX_TRITON = ROOT / "examples" / "solutions" / "gpu" / "softmax.py"
EXTRA = "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"


def names(kernel) -> set[str]:
    return {m.name for m in kernel.metrics}


def test_ncu_profile_has_the_default_set_the_extra_metric_findings_and_meanings():
    if find_ncu() is None:
        pytest.skip("ncu is not installed here")
    verdict, profile = profile_candidate(SOFTMAX, SOFTMAX_TRITON, Target.gpu(), metrics=[EXTRA])
    assert verdict.ok, verdict.summary()
    if "ncu" not in profile.profilers():  # a runtime that refuses counters must say why
        stopped = profile.stopped("ncu")
        assert stopped is not None
        pytest.skip(f"ncu cannot read counters here: {stopped.why}")
    kernel = profile.kernels[0]
    assert "softmax" in kernel.name
    assert names(kernel) >= {
        "gpu__time_duration.sum",
        "launch__registers_per_thread",
        "sm__warps_active.avg.pct_of_peak_sustained_active",
        "dram__throughput.avg.pct_of_peak_sustained_elapsed",
        EXTRA,  # asked for: collected, not stated as missing
        "n_regs",  # Triton's metadata rides along
    }
    assert not any(u.what.startswith(EXTRA) for u in profile.unavailable)
    registers = {m.name: m.value for m in kernel.metrics}
    assert registers["launch__registers_per_thread"] == registers["n_regs"]
    assert profile.findings, "Nsight's rules gave no finding"
    meaning = next(m for m in kernel.metrics if m.name == "gpu__time_duration.sum").meaning
    assert meaning


def test_fallback_forced_gives_occupancy_and_roofline_for_the_same_kernel():
    verdict, profile = profile_candidate(SOFTMAX, SOFTMAX_TRITON, Target.gpu(), use_ncu=False)
    assert verdict.ok, verdict.summary()
    assert "ncu" not in profile.tools and "ncu" not in profile.profilers()
    assert profile.stopped("ncu").kind is UnavailableKind.DISABLED
    kernel = profile.kernels[0]
    assert names(kernel) >= {"n_regs", "theoretical_occupancy", "occupancy_limiter", "waves"}
    whole = {m.name: m.value for m in profile.metrics}
    assert 0 < whole["dram_roofline_fraction"] < 1.5
    assert whole["kernel_time_ms"] > 0


def test_unknown_gpu_metric_is_refused_with_suggestions():
    with pytest.raises(PragmaError, match="did you mean"):
        profile_candidate(
            SOFTMAX, SOFTMAX_TRITON, Target.gpu(), metrics=["dram__throughput.avg.pct_of_peek"]
        )
