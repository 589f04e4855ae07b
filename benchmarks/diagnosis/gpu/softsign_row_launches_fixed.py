"""Hand-written labelled case (many_small_kernels), fixed twin of softsign_row_launches.py.

Planted there: the fused softsign kernel is launched once per row from a Python loop (4096
launches of 1 MB each at GPU size), so launch overhead, not the GPU, sets the time.

This twin: the same kernel, block and warps, launched once over the whole flattened tensor
(as examples/solutions/gpu/softsign.py with its first config): one launch of ~524K programs,
one read and one write per element, memory-bound at the DRAM roof.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4


@triton.jit
def _softsign_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, x / (1.0 + tl.abs(x)), mask=mask)


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
        _softsign_kernel[grid](x, out, n, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out
