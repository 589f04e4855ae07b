"""The bottleneck classes the diagnosis names: one vocabulary for the rules, the knowledge
compendium's `reveals`, the labelled suites and the Conductor's prompt (a low module, so
the compendium need not import the diagnosis)."""

from __future__ import annotations

from enum import StrEnum


class Bottleneck(StrEnum):
    # GPU
    MEMORY_BANDWIDTH = "memory_bandwidth_bound"  # at the DRAM roof: only fewer bytes help
    COMPUTE = "compute_bound"  # at the FLOP roof
    LOW_OCCUPANCY_REGISTERS = "low_occupancy_registers"  # latency exposed, registers cap warps
    LOW_OCCUPANCY_SHARED_MEMORY = "low_occupancy_shared_memory"
    UNCOALESCED_ACCESS = "uncoalesced_access"  # strided / column-major global loads
    SHARED_MEMORY_BANK_CONFLICTS = "shared_memory_bank_conflicts"
    WARP_DIVERGENCE = "warp_divergence"
    LAUNCH_TAIL = "launch_tail_bound"  # too few programs for the SMs, or a tiny kernel
    TENSOR_CORES_UNUSED = "tensor_cores_unused"  # matmul-like work off the tensor pipes
    MANY_SMALL_KERNELS = "many_small_kernels"  # no fusion: launches and round trips dominate
    REGISTER_SPILLS = "register_spills"  # values spilled to local memory: extra traffic
    ATOMIC_CONTENTION = "atomic_contention"  # many atomics on few addresses serialise
    SLOW_MATH = "slow_math"  # fp64 in a float problem, or transcendental-heavy code
    # CPU
    NOT_VECTORISED = "not_vectorised"
    CACHE_MISS_BOUND = "cache_miss_bound"  # memory / cache misses dominate
    BRANCH_MISPREDICT = "branch_mispredict_bound"
    SINGLE_THREADED = "single_threaded"
    POOR_DATA_REUSE = "poor_data_reuse"  # no blocking: the same data streamed many times
    FRONTEND_BOUND = "frontend_bound"
    FALSE_SHARING = "false_sharing"  # threads write one cache line: it ping-pongs between cores
    MULTI_PASS = "multi_pass"  # unfused loops / temporaries: the data is streamed several times
    SERIAL_FRACTION = "serial_fraction"  # parallel, but a serial part caps the speedup (Amdahl)
    # either
    NONE_FOUND = "no_clear_bottleneck"


GPU_CLASSES = (
    Bottleneck.MEMORY_BANDWIDTH,
    Bottleneck.COMPUTE,
    Bottleneck.LOW_OCCUPANCY_REGISTERS,
    Bottleneck.LOW_OCCUPANCY_SHARED_MEMORY,
    Bottleneck.UNCOALESCED_ACCESS,
    Bottleneck.SHARED_MEMORY_BANK_CONFLICTS,
    Bottleneck.WARP_DIVERGENCE,
    Bottleneck.LAUNCH_TAIL,
    Bottleneck.TENSOR_CORES_UNUSED,
    Bottleneck.MANY_SMALL_KERNELS,
    Bottleneck.REGISTER_SPILLS,
    Bottleneck.ATOMIC_CONTENTION,
    Bottleneck.SLOW_MATH,
)
CPU_CLASSES = (
    Bottleneck.MEMORY_BANDWIDTH,
    Bottleneck.NOT_VECTORISED,
    Bottleneck.CACHE_MISS_BOUND,
    Bottleneck.BRANCH_MISPREDICT,
    Bottleneck.SINGLE_THREADED,
    Bottleneck.POOR_DATA_REUSE,
    Bottleneck.FRONTEND_BOUND,
    Bottleneck.FALSE_SHARING,
    Bottleneck.MULTI_PASS,
    Bottleneck.SERIAL_FRACTION,
    Bottleneck.ATOMIC_CONTENTION,
    Bottleneck.SLOW_MATH,
    Bottleneck.REGISTER_SPILLS,
    Bottleneck.COMPUTE,
)
