import torch
import torch.nn as nn


class Model(nn.Module):
    """A (64, 32) @ (32, 64) matmul: small enough for a naive kernel, and a reduction long
    enough that the inputs' rounding shows in the result (red-team fixture)."""

    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


M, K, N = 64, 32, 64


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
