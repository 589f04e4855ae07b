"""`pragma optimize`'s live view, driven by the loop's events (events.py) like any library
user's progress: a status line naming the stage that runs (a stage can take minutes), one
printed line per attempt as it ends, and the table of attempts at the end."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.events import (
    AttemptFinished,
    AttemptStarted,
    Event,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
)


class LiveView:
    def __init__(self, console: Console, title: str):
        self.console = console
        self.table = Table(
            "attempt", "verdict", "speedup", "best so far", "bottleneck", "seconds", title=title
        )
        self.status = console.status("starting")
        self.seconds = 0.0  # the running attempt's stages so far
        self.done: list[str] = []  # the running attempt's finished stages, in short

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted(resumed=resumed) if resumed:
                self.console.print(f"resuming after attempt {resumed}")
            case AttemptStarted(number=number):
                self.seconds, self.done = 0.0, []
                self.status.update(f"attempt {number}")
                self.status.start()
            case StageStarted(number=number, stage=stage):
                done = f" ({'; '.join(self.done)})" if self.done else ""
                self.status.update(f"attempt {number}: {stage}...{done}")
            case StageFinished(stage=stage, seconds=seconds, summary=summary):
                self.seconds += seconds
                self.done.append(f"{stage}: {summary[:60]}")
            case AttemptFinished(record=record, best=best):
                self.stop()
                self._attempt_line(record, best)
            case RunFinished():
                self.stop()

    def stop(self) -> None:
        """End the status line (idempotent)."""
        self.status.stop()

    def _attempt_line(self, record: AttemptRecord, best: AttemptRecord | None) -> None:
        best_speedup = best.speedup if best else None
        row = (
            str(record.number),
            record.verdict.kind.value,
            f"{record.speedup:.2f}x" if record.speedup else "",
            f"{best_speedup:.2f}x (#{best.number})" if best_speedup else "",
            record.diagnosis.bottleneck.value if record.diagnosis else "",
            f"{self.seconds:.1f}",
        )
        self.table.add_row(*row)
        self.console.print(
            f"attempt {row[0]}: {row[1]}"
            + (f", {row[2]}" if row[2] else "")
            + (f" (best {row[3]})" if row[3] else "")
            + (f", bottleneck {row[4]}" if row[4] else "")
            + (f", variant {record.variant}" if record.variant else "")
            + f" [{row[5]} s]"
        )
