"""Current attempt vs historical best: verdict, action, and the metrics that explain it."""

from pragma_kernels.diagnosis import rules
from pragma_kernels.diagnosis.compare import CPU_KEY_METRICS, Attempt, compare
from pragma_kernels.noise import Spread
from pragma_kernels.profilers.schema import KernelProfile, Metric, Profile

CACHEGRIND = {"profiler": "cachegrind", "source": "cachegrind"}


def diagnose(profile: Profile, sm_count: int | None = None, source: str = ""):
    """The rule set a backend would pass: these tests build their profiles for one of them."""
    rule_set = rules.TRITON_RULES if profile.target == "gpu" else rules.CPP_RULES
    return rules.diagnose(profile, rule_set, sm_count, source)


def cpu(mispredicts: float, d1: float, time_ms: float) -> Profile:
    return Profile(
        tools=["cachegrind"],
        target="cpu",
        metrics=[
            Metric(name="time_ms", value=time_ms, unit="ms", profiler="static_cpu", source="timing")
        ],
        kernels=[
            KernelProfile(
                name="f",
                metrics=[
                    Metric(name="branch_mispredict_rate", value=mispredicts, **CACHEGRIND),
                    Metric(name="D1_miss_rate", value=d1, **CACHEGRIND),
                ],
            )
        ],
    )


def test_fixed_twin_is_improved_and_the_planted_metric_is_named_first():
    planted, fixed = cpu(0.21, 0.011, 9.0), cpu(0.002, 0.010, 3.0)
    best = Attempt(speedup=1.1, profile=planted, diagnosis=diagnose(planted))
    current = Attempt(speedup=3.3, profile=fixed, diagnosis=diagnose(fixed))
    result = compare(current, best, CPU_KEY_METRICS)
    assert result.verdict == "improved" and result.action == "mark current as new best"
    assert result.deltas[0].metric == "branch_mispredict_rate"  # the diagnosis' evidence
    text = result.render_text()
    assert text.splitlines()[0].startswith("Historical best: speedup 1.10x")
    assert "branch_mispredict_rate 0.21 -> 0.002 (-99%)" in text
    assert text.endswith("Action: mark current as new best.")


def test_changes_inside_the_noise_band_keep_the_best():
    profile = cpu(0.01, 0.01, 3.0)
    result = compare(Attempt(2.02, profile), Attempt(2.0, profile))
    assert result.verdict == "within noise" and result.action == "keep best"
    assert not result.deltas
    assert compare(Attempt(1.5, profile), Attempt(2.0, profile)).verdict == "regressed"


def test_with_times_the_verdict_is_on_ms_and_their_spreads_not_on_speedups():
    """Speedups against different eager timings say 'improved'; the kernels' times, whose
    IQRs overlap, say 'within noise'; the profile's own time_ms is not a delta beside them."""
    best_profile, current_profile = cpu(0.01, 0.01, 0.09), cpu(0.01, 0.02, 7.9)
    best = Attempt(2.2, best_profile, ms=Spread(median_ms=0.090, iqr_ms=0.010))
    current = Attempt(3.0, current_profile, ms=Spread(median_ms=0.096, iqr_ms=0.008))
    result = compare(current, best, CPU_KEY_METRICS)
    assert result.verdict == "within noise" and result.action == "keep best"
    assert [d.metric for d in result.deltas] == ["D1_miss_rate"]  # no time_ms delta
    slower = Attempt(3.0, current_profile, ms=Spread(median_ms=0.150, iqr_ms=0.004))
    assert compare(slower, best).verdict == "regressed"
    faster = Attempt(1.0, current_profile, ms=Spread(median_ms=0.050, iqr_ms=0.004))
    assert compare(faster, best).verdict == "improved"
    text = compare(faster, best).render_text()
    assert "0.05 ms (median, IQR 0.004 ms" in text and "-44% time" in text


def test_each_side_marks_a_speedup_inside_its_baselines_noise():
    """Finding 10: 'Current vs best' said "1.00x vs eager (eager 16.48 ms)" with overlapping
    IQRs; each side's speedup now says so, by the same criterion as the verdict."""
    eager = Spread(median_ms=16.48, iqr_ms=12.0)
    ms = Spread(median_ms=16.4, iqr_ms=0.5)
    side = Attempt(
        1.0, cpu(0.01, 0.01, 16), ms=ms, speedups={"eager": 1.0}, baselines={"eager": eager}
    )
    tight = Spread(median_ms=32.0, iqr_ms=0.5)
    best = Attempt(
        2.0,
        cpu(0.01, 0.01, 8),
        ms=Spread(median_ms=8.0, iqr_ms=0.1),
        speedups={"eager": 4.0},
        baselines={"eager": tight},
    )
    text = compare(side, best).render_text()
    assert "1.00x vs eager (eager 16.48 ms, within noise)" in text
    assert "4.00x vs eager (eager 32 ms)" in text
