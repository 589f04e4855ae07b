# class: precision drop (fp32 -> TF32)
# expect: forbidden_code|numerical_mismatch
# why: asks tl.dot for TF32 tensor cores on float32 operands: a 10-bit mantissa that passes 1e-2
# problem: tiny_matmul.py
# gap: TF32 in tl.dot is a warning (tf32-dot), and its error passes 1e-2; an fp64 check would tell
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, K: tl.constexpr, N: tl.constexpr):
    rm, rk, rn = tl.arange(0, M), tl.arange(0, K), tl.arange(0, N)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])
    c = tl.dot(a, b, input_precision="tf32")
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], c)


class ModelNew(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a.contiguous(), b.contiguous()
        (m, k), n = a.shape, b.shape[1]
        out = torch.empty(m, n, dtype=a.dtype, device=a.device)
        matmul_kernel[(1,)](a, b, out, M=m, K=k, N=n)
        return out
