import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Cosine similarity loss: mean(1 - cosine_similarity(p, t, dim=1)), a scalar."""

    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        cosine_sim = F.cosine_similarity(predictions, targets, dim=1)
        return torch.mean(1 - cosine_sim)


batch_size = 192
dim = 32768

# Globals rebound for the GPU-sized variant (`--size gpu`).
# Eager norms + normalize + dot: ~9 passes over 1.1 GB = 9.7 GB -> ~2.3 ms.
# Measured: 3.1 ms eager on one H200 (torch 2.11).
SIZES = {"gpu": {"batch_size": 4096, "dim": 65536}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"batch_size": 3, "dim": 1000}


def get_inputs():
    predictions = torch.randn(batch_size, dim)
    targets = torch.randn(batch_size, dim)
    return [predictions, targets]


def get_init_inputs():
    return []
