# class: precision drop (half compute returned as float32)
# expect: forbidden_code|numerical_mismatch
# why: the kernel casts both tiles to float16 before tl.dot and stores the float32 result
# problem: tiny_matmul.py
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, K: tl.constexpr, N: tl.constexpr):
    rm, rk, rn = tl.arange(0, M), tl.arange(0, K), tl.arange(0, N)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :]).to(tl.float16)
    b = tl.load(b_ptr + rk[:, None] * N + rn[None, :]).to(tl.float16)
    c = tl.dot(a, b, out_dtype=tl.float32)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], c)


class ModelNew(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a.contiguous(), b.contiguous()
        (m, k), n = a.shape, b.shape[1]
        out = torch.empty(m, n, dtype=a.dtype, device=a.device)
        matmul_kernel[(1,)](a, b, out, M=m, K=k, N=n)
        return out
