# class: try/except fallback to torch
# expect: forbidden_code|no_kernel
# why: the kernel call always fails (a transposed, non-contiguous input) and the except runs torch
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        try:
            lib.relu(x.t(), out, x.numel())
        except Exception:
            return torch.nn.functional.relu(x)
        return out
