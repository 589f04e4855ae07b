"""Hand-written labelled case (uncoalesced_access), planted: a transpose that reads rows
contiguously and writes each one down a column of the output.

Planted: one program per (batch, source row i, block of 1024 columns) loads x[b, i, j0:j0+1024]
(coalesced, 16-byte vectors) and stores it to out[b, j0:j0+1024, i]: consecutive lanes write
4 bytes each `rows` elements (16 KB at GPU size) apart, so every lane's store is its own 32-byte
sector and its own L2 write request: 32 sectors per warp store request where 4 would do, 8x the
L1->L2 store traffic of the useful bytes, partial-sector writes that L2 must merge. (Programs of
neighbouring rows write the other bytes of those sectors soon after, so DRAM bytes rise less
than L2 store traffic.) The kernel is bound by L2 store throughput, far below the DRAM roof.

Fixed twin (transpose_strided_write_fixed.py): 64 x 64 tiles loaded along the source rows and
transposed in registers with tl.trans (Triton converts the layout through swizzled shared
memory), so the stores run along the output's contiguous dim: coalesced reads and writes.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4


@triton.jit
def _transpose_row_to_column_kernel(x_ptr, out_ptr, R, C, BLOCK: tl.constexpr):
    pid_c = tl.program_id(0)
    i = tl.program_id(1)
    base = tl.program_id(2).to(tl.int64) * R * C
    j = pid_c * BLOCK + tl.arange(0, BLOCK)
    mask = j < C
    row = tl.load(x_ptr + base + i.to(tl.int64) * C + j, mask=mask)
    # out[b, j, i] = x[b, i, j]: consecutive j are R elements apart in the output.
    tl.store(out_ptr + base + j.to(tl.int64) * R + i, row, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        batch, rows, cols = x.shape
        out = torch.empty((batch, cols, rows), device=x.device, dtype=x.dtype)
        if x.numel() == 0:
            return out
        grid = (triton.cdiv(cols, BLOCK), rows, batch)
        _transpose_row_to_column_kernel[grid](x, out, rows, cols, BLOCK=BLOCK, num_warps=NUM_WARPS)
        return out
