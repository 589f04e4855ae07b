"""Compare a candidate's output with the reference's: structure, shape, dtype, values.

Pure torch code, no I/O. Returns a verdict kind (None when equal within
tolerance) and the error statistics that go into the Verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pragma_kernels.verdict import VerdictKind


@dataclass(frozen=True)
class Comparison:
    kind: VerdictKind | None  # None: match
    detail: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    mismatch_fraction: float | None = None


def flatten_outputs(value) -> list | None:
    """A forward result as a list of tensors, or None if it holds something else."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)) and all(isinstance(v, torch.Tensor) for v in value):
        return list(value)
    return None


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def compare_outputs(reference, candidate, atol: float, rtol: float) -> Comparison:
    ref_list, cand_list = flatten_outputs(reference), flatten_outputs(candidate)
    if cand_list is None or ref_list is None or len(ref_list) != len(cand_list):
        return Comparison(
            VerdictKind.OUTPUT_TYPE,
            f"reference returned {_describe(reference)}, candidate returned {_describe(candidate)}",
        )
    worst = Comparison(None, max_abs_err=0.0, max_rel_err=0.0, mismatch_fraction=0.0)
    for index, (ref, cand) in enumerate(zip(ref_list, cand_list, strict=True)):
        where = f"output {index}: " if len(ref_list) > 1 else ""
        result = compare_tensors(ref, cand, atol, rtol, where)
        if result.kind is not None:
            return result
        if (result.max_abs_err or 0.0) >= (worst.max_abs_err or 0.0):
            worst = result
    return worst


def compare_tensors(
    ref: torch.Tensor, cand: torch.Tensor, atol: float, rtol: float, where: str = ""
) -> Comparison:
    if tuple(ref.shape) != tuple(cand.shape):
        return Comparison(
            VerdictKind.SHAPE_MISMATCH,
            f"{where}expected shape {tuple(ref.shape)}, got {tuple(cand.shape)}",
        )
    if ref.dtype != cand.dtype:
        return Comparison(
            VerdictKind.DTYPE_MISMATCH, f"{where}expected dtype {ref.dtype}, got {cand.dtype}"
        )
    if ref.device != cand.device:
        cand = cand.to(ref.device)
    if ref.numel() == 0:
        return Comparison(None, max_abs_err=0.0, max_rel_err=0.0, mismatch_fraction=0.0)
    if not (ref.is_floating_point() or ref.is_complex()):
        wrong = ref != cand
        fraction = wrong.float().mean().item()
        if fraction:
            return Comparison(
                VerdictKind.NUMERICAL_MISMATCH,
                f"{where}{wrong.sum().item()} of {ref.numel()} integer elements "
                f"differ (mismatch_fraction={fraction:.4g})",
                mismatch_fraction=fraction,
            )
        return Comparison(None, max_abs_err=0.0, max_rel_err=0.0, mismatch_fraction=0.0)

    ref64, cand64 = ref.double(), cand.double()
    bad_finite = torch.isfinite(ref64) & ~torch.isfinite(cand64)
    if bad_finite.any():
        return Comparison(
            VerdictKind.NON_FINITE,
            f"{where}{bad_finite.sum().item()} elements are NaN/Inf where the reference is finite",
            mismatch_fraction=bad_finite.double().mean().item(),
        )
    diff = (ref64 - cand64).abs()
    both_finite = torch.isfinite(ref64) & torch.isfinite(cand64)
    diff = torch.where(both_finite, diff, torch.zeros_like(diff))
    # Non-finite in both must agree exactly (same inf sign, NaN where NaN).
    same_special = torch.where(
        both_finite, True, (ref64 == cand64) | (ref64.isnan() & cand64.isnan())
    )
    # Relative error only where the reference is not ~0, else it is meaningless.
    rel = torch.where(ref64.abs() > atol, diff / ref64.abs().clamp_min(atol), 0.0)
    wrong = (diff > atol + rtol * ref64.abs()) | ~same_special
    fraction = wrong.double().mean().item()
    stats = dict(
        max_abs_err=diff.max().item(), max_rel_err=rel.max().item(), mismatch_fraction=fraction
    )
    if fraction > 0:
        return Comparison(
            VerdictKind.NUMERICAL_MISMATCH,
            f"{where}{wrong.sum().item()} of {ref.numel()} elements differ beyond "
            f"atol={atol:g}, rtol={rtol:g} (max abs err {stats['max_abs_err']:.4g}, "
            f"mismatch_fraction={fraction:.4g})",
            **stats,
        )
    # Outputs far smaller than atol (a softmax over 10^5 columns) pass any elementwise
    # check: the error relative to the output's own size catches them.
    ref_norm = torch.linalg.vector_norm(torch.where(both_finite, ref64, 0.0)).item()
    relative_l2 = torch.linalg.vector_norm(diff).item() / ref_norm if ref_norm else 0.0
    if relative_l2 > rtol:
        return Comparison(
            VerdictKind.NUMERICAL_MISMATCH,
            f"{where}every element is within atol={atol:g}, but the output is off by "
            f"{relative_l2:.3g} of its own size (relative L2 error > rtol={rtol:g}); "
            f"its values are small (max |reference| {ref64.abs().max().item():.3g}), "
            "so the absolute tolerance hides the error",
            **stats,
        )
    return Comparison(None, **stats)
