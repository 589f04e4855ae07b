"""The loop's progress events: their order and content on an offline run with a fake
evaluator (no worker, so every stage is deterministic), a resumed run, and the Python API's
`on_event` / `on_attempt` on a real offline attempt."""

from __future__ import annotations

from pathlib import Path

from pragma_kernels import backends, optimize
from pragma_kernels.agents import prompts
from pragma_kernels.agents.offline_coder import OfflineCoder
from pragma_kernels.agents.records import RunDir, RunSettings
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.evaluation import Evaluation, Timed
from pragma_kernels.events import (
    STAGES,
    AttemptFinished,
    AttemptStarted,
    Event,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
)
from pragma_kernels.loop import LoopContext, LoopOptions, OptimizationLoop
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.verdict import Verdict, VerdictKind, failure

ROOT = Path(__file__).resolve().parent.parent
RELU = ROOT / "examples" / "problems" / "relu.py"  # 4 CPU variants
SETTINGS = RunSettings(problem=str(RELU), target="cpu", mode="offline", attempts=15)


class FakeEvaluator:
    """Verifier, Timer, Profiler and diagnosis without a worker: each timed attempt 10%
    faster than the last, a memory-bound diagnosis, a wrong result on the `wrong`th verify."""

    key_metrics = ()

    def __init__(self, wrong: int | None = None):
        self.wrong, self.verified, self.ms = wrong, 0, 1.0

    def evaluate(self, candidate: Path, metrics: list[str], profile: bool) -> Evaluation:
        self.verified += 1
        if self.verified == self.wrong:
            return Evaluation(failure(VerdictKind.NUMERICAL_MISMATCH, "values differ"))
        self.ms *= 0.9
        return Evaluation(
            Verdict(ok=True, kind=VerdictKind.OK),
            Timed(1.0 / self.ms, self.ms, 1.0, "fake"),
            Profile(tools=["fake"], target="cpu"),
            diagnosis=Diagnosis(bottleneck=B.MEMORY_BANDWIDTH, confidence=0.8),
        )


def offline_loop(run: Path, evaluator: FakeEvaluator, attempts: int = 15) -> OptimizationLoop:
    context = LoopContext(
        prompts.ProblemView("relu", "activation", "cpu", RELU.read_text()), "", ""
    )
    coder = OfflineCoder(recognise(RELU, "tiny"), backends.get("cpp-cpu"))
    options = LoopOptions(mode="offline", attempts=attempts)
    return OptimizationLoop(context, evaluator, coder, None, options, RunDir(run))


def shape(event: Event) -> tuple:
    """An event without its timings and records: what the order check compares."""
    match event:
        case RunStarted(mode=mode, attempts=attempts, resumed=resumed):
            return ("run", mode, attempts, resumed)
        case AttemptStarted(number=number):
            return ("attempt", number)
        case StageStarted(number=number, stage=stage):
            return ("start", number, stage)
        case StageFinished(number=number, stage=stage):
            return ("end", number, stage)
        case AttemptFinished(record=record, best=best):
            return ("done", record.number, best.number if best else None)
        case RunFinished(best=best):
            return ("stop", best.number if best else None)
    raise AssertionError(event)


def stages(number: int, *names: str) -> list[tuple]:
    return [part for name in names for part in (("start", number, name), ("end", number, name))]


def test_an_offline_run_reports_attempts_and_stages_in_order(tmp_path):
    events: list[Event] = []
    result = offline_loop(tmp_path / "run", FakeEvaluator(wrong=2)).run(SETTINGS, events.append)
    measured = ("code", "evaluate")  # offline: no conduct
    assert [shape(e) for e in events] == [
        ("run", "offline", 15, 0),
        ("attempt", 1), *stages(1, *measured), ("done", 1, 1),
        ("attempt", 2), *stages(2, *measured), ("done", 2, 1),  # wrong: not timed
        ("attempt", 3), *stages(3, *measured), ("done", 3, 3),
        ("attempt", 4), *stages(4, *measured), ("done", 4, 4),
        ("attempt", 5), *stages(5, "code"),  # out of variants: no attempt 5 is kept
        ("stop", 4),
    ]  # fmt: skip
    finished = [e for e in events if isinstance(e, StageFinished)]
    assert all(e.stage in STAGES and e.seconds >= 0 for e in finished)
    summaries = {(e.number, e.stage): e.summary for e in finished}
    assert summaries[1, "code"] == "offline variant omp-simd"
    assert summaries[2, "code"] == "offline variant omp-simd-stream"  # the diagnosis' choice
    assert summaries[2, "evaluate"].startswith("numerical_mismatch: values differ")
    assert summaries[1, "evaluate"] == (
        "correct, 0.9 ms, 1.11x vs the baseline timed beside it; memory_bandwidth_bound (0.80)"
    )
    assert summaries[5, "code"].startswith("failed: offline agent: every template variant")
    # run.json says how many attempts were made of those allowed, and why it stopped
    # (it said "attempts": 15 where the offline agent had 4 variants to run)
    import json

    end = json.loads((tmp_path / "run" / "run.json").read_text())["end"]
    assert (end["attempts_allowed"], end["attempts_made"]) == (15, 4)
    assert "every template variant has been tried" in end["stopped"]
    records = [e.record for e in events if isinstance(e, AttemptFinished)]
    assert records == result.attempts and events[-1] == RunFinished(result.stopped, result.best)
    assert [r.variant for r in records] == [
        "omp-simd",
        "omp-simd-stream",
        "omp-simd-fast-math",
        "serial-simd",
    ]
    assert {r.mode for r in records} == {"offline"}


def test_a_resumed_run_reports_what_it_holds_and_reads_the_variants_back(tmp_path):
    offline_loop(tmp_path / "run", FakeEvaluator(), attempts=2).run(SETTINGS)
    events: list[Event] = []
    offline_loop(tmp_path / "run", FakeEvaluator()).run(SETTINGS, events.append)
    assert [shape(e) for e in events[:2]] == [("run", "offline", 15, 2), ("attempt", 3)]
    variants = [e.record.variant for e in events if isinstance(e, AttemptFinished)]
    assert variants == ["omp-simd-fast-math", "serial-simd"]  # 1 and 2 were read from disk


def test_optimize_passes_events_and_attempts_to_its_callbacks(tmp_path):
    events: list[Event] = []
    attempts = []
    result = optimize(
        RELU,
        target="cpu",
        mode="offline",
        size="tiny",
        attempts=1,
        run_dir=tmp_path / "run",
        on_event=events.append,
        on_attempt=attempts.append,
    )
    assert attempts == result.attempts and len(attempts) == 1
    assert isinstance(events[0], RunStarted) and events[-1] == RunFinished(
        result.stopped, result.best
    )
    started = [e.stage for e in events if isinstance(e, StageStarted)]
    assert started == ["code", "evaluate"]  # offline: no conduct
    assert [e for e in events if isinstance(e, AttemptFinished)][0].record is attempts[0]


def test_the_cli_live_view_is_driven_by_the_events(tmp_path):
    import io

    from rich.console import Console

    from pragma_kernels.live import LiveView

    out = io.StringIO()
    view = LiveView(Console(file=out, width=200), "relu")
    offline_loop(tmp_path / "run", FakeEvaluator(wrong=2)).run(SETTINGS, view)
    text = out.getvalue()
    assert (
        "attempt 1: ok, 0.9 ms, 1.11x vs baseline (best #1, 0.9 ms), bottleneck "
        "memory_bandwidth_bound, variant omp-simd [" in text
    )
    assert "attempt 2: numerical_mismatch (best #1, 0.9 ms), variant omp-simd-stream [" in text
    assert "(best #4, 0.729 ms)" in text and view.table.row_count == 4
