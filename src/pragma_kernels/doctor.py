"""What works on this machine and what does not, and why.

Each check runs one external tool through `_run`, never raises, and returns a
Check with a status and, when something is missing, what the user can do.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass

from pragma_kernels import config


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "warn" | "missing"
    detail: str
    fix: str = ""


def _run(command: list[str], timeout: float = 30) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc)
    return done.returncode, done.stdout + done.stderr


def check_compiler() -> list[Check]:
    compiler = config.cxx_compiler()
    if shutil.which(compiler) is None:
        return [
            Check(
                "C++ compiler",
                "missing",
                f"{compiler} not found",
                f"install g++ or set {config.ENV_CXX}; CPU candidates need it",
            )
        ]
    _, version = _run([compiler, "--version"])
    checks = [Check("C++ compiler", "ok", version.splitlines()[0] if version else compiler)]
    code, target = _run([compiler, "-march=native", "-Q", "--help=target"])
    simd = [
        name
        for name in (
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "avx512f",
            "avx512bw",
            "avx512vnni",
            "avx512bf16",
            "amx-tile",
        )
        if re.search(rf"-m{re.escape(name)}\s+\[enabled\]", target)
    ]
    checks.append(
        Check(
            "SIMD with -march=native",
            "ok" if simd else "warn",
            " ".join(simd) or "could not read the compiler's target flags",
        )
    )
    code, out = _run([compiler, "-fopenmp", "-x", "c++", "-E", "-", "-o", "/dev/null"], 30)
    checks.append(
        Check(
            "OpenMP (-fopenmp)",
            "ok" if code == 0 else "missing",
            "available" if code == 0 else out.strip()[-200:],
            "" if code == 0 else "install libgomp (part of gcc)",
        )
    )
    return checks


def check_python_packages() -> list[Check]:
    import torch

    checks = [Check("torch", "ok", f"{torch.__version__} ({torch.get_num_threads()} threads)")]
    if importlib.util.find_spec("triton") is None:
        checks.append(
            Check(
                "triton",
                "missing",
                "not installed",
                "needed only for GPU candidates: pip install triton",
            )
        )
    else:
        import triton

        checks.append(Check("triton", "ok", triton.__version__))
    return checks


def check_gpu() -> list[Check]:
    import torch

    if not torch.cuda.is_available():
        why = "this torch build has no CUDA" if torch.version.cuda is None else "no GPU visible"
        return [
            Check(
                "GPU",
                "missing",
                why,
                "GPU targets need an NVIDIA GPU and a CUDA build "
                "of torch; CPU targets work without",
            )
        ]
    props = torch.cuda.get_device_properties(0)
    return [
        Check(
            "GPU",
            "ok",
            f"{props.name}, {props.multi_processor_count} SMs, "
            f"{props.total_memory / 2**30:.0f} GiB",
        )
    ]


def check_hardware() -> list[Check]:
    from pragma_kernels.hardware import detect_cpu, detect_gpu

    cpu = detect_cpu()
    caches = ", ".join(f"{k} {v // 1024} KiB" for k, v in cpu.caches.items())
    checks = [
        Check(
            "CPU",
            "ok" if not cpu.notes else "warn",
            f"{cpu.model}; {cpu.available_cpus} of {cpu.logical_cpus} CPUs available; "
            f"{caches}; SIMD {' '.join(cpu.simd) or 'unknown'}",
            "; ".join(cpu.notes),
        )
    ]
    gpu = detect_gpu()
    if gpu is not None:
        clocks = (
            f"; max SM {gpu.max_sm_clock_mhz} MHz, memory {gpu.max_memory_clock_mhz} MHz"
            if gpu.max_sm_clock_mhz
            else ""
        )
        peaks = (
            f"; peaks: {gpu.peaks.dram_gbps:g} GB/s, FP32 {gpu.peaks.fp32_tflops:g}, TF32 "
            f"{gpu.peaks.tf32_tflops:g}, FP16 {gpu.peaks.fp16_tflops:g}, BF16 "
            f"{gpu.peaks.bf16_tflops:g} TFLOP/s ({gpu.peaks.source})"
            if gpu.peaks
            else ""
        )
        checks.append(
            Check(
                "GPU spec",
                "ok" if gpu.peaks else "warn",
                f"{gpu.name}, sm_{gpu.compute_capability.replace('.', '')}, "
                f"{gpu.sm_count} SMs, L2 {gpu.l2_bytes / 2**20:.0f} MiB, "
                f"{gpu.memory_bytes / 2**30:.0f} GiB{clocks}{peaks}",
                "; ".join(gpu.notes),
            )
        )
    return checks


def check_ncu() -> Check:
    path = shutil.which("ncu")
    if path is None:
        return Check(
            "Nsight Compute (ncu)",
            "missing",
            "not on PATH",
            "GPU profiles fall back to CUDA events and Triton metadata",
        )
    _, out = _run([path, "--version"])
    return Check("Nsight Compute (ncu)", "ok", out.strip().splitlines()[-1] if out else path)


def check_perf() -> Check:
    from pragma_kernels.profilers.perf import counters_readable

    if shutil.which("perf") is None:
        return Check(
            "perf hardware counters",
            "missing",
            "perf not installed",
            "apt-get install linux-perf; CPU profiles fall back to valgrind",
        )
    readable, detail = counters_readable()
    if not readable:
        return Check(
            "perf hardware counters",
            "missing",
            detail,
            "top-down needs the PMU; CPU profiles fall back to valgrind cachegrind",
        )
    return Check("perf hardware counters", "ok", detail)


def check_valgrind() -> Check:
    if shutil.which("valgrind") is None:
        return Check("valgrind", "missing", "not installed", "apt-get install valgrind")
    _, out = _run(["valgrind", "--version"])
    return Check("valgrind", "ok", out.strip())


def run_checks() -> dict[str, list[Check]]:
    return {
        "Hardware": check_hardware(),
        "CPU target": check_compiler(),
        "Python": check_python_packages(),
        "GPU target": check_gpu(),
        "Profilers": [check_ncu(), check_perf(), check_valgrind()],
    }
