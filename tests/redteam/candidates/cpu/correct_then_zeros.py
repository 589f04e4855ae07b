# class: phase switching (correct for N calls, then wrong)
# expect: inconsistent_results
# why: a call counter: the first four calls run the kernel, every later one returns zeros
# job: time
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

extern "C" void zeros(float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = torch.empty_like(x)
        if self.calls <= 4:
            lib.relu(x.contiguous(), out, x.numel())
        else:
            lib.zeros(out, out.numel())
        return out
