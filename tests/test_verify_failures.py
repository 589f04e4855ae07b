"""The Verifier classifies a fixture of every failure kind, in an isolated worker.

Each fixture is a small candidate for tests/fixtures/problems/tiny_relu.py that
fails in one specific way; the test asserts the kind and that the cause and
location point at the right thing. Worker start-up (importing torch) makes
each case take a few seconds.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.targets import Target
from pragma_kernels.verdict import VerdictKind

PROBLEM = Path(__file__).parent / "fixtures" / "problems" / "tiny_relu.py"

HEADER = """
import torch
import torch.nn as nn
from pragma_kernels.runtime import cpp
"""

RELU_CPP = '''
SOURCE = r"""
#include <cstdint>
extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0 ? x[i] : 0.0f;
}
"""
lib = cpp.load(SOURCE, flags=["-O3"])
'''


def model_new(forward_body: str, init_args: str = "") -> str:
    return f"""
class ModelNew(nn.Module):
    def __init__(self{init_args}):
        super().__init__()

    def forward(self, x):
{textwrap.indent(textwrap.dedent(forward_body).strip(), " " * 8)}
"""


# Most fixtures stand in for a candidate with plain torch (or no kernel at all) to fail in one
# way: the static policy's torch-compute and no-kernel rules only warn about them here
# (tests/redteam/test_worker_static.py checks those rules).
STAND_IN = ("torch-compute", "no-kernel")

CORRECT = RELU_CPP + model_new("out = torch.empty_like(x)\nlib.relu(x, out, x.numel())\nreturn out")

# kind -> (candidate source after HEADER, text expected in the message or cause)
FIXTURES: dict[VerdictKind, tuple[str, str]] = {
    VerdictKind.SYNTAX: ("def broken(:\n    pass\n", "line"),
    VerdictKind.BAD_FLAGS: (
        RELU_CPP.replace('["-O3"]', '["-O3", "-fplugin=evil.so"]') + model_new("return x"),
        "-fplugin=evil.so",
    ),
    VerdictKind.BUILD: (
        RELU_CPP.replace("out[i] =", "out[i] = undefined_name +") + model_new("return x"),
        "undefined_name",
    ),
    VerdictKind.IMPORT: (
        "import definitely_not_a_module\n" + model_new("return x"),
        "definitely_not_a_module",
    ),
    VerdictKind.MISSING_MODEL_NEW: ("class Model2(nn.Module):\n    pass\n", "ModelNew"),
    VerdictKind.SIGNATURE: (model_new("return x", init_args=", hidden_size"), "hidden_size"),
    VerdictKind.BAD_CALL: (
        RELU_CPP
        + model_new("out = torch.empty_like(x)\nlib.relu(x.t(), out, x.numel())\nreturn out"),
        "contiguous",
    ),
    VerdictKind.RUNTIME_ERROR: (
        model_new("raise RuntimeError('kernel exploded')"),
        "kernel exploded",
    ),
    VerdictKind.CRASH: (
        RELU_CPP.replace("out[i] =", "out[i * 100000000] =")
        + model_new("out = torch.empty_like(x)\nlib.relu(x, out, x.numel())\nreturn out"),
        "SIGSEGV",
    ),
    VerdictKind.TIMEOUT: (
        RELU_CPP.replace("++i)", "i += 0)")
        + model_new("out = torch.empty_like(x)\nlib.relu(x, out, x.numel())\nreturn out"),
        "no result",
    ),
    VerdictKind.OUT_OF_MEMORY: (
        model_new("y = torch.ones(2**33)\nreturn x.relu() + y[0]"),
        "memory",
    ),
    VerdictKind.OUTPUT_TYPE: (model_new("return (x.relu(), x)"), "tuple"),
    VerdictKind.SHAPE_MISMATCH: (model_new("return x.relu().flatten()"), "shape"),
    VerdictKind.DTYPE_MISMATCH: (model_new("return x.relu().double()"), "float64"),
    VerdictKind.NUMERICAL_MISMATCH: (model_new("return x.abs()"), "atol"),
    VerdictKind.NON_FINITE: (model_new("return x.relu() / 0.0"), "NaN/Inf"),
}


@pytest.fixture(scope="module")
def target() -> Target:
    return Target.cpu(threads=1)


def run(tmp_path: Path, body: str, target: Target, **limits) -> object:
    candidate = tmp_path / "candidate.py"
    candidate.write_text(HEADER + body)
    options = VerifyOptions(
        limits=Limits(**{"timeout_s": 60, "memory_mb": 4096, **limits}), allow=STAND_IN
    )
    return verify(PROBLEM, candidate, target, options), candidate


@pytest.mark.slow
def test_correct_candidate_passes_on_three_fresh_input_sets(tmp_path, target):
    verdict, _ = run(tmp_path, CORRECT, target)
    assert verdict.ok and verdict.kind == VerdictKind.OK, verdict.summary()
    assert len(verdict.trials) == 3
    assert len({t.seed for t in verdict.trials}) == 3
    assert verdict.max_abs_err == 0.0 and verdict.atol == 0.01 and verdict.rtol == 0.01


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(FIXTURES), ids=lambda k: k.value)
def test_failure_kind_is_classified(tmp_path, target, kind):
    body, expected_text = FIXTURES[kind]
    limits = {"timeout_s": 15} if kind == VerdictKind.TIMEOUT else {}
    verdict, candidate = run(tmp_path, body, target, **limits)
    assert not verdict.ok
    assert verdict.kind == kind, verdict.model_dump_json(indent=1)
    assert verdict.cause and verdict.remedy
    evidence = " ".join([verdict.message, verdict.cause, verdict.stderr_tail])
    assert expected_text in evidence


@pytest.mark.slow
def test_build_error_points_at_the_line_in_the_candidate_file(tmp_path, target):
    verdict, candidate = run(tmp_path, FIXTURES[VerdictKind.BUILD][0], target)
    line = next(
        i
        for i, text in enumerate(candidate.read_text().splitlines(), 1)
        if "undefined_name" in text
    )
    assert verdict.location == f"{candidate}:{line}"


@pytest.mark.slow
def test_crash_is_located_at_the_python_call_that_entered_cpp(tmp_path, target):
    verdict, candidate = run(tmp_path, FIXTURES[VerdictKind.CRASH][0], target)
    line = next(
        i for i, text in enumerate(candidate.read_text().splitlines(), 1) if "lib.relu(" in text
    )
    assert verdict.location == f"{candidate}:{line}"
    assert "forward" in (verdict.stage or "")


@pytest.mark.slow
def test_a_wrong_reference_is_the_problems_fault_not_the_candidates(tmp_path, target):
    problem = Path(__file__).parent / "fixtures" / "problems" / "model_raises.py"
    candidate = tmp_path / "candidate.py"
    candidate.write_text(HEADER + model_new("return x"))
    verdict = verify(problem, candidate, target, VerifyOptions(limits=Limits(timeout_s=60)))
    assert verdict.kind == VerdictKind.PROBLEM_ERROR
    assert "model_raises.py" in verdict.message and "reference is broken" in verdict.message


def test_resident_memory_watchdog_kills_a_worker_past_the_limit():
    """GPU workers have no address-space limit (CUDA reserves far more); RSS is watched."""
    import subprocess
    import sys

    from pragma_kernels.evaluation.isolation import _watch

    hog = subprocess.Popen(
        [sys.executable, "-c", "x = bytearray(400 * 2**20); import time; time.sleep(30)"],
        start_new_session=True,
    )
    assert _watch(hog, Limits(timeout_s=20, memory_mb=100), Path("/nonexistent"))[0] == "memory"
    assert hog.returncode is not None


def verify_in_a_child(candidate: Path):
    """`verify` of `candidate` in a Python child process: the tool, as a test can kill it."""
    import subprocess
    import sys

    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pragma_kernels.evaluation import verify, VerifyOptions;"
            "from pragma_kernels.evaluation.isolation import Limits;"
            "from pragma_kernels.targets import Target;"
            f"verify({str(PROBLEM)!r}, {str(candidate)!r}, Target.cpu(),"
            " VerifyOptions(limits=Limits(timeout_s=600)))",
        ]
    )


@pytest.mark.slow
def test_worker_dies_when_its_parent_is_killed(tmp_path):
    """A killed tool (Ctrl-C twice, an outer timeout) must not leave a runaway candidate."""
    import os
    import signal
    import time

    pid_file = tmp_path / "worker.pid"
    candidate = tmp_path / "hang.py"
    candidate.write_text(
        f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\nwhile True:\n    pass\n"
    )
    parent = verify_in_a_child(candidate)
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.1)
    worker = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{worker}/stat").read_text().split()[2] == "Z":
            return  # exited, waiting to be reaped by init
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the worker outlived its killed parent")
