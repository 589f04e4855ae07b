"""Hand-written labelled case (not model output). Planted bottleneck: not_vectorised.

Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), calling libm's `erff` for every element. g++ cannot
vectorise a loop with a call to a function that has no SIMD variant (glibc offers none for
erff), so the loop runs one element at a time through a function call. The twin
(nv_gelu_libm_call_fixed.py) inlines a rational erf approximation (max error ~1e-7, well
inside the 1e-2 tolerance) and marks the loop `omp parallel for simd`: the same work per
thread, vectorised with 512-bit packed instructions.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>

extern "C" void gelu(const float* __restrict__ x, float* __restrict__ out, int64_t n) {
    const float inv_sqrt2 = 0.70710678118654752f;
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        out[i] = 0.5f * v * (1.0f + std::erf(v * inv_sqrt2));
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
        lib.gelu(x, out, x.numel())
        return out
