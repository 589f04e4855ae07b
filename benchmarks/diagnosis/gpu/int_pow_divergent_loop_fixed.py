"""Hand-written labelled case (warp_divergence), fixed twin of int_pow_divergent_loop.py.

Planted there: each lane multiplies e times in its own PTX loop; with heavy-tailed exponents
(most 0-7, ~1 in 32 up to 1023) the lanes of a warp diverge and the warp issues until its
largest e, mostly with 1-2 lanes active.

This twin: uniform work per lane, branch-free square-and-multiply over the 10 bits of e (the
problem's exponents are < 1024): 10 squarings, 10 multiplies and 10 selects for every lane, no
data-dependent control flow. Same grid, block and warps; memory-bound (12 bytes per element).
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4
EXPONENT_BITS = 10  # the problem's exponents lie in [0, 1024)


@triton.jit
def _pow_square_multiply_kernel(x_ptr, e_ptr, out_ptr, n, BLOCK: tl.constexpr, BITS: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1.0).to(tl.float32)
    e = tl.load(e_ptr + offs, mask=mask, other=0).to(tl.int32)
    y = tl.full([BLOCK], 1.0, tl.float32)
    power = x  # x ** (2 ** bit)
    for bit in tl.static_range(BITS):
        y = tl.where(((e >> bit) & 1) != 0, y * power, y)
        power = power * power
    tl.store(out_ptr + offs, y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        x, e = torch.broadcast_tensors(x, e)
        x = x.contiguous()
        e = e.contiguous()
        out = torch.empty(x.shape, device=x.device, dtype=x.dtype)
        n = x.numel()
        if n == 0:
            return out
        grid = (triton.cdiv(n, BLOCK),)
        _pow_square_multiply_kernel[grid](
            x, e, out, n, BLOCK=BLOCK, BITS=EXPONENT_BITS, num_warps=NUM_WARPS
        )
        return out
