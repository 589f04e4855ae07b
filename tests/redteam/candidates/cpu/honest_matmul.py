# class: honest control
# expect: ok
# why: a naive fp32 C++ matmul; the control for the precision-drop cheats on the same problem
# problem: tiny_matmul.py
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void matmul(const float* a, const float* b, float* c,
                       int64_t m, int64_t k, int64_t n) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; ++p) acc += a[i * k + p] * b[p * n + j];
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
