"""The static policy and the kernel-launch check, in isolated workers on both backends.

`forbidden_code`: the candidate's source breaks the backend's static policy
(evaluation/static_checks.py) and is refused before it runs. `no_kernel`: a forward that
launched no kernel (runtime/launches.py counts the C++ calls and Triton launches). Triton
candidates run on the CPU under the interpreter (TRITON_INTERPRET=1). The rule-by-rule
cases are pure unit tests in tests/test_static_checks.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels import backends
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits, run_isolated
from pragma_kernels.evaluation.schema import Job
from pragma_kernels.evaluation.static_checks import check_source
from pragma_kernels.targets import Target
from pragma_kernels.verdict import VerdictKind

from .. import triton_candidates as triton
from ..test_verify_failures import CORRECT as CPP_RELU
from ..test_verify_failures import HEADER as CPP_HEADER
from .test_worker_integrity import CHEATS, LATE_CHEATS, RELU, attempt

# What the default CPU policy names first in each red-team cheat of test_worker_integrity.
CHEAT_RULES = {
    "compare_patched_at_import": "harness-access",
    "perf_counter_patched_in_forward": "monkeypatch",
    "worker_method_patched_in_forward": "introspection",
    "tensor_subclass_output": "tensor-subclass",
    "computes_in_place_into_input": "torch-compute",
    "finishes_on_a_thread": "concurrency",
    "leaves_a_child_process": "process-control",
    "wrong_after_the_first_calls": "torch-compute",
    "patches_the_timer_once_timed": "monkeypatch",
}
# A result that no static rule sees: torch.relu is stored at import, called in forward.
HIDDEN_TORCH = "OPS = {'relu': torch.relu}\n"
CPP_HIDDEN = (
    CPP_HEADER
    + HIDDEN_TORCH
    + CPP_RELU.replace(
        "out = torch.empty_like(x)\n        lib.relu(x, out, x.numel())\n        return out",
        "return OPS['relu'](x)",
    )
)
TRITON_HIDDEN = triton.RELU.replace("class ModelNew", HIDDEN_TORCH + "\n\nclass ModelNew").replace(
    "relu_kernel[(triton.cdiv(n, 256),)](x, out, n, BLOCK=256)\n        return out",
    "return OPS['relu'](x)",
)
# Right for the three verification calls, then the first output again: a cache.
CPP_CACHE = CPP_HEADER + CPP_RELU.replace(
    "out = torch.empty_like(x)\n        lib.relu(x, out, x.numel())\n        return out",
    "if len(SEEN) < 3:\n"
    "            out = torch.empty_like(x)\n"
    "            lib.relu(x, out, x.numel())\n"
    "            SEEN.append(out)\n"
    "        return SEEN[-1]",
).replace("class ModelNew", "SEEN = []\n\n\nclass ModelNew")


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "candidate.py"
    path.write_text(source)
    return path


def run(tmp_path, source, target, problem=RELU, **options):
    options.setdefault("limits", Limits(timeout_s=120))
    return verify(problem, write(tmp_path, source), target, VerifyOptions(**options))


@pytest.fixture(scope="module")
def cpu() -> Target:
    return Target.cpu(threads=1)


@pytest.fixture
def gpu(monkeypatch) -> Target:
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    target = Target.gpu(threads=1)
    assert target.backend.name == "triton-interpreter"
    return target


def test_the_default_policy_refuses_every_red_team_cheat_before_it_runs():
    policy = backends.get("cpp-cpu").static_policy
    sources = {name: cheat[0] for name, cheat in {**CHEATS, **LATE_CHEATS}.items()}
    assert set(sources) == set(CHEAT_RULES)
    for name, source in sources.items():
        errors = [f.rule for f in check_source(source, policy) if f.severity == "error"]
        assert CHEAT_RULES[name] in errors, (name, errors)


def test_the_hidden_torch_call_is_unseen_by_the_static_checks():
    assert check_source(CPP_HIDDEN, backends.get("cpp-cpu").static_policy) == []
    assert check_source(TRITON_HIDDEN, backends.get("triton-cuda").static_policy) == []


@pytest.mark.slow
def test_cpu_forbidden_code_is_refused_at_its_line(tmp_path, cpu):
    source = CPP_HEADER + "import threading\n" + CPP_RELU
    verdict = run(tmp_path, source, cpu)
    assert verdict.kind == VerdictKind.FORBIDDEN_CODE, verdict.model_dump_json(indent=1)
    assert verdict.stage == "static checks" and not verdict.trials
    assert verdict.location.endswith(":5") and "imports threading [concurrency]" in verdict.message
    assert verdict.cause and verdict.remedy and verdict.details["findings"][0]["line"] == 5


@pytest.mark.slow
def test_cpu_forward_without_a_cpp_call_is_no_kernel(tmp_path, cpu):
    verdict = run(tmp_path, CPP_HIDDEN, cpu)
    assert verdict.kind == VerdictKind.NO_KERNEL, verdict.model_dump_json(indent=1)
    assert "C++" in verdict.message and verdict.cause and verdict.remedy


@pytest.mark.slow
def test_allowed_rules_pass_as_warnings_in_the_verdict_and_the_job_result(tmp_path, cpu):
    source = CPP_HEADER + "class ModelNew(nn.Module):\n    def forward(self, x):\n"
    source += "        return torch.relu(x)\n"
    verdict = run(tmp_path, source, cpu, allow=("torch-compute", "no-kernel"))
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert len(verdict.warnings) == 2 and "calls torch.relu in forward" in verdict.warnings[0]
    job = Job(
        action="verify",
        problem=str(RELU),
        solution=str(tmp_path / "candidate.py"),
        backend="cpp-cpu",
        seeds=[0],
        allow=["torch-compute=warn", "no-kernel=off"],
    )
    result = run_isolated(job, Limits(timeout_s=120))
    assert result.verdict.ok
    assert [(w.rule, w.line) for w in result.static_warnings] == [("torch-compute", 7)]


@pytest.mark.slow
def test_a_cache_after_verification_fails_the_attempt_as_no_kernel(tmp_path, cpu):
    solution = write(tmp_path, CPP_CACHE)
    assert verify(RELU, solution, cpu, VerifyOptions(limits=Limits(60))).ok
    result = attempt(RELU, solution, cpu, allow=None)
    assert result.verdict.kind == VerdictKind.NO_KERNEL, result.verdict.model_dump_json(indent=1)
    assert not result.timings


@pytest.mark.slow
def test_honest_cpu_kernel_passes_without_warnings(tmp_path, cpu):
    verdict = run(tmp_path, CPP_HEADER + CPP_RELU, cpu)
    assert verdict.ok and verdict.warnings == [], verdict.model_dump_json(indent=1)


@pytest.mark.slow
def test_triton_torch_compute_is_forbidden_code(tmp_path, gpu):
    source = triton.RELU.replace("return out", "return torch.relu(x)")
    verdict = run(tmp_path, source, gpu)
    assert verdict.kind == VerdictKind.FORBIDDEN_CODE, verdict.model_dump_json(indent=1)
    assert "calls torch.relu in forward [torch-compute]" in verdict.message


@pytest.mark.slow
def test_triton_forward_without_a_launch_is_no_kernel(tmp_path, gpu):
    verdict = run(tmp_path, TRITON_HIDDEN, gpu)
    assert verdict.kind == VerdictKind.NO_KERNEL, verdict.model_dump_json(indent=1)
    assert "Triton kernel" in verdict.message


@pytest.mark.slow
def test_honest_triton_kernel_passes_without_warnings(tmp_path, gpu):
    verdict = run(tmp_path, triton.RELU, gpu)
    assert verdict.ok and verdict.warnings == [], verdict.model_dump_json(indent=1)
