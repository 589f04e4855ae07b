"""Hand-written labelled case (tensor_cores_unused), planted: a tiled GEMM whose inner product
is a broadcast multiply and a sum, so it runs on the FP32 CUDA-core pipes.

Planted: C = A @ B over 64x64 output tiles; each K step of 4 forms the (64, 64, 4) product
a[:, None, :] * bt[None, :, :] of an A tile and a transposed B tile and reduces it over K with
tl.sum. Triton lowers this to FMUL/FADD (FFMA after contraction) on the CUDA cores: no
HMMA/HGMMA instruction in the kernel (checked in the sm_90a SASS), the tensor pipes idle,
at best the FP32 FMA peak (~67 TFLOP/s on an H200) and far less in practice (layout shuffles,
4-deep K steps, 2 B of operand loads per FMA from L1/L2). 137 GFLOP at GPU size.

Fixed twin (gemm_broadcast_sum_fixed.py): the same tiled loop with the inner product as tl.dot
(TF32 wgmma; the problem's small-integer entries make TF32 exact) on 128x128x32 tiles with a
3-stage pipeline: tensor-core bound, several times faster.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

BLOCK_M = 64
BLOCK_N = 64
BLOCK_K = 4
NUM_WARPS = 8


@triton.jit
def _matmul_broadcast_kernel(
    a_ptr,
    b_ptr,
    c_ptr,
    M,
    N,
    K,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_m = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    m_mask = offs_m < M
    n_mask = offs_n < N
    a_ptrs = a_ptr + offs_m[:, None].to(tl.int64) * K + offs_k[None, :]
    # B's tile is read as its transpose (BLOCK_N, BLOCK_K): still along B's contiguous rows.
    bt_ptrs = b_ptr + offs_k[None, :].to(tl.int64) * N + offs_n[:, None]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_mask = offs_k < K - k0
        a = tl.load(a_ptrs, mask=m_mask[:, None] & k_mask[None, :], other=0.0)
        bt = tl.load(bt_ptrs, mask=n_mask[:, None] & k_mask[None, :], other=0.0)
        # (BLOCK_M, BLOCK_N, BLOCK_K) products summed over K. (The other orientation,
        # sum(a[:, :, None] * b[None, :, :], axis=1), is rewritten into tl.dot by Triton's
        # combine pass and would use the tensor cores after all.)
        acc += tl.sum(a[:, None, :] * bt[None, :, :], axis=2)
        a_ptrs += BLOCK_K
        bt_ptrs += BLOCK_K * N
    c_ptrs = c_ptr + offs_m[:, None].to(tl.int64) * N + offs_n[None, :]
    tl.store(c_ptrs, acc, mask=m_mask[:, None] & n_mask[None, :])


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
        grid = (triton.cdiv(N, BLOCK_N), triton.cdiv(M, BLOCK_M))
        _matmul_broadcast_kernel[grid](
            A, B, C, M, N, K, BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K, num_warps=NUM_WARPS
        )
        return C
