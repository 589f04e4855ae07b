"""Hand-written reference solution (not model output): softsign y = x / (1 + |x|) in C++.

Why it is fast: eager runs abs, add and divide as three kernels (~7 passes over memory); this
is one fused, vectorised pass (read x once, write y once) split over the OpenMP threads.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>

extern "C" void softsign(const float* __restrict__ x, float* __restrict__ out, int64_t n) {
    #pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        out[i] = x[i] / (1.0f + std::fabs(x[i]));
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        lib.softsign(x, out, x.numel())
        return out
