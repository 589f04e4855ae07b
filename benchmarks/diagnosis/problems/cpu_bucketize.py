"""Labelled-suite problem (benchmarks/diagnosis): bucket index of each value (binary search)."""

import torch
import torch.nn as nn


class Model(nn.Module):
    """torch.bucketize(x, boundaries): for each x, the index of the first boundary >= x
    (boundaries sorted ascending), as int64."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, boundaries: torch.Tensor) -> torch.Tensor:
        return torch.bucketize(x, boundaries)


n = 2**18
num_boundaries = 4096

# `tiny` keeps enough searches (65536) that cachegrind's fallback replay runs millions of
# instructions, so its branch rates are not dominated by start-up code.
SIZES = {"tiny": {"n": 65536, "num_boundaries": 1024}}


def get_inputs():
    x = torch.randn(n)
    boundaries = torch.sort(torch.randn(num_boundaries)).values
    return [x, boundaries]


def get_init_inputs():
    return []
