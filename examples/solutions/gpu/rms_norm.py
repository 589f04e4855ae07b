"""Hand-written reference solution (not model output): RMS norm over dim 1 in Triton.

Eager makes ~5 full passes (pow, mean, add, sqrt, divide). Each program holds a (features x
spatial block) tile in registers, reduces the sum of squares over the features and rescales the
same registers: one read and one write of x.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl

# Up to this many features the whole feature column of a tile is kept in registers;
# beyond it the features are walked in chunks twice (the second read mostly hits L2).
MAX_FUSED_FEATURES = 256
FEATURE_CHUNK = 64
MAX_TILE = 16384  # elements per program tile: bounds the registers per thread


def _prune_configs(configs, named_args, **kwargs):
    block_f = {**named_args, **kwargs}["BLOCK_F"]
    kept = [c for c in configs if c.kwargs["BLOCK_S"] * block_f <= MAX_TILE]
    return kept or [min(configs, key=lambda c: c.kwargs["BLOCK_S"])]


# Under TRITON_INTERPRET=1 (CPU, no GPU driver) Triton has no benchmarker to tune with:
# only the first config is kept there.
CONFIGS = [
    triton.Config({"BLOCK_S": 32}, num_warps=4),
    triton.Config({"BLOCK_S": 64}, num_warps=4),
    triton.Config({"BLOCK_S": 128}, num_warps=4),
    triton.Config({"BLOCK_S": 128}, num_warps=8),
    triton.Config({"BLOCK_S": 256}, num_warps=8),
]


@triton.autotune(
    configs=CONFIGS[:1] if triton.knobs.runtime.interpret else CONFIGS,
    key=["n_feat", "inner", "BLOCK_F"],
    prune_configs_by={"early_config_prune": _prune_configs},
)
@triton.jit
def _rms_norm_kernel(
    x_ptr,
    out_ptr,
    n_feat,
    inner,
    eps,
    BLOCK_F: tl.constexpr,
    ONE_TILE: tl.constexpr,
    BLOCK_S: tl.constexpr,
):
    # x viewed as (batch, n_feat, inner), inner contiguous; normalise over n_feat.
    pid = tl.program_id(0)
    n_sblocks = tl.cdiv(inner, BLOCK_S)
    b = (pid // n_sblocks).to(tl.int64)
    cols = (pid % n_sblocks) * BLOCK_S + tl.arange(0, BLOCK_S)
    feats = tl.arange(0, BLOCK_F)
    col_mask = cols < inner
    base = b * n_feat * inner
    if ONE_TILE:
        offs = base + feats[:, None].to(tl.int64) * inner + cols[None, :]
        mask = (feats[:, None] < n_feat) & col_mask[None, :]
        x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        inv_rms = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / n_feat + eps)
        tl.store(out_ptr + offs, x * inv_rms[None, :], mask=mask)
    else:
        acc = tl.zeros([BLOCK_S], tl.float32)
        for f0 in range(0, n_feat, BLOCK_F):
            f = f0 + feats
            offs = base + f[:, None].to(tl.int64) * inner + cols[None, :]
            mask = (f[:, None] < n_feat) & col_mask[None, :]
            x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            acc += tl.sum(x * x, axis=0)
        inv_rms = 1.0 / tl.sqrt(acc / n_feat + eps)
        for f0 in range(0, n_feat, BLOCK_F):
            f = f0 + feats
            offs = base + f[:, None].to(tl.int64) * inner + cols[None, :]
            mask = (f[:, None] < n_feat) & col_mask[None, :]
            x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            tl.store(out_ptr + offs, x * inv_rms[None, :], mask=mask)


class ModelNew(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty(x.shape, device=x.device, dtype=x.dtype)
        if x.numel() == 0:
            return out
        batch, n_feat = x.shape[0], x.shape[1]
        inner = x.numel() // (batch * n_feat)
        one_tile = n_feat <= MAX_FUSED_FEATURES
        block_f = triton.next_power_of_2(n_feat) if one_tile else FEATURE_CHUNK
        _rms_norm_kernel[lambda meta: (batch * triton.cdiv(inner, meta["BLOCK_S"]),)](
            x, out, n_feat, inner, self.eps, BLOCK_F=block_f, ONE_TILE=one_tile
        )
        return out
