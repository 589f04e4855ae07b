import torch
import torch.nn as nn


class Model(nn.Module):
    """Pointwise (1x1) 2-D convolution mixing channels, with bias."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


batch_size = 2
in_channels = 64
out_channels = 128
height = 128
width = 128

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 2*B*H*W*Cin*Cout = 137 GFLOP -> ~3 ms at ~50 TFLOP/s fp32 (less with TF32, where
# the 2.1 GB in + 4.3 GB out bound it to ~1.5 ms).
SIZES = {"gpu": {"batch_size": 16, "height": 512, "width": 512}}


def get_inputs():
    x = torch.randn(batch_size, in_channels, height, width)
    return [x]


def get_init_inputs():
    return [in_channels, out_channels]
