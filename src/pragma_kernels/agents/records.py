"""What the loop keeps of each attempt, and where: one JSON record and the candidate file per
attempt, written as soon as the attempt ends, so a killed run loses nothing and resumes.

    RUN/run.json                the run's settings (problem, target, mode, models)
    RUN/attempts/NNN.json       the attempt's record (prompts, replies, verdict, timing, ...)
    RUN/attempts/NNN.py         the candidate the attempt produced
    RUN/best.py                 the best correct candidate so far (a standalone solution)
    RUN/trace.md                the reasoning trace, PRAGMA Listing-1 style
    RUN/summary.md              the result: the best's speedups, or "no faster kernel found"
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from pragma_kernels.agents.advice import ConductorAdvice
from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.noise import Spread, speedup_note
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.verdict import Verdict


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0


class AttemptRecord(BaseModel):
    number: int
    coder_prompt: str  # the offline agent's: its decision, in words
    coder_reply: str
    coder_reasoning: str = ""
    code: str | None  # None: the reply held no usable candidate
    verdict: Verdict
    speedup: float | None = None  # over the baseline, when correct and timed
    candidate_ms: float | None = None
    baseline_ms: float | None = None
    baselines_ms: dict[str, float] = {}  # every baseline timed with the candidate (eager, compile)
    timing_method: str = ""
    # Every timing with its spread ("candidate", "eager", "compile"), the baselines' source
    # (measured, cached, re-timed) and the candidate's timing protocol
    timings: dict[str, Spread] = {}
    baseline_source: str = ""
    protocol: str = ""
    profile: Profile | None = None
    profile_error: str = ""  # why profiling failed, when it did
    profile_note: str = ""  # why the profile may be distorted (taken on a loaded machine)
    harness_s: dict[str, float] = {}  # where the evaluation's time went, by stage
    diagnosis: Diagnosis | None = None
    conductor_prompt: str = ""
    conductor_reply: str = ""
    advice: ConductorAdvice | None = None
    comparison: str = ""
    usage: Usage = Usage()
    mode: str = ""  # the loop's mode (pragma, no-profile, single, offline)
    variant: str | None = None  # the offline template variant the candidate was written from

    @property
    def correct(self) -> bool:
        return self.verdict.ok and self.code is not None

    def spread(self, label: str = "candidate") -> Spread | None:
        """A timing with its spread; records from before spreads: the median alone."""
        if label in self.timings:
            return self.timings[label]
        median = self.candidate_ms if label == "candidate" else self.baselines_ms.get(label)
        return Spread(median_ms=median) if median else None

    def speedups(self) -> dict[str, float]:
        """Against every baseline timed beside this candidate (never another attempt's)."""
        if not self.correct or not self.candidate_ms:
            return {}
        baselines = self.baselines_ms or (
            {"baseline": self.baseline_ms} if self.baseline_ms else {}  # older records
        )
        return {name: ms / self.candidate_ms for name, ms in baselines.items() if ms}

    def speedup_note(self, name: str) -> str:
        """'within noise', 'implausible baseline: ...' or '' for the speedup over baseline
        `name` (noise.speedup_note)."""
        eager = self.spread("eager") if name != "eager" else None
        return speedup_note(self.spread(), self.spread(name), eager)

    def speedup_text(self, name: str, speedup: float, shown: str | None = None) -> str:
        """'0.72x vs eager (within noise)': the speedup with what it is worth; `shown`: the
        baseline's name as the reader knows it."""
        note = self.speedup_note(name)
        return f"{speedup:.2f}x vs {shown or name}" + (f" ({note})" if note else "")

    def outcome(self, baseline: str) -> str:
        """The verdict, the time with its spread, and each baseline timed beside it."""
        if not self.correct:
            return f"failed: {self.verdict.summary()[:600]}"
        spread = self.spread()
        if spread is None:
            return "correct"
        text = f"correct, {spread.render()}"
        speedups = self.speedups() or ({baseline: self.speedup} if self.speedup else {})
        for name, speedup in speedups.items():
            base = self.spread(name)
            timed = f", {name} {base.render()}" if base else ""
            text += f"; {self.speedup_text(name, speedup)}{timed}"
        return text


def is_better(record: AttemptRecord, best: AttemptRecord | None) -> bool:
    """The one notion of best: the lowest candidate median time under the same timing
    protocol. The baseline may be re-timed between attempts and move, so a speedup can rise
    while the kernel got slower; only across protocols (a resumed run on other settings)
    does the speedup against the same-run baseline decide."""
    if not record.correct:
        return False
    if best is None:
        return True
    same_protocol = record.protocol == best.protocol or not (record.protocol and best.protocol)
    if record.candidate_ms and best.candidate_ms and same_protocol:
        return record.candidate_ms < best.candidate_ms
    return (record.speedup or 0.0) > (best.speedup or 0.0)


class RunEnd(BaseModel):
    """How the run ended, in run.json: attempts made against those allowed, why it
    stopped, and the honest result (agents/standing.py)."""

    attempts_allowed: int
    attempts_made: int
    stopped: str
    faster_found: bool = False
    result: str = ""  # the summary's sentence: the best's speedups, or "no faster kernel"
    best_attempt: int | None = None
    best_ms: float | None = None
    # The best's time and its baselines' with their spreads (IQR, min, n): best_ms alone
    # cannot say whether a speedup is beyond the noise
    best_timing: Spread | None = None
    baseline_timings: dict[str, Spread] = {}
    speedups: dict[str, float] = {}  # the best's, against each baseline timed beside it
    # What a speedup is worth where it is not a plain gain: "within noise", "implausible ..."
    speedup_notes: dict[str, str] = {}


class RunSettings(BaseModel):
    problem: str
    target: str
    mode: str
    attempts: int  # allowed (--attempts); those made and why the run stopped: RunEnd
    baseline: str = "eager"
    dtype: str = "auto"  # --dtype: a cast, or auto (the problem's own dtypes)
    coder_model: str = ""
    conductor_model: str = ""
    # Who wrote the replies: "model", "scripted", "hand-answered" (LLMSettings.replies), or
    # "offline" (templates, no LLM); a reader of the run must not take a scripted run's
    # result for a model's
    replies: str = "model"
    end: RunEnd | None = None  # written when the run stops


class RunDir:
    def __init__(self, path: Path):
        self.path = path
        self.attempts_dir = path / "attempts"

    def start(self, settings: RunSettings) -> None:
        """Create the run, or check that a resumed one is the same problem, target, mode and
        dtype (timings in another dtype are not comparable)."""
        marker = self.path / "run.json"
        if marker.exists():
            # Runs written before the dtype field cast everything to float32.
            saved = RunSettings.model_validate(
                {"dtype": "float32", **json.loads(marker.read_text())}
            )
            fields = ("problem", "target", "mode", "dtype")
            if any(getattr(saved, name) != getattr(settings, name) for name in fields):
                from pragma_kernels.errors import PragmaError

                raise PragmaError(
                    f"{self.path} holds a run of {saved.problem} ({saved.target}, "
                    f"{saved.mode}, --dtype {saved.dtype}). Fix: choose another --run-dir, "
                    "or the same problem, target, mode and --dtype to resume it"
                )
        self.attempts_dir.mkdir(parents=True, exist_ok=True)
        _write(marker, settings.model_copy(update={"end": None}).model_dump_json(indent=2))

    def finish(self, settings: RunSettings, end: RunEnd, summary: str) -> None:
        """run.json with how the run ended; summary.md with the result in words."""
        _write(
            self.path / "run.json",
            settings.model_copy(update={"end": end}).model_dump_json(indent=2),
        )
        _write(self.path / "summary.md", summary)

    def attempts(self) -> list[AttemptRecord]:
        """Every persisted attempt, in order (a resumed run continues after the last)."""
        if not self.attempts_dir.exists():
            return []
        marker = self.path / "run.json"
        mode = RunSettings.model_validate_json(marker.read_text()).mode if marker.exists() else ""
        return [
            AttemptRecord.model_validate(_upgrade(json.loads(path.read_text()), mode))
            for path in sorted(self.attempts_dir.glob("[0-9][0-9][0-9].json"))
        ]

    def save(self, record: AttemptRecord) -> None:
        stem = self.attempts_dir / f"{record.number:03d}"
        if record.code is not None:
            _write(stem.with_suffix(".py"), record.code)
        _write(stem.with_suffix(".json"), record.model_dump_json(indent=1))

    def save_best(self, code: str) -> None:
        _write(self.path / "best.py", code)

    def write_trace(self, text: str) -> None:
        _write(self.path / "trace.md", text)


LEGACY_VARIANT_MARK = "offline variant: "


def _upgrade(data: dict, mode: str) -> dict:
    """A record written before `mode` and `variant` were fields: the run's mode, and the
    variant read once from the decision text old offline runs wrote into the prompt, so
    that a resumed old run skips what it tried. Records with the fields are left alone."""
    data.setdefault("mode", mode)
    if isinstance(data.get("verdict"), dict):  # verdicts before dtype_cast: a float32 cast
        data["verdict"].setdefault("dtype_cast", True)
    if _legacy_profile(data.get("profile")):
        # Profiles from before the profiler registry name no profiler per metric: kept
        # out rather than guessed from their wording; the attempt's outcome stands.
        data["profile"], data["diagnosis"] = None, None
        data["profile_error"] = "profile written by an older version, not loaded on resume"
    prompt = data.get("coder_prompt", "")
    if "variant" not in data and LEGACY_VARIANT_MARK in prompt:
        data["variant"] = prompt.split(LEGACY_VARIANT_MARK, 1)[1].split()[0]
    return data


def _legacy_profile(profile: dict | None) -> bool:
    if not profile:
        return False
    metrics = [
        *profile.get("metrics", []),
        *(m for k in profile.get("kernels", []) for m in k.get("metrics", [])),
    ]
    return any("profiler" not in m for m in metrics) or any(
        "kind" not in u for u in profile.get("unavailable", [])
    )


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)  # a kill mid-write never leaves a half file
