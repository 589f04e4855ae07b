"""The offline agent's loss family: a pointwise chain summed or averaged over every element,
recognised from the recorded operators and verified on the CPU and the Triton interpreter
(masked lanes must add nothing: a hinge is 1 where both inputs are 0)."""

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

PROBLEMS = Path(__file__).resolve().parent.parent / "examples" / "problems"

LOSSES = {
    "hinge": "torch.mean(torch.clamp(1 - a * b, min=0))",
    "sum_of_squares": "((a - b) ** 2).sum()",
    "total": "a.sum()",  # no pointwise step: the input itself
    # fused loss operators
    "smooth_l1": "torch.nn.functional.smooth_l1_loss(a, b, beta=0.5)",
    "huber_sum": "torch.nn.functional.huber_loss(a, b, delta=2.0, reduction='sum')",
    "l1": "torch.nn.functional.l1_loss(a, b)",
    "mse_sum": "torch.nn.functional.mse_loss(a, b, reduction='sum')",
}


def loss_problem(tmp_path: Path, expression: str) -> Path:
    path = tmp_path / "loss.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def forward(self, a, b):\n        return {expression}\n\n\n"
        "def get_inputs():\n    return [torch.randn(37, 91), torch.randn(37, 91)]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


def test_mse_loss_example_is_a_mean_of_squared_differences():
    recognised = recognise(PROBLEMS / "mse_loss.py", "tiny")
    assert (recognised.family, recognised.kind, recognised.inputs) == ("pointwise_total", "mean", 2)
    assert recognised.expression.c() == "((v0 - v1) * (v0 - v1))"


@pytest.mark.parametrize("name", LOSSES)
def test_every_cpu_variant_matches_the_reference(name, tmp_path):
    problem = loss_problem(tmp_path, LOSSES[name])
    assert recognise(problem).family == "pointwise_total"
    check_every_cpu_variant(problem)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hinge", "sum_of_squares", "smooth_l1"])
def test_triton_candidate_verifies_under_the_interpreter(name, monkeypatch, tmp_path):
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    problem = loss_problem(tmp_path, LOSSES[name])
    candidate = tmp_path / "candidate.py"
    # 256-element blocks over 37 * 91 elements: a ragged last block, several programs
    candidate.write_text(TRITON.offline_source(recognise(problem), GPU_VARIANTS[2]))
    options = VerifyOptions(trials=1, limits=Limits(timeout_s=120))
    verdict = verify(problem, candidate, Target.gpu(threads=1), options)
    assert verdict.ok, verdict.model_dump_json(indent=1)


def test_a_reduction_of_something_else_is_not_taken_for_a_loss(tmp_path):
    problem = loss_problem(tmp_path, "torch.matmul(a, b.t()).sum()")
    recognised = recognise(problem)
    assert recognised.family == "unsupported" and "aten.mm.default" in recognised.ops


def test_huber_example_and_an_unreduced_loss(tmp_path):
    recognised = recognise(PROBLEMS / "huber_loss.py", "tiny")
    assert (recognised.family, recognised.kind) == ("pointwise_total", "mean")
    with_none = "torch.nn.functional.mse_loss(a, b, reduction='none')"
    unreduced = recognise(loss_problem(tmp_path, with_none))
    assert unreduced.family == "unsupported" and "reduction=0" in unreduced.why
