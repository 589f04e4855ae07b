"""Labelled-suite problem (benchmarks/diagnosis): Huber loss, mean over all elements.

The same operator as examples/problems/huber_loss.py (smooth L1 with beta = delta = 1), with
a `tiny` size large enough (262144 elements) that cachegrind's fallback replay executes
millions of instructions, so its branch rates are not dominated by start-up code.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Huber loss (delta = 1): mean of 0.5 d^2 where |d| < 1, else |d| - 0.5, d = p - t."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(predictions, targets, delta=1.0)


batch_size = 32
dim = 262144

SIZES = {"tiny": {"batch_size": 4, "dim": 65536}}


def get_inputs():
    predictions = torch.randn(batch_size, dim)
    targets = torch.randn(batch_size, dim)
    return [predictions, targets]


def get_init_inputs():
    return []
