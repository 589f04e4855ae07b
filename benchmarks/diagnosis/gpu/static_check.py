"""Compile every labelled GPU case for an H100/H200 (sm_90a) without a GPU and print what the
counter-free profile would show: launches, grid, registers, spills, shared memory, theoretical
occupancy and its limiter, waves, a few SASS instruction counts, and the shared-memory bank
conflict degree of warp 0 estimated from the PTX (smem_banks.py).

No kernel runs: a stub Triton driver reports an sm_90 target, the forward runs on meta tensors
at the problem's `gpu` size, each launch is recorded instead of executed, and registers and
local memory (spills) come from `cuobjdump -res-usage` on the cubin that Triton's own ptxas
built. Times, DRAM throughput and anything else measured are out of reach here: they need the
H200 (`pragma profile`).

    python benchmarks/diagnosis/gpu/static_check.py [--cases benchmarks/diagnosis/cases_gpu.toml]
        [--only NAME ...] [--size gpu] [--json OUT]

Must not run under TRITON_INTERPRET=1 (the interpreter never compiles).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler.compiler import CompiledKernel
from triton.runtime import driver

from pragma_kernels.problems import import_module
from pragma_kernels.profilers.occupancy import SM_LIMITS, theoretical_occupancy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smem_banks import summary as smem_summary  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
SM_COUNT = 132  # H200 (and H100 SXM)
CAPABILITY = (9, 0)
BIN = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
# SASS opcodes worth counting for the labels (static counts, not executed counts).
OPCODES = ("HGMMA", "HMMA", "FFMA", "FMUL", "MUFU", "LDS", "STS", "LDL", "STL", "BSSY", "BRA")


class _Utils:
    pass


class _StubDriver:
    """Just enough of Triton's CUDA driver to compile for sm_90 and 'launch' into a list."""

    def __init__(self):
        self.utils = _Utils()

    def is_active(self):
        return True

    def get_current_device(self):
        return 0

    def set_current_device(self, device):
        pass

    def get_current_stream(self, device=None):
        return 0

    def get_current_target(self):
        return GPUTarget("cuda", 90, 32)

    def get_active_torch_device(self):
        return torch.device("meta")

    def get_device_interface(self):
        return torch.cuda

    def get_benchmarker(self):
        raise RuntimeError("static check: no GPU to autotune on")


@dataclass
class KernelRecord:
    name: str
    compiled: CompiledKernel
    grids: list[tuple[int, int, int]] = field(default_factory=list)
    variants: set[str] = field(default_factory=set)  # distinct specializations launched


_LAUNCHES: dict[str, KernelRecord] = {}


def _init_handles(self):
    """Replaces CompiledKernel._init_handles: no module load, launches are recorded."""
    if self.module is not None:
        return
    self.module, self.function, self.n_max_threads = "static", 0, 1024
    self.n_regs, self.n_spills = _resource_usage(self.asm["cubin"])

    def record(gx, gy, gz, *args):
        # Grouped by kernel name, as the GPU fallback profiler groups Triton launches (its
        # compiled metadata is the first specialization's, its grid the last launch's).
        rec = _LAUNCHES.setdefault(self.name, KernelRecord(self.name, self))
        rec.grids.append((gx, gy, gz))
        rec.variants.add(self.hash)

    self._run = record


def _resource_usage(cubin: bytes) -> tuple[int, int]:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        text = subprocess.run(
            [str(BIN / "cuobjdump"), "-res-usage", f.name], capture_output=True, text=True
        ).stdout
    regs = int(re.search(r"REG:(\d+)", text).group(1))
    # Triton's n_spills is CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES / 4: the per-thread local memory,
    # i.e. ptxas's stack frame (spills and local arrays) plus any static local data.
    stack = int(re.search(r"STACK:(\d+)", text).group(1))
    local = int(re.search(r"LOCAL:(\d+)", text).group(1))
    return regs, (stack + local) // 4


def _sass_counts(cubin: bytes) -> dict[str, int]:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        sass = subprocess.run(
            [str(BIN / "cuobjdump"), "-sass", f.name], capture_output=True, text=True
        ).stdout
    ops = re.findall(r"^\s+/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)", sass, re.M)
    return {op: sum(1 for o in ops if o == op) for op in OPCODES}


def _install_stub() -> None:
    driver.set_active(_StubDriver())
    CompiledKernel._init_handles = _init_handles
    # Candidates ask for the SM count on non-CPU devices.
    torch.cuda.get_device_properties = lambda device=None: SimpleNamespace(
        multi_processor_count=SM_COUNT, name="H200 (static check)"
    )


def _load_candidate(path: Path):
    spec = importlib.util.spec_from_file_location(f"_static_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(problem_path: Path, candidate_path: Path, size: str) -> list[dict]:
    problem = import_module(problem_path, size)
    with torch.device("meta"):
        inputs = problem.get_inputs()
        init = problem.get_init_inputs()
        model = _load_candidate(candidate_path).ModelNew(*init)
    _LAUNCHES.clear()
    with torch.no_grad():
        model(*inputs)
    rows = []
    limits = SM_LIMITS[CAPABILITY]
    for rec in _LAUNCHES.values():
        ck = rec.compiled
        md = ck.metadata
        occ = theoretical_occupancy(ck.n_regs, md.shared, md.num_warps, limits)
        grid = rec.grids[-1]
        programs = math.prod(grid)
        rows.append(
            {
                "kernel": rec.name,
                "launches": len(rec.grids),
                "specializations": len(rec.variants),
                "grid_size": programs,
                "num_warps": md.num_warps,
                "num_stages": md.num_stages,
                "n_regs": ck.n_regs,
                "n_spills": ck.n_spills,
                "shared_bytes": md.shared,
                "theoretical_occupancy_pct": round(100 * occ.fraction, 1),
                "occupancy_limiter": occ.limiter,
                "blocks_per_sm": occ.blocks_per_sm,
                "waves": round(programs / (SM_COUNT * occ.blocks_per_sm), 3),
                "sass": _sass_counts(ck.asm["cubin"]),
                **smem_summary(ck.asm["ptx"]),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(REPO / "benchmarks/diagnosis/cases_gpu.toml"))
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--size", default="gpu")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if os.environ.get("TRITON_INTERPRET") == "1":
        print("unset TRITON_INTERPRET: the static check compiles for sm_90", file=sys.stderr)
        return 2
    _install_stub()
    cases = tomllib.loads(Path(args.cases).read_text())["case"]
    report = []
    for case in cases:
        if args.only and case["name"] not in args.only:
            continue
        for variant in ("planted", "fixed"):
            rows = check(REPO / case["problem"], REPO / case[variant], args.size)
            report.append(
                {"case": case["name"], "label": case["label"], "variant": variant, "kernels": rows}
            )
            for r in rows:
                sass = " ".join(f"{k}={v}" for k, v in r["sass"].items() if v)
                banks = f"smem ways ld={r['smem_ld_ways']} st={r['smem_st_ways']}"
                print(
                    f"{case['name']:<34} {variant:<7} {r['kernel']:<28} x{r['launches']:<5}"
                    f" grid={r['grid_size']:<8} warps={r['num_warps']:<2} st={r['num_stages']}"
                    f" regs={r['n_regs']:<3} spills={r['n_spills']:<5} smem={r['shared_bytes']:<6}"
                    f" occ={r['theoretical_occupancy_pct']:>5}% ({r['occupancy_limiter']},"
                    f" {r['blocks_per_sm']} blk/SM) waves={r['waves']:<8} | {banks} | {sass}"
                )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
