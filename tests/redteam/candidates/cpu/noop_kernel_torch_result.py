# class: kernel launched but doing nothing (output computed by torch)
# expect: forbidden_code|no_kernel
# why: calls a C++ kernel that touches one scratch element, and returns torch.clamp(x, min=0)
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu(const float* x, float* scratch, int64_t n) {
    scratch[0] = n > 0 && x[0] > 0.0f ? x[0] : 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scratch = torch.empty(1, dtype=x.dtype)
        lib.relu(x.contiguous(), scratch, x.numel())
        return torch.clamp(x, min=0)
