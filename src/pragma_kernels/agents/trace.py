"""The run's reasoning trace (trace.md), in the spirit of PRAGMA's Listing 1: a table of the
attempts (times with spreads, each speedup in its baseline's column), then per attempt the
outcome, the diagnosis, the comparison with the historical best, the Conductor's analysis
and the actions handed to the Coder (pure).

"Best so far" is the loop's own choice (records.is_better: the lowest candidate time under
one protocol), never the highest speedup: a trace once said "attempt 1 (2.91x)" while the
run had chosen attempt 2, faster in ms against a slower-timed eager.
"""

from __future__ import annotations

from pragma_kernels.agents.records import AttemptRecord, is_better


def table(records: list[AttemptRecord]) -> list[str]:
    """One row per attempt: candidate ms (IQR), each baseline's ms (IQR) and the speedup over
    it (with "within noise" where the two overlap), and the best so far as the loop chose
    it."""
    names = list(dict.fromkeys(n for r in records for n in r.baselines_ms)) or ["eager"]
    head = ["attempt", "verdict", "candidate ms (IQR)"]
    for name in names:
        head += [f"{name} ms (IQR)", f"vs {name}"]
    lines = ["| " + " | ".join([*head, "best so far"]) + " |"]
    lines.append("|" + "---|" * (len(head) + 1))
    best: AttemptRecord | None = None
    for record in records:
        if is_better(record, best):
            best = record
        spread = record.spread() if record.correct else None
        cells = [str(record.number), record.verdict.kind.value]
        cells.append(_ms_cell(spread))
        speedups = record.speedups()
        for name in names:
            cells.append(_ms_cell(record.spread(name) if record.correct else None))
            cells.append(_speedup_cell(record, name, speedups.get(name)))
        cells.append(f"attempt {best.number}" if best else "none correct yet")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_trace(records: list[AttemptRecord], baseline: str) -> str:
    lines = ["# Optimisation trace", ""]
    lines += table(records)
    lines.append("")
    lines.append(
        "Best: the lowest candidate median time under one timing protocol; each speedup is "
        "against the baseline timed beside that candidate."
    )
    lines.append("")
    best: AttemptRecord | None = None
    for record in records:
        if is_better(record, best):  # as the loop chooses: by the kernel's own time
            best = record
        lines += [f"## Attempt {record.number}: {record.outcome(baseline)}", ""]
        lines += _details(record)
        best_line = (
            f"attempt {best.number} ({best.candidate_ms or 0:.4g} ms)"
            if best
            else "none correct yet"
        )
        lines += [f"- Best so far: {best_line}", ""]
    return "\n".join(lines)


def _details(record: AttemptRecord) -> list[str]:
    lines = []
    if record.variant is not None:  # the offline agent's prompt is its decision, in words
        lines.append(f"- Offline decision: {record.coder_prompt}")
    if record.profile_note:
        lines.append(f"- Profile caution: {record.profile_note}")
    if record.diagnosis is not None:
        d = record.diagnosis
        evidence = "; ".join(e.render() for e in d.evidence)
        lines.append(f"- Diagnosis: {d.bottleneck.value} ({d.confidence:.2f}): {evidence}")
    if record.comparison:
        lines += ["- Current vs historical best:", "", "```", record.comparison, "```"]
    advice = record.advice
    if advice is not None:
        if advice.bottleneck:
            lines.append(f"- Conductor's analysis: {advice.bottleneck}")
        if advice.comparison:
            lines.append(f"- Conductor's comparison: {advice.comparison}")
        for action in advice.actions:
            lines.append(f"- Action: {action}")
        if advice.extra_metrics:
            lines.append(f"- Metrics asked for next: {', '.join(advice.extra_metrics)}")
    return lines


def _ms_cell(spread) -> str:
    """'0.123 (0.004)': the median and its IQR; the median alone where none was kept."""
    if spread is None:
        return ""
    iqr = f" ({spread.iqr_ms:.2g})" if spread.iqr_ms is not None else ""
    return f"{spread.median_ms:.4g}{iqr}"


def _speedup_cell(record: AttemptRecord, name: str, speedup: float | None) -> str:
    """'0.72x (within noise)': the speedup and what it is worth (records.speedup_note)."""
    if speedup is None:
        return ""
    note = record.speedup_note(name)
    return f"{speedup:.2f}x" + (f" ({note})" if note else "")
