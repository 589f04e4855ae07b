"""The red-team corpus: candidate files under candidates/, each described by its header.

    # class: <threat class (README.md, /work/shared/anticheat-notes.md)>
    # expect: <verdict kind>[|<other acceptable kind>...]   ("ok" alone: an honest control)
    # why: one line on how it cheats
    # problem: tiny_matmul.py     (optional; default tiny_relu.py, from problems/ or
    #                              tests/fixtures/problems/)
    # job: time                   (optional; default verify: the cheat passes verify by design,
    #                              so the time job must report no speedup)
    # gap: why it is not caught yet (optional: a documented gap, skipped with that reason)

The folder names the backend: cpu/ (C++ through pragma_kernels.runtime.cpp), triton/ (run
under the Triton interpreter on the CPU, and on a real GPU by tests/gpu), cuda/ (Triton
cheats that only mean something on a CUDA device). test_corpus.py and
tests/gpu/test_redteam_corpus.py run them; `python -m tests.redteam.corpus [cpu triton ...]`
prints what each gets today.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pragma_kernels.evaluation import TimeOptions, VerifyOptions, time_problem, verify
from pragma_kernels.evaluation.isolation import Limits
from pragma_kernels.targets import Target
from pragma_kernels.verdict import Verdict, VerdictKind

HERE = Path(__file__).parent
CANDIDATES = HERE / "candidates"
PROBLEM_DIRS = (HERE / "problems", HERE.parent / "fixtures" / "problems")
BACKENDS = ("cpu", "triton", "cuda")
FIELDS = ("class", "expect", "why")
OPTIONAL = {"problem": "tiny_relu.py", "job": "verify", "gap": ""}
JOBS = ("verify", "time")
# Kinds the static policy adds (issue 15): a correct catch, though not merged yet.
COMING_KINDS = frozenset({"forbidden_code", "no_kernel"})
KINDS = frozenset(kind.value for kind in VerdictKind) | COMING_KINDS

VERIFY = VerifyOptions(limits=Limits(timeout_s=180))
TIME = TimeOptions(baselines=("eager",), budget_s=0.05, limits=Limits(timeout_s=240))
_LINE = re.compile(r"# (\w+): (.+)")


@dataclass(frozen=True)
class Case:
    path: Path
    backend: str
    threat: str
    expect: tuple[str, ...]
    why: str
    problem: Path
    job: str
    gap: str = ""  # a documented gap: why this cheat is not caught yet

    @property
    def honest(self) -> bool:
        return self.expect == ("ok",)

    @property
    def id(self) -> str:
        return f"{self.backend}/{self.path.stem}"


def parse(path: Path) -> Case:
    """The case a candidate file's header describes; ValueError says what is wrong."""
    header: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _LINE.fullmatch(line)
        if match is None:
            break
        header[match[1]] = match[2].strip()
    missing = [f for f in FIELDS if f not in header]
    unknown = sorted(set(header) - set(FIELDS) - set(OPTIONAL))
    if missing or unknown or list(header)[:3] != list(FIELDS):
        raise ValueError(
            f"{path}: the header must open with '# class:', '# expect:', '# why:' lines "
            f"(missing {missing}, unknown {unknown})"
        )
    expect = tuple(header["expect"].split("|"))
    wrong = [k for k in expect if k not in KINDS]
    if wrong or ("ok" in expect and len(expect) > 1):
        raise ValueError(f"{path}: expect {header['expect']!r}: unknown or mixed kinds {wrong}")
    job = header.get("job", OPTIONAL["job"])
    if job not in JOBS:
        raise ValueError(f"{path}: job {job!r}, expected one of {JOBS}")
    name = header.get("problem", OPTIONAL["problem"])
    problem = next((d / name for d in PROBLEM_DIRS if (d / name).is_file()), None)
    if problem is None:
        raise ValueError(f"{path}: no problem {name!r} in {[str(d) for d in PROBLEM_DIRS]}")
    threat, why, gap = header["class"], header["why"], header.get("gap", "")
    return Case(path, path.parent.name, threat, expect, why, problem, job, gap)


def cases(*backends: str) -> list[Case]:
    return [parse(p) for b in backends for p in sorted((CANDIDATES / b).glob("*.py"))]


def cheats(*backends: str) -> list[Case]:
    return [c for c in cases(*backends) if not c.honest]


def honest(*backends: str) -> list[Case]:
    return [c for c in cases(*backends) if c.honest]


def outcome(case: Case, target: Target) -> tuple[Verdict, float | None]:
    """The verdict of the case's job and the candidate's speedup over eager, if reported."""
    if case.job == "verify":
        return verify(case.problem, case.path, target, VERIFY), None
    report = time_problem(case.problem, case.path, target, TIME)
    return report.verdict, report.speedup("eager")


def check_cheat(case: Case, target: Target) -> None:
    if case.gap:
        import pytest

        pytest.skip(f"known gap: {case.gap}")
    verdict, speedup = outcome(case, target)
    said = f"{case.id}: expected {'|'.join(case.expect)}, got {verdict.summary()}"
    assert speedup is None, f"{said}; a speedup of {speedup:.3g} was reported"
    assert not verdict.ok and verdict.kind in case.expect, said


def check_honest(case: Case, target: Target) -> None:
    verdict = verify(case.problem, case.path, target, VERIFY)
    assert verdict.ok, f"{case.id}: {verdict.summary()}"
    report = time_problem(case.problem, case.path, target, TIME)
    speedup = report.speedup("eager")
    assert report.verdict.ok, f"{case.id}: {report.verdict.summary()}"
    assert speedup is not None and 0 < speedup < math.inf, f"{case.id}: speedup {speedup}"


def target_for(backend: str) -> Target:
    """cpu: one thread; triton and cuda: the GPU (the interpreter where TRITON_INTERPRET=1)."""
    return Target.cpu(threads=1) if backend == "cpu" else Target.gpu(threads=1)


def main(backends: list[str]) -> None:
    """Print file, expected kinds and what each gets today (a table for the README)."""
    print("| file | job | expected | today |\n|---|---|---|---|")
    for backend in backends or ["cpu"]:
        target = target_for(backend)
        for case in cases(backend):
            verdict, speedup = outcome(case, target)
            today = verdict.kind.value + (f", speedup {speedup:.3g}" if speedup else "")
            print(f"| {case.id} | {case.job} | {' / '.join(case.expect)} | {today} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
