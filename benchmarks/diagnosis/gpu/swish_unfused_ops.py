"""Hand-written labelled case (many_small_kernels), planted: swish x * sigmoid(x) written as
one Triton launch per elementwise op, x / (1 + exp(-x)).

Planted: four launches of one generic elementwise kernel (neg, exp, add 1, divide), each a full
pass over the tensor through a temporary in DRAM: 2 + 2 + 2 + 3 = 9 tensor passes instead of 2
(3 intermediate tensors written and read back), each kernel individually at the DRAM roof. No
single kernel is inefficient; the unfused chain moves ~4.5x the bytes and pays 4 launches
(kernel_launches 4 of one kernel).

Fixed twin (swish_unfused_ops_fixed.py): one fused kernel computing x / (1 + exp(-x)) in
registers: one read and one write, one launch, memory-bound at the DRAM roof.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK = 1024
NUM_WARPS = 4


@triton.jit
def _elementwise_kernel(a_ptr, b_ptr, out_ptr, n, OP: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if OP == "neg":
        y = -a
    elif OP == "exp":
        y = tl.exp(a)
    elif OP == "add1":
        y = a + 1.0
    else:  # "div": a / b
        b = tl.load(b_ptr + offs, mask=mask, other=1.0).to(tl.float32)
        y = a / b
    tl.store(out_ptr + offs, y, mask=mask)


def _launch(op: str, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    out = torch.empty_like(a)
    n = a.numel()
    grid = (triton.cdiv(n, BLOCK),)
    _elementwise_kernel[grid](
        a, a if b is None else b, out, n, OP=op, BLOCK=BLOCK, num_warps=NUM_WARPS
    )
    return out


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        if x.numel() == 0:
            return torch.empty_like(x)
        t = _launch("neg", x)
        t = _launch("exp", t)
        t = _launch("add1", t)
        return _launch("div", x, t)
