import torch
import torch.nn as nn


class Model(nn.Module):
    """RMS normalization over the feature dim: y = x / sqrt(mean(x^2, dim=1) + eps)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + self.eps)
        return x / rms


batch_size = 8
features = 64
dim1 = 128
dim2 = 128

# Globals rebound for the GPU-sized variant (`--size gpu`).
# Eager: ~5 passes over 2.1 GB = 11 GB moved -> ~2.5 ms at 4.3 TB/s.
# Measured: 3.3 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 32, "dim1": 512, "dim2": 512}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "dim1": 37, "dim2": 45}


def get_inputs():
    x = torch.randn(batch_size, features, dim1, dim2)
    return [x]


def get_init_inputs():
    return [features]
