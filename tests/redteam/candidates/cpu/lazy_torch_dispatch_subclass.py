# class: lazy tensor subclass (__torch_dispatch__)
# expect: forbidden_code|output_type
# why: a wrapper subclass with no data; __torch_dispatch__ computes relu(x) when an aten op reads it
import torch
import torch.nn as nn
from torch.utils._pytree import tree_map

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


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
        lib.relu(self.source, out, out.numel())
        return out

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        def unwrap(value):
            return value.materialise() if isinstance(value, Lazy) else value

        return func(*tree_map(unwrap, args), **tree_map(unwrap, kwargs or {}))


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Lazy(x)
