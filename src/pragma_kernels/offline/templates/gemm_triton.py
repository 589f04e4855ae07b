"""Triton templates for the gemm family (`offline/gemm.py`).

Products: one `tl.dot` kernel, strided (transposes cost nothing), batched on grid axis 1,
with GROUP_M swizzling of the output tiles for L2 reuse, autotuned over tiles chosen from
the recognised shape (`gemm_configs`). When the output has too few tiles to fill the GPU and
K is long, K is split over grid axis 2 and the partial tiles are added atomically into a
zeroed output. A triu / tril epilogue writes the zeroed tiles without computing them.

Precision: float32 operands multiply as 3xTF32 (`input_precision="tf32x3"`: each operand
split into a TF32 high part and a TF32 remainder, three tensor-core products, about float32's
accuracy) unless the user allowed TF32 for float32 matmuls
(`torch.backends.cuda.matmul.allow_tf32`, False by default, read when the candidate is
written), as torch's own matmul does. Matrix-vector is a reduction kernel (no tensor cores
to feed), diagonal and scalar scaling are streaming kernels.
"""

from __future__ import annotations

from pragma_kernels.offline.gemm import Gemm
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    GpuVariant,
    Tile,
    model_new,
    pow2_at_least,
    triton_module,
)
from pragma_kernels.offline.templates.gemm_glue import matmul_prologue, what

# Every shape-chosen configuration autotuned, or the first alone (the interpreter's tests,
# and a machine where autotuning costs too much).
GEMM_GPU_VARIANTS = (
    GpuVariant("autotune", block=0, num_warps=0),
    GpuVariant("single-config", block=1, num_warps=4),
)
SMS = 132  # H100 / H200: how many tiles fill the GPU when choosing split-K


# (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages) for float32 operands on Hopper: the large
# tiles first (square and big problems), smaller ones for narrow or short outputs.
BASE_TILES = (
    (128, 128, 32, 8, 3),
    (128, 256, 32, 8, 3),
    (256, 128, 32, 8, 3),
    (128, 128, 32, 4, 4),
    (128, 64, 32, 4, 4),
    (64, 128, 32, 4, 4),
    (64, 64, 64, 4, 3),
    (64, 32, 32, 2, 4),
)


def _floor_pow2(n: int) -> int:
    value = 1
    while value * 2 <= n:
        value *= 2
    return value


def gemm_configs(spec: Gemm, sms: int = SMS) -> list[Tile]:
    """Tiles for this product: no block wider than the (power-of-two rounded) dimension,
    BLOCK_K no longer than K, and split-K when the tiles would leave most of the SMs idle
    while K is long (a large-K product with a small output)."""
    m, n, k, batch = max(spec.m, 1), max(spec.n, 1), max(spec.k, 1), max(spec.batch, 1)
    tiles: list[Tile] = []
    for bm, bn, bk, warps, stages in BASE_TILES:
        tile = Tile(
            min(bm, pow2_at_least(m, 16, 256)),
            min(bn, pow2_at_least(n, 16, 256)),
            min(bk, pow2_at_least(k, 16, 64)),
            warps,
            2 if k <= 64 else stages,
        )
        if tile not in tiles:
            tiles.append(tile)
    programs = batch * -(-m // tiles[0].block_m) * -(-n // tiles[0].block_n)
    if programs < sms // 2 and k >= 4096 and not spec.epilogue:
        split = min(pow2_at_least(max(2, sms // max(programs, 1)), 2, 64), _floor_pow2(k // 256))
        splits = sorted({max(split // 2, 2), split})
        tiles = [
            Tile(t.block_m, t.block_n, t.block_k, t.num_warps, t.num_stages, s)
            for s in splits
            for t in tiles[:4]
        ]
    return tiles[:8]


_GEMM_KERNEL = """@triton.jit
def _gemm(a_ptr, b_ptr, c_ptr, M, N, K, sa_b, sa_m, sa_k, sb_b, sb_k, sb_n,
          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
          SPLIT_K: tl.constexpr, GROUP_M: tl.constexpr):
    # Tiles in groups of GROUP_M rows of tiles, so neighbouring programs share B columns.
    pid = tl.program_id(0)
    bid = tl.program_id(1).to(tl.int64)
    pid_k = tl.program_id(2)
    tiles_m = tl.cdiv(M, BLOCK_M)
    tiles_n = tl.cdiv(N, BLOCK_N)
    group = pid // (GROUP_M * tiles_n)
    first_m = group * GROUP_M
    rows_in_group = tl.minimum(tiles_m - first_m, GROUP_M)
    pid_m = first_m + (pid % (GROUP_M * tiles_n)) % rows_in_group
    pid_n = (pid % (GROUP_M * tiles_n)) // rows_in_group
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c_ptrs = c_ptr + bid * M * N + offs_m.to(tl.int64)[:, None] * N + offs_n[None, :]
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    k_per = tl.cdiv(tl.cdiv(K, SPLIT_K), BLOCK_K) * BLOCK_K
    k_begin = pid_k * k_per
    k_end = tl.minimum(K, k_begin + k_per)
    if DEAD_TILE:  # wholly in the triangle the epilogue zeroes: no product, zeros stored
        k_end = k_begin
    offs_k = k_begin + tl.arange(0, BLOCK_K)
    # 64-bit offsets: a transposed operand's k * stride can pass 2**31 on big inputs
    rows, cols, ks = offs_m.to(tl.int64), offs_n.to(tl.int64), offs_k.to(tl.int64)
    a_ptrs = a_ptr + bid * sa_b + rows[:, None] * sa_m + ks[None, :] * sa_k
    b_ptrs = b_ptr + bid * sb_b + ks[:, None] * sb_k + cols[None, :] * sb_n
    for k in range(k_begin, k_end, BLOCK_K):
        k_ok = (k - k_begin + offs_k) < k_end
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & k_ok[None, :], other=0.0)
        b = tl.load(b_ptrs, mask=k_ok[:, None] & (offs_n[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PRECISION_LITERAL)
        a_ptrs += BLOCK_K * sa_k
        b_ptrs += BLOCK_K * sb_k
    acc = EPILOGUE_MASK
    if SPLIT_K == 1:
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=c_mask)
    else:
        tl.atomic_add(c_ptrs, acc, mask=c_mask)
"""


def _epilogue(spec: Gemm) -> tuple[str, str]:
    """(the tile-is-all-zero test, the masked accumulator) of a triu / tril epilogue."""
    d = spec.diagonal
    if spec.epilogue == "triu":  # keeps column - row >= d
        dead = f"pid_n * BLOCK_N + BLOCK_N - 1 - pid_m * BLOCK_M < {d}"
        keep = f"tl.where(offs_n[None, :] - offs_m[:, None] >= {d}, acc, 0.0)"
    elif spec.epilogue == "tril":  # keeps column - row <= d
        dead = f"pid_n * BLOCK_N - (pid_m * BLOCK_M + BLOCK_M - 1) > {d}"
        keep = f"tl.where(offs_n[None, :] - offs_m[:, None] <= {d}, acc, 0.0)"
    else:
        dead, keep = "False", "acc"
    return dead, keep


def tf32_allowed() -> bool:
    """Whether the user let float32 matmuls use TF32 (torch's flag, False by default)."""
    import torch

    return bool(torch.backends.cuda.matmul.allow_tf32)


def triton_gemm(problem: Recognised, variant: GpuVariant, allow_tf32: bool | None = None) -> str:
    spec: Gemm = problem.spec
    if spec.kind == "matmul" or (spec.kind == "matvec" and spec.a.trans):
        allow = tf32_allowed() if allow_tf32 is None else allow_tf32
        return _triton_matmul(spec, variant, "tf32" if allow else "tf32x3")
    if spec.kind == "matvec":
        return _triton_matvec(spec, variant)
    return _triton_scale(spec, variant)


def _autotuned(name: str, configs: list[str], key: str, reset: str = "", prune: str = "") -> str:
    listing = ",\n    ".join(configs)
    zero = f", reset_to_zero={reset}" if reset else ""
    zero += f", prune_configs_by={{'early_config_prune': {prune}}}" if prune else ""
    tuned = f"triton.autotune(configs=[\n    {listing},\n], key={key}{zero}, **_TUNE)"
    return f"{name} = {tuned}({name})\n"


def gemm_kernel(
    spec: Gemm, variant: GpuVariant, precision: str, name: str = "_gemm"
) -> tuple[str, bool]:
    """The autotuned product kernel `name` for this spec, and whether a configuration splits
    K (then the output must be a zeroed float32 buffer the partial tiles are added into)."""
    tiles = gemm_configs(spec)
    if variant.name == "single-config":
        tiles = tiles[:1]
    split = any(t.split_k > 1 for t in tiles)
    dead, keep = _epilogue(spec)
    kernel = (
        _GEMM_KERNEL.replace("DEAD_TILE", dead)
        .replace("EPILOGUE_MASK", keep)
        .replace("PRECISION_LITERAL", f'"{precision}"')
        .replace("def _gemm(", f"def {name}(")
    )
    configs = [t.config(SPLIT_K=t.split_k, GROUP_M=8) for t in tiles]
    kernel += "\n\n" + _autotuned(name, configs, '["M", "N", "K"]', '["c_ptr"]' if split else "")
    return kernel, split


def _triton_matmul(spec: Gemm, variant: GpuVariant, precision: str) -> str:
    kernel, split = gemm_kernel(spec, variant, precision)
    # Split-K adds partial tiles into a float32 output zeroed first.
    alloc = "torch.zeros" if split else "torch.empty"
    out_dtype = "torch.float32" if split else "a.dtype"
    body = (
        matmul_prologue(spec, ".contiguous()")  # a no-op on contiguous inputs
        + f"""\
        out = {alloc}(batch * M * N, device=a.device, dtype={out_dtype})
        if out.numel():
            grid = lambda meta: (
                triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),
                batch,
                meta["SPLIT_K"],
            )
            _gemm[grid](a, b, out, M, N, K, sa_b, sa_m, sa_k, sb_b, sb_k, sb_n)
        return out.view(shape).to(dtype)"""
    )
    return triton_module(kernel, variant, f"{what(spec)}, {precision}", model_new(body))


_MATVEC_KERNEL = """@triton.jit
def _matvec(a_ptr, x_ptr, out_ptr, M, K, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr,
            SPLIT_K: tl.constexpr):
    # BLOCK_M rows per program, K walked in BLOCK_K chunks (SPLIT_K programs per row block
    # add their partial sums atomically into a zeroed output).
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    k_per = tl.cdiv(tl.cdiv(K, SPLIT_K), BLOCK_K) * BLOCK_K
    k_begin = tl.program_id(1) * k_per
    k_end = tl.minimum(K, k_begin + k_per)
    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
    row_ptrs = a_ptr + rows.to(tl.int64)[:, None] * K
    for k in range(k_begin, k_end, BLOCK_K):
        cols = k + tl.arange(0, BLOCK_K)
        ok = cols < k_end
        x = tl.load(x_ptr + cols, mask=ok, other=0.0).to(tl.float32)
        a = tl.load(row_ptrs + cols[None, :], mask=(rows[:, None] < M) & ok[None, :], other=0.0)
        acc += a.to(tl.float32) * x[None, :]
    total = tl.sum(acc, axis=1)
    if SPLIT_K == 1:
        tl.store(out_ptr + rows, total, mask=rows < M)
    else:
        tl.atomic_add(out_ptr + rows, total, mask=rows < M)
"""


def matvec_configs(spec: Gemm, sms: int = SMS) -> list[str]:
    """Rows per program and chunk length; K split when the row blocks cannot fill the SMs."""
    configs = []
    for rows, block_k, warps in ((1, 2048, 4), (2, 2048, 8), (4, 1024, 8), (8, 512, 8)):
        blocks = -(-max(spec.m, 1) // rows)
        split = 1
        while blocks * split < 2 * sms and spec.k // (split * 2) >= 8 * block_k:
            split *= 2
        block_k = min(block_k, pow2_at_least(spec.k, 16, block_k))
        configs.append(
            f"triton.Config({{'BLOCK_M': {rows}, 'BLOCK_K': {block_k}, 'SPLIT_K': {split}}}, "
            f"num_warps={warps})"
        )
    return configs


def _triton_matvec(spec: Gemm, variant: GpuVariant) -> str:
    configs = matvec_configs(spec)
    if variant.name != "autotune":
        configs = configs[:1]
    kernel = _MATVEC_KERNEL + "\n\n" + _autotuned("_matvec", configs, '["M", "K"]', '["out_ptr"]')
    body = (
        matmul_prologue(spec, ".contiguous()")
        + """\
        out = torch.zeros(M, device=a.device, dtype=torch.float32)
        if out.numel():
            grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]), meta["SPLIT_K"])
            _matvec[grid](a, b, out, M, K)
        return out.view(shape).to(dtype)"""
    )
    return triton_module(kernel, variant, what(spec), model_new(body))


_SCALE_KERNEL = """@triton.jit
def _scale(x_ptr, d_ptr, out_ptr, M, N, s, MODE: tl.constexpr, BLOCK_M: tl.constexpr,
           BLOCK_N: tl.constexpr):
    # x viewed as [M, N]: out = x * s (MODE 0), x[i, j] * d[i] (1: a diagonal on the left),
    # x[i, j] * d[j] (2). A tile of BLOCK_M rows x BLOCK_N columns per program, its row and
    # column block from one division per program (no per-element index arithmetic; a 1-D
    # grid, so neither count meets grid axis 1's 65535 limit).
    col_blocks = (N + BLOCK_N - 1) // BLOCK_N
    pid = tl.program_id(0)
    rows = (pid // col_blocks).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = (pid % col_blocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < M
    col_ok = cols < N
    mask = row_ok[:, None] & col_ok[None, :]
    offs = rows[:, None] * N + cols[None, :]
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    if MODE == 0:
        y = x * s
    elif MODE == 1:
        y = x * tl.load(d_ptr + rows, mask=row_ok, other=0.0)[:, None]
    else:
        y = x * tl.load(d_ptr + cols, mask=col_ok, other=0.0)[None, :]
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=mask)


def _prune_scale(configs, named, **kwargs):
    # no wider tile than the rows or the columns (a scalar scale is one row of all)
    rows = triton.next_power_of_2(named["M"])
    cols = max(32, triton.next_power_of_2(named["N"]))
    kept = [c for c in configs if c.kwargs["BLOCK_M"] <= rows and c.kwargs["BLOCK_N"] <= cols]
    return kept or configs[-1:]
"""
# (BLOCK_M, BLOCK_N, warps): tiles of 4-8K values for wide rows, then narrower ones; the
# last is the fallback of a shape that prunes every other.
SCALE_CONFIGS = (
    (4, 1024, 4),
    (1, 4096, 8),
    (2, 2048, 8),
    (8, 1024, 8),
    (1, 8192, 16),
    (1, 2048, 4),
    (16, 512, 8),
    (32, 256, 8),
    (64, 64, 4),
    (128, 32, 4),
    (1, 1024, 4),
)


def _triton_scale(spec: Gemm, variant: GpuVariant) -> str:
    configs = [
        f"triton.Config({{'BLOCK_M': {m}, 'BLOCK_N': {n}}}, num_warps={w})"
        for m, n, w in SCALE_CONFIGS
    ]
    if variant.name != "autotune":
        configs = configs[:1]
    tuned = _autotuned("_scale", configs, '["M", "N"]', prune="_prune_scale")
    kernel = _SCALE_KERNEL + "\n\n" + tuned
    if spec.kind == "diag":
        mode = 1 if spec.side == "left" else 2
        head = f"""        x = inputs[{spec.b.input}].contiguous()
        d = inputs[{spec.a.input}].contiguous()
        s, N = 1.0, x.shape[-1]"""
    else:  # one row of every value
        mode = 0
        head = f"""        x = inputs[{spec.a.input}].contiguous()
        d, s, N = x, float(inputs[{spec.b.input}]), x.numel()"""
    body = (
        head
        + f"""
        out = torch.empty_like(x)
        if out.numel():
            M = out.numel() // N
            grid = lambda meta: (
                triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),
            )
            _scale[grid](x, d, out, M, N, s, MODE={mode})
        return out"""
    )
    return triton_module(kernel, variant, what(spec), model_new(body))
