"""Templates for row losses (`offline/loss.py`): one pass over each row computes its
statistics (dot product and squared norms, two distances, or an online max and sum of
exponentials), the row's loss follows, and the rows are averaged. C++ adds the rows in
double under OpenMP; Triton writes one value per row and a one-program kernel adds them.
"""

from __future__ import annotations

from pragma_kernels.offline.loss import RowLoss
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    autotune,
    cpp_module,
    model_new,
    omp,
    triton_module,
)


def _what(problem: Recognised) -> str:
    return f"{problem.kind} loss, one pass per row"


def _cpp_row(spec: RowLoss) -> str:
    """C++ statements computing `value` (and `counted`) for row `o` of a, b, c, t."""
    if spec.kind == "cosine":
        return f"""float dot = 0.0f, na = 0.0f, nb = 0.0f;
        #pragma omp simd reduction(+ : dot, na, nb)
        for (int64_t j = 0; j < R; ++j) {{
            dot += ra[j] * rb[j]; na += ra[j] * ra[j]; nb += rb[j] * rb[j];
        }}
        const float fa = std::fmax(std::sqrt(na), {spec.eps!r}f);
        const float fb = std::fmax(std::sqrt(nb), {spec.eps!r}f);
        const double value = 1.0 - (double)(dot / (fa * fb));
        const bool counted = true;"""
    if spec.kind == "triplet":
        return f"""float d1 = 0.0f, d2 = 0.0f;
        #pragma omp simd reduction(+ : d1, d2)
        for (int64_t j = 0; j < R; ++j) {{
            const float p = ra[j] - rb[j] + {spec.eps!r}f, n = ra[j] - rc[j] + {spec.eps!r}f;
            d1 += p * p; d2 += n * n;
        }}
        const double value = std::fmax(std::sqrt(d1) - std::sqrt(d2) + {spec.margin!r}f, 0.0f);
        const bool counted = true;"""
    return f"""const int64_t target = t[o];
        const bool counted = target != {spec.ignore_index};
        float m = -INFINITY;
        #pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < R; ++j) m = ra[j] > m ? ra[j] : m;
        float s = 0.0f;
        #pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < R; ++j) s += std::exp(ra[j] - m);
        const double value = counted ? (double)(m + std::log(s) - ra[target]) : 0.0;"""


def cpp_row_loss(problem: Recognised, variant: CpuVariant) -> str:
    spec: RowLoss = problem.spec
    finish = "count ? total / count : NAN" if spec.mean else "total"
    source = f"""#include <cmath>
#include <cstdint>

extern "C" void row_loss(const float* __restrict__ a, const float* __restrict__ b,
                         const float* __restrict__ c, const int64_t* __restrict__ t,
                         float* __restrict__ out, int64_t rows, int64_t R) {{
    (void)b; (void)c; (void)t;
    double total = 0.0, count = 0.0;
    {omp(variant, "parallel for reduction(+ : total, count) schedule(static)")}
    for (int64_t o = 0; o < rows; ++o) {{
        const float* ra = a + o * R;
        const float* rb = b + o * R;
        const float* rc = c + o * R;
        (void)rb; (void)rc;
        {_cpp_row(spec)}
        total += value;
        count += counted ? 1.0 : 0.0;
    }}
    out[0] = (float)({finish});
}}
"""
    body = _forward(spec, ".contiguous().float()", "lib.row_loss(a, b, c, t, out, rows, R)")
    return cpp_module(source, variant, _what(problem), model_new(body))


def _forward(spec: RowLoss, convert: str, launch: str) -> str:
    if spec.kind == "cross_entropy":
        tensors = (
            """        a = inputs[0]"""
            + convert
            + """
        b = c = a
        t = inputs[1].contiguous()"""
        )
    else:
        tensors = f"""        a, b = inputs[0]{convert}, inputs[1]{convert}
        c = inputs[2]{convert} if len(inputs) > 2 else a
        t = torch.zeros(1, dtype=torch.int64, device=a.device)"""
    return f"""{tensors}
        rows, R = a.shape
        out = torch.empty((), device=a.device, dtype=inputs[0].dtype)
        {launch}
        return out"""


def _triton_row(spec: RowLoss) -> str:
    load = "tl.load({p} + base + cols, mask=mask, other={o}).to(tl.float32)"
    if spec.kind == "cosine":
        return f"""    dot = tl.zeros([BLOCK], tl.float32)
    na = tl.zeros([BLOCK], tl.float32)
    nb = tl.zeros([BLOCK], tl.float32)
    for start in range(0, R, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < R
        va = {load.format(p="a_ptr", o="0.0")}
        vb = {load.format(p="b_ptr", o="0.0")}
        dot += va * vb
        na += va * va
        nb += vb * vb
    fa = tl.maximum(tl.sqrt(tl.sum(na, axis=0)), {spec.eps!r})
    fb = tl.maximum(tl.sqrt(tl.sum(nb, axis=0)), {spec.eps!r})
    value = 1.0 - tl.sum(dot, axis=0) / (fa * fb)
    counted = 1.0"""
    if spec.kind == "triplet":
        return f"""    d1 = tl.zeros([BLOCK], tl.float32)
    d2 = tl.zeros([BLOCK], tl.float32)
    for start in range(0, R, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < R
        va = {load.format(p="a_ptr", o="0.0")}
        p = tl.where(mask, va - {load.format(p="b_ptr", o="0.0")} + {spec.eps!r}, 0.0)
        n = tl.where(mask, va - {load.format(p="c_ptr", o="0.0")} + {spec.eps!r}, 0.0)
        d1 += p * p
        d2 += n * n
    value = tl.sqrt(tl.sum(d1, axis=0)) - tl.sqrt(tl.sum(d2, axis=0)) + {spec.margin!r}
    value = tl.maximum(value, 0.0)
    counted = 1.0"""
    return f"""    m = tl.full([BLOCK], float('-inf'), tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    for start in range(0, R, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < R
        x = {load.format(p="a_ptr", o="float('-inf')")}
        new_m = tl.maximum(m, x)
        s = tl.where(new_m == float('-inf'), 0.0, s * tl.exp(m - new_m) + tl.exp(x - new_m))
        m = new_m
    top = tl.max(m, axis=0)
    total = tl.sum(tl.where(m == float('-inf'), 0.0, s * tl.exp(m - top)), axis=0)
    target = tl.load(t_ptr + row)
    ok = target != {spec.ignore_index}
    picked = tl.load(a_ptr + base + tl.where(ok, target, 0)).to(tl.float32)
    value = tl.where(ok, top + tl.log(total) - picked, 0.0)
    counted = tl.where(ok, 1.0, 0.0)"""


_PRUNE = """

def _prune(configs, named, **kwargs):
    widest = max(128, triton.next_power_of_2(named["R"]))
    return [c for c in configs if c.kwargs["BLOCK"] <= widest] or configs[:1]
"""


def triton_row_loss(problem: Recognised, variant: GpuVariant) -> str:
    spec: RowLoss = problem.spec
    configs = [({"BLOCK": min(variant.block, 4096)}, variant.num_warps)] + [
        ({"BLOCK": b}, w) for b, w in ((512, 2), (1024, 4), (2048, 4), (4096, 8))
    ]
    mean = "total / tl.maximum(count, 1.0)"
    kernel = f"""{_PRUNE}

{autotune(configs, ["R"], "_prune")}@triton.jit
def _rows(a_ptr, b_ptr, c_ptr, t_ptr, value_ptr, count_ptr, R, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    base = row * R
{_triton_row(spec)}
    tl.store(value_ptr + row, value)
    tl.store(count_ptr + row, counted)


@triton.jit
def _finish(value_ptr, count_ptr, out_ptr, rows, MEAN: tl.constexpr, BLOCK: tl.constexpr):
    acc = tl.zeros([BLOCK], tl.float32)
    counts = tl.zeros([BLOCK], tl.float32)
    for start in range(0, rows, BLOCK):
        k = start + tl.arange(0, BLOCK)
        acc += tl.load(value_ptr + k, mask=k < rows, other=0.0)
        counts += tl.load(count_ptr + k, mask=k < rows, other=0.0)
    total = tl.sum(acc, axis=0)
    count = tl.sum(counts, axis=0)
    y = {mean if spec.mean else "total"}
    tl.store(out_ptr, y.to(out_ptr.dtype.element_ty))
"""
    launch = f"""values = torch.empty(rows, device=a.device, dtype=torch.float32)
        counts = torch.empty_like(values)
        if rows:
            _rows[(rows,)](a, b, c, t, values, counts, R)
        _finish[(1,)](values, counts, out, rows, MEAN={spec.mean}, BLOCK=1024)"""
    body = _forward(spec, ".contiguous()", launch)
    return triton_module(kernel, variant, _what(problem), model_new(body))
