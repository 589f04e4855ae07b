"""C++ on the host CPU: candidates build `extern "C"` kernels with our loader (runtime/cpp).

Workers get an address-space limit; timing is wall clock, interleaved, with freed
memory kept in the process (glibc tunables, set at the worker's start); profiles
come from perf, cachegrind replays, the compiler's vectorisation report, the
object's instruction mix and thread scaling, all inside the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from pragma_kernels.backends.base import Backend, ProfileContext
from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.compare import CPU_KEY_METRICS
from pragma_kernels.diagnosis.rules import CPP_RULES, RuleSet
from pragma_kernels.static_policy import StaticPolicy
from pragma_kernels.timing import Protocol


class CppCpu(Backend):
    name: ClassVar[str] = "cpp-cpu"
    target: ClassVar[str] = "cpu"
    language: ClassVar[str] = "C++"
    device: ClassVar[str] = "cpu"
    default_size: ClassVar[str] = "cpu"
    memory_limit = "address"
    worker_imports = (
        *Backend.worker_imports,
        "pragma_kernels.runtime.cpp",
        "pragma_kernels.problems",
    )
    can_profile = True
    # Every rule fails a job but streams: there are none on the CPU.
    static_policy = StaticPolicy({"cuda-stream": "off", "tf32-dot": "off"})
    kernel_words = "a C++ function of the library built by pragma_kernels.runtime.cpp.load"
    rules_template: ClassVar[str] = "backend_cpu.j2"
    key_metrics = CPU_KEY_METRICS
    knobs = "loop order, blocking/tile sizes, OpenMP schedule, SIMD width, compiler flags, ..."

    @property
    def metric_names(self) -> str:  # type: ignore[override]
        """What the Conductor may ask for: without a PMU, perf's hardware events are not
        offered (they would only come back as 'not supported')."""
        from pragma_kernels.profilers.registry import hardware_counters

        if hardware_counters():
            return "perf event names, as `perf list` spells them"
        return (
            "this machine has no hardware counters: only perf's software events (task-clock, "
            "page-faults, context-switches, ...) and the cachegrind/static metric names shown "
            "in the profile; hardware events (cycles, instructions, cache-misses, top-down) "
            "cannot be counted here"
        )

    def describe(self, threads: int) -> str:
        return f"cpu (C++, {threads} CPU threads)"

    def hardware_text(self, threads: int) -> str:
        from pragma_kernels.hardware import detect_cpu, peak_gflops_fp32
        from pragma_kernels.profilers.cpu import compute_peak_gflops, copy_bandwidth_gbps
        from pragma_kernels.profilers.roofline import roofs_text

        cpu = detect_cpu()
        caches = ", ".join(
            f"{name} {size // 1024} KiB" for name, size in sorted(cpu.caches.items())
        )
        generation = f" ({cpu.generation()})" if cpu.generation() else ""
        clock = f"{cpu.ghz:.2f} GHz (current clock)" if cpu.ghz else "clock unknown"
        roofs = roofs_text(
            compute_peak_gflops(threads),
            peak_gflops_fp32(cpu.simd, cpu.ghz, threads),
            copy_bandwidth_gbps(threads),
        )
        return (
            f"{cpu.model}{generation}, {clock}, {cpu.logical_cpus} logical CPUs, "
            f"{threads} threads for the candidate; caches: {caches or 'unknown'} (data that "
            f"fits the last level is not bound by the DRAM roof); SIMD: "
            f"{' '.join(cpu.simd) or 'unknown'}; {roofs}"
        )

    def rules_facts(self, threads: int) -> dict:
        from pragma_kernels.hardware import detect_cpu
        from pragma_kernels.runtime.cpp_flags import ALLOWED_FLAGS

        cpu = detect_cpu()
        return {
            "cpu_model": cpu.model,
            "threads": threads,
            "simd": " ".join(cpu.simd) or "unknown",
            "allowed_flags": ALLOWED_FLAGS,
        }

    def fingerprint(self) -> str:
        from pragma_kernels.hardware import available_cpus, detect_cpu

        return f"{super().fingerprint()}; {detect_cpu().model}; {available_cpus()} cpus"

    def worker_env(self) -> dict[str, str]:
        return Protocol().environment()

    def timing_protocol(self, budget_s: float | None = None) -> Protocol:
        return Protocol() if budget_s is None else Protocol(budget_s=budget_s)

    def count_launches(self):
        from pragma_kernels.runtime import launches
        from pragma_kernels.runtime.cpp import CppFunction

        return launches.COUNTER, [launches.count_calls(CppFunction, "__call__")]

    def measure(self, callables, protocol):
        from pragma_kernels.timing import measure_interleaved

        return measure_interleaved(callables, protocol)

    def profile_in_worker(self, context: ProfileContext):
        from pragma_kernels.profilers.cpu import profile_cpu

        return profile_cpu(
            context.candidate,
            context.inputs,
            context.reference,
            context.threads,
            context.solution,
            context.small_calls,
            context.metrics,
        )

    def rule_set(self) -> RuleSet:
        return CPP_RULES

    def offline_generators(self) -> Mapping[str, Callable]:
        from pragma_kernels.offline.templates import CPP_GENERATORS

        return CPP_GENERATORS

    def offline_variants(self, problem) -> tuple:
        """Streaming stores only where the template writes its output through
        `cpp_write_loop`: pointwise chains (a streamed layer norm, a fence per row, was
        slower than the plain one on the CPU VM)."""
        from pragma_kernels.offline.templates import CPU_STREAM_VARIANT, CPU_VARIANTS

        if problem.family == "pointwise":
            return (*CPU_VARIANTS, CPU_STREAM_VARIANT)
        return CPU_VARIANTS

    def offline_preferred(self) -> Mapping[B, str]:
        return {
            B.NOT_VECTORISED: "omp-simd-fast-math",
            B.SINGLE_THREADED: "omp-simd",
            B.BRANCH_MISPREDICT: "omp-simd-fast-math",
            B.MEMORY_BANDWIDTH: "omp-simd-stream",  # where the template has it
        }
