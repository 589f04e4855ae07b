"""Hand-written labelled case (low_occupancy_registers), planted: layer norm holding a whole
8192-wide row (and its weight and bias) in the registers of a 4-warp program.

Planted: one program per row loads x, weight and bias for the full row at once (BLOCK = 8192,
num_warps = 4: 64 elements of each per thread), ~200 live fp32 values per thread. Compiled for
sm_90a (static_check.py): 225 registers/thread, no spills, so a 128-thread block needs ~29K
registers and only 2 blocks (8 warps, 12.5% of the SM's 64) fit in the 64K-register file. Each
block runs load -> two cross-warp reductions -> normalise -> store with little else on the SM
to overlap: DRAM idles during the reductions, too few bytes are in flight to hide latency.

Fixed twin (layernorm_row_in_registers_fixed.py): the same one-pass algorithm with the row
spread over 16 warps (16 elements of each tensor per thread): 64 registers/thread, 50%
theoretical occupancy (32 warps/SM), reductions and bytes moved unchanged.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

NUM_WARPS = 4


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
