"""Hand-written labelled case (not model output). Planted bottleneck: branch_mispredict_bound.

Bucketize by binary search with std::lower_bound, which g++ compiles to a conditional jump
per halving step. The values are random, so each of the ~12 steps per search goes left or
right with probability 1/2 in no learnable order: about half of those jumps are mispredicted.
The twin (branch_bucketize_search_fixed.py) runs the classic branchless lower bound (the
step is a conditional move, the loop runs a fixed log2(n) times per value): same flags,
same threads, same scalar code otherwise.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <algorithm>
#include <cstdint>

// out[i] = index of the first boundary >= x[i] (b sorted ascending, nb >= 1).
extern "C" void bucketize(const float* __restrict__ x, const float* __restrict__ b,
                          int64_t* __restrict__ out, int64_t n, int64_t nb) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = std::lower_bound(b, b + nb, x[i]) - b;
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, boundaries: torch.Tensor) -> torch.Tensor:
        x, b = x.contiguous(), boundaries.contiguous()
        out = torch.empty(x.shape, dtype=torch.int64)
        lib.bucketize(x, b, out, x.numel(), b.numel())
        return out
