"""The GPU fallback's pure parts: finding compiled kernels, their metrics, time shares."""

from types import SimpleNamespace

import pytest

from pragma_kernels.profilers.gpu_fallback import (
    KernelLaunches,
    kernel_metrics,
    profiles_from_launches,
)

# Shaped like the softmax seen on the H200: 54 registers, 16 B shared memory, 4 warps.
SOFTMAX = SimpleNamespace(
    function=0xBEEF,
    n_regs=54,
    n_spills=0,
    metadata=SimpleNamespace(shared=16, num_warps=4, num_stages=3),
)


def test_kernel_metrics_include_occupancy_and_its_limiter():
    metrics = {m.name: m.value for m in kernel_metrics(SOFTMAX, (9, 0))}
    assert metrics["n_regs"] == 54 and metrics["num_warps"] == 4
    assert metrics["theoretical_occupancy"] == pytest.approx(56.25)
    assert metrics["occupancy_limiter"] == "registers"
    unknown_gpu = {m.name for m in kernel_metrics(SOFTMAX, (7, 5))}
    assert "theoretical_occupancy" not in unknown_gpu


def test_time_shares_from_launch_times():
    launches = [
        KernelLaunches("softmax", SOFTMAX, [1.0, 1.0]),
        KernelLaunches("scale", None, [2.0]),
    ]
    profiles = profiles_from_launches(launches, (9, 0))
    assert [p.time_share for p in profiles] == [0.5, 0.5]
    first = {m.name: m.value for m in profiles[0].metrics}
    assert first["kernel_time_ms"] == 2.0 and first["kernel_launches"] == 2
    assert {m.name for m in profiles[1].metrics} == {"kernel_time_ms", "kernel_launches"}


def test_grid_size_and_waves_from_the_grid_and_occupancy():
    # 4 warps at 54 registers: 9 blocks per SM on an H200 (registers limit); 132 SMs.
    launches = [KernelLaunches("softmax", SOFTMAX, [1.0], grid=(2376, 1, 1))]
    metrics = {m.name: m.value for m in profiles_from_launches(launches, (9, 0), 132)[0].metrics}
    assert metrics["grid_size"] == 2376
    assert metrics["waves"] == pytest.approx(2376 / (132 * 9))
