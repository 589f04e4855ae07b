"""Hand-written reference solution (not model output): sum over one dim (keepdim) in Triton.

x is viewed as (outer, reduce, inner); each program owns a block of contiguous inner columns and
accumulates a (rows x columns) fp32 tile elementwise down the reduced dim: vector loads only, one
cross-thread reduction at the end, one read of x. Eager is near that bound already: small gain.
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
        grid = lambda meta: (outer * triton.cdiv(inner, meta["BLOCK_N"]),)  # noqa: E731
        _sum_dim_kernel[grid](x, out, n_reduce, inner)
        return out
