"""Parametrised kernel templates: a recognised problem plus a variant -> a candidate file.

One module per group of families: `reduce` (pointwise chains, reductions along one
dimension, softmax / log-softmax), `total` (a pointwise chain summed over every
element), `norm` (layer / RMS / L2 / group / batch norms), `pool` (max / average
pooling), `scan` (cumsum, forward or reversed). Each backend has a short list of
variants (`base`: the knobs the offline agent turns, guided by the diagnosis);
`generate` and `variants` are the entry points.
"""

from __future__ import annotations

from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CPU_STREAM_VARIANT,
    CPU_VARIANTS,
    GPU_VARIANTS,
    CpuVariant,
    GpuVariant,
)
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

__all__ = ["CPU_VARIANTS", "GPU_VARIANTS", "CpuVariant", "GpuVariant", "generate", "variants"]

GENERATORS = {
    ("cpu", "pointwise"): cpp_pointwise,
    ("cpu", "pointwise_total"): cpp_pointwise_total,
    ("cpu", "reduction"): cpp_reduction,
    ("cpu", "softmax"): cpp_softmax,
    ("cpu", "norm"): cpp_norm,
    ("cpu", "pool"): cpp_pool,
    ("cpu", "scan"): cpp_scan,
    ("gpu", "pointwise"): triton_pointwise,
    ("gpu", "pointwise_total"): triton_pointwise_total,
    ("gpu", "reduction"): triton_reduction,
    ("gpu", "softmax"): triton_softmax,
    ("gpu", "norm"): triton_norm,
    ("gpu", "pool"): triton_pool,
    ("gpu", "scan"): triton_scan,
}


def variants(target: str, problem: Recognised) -> tuple:
    """The variants worth an attempt for this problem: on the CPU, streaming stores only
    where the template writes its output through `cpp_write_loop`: pointwise chains (a
    streamed layer norm, a fence per row, was slower than the plain one on the CPU VM)."""
    if target == "gpu":
        return GPU_VARIANTS
    return (*CPU_VARIANTS, CPU_STREAM_VARIANT) if problem.family == "pointwise" else CPU_VARIANTS


def generate(problem: Recognised, target: str, variant) -> str:
    return GENERATORS[(target, problem.family)](problem, variant)
