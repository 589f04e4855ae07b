"""The GPU candidate format, checked on the CPU by Triton's interpreter (TRITON_INTERPRET=1).

CI has no GPU: these tests run Triton kernels through the same Verifier path a
GPU uses (Target.gpu() falls back to the interpreter), on tiny shapes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels.categories import CATEGORIES
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.targets import Target
from pragma_kernels.verdict import VerdictKind

from . import triton_candidates as candidates

pytest.importorskip("triton")

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = Path(__file__).parent / "fixtures" / "problems" / "tiny_relu.py"
GPU_SOLUTIONS = sorted((ROOT / "examples" / "solutions" / "gpu").glob("*.py"))


@pytest.fixture
def target(monkeypatch) -> Target:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    target = Target.gpu(threads=1)
    assert target.backend.name == "triton-interpreter" and target.device == "cpu"
    return target


def run(tmp_path: Path, source: str, target: Target, problem: Path = PROBLEM, **options):
    candidate = tmp_path / "candidate.py"
    candidate.write_text(source)
    return verify(
        problem, candidate, target, VerifyOptions(limits=Limits(timeout_s=120), **options)
    )


@pytest.mark.slow
def test_triton_relu_verifies_under_the_interpreter(tmp_path, target):
    verdict = run(tmp_path, candidates.RELU, target)
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert len(verdict.trials) == 3


@pytest.mark.slow
def test_half_precision_casts_inputs_and_records_the_tolerance(tmp_path, target):
    verdict = run(tmp_path, candidates.RELU, target, dtype="float16")
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert (verdict.dtype, verdict.atol, verdict.rtol) == ("float16", 1e-2, 1e-2)


@pytest.mark.slow
def test_wrong_triton_kernel_is_a_numerical_mismatch(tmp_path, target):
    verdict = run(tmp_path, candidates.WRONG, target)
    assert verdict.kind == VerdictKind.NUMERICAL_MISMATCH
    assert 0 < verdict.mismatch_fraction < 1


def test_candidate_runs_in_this_process_under_the_interpreter(monkeypatch):
    """The candidate format and the interpreter without a worker (the quick suite's check
    that Triton, numpy and the format still agree); the Verifier's path is marked slow."""
    import torch

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    for source, correct in ((candidates.RELU, True), (candidates.WRONG, False)):
        namespace: dict = {}
        exec(compile(source, "candidate", "exec"), namespace)
        x = torch.randn(4, 1000)  # not a multiple of the 256 block: the masked tail
        assert torch.equal(namespace["ModelNew"]()(x), torch.relu(x)) is correct


def test_no_gpu_and_no_interpreter_is_a_clear_error(monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="no CUDA GPU.*TRITON_INTERPRET=1"):
        Target.gpu()


def test_one_gpu_solution_per_category():
    from pragma_kernels.problems import load_problem

    categories = {
        load_problem(ROOT / "examples" / "problems" / s.name).category for s in GPU_SOLUTIONS
    }
    assert categories == set(CATEGORIES)


@pytest.mark.slow
@pytest.mark.parametrize("solution", GPU_SOLUTIONS, ids=lambda p: p.stem)
def test_hand_written_triton_solution_verifies_on_tiny_shapes(tmp_path, target, solution):
    assert "Hand-written reference solution" in solution.read_text()[:200]
    problem = ROOT / "examples" / "problems" / solution.name
    verdict = verify(
        problem, solution, target, VerifyOptions(size="tiny", limits=Limits(timeout_s=300))
    )
    assert verdict.ok, verdict.model_dump_json(indent=1)


def test_offline_run_under_the_interpreter_is_not_profiled_as_a_cpu_kernel(
    tmp_path, target, monkeypatch
):
    """The Triton interpreter runs kernels on the CPU: a CPU profile of it blamed the
    interpreter (`single_threaded`, with an OpenMP hint for a Triton kernel)."""
    from pragma_kernels.api import optimize

    monkeypatch.chdir(tmp_path)
    result = optimize(
        ROOT / "examples" / "problems" / "relu.py",
        target="gpu",
        mode="offline",
        size="tiny",
        attempts=1,
    )
    record = result.attempts[0]
    assert record.verdict.ok, record.verdict.summary()
    assert record.profile is None and record.diagnosis is None
    assert "Triton interpreter" in record.profile_error
    assert "OpenMP" not in (record.advice.model_dump_json() if record.advice else "")
