"""What the loop keeps of each attempt, and where: one JSON record and the candidate file per
attempt, written as soon as the attempt ends, so a killed run loses nothing and resumes.

    RUN/run.json                the run's settings (problem, target, mode, models)
    RUN/attempts/NNN.json       the attempt's record (prompts, replies, verdict, timing, ...)
    RUN/attempts/NNN.py         the candidate the attempt produced
    RUN/best.py                 the best correct candidate so far (a standalone solution)
    RUN/trace.md                the reasoning trace, PRAGMA Listing-1 style
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from pragma_kernels.agents.advice import ConductorAdvice
from pragma_kernels.diagnosis.model import Diagnosis
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
    profile: Profile | None = None
    profile_error: str = ""  # why profiling failed, when it did
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

    def outcome(self, baseline: str) -> str:
        if not self.correct:
            return f"failed: {self.verdict.summary()[:600]}"
        speed = f", {self.speedup:.2f}x vs {baseline}" if self.speedup else ""
        return f"correct{speed} ({self.candidate_ms:.4g} ms)" if self.candidate_ms else "correct"


def is_better(record: AttemptRecord, best: AttemptRecord | None) -> bool:
    """By the candidate's own median time where both have one: the baseline is re-timed at
    every attempt and moves, so a speedup can rise while the kernel got slower."""
    if not record.correct:
        return False
    if best is None:
        return True
    if record.candidate_ms and best.candidate_ms:
        return record.candidate_ms < best.candidate_ms
    return (record.speedup or 0.0) > (best.speedup or 0.0)


class RunSettings(BaseModel):
    problem: str
    target: str
    mode: str
    attempts: int
    baseline: str = "eager"
    dtype: str = "auto"  # --dtype: a cast, or auto (the problem's own dtypes)
    coder_model: str = ""
    conductor_model: str = ""


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
        _write(marker, settings.model_dump_json(indent=2))

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
