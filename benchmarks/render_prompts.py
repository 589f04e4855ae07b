"""Render a real Coder and Conductor prompt: scripted replies, real verify/time/profile.

    PYTHONPATH=src python benchmarks/render_prompts.py RUN_DIR [--target cpu|gpu]

Three attempts on tests/fixtures/problems/tiny_relu.py (CPU: a -O0 scalar loop, then an
OpenMP SIMD loop twice; GPU: the scripted Triton candidates of benchmarks/scripted/gpu),
torch.compile timed beside eager. Writes RUN_DIR/coder_prompt_N.txt and
conductor_prompt_N.txt and prints summary.md: the prompts as a model would read them,
never a model's skill.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pragma_kernels import optimize
from pragma_kernels.llm import LLMSettings
from pragma_kernels.llm.scripted import ScriptedLLM

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def advice(**fields) -> str:
    body = {"bottleneck": "", "evidence": [], "comparison": "", "actions": [], **fields}
    return "```json\n" + json.dumps(body) + "\n```"


def cpu_script() -> tuple[Path, list[str]]:
    from test_loop import FAST, SLOW, fenced

    first = advice(
        bottleneck="scalar -O0 loop with a volatile load per element",
        evidence=["packed_simd_fraction 0", "thread_scaling ~1"],
        comparison="first correct attempt",
        actions=["compile with -O3 -march=native -fopenmp", "#pragma omp parallel for simd"],
    )
    script = [fenced(SLOW), first, fenced(FAST), advice(bottleneck="memory bound"), fenced(FAST)]
    return ROOT / "tests" / "fixtures" / "problems" / "tiny_relu.py", script


def gpu_script() -> tuple[Path, list[str]]:
    import tomllib

    from scripted_loop import reply_text  # benchmarks/scripted_loop.py

    spec = tomllib.loads((ROOT / "benchmarks" / "scripted" / "gpu" / "softmax.toml").read_text())
    return ROOT / spec["problem"], [reply_text(step) for step in spec["reply"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--target", default="cpu")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    problem, script = cpu_script() if args.target == "cpu" else gpu_script()
    server = ScriptedLLM(script)
    try:
        result = optimize(
            problem,
            target=args.target,
            mode="pragma",
            attempts=3,
            run_dir=args.run_dir,
            llm=LLMSettings(model="scripted", base_url=server.base_url),
            also_time=("compile",),
        )
    finally:
        server.close()
    for record in result.attempts:
        (args.run_dir / f"coder_prompt_{record.number}.txt").write_text(record.coder_prompt)
        if record.conductor_prompt:
            path = args.run_dir / f"conductor_prompt_{record.number}.txt"
            path.write_text(record.conductor_prompt)
    print(result.summary)


if __name__ == "__main__":
    main()
