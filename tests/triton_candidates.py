"""Triton candidates for tests/fixtures/problems/tiny_relu.py, shared by the interpreter
tests (CPU, TRITON_INTERPRET=1) and the GPU tests. Each is a complete candidate file."""

HEADER = """
import torch
import torch.nn as nn
import triton
import triton.language as tl
"""

RELU_KERNEL = """
@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)
"""

LAUNCH = """
class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 256),)](x, out, n, BLOCK=256)
        return out
"""

RELU = HEADER + RELU_KERNEL + LAUNCH
# Forgets the max: numerically wrong.
WRONG = RELU.replace("tl.maximum(x, 0.0)", "x")
# No mask and a grid far past the end: reads and writes outside the tensors.
OUT_OF_BOUNDS = RELU.replace("mask=mask", "").replace(
    "(triton.cdiv(n, 256),)", "(triton.cdiv(n, 256) * 100000,)"
)
# tl.arange needs a power-of-two constexpr range: Triton rejects it at compile time.
COMPILE_ERROR = RELU.replace("BLOCK=256", "BLOCK=100").replace(
    "triton.cdiv(n, 256)", "triton.cdiv(n, 100)"
)
# A 256x256 fp32 dot stages 256 KiB operands in shared memory: more than any GPU has.
OUT_OF_RESOURCES = (
    HEADER
    + """
@triton.jit
def big_kernel(a_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tile = offs[:, None] * BLOCK + offs[None, :]
    a = tl.load(a_ptr + tile)
    tl.store(out_ptr + tile, tl.dot(a, a))


class ModelNew(nn.Module):
    def forward(self, x):
        a = torch.zeros(256 * 256, device=x.device, dtype=torch.float32)
        big_kernel[(1,)](a, torch.empty_like(a), BLOCK=256)
        return x
"""
)
# Correct result on the current stream, but the expensive part runs on a side stream,
# so CUDA events on the current stream see almost nothing.
SIDE_STREAM = (
    HEADER
    + RELU_KERNEL
    + """
class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(20):
                relu_kernel[(triton.cdiv(x.numel(), 256),)](x, out, x.numel(), BLOCK=256)
        return out
"""
)
