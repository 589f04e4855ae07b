"""Theoretical occupancy of a GPU kernel from its launch resources (pure arithmetic).

The GPU fallback profiler needs this where Nsight Compute cannot read counters:
Triton's compiled metadata gives registers/thread, shared memory/block and
warps/block; the SM's limits give how many blocks fit, and which resource
stops more from fitting. Rules as in NVIDIA's occupancy calculator: registers
are allocated per warp in units of 256, and each block reserves 1 KiB of shared
memory for the system (compute capability 8.0 and later).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmLimits:
    max_warps: int
    max_blocks: int
    registers: int
    shared_bytes: int  # usable shared memory per SM
    register_unit: int = 256  # per-warp allocation granularity
    reserved_shared_per_block: int = 1024


# By compute capability (major, minor).
SM_LIMITS: dict[tuple[int, int], SmLimits] = {
    (8, 0): SmLimits(64, 32, 65536, 167936),  # A100
    (8, 6): SmLimits(48, 16, 65536, 102400),
    (8, 9): SmLimits(48, 24, 65536, 102400),  # L40S, RTX 4090
    (9, 0): SmLimits(64, 32, 65536, 233472),  # H100, H200
    (10, 0): SmLimits(64, 32, 65536, 233472),  # B200
}


@dataclass(frozen=True)
class Occupancy:
    blocks_per_sm: int
    warps_per_sm: int
    fraction: float  # active warps / max warps
    limiter: str  # "warps" | "blocks" | "registers" | "shared memory"
    limits: dict[str, int]  # blocks per SM each resource alone would allow


def theoretical_occupancy(
    registers_per_thread: int, shared_bytes_per_block: int, warps_per_block: int, limits: SmLimits
) -> Occupancy:
    if warps_per_block < 1:
        raise ValueError("a block has at least one warp")
    regs_per_warp = -(-registers_per_thread * 32 // limits.register_unit) * limits.register_unit
    by_resource = {
        "warps": limits.max_warps // warps_per_block,
        "blocks": limits.max_blocks,
        "registers": (
            limits.registers // regs_per_warp // warps_per_block
            if regs_per_warp
            else limits.max_blocks
        ),
        "shared memory": (
            limits.shared_bytes // (shared_bytes_per_block + limits.reserved_shared_per_block)
            if shared_bytes_per_block
            else limits.max_blocks
        ),
    }
    limiter = min(by_resource, key=lambda name: by_resource[name])
    blocks = by_resource[limiter]
    return Occupancy(
        blocks_per_sm=blocks,
        warps_per_sm=blocks * warps_per_block,
        fraction=blocks * warps_per_block / limits.max_warps,
        limiter=limiter,
        limits=by_resource,
    )
