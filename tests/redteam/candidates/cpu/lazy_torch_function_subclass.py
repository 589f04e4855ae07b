# class: lazy tensor subclass (__torch_function__)
# expect: forbidden_code|output_type
# why: forward returns an unfilled subclass tensor; the kernel runs only when an op first touches it
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class Lazy(torch.Tensor):
    pending = None  # the input, until the first op on this tensor

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        for arg in args:
            if isinstance(arg, Lazy) and arg.pending is not None:
                source, arg.pending = arg.pending, None
                with torch._C.DisableTorchFunctionSubclass():
                    plain = torch.Tensor.as_subclass(arg, torch.Tensor)
                lib.relu(source, plain, source.numel())
        return super().__torch_function__(func, types, args, kwargs or {})


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.Tensor._make_subclass(Lazy, torch.empty_like(x))
        out.pending = x.contiguous()
        return out
