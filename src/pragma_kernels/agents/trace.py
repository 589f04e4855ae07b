"""The run's reasoning trace (trace.md), in the spirit of PRAGMA's Listing 1: per attempt the
outcome, the diagnosis, the Conductor's comparison with the historical best, its analysis
and the actions handed to the Coder (pure)."""

from __future__ import annotations

from pragma_kernels.agents.records import AttemptRecord, is_better


def render_trace(records: list[AttemptRecord], baseline: str) -> str:
    lines = ["# Optimisation trace", ""]
    best: AttemptRecord | None = None
    for record in records:
        if is_better(record, best):  # as the loop chooses: by the kernel's own time
            best = record
        lines += [f"## Attempt {record.number}: {record.outcome(baseline)}", ""]
        if record.variant is not None:  # the offline agent's prompt is its decision, in words
            lines.append(f"- Offline decision: {record.coder_prompt}")
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
        best_line = (
            f"attempt {best.number} ({best.candidate_ms or 0:.4g} ms, {best.speedup or 0:.2f}x)"
            if best
            else "none correct yet"
        )
        lines += [f"- Best so far: {best_line}", ""]
    return "\n".join(lines)
