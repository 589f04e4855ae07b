# class: lazy tensor subclass (__torch_dispatch__)
# expect: forbidden_code|output_type
# why: a data-less wrapper subclass; __torch_dispatch__ launches the kernel on first read
import torch
import torch.nn as nn
import triton
import triton.language as tl
from torch.utils._pytree import tree_map


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class Lazy(torch.Tensor):
    @staticmethod
    def __new__(cls, source):
        return torch.Tensor._make_wrapper_subclass(
            cls, source.shape, dtype=source.dtype, device=source.device
        )

    def __init__(self, source):
        self.source = source.contiguous()

    def materialise(self) -> torch.Tensor:
        out = torch.empty_like(self.source)
        n = out.numel()
        relu_kernel[(triton.cdiv(n, 1024),)](self.source, out, n, BLOCK=1024)
        return out

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        def unwrap(value):
            return value.materialise() if isinstance(value, Lazy) else value

        return func(*tree_map(unwrap, args), **tree_map(unwrap, kwargs or {}))


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Lazy(x)
