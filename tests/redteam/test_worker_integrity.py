"""Red-team candidates against the worker's integrity checks (evaluation/integrity.py).

Each cheating candidate targets tests/fixtures/problems/tiny_relu.py on the CPU backend
and runs in an isolated worker like any candidate; it uses plain torch ops for brevity.
The static policy would refuse every one of them before it runs (test_worker_static.py);
here it only warns (`RUN_TIME_ONLY`), so that the run-time checks behind it are tested.
Honest controls must pass the same jobs. Threat model: README.md in this folder.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.evaluation.jobs import AttemptOptions, run_attempt
from pragma_kernels.targets import Target
from pragma_kernels.verdict import VerdictKind

ROOT = Path(__file__).parents[2]
RELU = ROOT / "tests" / "fixtures" / "problems" / "tiny_relu.py"
GELU = ROOT / "examples" / "problems" / "gelu.py"
GELU_SOLUTION = ROOT / "examples" / "solutions" / "cpu" / "gelu.py"

HEADER = "import torch\nimport torch.nn as nn\n"
RUN_TIME_ONLY = ("all",)  # every static rule a warning: the run-time checks are under test


def candidate(forward: str, top: str = "") -> str:
    return (
        HEADER
        + textwrap.dedent(top)
        + "\nclass ModelNew(nn.Module):\n    def forward(self, x):\n"
        + textwrap.indent(textwrap.dedent(forward).strip(), " " * 8)
        + "\n"
    )


HONEST_RELU = candidate("return torch.relu(x)")

# Counts calls: the three verification trials see the right answer, later calls do not.
COUNTER = "calls = [0]\n"

CHEATS: dict[str, tuple[str, VerdictKind, str]] = {
    # name: (source, kind from the verify job, text in the message)
    "compare_patched_at_import": (
        candidate(
            "return torch.zeros_like(x)",
            top="""
            import pragma_kernels.compare as c
            c.compare_outputs = lambda *a, **k: c.Comparison(None, max_abs_err=0.0)
            """,
        ),
        VerdictKind.TAMPERING,
        "compare_outputs",
    ),
    "perf_counter_patched_in_forward": (
        candidate(
            """
            import time
            time.perf_counter = lambda: 0.0
            return torch.relu(x)
            """
        ),
        VerdictKind.TAMPERING,
        "time.perf_counter",
    ),
    "worker_method_patched_in_forward": (
        candidate(
            """
            import sys
            worker = sys.modules["pragma_kernels.evaluation.worker"]
            worker.Worker.judge = lambda self, *a: None
            return torch.relu(x)
            """
        ),
        VerdictKind.TAMPERING,
        "Worker.judge",
    ),
    "tensor_subclass_output": (
        candidate(
            "return torch.zeros_like(x).as_subclass(Lazy)",
            top="""
            class Lazy(torch.Tensor):
                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None):
                    return torch.zeros(())  # every op, a subtraction too, "matches"
            """,
        ),
        VerdictKind.OUTPUT_TYPE,
        "subclass",
    ),
    "computes_in_place_into_input": (
        candidate("return x.relu_()"),
        VerdictKind.INPUT_MUTATION,
        "input",
    ),
    "finishes_on_a_thread": (
        candidate(
            """
            out = torch.empty_like(x)
            def finish():
                time.sleep(0.3)
                torch.relu(x, out=out)
            threading.Thread(target=finish).start()
            return out
            """,
            top="import threading\nimport time\n",
        ),
        VerdictKind.BACKGROUND_WORK,
        "thread",
    ),
    "leaves_a_child_process": (
        candidate(
            """
            subprocess.Popen(["sleep", "2"])
            return torch.relu(x)
            """,
            top="import subprocess\n",
        ),
        VerdictKind.BACKGROUND_WORK,
        "child process",
    ),
}

# Correct while verified (3 trials), then cheating: only the attempt job can tell.
LATE_CHEATS: dict[str, tuple[str, VerdictKind]] = {
    "wrong_after_the_first_calls": (
        candidate(
            """
            calls[0] += 1
            return torch.relu(x) if calls[0] <= 4 else torch.zeros_like(x)
            """,
            top=COUNTER,
        ),
        VerdictKind.INCONSISTENT_RESULTS,
    ),
    "patches_the_timer_once_timed": (
        candidate(
            """
            calls[0] += 1
            if calls[0] == 5:
                import time
                clock, start = time.perf_counter, time.perf_counter()
                time.perf_counter = lambda: start + (clock() - start) * 0.5  # half speed
            return torch.relu(x)
            """,
            top=COUNTER,
        ),
        VerdictKind.TAMPERING,
    ),
}


@pytest.fixture(scope="module")
def target() -> Target:
    return Target.cpu(threads=1)


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "candidate.py"
    path.write_text(source)
    return path


def verify_source(tmp_path, source, target, problem=RELU):
    options = VerifyOptions(limits=Limits(60), allow=RUN_TIME_ONLY)
    return verify(problem, write(tmp_path, source), target, options)


def attempt(problem: Path, solution: Path, target: Target, allow=RUN_TIME_ONLY):
    options = AttemptOptions(
        profile=False,
        budget_s=0.05,
        baseline_cache=None,
        limits=Limits(timeout_s=120),
        allow=allow,
    )
    return run_attempt(problem, solution, target, options)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHEATS))
def test_cheat_is_caught_by_verify(tmp_path, target, name):
    source, kind, text = CHEATS[name]
    verdict = verify_source(tmp_path, source, target)
    assert verdict.kind == kind, verdict.model_dump_json(indent=1)
    assert text in verdict.message and verdict.cause and verdict.remedy


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LATE_CHEATS))
def test_late_cheat_passes_verify_and_fails_the_attempt(tmp_path, target, name):
    source, kind = LATE_CHEATS[name]
    solution = write(tmp_path, source)
    assert verify(RELU, solution, target, VerifyOptions(limits=Limits(60), allow=RUN_TIME_ONLY)).ok
    result = attempt(RELU, solution, target)
    assert result.verdict.kind == kind, result.verdict.model_dump_json(indent=1)
    assert not result.timings


@pytest.mark.slow
def test_honest_relu_passes_verify_and_attempt(tmp_path, target):
    solution = write(tmp_path, HONEST_RELU)
    assert verify(RELU, solution, target, VerifyOptions(limits=Limits(60), allow=RUN_TIME_ONLY)).ok
    result = attempt(RELU, solution, target)
    assert result.verdict.ok, result.verdict.model_dump_json(indent=1)
    assert result.timing_error is None and "candidate" in result.timings


@pytest.mark.slow
def test_gelu_solution_passes_verify_and_attempt():
    target = Target.cpu(threads=1, size="tiny")
    verdict = verify(GELU, GELU_SOLUTION, target, VerifyOptions(limits=Limits(120)))
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert verdict.warnings == []  # nothing the default static policy even warns about
    result = attempt(GELU, GELU_SOLUTION, target, allow=None)  # the default policy
    assert result.verdict.ok, result.verdict.model_dump_json(indent=1)
    assert result.timing_error is None and "candidate" in result.timings


@pytest.mark.slow
def test_the_compile_baseline_is_not_taken_for_tampering():
    """torch.compile of the reference (the harness's own) rebinds torch.manual_seed: the
    harness takes that as its own, and an honest candidate times against it."""
    from pragma_kernels.evaluation import TimeOptions, time_problem

    report = time_problem(
        GELU,
        GELU_SOLUTION,
        Target.cpu(threads=1, size="tiny"),
        TimeOptions(baselines=("eager", "compile"), budget_s=0.05),
    )
    assert report.verdict.ok, report.verdict.summary()
    assert {"eager", "compile", "candidate"} <= set(report.timings)
