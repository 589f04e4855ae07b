"""Roofline position: achieved bandwidth and FLOP rate against the bound that applies.

Pure arithmetic shared by the CPU profile and the GPU fallback. The attainable
rate for a kernel of arithmetic intensity I (FLOP/byte) is min(peak FLOP/s,
I x peak bandwidth); `roofline_fraction` is the achieved share of it. Without a
FLOP peak (or FLOPs) only the memory roof is used.
"""

from __future__ import annotations

from pragma_kernels.profilers.schema import Metric


def roofline_metrics(
    bytes_moved: int,
    flops: float,
    seconds: float,
    peak_gbps: float,
    peak_gflops: float | None,
    profiler: str,
    source: str,
) -> list[Metric]:
    achieved_gbps = bytes_moved / seconds / 1e9
    metrics = [
        Metric(
            name="achieved_dram_gbps",
            value=achieved_gbps,
            unit="GB/s",
            profiler=profiler,
            source=source,
        )
    ]
    if flops > 0:
        intensity = flops / bytes_moved
        achieved_gflops = flops / seconds / 1e9
        metrics += [
            Metric(
                name="achieved_gflops",
                value=achieved_gflops,
                unit="GFLOP/s",
                profiler=profiler,
                source=source,
            ),
            Metric(
                name="arithmetic_intensity",
                value=intensity,
                unit="FLOP/byte",
                profiler=profiler,
                source=source,
            ),
        ]
    if flops > 0 and peak_gflops:
        attainable = min(peak_gflops, intensity * peak_gbps)
        bound = "compute" if peak_gflops <= intensity * peak_gbps else "memory"
        fraction = achieved_gflops / attainable
    else:
        bound, fraction = "memory", achieved_gbps / peak_gbps
    return [
        *metrics,
        Metric(name="roofline_bound", value=bound, profiler=profiler, source=source),
        Metric(
            name="roofline_fraction", value=fraction, unit="ratio", profiler=profiler, source=source
        ),
    ]


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
    achieved_gbps = bytes_moved / seconds / 1e9
    metrics = [
        Metric(
            name="achieved_dram_gbps",
            value=achieved_gbps,
            unit="GB/s",
            profiler=profiler,
            source=source,
        ),
        Metric(
            name="dram_roofline_fraction",
            value=achieved_gbps / peak_gbps,
            unit="ratio",
            profiler=profiler,
            source=source,
        ),
    ]
    bound = "memory"
    if flops > 0:
        intensity = flops / bytes_moved
        achieved_tflops = flops / seconds / 1e12
        bound = "compute" if intensity * peak_gbps / 1e3 >= peak_tflops else "memory"
        metrics += [
            Metric(
                name="achieved_tflops",
                value=achieved_tflops,
                unit="TFLOP/s",
                profiler=profiler,
                source=source,
            ),
            Metric(
                name="compute_roofline_fraction",
                value=achieved_tflops / peak_tflops,
                unit="ratio",
                profiler=profiler,
                source=source,
            ),
            Metric(
                name="arithmetic_intensity",
                value=intensity,
                unit="FLOP/byte",
                profiler=profiler,
                source=source,
            ),
        ]
    return [*metrics, Metric(name="roofline_bound", value=bound, profiler=profiler, source=source)]
