import torch
import torch.nn as nn

CATEGORY = "matmul"


class Model(nn.Module):
    """Square matrix multiplication C = A @ B of small-integer-valued fp32 matrices.

    Entries are integers in [-8, 8] and every partial sum stays below 2^24, so fp32, TF32 and
    bf16 products and fp32 accumulation are all exact: tensor-core candidates (plain TF32 tl.dot)
    pass the 1e-2 tolerance without the 3xTF32 split that randn inputs need at K = 4096.
    """

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


N = 1024

# Globals rebound for the GPU-sized variant (`--size gpu`).
# 2*N^3 = 137 GFLOP -> ~2.7 ms at ~50 TFLOP/s fp32 (no TF32), as examples/problems/gemm_square.py
# (2.7 ms eager on one H200); 201 MB in+out.
SIZES = {"gpu": {"N": 4096}}
# Tiny shapes for CI: Triton kernels checked by its interpreter on the CPU.
SIZES["tiny"] = {"N": 72}


def get_inputs():
    A = torch.randint(-8, 9, (N, N)).float()
    B = torch.randint(-8, 9, (N, N)).float()
    return [A, B]


def get_init_inputs():
    return []
