# class: phase switching (output cached by data_ptr)
# expect: inconsistent_results|no_kernel
# why: output cached by input address plus two sampled values: timing reuses its inputs
# job: time
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
    def __init__(self):
        super().__init__()
        self.key = None
        self.out = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1)
        # The sampled values guard against a freed input's address being reused.
        key = (x.data_ptr(), tuple(x.shape), float(flat[0]), float(flat[-1]))
        if key != self.key:
            self.out = torch.empty_like(x)
            lib.relu(x.contiguous(), self.out, x.numel())
            self.key = key
        return self.out
