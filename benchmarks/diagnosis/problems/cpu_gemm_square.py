"""Labelled-suite problem (benchmarks/diagnosis): square matrix multiplication.

The same operator and default size as examples/problems/gemm_square.py, with a `tiny` size
(N = 256: each matrix 256 KiB) larger than the simulated L1 (48 KiB), so that cachegrind's
fallback replay still shows whether a kernel reuses the data it loads.
"""

import torch
import torch.nn as nn


class Model(nn.Module):
    """Square matrix multiplication: C = A @ B with A, B of shape (N, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


N = 1024

SIZES = {"tiny": {"N": 256}}


def get_inputs():
    A = torch.randn(N, N)
    B = torch.randn(N, N)
    return [A, B]


def get_init_inputs():
    return []
