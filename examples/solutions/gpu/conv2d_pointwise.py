"""Hand-written reference solution (not model output): 1x1 Conv2d (+ bias) as a Triton GEMM.

Per image, out (C_out x HW) = W (C_out x C_in) @ x (C_in x HW): each program computes a (C_out
block x spatial block) tile with tl.dot and adds the bias in registers. x is read once, the
output written once; no im2col, no separate bias pass.

Precision (fp32): TF32 tensor cores, as cuDNN uses by default for the reference conv. With
K = C_in = 64 and the default init (|w| <= 1/sqrt(C_in)), emulated TF32 on a 65536-pixel slice
of the GPU problem gave max error 2.4e-3 (truncation) / 1e-3 (rounding), well within
atol = rtol = 1e-2; for this init the error stays ~constant as C_in grows (sqrt(C_in) * |w|).
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

# Under TRITON_INTERPRET=1 (CPU, no GPU driver) Triton has no benchmarker to tune with:
# only the first config is kept there.
CONFIGS = [
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 32}, num_warps=4, num_stages=2),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64}, num_warps=8, num_stages=1),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 32}, num_warps=8, num_stages=2),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 64, "BLOCK_K": 32}, num_warps=4, num_stages=3),
    triton.Config({"BLOCK_M": 64, "BLOCK_N": 256, "BLOCK_K": 64}, num_warps=4, num_stages=2),
]


@triton.autotune(
    configs=CONFIGS[:1] if triton.knobs.runtime.interpret else CONFIGS,
    key=["c_in", "c_out", "hw"],
)
@triton.jit
def _conv1x1_kernel(
    x_ptr,
    w_ptr,
    bias_ptr,
    out_ptr,
    c_in,
    c_out,
    hw,
    HAS_BIAS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # Output-channel blocks vary fastest, so the programs sharing an x tile run together.
    pid = tl.program_id(0)
    num_m = tl.cdiv(c_out, BLOCK_M)
    num_n = tl.cdiv(hw, BLOCK_N)
    pid_m = pid % num_m
    pid_n = (pid // num_m) % num_n
    b = (pid // (num_m * num_n)).to(tl.int64)

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_m = offs_m < c_out
    mask_n = offs_n < hw
    x_base = x_ptr + b * c_in * hw
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, c_in, BLOCK_K):
        k = k0 + offs_k
        k_mask = k < c_in
        w = tl.load(
            w_ptr + offs_m[:, None] * c_in + k[None, :],
            mask=mask_m[:, None] & k_mask[None, :],
            other=0.0,
        )
        x = tl.load(
            x_base + k[:, None].to(tl.int64) * hw + offs_n[None, :],
            mask=k_mask[:, None] & mask_n[None, :],
            other=0.0,
        )
        acc = tl.dot(w, x, acc)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_m, mask=mask_m, other=0.0).to(tl.float32)
        acc += bias[:, None]
    out_ptrs = out_ptr + b * c_out * hw + offs_m[:, None].to(tl.int64) * hw + offs_n[None, :]
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        batch, c_in, height, width = x.shape
        weight = self.conv.weight
        c_out = weight.shape[0]
        w2d = weight.reshape(c_out, c_in).contiguous()
        bias = self.conv.bias
        hw = height * width
        out = torch.empty((batch, c_out, height, width), device=x.device, dtype=x.dtype)
        if out.numel() == 0:
            return out
        grid = lambda meta: (  # noqa: E731
            batch * triton.cdiv(c_out, meta["BLOCK_M"]) * triton.cdiv(hw, meta["BLOCK_N"]),
        )
        _conv1x1_kernel[grid](
            x,
            w2d,
            bias if bias is not None else w2d,
            out,
            c_in,
            c_out,
            hw,
            HAS_BIAS=bias is not None,
        )
        return out
