"""A finished loop run as store rows (pure: records in, rows out)."""

from __future__ import annotations

from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.bench.store import AttemptRow, RunRow
from pragma_kernels.verdict import VerdictKind

# Kinds that mean the candidate never got as far as running (KernelBench's compile rate).
NOT_COMPILED = frozenset(
    {
        VerdictKind.NO_CODE,
        VerdictKind.SYNTAX,
        VerdictKind.BAD_FLAGS,
        VerdictKind.BUILD,
        VerdictKind.IMPORT,
        VerdictKind.MISSING_MODEL_NEW,
        VerdictKind.TRITON_COMPILE,
        VerdictKind.FORBIDDEN_CODE,
    }
)


def _ratio(base: float | None, candidate: float | None) -> float | None:
    return base / candidate if base and candidate and candidate > 0 else None


def attempt_row(problem: str, mode: str, record: AttemptRecord) -> AttemptRow:
    ms = record.candidate_ms if record.correct else None
    eager = record.baselines_ms.get("eager") or (
        record.baseline_ms if record.baseline_ms and not record.baselines_ms else None
    )
    compiled = record.baselines_ms.get("compile")
    return AttemptRow(
        problem=problem,
        mode=mode,
        number=record.number,
        kind=record.verdict.kind.value,
        ok=record.correct,
        compiled=record.code is not None and record.verdict.kind not in NOT_COMPILED,
        candidate_ms=ms,
        eager_ms=eager,
        compile_ms=compiled,
        speedup_eager=_ratio(eager, ms),
        speedup_compile=_ratio(compiled, ms),
        bottleneck=record.diagnosis.bottleneck.value if record.diagnosis else "",
        input_tokens=record.usage.input_tokens,
        output_tokens=record.usage.output_tokens,
        cost_usd=record.usage.cost_usd,
        harness_s=round(sum(record.harness_s.values()), 3),
    )


def run_row(
    problem: str,
    mode: str,
    attempts: list[AttemptRow],
    best: int | None,
    **fields,
) -> RunRow:
    """The run's summary; `best`: the number of the attempt the loop chose (None: no
    correct one). Its speedups are the best attempt's own, timed beside its baselines."""
    chosen = next((a for a in attempts if a.number == best), None)
    first = next((a.number for a in attempts if a.ok), None)
    return RunRow(
        problem=problem,
        mode=mode,
        attempts=len(attempts),
        best_attempt=chosen.number if chosen else None,
        best_ms=chosen.candidate_ms if chosen else None,
        eager_ms=chosen.eager_ms if chosen else None,
        compile_ms=chosen.compile_ms if chosen else None,
        speedup_eager=chosen.speedup_eager if chosen else None,
        speedup_compile=chosen.speedup_compile if chosen else None,
        first_correct=first,
        input_tokens=sum(a.input_tokens for a in attempts),
        output_tokens=sum(a.output_tokens for a in attempts),
        cost_usd=round(sum(a.cost_usd for a in attempts), 6),
        harness_s=round(sum(a.harness_s for a in attempts), 3),
        **fields,
    )
