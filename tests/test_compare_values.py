"""compare_tensors' blocked float32 comparison: edge cases a candidate could use to fool
it, and verdicts equal to a float64 computation's (the implementation it replaced)."""

from __future__ import annotations

import math

import pytest
import torch

import pragma_kernels.compare as compare
from pragma_kernels.compare import compare_outputs, compare_tensors
from pragma_kernels.verdict import VerdictKind

NAN, INF = float("nan"), float("inf")


def _float64_reference(ref: torch.Tensor, cand: torch.Tensor, atol: float, rtol: float):
    """The float64 value comparison compare_tensors replaced: (kind, max_abs, max_rel,
    mismatch_fraction)."""
    ref64, cand64 = ref.double(), cand.double()
    bad_finite = torch.isfinite(ref64) & ~torch.isfinite(cand64)
    if bad_finite.any():
        return VerdictKind.NON_FINITE, None, None, bad_finite.double().mean().item()
    both = torch.isfinite(ref64) & torch.isfinite(cand64)
    diff = torch.where(both, (ref64 - cand64).abs(), 0.0)
    same = torch.where(both, True, (ref64 == cand64) | (ref64.isnan() & cand64.isnan()))
    rel = torch.where(ref64.abs() > atol, diff / ref64.abs().clamp_min(atol), 0.0)
    wrong = (diff > atol + rtol * ref64.abs()) | ~same
    fraction = wrong.double().mean().item()
    stats = diff.max().item(), rel.max().item(), fraction
    if fraction > 0:
        return (VerdictKind.NUMERICAL_MISMATCH, *stats)
    ref_norm = torch.linalg.vector_norm(torch.where(both, ref64, 0.0)).item()
    relative_l2 = torch.linalg.vector_norm(diff).item() / ref_norm if ref_norm else 0.0
    return (VerdictKind.NUMERICAL_MISMATCH if relative_l2 > rtol else None, *stats)


@pytest.fixture(params=[1 << 20, 64], ids=["one-block", "blocks-of-64"])
def block(request, monkeypatch):
    monkeypatch.setattr(compare, "_CPU_BLOCK", request.param)
    return request.param


def kind(ref, cand, atol=1e-2, rtol=1e-2):
    return compare_tensors(ref, cand, atol, rtol).kind


@pytest.mark.parametrize("position", [0, 63, 64, 200, 998])
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_non_finite_where_the_reference_is_finite_fails_wherever_it_is(block, position, bad):
    ref = torch.randn(999)
    cand = ref.clone()
    cand[position] = bad
    result = compare_tensors(ref, cand, 1e-2, 1e-2)
    assert result.kind == VerdictKind.NON_FINITE and result.mismatch_fraction == 1 / 999


def test_it_outranks_a_numerical_mismatch_in_an_earlier_block(block):
    ref = torch.randn(999)
    cand = ref.clone()
    cand[:10] += 1.0
    cand[990] = NAN
    assert kind(ref, cand) == VerdictKind.NON_FINITE


def test_special_values_must_agree_exactly(block):
    ref = torch.randn(300)
    ref[[5, 100, 250]] = torch.tensor([INF, -INF, NAN])
    assert kind(ref, ref.clone()) is None  # inf = inf, NaN where the reference has NaN
    for position, value in [(5, -INF), (100, INF), (5, NAN), (250, 0.0), (250, INF), (5, 1e30)]:
        cand = ref.clone()
        cand[position] = value
        assert kind(ref, cand) == VerdictKind.NUMERICAL_MISMATCH, (position, value)


def test_signed_zeros_are_equal():
    ref = torch.tensor([0.0, -0.0, 1.0, 0.0])
    assert kind(ref, torch.tensor([-0.0, 0.0, 1.0, -0.0]), atol=0.0, rtol=0.0) is None


def test_a_difference_that_overflows_float32_is_a_mismatch_not_a_non_finite():
    ref = torch.tensor([3e38, 1.0])
    result = compare_tensors(ref, torch.tensor([-3e38, 1.0]), 1e-2, 1e-2)
    assert result.kind == VerdictKind.NUMERICAL_MISMATCH and result.max_abs_err == pytest.approx(
        6e38
    )


class _ZeroDifference(torch.Tensor):
    """A lying output: every subtraction or abs it takes part in returns zeros."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        result = super().__torch_function__(func, types, args, kwargs or {})
        if getattr(func, "__name__", "") in ("sub", "__sub__", "__rsub__", "abs", "abs_"):
            return torch.zeros_like(torch.Tensor.as_subclass(result, torch.Tensor))
        return result


def test_a_tensor_subclass_is_compared_by_its_values_not_its_overrides():
    ref = torch.randn(100)
    liar = (ref + 1.0).as_subclass(_ZeroDifference)
    assert kind(ref, liar) == VerdictKind.NUMERICAL_MISMATCH
    assert kind(ref, ref.clone().as_subclass(_ZeroDifference)) is None
    assert kind(ref, torch.nn.Parameter(ref.clone(), requires_grad=False)) is None


def test_non_contiguous_and_expanded_outputs_compare_by_logical_element(block):
    ref = torch.randn(30, 40)
    assert kind(ref, ref.t().contiguous().t()) is None  # same values, transposed strides
    square = torch.randn(30, 30)
    assert kind(square, square.t()) == VerdictKind.NUMERICAL_MISMATCH
    row = torch.randn(40)
    assert kind(row.repeat(30, 1), row.expand(30, 40)) is None  # stride 0
    assert kind(ref, ref[0].expand(30, 40)) == VerdictKind.NUMERICAL_MISMATCH


def test_the_outputs_are_not_written_to(block):
    ref, cand = torch.randn(500), torch.randn(500)
    ref[3], cand[3] = NAN, NAN
    before = ref.clone(), cand.clone()
    compare_tensors(ref, cand, 1e-2, 1e-2)
    compare_tensors(ref, ref + 1e-4, 1e-2, 1e-2)
    assert torch.allclose(ref, before[0], equal_nan=True, rtol=0, atol=0)
    assert torch.allclose(cand, before[1], equal_nan=True, rtol=0, atol=0)


def test_complex_outputs_compare_their_imaginary_parts():
    ref = torch.randn(50, dtype=torch.complex64)
    assert kind(ref, ref.clone()) is None
    assert kind(ref, ref + 1j) == VerdictKind.NUMERICAL_MISMATCH


def test_multiple_outputs_report_the_worst_and_stop_at_the_first_failure():
    a, b = torch.randn(10), torch.randn(10)
    result = compare_outputs((a, b), (a + 1e-3, b + 5e-3), 1e-2, 1e-2)
    assert result.kind is None and result.max_abs_err == pytest.approx(5e-3, rel=1e-3)
    failed = compare_outputs((a, b), (a, b.half()), 1e-2, 1e-2)
    assert failed.kind == VerdictKind.DTYPE_MISMATCH and failed.detail.startswith("output 1")


def _random_case(generator: torch.Generator, index: int):
    """A reference/candidate pair and tolerances; a third of them put a tolerance exactly
    (to 1e-9) on an element's error or on the relative L2 error."""

    def rand(*shape):
        return torch.rand(*shape, generator=generator, dtype=torch.float64)

    dtype = [torch.float32, torch.float64, torch.float16, torch.bfloat16][index % 4]
    numel = int(rand(1) * 700) + 1
    scale = 10.0 ** float(rand(1) * 8 - 5)
    ref = (torch.randn(numel, generator=generator, dtype=torch.float64) * scale).to(dtype)
    noise = torch.randn(numel, generator=generator, dtype=torch.float64)
    cand = (ref.double() + noise * scale * 10.0 ** float(rand(1) * 4 - 4)).to(dtype)
    atol, rtol = 10.0 ** float(rand(1) * 4 - 5), 10.0 ** float(rand(1) * 3 - 4)
    ref64, cand64 = ref.double(), cand.double()
    if index % 3 == 1:  # rtol on one element's exact relative error
        atol, pick = 0.0, int(rand(1) * numel)
        if ref64[pick] != 0:
            ratio = ((ref64[pick] - cand64[pick]).abs() / ref64[pick].abs()).item()
            rtol = ratio * (1 + (1e-9 if rand(1) < 0.5 else -1e-9)) or rtol
    elif index % 3 == 2:  # rtol on the exact relative L2 error, every element within atol
        cand = (-ref64 * (0.5 + rand(numel))).to(dtype)
        ref_norm = torch.linalg.vector_norm(ref64).item()
        if ref_norm:
            l2 = torch.linalg.vector_norm(ref64 - cand.double()).item() / ref_norm
            atol, rtol = 1e6, l2 * (1 + (1e-9 if rand(1) < 0.5 else -1e-9))
    if index % 5 == 0:  # NaN/Inf, sometimes matched by the candidate
        spots = (rand(3) * numel).long()
        values = torch.tensor([NAN, INF, -INF], dtype=torch.float64).to(dtype)
        ref[spots] = values
        match = rand(3) < 0.8
        cand[spots[match]] = values[match]
        if rand(1) < 0.2:
            cand[int(rand(1) * numel)] = NAN  # may land where the reference is finite
    return ref, cand, atol, rtol


def test_verdicts_and_errors_match_a_float64_computation(block):
    generator = torch.Generator().manual_seed(1234)
    for index in range(240):
        ref, cand, atol, rtol = _random_case(generator, index)
        want = _float64_reference(ref, cand, atol, rtol)
        got = compare_tensors(ref, cand, atol, rtol)
        case = (index, ref.dtype, ref.numel(), atol, rtol, want)
        assert got.kind == want[0], case
        assert got.mismatch_fraction == want[3], case
        if want[0] == VerdictKind.NON_FINITE:
            continue
        assert math.isclose(got.max_abs_err, want[1], rel_tol=1e-6, abs_tol=0), case
        assert math.isclose(got.max_rel_err, want[2], rel_tol=1e-6, abs_tol=0), case
