"""Rule-based bottleneck classification: each rule scores one class from the profile's
numbers; the best score wins, the runners-up are kept as alternatives.

Scores are 0..1 and mean "how strongly the evidence supports this class".
Counter evidence (ncu, perf) scores higher than its counter-free stand-in
(Triton metadata, roofline, cachegrind), so confidence drops on fallback
profiles. Thresholds follow Nsight Compute's own guidance and the labelled
suite in benchmarks/diagnosis (see benchmarks/results/diagnosis_*.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.hints import CONFIRMING_METRICS, CPP_HINTS, TRITON_HINTS
from pragma_kernels.diagnosis.model import Candidate, Diagnosis, Evidence
from pragma_kernels.diagnosis.rule_kit import Rule, evidence, found
from pragma_kernels.diagnosis.signals import Reading, Signals
from pragma_kernels.profilers.schema import Metric, Profile

NO_CLEAR_SCORE = 0.3  # below this no class is claimed
DEFAULT_SMS = 132  # H100/H200, when no spec is given
SECTORS_PER_LOAD = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio"
SECTORS_PER_STORE = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_st.ratio"
# A warp's coalesced load touches 4 sectors (fp32), 8 (64-bit) or 16 (128-bit vector
# loads, which Triton emits for contiguous blocks): up to 16 is coalesced for some width.
MAX_VECTOR_SECTORS = 16
REREAD_RATIO = 1.3  # DRAM bytes over the operator's minimum above which passes or re-reads show


# -- GPU rules -------------------------------------------------------------------------------


def many_small_kernels(s: Signals, context: dict) -> Candidate | None:
    launches, time = s.kernel_launches(), s.time_ms()
    if not launches or launches.value < 4:
        return None
    per_launch_us = 1e3 * time.value / launches.value if time else None
    if launches.value >= 16 or (per_launch_us is not None and per_launch_us < 20):
        score = 0.9 if launches.value >= 16 else 0.75
        return found(B.MANY_SMALL_KERNELS, score, evidence(launches, ">= 4 launches per call"))
    return None


def launch_tail(s: Signals, context: dict) -> Candidate | None:
    grid = s.read("launch__grid_size", "grid_size")
    waves = s.read("launch__waves_per_multiprocessor", "waves")
    sms = context.get("sm_count", DEFAULT_SMS)
    if grid and grid.value < sms:
        return found(B.LAUNCH_TAIL, 0.85, evidence(grid, f"< {sms} SMs"))
    if waves and waves.value < 0.5:
        return found(B.LAUNCH_TAIL, 0.7, evidence(waves, "< 0.5 waves"))
    return None


def tensor_cores_unused(s: Signals, context: dict) -> Candidate | None:
    compute = s.read("compute_roofline_fraction")
    if not compute:  # torch counted no matmul/conv FLOPs: not a matmul-like operator
        return None
    if s.text("roofline_bound") == "memory":  # below the ridge (a GEMV): bytes, not FLOPs
        return None
    tensor = s.read(
        "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
        "sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_active",
    )
    if tensor:
        if tensor.value < 1.0:
            return found(
                B.TENSOR_CORES_UNUSED,
                0.9,
                evidence(tensor, "< 1 % on a matmul-like operator"),
                evidence(compute, "FLOPs counted: matmul-like"),
            )
        return None
    source = context.get("source") or ""
    if source and "tl.dot" not in source:
        return found(
            B.TENSOR_CORES_UNUSED,
            0.7,
            evidence(compute, "FLOPs counted: matmul-like"),
            Evidence(
                metric="tl.dot in the candidate",
                value="absent",
                threshold="absent",
                source="static: candidate source",
            ),
        )
    if compute.value < 0.05:
        return found(B.TENSOR_CORES_UNUSED, 0.4, evidence(compute, "< 0.05 of the FLOP roof"))
    return None


def compute_bound(s: Signals, context: dict) -> Candidate | None:
    sm = s.read("sm__throughput.avg.pct_of_peak_sustained_elapsed")
    dram = s.dram_pct()
    if sm and sm.value >= 60 and (dram is None or dram[0] < 50):
        return found(B.COMPUTE, 0.55 + sm.value / 250, evidence(sm, ">= 60 % with DRAM < 50 %"))
    compute = s.read("compute_roofline_fraction")
    if compute and compute.value >= 0.5:
        return found(B.COMPUTE, 0.7, evidence(compute, ">= 0.5 of the FLOP roof"))
    return None


def memory_bandwidth(s: Signals, context: dict) -> Candidate | None:
    dram = s.dram_pct()
    if dram is None or dram[0] < 60:
        return None
    pct, reading = dram
    ratio = s.traffic_ratio()
    score = 0.6 + (pct - 60) / 100  # 0.6 at 60 %, 0.9 at 90 %
    sectors = s.read(SECTORS_PER_LOAD)
    scattered = sectors is None or sectors.value > MAX_VECTOR_SECTORS
    if ratio and ratio > 1.8 and scattered and not s.read("compute_roofline_fraction"):
        score -= 0.3  # at the roof, but the excess traffic may be wasted sectors
    items = [evidence(reading, ">= 60 % of peak DRAM bandwidth")]
    over = s.read("dram_traffic_over_minimum")
    if over and over.value >= REREAD_RATIO and not scattered:  # whole sectors, moved twice
        items.append(evidence(over, f">= {REREAD_RATIO}: bytes moved more than once"))
    return found(B.MEMORY_BANDWIDTH, score, *items)


def uncoalesced(s: Signals, context: dict) -> Candidate | None:
    """Loads or stores touching more sectors per warp request than any vector width needs
    (a transpose's column writes show only in the stores)."""
    readings = [r for r in (s.read(SECTORS_PER_LOAD), s.read(SECTORS_PER_STORE)) if r]
    sectors = max(readings, key=lambda r: r.value, default=None)
    if sectors:
        if sectors.value > MAX_VECTOR_SECTORS:
            return found(B.UNCOALESCED_ACCESS, 0.9, evidence(sectors, "> 16 sectors per request"))
        dram = s.dram_pct()
        vector = s.ptx_vector_width()
        if vector and sectors.value <= 4 * vector:  # 4-byte lanes x width: whole sectors
            return None
        if sectors.value > 4 and dram is not None and dram[0] < 60:
            # coalesced only if every load is a wide vector load; DRAM well below its peak
            return found(
                B.UNCOALESCED_ACCESS,
                0.7,
                evidence(sectors, "> 4 sectors per request (fp32 ideal) with DRAM < 60 %"),
            )
        return None
    ratio = s.traffic_ratio()
    matmul_like = s.read("compute_roofline_fraction")  # tiles re-read through L2 by design
    if ratio is not None and ratio > 1.8 and not matmul_like:
        reading = s.read("dram__bytes_read.sum")
        return found(
            B.UNCOALESCED_ACCESS,
            0.6,
            Evidence(
                metric="DRAM bytes / operator bytes",
                value=ratio,
                threshold="> 1.8: far more traffic than the tensors",
                source=reading.metric.source if reading else "",
            ),
        )
    return None


def low_occupancy(s: Signals, context: dict) -> Candidate | None:
    occupancy = s.read("sm__maximum_warps_per_active_cycle_pct", "theoretical_occupancy")
    limiter = s.occupancy_limiter()
    dram = s.dram_pct()
    busy_memory = dram is not None and dram[0] >= 60
    # spilled registers are their own class (rules_gpu.register_spills)
    if not occupancy or occupancy.value > 25 or busy_memory:
        return None
    kind = B.LOW_OCCUPANCY_SHARED_MEMORY if limiter == "shared memory" else None
    kind = kind or (B.LOW_OCCUPANCY_REGISTERS if limiter == "registers" else None)
    if kind is None:
        return None
    limit = Evidence(metric="occupancy limiter", value=limiter, threshold="the capping resource")
    return found(kind, 0.75, evidence(occupancy, "<= 25 % theoretical"), limit)


def bank_conflicts(s: Signals, context: dict) -> Candidate | None:
    conflicts = s.read("l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum")
    wavefronts = s.read("l1tex__data_pipe_lsu_wavefronts_mem_shared.sum")
    if not (conflicts and wavefronts and wavefronts.value):
        return None
    if conflicts.value / wavefronts.value <= 0.2:
        return None
    share = evidence(conflicts, "> 20 % of wavefronts")
    dram = s.dram_pct()
    if dram is not None and dram[0] >= 60:
        # At the DRAM roof the conflicts cost little: one final cross-warp tl.sum in a
        # streaming reduction conflicts often, but on few wavefronts (H200 scripted loop)
        return found(
            B.SHARED_MEMORY_BANK_CONFLICTS, 0.5, share, evidence(dram[1], ">= 60 %: at the roof")
        )
    return found(B.SHARED_MEMORY_BANK_CONFLICTS, 0.85, share)


def divergence(s: Signals, context: dict) -> Candidate | None:
    active = s.read("smsp__thread_inst_executed_per_inst_executed.ratio")
    if active and active.value < 24:  # a cause: outranks the compute-bound state it produces
        return found(B.WARP_DIVERGENCE, 0.95, evidence(active, "< 24 of 32 lanes active"))
    return None


from pragma_kernels.diagnosis.rules_gpu import GPU_CAUSE_RULES  # noqa: E402 (uses found)

GPU_RULES: tuple[Rule, ...] = (
    many_small_kernels,
    launch_tail,
    tensor_cores_unused,
    compute_bound,
    memory_bandwidth,
    uncoalesced,
    low_occupancy,
    bank_conflicts,
    divergence,
    *GPU_CAUSE_RULES,
)

# -- CPU rules -------------------------------------------------------------------------------


MIN_SIMULATED_INSTRUCTIONS = 1e5  # below this, cold misses and loop exits skew the rates


def _rate_weight(s: Signals) -> float:
    """Trust in cachegrind's rates: a tiny simulated run is dominated by cold-start effects."""
    instructions = s.read("Ir")
    return 1.0 if instructions is None or instructions.value >= MIN_SIMULATED_INSTRUCTIONS else 0.3


def not_vectorised(s: Signals, context: dict) -> Candidate | None:
    packed = s.read("packed_simd_fraction")
    scalar = s.read("scalar_fp_instructions")
    # one scalar FP instruction is a scalar hot loop when nothing in it is packed
    least = 1 if packed and packed.value == 0 else 2
    if packed and scalar and scalar.value >= least and packed.value < 0.2:
        return found(B.NOT_VECTORISED, 0.75, evidence(packed, "< 0.2 packed SIMD"))
    if packed and packed.value >= 0.2:  # the hot loop is packed: intrinsics, which the
        return None  # compiler does not count as vectorised, or a tail it missed
    missed, vectorised = s.read("missed_vectorisation_loops"), s.read("vectorised_loops")
    if missed and missed.value > 0 and vectorised and vectorised.value == 0:
        return found(B.NOT_VECTORISED, 0.6, evidence(missed, "> 0 loops, none vectorised"))
    return None


def _own_branch_rate(s: Signals) -> Reading | None:
    """Mispredicts per branch in the candidate's own functions (cachegrind's kernels other
    than its callees), for profiles made before `own_branch_mispredict_rate` existed."""
    own = [k for k in s.profile.kernels if not k.name.startswith("callees")]
    counts = {e: 0.0 for e in ("Bc", "Bcm", "Bi", "Bim")}
    for kernel in own:
        for metric in kernel.metrics:
            if metric.name in counts and metric.is_numeric():
                counts[metric.name] += float(metric.value)
    branches = counts["Bc"] + counts["Bi"]
    if len(own) == len(s.profile.kernels) or not branches:
        return None  # no callees to exclude: the profile-wide rate is the same
    value = (counts["Bcm"] + counts["Bim"]) / branches
    return Reading(
        Metric(
            name="own_branch_mispredict_rate",
            value=value,
            unit="ratio",
            profiler="cachegrind",
            source="cachegrind (the candidate's own functions)",
        )
    )


def branch_mispredict(s: Signals, context: dict) -> Candidate | None:
    topdown = s.read("topdown-bad-spec")
    if topdown and topdown.value > 15:
        return found(B.BRANCH_MISPREDICT, 0.9, evidence(topdown, "> 15 % of slots"))
    rate = s.read("own_branch_mispredict_rate") or _own_branch_rate(s)
    rate = rate or s.read("branch_mispredict_rate")
    if rate and rate.value > 0.1:
        score = 0.85 * _rate_weight(s)
        native = s.read("branches_in_loops_beyond_loop_control")
        if native is not None and native.value == 0:
            # cachegrind's replay is an AVX2 build: a select it compiled as a branch is
            # branch-free in the AVX-512 build that runs (its hot loops test no data)
            score *= 0.3
        return found(B.BRANCH_MISPREDICT, score, evidence(rate, "> 10 % of branches"))
    return None


def cache_misses(s: Signals, context: dict) -> Candidate | None:
    """Non-matmul: L1 misses far beyond one per line of the tensors (re-fetching evicted
    data); matmul-like (FLOPs counted): L1 misses that blocking would remove."""
    d1, ll = s.read("D1_miss_rate"), s.read("LL_miss_rate")
    excess = s.read("D1_misses_per_footprint_line")
    intensity = s.read("arithmetic_intensity")
    weight = _rate_weight(s)
    if intensity and intensity.value > 4:
        if d1 and d1.value > 0.01:
            return found(
                B.POOR_DATA_REUSE,
                0.8 * weight,
                evidence(d1, "> 1 % of accesses on a matmul-like operator"),
                evidence(intensity, "> 4 FLOP/byte: each value could be reused"),
            )
        return None
    if excess is not None:
        if excess.value > 4:
            return found(
                B.CACHE_MISS_BOUND,
                0.8 * weight,
                evidence(excess, "> 4 L1 misses per line of the tensors"),
            )
    elif d1 and d1.value > 0.1:
        return found(B.CACHE_MISS_BOUND, 0.65 * weight, evidence(d1, "> 10 % of accesses"))
    backend = s.read("topdown-be-bound")
    if backend and backend.value > 40:
        return found(B.CACHE_MISS_BOUND, 0.6, evidence(backend, "> 40 % of slots"))
    if ll and ll.value > 0.02 and excess is None:
        return found(B.CACHE_MISS_BOUND, 0.5 * weight, evidence(ll, "> 2 % of accesses"))
    return None


def frontend(s: Signals, context: dict) -> Candidate | None:
    topdown = s.read("topdown-fe-bound")
    if topdown and topdown.value > 30:
        return found(B.FRONTEND_BOUND, 0.85, evidence(topdown, "> 30 % of slots"))
    i1, instructions = s.read("I1mr"), s.read("Ir")
    if i1 and instructions and instructions.value and i1.value / instructions.value > 0.01:
        return found(
            B.FRONTEND_BOUND,
            0.6,
            Evidence(
                metric="I1mr / Ir",
                value=i1.value / instructions.value,
                threshold="> 1 % instruction-cache misses",
                source=i1.metric.source,
            ),
        )
    return None


# The rules whose evidence is static or timing (threads, atomics, precision, passes)
# live in rules_cpu.py; it imports `found` and `evidence` from here.
from pragma_kernels.diagnosis import rules_cpu  # noqa: E402

CPU_RULES: tuple[Rule, ...] = (
    rules_cpu.memory_bandwidth_cpu,
    rules_cpu.single_threaded,
    not_vectorised,
    branch_mispredict,
    cache_misses,
    frontend,
    *rules_cpu.CPU_CAUSE_RULES,
)


@dataclass(frozen=True)
class RuleSet:
    """A backend's rules and the hints its Coder can act on (backends/ picks one)."""

    rules: tuple[Rule, ...]
    hints: dict[B, tuple[str, ...]]


TRITON_RULES = RuleSet(GPU_RULES, TRITON_HINTS)
CPP_RULES = RuleSet(CPU_RULES, CPP_HINTS)


def diagnose(
    profile: Profile, rule_set: RuleSet, sm_count: int | None = None, source: str = ""
) -> Diagnosis:
    """The likeliest bottleneck with its evidence, hints and metrics to request next.

    `sm_count`: the GPU's SMs (launch tail); `source`: the candidate's code, for static
    evidence where counters are missing (e.g. no tl.dot on a matmul-like operator)."""
    signals = Signals(profile)
    context = {"sm_count": sm_count or DEFAULT_SMS, "source": source}
    candidates = sorted(
        (c for rule in rule_set.rules if (c := rule(signals, context)) is not None),
        key=lambda c: -c.score,
    )
    counters = signals.has_counters()
    if not candidates or candidates[0].score < NO_CLEAR_SCORE:
        return Diagnosis(
            bottleneck=B.NONE_FOUND,
            confidence=0.0,
            extra_metrics=_to_request(profile, candidates, None),
            alternatives=candidates[:3],
            counters=counters,
        )
    best = candidates[0]
    confidence = best.score * (1.0 if counters else 0.8)
    return Diagnosis(
        bottleneck=best.bottleneck,
        confidence=round(confidence, 2),
        evidence=best.evidence,
        hints=list(rule_set.hints.get(best.bottleneck, ())),
        extra_metrics=_to_request(profile, candidates, best),
        alternatives=candidates[1:4],
        counters=counters,
    )


def _to_request(profile: Profile, candidates: list[Candidate], best: Candidate | None) -> list[str]:
    """ncu metrics that would confirm the best class or tell the close ones apart."""
    if "ncu" not in profile.profilers():  # the confirming metrics are ncu's
        return []
    present = {m.name for m in profile.all_metrics()}
    unsure = best is None or best.score < 0.7
    wanted = [best.bottleneck] if best else []
    if unsure:  # the classes only extra counters can show
        wanted += [B.UNCOALESCED_ACCESS, B.WARP_DIVERGENCE, B.SHARED_MEMORY_BANK_CONFLICTS]
        wanted += [B.REGISTER_SPILLS, B.ATOMIC_CONTENTION, B.SLOW_MATH]
    names = [name for kind in wanted for name in CONFIRMING_METRICS.get(kind, ())]
    return [name for name in dict.fromkeys(names) if name not in present]
