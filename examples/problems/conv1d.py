import torch
import torch.nn as nn


class Model(nn.Module):
    """1-D convolution (kernel_size=3, stride 1, no padding) with bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


batch_size = 16
in_channels = 64
out_channels = 128
kernel_size = 3
length = 4096

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 2*B*Cout*L*Cin*k = 103 GFLOP -> ~3 ms at ~30 TFLOP/s; cuDNN uses TF32 by default;
# 0.5 GB in + 1.1 GB out.
# Measured: 2.0 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 64, "length": 32768}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "length": 300}


def get_inputs():
    x = torch.randn(batch_size, in_channels, length)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
