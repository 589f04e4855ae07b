"""Every CPU template variant of a problem, checked in this process by the Verifier's own
comparison (`compare_outputs` at the float32 tolerance) on the reference's inputs.

A worker per variant (`verify`) cost seconds each for nothing these checks need: the
variants' arithmetic is the point. The worker path for generated candidates is run by
test_offline.py (every example, every variant) and the Triton-interpreter tests.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pragma_kernels import backends
from pragma_kernels.compare import compare_outputs
from pragma_kernels.evaluation import DEFAULT_TOLERANCE
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.problems import import_module


def check_every_cpu_variant(problem: Path) -> None:
    reference_module = import_module(problem)
    recognised = recognise(problem)
    tolerance = DEFAULT_TOLERANCE["float32"]
    cpp = backends.get("cpp-cpu")
    for variant in cpp.offline_variants(recognised):
        namespace: dict = {}
        source = cpp.offline_source(recognised, variant)
        exec(compile(source, f"{variant.name}.py", "exec"), namespace)
        torch.manual_seed(0)
        inputs = reference_module.get_inputs()
        init = reference_module.get_init_inputs()
        reference = reference_module.Model(*init)(*inputs)
        candidate = namespace["ModelNew"](*init)(*inputs)
        result = compare_outputs(reference, candidate, tolerance, tolerance)
        assert result.kind is None, (variant.name, result)
