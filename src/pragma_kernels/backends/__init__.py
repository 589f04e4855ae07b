"""Backends: where candidates run and everything that depends on it (base.py says what).

`get(name)` returns a backend by its registry name; `for_target("cpu"|"gpu")` picks
the backend a user means by a target word on this machine: C++ on the CPU; Triton
on CUDA where a GPU is visible, else Triton's interpreter when TRITON_INTERPRET=1.
"""

from __future__ import annotations

from pragma_kernels.backends.base import Backend, BackendUnavailable, ProfileContext
from pragma_kernels.backends.cpp_cpu import CppCpu
from pragma_kernels.backends.triton_cuda import TritonCuda
from pragma_kernels.backends.triton_interpreter import TritonInterpreter

__all__ = [
    "BACKENDS",
    "TARGETS",
    "Backend",
    "BackendUnavailable",
    "ProfileContext",
    "default_target",
    "for_target",
    "get",
]

BACKENDS: dict[str, type[Backend]] = {
    backend.name: backend for backend in (CppCpu, TritonCuda, TritonInterpreter)
}
# What each target word may mean, in order of preference.
TARGETS: dict[str, tuple[str, ...]] = {
    "cpu": ("cpp-cpu",),
    "gpu": ("triton-cuda", "triton-interpreter"),
}


def get(name: str) -> Backend:
    """The backend registered as `name`, e.g. "cpp-cpu"."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}. Fix: use one of {', '.join(BACKENDS)}")
    return BACKENDS[name]()


def default_target() -> str:
    """The target word meant when the user names none: the GPU if CUDA sees one."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def for_target(word: str) -> Backend:
    """The first backend for a target word ("cpu", "gpu") or name this machine can run."""
    if word in BACKENDS:
        BACKENDS[word].check_available()
        return BACKENDS[word]()
    if word not in TARGETS:
        choices = ", ".join([*TARGETS, *BACKENDS])
        raise ValueError(f"unknown target {word!r}. Fix: use one of {choices}")
    reasons = []
    for name in TARGETS[word]:
        try:
            BACKENDS[name].check_available()
        except BackendUnavailable as exc:
            reasons.append(str(exc))
            continue
        return BACKENDS[name]()
    raise BackendUnavailable(reasons[0])
