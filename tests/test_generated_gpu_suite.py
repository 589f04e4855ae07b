"""The generated GPU suite (benchmarks/diagnosis/gpu_gen): its size and split, kernel names
that tell cases apart, and (slow) every candidate correct under Triton's interpreter."""

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks" / "diagnosis"))

from gpu_gen.cases import generate, select, write  # noqa: E402

from pragma_kernels.diagnosis.classes import GPU_CLASSES  # noqa: E402

CASES = generate()


def test_at_least_60_cases_split_by_operator_with_every_label_in_both_splits():
    assert len(CASES) >= 60
    labels = {c.label for c in CASES}
    assert labels <= {b.value for b in GPU_CLASSES}
    for split in ("calibrate", "heldout"):
        assert {c.label for c in CASES if c.split == split} == labels
    operators = {(c.defect, c.operator): c.split for c in CASES}
    for case in CASES:  # both shapes of an operator on the same side
        assert operators[(case.defect, case.operator)] == case.split


def test_every_kernel_name_carries_its_case_and_variant():
    for case in CASES:
        for variant in ("planted", "fixed"):
            tree = ast.parse(getattr(case, variant))
            kernels = [
                f.name
                for f in tree.body
                if isinstance(f, ast.FunctionDef)
                and f.name.endswith(("_k", "_zero", "_final", "_s0", "_s1", "_s2"))
            ]
            assert kernels and all(k.startswith(f"_{case.name}_{variant}_") for k in kernels)


def test_a_limited_run_covers_every_defect():
    chosen = select(CASES, "heldout", 9)
    assert len({c.defect for c in chosen}) == 9


CHECK = """
import importlib.util, sys
from pathlib import Path
import torch
from pragma_kernels.problems import import_module
folder = Path(sys.argv[1])
for problem in sorted(folder.glob("*_problem.py")):
    name = problem.name[: -len("_problem.py")]
    module = import_module(problem, "tiny")
    torch.manual_seed(0)
    inputs = module.get_inputs()
    expected = module.Model()(*inputs)
    for variant in ("planted", "fixed"):
        path = folder / f"{name}_{variant}.py"
        spec = importlib.util.spec_from_file_location(f"gen_{name}_{variant}", path)
        candidate = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = candidate
        spec.loader.exec_module(candidate)
        got = candidate.ModelNew()(*inputs)
        ok = got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
        print(name, variant, "ok" if ok else "WRONG")
"""


@pytest.mark.slow
def test_every_candidate_matches_its_reference_under_the_interpreter(tmp_path):
    """In a fresh process with TRITON_INTERPRET=1 from the start (Triton's language module
    decides interpreted or compiled when it is first imported)."""
    import os
    import subprocess

    one_shape = {}
    for case in CASES:  # the tiny size is the same for both shapes of an operator
        one_shape.setdefault((case.defect, case.operator), case)
    write(list(one_shape.values()), tmp_path)
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split("\n")
    assert sum(line.endswith(" ok") for line in lines) == 2 * len(one_shape), done.stdout
