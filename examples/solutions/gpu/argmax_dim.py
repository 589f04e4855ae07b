"""Hand-written reference solution (not model output): argmax over one dim in Triton (int64 out).

x is viewed as (outer, reduce, inner); each program owns a block of contiguous inner columns and
keeps a running (max, index) per tile lane down the reduced dim: vector loads and selects only,
lanes merged once at the end, one read of x. Ties -> first index, NaN wins (first NaN), as torch.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

# Under TRITON_INTERPRET=1 (CPU, no GPU driver) Triton has no benchmarker to tune with:
# only the first config is kept there.
CONFIGS = [
    triton.Config({"BLOCK_R": 8, "BLOCK_N": 256}, num_warps=4),
    triton.Config({"BLOCK_R": 16, "BLOCK_N": 128}, num_warps=4),
    triton.Config({"BLOCK_R": 32, "BLOCK_N": 128}, num_warps=8),
    triton.Config({"BLOCK_R": 16, "BLOCK_N": 256}, num_warps=8),
    triton.Config({"BLOCK_R": 8, "BLOCK_N": 512}, num_warps=8),
]


@triton.autotune(
    configs=CONFIGS[:1] if triton.knobs.runtime.interpret else CONFIGS,
    key=["n_reduce", "inner"],
)
@triton.jit
def _argmax_dim_kernel(
    x_ptr, out_ptr, n_reduce, inner, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr
):
    pid = tl.program_id(0)
    n_nblocks = tl.cdiv(inner, BLOCK_N)
    o = (pid // n_nblocks).to(tl.int64)
    cols = (pid % n_nblocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    rows = tl.arange(0, BLOCK_R)
    col_mask = cols < inner
    x_base = x_ptr + o * n_reduce * inner
    tile = rows[:, None].to(tl.int64) * inner + cols[None, :]
    # Lane (r, c) sees rows r, r + BLOCK_R, ... in increasing order; starting its index at r
    # makes an all -inf column answer 0.
    best = tl.full([BLOCK_R, BLOCK_N], float("-inf"), tl.float32)
    idx = tl.zeros([BLOCK_R, BLOCK_N], tl.int32) + rows[:, None]
    for r0 in range(0, n_reduce, BLOCK_R):
        r = r0 + rows
        mask = (r[:, None] < n_reduce) & col_mask[None, :]
        v = tl.load(x_base + tl.cast(r0, tl.int64) * inner + tile, mask=mask, other=float("-inf"))
        v = v.to(tl.float32)
        # Strictly greater keeps the first maximum; the first NaN wins and then stays.
        take = (v > best) | ((v != v) & (best == best))
        best = tl.where(take, v, best)
        idx = tl.where(take, r[:, None], idx)
    # Merge the lanes of each column: a NaN lane wins, else the max; ties -> smallest index.
    is_nan = best != best
    nan_idx = tl.min(tl.where(is_nan, idx, n_reduce), axis=0)
    vmax = tl.max(tl.where(is_nan, float("-inf"), best), axis=0)
    max_idx = tl.min(tl.where(best == vmax[None, :], idx, n_reduce), axis=0)
    result = tl.where(nan_idx < n_reduce, nan_idx, max_idx)
    tl.store(out_ptr + o * inner + cols, result.to(tl.int64), mask=col_mask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        dim = self.dim % x.dim()
        shape = x.shape
        out = torch.empty(shape[:dim] + shape[dim + 1 :], device=x.device, dtype=torch.int64)
        outer = shape[:dim].numel()
        inner = shape[dim + 1 :].numel()
        if out.numel() == 0:
            return out
        grid = lambda meta: (outer * triton.cdiv(inner, meta["BLOCK_N"]),)  # noqa: E731
        _argmax_dim_kernel[grid](x, out, shape[dim], inner)
        return out
