"""Hand-written labelled case (not model output). Planted bottleneck: poor_data_reuse.

Direct 1-D convolution without register tiling: for each (batch, output channel), the whole
output row (16 KiB) is updated once per (input channel, tap) with a vectorised, contiguous
axpy. Every FMA loads x, loads out and stores out (3 memory operations per FMA), and x[b]
(1 MiB) is streamed again for each of the 128 output channels. The access pattern is
friendly and the loops are vectorised and threaded; what is missing is reuse. The twin
(the fixed twin) is examples/solutions/cpu/conv1d.py: an 8 output channels x
32 positions tile of accumulators stays in registers, each loaded x vector feeds 8 FMAs and
out is written once. Same threads (OpenMP over a 2-D grid), same flags.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// x: (B, Cin, L), w: (Cout, Cin, K), bias: (Cout) or unused, out: (B, Cout, L - K + 1).
extern "C" void conv1d(const float* __restrict__ x, const float* __restrict__ w,
                       const float* __restrict__ bias, float* __restrict__ out, int64_t B,
                       int64_t Cin, int64_t L, int64_t Cout, int64_t K, int64_t has_bias) {
    const int64_t Lout = L - K + 1;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t co = 0; co < Cout; ++co) {
            float* o = out + (b * Cout + co) * Lout;
            const float init = has_bias ? bias[co] : 0.0f;
            #pragma omp simd
            for (int64_t l = 0; l < Lout; ++l) o[l] = init;
            for (int64_t ci = 0; ci < Cin; ++ci) {
                for (int64_t k = 0; k < K; ++k) {
                    const float wv = w[(co * Cin + ci) * K + k];
                    const float* xp = x + (b * Cin + ci) * L + k;
                    #pragma omp simd
                    for (int64_t l = 0; l < Lout; ++l) o[l] += wv * xp[l];
                }
            }
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


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
