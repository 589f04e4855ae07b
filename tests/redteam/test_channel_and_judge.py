"""Forged results, a fooled in-process comparison and very slow candidates (issue 15):
the result channel (evaluation/channel.py), the judge (evaluation/judge.py) and the stage
limits (limits.py), through real isolated workers on the CPU backend."""

from __future__ import annotations

import time

import pytest
import torch

from pragma_kernels.evaluation import channel, integrity, judge, shipping
from pragma_kernels.evaluation.schema import Job, JobResult
from pragma_kernels.limits import FIRST_CALL_S, STAGE_FLOOR_S, stage_limit_s
from pragma_kernels.verdict import Verdict, VerdictKind
from tests.redteam.test_worker_integrity import (
    COUNTER,
    RELU,
    attempt,
    candidate,
    verify_source,
    write,
)
from tests.redteam.test_worker_integrity import target as target  # noqa: F401 (fixture)

# Writes a forged "ok" frame to every descriptor it can write to, then ends the process.
FORGES_A_RESULT = candidate(
    """
    forged = json.dumps({"key": "guess", "result": {"verdict": {"ok": True, "kind": "ok"},
        "timings": {}}}).encode() + b"\\n"
    for name in os.listdir("/proc/self/fd"):
        try:
            os.write(int(name), forged)
        except OSError:
            pass
    os._exit(0)
    """,
    top="import json\nimport os\n",
)

# Reaches the worker through gc and makes its in-process checks say "match" and "nothing
# patched": every check inside the candidate's process is fooled; the judge is not.
FOOLS_THE_WORKER = candidate(
    """
    import gc
    from pragma_kernels.compare import Comparison
    for thing in gc.get_objects():
        if type(thing).__name__ == "Harness":
            thing.compare_outputs = lambda *a, **k: Comparison(None, max_abs_err=0.0)
            thing.patched = lambda: []
    return torch.zeros_like(x)
    """
)

# Right on the three verification calls, then 60 s per call.
SLOW_AFTER_VERIFY = candidate(
    """
    calls[0] += 1
    if calls[0] > 3:
        time.sleep(60)
    return torch.relu(x)
    """,
    top=COUNTER + "import time\n",
)


def test_a_result_needs_the_key_and_comes_once():
    result = JobResult(verdict=Verdict(ok=True, kind=VerdictKind.OK))
    good = channel.frame("k1", result)
    assert isinstance(channel.parse(good, "k1"), JobResult)
    assert channel.parse(b"", "k1") is None
    assert "key" in channel.parse(good, "k2")
    assert "2 results" in channel.parse(good + good, "k1")
    assert "parse" in channel.parse(b"{not json\n", "k1")
    assert "malformed" in channel.parse(b'{"key": "k1", "result": {"timings": 3}}\n', "k1")


def test_outputs_travel_as_plain_bytes(tmp_path):
    outputs = [torch.randn(3, 4), torch.arange(5), torch.ones(2, dtype=torch.bfloat16)]
    shipping.ship(outputs, tmp_path, seed=7)
    back = shipping.receive(tmp_path, 7, "cpu")
    assert [type(t) for t in back] == [torch.Tensor] * 3
    assert all(torch.equal(a, b) for a, b in zip(outputs, back, strict=True))
    assert "no outputs" in shipping.receive(tmp_path, 8, "cpu")
    (tmp_path / "seed-7-0.bin").write_bytes(b"short")
    assert "bytes" in shipping.receive(tmp_path, 7, "cpu")
    with pytest.raises(shipping.Unshippable):
        shipping.ship(["not a tensor"], tmp_path, seed=9)


def test_large_outputs_are_judged_on_the_first_seed_and_the_recheck(tmp_path, monkeypatch):
    job = Job(action="attempt", problem="p.py", backend="cpp_cpu", solution="c.py",
              size="cpu", seeds=[11, 12, 13], outputs_dir=str(tmp_path))  # fmt: skip
    timed = JobResult(verdict=Verdict(ok=True, kind=VerdictKind.OK))
    timed.timings = {"candidate": None}
    shipping.ship([torch.zeros(64)], tmp_path, seed=11)  # 256 bytes for the first seed
    recheck = integrity.recheck_seed([11, 12, 13])
    assert judge.seeds_for(job, timed) == [11, 12, 13, recheck]
    monkeypatch.setattr(judge, "LARGE_OUTPUT_BYTES", 255)
    assert judge.seeds_for(job, timed) == [11, recheck]
    (tmp_path / "seed-11-0.bin").unlink()  # nothing shipped: every seed is asked for
    assert judge.seeds_for(job, timed) == [11, 12, 13, recheck]


def test_stage_limits_scale_with_the_reference():
    assert stage_limit_s("load problem", 0.01) is None
    assert stage_limit_s("candidate forward (trial 1, seed 5)", None) == FIRST_CALL_S
    assert stage_limit_s("candidate forward (trial 2, seed 6)", None) is None
    assert stage_limit_s("candidate forward (trial 2, seed 6)", 0.01) == STAGE_FLOOR_S + 0.5
    assert stage_limit_s("candidate re-check after timing (seed 1)", 1.0) == STAGE_FLOOR_S + 50
    assert stage_limit_s("first call: candidate", 0.1) == STAGE_FLOOR_S + 5
    assert stage_limit_s("first call: compile", 0.1) is None


@pytest.mark.slow
def test_a_forged_result_is_its_own_verdict(tmp_path, target):
    verdict = verify_source(tmp_path, FORGES_A_RESULT, target)
    assert verdict.kind == VerdictKind.RESULT_CHANNEL, verdict.model_dump_json(indent=1)
    assert "key" in verdict.message and verdict.remedy


@pytest.mark.slow
def test_ending_the_process_in_forward_is_blamed_on_the_candidate(tmp_path, target):
    verdict = verify_source(tmp_path, candidate("import os\nos._exit(0)"), target)
    assert verdict.kind == VerdictKind.RESULT_CHANNEL, verdict.model_dump_json(indent=1)
    assert "candidate forward" in verdict.message


@pytest.mark.slow
def test_the_judge_catches_what_fooled_the_worker(tmp_path, target):
    verdict = verify_source(tmp_path, FOOLS_THE_WORKER, target)
    assert verdict.kind == VerdictKind.NUMERICAL_MISMATCH, verdict.model_dump_json(indent=1)
    assert "clean process" in verdict.message


@pytest.mark.slow
def test_a_candidate_far_slower_than_the_reference_fails_in_seconds(tmp_path, target):
    start = time.monotonic()
    result = attempt(RELU, write(tmp_path, SLOW_AFTER_VERIFY), target)
    assert time.monotonic() - start < 40  # the job's own limit is 120 s
    error = result.timing_error or result.verdict
    assert error.kind == VerdictKind.TIMEOUT, error.model_dump_json(indent=1)
    assert "reference" in error.message
