"""Hand-written reference solution (not model output): softmax over the last dim in C++.

Why it is fast: exp is a Cephes-style range reduction + degree-6 polynomial that vectorises
(no libm call), and each element is exponentiated once. Pass 1 walks L1-sized chunks, writing
exp(x - chunk max) and an online sum; pass 2 rescales each chunk by exp(chunk max - row max) /
sum while the row is still in cache: x is read once from memory, the output written once.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

constexpr int64_t CHUNK = 2048;       // floats per chunk: x is read from L1 for the second loop
constexpr int64_t MAX_CHUNKS = 1024;  // chunk maxima kept per row

// exp(x) for x <= 0 (relative error ~2e-7); inputs below -87.3 give ~1e-38 instead of 0.
static inline float exp_neg(float x) {
    x = x < -87.3f ? -87.3f : x;
    // k = 1.5 * 2^23 + round(x / ln 2): the rounded integer n sits in k's low mantissa bits.
    const float k = x * 1.44269504088896341f + 12582912.0f;
    const float n = k - 12582912.0f;
    const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    const int32_t bits = (__builtin_bit_cast(int32_t, k) - 0x4B400000 + 127) << 23;  // 2^n
    return y * __builtin_bit_cast(float, bits);
}

extern "C" void softmax_rows(const float* __restrict__ x, float* __restrict__ out, int64_t rows,
                             int64_t cols) {
    // Chunk width: at least CHUNK floats, and at most MAX_CHUNKS chunks per row.
    int64_t chunk = (cols + MAX_CHUNKS - 1) / MAX_CHUNKS;
    chunk = chunk < CHUNK ? CHUNK : chunk;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = out + r * cols;
        float chunk_max[MAX_CHUNKS];
        float m = -__builtin_inff();
        float sum = 0.0f;
        // Pass 1: per chunk, e = exp(x - chunk max) into out; the running sum is kept relative
        // to the running max m.
        for (int64_t c0 = 0, i = 0; c0 < cols; c0 += chunk, ++i) {
            const int64_t len = cols - c0 < chunk ? cols - c0 : chunk;
            const float* xc = xr + c0;
            float* yc = yr + c0;
            float cm = -__builtin_inff();
            #pragma omp simd reduction(max : cm)
            for (int64_t c = 0; c < len; ++c) cm = xc[c] > cm ? xc[c] : cm;
            float s = 0.0f;
            #pragma omp simd reduction(+ : s)
            for (int64_t c = 0; c < len; ++c) {
                yc[c] = exp_neg(xc[c] - cm);
                s += yc[c];
            }
            chunk_max[i] = cm;
            if (cm > m) {
                if (m > -__builtin_inff()) sum *= exp_neg(m - cm);
                m = cm;
            }
            sum += s * exp_neg(cm - m);
        }
        // Pass 2: rescale each chunk by exp(chunk max - m) / sum (out is still in L2/L3).
        const float inv = 1.0f / sum;
        for (int64_t c0 = 0, i = 0; c0 < cols; c0 += chunk, ++i) {
            const int64_t len = cols - c0 < chunk ? cols - c0 : chunk;
            const float f = exp_neg(chunk_max[i] - m) * inv;
            float* yc = yr + c0;
            #pragma omp simd
            for (int64_t c = 0; c < len; ++c) yc[c] *= f;
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        cols = x.shape[-1]
        lib.softmax_rows(x, out, x.numel() // cols, cols)
        return out
