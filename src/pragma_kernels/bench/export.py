"""A bench's correct kernels in KernelBench's layout, to be checked by KernelBench's own
evaluation (`scripts/eval_from_generations.py`):

    OUT/MODE/level_{level}_problem_{id}_sample_0_kernel.py     one per correct run
    OUT/README.md                                              how to evaluate them

The names are those KernelBench's `generate_samples.py` writes and `eval_from_generations.py`
reads from `runs/{run_name}/`; one sample (0) per problem: the run's best.py. The problem id
is the number that starts a KernelBench file name (`19_ReLU.py` -> 19); the level comes from
the problem's folder (`level2/` -> 2) and is 1 when the folder does not say. Problems whose
names start with no number (not KernelBench's) are skipped, with the reason. Kernels a
previous export left in a mode's folder are removed first, so none outlives its run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.bench.summary import BenchRows, read_bench, run_folder
from pragma_kernels.errors import PragmaError

_ID = re.compile(r"^(\d+)_")
_LEVEL = re.compile(r"^level_?(\d+)$", re.IGNORECASE)


@dataclass
class KernelBenchExport:
    out_dir: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (problem, mode, why)


def kernel_name(level: int, problem_id: int, sample_id: int = 0) -> str:
    return f"level_{level}_problem_{problem_id}_sample_{sample_id}_kernel.py"


def problem_id_of(problem: str) -> int | None:
    match = _ID.match(problem)
    return int(match.group(1)) if match else None


def level_of(path: str) -> int:
    """From the problem's folder (KernelBench/level1/19_ReLU.py -> 1); 1 when unknown."""
    match = _LEVEL.match(Path(path).parent.name)
    return int(match.group(1)) if match else 1


def export_kernelbench(
    bench_dir: Path, out_dir: Path, mode: str | None = None
) -> KernelBenchExport:
    """Write each correct run's best kernel (of `mode`, or of every mode, one folder each)."""
    bench_dir, out_dir = Path(bench_dir), Path(out_dir)
    rows = read_bench(bench_dir)
    modes = sorted({r.mode for r in rows.runs})
    if mode is not None and mode not in modes:
        raise PragmaError(
            f"{bench_dir}: no runs in mode {mode!r}. Fix: choose one of {', '.join(modes)}"
        )
    result = KernelBenchExport(out_dir)
    paths = {p.problem: p.path for p in rows.problems}
    for name in [mode] if mode is not None else modes:  # a previous export's, now stale
        for stale in (out_dir / name).glob("level_*_problem_*_sample_*_kernel.py"):
            stale.unlink()
    for run in rows.runs:
        if mode is not None and run.mode != mode:
            continue
        why = _export_one(run, rows, paths, bench_dir, out_dir, result)
        if why:
            result.skipped.append((run.problem, run.mode, why))
    _write_readme(result, rows)
    return result


def _export_one(run, rows: BenchRows, paths, bench_dir, out_dir, result) -> str:
    """Write one run's kernel; the reason when it is skipped ("" when written)."""
    if not run.correct:
        return f"no correct kernel ({run.status})"
    number = problem_id_of(run.problem)
    if number is None:
        return "its name starts with no KernelBench problem number"
    folder = run_folder(run, bench_dir)
    best = folder / "best.py" if folder else None
    if best is None or not best.is_file():
        return "best.py not found in its run directory"
    target = out_dir / run.mode / kernel_name(level_of(paths.get(run.problem, "")), number)
    if target in result.written:
        return f"{target.name} is already taken by another problem of this level and number"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(best.read_text())
    result.written.append(target)
    return ""


def _precision(dtype: str | None) -> str:
    return {"float16": "fp16", "bfloat16": "bf16"}.get(dtype or "", "fp32")


def _write_readme(result: KernelBenchExport, rows: BenchRows) -> None:
    sources = [p.read_text() for p in result.written]
    ours = [p for p, s in zip(result.written, sources, strict=True) if "pragma_kernels" in s]
    lines = [
        "# pragma-kernels bench, exported for KernelBench",
        "",
        "Each folder is one mode of the bench and holds one file per correct run, named as",
        "KernelBench's `scripts/generate_samples.py` names its samples:",
        "`level_{level}_problem_{problem_id}_sample_0_kernel.py` (the run's best.py). The",
        "problem id is the number that starts the KernelBench file name; the level is read",
        "from the problem's folder (`level1/`) and is 1 when the folder does not name one.",
        "",
        *_how_to_evaluate(result, rows, "triton" if any("import triton" in s for s in sources)
                          else "cuda"),
    ]  # fmt: skip
    if ours:
        lines += [
            "",
            "These kernels import pragma_kernels (C++ candidates built by its loader, written",
            "for a CPU): KernelBench's evaluation needs CUDA and pragma-kernels installed, so",
            "they are here for reading: " + ", ".join(f"`{p.parent.name}/{p.name}`" for p in ours),
        ]
    if result.skipped:
        lines += ["", "## Not exported", ""]
        lines += [f"- {problem} ({mode}): {why}" for problem, mode, why in result.skipped]
    result.out_dir.mkdir(parents=True, exist_ok=True)
    (result.out_dir / "README.md").write_text("\n".join(lines) + "\n")


def _how_to_evaluate(result: KernelBenchExport, rows: BenchRows, backend: str) -> list[str]:
    levels = sorted({int(p.name.split("_")[1]) for p in result.written}) or [1]
    mode_dirs = sorted({p.parent.name for p in result.written}) or ["MODE"]
    precision = _precision(rows.settings.get("dtype"))
    dtype = rows.settings.get("dtype") or "auto: the problems' own, float32 in KernelBench"
    runs_dir = shlex.quote(str(result.out_dir.resolve()))
    lines = [
        f"Modes: {', '.join(mode_dirs)}; levels: {', '.join(map(str, levels))}; "
        f"{len(result.written)} kernels.",
        "",
        "## Evaluate with KernelBench",
        "",
        "From a KernelBench checkout (ScalingIntelligence/KernelBench), on an NVIDIA GPU, per",
        "mode folder and level (`runs_dir`: this export's folder; change it if you move it):",
        "",
        "```bash",
    ]
    lines += [
        f"python scripts/eval_from_generations.py runs_dir={runs_dir} "
        f"run_name={mode_dir} dataset_src=local level={level} backend={backend} "
        f"precision={precision} num_gpu_devices=1 timeout=300"
        for mode_dir in mode_dirs
        for level in levels
    ]
    return lines + [
        "```",
        "",
        "Results go to `runs_dir/run_name/eval_results.json` (a problem already in that file",
        "is not evaluated again: evaluate a fresh export); `scripts/benchmark_eval_analysis.py`",
        "then computes fast_p against KernelBench's baseline times. The script walks every",
        "problem id of the level: ids without a file here (runs with no correct kernel, listed",
        'below) are reported as failed evaluations; `subset="(FIRST,LAST)"` limits the range.',
        "One kernel alone: `python scripts/run_and_check.py ref_origin=kernelbench level=1 "
        f"problem_id=19 kernel_src_path=FILE backend={backend} precision={precision}`.",
        "",
        f"`precision={precision}` matches the bench's --dtype ({dtype}).",
    ]
