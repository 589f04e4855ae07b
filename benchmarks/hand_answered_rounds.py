"""A hand-answered run on a machine the bridge (../shared/tools/llm_bridge.py) cannot reach.

    python benchmarks/hand_answered_rounds.py --replies DIR --out DIR [--attempts 2]
        [--target gpu|cpu] [--no-ncu] PROBLEM.py ...

Round by round: the loop runs from the start on each problem, the replies a person wrote
so far (DIR/<problem stem>/01.txt, 02.txt, ... in request order) are replayed through the
real SDK, and the first request without a reply is saved as OUT/<stem>/request_NN.md (the
messages as sent); the run stops there. The person reads it, writes NN.txt, and the next
round goes one request further. Later rounds re-time the baselines and re-run earlier
attempts, so numbers move a little between the prompt that was answered and the replay.
The replies are a person's: run.json says `hand-answered`, never a model's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from pragma_kernels import optimize
from pragma_kernels.llm import LLMSettings
from pragma_kernels.llm.scripted import ScriptedLLM


def render(body: dict) -> str:
    """A request's messages as a person reads them."""
    parts = [f"<!-- max_tokens {body.get('max_tokens')}, model {body.get('model')} -->"]
    for message in body.get("messages", []):
        content = message["content"]
        if isinstance(content, list):
            content = "\n".join(part.get("text", "") for part in content)
        parts.append(f"## {message['role']}\n\n{content}")
    return "\n\n".join(parts) + "\n"


def run_round(problem: Path, replies: Path, out: Path, args: argparse.Namespace) -> str:
    written = sorted(replies.glob("[0-9][0-9].txt"))
    out.mkdir(parents=True, exist_ok=True)
    missed: list[int] = []

    def route(body: dict) -> dict:
        number = len(server.requests)
        if number <= len(written) and not missed:
            return {"content": written[number - 1].read_text()}
        if not missed:  # the first unanswered request: save it, then refuse every later one
            missed.append(number)
            (out / f"request_{number:02d}.md").write_text(render(body))
            (out / f"request_{number:02d}.json").write_text(json.dumps(body, indent=1))
        return {"status": 400}

    server = ScriptedLLM([], route=route)
    run = Path(tempfile.mkdtemp()) / problem.stem
    try:
        settings = LLMSettings(model="hand", base_url=server.base_url, replies="hand-answered")
        result = optimize(
            problem,
            target=args.target,
            attempts=args.attempts,
            run_dir=run,
            llm=settings,
            use_ncu=not args.no_ncu,
        )
        outcome = f"finished: {result.stopped}"
    except Exception as exc:  # the refused request ends the round; the run dir is kept
        outcome = f"stopped at request {missed[0] if missed else '?'}: {type(exc).__name__}"
    finally:
        server.close()
    if run.exists():
        shutil.copytree(run, out / "run", dirs_exist_ok=True)
    return f"{problem.stem}: {len(written)} replies replayed, {outcome}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problems", nargs="+", type=Path)
    parser.add_argument("--replies", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--attempts", type=int, default=2)
    parser.add_argument("--target", default="gpu")
    parser.add_argument("--no-ncu", action="store_true")
    args = parser.parse_args()
    for problem in args.problems:
        print(
            run_round(problem, args.replies / problem.stem, args.out / problem.stem, args),
            flush=True,
        )


if __name__ == "__main__":
    main()
