"""Roofline position: achieved bandwidth and FLOP rate against the bound that applies.

Pure arithmetic shared by the CPU profile and the GPU fallback. The attainable
rate for a kernel of arithmetic intensity I (FLOP/byte) is min(peak FLOP/s,
I x peak bandwidth); `roofline_fraction` is the achieved share of it. Without a
FLOP peak (or FLOPs) only the memory roof is used.
"""

from __future__ import annotations

from pragma_kernels.profilers.schema import Metric, metric_maker


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
    if flops > 0 and peak_gflops:
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
