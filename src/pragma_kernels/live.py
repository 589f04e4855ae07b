"""`pragma optimize`'s live view, driven by the loop's events (events.py) like any library
user's progress: a status line naming the stage that runs (a stage can take minutes), one
printed line per attempt as it ends, and the table of attempts at the end.

While an LLM call is in flight the status says who waits and for how long ("attempt 3: Coder
waiting for the LLM (42 s, retry 1 of 1)"): events come only when something happens, so a
timer thread re-renders the elapsed seconds every `tick_s` between LlmRequestStarted and
LlmRequestFinished. The clock is a parameter, so a test can set the time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.events import (
    AttemptFinished,
    AttemptStarted,
    Event,
    LlmRequestFinished,
    LlmRequestStarted,
    LlmRetry,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
)


class LiveView:
    def __init__(
        self,
        console: Console,
        title: str,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = 1.0,
    ):
        self.console, self.clock, self.tick_s = console, clock, tick_s
        self.table = Table(
            "attempt",
            "verdict",
            "ms (IQR)",
            "speedups",
            "best so far",
            "bottleneck",
            "seconds",
            title=title,
        )
        self.status = console.status("starting")
        self.text = "starting"  # what the status line shows now (plain text)
        self.seconds = 0.0  # the running attempt's stages so far
        self.done: list[str] = []  # the running attempt's finished stages, in short
        self.waiting: LlmRequestStarted | None = None  # the LLM call in flight
        self.since = 0.0  # its start, on `clock`
        self.retry = 0
        self._ticker: threading.Event | None = None  # set: the timer thread stops
        self._lock = threading.Lock()  # a late tick must not overwrite the next stage's line

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted(resumed=resumed) if resumed:
                self.console.print(f"resuming after attempt {resumed}")
            case AttemptStarted(number=number):
                self.seconds, self.done = 0.0, []
                self._show(f"attempt {number}")
                self.status.start()
            case StageStarted(number=number, stage=stage):
                self._show(f"attempt {number}: {stage}...{self._done()}")
            case LlmRequestStarted():
                self.waiting, self.since, self.retry = event, self.clock(), 0
                self.tick()
                self._start_ticker()
            case LlmRetry(retry=retry):
                self.retry = retry
                self.tick()
            case LlmRequestFinished():
                self._stop_ticker()
            case StageFinished(stage=stage, seconds=seconds, summary=summary):
                self.seconds += seconds
                self.done.append(f"{stage}: {summary[:60]}")
            case AttemptFinished(record=record, best=best):
                self.stop()
                self._attempt_line(record, best)
            case RunFinished():
                self.stop()

    def stop(self) -> None:
        """End the status line and its timer (idempotent)."""
        self._stop_ticker()
        self.status.stop()

    def tick(self) -> None:
        """Re-render the waiting line with the seconds elapsed (the timer thread's work)."""
        with self._lock:
            waiting = self.waiting
            if waiting is None:
                return
            elapsed = int(self.clock() - self.since)
            retry = f", retry {self.retry} of {waiting.retries}" if self.retry else ""
            self._show_locked(
                f"attempt {waiting.number}: {waiting.role} waiting for the LLM "
                f"({elapsed} s{retry}){self._done()}"
            )

    def _show(self, text: str) -> None:
        with self._lock:
            self._show_locked(text)

    def _show_locked(self, text: str) -> None:
        self.text = text
        self.status.update(escape(text))  # summaries hold brackets: shown, not markup

    def _done(self) -> str:
        return f" ({'; '.join(self.done)})" if self.done else ""

    def _start_ticker(self) -> None:
        if self._ticker is not None:  # a call that never finished (cannot happen in the loop)
            self._ticker.set()
        stop = self._ticker = threading.Event()

        def run() -> None:
            while not stop.wait(self.tick_s):
                self.tick()

        threading.Thread(target=run, name="pragma-live-tick", daemon=True).start()

    def _stop_ticker(self) -> None:
        with self._lock:
            self.waiting = None
        if self._ticker is not None:
            self._ticker.set()
            self._ticker = None

    def _attempt_line(self, record: AttemptRecord, best: AttemptRecord | None) -> None:
        """The attempt's own time and speedups (against the baselines timed beside it), and
        the loop's best by time: the same notion of best as the trace and the summary."""
        spread = record.spread() if record.correct else None
        speedups = ", ".join(record.speedup_text(n, x) for n, x in record.speedups().items())
        row = (
            str(record.number),
            record.verdict.kind.value,
            _ms_cell(spread),
            speedups,
            f"#{best.number}, {best.candidate_ms:.4g} ms" if best and best.candidate_ms else "",
            record.diagnosis.bottleneck.value if record.diagnosis else "",
            f"{self.seconds:.1f}",
        )
        self.table.add_row(*row)
        line = (
            f"attempt {row[0]}: {row[1]}"
            + (f", {row[2]} ms" if row[2] else "")
            + (f", {row[3]}" if row[3] else "")
            + (f" (best {row[4]})" if row[4] else "")
            + (f", bottleneck {row[5]}" if row[5] else "")
            + (f", variant {record.variant}" if record.variant else "")
            + f" [{row[6]} s]"
        )
        self.console.print(escape(line))


def _ms_cell(spread) -> str:
    """'0.123 (0.004)': the median and its IQR; the median alone where none was kept."""
    if spread is None:
        return ""
    iqr = f" ({spread.iqr_ms:.2g})" if spread.iqr_ms is not None else ""
    return f"{spread.median_ms:.4g}{iqr}"
