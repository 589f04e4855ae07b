"""What every rule module shares: a rule's type and how a rule states its finding
(kept apart from rules.py, which assembles the rule sets of rules_cpu and rules_gpu,
so neither imports the module that imports it)."""

from __future__ import annotations

from collections.abc import Callable

from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.model import Candidate, Evidence
from pragma_kernels.diagnosis.signals import Reading, Signals

Rule = Callable[[Signals, dict], Candidate | None]


def evidence(reading: Reading, threshold: str) -> Evidence:
    metric = reading.metric
    return Evidence(
        metric=metric.name,
        value=metric.value,
        threshold=threshold,
        source=metric.source,
        meaning=metric.meaning,
    )


def found(bottleneck: B, score: float, *items: Evidence) -> Candidate:
    return Candidate(bottleneck=bottleneck, score=min(score, 1.0), evidence=list(items))
