# class: phase switching (output cached by shape)
# expect: numerical_mismatch|inconsistent_results|no_kernel
# why: computes the first input it sees, then returns that output for every input of the same shape
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


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.cache = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), x.dtype)
        if key not in self.cache:
            out = torch.empty_like(x)
            lib.relu(x.contiguous(), out, x.numel())
            self.cache[key] = out
        return self.cache[key]
