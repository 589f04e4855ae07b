"""What the diagnosis hands to the Conductor (and prints): typed, JSON-serialisable."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pragma_kernels.diagnosis.classes import Bottleneck


class Evidence(BaseModel):
    """One number behind a diagnosis: the metric, its value, the rule it met, what it means."""

    metric: str
    value: float | str
    threshold: str  # the rule the value met, e.g. "> 70 %"
    source: str = ""
    meaning: str = ""

    def render(self) -> str:
        value = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        source = f" [{self.source}]" if self.source else ""
        return f"{self.metric} = {value} ({self.threshold}){source}"


class Candidate(BaseModel):
    """A bottleneck a rule found, with how strongly the evidence supports it (0..1)."""

    bottleneck: Bottleneck
    score: float
    evidence: list[Evidence] = Field(default_factory=list)


class Diagnosis(BaseModel):
    bottleneck: Bottleneck
    confidence: float  # 0..1; lower when only counter-free evidence was available
    evidence: list[Evidence] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list)
    extra_metrics: list[str] = Field(default_factory=list)  # to confirm or refine, next profile
    alternatives: list[Candidate] = Field(default_factory=list)  # runner-up hypotheses
    counters: bool = True  # False: hardware counters were missing (fallback evidence only)

    def render_text(self) -> str:
        lines = [f"Bottleneck: {self.bottleneck.value} (confidence {self.confidence:.2f})"]
        if not self.counters:
            lines.append("  (hardware counters unavailable: evidence from counter-free metrics)")
        lines += ["Evidence:"] + [f"  {e.render()}" for e in self.evidence]
        if self.alternatives:
            lines.append(
                "Also possible: "
                + ", ".join(f"{c.bottleneck.value} ({c.score:.2f})" for c in self.alternatives)
            )
        if self.hints:
            lines += ["Hints:"] + [f"  - {hint}" for hint in self.hints]
        if self.extra_metrics:
            lines.append("Metrics to request next: " + ", ".join(self.extra_metrics))
        return "\n".join(lines)
