"""PRAGMA's closed loop: Coder -> Verifier -> Profiler -> Conductor, up to N attempts.

Modes share the machinery: `pragma` (full: profile, diagnosis and the Conductor),
`no-profile` (N-PRAGMA: the Conductor sees correctness and time only), `single`
(no Conductor: the Coder sees its errors and time, KernelBench multi-turn
style), `offline` (no LLM: templates chosen by the rule diagnosis,
agents/offline_coder.py). Every attempt is persisted when it ends (agents/records.py); a run
resumes after its last persisted attempt. The historical best (code + profile) is kept and
shown to the Conductor; a spent LLM budget or a failing provider stops the run cleanly with
the best so far. Progress is reported as typed events (events.py): the run, each attempt
and each of its stages (code, verify, time, profile, diagnose, conduct) as they start and end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pragma_kernels.agents import prompts
from pragma_kernels.agents.advice import ConductorAdvice, parse_advice
from pragma_kernels.agents.extract import extract_candidate
from pragma_kernels.agents.offline_coder import OfflineCoder
from pragma_kernels.agents.records import AttemptRecord, RunDir, RunSettings, Usage, is_better
from pragma_kernels.agents.standing import compare_with_best, run_end, summary_text
from pragma_kernels.agents.trace import render_trace
from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluation.evaluator import Evaluation, Evaluator
from pragma_kernels.events import (
    AttemptFinished,
    AttemptStarted,
    Event,
    LlmRequestFinished,
    LlmRequestStarted,
    LlmRetry,
    OnEvent,
    RunFinished,
    RunStarted,
    Stage,
    StageFinished,
    StageStarted,
)
from pragma_kernels.llm import LLM, BudgetExhausted, LLMError, Message, Reply
from pragma_kernels.noise import Spread, speedup_note
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.verdict import VerdictKind, failure

MODES = ("pragma", "no-profile", "single", "offline")
T = TypeVar("T")


class StopRun(Exception):
    """The Coder has nothing more to try (the offline agent out of variants)."""


@dataclass
class LoopOptions:
    mode: str = "pragma"
    attempts: int = 15
    baseline: str = "eager"
    target_speedup: float | None = None  # stop once reached
    patience: int | None = None  # stop after this many attempts without a new best


@dataclass
class LoopContext:
    """The fixed texts the prompts are built from."""

    problem: prompts.ProblemView
    backend: str  # prompts.backend_rules(...)
    hardware: str
    timing: str = ""  # how candidates are timed (before the first attempt says it exactly)
    baselines: dict[str, Spread] = field(default_factory=dict)  # known before attempt 1


@dataclass(frozen=True)
class Written:
    """What the code stage produced: the Coder's prompt (the offline agent's decision, in
    words), its reply, the candidate in it, and the offline variant it came from."""

    prompt: str
    reply: Reply
    code: str | None
    variant: str | None = None

    def summary(self) -> str:
        source = f"offline variant {self.variant}" if self.variant else "LLM reply"
        cached = " (cached)" if self.reply.cached else ""
        found = "" if self.code is not None else ", no candidate in it"
        return f"{source}{cached}{found}"


@dataclass
class LoopResult:
    attempts: list[AttemptRecord]
    best: AttemptRecord | None
    stopped: str  # why the loop ended
    run_dir: Path
    usage: Usage = field(default_factory=Usage)
    summary: str = ""  # summary.md: the honest result in words


MAX_METRICS_PER_KERNEL = 40  # as Profile.render_text shows them


def shown_meanings(
    profile: Profile, full: frozenset[str] = frozenset(), limit: int = MAX_METRICS_PER_KERNEL
) -> dict[str, str]:
    """The glossary for the metrics a prompt shows, not every metric the profilers know:
    what each measures, and what high and low mean only for the `full` ones (cited by the
    diagnosis, key metrics). Whole entries for every shown metric were 54 % of a CPU
    Conductor prompt (14.4 of 26.6 KB, hand-answered review)."""
    shown = [*profile.metrics, *(m for k in profile.kernels for m in k.metrics[:limit])]
    return {
        m.name: m.meaning if m.name in full else m.meaning.split("; high:")[0]
        for m in shown
        if m.meaning
    }


class OptimizationLoop:
    def __init__(
        self,
        context: LoopContext,
        evaluator: Evaluator,
        coder: LLM | OfflineCoder,
        conductor: LLM | None,
        options: LoopOptions,
        run_dir: RunDir,
    ):
        if options.mode not in MODES:
            raise PragmaError(f"unknown mode {options.mode!r}. Fix: use one of {', '.join(MODES)}")
        if options.mode in ("pragma", "no-profile") and conductor is None:
            raise PragmaError(f"mode {options.mode!r} needs a Conductor LLM")
        self.context, self.evaluator, self.options, self.run_dir = (
            context,
            evaluator,
            options,
            run_dir,
        )
        self.coder, self.conductor = coder, conductor
        self.records: list[AttemptRecord] = []
        self.best: AttemptRecord | None = None
        self.on_event: OnEvent | None = None

    def run(self, settings: RunSettings, on_event: OnEvent | None = None) -> LoopResult:
        """Attempts until a stop reason; `on_event` hears the progress (events.py)."""
        self.on_event = on_event
        self.run_dir.start(settings)
        self.records = self.run_dir.attempts()  # resume after the last persisted attempt
        for record in self.records:
            if is_better(record, self.best):
                self.best = record
        self._emit(RunStarted(self.options.mode, self.options.attempts, len(self.records)))
        stopped = self._stop_reason()
        while stopped is None:
            number = len(self.records) + 1
            self._emit(AttemptStarted(number))
            try:
                record = self._attempt(number)
            except (BudgetExhausted, LLMError, StopRun) as exc:
                stopped = f"stopped: {exc}"
                break
            self.records.append(record)
            stopped = self._advise(record)  # compares with the best before this attempt
            if is_better(record, self.best):
                self.best = record
                self.run_dir.save_best(record.code or "")
            self.run_dir.save(record)
            self.run_dir.write_trace(render_trace(self.records, self.options.baseline))
            self._emit(AttemptFinished(record, self.best))
            stopped = stopped or self._stop_reason()
        end = run_end(
            self.records, self.best, self.options.attempts, stopped, self.options.baseline
        )
        summary = summary_text(self.context.problem.name, end, self.best, str(self.run_dir.path))
        self.run_dir.finish(settings, end, summary)
        self._emit(RunFinished(stopped, self.best))
        return LoopResult(
            self.records, self.best, stopped, self.run_dir.path, self._usage(), summary
        )

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _stage(
        self, number: int, stage: Stage, work: Callable[[], T], summary: Callable[[T], str]
    ) -> T:
        """Run one stage of attempt `number` between its StageStarted and StageFinished."""
        self._emit(StageStarted(number, stage))
        start = time.perf_counter()
        try:
            result = work()
        except Exception as exc:
            seconds = round(time.perf_counter() - start, 3)
            self._emit(StageFinished(number, stage, seconds, f"failed: {exc}"[:300]))
            raise
        seconds = round(time.perf_counter() - start, 3)
        self._emit(StageFinished(number, stage, seconds, summary(result)))
        return result

    def _stop_reason(self) -> str | None:
        if len(self.records) >= self.options.attempts:
            return f"all {self.options.attempts} attempts made"
        target = self.options.target_speedup
        if target and self.best and (self.best.speedup or 0) >= target:
            return f"target speedup {target:g}x reached"
        patience = self.options.patience
        if patience and self.records and self.best:
            since_best = len(self.records) - self.best.number
            if since_best >= patience:
                return f"no new best in {patience} attempts"
        return None

    def _usage(self) -> Usage:
        total = Usage()
        for record in self.records:
            total.input_tokens += record.usage.input_tokens
            total.output_tokens += record.usage.output_tokens
            total.cost_usd += record.usage.cost_usd
            total.cached_calls += record.usage.cached_calls
        return total

    # -- one attempt -----------------------------------------------------------------------
    def _facts(self) -> prompts.RunFacts:
        """Hardware, timing, baselines and attempts: in every Coder prompt."""
        timed = next((r for r in reversed(self.records) if r.timings or r.baselines_ms), None)
        if timed is not None:
            names = list(timed.baselines_ms)
            spreads = {n: s for n in names if (s := timed.spread(n)) is not None}
            timing = timed.timing_method
        else:
            spreads, timing = self.context.baselines, self.context.timing
        return prompts.RunFacts(
            hardware=self.context.hardware,
            timing=timing or self.context.timing,
            baselines="; ".join(f"{name} {s.render()}" for name, s in spreads.items()),
            attempt=len(self.records) + 1,
            attempts=self.options.attempts,
        )

    def _coder_prompt(self) -> str:
        ctx, facts = self.context, self._facts()
        if not self.records:
            return prompts.coder_first(ctx.problem, ctx.backend, facts)
        last = self.records[-1]
        previous = self._view(last)
        best = self.best if self.best is not None and self.best is not last else None
        if self.options.mode == "single":
            shown = self._view(best, profile=False) if best else None
            return prompts.single_revise(ctx.problem, ctx.backend, previous, facts, shown)
        advice = last.advice or ConductorAdvice()
        return prompts.coder_revise(
            ctx.problem,
            ctx.backend,
            previous,
            prompts.Advice(
                bottleneck=advice.bottleneck,
                actions=advice.actions,
                evidence=advice.evidence,
                comparison=advice.comparison,
                measured=last.comparison,
            ),
            facts,
            best=self._view(best, profile=False) if best else None,
        )

    def _write(self, number: int, usage: Usage) -> Written:
        """The code stage: the offline agent's next proposal, or the Coder LLM's reply."""
        if isinstance(self.coder, OfflineCoder):
            proposal = self.coder.propose(self.records)
            if proposal is None:
                raise StopRun("offline agent: every template variant has been tried")
            reply = Reply(text=f"```python\n{proposal.source}```")
            return Written(
                proposal.decision, reply, extract_candidate(reply.text), proposal.variant
            )
        prompt = self._coder_prompt()
        reply = self._chat(number, "Coder", self.coder, prompt, usage)
        return Written(prompt, reply, extract_candidate(reply.text))

    def _attempt(self, number: int) -> AttemptRecord:
        usage = Usage()
        written = self._stage(number, "code", lambda: self._write(number, usage), Written.summary)
        record = AttemptRecord(
            number=number,
            mode=self.options.mode,
            variant=written.variant,
            coder_prompt=written.prompt,
            coder_reply=written.reply.text,
            coder_reasoning=written.reply.reasoning,
            code=written.code,
            verdict=failure(VerdictKind.NO_CODE, "the reply held no ```python block with ModelNew"),
            usage=usage,
        )
        if record.code is not None:
            self._evaluate(record)
        return record

    def _advise(self, record: AttemptRecord) -> str | None:
        """The advice for the next attempt; a stop reason when the Conductor's call fails
        (the attempt, already verified and timed, is kept without advice)."""
        last = record.number >= self.options.attempts  # advice no Coder would read: not paid
        if self.options.mode in ("pragma", "no-profile") and self.conductor is not None:
            if last:
                return None
            try:
                self._stage(
                    record.number,
                    "conduct",
                    lambda: self._conduct(record, record.usage),
                    _advice_summary,
                )
            except (BudgetExhausted, LLMError, StopRun) as exc:
                return f"stopped: {exc}"
        elif self.options.mode == "offline" and record.diagnosis is not None:
            diagnosis = record.diagnosis
            record.advice = ConductorAdvice(
                bottleneck=f"{diagnosis.bottleneck.value} (rule diagnosis, no LLM)",
                evidence=[e.render() for e in diagnosis.evidence],
                actions=diagnosis.hints,
            )
        return None

    def _evaluate(self, record: AttemptRecord) -> None:
        path = self.run_dir.attempts_dir / f"{record.number:03d}.py"
        path.write_text(record.code or "")
        profiles = self.options.mode in ("pragma", "offline")
        asked = self._asked() if profiles else []
        evaluation = self._stage(
            record.number,
            "evaluate",
            lambda: self.evaluator.evaluate(path, asked, profiles),
            lambda done: _evaluation_summary(done, self.options.baseline),
        )
        record.verdict = evaluation.verdict
        record.harness_s = evaluation.seconds
        timed = evaluation.timed
        if timed is None:
            return
        record.speedup, record.candidate_ms, record.baseline_ms = (
            timed.speedup,
            timed.candidate_ms,
            timed.baseline_ms,
        )
        record.timing_method = timed.method
        record.baselines_ms = dict(timed.baselines_ms)
        record.timings, record.baseline_source = dict(timed.spreads), timed.baseline_source
        record.protocol = timed.protocol
        record.profile, record.profile_error = evaluation.profile, evaluation.profile_error
        record.profile_note = evaluation.profile_note
        record.diagnosis = evaluation.diagnosis

    def _asked(self) -> list[str]:
        """Metrics for this attempt's profile: what the Conductor asked for last time, and
        the counters that would confirm (or rule out) the last rule diagnosis."""
        last = self.records[-1] if self.records else None
        if last is None:
            return []
        from_conductor = last.advice.extra_metrics if last.advice else []
        from_rules = last.diagnosis.extra_metrics if last.diagnosis else []
        return list(dict.fromkeys([*from_conductor, *from_rules]))

    def _conduct(self, record: AttemptRecord, usage: Usage) -> ConductorAdvice:
        profiles = self.options.mode == "pragma"
        best = self.best if self.best is not None and self.best is not record else None
        record.comparison = ""
        if record.correct and best is not None:
            record.comparison = compare_with_best(
                record, best, self.evaluator.key_metrics, profiles
            ).render_text()
        meanings = {}
        if profiles and record.profile:
            cited = {e.metric for e in record.diagnosis.evidence} if record.diagnosis else set()
            full = frozenset({*cited, *self.evaluator.key_metrics})
            meanings = shown_meanings(record.profile, full)
        record.conductor_prompt = prompts.conductor(
            self.context.problem,
            self.context.hardware,
            self._view(record),
            self._view(best) if best else None,
            meanings,
            record.comparison,
            profiles=profiles,
            attempts_left=self.options.attempts - record.number,
            timing=record.timing_method,
        )
        reply = self._chat(
            record.number, "Conductor", self.conductor, record.conductor_prompt, usage
        )
        record.conductor_reply = reply.text
        record.advice = parse_advice(reply.text)
        return record.advice

    def _view(self, record: AttemptRecord, profile: bool = True) -> prompts.AttemptView:
        profiles = self.options.mode == "pragma" and profile
        verdict = record.verdict
        detail = ""
        if not verdict.ok:
            detail = f"Likely cause: {verdict.cause}\nRemedy: {verdict.remedy}"
            if verdict.stderr_tail:
                detail += f"\nOutput tail:\n{verdict.stderr_tail[-1500:]}"
        return prompts.AttemptView(
            number=record.number,
            code=record.code or record.coder_reply[-3000:],
            outcome=record.outcome(self.options.baseline),
            verdict_detail=detail,
            profile=record.profile.render_text(meanings=False)
            if profiles and record.profile
            else "",
            diagnosis=record.diagnosis.render_text() if profiles and record.diagnosis else "",
            profile_note=record.profile_note if profiles else "",
        )

    def _chat(self, number: int, role: str, llm: LLM, prompt: str, usage: Usage) -> Reply:
        """One LLM call between its LlmRequestStarted and LlmRequestFinished, with an LlmRetry
        per retry the SDK makes: a call can wait minutes, and the live view says so."""
        retries = llm.settings.max_retries
        self._emit(LlmRequestStarted(number, role, retries))
        start = time.perf_counter()

        def on_try(count: int) -> None:
            if count > 1:
                self._emit(LlmRetry(number, role, count - 1, retries))

        try:
            reply = llm.chat([Message(role="user", content=prompt)], on_try=on_try)
        except Exception as exc:
            seconds = round(time.perf_counter() - start, 3)
            self._emit(LlmRequestFinished(number, role, seconds, f"failed: {exc}"[:300]))
            raise
        outcome = "cached" if reply.cached else f"{reply.output_tokens} tokens out"
        self._emit(LlmRequestFinished(number, role, round(time.perf_counter() - start, 3), outcome))
        usage.input_tokens += reply.input_tokens
        usage.output_tokens += reply.output_tokens
        usage.cost_usd += reply.cost_usd
        usage.cached_calls += int(reply.cached)
        return reply


def _evaluation_summary(evaluation: Evaluation, baseline: str = "eager") -> str:
    """How far the candidate got: its verdict, its speedup (over `baseline`, with what it is
    worth), its bottleneck."""
    if not evaluation.verdict.ok:
        return evaluation.verdict.summary()[:300]
    timed = evaluation.timed
    if timed is None or timed.speedup is None or timed.candidate_ms is None:
        return f"correct, not timed: {timed.method if timed else ''}"[:300]
    spread = timed.spreads.get("candidate")
    ms = spread.render() if spread else f"{timed.candidate_ms:.4g} ms"
    eager = timed.spreads.get("eager") if baseline != "eager" else None
    note = speedup_note(spread, timed.spreads.get(baseline), eager)
    parts = [
        f"correct, {ms}, {timed.speedup:.2f}x vs the baseline timed beside it"
        + (f" ({note})" if note else "")
    ]
    if evaluation.diagnosis is not None:
        diagnosis = evaluation.diagnosis
        parts.append(f"{diagnosis.bottleneck.value} ({diagnosis.confidence:.2f})")
    elif evaluation.profile_error:
        parts.append(f"no profile: {evaluation.profile_error}"[:200])
    return "; ".join(parts)


def _advice_summary(advice: ConductorAdvice) -> str:
    return advice.bottleneck[:200] or "no bottleneck named"
