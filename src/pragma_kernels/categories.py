"""Infer a problem's category from its name, then from the operators its source uses.

Pure text rules. The name wins because KernelBench names say what the problem
is ("41_Max_Pooling_1D"), while a source often mixes ops (a loss uses a mean).
"""

from __future__ import annotations

import re

CATEGORIES = ("matmul", "activation", "normalization", "pooling_reduction", "conv", "others")

# Ordered: the first matching rule wins. Patterns are matched on the lower-cased
# name with separators turned into spaces and camelCase split.
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (
        "others",
        r"loss|cumsum|cumprod|cumulative|scan|cross entropy|kl div|hinge|huber|triplet"
        r"|attention",
    ),
    ("conv", r"conv|convolution"),
    (
        "normalization",
        r"norm\b|norm |normaliz|layernorm|batchnorm|groupnorm|instancenorm|rmsnorm"
        r"|frobenius|l1 norm|l2 norm",
    ),
    (
        "activation",
        r"relu|gelu|elu\b|selu|sigmoid|tanh|softmax|softplus|softsign|swish|silu"
        r"|hardtanh|hardsigmoid|mish|activation|logsoftmax|log softmax",
    ),
    ("matmul", r"matmul|gemm|\bmm\b|bmm|matrix|matvec|gemv|einsum|multiplication|diag"),
    (
        "pooling_reduction",
        r"pool|argmax|argmin|reduction|reduce|\bsum\b|\bmean\b|\bmax\b|\bmin\b"
        r"|\bprod\b|product",
    ),
)

_SOURCE_RULES: tuple[tuple[str, str], ...] = (
    ("conv", r"nn\.Conv|F\.conv|conv_transpose"),
    (
        "normalization",
        r"nn\.(LayerNorm|BatchNorm|GroupNorm|InstanceNorm)|F\.(layer|batch|group)_norm"
        r"|\.norm\(|rsqrt",
    ),
    ("others", r"_loss\(|Loss\(|cumsum|cumprod"),
    (
        "pooling_reduction",
        r"nn\.\w*Pool|F\.\w*pool|argmax|argmin|\.sum\(|\.mean\(|\.max\(|\.min\("
        r"|\.prod\(|torch\.(sum|mean|max|min|prod)\(",
    ),
    ("matmul", r"matmul|torch\.mm\(|torch\.bmm\(|@|einsum|nn\.Linear|F\.linear"),
    ("activation", r"relu|gelu|sigmoid|tanh|softmax|softplus|softsign|silu|elu|hardtanh|mish"),
)


def _words(name: str) -> str:
    # "LeakyReLU" -> "Leaky ReLU", "MSELoss" -> "MSE Loss"; keeps "ReLU" whole.
    name = re.sub(r"([a-z0-9])([A-Z][a-z])|([A-Z])([A-Z][a-z])", r"\1\3 \2\4", name)
    name = re.sub(r"^\d+[_ ]", "", name)
    return " " + re.sub(r"[_\-.\s]+", " ", name).lower().strip() + " "


def infer_category(name: str, source: str = "") -> str:
    """Category for a problem called `name` (file stem) with Python `source`."""
    words = _words(name)
    for category, pattern in _NAME_RULES:
        if re.search(pattern, words):
            return category
    for category, pattern in _SOURCE_RULES:
        if re.search(pattern, source):
            return category
    return "others"
