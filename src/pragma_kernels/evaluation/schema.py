"""The wire schema between the caller and an isolated worker: a Job in, a JobResult out.

The job travels as JSON through a descriptor (or the fork server's request), the
result as one framed JSON message over a descriptor the parent owns (channel.py). The action
is a Literal, the timing protocol a tagged union (timing_protocols.py), so a
malformed job fails validation in the parent, not half-way through the worker.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, field_validator

from pragma_kernels.evaluation.static_checks import Finding
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.static_policy import StaticPolicy
from pragma_kernels.timing import Timing
from pragma_kernels.timing_protocols import TimingProtocol
from pragma_kernels.verdict import Verdict

Action = Literal["verify", "time", "profile", "attempt", "judge"]
Dtype = Literal["float32", "float16", "bfloat16"]
Baseline = Literal["eager", "compile", "compile-max-autotune"]
BASELINES: tuple[str, ...] = ("eager", "compile", "compile-max-autotune")
DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")


class Job(BaseModel):
    """One worker run. `attempt` = verify, then (if correct) time, then profile, in one
    process: what one loop attempt needs, paying the start-up and input generation once."""

    action: Action
    problem: str
    backend: str  # backends.get(name)
    solution: str | None = None
    size: str | None = None
    dtype: Dtype | None = None  # None: the problem's own dtypes; a name: cast inputs, weights
    threads: int = 1
    seeds: list[int] = [0, 1, 2]
    atol: float | None = None  # None: compare.default_tolerance of the dtype compared
    rtol: float | None = None
    baselines: list[Baseline] = ["eager"]  # time, attempt
    repeats: int = 1  # time: measure this many times in the same worker
    protocol: TimingProtocol | None = None  # time, attempt: None -> the backend's default
    # attempt: baselines from the cache (eager among them), checked by a short eager probe
    cached_baselines: dict[str, Timing] = {}
    drift_probe_s: float = 0.25
    drift_tolerance: float = 0.10
    metrics: list[str] = []  # profile, attempt: extra metrics asked for by name
    profile: bool = True  # attempt: profile after timing (False: verify and time only)
    progress_path: str = ""
    outputs_dir: str = ""  # where the worker ships the candidate's outputs for the judge
    key: str = ""  # the result channel's per-job key (channel.py); the worker strips it
    env: dict[str, str] = {}  # extra environment for the worker process
    # Overrides of the backend's static policy: "RULE" (warn), "RULE=off|warn|error", "all".
    allow: list[str] = []

    @field_validator("allow")
    @classmethod
    def _known_rules(cls, allow: list[str]) -> list[str]:
        StaticPolicy().relaxed(allow)  # an unknown rule fails here, in the parent
        return allow


class JobResult(BaseModel):
    verdict: Verdict  # the correctness verdict (verify, attempt) or the stage's outcome
    timings: dict[str, Timing] = {}
    repeats: list[dict[str, Timing]] = []  # every measurement when the job asked for repeats
    timing_error: Verdict | None = None  # attempt: timing failed after a correct verify
    baseline_source: Literal["", "measured", "cached", "re-timed"] = ""  # attempt
    drift: float | None = None  # attempt: eager probe vs the cached eager, -0.05 = 5 % faster
    profile: Profile | None = None
    profile_error: Verdict | None = None  # attempt: profiling failed (the rest stands)
    stage_seconds: dict[str, float] = {}  # where the worker's time went, by stage
    static_warnings: list[Finding] = []  # findings the policy warns about (not failing)

    def breakdown(self) -> dict[str, float]:
        """Stage seconds plus the process start (interpreter, imports) the stages do not see."""
        start = (self.verdict.seconds or 0.0) - sum(self.stage_seconds.values())
        return {"worker start-up and imports": round(max(start, 0.0), 2), **self.stage_seconds}
