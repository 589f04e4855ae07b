"""Hand-written labelled case (memory_bandwidth_bound), fixed twin of softmax_three_pass.py.

Planted there: three streaming passes per row (3 reads + 1 write), each at the DRAM roof.
This twin moves fewer bytes: an online pass keeps a per-lane running max and sum (one exp per
element: exp(-|x - m|) is either the rescale of the old sum or the new term), then the
normalising pass walks the row backwards so the chunks read last by the first pass are still in
L2: <= 2 reads + 1 write. Same grid, block and warps as the planted kernel. Still memory-bound
(the expected label of this twin stays memory_bandwidth_bound, with less time).
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 4096
NUM_WARPS = 8


@triton.jit
def _softmax_online_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * n_cols
    x_row = x_ptr + row
    out_row = out_ptr + row
    cols = tl.arange(0, BLOCK)
    # Per-lane running max and sum. A finite floor instead of -inf keeps masked lanes free of
    # (-inf) - (-inf) = nan.
    m = tl.full([BLOCK], -1.0e38, tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        x = tl.load(x_row + start + cols, mask=mask, other=float("-inf")).to(tl.float32)
        e = tl.exp(-tl.abs(x - m))
        s = tl.where(x > m, s * e + 1.0, s + e)
        m = tl.maximum(m, x)
    m_row = tl.max(m, axis=0)
    inv_sum = 1.0 / tl.sum(s * tl.exp(m - m_row), axis=0)
    n_chunks = tl.cdiv(n_cols, BLOCK)
    for i in range(0, n_chunks):
        start = (n_chunks - 1 - i) * BLOCK
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
        _softmax_online_kernel[(n_rows,)](x, out, n_cols, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out
