"""What the gemm family's C++ and Triton candidates share: the forward lines that read the
sizes and strides of a product from the inputs at run time (the recognised sizes only tune
the kernels), and the candidate's one-line description."""

from __future__ import annotations

from pragma_kernels.offline.gemm import Gemm


def matmul_prologue(spec: Gemm, prepare: str) -> str:
    """Forward lines setting `a`, `b` (the inputs, `prepare`d), `batch, M, N, K`, A's strides
    `sa_b, sa_m, sa_k` and B's `sb_b, sb_k, sb_n` in elements, the output `shape` and the
    result `dtype`. Inputs are contiguous: a transposed operand is read through strides."""
    a_sizes = (
        "K, M = a.shape[-2], a.shape[-1]"
        if spec.a.trans
        else (
            "K = a.shape[-1]\n        M = "
            + ("a.shape[-2]" if spec.batched else "a.numel() // K if K else 0")
        )
    )
    if spec.vector:
        n_size = "N = 1"
    else:
        n_size = f"N = b.shape[{-2 if spec.b.trans else -1}]"
    if spec.vector:
        shape = "(M,)"
    elif spec.batched:
        shape = "(batch, M, N)"
    elif spec.fold:
        shape = "(*a.shape[:-1], N)"
    else:
        shape = "(M, N)"
    sa = "1, M" if spec.a.trans else "K, 1"
    sb = "1, K" if spec.b.trans else "N, 1"
    batch_strides = "M * K, K * N" if spec.batched else "0, 0"
    return f"""        dtype = inputs[{spec.a.input}].dtype
        a = inputs[{spec.a.input}]{prepare}
        b = inputs[{spec.b.input}]{prepare}
        batch = {"a.shape[0]" if spec.batched else "1"}
        {a_sizes}
        {n_size}
        sa_m, sa_k = {sa}
        sb_k, sb_n = {sb}
        sa_b, sb_b = {batch_strides}
        shape = {shape}
"""


def what(spec: Gemm) -> str:
    return spec.describe()
