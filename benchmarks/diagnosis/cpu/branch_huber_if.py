"""Hand-written labelled case (not model output). Planted bottleneck: branch_mispredict_bound.

Huber loss with an if/else per element on |p - t| < 1. With p and t standard normal, the
difference is N(0, 2) and the branch goes either way about half the time in random order:
the predictor cannot learn it, so roughly every other element costs a pipeline flush. The
twin (branch_huber_if_fixed.py) computes the same loss without a branch, as
0.5 m^2 + (|d| - m) with m = min(|d|, 1) (one vminss). Both variants are built with
-fno-tree-vectorize so that both stay scalar and differ only in the branch; same threads
and double accumulators.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>

// out[0] = mean over i of huber(p[i] - t[i]) with delta = 1.
extern "C" void huber(const float* __restrict__ p, const float* __restrict__ t,
                      float* __restrict__ out, int64_t n) {
    double sq = 0.0, lin = 0.0;
    #pragma omp parallel for schedule(static) reduction(+ : sq, lin)
    for (int64_t i = 0; i < n; ++i) {
        const float d = p[i] - t[i];
        const float ad = std::fabs(d);
        if (ad < 1.0f)
            sq += d * d;
        else
            lin += ad - 0.5f;
    }
    out[0] = (float)((0.5 * sq + lin) / (double)n);
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp", "-fno-tree-vectorize"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        p, t = predictions.contiguous(), targets.contiguous()
        out = torch.empty(1, dtype=p.dtype)
        lib.huber(p, t, out, p.numel())
        return out.reshape(())
