"""What works on this machine and what does not, and why.

Each check runs one external tool through `_run` (or, for the LLM, reads the settings
`pragma optimize` would use and, only when asked, sends one one-token request), never
raises, and returns a Check with a status and, when something is missing, what the user
can do. An API key's value is never read out: only whether its variable is set.
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


def run_checks(llm_ping: bool = False, llm_config=None) -> dict[str, list[Check]]:
    """Every group of checks; `llm_ping` sends the configured LLM a one-token request."""
    return {
        "Hardware": check_hardware(),
        "CPU target": check_compiler(),
        "Python": check_python_packages(),
        "GPU target": check_gpu(),
        "Profilers": [check_ncu(), check_perf(), check_valgrind()],
        "LLM": check_llm(llm_config, ping=llm_ping),
    }


# -- the LLM: settings, SDK, key, and (when asked) a one-token ping ------------------------

PING_TIMEOUT_S = 10.0
LLM_EXTRA = "pip install 'pragma-kernels[llm]'"
NO_MODEL_FIX = (
    "set PRAGMA_LLM_MODEL (and PRAGMA_LLM_BASE_URL) or write "
    "~/.config/pragma-kernels/llm.toml (or give optimize --model); --mode offline needs none"
)
_LLM_VARIABLES = {
    "provider": config.ENV_LLM_PROVIDER,
    "model": config.ENV_LLM_MODEL,
    "base_url": config.ENV_LLM_BASE_URL,
    "api_key_env": config.ENV_LLM_API_KEY_ENV,
}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "[::1]")


def _split_fix(message: str) -> tuple[str, str]:
    """Our errors end with ". Fix: ...": the two columns of a Check, on one line each."""
    problem, _, fix = " ".join(message.split()).partition(". Fix: ")
    return problem, fix


def _llm_sources(config_file) -> str:
    file = config_file or config.llm_config_file()
    named = [name for name in _LLM_VARIABLES.values() if config.variable_set(name)]
    sources = ([str(file)] if file else []) + named
    return "from " + ", ".join(sources) if sources else "no config file, no PRAGMA_LLM_* set"


def _endpoint(settings) -> str:
    if settings.base_url:
        return settings.base_url
    return "Anthropic's API" if settings.provider == "anthropic" else "OpenAI's API"


def check_llm(config_file=None, ping: bool = False) -> list[Check]:
    """Which LLM `pragma optimize` would use (file, then PRAGMA_LLM_* variables), whether
    its SDK and key are there, and with `ping` whether it answers."""
    from pragma_kernels.errors import PragmaError
    from pragma_kernels.llm.settings import llm_settings

    try:
        coder, conductor = llm_settings({}, None, config_file)
    except PragmaError as exc:
        return [Check("LLM settings", "missing", *_split_fix(str(exc)))]
    if coder is None:
        checks = [
            Check("LLM settings", "warn", f"no model ({_llm_sources(config_file)})", NO_MODEL_FIX)
        ]
        checks += [_check_sdk(provider, needed=False) for provider in ("openai", "anthropic")]
        if ping:
            checks.append(Check("LLM ping", "warn", "nothing to ping: no model", NO_MODEL_FIX))
        return checks
    models = [coder] + ([conductor] if conductor != coder else [])
    detail = f"{coder.model} ({coder.provider}) at {_endpoint(coder)}"
    if conductor != coder:
        elsewhere = _endpoint(conductor) != _endpoint(coder)
        detail += f"; Conductor: {conductor.model}" + (
            f" at {_endpoint(conductor)}" if elsewhere else ""
        )
    checks = [Check("LLM settings", "ok", f"{detail}; {_llm_sources(config_file)}")]
    checks += [_check_sdk(p, needed=True) for p in dict.fromkeys(m.provider for m in models)]
    checks += [_check_key(m) for m in {m.key_env(): m for m in models}.values()]
    if ping:
        endpoints = {(m.provider, m.model, m.base_url): m for m in models}
        checks += [ping_llm(m) for m in endpoints.values()]
    return checks


def _check_sdk(provider: str, needed: bool) -> Check:
    from importlib.metadata import PackageNotFoundError, version

    name = f"{provider} SDK"
    try:
        return Check(name, "ok", version(provider))
    except PackageNotFoundError:
        why = f"needed for the {provider} provider" if needed else f"for --provider {provider}"
        return Check(name, "missing" if needed else "warn", "not installed", f"{LLM_EXTRA} ({why})")


def _check_key(settings) -> Check:
    variable = settings.key_env()
    if config.variable_set(variable):
        return Check("API key", "ok", f"${variable} is set (its value is never shown)")
    local = any(host in (settings.base_url or "") for host in _LOCAL_HOSTS)
    return Check(
        "API key",
        "warn" if local else "missing",
        f"${variable} is not set" + (" (a local server may need none)" if local else ""),
        f"export {variable}=<your key>, or name the variable that holds it with "
        f"{config.ENV_LLM_API_KEY_ENV} (api_key_env in the config file)",
    )


def ping_llm(settings, timeout_s: float = PING_TIMEOUT_S) -> Check:
    """One request for one token through the real client, no retries: latency or the error."""
    import time

    from pragma_kernels.errors import PragmaError
    from pragma_kernels.llm import LLM, Message

    quick = settings.model_copy(
        update={"max_tokens": 1, "timeout_s": timeout_s, "max_retries": 0, "retry_cut": False}
    )
    name = f"LLM ping ({settings.model})"
    start = time.perf_counter()
    try:
        reply = LLM(quick).chat([Message(role="user", content="Answer with one word: ready?")])
    except Exception as exc:  # doctor reports, never raises
        seconds = time.perf_counter() - start
        text = str(exc) if isinstance(exc, PragmaError) else f"{type(exc).__name__}: {exc}"
        problem, fix = _split_fix(text)
        return Check(name, "missing", f"no answer after {seconds:.1f} s: {problem}"[:300], fix)
    seconds = time.perf_counter() - start
    return Check(name, "ok", f"answered in {seconds:.2f} s by {reply.model or settings.model}")
