"""C++ kernels of the generated CPU suite (generate_cpu.py): for each operator a fixed
version and one kernel per defect it can carry. Every kernel has the signature
`kern(const float* x, const float* y, float* out, int64_t rows, int64_t cols)`; y is
unused (one element) where the operator has one input."""

from __future__ import annotations

from dataclasses import dataclass

FLAGS = ("-O3", "-march=native", "-fopenmp")
NO_VEC = (*FLAGS, "-fno-tree-vectorize")
SIG = (
    'extern "C" void kern(const float* __restrict__ x, const float* __restrict__ y, '
    "float* __restrict__ out, int64_t rows, int64_t cols)"
)
SIG_ALIASED = (  # no __restrict__: per-thread slots must stay in memory
    'extern "C" void kern(const float* x, const float* y, float* out, int64_t rows, int64_t cols)'
)


@dataclass(frozen=True)
class Operator:
    doc: str
    reference: str  # the torch expression Model.forward returns
    y_shape: str
    out_shape: str
    fast_math: bool = False  # the fixed kernel needs -ffast-math to vectorise libm calls


@dataclass(frozen=True)
class Kernel:
    source: str
    flags: tuple[str, ...] = FLAGS
    what: str = ""
    zeroed: bool = False  # the output is allocated with zeros (atomic accumulation)


OPERATORS = {
    "huber": Operator(
        "elementwise Huber loss of x - y (delta 1)",
        'F.huber_loss(x, y, reduction="none", delta=1.0)',
        "ROWS, COLS",
        "rows, cols",
    ),
    "silu": Operator("SiLU, x * sigmoid(x)", "F.silu(x)", "1", "rows, cols", fast_math=True),
    "rowsum": Operator("sum over each row", "x.sum(dim=1)", "1", "rows"),
    "colsum": Operator("sum over each column", "x.sum(dim=0)", "1", "cols"),
    "stencil": Operator(
        "3-point stencil along rows (0.25, 0.5, 0.25), zero padded",
        "0.25 * F.pad(x, (1, 0))[:, :-1] + 0.5 * x + 0.25 * F.pad(x, (0, 1))[:, 1:]",
        "1",
        "rows, cols",
    ),
    "matvec": Operator("matrix-vector product", "x @ y", "COLS", "rows"),
    # A second held-out split, added after the first held-out run: written without
    # changing any rule, run once.
    "softplus": Operator(
        "softplus, log(1 + exp(x))", "F.softplus(x)", "1", "rows, cols", fast_math=True
    ),
    "lerp": Operator(
        "linear interpolation x + 0.3 (y - x)", "torch.lerp(x, y, 0.3)", "ROWS, COLS", "rows, cols"
    ),
    # A third held-out split, added after memory_bandwidth_cpu's cache-fit change had been
    # committed: written without changing any rule, run once.
    "gelu": Operator(
        "GELU, tanh approximation: x sigmoid(2 u), u = 0.79788 (x + 0.044715 x^3)",
        'F.gelu(x, approximate="tanh")',
        "1",
        "rows, cols",
        fast_math=True,
    ),
    "addcmul": Operator(
        "x + 0.5 x y", "torch.addcmul(x, x, y, value=0.5)", "ROWS, COLS", "rows, cols"
    ),
}

# -- pointwise (huber, silu): one element function, several loop shapes ---------------------
ELEM = {
    "gelu": (
        "static inline float elem(float a, float) { const float u = 0.7978845608f * (a + "
        "0.044715f * a * a * a); return a / (1.0f + std::exp(-2.0f * u)); }",
        "static inline float elem(float a, float) { const double v = a; const double u = "
        "0.7978845608028654 * (v + 0.044715 * v * v * v); "
        "return (float)(v / (1.0 + std::exp(-2.0 * u))); }",
        "0.0f",
    ),
    "addcmul": (
        "static inline float elem(float a, float b) { return a + 0.5f * a * b; }",
        "static inline float elem(float a, float b) { return (float)((double)a + 0.5 * "
        "(double)a * (double)b); }",
        "y[{k}]",
    ),
    "softplus": (
        "static inline float elem(float a, float) { const float p = a > 0.0f ? a : 0.0f; "
        "return p + std::log1p(std::exp(-std::fabs(a))); }",
        "static inline float elem(float a, float) { const double v = a; const double p = v > 0.0 "
        "? v : 0.0; return (float)(p + std::log1p(std::exp(-std::fabs(v)))); }",
        "0.0f",
    ),
    "lerp": (
        "static inline float elem(float a, float b) { return a + 0.3f * (b - a); }",
        "static inline float elem(float a, float b) { return (float)((double)a + 0.3 * "
        "((double)b - (double)a)); }",
        "y[{k}]",
    ),
    "huber": (
        # Branch-free Huber: q = min(|d|, 1) = (|d| + 1 - ||d| - 1|) / 2, then q (|d| - q / 2).
        # No compare at all: GCC turns even a scalar min into a branch, which would plant a
        # second defect in every scalar variant.
        "static inline float elem(float a, float b) { const float ad = std::fabs(a - b); "
        "const float q = 0.5f * (ad + 1.0f - std::fabs(ad - 1.0f)); return q * (ad - 0.5f * q); }",
        "static inline float elem(float a, float b) { const double ad = std::fabs((double)a - "
        "(double)b); const double q = 0.5 * (ad + 1.0 - std::fabs(ad - 1.0)); "
        "return (float)(q * (ad - 0.5 * q)); }",
        "y[{k}]",
    ),
    "silu": (
        "static inline float elem(float a, float) { return a / (1.0f + std::exp(-a)); }",
        "static inline float elem(float a, float) { const double v = (double)a; "
        "return (float)(v / (1.0 + std::exp(-v))); }",
        "0.0f",
    ),
}

PW_LOOP = """{elem}
{sig} {{
    const int64_t n = rows * cols;
    {pragma}
    for (int64_t k = 0; k < n; ++k) out[k] = elem(x[k], {y});
}}"""
PW_ATOMIC = """{elem}
{sig} {{
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {{
        const float v = elem(x[k], {y});
        #pragma omp atomic
        out[k] += v;
    }}
}}"""
PW_COLUMNS = """{elem}
{sig} {{
    #pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < cols; ++j)
        for (int64_t i = 0; i < rows; ++i) {{
            const int64_t k = i * cols + j;
            out[k] = elem(x[k], {y});
        }}
}}"""
MULTI_PASS = {
    "huber": """%s {
    const int64_t n = rows * cols;
    float* d = new float[n];
    float* a = new float[n];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) d[k] = x[k] - y[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) a[k] = std::fabs(d[k]);
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) out[k] = a[k] < 1.0f ? 0.5f * d[k] * d[k] : a[k] - 0.5f;
    delete[] d;
    delete[] a;
}""",
    "silu": """%s {
    const int64_t n = rows * cols;
    float* t = new float[n];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = -x[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = std::exp(t[k]);
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = 1.0f + t[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) out[k] = x[k] / t[k];
    delete[] t;
}""",
    "stencil": """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * cols; float* o = out + i * cols;
        #pragma omp simd
        for (int64_t j = 0; j < cols; ++j) o[j] = 0.0f;
    }
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * cols; float* o = out + i * cols;
        #pragma omp simd
        for (int64_t j = 1; j < cols; ++j) o[j] = 0.25f * r[j - 1];
    }
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * cols; float* o = out + i * cols;
        #pragma omp simd
        for (int64_t j = 0; j < cols; ++j) o[j] += 0.5f * r[j];
    }
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * cols; float* o = out + i * cols;
        #pragma omp simd
        for (int64_t j = 0; j < cols - 1; ++j) o[j] += 0.25f * r[j + 1];
    }
}""",
    "matvec": """%s {
    float* t = new float[rows * cols];
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        #pragma omp simd
        for (int64_t j = 0; j < cols; ++j) t[i * cols + j] = x[i * cols + j] * y[j];
    }
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        float acc = 0.0f;
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < cols; ++j) acc += t[i * cols + j];
        out[i] = acc;
    }
    delete[] t;
}""",
}
MULTI_PASS["softplus"] = """%s {
    const int64_t n = rows * cols;
    float* t = new float[n];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = -std::fabs(x[k]);
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = std::exp(t[k]);
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = std::log1p(t[k]);
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) out[k] = (x[k] > 0.0f ? x[k] : 0.0f) + t[k];
    delete[] t;
}"""
MULTI_PASS["lerp"] = """%s {
    const int64_t n = rows * cols;
    float* d = new float[n];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) d[k] = y[k] - x[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) d[k] = 0.3f * d[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) out[k] = x[k] + d[k];
    delete[] d;
}"""
MULTI_PASS["gelu"] = """%s {
    const int64_t n = rows * cols;
    float* t = new float[n];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = x[k] * x[k] * x[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = x[k] + 0.044715f * t[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = std::exp(-1.5957691216f * t[k]);
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) out[k] = x[k] / (1.0f + t[k]);
    delete[] t;
}"""
MULTI_PASS["addcmul"] = """%s {
    const int64_t n = rows * cols;
    float* t = new float[n];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = x[k] * y[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) t[k] = 0.5f * t[k];
    #pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; ++k) out[k] = x[k] + t[k];
    delete[] t;
}"""
BRANCHY = {
    "gelu": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        const float a = x[k];
        const float u = 1.5957691216f * (a + 0.044715f * a * a * a);
        if (a >= 0.0f) { const float e = std::exp(-u); out[k] = a / (1.0f + e); }
        else { const float e = std::exp(u); out[k] = a * e / (1.0f + e); }
    }
}""",
    "addcmul": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        if (y[k] > 0.0f) out[k] = x[k] + 0.5f * x[k] * y[k];
        else out[k] = x[k] * (1.0f + 0.5f * y[k]);
    }
}""",
    "softplus": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        const float a = x[k];
        if (a > 0.0f) out[k] = a + std::log1p(std::exp(-a));
        else out[k] = std::log1p(std::exp(a));
    }
}""",
    "lerp": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        if (y[k] > x[k]) out[k] = x[k] + 0.3f * (y[k] - x[k]);
        else out[k] = y[k] + 0.7f * (x[k] - y[k]);
    }
}""",
    "huber": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        const float d = x[k] - y[k];
        const float ad = std::fabs(d);
        if (ad < 1.0f) out[k] = 0.5f * d * d;
        else out[k] = ad - 0.5f;
    }
}""",
    "silu": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        const float a = x[k];
        if (a >= 0.0f) { const float e = std::exp(-a); out[k] = a / (1.0f + e); }
        else { const float e = std::exp(a); out[k] = a * e / (1.0f + e); }
    }
}""",
}


def _pointwise(op: str) -> dict[tuple[str, str], Kernel]:
    elem, elem_double, y = ELEM[op]
    y = y.format(k="k")
    fast = ("-ffast-math",) if OPERATORS[op].fast_math else ()

    def loop(pragma: str, body: str = elem, sig: str = SIG) -> str:
        return PW_LOOP.format(elem=body, sig=sig, pragma=pragma, y=y)

    par = "#pragma omp parallel for simd schedule(static)"
    return {
        ("fixed", op): Kernel(loop(par), (*FLAGS, *fast)),
        ("serial", op): Kernel(
            loop("#pragma omp simd"), (*FLAGS, *fast), "Vectorised, but no parallel loop."
        ),
        ("false_sharing", op): Kernel(
            loop("#pragma omp parallel for schedule(static, 1)"),
            (*FLAGS, *fast),
            "schedule(static, 1): neighbouring elements, in one cache line, go to different "
            "threads, which write that line in turn.",
        ),
        ("atomics", op): Kernel(
            PW_ATOMIC.format(elem=elem, sig=SIG, y=y),
            (*FLAGS, *fast),
            "Each result is added atomically into the zeroed output.",
            zeroed=True,
        ),
        ("slow_math", op): Kernel(
            loop(par, elem_double), (*FLAGS, *fast), "Computed in double precision."
        ),
        ("not_vectorised", op): Kernel(
            loop("#pragma omp parallel for schedule(static)"),
            (*NO_VEC, *fast),
            "Built with -fno-tree-vectorize and no omp simd: scalar code.",
        ),
        ("column_walk", op): Kernel(
            PW_COLUMNS.format(elem=elem, sig=SIG, y=y.replace("k", "k")),
            (*FLAGS, *fast),
            "Walks the matrix column by column (stride = one row).",
        ),
        ("multi_pass", op): Kernel(
            MULTI_PASS[op] % SIG, (*FLAGS, *fast), "Unfused passes through temporaries."
        ),
        ("branchy", op): Kernel(
            BRANCHY[op] % SIG,
            NO_VEC,
            "A data-dependent if/else per element, scalar (random signs: unpredictable).",
        ),
    }


# -- reductions and the rest: written out per operator ---------------------------------------
ROWSUM = {
    "fixed": """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        float acc = 0.0f;
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < cols; ++j) acc += x[i * cols + j]%s;
        out[i] = acc;
    }
}""",
    "serial": """%s {
    for (int64_t i = 0; i < rows; ++i) {
        float acc = 0.0f;
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < cols; ++j) acc += x[i * cols + j]%s;
        out[i] = acc;
    }
}""",
    "false_sharing": """%s {
    const int nt = omp_get_max_threads();
    float* slots = new float[nt];
    volatile float* sums = slots;  // one float per thread, all in one cache line
    #pragma omp parallel
    {
        const int t = omp_get_thread_num();
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < rows; ++i) {
            sums[t] = 0.0f;
            for (int64_t j = 0; j < cols; ++j) sums[t] += x[i * cols + j]%s;
            out[i] = sums[t];
        }
    }
    delete[] slots;
}""",
    "atomics": """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) {
        const int64_t i = k / cols, j = k %% cols;
        const float v = x[k]%s;
        (void)j;
        #pragma omp atomic
        out[i] += v;
    }
}""",
    "slow_math": """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        double acc = 0.0;
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < cols; ++j) acc += (double)x[i * cols + j]%s;
        out[i] = (float)acc;
    }
}""",
    "not_vectorised": """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
        float acc = 0.0f;
        for (int64_t j = 0; j < cols; ++j) acc += x[i * cols + j]%s;
        out[i] = acc;
    }
}""",
}
WHAT = {
    "serial": "Vectorised, but no parallel loop.",
    "false_sharing": "Each thread accumulates in its own slot of a shared array: the slots "
    "share one cache line, written by every thread at every element.",
    "atomics": "Every element is added atomically into its output.",
    "slow_math": "Accumulated in double precision.",
    "not_vectorised": "A plain float accumulation without -ffast-math or omp simd: the "
    "compiler keeps the additions in order, scalar.",
    "column_walk": "Walks the matrix column by column (stride = one row).",
    "multi_pass": "Unfused passes through temporaries.",
}

COLSUM = {
    "fixed": """%s {
    constexpr int64_t B = 256;
    #pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
        const int64_t w = cols - j0 < B ? cols - j0 : B;
        float* __restrict__ o = out + j0;
        for (int64_t j = 0; j < w; ++j) o[j] = 0.0f;
        for (int64_t i = 0; i < rows; ++i) {
            const float* __restrict__ r = x + i * cols + j0;
            #pragma omp simd
            for (int64_t j = 0; j < w; ++j) o[j] += r[j];
        }
    }
}""",
    "false_sharing": """%s {
    const int nt = omp_get_max_threads();
    float* part = new float[cols * nt]();  // part[j * nt + t]: threads' sums interleaved
    #pragma omp parallel
    {
        const int t = omp_get_thread_num();
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) part[j * nt + t] += x[i * cols + j];
    }
    for (int64_t j = 0; j < cols; ++j) {
        float s = 0.0f;
        for (int t = 0; t < nt; ++t) s += part[j * nt + t];
        out[j] = s;
    }
    delete[] part;
}""",
    "atomics": """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
            #pragma omp atomic
            out[j] += x[i * cols + j];
        }
}""",
    "slow_math": """%s {
    constexpr int64_t B = 256;
    double* acc = new double[cols];
    #pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
        const int64_t w = cols - j0 < B ? cols - j0 : B;
        double* __restrict__ a = acc + j0;
        for (int64_t j = 0; j < w; ++j) a[j] = 0.0;
        for (int64_t i = 0; i < rows; ++i) {
            const float* __restrict__ r = x + i * cols + j0;
            #pragma omp simd
            for (int64_t j = 0; j < w; ++j) a[j] += (double)r[j];
        }
        for (int64_t j = 0; j < w; ++j) out[j0 + j] = (float)a[j];
    }
    delete[] acc;
}""",
    "column_walk": """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < cols; ++j) {
        float acc = 0.0f;
        for (int64_t i = 0; i < rows; ++i) acc += x[i * cols + j];
        out[j] = acc;
    }
}""",
}

STENCIL_ROW = """    const float* __restrict__ r = x + i * cols;
        float* __restrict__ o = out + i * cols;
        o[0] = 0.5f * r[0] + 0.25f * r[1];
        {simd}
        for (int64_t j = 1; j < cols - 1; ++j)
            o[j] = {body};
        o[cols - 1] = 0.25f * r[cols - 2] + 0.5f * r[cols - 1];"""
STENCIL_F = "0.25f * r[j - 1] + 0.5f * r[j] + 0.25f * r[j + 1]"
STENCIL_D = "(float)(0.25 * (double)r[j - 1] + 0.5 * (double)r[j] + 0.25 * (double)r[j + 1])"
STENCIL_LOOP = """%s {
    %s
    for (int64_t i = 0; i < rows; ++i) {
    %s
    }
}"""
STENCIL_FLAT = """%s {
    const int64_t n = rows * cols;
    #pragma omp parallel for schedule(static, 1)
    for (int64_t k = 0; k < n; ++k) {
        const int64_t j = k %% cols;
        const float left = j > 0 ? x[k - 1] : 0.0f, right = j + 1 < cols ? x[k + 1] : 0.0f;
        out[k] = 0.25f * left + 0.5f * x[k] + 0.25f * right;
    }
}"""
STENCIL_COLUMNS = """%s {
    #pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < cols; ++j)
        for (int64_t i = 0; i < rows; ++i) {
            const int64_t k = i * cols + j;
            const float left = j > 0 ? x[k - 1] : 0.0f, right = j + 1 < cols ? x[k + 1] : 0.0f;
            out[k] = 0.25f * left + 0.5f * x[k] + 0.25f * right;
        }
}"""


def _stencil(pragma: str, simd: str = "#pragma omp simd", body: str = STENCIL_F) -> str:
    row = STENCIL_ROW.format(simd=simd, body=body)
    return STENCIL_LOOP % (SIG, pragma, row)


def _reductions() -> dict[tuple[str, str], Kernel]:
    kernels = {}
    for op, term in (("rowsum", ""), ("matvec", " * y[j]")):
        for defect, text in ROWSUM.items():
            sig = SIG_ALIASED if defect == "false_sharing" else SIG
            if defect == "slow_math":
                term_d = " * (double)y[j]" if term else ""
                kernels[(defect, op)] = Kernel(text % (sig, term_d), FLAGS, WHAT[defect])
                continue
            zeroed = defect == "atomics"
            t = term.replace("[j]", "[k % cols]") if zeroed and term else term
            kernels[(defect, op)] = Kernel(text % (sig, t), FLAGS, WHAT.get(defect, ""), zeroed)
    kernels[("multi_pass", "matvec")] = Kernel(
        MULTI_PASS["matvec"] % SIG, FLAGS, WHAT["multi_pass"]
    )
    for defect, text in COLSUM.items():
        sig = SIG_ALIASED if defect == "false_sharing" else SIG
        kernels[(defect, "colsum")] = Kernel(
            text % sig, FLAGS, WHAT.get(defect, ""), defect == "atomics"
        )
    kernels[("serial", "colsum")] = Kernel(
        COLSUM["fixed"].replace("    #pragma omp parallel for schedule(static)\n", "", 1) % SIG,
        FLAGS,
        WHAT["serial"],
    )
    kernels[("not_vectorised", "colsum")] = Kernel(
        COLSUM["fixed"].replace("            #pragma omp simd\n", "") % SIG,
        NO_VEC,
        "Built with -fno-tree-vectorize and no omp simd: scalar code.",
    )
    par = "#pragma omp parallel for schedule(static)"
    kernels.update(
        {
            ("fixed", "stencil"): Kernel(_stencil(par)),
            ("serial", "stencil"): Kernel(_stencil(""), FLAGS, WHAT["serial"]),
            ("false_sharing", "stencil"): Kernel(
                STENCIL_FLAT % SIG,
                FLAGS,
                "schedule(static, 1): neighbouring elements, in one cache line, go to "
                "different threads, which write that line in turn.",
            ),
            ("slow_math", "stencil"): Kernel(_stencil(par, body=STENCIL_D), FLAGS, "In double."),
            ("not_vectorised", "stencil"): Kernel(
                _stencil(par, simd=""), NO_VEC, "Built with -fno-tree-vectorize: scalar code."
            ),
            ("column_walk", "stencil"): Kernel(STENCIL_COLUMNS % SIG, FLAGS, WHAT["column_walk"]),
            ("multi_pass", "stencil"): Kernel(
                MULTI_PASS["stencil"] % SIG, FLAGS, WHAT["multi_pass"]
            ),
        }
    )
    return kernels


def _all() -> dict[tuple[str, str], Kernel]:
    kernels = {}
    for op in ELEM:
        kernels.update(_pointwise(op))
    kernels.update(_reductions())
    return kernels


KERNELS = _all()
