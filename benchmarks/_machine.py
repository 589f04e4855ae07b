"""Describe the machine a benchmark ran on, for the header of its results."""

from __future__ import annotations

import platform
import re
from pathlib import Path

from pragma_kernels.hardware import available_cpus


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    match = re.search(r"model name\s*:\s*(.+)", text)
    return match.group(1).strip() if match else "unknown CPU"


def describe(gpu: bool = False) -> str:
    import torch

    text = (
        f"{cpu_model()}, {available_cpus()} cores available, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, torch {torch.__version__}"
    )
    if gpu and torch.cuda.is_available():
        import triton

        props = torch.cuda.get_device_properties(0)
        text = (
            f"{props.name} ({props.multi_processor_count} SMs, "
            f"{props.L2_cache_size / 2**20:.0f} MiB L2), triton {triton.__version__}, CUDA "
            f"{torch.version.cuda}; host: {text}"
        )
    return text
