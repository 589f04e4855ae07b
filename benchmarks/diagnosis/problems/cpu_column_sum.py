"""Labelled-suite problem (benchmarks/diagnosis): sum over the rows of a matrix (dim 0)."""

import torch
import torch.nn as nn


class Model(nn.Module):
    """Column sums of a 2-D matrix: out[j] = sum_i x[i, j], shape (N,)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=0)


M = 4096
N = 4096

# `tiny` is still larger than the simulated L1 (48 KiB): cachegrind falls back to it when the
# default size is too slow to simulate, and the access pattern must still show there.
SIZES = {"tiny": {"M": 512, "N": 512}}


def get_inputs():
    x = torch.randn(M, N)
    return [x]


def get_init_inputs():
    return []
