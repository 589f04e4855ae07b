"""Large GPU outputs go to the judge through a pinned buffer: the bytes must be the same."""

import torch

from pragma_kernels.evaluation import shipping


def test_a_large_gpu_output_ships_through_the_pinned_buffer_unchanged(tmp_path):
    count = shipping.BOUNCE_BYTES // 4 * 2 + 12345  # three chunks, the last one partial
    output = torch.randn(count, device="cuda")
    shipping.ship([output, output[:100].to(torch.float16)], tmp_path, seed=3)
    big, small = shipping.receive(tmp_path, 3, "cuda")
    assert torch.equal(big, output)
    assert torch.equal(small, output[:100].to(torch.float16))
