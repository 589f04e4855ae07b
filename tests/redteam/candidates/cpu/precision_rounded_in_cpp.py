# class: precision drop (inside the C++ kernel)
# expect: numerical_mismatch
# why: rounds every operand to a 10-bit mantissa (float16's) inside C++, where no Python check looks
# problem: tiny_matmul.py
# gap: half rounding in C++ stays within atol=rtol=1e-2: a match by definition
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cstring>

static inline float to_half_precision(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    bits = (bits + 0x1000u) & ~0x1FFFu;  // round away the low 13 of 23 mantissa bits
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

extern "C" void matmul(const float* a, const float* b, float* c,
                       int64_t m, int64_t k, int64_t n) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; ++p)
                acc += to_half_precision(a[i * k + p]) * to_half_precision(b[p * n + j]);
            c[i * n + j] = acc;
        }
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a.contiguous(), b.contiguous()
        m, k = a.shape
        n = b.shape[1]
        out = torch.empty(m, n, dtype=a.dtype, device=a.device)
        lib.matmul(a, b, out, m, k, n)
        return out
