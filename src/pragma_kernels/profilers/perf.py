"""Linux perf, counted only around the kernel loop (not Python start-up or the reference).

`perf stat` attaches to the worker process with its events disabled
(`--delay=-1`) and a control FIFO; the worker enables the events, runs the
candidate's calls, disables them, and perf prints the counts. Software events
work everywhere perf does; hardware events (instructions, cycles, branches,
caches) need a PMU, and where they read `<not supported>` the profile says so.
Top-down level 1 comes from perf's own metric group where the CPU has one
(Intel `TopdownL1`, AMD `PipelineL1`), counted in the same session.

Status: the top-down path is unit-tested on perf's documented CSV metric
columns; no machine with a PMU was available to run it (the CI VM has none and
the GPU machine has no perf).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pragma_kernels.profilers.schema import Metric, Unavailable, UnavailableKind

PROFILER = SOURCE = "perf"  # the registry's name; the source shown with each number
EVENTS = (
    "task-clock",
    "context-switches",
    "cpu-migrations",
    "page-faults",
    "instructions",
    "cycles",
    "branches",
    "branch-misses",
    "cache-references",
    "cache-misses",
)
UNITS = {"task-clock": "msec"}
TOPDOWN_GROUPS = ("TopdownL1", "PipelineL1")  # Intel, AMD Zen 4+
# perf's level-1 metric names (Intel's carry a "tma_" prefix) -> ours (the compendium's).
TOPDOWN_L1 = {
    "retiring": "topdown-retiring",
    "bad_speculation": "topdown-bad-spec",
    "frontend_bound": "topdown-fe-bound",
    "backend_bound": "topdown-be-bound",
}


def parse_perf_list(listing: str) -> set[str]:
    """Event names in `perf list --no-desc` output (pure)."""
    return {m.group(1) for m in re.finditer(r"^\s+([\w.:/=,-]+)", listing, re.M)}


def topdown_group(listing: str) -> str | None:
    """The top-down level-1 metric group `perf list metricgroups` offers, if any (pure)."""
    groups = set(listing.split())
    return next((group for group in TOPDOWN_GROUPS if group in groups), None)


def parse_topdown_csv(text: str) -> dict[str, float]:
    """Level-1 shares (%) from the metric columns of `perf stat -x, -M GROUP` (pure): the
    6th field holds a metric's value, the 7th its unit and name (`%  tma_retiring`)."""
    shares = {}
    for line in text.splitlines():
        fields = line.split(",")
        if line.startswith("#") or len(fields) < 7 or not fields[6].strip():
            continue
        name = fields[6].split()[-1].removeprefix("tma_")
        if name in TOPDOWN_L1:
            try:
                shares[TOPDOWN_L1[name]] = float(fields[5])
            except ValueError:
                continue
    return shares


def parse_perf_csv(text: str) -> dict[str, float | str]:
    """`perf stat -x,` output -> event: count, or the reason it was not counted (pure)."""
    counts: dict[str, float | str] = {}
    for line in text.splitlines():
        fields = line.split(",")
        if line.startswith("#") or len(fields) < 3 or not fields[2]:
            continue
        value, event = fields[0], fields[2]
        try:
            counts[event] = float(value)
        except ValueError:
            counts[event] = value.strip("<>")  # "not supported" / "not counted"
    return counts


def metrics_from_counts(
    counts: dict[str, float | str], calls: int
) -> tuple[list[Metric], list[Unavailable]]:
    """Per-call metrics (and IPC), plus what could not be counted and why."""
    metrics, not_counted = [], {}
    for event, value in counts.items():
        if isinstance(value, str):
            not_counted.setdefault(value, []).append(event)
        else:
            metrics.append(
                Metric(
                    name=event,
                    value=value / calls,
                    unit=UNITS.get(event, "count") + "/call",
                    profiler=PROFILER,
                    source=SOURCE,
                )
            )
    missing = [
        Unavailable(
            what=f"{', '.join(events)} (perf)",
            why=f"{reason} on this machine (hardware events need a PMU; VMs often have none)",
            # perf's own marker: "not supported" (no such counter), else "not counted"
            kind=UnavailableKind.NO_COUNTERS
            if reason == "not supported"
            else UnavailableKind.FAILED,
            profiler=PROFILER,
        )
        for reason, events in not_counted.items()
    ]
    instructions, cycles = counts.get("instructions"), counts.get("cycles")
    if isinstance(instructions, float) and isinstance(cycles, float) and cycles:
        metrics.append(
            Metric(
                name="ipc",
                value=instructions / cycles,
                unit="instructions/cycle",
                profiler=PROFILER,
                source=SOURCE,
            )
        )
    return metrics, missing


def count_around(
    run: Callable[[], None],
    calls: int,
    events: tuple[str, ...] = EVENTS,
    metric_group: str | None = None,
) -> tuple[list[Metric], list[Unavailable]]:
    """Count `events` (and perf's `metric_group`, e.g. top-down) in this process only while
    `run()` executes (it makes `calls` calls)."""
    if shutil.which("perf") is None:
        return [], [_failed("perf is not installed", UnavailableKind.TOOL_MISSING)]
    with tempfile.TemporaryDirectory(prefix="pragma-perf-") as tmp:
        ctl, ack, out = Path(tmp, "ctl"), Path(tmp, "ack"), Path(tmp, "out.csv")
        os.mkfifo(ctl)
        os.mkfifo(ack)
        perf = subprocess.Popen(
            [
                "perf",
                "stat",
                "-x,",
                "-e",
                ",".join(events),
                *(["-M", metric_group] if metric_group else []),
                "-p",
                str(os.getpid()),
                "--delay=-1",
                "--control",
                f"fifo:{ctl},{ack}",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ack_fd = os.open(ack, os.O_RDONLY | os.O_NONBLOCK)  # lets perf open it to write
            ctl_fd = _open_control(ctl, perf)
            if ctl_fd is None:
                os.close(ack_fd)
                errors = perf.stderr.read() if perf.poll() is not None else ""
                return [], [_failed(f"perf stat did not start listening: {errors[-300:]}")]
            try:
                _command(ctl_fd, ack_fd, "enable")
                try:
                    run()
                finally:
                    _command(ctl_fd, ack_fd, "disable")
            finally:
                os.close(ctl_fd)
                os.close(ack_fd)
        finally:
            if perf.poll() is None:
                perf.send_signal(signal.SIGINT)
            _, errors = perf.communicate(timeout=30)
        if not out.exists():
            return [], [_failed(f"perf stat failed: {errors[-300:]}")]
        text = out.read_text()
        metrics, missing = metrics_from_counts(parse_perf_csv(text), calls)
        if metric_group:
            shares = parse_topdown_csv(text)
            metrics += [
                Metric(
                    name=name,
                    value=share,
                    unit="%",
                    profiler=PROFILER,
                    source=f"{SOURCE} -M {metric_group}",
                )
                for name, share in shares.items()
            ]
            if not shares:
                missing.append(
                    Unavailable(
                        what=f"top-down level 1 (perf -M {metric_group})",
                        why=f"perf printed no level-1 metric: {text[-200:]!r}",
                        kind=UnavailableKind.FAILED,
                        profiler=PROFILER,
                    )
                )
        return metrics, missing


def _failed(why: str, kind: UnavailableKind = UnavailableKind.FAILED) -> Unavailable:
    return Unavailable(what="perf", why=why, kind=kind, profiler=PROFILER)


def _open_control(path: Path, perf: subprocess.Popen, timeout_s: float = 10.0) -> int | None:
    """Open the control FIFO once perf reads it; None if perf died or never did."""
    deadline = time.monotonic() + timeout_s
    while perf.poll() is None and time.monotonic() < deadline:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader yet
            time.sleep(0.01)
            continue
        os.set_blocking(fd, True)
        return fd
    return None


def _command(ctl_fd: int, ack_fd: int, word: str, timeout_s: float = 10.0) -> None:
    """Send enable/disable and wait for perf's "ack" (bounded: never hang the worker)."""
    os.write(ctl_fd, f"{word}\n".encode())
    ready, _, _ = select.select([ack_fd], [], [], timeout_s)
    if ready:
        os.read(ack_fd, 64)


def counters_readable() -> tuple[bool, str]:
    """Whether perf reads hardware counters here (a VM may have no PMU), and why not."""
    try:
        done = subprocess.run(
            ["perf", "stat", "-x,", "-e", "instructions,cycles", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"perf stat failed: {exc}"
    out = done.stdout + done.stderr
    if "not supported" in out or "<not counted>" in out:
        return False, "hardware events not supported (a VM without a virtual PMU?)"
    if done.returncode != 0:
        return False, out.strip()[-200:]
    return True, "instructions and cycles countable"
