"""Hand-written reference solution (not model output): row softmax over the last dim in Triton.

Rows of up to 16K elements stay in registers (one read, one write). Longer rows (GPU size:
512 KB) take an online max/sum pass with one exp per element, then a normalise pass that walks
the row backwards so its first chunks still hit L2: <= 2 reads + 1 write vs eager's 3 + 1.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

# Rows up to this many elements are held in registers by one program (single pass).
MAX_FUSED_COLS = 16384


@triton.jit
def _softmax_row_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * n_cols
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row + cols, mask=mask, other=float("-inf")).to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(out_ptr + row + cols, e * (1.0 / tl.sum(e, axis=0)), mask=mask)


# Under TRITON_INTERPRET=1 (CPU, no GPU driver) Triton has no benchmarker to tune with:
# only the first config is kept there.
CONFIGS = [
    triton.Config({"BLOCK": 2048}, num_warps=4),
    triton.Config({"BLOCK": 4096}, num_warps=8),
    triton.Config({"BLOCK": 8192}, num_warps=8),
    triton.Config({"BLOCK": 8192}, num_warps=16),
]


@triton.autotune(
    configs=CONFIGS[:1] if triton.knobs.runtime.interpret else CONFIGS,
    key=["n_cols"],
)
@triton.jit
def _softmax_online_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * n_cols
    x_row = x_ptr + row
    out_row = out_ptr + row
    cols = tl.arange(0, BLOCK)
    # Per-lane running max and sum: no cross-warp reduction inside the loop. A finite floor
    # instead of -inf keeps masked lanes free of (-inf) - (-inf) = nan.
    m = tl.full([BLOCK], -1.0e38, tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        x = tl.load(x_row + start + cols, mask=mask, other=float("-inf")).to(tl.float32)
        # One exp per element: exp(-|x - m|) is either the rescale of the old sum (new max)
        # or the new term (old max).
        e = tl.exp(-tl.abs(x - m))
        s = tl.where(x > m, s * e + 1.0, s + e)
        m = tl.maximum(m, x)
    m_row = tl.max(m, axis=0)
    inv_sum = 1.0 / tl.sum(s * tl.exp(m - m_row), axis=0)
    # Backwards: the chunks read last by the first pass are the likeliest to be in L2.
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
        if n_cols <= MAX_FUSED_COLS:
            block = triton.next_power_of_2(n_cols)
            num_warps = 4 if block <= 2048 else (8 if block <= 8192 else 16)
            _softmax_row_kernel[(n_rows,)](x, out, n_cols, BLOCK=block, num_warps=num_warps)
        else:
            _softmax_online_kernel[(n_rows,)](x, out, n_cols)
        return out
