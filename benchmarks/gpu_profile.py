"""GPU profile of every hand-written Triton solution: wall time per candidate and key figures.

    python benchmarks/gpu_profile.py [--no-ncu] [--out FILE.md] [--dump DIR]

With ncu (default) the profile holds Nsight Compute's counters plus the
counter-free metrics; --no-ncu forces the fallback (occupancy from Triton's
metadata, roofline from the spec's peaks). --dump writes each profile as the
text the Conductor reads.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import profile_candidate
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = {  # header -> metric (whole candidate, else the time-weighted kernel aggregate)
    "time ms": "kernel_time_ms",
    "DRAM % peak (ncu)": "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "SM % peak (ncu)": "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "achieved occ. % (ncu)": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "theor. occ. %": "theoretical_occupancy",
    "limiter": "occupancy_limiter",
    "regs": "n_regs",
    "waves": "waves",
    "DRAM roofline": "dram_roofline_fraction",
    "compute roofline": "compute_roofline_fraction",
}


def cell(profile, metric: str) -> str:
    found = profile.metric(metric)
    if found is None:
        found = next((m for k in profile.kernels for m in k.metrics if m.name == metric), None)
    if found is None:
        return ""
    return f"{found.value:.3g}" if found.is_numeric() else str(found.value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-ncu", action="store_true", help="force the counter-free fallback")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--dump", type=Path)
    parser.add_argument("names", nargs="*", help="solutions to profile (default: all)")
    args = parser.parse_args()
    mode = "counter-free fallback (forced)" if args.no_ncu else "Nsight Compute + counter-free"
    lines = [
        f"# GPU profile, {mode}\n\nMachine: {describe(gpu=True)}\n",
        "| solution | wall s | where the time went (s) | tools | kernels | "
        + " | ".join(COLUMNS)
        + " | top finding |",
        "|---|---:|---|---|---:|" + "---:|" * len(COLUMNS) + "---|",
    ]
    print("\n".join(lines), flush=True)
    walls = []
    for solution in sorted((ROOT / "examples" / "solutions" / "gpu").glob("*.py")):
        if args.names and solution.stem not in args.names:
            continue
        problem = ROOT / "examples" / "problems" / solution.name
        start = time.perf_counter()
        verdict, profile = profile_candidate(
            problem, solution, Target.gpu(), use_ncu=not args.no_ncu
        )
        wall = time.perf_counter() - start
        walls.append(wall)
        if profile is None:
            lines.append(f"| {solution.stem} | {wall:.1f} | failed: {verdict.summary()[:200]} |")
        else:
            finding = max(
                profile.findings, key=lambda f: f.estimated_speedup_pct or 0, default=None
            )
            top = (
                f"{finding.severity} ({finding.estimated_speedup_pct or 0:g}%): "
                f"{finding.message[:90]}"
                if finding
                else ""
            )
            spent = sorted(profile.overhead_s.items(), key=lambda item: -item[1])[:3]
            lines.append(
                f"| {solution.stem} | {wall:.1f} | "
                f"{'; '.join(f'{stage} {s:.1f}' for stage, s in spent)} | "
                f"{', '.join(profile.tools)} | "
                f"{len(profile.kernels)} | "
                + " | ".join(cell(profile, metric) for metric in COLUMNS.values())
                + f" | {top.replace('|', '/')} |"
            )
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                (args.dump / f"{solution.stem}.txt").write_text(profile.render_text())
                (args.dump / f"{solution.stem}.json").write_text(profile.model_dump_json(indent=1))
        print(lines[-1], flush=True)
        if args.out:  # written as it goes: a run cut short keeps what it measured
            args.out.write_text("\n".join(lines) + "\n")
    lines.append(
        f"\nWall time per candidate (worker start, warm-up, profiled call, launch capture, "
        f"short timing{', ncu replay and report read-back' if not args.no_ncu else ''}): "
        f"median {statistics.median(walls):.1f} s, max {max(walls):.1f} s; target <= 10 s."
    )
    print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
