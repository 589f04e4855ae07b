"""Triton on an NVIDIA GPU (CUDA).

Workers are watched for resident memory (CUDA reserves more address space than
there is memory); timing is CUDA events with an L2 flush, cross-checked by host
timing; the profile is counter-free metrics from inside the worker (Triton's
launch metadata, occupancy, roofline) plus Nsight Compute wrapping the worker
process where it can read counters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from pragma_kernels.backends.base import Backend, BackendUnavailable, ProfileContext
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.compare import GPU_KEY_METRICS
from pragma_kernels.diagnosis.rules import TRITON_RULES, RuleSet
from pragma_kernels.static_policy import StaticPolicy
from pragma_kernels.timing_gpu import GpuProtocol


class TritonCuda(Backend):
    name: ClassVar[str] = "triton-cuda"
    target: ClassVar[str] = "gpu"
    language: ClassVar[str] = "Triton"
    device: ClassVar[str] = "cuda"
    default_size: ClassVar[str] = "gpu"
    memory_limit = "resident"
    # triton's import does not initialise CUDA (its driver is loaded on first use).
    worker_imports = (
        *Backend.worker_imports,
        "triton",
        "triton.language",
        "pragma_kernels.problems",
    )
    can_profile = True
    # Every rule fails a job but side streams: the timer cross-checks CUDA events with host
    # time (timing_gpu.py), so a stream is worth a warning, not a refusal.
    static_policy = StaticPolicy({"cuda-stream": "error", "tf32-dot": "warn"})
    kernel_words = "a Triton kernel (kernel[grid](...))"
    watch_background = True  # Triton's JIT and CUDA start no Python threads: tests/gpu
    rules_template: ClassVar[str] = "backend_gpu.j2"
    key_metrics = GPU_KEY_METRICS
    knobs = "block sizes, num_warps, num_stages, tl.dot, loop order, tiling, ..."
    metric_names = (
        "Nsight Compute names as `ncu --query-metrics` spells them, with a rollup suffix "
        "(`.sum`, `.avg.pct_of_peak_sustained_active`, `.ratio`, `.pct`), e.g. warp stall "
        "reasons `smsp__warp_issue_stalled_<reason>_per_warp_active.pct` with <reason> "
        "barrier, long_scoreboard, short_scoreboard, mio_throttle, math_pipe_throttle, wait"
    )

    @classmethod
    def check_available(cls) -> None:
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable(
                "no CUDA GPU is visible. Fix: run on a machine with an NVIDIA GPU, or set "
                "TRITON_INTERPRET=1 to check Triton candidates on the CPU (correctness "
                "only), or use --target cpu"
            )

    def describe(self, threads: int) -> str:
        return f"gpu (Triton on CUDA, {threads} CPU threads)"

    def _spec(self):
        from pragma_kernels.hardware import detect_gpu

        return detect_gpu()

    def hardware_text(self, threads: int) -> str:
        spec = self._spec()
        text = (
            f"{spec.name}, {spec.sm_count} SMs, compute capability {spec.compute_capability}, "
            f"L2 {spec.l2_bytes / 2**20:.0f} MiB, {spec.memory_bytes / 2**30:.0f} GiB"
        )
        if spec.peaks:
            p = spec.peaks
            text += (
                f"; peaks: {p.dram_gbps:g} GB/s DRAM, {p.fp32_tflops:g} TFLOP/s FP32, "
                f"{p.tf32_tflops:g} TF32, {p.bf16_tflops:g} BF16/FP16 tensor"
            )
        return text

    def rules_facts(self, threads: int) -> dict:
        import triton

        return {"triton_version": triton.__version__}

    def sm_count(self) -> int | None:
        return self._spec().sm_count

    def fingerprint(self) -> str:
        import triton

        spec = self._spec()
        return (
            f"{super().fingerprint()}; triton {triton.__version__}; {spec.name}, "
            f"{spec.sm_count} SMs, clocks {spec.max_sm_clock_mhz}/{spec.max_memory_clock_mhz} MHz"
        )

    def timing_protocol(self, budget_s: float | None = None) -> GpuProtocol:
        return GpuProtocol() if budget_s is None else GpuProtocol(budget_s=budget_s)

    def count_launches(self):
        from triton.runtime.jit import JITFunction

        from pragma_kernels.runtime import launches

        return launches.COUNTER, [launches.count_calls(JITFunction, "run", _launched)]

    def sync(self) -> None:
        import torch

        torch.cuda.synchronize()

    def measure(self, callables, protocol):
        from pragma_kernels.timing_gpu import measure_cuda

        return measure_cuda(callables, protocol)

    def profile_in_worker(self, context: ProfileContext):
        from pragma_kernels.profilers.gpu import profile_gpu

        return profile_gpu(context.candidate, context.inputs, context.reference, context.dtype)

    def profile_needs_own_process(self, use_ncu: bool) -> bool:
        from pragma_kernels.profilers.ncu import find_ncu

        return use_ncu and find_ncu() is not None

    def profile_job(self, job, limits, run, use_ncu: bool):
        from pragma_kernels.profilers.gpu_ncu import profile_gpu_job

        return profile_gpu_job(job, limits, run, use_ncu)

    def rule_set(self) -> RuleSet:
        return TRITON_RULES

    def offline_generators(self) -> Mapping[str, Callable]:
        from pragma_kernels.offline.templates import TRITON_GENERATORS

        return TRITON_GENERATORS

    def offline_variants(self, problem) -> tuple:
        """Products, convolutions and attention autotune their tiles in one attempt (then one fixed
        tile); the other families turn block size and warps."""
        from pragma_kernels.offline.templates import (
            CONV_GPU_VARIANTS,
            GEMM_GPU_VARIANTS,
            GPU_VARIANTS,
        )

        tiled = {
            "gemm": GEMM_GPU_VARIANTS,
            "conv": CONV_GPU_VARIANTS,
            "attention": GEMM_GPU_VARIANTS,
        }
        return tiled.get(problem.family, GPU_VARIANTS)

    def offline_preferred(self) -> Mapping[B, str]:
        return {
            B.LAUNCH_TAIL: "block256-w2",
            B.LOW_OCCUPANCY_REGISTERS: "block256-w2",
            B.MEMORY_BANDWIDTH: "block4096-w8",
        }


def _launched(kwargs: dict) -> bool:
    """`kernel[grid](...)` and the autotuner call `run(..., warmup=False)`; a warm-up
    compiles without launching."""
    return not kwargs.get("warmup", False)
