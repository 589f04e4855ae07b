import torch
import torch.nn as nn


class Model(nn.Module):
    """Matrix-vector multiplication: C = A @ B with A (M, K) and B (K, 1)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


M = 8192
K = 8192

# Globals rebound for the GPU-sized variant (`--size gpu`).
# Reads the 8.6 GB matrix once -> ~2.2 ms at ~4 TB/s (memory bound).
# Measured: 2.3 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"M": 16384, "K": 131072}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"M": 100, "K": 96}


def get_inputs():
    A = torch.randn(M, K)
    B = torch.randn(K, 1)
    return [A, B]


def get_init_inputs():
    return []
