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
