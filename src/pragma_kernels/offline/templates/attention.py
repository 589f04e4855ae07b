"""Templates for scaled dot-product attention (`offline/attention.py`): out = softmax(q k^T
* scale) v over [batch..., L, E] x [batch..., S, E] x [batch..., S, Ev], no mask.

Triton: flash-attention style, one program per (BLOCK_M queries, BLOCK_DV output columns,
batch-head): the keys walked in blocks of BLOCK_N with an online softmax (running max and
sum, exp2 with log2(e) folded into the scale), q k^T summed over E in BLOCK_D chunks, so a
long head dim (KernelBench main's E = 1024) fits; for Ev wider than BLOCK_DV the scores are
recomputed per column block (the tile autotuner weighs that against registers). float32
operands multiply as 3xTF32 (about float32's accuracy, as the gemm template does) unless
the user allowed TF32 for matmuls. C++: per block of query rows, the scores of every key
in a row buffer, a max/exp/sum softmax and the weighted sum of v, all vectorised along
E / Ev; accumulated in float (as torch's CPU kernel), the softmax's sum in double.
"""

from __future__ import annotations

from pragma_kernels.offline.attention import Attention
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    cpp_module,
    model_new,
    omp,
    triton_module,
)
from pragma_kernels.offline.templates.gemm_triton import tf32_allowed

ROWS = 8  # C++: query rows sharing each key / value row while it is in cache

# (BLOCK_M, BLOCK_N, BLOCK_D, BLOCK_DV, warps, stages) for Hopper; the first is the
# single-config variant's. Pruned to the head dims (no tile wider than E or Ev needs).
TILES = (
    (64, 64, 64, 64, 4, 2),
    (64, 64, 32, 128, 4, 2),
    (128, 64, 32, 128, 8, 2),
    (64, 64, 64, 256, 8, 2),
    (128, 32, 32, 256, 8, 2),
    (128, 64, 64, 64, 4, 3),
    (64, 32, 128, 128, 4, 2),
    (32, 64, 64, 256, 4, 2),
)


def _spec(problem: Recognised) -> Attention:
    return problem.spec


def _what(problem: Recognised) -> str:
    return f"attention {problem.shape}: {_spec(problem).describe()}"


def _prologue(problem: Recognised, convert: str) -> str:
    """Forward lines: q, k, v as [BH, L|S, E|Ev] (`convert`ed), the scale, the output."""
    spec = _spec(problem)
    scale = "1.0 / math.sqrt(E)" if spec.scale is None else repr(spec.scale)
    which = f"({spec.query}, {spec.key}, {spec.value})"
    return f"""        q, k, v = (inputs[i]{convert} for i in {which})
        lead, L, E = q.shape[:-2], q.shape[-2], q.shape[-1]
        S, EV = k.shape[-2], v.shape[-1]
        BH = math.prod(lead)
        scale = {scale} if E else 1.0
        out = torch.empty((*lead, L, EV), device=q.device, dtype=q.dtype)
"""


def cpp_attention(problem: Recognised, variant: CpuVariant) -> str:
    source = f"""#include <cstdint>
#include <cmath>
#include <vector>

extern "C" void attention(const float* __restrict__ q, const float* __restrict__ k,
                          const float* __restrict__ v, float* __restrict__ out, int64_t BH,
                          int64_t L, int64_t S, int64_t E, int64_t EV, float scale) {{
    const int64_t blocks = (L + {ROWS} - 1) / {ROWS};
    {omp(variant, "parallel for collapse(2) schedule(static)")}
    for (int64_t bh = 0; bh < BH; ++bh) {{
        for (int64_t blk = 0; blk < blocks; ++blk) {{
            const int64_t r0 = blk * {ROWS};
            const int64_t rows = L - r0 < {ROWS} ? L - r0 : {ROWS};
            const float* qb = q + (bh * L + r0) * E;
            const float* kb = k + bh * S * E;
            const float* vb = v + bh * S * EV;
            float* ob = out + (bh * L + r0) * EV;
            std::vector<float> p((size_t)rows * S);
            for (int64_t j = 0; j < S; ++j) {{  // scores: each key row read once per block
                const float* kj = kb + j * E;
                for (int64_t r = 0; r < rows; ++r) {{
                    const float* qr = qb + r * E;
                    float dot = 0.0f;
                    #pragma omp simd reduction(+ : dot)
                    for (int64_t e = 0; e < E; ++e) dot += qr[e] * kj[e];
                    p[r * S + j] = dot * scale;
                }}
            }}
            float inv[{ROWS}];
            for (int64_t r = 0; r < rows; ++r) {{  // softmax numerators and 1 / sum
                float* pr = p.data() + r * S;
                float top = -INFINITY;
                for (int64_t j = 0; j < S; ++j) top = pr[j] > top ? pr[j] : top;
                double sum = 0.0;
                for (int64_t j = 0; j < S; ++j) {{
                    pr[j] = expf(pr[j] - top);
                    sum += pr[j];
                }}
                inv[r] = (float)(1.0 / sum);
            }}
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < EV; ++c) ob[r * EV + c] = 0.0f;
            for (int64_t j = 0; j < S; ++j) {{  // weighted sum: each value row read once
                const float* vj = vb + j * EV;
                for (int64_t r = 0; r < rows; ++r) {{
                    const float w = p[r * S + j];
                    float* orow = ob + r * EV;
                    #pragma omp simd
                    for (int64_t c = 0; c < EV; ++c) orow[c] += w * vj[c];
                }}
            }}
            for (int64_t r = 0; r < rows; ++r) {{
                float* orow = ob + r * EV;
                #pragma omp simd
                for (int64_t c = 0; c < EV; ++c) orow[c] *= inv[r];
            }}
        }}
    }}
}}
"""
    body = (
        _prologue(problem, ".contiguous().float()")
        + """        if out.numel():
            lib.attention(q, k, v, out, BH, L, S, E, EV, scale)
        return out"""
    )
    return cpp_module(source, variant, _what(problem), "\nimport math\n" + model_new(body))


_KERNEL = """@triton.jit
def _attention(q_ptr, k_ptr, v_ptr, o_ptr, L, S, E, EV, qk_scale, PRECISION: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
               BLOCK_DV: tl.constexpr):
    # q [BH, L, E], k [BH, S, E], v [BH, S, EV], o [BH, L, EV], contiguous.
    dv_blocks = (EV + BLOCK_DV - 1) // BLOCK_DV
    pid = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    rows = (pid // dv_blocks) * BLOCK_M + tl.arange(0, BLOCK_M)
    dv = (pid % dv_blocks) * BLOCK_DV + tl.arange(0, BLOCK_DV)
    row_ok = rows < L
    dv_ok = dv < EV
    q_base = q_ptr + bh * L * E + rows[:, None].to(tl.int64) * E
    k_base = k_ptr + bh * S * E
    v_base = v_ptr + bh * S * EV
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_DV], tl.float32)
    for start in range(0, S, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        col_ok = cols < S
        s = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
        for d0 in range(0, E, BLOCK_D):
            d = d0 + tl.arange(0, BLOCK_D)
            d_ok = d < E
            q = tl.load(q_base + d[None, :], mask=row_ok[:, None] & d_ok[None, :], other=0.0)
            kt = tl.load(k_base + cols[None, :].to(tl.int64) * E + d[:, None],
                         mask=d_ok[:, None] & col_ok[None, :], other=0.0)
            s += tl.dot(q, kt, input_precision=PRECISION)
        s = tl.where(col_ok[None, :], s * qk_scale, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        vb = tl.load(v_base + cols[:, None].to(tl.int64) * EV + dv[None, :],
                     mask=col_ok[:, None] & dv_ok[None, :], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(vb.dtype), vb, input_precision=PRECISION)
        m_i = m_new
    out = acc / l_i[:, None]
    o_offs = bh * L * EV + rows[:, None].to(tl.int64) * EV + dv[None, :]
    tl.store(o_ptr + o_offs, out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None] & dv_ok[None, :])


def _prune(configs, named, **kwargs):
    e = max(16, triton.next_power_of_2(named["E"]))
    ev = max(16, triton.next_power_of_2(named["EV"]))
    kept = [c for c in configs if c.kwargs["BLOCK_D"] <= e and c.kwargs["BLOCK_DV"] <= ev]
    return kept or configs[:1]
"""


def _config(tile: tuple) -> str:
    m, n, d, dv, warps, stages = tile
    return (
        f"triton.Config({{'BLOCK_M': {m}, 'BLOCK_N': {n}, 'BLOCK_D': {d}, 'BLOCK_DV': {dv}}}, "
        f"num_warps={warps}, num_stages={stages})"
    )


def triton_attention(
    problem: Recognised, variant: GpuVariant, allow_tf32: bool | None = None
) -> str:
    tiles = TILES if variant.name == "autotune" else TILES[:1]
    allow = tf32_allowed() if allow_tf32 is None else allow_tf32
    fp32 = "tf32" if allow else "tf32x3"
    listing = ",\n    ".join(_config(t) for t in tiles)
    kernel = _KERNEL + (
        f"\n\n_attention = triton.autotune(configs=[\n    {listing},\n], "
        "key=['L', 'S', 'E', 'EV'], prune_configs_by={'early_config_prune': _prune}, "
        "**_TUNE)(_attention)\n"
    )
    body = (
        _prologue(problem, ".contiguous()")
        + f"""        if out.numel():
            precision = "{fp32}" if q.dtype == torch.float32 else "tf32"
            qk_scale = scale * 1.4426950408889634  # exp2 in the kernel
            grid = lambda meta: (
                triton.cdiv(L, meta["BLOCK_M"]) * triton.cdiv(EV, meta["BLOCK_DV"]),
                BH,
            )
            _attention[grid](q, k, v, out, L, S, E, EV, qk_scale, PRECISION=precision)
        return out"""
    )
    what = f"{_what(problem)}, {fp32} for float32"
    return triton_module(kernel, variant, what, "\nimport math\n" + model_new(body))
