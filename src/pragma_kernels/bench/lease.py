"""Device leases: one evaluation at a time per device, so timings and profiles never run
beside another candidate's (builds included: a CPU attempt builds inside its evaluation).
LLM conversations of other problems go on meanwhile.

A bench on a host with several GPUs holds a pool, one lease per device: an evaluation takes
a free device's lease (waiting while all are busy) and its workers see only that GPU
(`CUDA_VISIBLE_DEVICES`, evaluation/jobs.py `device_env`). The device `None` stands for
"this machine's device, unpinned": the pool of one a CPU bench (or a one-GPU one) holds,
which is today's single lease. Seconds held are counted per device and per thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

Device = str | None  # a CUDA_VISIBLE_DEVICES entry ("0", "1", a GPU UUID), or None: unpinned


class DevicePool:
    def __init__(self, devices: Sequence[Device] = (None,)) -> None:
        if not devices or len(set(devices)) != len(devices):
            raise ValueError(f"a device pool needs distinct devices, got {list(devices)!r}")
        self.devices: tuple[Device, ...] = tuple(devices)
        self._free = list(self.devices)
        self._changed = threading.Condition()
        self._held = threading.local()
        self.seconds: dict[Device, float] = dict.fromkeys(self.devices, 0.0)

    @property
    def total_s(self) -> float:
        """Device-seconds: the sum over devices of the seconds each was held."""
        return sum(self.seconds.values())

    @contextmanager
    def hold(self) -> Iterator[Device]:
        """Take a free device (the first free, in the pool's order), waiting while all are
        busy; yields it, so the caller pins its workers to it."""
        with self._changed:
            self._changed.wait_for(lambda: self._free)
            device = self._free.pop(0)
        start = time.monotonic()
        try:
            yield device
        finally:
            spent = time.monotonic() - start
            with self._changed:
                self.seconds[device] += spent
                self._free.append(device)
                self._free.sort(key=self.devices.index)  # lowest free first
                self._changed.notify()
            self._held.seconds = getattr(self._held, "seconds", 0.0) + spent

    def take_thread_seconds(self) -> float:
        """Seconds this thread held a lease since it last asked (one run's share)."""
        spent = getattr(self._held, "seconds", 0.0)
        self._held.seconds = 0.0
        return spent


def choose_devices(
    gpus: str | None, devices: str | None, on_gpu: bool, visible: Sequence[str]
) -> list[Device]:
    """The pool's devices from `--gpus N|all` or `--devices 0,1` (pure: `visible` is what the
    driver sees, bench/devices.py). A pool of one unnamed device stays unpinned (None), as
    before; a CPU target always has one. Raises ValueError with the fix."""
    if gpus is not None and devices is not None:
        raise ValueError("give --gpus or --devices, not both")
    if not on_gpu:
        if gpus not in (None, "1", "all") or devices is not None:
            raise ValueError("--gpus/--devices need a GPU target (--target gpu)")
        return [None]
    if devices is not None:
        named = [d.strip() for d in devices.split(",") if d.strip()]
        if not named or len(set(named)) != len(named):
            raise ValueError(f"--devices {devices!r}: give distinct ids, e.g. --devices 0,1")
        return list(named)
    if gpus in (None, "all"):
        count = len(visible)
    elif gpus.isdigit() and int(gpus) >= 1:
        count = int(gpus)
    else:
        raise ValueError(f"--gpus {gpus!r}: give a number of GPUs (1 or more) or 'all'")
    if count > len(visible):
        raise ValueError(
            f"--gpus {gpus} but {len(visible)} GPU(s) are visible ({', '.join(visible) or 'none'})"
            ". Fix: ask for fewer, or check CUDA_VISIBLE_DEVICES and nvidia-smi"
        )
    return [None] if count <= 1 else list(visible[:count])


def visible_gpus() -> list[str]:
    """The GPUs this process sees, as CUDA_VISIBLE_DEVICES entries a worker can be given:
    the driver's own CUDA_VISIBLE_DEVICES when set (so `--gpus 2` under
    CUDA_VISIBLE_DEVICES=4,5 uses 4 and 5), else 0..n-1 of torch's count (which asks NVML
    and leaves CUDA uninitialised in this process)."""
    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named is not None:
        return [d.strip() for d in named.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]
