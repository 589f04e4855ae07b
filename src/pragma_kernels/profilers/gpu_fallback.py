"""GPU metrics that need no hardware counters: per-launch times, Triton's compiled metadata,
theoretical occupancy, grid and waves.

Collected on every GPU profile (and all there is where Nsight Compute cannot
read counters: `LibraryNotLoaded` on one runtime, `ERR_NVGPUCTRPERM` in many
containers). Triton's launch hooks see every launch of a Triton kernel: the
enter/exit hooks record CUDA events around it (its time), and Triton's
launch-metadata step, wrapped while capturing, adds the compiled kernel
(registers, spills, shared memory, warps, stages) and the grid. Occupancy
follows from those and the SM's limits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pragma_kernels.profilers.occupancy import SM_LIMITS, theoretical_occupancy
from pragma_kernels.profilers.schema import KernelProfile, Metric, metric_maker

PROFILER = "gpu_fallback"  # the registry's name
SOURCE = "gpu fallback"  # shown with each number


@dataclass
class KernelLaunches:
    name: str
    compiled: object | None  # Triton CompiledKernel (n_regs, n_spills, metadata)
    times_ms: list[float] = field(default_factory=list)
    grid: tuple[int, ...] = ()  # of the last launch


# PTX instructions counted per thread's code (static: a loop body counts once; Triton unrolls
# tl.static_range and the per-thread elements of a block, so for most kernels the counts
# are the work per element times elements per thread). Vector accesses count their lanes.
_PTX_FP64 = re.compile(
    r"^\s*(?:@!?%\w+\s+)?(?:fma|mul|add|sub|div|rcp|sqrt|min|max)\.[\w.]*f64\b", re.M
)
_PTX_MUFU = re.compile(
    r"^\s*(?:@!?%\w+\s+)?(?:ex2|lg2|sin|cos|tanh|rsqrt|rcp|sqrt)\.approx[\w.]*f32\b", re.M
)
_PTX_ATOMIC = re.compile(r"^\s*(?:@!?%\w+\s+)?(?:atom|red)\.[\w.]*global", re.M)
_PTX_GLOBAL = re.compile(r"^\s*(?:@!?%\w+\s+)?(?:ld|st)\.global[\w.]*?(?:\.v(\d))?\.\w+\s", re.M)


def ptx_counts(ptx: str) -> dict[str, int]:
    """Static instruction counts of a kernel's PTX (pure): fp64 arithmetic, transcendental
    (MUFU: ex2, lg2, sin, cos, tanh, rsqrt, rcp), global atomics/reductions, and global
    loads and stores in elements (a v4 access counts 4)."""
    widths = _PTX_GLOBAL.findall(ptx)
    return {
        "ptx_fp64_instructions": len(_PTX_FP64.findall(ptx)),
        "ptx_transcendental_instructions": len(_PTX_MUFU.findall(ptx)),
        "ptx_atomic_instructions": len(_PTX_ATOMIC.findall(ptx)),
        "ptx_global_accesses": sum(int(width or 1) for width in widths),
        "ptx_global_access_instructions": len(widths),
    }


def ptx_metrics(compiled) -> list[Metric]:
    """`ptx_counts` of a compiled kernel, where its PTX is kept (CompiledKernel.asm)."""
    asm = getattr(compiled, "asm", None) or {}
    ptx = asm.get("ptx") if hasattr(asm, "get") else None
    if not isinstance(ptx, str):
        return []
    make = metric_maker(PROFILER, f"{SOURCE}: Triton's compiled PTX (static counts)")
    return [make(name, value, "instructions") for name, value in ptx_counts(ptx).items()]


_SASS_OPCODES = {"BSSY": "sass_reconvergence_points", "LDL": "sass_local_loads"}


def sass_counts(sass: str) -> dict[str, int]:
    """Static SASS opcode counts (pure): BSSY marks a branch ptxas expects to diverge (its
    reconvergence point); LDL reads spilled registers back from local memory."""
    opcodes = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9]*)", sass)
    return {name: sum(op == opcode for op in opcodes) for opcode, name in _SASS_OPCODES.items()}


def sass_metrics(compiled) -> list[Metric]:
    """`sass_counts` of a compiled kernel's cubin, disassembled by the cuobjdump that ships
    with Triton; nothing where that tool or the cubin is missing."""
    import subprocess
    import tempfile
    from pathlib import Path

    cubin = (getattr(compiled, "asm", None) or {}).get("cubin")
    try:
        import triton

        tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
        if not isinstance(cubin, bytes) or not tool.exists():
            return []
        with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
            file.write(cubin)
            file.flush()
            sass = subprocess.run(
                [str(tool), "-sass", file.name], capture_output=True, text=True, timeout=30
            ).stdout
    except (OSError, subprocess.SubprocessError, ImportError):
        return []
    make = metric_maker(PROFILER, f"{SOURCE}: cuobjdump -sass of Triton's cubin (static)")
    return [make(name, value, "instructions") for name, value in sass_counts(sass).items()]


def kernel_metrics(
    compiled, compute_capability: tuple[int, int], grid: tuple[int, ...] = (), sm_count: int = 0
) -> list[Metric]:
    """Registers, spills, shared memory, warps, stages; the occupancy they allow; the waves
    the grid needs at that occupancy."""
    make = metric_maker(PROFILER, SOURCE)
    metadata = compiled.metadata
    regs, spills = int(compiled.n_regs), int(compiled.n_spills)
    shared, warps = int(metadata.shared), int(metadata.num_warps)
    metrics = [
        make("n_regs", regs, "registers/thread"),
        make("n_spills", spills),
        make("shared_mem_bytes", shared, "bytes"),
        make("num_warps", warps),
        make("num_stages", int(metadata.num_stages)),
        *ptx_metrics(compiled),
        *sass_metrics(compiled),
    ]
    limits = SM_LIMITS.get(compute_capability)
    if limits is not None:
        occupancy = theoretical_occupancy(regs, shared, warps, limits)
        metrics += [
            make("theoretical_occupancy", 100 * occupancy.fraction, "%"),
            make("occupancy_limiter", occupancy.limiter),
        ]
        if grid and sm_count:
            waves = math.prod(grid) / (sm_count * occupancy.blocks_per_sm)
            metrics.append(make("waves", waves, "waves"))
    return metrics


def profiles_from_launches(
    launches: list[KernelLaunches], compute_capability: tuple[int, int], sm_count: int = 0
) -> list[KernelProfile]:
    """Per-kernel profiles with time shares from the summed launch times (pure)."""
    make = metric_maker(PROFILER, SOURCE)
    total = sum(sum(k.times_ms) for k in launches) or 1.0
    profiles = []
    for kernel in launches:
        metrics = [
            make("kernel_time_ms", sum(kernel.times_ms), "ms"),
            make("kernel_launches", len(kernel.times_ms), "count"),
        ]
        if kernel.grid:
            metrics.append(make("grid_size", math.prod(kernel.grid), "programs"))
        if kernel.compiled is not None:
            metrics += kernel_metrics(kernel.compiled, compute_capability, kernel.grid, sm_count)
        profiles.append(
            KernelProfile(
                name=kernel.name, time_share=sum(kernel.times_ms) / total, metrics=metrics
            )
        )
    return profiles


def capture_launches(run) -> list[KernelLaunches]:
    """Run `run()` once, recording every Triton launch: events, compiled kernel, grid."""
    import torch
    from triton import knobs
    from triton.compiler.compiler import CompiledKernel

    pending: list[list] = []  # [metadata, start event, end event]
    original = CompiledKernel.launch_metadata

    def with_kernel_and_grid(self, grid, stream, *args):
        metadata = original(self, grid, stream, *args)
        if metadata is not None:
            metadata.data.update(compiled=self, grid=tuple(int(g) for g in grid))
        return metadata

    def enter(metadata) -> None:
        start = torch.cuda.Event(enable_timing=True)
        start.record()
        pending.append([metadata.get(), start, None])

    def leave(metadata) -> None:
        end = torch.cuda.Event(enable_timing=True)
        end.record()
        pending[-1][2] = end

    CompiledKernel.launch_metadata = with_kernel_and_grid
    knobs.runtime.launch_enter_hook.add(enter)
    knobs.runtime.launch_exit_hook.add(leave)
    try:
        run()
        torch.cuda.synchronize()
    finally:
        CompiledKernel.launch_metadata = original
        knobs.runtime.launch_enter_hook.remove(enter)
        knobs.runtime.launch_exit_hook.remove(leave)
    by_name: dict[str, KernelLaunches] = {}
    for info, start, end in pending:
        entry = by_name.setdefault(info["name"], KernelLaunches(info["name"], info.get("compiled")))
        entry.grid = info.get("grid", ())
        if end is not None:
            entry.times_ms.append(start.elapsed_time(end))
    return list(by_name.values())
