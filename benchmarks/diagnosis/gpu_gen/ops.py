"""Operators of the generated GPU suite: the PyTorch reference and the Triton expression of
each, and the problem files they make (KernelBench format, `gpu` and `tiny` sizes).

Triton expressions read `x` (a float block) and write their value; `EXP(` marks each exp so
a defect can swap in a slower one (a product of exps, or fp64). Chains are the same
operators as separate steps, each over named inputs, for the unfused-chain defect.
"""

from __future__ import annotations

from dataclasses import dataclass

# name -> (PyTorch expression of x, Triton expression of x)
ELEMENTWISE: dict[str, tuple[str, str]] = {
    "relu": ("torch.relu(x)", "tl.maximum(x, 0.0)"),
    "softsign": ("x / (1 + torch.abs(x))", "x / (1.0 + tl.abs(x))"),
    "scale_shift": ("x * 2.0 + 1.0", "x * 2.0 + 1.0"),
    "swish": ("x * torch.sigmoid(x)", "x / (1.0 + EXP(-x))"),
    "sigmoid": ("torch.sigmoid(x)", "1.0 / (1.0 + EXP(-x))"),
    "softplus": (
        "torch.nn.functional.softplus(x)",
        "tl.where(x > 20.0, x, tl.log(1.0 + EXP(tl.minimum(x, 20.0))))",
    ),
    "tanh": ("torch.tanh(x)", "2.0 / (1.0 + EXP(-2.0 * x)) - 1.0"),
    "elu": ("torch.nn.functional.elu(x)", "tl.where(x > 0.0, x, EXP(tl.minimum(x, 0.0)) - 1.0)"),
    "gelu_tanh": (
        "torch.nn.functional.gelu(x, approximate='tanh')",
        "0.5 * x * (2.0 / (1.0 + EXP(-2.0 * (0.7978845608028654 * (x + 0.044715 * x * x * x)))))",
    ),
    "scale_shift_relu": ("torch.relu(x * 2.0 + 1.0)", "tl.maximum(x * 2.0 + 1.0, 0.0)"),
}

# Unfused chains: steps of (output, Triton expression, inputs); the last output is y.
CHAINS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "swish": [("s", "1.0 / (1.0 + tl.exp(-x))", ("x",)), ("y", "x * s", ("x", "s"))],
    "gelu_tanh": [
        ("u", "0.7978845608028654 * (x + 0.044715 * x * x * x)", ("x",)),
        ("t", "2.0 / (1.0 + tl.exp(-2.0 * u)) - 1.0", ("u",)),
        ("y", "0.5 * x * (1.0 + t)", ("x", "t")),
    ],
    "scale_shift_relu": [
        ("a", "x * 2.0", ("x",)),
        ("b", "a + 1.0", ("a",)),
        ("y", "tl.maximum(b, 0.0)", ("b",)),
    ],
    "softsign": [("d", "1.0 + tl.abs(x)", ("x",)), ("y", "x / d", ("x", "d"))],
}

# name -> (PyTorch expression of a [rows, cols] x, reduced over everything or each row)
REDUCTIONS: dict[str, str] = {
    "sum_all": "x.sum()",
    "sumsq_all": "(x * x).sum()",
    "mean_all": "x.mean()",
    "row_sum": "x.sum(dim=1)",
}

# Row-wise operators (one program holds a whole row): PyTorch and Triton over row block x.
ROWWISE: dict[str, tuple[str, str]] = {
    "softmax": (
        "torch.softmax(x, dim=1)",
        "e = tl.exp(x - tl.max(x, axis=0))\n    y = e / tl.sum(e, axis=0)",
    ),
    "log_softmax": (
        "torch.log_softmax(x, dim=1)",
        "m = tl.max(x, axis=0)\n    y = x - m - tl.log(tl.sum(tl.exp(x - m), axis=0))",
    ),
    "l2_normalize": (
        "x / torch.sqrt((x * x).sum(dim=1, keepdim=True))",
        "y = x / tl.sqrt(tl.sum(x * x, axis=0))",
    ),
    "rms_norm": (
        "x * torch.rsqrt((x * x).mean(dim=1, keepdim=True) + 1e-6)",
        "y = x * (1.0 / tl.sqrt(tl.sum(x * x, axis=0) / N + 1e-6))",
    ),
}

# Powers with per-element integer exponents (heavy-tailed), for divergence.
POWERS: dict[str, tuple[str, str]] = {
    "pow": ("torch.pow(x, e)", "p"),
    "pow_plus_x": ("torch.pow(x, e) + x", "p + x"),
    "half_pow": ("0.5 * torch.pow(x, e)", "0.5 * p"),
}


@dataclass(frozen=True)
class Shape:
    rows: int
    cols: int

    @property
    def tag(self) -> str:
        return f"{self.rows}x{self.cols}"


_PROBLEM = '''"""Generated problem ({what}); benchmarks/diagnosis/gpu_gen."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, {args}):
        return {expr}


rows = 4
cols = 256
max_exponent = 1024
SIZES = {{
    "gpu": {{"rows": {rows}, "cols": {cols}}},
    "tiny": {{"rows": 3, "cols": {tiny_cols}, "max_exponent": 64}},
}}


def get_inputs():
{inputs}


def get_init_inputs():
    return []
'''

_INPUTS = {
    "randn": "    return [torch.randn(rows, cols)]",
    "rand": "    return [torch.rand(rows, cols)]",
    "powers": (
        "    x = 0.95 + 0.1 * torch.rand(rows, cols)\n"
        "    small = torch.randint(0, 8, (rows, cols), dtype=torch.int32)\n"
        "    large = torch.randint(0, max_exponent, (rows, cols), dtype=torch.int32)\n"
        "    e = torch.where(torch.rand(rows, cols) < 1 / 32, large, small)\n"
        "    return [x, e]"
    ),
}


def problem_source(what: str, expr: str, shape: Shape, inputs: str, tiny_cols: int = 100) -> str:
    """A KernelBench-format problem: `expr` of the inputs at `shape` (gpu) or 3 rows (tiny)."""
    args = "x, e" if inputs == "powers" else "x"
    return _PROBLEM.format(
        what=what,
        args=args,
        expr=expr,
        rows=shape.rows,
        cols=shape.cols,
        tiny_cols=tiny_cols,
        inputs=_INPUTS[inputs],
    )
