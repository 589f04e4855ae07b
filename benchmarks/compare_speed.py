"""compare_tensors: the float64 implementation it replaced vs the blocked one.

    python benchmarks/compare_speed.py [--repeats 5] [--threads N]

Times a passing comparison (candidate = reference + rounding-level noise) of float32
tensors of 16M and 1M elements, and a half-precision and a NaN-holding case, median of
`--repeats` calls, printed in ms. Prints, asserts nothing beyond equal verdicts.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _machine import describe

from pragma_kernels.compare import compare_tensors


def old_compare(ref: torch.Tensor, cand: torch.Tensor, atol: float, rtol: float):
    """The float64 value comparison as it was (shape/dtype/integer checks left out)."""
    ref64, cand64 = ref.double(), cand.double()
    bad_finite = torch.isfinite(ref64) & ~torch.isfinite(cand64)
    if bad_finite.any():
        return "non_finite", None
    diff = (ref64 - cand64).abs()
    both_finite = torch.isfinite(ref64) & torch.isfinite(cand64)
    diff = torch.where(both_finite, diff, torch.zeros_like(diff))
    same_special = torch.where(
        both_finite, True, (ref64 == cand64) | (ref64.isnan() & cand64.isnan())
    )
    rel = torch.where(ref64.abs() > atol, diff / ref64.abs().clamp_min(atol), 0.0)
    wrong = (diff > atol + rtol * ref64.abs()) | ~same_special
    fraction = wrong.double().mean().item()
    max_abs = diff.max().item()
    rel.max().item()
    if fraction > 0:
        return "numerical_mismatch", max_abs
    ref_norm = torch.linalg.vector_norm(torch.where(both_finite, ref64, 0.0)).item()
    relative_l2 = torch.linalg.vector_norm(diff).item() / ref_norm if ref_norm else 0.0
    return ("numerical_mismatch" if relative_l2 > rtol else None), max_abs


def new_compare(ref, cand, atol, rtol):
    result = compare_tensors(ref, cand, atol, rtol)
    kind = result.kind.value if result.kind is not None else None
    return kind, result.max_abs_err


def median_ms(fn, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def cases() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    out = {}
    for label, numel in (("float32 16M", 1 << 24), ("float32 1M", 1 << 20)):
        ref = torch.randn(numel, generator=generator)
        out[label] = (ref, ref + 1e-4 * torch.randn(numel, generator=generator))
    ref, cand = out["float32 16M"]
    out["float16 16M"] = (ref.half(), cand.half())
    nan_ref, nan_cand = ref.clone(), cand.clone()
    nan_ref[::1000] = nan_cand[::1000] = float("nan")
    out["float32 16M, NaN in both"] = (nan_ref, nan_cand)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (the worker sets its own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {describe()}, torch threads {torch.get_num_threads()}")
    print(f"{'case':28} {'old ms':>9} {'new ms':>9} {'speedup':>8}  verdict")
    for label, (ref, cand) in cases().items():
        old = old_compare(ref, cand, 1e-2, 1e-2)
        new = new_compare(ref, cand, 1e-2, 1e-2)
        assert old[0] == new[0], (label, old, new)
        old_ms = median_ms(lambda: old_compare(ref, cand, 1e-2, 1e-2), args.repeats)  # noqa: B023
        new_ms = median_ms(lambda: new_compare(ref, cand, 1e-2, 1e-2), args.repeats)  # noqa: B023
        print(f"{label:28} {old_ms:9.1f} {new_ms:9.1f} {old_ms / new_ms:7.1f}x  {new[0] or 'ok'}")


if __name__ == "__main__":
    main()
