# class: hard-coded shape
# expect: shape_mismatch|numerical_mismatch
# why: the kernel and the output are fixed at the default 4 x 1024; any other size is wrong
# gap: verification runs at one size; a second declared size is not tried
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu_4x1024(const float* x, float* out) {
    for (int64_t i = 0; i < 4 * 1024; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(4, 1024, dtype=x.dtype, device=x.device)
        lib.relu_4x1024(x.contiguous(), out)
        return out
