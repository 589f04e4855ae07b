"""Hand-written reference solution (not model output): C = A @ B as a tiled tl.dot GEMM in Triton.

Tensor cores instead of eager's CUDA-core fp32 SGEMM: fp32 runs as 3xTF32 (3 TF32 dots, ~fp32
accuracy), fp16/bf16 as one native dot; grouped tile order keeps A/B panels in L2, and the tile
configs are autotuned per shape and dtype.

Precision (fp32): each operand is split once into hi (rounded to TF32) + lo, and
C = lo*hi + hi*lo + hi*hi with fp32 accumulation. Plain TF32 (10-bit mantissa) fails 1e-2 here:
emulated on a 128-row slice of the N = 4096 randn problem, its error std was 0.01-0.03 and ~1%
of the outputs (those near zero) missed atol; 3xTF32 gave max error 2.4e-5 in the same test.
input_precision="ieee" would run on CUDA cores like cuBLAS SGEMM and not beat it. B is split
into a transposed (N, K) copy: Hopper's wgmma reads TF32 operands from shared memory only
K-major, so both tiles then stream straight in with cp.async.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

SMEM_BUDGET = 200 * 1024  # bytes of operand tiles per program (H100/H200: 227 KB per block)


@triton.jit
def _split_tf32_kernel(
    src_ptr,
    hi_ptr,
    lo_ptr,
    rows,
    cols,
    stride_dst_r,
    stride_dst_c,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    # src: contiguous (rows, cols). dst[r, c] at r * stride_dst_r + c * stride_dst_c.
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = (r[:, None] < rows) & (c[None, :] < cols)
    r64 = r[:, None].to(tl.int64)
    c64 = c[None, :].to(tl.int64)
    x = tl.load(src_ptr + r64 * cols + c64, mask=mask, other=0.0)
    # Round to nearest TF32 (keep 10 mantissa bits); the remainder x - hi is exact in fp32.
    bits = x.to(tl.int32, bitcast=True)
    hi = ((bits + 0x1000) & -8192).to(tl.float32, bitcast=True)
    dst = r64 * stride_dst_r + c64 * stride_dst_c
    tl.store(hi_ptr + dst, hi, mask=mask)
    tl.store(lo_ptr + dst, x - hi, mask=mask)


def _prune_configs(configs, named_args, **kwargs):
    args = {**named_args, **kwargs}
    operands = 2 if args["SPLIT"] else 1  # hi and lo tiles
    elt = args["a_ptr"].element_size()
    kept = []
    for cfg in configs:
        kw = cfg.kwargs
        tile_bytes = (kw["BLOCK_M"] + kw["BLOCK_N"]) * kw["BLOCK_K"] * elt * operands
        if tile_bytes * cfg.num_stages <= SMEM_BUDGET:
            kept.append(cfg)
    return kept or [min(configs, key=lambda c: c.kwargs["BLOCK_M"] * c.kwargs["BLOCK_N"])]


def _config(bm, bn, bk, stages, warps):
    kwargs = {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}
    return triton.Config(kwargs, num_stages=stages, num_warps=warps)


# Under TRITON_INTERPRET=1 (CPU, no GPU driver) Triton has no benchmarker to tune with:
# only the first config is kept there.
CONFIGS = [
    _config(128, 128, 32, 3, 8),
    _config(128, 256, 32, 2, 8),
    _config(64, 128, 32, 4, 4),
    _config(128, 128, 32, 2, 4),
    _config(128, 256, 64, 3, 8),  # 16-bit inputs (too large for split fp32 tiles)
    _config(128, 128, 64, 4, 8),  # 16-bit inputs
]


@triton.autotune(
    configs=CONFIGS[:1] if triton.knobs.runtime.interpret else CONFIGS,
    key=["M", "N", "K", "SPLIT"],
    prune_configs_by={"early_config_prune": _prune_configs},
)
@triton.jit
def _matmul_kernel(
    a_ptr,
    a_lo_ptr,
    b_ptr,
    b_lo_ptr,
    c_ptr,
    M,
    N,
    K,
    stride_am,
    stride_ak,
    stride_bk,
    stride_bn,
    stride_cm,
    stride_cn,
    SPLIT: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    # Grouped ordering: GROUP_M row-panels of A share each column-panel of B while in L2.
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m

    # Rows/columns past the edge wrap around (loads stay in bounds, unmasked); the store
    # mask drops them.
    offs_m = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)) % M
    offs_n = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)) % N
    offs_k = tl.arange(0, BLOCK_K)
    a_off = offs_m[:, None].to(tl.int64) * stride_am + offs_k[None, :] * stride_ak
    b_off = offs_k[:, None] * stride_bk + offs_n[None, :].to(tl.int64) * stride_bn
    a_ptrs = a_ptr + a_off
    b_ptrs = b_ptr + b_off
    a_lo_ptrs = a_lo_ptr + a_off
    b_lo_ptrs = b_lo_ptr + b_off

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_mask = offs_k < K - k0
        a = tl.load(a_ptrs, mask=k_mask[None, :], other=0.0)
        b = tl.load(b_ptrs, mask=k_mask[:, None], other=0.0)
        if SPLIT:
            a_lo = tl.load(a_lo_ptrs, mask=k_mask[None, :], other=0.0)
            b_lo = tl.load(b_lo_ptrs, mask=k_mask[:, None], other=0.0)
            # Small terms first. hi is exact in TF32; lo loses only its own low bits.
            acc = tl.dot(a_lo, b, acc, input_precision="tf32")
            acc = tl.dot(a, b_lo, acc, input_precision="tf32")
            acc = tl.dot(a, b, acc, input_precision="tf32")
            a_lo_ptrs += BLOCK_K * stride_ak
            b_lo_ptrs += BLOCK_K * stride_bk
        else:
            acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    offs_cm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_cn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c_ptrs = c_ptr + offs_cm[:, None].to(tl.int64) * stride_cm + offs_cn[None, :] * stride_cn
    c_mask = (offs_cm[:, None] < M) & (offs_cn[None, :] < N)
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=c_mask)


def _split_tf32(x: torch.Tensor, transpose: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """hi + lo == x with hi TF32-exact; transpose=True returns the (cols, rows) layout."""
    rows, cols = x.shape
    shape = (cols, rows) if transpose else (rows, cols)
    hi = torch.empty(shape, device=x.device, dtype=torch.float32)
    lo = torch.empty(shape, device=x.device, dtype=torch.float32)
    strides = (1, rows) if transpose else (cols, 1)
    grid = (triton.cdiv(rows, 64), triton.cdiv(cols, 64))
    _split_tf32_kernel[grid](x, hi, lo, rows, cols, *strides, BLOCK_R=64, BLOCK_C=64)
    return hi, lo


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        A = A.contiguous()
        B = B.contiguous()
        M, K = A.shape
        N = B.shape[1]
        C = torch.empty((M, N), device=A.device, dtype=A.dtype)
        if M == 0 or N == 0:
            return C
        if K == 0:
            return C.zero_()
        grid = lambda meta: (  # noqa: E731
            triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),
        )
        if A.dtype == torch.float32:
            a_hi, a_lo = _split_tf32(A, transpose=False)
            b_hi, b_lo = _split_tf32(B, transpose=True)  # (N, K): K-major B tiles
            _matmul_kernel[grid](a_hi, a_lo, b_hi, b_lo, C, M, N, K, K, 1, 1, K, N, 1, SPLIT=True)
        else:
            _matmul_kernel[grid](A, A, B, B, C, M, N, K, K, 1, N, 1, N, 1, SPLIT=False)
        return C
