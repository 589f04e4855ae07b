"""The limits a worker runs under: wall clock and memory (evaluation/isolation.py applies
them; profilers that wrap a worker shorten them)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 300.0
    memory_mb: int | None = None  # None: 75% of physical memory

    def memory_bytes(self) -> int:
        if self.memory_mb is not None:
            return self.memory_mb * 2**20
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(physical * 0.75)


# Stage limits: a candidate far slower than the reference fails in seconds, not at the
# job's limit. The worker reports its stage and the reference's forward time through its
# progress file (a candidate could rewrite it: at most it reaches the job's limit).
SLOW_FACTOR = 50  # a candidate call may take this many reference calls...
STAGE_FLOOR_S = 5.0  # ...plus this, for scheduling noise and small problems
FIRST_CALL_S = 120.0  # a first call also compiles (Triton JIT, autotuning)


TIMING_S = 120.0  # the timing stage: its protocol's budget, with room for slow callables


def stage_limit_s(stage: str, reference_s: float | None) -> float | None:
    """Seconds the worker may spend in `stage` (worker.py's progress names); None: only
    the job's limit applies. Only the first verification call compiles: the call before
    timing ("first call: candidate") comes after verification in every job."""
    allowance = SLOW_FACTOR * reference_s if reference_s is not None else 0.0
    if stage.startswith("candidate forward (trial 1,"):
        return FIRST_CALL_S + allowance
    one_call = ("candidate forward (trial ", "candidate re-check", "first call: candidate")
    if stage.startswith(one_call):
        return None if reference_s is None else STAGE_FLOOR_S + allowance
    if stage == "timing":
        return TIMING_S + 20 * allowance
    return None


def parse_progress(text: str) -> tuple[str, float | None]:
    """(stage, reference forward seconds) from a worker's progress file."""
    stage, _, rest = text.partition("\n")
    try:
        reference_s = float(rest.strip()) if rest.strip() else None
    except ValueError:
        reference_s = None
    return stage, reference_s
