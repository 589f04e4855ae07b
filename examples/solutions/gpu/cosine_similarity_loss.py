"""Hand-written reference solution (not model output): mean(1 - cosine_similarity(p, t, dim=1)).

Eager computes norms, divisions, a product and a sum (~9 passes). One program per row streams
p and t once, accumulating p.t, |p|^2 and |t|^2 in fp32 registers (each norm clamped at eps, as
torch does); a one-program kernel averages the per-row losses. Deterministic, no atomics.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

EPS = 1e-8  # F.cosine_similarity's default


# Under TRITON_INTERPRET=1 (CPU, no GPU driver) Triton has no benchmarker to tune with:
# only the first config is kept there.
CONFIGS = [
    triton.Config({"BLOCK": 1024}, num_warps=4),
    triton.Config({"BLOCK": 2048}, num_warps=8),
    triton.Config({"BLOCK": 4096}, num_warps=8),
]


@triton.autotune(
    configs=CONFIGS[:1] if triton.knobs.runtime.interpret else CONFIGS,
    key=["n_cols"],
)
@triton.jit
def _cosine_rows_kernel(p_ptr, t_ptr, loss_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    base = row.to(tl.int64) * n_cols
    cols = tl.arange(0, BLOCK)
    dot = tl.zeros([BLOCK], tl.float32)
    pp = tl.zeros([BLOCK], tl.float32)
    tt = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        p = tl.load(p_ptr + base + start + cols, mask=mask, other=0.0).to(tl.float32)
        t = tl.load(t_ptr + base + start + cols, mask=mask, other=0.0).to(tl.float32)
        dot += p * t
        pp += p * p
        tt += t * t
    p_norm = tl.maximum(tl.sqrt(tl.sum(pp, axis=0)), eps)
    t_norm = tl.maximum(tl.sqrt(tl.sum(tt, axis=0)), eps)
    tl.store(loss_ptr + row, 1.0 - tl.sum(dot, axis=0) / (p_norm * t_norm))


@triton.jit
def _finalize_mean_kernel(partial_ptr, out_ptr, n_partial, scale, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_partial, BLOCK):
        acc += tl.load(partial_ptr + start + offs, mask=start + offs < n_partial, other=0.0)
    tl.store(out_ptr, tl.sum(acc, axis=0) * scale)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if predictions.dim() != 2 or predictions.shape != targets.shape:
            raise ValueError("expects predictions and targets of the same 2-D shape")
        p = predictions.contiguous()
        t = targets.contiguous()
        n_rows, n_cols = p.shape
        out = torch.empty((), device=p.device, dtype=p.dtype)
        row_loss = torch.empty(n_rows, device=p.device, dtype=torch.float32)
        if n_rows:
            _cosine_rows_kernel[(n_rows,)](p, t, row_loss, n_cols, EPS)
        scale = 1.0 / n_rows if n_rows else float("nan")
        _finalize_mean_kernel[(1,)](row_loss, out, n_rows, scale, BLOCK=1024, num_warps=4)
        return out
