import torch
import torch.nn as nn


class Model(nn.Module):
    """Reverse cumulative sum along dim 1: y[i] = sum(x[j] for j >= i)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x.flip(self.dim), dim=self.dim).flip(self.dim)


batch_size = 32
dim = 262144
scan_dim = 1

# Globals rebound for the GPU-sized variant (`--size gpu`).
# Eager flip + cumsum + flip: ~6 passes over 1.1 GB = 6.4 GB -> ~1.5 ms at
# 4.3 TB/s; scans run below peak bandwidth.
# Measured: 2.9 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 2048, "dim": 131072}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "dim": 1000}


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return [scan_dim]
