"""`pragma optimize`'s live view driven by events: the "waiting for the LLM" status with its
ticking seconds and retries (a settable clock, no sleeping), and brackets shown literally."""

from __future__ import annotations

import io
import threading
import time

from rich.console import Console

from pragma_kernels.events import (
    AttemptStarted,
    LlmRequestFinished,
    LlmRequestStarted,
    LlmRetry,
    StageFinished,
    StageStarted,
)
from pragma_kernels.live import LiveView


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def view(tick_s: float = 60.0) -> tuple[LiveView, Clock]:
    clock = Clock()
    live = LiveView(Console(file=io.StringIO(), width=200), "relu", clock=clock, tick_s=tick_s)
    return live, clock


def shown(live: LiveView) -> str:
    """What the status line renders (markup applied), not what we asked it to."""
    return live.status.renderable.text.plain


def test_the_status_counts_the_seconds_and_retries_of_an_llm_call():
    live, clock = view()
    try:
        live(AttemptStarted(3))
        live(StageStarted(3, "code"))
        assert shown(live) == "attempt 3: code..."
        live(LlmRequestStarted(3, "Coder", retries=1))
        assert shown(live) == "attempt 3: Coder waiting for the LLM (0 s)"
        clock.now += 42.4
        live.tick()  # what the timer thread does every tick_s
        assert shown(live) == "attempt 3: Coder waiting for the LLM (42 s)"
        live(LlmRetry(3, "Coder", retry=1, retries=1))
        assert shown(live) == "attempt 3: Coder waiting for the LLM (42 s, retry 1 of 1)"
        clock.now += 80
        live.tick()
        assert live.text == "attempt 3: Coder waiting for the LLM (122 s, retry 1 of 1)"
        live(LlmRequestFinished(3, "Coder", 122.0, "900 tokens out"))
        live(StageFinished(3, "code", 122.5, "LLM reply with code"))
        live.tick()  # a late tick after the reply changes nothing
        assert shown(live) == "attempt 3: Coder waiting for the LLM (122 s, retry 1 of 1)"
        live(StageStarted(3, "conduct"))
        live(LlmRequestStarted(3, "Conductor", retries=1))
        clock.now += 5
        live.tick()
        assert shown(live) == (
            "attempt 3: Conductor waiting for the LLM (5 s) (code: LLM reply with code)"
        )
    finally:
        live.stop()


def test_a_timer_thread_ticks_while_waiting_and_ends_with_the_reply():
    live, clock = view(tick_s=0.02)
    ticking = lambda: [t for t in threading.enumerate() if t.name == "pragma-live-tick"]  # noqa: E731
    try:
        live(AttemptStarted(1))
        live(LlmRequestStarted(1, "Coder", retries=1))
        clock.now += 7
        deadline = time.monotonic() + 1.0
        while "(7 s)" not in live.text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.text == "attempt 1: Coder waiting for the LLM (7 s)" and ticking()
        live(LlmRequestFinished(1, "Coder", 7.0, "cached"))
        deadline = time.monotonic() + 1.0
        while ticking() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not ticking()
    finally:
        live.stop()


def test_stage_summaries_with_brackets_are_shown_literally():
    live, _ = view()
    try:
        live(AttemptStarted(2))
        live(StageStarted(2, "code"))
        live(StageFinished(2, "code", 1.0, "failed: pip install 'pragma-kernels[llm]'"))
        live(StageStarted(2, "evaluate"))
        assert "'pragma-kernels[llm]'" in shown(live)
    finally:
        live.stop()
