"""Hand-written labelled case (compute_bound), fixed twin of gelu_erf_quadrature.py.

Planted there: erf by a 64-node quadrature, 64 exponentials per element, which saturates the
special-function pipe. This twin is the same fused one-pass kernel (same grid, block and warps)
with erf from libdevice (tl.math.erf, a short polynomial): the kernel drops to the DRAM roof,
one read and one write per element (memory-bound).
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4


@triton.jit
def _gelu_erf_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    erf = tl.math.erf(x * 0.7071067811865476)
    tl.store(out_ptr + offs, 0.5 * x * (1.0 + erf), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty(x.shape, device=x.device, dtype=x.dtype)
        n = x.numel()
        if n == 0:
            return out
        grid = (triton.cdiv(n, BLOCK),)
        _gelu_erf_kernel[grid](x, out, n, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out
