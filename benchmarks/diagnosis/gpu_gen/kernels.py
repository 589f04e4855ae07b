"""Triton candidate sources for each planted defect and its fixed twin (pure string building).

Every kernel's name carries the case's tag, so a batch profile under one ncu process tells
the cases apart by kernel name; no candidate launches a PyTorch kernel inside its call
(outputs are zeroed by a Triton kernel), so every launch is one Triton's hooks count.
"""

from __future__ import annotations

from .ops import ELEMENTWISE

HEADER = '''"""Generated {label} case, {variant}: {doc} (benchmarks/diagnosis/gpu_gen)."""

import torch
import torch.nn as nn
import triton
import triton.language as tl
'''

_FLAT = """

@triton.jit
def {k}(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0){cast}
    y = {expr}
    tl.store(y_ptr + offs, y.to(tl.float32), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        {k}[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024, num_warps=4)
        return y
"""

SLOW_EXP_TERMS = 24


def _slow_exps(expr: str) -> str:
    """Each EXP(v) as a product of exps of v's parts (weights summing to 1): many MUFU ops
    per element, inlined (the interpreter runs no nested jit helper reliably)."""
    total = SLOW_EXP_TERMS * (SLOW_EXP_TERMS + 1) / 2
    while "EXP(" in expr:
        start = expr.index("EXP(")
        depth, end = 0, start + 3
        for end in range(start + 3, len(expr)):
            depth += {"(": 1, ")": -1}.get(expr[end], 0)
            if depth == 0:
                break
        arg = expr[start + 4 : end]
        terms = " * ".join(f"tl.exp(({arg}) * {(k + 1) / total!r})" for k in range(SLOW_EXP_TERMS))
        expr = f"{expr[:start]}({terms}){expr[end + 1 :]}"
    return expr


def elementwise(tag: str, op: str, math: str = "fp32") -> str:
    """One flat kernel; `math`: fp32 (the fix), fp64 (computes in double), slow_exp (each exp
    as a product of 24 exps)."""
    expr = ELEMENTWISE[op][1]
    if math == "slow_exp":
        expr = _slow_exps(expr)
    expr = expr.replace("EXP(", "tl.exp(")
    cast = ".to(tl.float64)" if math == "fp64" else ""
    return _FLAT.format(k=f"_{tag}_k", expr=expr, cast=cast)


def uncoalesced(tag: str, op: str) -> str:
    """Lanes walk down a column of the row-major input: one sector per lane, loads and stores."""
    expr = ELEMENTWISE[op][1].replace("EXP(", "tl.exp(")
    k = f"_{tag}_k"
    return f"""

@triton.jit
def {k}(x_ptr, y_ptr, R, C, BLOCK: tl.constexpr):
    col = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = rows < R
    offs = rows.to(tl.int64) * C + col
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    y = {expr}
    tl.store(y_ptr + offs, y, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        R, C = x.shape
        {k}[(C, triton.cdiv(R, 1024))](x, y, R, C, BLOCK=1024, num_warps=4)
        return y
"""


def row_launches(tag: str, op: str) -> str:
    """One launch per row of the input."""
    expr = ELEMENTWISE[op][1].replace("EXP(", "tl.exp(")
    k = f"_{tag}_k"
    return f"""

@triton.jit
def {k}(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    y = {expr}
    tl.store(y_ptr + offs, y, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        R, C = x.shape
        for r in range(R):
            {k}[(triton.cdiv(C, 1024),)](x[r], y[r], C, BLOCK=1024, num_warps=4)
        return y
"""


def grid_stride(tag: str, op: str, programs: int | None) -> str:
    """An elementwise kernel looping over the tensor with `programs` programs (None: one
    program per block, a grid that fills the GPU)."""
    expr = ELEMENTWISE[op][1].replace("EXP(", "tl.exp(")
    k = f"_{tag}_k"
    grid = "triton.cdiv(n, 1024)" if programs is None else str(programs)
    return f"""

@triton.jit
def {k}(x_ptr, y_ptr, n, PROGRAMS, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    for start in range(pid * BLOCK, n, PROGRAMS * BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        y = {expr}
        tl.store(y_ptr + offs, y, mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        programs = {grid}
        {k}[(programs,)](x, y, n, programs, BLOCK=1024, num_warps=4)
        return y
"""
