"""The offline Coder: no LLM. It writes candidates from the recognised family's template,
choosing the next variant from the last diagnosis (e.g. single-threaded -> OpenMP, not
vectorised -> fast-math, at the memory roof -> streaming stores, launch tail -> smaller
blocks; the backend says which variant a diagnosis points to), and stops when every
variant has been tried. What it tried it reads from the records' `variant` field, which
the loop fills from its proposals (never from prompt text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.offline.recognise import Recognised

if TYPE_CHECKING:
    from pragma_kernels.backends import Backend


@dataclass(frozen=True)
class Proposal:
    """The next candidate: the variant as data (kept in the attempt's record), the decision
    in words (the attempt's prompt and the trace), and the candidate's source."""

    variant: str
    why: str
    decision: str
    source: str


class OfflineCoder:
    def __init__(self, recognised: Recognised, backend: Backend):
        self.recognised, self.backend = recognised, backend
        self.variants = {v.name: v for v in backend.offline_variants(recognised)}

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
            preferred = self.backend.offline_preferred().get(diagnosed.bottleneck)
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
        matched = recognised.kind or "/".join(recognised.ops)
        describe = getattr(recognised.spec, "describe", None)  # the parameters matched
        matched += f": {describe()}" if describe else ""
        decision = (
            f"offline agent (no LLM): {recognised.family} template, recognised as "
            f"{recognised.describe()}; offline variant: {name} ({why})"
        )
        source = self.backend.offline_source(recognised, self.variants[name])
        return Proposal(name, why, decision, source)
