"""The GPU profile of a verified Triton candidate, collected inside the worker.

One call of the candidate runs inside the NVTX range that Nsight Compute
filters on (when the parent runs the worker under ncu, those are the launches
it profiles; the warm-up and autotuning before it are not). Repeated launches
of a Triton kernel are sampled: past the first few, its launches run with the
range popped (ncu.LaunchSampler), so a call of thousands of launches costs ncu a
few replays, not thousands. Then the
counter-free metrics every GPU profile carries: Triton's launches and compiled
metadata (gpu_fallback.py), the candidate's CUDA-event time, and its roofline
position from the problem's tensor bytes and FLOPs against the hardware spec's
peaks.
"""

from __future__ import annotations

from contextlib import contextmanager

from pragma_kernels.hardware import GpuPeaks, detect_gpu
from pragma_kernels.profilers import gpu_fallback
from pragma_kernels.profilers.ncu import NVTX_RANGE, UNDER_NCU, LaunchSampler
from pragma_kernels.profilers.roofline import gpu_roofline_metrics
from pragma_kernels.profilers.schema import Metric, Profile, Unavailable, UnavailableKind
from pragma_kernels.timing_gpu import GpuProtocol, measure_cuda

# A short timing: the profile needs the time's order, the timer gives the precise figure.
PROFILE_TIMING = GpuProtocol(warmup_s=0.05, budget_s=0.2, min_reps=20)
# Under ncu every launch, profiled or not, passes through its interception (a candidate of
# 32,768 launches per call spent minutes in the 20+ timing reps alone): a few reps only.
UNDER_NCU_TIMING = GpuProtocol(warmup_s=0.0, budget_s=0.05, min_reps=3, max_reps=5)


def timing_protocol() -> tuple[GpuProtocol, str]:
    """The profile's timing protocol and how its figure should be read."""
    import os

    if os.environ.get(UNDER_NCU):
        return UNDER_NCU_TIMING, "CUDA events under ncu (a few reps; ncu slows launches)"
    return PROFILE_TIMING, "CUDA events, L2 flushed"


def peak_tflops(peaks: GpuPeaks, dtype: str) -> tuple[float, str]:
    """The FLOP/s roof for the problem's dtype. FLOPs counted by torch are matmul/conv FLOPs,
    which Triton's tl.dot runs on tensor cores (TF32 for fp32 inputs by default)."""
    if dtype == "float16":
        return peaks.fp16_tflops, "FP16 tensor"
    if dtype == "bfloat16":
        return peaks.bf16_tflops, "BF16 tensor"
    return peaks.tf32_tflops, "TF32 tensor (tl.dot's default for fp32)"


def tensor_bytes(values) -> int:
    import torch

    flat = []
    for value in values:
        flat += list(value) if isinstance(value, (list, tuple)) else [value]
    return sum(t.numel() * t.element_size() for t in flat if isinstance(t, torch.Tensor))


@contextmanager
def candidate_range(sampler: LaunchSampler):
    """The NVTX range ncu profiles, left around each Triton launch the sampler drops (its
    launch hooks pop the range before the launch and push it back after)."""
    import torch
    from triton import knobs

    inside = [True]

    def enter(metadata) -> None:
        name = metadata.get()["name"] if metadata is not None else "unknown"
        if not sampler.keep(name) and inside[0]:
            torch.cuda.nvtx.range_pop()
            inside[0] = False

    def leave(metadata) -> None:
        if not inside[0]:
            torch.cuda.nvtx.range_push(NVTX_RANGE)
            inside[0] = True

    torch.cuda.nvtx.range_push(NVTX_RANGE)
    knobs.runtime.launch_enter_hook.add(enter)
    knobs.runtime.launch_exit_hook.add(leave)
    try:
        yield sampler
    finally:
        knobs.runtime.launch_enter_hook.remove(enter)
        knobs.runtime.launch_exit_hook.remove(leave)
        if inside[0]:
            torch.cuda.nvtx.range_pop()


def profile_gpu(candidate, inputs: list, reference, dtype: str) -> Profile:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    spec = detect_gpu()
    profile = Profile(tools=["gpu fallback"], target="gpu")
    with torch.no_grad():
        candidate(*inputs)  # compile and autotune outside the profiled range
        torch.cuda.synchronize()
        with candidate_range(LaunchSampler()):
            outputs = candidate(*inputs)
            torch.cuda.synchronize()
        launches = gpu_fallback.capture_launches(lambda: candidate(*inputs))
        protocol, how = timing_protocol()
        timing = measure_cuda({"candidate": lambda: candidate(*inputs)}, protocol)
        with FlopCounterMode(display=False) as counter:
            reference(*inputs)
    seconds = timing["candidate"].median_ms / 1e3
    source = f"{gpu_fallback.SOURCE}: {how}"
    profile.metrics += [
        Metric(
            name="kernel_time_ms",
            value=seconds * 1e3,
            unit="ms",
            profiler=gpu_fallback.PROFILER,
            source=source,
        ),
        Metric(
            name="kernel_launches",
            value=sum(len(k.times_ms) for k in launches),
            unit="launches/call",
            profiler=gpu_fallback.PROFILER,
            source=f"{gpu_fallback.SOURCE}: Triton launch hooks",
        ),
    ]
    profile.kernels = gpu_fallback.profiles_from_launches(
        launches, torch.cuda.get_device_capability(), spec.sm_count
    )
    if not launches:
        profile.unavailable.append(
            Unavailable(
                what="Triton kernel metadata",
                why="the candidate launched no Triton kernel (PyTorch operators only?)",
                kind=UnavailableKind.NOTHING_TO_PROFILE,
                profiler=gpu_fallback.PROFILER,
            )
        )
    if spec.peaks is None:
        profile.unavailable.append(
            Unavailable(
                what="roofline position",
                why="; ".join(spec.notes),
                kind=UnavailableKind.UNSUPPORTED,
                profiler=gpu_fallback.PROFILER,
            )
        )
    else:
        roof, roof_name = peak_tflops(spec.peaks, dtype)
        profile.metrics += gpu_roofline_metrics(
            tensor_bytes([*inputs, outputs]),
            counter.get_total_flops(),
            seconds,
            spec.peaks.dram_gbps,
            roof,
            gpu_fallback.PROFILER,
            f"{gpu_fallback.SOURCE}: roofline, tensor bytes and torch FLOPs vs {spec.name} "
            f"peaks ({spec.peaks.dram_gbps:g} GB/s, {roof:g} TFLOP/s {roof_name})",
        )
    return profile
