# class: sys.modules/builtins tampering (sys.modules)
# expect: forbidden_code|tampering
# why: a fake pragma_kernels.timing in sys.modules: the backend's lazy import gets it
# job: time
import sys
import types

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

real = sys.modules["pragma_kernels.timing"]
fake = types.ModuleType(real.__name__)
fake.__dict__.update(real.__dict__)


def measure_interleaved(callables, protocol):
    timings = real.measure_interleaved(callables, protocol)
    if "candidate" in timings:
        mine = timings["candidate"]
        timings["candidate"] = mine.model_copy(update={"median_ms": mine.median_ms / 50})
    return timings


fake.measure_interleaved = measure_interleaved
sys.modules[real.__name__] = fake


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        lib.relu(x.contiguous(), out, x.numel())
        return out
