"""Where an attempt stands: against the historical best, and the run's honest result (pure).

One notion of best everywhere (loop, trace, live view, summary, bench): the lowest
candidate median under the same timing protocol (records.is_better). Speedups are always
an attempt's own, against the baselines timed beside it; a re-timed eager is never divided
by another attempt's kernel time (that made a "234.43x" historical best out of a 36 ms
eager over a 0.154 ms kernel timed on a quiet machine).
"""

from __future__ import annotations

from pragma_kernels.agents.records import AttemptRecord, RunEnd, is_better
from pragma_kernels.diagnosis.compare import Attempt, Comparison, compare
from pragma_kernels.noise import change_words, within_noise
from pragma_kernels.profilers.schema import Profile

BASELINE_WORDS = {"eager": "eager", "compile": "torch.compile"}


def as_attempt(record: AttemptRecord, profiled: bool) -> Attempt:
    """The record as compare() reads it: the verifier's time with its spread, the speedups
    against its own baselines, and the profile when the mode shows one."""
    profile = record.profile if profiled and record.profile else Profile(tools=[], target="")
    baselines = {name: s for name in record.baselines_ms if (s := record.spread(name))}
    return Attempt(
        speedup=record.speedup or 0.0,
        profile=profile,
        diagnosis=record.diagnosis if profiled else None,
        label=f"attempt {record.number}",
        ms=record.spread(),
        speedups=record.speedups(),
        baselines=baselines,
    )


def compare_with_best(
    record: AttemptRecord, best: AttemptRecord, key_metrics: tuple[str, ...], profiled: bool
) -> Comparison:
    """The "Current vs best" block: times with spreads, speedups against both baselines as
    each was timed, the metric deltas that matter, and notes on moved baselines and
    distorted profiles."""
    comparison = compare(as_attempt(record, profiled), as_attempt(best, profiled), key_metrics)
    comparison.notes = baseline_notes(record, best)
    # The action is what the loop does (records.is_better), never a second opinion on best
    if is_better(record, best):
        tie = ", though within noise of it" if comparison.verdict == "within noise" else ""
        comparison.action = f"current becomes the best (lower median{tie})"
    else:
        comparison.action = "keep best"
    if profiled:
        for which in (record, best):
            if which.profile_note:
                comparison.notes.append(f"attempt {which.number}'s profile: {which.profile_note}")
    return comparison


def baseline_notes(record: AttemptRecord, best: AttemptRecord) -> list[str]:
    """A baseline that moved between the two attempts beyond its noise: the machine's state
    changed, so their times compare less well than their same-run speedups."""
    notes = []
    for name in record.baselines_ms:
        now, then = record.spread(name), best.spread(name)
        if now is None or then is None or within_noise(now, then):
            continue
        source = record.baseline_source or "measured"
        notes.append(
            f"{name} timed {now.median_ms:.4g} ms beside attempt {record.number} and "
            f"{then.median_ms:.4g} ms beside attempt {best.number} ({source}): the machine's "
            "state changed; each speedup is against the baseline timed beside its own kernel"
        )
    return notes


def run_end(
    records: list[AttemptRecord],
    best: AttemptRecord | None,
    allowed: int,
    stopped: str,
    baseline: str = "eager",
) -> RunEnd:
    """The honest result: a kernel is the result only when it is faster than `baseline`
    beyond the noise; otherwise "no faster kernel found", the best attempt kept to read."""
    end = RunEnd(attempts_allowed=allowed, attempts_made=len(records), stopped=stopped)
    if best is None:
        end.result = f"no correct kernel in {len(records)} attempts"
        return end
    end.best_attempt, end.best_ms, end.speedups = best.number, best.candidate_ms, best.speedups()
    end.best_timing = best.spread()
    end.baseline_timings = {name: s for name in best.baselines_ms if (s := best.spread(name))}
    end.speedup_notes = {n: note for n in end.speedups if (note := best.speedup_note(n))}
    end.faster_found = faster_than(best, baseline)
    against = speedup_words(best)
    if end.faster_found:
        end.result = f"attempt {best.number} is faster than {baseline}: {against}"
    else:
        base, mine = best.spread(baseline), best.spread()
        words = change_words(mine, base) if base and mine else ""
        standing = {"slower": "slower than", "within noise": "within noise of"}.get(
            words, "not timed against"
        )
        end.result = (
            f"no faster kernel found: the best correct attempt ({best.number}) is {standing} "
            f"{baseline} ({against}); keep using the reference"
        )
    return end


def faster_than(record: AttemptRecord, baseline: str = "eager") -> bool:
    """Faster than the baseline timed beside it, beyond the noise of both."""
    mine, theirs = record.spread(), record.spread(baseline)
    if mine is None or theirs is None:
        return False
    return change_words(mine, theirs) == "faster"


def speedup_words(record: AttemptRecord) -> str:
    """'2.91x vs eager, 0.98x vs torch.compile (within noise)' (or 'torch.compile not
    timed') and the time."""
    speedups = record.speedups()
    parts = [
        record.speedup_text(name, x, BASELINE_WORDS.get(name, name)) for name, x in speedups.items()
    ]
    if "compile" not in speedups:
        parts.append("torch.compile not timed")
    ms = record.spread()
    return ", ".join(parts) + (f"; {ms.render()}" if ms else "")


def why_lines(best: AttemptRecord) -> list[str]:
    """Why the best attempt runs at its speed: the profile rules' bottleneck with its
    evidence and next lever, and the Conductor's reading where it gave one."""
    lines = []
    diagnosis = best.diagnosis
    if diagnosis is not None:
        evidence = "; ".join(e.render() for e in diagnosis.evidence[:3])
        lines.append(
            f"Bottleneck of attempt {best.number} (profile rules): "
            f"{diagnosis.bottleneck.value} ({diagnosis.confidence:.2f})"
            + (f": {evidence}" if evidence else ": no metric passed a rule's threshold")
        )
        if diagnosis.hints:
            lines.append(f"Next lever: {diagnosis.hints[0]}")
    elif best.profile_error:
        lines.append(f"Attempt {best.number} was not profiled: {best.profile_error}")
    if best.advice is not None and best.advice.bottleneck and best.mode != "offline":
        lines.append(f"Conductor's analysis: {best.advice.bottleneck}")
    return lines


def summary_text(problem: str, end: RunEnd, best: AttemptRecord | None, run_dir: str) -> str:
    """summary.md: the result first, then why (the best's bottleneck), then what the run
    did."""
    lines = [f"# {problem}", "", f"Result: {end.result}.", ""]
    if best is not None and (why := why_lines(best)):
        lines += ["## Why", "", *(f"- {line}" for line in why), ""]
    lines.append(
        f"Attempts: {end.attempts_made} made of {end.attempts_allowed} allowed; "
        f"stopped: {end.stopped.removeprefix('stopped: ')}."
    )
    if best is not None:
        kept = "the result" if end.faster_found else "kept for reading, not a result"
        lines.append(f"Best attempt: {best.number} ({kept}): {run_dir}/best.py.")
    lines.append("Best means the lowest candidate median time under one timing protocol;")
    lines.append("speedups are against the baselines timed beside that candidate.")
    return "\n".join(lines) + "\n"
