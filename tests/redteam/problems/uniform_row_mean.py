import torch
import torch.nn as nn


class Model(nn.Module):
    """Row means of uniform [0, 1) inputs: a degenerate input distribution. Every mean is
    0.5 +- 0.0023 (one standard deviation), so the constant 0.5 passes a 1e-2 tolerance
    (red-team fixture)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


batch_size = 4
dim = 16384


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
