"""Concrete, backend-specific remedies per bottleneck, and the metrics that would confirm it.

Hints name the knobs the Coder can turn: Triton's BLOCK sizes, num_warps,
num_stages, tl.dot, autotune configs; C++ loop order, blocking, OpenMP pragmas,
SIMD-friendly layouts and compiler flags.
"""

from __future__ import annotations

from pragma_kernels.diagnosis.classes import Bottleneck as B

TRITON_HINTS: dict[B, tuple[str, ...]] = {
    B.MEMORY_BANDWIDTH: (
        "The kernel is at the DRAM roof: only moving fewer bytes helps. Fuse neighbouring "
        "operations so intermediates never reach global memory, read each input once "
        "(one-pass / online algorithms), and store outputs in the narrowest dtype allowed.",
        "Check dram__bytes_read.sum against the inputs' size: re-reads mean a multi-pass "
        "algorithm or tiles evicted from L2.",
    ),
    B.COMPUTE: (
        "Compute-bound: cut the work per element (hoist invariants out of loops, use cheaper "
        "math such as tl.math fast approximations where the tolerance allows, avoid recomputing "
        "exp/log), and move matmul-like work to tl.dot.",
    ),
    B.LOW_OCCUPANCY_REGISTERS: (
        "Registers cap the resident warps: use smaller BLOCK sizes per program, fewer values "
        "live at once (accumulate in a loop instead of materialising a large tile), and try "
        "num_warps 4 vs 8 in triton.autotune configs.",
        "Spills (n_spills > 0) go to local memory: shrink the tile until n_spills is 0.",
    ),
    B.LOW_OCCUPANCY_SHARED_MEMORY: (
        "Shared memory caps the resident blocks: lower num_stages (each stage holds a tile "
        "copy) or the BLOCK_M/BLOCK_N/BLOCK_K tile sizes; autotune over (tiles, num_stages).",
    ),
    B.UNCOALESCED_ACCESS: (
        "Global loads are strided: make the fastest-varying index (tl.arange in the last "
        "block dimension) walk contiguous memory; for column access of a row-major tensor, "
        "load a 2-D tile [BLOCK_M, BLOCK_N] with contiguous rows and reduce or transpose it "
        "in registers (tl.trans), or pass strides so each program reads whole rows.",
    ),
    B.SHARED_MEMORY_BANK_CONFLICTS: (
        "Shared-memory accesses conflict on banks: change the tile shape (avoid a last "
        "dimension that is a multiple of 32 words when transposing), let Triton handle the "
        "layout via tl.dot / tl.trans instead of manual index shuffles.",
    ),
    B.WARP_DIVERGENCE: (
        "Lanes of a warp take different paths: replace data-dependent branches and loops with "
        "tl.where on both results, give every lane the same trip count (mask the extra "
        "iterations), or sort/bucket work so a warp's lanes do alike work.",
    ),
    B.LAUNCH_TAIL: (
        "Too few programs for the GPU's SMs (or a tiny kernel): split the work over more "
        "programs (smaller BLOCK, a 2-D grid, or a split-K / two-stage reduction with a "
        "second small kernel or atomics) so the grid covers several waves of all SMs.",
    ),
    B.TENSOR_CORES_UNUSED: (
        "Matmul-like work runs on the FP32 pipes: express it as tl.dot on [BLOCK_M, BLOCK_K] x "
        "[BLOCK_K, BLOCK_N] tiles (fp32 inputs use TF32 by default; fp16/bf16 inputs with an "
        "fp32 accumulator), with BLOCK sizes multiples of 16 and autotuned num_stages.",
    ),
    B.MANY_SMALL_KERNELS: (
        "Many short launches: fuse them into one kernel (one program per row or tile doing "
        "all the steps), and never launch kernels inside a Python loop over rows.",
    ),
}

CPP_HINTS: dict[B, tuple[str, ...]] = {
    B.MEMORY_BANDWIDTH: (
        "The kernel moves its bytes near this machine's measured copy bandwidth: more "
        "threads or wider SIMD will not help, only fewer bytes will. Read each input once "
        "(one pass, or statistics and output in the same sweep while a row is in cache), "
        "fuse neighbouring operations into one loop, and keep outputs in the narrowest "
        "allowed dtype.",
        "A large output written once can bypass the caches: non-temporal stores "
        "(_mm256_stream_ps from a 32-byte-aligned address, _mm_sfence() before returning) "
        "skip reading each output line before writing it, a third of a copy's traffic.",
    ),
    B.NOT_VECTORISED: (
        "The hot loop runs scalar: make it vectorisable - no loop-carried dependency (split "
        "the accumulator into several partial sums or use `#pragma omp simd reduction(+:acc)`), "
        "`__restrict__` pointers against aliasing, no calls or early exits inside the loop, "
        "unit-stride access; build with -O3 -march=native (and -ffast-math only if the "
        "tolerance allows reassociation).",
    ),
    B.CACHE_MISS_BOUND: (
        "Loads miss the caches: access memory in order (unit stride, the innermost loop over "
        "the contiguous dimension), gather into a contiguous buffer first, prefetch "
        "(__builtin_prefetch) irregular accesses, and shrink the working set per pass.",
    ),
    B.BRANCH_MISPREDICT: (
        "A data-dependent branch mispredicts: make it branchless (conditional select, "
        "min/max, arithmetic masks) so the compiler emits blend/cmov and can vectorise.",
    ),
    B.SINGLE_THREADED: (
        "Only one core works: parallelise the outer loop with `#pragma omp parallel for "
        "schedule(static)` (build with -fopenmp), give each thread a contiguous chunk, and "
        "reduce per-thread partials at the end.",
    ),
    B.POOR_DATA_REUSE: (
        "The same data is streamed from memory many times: reorder loops (i-k-j for a "
        "row-major matmul), block/tile so a tile of each operand stays in L1/L2 while it is "
        "reused, and pack the reused operand contiguously.",
    ),
    B.FRONTEND_BOUND: (
        "The frontend cannot feed the core: shrink the hot code (less unrolling, no inlined "
        "cold paths), keep the hot loop small and branch-light, and try -O2 vs -O3.",
    ),
    B.FALSE_SHARING: (
        "Threads write the same cache line (per-thread slots side by side, or neighbouring "
        "elements split between threads by schedule(static, 1)): accumulate in a local "
        "variable and write once per chunk, give each thread contiguous chunks "
        "(schedule(static) or chunks of >= 16 floats), or pad per-thread slots to 64 bytes "
        "(alignas(64)).",
    ),
    B.ATOMIC_CONTENTION: (
        "An atomic (lock-prefixed) update per element serialises the threads: reduce into "
        "a thread-local value with `#pragma omp parallel for reduction(+:acc)` or per-thread "
        "partial arrays, then combine once per thread; parallelise over outputs so each "
        "thread owns what it writes.",
    ),
    B.SLOW_MATH: (
        "Float data is computed in double precision (conversions, half-width vectors): use "
        "float throughout - 1.0f literals, std::exp on float (expf), float accumulators "
        "(several partial sums if accuracy matters); -ffast-math lets GCC call libmvec's "
        "vector expf/logf where the tolerance allows.",
    ),
    B.MULTI_PASS: (
        "The data is streamed several times (one loop per step, temporaries): fuse the "
        "steps into one loop that reads each input once and writes each output once; keep "
        "intermediates in registers, not in new[]-allocated arrays.",
    ),
    B.SERIAL_FRACTION: (
        "A serial part caps the speedup (Amdahl): parallelise the remaining serial loops "
        "(initialisation, final combine), merge parallel regions into one, and avoid "
        "per-call allocation or single-thread pre/post passes.",
    ),
    B.REGISTER_SPILLS: (
        "The hot loop loads and stores stack slots (spills): fewer live values per "
        "iteration - smaller register tiles, fewer accumulators, no local arrays indexed "
        "at run time - so they fit the 16 (AVX2) or 32 (AVX-512) vector registers.",
    ),
    B.COMPUTE: (
        "Near this machine's measured FLOP rate: only less arithmetic helps - hoist "
        "invariants, strength-reduce (multiply by a reciprocal), keep FMAs on wide "
        "vectors, or use an algorithm with fewer FLOPs.",
    ),
}

# Metrics that would confirm (or rule out) a class, to request in the next profile.
CONFIRMING_METRICS: dict[B, tuple[str, ...]] = {
    B.UNCOALESCED_ACCESS: ("l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio",),
    B.SHARED_MEMORY_BANK_CONFLICTS: (
        "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum",
        "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum",
    ),
    B.WARP_DIVERGENCE: ("smsp__thread_inst_executed_per_inst_executed.ratio",),
    B.COMPUTE: (  # busy issue slots, or slots wasted on idle lanes
        "smsp__issue_active.avg.pct_of_peak_sustained_active",
        "smsp__thread_inst_executed_per_inst_executed.ratio",
    ),
    B.TENSOR_CORES_UNUSED: (
        "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    ),
}

# -- GPU causes (rules_gpu.py): register spills, atomic contention, slow math ---------------

TRITON_HINTS.update(
    {
        B.REGISTER_SPILLS: (
            "Registers spill to local memory (n_spills > 0, local-memory traffic): hold fewer "
            "values per thread - more num_warps for the same BLOCK (a row of 8192 fp32 in one "
            "warp is 256 values per thread), a smaller BLOCK with a loop over the row "
            "(two-pass or online statistics), fewer live temporaries; shrink until n_spills is 0.",
        ),
        B.ATOMIC_CONTENTION: (
            "Atomics serialise on the same addresses: reduce inside the program first "
            "(tl.sum over the block) and issue one tl.atomic_add per program, or write "
            "per-program partials and reduce them in a second small kernel; never one atomic "
            "per element into a few outputs.",
        ),
        B.SLOW_MATH: (
            "Slow math: keep a float32 problem in float32 (no .to(tl.float64), no fp64 "
            "constants or libdevice double functions: the fp64 pipe and double exp/log are many "
            "times slower), and compute each transcendental once per element (exp(a)*exp(b) "
            "as exp(a+b), a closed form or libdevice erf/tanh instead of series of exp).",
        ),
    }
)

# For a CUDA C++ candidate (same classes, CUDA's knobs).
CUDA_HINTS: dict[B, tuple[str, ...]] = {
    B.REGISTER_SPILLS: (
        "Spills to local memory (ptxas -v: 'bytes spill stores'): fewer live values per thread, "
        "no dynamically indexed local arrays, __launch_bounds__ that let ptxas use more "
        "registers, or split the kernel.",
    ),
    B.ATOMIC_CONTENTION: (
        "Warp-reduce with __shfl_down_sync, then block-reduce in shared memory, then one "
        "atomicAdd per block (or per-block partials and a second kernel).",
    ),
    B.SLOW_MATH: (
        "Use float, not double (1.0f literals, expf/logf/tanhf, not exp/log), and the fast "
        "intrinsics (__expf, __fdividef) where the tolerance allows.",
    ),
    B.MANY_SMALL_KERNELS: (
        "Fuse the chain into one kernel (each thread does every step on its elements); no "
        "kernel launch per row from the host; CUDA graphs if launches must stay.",
    ),
}

CONFIRMING_METRICS.update(
    {
        B.REGISTER_SPILLS: (
            "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum",
            "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum",
        ),
        B.ATOMIC_CONTENTION: (
            "l1tex__t_requests_pipe_lsu_mem_global_op_atom.sum",
            "l1tex__t_requests_pipe_lsu_mem_global_op_red.sum",
            "lts__t_sectors_op_atom.sum",
            "lts__t_sectors_op_red.sum",
        ),
        B.SLOW_MATH: (
            "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active",
            "sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active",
        ),
        B.UNCOALESCED_ACCESS: (
            "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio",
            "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_st.ratio",
        ),
    }
)
