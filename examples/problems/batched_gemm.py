import torch
import torch.nn as nn


class Model(nn.Module):
    """Batched matrix multiplication: C[b] = A[b] @ B[b] via torch.bmm."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.bmm(A, B)


batch_size = 64
m = 256
k = 256
n = 256

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 2*b*m*k*n = 137 GFLOP -> ~2.7 ms at ~50 TFLOP/s fp32 (no TF32); 805 MB in+out.
# Measured: 2.7 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 128, "m": 512, "k": 1024, "n": 1024}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "m": 33, "k": 40, "n": 48}


def get_inputs():
    A = torch.randn(batch_size, m, k)
    B = torch.randn(batch_size, k, n)
    return [A, B]


def get_init_inputs():
    return []
