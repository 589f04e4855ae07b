"""C++ template for convolutions (`offline/conv.py`): direct loops, register-tiled.

Every convolution is computed as a 3-D one (1-D and 2-D ones have unit leading dims).
The work is split over (batch, block of OCB out-channels, output row) with OpenMP; in a
row, the output positions along W come in passes: one for a forward convolution, one per
residue class of the stride for a transposed one (output w = r + stride * t): in a pass,
each kernel tap reads the input at base + t * step, so a transposed convolution is a
gather without scatter and without the zeros a dilated-input formulation would multiply.
The interior of a pass (every tap in bounds) runs a tile of OCB x TW accumulators held in
registers, one input vector feeding OCB fused multiply-adds; the rest of a row, in the
narrowest whole-vector tile that covers it. Rows shorter than a vector (a 3-D input whose
last dim is small) put 16 or 32 out-channels in the lanes instead (`narrow`). The few
positions at the edges, where some taps fall into the padding, take a checked scalar
path. Weights are repacked per call into [group][oc block][in-channel][tap][OCB] so a
tap's OCB weights are one contiguous load; groups and dilation are compile-time constants.
"""

from __future__ import annotations

from pragma_kernels.offline.conv import Conv, ConvChain
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import CpuVariant, cpp_module, model_new
from pragma_kernels.offline.templates.gemm_cpp import gemm_source


def narrow(conv: Conv) -> bool:
    """Rows too short for a vector along W (a pass of the recorded shape under 16 outputs)
    while a group has 16 out-channels or more: the out-channels fill the vector lanes."""
    axis = conv.dims - 1
    width = conv.output_size(conv.input_shape[2 + axis], axis)
    per_pass = -(-width // conv.stride[axis]) if conv.transposed else width
    return per_pass < 16 and conv.out_channels // conv.groups >= 16


def blocking(conv: Conv) -> tuple[int, int]:
    """(OCB, TW): out-channels and output positions per register tile. OCB x TW stays
    near 192 floats (12 AVX-512 registers of accumulators): 4 out-channels where a group
    has that many, else all of them, with a wider row tile instead; on narrow rows, 32
    or 16 out-channels (two vectors or one) x up to 12 positions. Measured on the 2-core
    AVX-512 VM (KernelBench v0 57, 58, 70, 78 at batch 2, one thread): 4 x 48 ran
    0.7-0.8x of eager where 8 x 16 ran 0.4-0.6x and 8 x 48 0.5-0.6x; wider tiles also
    read more input lines per tile (the input's channel planes alias in L1)."""
    per_group = conv.out_channels // conv.groups
    if narrow(conv):
        return (32, 12) if per_group >= 32 else (16, 12)
    ocb = min(per_group, 4)
    vectors = max(1, min(8, 12 // ocb))
    return ocb, 16 * vectors


def _three(values: tuple[int, ...], fill: int) -> tuple[int, int, int]:
    return (fill,) * (3 - len(values)) + tuple(values)


def cpp_function(conv: Conv, index: int, variant: CpuVariant) -> str:
    """`extern "C" void conv{index}(x, w, b, y, N, D, H, W, Do, Ho, Wo)` for `conv`."""
    kd, kh, kw = _three(conv.kernel, 1)
    sd, sh, sw = _three(conv.stride, 1)
    pd, ph, pw = _three(conv.padding, 0)
    dd, dh, dw = _three(conv.dilation, 1)
    ocb, tw = blocking(conv)
    g = conv.groups
    # Small convolutions stay on one thread: waking OpenMP's sleeping workers costs more
    # than the work (and, on a busy machine, milliseconds).
    parallel = "#pragma omp parallel for collapse(3) schedule(dynamic, 1) if(work >= SERIAL_MACS)"
    body = _BODY.format(
        i=index,
        parallel=parallel if variant.parallel else "",
        pack_parallel="",  # the weights are small: packing them serially is cheaper
        copy_parallel="#pragma omp parallel for if(rows * W >= SERIAL_MACS)"
        if variant.parallel
        else "",
    )
    constants = (
        f"constexpr int64_t G = {g}, CIG = {conv.in_channels // g}, "
        f"COG = {conv.out_channels // g};\n"
        f"constexpr int64_t KD = {kd}, KH = {kh}, KW = {kw};\n"
        f"constexpr int64_t SD = {sd}, SH = {sh}, SW = {sw};\n"
        f"constexpr int64_t PD = {pd}, PH = {ph}, PW = {pw};\n"
        f"constexpr int64_t DD = {dd}, DH = {dh}, DW = {dw};\n"
        f"constexpr bool TRANSPOSED = {str(conv.transposed).lower()}, "
        f"HAS_BIAS = {str(conv.bias).lower()};\n"
        f"constexpr int OCB = {ocb}, TW = {tw};\n"
        f"constexpr bool NARROW = {str(narrow(conv)).lower()};\n"
    )
    return f"namespace c{index} {{\n{constants}{_COMMON}}}  // namespace c{index}\n{body}"


_COMMON = r"""constexpr int64_t NB = (COG + OCB - 1) / OCB, KVOL = KD * KH * KW;
constexpr int64_t SOW = TRANSPOSED ? SW : 1;  // output step of a pass along W
constexpr int64_t SXW = TRANSPOSED ? 1 : SW;  // input step per output step
constexpr int64_t SERIAL_MACS = 1 << 22;  // below: one thread
constexpr int VEC = 16;  // floats per vector of a tile (one AVX-512 register, two AVX2)

// Input index along one dim feeding output o through tap k, or -1.
static inline int64_t source(int64_t o, int64_t k, int64_t S, int64_t P, int64_t DL,
                             int64_t size) {
    if (!TRANSPOSED) {
        const int64_t i = o * S - P + k * DL;
        return (i >= 0 && i < size) ? i : -1;
    }
    const int64_t num = o + P - k * DL;
    if (num < 0 || num % S) return -1;
    return num / S < size ? num / S : -1;
}

static inline float weight(const float* w, int64_t g, int64_t oc, int64_t ic, int64_t tap) {
    return TRANSPOSED ? w[((g * CIG + ic) * COG + oc) * KVOL + tap]
                      : w[((g * COG + oc) * CIG + ic) * KVOL + tap];
}

struct Row {  // the (kd, kh) taps that feed one output row, with their input rows
    int64_t count = 0;
    int64_t tap[KD * KH];
    int64_t offset[KD * KH];  // (id * H + ih) * W
};

struct Pass {  // one pass of one output row: where it reads, what it writes
    const float* __restrict__ xg;  // the group's input channels
    const float* __restrict__ wb;  // the block's packed weights
    float* __restrict__ yrow;  // out-channel oc0's output row
    int64_t ystride, ocs, r, plane, ntaps;
    const Row* row;
    const int64_t* base;  // input index of tap q at t = 0
    const int64_t* taps;  // the W taps of the pass
};

// One tile: OCB out-channels x N output positions from t0 (N == 0: n <= TW of them),
// accumulated in registers (OCB x N / VEC vectors) and stored to the output rows.
template <int N>
static inline void tile(const Pass& p, int64_t t0, int64_t n) {
    constexpr int CAP = N ? N : TW;
    const int64_t count = N ? N : n;
    float a[OCB][CAP];
    for (int j = 0; j < OCB; ++j)
        for (int t = 0; t < CAP; ++t) a[j][t] = 0.0f;
    const Row& row = *p.row;
    for (int64_t ic = 0; ic < CIG; ++ic) {
        const float* xc = p.xg + ic * p.plane + t0 * SXW;
        const float* wc = p.wb + ic * KVOL * OCB;
        for (int64_t r = 0; r < row.count; ++r) {
            const float* xr = xc + row.offset[r];
            const float* wr = wc + row.tap[r] * KW * OCB;
            for (int64_t q = 0; q < p.ntaps; ++q) {
                const float* xs = xr + p.base[q];
                const float* wt = wr + p.taps[q] * OCB;
                for (int j = 0; j < OCB; ++j) {
                    const float wj = wt[j];
                    #pragma omp simd
                    for (int t = 0; t < count; ++t) a[j][t] += wj * xs[t * SXW];
                }
            }
        }
    }
    for (int64_t j = 0; j < p.ocs; ++j) {
        float* yj = p.yrow + j * p.ystride + p.r + t0 * SOW;
        for (int64_t t = 0; t < count; ++t) yj[t * SOW] = a[j][t];
    }
}

// A tile of nv (<= V) whole vectors of positions from t0: the compile-time one of that width.
template <int V>
static inline void tail(const Pass& p, int64_t nv, int64_t t0) {
    if constexpr (V > 1)
        if (nv < V) return tail<V - 1>(p, nv, t0);
    tile<V * VEC>(p, t0, V * VEC);
}

// Narrow rows: N positions from t0 x OCB out-channels, the out-channels in the lanes.
template <int N>
static inline void tile_oc(const Pass& p, int64_t t0) {
    float a[N][OCB];
    for (int t = 0; t < N; ++t)
        for (int j = 0; j < OCB; ++j) a[t][j] = 0.0f;
    const Row& row = *p.row;
    for (int64_t ic = 0; ic < CIG; ++ic) {
        const float* xc = p.xg + ic * p.plane + t0 * SXW;
        const float* wc = p.wb + ic * KVOL * OCB;
        for (int64_t r = 0; r < row.count; ++r) {
            const float* xr = xc + row.offset[r];
            const float* wr = wc + row.tap[r] * KW * OCB;
            for (int64_t q = 0; q < p.ntaps; ++q) {
                const float* xs = xr + p.base[q];
                const float* wt = wr + p.taps[q] * OCB;
                for (int t = 0; t < N; ++t) {
                    const float v = xs[t * SXW];
                    #pragma omp simd
                    for (int j = 0; j < OCB; ++j) a[t][j] += v * wt[j];
                }
            }
        }
    }
    for (int64_t j = 0; j < p.ocs; ++j) {
        float* yj = p.yrow + j * p.ystride + p.r + t0 * SOW;
        for (int t = 0; t < N; ++t) yj[t * SOW] = a[t][j];
    }
}

// n (<= V) positions from t0 on a narrow row, in a tile of exactly n.
template <int V>
static inline void tail_oc(const Pass& p, int64_t n, int64_t t0) {
    if constexpr (V > 1)
        if (n < V) return tail_oc<V - 1>(p, n, t0);
    tile_oc<V>(p, t0);
}

// The interior [lo, hi) of a pass: full tiles, then a narrower one for the rest.
static inline void interior(const Pass& p, int64_t lo, int64_t hi) {
    int64_t t = lo;
    if (NARROW) {
        for (; t + TW <= hi; t += TW) tile_oc<TW>(p, t);
        if (t < hi) tail_oc<TW>(p, hi - t, t);
        return;
    }
    for (; t + TW <= hi; t += TW) tile<TW>(p, t, TW);
    // the rest, [t, hi), right to left in whole-vector tiles that may redo a few positions
    const int64_t room = (hi - lo) / VEC;  // vectors that fit in the interior
    if (room == 0) {
        if (t < hi) tile<0>(p, t, hi - t);
        return;
    }
    for (int64_t end = hi; end > t;) {
        int64_t nv = (end - t + VEC - 1) / VEC;
        nv = nv < room ? nv : room;
        const int64_t start = end - nv * VEC > lo ? end - nv * VEC : lo;
        tail<TW / VEC>(p, nv, start);
        end = start;
    }
}

// One output position with every tap checked (the edges of a pass).
static inline void edge(const float* __restrict__ xg, const float* __restrict__ wb,
                        float* __restrict__ out, const Row& row, int64_t ow, int64_t W,
                        int64_t plane, int64_t left) {
    float a[OCB] = {0.0f};
    for (int64_t k = 0; k < KW; ++k) {
        const int64_t iw = source(ow, k, SW, PW, DW, W);
        if (iw < 0) continue;
        for (int64_t ic = 0; ic < CIG; ++ic)
            for (int64_t r = 0; r < row.count; ++r) {
                const float v = xg[ic * plane + row.offset[r] + left + iw];
                const float* wt = wb + (ic * KVOL + row.tap[r] * KW + k) * OCB;
                for (int j = 0; j < OCB; ++j) a[j] += wt[j] * v;
            }
    }
    for (int j = 0; j < OCB; ++j) out[j] = a[j];
}

// Zeros needed left and right of each input row for every pass of every output row to read
// in bounds: with them the whole row is interior (edge() is then never needed).
static inline void margins(int64_t W, int64_t Wo, int64_t& left, int64_t& right) {
    left = right = 0;
    for (int64_t r = 0; r < SOW && r < Wo; ++r) {
        const int64_t count = (Wo - r + SOW - 1) / SOW;
        for (int64_t k = 0; k < KW; ++k) {
            const int64_t start = TRANSPOSED ? r + PW - k * DW : -PW + k * DW;
            if (TRANSPOSED && ((start % SW) + SW) % SW) continue;
            const int64_t b0 = TRANSPOSED ? start / SW : start;
            left = -b0 > left ? -b0 : left;
            const int64_t over = b0 + (count - 1) * SXW - (W - 1);
            right = over > right ? over : right;
        }
    }
}
"""

_BODY = r"""
extern "C" void conv{i}(const float* x, const float* __restrict__ w,
                       const float* __restrict__ b, float* __restrict__ y, int64_t N,
                       int64_t D, int64_t H, int64_t W, int64_t Do, int64_t Ho, int64_t Wo) {{
    using namespace c{i};
    std::vector<float> packed(G * NB * CIG * KVOL * OCB);
    {pack_parallel}
    for (int64_t gb = 0; gb < G * NB; ++gb)
        for (int64_t ic = 0; ic < CIG; ++ic)
            for (int64_t tap = 0; tap < KVOL; ++tap)
                for (int j = 0; j < OCB; ++j) {{
                    const int64_t oc = (gb % NB) * OCB + j;
                    packed[((gb * CIG + ic) * KVOL + tap) * OCB + j] =
                        oc < COG ? weight(w, gb / NB, oc, ic, tap) : 0.0f;
                }}
    const int64_t Cin = G * CIG, Cout = G * COG;
    const int64_t work = N * Cout * Do * Ho * Wo * CIG * KVOL;  // multiply-adds
    int64_t left, right;
    margins(W, Wo, left, right);
    const int64_t Wp = W + left + right, plane = D * H * Wp, rows = N * Cin * D * H;
    std::vector<float> padded;
    if (left || right) {{  // a zero-padded copy along W: O(input) against O(output * taps)
        padded.assign(rows * Wp, 0.0f);
        {copy_parallel}
        for (int64_t q = 0; q < rows; ++q)
            std::memcpy(padded.data() + q * Wp + left, x + q * W, W * sizeof(float));
        x = padded.data();
    }}
    {parallel}
    for (int64_t n = 0; n < N; ++n)
        for (int64_t gb = 0; gb < G * NB; ++gb)
            for (int64_t orow = 0; orow < Do * Ho; ++orow) {{
                const int64_t g = gb / NB, oc0 = (gb % NB) * OCB, od = orow / Ho, oh = orow % Ho;
                const int64_t ocs = COG - oc0 < OCB ? COG - oc0 : OCB;
                Row row;
                for (int64_t a = 0; a < KD; ++a) {{
                    const int64_t id = source(od, a, SD, PD, DD, D);
                    if (id < 0) continue;
                    for (int64_t c = 0; c < KH; ++c) {{
                        const int64_t ih = source(oh, c, SH, PH, DH, H);
                        if (ih < 0) continue;
                        row.tap[row.count] = a * KH + c;
                        row.offset[row.count++] = (id * H + ih) * Wp;
                    }}
                }}
                const float* xg = x + (n * Cin + g * CIG) * plane;
                const float* wb = packed.data() + gb * CIG * KVOL * OCB;
                float* yrow = y + ((n * Cout + g * COG + oc0) * Do + od) * Ho * Wo + oh * Wo;
                const int64_t ystride = Do * Ho * Wo;
                for (int64_t r = 0; r < SOW && r < Wo; ++r) {{
                    // the W taps of this pass: input index base[q] + t * SXW at w = r + SOW t
                    int64_t taps[KW], base[KW], ntaps = 0, lo = 0;
                    const int64_t count = (Wo - r + SOW - 1) / SOW;
                    int64_t hi = count;
                    for (int64_t k = 0; k < KW; ++k) {{
                        const int64_t start = TRANSPOSED ? r + PW - k * DW : -PW + k * DW;
                        if (TRANSPOSED && ((start % SW) + SW) % SW) continue;
                        const int64_t b0 = (TRANSPOSED ? start / SW : start) + left;
                        taps[ntaps] = k;
                        base[ntaps++] = b0;
                        // b0 + t * SXW in [0, Wp)
                        const int64_t first = b0 >= 0 ? 0 : (-b0 + SXW - 1) / SXW;
                        const int64_t last = Wp - 1 - b0 < 0 ? -1 : (Wp - 1 - b0) / SXW;
                        lo = first > lo ? first : lo;
                        hi = last + 1 < hi ? last + 1 : hi;
                    }}
                    if (hi < lo) hi = lo;
                    float out[OCB];
                    const Pass pass{{xg, wb, yrow, ystride, ocs, r, plane, ntaps, &row, base,
                                     taps}};
                    for (int64_t t = 0; t < count; ++t) {{
                        if (t == lo && hi > lo) {{  // the interior, in register tiles
                            interior(pass, lo, hi);
                            t = hi;
                            if (t >= count) break;
                        }}
                        edge(xg, wb, out, row, r + t * SOW, W, plane, left);
                        for (int64_t j = 0; j < ocs; ++j) yrow[j * ystride + r + t * SOW] = out[j];
                    }}
                }}
                if (HAS_BIAS)
                    for (int64_t j = 0; j < ocs; ++j) {{
                        const float bj = b[g * COG + oc0 + j];
                        float* yj = yrow + j * ystride;
                        #pragma omp simd
                        for (int64_t u = 0; u < Wo; ++u) yj[u] += bj;
                    }}
            }}
}}
"""


def forward_lines(spec: ConvChain, prepare: str, launch) -> str:
    """Apply each convolution in turn: check the channels, size the output, launch."""
    lines = [f"        x = inputs[0]{prepare}"]
    for i, conv in enumerate(spec.convs):
        sizes = [f"x.shape[{2 + axis}]" for axis in range(conv.dims)]
        outs = ", ".join(_out_expr(conv, axis, sizes[axis]) for axis in range(conv.dims))
        lines += [
            f"        if x.dim() != {conv.dims + 2} or x.shape[1] != {conv.in_channels}:",
            f"            raise ValueError(f'conv {i}: expected (N, {conv.in_channels}, ...) "
            "input, got {tuple(x.shape)}; the candidate was generated for the recorded "
            "channels; Fix: regenerate it for this problem size')",
            f"        y = torch.empty(x.shape[0], {conv.out_channels}, {outs}, "
            "device=x.device, dtype=x.dtype)",
            launch(conv, i),
            "        x = y",
        ]
    lines.append("        return x.to(inputs[0].dtype)")
    return "\n".join(lines)


def _out_expr(conv: Conv, axis: int, size: str) -> str:
    k, s, p, d = (v[axis] for v in (conv.kernel, conv.stride, conv.padding, conv.dilation))
    if conv.transposed:
        return f"({size} - 1) * {s} - {2 * p} + {d * (k - 1) + conv.output_padding[axis] + 1}"
    return f"({size} + {2 * p - d * (k - 1) - 1}) // {s} + 1"


def layers_init(spec: ConvChain) -> str:
    """Constructor lines building the reference's layers in its order (same seed, same
    weights): self.conv0, self.conv1, ..."""
    return "".join(
        f"        self.conv{i} = {conv.constructor()}\n" for i, conv in enumerate(spec.convs)
    )


def _cpp_launch(conv: Conv, i: int) -> str:
    space = ", ".join(["1"] * (3 - conv.dims) + [f"x.shape[{2 + a}]" for a in range(conv.dims)])
    out_space = ", ".join(["1"] * (3 - conv.dims) + [f"y.shape[{2 + a}]" for a in range(conv.dims)])
    # float32 weights for the float kernel, also where the problem runs in half precision
    weight = f"self.conv{i}.weight.float()"
    bias = f"self.conv{i}.bias.float()" if conv.bias else weight
    return (
        f"        if y.numel():\n"
        f"            lib.conv{i}(x, {weight}, {bias}, y, x.shape[0], {space}, "
        f"{out_space})"
    )


def _product_index(spec: ConvChain) -> int | None:
    """The convolution run by the GEMM kernel: the first 1x1 one (`Conv.as_product`); one
    per module, as the GEMM source's blocking constants are global."""
    return next((i for i, conv in enumerate(spec.convs) if conv.as_product()), None)


def _gemm_launch(conv: Conv, i: int) -> str:
    cin, cout = conv.in_channels, conv.out_channels
    return (
        "        pixels = y[0, 0].numel() if y.numel() else 0\n"
        "        if y.numel():\n"
        f"            lib.gemm(self.conv{i}.weight.float(), x, y, x.shape[0], {cout}, pixels, "
        f"{cin}, 0, {cin}, 1, {cin} * pixels, pixels, 1)"
    )


def cpp_conv(problem: Recognised, variant: CpuVariant) -> str:
    spec: ConvChain = problem.spec
    product = _product_index(spec)
    functions = "\n".join(
        cpp_function(conv, i, variant) for i, conv in enumerate(spec.convs) if i != product
    )
    source = "#include <cstdint>\n#include <cstring>\n#include <vector>\n\n" + functions
    if product is not None:
        source = gemm_source(spec.convs[product].as_product(), variant) + "\n" + source

    def launch(conv: Conv, i: int) -> str:
        return _gemm_launch(conv, i) if i == product else _cpp_launch(conv, i)

    forward = forward_lines(spec, ".contiguous().float()", launch)
    blocks = ", ".join(
        "GEMM" if i == product else "OCBxTW {}x{}".format(*blocking(conv))
        for i, conv in enumerate(spec.convs)
    )
    what = f"{problem.kind} ({blocks})"
    return cpp_module(source, variant, what, model_new(forward, init=layers_init(spec)))
