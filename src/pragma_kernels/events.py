"""What the loop reports while it runs, for a live view or a library's own progress:
`optimize(..., on_event=callback)` calls `callback(event)` with each, in this order:

    RunStarted(mode, attempts, resumed)
    per attempt k:
        AttemptStarted(k)
        StageStarted(k, stage) ... StageFinished(k, stage, seconds, summary), per stage run:
            code -> evaluate -> conduct
        (inside `code` and `conduct`, per LLM call: LlmRequestStarted(k, role, retries),
        LlmRetry(k, role, retry, retries) as the SDK retries, LlmRequestFinished(k, role,
        seconds, outcome); a call can take minutes, so a live view shows it waiting)
        (`evaluate`: verify, time, profile and diagnose in the attempt's worker; its summary
        says how far the candidate got and its record's `harness_s` where the time went)
        AttemptFinished(record, best)       the attempt is persisted; `best` is the loop's
    RunFinished(stopped, best)

Stages a mode or an outcome skips are not reported (no code in the reply: no evaluate;
`single`: no conduct; `offline`: no conduct, its advice is the rule diagnosis'). An attempt
the run stops in (a spent budget, a failing provider, the offline agent out of variants)
ends with its stage's StageFinished ("failed: ...") and no AttemptFinished: it is not kept.
The callback runs in the loop's thread; what it raises stops the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pragma_kernels.agents.records import AttemptRecord

Stage = Literal["code", "evaluate", "conduct"]
STAGES: tuple[Stage, ...] = ("code", "evaluate", "conduct")


@dataclass(frozen=True)
class RunStarted:
    mode: str
    attempts: int  # at most, resumed ones included
    resumed: int  # attempts a resumed run already holds (their numbers: 1..resumed)


@dataclass(frozen=True)
class AttemptStarted:
    number: int


@dataclass(frozen=True)
class StageStarted:
    number: int
    stage: Stage


@dataclass(frozen=True)
class StageFinished:
    number: int
    stage: Stage
    seconds: float
    summary: str  # one line: "ok", "build: ...", "1.84x (0.21 ms)", "memory_bandwidth_bound"


@dataclass(frozen=True)
class AttemptFinished:
    record: AttemptRecord
    best: AttemptRecord | None  # the loop's best after this attempt (lowest own time)


@dataclass(frozen=True)
class RunFinished:
    stopped: str  # why the loop ended
    best: AttemptRecord | None


@dataclass(frozen=True)
class LlmRequestStarted:
    number: int  # the attempt
    role: str  # "Coder" | "Conductor"
    retries: int  # the retries the call may make (its settings' max_retries)


@dataclass(frozen=True)
class LlmRetry:
    number: int
    role: str
    retry: int  # 1 for the first retry (after a 429, a 5xx or a silent try)
    retries: int


@dataclass(frozen=True)
class LlmRequestFinished:
    number: int
    role: str
    seconds: float
    outcome: str  # "123 tokens out", "cached", "failed: ..."


Event = (
    RunStarted
    | AttemptStarted
    | StageStarted
    | StageFinished
    | AttemptFinished
    | RunFinished
    | LlmRequestStarted
    | LlmRetry
    | LlmRequestFinished
)
OnEvent = Callable[[Event], None]


def attempts_only(on_attempt: Callable[[AttemptRecord], None]) -> OnEvent:
    """An `on_attempt(record)` callback as an event listener (AttemptFinished only)."""

    def listen(event: Event) -> None:
        if isinstance(event, AttemptFinished):
            on_attempt(event.record)

    return listen


def fan_out(*listeners: OnEvent | None) -> OnEvent | None:
    """One listener calling each given one in turn (None: none given)."""
    given = [listener for listener in listeners if listener is not None]
    if not given:
        return None
    if len(given) == 1:
        return given[0]

    def listen(event: Event) -> None:
        for listener in given:
            listener(event)

    return listen
