"""Every hand-written solution passes `verify` against its example problem (CPU size)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pragma_kernels.categories import CATEGORIES
from pragma_kernels.evaluation import VerifyOptions, verify
from pragma_kernels.problems import load_problem
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "examples" / "solutions" / "cpu").glob("*.py"))


def test_one_solution_per_category_at_least():
    categories = {load_problem(ROOT / "examples" / "problems" / s.name).category for s in SOLUTIONS}
    assert categories == set(CATEGORIES)


@pytest.mark.slow
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_hand_written_solution_verifies(solution):
    assert "Hand-written reference solution" in solution.read_text()[:200]
    problem = ROOT / "examples" / "problems" / solution.name
    verdict = verify(problem, solution, Target.cpu(), VerifyOptions())
    assert verdict.ok, verdict.model_dump_json(indent=1)
    assert len(verdict.trials) == 3
