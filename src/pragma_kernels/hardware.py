"""Hardware specs: what this machine's GPU and CPU are, and their peak figures.

Detected facts (name, SM count, L2, memory, clocks; CPU model, cores, caches,
SIMD) come from torch, NVML and /proc + /sys. Peak DRAM bandwidth and FLOP/s
cannot be read from the device: they come from a built-in table of vendor
datasheet figures (dense, no sparsity), which a user TOML file overrides:

    # ~/.config/pragma-kernels/hardware.toml  (or PRAGMA_HARDWARE_SPEC=path)
    [gpu."H200"]          # matched as a substring of the device name
    dram_gbps = 4800
    fp32_tflops = 67
    tf32_tflops = 494.7
    fp16_tflops = 989.4
    bf16_tflops = 989.4

These numbers feed the roofline (achieved / peak) in the profiler.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels import config
from pragma_kernels.errors import PragmaError


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class GpuPeaks:
    dram_gbps: float
    fp32_tflops: float
    tf32_tflops: float
    fp16_tflops: float
    bf16_tflops: float
    source: str = "built-in table (vendor datasheets, dense)"


# (pattern on the device name, peaks); first match wins, so specific variants come first.
BUILTIN_GPU_PEAKS: tuple[tuple[str, GpuPeaks], ...] = (
    (r"H200", GpuPeaks(4800, 67, 494.7, 989.4, 989.4)),
    (r"H100.*PCIe", GpuPeaks(2000, 51, 378, 756, 756)),
    (r"H100.*NVL", GpuPeaks(3900, 60, 417.5, 835, 835)),
    (r"H100", GpuPeaks(3350, 67, 494.7, 989.4, 989.4)),  # SXM5
    (r"A100.*40GB", GpuPeaks(1555, 19.5, 156, 312, 312)),
    (r"A100", GpuPeaks(2039, 19.5, 156, 312, 312)),  # 80GB SXM
    (r"L40S", GpuPeaks(864, 91.6, 183, 362, 362)),
    (r"RTX 4090", GpuPeaks(1008, 82.6, 82.6, 165.2, 165.2)),  # fp32 accumulate
    (r"B200", GpuPeaks(8000, 80, 1100, 2250, 2250)),
    (r"MI300X", GpuPeaks(5300, 163.4, 653.7, 1307.4, 1307.4)),
)


@dataclass
class GpuSpec:
    name: str
    sm_count: int
    l2_bytes: int
    memory_bytes: int
    compute_capability: str
    max_sm_clock_mhz: int | None = None
    max_memory_clock_mhz: int | None = None
    peaks: GpuPeaks | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class CpuSpec:
    model: str
    logical_cpus: int
    available_cpus: int
    caches: dict[str, int]  # "L1d", "L2", "L3" -> bytes (per instance, as the OS reports)
    simd: list[str]
    notes: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # parse_cpu_details

    def generation(self) -> str:
        """'Zen 5, family 26 model 2 stepping 1' ('' when /proc/cpuinfo said nothing): the
        generation, where the model name says only "AMD EPYC"."""
        ids = " ".join(
            f"{k} {self.details[k]}" for k in ("family", "model", "stepping") if k in self.details
        )
        family = self.details.get("family", "")
        name = AMD_FAMILIES.get(family, "") if "AMD" in self.model.upper() else ""
        return f"{name}, {ids}" if name and ids else ids

    @property
    def ghz(self) -> float:
        try:
            return float(self.details.get("mhz", "0")) / 1000
        except ValueError:
            return 0.0


# -- pure parsing ---------------------------------------------------------------------------
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "asimd",
    "sve",
)


def parse_cpuinfo(text: str) -> tuple[str, int, list[str]]:
    """(model name, logical CPUs, SIMD extensions) from /proc/cpuinfo text."""
    model = re.search(r"^(?:model name|Model|cpu model)\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    present = set(flags.group(1).split()) if flags else set()
    return (
        model.group(1).strip() if model else "unknown CPU",
        len(re.findall(r"^processor\s*:", text, re.M)),
        [f for f in SIMD_FLAGS if f in present],
    )


def parse_cpu_details(text: str) -> dict[str, str]:
    """Generation and clock from /proc/cpuinfo text: 'family', 'model', 'stepping' (the
    generation where the model name says only "AMD EPYC") and 'mhz' (the current clock)."""
    fields = {"family": "cpu family", "model": "model", "stepping": "stepping", "mhz": "cpu MHz"}
    found = {}
    for key, name in fields.items():
        match = re.search(rf"^{name}\s*:\s*(\S+)\s*$", text, re.M)
        if match:
            found[key] = match.group(1)
    return found


AMD_FAMILIES = {"23": "Zen/Zen 2", "25": "Zen 3/Zen 4", "26": "Zen 5"}  # cpu family
# fp32 lanes per SIMD register, widest extension first
_LANES = (("avx512f", 16), ("avx2", 8), ("avx", 8), ("asimd", 4), ("sse4_2", 4))
ASSUMED_FMA_UNITS = 2  # per core: most server cores since Haswell/Zen have two FMA pipes


def peak_gflops_fp32(simd: list[str], ghz: float, cores: int) -> float | None:
    """A theoretical fp32 peak: cores x clock x lanes x 2 (an FMA is two FLOPs) x FMA units
    (assumed `ASSUMED_FMA_UNITS`); None when the clock or SIMD width is unknown."""
    lanes = next((n for flag, n in _LANES if flag in simd), None)
    if not lanes or ghz <= 0 or cores <= 0:
        return None
    per_cycle = lanes * (2 if ("fma" in simd or "avx512f" in simd or "asimd" in simd) else 1)
    return cores * ghz * per_cycle * ASSUMED_FMA_UNITS


def parse_size(text: str) -> int:
    """'32K' / '1024 KiB' / '32768K' -> bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, re.I)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[match.group(2).upper()]


def peaks_for(name: str, overrides: dict[str, dict] | None = None) -> GpuPeaks | None:
    for key, values in (overrides or {}).items():
        if key.lower() in name.lower():
            return GpuPeaks(**{**values, "source": f"user spec file ({key})"})
    for pattern, peaks in BUILTIN_GPU_PEAKS:
        if re.search(pattern, name, re.I):
            return peaks
    return None


def load_overrides(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PragmaError(
            f"{path}: cannot read the hardware spec file ({exc}). Fix: write TOML "
            'like [gpu."H200"] dram_gbps = 4800 ...'
        ) from None
    fields = set(GpuPeaks.__dataclass_fields__) - {"source"}
    for key, values in data.get("gpu", {}).items():
        missing = fields - set(values)
        unknown = set(values) - fields
        if missing or unknown:
            raise PragmaError(
                f'{path}: [gpu."{key}"] must give exactly {", ".join(sorted(fields))}'
                f" (missing: {sorted(missing)}, unknown: {sorted(unknown)})"
            )
    return data


# -- detection (I/O) ------------------------------------------------------------------------
def _nvml_clocks(index: int) -> tuple[int | None, int | None, str | None]:
    try:
        import pynvml
    except ImportError:
        return None, None, "clocks unavailable: NVML bindings (nvidia-ml-py) not installed"
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        sm = pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)
        mem = pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_MEM)
        return sm, mem, None
    except Exception as exc:  # NVML raises its own error types per failure
        return None, None, f"clocks unavailable: NVML failed ({exc})"


def detect_gpu(index: int = 0) -> GpuSpec | None:
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(index)
    sm_clock, mem_clock, note = _nvml_clocks(index)
    overrides = load_overrides(config.hardware_spec_file()).get("gpu", {})
    spec = GpuSpec(
        name=props.name,
        sm_count=props.multi_processor_count,
        l2_bytes=props.L2_cache_size,
        memory_bytes=props.total_memory,
        compute_capability=f"{props.major}.{props.minor}",
        max_sm_clock_mhz=sm_clock,
        max_memory_clock_mhz=mem_clock,
        peaks=peaks_for(props.name, overrides),
    )
    if note:
        spec.notes.append(note)
    if spec.peaks is None:
        spec.notes.append(
            f"no peak figures known for {props.name!r}: add them to a hardware "
            f"spec file ({config.ENV_HARDWARE_SPEC})"
        )
    return spec


def detect_cpu() -> CpuSpec:
    notes, details = [], {}
    try:
        text = Path("/proc/cpuinfo").read_text()
        model, logical, simd = parse_cpuinfo(text)
        details = parse_cpu_details(text)
    except OSError:
        model, logical, simd = "unknown CPU", os.cpu_count() or 1, []
        notes.append("/proc/cpuinfo unreadable: model and SIMD unknown")
    caches: dict[str, int] = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = parse_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        name = f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")
        caches[name] = size
    if not caches:
        notes.append("cache sizes unavailable from /sys")
    return CpuSpec(
        model=model,
        logical_cpus=logical,
        available_cpus=available_cpus(),
        caches=caches,
        simd=simd,
        notes=notes,
        details=details,
    )
