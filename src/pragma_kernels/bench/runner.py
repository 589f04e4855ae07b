"""`pragma bench`'s driver: the problems x modes not finished yet, through an executor,
each result written to the store as it ends (a kill loses only the attempts in flight:
every attempt is also on disk in its run directory, and a resumed pair continues there)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pragma_kernels.bench.executors import Executor
from pragma_kernels.bench.pairs import BenchOptions, Pair
from pragma_kernels.bench.store import STORE, BenchStore, ProblemRow

EXPORT = "bench.jsonl"
# Settings a resumed bench must share with the one it continues.
RESUME_KEYS = ("target", "attempts", "baselines", "dtype", "size", "use_ncu")


@dataclass
class BenchSession:
    """What one invocation did (a resumed bench has several)."""

    started: float
    pairs_run: int
    pairs_skipped: int
    wall_s: float
    device_s: float  # device-seconds: summed over the devices
    devices: int = 1  # devices that evaluated at once (one lease each)
    device_seconds: dict[str, float] = field(default_factory=dict)  # by device id, if kept

    @property
    def device_share(self) -> float:
        """How busy the devices were: device-seconds over devices x wall (1: all always)."""
        return self.device_s / (self.devices * self.wall_s) if self.wall_s > 0 else 0.0


def settings_of(options: BenchOptions, modes: list[str]) -> dict:
    data = asdict(options)
    for name in ("llm", "conductor"):  # models only: keys and prices are not results
        value = getattr(options, name)
        data[name] = value.model if value is not None else None
    data["baselines"] = list(options.baselines)
    data["modes"] = modes
    return data


def run_bench(
    problems: list[ProblemRow],
    modes: list[str],
    bench_dir: Path,
    options: BenchOptions,
    executor: Executor,
    on_result=None,
) -> BenchSession:
    start, started = time.monotonic(), time.time()
    store = BenchStore(bench_dir / STORE)
    try:
        store.start(settings_of(options, modes), RESUME_KEYS)
        for problem in problems:
            store.put_problem(problem)
        finished = store.finished()
        pairs = [Pair(p, m) for p in problems for m in modes if (p.problem, m) not in finished]
        ran = 0

        def session() -> BenchSession:
            return BenchSession(
                started=started,
                pairs_run=ran,
                pairs_skipped=len(problems) * len(modes) - len(pairs),
                wall_s=round(time.monotonic() - start, 2),
                device_s=round(executor.lease_s, 2),
                devices=executor.devices,
                device_seconds=executor.device_seconds(),
            )

        for result in executor.run(pairs, bench_dir, options):
            store.put_run(result.run, result.attempts)
            ran += 1
            _record_session(store, session())  # so far: a killed bench keeps its session
            store.export_jsonl(bench_dir / EXPORT)
            if on_result is not None:
                on_result(result)
        last = session()
        _record_session(store, last)
        store.export_jsonl(bench_dir / EXPORT)
        return last
    finally:
        store.close()


def _record_session(store: BenchStore, session: BenchSession) -> None:
    """Add this invocation's line, or update it (one line per invocation, by start time)."""
    row = store.db.execute("SELECT value FROM meta WHERE key = 'sessions'").fetchone()
    sessions = [s for s in (json.loads(row[0]) if row else []) if s["started"] != session.started]
    sessions.append({**asdict(session), "device_share": round(session.device_share, 4)})
    with store.db:
        store.db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('sessions', ?)", (json.dumps(sessions),)
        )
