"""The device lease: one evaluation at a time per device, so timings and profiles never run
beside another candidate's (builds included: a CPU attempt builds inside its evaluation).
LLM conversations of other problems go on meanwhile. Counts the seconds it was held."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class DeviceLease:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = threading.local()
        self.total_s = 0.0

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            start = time.monotonic()
            try:
                yield
            finally:
                spent = time.monotonic() - start
                self.total_s += spent
                self._held.seconds = getattr(self._held, "seconds", 0.0) + spent

    def take_thread_seconds(self) -> float:
        """Seconds this thread held the lease since it last asked (one run's share)."""
        spent = getattr(self._held, "seconds", 0.0)
        self._held.seconds = 0.0
        return spent
