"""Templates for normalisations (`offline/norm.py`): C++ and Triton, statistics in fp32.

Row norms (layer norm, RMS / L2 chains) read each row's statistics in two passes (mean,
then the centred sum of squares: no cancellation), then write the row; rows of up to one
block stay in registers on the GPU. Channel norms (batch / group norm) reduce each
(sample, channel) plane to (mean, M2), merge the planes of a group with Chan's formula
and normalise each plane with its group's statistics: the work parallelises over planes,
not over the few channels.

Parameters are registered lazily under the reference's names (see `LAZY`): the problem
was recognised at its tiny size, the candidate runs at any size.
"""

from __future__ import annotations

import textwrap

from pragma_kernels.offline.norm import ChannelNorm, Param, RowNorm
from pragma_kernels.offline.pointwise import Expression, Node
from pragma_kernels.offline.recorded import Recognised
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

LAZY = '''

from torch.nn.modules.lazy import LazyModuleMixin

# The reference's parameters / buffers, under its names (state dicts match): shaped from
# the first input and set to torch's defaults. name: (buffer?, value, input dims [a, b))
TENSORS = {tensors!r}


class _Holder(LazyModuleMixin, nn.Module):
    """A submodule on the path to a lazy tensor (it loads state dicts as lazy modules do)."""

    def initialize_parameters(self, *args, **kwargs):
        pass  # ModelNew shapes every tensor


def _register(model):
    for name, (buffer, _, _, _) in TENSORS.items():
        *path, leaf = name.split(".")
        owner = model
        for part in path:
            if part not in owner._modules:
                owner.add_module(part, _Holder())
            owner = owner._modules[part]
        if buffer:
            owner.register_buffer(leaf, nn.UninitializedBuffer())
        else:
            owner.register_parameter(leaf, nn.UninitializedParameter())
'''
INITIALIZE = """
    def initialize_parameters(self, x, *args, **kwargs):
        with torch.no_grad():
            for name, (buffer, value, first, stop) in TENSORS.items():
                tensor = self.get_buffer(name) if buffer else self.get_parameter(name)
                if nn.parameter.is_lazy(tensor):
                    tensor.materialize(x.shape[first:stop])
                    tensor.fill_(value)
"""


def _params(spec) -> list[Param]:
    names = ("weight", "bias", "running_mean", "running_var")
    return [p for p in (getattr(spec, n, None) for n in names) if p is not None]


def _module_rest(spec, forward_body: str) -> str:
    """The Python after the kernels: lazy tensors when the reference has any, ModelNew."""
    params = _params(spec)
    if not params:
        return model_new(forward_body)
    tensors = {p.name: (p.buffer, p.fill, p.first, p.stop) for p in params}
    base = "LazyModuleMixin, nn.Module"
    init = "        _register(self)\n"
    return LAZY.format(tensors=tensors) + model_new(forward_body, init, base, INITIALIZE)


def _fetch(param: Param | None, convert: str) -> str:
    """A forward line binding the tensor (the input itself stands in when absent)."""
    if param is None:
        return ""
    getter = "get_buffer" if param.buffer else "get_parameter"
    return f'self.{getter}("{param.name}").detach(){convert}'


def _row_view(problem: Recognised, prepare: str) -> str:
    """The input as [outer, R, inner]; the dims are the recognised input's, so its rank."""
    spec, ndim = problem.spec, len(problem.shape)
    check = f"""        if inputs[0].dim() != {ndim}:
            raise ValueError(f"expected a {ndim}-d input, got {{inputs[0].dim()}}-d")
"""
    return check + as_outer_r_inner(spec.first, prepare, spec.last)


def _square(spec: RowNorm) -> Expression:
    return spec.square or Expression(Node("input", value=0))


def _what(problem: Recognised) -> str:
    spec = problem.spec
    if isinstance(spec, RowNorm):
        return f"{problem.kind} over dims {spec.first}..{spec.last}"
    return f"{problem.kind} over channels"


# -- C++ ----------------------------------------------------------------------------------


def cpp_norm(problem: Recognised, variant: CpuVariant) -> str:
    if isinstance(problem.spec, ChannelNorm):
        return _cpp_channel(problem, variant)
    return _cpp_row(problem, variant)


def _cpp_row(problem: Recognised, variant: CpuVariant) -> str:
    spec: RowNorm = problem.spec
    per = " / (float)R" if spec.mean else ""
    factor = "1.0f / scale_of" if spec.divide else "scale_of"
    if spec.centred:
        stats = f"""float sum = 0.0f;
            #pragma omp simd reduction(+ : sum)
            for (int64_t r = 0; r < R; ++r) sum += row[r];
            const float center = sum / (float)R;
            float sq = 0.0f;
            #pragma omp simd reduction(+ : sq)
            for (int64_t r = 0; r < R; ++r) {{ const float d = row[r] - center; sq += d * d; }}
            const float factor = {factor}(sq / (float)R);"""
        value = "(row[r] - center) * factor"
    else:
        stats = f"""float sum = 0.0f;
            #pragma omp simd reduction(+ : sum)
            for (int64_t r = 0; r < R; ++r) sum += square_of(row[r]);
            const float factor = {factor}(sum{per});"""
        value = "row[r] * factor"
    value += " * w[r]" if spec.weight else ""
    value += " + b[r]" if spec.bias else ""
    # Centred norms normalise the trailing dims (inner == 1): no tiled path.
    tiles = "" if spec.centred else _cpp_tiles(variant, factor, per)
    square = ""  # what an uncentred statistic reduces
    if not spec.centred:
        square = f"static inline float square_of(float v0) {{ return {_square(spec).c()}; }}\n"

    def rows(outer_pragma: str, inner_pragma: str) -> str:
        return f"""{outer_pragma}
        for (int64_t o = 0; o < outer; ++o) {{
            const float* row = x + o * R;
            float* orow = out + o * R;
            {stats.replace("#pragma omp simd", inner_pragma)}
            {inner_pragma}
            for (int64_t r = 0; r < R; ++r) orow[r] = {value};
        }}"""

    # Rows in parallel; fewer rows than threads (a norm over every element, a layer norm
    # of a few huge rows): each row's loops in parallel instead. Two loops, not one with
    # `if` clauses: an inactive nested region still costs a runtime call per row and loop
    # (16 rows of 16384 took 117 us that way, against eager's 29-41 us).
    loops = rows("", "#pragma omp simd")
    if variant.parallel:
        loops = f"""if (outer >= omp_get_max_threads()) {{
        {rows("#pragma omp parallel for schedule(static)", "#pragma omp simd")}
        }} else {{
        {rows("", "#pragma omp parallel for simd")}
        }}"""
    include = "#include <omp.h>\n" if variant.parallel else ""
    source = f"""#include <cstdint>
#include <cmath>
{include}
{square}static inline float scale_of(float v0) {{ return {spec.scale.c()}; }}

// x, out viewed as [outer, R, inner]; w, b (when the reference has them) indexed by r.
extern "C" void row_norm(const float* __restrict__ x, const float* __restrict__ w,
                         const float* __restrict__ b, float* __restrict__ out,
                         int64_t outer, int64_t R, int64_t inner) {{
    (void)w; (void)b;
    if (inner == 1) {{
        {loops}
        return;
    }}
{tiles}}}
"""
    convert = ".float().contiguous()"
    body = (
        _row_view(problem, "inputs[0].contiguous().float()")
        + f"""\
        w = {_fetch(spec.weight, convert) or "x"}
        b = {_fetch(spec.bias, convert) or "x"}
        out = torch.empty_like(x)
        lib.row_norm(x, w, b, out, outer, R, inner)
        return out.to(inputs[0].dtype)"""
    )
    return cpp_module(source, variant, _what(problem), _module_rest(spec, body))


def _cpp_tiles(variant: CpuVariant, factor: str, per: str) -> str:
    return f"""    // inner > 1 (uncentred, no affine): tiles of 256 lanes of `inner` walk R twice.
    {omp(variant, "parallel for collapse(2) schedule(static)")}
    for (int64_t o = 0; o < outer; ++o) {{
        for (int64_t chunk = 0; chunk < (inner + 255) / 256; ++chunk) {{
            const int64_t begin = chunk * 256;
            const int64_t len = inner - begin < 256 ? inner - begin : 256;
            const float* xt = x + o * R * inner + begin;
            float* ot = out + o * R * inner + begin;
            float acc[256];
            for (int64_t i = 0; i < len; ++i) acc[i] = 0.0f;
            for (int64_t r = 0; r < R; ++r) {{
                #pragma omp simd
                for (int64_t i = 0; i < len; ++i) acc[i] += square_of(xt[r * inner + i]);
            }}
            #pragma omp simd
            for (int64_t i = 0; i < len; ++i) acc[i] = {factor}(acc[i]{per});
            for (int64_t r = 0; r < R; ++r) {{
                #pragma omp simd
                for (int64_t i = 0; i < len; ++i) ot[r * inner + i] = xt[r * inner + i] * acc[i];
            }}
        }}
    }}
"""


def _cpp_group_in_cache(spec: ChannelNorm, parallel: str, weight: str, bias: str) -> str:
    """Group norm one group at a time: a group's planes are contiguous (M * S floats, e.g.
    512 KiB) and stay in L2 from the statistics (one pass for both moments) to the
    output, so x is read from memory once instead of twice."""
    return f"""#include <cstdint>
#include <cmath>

constexpr int64_t GROUPS = {spec.groups};
constexpr float EPS = {spec.eps!r}f;

// x, out: (N, C, S) contiguous; w, b: (C) when the reference has them.
extern "C" void channel_norm(const float* __restrict__ x, const float* __restrict__ w,
                             const float* __restrict__ b, const float* __restrict__ rmean,
                             const float* __restrict__ rvar, float* __restrict__ out,
                             int64_t N, int64_t C, int64_t S) {{
    (void)w; (void)b; (void)rmean; (void)rvar;
    const int64_t M = C / GROUPS, L = M * S;  // planes per group, floats per group
    {parallel}
    for (int64_t g = 0; g < N * GROUPS; ++g) {{
        const float* xg = x + g * L;
        // One pass for both moments, shifted by the group's first value so that a mean
        // far from 0 does not cancel the variance away (the shifted-data algorithm).
        const float shift0 = xg[0];
        float sum = 0.0f, sq = 0.0f;
        #pragma omp simd reduction(+ : sum, sq)
        for (int64_t i = 0; i < L; ++i) {{ const float d = xg[i] - shift0; sum += d; sq += d * d; }}
        const float mean_d = sum / (float)L;
        const float mean = shift0 + mean_d;
        const float var = std::fmax(sq / (float)L - mean_d * mean_d, 0.0f);
        const float inv = 1.0f / std::sqrt(var + EPS);
        for (int64_t k = 0; k < M; ++k) {{
            const int64_t c = (g % GROUPS) * M + k;
            const float scale = inv * {weight};
            const float shift = {bias};
            const float* xp = xg + k * S;
            float* op = out + g * L + k * S;
            #pragma omp simd
            for (int64_t i = 0; i < S; ++i) op[i] = (xp[i] - mean) * scale + shift;
        }}
    }}
}}
"""


def _cpp_batch(spec: ChannelNorm, parallel: str, weight: str, bias: str) -> str:
    """Batch norm: statistics per channel over N and space (training), or the running ones
    (eval); a channel's planes are strided by C, so per-plane moments are merged."""
    if spec.batch_stats:
        stats = f"""    // (mean, M2) of each plane, two-pass.
    std::vector<float> pm(planes), pq(planes);
    {parallel}
    for (int64_t p = 0; p < planes; ++p) {{
        const float* xp = x + p * S;
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < S; ++i) sum += xp[i];
        const float mean = sum / (float)S;
        float sq = 0.0f;
        #pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < S; ++i) {{ const float d = xp[i] - mean; sq += d * d; }}
        pm[p] = mean;
        pq[p] = sq;
    }}
    // Merge a channel's N planes (Chan et al.): equal counts S.
    {parallel}
    for (int64_t c = 0; c < C; ++c) {{
        double mean = 0.0;
        for (int64_t n = 0; n < N; ++n) mean += pm[n * C + c];
        mean /= (double)N;
        double m2 = 0.0;
        for (int64_t n = 0; n < N; ++n) {{
            const double d = pm[n * C + c] - mean;
            m2 += pq[n * C + c] + (double)S * d * d;
        }}
        cmean[c] = (float)mean;
        cvar[c] = (float)(m2 / ((double)N * (double)S));
    }}"""
    else:
        stats = """    for (int64_t c = 0; c < C; ++c) {
        cmean[c] = rmean[c];
        cvar[c] = rvar[c];
    }"""
    return f"""#include <cstdint>
#include <cmath>
#include <vector>

constexpr float EPS = {spec.eps!r}f;

// x, out: (N, C, S) contiguous; w, b, rmean, rvar: (C) when the reference has them.
extern "C" void channel_norm(const float* __restrict__ x, const float* __restrict__ w,
                             const float* __restrict__ b, const float* __restrict__ rmean,
                             const float* __restrict__ rvar, float* __restrict__ out,
                             int64_t N, int64_t C, int64_t S) {{
    (void)w; (void)b; (void)rmean; (void)rvar;
    const int64_t planes = N * C;
    std::vector<float> cmean(C), cvar(C);
{stats}
    {parallel}
    for (int64_t p = 0; p < planes; ++p) {{
        const int64_t c = p % C;
        const float mean = cmean[c];
        const float scale = 1.0f / std::sqrt(cvar[c] + EPS) * {weight};
        const float shift = {bias};
        const float* xp = x + p * S;
        float* op = out + p * S;
        #pragma omp simd
        for (int64_t i = 0; i < S; ++i) op[i] = (xp[i] - mean) * scale + shift;
    }}
}}
"""


def _cpp_channel(problem: Recognised, variant: CpuVariant) -> str:
    spec: ChannelNorm = problem.spec
    parallel = omp(variant, "parallel for schedule(static)")
    weight = "w[c]" if spec.weight else "1.0f"
    bias = "b[c]" if spec.bias else "0.0f"
    # Group norm's statistics always come from x; its groups are contiguous.
    make = _cpp_group_in_cache if spec.groups else _cpp_batch
    source = make(spec, parallel, weight, bias)
    convert = ".float().contiguous()"
    params = (spec.weight, spec.bias, spec.running_mean, spec.running_var)
    fetched = [_fetch(p, convert) or "x" for p in params]
    body = f"""        x = inputs[0].contiguous().float()
        N, C = x.shape[0], x.shape[1]
        if {spec.groups} and C % {spec.groups}:
            raise ValueError(f"{{C}} channels do not split into {spec.groups} groups")
        tensors = [{", ".join(fetched)}]
        out = torch.empty_like(x)
        if x.numel():
            lib.channel_norm(x, *tensors, out, N, C, x.numel() // (N * C))
        return out.to(inputs[0].dtype)"""
    return cpp_module(source, variant, _what(problem), _module_rest(spec, body))


# -- Triton -------------------------------------------------------------------------------


def triton_norm(problem: Recognised, variant: GpuVariant) -> str:
    if isinstance(problem.spec, ChannelNorm):
        return _triton_channel(problem, variant)
    return _triton_row(problem, variant)


def _triton_row(problem: Recognised, variant: GpuVariant) -> str:
    spec: RowNorm = problem.spec
    per = " / R" if spec.mean else ""
    invert = "\nfactor = 1.0 / factor" if spec.divide else ""
    load = "x = tl.load(x_ptr + row + cols, mask=mask, other=0.0).to(tl.float32)"
    chunk = f"cols = start + tl.arange(0, BLOCK)\nmask = cols < R\n{load}"
    if spec.centred:
        one = """center = tl.sum(x, axis=0) / R
d = tl.where(mask, x - center, 0.0)
factor = _scale(tl.sum(d * d, axis=0) / R)"""
        accumulate = "acc += x"
        after = f"""center = tl.sum(acc, axis=0) / R
acc = tl.zeros([BLOCK], tl.float32)
for start in range(0, R, BLOCK):
{_indent(chunk, 4)}
    d = tl.where(mask, x - center, 0.0)
    acc += d * d
factor = _scale(tl.sum(acc, axis=0) / R)"""
        value = "(x - center) * factor"
    else:
        one = f"factor = _scale(tl.sum(tl.where(mask, _square(x), 0.0), axis=0){per})"
        accumulate = "acc += tl.where(mask, _square(x), 0.0)"
        after = f"factor = _scale(tl.sum(acc, axis=0){per})"
        value = "x * factor"
    write = f"y = {value}"
    if spec.weight:
        write += "\ny = y * tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)"
    if spec.bias:
        write += "\ny = y + tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)"
    write += "\ntl.store(out_ptr + row + cols, y.to(out_ptr.dtype.element_ty), mask=mask)"
    square = ""  # what an uncentred statistic reduces
    if not spec.centred:
        square = f"@triton.jit\ndef _square(v0):\n    return {_square(spec).triton()}\n\n\n"
    kernel = f"""{square}@triton.jit
def _scale(v0):
    return {spec.scale.triton()}


{_ROW_PRUNE}
{{autotune}}@triton.jit
def _row_norm(x_ptr, w_ptr, b_ptr, out_ptr, R, BLOCK: tl.constexpr):
    # inner == 1: one program per row of R values.
    row = tl.program_id(0).to(tl.int64) * R
    if R <= BLOCK:  # the row stays in registers: one read
        cols = tl.arange(0, BLOCK)
        mask = cols < R
        {load}
{_indent(one + invert + chr(10) + write, 8)}
    else:
        acc = tl.zeros([BLOCK], tl.float32)
        for start in range(0, R, BLOCK):
{_indent(chunk + chr(10) + accumulate, 12)}
{_indent(after + invert, 8)}
        for start in range(0, R, BLOCK):
{_indent(chunk + chr(10) + write, 12)}
"""
    configs = [({"BLOCK": variant.block}, variant.num_warps)] + [
        ({"BLOCK": b}, w) for b, w in ((1024, 4), (2048, 8), (4096, 8), (8192, 16), (16384, 16))
    ]
    kernel = kernel.replace("{autotune}", autotune(configs, ["R"], "_prune_row"))
    kernel += _split_kernels(spec, write, invert, per)
    launch = """        sms = (
            torch.cuda.get_device_properties(x.device).multi_processor_count
            if x.device.type == "cuda"
            else 4
        )
        if out.numel() and inner == 1 and outer < 2 * sms and R >= 16384:
            _split_row_norm(x, w, b, out, outer, R, sms)
        elif out.numel() and inner == 1:
            _row_norm[(outer,)](x, w, b, out, R)"""
    if not spec.centred:  # centred norms normalise the trailing dims: inner is 1
        kernel += _TRITON_STRIDED.format(per=per, invert=_indent(invert, 8))
        launch += f"""
        elif out.numel():
            rb = triton.next_power_of_2(R) if R <= {STRIDED_IN_REGISTERS} else 0
            block = min({variant.block}, triton.next_power_of_2(inner))
            if rb:  # about 64 values a thread at 4 warps
                block = min(block, max(16, 8192 // rb))
            blocks = triton.cdiv(inner, block)
            _row_norm_strided[(outer * blocks,)](x, out, R, inner, blocks, BLOCK=block, RB=rb,
                                                  num_warps={variant.num_warps})"""
    body = _row_view(problem, "inputs[0].contiguous()") + (
        f"""        w = {_fetch(spec.weight, ".contiguous()") or "x"}
        b = {_fetch(spec.bias, ".contiguous()") or "x"}
        out = torch.empty_like(x)
{launch}
        return out"""
    )
    return triton_module(kernel, variant, _what(problem), _module_rest(spec, body))


_TRITON_STRIDED = """

@triton.jit
def _row_norm_strided(x_ptr, out_ptr, R, inner, blocks, BLOCK: tl.constexpr, RB: tl.constexpr):
    # inner > 1 (uncentred, no affine): one program per (outer, block of inner), on a 1-D
    # grid (either count can pass the 65,535 grid axes 1 and 2 allow); lanes walk R.
    pid = tl.program_id(0).to(tl.int64)
    o = pid // blocks
    i = (pid % blocks) * BLOCK + tl.arange(0, BLOCK)
    mask = i < inner
    if RB > 0:  # R <= RB: each lane's R values stay in registers, one read (not two)
        r = tl.arange(0, RB)
        both = (r < R)[:, None] & mask[None, :]
        offs = (o * R + r[:, None]) * inner + i[None, :]
        x = tl.load(x_ptr + offs, mask=both, other=0.0).to(tl.float32)
        acc = tl.sum(tl.where(both, _square(x), 0.0), axis=0)
        factor = _scale(acc{per}){invert}
        tl.store(out_ptr + offs, (x * factor[None, :]).to(out_ptr.dtype.element_ty), mask=both)
    else:
        acc = tl.zeros([BLOCK], tl.float32)
        for r in range(0, R):
            x = tl.load(x_ptr + (o * R + r) * inner + i, mask=mask, other=0.0).to(tl.float32)
            acc += _square(x)
        factor = _scale(acc{per}){invert}
        for r in range(0, R):
            x = tl.load(x_ptr + (o * R + r) * inner + i, mask=mask, other=0.0).to(tl.float32)
            y = (x * factor).to(out_ptr.dtype.element_ty)
            tl.store(out_ptr + (o * R + r) * inner + i, y, mask=mask)
"""
# A strided norm keeps a lane's R values in registers up to this many (KernelBench 36's
# RMSNorm over 64 features read its 7.5 GB twice: 5.7 ms on the H200, compile 4.3 ms).
STRIDED_IN_REGISTERS = 64


_ROW_PRUNE = """
def _prune_row(configs, named, **kwargs):
    # Persistent rows (one block holds the row) up to 16384 values, looped beyond.
    widest = max(128, triton.next_power_of_2(named["R"]))
    return [c for c in configs if c.kwargs["BLOCK"] <= widest] or configs[:1]

"""


def _split_kernels(spec: RowNorm, write: str, invert: str, per: str) -> str:
    """Few long rows (a layer norm over (C, H, W), a norm over every element): SPLIT
    programs per row reduce chunks to partial statistics (count, mean, M2 by Chan's merge
    of in-register tiles: one read, no cancellation), one program per row merges them,
    and a 2-D grid writes the output: every SM busy instead of one per row."""
    centred = "True" if spec.centred else "False"
    square = "d * d" if spec.centred else "_square(x)"
    finish = (
        "factor = _scale(m2 / R)" if spec.centred else (f"factor = _scale(tl.sum(q, axis=0){per})")
    )
    finish += invert.replace("\n", "\n    ")
    apply = write.replace("y = x * factor", "y = (x - center) * factor")
    center = (
        "center = tl.sum(n * mu, axis=0) / R"
        if spec.centred
        else ("center = tl.zeros([], tl.float32)")
    )
    return f"""

@triton.jit
def _row_partials(x_ptr, part_ptr, R, CHUNK, SPLIT, BLOCK: tl.constexpr):
    o = tl.program_id(0).to(tl.int64)
    s = tl.program_id(1)
    begin = o * R + s.to(tl.int64) * CHUNK
    n = tl.zeros([], tl.float32)
    mean = tl.zeros([], tl.float32)
    m2 = tl.zeros([], tl.float32)
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(0, CHUNK, BLOCK):
        k = start + tl.arange(0, BLOCK)
        mask = (k < CHUNK) & (s.to(tl.int64) * CHUNK + k < R)
        x = tl.load(x_ptr + begin + k, mask=mask, other=0.0).to(tl.float32)
        if {centred}:
            count = tl.sum(mask.to(tl.float32), axis=0)
            tile_mean = tl.sum(x, axis=0) / tl.maximum(count, 1.0)
            d = tl.where(mask, x - tile_mean, 0.0)
            total = n + count
            delta = tile_mean - mean
            mean += delta * count / tl.maximum(total, 1.0)
            m2 += tl.sum({square}, axis=0) + delta * delta * n * count / tl.maximum(total, 1.0)
            n = total
        else:
            acc += tl.where(mask, {square}, 0.0)
    at = (o * SPLIT + s) * 3
    tl.store(part_ptr + at, n)
    tl.store(part_ptr + at + 1, mean)
    tl.store(part_ptr + at + 2, m2 + tl.sum(acc, axis=0))


@triton.jit
def _row_finish(part_ptr, stat_ptr, R, SPLIT, BS: tl.constexpr):
    o = tl.program_id(0).to(tl.int64)
    s = tl.arange(0, BS)
    ok = s < SPLIT
    n = tl.load(part_ptr + (o * SPLIT + s) * 3, mask=ok, other=0.0)
    mu = tl.load(part_ptr + (o * SPLIT + s) * 3 + 1, mask=ok, other=0.0)
    q = tl.load(part_ptr + (o * SPLIT + s) * 3 + 2, mask=ok, other=0.0)
    {center}
    m2 = tl.sum(tl.where(ok, q + n * (mu - center) * (mu - center), 0.0), axis=0)
    {finish}
    tl.store(stat_ptr + o * 2, center)
    tl.store(stat_ptr + o * 2 + 1, factor)


@triton.jit
def _row_apply(x_ptr, w_ptr, b_ptr, stat_ptr, out_ptr, R, BLOCK: tl.constexpr):
    # Blocks of the row on grid axis 0: a long row has more than the 65,535 axis 1 allows.
    o = tl.program_id(1).to(tl.int64)
    row = o * R
    cols = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < R
    center = tl.load(stat_ptr + o * 2)
    factor = tl.load(stat_ptr + o * 2 + 1)
    x = tl.load(x_ptr + row + cols, mask=mask, other=0.0).to(tl.float32)
{_indent(apply, 4)}


def _split_row_norm(x, w, b, out, outer, R, sms):
    split = max(1, min(triton.cdiv(4 * sms, outer), triton.cdiv(R, 8192)))
    chunk = triton.cdiv(triton.cdiv(R, split), 4096) * 4096
    split = triton.cdiv(R, chunk)
    part = torch.empty(outer * split * 3, device=x.device, dtype=torch.float32)
    stat = torch.empty(outer * 2, device=x.device, dtype=torch.float32)
    _row_partials[(outer, split)](x, part, R, chunk, split, BLOCK=2048, num_warps=8)
    _row_finish[(outer,)](part, stat, R, split, BS=triton.next_power_of_2(split))
    _row_apply[(triton.cdiv(R, 4096), outer)](x, w, b, stat, out, R, BLOCK=4096, num_warps=8)
"""


def _indent(text: str, spaces: int) -> str:
    return textwrap.indent(text, " " * spaces)


def _triton_channel(problem: Recognised, variant: GpuVariant) -> str:
    spec: ChannelNorm = problem.spec
    weight = "tl.load(w_ptr + c).to(tl.float32)" if spec.weight else "1.0"
    bias = "tl.load(b_ptr + c).to(tl.float32)" if spec.bias else "0.0"
    kernel = f"""@triton.jit
def _plane_stats(x_ptr, mean_ptr, m2_ptr, S, BLOCK: tl.constexpr):
    # (mean, M2) of one (sample, channel) plane of S values in one read (two reads made
    # KernelBench 33's BatchNorm four passes over 4.3 GB): each lane keeps Welford's running
    # mean and M2 of its own values, and the lanes merge by Chan's formula at the end.
    base = tl.program_id(0).to(tl.int64) * S
    count = tl.zeros([BLOCK], tl.float32)
    mean = tl.zeros([BLOCK], tl.float32)
    m2 = tl.zeros([BLOCK], tl.float32)
    steps = tl.zeros([], tl.float32)  # every lane still inside the plane has seen this many
    for start in range(0, S, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        ok = offs < S
        x = tl.load(x_ptr + base + offs, mask=ok, other=0.0).to(tl.float32)
        count += ok.to(tl.float32)
        steps += 1.0
        delta = tl.where(ok, x - mean, 0.0)
        mean += delta * (1.0 / steps)
        m2 += delta * (x - mean)
    plane_mean = tl.sum(count * mean, axis=0) / tl.sum(count, axis=0)
    spread = mean - plane_mean
    tl.store(mean_ptr + tl.program_id(0), plane_mean)
    tl.store(m2_ptr + tl.program_id(0), tl.sum(m2 + count * spread * spread, axis=0))


@triton.jit
def _group_stats(pmean_ptr, pm2_ptr, mean_ptr, var_ptr, M, first_mul, stride, S,
                 BLOCK: tl.constexpr):
    # A group's M planes (at first, first + stride, ...) merged by Chan's formula.
    g = tl.program_id(0).to(tl.int64)
    first = g * first_mul
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(0, M, BLOCK):
        k = start + tl.arange(0, BLOCK)
        acc += tl.load(pmean_ptr + first + k * stride, mask=k < M, other=0.0)
    mean = tl.sum(acc, axis=0) / M
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(0, M, BLOCK):
        k = start + tl.arange(0, BLOCK)
        d = tl.load(pmean_ptr + first + k * stride, mask=k < M, other=0.0) - mean
        m2 = tl.load(pm2_ptr + first + k * stride, mask=k < M, other=0.0)
        acc += tl.where(k < M, m2 + S * d * d, 0.0)
    tl.store(mean_ptr + g, mean)
    tl.store(var_ptr + g, tl.sum(acc, axis=0) / M / S)


@triton.jit
def _plane_apply(x_ptr, mean_ptr, var_ptr, w_ptr, b_ptr, out_ptr, S, C, group_div, group_mod,
                 BLOCK: tl.constexpr):
    # One block of one plane, normalised by its group's statistics.
    p = tl.program_id(0).to(tl.int64)
    c = p % C
    g = (p // group_div) % group_mod
    mean = tl.load(mean_ptr + g).to(tl.float32)
    scale = 1.0 / tl.sqrt(tl.load(var_ptr + g).to(tl.float32) + {spec.eps!r}) * {weight}
    shift = {bias}
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < S
    x = tl.load(x_ptr + p * S + offs, mask=mask, other=0.0).to(tl.float32)
    y = (x - mean) * scale + shift
    tl.store(out_ptr + p * S + offs, y.to(out_ptr.dtype.element_ty), mask=mask)
"""
    if spec.batch_stats:
        stats = f"""            planes = N * C
            pmean = torch.empty(planes, device=x.device, dtype=torch.float32)
            pm2 = torch.empty_like(pmean)
            block = min({variant.block}, triton.next_power_of_2(S))
            _plane_stats[(planes,)](x, pmean, pm2, S, BLOCK=block, num_warps={variant.num_warps})
            mean = torch.empty(groups, device=x.device, dtype=torch.float32)
            var = torch.empty_like(mean)
            M, first_mul, stride = (C // G, C // G, 1) if G else (N, 1, C)
            block = min({variant.block}, triton.next_power_of_2(M))
            _group_stats[(groups,)](pmean, pm2, mean, var, M, first_mul, stride, S, BLOCK=block)"""
    else:
        stats = f"""            mean = {_fetch(spec.running_mean, ".contiguous()")}
            var = {_fetch(spec.running_var, ".contiguous()")}"""
    body = f"""        x = inputs[0].contiguous()
        N, C, G = x.shape[0], x.shape[1], {spec.groups}
        if G and C % G:
            raise ValueError(f"{{C}} channels do not split into {{G}} groups")
        w = {_fetch(spec.weight, ".contiguous()") or "x"}
        b = {_fetch(spec.bias, ".contiguous()") or "x"}
        out = torch.empty_like(x)
        if x.numel():
            S = x.numel() // (N * C)
            groups = N * G if G else C
{stats}
            group_div, group_mod = (C // G, groups) if G else (1, C)
            block = min({variant.block}, triton.next_power_of_2(S))
            grid = (N * C, triton.cdiv(S, block))
            _plane_apply[grid](
                x, mean, var, w, b, out, S, C, group_div, group_mod, BLOCK=block,
                num_warps={variant.num_warps},
            )
        return out"""
    return triton_module(kernel, variant, _what(problem), _module_rest(spec, body))
