"""The GPU backend on a real GPU: verdict kinds, fresh workers after a fault, the timer."""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels.evaluation import TimeOptions, VerifyOptions, time_problem, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.targets import Target
from pragma_kernels.verdict import VerdictKind

from .. import triton_candidates as candidates

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "problems" / "tiny_relu.py"
RELU = ROOT / "examples" / "problems" / "relu.py"


@pytest.fixture(scope="module")
def target() -> Target:
    return Target.gpu()


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "candidate.py"
    path.write_text(source)
    return path


def check(tmp_path, source, target, problem=TINY, **options):
    return verify(
        problem,
        write(tmp_path, source),
        target,
        VerifyOptions(limits=Limits(timeout_s=60), **options),
    )


def test_triton_relu_passes_at_gpu_size_in_every_dtype(tmp_path, target):
    for dtype in ("float32", "float16", "bfloat16"):
        verdict = check(tmp_path, candidates.RELU, target, problem=RELU, dtype=dtype)
        assert verdict.ok, verdict.model_dump_json(indent=1)
        assert verdict.dtype == dtype


def test_illegal_memory_access_is_classified_and_the_next_worker_is_clean(tmp_path, target):
    verdict = check(tmp_path, candidates.OUT_OF_BOUNDS, target)
    assert verdict.kind in (VerdictKind.ILLEGAL_MEMORY_ACCESS, VerdictKind.CRASH), (
        verdict.model_dump_json(indent=1)
    )
    again = check(tmp_path, candidates.RELU, target)
    assert again.ok, again.model_dump_json(indent=1)


def test_triton_compile_error_points_at_the_kernel_line(tmp_path, target):
    verdict = check(tmp_path, candidates.COMPILE_ERROR, target)
    assert verdict.kind == VerdictKind.TRITON_COMPILE, verdict.model_dump_json(indent=1)
    assert verdict.location and verdict.location.startswith(str(tmp_path / "candidate.py"))
    assert verdict.cause and verdict.remedy


def test_out_of_resources_reports_the_limit(tmp_path, target):
    verdict = check(tmp_path, candidates.OUT_OF_RESOURCES, target)
    assert verdict.kind == VerdictKind.OUT_OF_RESOURCES, verdict.model_dump_json(indent=1)
    assert verdict.details["limit"] > 0 and verdict.details["required"] > verdict.details["limit"]


def test_side_stream_work_is_not_timed_as_fast(tmp_path, target):
    """The static policy refuses side streams (cuda-stream); allowed, the timer's own
    cross-check with host time must still not call the work fast."""
    candidate = write(tmp_path, candidates.SIDE_STREAM)
    refused = verify(RELU, candidate, target, VerifyOptions())
    assert refused.kind == VerdictKind.FORBIDDEN_CODE and "cuda-stream" in refused.message
    allow = ("cuda-stream",)
    assert verify(RELU, candidate, target, VerifyOptions(allow=allow)).ok
    options = TimeOptions(baselines=("eager",), budget_s=0.3, allow=allow)
    report = time_problem(RELU, candidate, target, options)
    assert report.verdict.ok, report.verdict.model_dump_json(indent=1)
    timing = report.timings["candidate"]
    # Events alone would call 20 side-stream ReLU passes fast: the host-timed figure is
    # reported instead, flagged. (reconcile's rule, with known figures: test_compare_and_timing;
    # here no real time is asserted to beat another.)
    assert "WARNING" in timing.method and "reporting the host-timed figure" in timing.method
    assert timing.median_ms != pytest.approx(timing.event_median_ms)
    assert 0 < timing.median_ms < float("inf") and 0 < report.speedup("eager") < float("inf")


def test_timer_reports_events_and_host_figures_that_agree_for_plain_kernels(tmp_path, target):
    report = time_problem(
        RELU,
        write(tmp_path, candidates.RELU),
        target,
        TimeOptions(baselines=("eager",), budget_s=0.3),
    )
    for timing in report.timings.values():
        assert timing.samples >= 100
        assert "WARNING" not in timing.method
        assert timing.median_ms == pytest.approx(timing.event_median_ms)  # events: the figure
        assert 0 < timing.host_median_ms < float("inf")
    assert report.timings["candidate"].setup_s > 0


def test_launches_are_counted_on_cuda_and_a_forward_without_one_is_no_kernel(tmp_path, target):
    """JITFunction.run is what `kernel[grid](...)` and the autotuner call on CUDA: counted,
    an honest candidate passes with no warning; one that returns torch's result does not."""
    from ..redteam.test_worker_static import TRITON_HIDDEN

    honest = check(tmp_path, candidates.RELU, target)
    assert honest.ok and honest.warnings == [], honest.model_dump_json(indent=1)
    hidden = check(tmp_path, TRITON_HIDDEN, target)
    assert hidden.kind == VerdictKind.NO_KERNEL, hidden.model_dump_json(indent=1)


# Warnings a solution's docstring explains: the pointwise conv uses TF32 as cuDNN does for the
# reference; the GEMM's explicit "tf32" dots are a 3xTF32 split, as exact as float32, which
# the static rule cannot tell from a plain TF32 dot.
EXPECTED_WARNINGS = {"conv2d_pointwise": {"tf32-dot"}, "gemm_square": {"tf32-dot"}}


@pytest.mark.parametrize(
    "solution",
    sorted((ROOT / "examples" / "solutions" / "gpu").glob("*.py")),
    ids=lambda p: p.stem,
)
def test_every_gpu_solution_passes_the_default_policy_and_launch_count(solution, target):
    problem = ROOT / "examples" / "problems" / solution.name
    verdict = verify(problem, solution, target, VerifyOptions(limits=Limits(timeout_s=300)))
    expected = EXPECTED_WARNINGS.get(solution.stem, set())
    unexplained = [w for w in verdict.warnings if not any(f"[{rule}]" in w for rule in expected)]
    assert verdict.ok and unexplained == [], verdict.model_dump_json(indent=1)
