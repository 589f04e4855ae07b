"""How a bench's pairs are run: here, in threads (`local`), or on a Ray cluster (`ray`,
ray_executor.py). Either way the driver alone writes the store, as each pair ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol

from pragma_kernels.bench.lease import Device, DevicePool
from pragma_kernels.bench.pairs import BenchOptions, Pair, PairResult, run_pair
from pragma_kernels.evaluation import forkserver


class Executor(Protocol):
    """Runs pairs and yields each result as it ends (in the driver's thread)."""

    lease_s: float  # device-seconds: summed over the devices, the seconds each evaluated
    devices: int  # how many devices evaluated at once (device share: lease_s / devices x wall)

    def device_seconds(self) -> dict[str, float]:
        """Seconds each device evaluated, by id, where the executor keeps them (else {})."""
        ...

    def run(
        self, pairs: list[Pair], bench_dir: Path, options: BenchOptions
    ) -> Iterator[PairResult]: ...


class LocalExecutor:
    """`jobs` conversations at once (their LLM calls overlap); one evaluation at a time per
    device (a pool of leases, one per GPU), so timings never run beside each other.
    `jobs` None: one conversation per device, so every device has work."""

    def __init__(
        self,
        jobs: int | None = None,
        work: Callable[..., PairResult] = run_pair,
        devices: Sequence[Device] = (None,),
    ):
        self.lease = DevicePool(devices)
        self.jobs, self.work = max(1, jobs or len(self.lease.devices)), work
        if len(self.lease.devices) > 1:  # a warm worker server per device (forkserver.py)
            forkserver.keep_warm(len(self.lease.devices) + 1)

    @property
    def lease_s(self) -> float:
        return self.lease.total_s

    @property
    def devices(self) -> int:
        return len(self.lease.devices)

    def device_seconds(self) -> dict[str, float]:
        """Seconds each device was held, by its id ("" for the unpinned one)."""
        return {device or "": round(s, 2) for device, s in self.lease.seconds.items()}

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
