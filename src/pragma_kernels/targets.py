"""Where candidates run: the host CPU through C++, or an NVIDIA GPU through Triton.

A GPU target without a GPU is possible under Triton's interpreter
(TRITON_INTERPRET=1): Triton kernels then run on the CPU, correctly and slowly,
which is how CI checks the GPU candidate format. Timings there mean nothing and
are labelled so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pragma_kernels import config

KINDS = ("cpu", "gpu")


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Target:
    kind: str  # "cpu" | "gpu"
    device: str  # torch device string: "cpu" or "cuda"
    default_size: str  # the problems' SIZES key used unless the user picks one
    threads: int
    interpreted: bool = False  # Triton kernels run by TRITON_INTERPRET=1 on the CPU

    @classmethod
    def cpu(cls, threads: int | None = None) -> Target:
        return cls("cpu", "cpu", "cpu", threads or available_cpus())

    @classmethod
    def gpu(cls, threads: int | None = None) -> Target:
        """The GPU target: CUDA when present, else Triton's interpreter if enabled."""
        import torch

        threads = threads or available_cpus()
        if torch.cuda.is_available():
            return cls("gpu", "cuda", "gpu", threads)
        if config.triton_interpreter():
            return cls("gpu", "cpu", "default", threads, interpreted=True)
        raise ValueError(
            "no CUDA GPU is visible. Fix: run on a machine with an NVIDIA GPU, or "
            f"set {config.ENV_TRITON_INTERPRET}=1 to check Triton candidates on the "
            "CPU (correctness only), or use --target cpu"
        )

    @classmethod
    def resolve(cls, kind: str | None, threads: int | None = None) -> Target:
        """`kind` None: the GPU if one is present, else the CPU."""
        if kind is None:
            import torch

            kind = "gpu" if torch.cuda.is_available() else "cpu"
        if kind not in KINDS:
            raise ValueError(f"unknown target {kind!r}. Fix: use one of {', '.join(KINDS)}")
        return cls.cpu(threads) if kind == "cpu" else cls.gpu(threads)

    def describe(self) -> str:
        if self.interpreted:
            return "gpu (Triton interpreter on the CPU: correctness only, timings meaningless)"
        return f"{self.kind} ({self.device}, {self.threads} CPU threads)"
