"""How a bench's pairs are run: here, in threads (`local`), or on a Ray cluster (`ray`,
ray_executor.py). Either way the driver alone writes the store, as each pair ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol

from pragma_kernels.bench.lease import DeviceLease
from pragma_kernels.bench.pairs import BenchOptions, Pair, PairResult, run_pair


class Executor(Protocol):
    """Runs pairs and yields each result as it ends (in the driver's thread)."""

    lease_s: float  # seconds the device(s) spent evaluating

    def run(
        self, pairs: list[Pair], bench_dir: Path, options: BenchOptions
    ) -> Iterator[PairResult]: ...


class LocalExecutor:
    """`jobs` conversations at once (their LLM calls overlap); one evaluation at a time on
    this machine's device (the lease), so timings never run beside each other."""

    def __init__(self, jobs: int = 1, work: Callable[..., PairResult] = run_pair):
        self.jobs, self.work = max(1, jobs), work
        self.lease = DeviceLease()

    @property
    def lease_s(self) -> float:
        return self.lease.total_s

    def run(
        self, pairs: list[Pair], bench_dir: Path, options: BenchOptions
    ) -> Iterator[PairResult]:
        with ThreadPoolExecutor(self.jobs, thread_name_prefix="pragma-bench") as pool:
            todo = iter(pairs)
            running = set()
            for pair in todo:  # start `jobs`, then one more as each ends
                running.add(self._submit(pool, pair, bench_dir, options))
                if len(running) >= self.jobs:
                    break
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    following = next(todo, None)
                    if following is not None:
                        running.add(self._submit(pool, following, bench_dir, options))

    def _submit(self, pool, pair: Pair, bench_dir: Path, options: BenchOptions):
        return pool.submit(
            self.work, pair, bench_dir, options, self.lease.hold, self.lease.take_thread_seconds
        )
