"""Nsight Compute on a candidate of 32,768 small launches per call: sampled, bounded, said so.

Run on the GPU machine: `pytest tests/gpu/test_ncu_sampling.py -v -s`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pragma_kernels.evaluation import profile_candidate
from pragma_kernels.profilers.ncu import PER_KERNEL, find_ncu
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parents[2]
SOFTSIGN = ROOT / "examples" / "problems" / "softsign.py"
LAUNCHES = 32768
# Softsign, one launch per chunk: what an LLM writes when it loops over rows in Python.
MANY_LAUNCHES = f"""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def chunk_kernel(x_ptr, out_ptr, start, n, BLOCK: tl.constexpr):
    offs = start + tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, x / (1.0 + tl.abs(x)), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        chunk = triton.cdiv(n, {LAUNCHES})
        for start in range(0, n, chunk):
            end = min(start + chunk, n)
            chunk_kernel[(triton.cdiv(end - start, 1024),)](x, out, start, end, BLOCK=1024)
        return out
"""


def test_many_launches_are_sampled_and_the_profile_says_how_many(tmp_path):
    if find_ncu() is None:
        pytest.skip("ncu is not installed here")
    candidate = tmp_path / "many_launches.py"
    candidate.write_text(MANY_LAUNCHES)
    start = time.perf_counter()
    verdict, profile = profile_candidate(SOFTSIGN, candidate, Target.gpu())
    seconds = time.perf_counter() - start
    print(f"\nprofile took {seconds:.1f} s; overhead {profile and profile.overhead_s}")
    assert verdict.ok, verdict.summary()
    assert seconds < 120, f"profile took {seconds:.0f} s"
    print(profile.render_text(meanings=False))
    if "ncu" not in profile.tools:
        pytest.skip(f"ncu gave no counters here: {profile.unavailable[0].why}")
    kernel = next(k for k in profile.kernels if k.name == "chunk_kernel")
    values = {m.name: m for m in kernel.metrics}
    assert values["kernel_launches"].value == LAUNCHES
    assert values["ncu_profiled_launches"].value == PER_KERNEL
    assert "scaled" in values["gpu__time_duration.sum"].source
    assert any(
        u.what == f"ncu counters of {LAUNCHES - PER_KERNEL:,} of {LAUNCHES:,} kernel launches"
        for u in profile.unavailable
    )
