"""Hand-written labelled case (compute_bound), planted: exact GELU with erf evaluated by a
64-point quadrature, 64 exponentials per element.

Planted: erf(z) = 2/sqrt(pi) * z * integral_0^1 exp(-(z u)^2) du by the midpoint rule with 64
nodes (error < 1e-5 for every z), unrolled: per element 64 MUFU ex2 plus ~200 FP32 multiplies
and adds, against 8 bytes of DRAM traffic. The special-function pipe (16 ex2/clk/SM) saturates
long before DRAM does: ~16 ms of SFU work vs ~2 ms of memory at GPU size (estimate).

Fixed twin (gelu_erf_quadrature_fixed.py): the same fused one-pass kernel with erf from
libdevice (tl.math.erf: a short polynomial, a handful of FMAs), so the kernel drops to the DRAM
roof (memory-bound, ~2 ms).
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4
NODES = 64  # midpoint-rule nodes of the erf integral
TWO_OVER_SQRT_PI = tl.constexpr(1.1283791670955126)


@triton.jit
def _gelu_quadrature_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr, NODES: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    z = x * 0.7071067811865476
    acc = tl.zeros([BLOCK], tl.float32)
    for k in tl.static_range(NODES):
        t = z * ((k + 0.5) / NODES)
        acc += tl.exp(-(t * t))
    erf = acc * z * (TWO_OVER_SQRT_PI / NODES)
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
        _gelu_quadrature_kernel[grid](x, out, n, BLOCK=BLOCK, NODES=NODES, num_warps=NUM_WARPS)
        return out
