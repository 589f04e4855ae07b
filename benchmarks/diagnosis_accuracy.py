"""Accuracy of the bottleneck diagnosis on the labelled suite (planted bottleneck + fixed twin).

    python benchmarks/diagnosis_accuracy.py --target cpu [--out FILE.md]
    python benchmarks/diagnosis_accuracy.py --target gpu [--no-ncu] [--out FILE.md]
    python benchmarks/diagnosis_accuracy.py --target cpu --profiles tests/fixtures/profiles/cpu
    python benchmarks/diagnosis_accuracy.py --target cpu --suite generated --split heldout \
        [--save DIR | --profiles DIR] [--no-twins]

Each planted kernel is profiled (or its saved profile read with --profiles) and
diagnosed; a hit is the planted label as the top class. On GPU with ncu, a
diagnosis that asks for extra metrics gets them in a second profile, as the
Conductor would. The twin is profiled too: `compare` must call it improved
(profile time as the speedup proxy) and name a metric that moved.

`--suite generated` (CPU) writes and runs the programmatic suite of
benchmarks/diagnosis/generate_cpu.py (defect x operator x shape); `--split` picks the
operators the rules were calibrated on, or the held-back ones. Thresholds are set on the
calibrate split only. `--save DIR` keeps each profile for re-diagnosis with `--profiles`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

from _machine import describe

from pragma_kernels.diagnosis.compare import Attempt, compare
from pragma_kernels.evaluation import profile_candidate
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent


def time_of(profile: Profile) -> float | None:
    metric = profile.metric("kernel_time_ms" if profile.target == "gpu" else "time_ms")
    return float(metric.value) if metric is not None and metric.is_numeric() else None


class Runner:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.target = Target.gpu() if args.target == "gpu" else Target.cpu()

    def profile(self, case: dict, which: str, metrics: list[str] | None = None) -> Profile:
        if self.args.profiles:
            path = self.args.profiles / f"{case['name']}_{which}.json"
            return Profile.model_validate_json(path.read_text())
        profile = self._profile(case, which, metrics)
        if self.args.save:
            self.args.save.mkdir(parents=True, exist_ok=True)
            path = self.args.save / f"{case['name']}_{which}.json"
            path.write_text(profile.model_dump_json(indent=1))
        return profile

    def _profile(self, case: dict, which: str, metrics: list[str] | None) -> Profile:
        verdict, profile = profile_candidate(
            ROOT / case["problem"],
            ROOT / case[which],
            self.target,
            metrics=metrics,
            use_ncu=not self.args.no_ncu,
        )
        if profile is None:
            raise RuntimeError(f"{case[which]}: {verdict.summary()}")
        return profile

    def run(self, case: dict) -> dict:
        source = (ROOT / case["planted"]).read_text()
        planted = self.profile(case, "planted")
        diagnosis = self.target.backend.diagnose(planted, source)
        asked: list[str] = []
        if diagnosis.extra_metrics and not self.args.profiles and not self.args.no_ncu:
            asked = diagnosis.extra_metrics
            planted = self.profile(case, "planted", asked)
            diagnosis = self.target.backend.diagnose(planted, source)
        if self.args.no_twins:
            return {
                "case": case,
                "diagnosis": diagnosis,
                "asked": asked,
                "fixed_diagnosis": None,
                "comparison": None,
            }
        fixed = self.profile(case, "fixed")
        fixed_diagnosis = self.target.backend.diagnose(fixed, (ROOT / case["fixed"]).read_text())
        before, after = time_of(planted), time_of(fixed)
        comparison = None
        if before and after:
            comparison = compare(
                Attempt(before / after, fixed, fixed_diagnosis),
                Attempt(1.0, planted, diagnosis),
                self.target.backend.key_metrics,
            )
        return {
            "case": case,
            "diagnosis": diagnosis,
            "asked": asked,
            "fixed_diagnosis": fixed_diagnosis,
            "comparison": comparison,
        }


def load_cases(args: argparse.Namespace) -> list[dict]:
    """The hand-written TOML suite, or the generated one (written afresh, deterministic)."""
    if args.suite == "generated":
        sys.path.insert(0, str(ROOT / "benchmarks" / "diagnosis"))
        import generate_cpu

        return [
            case.as_dict(generate_cpu.DEFAULT_OUT, ROOT)
            for case in generate_cpu.write(generate_cpu.DEFAULT_OUT)
        ]
    cases_file = args.cases or ROOT / "benchmarks" / "diagnosis" / f"cases_{args.target}.toml"
    return tomllib.loads(cases_file.read_text())["case"]


def load_text() -> str:
    return "load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--cases", type=Path, help="default: benchmarks/diagnosis/cases_TARGET")
    parser.add_argument("--profiles", type=Path, help="read saved profiles instead of profiling")
    parser.add_argument("--no-ncu", action="store_true", help="GPU: counter-free fallback only")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--suite", choices=("labelled", "generated"), default="labelled")
    parser.add_argument(
        "--split", choices=("calibrate", "heldout", "heldout2", "heldout3", "all"), default="all"
    )
    parser.add_argument("--save", type=Path, help="write each profile here as JSON")
    parser.add_argument("--no-twins", action="store_true", help="planted kernels only")
    parser.add_argument("names", nargs="*", help="cases to run (default: all)")
    args = parser.parse_args()
    cases = [
        case
        for case in load_cases(args)
        if (not args.names or case["name"] in args.names)
        and args.split in ("all", case.get("split", "all"))
    ]
    runner = Runner(args)
    source = (
        f"saved profiles in {args.profiles}"
        if args.profiles
        else ("counter-free fallback" if args.no_ncu else "default profilers")
    )
    lines = [
        f"# Diagnosis accuracy, {args.target} ({source})\n",
        f"Machine: {describe(gpu=args.target == 'gpu')}\n",
        f"Suite: {args.suite}, split {args.split}; at the start: {load_text()}\n",
        "| case | label | diagnosed | confidence | evidence | extra asked | twin diagnosed | "
        "twin vs planted (compare) |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    per_class: dict[str, list[bool]] = defaultdict(list)
    twins_clean, compares_ok = [], []
    for case in cases:
        try:
            result = runner.run(case)
        except Exception as exc:  # one broken case must not hide the others' figures
            lines.append(f"| {case['name']} | {case['label']} | error: {str(exc)[:150]} |")
            per_class[case["label"]].append(False)
            print(lines[-1], flush=True)
            continue
        diagnosis, comparison = result["diagnosis"], result["comparison"]
        hit = diagnosis.bottleneck.value == case["label"]
        per_class[case["label"]].append(hit)
        twin = result["fixed_diagnosis"].bottleneck.value if result["fixed_diagnosis"] else "-"
        if result["fixed_diagnosis"]:
            twins_clean.append(twin != case["label"])
            improved = bool(comparison and comparison.verdict == "improved" and comparison.deltas)
            compares_ok.append(improved)
        moved = (
            f"{comparison.verdict}; {comparison.deltas[0].render()}"
            if comparison and comparison.deltas
            else (comparison.verdict if comparison else "no times")
        )
        lines.append(
            f"| {case['name']} | {case['label']} | {'' if hit else 'MISS: '}"
            f"{diagnosis.bottleneck.value} | {diagnosis.confidence:.2f} | "
            f"{'; '.join(e.render() for e in diagnosis.evidence)[:160]} | "
            f"{', '.join(result['asked']) or '-'} | {twin} | {moved} |"
        )
        print(lines[-1], flush=True)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")
    hits = [hit for results in per_class.values() for hit in results]
    lines += ["", "| class | cases | correct |", "|---|---:|---:|"]
    lines += [
        f"| {label} | {len(results)} | {sum(results)} |"
        for label, results in sorted(per_class.items())
    ]
    lines += [
        "",
        f"Overall: {sum(hits)}/{len(hits)} planted bottlenecks named "
        f"({sum(hits) / len(hits):.0%}).",
        f"At the end: {load_text()}.",
        f"Twins not given the planted label: {sum(twins_clean)}/{len(twins_clean)}; "
        f"compare() calls the twin improved and names a metric: "
        f"{sum(compares_ok)}/{len(compares_ok)}.",
    ]
    print("\n".join(lines[-(len(per_class) + 6) :]), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
