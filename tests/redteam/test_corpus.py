"""The red-team corpus (candidates/, described in corpus.py and README.md): every cheat
must fail with one of the kinds its header expects, every honest control must pass verify
and get a finite speedup. CPU cheats run on the C++ backend, triton/ ones under the Triton
interpreter; cuda/ ones (and triton/ on a real GPU) run in tests/gpu/test_redteam_corpus.py.
"""

from __future__ import annotations

import pytest

from . import corpus

CHEATS = corpus.cheats("cpu", "triton")
HONEST = corpus.honest("cpu", "triton")


def ids(cases: list[corpus.Case]) -> list[str]:
    return [case.id for case in cases]


@pytest.fixture
def target_for(monkeypatch):
    def make(backend: str):
        if backend == "triton":
            pytest.importorskip("triton")
            monkeypatch.setenv("TRITON_INTERPRET", "1")
        return corpus.target_for(backend)

    return make


def test_every_candidate_has_a_well_formed_header():
    every = corpus.cases(*corpus.BACKENDS)  # parse() raises on a malformed header
    assert len(every) == len(list(corpus.CANDIDATES.glob("*/*.py")))
    assert {case.backend for case in every} == set(corpus.BACKENDS)
    cheats = [case for case in every if not case.honest]
    assert len(cheats) >= 25, f"{len(cheats)} cheats; the corpus promises at least 25"
    assert len(corpus.honest("cpu")) >= 3 and len(corpus.honest("triton")) >= 2
    assert all(case.why and case.threat for case in every)


@pytest.mark.slow
@pytest.mark.parametrize("case", CHEATS, ids=ids(CHEATS))
def test_cheat_is_caught(case, target_for):
    corpus.check_cheat(case, target_for(case.backend))


@pytest.mark.slow
@pytest.mark.parametrize("case", HONEST, ids=ids(HONEST))
def test_honest_control_passes_and_gets_a_speedup(case, target_for):
    corpus.check_honest(case, target_for(case.backend))
