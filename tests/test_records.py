"""Attempt records: the typed history (mode, variant) written to attempts/NNN.json and read
back on resume, including run directories written before those fields existed."""

from __future__ import annotations

import json

from pragma_kernels.agents.records import AttemptRecord, RunDir, RunSettings
from pragma_kernels.agents.trace import render_trace
from pragma_kernels.verdict import Verdict, VerdictKind

SETTINGS = RunSettings(problem="p.py", target="cpu", mode="offline", attempts=3)


def record(number: int, **fields) -> AttemptRecord:
    return AttemptRecord(
        number=number,
        coder_prompt=fields.pop("coder_prompt", ""),
        coder_reply="",
        code="x",
        verdict=Verdict(ok=True, kind=VerdictKind.OK),
        **fields,
    )


def test_mode_and_variant_round_trip_through_the_run_directory(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(SETTINGS)
    run.save(record(1, mode="offline", variant="omp-simd", coder_prompt="no marker here"))
    (loaded,) = run.attempts()
    assert (loaded.mode, loaded.variant) == ("offline", "omp-simd")


def test_an_old_run_directory_without_the_fields_still_loads(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(SETTINGS)
    old = [
        record(1, coder_prompt="offline agent (no LLM): ...; offline variant: omp-simd (x)"),
        record(2, coder_prompt="an LLM prompt"),
    ]
    for r in old:  # as written before mode and variant were fields
        data = json.loads(r.model_dump_json())
        del data["mode"], data["variant"]
        (run.attempts_dir / f"{r.number:03d}.json").write_text(json.dumps(data))
    first, second = run.attempts()
    assert (first.mode, first.variant) == ("offline", "omp-simd")  # from run.json, old text
    assert (second.mode, second.variant) == ("offline", None)


def test_the_trace_names_the_offline_decision():
    decided = record(1, variant="serial-simd", coder_prompt="offline variant: serial-simd (why)")
    assert "- Offline decision: offline variant: serial-simd (why)" in render_trace([decided], "e")
    assert "Offline decision" not in render_trace([record(1, coder_prompt="LLM prompt")], "e")


def test_an_old_profile_without_profiler_names_is_dropped_not_guessed(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(SETTINGS)
    data = json.loads(record(1).model_dump_json())
    data["profile"] = {  # as written before the profiler registry
        "tools": ["perf"],
        "target": "cpu",
        "metrics": [{"name": "time_ms", "value": 1.0, "unit": "ms", "source": "timing"}],
        "unavailable": [{"what": "top-down (perf)", "why": "no PMU", "source": "perf"}],
    }
    (run.attempts_dir / "001.json").write_text(json.dumps(data))
    (loaded,) = run.attempts()
    assert loaded.profile is None and loaded.verdict.ok
    assert "older version" in loaded.profile_error


def test_the_trace_names_the_best_the_loop_chose_by_time():
    """A higher speedup over a slower re-timed baseline is not a better kernel."""
    from pragma_kernels.agents.records import AttemptRecord
    from pragma_kernels.agents.trace import render_trace
    from pragma_kernels.verdict import Verdict, VerdictKind

    def attempt(number, ms, speedup):
        return AttemptRecord(
            number=number, coder_prompt="", coder_reply="", code="x", candidate_ms=ms,
            speedup=speedup, verdict=Verdict(ok=True, kind=VerdictKind.OK),
        )  # fmt: skip

    trace = render_trace([attempt(1, 0.031, 1.74), attempt(2, 0.035, 2.56)], "eager")
    assert trace.rstrip().endswith("Best so far: attempt 1 (0.031 ms)")
