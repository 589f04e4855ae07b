import torch
import torch.nn as nn


class Model(nn.Module):
    """Batched matrix transpose into a new contiguous tensor: y[b] = x[b].T."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).contiguous()


batch_size = 8
rows = 1024
cols = 1024

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 4.3 GB in + 4.3 GB out = 8.6 GB moved -> ~2 ms at 4.3 TB/s (eager's strided copy is slower
# than the DRAM roof; expected 2-4 ms eager, not measured).
SIZES = {"gpu": {"batch_size": 64, "rows": 4096, "cols": 4096}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU (not multiples of
# the tile sizes, so the edge masks are exercised).
SIZES["tiny"] = {"batch_size": 2, "rows": 70, "cols": 100}


def get_inputs():
    x = torch.randn(batch_size, rows, cols)
    return [x]


def get_init_inputs():
    return []
