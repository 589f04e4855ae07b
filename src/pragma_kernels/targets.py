"""Where candidates run: the host CPU through C++ (GPU through Triton comes next)."""

from __future__ import annotations

import os
from dataclasses import dataclass


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Target:
    kind: str  # "cpu"
    device: str  # torch device string
    default_size: str  # the problems' SIZES key used unless the user picks one
    threads: int

    @classmethod
    def cpu(cls, threads: int | None = None) -> Target:
        return cls("cpu", "cpu", "cpu", threads or available_cpus())
