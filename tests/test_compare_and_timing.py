"""Output comparison and the timing protocol's statistics (pure code)."""

from __future__ import annotations

import pytest
import torch

from pragma_kernels.compare import compare_outputs, compare_tensors
from pragma_kernels.timing import Protocol, measure_interleaved, summarise
from pragma_kernels.verdict import VerdictKind


def test_equal_within_tolerance_reports_error_statistics():
    ref = torch.ones(100)
    result = compare_outputs(ref, ref + 0.005, atol=1e-2, rtol=1e-2)
    assert result.kind is None
    assert abs(result.max_abs_err - 0.005) < 1e-6 and result.mismatch_fraction == 0.0


def test_mismatch_fraction_and_kinds():
    ref = torch.zeros(100)
    cand = ref.clone()
    cand[:25] = 1.0
    result = compare_outputs(ref, cand, 1e-2, 1e-2)
    assert result.kind == VerdictKind.NUMERICAL_MISMATCH
    assert result.mismatch_fraction == 0.25 and result.max_abs_err == 1.0
    assert compare_outputs(ref, ref.double(), 1e-2, 1e-2).kind == VerdictKind.DTYPE_MISMATCH
    assert compare_outputs(ref, ref[:50], 1e-2, 1e-2).kind == VerdictKind.SHAPE_MISMATCH
    assert compare_outputs(ref, [ref, ref], 1e-2, 1e-2).kind == VerdictKind.OUTPUT_TYPE
    assert compare_outputs(ref, ref / 0, 1e-2, 1e-2).kind == VerdictKind.NON_FINITE


def test_small_outputs_scaled_wrong_fail_although_every_element_is_within_atol():
    # A softmax over 40k columns: values ~2.5e-5, so 1.5x is far inside atol=1e-2.
    ref = torch.softmax(torch.randn(8, 40_000, dtype=torch.float64), dim=-1).float()
    result = compare_tensors(ref, ref * 1.5, atol=1e-2, rtol=1e-2)
    assert result.kind == VerdictKind.NUMERICAL_MISMATCH and "relative L2" in result.detail
    # Rounding-level differences of the same outputs still pass.
    assert compare_tensors(ref, ref * (1 + 1e-6), atol=1e-2, rtol=1e-2).kind is None
    zeros = torch.zeros(16)
    assert compare_tensors(zeros, zeros + 1e-4, atol=1e-2, rtol=1e-2).kind is None


def test_integer_outputs_must_match_exactly():
    ref = torch.tensor([1, 2, 3])
    assert compare_outputs(ref, ref.clone(), 1e-2, 1e-2).kind is None
    wrong = compare_outputs(ref, torch.tensor([1, 2, 4]), 1e-2, 1e-2)
    assert wrong.kind == VerdictKind.NUMERICAL_MISMATCH and "1 of 3" in wrong.detail


def test_matching_infinities_are_not_errors():
    ref = torch.tensor([1.0, float("inf"), float("-inf")])
    assert compare_outputs(ref, ref.clone(), 1e-2, 1e-2).kind is None
    flipped = torch.tensor([1.0, float("-inf"), float("-inf")])
    assert compare_outputs(ref, flipped, 1e-2, 1e-2).kind == VerdictKind.NUMERICAL_MISMATCH


def test_summarise_median_iqr_cv():
    timing = summarise("x", [0.001, 0.002, 0.003, 0.004, 0.005], calls_per_sample=1)
    assert timing.median_ms == 3.0 and timing.iqr_ms == 2.0 and timing.min_ms == 1.0
    assert abs(timing.cv - (2**0.5) / 3) < 1e-9


def test_interleaved_measurement_groups_tiny_calls_with_a_known_clock(monkeypatch):
    """The protocol on a fake clock that each call advances by a known time: grouping,
    sample counts and medians follow from those times, not from the machine's load."""
    import pragma_kernels.timing as timing

    now = [0.0]

    def takes(seconds: float):
        def call():
            now[0] += seconds

        return call

    monkeypatch.setattr(timing, "_clock", lambda: now[0])  # the clock it bound at import
    protocol = Protocol(warmup_s=0.01, budget_s=0.1, min_samples=5)
    timings = measure_interleaved({"fast": takes(1e-6), "slow": takes(2e-3)}, protocol)
    fast, slow = timings["fast"], timings["slow"]
    assert slow.median_ms == pytest.approx(2.0) and fast.median_ms == pytest.approx(1e-3)
    assert slow.calls_per_sample == 1 and fast.calls_per_sample == pytest.approx(1000, abs=1)
    assert slow.samples == 50  # the 0.1 s budget at 2 ms a sample
    assert fast.samples >= protocol.min_samples


def test_interleaved_measurement_on_the_real_clock_gives_finite_positive_times():
    protocol = Protocol(warmup_s=0.005, budget_s=0.02, min_samples=5)
    timings = measure_interleaved({"a": lambda: sum(range(100)), "b": lambda: None}, protocol)
    for timing in timings.values():
        assert 0 < timing.median_ms < float("inf") and timing.samples >= 5


def test_explain_refines_the_cause_from_the_error_text():
    from pragma_kernels.verdict import explain

    cause, _ = explain(VerdictKind.NUMERICAL_MISMATCH, "4 of 4 elements (mismatch_fraction=1)")
    assert cause.startswith("Every element differs")
    cause, remedy = explain(VerdictKind.BUILD, "error: 'expf' was not declared in this scope")
    assert "header" in cause and "<cmath>" in remedy
    assert explain(VerdictKind.CRASH)[0].startswith("The worker process died")


def test_rotation_gives_each_callable_each_position():
    from pragma_kernels.timing import rotation

    orders = [rotation(["a", "b", "c"], i) for i in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]


def test_gpu_reconcile_keeps_events_when_host_agrees_and_flags_side_stream_work():
    from pragma_kernels.timing_gpu import GpuProtocol, reconcile

    plain = reconcile("k", [2.0, 2.1, 2.0], [2.05, 2.15, 2.06], 0.01, GpuProtocol(), "m")
    assert plain.median_ms == 2.0 and "WARNING" not in plain.method
    side = reconcile("k", [0.4, 0.4, 0.4], [40.0, 41.0, 40.5], 0.01, GpuProtocol(), "m")
    assert abs(side.median_ms - 40.49) < 1e-6 and "WARNING" in side.method
    assert (side.event_median_ms, side.host_median_ms) == (0.4, 40.5)
