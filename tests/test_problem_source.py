"""optimize() on an nn.Module class with an inputs factory: the class and factory are written
back as a KernelBench file (module constants and imports included) and the loop runs on it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from pragma_kernels import optimize
from pragma_kernels.errors import PragmaError
from pragma_kernels.problem_source import problem_source
from pragma_kernels.problems import import_module, load_problem

ROWS, COLS = 64, 256  # module constants the model and factory read
LIMIT = math.pi


class ClampedRelu(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.clamp(torch.relu(x) * self.scale, max=LIMIT)


def make_inputs():
    return [torch.randn(ROWS, COLS)]


def test_written_problem_loads_and_matches_the_original(tmp_path):
    path = tmp_path / "problem.py"
    path.write_text(problem_source(ClampedRelu, make_inputs, [2.0]))
    text = path.read_text()
    assert "ROWS = 64" in text and f"LIMIT = {math.pi!r}" in text and "Model = ClampedRelu" in text
    assert load_problem(path).category == "activation"
    module = import_module(path)
    x = module.get_inputs()[0]
    assert x.shape == (ROWS, COLS)
    model, original = module.Model(*module.get_init_inputs()), ClampedRelu(2.0)
    assert torch.equal(model(x), original(x))


@pytest.mark.slow
def test_optimize_accepts_a_class_and_returns_a_correct_kernel(tmp_path, verify_only):
    result = optimize(
        ClampedRelu,
        inputs=make_inputs,
        init_inputs=[2.0],
        target="cpu",
        mode="offline",
        attempts=1,
        run_dir=tmp_path / "run",
    )
    assert result.best is not None and result.best.correct, result.stopped
    x = torch.randn(ROWS, COLS)
    assert torch.allclose(result.load()()(x), ClampedRelu(2.0)(x), atol=1e-5)
    assert (tmp_path / "run" / "problem.py").exists()


def test_what_cannot_be_written_as_source_is_refused_with_the_fix():
    with pytest.raises(PragmaError, match="named function"):
        problem_source(ClampedRelu, lambda: [torch.randn(4)])
    with pytest.raises(PragmaError, match="not a literal"):
        problem_source(ClampedRelu, make_inputs, [torch.ones(2)])
    with pytest.raises(PragmaError, match="not an nn.Module class"):
        problem_source(make_inputs, make_inputs)
    with pytest.raises(PragmaError, match="needs inputs="):
        optimize(ClampedRelu, target="cpu", mode="offline")
