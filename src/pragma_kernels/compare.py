"""Compare a candidate's output with the reference's: structure, shape, dtype, values.

Pure torch code, no I/O. Returns a verdict kind (None when equal within
tolerance) and the error statistics that go into the Verdict.

Floating outputs are compared in blocks, in float32 (float64 for float64 and complex
outputs): a block's temporaries stay in cache and peak memory is bounded. Verdicts are
those of a float64 computation: elements whose float32 error lies within a small margin
of the tolerance are recounted in float64, and so is the relative L2 error when it lies
near rtol. max_abs_err and max_rel_err carry the compute dtype's rounding (~1e-7).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from pragma_kernels.verdict import VerdictKind


@dataclass(frozen=True)
class Comparison:
    kind: VerdictKind | None  # None: match
    detail: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    mismatch_fraction: float | None = None


# atol = rtol per dtype compared: KernelBench v0.1's 1e-2 for fp32 (the PRAGMA paper's
# setting) and 1e-2 for the half types; a dtype not listed (float64) takes float32's.
DEFAULT_TOLERANCE = {"float32": 1e-2, "float16": 1e-2, "bfloat16": 1e-2}


def default_tolerance(dtype: str) -> float:
    return DEFAULT_TOLERANCE.get(dtype, DEFAULT_TOLERANCE["float32"])


def compared_dtype(*groups: list) -> str:
    """The dtype a comparison is made in (it sets the default tolerances), by name: the
    lowest-precision floating dtype in the first group holding a floating tensor (the
    reference's outputs, then its inputs for outputs such as argmax's); "" if none does."""
    for group in groups:
        floating = [x.dtype for x in group if isinstance(x, torch.Tensor) and x.is_floating_point()]
        if floating:
            coarsest = max(floating, key=lambda dtype: torch.finfo(dtype).eps)
            return str(coarsest).removeprefix("torch.")
    return ""


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
    ref, cand = _plain(ref), _plain(cand)
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
    return _compare_floating(ref, cand, atol, rtol, where)


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """The same storage as a plain Tensor: a subclass's __torch_function__ (which could
    make `a - b` return zeros) takes no part in the comparison."""
    if type(tensor) is torch.Tensor:
        return tensor
    with torch._C.DisableTorchFunctionSubclass():
        return torch.Tensor.as_subclass(tensor, torch.Tensor)


# Elements per block on the CPU: a block's float32 temporaries (~20 MiB) stay in L3, and
# blocks are few: on a loaded 2-core machine each parallel torch op costs a thread
# rendezvous (1 << 18 was 1.5x slower there with 2 threads). On a GPU a block costs a
# few host syncs, so blocks are large there.
_CPU_BLOCK = 1 << 20
_DEVICE_BLOCK = 1 << 26
# float32 thresholds are lowered by this relative margin (rounding is < 1e-6 of them);
# elements past the lowered threshold are recounted in float64.
_MARGIN = 1e-5


@dataclass
class _Tally:
    """Statistics over the blocks seen so far."""

    wrong: int = 0
    non_finite: int = 0  # NaN/Inf where the reference is finite
    max_abs: float = 0.0
    max_rel: float = 0.0
    diff_norms: list[float] = field(default_factory=list)
    ref_norms: list[float] = field(default_factory=list)

    def needs_norms(self) -> bool:
        """The relative L2 check runs only when nothing else failed."""
        return not (self.wrong or self.non_finite)


def _compare_floating(
    ref: torch.Tensor, cand: torch.Tensor, atol: float, rtol: float, where: str
) -> Comparison:
    dtype = _compute_dtype(ref.dtype, atol, rtol)
    flat = ref.reshape(-1), cand.reshape(-1)
    step = _CPU_BLOCK if ref.device.type == "cpu" else _DEVICE_BLOCK
    tally = _Tally()
    floor = _atol_floor(atol, dtype)
    for r, c in _blocks(*flat, step, dtype):
        if r.is_complex():
            _tally_special(r, c, atol, rtol, tally)
        else:
            _tally_block(r, c, atol, rtol, floor, tally)
    if tally.non_finite:
        return Comparison(
            VerdictKind.NON_FINITE,
            f"{where}{tally.non_finite} elements are NaN/Inf where the reference is finite",
            mismatch_fraction=tally.non_finite / ref.numel(),
        )
    fraction = tally.wrong / ref.numel()
    stats = dict(max_abs_err=tally.max_abs, max_rel_err=tally.max_rel, mismatch_fraction=fraction)
    if fraction > 0:
        return Comparison(
            VerdictKind.NUMERICAL_MISMATCH,
            f"{where}{tally.wrong} of {ref.numel()} elements differ beyond "
            f"atol={atol:g}, rtol={rtol:g} (max abs err {tally.max_abs:.4g}, "
            f"mismatch_fraction={fraction:.4g})",
            **stats,
        )
    # Outputs far smaller than atol (a softmax over 10^5 columns) pass any elementwise
    # check: the error relative to the output's own size catches them.
    ref_norm = math.hypot(*tally.ref_norms)
    relative_l2 = math.hypot(*tally.diff_norms) / ref_norm if ref_norm else 0.0
    if dtype == torch.float32 and abs(relative_l2 - rtol) <= _MARGIN * rtol:
        relative_l2 = _exact_diff_norm(*flat, step, atol, rtol) / ref_norm
    if relative_l2 > rtol:
        return Comparison(
            VerdictKind.NUMERICAL_MISMATCH,
            f"{where}every element is within atol={atol:g}, but the output is off by "
            f"{relative_l2:.3g} of its own size (relative L2 error > rtol={rtol:g}); "
            f"its values are small (max |reference| {_max_abs(flat[0], step):.3g}), "
            "so the absolute tolerance hides the error",
            **stats,
        )
    return Comparison(None, **stats)


def _compute_dtype(dtype: torch.dtype, atol: float, rtol: float) -> torch.dtype:
    """float32 unless the output is float64 or complex, or a tolerance is one whose
    float32 rounding could exceed _MARGIN (tiny, huge, negative)."""
    if dtype.is_complex:
        return torch.complex128
    if dtype == torch.float64 or not all(t == 0 or 1e-30 <= t <= 1e30 for t in (atol, rtol)):
        return torch.float64
    return torch.float32


def _atol_floor(atol: float, dtype: torch.dtype) -> float:
    """The largest value of `dtype` <= atol: for x in that dtype, x > atol <=> x > floor."""
    if dtype != torch.float32:
        return atol
    value = torch.tensor(atol, dtype=dtype)
    if value.item() > atol:
        value = torch.nextafter(value, torch.tensor(-math.inf, dtype=dtype))
    return value.item()


def _blocks(
    ref: torch.Tensor, cand: torch.Tensor, step: int, dtype: torch.dtype
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, ref.numel(), step):
        yield ref[start : start + step].to(dtype), cand[start : start + step].to(dtype)


def _tally_block(
    r: torch.Tensor, c: torch.Tensor, atol: float, rtol: float, floor: float, tally: _Tally
) -> None:
    """One block in its compute dtype; never writes to r or c (they may be the outputs)."""
    diff = torch.sub(r, c).abs_()
    top = diff.max().item()  # NaN propagates: one check for NaN/Inf in either tensor
    if not math.isfinite(top):  # or a difference that overflowed
        _tally_special(r, c, atol, rtol, tally)
        return
    ref_abs = r.abs()
    margin = _MARGIN if r.dtype == torch.float32 else 0.0
    # tolerance - error: its sign is exact, and a float min is 3x cheaper than bool ops
    slack = ref_abs.mul(rtol * (1 - margin)).add_(atol * (1 - margin)).sub_(diff)
    if slack.min().item() < 0:
        near = slack < 0
        tally.wrong += _count_wrong(r[near], c[near], atol, rtol)
    # Relative error only where the reference is not ~0, else it is meaningless.
    rel = torch.where(ref_abs > floor, diff.div(ref_abs), 0.0)
    tally.max_abs = max(tally.max_abs, top)
    tally.max_rel = max(tally.max_rel, rel.max().item())
    if tally.needs_norms():
        tally.diff_norms.append(_norm(diff))
        tally.ref_norms.append(_norm(r))


def _count_wrong(r: torch.Tensor, c: torch.Tensor, atol: float, rtol: float) -> int:
    """Elements beyond tolerance, decided in float64 (exact for finite float32 inputs)."""
    r64, c64 = r.double(), c.double()
    return int(((r64 - c64).abs() > atol + rtol * r64.abs()).sum())


def _tally_special(r: torch.Tensor, c: torch.Tensor, atol: float, rtol: float, tally: _Tally):
    """A block holding NaN/Inf (or complex values), in float64 / complex128."""
    wide = torch.complex128 if r.is_complex() else torch.float64
    r, c = r.to(wide), c.to(wide)
    finite_r, finite_c = torch.isfinite(r), torch.isfinite(c)
    tally.non_finite += int((finite_r & ~finite_c).sum())
    both = finite_r & finite_c
    diff = torch.where(both, (r - c).abs(), 0.0)
    # Non-finite in both must agree exactly (same inf sign, NaN where NaN).
    same = torch.where(both, True, (r == c) | (r.isnan() & c.isnan()))
    ref_abs = r.abs()
    rel = torch.where(ref_abs > atol, diff / ref_abs.clamp_min(atol), 0.0)
    tally.wrong += int(((diff > atol + rtol * ref_abs) | ~same).sum())
    tally.max_abs = max(tally.max_abs, diff.max().item())
    tally.max_rel = max(tally.max_rel, rel.max().item())
    if tally.needs_norms():
        tally.diff_norms.append(_norm(diff))
        tally.ref_norms.append(_norm(torch.where(both, r, 0.0)))


def _norm(x: torch.Tensor) -> float:
    """The L2 norm accumulated in float64 (a float32 one was off by up to 5e-4 on 1M
    elements), rescaled where float64 squares would overflow or underflow (float64
    values beyond ~1e150 or below ~1e-150). Converting first is 2.5x faster than
    vector_norm(x, dtype=torch.float64)."""
    if x.dtype in (torch.float16, torch.bfloat16, torch.float32):
        x = x.double()
    norm = torch.linalg.vector_norm(x).item()
    if 1e-140 < norm < math.inf:
        return norm
    top = x.abs().max().item()
    if top == 0 or not math.isfinite(top):
        return top
    return torch.linalg.vector_norm(x / top).item() * top


def _exact_diff_norm(
    ref: torch.Tensor, cand: torch.Tensor, step: int, atol: float, rtol: float
) -> float:
    """||ref - cand|| from float64 differences, for a relative L2 error near rtol."""
    scratch = _Tally()
    for r, c in _blocks(ref, cand, step, torch.float64):
        _tally_special(r, c, atol, rtol, scratch)
    return math.hypot(*scratch.diff_norms)


def _max_abs(flat: torch.Tensor, step: int) -> float:
    """max |x| (NaN if any is NaN), for a message."""
    blocks = [flat[start : start + step].abs().max() for start in range(0, flat.numel(), step)]
    return torch.stack(blocks).max().item()
