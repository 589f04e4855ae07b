"""Triton template for convolutions (`offline/conv.py`): implicit GEMM, autotuned.

One program computes a BLOCK_M x BLOCK_N tile of output pixels x out-channels of one
group; the reduction runs over (kernel tap, in-channel) pairs in BLOCK_K chunks with
`tl.dot`, loading the input patch straight from the NC(D)HW tensor (no im2col buffer).
A transposed convolution is the same GEMM in its gather form, split by the residue of the
output position modulo the stride (one program axis per residue class): within a class a
tap either feeds every output pixel or none, so the host passes, per class, the list of
taps that feed it, and the reduction skips the others instead of multiplying zeros
(a stride-2 3-D transposed convolution would otherwise do 8x the work). Depthwise
convolutions (one in-channel per group) have no reduction worth a `tl.dot`: a direct
kernel, one output plane per program row, unrolled over the taps.

Precision: `torch.backends.cudnn.allow_tf32` is True by default, so the eager reference
convolution on an NVIDIA GPU runs in TF32, while float32 matmuls do not (their flag,
`torch.backends.cuda.matmul.allow_tf32`, defaults to False). The repository's Verifier
and Timer leave both flags alone. The kernel follows the flag that governs the operator
it replaces, read at each call: `input_precision="tf32"` when cuDNN may use TF32 (the
candidate is then as exact as the reference it is compared with: a relative error near
1e-3 against float64 for either, well inside the Verifier's 1e-2), and `"tf32x3"` (a
float32-accurate split on the tensor cores) when the user turned TF32 off. The static
check `tf32-dot` warns on this file for that reason; the warning is expected.

Layout: the default `channels-last` variant copies the input to N(D)HWC first and orders
the weights (out, tap, in), so both operands of `tl.dot` are contiguous along the reduction
(what Hopper's TF32 tensor-core instructions read) at the cost of one copy of the input;
the `autotune` variant reads NC(D)HW as given and is the loop's next attempt.
`benchmarks/gpu_conv.py --variants channels-last,autotune` times both.

Autotuning: the configurations are chosen from the recorded shapes (`igemm_configs`):
BLOCK_N no wider than the channels of a group, BLOCK_K no deeper than the reduction,
BLOCK_M / warps / stages from a short list, so one attempt explores them all.
"""

from __future__ import annotations

from pragma_kernels.offline.conv import Conv, ConvChain
from pragma_kernels.offline.gemm import Gemm
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    GpuVariant,
    Tile,
    model_new,
    pow2_at_least,
    triton_module,
)
from pragma_kernels.offline.templates.conv_cpp import forward_lines, layers_init
from pragma_kernels.offline.templates.gemm_triton import gemm_configs, gemm_kernel

# The conv family's GPU variants, in the order the loop tries them. First the input copied
# channels-last and the weights as (out, tap, in): both tl.dot operands contiguous along the
# reduction, the layout Hopper's TF32 tensor-core instructions read (NCHW gives the input
# tile contiguous along the pixels instead); on the H200 it ran dense 2-D and 1-D
# convolutions 2.1-2.5x faster than NCHW (benchmarks/results/gpu_conv_layout_h200.md).
# Then NCHW as given, every shape-chosen configuration autotuned; then its first one alone
# (the interpreter's tests, and a machine where autotuning is too slow).
CONV_GPU_VARIANTS = (
    GpuVariant("channels-last", block=0, num_warps=0),
    GpuVariant("autotune", block=0, num_warps=0),
    GpuVariant("single-config", block=1, num_warps=4),
)
CHANNELS_LAST = "channels-last"


def tap_table(conv: Conv) -> tuple[list[list[int]], list[int]]:
    """Per residue class of the output position modulo the stride (one class for a forward
    convolution), the kernel taps (flat kd*KH*KW + kh*KW + kw) that feed it, padded to the
    kernel's volume, and their count."""
    kernel = (1,) * (3 - conv.dims) + conv.kernel
    stride = (1,) * (3 - conv.dims) + conv.stride if conv.transposed else (1, 1, 1)
    padding = (0,) * (3 - conv.dims) + conv.padding
    dilation = (1,) * (3 - conv.dims) + conv.dilation
    volume = kernel[0] * kernel[1] * kernel[2]
    table, counts = [], []
    for rd in range(stride[0]):
        for rh in range(stride[1]):
            for rw in range(stride[2]):
                residue = (rd, rh, rw)
                taps = [
                    (a * kernel[1] + b) * kernel[2] + c
                    for a in range(kernel[0])
                    for b in range(kernel[1])
                    for c in range(kernel[2])
                    if all(
                        (residue[i] + padding[i] - (a, b, c)[i] * dilation[i]) % stride[i] == 0
                        for i in range(3)
                    )
                ]
                counts.append(len(taps))
                table.append(taps + [0] * (volume - len(taps)))
    return table, counts


def igemm_configs(conv: Conv) -> list[Tile]:
    """Tiles for the shapes: BLOCK_N covers a group's out-channels (16..128), BLOCK_K the
    reduction (16..64), BLOCK_M 64 or 128 (256 where BLOCK_N is narrow), 4 or 8 warps."""
    per_group = conv.out_channels // conv.groups
    _, counts = tap_table(conv)
    depth = (conv.in_channels // conv.groups) * max(counts)
    n_tiles = sorted({pow2_at_least(per_group, 16, 64), pow2_at_least(per_group, 16, 128)})
    k_tiles = sorted({pow2_at_least(depth, 16, 32), pow2_at_least(depth, 16, 64)})
    tiles = []
    for block_n in n_tiles:
        m_tiles = (64, 128, 256) if block_n <= 32 else (64, 128)
        for block_m in m_tiles:
            for block_k in k_tiles:
                warps = 8 if block_m * block_n >= 128 * 128 else 4
                tiles.append(Tile(block_m, block_n, block_k, warps, 3))
    first = Tile(64, n_tiles[0], k_tiles[0], 4, 2)
    return [first] + [t for t in tiles if t != first][:11]


IGEMM_KERNEL = """
@triton.jit
def _conv_igemm(x_ptr, w_ptr, b_ptr, y_ptr, taps_ptr, counts_ptr,
                N, D, H, W, Do, Ho, Wo, TD, TH, TW, M,
                CIG: tl.constexpr, COG: tl.constexpr, G: tl.constexpr,
                KH: tl.constexpr, KW: tl.constexpr, KVOL: tl.constexpr,
                SD: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr,
                PD: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
                DD: tl.constexpr, DH: tl.constexpr, DW: tl.constexpr,
                TRANSPOSED: tl.constexpr, HAS_BIAS: tl.constexpr, PRECISION: tl.constexpr,
                CHANNELS_LAST: tl.constexpr,
                SOD: tl.constexpr, SOH: tl.constexpr, SOW: tl.constexpr,
                CHECK_D: tl.constexpr, CHECK_H: tl.constexpr, CHECK_W: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # Output pixel rows of one residue class (output steps SOD, SOH, SOW: the stride of a
    # transposed convolution, else 1) x out-channels of one group; reduction over (tap of
    # this class, in-channel), k = j * CIG + ic. CHECK_*: bounds checks along that dim
    # (without padding a forward convolution's taps of a valid pixel are in bounds).
    pid_gc = tl.program_id(2)
    g = pid_gc // (SOD * SOH * SOW)
    c = pid_gc % (SOD * SOH * SOW)
    rd = c // (SOH * SOW)
    rh = (c // SOW) % SOH
    rw = c % SOW
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    tw = m % TW
    th = (m // TW) % TH
    td = (m // (TW * TH)) % TD
    n = (m // (TW * TH * TD)).to(tl.int64)
    od = rd + SOD * td
    oh = rh + SOH * th
    ow = rw + SOW * tw
    row_ok = (m < M) & (od < Do) & (oh < Ho) & (ow < Wo)
    oc = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    oc_ok = oc < COG
    count = tl.load(counts_ptr + c)
    depth = count * CIG
    # input index = row part (per output pixel) + column part (per tap), along each dim
    if TRANSPOSED:
        row_d, row_h, row_w = td, th, tw
    else:
        row_d, row_h, row_w = od * SD, oh * SH, ow * SW
    HW = H * W
    if CHANNELS_LAST:  # x is (N, D, H, W, C), weights (G, COG, KVOL, CIG)
        row_off = (((n * D + row_d) * H + row_h) * W + row_w) * (G * CIG) + g * CIG
    else:  # x is (N, C, D, H, W), weights (G, KVOL, CIG, COG)
        row_off = (n * (G * CIG) + g * CIG) * D * HW + row_d * HW + row_h * W + row_w
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, depth, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        k_ok = k < depth
        ic = k % CIG
        tap = tl.load(taps_ptr + c * KVOL + k // CIG, mask=k_ok, other=0)
        kd = tap // (KH * KW)
        kh = (tap // KW) % KH
        kw = tap % KW
        if TRANSPOSED:  # exact divisions: the table holds only the taps of this class
            col_d = (rd + PD - kd * DD) // SD
            col_h = (rh + PH - kh * DH) // SH
            col_w = (rw + PW - kw * DW) // SW
        else:
            col_d = kd * DD - PD
            col_h = kh * DH - PH
            col_w = kw * DW - PW
        ok = row_ok[:, None] & k_ok[None, :]
        if CHECK_D:
            id_ = row_d[:, None] + col_d[None, :]
            ok = ok & (id_ >= 0) & (id_ < D)
        if CHECK_H:
            ih = row_h[:, None] + col_h[None, :]
            ok = ok & (ih >= 0) & (ih < H)
        if CHECK_W:
            iw = row_w[:, None] + col_w[None, :]
            ok = ok & (iw >= 0) & (iw < W)
        if CHANNELS_LAST:
            col_off = ((col_d * H + col_h) * W + col_w) * (G * CIG) + ic
            w_off = ((g * COG + oc[None, :]) * KVOL + tap[:, None]) * CIG + ic[:, None]
        else:
            col_off = ic * (D * HW) + col_d * HW + col_h * W + col_w
            w_off = ((g * KVOL + tap[:, None]) * CIG + ic[:, None]) * COG + oc[None, :]
        x_off = row_off[:, None] + col_off[None, :]
        a = tl.load(x_ptr + x_off, mask=ok, other=0.0)
        b = tl.load(w_ptr + w_off, mask=k_ok[:, None] & oc_ok[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + g * COG + oc, mask=oc_ok, other=0.0).to(tl.float32)[None, :]
    y_off = (((n[:, None] * (G * COG) + g * COG + oc[None, :]) * Do + od[:, None]) * Ho
             + oh[:, None]) * Wo + ow[:, None]
    tl.store(y_ptr + y_off, acc.to(y_ptr.dtype.element_ty), mask=row_ok[:, None] & oc_ok[None, :])
"""

DEPTHWISE_KERNEL = """
@triton.jit
def _conv_depthwise(x_ptr, w_ptr, b_ptr, y_ptr, D, H, W, Do, Ho, Wo,
                    C: tl.constexpr, MULT: tl.constexpr,
                    KD: tl.constexpr, KH: tl.constexpr, KW: tl.constexpr,
                    SD: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr,
                    PD: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
                    DD: tl.constexpr, DH: tl.constexpr, DW: tl.constexpr,
                    HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr):
    # One output plane (sample, out-channel) per program row; the taps unroll.
    plane = tl.program_id(1).to(tl.int64)
    oc = plane % (C * MULT)
    n = plane // (C * MULT)
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < Do * Ho * Wo
    ow = offs % Wo
    oh = (offs // Wo) % Ho
    od = offs // (Wo * Ho)
    x_plane = x_ptr + (n * C + oc // MULT) * D * H * W
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for a in tl.static_range(KD):
        id_ = od * SD - PD + a * DD
        ok_d = ok & (id_ >= 0) & (id_ < D)
        for b in tl.static_range(KH):
            ih = oh * SH - PH + b * DH
            ok_h = ok_d & (ih >= 0) & (ih < H)
            for c in tl.static_range(KW):
                iw = ow * SW - PW + c * DW
                m = ok_h & (iw >= 0) & (iw < W)
                v = tl.load(x_plane + (id_ * H + ih) * W + iw, mask=m, other=0.0)
                wv = tl.load(w_ptr + oc * (KD * KH * KW) + (a * KH + b) * KW + c)
                acc += v.to(tl.float32) * wv.to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_ptr + oc).to(tl.float32)
    tl.store(y_ptr + plane * Do * Ho * Wo + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)
"""

DEPTHWISE_CONFIGS = [(256, 2), (512, 4), (1024, 4), (2048, 8)]


def _autotuned(name: str, configs: list[str], key: str) -> str:
    listing = ",\n    ".join(configs)
    return f"{name} = triton.autotune(configs=[\n    {listing},\n], key={key}, **_TUNE)({name})\n"


def _three(values: tuple[int, ...], fill: int) -> tuple[int, int, int]:
    return (fill,) * (3 - len(values)) + tuple(values)


def _constants(conv: Conv) -> str:
    kd, kh, kw = _three(conv.kernel, 1)
    names = [("S", _three(conv.stride, 1)), ("P", _three(conv.padding, 0))]
    names.append(("D", _three(conv.dilation, 1)))
    values = [f"KH={kh}, KW={kw}"]
    for prefix, (d, h, w) in names:
        values.append(f"{prefix}D={d}, {prefix}H={h}, {prefix}W={w}")
    return ", ".join(values) + f", HAS_BIAS={conv.bias}"


def _launch_igemm(conv: Conv, i: int, channels_last: bool) -> str:
    kd, kh, kw = _three(conv.kernel, 1)
    volume, g = kd * kh * kw, conv.groups
    cig, cog = conv.in_channels // g, conv.out_channels // g
    strides = _three(conv.stride, 1) if conv.transposed else (1, 1, 1)
    shape = (g, cig, cog, volume) if conv.transposed else (g, cog, cig, volume)
    # to (G, KVOL, CIG, COG), or channels-last (G, COG, KVOL, CIG)
    perms = {(False, False): (0, 3, 2, 1), (True, False): (0, 3, 1, 2)}
    perms |= {(False, True): (0, 1, 3, 2), (True, True): (0, 2, 3, 1)}
    perm = perms[(conv.transposed, channels_last)]
    source = "x.movedim(1, -1).contiguous()" if channels_last else "x"
    space = ["1"] * (3 - conv.dims) + [f"x.shape[{2 + a}]" for a in range(conv.dims)]
    out = ["1"] * (3 - conv.dims) + [f"y.shape[{2 + a}]" for a in range(conv.dims)]
    bias = f"self.conv{i}.bias" if conv.bias else "wk"
    padding = _three(conv.padding, 0)
    checks = ", ".join(
        f"CHECK_{axis}={conv.transposed or pad > 0}"
        for axis, pad in zip("DHW", padding, strict=True)
    )
    return f"""        wk = self.conv{i}.weight.reshape{shape}.permute{perm}.contiguous()
        D, H, W = {", ".join(space)}
        Do, Ho, Wo = {", ".join(out)}
        TD, TH, TW = -(-Do // {strides[0]}), -(-Ho // {strides[1]}), -(-Wo // {strides[2]})
        M = x.shape[0] * TD * TH * TW
        precision = "tf32" if torch.backends.cudnn.allow_tf32 else "tf32x3"
        grid = lambda META: (triton.cdiv(M, META["BLOCK_M"]), triton.cdiv({cog}, META["BLOCK_N"]),
                             {g * strides[0] * strides[1] * strides[2]})
        if y.numel():
            _conv_igemm_{i}[grid]({source}, wk, {bias}, y, self.taps{i}, self.counts{i},
                x.shape[0], D, H, W, Do, Ho, Wo, TD, TH, TW, M,
                CIG={cig}, COG={cog}, G={g}, KVOL={volume}, {_constants(conv)},
                TRANSPOSED={conv.transposed}, PRECISION=precision, CHANNELS_LAST={channels_last},
                SOD={strides[0]}, SOH={strides[1]}, SOW={strides[2]}, {checks})"""


def _launch_depthwise(conv: Conv, i: int) -> str:
    kd, _, _ = _three(conv.kernel, 1)
    space = ["1"] * (3 - conv.dims) + [f"x.shape[{2 + a}]" for a in range(conv.dims)]
    out = ["1"] * (3 - conv.dims) + [f"y.shape[{2 + a}]" for a in range(conv.dims)]
    bias = f"self.conv{i}.bias" if conv.bias else f"self.conv{i}.weight"
    mult = conv.out_channels // conv.groups
    return f"""        D, H, W = {", ".join(space)}
        Do, Ho, Wo = {", ".join(out)}
        planes = x.shape[0] * {conv.out_channels}
        grid = lambda META: (triton.cdiv(Do * Ho * Wo, META["BLOCK"]), planes)
        if y.numel():
            _conv_depthwise_{i}[grid](x, self.conv{i}.weight, {bias}, y, D, H, W, Do, Ho, Wo,
                C={conv.in_channels}, MULT={mult}, KD={kd}, {_constants(conv)})"""


def _direct(conv: Conv) -> bool:
    return conv.depthwise and not conv.transposed and conv.in_channels == conv.groups


def _as_gemm(conv: Conv) -> Gemm | None:
    """A 1x1 convolution (`Conv.as_product`) on the GEMM kernel, the pixels contiguous,
    without the implicit GEMM's per-pixel index arithmetic (that kernel ran KernelBench 87
    at 0.32x of cuDNN on the H200); None where the product would split K (its output must
    then be a zeroed float32 buffer)."""
    spec = conv.as_product()
    if spec is None or any(tile.split_k > 1 for tile in gemm_configs(spec)):
        return None
    return spec


def _conv_precision() -> str:
    """cuDNN's flag governs the operator replaced (True by default: the module docstring)."""
    import torch

    return "tf32" if torch.backends.cudnn.allow_tf32 else "tf32x3"


def _launch_gemm(conv: Conv, i: int) -> str:
    cin, cout = conv.in_channels, conv.out_channels
    return f"""        pixels = y[0, 0].numel() if y.numel() else 0
        grid = lambda meta: (
            triton.cdiv({cout}, meta["BLOCK_M"]) * triton.cdiv(pixels, meta["BLOCK_N"]),
            x.shape[0],
            meta["SPLIT_K"],
        )
        if y.numel():
            _conv_gemm_{i}[grid](self.conv{i}.weight, x, y, {cout}, pixels, {cin},
                0, {cin}, 1, {cin} * pixels, pixels, 1)"""


def _kernels(spec: ConvChain, variant: GpuVariant) -> str:
    """One kernel per convolution (its own autotuning cache, keyed by its sizes)."""
    parts = []
    for i, conv in enumerate(spec.convs):
        gemm = _as_gemm(conv)
        if gemm is not None:
            kernel, _ = gemm_kernel(gemm, variant, _conv_precision(), name=f"_conv_gemm_{i}")
            parts.append(kernel)
            continue
        if _direct(conv):
            configs = [
                f"triton.Config({{'BLOCK': {b}}}, num_warps={w})" for b, w in DEPTHWISE_CONFIGS
            ]
            kernel = DEPTHWISE_KERNEL.replace("_conv_depthwise", f"_conv_depthwise_{i}")
            name, key = f"_conv_depthwise_{i}", '["Do", "Ho", "Wo"]'
        else:
            configs = [tile.config() for tile in igemm_configs(conv)]
            kernel = IGEMM_KERNEL.replace("_conv_igemm", f"_conv_igemm_{i}")
            name, key = f"_conv_igemm_{i}", '["M", "D", "H", "W"]'
        if variant.name == "single-config":
            configs = configs[:1]
        parts.append(kernel + "\n\n" + _autotuned(name, configs, key))
    return "\n\n".join(parts)


def _tables(spec: ConvChain) -> str:
    """Constructor lines: per transposed/implicit-GEMM convolution, its tap table."""
    lines = []
    for i, conv in enumerate(spec.convs):
        if _direct(conv) or _as_gemm(conv) is not None:
            continue
        table, counts = tap_table(conv)
        lines.append(
            f"        self.register_buffer('taps{i}', torch.tensor({table}, dtype=torch.int32), "
            "persistent=False)\n"
            f"        self.register_buffer('counts{i}', torch.tensor({counts}, "
            "dtype=torch.int32), persistent=False)\n"
        )
    return "".join(lines)


def triton_conv(problem: Recognised, variant: GpuVariant) -> str:
    spec: ConvChain = problem.spec

    def launch(conv: Conv, i: int) -> str:
        if _as_gemm(conv) is not None:
            return _launch_gemm(conv, i)
        if _direct(conv):
            return _launch_depthwise(conv, i)
        return _launch_igemm(conv, i, variant.name == CHANNELS_LAST)

    forward = forward_lines(spec, ".contiguous()", launch)
    init = layers_init(spec) + _tables(spec)
    what = f"{problem.kind}, {variant.name}"
    return triton_module(_kernels(spec, variant), variant, what, model_new(forward, init=init))
