"""The offline families added for KernelBench level 1's other operators (issue 18): product
reduction, cumprod / exclusive / masked cumsum, 3-D and dilated pooling, instance and
Frobenius norms, row losses (cosine, triplet, cross-entropy) and KL divergence; each is
recognised with its parameters and checked on every CPU variant and on the Triton
interpreter (the autotuner runs each config once there), on small fixture problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import GPU_VARIANTS
from pragma_kernels.targets import Target

from .offline_variants import check_every_cpu_variant

TRITON = backends.get("triton-interpreter")
EXCLUSIVE = "torch.cumsum(torch.cat((torch.zeros_like(x.select(1, 0).unsqueeze(1)), x), 1)"

# name: (constructor line, forward expression of x / y / z, inputs, family, kind)
CASES = {
    "prod_dim1": ("", "torch.prod(x, dim=1)", "torch.randn(4, 33, 21)", "reduction", "prod"),
    "prod_last": ("", "torch.prod(x, dim=-1)", "torch.randn(6, 40)", "reduction", "prod"),
    "cumprod": ("", "torch.cumprod(x, dim=1)", "torch.randn(5, 301)", "scan", "cumprod"),
    "cumprod_dim0": ("", "torch.cumprod(x, 0)", "torch.randn(9, 4, 7)", "scan", "cumprod"),
    "exclusive": (
        "",
        EXCLUSIVE + "[:-1], dim=1)",
        "torch.randn(6, 301)",
        "scan",
        "exclusive_cumsum",
    ),
    "exclusive_strided": (
        "",
        EXCLUSIVE.replace("1", "0", 0) + ", 1)",
        "torch.randn(3, 20, 6)",
        "scan",
        "exclusive_cumsum",
    ),
    "masked": (
        "",
        "torch.cumsum(x * y, dim=1)",
        "torch.randn(4, 301), torch.randint(0, 2, (4, 301)).bool()",
        "scan",
        "cumsum",
    ),
    "max_pool3d_dilated": (
        "self.p = nn.MaxPool3d(3, 2, 1, dilation=2)",
        "self.p(x)",
        "torch.randn(2, 3, 9, 10, 11)",
        "pool",
        "max_pool3d",
    ),
    "avg_pool3d": (
        "self.p = nn.AvgPool3d(3, 2, 1)",
        "self.p(x)",
        "torch.randn(2, 3, 8, 9, 10)",
        "pool",
        "avg_pool3d",
    ),
    "avg_pool3d_no_pad_count": (
        "self.p = nn.AvgPool3d((2, 3, 3), 2, 1, count_include_pad=False)",
        "self.p(x)",
        "torch.randn(2, 2, 7, 8, 9)",
        "pool",
        "avg_pool3d",
    ),
    "max_pool2d_dilated": (
        "self.p = nn.MaxPool2d(2, 2, 1, dilation=3)",
        "self.p(x)",
        "torch.randn(2, 3, 21, 18)",
        "pool",
        "max_pool2d",
    ),
    "max_pool1d_dilated": (
        "self.p = nn.MaxPool1d(4, 2, 2, dilation=3)",
        "self.p(x)",
        "torch.randn(2, 3, 50)",
        "pool",
        "max_pool1d",
    ),
    "avg_pool2d_wide": (
        "self.p = nn.AvgPool2d(11)",
        "self.p(x)",
        "torch.randn(2, 2, 40, 37)",
        "pool",
        "avg_pool2d",
    ),
    "instance_norm": (
        "self.n = nn.InstanceNorm2d(4)",
        "self.n(x)",
        "torch.randn(3, 4, 10, 12) * 2 + 3",
        "norm",
        "instance_norm",
    ),
    "frobenius": (
        "",
        "x / torch.norm(x, p='fro')",
        "torch.randn(3, 4, 5, 6)",
        "norm",
        "frobenius_norm",
    ),
    # few long rows: the Triton split-row path (R >= 16384, fewer rows than 2 x 4 "SMs")
    "layer_norm_long_rows": (
        "self.n = nn.LayerNorm((4, 80, 60))",
        "self.n(x)",
        "torch.randn(2, 4, 80, 60) + 4",
        "norm",
        "layer_norm",
    ),
    "cosine_loss": (
        "",
        "torch.mean(1 - F.cosine_similarity(x, y, dim=1))",
        "torch.randn(9, 300), torch.randn(9, 300)",
        "row_loss",
        "cosine",
    ),
    "triplet_loss": (
        "self.l = nn.TripletMarginLoss(margin=0.5)",
        "self.l(x, y, z)",
        "torch.randn(9, 300), torch.randn(9, 300), torch.randn(9, 300)",
        "row_loss",
        "triplet",
    ),
    "cross_entropy": (
        "",
        "F.cross_entropy(x, y)",
        "torch.randn(17, 10), torch.randint(0, 10, (17,))",
        "row_loss",
        "cross_entropy",
    ),
    "kl_div_batchmean": (
        "",
        "F.kl_div(torch.log(x), y, reduction='batchmean')",
        "torch.randn(9, 300).softmax(-1), torch.randn(9, 300).softmax(-1)",
        "pointwise_total",
        "sum",
    ),
}


def fixture_problem(tmp_path: Path, init: str, forward: str, inputs: str) -> Path:
    path = tmp_path / "problem.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        {init or 'pass'}\n\n    def forward(self, x, y=None, z=None):\n"
        f"        return {forward}\n\n\ndef get_inputs():\n    return [{inputs}]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_recognised_with_its_parameters(case, tmp_path):
    init, forward, inputs, family, kind = CASES[case]
    recognised = recognise(fixture_problem(tmp_path, init, forward, inputs))
    assert (recognised.family, recognised.kind) == (family, kind), recognised.describe()
    assert recognised.describe().startswith(f"{family} {kind} (input ")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_cpu_variant_matches_the_reference(case, tmp_path):
    init, forward, inputs, _, _ = CASES[case]
    check_every_cpu_variant(fixture_problem(tmp_path, init, forward, inputs))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_triton_candidate_verifies_under_the_interpreter(case, monkeypatch, tmp_path):
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    init, forward, inputs, _, _ = CASES[case]
    problem = fixture_problem(tmp_path, init, forward, inputs)
    candidate = tmp_path / "candidate.py"
    candidate.write_text(TRITON.offline_source(recognise(problem), GPU_VARIANTS[2]))
    options = VerifyOptions(trials=1, limits=Limits(timeout_s=300))
    verdict = verify(problem, candidate, Target.gpu(threads=1), options)
    assert verdict.ok, verdict.model_dump_json(indent=1)


def test_an_unsupported_problem_says_why_with_the_operators(tmp_path):
    problem = fixture_problem(tmp_path, "", "torch.logcumsumexp(x, 1)", "torch.randn(3, 8)")
    described = recognise(problem).describe()
    assert described.startswith("unsupported: ") and "logcumsumexp" in described


def test_the_exclusive_scan_keeps_the_slice_along_the_other_dim(tmp_path):
    init, forward, inputs, _, _ = CASES["exclusive"]
    spec = recognise(fixture_problem(tmp_path, init, forward, inputs)).spec
    assert spec.exclusive and spec.narrow == (0, 0, -1, 1)
