# class: phase switching (output cached by data_ptr on the device)
# expect: inconsistent_results|no_kernel
# why: output cached by device address plus two sampled values: timing reuses its inputs
# job: time
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
    def __init__(self):
        super().__init__()
        self.key = None
        self.out = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        flat = x.view(-1)
        key = (x.data_ptr(), tuple(x.shape), float(flat[0]), float(flat[-1]))
        if key != self.key:
            self.out = torch.empty_like(x)
            n = x.numel()
            relu_kernel[(triton.cdiv(n, 1024),)](x, self.out, n, BLOCK=1024)
            self.key = key
        return self.out
