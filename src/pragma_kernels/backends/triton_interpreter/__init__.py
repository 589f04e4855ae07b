"""Triton kernels run on the CPU by Triton's interpreter (TRITON_INTERPRET=1): verify only.

It checks the GPU candidate format where there is no GPU (CI): the same Triton
candidates and offline templates as `triton-cuda`, tensors on the CPU. Timings
are wall clock and labelled meaningless; there is no profile and so no diagnosis
(a CPU profile of the interpreter would blame the interpreter, not the kernel).
"""

from __future__ import annotations

from typing import ClassVar

from pragma_kernels.backends.base import Backend, BackendUnavailable
from pragma_kernels.backends.triton_cuda import TritonCuda, _launched
from pragma_kernels.timing import Protocol


class TritonInterpreter(TritonCuda):
    name: ClassVar[str] = "triton-interpreter"
    device: ClassVar[str] = "cpu"
    default_size: ClassVar[str] = "default"
    memory_limit = "address"
    watch_background = True  # on the CPU, checked by tests/redteam
    can_profile = False
    why_no_profile = (
        "the Triton interpreter runs kernels on the CPU: it has no GPU counters or kernel "
        "timings. Fix: run on a machine with an NVIDIA GPU to profile"
    )
    key_metrics = ()

    @classmethod
    def check_available(cls) -> None:
        from pragma_kernels import config

        if not config.triton_interpreter():
            raise BackendUnavailable(
                f"the Triton interpreter is off. Fix: set {config.ENV_TRITON_INTERPRET}=1"
            )

    def describe(self, threads: int) -> str:
        return "gpu (Triton interpreter on the CPU: correctness only, timings meaningless)"

    def hardware_text(self, threads: int) -> str:
        return "no GPU: Triton's interpreter on the CPU (correctness only)"

    def sm_count(self) -> int | None:
        return None

    def fingerprint(self) -> str:
        from pragma_kernels.hardware import available_cpus, detect_cpu

        cpus = f"{detect_cpu().model}; {available_cpus()} cpus"
        return f"{Backend.fingerprint(self)}; {cpus}"

    def timing_protocol(self, budget_s: float | None = None) -> Protocol:
        return Protocol() if budget_s is None else Protocol(budget_s=budget_s)

    def timing_label(self, method: str) -> str:
        return "Triton interpreter on the CPU (not a GPU timing): " + method

    def count_launches(self):
        """Under TRITON_INTERPRET=1 `triton.jit` makes InterpretedFunctions: their `run` too."""
        from triton.runtime.interpreter import InterpretedFunction

        from pragma_kernels.runtime import launches

        counter, watched = super().count_launches()
        watched.append(launches.count_calls(InterpretedFunction, "run", _launched))
        watched.append(_refuse_grids_cuda_refuses())
        return counter, watched

    def sync(self) -> None:
        pass

    def measure(self, callables, protocol):
        from pragma_kernels.timing import measure_interleaved

        return measure_interleaved(callables, protocol)

    def profile_in_worker(self, context):
        raise NotImplementedError(self.why_no_profile)

    def profile_needs_own_process(self, use_ncu: bool) -> bool:
        return False

    def profile_job(self, job, limits, run, use_ncu: bool):
        return Backend.profile_job(self, job, limits, run, use_ncu)

    def rule_set(self):
        return None


__all__ = ["BackendUnavailable", "TritonInterpreter"]


# CUDA's grid limits per axis (x, y, z): the GPU rejects a launch beyond them with
# "invalid argument", while the interpreter would loop over any grid. Refusing here makes
# the CPU tests catch what only the GPU would (KernelBench 37: 458,752 blocks on axis 1).
CUDA_GRID_LIMITS = (2**31 - 1, 65535, 65535)


def _refuse_grids_cuda_refuses() -> tuple[str, type, str]:
    """Wrap the interpreter's grid setter (once per process) to refuse CUDA-invalid grids;
    returns the (label, owner, attribute) the harness watches."""
    from triton.runtime.interpreter import InterpreterBuilder

    set_grid_dim = InterpreterBuilder.__dict__["set_grid_dim"]
    if not getattr(set_grid_dim, "_cuda_limits", False):

        def checked(self, *dims):
            for axis, (count, limit) in enumerate(zip(dims, CUDA_GRID_LIMITS, strict=False)):
                if count > limit:
                    raise RuntimeError(
                        f"invalid grid: {count} programs on axis {axis}, CUDA allows {limit} "
                        "(the GPU rejects this launch). Fix: put the largest count on axis 0"
                    )
            return set_grid_dim(self, *dims)

        checked._cuda_limits = True  # type: ignore[attr-defined]
        InterpreterBuilder.set_grid_dim = checked
    return (
        "triton.runtime.interpreter.InterpreterBuilder.set_grid_dim",
        InterpreterBuilder,
        "set_grid_dim",
    )
