"""Theoretical occupancy from launch resources (the GPU fallback's arithmetic)."""

import pytest

from pragma_kernels.profilers.occupancy import SM_LIMITS, theoretical_occupancy

H200 = SM_LIMITS[(9, 0)]


def test_softmax_seen_on_the_h200_is_register_limited():
    # gpu-notes: a Triton softmax with 54 registers/thread, 4 warps, 16 B shared memory.
    occupancy = theoretical_occupancy(54, 16, 4, H200)
    # 54 regs -> 1792 per warp (units of 256) -> 36 warps -> 9 blocks of 4 warps.
    assert occupancy.limiter == "registers" and occupancy.blocks_per_sm == 9
    assert occupancy.fraction == pytest.approx(36 / 64)


def test_shared_memory_and_warp_limits():
    big_tiles = theoretical_occupancy(32, 100 * 1024, 8, H200)
    assert big_tiles.limiter == "shared memory" and big_tiles.blocks_per_sm == 2
    wide = theoretical_occupancy(16, 0, 32, H200)
    assert wide.limiter == "warps" and wide.fraction == 1.0
    tiny = theoretical_occupancy(16, 0, 1, H200)
    assert tiny.limiter == "blocks" and tiny.fraction == 0.5


def test_a_block_without_warps_is_rejected():
    with pytest.raises(ValueError):
        theoretical_occupancy(32, 0, 0, H200)
