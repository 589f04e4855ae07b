import torch
import torch.nn as nn


class Model(nn.Module):
    """Softsign activation: y = x / (1 + |x|)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / (1 + torch.abs(x))


batch_size = 32
dim = 262144

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 3 eager kernels, ~7 passes over 2.1 GB = 15 GB moved -> ~3.5 ms at 4.3 TB/s.
# Measured: 3.5 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 4096, "dim": 131072}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "dim": 1000}


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
