"""Hand-written labelled case (many_small_kernels), planted: softsign launched once per row from
a Python loop.

Planted: forward loops over the rows and launches the (otherwise efficient) fused softsign
kernel on each row: 4096 launches at GPU size, each moving 1 MB in ~0.3 us of DRAM time on 128
programs, while every launch costs microseconds of host-side Triton dispatch plus the GPU's
launch latency. The GPU idles between tiny kernels: the summed kernel time is a small fraction
of the call's wall time, which is set by the launch rate (expected tens of ms vs ~2 ms fused).

Fixed twin (softsign_row_launches_fixed.py): the same kernel launched once over the whole
tensor (as examples/solutions/gpu/softsign.py): one launch, memory-bound at the DRAM roof.
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
        if x.numel() == 0:
            return out
        n_cols = x.shape[-1]
        x_rows = x.view(-1, n_cols)
        out_rows = out.view(-1, n_cols)
        grid = (triton.cdiv(n_cols, BLOCK),)
        for row in range(x_rows.shape[0]):
            _softsign_kernel[grid](
                x_rows[row], out_rows[row], n_cols, BLOCK=BLOCK, num_warps=NUM_WARPS
            )
        return out
