# class: constant output that passes on degenerate inputs
# expect: numerical_mismatch|inconsistent_results
# why: never reads x: every row mean of uniform [0, 1) inputs is 0.5 within the 1e-2 tolerance
# problem: uniform_row_mean.py
# gap: every trial draws from get_inputs(); no other input distribution is tried
import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void fill_half(float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.5f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        lib.fill_half(out, out.numel())
        return out
