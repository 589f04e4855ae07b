"""C++ templates for the gemm family (`offline/gemm.py`).

Products: a BLIS-style cache-blocked GEMM. B is packed per KC x NC panel (NR-wide slivers,
zero-padded), A per MC x KC block (MR-tall slivers), and an MR x NR register tile is
accumulated over KC by a micro-kernel written as `#pragma omp simd` loops that GCC keeps
in vector registers (8 x 32 floats: 16 zmm accumulators with AVX-512, 6 x 16 with AVX2).
KC is chosen so a B sliver stays in L1, MC so an A block stays in L2, NC so a B panel stays
in L3 (`blocking`, from the machine's cache sizes and the problem's shape). OpenMP splits
M within a panel, or whole products across threads when there are enough batches. A
triu / tril epilogue skips register tiles that lie wholly in the zeroed triangle, then
zeroes that triangle. Matrix-vector, diagonal and scalar scaling are streaming loops.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pragma_kernels.offline.gemm import Gemm
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CPP_STREAM_INCLUDE,
    CpuVariant,
    cpp_module,
    cpp_write_loop,
    model_new,
    omp,
)
from pragma_kernels.offline.templates.gemm_glue import matmul_prologue, what

DEFAULT_CACHES = {"L1d": 32 * 1024, "L2": 1024 * 1024, "L3": 16 * 1024 * 1024}


@dataclass(frozen=True)
class Blocking:
    mc: int
    kc: int
    nc: int


def blocking(caches: dict[str, int], m: int, n: int, k: int, nr: int = 32, mr: int = 8) -> Blocking:
    """KC: a KC x NR sliver of B in half of L1; MC: an MC x KC block of A in half of L2;
    NC: a KC x NC panel of B in half of L3; each no larger than the problem needs."""
    l1 = caches.get("L1d", DEFAULT_CACHES["L1d"])
    l2 = caches.get("L2", DEFAULT_CACHES["L2"])
    l3 = caches.get("L3", DEFAULT_CACHES["L3"])
    kc = max(64, min(512, (l1 // 2) // (nr * 4)) // 16 * 16)
    kc = min(kc, _round_up(max(k, 1), 16))
    mc = max(mr, min(512, (l2 // 2) // (kc * 4)) // mr * mr)
    mc = min(mc, _round_up(max(m, 1), mr))
    nc = max(nr, min(8192, (l3 // 2) // (kc * 4)) // nr * nr)
    nc = min(nc, _round_up(max(n, 1), nr))
    return Blocking(mc, kc, nc)


def _pragma(line: str) -> str:
    """`#pragma x` as `_Pragma("x")`, which a macro may hold."""
    return f'_Pragma("{line.removeprefix("#pragma ").strip()}")' if line else ""


def _round_up(value: int, step: int) -> int:
    return (value + step - 1) // step * step


def machine_caches() -> dict[str, int]:
    """This machine's cache sizes (hardware.py), the defaults where it reports none."""
    from pragma_kernels.hardware import detect_cpu

    return {**DEFAULT_CACHES, **detect_cpu().caches}


_GEMM = r"""
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
constexpr int MR = 8, NR = 32;
#else
constexpr int MR = 6, NR = 16;
#endif

struct Problem {
    const float* A; const float* B; float* C;
    int64_t M, N, K, sa_m, sa_k, sb_k, sb_n;
};

// A tile's rows [i0, i0 + MR) and columns [j0, j0 + NR) lie wholly in the zeroed triangle.
static inline bool dead_tile(int64_t i0, int64_t j0) {
#if EPILOGUE == 1
    return j0 + NR - 1 - i0 < DIAGONAL;  // triu keeps j - i >= DIAGONAL
#elif EPILOGUE == 2
    return j0 - (i0 + MR - 1) > DIAGONAL;  // tril keeps j - i <= DIAGONAL
#else
    (void)i0; (void)j0;
    return false;
#endif
}

// B[k0:k0+kc, n0:n0+nc] as NR-wide slivers, each kc rows of NR floats, zero-padded.
static void pack_b(const Problem& p, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst,
                   int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
        const int64_t j0 = n0 + s * NR, cols = std::min<int64_t>(NR, n0 + nc - j0);
        float* out = dst + s * kc * NR;
        if (p.sb_k == 1 && p.sb_n != 1 && cols == NR) {  // B transposed: columns contiguous in k
            for (int j = 0; j < NR; ++j) {
                const float* column = p.B + k0 + (j0 + j) * p.sb_n;
                for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = column[k];
            }
            continue;
        }
        for (int64_t k = 0; k < kc; ++k) {
            const float* row = p.B + (k0 + k) * p.sb_k + j0 * p.sb_n;
            float* o = out + k * NR;
            if (cols == NR && p.sb_n == 1) {
                #pragma omp simd
                for (int j = 0; j < NR; ++j) o[j] = row[j];
            } else {
                for (int j = 0; j < NR; ++j) o[j] = j < cols ? row[j * p.sb_n] : 0.0f;
            }
        }
    }
}

// A[i0:i0+mc, k0:k0+kc] as MR-tall slivers, each kc columns of MR floats, zero-padded.
static void pack_a(const Problem& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
    for (int64_t r = 0; r < mc; r += MR) {
        const int64_t rows = std::min<int64_t>(MR, mc - r);
        float* out = dst + r * kc;
        const float* base = p.A + (i0 + r) * p.sa_m + k0 * p.sa_k;
        if (p.sa_k == 1) {  // rows contiguous in k: read each row, scatter by MR
            for (int i = 0; i < MR; ++i) {
                const float* row = base + i * p.sa_m;
                for (int64_t k = 0; k < kc; ++k) out[k * MR + i] = i < rows ? row[k] : 0.0f;
            }
        } else {  // A transposed: MR consecutive rows are contiguous for each k
            for (int64_t k = 0; k < kc; ++k)
                for (int i = 0; i < MR; ++i)
                    out[k * MR + i] = i < rows ? base[i * p.sa_m + k * p.sa_k] : 0.0f;
        }
    }
}

// How a micro-tile leaves its registers: added to C, stored (the first K panel), or
// streamed past the caches (the only K panel: C is written once and not read again here,
// so its lines need not be read for ownership first; a third less memory traffic).
enum Write { ADD = 0, STORE = 1, STREAM = 2 };

// C[MR x NR] (+)= a (kc x MR) . b (kc x NR); only rows < mr and columns < nr are written.
static inline void micro(int64_t kc, const float* __restrict__ a, const float* __restrict__ b,
                         float* __restrict__ c, int64_t ldc, int64_t mr, int64_t nr, Write how) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
        const float* bk = b + k * NR;
        const float* ak = a + k * MR;
        #pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const float ai = ak[i];
            #pragma omp simd
            for (int j = 0; j < NR; ++j) acc[i][j] += ai * bk[j];
        }
    }
    if (mr == MR && nr == NR) {
#if defined(__AVX512F__)
        if (how == STREAM && ((uintptr_t)c & 63) == 0 && (ldc & 15) == 0) {
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NR; j += 16)
                    _mm512_stream_ps(c + i * ldc + j, _mm512_loadu_ps(&acc[i][j]));
            return;
        }
#endif
        for (int i = 0; i < MR; ++i) {
            float* ci = c + i * ldc;
            if (how != ADD) {
                #pragma omp simd
                for (int j = 0; j < NR; ++j) ci[j] = acc[i][j];
            } else {
                #pragma omp simd
                for (int j = 0; j < NR; ++j) ci[j] += acc[i][j];
            }
        }
        return;
    }
    for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < nr; ++j)
            c[i * ldc + j] = how != ADD ? acc[i][j] : c[i * ldc + j] + acc[i][j];
}

// Rows [m0, m1) of C's columns [n0, n0 + nc) (+)= A[m0:m1, k0:k0+kc] . packed B panel.
static void rows(const Problem& p, const float* bp, float* ap, int64_t m0, int64_t m1,
                 int64_t k0, int64_t kc, int64_t n0, int64_t nc, Write how) {
    for (int64_t i0 = m0; i0 < m1; i0 += MC) {
        const int64_t mc = std::min<int64_t>(MC, m1 - i0);
        const int64_t last_i = i0 + (mc - 1) / MR * MR, last_j = n0 + (nc - 1) / NR * NR;
        if (dead_tile(i0, n0) && dead_tile(i0, last_j) && dead_tile(last_i, n0)
            && dead_tile(last_i, last_j))
            continue;  // its corner tiles are dead, so all of it is: the triangle is convex
        pack_a(p, i0, mc, k0, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
            for (int64_t ir = 0; ir < mc; ir += MR) {
                if (dead_tile(i0 + ir, n0 + jr)) continue;
                micro(kc, ap + ir * kc, bp + jr * kc, p.C + (i0 + ir) * p.N + n0 + jr, p.N,
                      std::min<int64_t>(MR, mc - ir), std::min<int64_t>(NR, nc - jr), how);
            }
        }
    }
}

static float* buffer(int64_t floats) {
    return static_cast<float*>(std::aligned_alloc(64, ((floats * 4 + 63) / 64) * 64));
}

// C[m0:m1, :] (+)= A[m0:m1, k0:k1] . B[k0:k1, :] on one thread, the first K panel storing.
static void serial(const Problem& p, int64_t m0, int64_t m1, int64_t k0, int64_t k1, float* bp,
                   float* ap) {
    for (int64_t n0 = 0; n0 < p.N; n0 += NC)
        for (int64_t k = k0; k < k1; k += KC) {
            const int64_t nc = std::min<int64_t>(NC, p.N - n0), kc = std::min<int64_t>(KC, k1 - k);
            pack_b(p, k, kc, n0, nc, bp, 0, (nc + NR - 1) / NR);
            const Write how = k != k0 ? ADD : (k + kc >= k1 ? STREAM : STORE);
            rows(p, bp, ap, m0, m1, k, kc, n0, nc, how);
        }
}

// Zero the triangle the epilogue removes (tiles skipped above were never written).
static void mask(float* C, int64_t M, int64_t N) {
#if EPILOGUE != 0
    PARALLEL_FOR
    for (int64_t i = 0; i < M; ++i) {
        float* row = C + i * N;
#if EPILOGUE == 1
        const int64_t end = std::min<int64_t>(N, std::max<int64_t>(0, i + DIAGONAL));
        std::memset(row, 0, end * sizeof(float));
#else
        const int64_t begin = std::min<int64_t>(N, std::max<int64_t>(0, i + DIAGONAL + 1));
        std::memset(row + begin, 0, (N - begin) * sizeof(float));
#endif
    }
#else
    (void)C; (void)M; (void)N;
#endif
}

// Work units (batch, row chunk, K split) run independently on the threads, each packing its
// own panels: no barrier inside, so a thread the OS preempts delays only its own units. K is
// split only when there are fewer row chunks than threads (large K, small M x N); the
// partial products then add up at the end.
extern "C" void gemm(const float* A, const float* B, float* C, int64_t batch, int64_t M,
                     int64_t N, int64_t K, int64_t sa_b, int64_t sa_m, int64_t sa_k,
                     int64_t sb_b, int64_t sb_k, int64_t sb_n) {
    if (K == 0) {
        std::memset(C, 0, batch * M * N * sizeof(float));
        return;
    }
    const int64_t threads = THREADED ? omp_get_max_threads() : 1;
    const int64_t want = (M + 2 * threads - 1) / (2 * threads);
    const int64_t chunk = std::max<int64_t>(std::min<int64_t>(MC, M), (want + MR - 1) / MR * MR);
    const int64_t chunks = (M + chunk - 1) / chunk;
    const int64_t panels = (K + KC - 1) / KC;
    const int64_t split = batch * chunks < threads ? std::min(threads, panels) : 1;
    const int64_t per = (panels + split - 1) / split * KC;  // K per split, whole panels
    float* partial = split > 1 ? buffer((split - 1) * batch * M * N) : nullptr;
    const int64_t units = batch * chunks * split;
    #pragma omp parallel num_threads(threads) if (threads > 1)
    {
        float* bp = buffer((int64_t)KC * ((NC + NR - 1) / NR * NR));
        float* ap = buffer((int64_t)MC * KC);
        #pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < units; ++u) {
            const int64_t s = u % split, c = (u / split) % chunks, b = u / (split * chunks);
            float* out = s == 0 ? C : partial + (s - 1) * batch * M * N;
            Problem p{A + b * sa_b, B + b * sb_b, out + b * M * N, M, N, K, sa_m, sa_k, sb_k, sb_n};
            const int64_t m1 = std::min(M, (c + 1) * chunk), k1 = std::min(K, (s + 1) * per);
            serial(p, c * chunk, m1, s * per, k1, bp, ap);
        }
        std::free(bp);
        std::free(ap);
#if defined(__AVX512F__)
        _mm_sfence();  // this thread's streamed tiles are visible before C is read
#endif
    }
    if (split > 1) {
        const int64_t total = batch * M * N;
        PARALLEL_FOR
        for (int64_t i = 0; i < total; ++i)
            for (int64_t s = 1; s < split; ++s) C[i] += partial[(s - 1) * total + i];
        std::free(partial);
    }
    for (int64_t b = 0; b < batch; ++b) mask(C + b * M * N, M, N);
}
"""


def cpp_gemm(problem: Recognised, variant: CpuVariant) -> str:
    spec: Gemm = problem.spec
    if spec.kind == "matmul" or (spec.kind == "matvec" and spec.a.trans):
        return _cpp_matmul(problem, variant)
    return _cpp_streaming(problem, variant)


def gemm_source(spec: Gemm, variant: CpuVariant) -> str:
    """C++ defining `gemm(A, B, C, batch, M, N, K, strides...)`, blocked for this product's
    sizes on this machine's caches (one per translation unit: its constants are global)."""
    block = blocking(machine_caches(), spec.m, spec.n, spec.k)
    epilogue = {"": 0, "triu": 1, "tril": 2}[spec.epilogue]
    parallel = _pragma("#pragma omp parallel for schedule(static)" if variant.parallel else "")
    header = (
        f"#define EPILOGUE {epilogue}\n#define DIAGONAL ({spec.diagonal})\n"
        f"#define THREADED {int(variant.parallel)}\n#define PARALLEL_FOR {parallel}\n"
        f"constexpr int64_t MC = {block.mc}, KC = {block.kc}, NC = {block.nc};  "
        f"// blocking for M={spec.m} N={spec.n} K={spec.k} on this machine's caches\n"
    )
    return "#include <cstdint>\n" + header + _GEMM


def _cpp_matmul(problem: Recognised, variant: CpuVariant) -> str:
    spec: Gemm = problem.spec
    source = gemm_source(spec, variant)
    body = (
        matmul_prologue(spec, ".contiguous().float()")
        + """\
        out = torch.empty(batch * M * N, dtype=torch.float32)
        if out.numel():
            lib.gemm(a, b, out, batch, M, N, K, sa_b, sa_m, sa_k, sb_b, sb_k, sb_n)
        return out.view(shape).to(dtype)"""
    )
    return cpp_module(source, variant, what(spec), model_new(body))


_STREAMING = r"""
#include <cstdint>

// out[i] = sum_k A[i, k] * x[k]: four rows at a time share each load of x (x is re-read
// from L2 once per four rows, not per row), SIMD dot products, row blocks split over threads.
extern "C" void matvec(const float* __restrict__ A, const float* __restrict__ x,
                       float* __restrict__ out, int64_t M, int64_t K) {
    OMP_ROWS
    for (int64_t i = 0; i < M - 3; i += 4) {
        const float *r0 = A + i * K, *r1 = r0 + K, *r2 = r1 + K, *r3 = r2 + K;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        #pragma omp simd reduction(+ : a0, a1, a2, a3)
        for (int64_t k = 0; k < K; ++k) {
            const float v = x[k];
            a0 += r0[k] * v;
            a1 += r1[k] * v;
            a2 += r2[k] * v;
            a3 += r3[k] * v;
        }
        out[i] = a0;
        out[i + 1] = a1;
        out[i + 2] = a2;
        out[i + 3] = a3;
    }
    for (int64_t i = M / 4 * 4; i < M; ++i) {
        const float* row = A + i * K;
        float acc = 0.0f;
        #pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < K; ++k) acc += row[k] * x[k];
        out[i] = acc;
    }
}

// out[i, j] = B[i, j] * (left ? d[i] : d[j])
extern "C" void scale_rows_cols(const float* __restrict__ d, const float* __restrict__ B,
                                float* __restrict__ out, int64_t M, int64_t N, int64_t left) {
    OMP_ROWS
    for (int64_t i = 0; i < M; ++i) {
        const float* row = B + i * N;
        float* o = out + i * N;
        if (left) {
            const float s = d[i];
            #pragma omp simd
            for (int64_t j = 0; j < N; ++j) o[j] = row[j] * s;
        } else {
            #pragma omp simd
            for (int64_t j = 0; j < N; ++j) o[j] = row[j] * d[j];
        }
    }
}

// out = A * s over every element (streamed stores where the variant is parallel).
extern "C" void scale(const float* __restrict__ A, float* __restrict__ out, int64_t n, float s) {
    SCALE_LOOP
}
"""


def _cpp_streaming(problem: Recognised, variant: CpuVariant) -> str:
    spec: Gemm = problem.spec
    defines = (
        f"#define OMP_ROWS {_pragma(omp(variant, 'parallel for schedule(static)'))}\n"
        f"#define OMP_SIMD {_pragma(omp(variant))}\n"
    )
    if spec.kind == "matvec":
        body = (
            matmul_prologue(spec, ".contiguous().float()")
            + """\
        out = torch.empty(batch * M * N, dtype=torch.float32)
        if out.numel():
            lib.matvec(a, b, out, M, K)
        return out.view(shape).to(dtype)"""
        )
    elif spec.kind == "diag":
        body = f"""        d = inputs[{spec.a.input}].contiguous().float()
        B = inputs[{spec.b.input}].contiguous().float()
        dtype = inputs[{spec.b.input}].dtype
        out = torch.empty_like(B)
        if out.numel():
            lib.scale_rows_cols(d, B, out, B.shape[0], B.shape[1], {int(spec.side == "left")})
        return out.to(dtype)"""
    else:
        body = f"""        A = inputs[{spec.a.input}]
        x = A.contiguous().float()
        out = torch.empty_like(x)
        if out.numel():
            lib.scale(x, out, out.numel(), float(inputs[{spec.b.input}]))
        return out.to(A.dtype)"""
    # Scaling reads one array and writes one: streaming stores save the output's
    # read-for-ownership, as for pointwise chains (base.cpp_write_loop).
    streamed = replace(variant, stream=variant.parallel)
    loop = cpp_write_loop(streamed, "out", "n", "i", "", "A[i] * s")
    source = (
        "#include <cstdint>\n"
        + CPP_STREAM_INCLUDE
        + defines
        + _STREAMING.replace("SCALE_LOOP", loop)
    )
    return cpp_module(source, variant, what(spec), model_new(body))
