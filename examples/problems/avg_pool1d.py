import torch
import torch.nn as nn


class Model(nn.Module):
    """1-D average pooling (kernel_size=8, stride=1, padding=4) over the last dim."""

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.pool = nn.AvgPool1d(kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


batch_size = 16
channels = 96
length = 4096
kernel_size = 8
stride = 1
padding = 4

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 1.1 GB in + 1.1 GB out = 2.1 GB moved -> ~0.5 ms at 4.3 TB/s if bandwidth
# bound; the eager kernel (via avg_pool2d) runs well under that.
# Measured: 2.8 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 16, "channels": 128, "length": 131072}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "channels": 8, "length": 300}


def get_inputs():
    x = torch.randn(batch_size, channels, length)
    return [x]


def get_init_inputs():
    return [kernel_size, stride, padding]
