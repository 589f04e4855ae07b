"""Diagnosis accuracy on the generated GPU suite (benchmarks/diagnosis/gpu_gen), one split.

    python benchmarks/diagnosis_suite_gpu.py --split calibrate|heldout [--no-ncu] [--limit N]
        [--save DIR] [--out FILE.md]
    python benchmarks/diagnosis_suite_gpu.py --split heldout --profiles DIR   # saved, no GPU

Batch mode, so ~35 cases fit in minutes: every case's planted candidate and fixed twin is
profiled in ONE worker process by the same in-worker profile as `pragma profile`
(profilers/gpu.py: Triton's launch hooks and compiled metadata, CUDA-event time, roofline).
With ncu (the default), that process runs under ONE ncu with the default metric set
(ncu.DEFAULT_METRICS, less any name this ncu does not list), no sections, and a launch cap
of LAUNCH_COUNT per profiled call; the report's rows go back to their case by kernel name
(every generated kernel's name carries its case) and are merged with gpu_ncu.merge, as the
tool does. Planted cases whose diagnosis asks for more metrics get a second, targeted ncu
pass with them. A hit is the planted label as the top class; the twin should not get it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks" / "diagnosis"))

from gpu_gen.cases import Case, generate, select, write  # noqa: E402

from pragma_kernels.profilers.schema import Profile  # noqa: E402

VARIANTS = ("planted", "fixed")


def _load(path: Path, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def profile_one(files: dict[str, Path], variant: str, name: str) -> dict:
    """Verify against the reference, then the in-worker GPU profile (worker side)."""
    import torch

    from pragma_kernels.problems import import_module
    from pragma_kernels.profilers.gpu import profile_gpu

    problem = import_module(files["problem"], "gpu")
    torch.manual_seed(0)
    inputs = [x.cuda() if isinstance(x, torch.Tensor) else x for x in problem.get_inputs()]
    reference = problem.Model().cuda()
    candidate = _load(files[variant], f"cand_{name}_{variant}").ModelNew().cuda()
    with torch.no_grad():
        expected, got = reference(*inputs), candidate(*inputs)
    correct = bool(got.shape == expected.shape and torch.allclose(got, expected, 1e-3, 1e-2))
    profile = profile_gpu(candidate, inputs, reference, "float32")
    return {"correct": correct, "profile": profile.model_dump(mode="json")}


def worker(folder: Path, names: list[str], variants: list[str], out: Path) -> None:
    results = {}
    for name in names:
        files = {p: folder / f"{name}_{p}.py" for p in ("problem", *VARIANTS)}
        for variant in variants:
            try:
                results[f"{name}/{variant}"] = profile_one(files, variant, name)
            except Exception as exc:  # one broken case must not hide the others
                results[f"{name}/{variant}"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            print(f"profiled {name}/{variant}", flush=True)
    out.write_text(json.dumps(results))


def run_worker(folder: Path, names, variants, metrics: list[str] | None) -> tuple[dict, dict]:
    """The worker in its own process, under ncu when `metrics` is given; its results and,
    under ncu, the report's per-launch rows by kernel name."""
    from pragma_kernels.profilers import ncu

    out = folder / "results.json"
    command = [sys.executable, __file__, "--worker", str(folder), "--names", ",".join(names)]
    command += ["--variants", ",".join(variants), "--worker-out", str(out)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    if metrics is None:
        subprocess.run(command, check=True, env=env)
        return json.loads(out.read_text()), {}
    executable = ncu.find_ncu()
    report = folder / "suite"
    cap = ncu.LAUNCH_COUNT * len(names) * len(variants)
    prefix = ncu.profile_command(executable, report, metrics, sections=(), launch_count=cap)
    log = folder / "ncu.log"
    prefix += ["--log-file", str(log), "env", f"{ncu.UNDER_NCU}=1"]
    subprocess.run([*prefix, *command], check=True, env=env)
    raw, _ = ncu.import_commands(executable, report.with_suffix(".ncu-rep"))
    text = subprocess.run(raw, capture_output=True, text=True, check=True).stdout
    return json.loads(out.read_text()), {"rows": ncu.parse_raw_csv(text, keep=set(metrics))}


def merged(results: dict, rows: list, key: str) -> Profile | None:
    """The case's counter-free profile, with its ncu rows merged as the tool merges them."""
    from pragma_kernels.profilers import gpu_ncu

    entry = results.get(key, {})
    if "profile" not in entry:
        return None
    profile = Profile.model_validate(entry["profile"])
    if rows is None:
        return profile
    name, variant = key.split("/")
    mine = [row for row in rows if row.name.startswith(f"_{name}_{variant}_")]
    if not mine:
        return profile
    return gpu_ncu.merge(profile, mine, [])


def ncu_metrics(extra: list[str] = ()) -> list[str]:
    """The tool's default set (less names this ncu does not list), plus `extra`."""
    from pragma_kernels.profilers import ncu
    from pragma_kernels.profilers.gpu_ncu import usable_metrics
    from pragma_kernels.profilers.registry import ncu_metric_names

    names, dropped = usable_metrics(
        list(dict.fromkeys([*ncu.DEFAULT_METRICS, *extra])), ncu_metric_names()
    )
    if dropped:
        print(f"left out (this ncu does not list them): {', '.join(dropped)}", flush=True)
    return names


class Suite:
    """Profiles (measured now or saved) and diagnoses of the chosen cases."""

    def __init__(self, args: argparse.Namespace, cases: list[Case]):
        from pragma_kernels.targets import Target

        self.args, self.cases = args, cases
        self.backend = Target.gpu().backend if not args.profiles else None
        self.profiles: dict[str, Profile | None] = {}
        self.correct: dict[str, bool | None] = {}
        self.asked: dict[str, list[str]] = {}

    def diagnose(self, profile: Profile, source: str):
        from pragma_kernels.diagnosis.rules import TRITON_RULES, diagnose

        if self.backend is not None:
            return self.backend.diagnose(profile, source)
        return diagnose(profile, TRITON_RULES, 132, source)

    def measure(self, folder: Path) -> None:
        names = [c.name for c in self.cases]
        metrics = None if self.args.no_ncu else ncu_metrics()
        results, extra = run_worker(folder, names, list(VARIANTS), metrics)
        self._take(results, extra.get("rows") if metrics else None, VARIANTS)
        if metrics is None:
            return
        asked = {}
        for case in self.cases:  # the second, targeted pass the Conductor's loop would make
            profile = self.profiles.get(f"{case.name}/planted")
            if profile is not None:
                wanted = self.diagnose(profile, case.planted).extra_metrics
                if wanted:
                    asked[case.name] = wanted
        if asked:
            union = sorted({m for names in asked.values() for m in names})
            results, extra = run_worker(folder, list(asked), ["planted"], ncu_metrics(union))
            self._take(results, extra.get("rows"), ("planted",), only=set(asked))
            self.asked = asked

    def _take(self, results: dict, rows, variants, only: set[str] | None = None) -> None:
        for case in self.cases:
            if only is not None and case.name not in only:
                continue
            for variant in variants:
                key = f"{case.name}/{variant}"
                self.profiles[key] = merged(results, rows, key)
                self.correct[key] = results.get(key, {}).get("correct")
                if self.profiles[key] is None:
                    print(f"{key}: {results.get(key, {}).get('error', 'no profile')}", flush=True)

    def load(self, folder: Path) -> None:
        for case in self.cases:
            for variant in VARIANTS:
                path = folder / f"{case.name}_{variant}.json"
                self.profiles[f"{case.name}/{variant}"] = (
                    Profile.model_validate_json(path.read_text()) if path.exists() else None
                )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for key, profile in self.profiles.items():
            if profile is not None:
                path = folder / (key.replace("/", "_") + ".json")
                path.write_text(profile.model_dump_json(indent=1))


def report(suite: Suite, title: str) -> list[str]:
    lines = [
        f"# {title}\n",
        "| case | split | label | diagnosed | conf. | evidence | twin diagnosed "
        "| correct (planted/fixed) |",
        "|---|---|---|---|---:|---|---|---|",
    ]
    per_class: dict[str, list[bool]] = defaultdict(list)
    twins_clean = []
    for case in suite.cases:
        planted = suite.profiles.get(f"{case.name}/planted")
        fixed = suite.profiles.get(f"{case.name}/fixed")
        if planted is None:
            per_class[case.label].append(False)
            lines.append(f"| {case.name} | {case.split} | {case.label} | error: no profile |")
            continue
        d = suite.diagnose(planted, case.planted)
        twin = suite.diagnose(fixed, case.fixed).bottleneck.value if fixed else "-"
        hit = d.bottleneck.value == case.label
        per_class[case.label].append(hit)
        twins_clean.append(twin != case.label)
        evidence = "; ".join(e.render() for e in d.evidence)[:150].replace("|", "/")
        correct = "/".join(str(suite.correct.get(f"{case.name}/{v}", "-")) for v in VARIANTS)
        lines.append(
            f"| {case.name} | {case.split} | {case.label} | {'' if hit else 'MISS: '}"
            f"{d.bottleneck.value} | {d.confidence:.2f} | {evidence} | {twin} | {correct} |"
        )
    hits = [h for results in per_class.values() for h in results]
    lines += ["", "| class | cases | named |", "|---|---:|---:|"]
    lines += [f"| {k} | {len(v)} | {sum(v)} |" for k, v in sorted(per_class.items())]
    lines += [
        "",
        f"Overall: {sum(hits)}/{len(hits)} planted defects named "
        f"({sum(hits) / max(len(hits), 1):.0%}); "
        f"twins not given the planted label: {sum(twins_clean)}/{len(twins_clean)}; "
        f"second ncu pass asked for {len(suite.asked)} cases.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("calibrate", "heldout", "all"), default="heldout")
    parser.add_argument("--no-ncu", action="store_true", help="counter-free fallback only")
    parser.add_argument("--limit", type=int, help="at most N cases, spread over the defects")
    parser.add_argument("--profiles", type=Path, help="diagnose saved profiles (no GPU)")
    parser.add_argument("--save", type=Path, help="save every profile as JSON here")
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--names", help=argparse.SUPPRESS)
    parser.add_argument("--variants", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.names.split(","), args.variants.split(","), args.worker_out)
        return
    cases = select(generate(), args.split, args.limit)
    suite = Suite(args, cases)
    if args.profiles:
        suite.load(args.profiles)
        how = f"saved profiles in {args.profiles}"
    else:
        with tempfile.TemporaryDirectory(prefix="pragma-suite-") as folder:
            write(cases, Path(folder))
            suite.measure(Path(folder))
        how = "counter-free fallback" if args.no_ncu else "ncu + counter-free"
    if args.save:
        suite.save(args.save)
    from _machine import describe

    title = f"Generated GPU suite, {args.split} split, {len(cases)} cases ({how})"
    lines = report(suite, title)
    lines.insert(1, f"Machine: {describe(gpu=not args.profiles)}\n")
    print("\n".join(lines), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
