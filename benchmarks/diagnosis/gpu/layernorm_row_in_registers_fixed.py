"""Hand-written labelled case (low_occupancy_registers), fixed twin of
layernorm_row_in_registers.py: the same one-pass layer norm with the row spread over 16 warps.

Planted there: one program per row holds x, weight and bias for a full 8192-wide row in the
registers of 4 warps (64 elements of each per thread): 225 registers/thread on sm_90a, 2 blocks
(8 warps, 12.5%) per SM, register-limited.

This twin: the same one-pass algorithm with num_warps = 16 (16 elements of each tensor per
thread): 64 registers/thread, 50% theoretical occupancy (32 warps/SM); reductions, grid and
bytes moved unchanged.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

NUM_WARPS = 16


@triton.jit
def _layer_norm_row_kernel(x_ptr, w_ptr, b_ptr, out_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * n_cols
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / n_cols
    xc = tl.where(mask, x - mean, 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(xc * xc, axis=0) / n_cols + eps)
    tl.store(out_ptr + row + cols, xc * rstd * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.ln = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty(x.shape, device=x.device, dtype=x.dtype)
        n_cols = x.shape[-1]
        if x.numel() == 0:
            return out
        n_rows = x.numel() // n_cols
        block = triton.next_power_of_2(n_cols)
        _layer_norm_row_kernel[(n_rows,)](
            x,
            self.ln.weight,
            self.ln.bias,
            out,
            n_cols,
            self.ln.eps,
            BLOCK=block,
            num_warps=NUM_WARPS,
        )
        return out
