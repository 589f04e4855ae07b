"""Hand-written labelled case (memory_bandwidth_bound), planted: row softmax in three streaming
passes over each row.

Planted: one program per row walks the row three times (running max, sum of exp, normalised
write): 3 reads + 1 write of the tensor, each pass a contiguous, vectorised stream with enough
programs (4096 rows) and warps to keep DRAM busy. The kernel sits at the DRAM roof: nothing is
wrong with how it moves its bytes, it just moves more of them than needed (8.6 GB at GPU size).

Fixed twin (softmax_three_pass_fixed.py): online softmax, max and sum in one pass (one exp per
element), then the normalising pass walking the row backwards so its first chunks still hit L2:
<= 2 reads + 1 write. Still memory-bound, with ~25-30% fewer DRAM bytes.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 4096
NUM_WARPS = 8


@triton.jit
def _softmax_three_pass_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * n_cols
    x_row = x_ptr + row
    out_row = out_ptr + row
    cols = tl.arange(0, BLOCK)
    # Pass 1: row max (per-lane running max, one cross-lane reduction at the end).
    m = tl.full([BLOCK], float("-inf"), tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        x = tl.load(x_row + start + cols, mask=mask, other=float("-inf")).to(tl.float32)
        m = tl.maximum(m, x)
    m_row = tl.max(m, axis=0)
    # Pass 2: sum of exp(x - max).
    s = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        x = tl.load(x_row + start + cols, mask=mask, other=float("-inf")).to(tl.float32)
        s += tl.exp(x - m_row)
    inv_sum = 1.0 / tl.sum(s, axis=0)
    # Pass 3: normalised write.
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(out_row + start + cols, tl.exp(x - m_row) * inv_sum, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty(x.shape, device=x.device, dtype=x.dtype)
        n_cols = x.shape[-1]
        if x.numel() == 0:
            return out
        n_rows = x.numel() // n_cols
        _softmax_three_pass_kernel[(n_rows,)](x, out, n_cols, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out
