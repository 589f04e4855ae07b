# class: torch.compile in forward
# expect: forbidden_code|no_kernel
# why: forward runs the reference's op through torch.compile (the compile baseline), no kernel
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.fast = torch.compile(torch.relu, dynamic=True)
        # Compiled (and any compile workers started) here, before forward is watched.
        self.fast(torch.zeros(2, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fast(x)
