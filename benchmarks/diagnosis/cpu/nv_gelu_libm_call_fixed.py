"""Hand-written labelled case (not model output). Fixed twin of nv_gelu_libm_call.py (planted
bottleneck there: not_vectorised).

The libm `erff` call is replaced by an inlined rational approximation of erf on [-4, 4] (the
one of examples/solutions/cpu/gelu.py), and the loop is `omp parallel for simd`: the same
elements per thread and the same flags, now vectorised.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// Rational approximation of erf on [-4, 4] (erf is +-1 to float precision outside).
static inline float erf_approx(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    const float z = x * x;
    float p = -2.72614225801306e-10f;
    p = p * z + 2.77068142495902e-08f;
    p = p * z - 2.10102402082508e-06f;
    p = p * z - 5.69250639462346e-05f;
    p = p * z - 7.34990630326855e-04f;
    p = p * z - 2.95459980854025e-03f;
    p = p * z - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * z - 2.13374055278905e-04f;
    q = q * z - 1.68282697438203e-03f;
    q = q * z - 7.37332916720468e-03f;
    q = q * z - 1.42647390514189e-02f;
    return x * p / q;
}

extern "C" void gelu(const float* __restrict__ x, float* __restrict__ out, int64_t n) {
    const float inv_sqrt2 = 0.70710678118654752f;
    #pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        out[i] = 0.5f * v * (1.0f + erf_approx(v * inv_sqrt2));
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
