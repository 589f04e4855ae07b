# class: kernel launched but doing nothing (output computed by torch)
# expect: forbidden_code|no_kernel
# why: launches a real kernel on a scratch copy, then returns torch.relu(x) computed by PyTorch
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        scratch = torch.empty_like(x)
        relu_kernel[(1,)](x, scratch, 1, BLOCK=16)
        return torch.relu(x)
