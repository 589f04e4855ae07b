# class: inheriting the reference Model
# expect: forbidden_code|no_kernel
# why: copies the problem's Model into the file and subclasses it: forward is the reference's own
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class ModelNew(Model):
    pass
