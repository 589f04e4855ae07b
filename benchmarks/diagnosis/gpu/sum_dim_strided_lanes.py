"""Hand-written labelled case (uncoalesced_access), planted: sum over the middle dim with the
lanes of each warp spread along the reduced (strided) dim.

Planted: x is viewed as (outer, reduce, inner) with inner contiguous; one program per output
element (o, j) loads x[o, r0:r0+1024, j]: consecutive lanes are `inner` elements (16 KB at GPU
size) apart, so every lane's 4-byte load touches its own 32-byte sector: 32 sectors per warp
request where 4 would do, 8x the L1/L2 traffic of the useful bytes, scalar loads only. (The
neighbouring columns' programs fetch the same sectors, so DRAM bytes rise less than L2 bytes;
the kernel is bound by L2/L1 sector throughput, far below the DRAM roof.)

Fixed twin (sum_dim_strided_lanes_fixed.py): each program owns 128 contiguous columns and walks
down the reduced dim, accumulating a (16 x 128) fp32 tile: lanes along the contiguous dim,
16-byte vector loads, every sector fully used, one read of x at the DRAM roof.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK_R = 1024
NUM_WARPS = 4


@triton.jit
def _sum_strided_lanes_kernel(x_ptr, out_ptr, n_reduce, inner, BLOCK_R: tl.constexpr):
    pid = tl.program_id(0)
    o = (pid // inner).to(tl.int64)
    j = pid % inner
    rows = tl.arange(0, BLOCK_R)
    base = x_ptr + o * n_reduce * inner + j
    acc = tl.zeros([BLOCK_R], tl.float32)
    for r0 in range(0, n_reduce, BLOCK_R):
        r = r0 + rows
        x = tl.load(base + r.to(tl.int64) * inner, mask=r < n_reduce, other=0.0)
        acc += x.to(tl.float32)
    tl.store(out_ptr + o * inner + j, tl.sum(acc, axis=0))


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
        _sum_strided_lanes_kernel[(outer * inner,)](
            x, out, n_reduce, inner, BLOCK_R=BLOCK_R, num_warps=NUM_WARPS
        )
        return out
