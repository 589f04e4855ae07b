"""`pragma bench` in the LLM modes (pragma, no-profile, single) with scripted replies.

    python benchmarks/scripted_bench.py --out DIR [--attempts 3] [--size SIZE] [-j 2]
        [--no-ncu] [names]

A local endpoint answers every Coder and Conductor request from the replies written in
advance in benchmarks/scripted/gpu/NAME.toml (a build failure, a wrong result, correct
kernels), routed by what the prompt shows: which problem, which agent, which attempt.
So concurrent conversations and every mode get the same replies, and the run shows the
bench machinery on real hardware (store, baselines, verdicts, report), never a model's
skill. The bench itself is the real CLI, run as a user would, with `--model scripted`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from scripted_loop import SCRIPTS, reply_text

from pragma_kernels.llm.scripted import ScriptedLLM

ROOT = Path(__file__).resolve().parent.parent
# Both revision prompts and the Conductor's name the attempt they are about this way.
ATTEMPT = re.compile(r"(?:Current code|previous attempt) \(attempt (\d+)\)")
CONDUCTOR_SIGN = '"extra_metrics"'  # only the Conductor is asked for this JSON field


class Router:
    """The scripted reply for a request, from the problem's script: the Coder's k-th reply
    for attempt k, the Conductor's k-th reply after attempt k (the last one repeated)."""

    def __init__(self, scripts: dict[str, dict]):
        self.scripts = scripts

    def __call__(self, body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        if isinstance(prompt, list):  # Anthropic content blocks
            prompt = "".join(block.get("text", "") for block in prompt)
        name = self._problem(prompt)
        replies = self.scripts[name]["reply"]
        role = "conductor" if CONDUCTOR_SIGN in prompt else "coder"
        mine = [step for step in replies if role in step]
        found = ATTEMPT.search(prompt)
        done = int(found.group(1)) if found else 0  # attempts before this request's
        index = done - 1 if role == "conductor" else done
        return reply_text(mine[min(max(index, 0), len(mine) - 1)])

    def _problem(self, prompt: str) -> str:
        for name, spec in self.scripts.items():
            source = (ROOT / spec["problem"]).read_text()
            if source.strip() in prompt or f"\n{Path(spec['problem']).stem} (" in prompt:
                return name
        raise LookupError("a prompt matched no scripted problem")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the bench directory")
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--size", help="problem size (e.g. tiny on the interpreter)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--no-ncu", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("names", nargs="*", help="default: every script")
    args = parser.parse_args()
    scripts = {
        path.stem: tomllib.loads(path.read_text())
        for path in sorted(SCRIPTS.glob("*.toml"))
        if not args.names or path.stem in args.names
    }
    server = ScriptedLLM([], route=Router(scripts))
    command = [
        sys.executable, "-m", "pragma_kernels.cli", "bench",
        *[str(ROOT / spec["problem"]) for spec in scripts.values()],
        "--target", "gpu", "--modes", "pragma,no-profile,single",
        "--attempts", str(args.attempts), "-j", str(args.jobs), "--out", str(args.out),
        "--model", "scripted", "--base-url", server.base_url,
    ]  # fmt: skip
    command += ["--size", args.size] if args.size else []
    command += ["--no-ncu"] if args.no_ncu else []
    command += ["--resume"] if args.resume else []
    print(" ".join(command[1:]), flush=True)
    try:
        code = subprocess.call(command, cwd=ROOT)
    finally:
        server.close()
    print(f"{len(server.requests)} scripted replies served", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
