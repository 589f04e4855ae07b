"""Parametrised kernel templates: a recognised problem plus a variant -> a candidate file.

One module per group of families: `reduce` (pointwise chains, reductions along one
dimension, softmax / log-softmax), `total` (a pointwise chain summed over every
element), `norm` (layer / RMS / L2 / group / batch norms), `pool` (max / average
pooling), `scan` (cumsum / cumprod, forward, reversed or exclusive), `loss` (cosine,
triplet, cross-entropy: a statistic per row, then the mean), `gemm_cpp` / `gemm_triton`
(matrix products, diagonal and scalar scaling), `conv_cpp` / `conv_triton`
(convolutions), `attention` (scaled dot-product attention). Each backend has a short list
of variants (`base`: the knobs the offline agent turns, guided by the diagnosis);
`CPP_GENERATORS` and `TRITON_GENERATORS` are the entry points, chosen by the backend.
"""

from __future__ import annotations

from pragma_kernels.offline.templates.attention import cpp_attention, triton_attention
from pragma_kernels.offline.templates.base import (
    CPU_STREAM_VARIANT,
    CPU_VARIANTS,
    GPU_VARIANTS,
    CpuVariant,
    GpuVariant,
)
from pragma_kernels.offline.templates.conv_cpp import cpp_conv
from pragma_kernels.offline.templates.conv_triton import CONV_GPU_VARIANTS, triton_conv
from pragma_kernels.offline.templates.gemm_cpp import cpp_gemm
from pragma_kernels.offline.templates.gemm_triton import GEMM_GPU_VARIANTS, triton_gemm
from pragma_kernels.offline.templates.loss import cpp_row_loss, triton_row_loss
from pragma_kernels.offline.templates.norm import cpp_norm, triton_norm
from pragma_kernels.offline.templates.pool import cpp_pool, triton_pool
from pragma_kernels.offline.templates.reduce import (
    cpp_pointwise,
    cpp_reduction,
    cpp_softmax,
    triton_pointwise,
    triton_reduction,
    triton_softmax,
)
from pragma_kernels.offline.templates.scan import cpp_scan, triton_scan
from pragma_kernels.offline.templates.total import cpp_pointwise_total, triton_pointwise_total

__all__ = [
    "CONV_GPU_VARIANTS",
    "CPP_GENERATORS",
    "CPU_STREAM_VARIANT",
    "CPU_VARIANTS",
    "GEMM_GPU_VARIANTS",
    "GPU_VARIANTS",
    "TRITON_GENERATORS",
    "CpuVariant",
    "GpuVariant",
]

# family -> generator(recognised problem, variant) -> candidate source; a backend picks one.
CPP_GENERATORS = {
    "pointwise": cpp_pointwise,
    "pointwise_total": cpp_pointwise_total,
    "reduction": cpp_reduction,
    "softmax": cpp_softmax,
    "norm": cpp_norm,
    "pool": cpp_pool,
    "scan": cpp_scan,
    "row_loss": cpp_row_loss,
    "gemm": cpp_gemm,
    "conv": cpp_conv,
    "attention": cpp_attention,
}
TRITON_GENERATORS = {
    "pointwise": triton_pointwise,
    "pointwise_total": triton_pointwise_total,
    "reduction": triton_reduction,
    "softmax": triton_softmax,
    "norm": triton_norm,
    "pool": triton_pool,
    "scan": triton_scan,
    "row_loss": triton_row_loss,
    "gemm": triton_gemm,
    "conv": triton_conv,
    "attention": triton_attention,
}
