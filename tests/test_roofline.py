"""Roofline arithmetic (pure)."""

import pytest

from pragma_kernels.profilers.roofline import gpu_roofline_metrics, roofline_metrics


def values(metrics):
    return {m.name: m.value for m in metrics}


def test_memory_bound_kernel_against_the_bandwidth_roof():
    # H200-like peaks: 4800 GB/s, 67 TFLOP/s fp32. A copy-like kernel: 8 GB in 2 ms.
    got = values(roofline_metrics(8 * 10**9, 2 * 10**9, 2e-3, 4800, 67000, "static_cpu", "test"))
    assert got["achieved_dram_gbps"] == pytest.approx(4000)
    assert got["roofline_bound"] == "memory"
    assert got["roofline_fraction"] == pytest.approx(4000 / 4800)


def test_compute_bound_kernel_against_the_flop_roof():
    # A GEMM: 1.1e12 FLOP over 0.2 GB in 20 ms -> intensity 5500, far past the ridge.
    got = values(roofline_metrics(2 * 10**8, 1.1e12, 20e-3, 4800, 67000, "static_cpu", "test"))
    assert got["roofline_bound"] == "compute"
    assert got["roofline_fraction"] == pytest.approx(55000 / 67000)


def test_without_flops_or_a_flop_peak_only_the_memory_roof_applies():
    got = values(roofline_metrics(10**9, 0, 1e-3, 2000, None, "static_cpu", "test"))
    assert got["roofline_bound"] == "memory" and got["roofline_fraction"] == pytest.approx(0.5)
    assert "arithmetic_intensity" not in got


def test_gpu_roofline_names_and_bound():
    # H200: 4800 GB/s, 494.7 TFLOP/s TF32. Softmax-like: 128 MB moved in 36 us, no FLOPs counted.
    got = values(gpu_roofline_metrics(128 * 10**6, 0, 36e-6, 4800, 494.7, "gpu_fallback", "test"))
    assert got["achieved_dram_gbps"] == pytest.approx(128e6 / 36e-6 / 1e9)
    assert got["dram_roofline_fraction"] == pytest.approx(got["achieved_dram_gbps"] / 4800)
    assert got["roofline_bound"] == "memory" and "achieved_tflops" not in got
    # A 4096^3 GEMM in fp32: 137 GFLOP over 201 MB, intensity ~683 FLOP/byte > ridge ~103.
    flops, moved = 2 * 4096**3, 3 * 4096**2 * 4
    got = values(gpu_roofline_metrics(moved, flops, 0.5e-3, 4800, 494.7, "gpu_fallback", "test"))
    assert got["roofline_bound"] == "compute"
    assert got["compute_roofline_fraction"] == pytest.approx(flops / 0.5e-3 / 1e12 / 494.7)


def test_a_cached_peak_keeps_the_best_and_remeasures_one_taken_under_load(tmp_path, monkeypatch):
    from pragma_kernels.profilers import cpu

    path = tmp_path / "peak"
    monkeypatch.setattr(cpu.os, "getloadavg", lambda: (99.0, 0.0, 0.0))
    assert cpu.cached_peak(path, lambda: 20.0) == 20.0  # measured under load: marked
    monkeypatch.setattr(cpu.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert cpu.cached_peak(path, lambda: 330.0) == 330.0  # measured again, quiet: kept
    assert cpu.cached_peak(path, lambda: 1.0) == 330.0  # quiet and stored: not measured
    path.write_text("330.0 loaded")
    assert cpu.cached_peak(path, lambda: 100.0) == 330.0  # noise never lowers a peak


def test_one_peak_for_the_roofline_with_the_spec_beside_it_and_the_ridge():
    """Hand-answered finding 12: 332 GFLOP/s (spec) in the Hardware line, peak_gflops 19.84
    (measured) in the profile, nothing saying which the roofline used, and no ridge."""
    from pragma_kernels.profilers.roofline import roofs_text

    text = roofs_text(19.84, 332.0, 63.0)
    assert "fp32 peak for the roofline 19.84 GFLOP/s (measured" in text
    assert "spec 332 GFLOP/s (theoretical" in text and "not a roof here" in text
    assert "DRAM roof 63 GB/s" in text and "ridge point 0.31 FLOP/byte" in text
    assert "ridge" not in roofs_text(None, 332.0, 63.0)


def test_a_footprint_inside_the_last_level_cache_is_not_judged_by_the_dram_roof():
    from pragma_kernels.profilers.roofline import cache_fit

    caches = {"L1d": 48 * 2**10, "L2": 2**20, "L3": 32 * 2**20}
    fit = cache_fit(2_100_000, caches)
    assert fit is not None and fit.message.startswith("footprint 2.1 MB (inputs and outputs)")
    assert "fits the LLC (L3), 32 MiB: the DRAM roof does not apply" in fit.message
    assert "fits L2, 1 MiB" in cache_fit(500_000, caches).message
    assert cache_fit(64 * 2**20, caches) is None and cache_fit(10, {}) is None
