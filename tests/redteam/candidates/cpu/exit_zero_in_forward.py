# class: forged result
# expect: result_channel|forbidden_code
# why: os._exit(0) in forward: the worker ends "successfully" with no result at all
import os

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void zeros(float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        lib.zeros(out, out.numel())
        os._exit(0)
        return out
