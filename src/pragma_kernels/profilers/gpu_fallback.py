"""GPU profile without hardware counters: per-launch times, Triton's compiled metadata,
theoretical occupancy and the roofline position.

For machines where Nsight Compute cannot read counters (`LibraryNotLoaded` on one
runtime, `ERR_NVGPUCTRPERM` in many containers). Triton's launch hooks see every
launch of the candidate's kernels: the enter/exit hooks record CUDA events
around each launch (its time) and the CUfunction handle, which identifies the
compiled kernel in the JIT caches: registers, spills, shared memory, warps and
stages. Occupancy follows from those and the SM's limits; bandwidth and FLOP/s
from the problem's tensors and the hardware spec's peaks.

Status: written against Triton 3.6's `knobs.runtime.launch_enter_hook`; the pure
parts are unit-tested, the launch capture has not yet run on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from pragma_kernels.profilers.occupancy import SM_LIMITS, theoretical_occupancy
from pragma_kernels.profilers.schema import KernelProfile, Metric

SOURCE = "gpu fallback"


@dataclass
class KernelLaunches:
    name: str
    compiled: object | None  # Triton CompiledKernel (n_regs, n_spills, metadata)
    times_ms: list[float] = field(default_factory=list)


def _jit_function(value: object) -> object | None:
    """The JITFunction behind a module attribute (Autotuner and Heuristics wrap one in `.fn`)."""
    for _ in range(4):
        if value is None or hasattr(value, "device_caches"):
            return value
        value = getattr(value, "fn", None)
    return None


def compiled_kernels(module: ModuleType) -> dict[object, object]:
    """CUfunction handle -> CompiledKernel for every Triton kernel the module defines."""
    found = {}
    for value in vars(module).values():
        jit = _jit_function(value)
        for cache in getattr(jit, "device_caches", {}).values():
            for kernel in cache[0].values():
                function = getattr(kernel, "function", None)
                if function is not None:
                    found[function] = kernel
    return found


def kernel_metrics(compiled, compute_capability: tuple[int, int]) -> list[Metric]:
    """Registers, spills, shared memory, warps, stages and the occupancy they allow."""
    metadata = compiled.metadata
    regs, spills = int(compiled.n_regs), int(compiled.n_spills)
    shared, warps = int(metadata.shared), int(metadata.num_warps)
    metrics = [
        Metric(name="n_regs", value=regs, unit="registers/thread", source=SOURCE),
        Metric(name="n_spills", value=spills, unit="", source=SOURCE),
        Metric(name="shared_mem_bytes", value=shared, unit="bytes", source=SOURCE),
        Metric(name="num_warps", value=warps, unit="", source=SOURCE),
        Metric(name="num_stages", value=int(metadata.num_stages), unit="", source=SOURCE),
    ]
    limits = SM_LIMITS.get(compute_capability)
    if limits is not None:
        occupancy = theoretical_occupancy(regs, shared, warps, limits)
        metrics += [
            Metric(
                name="theoretical_occupancy",
                value=100 * occupancy.fraction,
                unit="%",
                source=SOURCE,
            ),
            Metric(name="occupancy_limiter", value=occupancy.limiter, source=SOURCE),
        ]
    return metrics


def profiles_from_launches(
    launches: list[KernelLaunches], compute_capability: tuple[int, int]
) -> list[KernelProfile]:
    """Per-kernel profiles with time shares from the summed launch times (pure)."""
    total = sum(sum(k.times_ms) for k in launches) or 1.0
    profiles = []
    for kernel in launches:
        metrics = [
            Metric(name="kernel_time_ms", value=sum(kernel.times_ms), unit="ms", source=SOURCE),
            Metric(name="kernel_launches", value=len(kernel.times_ms), unit="count", source=SOURCE),
        ]
        if kernel.compiled is not None:
            metrics += kernel_metrics(kernel.compiled, compute_capability)
        profiles.append(
            KernelProfile(
                name=kernel.name, time_share=sum(kernel.times_ms) / total, metrics=metrics
            )
        )
    return profiles


def capture_launches(module: ModuleType, run) -> list[KernelLaunches]:
    """Run `run()` once with Triton's launch hooks recording each launch's events."""
    import torch
    from triton import knobs

    pending: list[tuple[dict, object, object]] = []

    def enter(metadata) -> None:
        start = torch.cuda.Event(enable_timing=True)
        start.record()
        pending.append((metadata.get(), start, None))

    def leave(metadata) -> None:
        end = torch.cuda.Event(enable_timing=True)
        end.record()
        info, start, _ = pending[-1]
        pending[-1] = (info, start, end)

    knobs.runtime.launch_enter_hook.add(enter)
    knobs.runtime.launch_exit_hook.add(leave)
    try:
        run()
        torch.cuda.synchronize()
    finally:
        knobs.runtime.launch_enter_hook.remove(enter)
        knobs.runtime.launch_exit_hook.remove(leave)
    compiled = compiled_kernels(module)
    by_name: dict[str, KernelLaunches] = {}
    for info, start, end in pending:
        entry = by_name.setdefault(
            info["name"], KernelLaunches(info["name"], compiled.get(info.get("function")))
        )
        if end is not None:
            entry.times_ms.append(start.elapsed_time(end))
    return list(by_name.values())
