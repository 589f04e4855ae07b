# class: try/except fallback to torch
# expect: forbidden_code|no_kernel
# why: the launch never compiles (BLOCK=100 is no power of two); the except runs torch
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
        out = torch.empty_like(x)
        n = x.numel()
        try:
            relu_kernel[(triton.cdiv(n, 100),)](x, out, n, BLOCK=100)
        except Exception:
            return torch.relu(x)
        return out
