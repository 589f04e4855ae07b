"""The full loop (Coder, Verifier, Profiler, Conductor) with scripted replies, on the GPU.

    python benchmarks/scripted_loop.py [--no-ncu] [--size tiny] [--out FILE.md] [--runs DIR] [names]

The replies come from benchmarks/scripted/gpu/NAME.toml, written in advance: a build
failure, a wrong result, a correct but slow kernel, a faster one. The run shows the
machinery on real hardware (verdicts, timing, Nsight Compute profiles in the Conductor's
prompt, a requested metric collected on the next attempt), never a model's skill.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import tomllib
from pathlib import Path

from _machine import describe

from pragma_kernels import optimize
from pragma_kernels.agents.records import AttemptRecord
from pragma_kernels.llm import LLMSettings
from pragma_kernels.llm.scripted import ScriptedLLM

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "benchmarks" / "scripted" / "gpu"
NCU_SIGN = "dram__throughput"  # an ncu metric every ncu profile shows


def reply_text(step: dict) -> str:
    """A Coder reply: the candidate file in a fence (docstring dropped, one optional edit);
    a Conductor reply: its text as written."""
    if "conductor" in step:
        return step["conductor"]
    code = (ROOT / step["coder"]).read_text()
    if code.startswith('"""'):
        code = code[code.index('"""', 3) + 3 :].lstrip()
    if "replace" in step:
        old, new = step["replace"]
        assert old in code, f"{step['coder']}: {old!r} not found"
        code = code.replace(old, new, 1)
    return f"Here is the kernel.\n```python\n{code}```\n"


def requested_state(asked: list[str], record: AttemptRecord) -> str:
    """Whether the metrics the previous Conductor asked for are in this attempt's profile."""
    if not asked:
        return "-"
    if record.profile is None:
        return "no profile"
    states = []
    for name in asked:
        metric = record.profile.metric(name)  # the kernels' aggregate when not whole-call
        refused = [u.why for u in record.profile.unavailable if u.what.startswith(name)]
        states.append(
            f"{name}: {metric.value:.4g}"
            if metric is not None and metric.is_numeric()
            else f"{name}: {'refused, ' + refused[0][:60] if refused else 'missing'}"
        )
    return "; ".join(states)


def conductor_state(record: AttemptRecord) -> str:
    """Whether the Conductor's prompt held ncu metrics; the loop calls no Conductor after
    the last attempt, since no Coder would read its advice."""
    if not record.conductor_prompt:
        return "no Conductor call"
    return "yes" if NCU_SIGN in record.conductor_prompt else "no"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-ncu", action="store_true", help="profile without Nsight Compute")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=Path, help="keep each run directory here")
    parser.add_argument("--size", help="problem size (e.g. tiny for a check on the interpreter)")
    parser.add_argument("names", nargs="*", help="default: every script")
    args = parser.parse_args()
    lines = [
        "# Scripted loop on the GPU (replies written in advance, not a model's)\n",
        f"Machine: {describe(gpu=True)}\n",
        "| problem | attempt | verdict | speedup vs eager | candidate ms | profiled by | "
        "rule diagnosis | ncu in Conductor prompt | metrics asked last attempt |",
        "|---|---:|---|---:|---:|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for script in sorted(SCRIPTS.glob("*.toml")):
        if args.names and script.stem not in args.names:
            continue
        spec = tomllib.loads(script.read_text())
        server = ScriptedLLM([reply_text(step) for step in spec["reply"]])
        run = Path(tempfile.mkdtemp()) / script.stem
        try:
            result = optimize(
                ROOT / spec["problem"],
                target="gpu",
                mode="pragma",
                attempts=4,
                run_dir=run,
                size=args.size,
                use_ncu=not args.no_ncu,
                llm=LLMSettings(model="scripted", base_url=server.base_url, replies="scripted"),
            )
        finally:
            server.close()
        asked: list[str] = []
        for record in result.attempts:
            profiled = record.profile_error[:60]
            if record.profile:
                profiled = ", ".join(record.profile.tools)
            lines.append(
                f"| {script.stem} | {record.number} | {record.verdict.kind.value} | "
                f"{f'{record.speedup:.2f}x' if record.speedup else ''} | "
                f"{f'{record.candidate_ms:.4g}' if record.candidate_ms else ''} | "
                f"{profiled} | {record.diagnosis.bottleneck.value if record.diagnosis else ''} | "
                f"{conductor_state(record)} | "
                f"{requested_state(asked, record)} |"
            )
            print(lines[-1], flush=True)
            asked = record.advice.extra_metrics if record.advice else []
        best = result.best
        lines.append(
            f"| {script.stem} | best | attempt {best.number if best else '-'} | "
            f"{f'{result.speedup:.2f}x' if result.speedup else ''} | | | | | {result.stopped} |"
        )
        if args.runs:
            shutil.copytree(run, args.runs / script.stem, dirs_exist_ok=True)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-1:]), flush=True)


if __name__ == "__main__":
    main()
