"""Roofline position: achieved bandwidth and FLOP rate against the bound that applies.

Pure arithmetic shared by the CPU profile and the GPU fallback. The attainable
rate for a kernel of arithmetic intensity I (FLOP/byte) is min(peak FLOP/s,
I x peak bandwidth); `roofline_fraction` is the achieved share of it. Without a
FLOP peak (or FLOPs) only the memory roof is used. `copy_bandwidth_fraction` (bytes/s over
the copy roof) and `compute_peak_fraction` (FLOP/s over the FLOP roof) say which rate is
compared with which peak, whatever the bound.
"""

from __future__ import annotations

from pragma_kernels.profilers.schema import Finding, Metric, metric_maker


def roofline_metrics(
    bytes_moved: int,
    flops: float,
    seconds: float,
    peak_gbps: float,
    peak_gflops: float | None,
    profiler: str,
    source: str,
) -> list[Metric]:
    make = metric_maker(profiler, source)
    achieved_gbps = bytes_moved / seconds / 1e9
    metrics = [make("achieved_dram_gbps", achieved_gbps, "GB/s")]
    if flops > 0:
        intensity = flops / bytes_moved
        achieved_gflops = flops / seconds / 1e9
        metrics += [
            make("achieved_gflops", achieved_gflops, "GFLOP/s"),
            make("arithmetic_intensity", intensity, "FLOP/byte"),
        ]
    metrics.append(make("copy_bandwidth_fraction", achieved_gbps / peak_gbps, "ratio"))
    if flops > 0 and peak_gflops:
        metrics += [
            make("peak_gflops", peak_gflops, "GFLOP/s"),
            make("compute_peak_fraction", achieved_gflops / peak_gflops, "ratio"),
        ]
        attainable = min(peak_gflops, intensity * peak_gbps)
        bound = "compute" if peak_gflops <= intensity * peak_gbps else "memory"
        fraction = achieved_gflops / attainable
    else:
        bound, fraction = "memory", achieved_gbps / peak_gbps
    return [*metrics, make("roofline_bound", bound), make("roofline_fraction", fraction, "ratio")]


def gpu_roofline_metrics(
    bytes_moved: int,
    flops: float,
    seconds: float,
    peak_gbps: float,
    peak_tflops: float,
    profiler: str,
    source: str,
) -> list[Metric]:
    """The GPU's roofline position, named as the compendium's gpu_fallback entries."""
    make = metric_maker(profiler, source)
    achieved_gbps = bytes_moved / seconds / 1e9
    metrics = [
        make("operator_bytes", bytes_moved, "bytes"),
        make("achieved_dram_gbps", achieved_gbps, "GB/s"),
        make("dram_roofline_fraction", achieved_gbps / peak_gbps, "ratio"),
    ]
    bound = "memory"
    if flops > 0:
        intensity = flops / bytes_moved
        achieved_tflops = flops / seconds / 1e12
        bound = "compute" if intensity * peak_gbps / 1e3 >= peak_tflops else "memory"
        metrics += [
            make("achieved_tflops", achieved_tflops, "TFLOP/s"),
            make("compute_roofline_fraction", achieved_tflops / peak_tflops, "ratio"),
            make("arithmetic_intensity", intensity, "FLOP/byte"),
        ]
    return [*metrics, make("roofline_bound", bound)]


def traffic_metrics(
    bytes_moved: int,
    seconds: float,
    peak_gbps: float,
    lines_per_footprint_line: float,
    profiler: str,
    source: str,
) -> list[Metric]:
    """The traffic a multi-pass kernel really moves: the tensors' bytes times the cache
    lines it fetched per line of them (cachegrind's L1 misses; 1 = each byte once), over
    the copy roof (pure)."""
    make = metric_maker(profiler, source)
    traffic = bytes_moved * max(lines_per_footprint_line, 1.0)
    return [
        make("traffic_bytes_estimate", traffic, "bytes"),
        make("traffic_bandwidth_fraction", traffic / seconds / 1e9 / peak_gbps, "ratio"),
    ]


def roofs_text(measured_gflops: float | None, spec_gflops: float | None, gbps: float) -> str:
    """The roofs in one place, each named: the compute peak the roofline uses (measured, the
    profile's peak_gflops), the spec peak beside it, the DRAM roof and the ridge point. A
    prompt gave 332 GFLOP/s (spec) and peak_gflops 19.84 (measured) with nothing saying
    which one counted, and a glossary ridge "often ~10-30" against a true one near 5."""
    spec = (
        f"spec {spec_gflops:.0f} GFLOP/s (theoretical: clock x SIMD lanes x FMA)"
        if spec_gflops
        else "spec unknown"
    )
    memory = f"DRAM roof {gbps:.0f} GB/s (measured: a large copy)"
    if not measured_gflops:
        return f"fp32 peak: {spec}, not measured; {memory}; the roofline uses the DRAM roof only"
    return (
        f"fp32 peak for the roofline {measured_gflops:.4g} GFLOP/s (measured: torch's matmul; "
        f"the profile's peak_gflops), {spec}, not a roof here; {memory}; ridge point "
        f"{measured_gflops / gbps:.2g} FLOP/byte (peak / DRAM roof): a kernel whose "
        "arithmetic_intensity is above it is compute-bound on the roofline, below it "
        "memory-bound"
    )


CACHE_FIT_SOURCE = "tensor bytes vs cache sizes (/sys)"  # the finding rules look for


def cache_fit(footprint_bytes: int, caches: dict[str, int]) -> Finding | None:
    """Where the tensors' footprint fits: within the last-level cache the DRAM roof does not
    apply (softmax's 2 MiB was judged against 63 GB/s of DRAM while it sat in L3); None when
    the caches are unknown or the footprint exceeds them."""
    levels = sorted(
        ((name, size) for name, size in caches.items() if name[:2] in ("L2", "L3") and size),
        key=lambda item: item[1],
    )
    fits = [name for name, size in levels if footprint_bytes <= size]
    if not fits:
        return None
    largest = levels[-1]
    within = fits[0] if fits[0] != largest[0] else f"the LLC ({largest[0]})"
    return Finding(
        severity="INF",
        message=(
            f"footprint {footprint_bytes / 1e6:.2g} MB (inputs and outputs) fits {within}, "
            f"{dict(levels)[fits[0]] / 2**20:g} MiB: the DRAM roof does not apply; "
            "copy_bandwidth_fraction and roofline_fraction understate how close the kernel "
            "is to its limit"
        ),
        source=CACHE_FIT_SOURCE,
    )
