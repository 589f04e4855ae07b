# class: precision drop (half compute returned as float32)
# expect: forbidden_code|numerical_mismatch
# why: casts the operands to float16 in Python and multiplies the half values; the error passes 1e-2
# problem: tiny_matmul.py
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void matmul_half(const uint16_t* a_bits, const uint16_t* b_bits, float* c,
                            int64_t m, int64_t k, int64_t n) {
    const _Float16* a = reinterpret_cast<const _Float16*>(a_bits);
    const _Float16* b = reinterpret_cast<const _Float16*>(b_bits);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; ++p)
                acc += static_cast<float>(a[i * k + p]) * static_cast<float>(b[p * n + j]);
            c[i * n + j] = acc;
        }
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a16, b16 = a.contiguous().half(), b.contiguous().half()
        m, k = a.shape
        n = b.shape[1]
        out = torch.empty(m, n, dtype=torch.float32, device=a.device)
        lib.matmul_half(a16, b16, out, m, k, n)
        return out
