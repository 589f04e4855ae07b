"""Hand-written labelled case (warp_divergence), planted: x ** e with a per-lane loop of e
multiplications, for heavy-tailed exponents (most in 0-7, ~1 in 32 up to 1023).

Planted: on the GPU each element runs a small PTX loop (tl.inline_asm_elementwise) that
multiplies e times: a data-dependent per-thread branch (ptxas keeps it as a BSSY/BSYNC-bracketed
loop, unrolled 4x). The lanes of a warp leave the loop at different trips and the warp keeps
issuing until its largest e: ~64% of warps hold at least one large exponent, so most loop
instructions run with 1-2 of 32 lanes active while the others wait. Average work per lane is
small (~20 trips), but the warps issue for ~500: issue-bound at a few % lane efficiency,
several times the DRAM time (12 bytes per element).

Triton's interpreter cannot run inline PTX, so under TRITON_INTERPRET=1 the same products are
computed by a uniform masked loop (tl.where) up to the program's largest e; only that path is
checked on the CPU. The PTX path compiles for sm_90a (ptxas, static_check.py) but has not run.

Fixed twin (int_pow_divergent_loop_fixed.py): uniform work per lane: branch-free
square-and-multiply over the 10 exponent bits (10 squarings and 10 selects for every lane): no
divergence, memory-bound.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4

# y = 1; repeat e times: y *= x. The branch depends on each lane's own e: it diverges.
_POW_LOOP_PTX = """{
.reg .pred %p_done;
.reg .s32 %trips;
mov.f32 $0, 0f3F800000;
mov.s32 %trips, $2;
POW_LOOP:
setp.le.s32 %p_done, %trips, 0;
@%p_done bra POW_DONE;
mul.rn.f32 $0, $0, $1;
sub.s32 %trips, %trips, 1;
bra POW_LOOP;
POW_DONE:
}"""


@triton.jit
def _pow_loop_kernel(
    x_ptr, e_ptr, out_ptr, n, BLOCK: tl.constexpr, PTX: tl.constexpr, USE_PTX: tl.constexpr
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1.0).to(tl.float32)
    e = tl.load(e_ptr + offs, mask=mask, other=0).to(tl.int32)
    if USE_PTX:
        y = tl.inline_asm_elementwise(PTX, "=f,f,r", [x, e], dtype=tl.float32, is_pure=True, pack=1)
    else:
        # Interpreter only: the same sequence of products, masked per lane.
        y = tl.full([BLOCK], 1.0, tl.float32)
        for i in range(0, tl.max(e, axis=0)):
            y = tl.where(i < e, y * x, y)
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
        use_ptx = not triton.knobs.runtime.interpret
        grid = (triton.cdiv(n, BLOCK),)
        _pow_loop_kernel[grid](
            x, e, out, n, BLOCK=BLOCK, PTX=_POW_LOOP_PTX, USE_PTX=use_ptx, num_warps=NUM_WARPS
        )
        return out
