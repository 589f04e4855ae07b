"""Several benches of one suite, run on one host with different devices (`pragma bench
--gpus 1`, `--gpus 2`, `--devices 0`, `--devices 1`): throughput, how busy the devices
were, whether the correctness records are identical, and how far the same candidates'
times differ from the first bench's.

    python benchmarks/multi_gpu_bench.py BENCH_DIR [BENCH_DIR ...]

The first bench is the reference. Throughput: runs per minute of wall time, summed over a
bench's sessions. Device share: device-seconds over devices x wall. Times: per attempt
correct in both, the candidate's median ms over the reference's; the same candidate
(offline mode writes the same ones) pinned to two GPUs should agree within 3 %.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from pragma_kernels.bench.summary import BenchRows, read_bench


def records(rows: BenchRows) -> list[tuple]:
    """What must not depend on the devices: per run and attempt, everything but times."""
    runs = sorted((r.problem, r.mode, r.status, r.best_attempt is not None) for r in rows.runs)
    attempts = sorted((a.problem, a.mode, a.number, a.kind, a.ok) for a in rows.attempts)
    return runs + attempts


def ratios(rows: BenchRows, reference: BenchRows) -> list[float]:
    """Candidate ms over the reference's, per attempt timed in both."""
    ms = {(a.problem, a.mode, a.number): a.candidate_ms for a in reference.attempts}
    found = []
    for a in rows.attempts:
        base = ms.get((a.problem, a.mode, a.number))
        if a.candidate_ms and base:
            found.append(a.candidate_ms / base)
    return found


def row(bench: Path, rows: BenchRows, reference: BenchRows) -> str:
    wall = sum(s.get("wall_s", 0.0) for s in rows.sessions)
    device_s = sum(s.get("device_s", 0.0) for s in rows.sessions)
    devices = max((s.get("devices", 1) for s in rows.sessions), default=1)
    each: dict[str, float] = {}
    for session in rows.sessions:
        for device, seconds in session.get("device_seconds", {}).items():
            each[device or "-"] = each.get(device or "-", 0.0) + seconds
    per_device = ", ".join(f"{d}: {s:.0f}" for d, s in sorted(each.items())) or "-"
    found = ratios(rows, reference)
    off = [abs(r - 1) for r in found]
    agree = (
        f"{sum(o <= 0.03 for o in off)}/{len(off)}, median {statistics.median(off):.1%}, "
        f"worst {max(off):.1%}"
        if off
        else "-"
    )
    same = "yes" if records(rows) == records(reference) else "NO"
    rate = len(rows.runs) / wall * 60 if wall else 0.0
    share = device_s / (devices * wall) if wall else 0.0
    return (
        f"| {bench.name} | {devices} | {len(rows.runs)} | {wall:.0f} | {rate:.2f} | "
        f"{share:.0%} | {per_device} | {same} | {agree} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="+", type=Path)
    args = parser.parse_args()
    reference = read_bench(args.benches[0])
    print(
        "| bench | devices | runs | wall s | runs/min | device share | device s by GPU "
        "| records as the first | times within 3 % of the first |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for bench in args.benches:
        print(row(bench, read_bench(bench), reference))


if __name__ == "__main__":
    main()
