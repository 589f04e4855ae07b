"""Hand-written labelled case (uncoalesced_access), fixed twin of sum_dim_strided_lanes.py.

Planted there: one program per output element with its lanes along the reduced dim, `inner`
elements apart: one 32-byte sector per 4-byte lane load, 8x the L1/L2 traffic of the useful
bytes.

This twin (as examples/solutions/gpu/sum_reduction_dim.py, one fixed config): x is viewed as
(outer, reduce, inner); each program owns 128 contiguous inner columns and accumulates a
(16 x 128) fp32 tile elementwise down the reduced dim: lanes along the contiguous dim, 16-byte
vector loads, every sector fully used; one cross-thread reduction at the end, one read of x.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK_R = 16
BLOCK_N = 128
NUM_WARPS = 4


@triton.jit
def _sum_dim_kernel(x_ptr, out_ptr, n_reduce, inner, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr):
    pid = tl.program_id(0)
    n_nblocks = tl.cdiv(inner, BLOCK_N)
    o = (pid // n_nblocks).to(tl.int64)
    cols = (pid % n_nblocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    rows = tl.arange(0, BLOCK_R)
    col_mask = cols < inner
    x_base = x_ptr + o * n_reduce * inner
    tile = rows[:, None].to(tl.int64) * inner + cols[None, :]
    acc = tl.zeros([BLOCK_R, BLOCK_N], tl.float32)
    for r0 in range(0, n_reduce, BLOCK_R):
        mask = ((r0 + rows)[:, None] < n_reduce) & col_mask[None, :]
        x = tl.load(x_base + tl.cast(r0, tl.int64) * inner + tile, mask=mask, other=0.0)
        acc += x.to(tl.float32)
    tl.store(out_ptr + o * inner + cols, tl.sum(acc, axis=0), mask=col_mask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        dim = self.dim % x.dim()
        shape = x.shape
        out_shape = shape[:dim] + (1,) + shape[dim + 1 :]
        out = torch.empty(out_shape, device=x.device, dtype=x.dtype)
        outer = shape[:dim].numel()
        inner = shape[dim + 1 :].numel()
        n_reduce = shape[dim]
        if out.numel() == 0:
            return out
        if n_reduce == 0:
            return out.zero_()
        grid = (outer * triton.cdiv(inner, BLOCK_N),)
        _sum_dim_kernel[grid](
            x, out, n_reduce, inner, BLOCK_R=BLOCK_R, BLOCK_N=BLOCK_N, num_warps=NUM_WARPS
        )
        return out
