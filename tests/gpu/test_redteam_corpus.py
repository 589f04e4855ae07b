"""The red-team corpus on a real GPU: cuda/ cheats (side streams, freed device memory,
caches by device pointer, CUDA event timers, TF32) and the triton/ candidates, which CI
runs only under the interpreter. Same rules as tests/redteam/test_corpus.py."""

from __future__ import annotations

import pytest

from ..redteam import corpus

CHEATS = corpus.cheats("cuda", "triton")
HONEST = corpus.honest("cuda", "triton")


@pytest.fixture(scope="module")
def target():
    return corpus.target_for("cuda")


@pytest.mark.slow
@pytest.mark.parametrize("case", CHEATS, ids=[case.id for case in CHEATS])
def test_cheat_is_caught_on_the_gpu(case, target):
    corpus.check_cheat(case, target)


@pytest.mark.slow
@pytest.mark.parametrize("case", HONEST, ids=[case.id for case in HONEST])
def test_honest_control_passes_on_the_gpu(case, target):
    corpus.check_honest(case, target)
