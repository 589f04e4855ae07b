"""A target: a backend (backends/), the CPU threads it may use, and the problem size.

`Target.resolve("cpu"|"gpu"|backend name|None)` picks the backend this machine can
run; `None` means the GPU if one is visible, else the CPU. Everything that
depends on where candidates run is asked of `target.backend`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels import backends
from pragma_kernels.backends import Backend
from pragma_kernels.hardware import available_cpus


@dataclass(frozen=True)
class Target:
    backend: Backend
    threads: int
    size: str  # the problems' SIZES key: the backend's default unless the user picks one

    @classmethod
    def of(cls, backend: Backend, threads: int | None = None, size: str | None = None) -> Target:
        return cls(backend, threads or available_cpus(), size or backend.default_size)

    @classmethod
    def cpu(cls, threads: int | None = None, size: str | None = None) -> Target:
        return cls.resolve("cpu", threads, size)

    @classmethod
    def gpu(cls, threads: int | None = None, size: str | None = None) -> Target:
        """Triton on CUDA when a GPU is present, else Triton's interpreter if enabled."""
        return cls.resolve("gpu", threads, size)

    @classmethod
    def resolve(
        cls, word: str | None, threads: int | None = None, size: str | None = None
    ) -> Target:
        """`word` None: the GPU if one is present, else the CPU. Raises ValueError with a
        fix when this machine cannot run it."""
        try:
            backend = backends.for_target(word or backends.default_target())
        except backends.BackendUnavailable as exc:
            raise ValueError(str(exc)) from None
        return cls.of(backend, threads, size)

    @property
    def name(self) -> str:
        """The target word ("cpu", "gpu"): a label for run directories and prompts."""
        return self.backend.target

    @property
    def device(self) -> str:
        return self.backend.device

    def with_size(self, size: str | None) -> Target:
        return self if size is None else Target(self.backend, self.threads, size)

    def describe(self) -> str:
        return self.backend.describe(self.threads)
