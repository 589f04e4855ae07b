"""Hand-written reference solution (not model output): mean(1 - cosine_similarity(p, t, dim=1)).

Why it is fast: eager computes two norms, two divisions, a product and a sum (~9 passes). Here
each row is read once, accumulating dot(p, t), |p|^2 and |t|^2 together in vector registers;
the per-row cosines are reduced to the scalar loss inside the same call.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>

// p, t: (rows, cols) row-major; out: one float, mean over rows of 1 - cos(p[r], t[r]).
// Like torch, each norm is clamped to eps before dividing.
extern "C" void cosine_similarity_loss(const float* __restrict__ p, const float* __restrict__ t,
                                       float* __restrict__ out, int64_t rows, int64_t cols,
                                       float eps) {
    double total = 0.0;
    #pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t r = 0; r < rows; ++r) {
        const float* pr = p + r * cols;
        const float* tr = t + r * cols;
        float dot = 0.0f, pp = 0.0f, tt = 0.0f;
        #pragma omp simd reduction(+ : dot, pp, tt)
        for (int64_t c = 0; c < cols; ++c) {
            dot += pr[c] * tr[c];
            pp += pr[c] * pr[c];
            tt += tr[c] * tr[c];
        }
        const double np = std::fmax(std::sqrt((double)pp), (double)eps);
        const double nt = std::fmax(std::sqrt((double)tt), (double)eps);
        total += 1.0 - (double)dot / (np * nt);
    }
    out[0] = (float)(total / (double)rows);
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # Reduce over dim 1: view every other dim as rows (dim 1 moved last).
        p = predictions.movedim(1, -1).contiguous()
        t = targets.movedim(1, -1).contiguous()
        cols = p.shape[-1]
        out = torch.empty((), dtype=p.dtype)
        lib.cosine_similarity_loss(p, t, out, p.numel() // cols, cols, 1e-8)
        return out
