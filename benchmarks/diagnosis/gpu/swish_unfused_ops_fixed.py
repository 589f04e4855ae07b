"""Hand-written labelled case (many_small_kernels), fixed twin of swish_unfused_ops.py.

Planted there: swish as four launches (neg, exp, add 1, divide), each a full pass over the
tensor through a DRAM temporary: 9 tensor passes and 4 launches.

This twin: one fused kernel (same block and warps) computing x / (1 + exp(-x)) in registers:
one read and one write of the tensor, one launch, memory-bound at the DRAM roof.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4


@triton.jit
def _swish_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


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
        _swish_kernel[grid](x, out, n, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out
