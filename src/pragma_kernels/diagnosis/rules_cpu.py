"""CPU rules: each scores one class from PMU-free evidence (timing, roofline against the
measured copy and FLOP peaks, cachegrind's simulated caches, the compiler's remarks, the
built object's hot loops, the candidate's source), and perf's top-down where it exists.

Static evidence (what the binary does: parallel regions, locked instructions, double
precision, stack traffic) is preferred to timing evidence: on a shared machine the thread
scaling of the same kernel swung 0.68-1.31, and a parallel kernel under load reads as a
slowdown whatever its code. Timing evidence is therefore a supporting signal, discounted
when the machine was loaded (`machine_load_per_core`) or its rounds disagreed
(`thread_scaling_spread`). Thresholds were set on the calibration split of the generated
suite (benchmarks/diagnosis/generate_cpu.py) and the hand-written CPU cases.
"""

from __future__ import annotations

import re

from pragma_kernels.diagnosis.classes import Bottleneck as B
from pragma_kernels.diagnosis.model import Candidate, Evidence
from pragma_kernels.diagnosis.rule_kit import Rule, evidence, found
from pragma_kernels.diagnosis.signals import Reading, Signals

MIN_SIMULATED_INSTRUCTIONS = 1e5  # below this, cold misses and loop exits skew the rates
LOADED = 0.75  # load average per core above which timing evidence is discounted
# A footprint within the LLC is not DRAM-bound: its fraction of the DRAM copy roof counts
# half (0.3-0.4 at most, under the static causes' 0.55-0.95): it decides only alone.
LLC_RESIDENT_WEIGHT = 0.5
PARALLEL_WORDS = ("omp parallel", "omp for", "omp task", "std::thread", "pthread_create")
ATOMIC_WORDS = ("omp atomic", "omp critical", "std::atomic", "__atomic_", "__sync_")
# Source shapes that put different threads' writes in one cache line.
_CHUNK_ONE = re.compile(
    r"schedule\s*\(\s*(?:static|dynamic)\s*,\s*1\s*\)|schedule\s*\(\s*dynamic\s*\)"
)
_THREAD_ID = re.compile(r"(\w+)\s*=\s*omp_get_thread_num\s*\(\s*\)")


def _static(name: str, value: float | str, threshold: str) -> Evidence:
    return Evidence(
        metric=name, value=value, threshold=threshold, source="static: candidate source"
    )


def _rate_weight(s: Signals) -> float:
    """Trust in cachegrind's rates: a tiny simulated run is dominated by cold-start effects."""
    instructions = s.read("Ir")
    return 1.0 if instructions is None or instructions.value >= MIN_SIMULATED_INSTRUCTIONS else 0.3


def _timing_weight(s: Signals) -> float:
    """Trust in timing-based evidence: lower on a loaded machine or with disagreeing rounds."""
    load, spread = s.read("machine_load_per_core"), s.read("thread_scaling_spread")
    weight = 0.8 if load and load.value > LOADED else 1.0
    return weight * (0.85 if spread and spread.value > 0.3 else 1.0)


def _parallel(s: Signals, source: str) -> tuple[bool | None, Evidence | None]:
    """Whether the code starts threads: the object's calls (static), else the source."""
    regions = s.read("parallel_regions")
    if regions is not None:
        return regions.value > 0, evidence(regions, "calls that start threads")
    if source:
        words = [w for w in PARALLEL_WORDS if w in source]
        return bool(words), _static("parallel construct", ", ".join(words) or "none", "in source")
    return None, None


def false_sharing_pattern(source: str) -> str | None:
    """The source shape that makes threads write one cache line, if any (pure)."""
    if m := _CHUNK_ONE.search(source):
        return f"{m.group(0)}: neighbouring iterations on different threads"
    if "volatile" in source and "omp_get_thread_num" in source:
        return "volatile per-thread slots indexed by omp_get_thread_num()"
    for name in _THREAD_ID.findall(source):
        if re.search(rf"\[[^\]\n]*\b{re.escape(name)}\s*\]\s*[-+*/]?=(?!=)", source):
            return f"writes to an array element indexed by the thread id ({name})"
    return None


def single_threaded(s: Signals, context: dict) -> Candidate | None:
    """No thread is ever started (static), and more threads did not speed it up."""
    source = context.get("source") or ""
    parallel, proof = _parallel(s, source)
    scaling = s.read("thread_scaling")
    if parallel:
        return None
    if parallel is None:  # neither the object nor the source: timing alone
        if not scaling or scaling.value >= 1.25:
            return None
        return found(B.SINGLE_THREADED, 0.7, evidence(scaling, "< 1.25x from 1 to N threads"))
    if scaling and scaling.value >= 1.6:  # it did speed up: threads started elsewhere
        return None
    items = [proof] + ([evidence(scaling, "< 1.6x from 1 to N threads")] if scaling else [])
    return found(B.SINGLE_THREADED, 0.85, *items)


def serial_fraction(s: Signals, context: dict) -> Candidate | None:
    """Parallel code whose speedup Amdahl's law explains with a large serial share, measured
    on a quiet machine with agreeing rounds (else it is load, not code)."""
    parallel, proof = _parallel(s, context.get("source") or "")
    fraction, scaling = s.read("serial_fraction"), s.read("thread_scaling")
    if not (parallel and fraction and scaling) or _timing_weight(s) < 1.0:
        return None
    if fraction.value < 0.5 or scaling.value < 0.9:  # a slowdown is contention, not Amdahl
        return None
    return found(B.SERIAL_FRACTION, 0.55, evidence(fraction, ">= 0.5 serial (Amdahl)"), proof)


def atomic_contention(s: Signals, context: dict) -> Candidate | None:
    """Locked read-modify-writes in the hot loop of parallel code."""
    source = context.get("source") or ""
    parallel, proof = _parallel(s, source)
    atomics = s.read("atomic_instructions_in_loops")
    if not parallel:
        return None
    scaling = s.read("thread_scaling")
    slower = scaling is not None and scaling.value < 0.8
    if atomics is not None:
        if atomics.value <= 0:
            return None
        items = [evidence(atomics, "> 0 locked instructions in a hot loop"), proof]
        items += [evidence(scaling, "< 0.8: slower with more threads")] if slower else []
        # a root cause: the locked updates also keep the loop scalar and serialise it
        return found(B.ATOMIC_CONTENTION, 0.95 if slower else 0.88, *items)
    words = [w for w in ATOMIC_WORDS if w in source]
    if words:
        return found(
            B.ATOMIC_CONTENTION, 0.6, _static("atomic construct", ", ".join(words), "in source")
        )
    return None


def false_sharing(s: Signals, context: dict) -> Candidate | None:
    """Parallel code that writes one cache line from several threads: seen in the source's
    shape (chunks of one iteration, per-thread slots side by side) and in a slowdown with
    more threads; the slowdown alone only counts on a quiet machine."""
    source = context.get("source") or ""
    parallel, _ = _parallel(s, source)
    atomics = s.read("atomic_instructions_in_loops")
    if not parallel or (atomics and atomics.value > 0):
        return None
    scaling = s.read("thread_scaling")
    pattern = false_sharing_pattern(source) if source else None
    slower = scaling is not None and scaling.value < 0.6
    if pattern:
        items = [_static("false-sharing pattern", pattern, "threads writing one line")]
        items += [evidence(scaling, "< 0.6: slower with more threads")] if slower else []
        # a root cause: the same shape (one element per chunk, slots updated in place)
        # also keeps the loop scalar, so it outranks what it causes
        return found(B.FALSE_SHARING, 0.92 if slower else 0.87, *items)
    if slower and _timing_weight(s) == 1.0 and scaling.value < 0.5:
        return found(B.FALSE_SHARING, 0.6, evidence(scaling, "< 0.5 on a quiet machine"))
    return None


def slow_math(s: Signals, context: dict) -> Candidate | None:
    """A float problem computed in double: conversions and double-precision arithmetic in
    the hot loops (half the lanes per vector, slower divides and libm)."""
    double, conversions = s.read("double_fp_fraction"), s.read("fp_conversions_in_loops")
    if not (double and conversions) or conversions.value <= 0 or double.value < 0.4:
        return None
    return found(
        B.SLOW_MATH,
        0.8,
        evidence(double, ">= 0.4 of FP arithmetic in double"),
        evidence(conversions, "> 0 float<->double conversions in hot loops"),
    )


def register_spills(s: Signals, context: dict) -> Candidate | None:
    """Stack loads/stores in hot loops that no call explains (a call saves registers)."""
    stack, loop = s.read("stack_accesses_in_loops"), s.read("loop_instructions")
    calls = s.read("math_calls_in_loops")
    if not (stack and loop and loop.value) or (calls and calls.value > 0):
        return None
    if stack.value < 4 or stack.value / loop.value < 0.1:
        return None
    return found(
        B.REGISTER_SPILLS,
        0.6,
        evidence(stack, ">= 4 stack accesses, >= 10 % of hot-loop instructions"),
    )


def multi_pass(s: Signals, context: dict) -> Candidate | None:
    """Each tensor line fetched 1.7-6 times (a few passes over the data, through
    temporaries), where a fused kernel fetches it once; several parallel regions make it
    likelier (one per pass)."""
    per_line = s.read("D1_misses_per_footprint_line")
    intensity = s.read("arithmetic_intensity")
    if not per_line or not 1.7 <= per_line.value <= 6 or (intensity and intensity.value > 4):
        return None
    regions = s.read("parallel_regions")
    items = [evidence(per_line, "1.7-6 L1 misses per tensor line: several passes")]
    score = 0.7 * _rate_weight(s)
    if regions and regions.value >= 2:
        items.append(evidence(regions, ">= 2 parallel regions: one per pass"))
        score += 0.1
    traffic = s.read("traffic_bandwidth_fraction")
    if traffic and traffic.value >= 0.6:
        items.append(evidence(traffic, ">= 0.6 of copy bandwidth counting the passes"))
    return found(B.MULTI_PASS, score, *items)


def compute_bound_cpu(s: Signals, context: dict) -> Candidate | None:
    """Against the FLOP roof (measured matmul rate), where the roofline says compute."""
    bound, fraction = s.text("roofline_bound"), s.read("compute_peak_fraction")
    if bound != "compute" or not fraction or fraction.value < 0.5:
        return None
    return found(B.COMPUTE, 0.7, evidence(fraction, ">= 0.5 of the measured FLOP rate"))


def memory_bandwidth_cpu(s: Signals, context: dict) -> Candidate | None:
    """Tensor bytes per second against the measured copy: near it, the kernel is done
    unless it moves fewer bytes. Not for a kernel the roofline puts under the FLOP roof.

    The copy roof is DRAM's (a copy larger than the caches). A footprint that fits the LLC
    is re-read from it between timed calls, so its fraction of that roof (often > 1) says
    the kernel is fast, not that DRAM limits it: half weight there, below any static cause.
    The fraction is timing, so it takes the load discount the other timing evidence takes."""
    if s.text("roofline_bound") == "compute":
        return None
    fraction: Reading | None = s.read("copy_bandwidth_fraction", "roofline_fraction")
    if not fraction or fraction.value < 0.6:
        return None
    score = (0.6 + min(fraction.value - 0.6, 0.4) / 2) * _timing_weight(s)
    items = [evidence(fraction, ">= 0.6 of the measured copy (DRAM) bandwidth")]
    if fit := s.cache_fit():
        score *= LLC_RESIDENT_WEIGHT
        items.append(
            Evidence(
                metric="footprint in cache",
                value=fit.message.split(":")[0],
                threshold="fits the LLC: the DRAM roof does not apply (half weight)",
                source=fit.source,
            )
        )
    return found(B.MEMORY_BANDWIDTH, score, *items)


CPU_CAUSE_RULES: tuple[Rule, ...] = (
    serial_fraction,
    atomic_contention,
    false_sharing,
    slow_math,
    register_spills,
    multi_pass,
    compute_bound_cpu,
)
