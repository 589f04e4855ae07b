"""Hand-written labelled case (not model output). Planted bottleneck: single_threaded.

1-D convolution (kernel 3, stride 1, bias): the register-tiled direct convolution of
examples/solutions/cpu/conv1d.py (8 output channels x 32 positions of accumulators per
tile), built without OpenMP threading. The loops are vectorised (-fopenmp-simd keeps the
source's SIMD hint and starts no threads), but the whole operator runs on one core while the
others idle. The twin (examples/solutions/cpu/conv1d.py) is the same source with an OpenMP
parallel-for (collapse 2) over the (batch, position tile) grid, built with -fopenmp.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

typedef float vf __attribute__((vector_size(64)));

static inline vf load(const float* p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof v); }

constexpr int64_t CO_T = 8;        // output channels per register tile
constexpr int64_t LV = 2;          // vectors of 16 positions per register tile
constexpr int64_t LT = LV * 16;    // positions per tile

// x: (B, Cin, L), w: (Cout, Cin, K), bias: (Cout) or unused, out: (B, Cout, L - K + 1).
extern "C" void conv1d(const float* __restrict__ x, const float* __restrict__ w,
                       const float* __restrict__ bias, float* __restrict__ out, int64_t B,
                       int64_t Cin, int64_t L, int64_t Cout, int64_t K, int64_t has_bias) {
    const int64_t Lout = L - K + 1;
    const int64_t tiles = (Lout + LT - 1) / LT;
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t t = 0; t < tiles; ++t) {
            // The last tile is shifted back to end at Lout (it overlaps its neighbour, which
            // rewrites the same values), so only Lout < LT needs the ragged path.
            const int64_t l0 = (t * LT + LT <= Lout || Lout < LT) ? t * LT : Lout - LT;
            const bool full_l = l0 + LT <= Lout;
            const float* xb = x + b * Cin * L;
            float* ob = out + b * Cout * Lout;
            for (int64_t co0 = 0; co0 < Cout; co0 += CO_T) {
                if (full_l && co0 + CO_T <= Cout) {
                    vf acc[CO_T][LV];
                    for (int64_t c = 0; c < CO_T; ++c) {
                        const float init = has_bias ? bias[co0 + c] : 0.0f;
                        for (int64_t v = 0; v < LV; ++v) acc[c][v] = init - (vf){};
                    }
                    for (int64_t ci = 0; ci < Cin; ++ci) {
                        const float* wc = w + (co0 * Cin + ci) * K;
                        for (int64_t k = 0; k < K; ++k) {
                            const float* xp = xb + ci * L + l0 + k;
                            vf xv[LV];
                            for (int64_t v = 0; v < LV; ++v) xv[v] = load(xp + 16 * v);
                            for (int64_t c = 0; c < CO_T; ++c) {
                                const float wv = wc[c * Cin * K + k];
                                for (int64_t v = 0; v < LV; ++v) acc[c][v] += wv * xv[v];
                            }
                        }
                    }
                    for (int64_t c = 0; c < CO_T; ++c)
                        for (int64_t v = 0; v < LV; ++v)
                            store(ob + (co0 + c) * Lout + l0 + 16 * v, acc[c][v]);
                } else {  // ragged edge of the grid
                    const int64_t len = Lout - l0 < LT ? Lout - l0 : LT;
                    const int64_t co_end = co0 + CO_T < Cout ? co0 + CO_T : Cout;
                    for (int64_t co = co0; co < co_end; ++co) {
                        float acc[LT];
                        const float init = has_bias ? bias[co] : 0.0f;
                        for (int64_t l = 0; l < len; ++l) acc[l] = init;
                        for (int64_t ci = 0; ci < Cin; ++ci) {
                            for (int64_t k = 0; k < K; ++k) {
                                const float wv = w[(co * Cin + ci) * K + k];
                                const float* xp = xb + ci * L + l0 + k;
                                #pragma omp simd
                                for (int64_t l = 0; l < len; ++l) acc[l] += wv * xp[l];
                            }
                        }
                        for (int64_t l = 0; l < len; ++l) ob[co * Lout + l0 + l] = acc[l];
                    }
                }
            }
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp-simd"])


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if (conv.stride, conv.padding, conv.dilation, conv.groups) != ((1,), (0,), (1,), 1):
            raise NotImplementedError("only stride 1, no padding, dilation 1, groups 1")
        x = x.contiguous()
        weight = conv.weight.detach().contiguous()
        bias = conv.bias.detach() if conv.bias is not None else weight.new_empty(0)
        batch, cin, length = x.shape
        cout, _, k = weight.shape
        out = torch.empty(batch, cout, length - k + 1, dtype=x.dtype)
        lib.conv1d(x, weight, bias, out, batch, cin, length, cout, k, int(conv.bias is not None))
        return out
