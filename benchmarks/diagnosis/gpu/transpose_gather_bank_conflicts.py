"""Hand-written labelled case (shared_memory_bank_conflicts), planted: a tiled transpose whose
in-tile permutation is a tl.gather through shared memory, read down a column of 32-word rows.

Planted: each program loads one 128 x 32 tile of x (rows of 128 contiguous bytes: coalesced) as
a flat 4096-vector, permutes it with tl.gather into the transposed 32 x 128 tile, and stores
that contiguous (coalesced). A gather across warps is lowered by Triton to a plain, unswizzled
shared-memory round trip: the tile is stored at its linear index (row stride 32 words), then
each lane reads tile[idx]. In the compiled layout (4 consecutive elements per thread, 8 warps)
the 32 lanes of a warp read 32 consecutive output columns = 32 different source rows of the
same source column: 32 addresses in one bank, a 32-way conflict on every shared load (each
warp load replays as 32 wavefronts). DRAM traffic is the minimum (one read, one write);
shared-memory wavefronts (~1 element per SM clock) bound the kernel.

Fixed twin (transpose_gather_bank_conflicts_fixed.py): the same 128 x 32 tiles, grid and warps,
loaded as a 2-D tile and transposed with tl.trans: Triton's layout conversion goes through a
swizzled shared-memory layout, so its shared loads and stores are (nearly) conflict-free.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

TILE_R = 128  # source rows per tile = output columns
TILE_C = 32  # source columns per tile = output rows
NUM_WARPS = 8


@triton.jit
def _transpose_gather_kernel(x_ptr, out_ptr, R, C, TILE_R: tl.constexpr, TILE_C: tl.constexpr):
    pid_c = tl.program_id(0)
    pid_r = tl.program_id(1)
    base = tl.program_id(2).to(tl.int64) * R * C
    i = tl.arange(0, TILE_R * TILE_C)
    # Flat source tile, row-major: element i is x[r0 + i // TILE_C, c0 + i % TILE_C].
    r = pid_r * TILE_R + i // TILE_C
    c = pid_c * TILE_C + i % TILE_C
    tile = tl.load(x_ptr + base + r.to(tl.int64) * C + c, mask=(r < R) & (c < C), other=0.0)
    # Flat output tile, row-major: element i is out[c0 + i // TILE_R, r0 + i % TILE_R]
    # = source element (i % TILE_R) * TILE_C + i // TILE_R.
    val = tl.gather(tile, (i % TILE_R) * TILE_C + i // TILE_R, axis=0)
    out_r = pid_c * TILE_C + i // TILE_R
    out_c = pid_r * TILE_R + i % TILE_R
    out_mask = (out_r < C) & (out_c < R)
    tl.store(out_ptr + base + out_r.to(tl.int64) * R + out_c, val, mask=out_mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        batch, rows, cols = x.shape
        out = torch.empty((batch, cols, rows), device=x.device, dtype=x.dtype)
        if x.numel() == 0:
            return out
        grid = (triton.cdiv(cols, TILE_C), triton.cdiv(rows, TILE_R), batch)
        _transpose_gather_kernel[grid](
            x, out, rows, cols, TILE_R=TILE_R, TILE_C=TILE_C, num_warps=NUM_WARPS
        )
        return out
