"""The offline Coder: no LLM. It writes candidates from the recognised family's template,
choosing the next variant from the last diagnosis (e.g. single-threaded -> OpenMP, not
vectorised -> fast-math, at the memory roof -> streaming stores, launch tail -> smaller
blocks), and stops when every variant has been tried. What it tried it reads from the
records' `variant` field, which the loop fills from its proposals (never from prompt text)."""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.offline.recognise import Recognised
from pragma_kernels.offline.templates import generate, variants

# The variant a diagnosis points to first, per target.
PREFERRED = {
    "cpu": {
        B.NOT_VECTORISED: "omp-simd-fast-math",
        B.SINGLE_THREADED: "omp-simd",
        B.BRANCH_MISPREDICT: "omp-simd-fast-math",
        B.MEMORY_BANDWIDTH: "omp-simd-stream",  # where the template has it
    },
    "gpu": {
        B.LAUNCH_TAIL: "block256-w2",
        B.LOW_OCCUPANCY_REGISTERS: "block256-w2",
        B.MEMORY_BANDWIDTH: "block4096-w8",
    },
}


@dataclass(frozen=True)
class Proposal:
    """The next candidate: the variant as data (kept in the attempt's record), the decision
    in words (the attempt's prompt and the trace), and the candidate's source."""

    variant: str
    why: str
    decision: str
    source: str


class OfflineCoder:
    def __init__(self, recognised: Recognised, target: str):
        self.recognised, self.target = recognised, target
        self.variants = {v.name: v for v in variants(target, recognised)}

    def tried(self, records: list[AttemptRecord]) -> list[str]:
        return [r.variant for r in records if r.variant is not None]

    def choose(self, records: list[AttemptRecord]) -> tuple[str, str] | None:
        """(variant name, why) for the next attempt, or None when all were tried."""
        tried = self.tried(records)
        untried = [name for name in self.variants if name not in tried]
        if not untried:
            return None
        diagnosed = next((r.diagnosis for r in reversed(records) if r.diagnosis), None)
        if diagnosed is not None:
            preferred = PREFERRED[self.target].get(diagnosed.bottleneck)
            if preferred in untried:
                return preferred, f"diagnosis {diagnosed.bottleneck.value} points to it"
        why = "the default" if not records else "the next untried variant"
        return untried[0], why

    def propose(self, records: list[AttemptRecord]) -> Proposal | None:
        """The next candidate, or None when every variant was tried."""
        chosen = self.choose(records)
        if chosen is None:
            return None
        name, why = chosen
        recognised = self.recognised
        decision = (
            f"offline agent (no LLM): {recognised.family} template "
            f"({recognised.kind or '/'.join(recognised.ops)}); offline variant: {name} ({why})"
        )
        return Proposal(name, why, decision, generate(recognised, self.target, self.variants[name]))
