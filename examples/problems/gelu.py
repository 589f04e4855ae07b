import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Exact (erf-based) GELU: y = 0.5 * x * (1 + erf(x / sqrt(2)))."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


batch_size = 32
dim = 262144

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 4.3 GB in + 4.3 GB out = 8.6 GB moved -> ~2 ms at 4.3 TB/s.
# Measured: 2.1 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 4096, "dim": 262144}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "dim": 1000}


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
