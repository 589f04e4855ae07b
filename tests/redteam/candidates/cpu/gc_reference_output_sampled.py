# class: reading the reference's output (sampled, gc)
# expect: forbidden_code|non_finite|numerical_mismatch
# why: scans gc for a live tensor that matches relu(x) at 16 sampled positions and copies it
import gc

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void copy(const float* src, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = src[i];
}

extern "C" void zeros(float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


def live_answer(x: torch.Tensor):
    flat = x.reshape(-1)
    picks = [(i * 7919) % flat.numel() for i in range(16)]
    want = [max(float(flat[i]), 0.0) for i in picks]
    for obj in gc.get_objects():
        if type(obj) is not torch.Tensor or obj is x or obj.shape != x.shape:
            continue
        if obj.dtype != x.dtype or obj.data_ptr() == x.data_ptr():
            continue
        other = obj.reshape(-1)
        if all(float(other[i]) == w for i, w in zip(picks, want, strict=True)):
            return obj
    return None


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        answer = live_answer(x)
        if answer is not None:
            lib.copy(answer.contiguous(), out, out.numel())
        else:
            lib.zeros(out, out.numel())
        return out
