"""GPU rules for the defects that cost time without a roof to show it: register spills,
atomic contention, slow math (fp64 or transcendental-heavy code) and unfused kernel chains.

Each is a cause, so where its evidence holds it outranks the state it produces (a spilling
kernel at the DRAM roof, a transcendental-bound one that reads compute-bound). Counter
evidence (ncu) scores higher than the counter-free stand-in: Triton's compiled metadata
(n_spills) and static PTX counts (gpu_fallback.ptx_counts). Thresholds were set on the
calibrate split of the generated suite (benchmarks/diagnosis/generate_gpu.py) and on the
H200 observations in benchmarks/results/diagnosis_gpu_h200.md.
"""

from __future__ import annotations

from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.model import Candidate, Evidence
from pragma_kernels.diagnosis.rule_kit import evidence, found
from pragma_kernels.diagnosis.signals import Reading, Signals

LOCAL_LD = "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum"
LOCAL_ST = "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum"
ATOM = "l1tex__t_requests_pipe_lsu_mem_global_op_atom.sum"
RED = "l1tex__t_requests_pipe_lsu_mem_global_op_red.sum"
LOADS = "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum"
XU = "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active"
FP64 = "sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active"
SPILL_SHARE = 0.1  # local bytes per DRAM byte from which spills cost time
ATOMIC_SHARE = 0.25  # atomic requests per global load request: one per element or so
MUFU_PER_ACCESS = 4.0  # transcendentals per global element accessed: heavier than any activation
MIN_CHAIN_SHARE = 0.15  # a kernel of an unfused chain takes at least this share of the time


def _ratio(name: str, value: float, threshold: str, source: str) -> Evidence:
    return Evidence(metric=name, value=value, threshold=threshold, source=source)


def _below_roof(s: Signals, limit: float = 60.0) -> bool:
    dram = s.dram_pct()
    return dram is None or dram[0] < limit


def _sum(s: Signals, *names: str) -> tuple[float, Reading] | None:
    readings = [r for name in names if (r := s.read(name))]
    return (sum(r.value for r in readings), readings[0]) if readings else None


def register_spills(s: Signals, context: dict) -> Candidate | None:
    """Local-memory traffic (ncu) of at least a tenth of the DRAM bytes, else spills in
    Triton's compiled metadata with the kernel below the DRAM roof."""
    local = _sum(s, LOCAL_LD, LOCAL_ST)
    if local is not None:
        dram = _sum(s, "dram__bytes_read.sum", "dram__bytes_write.sum")
        share = local[0] / dram[0] if dram and dram[0] else (1.0 if local[0] else 0.0)
        if share < SPILL_SHARE:
            return None
        return found(
            B.REGISTER_SPILLS,
            0.95,
            _ratio(
                "local-memory bytes / DRAM bytes",
                share,
                f">= {SPILL_SHARE:g}: spilled registers round-trip through local memory",
                local[1].metric.source,
            ),
        )
    spills = s.read("n_spills")
    if not spills or spills.value <= 0:
        return None
    score = 0.85 if _below_roof(s) else 0.55
    return found(B.REGISTER_SPILLS, score, evidence(spills, "> 0 registers spilled"))


def atomic_contention(s: Signals, context: dict) -> Candidate | None:
    """Atomics on a large share of the accesses (per element rather than per program), with
    the kernel far from the DRAM roof: the updates serialise on few addresses."""
    atomics = _sum(s, ATOM, RED)
    if atomics is not None:
        loads = s.read(LOADS)
        share = atomics[0] / loads.value if loads and loads.value else float(atomics[0] > 0)
        if share < ATOMIC_SHARE or not _below_roof(s, 50):
            return None
        return found(
            B.ATOMIC_CONTENTION,
            0.93,
            _ratio(
                "atomic requests / global load requests",
                share,
                f">= {ATOMIC_SHARE:g} with DRAM < 50 %: an atomic per element",
                atomics[1].metric.source,
            ),
        )
    static = s.read("ptx_atomic_instructions")
    if not static or static.value < 2 or not _below_roof(s, 40):
        return None  # one atomic per program (a split reduction) is no contention
    return found(
        B.ATOMIC_CONTENTION,
        0.75,
        evidence(static, ">= 2 atomics per thread's code, DRAM roofline < 0.4"),
    )


def slow_math(s: Signals, context: dict) -> Candidate | None:
    """The fp64 pipe or the transcendental (XU) pipe busy while DRAM is not; counter-free:
    fp64 arithmetic in the compiled PTX, or several transcendentals per element accessed."""
    if _below_roof(s, 50):
        for name, limit in ((FP64, 30.0), (XU, 40.0)):
            pipe = s.read(name)
            if pipe and pipe.value >= limit:
                return found(
                    B.SLOW_MATH,
                    0.96,
                    evidence(pipe, f">= {limit:g} % of the pipe with DRAM < 50 %"),
                )
    if s.read(FP64) or s.read(XU) or not _below_roof(s, 70):
        return None  # counters saw neither pipe busy, or the kernel is at the memory roof
    fp64 = s.read("ptx_fp64_instructions")
    if fp64 and fp64.value >= 4:
        return found(B.SLOW_MATH, 0.8, evidence(fp64, ">= 4 fp64 instructions in the PTX"))
    if not _below_roof(s, 50):
        return None
    mufu, accesses = s.read("ptx_transcendental_instructions"), s.read("ptx_global_accesses")
    if mufu and accesses and accesses.value and mufu.value / accesses.value >= MUFU_PER_ACCESS:
        return found(
            B.SLOW_MATH,
            0.75,
            _ratio(
                "PTX transcendentals / global elements accessed",
                mufu.value / accesses.value,
                f">= {MUFU_PER_ACCESS:g} per element",
                mufu.metric.source,
            ),
        )
    return None


def unfused_chain(s: Signals, context: dict) -> Candidate | None:
    """Two or more kernels each taking a real share of the time on an operator that is not
    matmul-like: intermediates make round trips through DRAM. Counters at the DRAM roof
    make it certain (each kernel streams; only fusing removes bytes)."""
    big = [k for k in s.profile.kernels if k.time_share >= MIN_CHAIN_SHARE]
    if len(big) < 2 or s.read("compute_roofline_fraction"):
        return None
    chain = Evidence(
        metric="kernels taking >= 15 % of the time each",
        value=float(len(big)),
        threshold=">= 2 on a non-matmul operator: an unfused chain",
        source=", ".join(k.name for k in big)[:120],
    )
    dram = s.dram_pct()
    if s.read("dram__throughput.avg.pct_of_peak_sustained_elapsed"):
        if dram and dram[0] >= 60:
            return found(
                B.MANY_SMALL_KERNELS, 0.93, chain, evidence(dram[1], ">= 60 %: at the roof")
            )
        return found(B.MANY_SMALL_KERNELS, 0.5, chain)
    return found(B.MANY_SMALL_KERNELS, 0.8, chain)


def static_access_and_branches(s: Signals, context: dict) -> Candidate | None:
    """Counter-free only, far below the DRAM roof: scalar global accesses where contiguous
    blocks compile to 128-bit vectors (strided, likely uncoalesced), else branches ptxas
    expects to diverge (BSSY reconvergence points) in a kernel without fp64 or atomics.
    Weak evidence: it names the likeliest cause, not a measured one."""
    if s.has_counters() or not _below_roof(s, 40):
        return None
    width = s.ptx_vector_width()
    if width is not None and width < 2:
        return found(
            B.UNCOALESCED_ACCESS,
            0.55,
            _ratio(
                "PTX global elements per access instruction",
                width,
                "< 2 (contiguous blocks load 4 per instruction), DRAM roofline < 0.4",
                s.read("ptx_global_accesses").metric.source,
            ),
        )
    branches = s.read("sass_reconvergence_points")
    fp64, atomics = s.read("ptx_fp64_instructions"), s.read("ptx_atomic_instructions")
    if (
        branches
        and branches.value > 0
        and not (fp64 and fp64.value)
        and not (atomics and atomics.value)
    ):
        return found(
            B.WARP_DIVERGENCE,
            0.6,
            evidence(branches, "> 0 divergent branches, DRAM roofline < 0.4"),
        )
    return None


GPU_CAUSE_RULES = (
    register_spills,
    atomic_contention,
    slow_math,
    unfused_chain,
    static_access_and_branches,
)
