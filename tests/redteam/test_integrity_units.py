"""The integrity checks' pure parts, in-process (the worker-level cases run isolated in
test_worker_integrity.py)."""

from __future__ import annotations

import subprocess
import threading
import time

import torch

from pragma_kernels import compare
from pragma_kernels.evaluation import integrity


def test_harness_names_what_was_rebound(monkeypatch):
    harness = integrity.Harness(integrity.harness_names())
    assert harness.patched() == []
    monkeypatch.setattr(compare, "compare_outputs", lambda *a: None)
    monkeypatch.setattr(time, "perf_counter", lambda: 0.0)
    assert set(harness.patched()) == {
        "pragma_kernels.compare.compare_outputs",
        "time.perf_counter",
    }
    assert harness.compare_outputs is not compare.compare_outputs  # the captured one


def test_harness_sees_a_replaced_class_method(monkeypatch):
    class Box:
        def run(self):
            return 1

    harness = integrity.Harness(integrity.harness_names(Box))
    monkeypatch.setattr(Box, "run", lambda self: 2)
    assert harness.patched() == ["test_harness_sees_a_replaced_class_method.<locals>.Box.run"]


class Sub(torch.Tensor):
    pass


def test_output_problem_refuses_subclasses_and_other_devices():
    ref = torch.zeros(3)
    assert integrity.output_problem(ref, torch.ones(3)) is None
    assert "subclass" in integrity.output_problem(ref, torch.ones(3).as_subclass(Sub))
    assert "output 1" in integrity.output_problem((ref, ref), (ref, ref.as_subclass(Sub)))
    assert "device" in integrity.output_problem(ref, torch.ones(3, device="meta"))
    assert "strided" in integrity.output_problem(ref, torch.ones(3).to_sparse())
    assert integrity.output_problem(ref, "text") is None  # compare.py names the structure


def test_changed_inputs_is_nan_aware_and_follows_the_reference():
    x = torch.tensor([1.0, float("nan"), 3.0])
    assert integrity.changed_inputs([x, 2], [x.clone(), 2]) == []
    assert integrity.changed_inputs([x], [torch.tensor([1.0, float("nan"), 4.0])]) == [0]
    assert integrity.changed_inputs([x], [torch.tensor([1.0, 0.0, 3.0])]) == [0]
    assert integrity.changed_inputs([x], [x[:2].clone()]) == [0]  # resized
    assert integrity.changed_inputs([torch.arange(3)], [torch.arange(3)]) == []


def test_new_activity_sees_threads_and_child_processes():
    before = integrity.Activity.now()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    child = subprocess.Popen(["sleep", "5"])
    try:
        found = integrity.new_activity(before, integrity.Activity.now())
        assert found and "1 new Python thread" in found and str(child.pid) in found
    finally:
        stop.set()
        thread.join()
        child.kill()
        child.wait()
    assert integrity.new_activity(before, integrity.Activity.now()) is None


def test_threads_started_without_the_candidates_code_on_the_stack_are_not_its(tmp_path):
    """The timing window runs torch.compile's baseline too, which may start threads of its
    own; only a thread the candidate's code started counts against it."""
    candidate = tmp_path / "candidate.py"
    source = "def forward(start):\n    start()\n"
    namespace: dict = {}
    exec(compile(source, str(candidate), "exec"), namespace)
    stop = threading.Event()
    library_thread = threading.Thread(target=stop.wait)
    candidate_thread = threading.Thread(target=stop.wait)
    before = integrity.Activity.now()
    try:
        with integrity.ThreadStarts(str(candidate)) as starts:
            library_thread.start()
            namespace["forward"](candidate_thread.start)
        assert starts.not_candidates == {library_thread.ident}
        found = integrity.new_activity(before, integrity.Activity.now(), starts.not_candidates)
        assert found == "1 new Python thread(s) still alive"
        assert "recorded_start" not in repr(threading.Thread.start)  # restored
    finally:
        stop.set()
        library_thread.join()
        candidate_thread.join()


def test_recheck_seed_is_new():
    seeds = [3, 17, 5]
    assert integrity.recheck_seed(seeds) not in seeds


def test_the_cache_probe_reads_the_fastest_calls_so_waits_do_not_fake_a_cache():
    from pragma_kernels.evaluation.integrity import caches_outputs

    honest = 0.002  # seconds per call; a loaded machine adds 12 ms waits to most refilled calls
    assert caches_outputs([honest] * 9, [honest + 0.012] * 6 + [honest] * 3) is None
    cached = [0.0001] * 9  # every call on unchanged inputs returns a stored output
    assert "reuses earlier results" in caches_outputs(cached, [honest] * 9)
