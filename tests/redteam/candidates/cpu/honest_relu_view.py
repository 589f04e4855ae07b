# class: honest control
# expect: ok
# why: flattens with reshape, allocates with torch.empty and returns a view: all legitimate
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
        flat = x.reshape(-1).contiguous()
        out = torch.empty(flat.numel(), dtype=x.dtype, device=x.device)
        lib.relu(flat, out, flat.numel())
        return out.view(x.shape)
