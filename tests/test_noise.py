"""Noise made visible: spreads in text, "within noise", and the flag on a loaded profile."""

from __future__ import annotations

from pathlib import Path

from pragma_kernels.noise import (
    Spread,
    change_words,
    implausible,
    load_flag,
    speedup_note,
    within_noise,
)
from pragma_kernels.profilers.schema import Metric, Profile
from pragma_kernels.timing import summarise
from pragma_kernels.verdict import Verdict, VerdictKind


def test_a_timing_carries_its_spread_into_text():
    timing = summarise("candidate", [1e-4, 1.1e-4, 1.2e-4, 1.3e-4, 5e-4], 1)
    text = Spread.of(timing).render()
    assert text.startswith("0.12 ms (median, IQR 0.02 ms, min 0.1, n=5")
    assert "cached" in Spread.of(timing, "cached").render()
    assert "spread not recorded" in Spread(median_ms=1.0).render()


def test_overlapping_iqrs_or_a_tiny_difference_are_within_noise():
    a, b = Spread(median_ms=10.0, iqr_ms=2.0), Spread(median_ms=11.5, iqr_ms=2.0)
    assert within_noise(a, b) and change_words(a, b) == "within noise"
    tight = Spread(median_ms=10.0, iqr_ms=0.1), Spread(median_ms=10.2, iqr_ms=0.1)
    assert within_noise(*tight)  # 2 %: under the 3 % band
    apart = Spread(median_ms=6.5, iqr_ms=0.5), Spread(median_ms=36.0, iqr_ms=3.0)
    assert change_words(*apart) == "faster" and change_words(*reversed(apart)) == "slower"


def test_a_median_on_scheduler_waits_is_named_and_never_a_change():
    # The hand-answered run's softmax: byte-identical kernels on a loaded 2-core VM
    two = Spread(median_ms=11.99, iqr_ms=0.054, min_ms=3.983, samples=166)
    four = Spread(median_ms=15.98, iqr_ms=0.089, min_ms=7.944, samples=130)
    assert not two.waits and not four.waits  # 3x and 2x their mins: not flagged alone
    eager = Spread(median_ms=11.96, iqr_ms=4.5, min_ms=0.0558, samples=158)
    assert eager.waits and "214x its min" in eager.render() and "scheduler waits" in eager.render()
    kernel = Spread(median_ms=0.0229, iqr_ms=0.001, min_ms=0.0225, samples=100)
    assert change_words(kernel, eager) == "within noise"  # not "faster": the median misleads
    few = Spread(median_ms=12.0, iqr_ms=1.0, min_ms=0.05, samples=5)
    assert not few.waits  # too few samples to say


def test_a_loaded_machine_or_a_far_profile_time_is_flagged():
    assert load_flag(0.5, 2, 0.1, 0.09) == ""
    assert load_flag(3.1, 2) == "load average 3.1 on 2 cores"
    assert load_flag(2.4, 2, own_threads=2) == ""  # our own worker's two threads
    far = load_flag(None, 2, 7.999, 0.09)
    assert "7.999 ms against the verifier's 0.09 ms (88.9x)" in far


def _profile(time_ms: float) -> Profile:
    metric = Metric(name="time_ms", value=time_ms, unit="ms", profiler="static_cpu", source="t")
    return Profile(tools=["t"], target="cpu", metrics=[metric])


def test_a_distorted_profile_is_retaken_once_and_the_prompt_says_so(tmp_path):
    """LocalEvaluator's retake, with the worker and the load average replaced."""
    from pragma_kernels.evaluation.evaluator import Evaluation, LocalEvaluator, Timed
    from pragma_kernels.targets import Target

    loads = iter([4.0, 0.2])  # Target.cpu() runs the worker on up to 2 threads itself
    evaluator = LocalEvaluator(Path("p.py"), Target.cpu(), load=lambda: next(loads), cores=2)
    retakes = []

    def reprofile(candidate, metrics):
        retakes.append(metrics)
        return Verdict(ok=True, kind=VerdictKind.OK), _profile(0.1)

    evaluator.reprofile = reprofile
    evaluation = Evaluation(Verdict(ok=True, kind=VerdictKind.OK), Timed(1.0, 0.09, 0.09))
    profile, note = evaluator._steady_profile(Path("c.py"), _profile(8.0), ["x"], evaluation)
    assert retakes == [["x"]] and profile.metric("time_ms").value == 0.1
    assert note.startswith("re-taken once (the first was taken while load average 4.0")
    # still loaded on the retake: the faster take is kept, the note says it is distorted
    loads = iter([4.0, 4.0])
    profile, note = evaluator._steady_profile(Path("c.py"), _profile(8.0), [], evaluation)
    assert note.startswith("re-taken once, still distorted: load average 4.0 on 2 cores")
    assert profile.metric("time_ms").value == 0.1 and "8 and 0.1 ms, the retake kept" in note
    loads = iter([4.0, 4.0])
    profile, note = evaluator._steady_profile(Path("c.py"), _profile(0.05), [], evaluation)
    assert profile.metric("time_ms").value == 0.05 and "the first take kept" in note
    # a quiet machine and a consistent time: no retake
    loads, retakes[:] = iter([0.1]), []
    _, note = evaluator._steady_profile(Path("c.py"), _profile(0.1), [], evaluation)
    assert note == "" and retakes == []


def test_a_speedup_note_reuses_the_noise_criterion_and_flags_an_implausible_baseline():
    eager = Spread(median_ms=16.48, iqr_ms=12.0, min_ms=9.0, samples=40)
    kernel = Spread(median_ms=22.88, iqr_ms=1.0, min_ms=21.0, samples=40)
    assert speedup_note(kernel, eager) == "within noise"  # 6.4 ms inside eager's IQR
    assert speedup_note(kernel, Spread(median_ms=40.0, iqr_ms=1.0)) == ""
    assert speedup_note(None, eager) == "" and speedup_note(kernel, None) == ""
    tiny = Spread(median_ms=0.09, iqr_ms=0.001, min_ms=0.088, samples=100)
    compile_ = Spread(median_ms=40.06, iqr_ms=16.0, min_ms=12.08, samples=40)
    assert compile_.disturbed and not tiny.disturbed
    assert implausible(compile_, tiny).startswith("implausible baseline: 40.06 ms, 445x eager")
    assert speedup_note(tiny, compile_, tiny).startswith("implausible baseline")
    steady = Spread(median_ms=40.06, iqr_ms=0.5, min_ms=39.0, samples=40)
    assert implausible(steady, tiny) == ""  # slow but steady: a real (poor) baseline
    assert implausible(compile_, Spread(median_ms=10.0, iqr_ms=1.0)) == ""  # 4x: plausible
