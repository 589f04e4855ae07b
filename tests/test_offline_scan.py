"""The offline agent's prefix-sum family: cumsum along one dimension, forward or written as
flip/cumsum/flip, verified on the CPU and the Triton interpreter; the running total must not
drift along long rows (torch's CPU cumsum carries it in double)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import CPU_VARIANTS, GPU_VARIANTS
from pragma_kernels.targets import Target

from .offline_variants import check_every_cpu_variant

CPP = backends.get("cpp-cpu")
TRITON = backends.get("triton-interpreter")

PROBLEMS = Path(__file__).resolve().parent.parent / "examples" / "problems"

# forward: (expression of x, input shape)
CASES = {
    "last_dim_long_rows": ("torch.cumsum(x, dim=1)", (3, 70001)),
    "reverse_last_dim": ("torch.cumsum(x.flip(-1), -1).flip(-1)", (5, 1037)),
    "middle_dim": ("torch.cumsum(x, dim=1)", (2, 45, 300)),
    "reverse_first_dim": ("x.flip(0).cumsum(0).flip(0)", (33, 7, 5)),
}


def scan_problem(tmp_path: Path, expression: str, shape: tuple) -> Path:
    path = tmp_path / "scan.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        f"    def forward(self, x):\n        return {expression}\n\n\n"
        f"def get_inputs():\n    return [torch.randn{shape}]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )
    return path


def test_examples_are_a_cumsum_and_a_reverse_cumsum_along_dim_1():
    forward = recognise(PROBLEMS / "cumsum.py", "tiny")
    reverse = recognise(PROBLEMS / "reverse_cumsum.py", "tiny")
    assert (forward.family, forward.kind, forward.dim) == ("scan", "cumsum", 1)
    assert (reverse.family, reverse.kind, reverse.dim) == ("scan", "reverse_cumsum", 1)


@pytest.mark.parametrize(
    "expression",
    [
        "torch.cumsum(x.flip(0), 1).flip(1)",  # flipped along another dimension
        "torch.cumsum(x, 1, dtype=torch.float64)",  # changes the dtype
        "torch.cumsum(torch.cat((x, torch.zeros_like(x)), 1), 1)",  # zeros after x
        "torch.cumsum(torch.cat((torch.zeros_like(x[:, :1]), x), 1)[:, 1:], 1)",  # sliced dim
    ],
)
def test_other_scans_are_unsupported_with_the_reason(expression, tmp_path):
    recognised = recognise(scan_problem(tmp_path, expression, (4, 9)))
    assert recognised.family == "unsupported" and recognised.why


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_cpu_variant_matches_the_reference(case, tmp_path):
    problem = scan_problem(tmp_path, *CASES[case])
    assert recognise(problem).family == "scan"
    check_every_cpu_variant(problem)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_triton_candidate_verifies_under_the_interpreter(case, monkeypatch, tmp_path):
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    problem = scan_problem(tmp_path, *CASES[case])
    candidate = tmp_path / "candidate.py"
    # 256-value blocks: a ragged last block along each row, or across the inner columns
    candidate.write_text(TRITON.offline_source(recognise(problem), GPU_VARIANTS[2]))
    options = VerifyOptions(trials=1, limits=Limits(timeout_s=120))
    verdict = verify(problem, candidate, Target.gpu(threads=1), options)
    assert verdict.ok, verdict.model_dump_json(indent=1)


def test_the_running_total_does_not_drift_along_a_long_row(tmp_path):
    # 262144 values: a float carry is ~3.5e-3 off float64 at the end, the double one ~1e-4
    problem = scan_problem(tmp_path, "torch.cumsum(x, dim=1)", (4, 262144))
    namespace: dict = {}
    source = CPP.offline_source(recognise(problem), CPU_VARIANTS[0])
    exec(compile(source, "candidate", "exec"), namespace)
    x = torch.randn(4, 262144, generator=torch.Generator().manual_seed(0))
    error = (namespace["ModelNew"]()(x).double() - torch.cumsum(x.double(), 1)).abs().max()
    assert error < 1e-3
