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
