"""Templates for a prefix scan (cumsum / cumprod) along one dimension, forward, reversed or
exclusive, of an input or of a pointwise expression of the inputs (`offline/scan.py`),
with the input viewed as [outer, R, inner] and the output as [outer, R (+1 exclusive),
inner]. Along contiguous rows the running total is kept in double (as torch's CPU cumsum
does for float) on the CPU and carried in float64 between blocks on the GPU, so the error
does not grow along long rows; the strided paths (inner > 1) accumulate per column, in
double on the CPU and in float32 on the GPU. Triton's block sizes are autotuned from R and
inner."""

from __future__ import annotations

from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.scan import Scan
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    as_outer_r_inner,
    autotune,
    cpp_module,
    model_new,
    omp,
    triton_module,
)

LANES = 16  # C++: values scanned in float per block before the double carry takes them


def _spec(problem: Recognised) -> Scan:
    return problem.spec if isinstance(problem.spec, Scan) else Scan("sum")


def _what(problem: Recognised) -> str:
    spec = _spec(problem)
    of = f" of pointwise {spec.prefix.c()}" if spec.prefix is not None else ""
    return f"{problem.kind}{of} over dim {problem.dim}"


def _forward(problem: Recognised, convert: str, launch: str) -> str:
    """Inputs prepared (sliced, masks converted), the [outer, R, inner] view, the output."""
    spec = _spec(problem)
    narrow = ""
    if spec.narrow is not None:
        sdim, start, stop, step = spec.narrow
        index = f"(slice(None),) * {sdim} + (slice({start}, {stop}, {step}),)"
        narrow = f"        xs = [x[{index}] for x in xs]\n"
    prepare = f"""        xs = list(inputs)
{narrow}        xs = [{convert} for x in xs]
"""
    extra = 1 if spec.exclusive else 0
    return (
        prepare
        + as_outer_r_inner(problem.dim, "xs[0]")
        + f"""\
        shape[dim] = R + {extra}
        out = torch.empty(shape, device=x.device, dtype=x.dtype)
{launch}
        return out"""
    )


def _cpp_value(problem: Recognised) -> tuple[str, str, str]:
    """(parameters, arguments, the value at flat index `i`) of the scanned tensor."""
    spec = _spec(problem)
    count = problem.inputs if spec.prefix is not None else 1
    params = ", ".join(f"const float* __restrict__ x{i}" for i in range(count))
    loads = " ".join(f"const float v{i} = x{i}[i];" for i in range(count))
    value = spec.prefix.c() if spec.prefix is not None else "v0"
    function = f"static inline float value_at({params}, int64_t i) {{ {loads} return {value}; }}"
    return params, ", ".join(f"x{i}" for i in range(count)), function


def cpp_scan(problem: Recognised, variant: CpuVariant) -> str:
    spec = _spec(problem)
    prod = spec.op == "prod"
    ident, op = ("1.0", "*") if prod else ("0.0", "+")
    shift = 1 if spec.exclusive else 0
    at = "(R - 1 - ({k}))" if spec.reverse else "({k})"  # position of the k-th value scanned
    params, args, value_at = _cpp_value(problem)
    source = f"""#include <cstdint>

{value_at}

extern "C" void scan({params}, float* __restrict__ out,
                     int64_t outer, int64_t R, int64_t inner) {{
    const int64_t Ro = R + {shift};  // output values along the dim
    if (inner == 1) {{
        // One row per thread. Blocks of {LANES}: a short float scan each (independent
        // across blocks, so they overlap), plus one double carry step per block.
        {omp(variant, "parallel for schedule(static)")}
        for (int64_t o = 0; o < outer; ++o) {{
            const int64_t row = o * R;
            float* out_row = out + o * Ro + {shift};
            {"out_row[-1] = " + ident + "f;" if shift else ""}
            double carry = {ident};
            int64_t k = 0;
            for (; k + {LANES} <= R; k += {LANES}) {{
                float local[{LANES}];
                float s = {ident}f;
                for (int j = 0; j < {LANES}; ++j) {{
                    s {op}= value_at({args}, row + {at.format(k="k + j")});
                    local[j] = s;
                }}
                for (int j = 0; j < {LANES}; ++j)
                    out_row[{at.format(k="k + j")}] = (float)(carry {op} (double)local[j]);
                carry {op}= (double)s;
            }}
            for (; k < R; ++k) {{
                carry {op}= (double)value_at({args}, row + {at.format(k="k")});
                out_row[{at.format(k="k")}] = (float)carry;
            }}
        }}
        return;
    }}
    // inner > 1: walk R over rows of `inner` contiguous values, vectorised over i.
    {omp(variant, "parallel for collapse(2) schedule(static)")}
    for (int64_t o = 0; o < outer; ++o) {{
        for (int64_t chunk = 0; chunk < (inner + 255) / 256; ++chunk) {{
            const int64_t begin = chunk * 256;
            const int64_t end = begin + 256 < inner ? begin + 256 : inner;
            double acc[256];
            for (int64_t i = begin; i < end; ++i) acc[i - begin] = {ident};
            {
        "for (int64_t i = begin; i < end; ++i) out[o * Ro * inner + i] = " + ident + "f;"
        if shift
        else ""
    }
            for (int64_t k = 0; k < R; ++k) {{
                const int64_t offset = (o * R + {at.format(k="k")}) * inner;
                const int64_t written = (o * Ro + {at.format(k="k")} + {shift}) * inner;
                #pragma omp simd
                for (int64_t i = begin; i < end; ++i) {{
                    acc[i - begin] {op}= (double)value_at({args}, offset + i);
                    out[written + i] = (float)acc[i - begin];
                }}
            }}
        }}
    }}
}}
"""
    count = args.count("x")
    launch = f"""        lib.scan(*xs[:{count}], out, outer, R, inner)"""
    forward = _forward(problem, "x.contiguous().float()", launch)
    return cpp_module(source, variant, _what(problem), model_new(forward))


_PRUNE = """

def _prune_rows(configs, named, **kwargs):
    widest = max(256, triton.next_power_of_2(named["R"]))
    return [c for c in configs if c.kwargs["BLOCK"] <= widest] or configs[:1]


def _prune_columns(configs, named, **kwargs):
    widest = max(32, triton.next_power_of_2(named["inner"]))
    return [c for c in configs if c.kwargs["BLOCK"] <= widest] or configs[:1]
"""


def triton_scan(problem: Recognised, variant: GpuVariant) -> str:
    spec = _spec(problem)
    prod = spec.op == "prod"
    ident = "1.0" if prod else "0.0"
    count = problem.inputs if spec.prefix is not None else 1
    pointers = ", ".join(f"x{i}_ptr" for i in range(count))
    value = spec.prefix.triton() if spec.prefix is not None else "v0"

    def loads(offset: str, mask: str, indent: str) -> str:
        lines = [
            f"v{i} = tl.load(x{i}_ptr + {offset}, mask={mask}, other=0).to(tl.float32)"
            for i in range(count)
        ]
        lines.append(f"v = tl.where({mask}, {value}, {ident})")
        return ("\n" + indent).join(lines)

    at = "R - 1 - k" if spec.reverse else "k"
    scanned = (
        "tl.cumprod(v, axis=0) * carry.to(tl.float32)"
        if prod
        else ("tl.cumsum(v, axis=0) + carry.to(tl.float32)")
    )
    carry_step = (
        "carry *= tl.reduce(v, 0, _times).to(tl.float64)"
        if prod
        else "carry += tl.sum(v, axis=0).to(tl.float64)"
    )
    shift = 1 if spec.exclusive else 0
    first_row = f"tl.store(out_ptr + orow - 1, tl.full([], {ident}, out_ptr.dtype.element_ty))"
    first_col = f"tl.store(out_ptr + (o * Ro) * inner + i, tl.full([BLOCK], {ident}, tl.float32).to(out_ptr.dtype.element_ty), mask=mask)"  # noqa: E501
    row_configs = [({"BLOCK": min(variant.block, 4096)}, variant.num_warps)] + [
        ({"BLOCK": b}, w) for b, w in ((256, 2), (1024, 4), (2048, 4), (4096, 8))
    ]
    col_configs = [({"BLOCK": min(variant.block, 1024)}, variant.num_warps)] + [
        ({"BLOCK": b}, w) for b, w in ((32, 1), (64, 2), (128, 4), (256, 4), (512, 4))
    ]
    kernel = f"""{_PRUNE}

@triton.jit
def _times(a, b):
    return a * b


{autotune(row_configs, ["R"], "_prune_rows")}@triton.jit
def _scan_rows({pointers}, out_ptr, R, Ro, BLOCK: tl.constexpr):
    # inner == 1: one program per contiguous row, BLOCK values at a time; the block's
    # total joins a float64 carry, so rounding does not pile up along the row.
    row = tl.program_id(0).to(tl.int64) * R
    orow = tl.program_id(0).to(tl.int64) * Ro + {shift}
    {first_row if shift else ""}
    carry = tl.full([1], {ident}, tl.float64)
    for start in range(0, R, BLOCK):
        k = start + tl.arange(0, BLOCK)
        at = {at}
        {loads("row + at", "k < R", "        ")}
        y = {scanned}
        tl.store(out_ptr + orow + at, y.to(out_ptr.dtype.element_ty), mask=k < R)
        {carry_step}


{autotune(col_configs, ["inner", "R"], "_prune_columns")}@triton.jit
def _scan_strided({pointers}, out_ptr, R, Ro, inner, BLOCK: tl.constexpr):
    # inner > 1: one program per (outer, block of inner); each lane walks R.
    o = tl.program_id(0).to(tl.int64)
    i = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < inner
    {first_col if shift else ""}
    acc = tl.full([BLOCK], {ident}, tl.float32)
    for k in range(0, R):
        offset = (o * R + {at}) * inner + i
        {loads("offset", "mask", "        ")}
        acc = acc {"*" if prod else "+"} v
        written = (o * Ro + {at} + {shift}) * inner + i
        tl.store(out_ptr + written, acc.to(out_ptr.dtype.element_ty), mask=mask)
"""
    launch = f"""        if out.numel() and R and inner == 1:
            _scan_rows[(outer,)](*xs[:{count}], out, R, R + {shift})
        elif out.numel() and R:
            grid = lambda meta: (outer, triton.cdiv(inner, meta["BLOCK"]))
            _scan_strided[grid](*xs[:{count}], out, R, R + {shift}, inner)
        elif out.numel():
            out.fill_({ident})"""
    convert = "(x if x.dtype != torch.bool else x.view(torch.uint8)).contiguous()"
    forward = _forward(problem, convert, launch)
    return triton_module(kernel, variant, _what(problem), model_new(forward))
